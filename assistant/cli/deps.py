"""What the commands of one ``crm-bot`` run share: settings and engine built once, the schema checked
once, and the wiring of the Slack client, runners' context and jobs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from assistant.commands.base import Context
from assistant.errors import UserFacingError
from assistant.ops.logs import configure_logging
from assistant.ops.settings import Settings, admin_ids, admins_in_order, load_settings
from db import migrate
from db.clock import utc_now
from db.engine import make_engine, make_session_factory

if TYPE_CHECKING:
    # Imported where used: the refresh (scikit-learn), charts (matplotlib) and the HTTP client
    # take seconds to load, and `crm-bot --help` or `crm-bot stats` need none of them.
    from assistant.commands.understanding.language_model import LanguageModel
    from assistant.jobs.alerts import AlertSender
    from assistant.jobs.delivery import Deliverer
    from assistant.jobs.reminders import ReminderSender
    from assistant.jobs.scheduler import CronJob
    from assistant.slack.poster import SlackPoster

console = Console()
errors = Console(stderr=True)

CLI_USER = "cli"
"""Who runs the command line: whoever has this installation's settings acts as an admin."""

Schema = Literal["create", "current", "unchecked"]
"""What a command needs of the store's schema: created if the database is empty, current, or
nothing (the ``db`` commands, the doctor and the demo look after it themselves)."""

SCHEMA_OF_COMMAND: dict[str, Schema] = {"import": "create", "sync": "create", "demo": "unchecked",
                                        "db": "unchecked", "doctor": "unchecked"}
"""By top-level command; every other command needs the current schema."""


@dataclass
class Deps:
    """What commands need, built once from the settings."""

    settings: Settings
    engine: Engine


class Run:
    """One invocation of ``crm-bot``: builds its ``Deps`` on first use (so ``--help`` needs no store)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._deps: Deps | None = None

    def deps(self, database: Path | None = None) -> Deps:
        """Settings and engine (``database`` overrides DATABASE_URL with a SQLite file), schema checked."""
        if self._deps is None:
            overrides = {"database_url": f"sqlite:///{database}"} if database else {}
            settings = load_settings(**overrides)
            configure_logging(settings.log_level, settings.log_format)
            self._deps = Deps(settings=settings, engine=make_engine(settings.database_url))
            if self.schema != "unchecked":
                ensure_schema(self._deps.engine, create=self.schema == "create")
        return self._deps


def deps_of(ctx: typer.Context, database: Path | None = None) -> Deps:
    """The run's ``Deps`` (the root callback put a ``Run`` on the context)."""
    run = ctx.find_object(Run)
    if run is None:
        raise RuntimeError("crm-bot commands run under the root app, whose callback starts the Run")
    return run.deps(database)


@contextmanager
def store_session(ctx: typer.Context) -> Iterator[Session]:
    """A session on the configured store (schema checked)."""
    with make_session_factory(deps_of(ctx).engine)() as session:
        yield session


def ensure_schema(engine: Engine, create: bool) -> None:
    """Create the schema of an empty database (``create``), or insist it is current."""
    current = migrate.current_revision(engine)
    if current == migrate.head_revision(engine):
        return
    if current is None and create:
        migrate.upgrade(engine)
        return
    raise UserFacingError(f"the database schema is at revision {current or 'none'}, this version of crm-bot needs "
                          f"{migrate.head_revision(engine)}: run `crm-bot db upgrade` first.")


def runner_context(deps: Deps, operator: str | None = None) -> Context:
    """What runners need.  In the console and the command line, the person at the terminal
    (``operator``) runs this installation and is an admin; in Slack, roles come from CRM_ADMINS
    and the store."""
    return Context(session_factory=make_session_factory(deps.engine), clock=utc_now,
                   default_timezone=deps.settings.timezone, admins=admin_ids(deps.settings),
                   first_admin=next(iter(admins_in_order(deps.settings)), None),
                   default_role=deps.settings.default_role, operator=operator,
                   min_group=deps.settings.min_group_size,
                   conversation_idle=timedelta(minutes=deps.settings.conversation_idle_minutes),
                   language_model=language_model(deps.settings))


