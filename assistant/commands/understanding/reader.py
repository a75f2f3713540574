"""Reading a question in words: which command it is, or which numbers it asks for.

One path for mentions, direct messages, ``/crm ask`` and ``crm-bot ask``.  The text is cleaned
(markup, case, quotes, chat shorthand), each word corrected against the store's vocabulary, then
the entities are taken out (a period, a customer id or e-mail, a product code or words of its
name, a segment, a country, "top 5", "my customers"), and what is left decides the intent.  A
question about numbers becomes a ``MetricQuestion``; anything else the ``Reading`` of a command.
When two readings are equally likely (a number that is both a customer and a product), the bot
asks back with both as buttons.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace

from analytics.rfm import SEGMENTS
from assistant.commands.understanding.cues import asks_for_numbers
from assistant.commands.understanding.cues import scores as cue_scores
from assistant.commands.understanding.periods import find_period
from assistant.commands.understanding.vocabulary import Vocabulary
from assistant.views.metrics import ASKER, MetricQuestion, Period
from db.semantic import METRICS, Filters

MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
NUMBER = re.compile(r"(?<![\w.])#?(\d{3,8}[a-zA-Z]{0,2})(?:\.0+)?(?![\w])")
TOP = re.compile(r"\b(top|best|biggest|largest|highest|leading|bottom|worst|lowest|smallest|weakest|least)\b"
                 r"(?:\s+(\d{1,3}|three|five|ten|twenty))?|\b(\d{1,3})\s+(?:best|top|biggest|largest|worst)\b")
WORD_NUMBERS = {"three": 3, "five": 5, "ten": 10, "twenty": 20}
OWNED = re.compile(r"\bmy\s+(?:\w+\s+){0,2}(customers|accounts|clients|book|portfolio|buyers)\b|\bi own\b|"
                   r"\bmine\b")
YEAR_AGO = re.compile(r"\b(?:vs\.?|versus|compared (?:to|with)|against)?\s*(?:the )?(same (?:month|week|quarter|"
                      r"period|day) (?:last|a) year|a year (?:ago|earlier|before)|year on year|year over year|yoy|"
                      r"last year's)\b")
UNKNOWN_METRICS = re.compile(r"\b(profits?|margins?|costs?|profitability|ebitda|taxe?s?|cogs|salar(?:y|ies)|"
                             r"inventory|stock levels?|web traffic|visits|sessions|conversion rate)\b")
"""Things people ask for that this store does not hold: answered with the metrics it has."""

GROUP_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("week", ("by week", "per week", "each week", "weekly", "week by week", "weeks")),
    ("month", ("by month", "per month", "each month", "monthly", "month by month", "months", "trend", "over time")),
    ("country", ("country", "countries", "market", "markets", "nation", "nations", "region", "regions")),
    ("segment", ("segment", "segments")),
    ("cluster", ("cluster", "clusters")),
    ("product", ("product", "products", "item", "items", "sku", "skus", "sellers", "best-sellers", "bestsellers",
                 "articles", "lines")),
    ("customer", ("customer", "customers", "client", "clients", "account", "accounts", "buyers", "spenders",
                  "shoppers")),
)
COMMAND_OF = {"customer": "/customer", "rules": "/crm rules", "recommend": "/crm recommend", "atrisk": "/crm atrisk",
              "segments": "/segments", "health": "/crm model-health", "help": "/crm help", "digest": "/crm digest",
              "metric": "/crm ask"}
QUESTION_WORDS = frozenset(
    {w for m in METRICS.values() for phrase in m.synonyms for w in phrase.split()}
    | {w for _name, words in GROUP_WORDS for phrase in words for w in phrase.split()}
    | {"much", "many", "how", "total", "by", "per", "each", "my", "mine", "average", "mean", "number", "count",
       "month", "week", "year", "quarter", "top", "best", "bottom", "worst", "value", "expected", "12-month",
       "vs", "versus", "compared", "last", "this", "since", "between", "sum", "accounts"})
"""Words of metrics, dimensions and asking: never taken for words of a product's name."""
FILLER = frozenset((
    "what", "do", "does", "did", "people", "customers", "who", "usually", "often", "else", "the", "a", "an",
    "with", "buy", "buys", "bought", "buying", "also", "goes", "go", "together", "products", "product", "items",
    "item", "rules", "rule", "for", "about", "me", "show", "tell", "our", "is", "are", "of", "pairs", "pair",
    "basket", "cross", "sell", "sells", "sold", "ideas", "idea", "things", "stuff", "which", "whats", "what's",
    "please", "can", "you", "could", "would", "i", "we", "us", "they", "them", "that", "this", "those", "these",
    "to", "in", "on", "at", "and", "or", "any", "some", "get", "give", "find", "list", "see", "look", "up", "pull",
    "open", "bring", "well", "along", "alongside", "combined", "frequently", "paired", "complements", "market",
    "who's", "hey", "hi", "hello", "thanks", "thank",
))
"""Words that carry no entity: left out when the rest names a product."""


