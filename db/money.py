"""Exact money: amounts are stored as integer *micros* (millionths of the currency unit).

SQLite has no exact decimal type (its NUMERIC columns hold floats), so integers are the only
representation whose ``SUM()`` is exact on both SQLite and PostgreSQL.  Micros cover every
price seen in real exports and leave room for totals far beyond any shop's turnover.
Queries convert back with ``from_micros``; analytics receive floats only at the very end.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

MICROS_PER_UNIT = 1_000_000
_QUANTUM = Decimal("0.000001")


def to_micros(amount: Decimal | str | int) -> int:
    """Integer micros for an amount, rounded half-even at the sixth decimal place."""
    value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    return int(value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN) * MICROS_PER_UNIT)


def from_micros(micros: int | None) -> Decimal:
    """The exact Decimal amount for integer micros (``None`` counts as zero)."""
    return (Decimal(int(micros or 0)) / MICROS_PER_UNIT).quantize(_QUANTUM)
