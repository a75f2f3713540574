"""The sources file: secrets by reference only, every key checked, messages that say what to change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from assistant.ops.sources import SourcesFileError, load_sources


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(body, encoding="utf-8")
    return path


ORDERS = 'orders = "SELECT id AS order_id, placed AS ordered_at, sku, qty AS quantity, price AS unit_price FROM o"\n'


def test_a_url_by_environment_variable_or_file_and_the_defaults(tmp_path: Path) -> None:
    secret = tmp_path / "erp_url"
    secret.write_text("postgresql://sync:s3cret@erp.internal/erp\n", encoding="utf-8")
    path = write(tmp_path, '[sources.shop]\nurl = "env:SHOP_DATABASE_URL"\n' + ORDERS + 'watermark = "updated_at"\n'
                 'statuses = { "wc-completed" = "sale", "wc-refunded" = "return" }\n\n'
                 f'[sources.erp]\nurl = "file:{secret}"\n' + ORDERS.replace("orders", "customers", 1)
                 + "overlap_minutes = 30\ntimeout_seconds = 60\ncurrency = \"eur\"\n")
    shop, erp = load_sources(path, {"SHOP_DATABASE_URL": "postgresql://sync:pw@shop.internal:5432/shop"})
    assert shop.url.host == "shop.internal" and shop.reference == "env:SHOP_DATABASE_URL"
    assert [q.part for q in shop.queries] == ["orders"] and shop.queries[0].watermark == "updated_at"
    assert shop.options.statuses == {"wc-completed": "sale", "wc-refunded": "return"}
    assert shop.options.overlap == timedelta(minutes=10) and shop.options.timeout_seconds == 300
    assert erp.url.password == "s3cret" and erp.reference.startswith("file:")
    assert "s3cret" not in repr(erp.reference)
    assert erp.options.overlap == timedelta(minutes=30) and erp.options.currency == "EUR"
    assert [q.part for q in erp.queries] == ["customers"] and erp.queries[0].watermark is None


def test_one_query_may_go_without_the_sources_watermark(tmp_path: Path) -> None:
    path = write(tmp_path, '[sources.shop]\nurl = "sqlite:///shop.db"\n' + ORDERS
                 + ORDERS.replace("orders", "customers", 1) + 'watermark = "updated_at"\ncustomers_watermark = ""\n')
    [shop] = load_sources(path, {})
    assert {q.part: q.watermark for q in shop.queries} == {"customers": None, "orders": "updated_at"}


@pytest.mark.parametrize(("body", "message"), [
    ('[sources.shop]\nurl = "postgresql://sync:hunter2@shop/shop"\n' + ORDERS,
     'sources.shop.url holds a password.*url = "env:SHOP_DATABASE_URL"'),
    ('[sources.shop]\nurl = "env:X"\npassword = "hunter2"\n' + ORDERS, "secrets are not written in the sources file"),
    ('[sources.shop]\nurl = "env:NOT_SET_ANYWHERE"\n' + ORDERS, "NOT_SET_ANYWHERE .* is not set"),
    ('[sources.shop]\nurl = "file:/no/such/secret"\n' + ORDERS, "url file /no/such/secret cannot be read"),
    ('[sources.shop]\nurl = "sqlite:///shop.db"\n', "neither a customers nor an orders query"),
    ('[sources.shop]\nurl = "sqlite:///shop.db"\n' + ORDERS + 'statuses = { paid = "sold" }\n',
     "map it to one of sale, cancellation, return, adjustment"),
    ('[sources.shop]\nurl = "sqlite:///shop.db"\n' + ORDERS + 'watremark = "updated_at"\n',
     "sources.shop.watremark: Extra inputs are not permitted"),
    ('[sources.shop]\nurl = "sqlite:///shop.db"\n' + ORDERS + 'watermark = "updated at; drop"\n',
     "is not a column name"),
    ('[sources.shop]\nurl = "sqlite:///shop.db"\n' + ORDERS + "timeout_seconds = 0\n", "timeout_seconds"),
    ("[sources.shop\nurl = 1\n", "is not valid TOML"),
    ("", "names no source"),
])
def test_bad_sources_files_say_what_to_change(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SourcesFileError, match=message):
        load_sources(write(tmp_path, body), {"X": "sqlite:///x.db"})


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourcesFileError, match="no such file"):
        load_sources(tmp_path / "absent.toml", {})