@dataclass(frozen=True)
class Reading:
    """A command to run with its text, and a label for a button that offers it."""

    command: str
    text: str
    label: str


@dataclass(frozen=True)
class Understanding:
    """What a question was read as: a command, or (when unsure) the likeliest readings to offer."""

    reading: Reading | None
    alternatives: tuple[Reading, ...] = ()
    question: MetricQuestion | None = None
    """For a question about numbers: what to measure."""
    intent: str = ""
    corrected: str = ""
    """The text as read after typo correction (for ``--json`` and the benchmark)."""
    notes: list[str] = field(default_factory=list)
    unsure: bool = False
    """Nothing in the words decided it (the offered readings are guesses): a language model, where
    one is configured, may read it instead.  A number the store has both as a customer and as a
    product is not unsure: the store really has both readings."""
    read_by: str = "parser"
    """``parser`` (the offline reader) or ``language model``."""


HELP = Reading("/crm help", "", "Help")
HEALTH = Reading("/crm model-health", "", "Model health")


def card_reading(customer: str) -> Reading:
    """The card of one customer."""
    return Reading("/customer", customer, f"Card of {customer}")


def recommend_reading(customer: str) -> Reading:
    """What to offer one customer."""
    return Reading("/crm recommend", customer, f"Offers for {customer}")


def digest_reading(daily: bool, segment: str | None) -> Reading:
    """The preview of the weekly (or daily) digest, optionally for one segment."""
    options = (" daily" if daily else "") + (f" --segment {shlex.quote(segment)}" if segment else "")
    label = f"{'Daily' if daily else 'Weekly'} digest" + (f" for {segment}" if segment else "")
    return Reading("/crm digest", f"preview{options}", label)


def atrisk_reading(segment: str | None, country: str | None, top: int | None) -> Reading:
    """The accounts at risk, optionally of one segment, in one country, the top N."""
    where = f" in {country}" if country else ""
    return Reading("/crm atrisk", _with_country(segment or "", country) + (f" --top {top}" if top and top != 10
                                                                           else ""),
                   f"{segment + ' at risk' if segment else 'At risk'}{where}")


def segments_reading(segment: str | None, country: str | None) -> Reading:
    """All segments, or one, optionally in one country."""
    where = f" in {country}" if country else ""
    return Reading("/segments", _with_country(segment or "", country),
                   f"Segment {segment}{where}" if segment else f"All segments{where}")


def rules_reading(product: str | None, words: list[str], vocabulary: Vocabulary) -> Reading:
    """The rules about a product given by its sku, or by words of its description (one product
    with these words, or named in full, is that product; several are offered by ``/crm rules``)."""
    if product:
        return Reading("/crm rules", product, f"Rules about {product}")
    words = [w for w in words if vocabulary.names_products(w)]
    if not words:
        return Reading("/crm rules", "", "Strongest rules")
    named = vocabulary.products_named(words, 5)
    whole = [n for n in named if set(re.findall(r"[a-z0-9]+", n[1].lower())) <= set(words)]
    if len(named) == 1 or len(whole) == 1:
        sku, description = (whole or named)[0]
        return Reading("/crm rules", sku, f"Rules about {description}")
    said = " ".join(words)
    return Reading("/crm rules", said, f"Rules about {said}")


