"""Data subject requests: everything the store holds about one customer, and erasing them.

Erasure removes the person and what was derived about them, and keeps what the business's
figures need without them:

* the customer row (name, e-mail, phone, owner, attributes) is deleted;
* their scores, lifetimes, predictions (with explanations) and recommendations in every run,
  alerts that named them, notes and follow-ups about them and unsaved previews of writes about them are deleted;
* their orders stay as guest orders (no customer), so revenue and order counts do not change;
* segment, cluster and rule statistics of past runs are counts over many customers and stay;
* audit entries about them stay (who saw their data, when, where) with their id replaced by a
  pseudonym, an HMAC of the id under the store's own key;
* the same HMAC goes on the erased list, which every import consults, so an old export
  imported again does not bring the person back.

Slack messages already posted and files outside the store are not the store's to erase:
``scrub_reject_files`` cleans the import reject files that are on this machine.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db import access, erased, follow_ups
from db.access_models import AuditEntry, ErasedCustomer
from db.bulk import rows_affected
from db.digest_models import AlertDelivery, AlertRule
from db.models import Customer, ImportRun, Order, OrderLine, Product
from db.money import from_micros
from db.normalise import SPREADSHEET_FLOAT_ID
from db.rollup_models import CustomerSalesRollup, CustomerTotalRollup
from db.snapshot_models import (
    AnalyticsRun,
    CustomerLifetime,
    CustomerPrediction,
    CustomerScore,
    PredictionModel,
    Recommendation,
)
from db.work_models import CustomerNote, PendingWrite

_IN_LIST_SIZE = 1000


class CustomerNotFound(LookupError):
    """No customer with that id (erasure and export need the exact id)."""


class AlreadyErased(LookupError):
    """The customer was erased before; the store holds nothing about them."""

    def __init__(self, erased_at: datetime) -> None:
        super().__init__(f"erased on {erased_at:%Y-%m-%d %H:%M} UTC")
        self.erased_at = erased_at


def subject(session: Session, external_id: str) -> Customer:
    """The customer a request is about, by exact id; ``AlreadyErased`` or ``CustomerNotFound`` otherwise."""
    customer = session.scalar(select(Customer).where(Customer.external_id == external_id))
    if customer is not None:
        return customer
    when = erased.erased_at(session, external_id)
    if when is not None:
        raise AlreadyErased(when)
    raise CustomerNotFound(external_id)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(sep=" ") if value is not None else None


def _money(micros: int | None) -> str:
    return str(from_micros(micros))


def export_customer(session: Session, external_id: str, now: datetime) -> dict[str, Any]:
    """Everything held about the customer, JSON-ready (money as exact decimal strings)."""
    customer = subject(session, external_id)
    run_as_of = dict(session.execute(select(AnalyticsRun.id, AnalyticsRun.as_of)).all())
    imported = session.get(ImportRun, customer.import_run_id) if customer.import_run_id else None
    return {
        "exported_at": _iso(now),
        "customer": {
            "id": customer.external_id, "name": customer.name, "email": customer.email, "phone": customer.phone,
            "country": customer.country, "country_code": customer.country_code,
            "created_at": _iso(customer.created_at), "owner": customer.owner, "attributes": customer.attributes,
            "source": {"import_run": imported.id, "file": imported.source_name,
                       "imported_at": _iso(imported.started_at)} if imported else None,
        },
        "orders": _orders(session, customer.id),
        "segments": [
            {"run": s.run_id, "as_of": _iso(run_as_of.get(s.run_id)), "recency_days": s.recency_days,
             "orders": s.frequency, "value": _money(s.monetary_micros), "rfm": f"{s.r_score}{s.f_score}{s.m_score}",
             "segment": s.segment, "previous_segment": s.previous_segment, "cluster": s.cluster}
            for s in session.scalars(select(CustomerScore).where(CustomerScore.customer_id == customer.id)
                                     .order_by(CustomerScore.run_id))],
        "lifetime_value": [
            {"run": v.run_id, "as_of": _iso(run_as_of.get(v.run_id)), "chance_still_active": v.p_alive,
             "expected_purchases": v.expected_purchases, "expected_spend": _money(v.expected_spend_micros),
             "clv": _money(v.clv_micros), "clv_low": _money(v.clv_low_micros), "clv_high": _money(v.clv_high_micros),
             "days_to_next_purchase": v.days_to_next}
            for v in session.scalars(select(CustomerLifetime).where(CustomerLifetime.customer_id == customer.id)
                                     .order_by(CustomerLifetime.run_id))],
        "predictions": [
            {"model": m.target, "version": m.version, "trained_at": _iso(m.trained_at), "probability": p.probability,
             "explanation": p.explanation, "counterfactual": p.counterfactual, "factors": p.factors}
            for p, m in session.execute(
                select(CustomerPrediction, PredictionModel)
                .join(PredictionModel, PredictionModel.id == CustomerPrediction.model_id)
                .where(CustomerPrediction.customer_id == customer.id).order_by(PredictionModel.id))],
        "notes": [
            {"at": _iso(n.written_at), "author": n.author, "text": n.text}
            for n in session.scalars(select(CustomerNote).where(CustomerNote.customer_id == customer.id)
                                     .order_by(CustomerNote.written_at, CustomerNote.id))],
        "follow_ups": [
            {"created_at": _iso(f.created_at), "by": f.created_by, "owner": f.owner, "due": _iso(f.due_at),
             "timezone": f.timezone, "text": f.text, "state": f.state, "done_at": _iso(f.done_at),
             "reminder": f.reminder, "reminded_at": _iso(f.sent_at)}
            for f in follow_ups.of_customer(session, customer.id)],
        "recommendations": [
            {"run": r.run_id, "rank": r.rank, "product": r.sku, "reason": r.reason, "confidence": r.confidence}
            for r in session.scalars(select(Recommendation).where(Recommendation.customer_id == customer.id)
                                     .order_by(Recommendation.run_id, Recommendation.rank))],
        "alerts": [
            {"kind": kind, "sent_to": a.target, "status": a.status, "at": _iso(a.created_at), "text": a.text}
            for a, kind in session.execute(
                select(AlertDelivery, AlertRule.kind).join(AlertRule, AlertRule.id == AlertDelivery.rule_id)
                .where(AlertDelivery.id.in_(_alert_ids(session, customer)))
                .order_by(AlertDelivery.id))],
        "seen_by": [
            {"at": _iso(e.at), "user": e.user_id, "channel": e.channel_id, "action": e.action, "what": e.what,
             "fields": e.detail.get("fields"), "level": e.detail.get("level")}
            for e in session.scalars(select(AuditEntry).where(AuditEntry.customer_ref == customer.external_id)
                                     .order_by(AuditEntry.id))],
    }


def _orders(session: Session, customer_id: int) -> list[dict[str, Any]]:
    orders: dict[int, dict[str, Any]] = {}
    for order in session.scalars(select(Order).where(Order.customer_id == customer_id).order_by(Order.ordered_at)):
        orders[order.id] = {"order": order.external_id, "at": _iso(order.ordered_at), "kind": order.kind,
                            "status": order.status, "country": order.country, "lines": []}
    rows = session.execute(
        select(OrderLine.order_id, Product.sku, Product.description, OrderLine.quantity, OrderLine.unit_price_micros)
        .join(Product, Product.id == OrderLine.product_id).join(Order, Order.id == OrderLine.order_id)
        .where(Order.customer_id == customer_id).order_by(OrderLine.order_id, OrderLine.id))
    for order_id, sku, description, quantity, price in rows:
        orders[order_id]["lines"].append({"product": sku, "description": description, "quantity": quantity,
                                          "unit_price": _money(price)})
    return list(orders.values())


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _IN_LIST_SIZE):
        yield values[start:start + _IN_LIST_SIZE]


def _alert_ids(session: Session, customer: Customer) -> list[int]:
    """Alerts that named the customer: churn crossings (``churn:runN:ID``) and their orders."""
    ids = list(session.scalars(select(AlertDelivery.id).where(
        AlertDelivery.subject.startswith("churn:"),
        AlertDelivery.subject.endswith(":" + customer.external_id, autoescape=True))))
    order_refs = list(session.scalars(select(Order.external_id).where(Order.customer_id == customer.id)))
    for part in _chunks(["order:" + ref for ref in order_refs]):
        ids += session.scalars(select(AlertDelivery.id).where(AlertDelivery.subject.in_(part)))
    return ids


@dataclass
class Erasure:
    """What an erasure did, row counts by kind."""

    pseudonym: str
    removed: dict[str, int] = field(default_factory=dict)
    slack_messages: list[tuple[str, str]] = field(default_factory=list)
    """(channel or user, ts) of alerts posted in Slack that named them: Slack's to delete, not the store's."""


def erase_customer(session: Session, external_id: str, by: str, now: datetime) -> Erasure:
    """Erase the customer (see the module docstring), in one transaction; audited."""
    customer = subject(session, external_id)
    key = erased.ensure_store_key(session, now)
    hashed = erased.id_hash(key, customer.external_id)
    alias = erased.pseudonym(hashed)
    removed: dict[str, int] = {}

    def count(name: str, result: Any) -> None:
        removed[name] = rows_affected(result)

    alert_ids = _alert_ids(session, customer)
    posted = [(target, ts) for target, ts in session.execute(
        select(AlertDelivery.target, AlertDelivery.message_ts)
        .where(AlertDelivery.id.in_(alert_ids), AlertDelivery.message_ts.is_not(None))).all()]
    for table, name in ((CustomerScore, "segment_scores"), (CustomerLifetime, "lifetime_values"),
                        (CustomerPrediction, "predictions"), (Recommendation, "recommendations")):
        count(name, session.execute(delete(table).where(table.customer_id == customer.id)))
    count("alerts", session.execute(delete(AlertDelivery).where(AlertDelivery.id.in_(alert_ids))))
    count("notes", session.execute(delete(CustomerNote).where(CustomerNote.customer_id == customer.id)))
    removed["follow_ups"] = follow_ups.forget_customer(session, customer.id)
    count("previews", session.execute(delete(PendingWrite).where(PendingWrite.customer_ref == customer.external_id)))
    count("orders_kept_as_guest_orders", session.execute(
        update(Order).where(Order.customer_id == customer.id).values(customer_id=None)))
    # guest sales in the rollups too (which are stale from now on: see db.rollups)
    session.execute(update(CustomerSalesRollup).where(CustomerSalesRollup.customer_id == customer.id)
                    .values(customer_id=None))
    session.execute(delete(CustomerTotalRollup).where(CustomerTotalRollup.customer_id == customer.id))
    # Alert entries carry the id in their subject too; the rest only in customer_ref.
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.customer_ref == customer.external_id,
                                                          AuditEntry.what.contains(customer.external_id,
                                                                                   autoescape=True))):
        entry.what = entry.what.replace(customer.external_id, alias)
    count("audit_entries_pseudonymised", session.execute(
        update(AuditEntry).where(AuditEntry.customer_ref == customer.external_id).values(customer_ref=alias)))
    session.delete(customer)
    removed["customer"] = 1
    session.add(ErasedCustomer(id_hash=hashed, erased_at=now, erased_by=by[:64], removed=removed))
    access.record(session, at=now, user_id=by, channel_id="cli", action="erasure", what="customer erased",
                  customer_ref=alias, detail={"removed": removed})
    session.commit()
    return Erasure(alias, removed, [(target, ts) for target, ts in posted if ts])


def scrub_reject_files(paths: Iterable[str], external_id: str) -> tuple[int, list[str]]:
    """Remove the customer's rows from import reject files on this machine.

    Returns (rows removed, files recorded by imports but not found here: check those by hand).
    Each file is rewritten beside itself and swapped in, so a crash leaves the old or the new one.
    """
    removed, missing = 0, []
    for name in sorted(set(paths)):
        path = Path(name)
        if not path.exists():
            missing.append(name)
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if not rows or "customer_id" not in rows[0]:
            continue
        column = rows[0].index("customer_id")
        kept = [rows[0]] + [r for r in rows[1:] if len(r) <= column
                            or re.sub(SPREADSHEET_FLOAT_ID, r"\1", r[column].strip()) != external_id]
        if len(kept) == len(rows):
            continue
        temporary = path.with_name(path.name + ".scrub")
        with temporary.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(kept)
        os.replace(temporary, path)
        removed += len(rows) - len(kept)
    return removed, missing


def reject_files(session: Session) -> list[str]:
    """Every reject file an import recorded."""
    return [f for f in session.scalars(select(ImportRun.reject_file).where(ImportRun.reject_file.is_not(None)))
            if f]
