"""The scheduler: APScheduler 3 ticking the digest deliverer, the alert sender, the follow-up
reminders, and running the scheduled sync and refresh.

One interval job looks at every subscription each tick rather than one cron job per
subscription: subscriptions change from Slack at any time and several replicas may run the
scheduler, and the store (claims under unique constraints) is what decides who posts what.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from assistant.jobs.alerts import AlertSender
from assistant.jobs.delivery import Deliverer
from assistant.jobs.refresh.run import RefreshBusy
from assistant.jobs.reminders import ReminderSender
from assistant.jobs.schedule import zone
from assistant.jobs.sync import SyncBusy
from assistant.ops.metrics import ALERTS, DIGESTS, REMINDERS
from db import pending_writes
from db.clock import store_time

log = logging.getLogger(__name__)


def tick(deliverer: Deliverer, alert_sender: AlertSender, reminders: ReminderSender | None = None) -> None:
    """One tick: digests that are due, then alerts, old previews, reminders; each step's failure is
    logged and the next tick retries it (the scheduler must outlive a bad tick: database briefly down...)."""
    steps: list[tuple[str, Callable[[], None]]] = [("digest", lambda: _digests(deliverer)),
                                                   ("alert", lambda: _alerts(alert_sender)),
                                                   ("preview pruning", lambda: _prune(deliverer))]
    if reminders is not None:
        steps.append(("reminder", lambda: _reminders(reminders)))
    for what, step in steps:
        try:
            step()
        except Exception:
            log.exception("%s tick failed; retrying next tick", what)


def _digests(deliverer: Deliverer) -> None:
    report = deliverer.run_due()
    for result in ("posted", "reconciled", "skipped", "failed", "retrying"):
        DIGESTS.labels(result).inc(len(getattr(report, result)))
    if report.posted or report.reconciled or report.failed or report.retrying or report.skipped:
        log.info("digests: %s", report.summary())


def _alerts(alert_sender: AlertSender) -> None:
    sent = alert_sender.run()
    ALERTS.labels("sent").inc(sent.sent)
    ALERTS.labels("held_back").inc(sent.folded)
    if sent.sent or sent.folded:
        log.info("alerts: %s sent, %s held back", sent.sent, sent.folded)


def _prune(deliverer: Deliverer) -> None:
    pruned = prune_previews(deliverer)
    if pruned:
        log.info("%s unsaved previews older than a day deleted", pruned)


def _reminders(reminders: ReminderSender) -> None:
    done = reminders.run()
    for result in ("sent", "reconciled", "missed", "failed", "retrying"):
        REMINDERS.labels(result).inc(len(getattr(done, result)))
    if done.sent or done.reconciled or done.missed or done.failed or done.retrying:
        log.info("reminders: %s", done.summary())


def prune_previews(deliverer: Deliverer) -> int:
    """Previews of writes nobody saved within a day are no longer saved; their text (a note's
    words) is not kept longer than that."""
    with deliverer.session_factory() as session:
        pruned = pending_writes.prune(session, store_time(deliverer.clock()))
        session.commit()
        return pruned


@dataclass(frozen=True)
class CronJob:
    """A job on a crontab schedule (``0 2 * * *``) in a time zone: the refresh, the sync."""

    name: str
    crontab: str
    timezone: str
    run: Callable[[], object]
    """Runs the job under its store-wide lock (``RefreshBusy`` / ``SyncBusy`` if another process runs it)."""


def run_cron_job(job: CronJob) -> None:
    """Run ``job``: skipped (and logged) if another process runs it already; a failure is logged and
    the next time comes round (the previous snapshot, or the data already synced, stays in use)."""
    try:
        job.run()
    except (RefreshBusy, SyncBusy) as exc:
        log.info("scheduled %s %s", job.name, exc)
    except Exception:
        log.exception("scheduled %s failed; what it would have replaced stays in use", job.name)


def make_scheduler(deliverer: Deliverer, alert_sender: AlertSender, tick_seconds: int, blocking: bool,
                   cron_jobs: Sequence[CronJob] = (), reminders: ReminderSender | None = None) -> BaseScheduler:
    """A scheduler that runs ``tick`` every ``tick_seconds`` (first tick at start) and each of
    ``cron_jobs`` on its own schedule."""
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=UTC)
    scheduler.add_job(tick, IntervalTrigger(seconds=tick_seconds), args=[deliverer, alert_sender, reminders],
                      id="digests", coalesce=True, max_instances=1, misfire_grace_time=tick_seconds,
                      next_run_time=datetime.now(UTC))
    for job in cron_jobs:
        scheduler.add_job(run_cron_job, CronTrigger.from_crontab(job.crontab, timezone=zone(job.timezone)),
                          args=[job], id=job.name, coalesce=True, max_instances=1, misfire_grace_time=3600)
    return scheduler