def metric_reading(message: str, question: MetricQuestion) -> Reading:
    """A question about numbers: answered by ``/crm ask`` with its own words."""
    return Reading("/crm ask", message.strip(), "Answer: " + METRICS[question.metric].label)


@dataclass
class _Parts:
    """The entities taken out of the text, and the words left."""

    text: str
    original: str
    corrected: str = ""
    """The whole text after typo correction, before any entity is taken out."""
    period: Period | None = None
    customer: str | None = None
    product: str | None = None
    segment: str | None = None
    country: str | None = None
    top: int | None = None
    bottom: bool = False
    owner: bool = False
    numbers: list[str] = field(default_factory=list)
    both: list[str] = field(default_factory=list)
    """Numbers the store has both as a customer and as a product."""
    compare_year_ago: bool = False


def _clean(message: str) -> tuple[str, str]:
    original = MENTION.sub(" ", message).replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"') \
        .replace("\u201d", '"')
    original = re.sub(r"^\s*@?crm\b[:,]?", " ", original, flags=re.IGNORECASE)
    return " ".join(original.split()), " ".join(original.lower().split())


def _correct(text: str, vocabulary: Vocabulary) -> str:
    out = []
    for token in re.findall(r"[\w'@.+-]+|[^\w\s]", text):
        if "@" in token or any(ch.isdigit() for ch in token):
            out.append(token)
            continue
        bare = token.strip(".'")
        fixed = vocabulary.correct(bare) if bare else bare
        out.append(fixed if fixed != bare else token)
    return " ".join(out).replace(" ?", "?").replace(" ,", ",").replace(" !", "!")


def _segment(text: str) -> tuple[str | None, str]:
    cleaned = text.replace("cant lose", "can't lose").replace("can not lose", "can't lose")
    for name in sorted(SEGMENTS, key=len, reverse=True):
        lower = name.lower()
        singular = lower.rstrip("s")
        if name == "At risk" and not re.search(r"\bat[- ]risk (segment|group|customers segment)\b|\bsegment at risk\b",
                                               cleaned):
            continue  # "at risk" alone asks for the accounts at risk; "the at risk segment" is the segment
        if name == "New" and not re.search(r"\bnew (segment|group)\b|\bsegment new\b", cleaned):
            continue  # "new customers" is a number people ask for; "the new segment" is the segment
        if name == "Lost" and not re.search(r"\blost (customers|segment|ones|group|accounts|clients)\b", cleaned):
            continue
        for form in (lower, singular):
            match = re.search(rf"\b{re.escape(form)}\b", cleaned)
            if match:
                return name, (cleaned[:match.start()] + " " + cleaned[match.end():])
    return None, cleaned


def _country(text: str, original: str, vocabulary: Vocabulary) -> tuple[str | None, str]:
    tokens = text.split()
    originals = original.split()
    for size in (3, 2, 1):
        for i in range(len(tokens) - size + 1):
            phrase = " ".join(tokens[i:i + size]).strip(".,?!'\"")
            if phrase not in vocabulary.countries:
                continue
            if len(phrase) <= 3:  # codes count only in capitals ("in IT" yes, "in it" no) or known aliases
                typed = " ".join(originals[i:i + size]).strip(".,?!'\"") if len(originals) == len(tokens) else phrase
                if not (typed.isupper() or phrase in ("uk", "usa", "rsa", "eire")):
                    continue
            rest = tokens[:i] + tokens[i + size:]
            if rest[i - 1:i] and rest[i - 1] in ("in", "from", "for"):
                rest = rest[:i - 1] + rest[i:]
            return vocabulary.countries[phrase], " ".join(rest)
    return None, text


