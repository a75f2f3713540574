"""Alerts after each refresh: a valuable customer crossing a churn-risk threshold, an unusually
large order, a KPI anomaly; to the customer's owner by DM or to a channel; never a flood.

Each scheduler tick evaluates the active rules against the latest analytics run (subjects carry
the run or order id, so a rule says each thing once); more than ``max_per_hour`` alerts for one
recipient in an hour are folded into a single "and N more" line.

An alert is said at most once: claimed under a unique constraint, fenced immediately before the
post (a claim abandoned as stale is never posted), and posted with a deadline far inside the
abandonment window (``assistant.jobs.claims``), so an alert in flight is never abandoned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session

from analytics import words
from analytics.digest import KPIS, MONEY_KPIS
from assistant.errors import UserFacingError
from assistant.jobs.poster import MEMBER_ID, PRIVATE_KINDS, Poster, PostError
from assistant.render.blocks import Message, section
from assistant.views.digest import build_digest, risk_key
from db import access, alerts, kpis, snapshots
from db.clock import Clock, store_time, utc_now
from db.digest_models import AlertRule
from db.digests import SessionFactory

log = logging.getLogger(__name__)

KIND_NAMES = {"churn_risk": "churn risk", "large_order": "large order", "kpi_anomaly": "KPI anomaly"}
LARGE_ORDER_WINDOW = timedelta(days=7)
UNNAMED = ("Customer details are not posted in a public or shared channel: `/crm atrisk` or `/customer` show them "
           "to you alone.")


@dataclass(frozen=True)
class Finding:
    """One thing a rule noticed: a stable subject (so it is said once), whom it concerns, the words."""

    subject: str
    owner: str | None
    text: str
    public_text: str | None = None
    """What may be said where the public or another organisation reads along (no names, ids or
    values); ``None`` when ``text`` names nobody."""


def churn_findings(session: Session, rule: AlertRule) -> list[Finding]:
    """Customers worth at least the rule's value whose risk crossed its threshold since the previous run."""
    run = snapshots.latest_run(session)
    previous = snapshots.latest_run(session, before_run=run.id) if run else None
    if run is None or previous is None or any("refused" in r.results.get("lifetime", {}) for r in (run, previous)):
        return []
    jumps = kpis.risk_jumps(session, risk_key(session, run), risk_key(session, previous), min_jump=0.0,
                            limit=200, crossing=rule.threshold, min_value_micros=rule.min_value_micros)
    return [Finding(f"churn:run{run.id}:{r.customer_ref}", r.owner,
                    f":rotating_light: *{r.customer_ref}*{f' ({r.name})' if r.name else ''}: churn risk rose from "
                    f"{r.risk_before:.2f} to {r.risk_now:.2f} (over {rule.threshold:.2f}); 12-month value "
                    f"{words.money(r.clv_micros / 1e6, run.currency)}. `/customer {r.customer_ref}` for why and "
                    "what to offer.",
                    f":rotating_light: A valuable customer's churn risk rose over {rule.threshold:.2f}. {UNNAMED}")
            for r in jumps.itertuples()]


def large_order_findings(session: Session, rule: AlertRule) -> list[Finding]:
    """Orders of the last week at least ``threshold`` x the customer's usual order."""
    last = snapshots.last_sale_at(session)
    if last is None:
        return []
    found = kpis.large_orders(session, last - LARGE_ORDER_WINDOW, last + timedelta(seconds=1), rule.threshold,
                              rule.min_value_micros)
    currency = snapshots.store_currency(session)
    return [Finding(f"order:{r.order_ref}", r.owner,
                    f":moneybag: *{r.customer_ref}*{f' ({r.name})' if r.name else ''} placed order {r.order_ref} "
                    f"on {r.ordered_at:%d %b} worth {words.money(r.value_micros / 1e6, currency)}: "
                    f"{r.value_micros / r.usual_micros:.1f}x their usual "
                    f"{words.money(r.usual_micros / 1e6, currency)}.",
                    f":moneybag: A customer placed an unusually large order. {UNNAMED}")
            for r in found.itertuples()]


def kpi_findings(session: Session, rule: AlertRule) -> list[Finding]:
    """This week's KPIs whose robust z-score is beyond the rule's threshold."""
    try:
        digest = build_digest(session)
    except UserFacingError:
        return []
    week = f"{digest.end - timedelta(days=1):%Y-%m-%d}"
    return [Finding(f"kpi:{c.kpi}:{week}", None,
                    f":warning: {KPIS[c.kpi].capitalize()} "
                    f"{words.money(c.now, digest.currency) if c.kpi in MONEY_KPIS else f'{c.now:,.0f}'} in the week "
                    f"to {week}: {words.change(c.vs_median)} vs the 8-week median (robust z {c.z:+.1f}).")
            for c in digest.changes if c.z is not None and abs(c.z) >= rule.threshold]


