"""Numbers in words: plurals, changes, days, money in the store's currency."""

from __future__ import annotations

from datetime import datetime

import pytest

from analytics import words


@pytest.mark.parametrize(("n", "said"), [(0, "0 orders"), (1, "1 order"), (1.2, "1 order"), (2, "2 orders"),
                                         (1204, "1,204 orders")])
def test_counts_take_the_right_plural(n: float, said: str) -> None:
    assert words.count(n, "order") == said


@pytest.mark.parametrize(("change", "said"), [(None, "n/a"), (-0.003, "no change"), (0.004, "no change"),
                                              (0.12, "+12%"), (-0.051, "-5%")])
def test_a_change_that_rounds_to_zero_is_no_change_never_minus_zero(change: float | None, said: str) -> None:
    assert words.change(change) == said


@pytest.mark.parametrize(("amount", "currency", "decimals", "said"), [
    (4061.2, "GBP", 0, "£4,061"), (-12.5, "EUR", 2, "-€12.50"), (900, "CHF", 0, "CHF 900"), (5, "USD", 2, "$5.00"),
    (-0.001, "GBP", 0, "£0"), (1234.5, None, 0, "1,234"), (1234.5, "jpy", 0, "¥1,234")])
def test_money_carries_its_currency(amount: float, currency: str | None, decimals: int, said: str) -> None:
    assert words.money(amount, currency, decimals) == said


def test_days_and_the_age_of_the_data() -> None:
    assert [words.days_ago(d) for d in (0, 0.4, 1, 5)] == ["today", "today", "yesterday", "5 days ago"]
    said = words.data_age(datetime(2011, 12, 9, 12, 50), datetime(2026, 12, 2), demo_sample=True)
    assert said == ("latest order 2011-12-09, 5,471 days ago (the bundled demo sample: historical data, "
                    "2010-12 to 2011-12)")
    assert words.is_currency("eur") and not words.is_currency("XYZ")