def _numbers(parts: _Parts, vocabulary: Vocabulary) -> None:
    for match in NUMBER.finditer(parts.original):
        ref = match.group(1)
        if parts.period is not None and re.fullmatch(r"(19|20)\d\d", ref):
            continue
        is_customer = vocabulary.customer_exists(ref)
        sku = vocabulary.skus.get(ref.lower())
        if is_customer and sku:
            parts.both.append(ref)
        elif is_customer:
            parts.customer = parts.customer or ref
        elif sku:
            parts.product = parts.product or sku
        else:
            parts.numbers.append(ref)
        parts.text = re.sub(rf"#?\b{re.escape(ref.lower())}\b(\.0+)?", " ", parts.text)


def _top(parts: _Parts) -> None:
    match = TOP.search(parts.text)
    if match is None:
        return
    word, count, leading = match.group(1), match.group(2), match.group(3)
    if word in ("bottom", "worst", "lowest", "smallest", "weakest", "least"):
        parts.bottom = True
    number = leading or count
    if number:
        parts.top = int(number) if number.isdigit() else WORD_NUMBERS[number]
        parts.text = parts.text[:match.start()] + " " + (word or "") + " " + parts.text[match.end():]
    elif word:
        parts.top = 10


def _parts(message: str, vocabulary: Vocabulary) -> _Parts:
    original, lower = _clean(message)
    text = _correct(lower, vocabulary)
    parts = _Parts(text=text, original=original, corrected=text)
    email = EMAIL.search(original)
    if email:
        parts.customer = email.group(0)
        parts.text = parts.text.replace(email.group(0).lower(), " ")
    year_ago = YEAR_AGO.search(parts.text)
    if year_ago is not None:  # "November vs the same month last year": the period is November
        parts.compare_year_ago = True
        parts.text = parts.text[:year_ago.start()] + " vs " + parts.text[year_ago.end():]
    if vocabulary.latest is not None:
        found = find_period(parts.text, vocabulary.latest)
        if found is not None:
            parts.period = found.period
            parts.text = parts.text[:found.start] + " " + parts.text[found.end:]
    _numbers(parts, vocabulary)
    parts.owner = OWNED.search(parts.text) is not None
    parts.segment, parts.text = _segment(parts.text)
    parts.country, parts.text = _country(parts.text, original, vocabulary)
    _top(parts)
    parts.text = " ".join(parts.text.split())
    return parts


def _metric_name(text: str, parts: _Parts) -> str | None:
    """The metric a question names (its longest synonym wins), or a sensible one it implies."""
    best, length = None, 0
    padded = f" {text} "
    counts = {"customers", "active_customers", "new_customers"}
    for metric in METRICS.values():
        for synonym in metric.synonyms:
            if not re.search(rf"\b{re.escape(synonym)}\b", padded):
                continue
            # "my customers' revenue": the customers are whose revenue, not what is counted
            better = best is None or (best in counts and metric.name not in counts) or (
                (best in counts) == (metric.name in counts) and len(synonym) > length)
            if better:
                best, length = metric.name, len(synonym)
    if best == "customers" or (best is None and re.search(r"\bhow many\b.*\b(customers|clients|accounts|buyers)\b",
                                                          padded)):
        if re.search(r"\bnew\b", padded):
            return "new_customers"
        if parts.period is not None or re.search(r"\b(bought|ordered|purchased|active|buying)\b", padded):
            return "active_customers"
        return "customers"
    if best == "active_customers" and re.search(r"\bnew\b", padded):
        return "new_customers"
    if best == "average_churn_risk" and not re.search(r"\b(average|mean|avg|typical)\b|\b(by|per|each) (country|"
                                                      r"segment|cluster|market)\b", padded):
        return None  # "churn risk" alone asks for the accounts at risk
    if best == "net_revenue" and re.search(r"\b(average|mean|avg)\b", padded) and re.search(r"\border", padded):
        return "average_order_value"
    if best == "expected_value" and re.search(r"\b(average|mean|avg|typical)\b", padded):
        return "average_expected_value"
    if best == "orders" and re.search(r"\b(average|mean|avg)\b.*\b(order value|order size|basket)", padded):
        return "average_order_value"
    return best


