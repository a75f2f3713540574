"""Parsers of CSV text: exact money, whole quantities, ids, countries and e-mails."""

from __future__ import annotations

import pandas as pd
import pytest

from db.importers.rules import product_kind
from db.money import from_micros, to_micros
from db.normalise import (
    normalise_country,
    normalise_email,
    normalise_identifier,
    parse_datetime,
    parse_integer,
    parse_price_micros,
)


def test_prices_are_exact_micros() -> None:
    values = pd.Series(["2.55", "0.001", "-11062.06", "38970", "£3.39", "$ 4.5", "1e-3", "0.1234567", "", "abc",
                        "1,234.00", "nan", "inf", "12345678901.5"])
    parsed = parse_price_micros(values)
    assert parsed.iloc[:8].astype("int64").tolist() == [2_550_000, 1_000, -11_062_060_000, 38_970_000_000,
                                                        3_390_000, 4_500_000, 1_000, 123_457]
    assert parsed.iloc[8:13].isna().all()
    assert pd.isna(parsed.iloc[13])  # over a billion per unit: a typo, not a price


def test_money_round_trip_is_exact() -> None:
    assert from_micros(to_micros("9747747.934")).normalize() == from_micros(9_747_747_934_000).normalize()
    assert str(from_micros(1)) == "0.000001"


def test_quantities_must_be_whole() -> None:
    parsed = parse_integer(pd.Series(["6", "6.0", "-12", "2.5", "x", "", "99999999999"]))
    assert parsed.iloc[:3].tolist() == [6, 6, -12]
    assert parsed.iloc[3:].isna().all()


def test_spreadsheet_float_ids_become_integers() -> None:
    assert normalise_identifier(pd.Series(["17850.0", "C536379", "", "12.5"])).tolist() == [
        "17850", "C536379", None, "12.5"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("United Kingdom", ("United Kingdom", "GB")),
    ("EIRE", ("Ireland", "IE")),
    ("USA", ("United States", "US")),
    ("RSA", ("South Africa", "ZA")),
    ("germany", ("Germany", "DE")),
    ("DE", ("Germany", "DE")),
    ("Channel Islands", ("Channel Islands", None)),
    ("Unspecified", (None, None)),
    ("Atlantis", ("Atlantis", None)),
    ("", (None, None)),
])
def test_countries(raw: str, expected: tuple[str | None, str | None]) -> None:
    assert normalise_country(raw) == expected


def test_emails() -> None:
    assert normalise_email("  Ada@Example.COM ") == "ada@example.com"
    assert normalise_email("") is None
    with pytest.raises(ValueError, match="@"):
        normalise_email("not-an-email")


def test_dates_iso_and_explicit_format() -> None:
    parsed = parse_datetime(pd.Series(["2011-12-09 12:50:00", "2011-12-09T12:50", "12/9/2011", ""]), None)
    assert parsed.iloc[0] == pd.Timestamp("2011-12-09 12:50")
    assert parsed.iloc[1] == pd.Timestamp("2011-12-09 12:50")
    assert parsed.iloc[2:].isna().all()
    us = parse_datetime(pd.Series(["12/9/2011 8:26"]), "%m/%d/%Y %H:%M")
    assert us.iloc[0] == pd.Timestamp("2011-12-09 08:26")


@pytest.mark.parametrize(("sku", "kind"), [
    ("85123A", "product"), ("POST", "postage"), ("DOT", "postage"), ("M", "manual"), ("m", "manual"),
    ("D", "discount"), ("BANK CHARGES", "fee"), ("AMAZONFEE", "fee"), ("gift_0001_20", "voucher"),
    ("B", "adjustment"), ("DCGSSBOY", "product"),
])
def test_non_product_codes(sku: str, kind: str) -> None:
    assert product_kind(sku) == kind