FINDERS: dict[str, Callable[[Session, AlertRule], list[Finding]]] = {
    "churn_risk": churn_findings, "large_order": large_order_findings, "kpi_anomaly": kpi_findings}


ALERT_POST_BUDGET = timedelta(seconds=60)
"""How long one alert post may take, 429 waits included."""
ABANDON_AFTER = timedelta(minutes=10)
"""A claim older than this lost its sender (crashed): marked failed, never sent.  Far longer than
``ALERT_POST_BUDGET`` plus any settling time, so an alert in flight is never abandoned."""


@dataclass
class AlertReport:
    sent: int = 0
    folded: int = 0
    undeliverable: list[str] = field(default_factory=list)


@dataclass
class AlertSender:
    """Evaluates every active rule and posts what is new, within each recipient's hourly limit."""

    session_factory: SessionFactory
    poster: Poster
    clock: Clock = utc_now

    def _recipient(self, rule: AlertRule, owner: str | None) -> str | None:
        if rule.target != "owner":
            return rule.target
        if isinstance(owner, str) and MEMBER_ID.match(owner):  # (a missing owner may arrive as NaN)
            return owner
        return rule.fallback_channel

    def run(self) -> AlertReport:
        now = store_time(self.clock())
        report = AlertReport()
        with self.session_factory() as session:
            alerts.abandon_stale_claims(session, now - ABANDON_AFTER)
            for rule in alerts.rules(session):
                folded: dict[str, list[int]] = {}
                for finding in FINDERS[rule.kind](session, rule):
                    target = self._recipient(rule, finding.owner)
                    if target is None:
                        report.undeliverable.append(finding.subject)
                        continue
                    if alerts.sent_recently(session, target, now - timedelta(hours=1)) >= rule.max_per_hour:
                        held = alerts.claim_alert(session, rule.id, finding.subject, target, finding.text, now)
                        if held is not None:
                            folded.setdefault(target, []).append(held)
                        continue
                    alert_id = alerts.claim_alert(session, rule.id, finding.subject, target, finding.text, now)
                    if alert_id is None:
                        continue  # said before (by this or another scheduler)
                    self._post(session, alert_id, target, finding, report)
                for target, held_back in folded.items():
                    self._fold(session, rule, target, held_back, report)
        return report

    def _post(self, session: Session, alert_id: int, target: str, finding: Finding, report: AlertReport) -> None:
        text = finding.text
        try:
            if finding.public_text is not None and self.poster.channel_kind(target) not in PRIVATE_KINDS:
                text = finding.public_text
            if not alerts.fence_alert(session, alert_id):
                log.warning("alert %s was abandoned as stale before it could be posted; not posting", alert_id)
                return
            ts = self.poster.post(target, Message(text=text, blocks=[section(text)]),
                                  {"event_type": "crm_alert", "event_payload": {"alert": alert_id}},
                                  within=ALERT_POST_BUDGET.total_seconds())
        except PostError as exc:
            log.warning("alert %s to %s not posted: %s", alert_id, target, exc.code)
            alerts.finish_alert(session, alert_id, "failed")
            return
        alerts.finish_alert(session, alert_id, "posted", ts)
        kind, _, rest = finding.subject.partition(":")
        customer = rest.rsplit(":", 1)[-1] if kind == "churn" else None
        access.record(session, at=store_time(self.clock()), user_id="crm-bot",
                      channel_id=target, action="alert", what=finding.subject, customer_ref=customer,
                      detail={"alert": alert_id, "named": finding.public_text is not None and text == finding.text})
        session.commit()
        report.sent += 1

    def _fold(self, session: Session, rule: AlertRule, target: str, held: list[int], report: AlertReport) -> None:
        """Mark the alerts over the limit suppressed and say so once, in one line."""
        count = len(held)
        for alert_id in held:
            alerts.finish_alert(session, alert_id, "suppressed")
        text = (f"...and {count} more {KIND_NAMES[rule.kind]} alert{'s' if count != 1 else ''} this hour, held back "
                f"so this does not become noise (limit {rule.max_per_hour} an hour). `/crm atrisk` lists them.")
        try:
            self.poster.post(target, Message(text=text, blocks=[section(text)]), {},
                             within=ALERT_POST_BUDGET.total_seconds())
        except PostError as exc:
            log.warning("alert summary to %s not posted: %s", target, exc.code)
        report.folded += count