def _group(text: str, metric: str | None, parts: _Parts) -> str | None:
    padded = f" {text} "
    for name, words in GROUP_WORDS:
        for word in words:
            if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", padded):
                if name == "customer" and not (parts.top or re.search(
                        r"\b(which|who|list|rank|ranking|by customer|per customer|each customer)\b", padded)):
                    continue  # "how many customers", "churn risk of loyal customers"; "top customers" lists them
                if name == "product" and parts.product:
                    continue
                if name in ("month", "week") and word in ("months", "weeks") and parts.period is not None:
                    continue  # "the last 3 months" is the period
                return name
    return None


def _compare(text: str, parts: _Parts) -> tuple[str | None, bool]:
    padded = f" {text} "
    growth = bool(re.search(r"\b(grew|grow|growth|growing|increase[ds]?|rose|risen|fell|fallen|dropped|declined?|"
                            r"decrease[ds]?|change[ds]?|improved?|worsened?)\b", padded))
    if parts.compare_year_ago:
        return "year_ago", growth
    if growth or re.search(r"\b(vs|versus|compared|compare|against|than the|previous|prior|before)\b", padded):
        return "previous", growth
    return None, growth


def _metric_question(parts: _Parts, vocabulary: Vocabulary) -> MetricQuestion | None:
    text = parts.text
    metric = _metric_name(text, parts)
    grouping = _group(text, metric, parts)
    if metric is None and re.search(r"\bwho\b.*\b(bought|buys|spent|spends|ordered|orders|paid)\b.*\bmost\b", text):
        metric, grouping = "net_revenue", "customer"  # "who bought the most last month"
    if metric is None and (parts.top or re.search(r"\b(grew|growth|sell best|sells best|best sellers?|"
                                                  r"best-sellers?|bestsellers?)\b", text)) and grouping:
        metric = "net_revenue" if grouping != "product" or not re.search(r"\b(units|quantity)\b", text) \
            else "units_sold"
    if metric is None:
        return None
    if grouping == "customer" and metric in ("customers", "active_customers"):
        metric = "net_revenue"  # "my best customers", "top 10 customers": ranked by what they bought
    compare, growth = _compare(text, parts)
    product = parts.product
    if product is None and re.search(r"\b(of|for|on)\b", text) and grouping != "product":
        # "revenue of the white hanging heart": words naming one product, none of them a question word
        after = re.split(r"\b(?:of|for|on)\b", text, maxsplit=1)[-1]
        words = [w for w in re.findall(r"[a-z0-9]+", after) if w not in FILLER and w not in QUESTION_WORDS]
        named = vocabulary.products_named(words, 2) if len(words) >= 2 else []
        if len(named) == 1:
            product = named[0][0]
    period = parts.period
    if compare is not None and period is None and vocabulary.latest is not None:
        found = find_period("the last 30 days", vocabulary.latest)
        period = found.period if found else None
    top = parts.top if grouping not in ("month", "week") else None
    if growth and grouping is None and re.search(r"\bwhich\b|\bwhat\b.*\b(most|least)\b", text):
        grouping = "country"
    return MetricQuestion(metric=metric, period=period, filters=Filters(country=parts.country, segment=parts.segment,
                                                                        product=product),
                          group_by=grouping, top=top, bottom=parts.bottom, compare=compare,
                          growth=growth and grouping is not None)


def _with_country(text: str, country: str | None) -> str:
    return f"{text} --country {shlex.quote(country)}".strip() if country else text


def _product_words(parts: _Parts) -> str:
    """The words left that may name a product ("the top rules for the jumbo bag" -> "jumbo bag")."""
    words = [w for w in re.findall(r"[a-z0-9']+", parts.text) if w not in FILLER and w not in QUESTION_WORDS
             and w not in ("strongest", "rule", "rules", "basket", "baskets")]
    return " ".join(words)


