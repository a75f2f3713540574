"""Questions in words -> the same commands: intent and entity extraction that works offline.

"@crm who are our champions?" -> ``/segments Champions``; "@crm what do people buy with the
white hanging heart?" -> ``/crm rules white hanging heart``; "@crm tell me about 12748" ->
``/customer 12748``.  Each intent has cue phrases; entities are customer ids, product codes,
product words and segment names.  When two readings score alike, or a bare number could be a
customer or a product, the bot asks back with the two likeliest readings as buttons.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from analytics.rfm import SEGMENTS
from db.normalise import COUNTRY_ALIASES, normalise_country

MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")
CUSTOMER_ID = re.compile(r"\b(\d{4,7})\b")
PRODUCT_CODE = re.compile(r"\b(\d{5}[a-zA-Z]{0,2})\b")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
PLACE = re.compile(r"\b(?:in|from)\s+(?:the\s+)?([A-Za-z][A-Za-z.'-]*(?:\s+[A-Za-z][A-Za-z.'-]*){0,2})")

CUES: dict[str, tuple[str, ...]] = {
    "customer": ("tell me about", "who is", "customer", "card", "look up", "lookup", "profile", "details",
                 "show me", "info on", "information on", "account"),
    "rules": ("buy with", "bought with", "buys with", "goes with", "go with", "also buy", "together",
              "rules", "people who buy", "customers who buy", "cross-sell", "cross sell", "basket", "pairs with"),
    "recommend": ("recommend", "offer", "sell to", "suggest", "next best", "pitch", "upsell"),
    "atrisk": ("at risk", "churn", "about to leave", "leaving", "slipping", "losing", "lapse", "risky",
               "might leave", "going quiet"),
    "segments": ("segment", "segments", "champions", "loyal", "hibernating", "lost customers", "can't lose",
                 "cant lose", "need attention", "potential loyalists", "new customers", "who are our"),
    "health": ("model health", "trust", "accurate", "accuracy", "how good", "calibrat", "drift", "model"),
    "help": ("help", "what can you do", "commands", "how do i", "usage"),
}
COMMAND_OF = {"customer": "/customer", "rules": "/crm rules", "recommend": "/crm recommend",
              "atrisk": "/crm atrisk", "segments": "/segments", "health": "/crm model-health", "help": "/crm help"}
FILLER = re.compile(r"\b(what|do|does|did|people|customers|who|usually|often|else|the|a|an|with|buy|buys|bought|"
                    r"also|goes|go|together|products?|items?|rules?|for|about|me|show|tell|our|is|are|of|"
                    r"pairs|basket|cross[- ]sell|pls|please|sells?|sold|ideas?|things|stuff|show|which|what.s)\b")


@dataclass(frozen=True)
class Reading:
    """One interpretation: the command to run and its text, with a label for a button."""

    command: str
    text: str
    label: str


@dataclass(frozen=True)
class Interpretation:
    """The reading to run, or (when unsure) the two likeliest to offer as buttons."""

    reading: Reading | None
    alternatives: tuple[Reading, ...] = ()


def _segment(text: str) -> str | None:
    cleaned = text.replace("\u2019", "'").replace("cant", "can't")
    for name in sorted(SEGMENTS, key=len, reverse=True):
        if name.lower() in cleaned or (name.lower().rstrip("s") + " ") in cleaned + " ":
            return name
    return None


def _country(original: str) -> tuple[str | None, str]:
    """A country named after "in"/"from" ("champions in Germany", "at risk in the UK") and the
    text without that phrase.  Codes count only when typed in capitals ("in IT" yes, "in it" no)."""
    for match in PLACE.finditer(original):
        words = list(re.finditer(r"\S+", match.group(1)))
        for n in range(len(words), 0, -1):  # "Germany last month": try three words, two, then one
            candidate = " ".join(w.group(0) for w in words[:n]).rstrip(".'")
            if len(candidate) <= 3 and candidate.lower() not in COUNTRY_ALIASES and not candidate.isupper():
                continue
            name, code = normalise_country(candidate)
            if name is not None and (code is not None or candidate.lower() in COUNTRY_ALIASES):
                end = match.start(1) + words[n - 1].end()
                return name, " ".join((original[:match.start()] + " " + original[end:]).split())
    return None, original


def _with_country(text: str, country: str | None) -> str:
    return f"{text} --country {shlex.quote(country)}".strip() if country else text


def _scores(text: str) -> dict[str, int]:
    return {intent: sum(len(cue) for cue in cues if cue in text) for intent, cues in CUES.items()}


def _reading(intent: str, text: str, original: str, country: str | None = None) -> Reading | None:
    """The command for ``intent`` with its entity from the text, or None if the entity is missing."""
    customer = EMAIL.search(original) or CUSTOMER_ID.search(text)
    if intent in ("customer", "recommend"):
        if customer is None:
            return None
        ref = customer.group(0)
        return Reading(COMMAND_OF[intent], ref, f"{'Card of' if intent == 'customer' else 'Offers for'} {ref}")
    if intent == "rules":
        code = PRODUCT_CODE.search(original)
        words = " ".join(FILLER.sub(" ", text).replace("?", " ").split())
        thing = code.group(1).upper() if code else words
        return Reading("/crm rules", thing, f"Rules about {thing}" if thing else "Strongest rules")
    where = f" in {country}" if country else ""
    if intent == "segments":
        segment = _segment(text)
        return Reading("/segments", _with_country(segment or "", country),
                       f"Segment {segment}{where}" if segment else f"All segments{where}")
    if intent == "atrisk":
        segment = _segment(text.replace("at risk", ""))
        return Reading("/crm atrisk", _with_country(segment or "", country),
                       f"{segment + ' at risk' if segment else 'At risk'}{where}")
    return Reading(COMMAND_OF[intent], "", {"health": "Model health", "help": "Help"}[intent])


def interpret(message: str) -> Interpretation:
    """Map a mention's text to a command, or to two readings to choose from."""
    country, original = _country(MENTION.sub(" ", message).strip())
    text = " ".join(original.lower().split())
    if not text:
        if country:  # "@crm in Germany?"
            return Interpretation(Reading("/segments", _with_country("", country), f"All segments in {country}"))
        return Interpretation(Reading("/crm help", "", "Help"))
    scores = _scores(text)
    ranked = sorted((s, i) for i, s in scores.items() if s > 0)[::-1]
    if not ranked:
        number = CUSTOMER_ID.search(text) or EMAIL.search(original)
        if number is None:
            return Interpretation(None, (Reading("/crm help", "", "Help"), Reading("/segments", "", "All segments")))
        ref = number.group(0)
        card = Reading("/customer", ref, f"Card of customer {ref}")
        if PRODUCT_CODE.fullmatch(ref):  # a bare five-digit number: a customer id or a product code
            return Interpretation(None, (card, Reading("/crm rules", ref.upper(), f"Rules about product {ref}")))
        return Interpretation(card)
    if scores["atrisk"] and _segment(text.replace("at risk", "")):  # "which champions are at risk?"
        return Interpretation(_reading("atrisk", text, original, country))
    readings = [r for _, intent in ranked if (r := _reading(intent, text, original, country)) is not None]
    if not readings:
        intent = ranked[0][1]
        return Interpretation(None, (Reading("/crm help", "", "Help"),
                                     Reading(COMMAND_OF[intent], "", f"{intent} (say which customer)")))
    if len(ranked) > 1 and len(readings) > 1 and ranked[0][0] == ranked[1][0]:
        return Interpretation(None, (readings[0], readings[1]))
    return Interpretation(readings[0])
