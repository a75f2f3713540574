"""Finding what was meant: customer ids as people type them, quoted names, products by their words.

Against the refreshed demo sample (SQLite and PostgreSQL), through the views the commands use and
the messages they render.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from assistant.commands.base import UsageError
from assistant.commands.parsing import words
from assistant.errors import UserFacingError
from assistant.jobs.refresh.run import RefreshSummary
from assistant.render.customer import candidates
from assistant.render.insights import product_candidates
from assistant.render.insights import rules as render_rules
from assistant.views.insights import Candidates, find_customer, find_products, resolve_customer, rules_view
from db.models import Customer

Refreshed = tuple[Engine, RefreshSummary, RefreshSummary]


@pytest.mark.parametrize("typed", ["12748", " 12748 ", "12748.0", "#12748", "12748,", "(12748)", "\"12748\"",
                                   "*12748*", "12748."])
def test_an_id_with_obvious_dressing_opens_that_customer(refreshed: Refreshed, typed: str) -> None:
    with Session(refreshed[0]) as session:
        found = resolve_customer(session, typed)
        assert isinstance(found, Customer) and found.external_id == "12748"


@pytest.mark.parametrize(("typed", "offered"), [("2748", "12748"), ("12748x", "12748"), ("12784", "12748"),
                                                ("1274", "12748"), ("127488", "12748")])
def test_an_id_that_only_resembles_one_asks_before_showing_anyone(refreshed: Refreshed, typed: str,
                                                                  offered: str) -> None:
    with Session(refreshed[0]) as session:
        found = resolve_customer(session, typed)
        assert isinstance(found, Candidates) and not found.exact, found
        assert offered in [c.external_id for c in found.customers]
        message = candidates(found)
        assert message.text.startswith(f"No customer {typed!r}; did you mean")
        assert any(e["value"] == offered for b in message.blocks if b["type"] == "actions" for e in b["elements"])
        with pytest.raises(UserFacingError, match="did you mean"):
            find_customer(session, typed)  # buttons and recommend never pick a near miss silently


def test_an_unrelated_id_says_nothing_matches(refreshed: Refreshed) -> None:
    with Session(refreshed[0]) as session, pytest.raises(UserFacingError, match="no customer matches '99999999'"):
        resolve_customer(session, "99999999")


@pytest.mark.parametrize(("typed", "expected"), [
    ("\"Can't lose them\"", ["Can't lose them"]), ("Can't lose them", ["Can't", "lose", "them"]),
    ("\u201cCan\u2019t lose them\u201d", ["Can't lose them"]), ("--country 'United Kingdom'", ["--country",
                                                                                           "United Kingdom"]),
    ("'Can't lose them'", ["Can't lose them"])])
def test_quotes_group_words_and_apostrophes_are_letters(typed: str, expected: list[str]) -> None:
    assert words(typed) == expected


@pytest.mark.parametrize("typed", ["' UNION SELECT", "\"open", "a\"b'c\"d'"])
def test_an_unclosed_quote_says_what_to_do_in_words(typed: str) -> None:
    with pytest.raises(UsageError, match="is opened and never closed; put quotes around a whole name") as raised:
        words(typed)
    assert "No closing quotation" not in str(raised.value)


def test_rules_for_a_product_answer_the_direction_asked_and_say_the_other(refreshed: Refreshed) -> None:
    with Session(refreshed[0]) as session:
        [product] = find_products(session, "white hanging heart")
        assert product.sku.upper() == "85123A"
        message = render_rules(rules_view(session, product.sku))
    text = json.dumps(message.blocks)
    asked = text.index("What buyers of WHITE HANGING HEART T-LIGHT HOLDER also buy")
    other = text.index("The other direction: buyers of these also buy WHITE HANGING HEART T-LIGHT HOLDER")
    assert asked < other
    assert "no rule from it reaches the cut-offs (confidence 30%" in text and "weaker than the cut-offs" in text
    assert text.count("(weaker)") >= 3
    assert "Customers who buy WHITE HANGING HEART T-LIGHT HOLDER also buy" in text


def test_words_many_products_share_offer_the_candidates(refreshed: Refreshed) -> None:
    with Session(refreshed[0]) as session:
        found = find_products(session, "heart")
        assert 2 <= len(found) <= 5
        assert len({p.description for p in found}) == len(found)  # one per description (85123A and 85123a)
        message = product_candidates("heart", found)
    assert message.text.startswith(f"{len(found)} products match 'heart'")
    buttons = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [b["value"] for b in buttons] == [p.sku for p in found]
    assert all(b["action_id"].startswith("crm.rules.") for b in buttons)