def _unless_a_list(question: MetricQuestion | None, parts: _Parts, scores: dict[str, int]) -> MetricQuestion | None:
    """``None`` where the words ask for a list the commands give, not for a number."""
    if question is None:
        return None
    counting = re.search(r"\b(how many|number of|count|total|how much)\b", parts.text) is not None
    if question.metric in ("customers", "active_customers") and not counting and question.period is None \
            and (scores["atrisk"] or parts.segment or scores["segments"]):
        return None  # "accounts going quiet", "show hibernating accounts": the list, not a count
    if scores["atrisk"] and question.metric != "average_churn_risk" and not counting \
            and question.group_by in (None, "customer") and not question.compare:
        return None  # "which customers might leave", "top 5 customers at risk"
    if question.group_by == "customer" and parts.segment and not parts.top and not counting and scores["segments"]:
        return None  # "who are our loyal customers": the segment
    return question


def _only_a_weak_rules_cue(parts: _Parts, scores: dict[str, int], vocabulary: Vocabulary) -> bool:
    """"What is going on with the numbers": "with the" alone says rules only if a product follows."""
    if parts.product or cue_scores(parts.text, strong_only=True)["rules"] > 0:
        return False
    words = [w for w in _product_words(parts).split() if vocabulary.names_products(w)]
    return not vocabulary.products_named(words, 1)


def read(message: str, vocabulary: Vocabulary) -> Understanding:
    """What ``message`` asks for, read against the store's own words."""
    parts = _parts(message, vocabulary)
    text = parts.text
    scores = cue_scores(text)
    corrected = parts.corrected

    def done(reading: Reading, intent: str, question: MetricQuestion | None = None) -> Understanding:
        return Understanding(reading, question=question, intent=intent, corrected=corrected)

    if parts.both and not parts.customer and not parts.product:  # the store has both readings: ask
        ref = parts.both[0]
        return Understanding(None, (Reading("/customer", ref, f"Card of customer {ref}"),
                                    Reading("/crm rules", ref, f"Rules about product {ref}")),
                             intent="ask", corrected=corrected)
    if parts.both and parts.customer is None and scores["customer"] + scores["recommend"] > 0:
        parts.customer = parts.both[0]
    if parts.both and parts.product is None and scores["rules"] > 0:
        parts.product = parts.both[0]
    digest_words = scores["digest"] or cue_scores(corrected)["digest"]
    if digest_words and not scores["rules"] and parts.customer is None:
        daily = (parts.period is not None and parts.period.days <= 1) or "daily" in text
        return done(digest_reading(daily, parts.segment), "digest")
    if scores["health"] and not scores["rules"] and parts.customer is None and not scores["recommend"]:
        return done(HEALTH, "health")
    if parts.customer is not None and (scores["recommend"] or re.search(r"\b(upsell|up-sell|cross-sell|cross sell)\b",
                                                                        text)):
        return done(recommend_reading(parts.customer), "recommend")
    if scores["rules"] and parts.customer is None and not _only_a_weak_rules_cue(parts, scores, vocabulary):
        return done(rules_reading(parts.product, _product_words(parts).split(), vocabulary), "rules")
    question = _unless_a_list(_metric_question(parts, vocabulary), parts, scores)
    if question is None and UNKNOWN_METRICS.search(text):  # "profit last month": say which metrics exist
        return Understanding(Reading("/crm ask", message.strip(), "Metrics"), intent="metric", corrected=corrected)
    metric_words = asks_for_numbers(text)
    if question is not None and (metric_words or parts.period is not None or question.metric not in
                                 ("customers", "average_churn_risk")) and parts.customer is None:
        if parts.owner:
            question = replace(question, filters=replace(question.filters, owner=ASKER))
        return done(metric_reading(message, question), "metric", question)
    if parts.customer is not None:
        return done(card_reading(parts.customer), "customer")
    if scores["atrisk"] or (parts.segment and re.search(r"\bat[- ]risk\b", text)):
        return done(atrisk_reading(parts.segment, parts.country, parts.top), "atrisk")
    if parts.segment or scores["segments"] or (parts.country and not text.replace("customers", "").strip(" ?")):
        return done(segments_reading(parts.segment, parts.country), "segments")
    if parts.product and not scores["help"]:
        return done(Reading("/crm rules", parts.product, f"Rules about {parts.product}"), "rules")
    if question is not None:
        return done(metric_reading(message, question), "metric", question)
    if scores["help"] or not text.strip(" ?!."):
        return done(HELP, "help")
    if parts.numbers:
        return done(card_reading(parts.numbers[0]), "customer")
    return Understanding(None, (HELP, segments_reading(None, None)), intent="ask", corrected=corrected, unsure=True)


