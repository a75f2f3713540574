"""The scheduler's jobs: the nightly refresh in its time zone, never two refreshes at once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from assistant.jobs.alerts import AlertSender
from assistant.jobs.delivery import Deliverer
from assistant.jobs.refresh.inputs import REFRESH_LOCK
from assistant.jobs.refresh.run import RefreshBusy, RefreshSummary, run_refresh_exclusive
from assistant.jobs.scheduler import CronJob, make_scheduler, run_cron_job
from assistant.slack.app import make_client
from assistant.slack.poster import SlackPoster
from db import locks


def test_the_refresh_job_fires_at_local_time_and_skips_while_another_refresh_runs(
        refreshed: tuple[Engine, RefreshSummary, RefreshSummary], caplog: pytest.LogCaptureFixture) -> None:
    engine = refreshed[0]
    poster = SlackPoster(make_client("xoxb-test", "http://127.0.0.1:9/api/"))
    refresh = CronJob("refresh", "0 2 * * *", "Europe/London", lambda: run_refresh_exclusive(engine))
    scheduler = make_scheduler(Deliverer(sessionmaker(engine), poster), AlertSender(sessionmaker(engine), poster),
                               30, blocking=False, cron_jobs=[refresh])
    trigger = scheduler.get_job("refresh").trigger
    assert trigger.get_next_fire_time(None, datetime(2026, 7, 1, tzinfo=UTC)) == datetime(
        2026, 7, 1, 1, 0, tzinfo=UTC)  # 02:00 BST
    assert trigger.get_next_fire_time(None, datetime(2026, 12, 1, tzinfo=UTC)) == datetime(
        2026, 12, 1, 2, 0, tzinfo=UTC)  # 02:00 GMT
    now = datetime.now(UTC).replace(tzinfo=None)
    with locks.held(engine, REFRESH_LOCK, "other-replica:1", now, timedelta(hours=1)):
        with pytest.raises(RefreshBusy, match="already running on other-replica:1"):
            run_refresh_exclusive(engine)
        with caplog.at_level(logging.INFO, logger="assistant.jobs.scheduler"):
            run_cron_job(refresh)  # the job logs and waits for tomorrow; it does not fail the scheduler
        assert "already running on other-replica:1" in caplog.text
