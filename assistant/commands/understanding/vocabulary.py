"""The store's own words, for reading questions: segments, countries, products, metric and command words.

Typos are corrected against these (rapidfuzz's optimal-string-alignment similarity, so a swapped
pair of letters is one slip: "rsik" -> "risk", "germny" -> "germany", "hart" -> "heart"), and
entities are recognised from them, so "pull up 12748" is a customer only because the store has
customer 12748 and no product 12748.  Loaded once per store and kept for ``TTL`` (new imports
and refreshes show up within it).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.rfm import SEGMENTS
from assistant.commands.understanding.cues import cue_words
from db import snapshots
from db.models import Customer, OrderLine, Product
from db.normalise import COUNTRY_ALIASES
from db.semantic import DIMENSIONS, METRICS

TTL = 300.0
"""Seconds a store's vocabulary is kept before it is read again."""
MAX_PRODUCTS = 20_000
"""Descriptions kept for matching words to products (the most-ordered first)."""

SLANG = {"ppl": "people", "pls": "please", "plz": "please", "u": "you", "ur": "your", "thx": "thanks",
         "custs": "customers", "cust": "customer", "rev": "revenue", "qty": "units", "yr": "year", "mth": "month",
         "mo": "month", "wk": "week", "wks": "weeks", "q": "quarter", "avg": "average", "nr": "number",
         "no.": "number", "num": "number", "cnt": "count", "biz": "business", "w/": "with", "vs.": "vs",
         "uk's": "uk", "yday": "yesterday", "tmrw": "tomorrow", "govt": "government", "&": "and"}
"""Shorthands people type in chat, read as the word they stand for."""

COMMAND_WORDS = (
    "about", "account", "accounts", "accurate", "accuracy", "also", "attention", "average", "basket", "best",
    "biggest", "bottom", "bought", "buy", "buyers", "buys", "calibration", "card", "change", "changed", "churn",
    "churning", "compare", "compared", "count", "customer", "customers", "daily", "details", "digest", "drift",
    "during", "each", "goes", "grew", "growth", "health", "help", "highest", "ideas", "increase", "largest", "last",
    "leave", "leaving", "list", "lose", "losing", "lowest", "model", "models", "month", "monthly", "most", "number",
    "offer", "orders", "people", "pitch", "please", "predictions", "previous", "product", "products", "profile",
    "quarter", "recap", "recommend", "recommendations", "revenue", "risk", "rules", "sales", "segment",
    "segments", "sell", "show", "since", "slipping", "smallest", "suggest", "summary", "together", "top",
    "total", "trend", "trust", "units", "upsell", "versus", "week", "weekly", "which", "worst", "year",
    "yesterday", "today", "between", "champions", "loyal", "potential", "loyalists", "hibernating", "lost",
    "countries", "country", "customers", "clients", "value", "lifetime", "expected", "share", "returns",
    "cancellations", "cancellation", "new", "active", "quiet", "going", "about", "tell", "who", "what", "how",
    "many", "much", "give", "want", "know", "look", "pull", "open", "find", "check", "things", "stuff", "along",
    "with", "germany", "france", "november", "december", "october", "september", "august", "july", "june",
    "april", "march", "february", "january")


COMMON_WORDS = frozenset(re.findall(r"[a-z]+", (
    "able about above after again against all almost also always among another any anyone anything are area "
    "around ask asked back been before being below best better between both bring call came can cannot come "
    "could day days did does doing done down each even ever every far few find first from gave get gets give "
    "given goes going gone good got great had has have having here high how into its just keep kind know last "
    "least less like likely long look made make many may maybe more most much must need never next none not "
    "now off often once one only onto other others over own part past please put quite rather really right "
    "said same saw say see seem seen set several shall she should show side since some soon still such sure "
    "take than that their them then there these they thing think this those though thought through thus time "
    "told too took top toward under until upon very want wanted was way ways well went were what when where "
    "whether which while who whom whose why will wish with within without word work would year yes yet you "
    "your yours hello hey hi thanks thank cheers okay please cant wont dont isnt arent stop stopped stopping "
    "ship shipped went quick info again bring everything something anything")))
"""Everyday English words: never "corrected" into a store word ("were" is not "week")."""


