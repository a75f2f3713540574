"""Numbers in words, the same everywhere: counts with the right plural, changes, money, days ago.

Every sentence the product writes (explanations stored by the refresh, cards, digests, alerts)
formats its numbers here, so "1 orders", "-0%" or a bare amount cannot creep back in one place.
"""

from __future__ import annotations

from datetime import datetime

from babel.numbers import get_currency_symbol, list_currencies


def count(n: float, singular: str, plural: str | None = None) -> str:
    """``1 order``, ``3 orders``, ``1,204 lines`` (``n`` rounded to a whole number first)."""
    whole = round(n)
    return f"{whole:,} {singular if whole == 1 else plural or singular + 's'}"


def change(fraction: float | None) -> str:
    """A relative change as a signed percentage: ``+12%``, ``-3%``; ``no change`` where it rounds
    to 0 (never ``-0%``); ``n/a`` when there is nothing to compare with."""
    if fraction is None:
        return "n/a"
    if round(fraction * 100) == 0:
        return "no change"
    return f"{fraction:+.0%}"


def days_ago(days: float) -> str:
    """``today``, ``yesterday``, ``5 days ago``."""
    whole = round(days)
    if whole <= 0:
        return "today"
    return "yesterday" if whole == 1 else f"{whole:,} days ago"


def is_currency(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 currency code (``GBP``, ``EUR``)."""
    return code.upper() in list_currencies()


def money(amount: float, currency: str | None = None, decimals: int = 0) -> str:
    """An amount with its currency: ``£4,061``, ``-€12.50``, ``CHF 900``; the bare number when
    the store's currency is unknown (set ``CRM_CURRENCY``)."""
    number = f"{abs(amount):,.{decimals}f}"
    sign = "-" if amount < 0 and float(number.replace(",", "")) != 0 else ""
    if not currency:
        return sign + number
    symbol = get_currency_symbol(currency.upper(), locale="en")
    return f"{sign}{symbol}{' ' if symbol[-1:].isalpha() else ''}{number}"


STALE_DATA_DAYS = 14
"""Orders older than this (two weekly digests) make answers describe the past, and are said to."""


def data_age(latest: datetime, now: datetime, demo_sample: bool = False) -> str:
    """How old the newest order is, said the same way by ``crm-bot doctor`` and the digest:
    ``latest order 2011-12-09, 5,470 days ago (the demo sample: historical data)``."""
    text = f"latest order {latest:%Y-%m-%d}, {days_ago((now - latest).total_seconds() / 86400)}"
    return text + (" (the bundled demo sample: historical data, 2010-12 to 2011-12)" if demo_sample else "")
