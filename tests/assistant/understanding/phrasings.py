"""The phrasing set (``phrasings.toml``): loading it, its real-people variants, and scoring a reading.

Shared by the suite (``test_reader.py``, on the part not held out) and the benchmark
(``benchmarks/understanding.py``, which reports both parts, split by intent).
"""

from __future__ import annotations

import random
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from assistant.commands.follow_ups import split as split_reminder
from assistant.commands.understanding import writes
from assistant.commands.understanding.reader import Understanding, read
from assistant.commands.understanding.vocabulary import Vocabulary
from assistant.errors import UserFacingError
from assistant.views.metrics import ASKER

SOURCE = Path(__file__).with_name("phrasings.toml")


@dataclass(frozen=True)
class Phrasing:
    text: str
    expected: str
    intent: str
    held_out: bool
    variant: str = "as written"


def load() -> list[Phrasing]:
    """Every phrasing as written."""
    data = tomllib.loads(SOURCE.read_text(encoding="utf-8"))
    return [Phrasing(text, expected, block["intent"], bool(block.get("held_out", False)))
            for block in data["set"] for text, expected in block["phrasings"]]


def _typo(text: str, rng: random.Random) -> str | None:
    """One slip in one longer word, as fast typing makes them: two letters swapped, one dropped or doubled."""
    words = [m for m in re.finditer(r"[A-Za-z]{6,}", text) if not m.group(0).isupper()]
    if not words:
        return None
    word = rng.choice(words)
    w, i = word.group(0), rng.randrange(1, len(word.group(0)) - 2)
    slip = rng.choice(("swap", "drop", "double"))
    typed = (w[:i] + w[i + 1] + w[i] + w[i + 2:] if slip == "swap" else w[:i] + w[i + 1:] if slip == "drop"
             else w[:i] + w[i] + w[i:])
    return text[:word.start()] + typed + text[word.end():]


def variants(phrasings: list[Phrasing], seed: int = 15) -> list[Phrasing]:
    """The ways the same question arrives in chat: with the bot's mention, in capitals or lower case,
    politely, and with one typo: every third phrasing gets one of them (seeded, so the set is fixed)."""
    rng = random.Random(seed)
    out = []
    for n, p in enumerate(phrasings):
        if not p.text or n % 3:
            continue
        kind = ("mention", "lower", "polite", "typo", "upper")[n // 3 % 5]
        text: str | None = {"mention": f"<@UCRMBOT01> {p.text}", "lower": p.text.lower(),
                            "polite": f"could you tell me {p.text.rstrip('?')} please?" if p.intent == "metric"
                            else f"{p.text.rstrip('?')} please", "upper": p.text.upper()}.get(kind)
        if kind == "typo":  # a note keeps its words as typed: a slip in one is the note's, not a misreading
            text = _typo(p.text, rng) if p.intent != "note" else None
        if text is not None and text != p.text:
            out.append(Phrasing(text, p.expected, p.intent, p.held_out, kind))
    return out


def all_phrasings() -> list[Phrasing]:
    written = load()
    return written + variants(written)


def understand(text: str, vocabulary: Vocabulary) -> Understanding:
    """What the bot makes of a message outside a conversation: a write it asks for, else the reader's reading."""
    return writes.reading(text) or read(text, vocabulary)


def _said(understood: Understanding) -> str:
    if understood.reading is None:
        return "ask"
    if understood.reading.command == "/crm remind":
        try:
            parts = split_reminder(understood.reading.text)
        except UserFacingError as exc:
            return f"remind refused: {exc}"
        return f"remind {parts.customer} | {parts.task} | {parts.when}"
    if understood.reading.command != "/crm ask":
        return " ".join(f"{understood.reading.command} {understood.reading.text}".split())
    q = understood.question
    if q is None:
        return "metric"
    parts = [f"metric {q.metric}"]
    if q.period is not None:
        parts.append(f"period {q.period.said}")
    if q.group_by:
        parts.append(f"by {q.group_by}")
    if q.top is not None:
        parts.append(f"top {q.top}")
    if q.bottom:
        parts.append("bottom")
    for name in ("country", "segment", "product"):
        value = getattr(q.filters, name)
        if value:
            parts.append(f"{name} {value}")
    if q.compare:
        parts.append(f"compare {q.compare}")
    if q.growth:
        parts.append("growth")
    if q.filters.owner == ASKER:
        parts.append("mine")
    return " | ".join(parts)


def matches(understood: Understanding, expected: str) -> tuple[bool, str]:
    """Whether the reading is the expected one, and the reading in the expectations' notation."""
    said = _said(understood)
    if not expected.startswith("metric ") or said in ("ask", "metric") or not said.startswith("metric "):
        return said.lower() == " ".join(expected.split()).lower(), said
    want = dict(_fields(expected))
    got = dict(_fields(said))
    if "top" not in want and "by" in want:
        got.pop("top", None)  # "best selling products": any sensible length of list
    return want == got, said


def _fields(notation: str) -> list[tuple[str, str]]:
    out = []
    for part in notation.split(" | "):
        key, _, value = part.partition(" ")
        out.append((key, value.lower()))
    return out
