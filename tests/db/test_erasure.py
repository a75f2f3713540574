"""Data subject requests on a real store (SQLite and PostgreSQL): export everything, erase for good.

The store is the bundled sample, refreshed, with one customer given contact details, an owner,
alerts and audit entries; the oracle for "nothing left" scans every text and JSON column of
every table for the customer's id, name and e-mail.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import JSON, Engine, String, Text, func, select
from sqlalchemy.orm import Session

from assistant.jobs.refresh.inputs import RefreshParams
from assistant.jobs.refresh.run import run_refresh
from db import access, erased, erasure
from db.access_models import ErasedCustomer
from db.digest_models import AlertDelivery, AlertRule
from db.importers import ImportOptions, import_file
from db.models import Customer, Order, OrderLine
from db.sample import ONLINE_RETAIL_SAMPLE
from db.schema import metadata
from db.snapshot_models import AnalyticsRun

SUBJECT, NAME, EMAIL, OWNER = "12748", "Vera Erasmus", "vera.erasmus@example.org", "U0REPONE1"
PHONE = "+44 161 496 0123"
NOW = datetime(2026, 11, 24, 9, 0)
# Columns whose values are not about people: invoice numbers and product codes may contain the digits.
NOT_PERSONAL = {("orders", "external_id"), ("orders", "status"), ("products", "sku"), ("products", "description"),
                ("import_runs", "source_name"), ("import_runs", "source_sha256"), ("import_runs", "reject_file"),
                ("alembic_version", "version_num"), ("store_keys", "value"), ("erased_customers", "id_hash")}


def _write_customers(path: Path, external_id: str = SUBJECT) -> Path:
    path.write_text("customer_id,name,email,phone,owner\n"
                    f"{external_id},{NAME},{EMAIL},{PHONE},{OWNER}\n"
                    "12347,Arne Example,arne@example.com,,\n", encoding="utf-8")
    return path


def _write_bad_orders(path: Path) -> Path:
    """Two rows the importer rejects (a bad price): one of the subject's, one of someone else's."""
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                     "999001,22728,ALARM CLOCK,1,2011-12-01 08:45:00,abc,12748.0,United Kingdom\n"
                     "999002,22728,ALARM CLOCK,1,2011-12-01 08:45:00,abc,12347,Iceland\n")
    return path


@pytest.fixture
def prepared(engine: Engine, tmp_path: Path) -> tuple[Engine, Path]:
    """The sample, the subject's contact details, a refresh, alerts and audit entries about them."""
    rejects = tmp_path / "rejects"
    options = ImportOptions(reject_dir=rejects)
    import_file(engine, "online-retail", ONLINE_RETAIL_SAMPLE, options)
    import_file(engine, "customers", _write_customers(tmp_path / "customers.csv"), options)
    assert import_file(engine, "online-retail", _write_bad_orders(tmp_path / "bad.csv.gz"), options).rejected_total == 2
    run_refresh(engine, RefreshParams())
    with Session(engine) as session:
        run_id = session.scalar(select(func.max(AnalyticsRun.id)))
        order = session.scalar(select(Order.external_id).join(Customer).where(Customer.external_id == SUBJECT)
                               .order_by(Order.id).limit(1))
        rule = AlertRule(kind="churn_risk", threshold=0.5, target="owner", created_by="U0ADMIN99", created_at=NOW)
        session.add(rule)
        session.flush()
        for n, subject in enumerate((f"churn:run{run_id}:{SUBJECT}", f"order:{order}", f"churn:run{run_id}:12347")):
            session.add(AlertDelivery(rule_id=rule.id, subject=subject, target=OWNER, status="posted",
                                      text=f"about {subject}", created_at=NOW, message_ts=f"1700000000.000{n + 1}00"))
        access.record(session, at=NOW, user_id=OWNER, channel_id="D0REPONE1", action="disclosure", what="card",
                      customer_ref=SUBJECT, detail={"fields": ["email"], "level": "full"})
        access.record(session, at=NOW, user_id="crm-bot", channel_id=OWNER, action="alert",
                      what=f"churn:run{run_id}:{SUBJECT}", customer_ref=SUBJECT)
        access.record(session, at=NOW, user_id=OWNER, channel_id="D0REPONE1", action="disclosure", what="card",
                      customer_ref="12347")
        session.commit()
    return engine, rejects


def _texts_mentioning(session: Session, needles: tuple[str, ...]) -> list[str]:
    """``table.column`` of every personal text or JSON value holding any of the needles."""
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if (table.name, column.name) in NOT_PERSONAL or not isinstance(column.type, String | Text | JSON):
                continue
            for value in session.execute(select(column).where(column.is_not(None))).scalars():
                text = json.dumps(value) if isinstance(column.type, JSON) else str(value)
                if any(n in text for n in needles):
                    found.append(f"{table.name}.{column.name}: {text[:80]}")
    return found


def _totals(session: Session) -> tuple[int, int, int]:
    revenue = session.scalar(select(func.sum(OrderLine.quantity * OrderLine.unit_price_micros)))
    return int(revenue), session.scalar(select(func.count(Order.id))), session.scalar(select(func.count(OrderLine.id)))