FOLLOW_UP = re.compile(r"^\s*(?:and|&|what about|how about|same for|same but|now|only|just|but|ok|okay|then|also|"
                       r"what if|instead|by|per|vs|versus|compared)\b")
"""How a follow-up starts ("and in France?", "only champions", "by country"): it continues the last question."""


def continues(message: str) -> bool:
    """Whether ``message`` starts the way a follow-up does."""
    return FOLLOW_UP.search(_clean(message)[1]) is not None
WHY = re.compile(r"^\s*(?:why\??$|why is that|why that|how (?:was|is|did) (?:that|this|it) (?:computed|calculated|"
                 r"counted|worked out)|what does (?:that|this) (?:mean|include|count)|explain(?: that| this)?\??$|"
                 r"how do you (?:count|compute|calculate) (?:that|this|it))")


def explains_the_last_answer(message: str) -> bool:
    """Whether ``message`` asks why or how the previous answer was computed ("why?", "what does that include")."""
    return WHY.search(_clean(message)[1]) is not None


def _still_grouped(group_by: str | None, parts: _Parts) -> str | None:
    """The last grouping, unless the follow-up picks one of its groups ("by country" -> "and in France?")."""
    picked = {"country": parts.country, "segment": parts.segment, "product": parts.product}
    return None if group_by is not None and picked.get(group_by) else group_by


def refine(previous: MetricQuestion, message: str, vocabulary: Vocabulary) -> MetricQuestion | None:
    """The previous question changed the way a follow-up says ("and in France?", "what about last
    month?", "only champions", "show me the top 5", "by segment"), or ``None`` when ``message`` is a
    question of its own (it names a metric or a command) or changes nothing."""
    _, lower = _clean(message)
    parts = _parts(message, vocabulary)
    scores = cue_scores(parts.text)
    names_metric = _metric_name(parts.text, parts) not in (None, "customers")
    commands = any(scores[i] for i in ("digest", "health", "rules", "recommend", "atrisk", "help"))
    short = len(lower.split()) <= 8
    if parts.customer is not None or commands or (names_metric and not FOLLOW_UP.search(lower)) or not short:
        return None
    grouping = _group(parts.text, previous.metric, parts)
    compare, growth = _compare(parts.text, parts)

    def kept(name: str, new: str | None, old: str | None) -> str | None:
        return new or (None if grouping == name else old)  # grouped by it now: no longer one of them
    changed = replace(
        previous,
        period=parts.period or previous.period,
        filters=replace(previous.filters, country=kept("country", parts.country, previous.filters.country),
                        segment=kept("segment", parts.segment, previous.filters.segment),
                        product=kept("product", parts.product, previous.filters.product)),
        group_by=grouping or _still_grouped(previous.group_by, parts),
        top=parts.top if parts.top is not None else previous.top,
        bottom=parts.bottom or (previous.bottom and parts.top is None),
        compare=compare or previous.compare, growth=growth or previous.growth)
    if names_metric:  # "and the orders?": the same question about another metric
        changed = replace(changed, metric=_metric_name(parts.text, parts) or previous.metric)
    return changed if changed != previous else None
