"""A store with orders in two currencies analyses one of them and says what it keeps apart.

The bundled sample is in pounds; a generic orders file adds orders in euros for a customer of the
sample and for a new one.  Adding them must change no figure the analytics compute, every answer
about money must say they are left out, and ``CRM_CURRENCY`` must be able to choose the euros.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from assistant.jobs.refresh.inputs import RefreshParams
from assistant.jobs.refresh.run import run_refresh
from assistant.views.metrics import MetricQuestion, answer
from db import currencies, snapshots, stats
from db.importers import ImportOptions, import_file
from db.models import Customer, Order
from db.sample import ONLINE_RETAIL_SAMPLE
from db.semantic import measure
from db.snapshot_models import CustomerScore

EURO_ORDERS = [  # order, customer, date, sku, quantity, unit price
    ("EU-1", "12748", "2011-06-01 10:00", "85123A", 40, "2.95"),
    ("EU-2", "12748", "2011-07-01 10:00", "22423", 5, "12.75"),
    ("EU-3", "99001", "2011-08-01 10:00", "85123A", 100, "2.95"),
    ("EU-4", "99001", "2011-09-01 10:00", "22423", 10, "12.75"),
]


def _euro_file(folder: Path) -> Path:
    path = folder / "euro_orders.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "customer_id", "date", "sku", "quantity", "unit_price", "country", "currency"])
        out.writerows([*row, "Germany", "EUR"] for row in EURO_ORDERS)
    return path


def _scores(engine: Engine, run_id: int) -> dict[int, tuple[int, int, int, str]]:
    with Session(engine) as session:
        rows = session.execute(select(CustomerScore.customer_id, CustomerScore.recency_days, CustomerScore.frequency,
                                      CustomerScore.monetary_micros, CustomerScore.segment)
                               .where(CustomerScore.run_id == run_id)).all()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


@pytest.fixture
def pounds(engine: Engine, tmp_path: Path) -> Engine:
    import_file(engine, "online-retail", ONLINE_RETAIL_SAMPLE, ImportOptions(reject_dir=tmp_path))
    return engine


def test_orders_in_another_currency_change_no_figure_and_are_said(pounds: Engine, tmp_path: Path) -> None:
    before = run_refresh(pounds)
    with Session(pounds) as session:
        sales_before = stats.store_summary(session).sales_value
        revenue_before = measure(session, "net_revenue", None, None).total
    import_file(pounds, "orders", _euro_file(tmp_path), ImportOptions(reject_dir=tmp_path))
    with Session(pounds) as session:
        assert currencies.order_currencies(session)["EUR"] == 4
        assert currencies.kept_apart(session) == {"EUR": 4}
        assert stats.store_summary(session).sales_value == sales_before
        assert measure(session, "net_revenue", None, None).total == revenue_before
        said = answer(session, MetricQuestion("net_revenue"))
        assert said.currency == "GBP"
        assert "Figures count the GBP orders only: 4 orders in EUR are kept apart" in said.note
        mixed = str(currencies.mixed_currencies(session))
        assert "4 orders in EUR are kept apart (amounts are never converted)" in mixed
        newcomer = session.scalar(select(Customer.id).where(Customer.external_id == "99001"))
    after = run_refresh(pounds)
    assert after.results["currency"] == "GBP" and after.results["kept_apart"] == {"EUR": 4}
    scores = _scores(pounds, after.run_id)
    assert newcomer not in scores  # bought in euros only: nothing to analyse in pounds
    assert scores == _scores(pounds, before.run_id)  # 12748's euro orders left its figures as they were


def test_crm_currency_chooses_the_currency_and_imports_keep_the_choice(pounds: Engine, tmp_path: Path) -> None:
    import_file(pounds, "orders", _euro_file(tmp_path), ImportOptions(reject_dir=tmp_path))
    with pounds.begin() as connection:
        assert currencies.mark_main_currency(connection, "EUR") == "EUR"
    with Session(pounds) as session:
        kept = currencies.kept_apart(session)
        gbp_orders = currencies.order_currencies(session)["GBP"]
        assert kept == {"GBP": gbp_orders}
        assert measure(session, "orders", None, None).total == 4
    # A refresh with CRM_CURRENCY=EUR records the setting, and the next import keeps it rather than
    # flip back to the currency most orders are in.
    summary = run_refresh(pounds, RefreshParams(currency="EUR"))
    assert summary.results["currency"] == "EUR" and summary.results["currency_setting"] == "EUR"
    more = tmp_path / "more"
    more.mkdir()
    path = _euro_file(more)
    path.write_text(path.read_text(encoding="utf-8").replace("EU-", "EV-"), encoding="utf-8")
    import_file(pounds, "orders", path, ImportOptions(reject_dir=more))
    with Session(pounds) as session:
        assert currencies.main_currency(session) == "EUR"
        assert currencies.kept_apart(session) == {"GBP": gbp_orders}
        assert snapshots.store_currency(session) == "EUR"
    # An unset preference (or one no order is in) goes back to the currency of most orders.
    with pounds.begin() as connection:
        assert currencies.mark_main_currency(connection, "USD") == "EUR"  # the latest refresh's setting
    with Session(pounds) as session:
        assert currencies.main_currency(session, "GBP") == "GBP"
        assert session.scalar(select(Order.in_main_currency).where(Order.external_id == "EV-1")) is True


def test_a_customer_card_lists_each_order_in_its_own_currency(pounds: Engine, tmp_path: Path) -> None:
    from assistant.render.customer import orders_page
    from db.orders import orders_of_customer

    import_file(pounds, "orders", _euro_file(tmp_path), ImportOptions(reject_dir=tmp_path))
    with Session(pounds) as session:
        customer = session.scalar(select(Customer).where(Customer.external_id == "12748"))
        assert customer is not None
        frame = orders_of_customer(session, customer.id, limit=200)
    euro = frame[frame["order_ref"] == "EU-2"].iloc[0]
    assert euro["currency"] == "EUR" and euro["value"] == pytest.approx(63.75)
    assert frame[frame["currency"] == "GBP"].shape[0] > 100
    rendered = orders_page(customer, frame[frame["order_ref"].isin(["EU-2"])], 0, False, "GBP")
    assert "€63.75" in str(rendered.blocks) and "£" not in str(rendered.blocks)


def test_the_command_line_refuses_a_currency_the_store_does_not_hold_and_says_what_is_kept_apart(
        pounds: Engine, tmp_path: Path) -> None:
    from tests.assistant.cli.test_cli import crm_bot_here

    import_file(pounds, "orders", _euro_file(tmp_path), ImportOptions(reject_dir=tmp_path))
    env = {"DATABASE_URL": pounds.url.render_as_string(hide_password=False)}
    unheld = crm_bot_here("refresh", "--currency", "jpy", cwd=tmp_path, env=env)
    assert unheld.returncode != 0
    assert "--currency JPY: the store holds no orders in JPY; its orders are in GBP (" in unheld.stderr
    assert "EUR (4 orders)" in unheld.stderr and "Traceback" not in unheld.stderr
    not_a_code = crm_bot_here("refresh", "--currency", "pounds", cwd=tmp_path, env=env)
    assert not_a_code.returncode != 0 and "is not an ISO 4217 currency code" in not_a_code.stderr
    summary = crm_bot_here("stats", cwd=tmp_path, env=env)
    assert "4 orders in EUR are kept apart" in summary.stderr
    doctor = crm_bot_here("doctor", cwd=tmp_path, env={**env, "CRM_CURRENCY": "USD"})
    assert "CRM_CURRENCY is USD, but no order is in USD: the analytics count the GBP orders" in doctor.stdout
    assert "4 orders in EUR are kept apart" in doctor.stdout
