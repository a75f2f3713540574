"""``crm-bot doctor``: is this installation able to work, and if not, what to do about it.

Each check says what it looked at, whether it is fine, and (when not) the fix in words.  The
Slack checks live in ``assistant.slack.doctor``; this module covers settings and the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from analytics import words
from assistant.ops.settings import Settings
from assistant.ops.sources import SourcesFileError, load_sources
from db import currencies, digests, migrate, snapshots, stats, sync_states
from db.clock import store_time
from db.engine import ping
from db.importers.sql_source import SourceError, open_source
from db.importers.sync import query_columns
from db.ops_models import SyncState


@dataclass(frozen=True)
class Check:
    """One finding: ``ok`` True (fine), False (broken: ``fix`` says what to do) or None (a warning)."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def settings_checks(settings: Settings) -> list[Check]:
    """How the bot would connect to Slack, judged from the settings alone."""
    if settings.slack_bot_token is None:
        return [Check("Slack settings", False, "SLACK_BOT_TOKEN is not set",
                      "create the app from deploy/slack-app-manifest.yml and export its bot token (xoxb-...)")]
    if settings.slack_app_token is not None:
        return [Check("Slack settings", True, "Socket Mode (SLACK_APP_TOKEN is set)")]
    if settings.slack_signing_secret is not None:
        return [Check("Slack settings", True, f"HTTP mode on port {settings.http_port}, path {settings.http_path}")]
    return [Check("Slack settings", False, "neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set",
                  "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)")]


def store_checks(engine: Engine, now: datetime, currency_setting: str = "") -> list[Check]:
    """Reachable, migrated, holding data and recent analytics."""
    where = engine.url.render_as_string(hide_password=True)
    if engine.url.get_backend_name() == "sqlite" and not Path(engine.url.database or "").expanduser().exists():
        return [Check("Database", False, f"{where}: no store file there yet",
                      "run `crm-bot demo` (sample data) or `crm-bot db upgrade` and an import, or fix DATABASE_URL")]
    try:
        ping(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return [Check("Database", False, f"{where}: {reason}",
                      "check DATABASE_URL and that the database server is running")]
    found = [Check("Database", True, f"{where} answers")]
    current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    if current != head:
        found.append(Check("Schema", False, f"at revision {current or 'none'}, this version needs {head}",
                           "run `crm-bot db upgrade`"))
        return found
    found.append(Check("Schema", True, f"at the current revision {head}"))
    with Session(engine) as session:
        run = snapshots.latest_run(session)
        last_sale = snapshots.last_sale_at(session)
        subs = digests.subscriptions(session)
        sample = stats.holds_only_the_sample(session)
        mixed = currencies.mixed_currencies(session)
        held = currencies.order_currencies(session)
    if last_sale is None:
        found.append(Check("Data", False, "the store holds no orders", "load some with `crm-bot import ...`"))
    else:
        stale = (store_time(now) - last_sale).days > words.STALE_DATA_DAYS
        found.append(Check("Data", None if stale else True,
                           words.data_age(last_sale, store_time(now), sample) + (
                               ": answers and digests describe that date" if stale else ""),
                           "import recent orders (`crm-bot import ...`)" if stale and not sample else ""))
    setting = currency_setting.upper()
    if setting and held and setting not in held:
        found.append(Check("Currency setting", None, f"CRM_CURRENCY is {setting}, but no order is in {setting}: "
                                                     f"the analytics count the {next(iter(held))} orders",
                           "set CRM_CURRENCY to one of " + ", ".join(held) + " (or leave it empty)"))
    if mixed:
        found.append(Check("Currencies", None, mixed, "set CRM_CURRENCY to analyse another currency, keep a store "
                                                      "per currency, or convert prices before they are imported"))
    if run is None:
        found.append(Check("Analytics", False, "no analytics run yet", "run `crm-bot refresh`"))
    else:
        age = (store_time(now) - (run.finished_at or store_time(now))).days
        found.append(Check("Analytics", None if age > 7 else True,
                           f"latest run {run.id} as of {run.as_of:%Y-%m-%d}, computed {age} days ago",
                           "schedule `crm-bot refresh` (e.g. nightly)" if age > 7 else ""))
    failing = [s for s in subs if s.status == "failing"]
    if failing:
        found.append(Check("Digests", None, f"{len(failing)} of {len(subs)} subscriptions failing: "
                                            f"{failing[0].failure}", "see `crm-bot digest list`"))
    else:
        found.append(Check("Digests", True, f"{len(subs)} subscription(s), none failing"))
    return found


def source_checks(settings: Settings, engine: Engine, now: datetime) -> list[Check]:
    """Each database of the sources file: reachable, its queries give the importers' columns, and when
    it last synced (or since when it fails)."""
    if settings.sources_file is None:
        return []
    try:
        sources = load_sources(settings.sources_file)
    except SourcesFileError as exc:
        return [Check("Sources file", False, str(exc), "fix CRM_SOURCES_FILE (docs/syncing.md)")]
    found = []
    for source in sources:
        name = f"Source {source.name}"
        reader = open_source(source.url, min(source.options.timeout_seconds, 30), settings.timezone)
        try:
            for query in source.queries:
                query_columns(reader, query)
        except SourceError as exc:
            found.append(Check(name, False, str(exc), f"check the source's URL ({source.reference}) and its queries"))
            continue
        finally:
            reader.dispose()
        try:
            states = [sync_states.get(engine, source.name, q.part) for q in source.queries]
        except SQLAlchemyError:  # the store itself is down or behind: its own check says so
            states = [None for _ in source.queries]
        found.append(_sync_history(name, source.reference, states, store_time(now)))
    return found


def _sync_history(name: str, reference: str, states: list[SyncState | None], now: datetime) -> Check:
    reachable = f"{reference} answers and its queries return the expected columns"
    if any(state is None or state.succeeded_at is None for state in states):
        return Check(name, None, f"{reachable}; not synced yet", "run `crm-bot sync`")
    failing = [state for state in states if state is not None and state.failing_since is not None]
    if failing:
        first = min(failing, key=lambda state: state.failing_since or now)
        return Check(name, None, f"{reachable} now, but its {first.part} sync has failed since "
                                 f"{first.failing_since:%Y-%m-%d %H:%M} UTC: {first.error}", "run `crm-bot sync`")
    last = min(state.succeeded_at for state in states if state is not None and state.succeeded_at is not None)
    hours = (now - last).total_seconds() / 3600
    return Check(name, True, f"{reachable}; last synced {last:%Y-%m-%d %H:%M} UTC ({words.count(hours, 'hour')} ago)")
