"""Vectorised parsing and normalisation of CSV string columns.

Each parser takes a Series of stripped strings and returns the parsed values with a
missing value (``NaN``/``NaT``/``None``) wherever the text could not be read, so the caller
can reject exactly those rows with a reason.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

import numpy as np
import pandas as pd
import pycountry
from email_validator import EmailNotValidError, validate_email

from db.money import to_micros

MAX_QUANTITY = 2_000_000_000
MAX_PRICE_MICROS = 10**15  # a billion per unit: anything above is a typo, not a price

_CURRENCY_PREFIX = r"^[£$€¥]\s*"

# Spellings found in real exports that ISO 3166 does not know, or that mean "no country".
COUNTRY_ALIASES: dict[str, tuple[str | None, str | None]] = {
    "eire": ("Ireland", "IE"),
    "rsa": ("South Africa", "ZA"),
    "usa": ("United States", "US"),
    "us": ("United States", "US"),
    "uk": ("United Kingdom", "GB"),
    "great britain": ("United Kingdom", "GB"),
    "england": ("United Kingdom", "GB"),
    "scotland": ("United Kingdom", "GB"),
    "wales": ("United Kingdom", "GB"),
    "channel islands": ("Channel Islands", None),
    "european community": ("European Community", None),
    "unspecified": (None, None),
    "unknown": (None, None),
    "n/a": (None, None),
}


def parse_integer(values: pd.Series) -> pd.Series:
    """Whole numbers (``"6"``, ``"6.0"``, ``"-12"``); anything else, or out of range, is NaN."""
    numbers = pd.to_numeric(values, errors="coerce")
    whole = numbers.notna() & (numbers % 1 == 0) & (numbers.abs() <= MAX_QUANTITY)
    return numbers.where(whole)


PRICE_SYMBOLS = {"£": "GBP", "€": "EUR", "¥": "JPY"}
"""Symbols that name one currency; ``$`` is left out (US, Canadian, Australian... dollars)."""


def price_currency(values: pd.Series) -> str | None:
    """The currency the prices' symbols name (``£3.50`` -> GBP), if they name exactly one."""
    found = {code for symbol, code in PRICE_SYMBOLS.items() if values.str.startswith(symbol).any()}
    return found.pop() if len(found) == 1 else None


def parse_price_micros(values: pd.Series) -> pd.Series:
    """Exact prices as integer micros; unreadable values are NaN.

    Fast path: a plain decimal with at most six decimals and magnitude under 10^9 is read as
    a float and rounded to micros, which is exact (the float error is far below half a
    micro).  Anything else (exponents, more decimals) goes through ``Decimal``.  A leading
    currency symbol is dropped.  Thousands separators are not guessed at (``1,234`` could be
    1.234 in a European export), so such values are rejected.
    """
    text = values
    if text.str.startswith(("£", "$", "€", "¥")).any():
        text = text.str.replace(_CURRENCY_PREFIX, "", regex=True)
    numbers = pd.to_numeric(text, errors="coerce")
    dot = text.str.find(".")
    decimals = np.where(dot >= 0, text.str.len() - dot - 1, 0)
    plain = numbers.notna() & (decimals <= 6) & (numbers.abs() < 1e9) & ~text.str.contains("e", case=False,
                                                                                               regex=False)
    result = pd.Series(np.nan, index=values.index, dtype="float64")
    result[plain] = np.rint(numbers[plain] * 1_000_000)
    for index in values.index[~plain & (text != "")]:
        result[index] = _slow_price(text[index])
    return result.where(result.abs() <= MAX_PRICE_MICROS)


def _slow_price(text: str) -> float:
    """Prices the fast path does not cover: exponents, more than six decimals."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return np.nan
    if not value.is_finite():
        return np.nan
    return float(to_micros(value))


_TIME_WITH_OFFSET = r"^(.*\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(?:Z|[+-]\d\d:?\d\d)$"
"""A time followed by its UTC offset (``2024-03-10 14:22:05 -0400``, Shopify's; ``...T14:22:05Z``)."""


def parse_datetime(values: pd.Series, date_format: str | None) -> pd.Series:
    """Timestamps in ISO 8601 (default) or the strftime ``date_format`` given; NaT if unreadable.

    A UTC offset after the time is dropped, keeping the wall time as written: exports give times in
    the shop's own zone, whose offset changes with daylight saving within one file.
    """
    fmt = date_format or "ISO8601"
    if date_format is None and values.str.contains(r"\d:\d\d.*(?:Z|[+-]\d\d:?\d\d)$", regex=True).any():
        values = values.str.replace(_TIME_WITH_OFFSET, r"\1", regex=True)
    parsed = pd.to_datetime(values.where(values != ""), format=fmt, errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        # The store holds local business time without a zone (see docs/data-model.md).
        parsed = parsed.dt.tz_localize(None)
    return parsed


SPREADSHEET_FLOAT_ID = r"^(\d+)\.0+$"
"""An integer id a spreadsheet wrote as a float (``17850.0``)."""


def normalise_identifier(values: pd.Series) -> pd.Series:
    """Ids as text; ``"17850.0"`` (a spreadsheet's float) becomes ``"17850"``; empty -> None."""
    cleaned = values
    floaty = values.str.endswith(".0")
    if floaty.any():
        cleaned = values.copy()
        cleaned[floaty] = values[floaty].str.replace(SPREADSHEET_FLOAT_ID, r"\1", regex=True)
    cleaned = cleaned.astype(object)
    return cleaned.where(cleaned != "", None)


@lru_cache(maxsize=4096)
def normalise_country(raw: str) -> tuple[str | None, str | None]:
    """Canonical English name and ISO 3166-1 alpha-2 code for a country as written in an export.

    Unknown names are kept as written (title case) without a code, so nothing is lost.
    """
    text = raw.strip()
    if not text:
        return None, None
    key = text.lower()
    if key in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[key]
    try:
        country = pycountry.countries.lookup(text)
    except LookupError:
        return text, None
    name = getattr(country, "common_name", None) or country.name
    return name, country.alpha_2


def normalise_email(raw: str) -> str | None:
    """A syntactically valid address in lower case; raises ``ValueError`` for a bad one."""
    text = raw.strip()
    if not text:
        return None
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return checked.normalized.lower()