@dataclass
class Vocabulary:
    """What one store knows by name, plus the words questions are made of."""

    latest: date | None
    """The latest day with a sale: periods in words count back from it."""
    countries: dict[str, str]
    """Lower-case name or alias -> the country as stored (only countries the store has)."""
    products: list[tuple[str, str]]
    """(sku, description) of merchandise, the most-ordered first."""
    skus: dict[str, str]
    """Lower-case sku -> sku."""
    customer_exists: Callable[[str], bool]
    """Whether a customer has this id (asked of the store: ids are too many to hold)."""
    words: list[str] = field(default_factory=list)
    known: frozenset[str] = frozenset()
    index: dict[str, set[int]] = field(default_factory=dict)
    """Word of a description -> the positions in ``products`` of the products it describes."""
    product_words: list[str] = field(default_factory=list)
    weight: Counter[str] = field(default_factory=Counter)
    """How often each word occurs in the store's names (command words count most): breaks ties."""

    def __post_init__(self) -> None:
        vocabulary = set(COMMAND_WORDS) | cue_words()
        self.weight.update({word: 1_000 for word in COMMAND_WORDS})
        for metric in METRICS.values():
            vocabulary.update(word for phrase in metric.synonyms for word in phrase.split())
        for dimension in DIMENSIONS.values():
            vocabulary.update(word for phrase in dimension.synonyms for word in phrase.split())
        for segment in SEGMENTS:
            vocabulary.update(re.findall(r"[a-z]+", segment.lower()))
        for name in self.countries:
            vocabulary.update(name.split())
        for position, (_, description) in enumerate(self.products):
            found = [w for w in re.findall(r"[a-z0-9]+", description.lower()) if len(w) > 1]
            vocabulary.update(w for w in found if len(w) > 2 and w.isalpha())
            self.weight.update(found)
            for word in found:
                self.index.setdefault(word, set()).add(position)
        self.product_words = sorted(self.index)
        self.known = frozenset(vocabulary) | COMMON_WORDS
        self.words = sorted(w for w in vocabulary if len(w) >= 4)

    def correct(self, token: str) -> str:
        """``token`` as the word it most likely is (itself when known, short, a number or unlike any)."""
        if token in SLANG:
            return SLANG[token]
        if len(token) < 4 or token in self.known or not token.isalpha():
            return token
        if any(token.endswith(end) and token[:-len(end)] in self.known for end in ("s", "es", "ed", "d", "ing", "ly")):
            return token  # an inflection of a known word ("sells", "ordered"), not a typo
        cutoff = 0.75 if len(token) <= 5 else 0.8
        matches = process.extract(token, self.words, scorer=OSA.normalized_similarity, score_cutoff=cutoff, limit=8)
        if not matches:
            return token
        # Equal similarity ("hart": heart or chart): the same first letter, then the commoner word.
        best = max(matches, key=lambda m: (round(m[1], 6), m[0][0] == token[0], self.weight[m[0]]))
        return str(best[0])

    def names_products(self, word: str) -> bool:
        """Whether ``word`` (or a word one slip from it) appears in some product's description."""
        if word in self.index:
            return True
        if len(word) < 4:
            return False
        return process.extractOne(word, self.product_words, scorer=OSA.normalized_similarity,
                                  score_cutoff=0.75) is not None

    def products_named(self, words: Iterable[str], limit: int = 5) -> list[tuple[str, str]]:
        """Products whose description holds all ``words`` (each allowing one slip, or as the start of
        a longer word), one per distinct description, the most-ordered first."""
        wanted = [w for w in words if len(w) > 2]
        if not wanted:
            return []
        matching: set[int] | None = None
        for word in wanted:
            alike = {word} | {m[0] for m in process.extract(word, self.product_words, scorer=OSA.normalized_similarity,
                                                            score_cutoff=0.75 if len(word) >= 4 else 1.0, limit=25)}
            alike |= {w for w in self.product_words if len(word) >= 4 and w.startswith(word)}
            found = set().union(*(self.index.get(w, set()) for w in alike))
            matching = found if matching is None else matching & found
            if not matching:
                return []
        distinct: dict[str, tuple[str, str]] = {}
        for position in sorted(matching or ()):
            sku, description = self.products[position]
            distinct.setdefault(description.lower(), (sku, description))
            if len(distinct) >= limit:
                break
        return list(distinct.values())


def load(session: Session) -> Vocabulary:
    """Read the store's countries, products and latest day."""
    latest = snapshots.last_sale_at(session)
    stored = [str(c) for c in session.scalars(select(Customer.country).where(Customer.country.is_not(None))
                                               .distinct())]
    countries = {c.lower(): c for c in stored}
    for alias, (name, _code) in COUNTRY_ALIASES.items():
        if name is not None and name in stored:
            countries.setdefault(alias, name)
    rows = session.execute(select(Product.sku, Product.description).outerjoin(OrderLine, OrderLine.product_id
                                                                              == Product.id)
                           .where(Product.kind == "product", Product.description.is_not(None))
                           .group_by(Product.id, Product.sku, Product.description)
                           .order_by(func.count(OrderLine.id).desc(), Product.sku).limit(MAX_PRODUCTS)).all()
    products = [(str(sku), str(description)) for sku, description in rows]
    skus: dict[str, str] = {}
    for sku, _ in products:  # 85123A and 85123a: the most-ordered spelling wins
        skus.setdefault(sku.lower(), sku)
    factory = session.get_bind()

    def customer_exists(ref: str) -> bool:
        with Session(factory) as lookup:
            return lookup.scalar(select(Customer.id).where(Customer.external_id == ref).limit(1)) is not None
    return Vocabulary(latest=latest.date() if latest else None, countries=countries, products=products, skus=skus,
                      customer_exists=customer_exists)


class Vocabularies:
    """Each store's vocabulary, read at most once per ``TTL`` (thread-safe: answers run in a pool)."""

    def __init__(self, ttl: float = TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._held: dict[str, tuple[float, Vocabulary]] = {}

    def of(self, session: Session) -> Vocabulary:
        """The vocabulary of the store ``session`` reads (read again after ``ttl`` seconds)."""
        bind = session.get_bind()
        key = str(bind.engine.url)
        with self._lock:
            held = self._held.get(key)
            if held is not None and time.monotonic() - held[0] < self.ttl:
                return held[1]
        vocabulary = load(session)
        with self._lock:
            self._held[key] = (time.monotonic(), vocabulary)
        return vocabulary


VOCABULARIES = Vocabularies()
