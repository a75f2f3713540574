"""The reader on the phrasing set (the part not held out), against the demo store's vocabulary.

The held-out part is scored only by ``benchmarks/understanding.py --held-out``.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from assistant.commands.understanding.reader import read
from assistant.commands.understanding.vocabulary import Vocabulary, load
from assistant.jobs.refresh.run import RefreshSummary
from tests.assistant.understanding.phrasings import all_phrasings, matches, understand
from tests.assistant.understanding.phrasings import load as load_phrasings


@pytest.fixture(scope="module")
def vocabulary(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Vocabulary:
    with Session(refreshed[0]) as session:
        return load(session)


def test_the_set_is_large_and_varied() -> None:
    written = load_phrasings()
    everything = all_phrasings()
    assert len(everything) >= 400 and len({p.text for p in everything}) == len(everything)
    assert sum(p.held_out for p in written) >= 0.2 * len(written)
    assert {p.intent for p in written} >= {"customer", "recommend", "rules", "atrisk", "segments", "digest",
                                           "health", "help", "metric"}


def test_phrasings_read_correctly_and_rarely_ask_back(vocabulary: Vocabulary) -> None:
    tuned = [p for p in all_phrasings() if not p.held_out]
    wrong, asked = [], 0
    by_intent: Counter[str] = Counter()
    for phrasing in tuned:
        understood = understand(phrasing.text, vocabulary)
        ok, said = matches(understood, phrasing.expected)
        asked += understood.reading is None and phrasing.expected != "ask"
        if not ok:
            wrong.append(f"{phrasing.text!r} ({phrasing.variant}): read {said!r}, expected {phrasing.expected!r}")
            by_intent[phrasing.intent] += 1
    assert len(wrong) <= 0.03 * len(tuned), f"{len(wrong)} of {len(tuned)} misread:\n" + "\n".join(wrong)
    assert asked <= 0.02 * len(tuned)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gets_a_reading_or_two_to_choose_from(vocabulary: Vocabulary, text: str) -> None:
    understood = read(text, vocabulary)
    assert (understood.reading is not None) != bool(understood.alternatives)
    assert understood.reading is None or understood.reading.command.startswith("/")


@pytest.mark.parametrize("question", ["who is at risk in it", "lost customers in time for christmas",
                                      "champions in stock", "who is at risk in the next month"])
def test_words_after_in_are_a_country_only_when_they_name_one(vocabulary: Vocabulary, question: str) -> None:
    understood = read(question, vocabulary)
    assert understood.reading is not None and "--country" not in understood.reading.text
