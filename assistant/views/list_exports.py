"""A customer list as rows for a campaign tool: a segment, a country, the accounts at risk, or a
model's scores, each row disclosed at the asker's level (``assistant.views.policy``).

The file goes to the asker's direct messages, so the level is theirs there: full for managers and
admins, full on their own accounts and masked on the rest for reps, masked for marketers; viewers
(aggregates only) get no export.  Rows are streamed from the store, never held all at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from analytics.rfm import SEGMENTS
from assistant.errors import UserFacingError
from assistant.views import policy
from assistant.views.digest import risk_key
from assistant.views.policy import Viewer
from assistant.views.score_exports import EXPORT_COLUMNS, score_export
from db import list_exports, snapshots

KINDS = ("segment", "country", "atrisk", "scores")
LIST_FIELDS = ("customer_id", "name", "email", "phone", "country", "owner", "segment", "orders", "net_value",
               "days_since_last_order", "value_12_months", "churn_risk")
CONTACT = ("email", "phone")


@dataclass
class ListExport:
    """What is exported: its title, file name, columns, rows (streamed) and how much they disclose."""

    title: str
    filename: str
    columns: tuple[str, ...]
    rows: Iterator[tuple[Any, ...]]
    level: str
    """``full``, ``masked``, or ``full on own accounts, masked on others`` (a rep's)."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "list"


def _money(micros: Any) -> float | str:
    return "" if micros is None else round(int(micros) / 1e6, 2)


def _rows(raw: Iterator[tuple[Any, ...]], viewer: Viewer) -> Iterator[tuple[Any, ...]]:
    for ref, name, email, phone, country, owner, segment, orders, net, days, clv, risk in raw:
        full = policy.customer_level(viewer, owner) == policy.FULL
        shown_email, shown_phone = (email, phone) if full else (policy.mask_email(email), policy.mask_phone(phone))
        yield (ref, name or "", shown_email or "", shown_phone or "", country or "", owner or "", segment, orders,
               _money(net),
               days, _money(clv), "" if risk is None else round(float(risk), 4))


def export_viewer(viewer: Viewer) -> Viewer:
    """The asker where the file lands (their DM); refused in words for aggregates-only roles."""
    in_dm = replace(viewer, place="im")
    if policy.list_level(in_dm) == policy.AGGREGATES:
        raise UserFacingError(f"exports name customers, and your role ({viewer.role}) sees aggregates only; a "
                              "rep, manager or admin can export this list")
    return in_dm


def _level(viewer: Viewer) -> str:
    if viewer.role in ("admin", "manager"):
        return policy.FULL
    return "full on own accounts, masked on others" if viewer.role == "rep" else policy.MASKED


def list_export(session: Session, viewer: Viewer, kind: str, first: str | None = None, second: str | None = None
                ) -> ListExport:
    """The list a button (or the terminal) names: ``segment`` (segment, country), ``country`` (-,
    country), ``atrisk`` (segment or -, country or -), ``scores`` (target)."""
    viewer = export_viewer(viewer)
    if kind not in KINDS:
        raise UserFacingError(f"there is no {kind[:30]!r} list to export; lists are {', '.join(KINDS)}")
    if kind == "scores":
        scores = score_export(session, first or "")
        return ListExport(f"{scores.target} scores ({scores.meaning})", f"crm-scores-{_slug(first or '')}.csv",
                          EXPORT_COLUMNS, scores.rows, policy.MASKED if viewer.role == "marketer" else policy.FULL)
    run = snapshots.latest_run(session)
    if run is None:
        raise UserFacingError("no analytics yet: run `crm-bot refresh` first")
    segment = first or None
    if segment is not None and segment not in SEGMENTS:
        raise UserFacingError(f"there is no segment {segment[:40]!r}; segments are {', '.join(SEGMENTS)}")
    country = second or None
    where = (f" in {segment}" if segment else "") + (f" in {country}" if country else "")
    dated = f"{run.as_of:%Y-%m-%d}"
    if kind == "atrisk":
        run_id, model_id, use_p_alive = risk_key(session, run)
        raw = list_exports.stream_at_risk(session, run_id, model_id, use_p_alive, segment, country)
        title, name = f"Accounts at risk{where}", f"crm-at-risk-{_slug(where)}-{dated}.csv"
    else:
        if kind == "country" and country is None:
            raise UserFacingError("say which country's customers to export")
        if kind == "segment" and segment is None:
            raise UserFacingError("say which segment's customers to export")
        raw = list_exports.stream_members(session, run.id, segment, country)
        title, name = f"Customers{where}", f"crm-{_slug(where)}-{dated}.csv"
    return ListExport(f"{title} as of {dated}", name.replace("--", "-"), LIST_FIELDS, _rows(raw, viewer),
                      _level(viewer))