def test_export_holds_everything_about_the_customer(prepared: tuple[Engine, Path]) -> None:
    engine, _ = prepared
    raw = _sample_rows(SUBJECT)
    with Session(engine) as session:
        held = erasure.export_customer(session, SUBJECT, NOW)
    json.dumps(held)  # JSON-ready as it is
    assert held["customer"] | {"source": None} == {
        "id": SUBJECT, "name": NAME, "email": EMAIL, "phone": PHONE, "country": "United Kingdom",
        "country_code": "GB", "created_at": None, "owner": OWNER, "attributes": {}, "source": None}
    assert len(held["orders"]) == len({r["InvoiceNo"] for r in raw})
    assert sum(len(o["lines"]) for o in held["orders"]) == len(raw)
    assert sum(float(line["unit_price"]) * line["quantity"] for o in held["orders"] for line in o["lines"]) \
        == pytest.approx(sum(float(r["UnitPrice"]) * int(r["Quantity"]) for r in raw))
    assert held["segments"][0]["segment"] and held["lifetime_value"] and held["predictions"][0]["explanation"]
    assert held["recommendations"]
    assert sorted(a["text"] for a in held["alerts"]) == sorted(
        f"about {s}" for s in (f"churn:run{held['segments'][0]['run']}:{SUBJECT}",
                               f"order:{held['orders'][0]['order']}"))
    assert [(s["user"], s["action"]) for s in held["seen_by"]] == [(OWNER, "disclosure"), ("crm-bot", "alert")]


def _sample_rows(external_id: str) -> list[dict[str, str]]:
    import csv

    with gzip.open(ONLINE_RETAIL_SAMPLE, "rt", encoding="utf-8") as handle:
        return [r for r in csv.DictReader(handle) if r["CustomerID"].removesuffix(".0") == external_id]


def test_erase_removes_the_person_and_everything_derived_keeping_the_figures(prepared: tuple[Engine, Path],
                                                                             tmp_path: Path) -> None:
    engine, rejects = prepared
    with Session(engine) as session:
        before = _totals(session)
        customers = session.scalar(select(func.count(Customer.id)))
        assert _texts_mentioning(session, (SUBJECT, EMAIL, NAME))  # the oracle sees them before
        done = erasure.erase_customer(session, SUBJECT, "cli", NOW)
    assert done.removed["customer"] == 1 and done.removed["alerts"] == 2
    assert sorted(done.slack_messages) == [(OWNER, "1700000000.000100"), (OWNER, "1700000000.000200")]
    assert done.removed["segment_scores"] >= 1 and done.removed["predictions"] >= 1
    assert done.removed["recommendations"] >= 1 and done.removed["lifetime_values"] >= 1
    assert done.removed["audit_entries_pseudonymised"] == 2
    with Session(engine) as session:
        assert _texts_mentioning(session, (SUBJECT, EMAIL, NAME, PHONE)) == []
        assert _totals(session) == before  # revenue, orders and lines unchanged: the orders are guest orders now
        assert session.scalar(select(func.count(Customer.id))) == customers - 1
        assert session.scalar(select(func.count(AlertDelivery.id))) == 1  # the other customer's alert stays
        # Who saw their data stays on record, under the pseudonym, and is found by the id.
        entries = access.audit(session, customer_ref=SUBJECT)
        assert {e.action for e in entries} == {"disclosure", "alert", "erasure"}
        assert {e.customer_ref for e in entries} == {done.pseudonym}
        assert all(SUBJECT not in e.what for e in entries)
        assert session.scalar(select(func.count(ErasedCustomer.id_hash))) == 1
        assert [e.customer_ref for e in access.audit(session, customer_ref="12347")] == ["12347"]
        with pytest.raises(erasure.AlreadyErased):
            erasure.erase_customer(session, SUBJECT, "cli", NOW)
        with pytest.raises(erasure.AlreadyErased):
            erasure.export_customer(session, SUBJECT, NOW)
        with pytest.raises(erasure.CustomerNotFound):
            erasure.erase_customer(session, "no-such-customer", "cli", NOW)
        # The reject file on this machine loses the subject's row, keeps the other one.
        assert erasure.scrub_reject_files(erasure.reject_files(session), SUBJECT) == (1, [])
    reject_text = "".join(p.read_text(encoding="utf-8") for p in rejects.glob("*.csv"))
    assert "999002" in reject_text and "999001" not in reject_text

    # Importing the same exports again does not bring the person back.
    options = ImportOptions(reject_dir=tmp_path / "again", force=True)
    orders = import_file(engine, "online-retail", ONLINE_RETAIL_SAMPLE, options)
    assert orders.notes["erased_customer_lines"] == len(_sample_rows(SUBJECT)) and orders.new_customers == 0
    people = import_file(engine, "customers", _write_customers(tmp_path / "customers.csv"), options)
    assert people.rejected == {"erased_customer": 1} and people.is_balanced()
    assert SUBJECT not in people.reject_file.read_text(encoding="utf-8")
    assert NAME not in people.reject_file.read_text(encoding="utf-8")
    run_refresh(engine, RefreshParams())  # analytics run on without them
    with Session(engine) as session:
        assert session.scalar(select(Customer).where(Customer.external_id == SUBJECT)) is None
        assert _texts_mentioning(session, (SUBJECT, EMAIL, NAME, PHONE)) == []
        assert _totals(session) == before


def test_the_erasure_key_is_created_once_and_hashes_are_keyed(engine: Engine) -> None:
    with Session(engine) as session:
        assert erased.store_key(session) is None  # nothing erased yet: no key, no list
        key = erased.ensure_store_key(session, NOW)
        session.commit()
        assert erased.ensure_store_key(session, NOW) == key == erased.store_key(session) and len(key) == 32
    assert erased.id_hash(key, SUBJECT) != erased.id_hash(b"another store" * 3, SUBJECT)
    assert erased.pseudonym(erased.id_hash(key, SUBJECT)).startswith("erased:")