def language_model(settings: Settings) -> LanguageModel | None:
    """The language model asked about unclear questions, if ``CRM_LLM_URL`` names one."""
    if not settings.llm_url:
        return None
    from assistant.commands.understanding.language_model import LanguageModel, LanguageModelSettings

    key = settings.llm_key.get_secret_value() if settings.llm_key else None
    return LanguageModel(LanguageModelSettings(url=settings.llm_url, model=settings.llm_model, key=key,
                                               timeout=settings.llm_timeout_seconds))


def cron_jobs(deps: Deps) -> list[CronJob]:
    """The scheduler's crontab jobs: the refresh on CRM_REFRESH_SCHEDULE, the sync on CRM_SYNC_SCHEDULE."""
    from assistant.jobs.scheduler import CronJob

    jobs = []
    if deps.settings.refresh_schedule:
        jobs.append(CronJob("refresh", deps.settings.refresh_schedule, deps.settings.timezone,
                            lambda: refresh_then_retrain(deps)))
    if deps.settings.sync_schedule:
        jobs.append(CronJob("sync", deps.settings.sync_schedule, deps.settings.timezone,
                            lambda: sync_then_refresh(deps)))
    return jobs


def refresh_then_retrain(deps: Deps) -> object:
    """The refresh (under the store's refresh lock), then builder models that went stale are retrained."""
    from assistant.jobs.refresh.executor import executor_for
    from assistant.jobs.refresh.inputs import RefreshParams
    from assistant.jobs.refresh.run import run_refresh_exclusive
    from assistant.jobs.training import retrain_stale

    executor = executor_for(deps.settings.dask_scheduler, deps.engine.dialect.name, deps.settings.refresh_workers)
    try:
        summary = run_refresh_exclusive(deps.engine, RefreshParams(currency=deps.settings.currency or None),
                                        keep_runs=deps.settings.keep_analytics_runs, executor=executor)
    finally:
        executor.close()
    retrain_stale(deps.engine, deps.settings.retrain_after_days)
    return summary


def sync_then_refresh(deps: Deps) -> object:
    """Every source and the inbox (under the sync lock), then the refresh if the store changed since the
    latest analytics run: by this sync, or by an earlier one whose refresh could not run."""
    from assistant.jobs.sync import run_sync, sources_of
    from db.stats import changed_since_latest_run

    outcome = run_sync(deps.engine, sources_of(deps.settings.sources_file), timezone=deps.settings.timezone,
                       reject_dir=deps.settings.rejects_dir, inbox=deps.settings.inbox_dir,
                       batch_rows=deps.settings.import_batch_rows)
    with Session(deps.engine) as session:
        stale = changed_since_latest_run(session)
    if stale:
        refresh_then_retrain(deps)
    return outcome


def alert_sender(deps: Deps, poster: SlackPoster) -> AlertSender:
    """Alerts to account owners, posted through Slack."""
    from assistant.jobs.alerts import AlertSender

    return AlertSender(make_session_factory(deps.engine), poster)


def reminder_sender(deps: Deps, poster: SlackPoster) -> ReminderSender:
    """Follow-up reminders to their owners' direct messages, with the configured grace and lease."""
    from assistant.jobs.reminders import ReminderSender

    return ReminderSender(make_session_factory(deps.engine), poster,
                          grace=timedelta(minutes=deps.settings.reminder_grace_minutes),
                          lease=timedelta(seconds=deps.settings.digest_lease_seconds))


def deliverer(deps: Deps, poster: SlackPoster) -> Deliverer:
    """Digest delivery with the configured grace and lease."""
    from assistant.jobs.delivery import Deliverer

    return Deliverer(make_session_factory(deps.engine), poster,
                     grace=timedelta(minutes=deps.settings.digest_grace_minutes),
                     lease=timedelta(seconds=deps.settings.digest_lease_seconds),
                     retry_window=timedelta(hours=deps.settings.digest_retry_hours),
                     min_group=deps.settings.min_group_size)
