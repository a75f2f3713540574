"""crm-bot's composition root and command line.

Settings, the database engine and (in later commands) the Slack app and scheduler are built
here and handed down; nothing is built at import time.  Run ``crm-bot --help``.
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from analytics.rules import ENGINES, RuleParams
from assistant import terminal, terminal_predictions
from assistant.alerts import AlertSender
from assistant.commands import admin as admin_commands
from assistant.commands import digest as digest_commands
from assistant.commands.answer import answer
from assistant.commands.base import Context, Request
from assistant.delivery import Deliverer
from assistant.digest import build_digest
from assistant.doctor import settings_checks, store_checks
from assistant.insights import UserFacingError, clusters_view, recommend_view, rules_view, segments_view
from assistant.logs import configure_logging
from assistant.predictions import explain_view, model_health, train_target
from assistant.probes import Probes, start_probes
from assistant.ratelimit import RateLimiter
from assistant.refresh import (
    REFRESH_LOCK,
    NothingToAnalyse,
    RefreshBusy,
    RefreshParams,
    run_refresh_exclusive,
)
from assistant.render.digest import digest_message
from assistant.scheduler import ScheduledRefresh, make_scheduler
from assistant.settings import Settings, SettingsError, admin_ids, load_settings
from assistant.slack.app import build_app, channel_places, make_client
from assistant.slack.console import CONSOLE_USER, Reply, run_console
from assistant.slack.console import render as render_reply
from assistant.slack.doctor import slack_checks
from assistant.slack.poster import SlackPoster
from assistant.slack.server import create_http_server, socket_mode_handler
from db import access, digests, erasure, locks, migrate
from db.engine import DatabaseUrlError, make_engine, make_session_factory
from db.importers import FORMATS, ImportFileError, ImportOptions, ImportReport, import_file
from db.sample import ONLINE_RETAIL_SAMPLE
from db.stats import store_summary

app = typer.Typer(help="crm-bot: a conversational CRM assistant for Slack, on your own order data.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
import_app = typer.Typer(help="Load CSV exports into the store (idempotent: re-running changes nothing).",
                         no_args_is_help=True)
db_app = typer.Typer(help="Database schema: upgrade, check, current.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(db_app, name="db")
admin_app = typer.Typer(help="Roles of Slack users and user groups (the person at the terminal acts as an admin).",
                        no_args_is_help=True)
app.add_typer(admin_app, name="admin")
digest_app = typer.Typer(help="Insight digests: subscribe channels, list, run what is due, or print one.",
                         no_args_is_help=True)
app.add_typer(digest_app, name="digest")
customer_app = typer.Typer(help="Data subject requests: export everything held about a customer, or erase them.",
                           no_args_is_help=True)
app.add_typer(customer_app, name="customer")

T = TypeVar("T")

console = Console()
errors = Console(stderr=True)


class UserError(Exception):
    """Stops a command with a message for the person at the terminal (exit code 2)."""


@dataclass
class Deps:
    """What commands need, built once from the settings."""

    settings: Settings
    engine: Engine


def build_deps(database: Path | None = None) -> Deps:
    """Read settings and build the engine; ``database`` overrides DATABASE_URL with a SQLite file."""
    overrides = {"database_url": f"sqlite:///{database}"} if database else {}
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    return Deps(settings=settings, engine=make_engine(settings.database_url))


def ensure_schema(engine: Engine, create: bool) -> None:
    """Create the schema of an empty database (``create``), or insist it is current."""
    current = migrate.current_revision(engine)
    if current == migrate.head_revision(engine):
        return
    if current is None and create:
        migrate.upgrade(engine)
        return
    raise UserError(f"the database schema is at revision {current or 'none'}, this version of crm-bot needs "
                    f"{migrate.head_revision(engine)}: run `crm-bot db upgrade` first.")


def _parse_renames(pairs: list[str]) -> dict[str, str]:
    renames = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise UserError(f"--map {pair!r}: expected FILE_COLUMN=EXPECTED_COLUMN, e.g. --map 'Order No=order_id'")
        renames[old.strip()] = new.strip()
    return renames


def run_import(deps: Deps, source_format: str, path: Path, options: ImportOptions) -> ImportReport:
    """Import with a progress bar and print the report."""
    with terminal.import_progress(errors, f"Importing {path.name}") as progress:
        report = import_file(deps.engine, source_format, path, options, progress=progress)  # type: ignore[arg-type]
    console.print(terminal.import_report(report))
    return report


def _options(deps: Deps, renames: list[str], encoding: str, date_format: str | None, force: bool) -> ImportOptions:
    return ImportOptions(encoding=encoding, date_format=date_format, renames=_parse_renames(renames),
                         batch_rows=deps.settings.import_batch_rows, reject_dir=deps.settings.rejects_dir,
                         force=force)


MapOption = Annotated[list[str], typer.Option("--map", help="Read file column OLD as NEW: --map OLD=NEW "
                                                             "(repeatable).")]
EncodingOption = Annotated[str, typer.Option(help="Text encoding of the file (e.g. cp1252 for old Excel "
                                                  "exports).")]
DateFormatOption = Annotated[str | None, typer.Option(help="strftime layout of the dates if not ISO 8601, "
                                                           "e.g. '%m/%d/%Y %H:%M'.")]
ForceOption = Annotated[bool, typer.Option(help="Re-check every row even if this exact file was imported "
                                                "before.")]
PathArgument = Annotated[Path, typer.Argument(help="CSV file, plain or .gz.")]


def _import_command(source_format: str, path: Path, renames: list[str], encoding: str,
                    date_format: str | None, force: bool) -> None:
    deps = build_deps()
    ensure_schema(deps.engine, create=True)
    run_import(deps, source_format, path, _options(deps, renames, encoding, date_format, force))


@import_app.command("online-retail")
def import_online_retail(path: PathArgument, renames: MapOption = [],  # noqa: B006 (typer reads the default)
                         encoding: EncodingOption = "utf-8", date_format: DateFormatOption = None,
                         force: ForceOption = False) -> None:
    """UCI Online Retail / Online Retail II (InvoiceNo or Invoice, UnitPrice or Price, CustomerID or Customer ID)."""
    _import_command("online-retail", path, renames, encoding, date_format, force)


@import_app.command("customers")
def import_customers(path: PathArgument, renames: MapOption = [],  # noqa: B006
                     encoding: EncodingOption = "utf-8", date_format: DateFormatOption = None,
                     force: ForceOption = False) -> None:
    """Customers: customer_id, name, email, phone, country, created_at, owner (+ any extra attribute columns)."""
    _import_command("customers", path, renames, encoding, date_format, force)


@import_app.command("orders")
def import_orders(path: PathArgument, renames: MapOption = [],  # noqa: B006
                  encoding: EncodingOption = "utf-8", date_format: DateFormatOption = None,
                  force: ForceOption = False) -> None:
    """Orders, one row per line: order_id, customer_id, date, sku, description, quantity, unit_price, status."""
    _import_command("orders", path, renames, encoding, date_format, force)


@app.command()
def demo(database: Annotated[Path | None, typer.Option(help="SQLite file to use instead of DATABASE_URL.")]
         = None) -> None:
    """Create the store, load the bundled Online Retail sample and show what is in it. No Slack needed."""
    deps = build_deps(database)
    console.print(f"Store: [bold]{deps.engine.url.render_as_string(hide_password=True)}[/bold]")
    migrate.upgrade(deps.engine)
    report = run_import(deps, "online-retail", ONLINE_RETAIL_SAMPLE, _options(deps, [], "utf-8", None, False))
    if report.status == "skipped":
        console.print("The sample is already loaded.")
    with make_session_factory(deps.engine)() as session:
        console.print(terminal.store_summary(store_summary(session), currency="£"))
    _refresh(deps, RefreshParams())
    with make_session_factory(deps.engine)() as session:
        console.print(terminal.segments(segments_view(session), currency="£"))
    console.print("Sample: UCI Online Retail subset (CC BY 4.0, Chen et al. 2012); see db/sample/README.md.\n"
                  "Try: `crm-bot segments 'At risk'`, `crm-bot explain 12748`, `crm-bot model-health`, "
                  "`crm-bot digest run --dry-run`, `crm-bot console` (then `/crm digest preview`).\n"
                  "`crm-bot import online-retail PATH.csv.gz` loads a full export into the same store.")
    if sys.stdin.isatty() and sys.stdout.isatty():
        console.print("\nNow talking to the bot as in Slack (a local fake Slack; no workspace needed).")
        run_console(_context(deps, CONSOLE_USER), console)


def _context(deps: Deps, operator: str | None = None) -> Context:
    """What runners need.  In the console and the command line, the person at the terminal
    (``operator``) runs this installation and is an admin; in Slack, roles come from CRM_ADMINS
    and the store."""
    return Context(session_factory=make_session_factory(deps.engine), clock=datetime.now,
                   default_timezone=deps.settings.timezone, admins=admin_ids(deps.settings),
                   default_role=deps.settings.default_role, operator=operator,
                   min_group=deps.settings.min_group_size)


def _slack_client(deps: Deps) -> WebClient:
    if deps.settings.slack_bot_token is None:
        raise UserError("SLACK_BOT_TOKEN is not set: create the Slack app (README, Connect to your workspace) and "
                        "export its bot token")
    return make_client(deps.settings.slack_bot_token.get_secret_value(), deps.settings.slack_api_url)


def _scheduled_refresh(deps: Deps) -> ScheduledRefresh | None:
    if not deps.settings.refresh_schedule:
        return None
    return ScheduledRefresh(deps.settings.refresh_schedule, deps.settings.timezone,
                            lambda: run_refresh_exclusive(deps.engine, RefreshParams(),
                                                          keep_runs=deps.settings.keep_analytics_runs))


def _alert_sender(deps: Deps, client: WebClient) -> AlertSender:
    return AlertSender(make_session_factory(deps.engine), SlackPoster(client))


def _deliverer(deps: Deps, client: WebClient) -> Deliverer:
    return Deliverer(make_session_factory(deps.engine), SlackPoster(client),
                     grace=timedelta(minutes=deps.settings.digest_grace_minutes),
                     lease=timedelta(seconds=deps.settings.digest_lease_seconds),
                     min_group=deps.settings.min_group_size)


@app.command("console")
def console_command() -> None:
    """Talk to the real bot in the terminal through a local fake Slack: /customer 12347, @crm who is at risk?"""
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    run_console(_context(deps, CONSOLE_USER), console)


@app.command()
def serve() -> None:
    """Run the bot for a real workspace: Socket Mode with SLACK_APP_TOKEN, else HTTP with SLACK_SIGNING_SECRET."""
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    settings = deps.settings
    client = _slack_client(deps)
    probes = Probes(deps.engine)
    if settings.health_port:
        server = start_probes(probes, settings.health_port)
        errors.print(f"Health and metrics on port {server.effective_port}: /healthz /readyz /metrics.")
    background = None
    if settings.scheduler_in_serve:
        background = make_scheduler(_deliverer(deps, client), _alert_sender(deps, client),
                                    settings.scheduler_tick_seconds, blocking=False, refresh=_scheduled_refresh(deps))
        background.start()
        errors.print(f"Digest scheduler running in this process (every {settings.scheduler_tick_seconds} s).")
    answers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="crm-answer")

    def drain(stop_intake: Callable[[], None]) -> None:
        """SIGTERM: take no new work, finish the answers and digest posts in flight, then exit."""
        def on_term(*_: object) -> None:
            stop_intake()
            answers.shutdown(wait=True)
            if background is not None:
                background.shutdown(wait=True)
            raise SystemExit(0)
        signal.signal(signal.SIGTERM, on_term)

    if settings.slack_app_token is not None:
        app_ = build_app(_context(deps), client, signing_secret="", socket_mode=True, executor=answers,
                         limiter=RateLimiter(settings.rate_limit_per_minute))
        errors.print("Serving in Socket Mode (no public URL needed). Ctrl-C stops.")
        handler = socket_mode_handler(app_, settings.slack_app_token.get_secret_value())
        probes.slack_connected = handler.client.is_connected
        drain(handler.close)
        handler.start()
        return
    if settings.slack_signing_secret is None:
        raise UserError("set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET for HTTP mode")
    app_ = build_app(_context(deps), client, settings.slack_signing_secret.get_secret_value(), executor=answers,
                     limiter=RateLimiter(settings.rate_limit_per_minute))
    server = create_http_server(app_, "0.0.0.0", settings.http_port, settings.http_path)  # noqa: S104 (Slack calls in)
    errors.print(f"Serving HTTP on port {server.effective_port}, path {settings.http_path}. Ctrl-C stops.")
    drain(lambda: server.trigger.pull_trigger(server.close))  # waitress: close from inside its own loop
    server.run()  # on SystemExit waitress finishes the requests it is handling


@app.command()
def scheduler() -> None:
    """Post digests and alerts when they are due (run one or several; each digest is posted once)."""
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    tick = deps.settings.scheduler_tick_seconds
    client = _slack_client(deps)
    running = make_scheduler(_deliverer(deps, client), _alert_sender(deps, client), tick, blocking=True,
                             refresh=_scheduled_refresh(deps))
    if deps.settings.health_port:
        start_probes(Probes(deps.engine), deps.settings.health_port)
    # SIGTERM (docker stop, kubectl): let the tick in flight finish its posts, then exit.
    signal.signal(signal.SIGTERM, lambda *_: running.shutdown(wait=True))
    errors.print(f"Digest scheduler: looking for due digests and alerts every {tick} s. Ctrl-C stops.")
    with suppress(KeyboardInterrupt):
        running.start()


def _digest_command(deps: Deps, channel: str, text: str) -> None:
    context = _context(deps, CLI_USER)
    if deps.settings.slack_bot_token is not None:  # then a channel's real type can be checked (Slack Connect)
        context = replace(context, channel_kind=channel_places(_slack_client(deps)))
    message = answer(digest_commands.run, Request(user_id=CLI_USER, channel_id=channel, text=text), context)
    render_reply(Reply(message.text, message.blocks), console)


@digest_app.command("subscribe", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def digest_subscribe(channel: Annotated[str, typer.Argument(help="Slack channel id, e.g. C0123ABCD.")],
                     schedule: Annotated[list[str] | None, typer.Argument(
                         help="Any of: weekly|daily, a weekday, HH:MM, a time zone, --segment NAME, "
                              "--quiet skip, --allow-shared (a Slack Connect channel).")] = None) -> None:
    """Subscribe a channel to the digest (same words as /crm digest subscribe)."""
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    _digest_command(deps, channel, "subscribe " + " ".join(shlex.quote(w) for w in schedule or []))


@digest_app.command("list")
def digest_list() -> None:
    """Every channel's digest subscriptions, with their last delivery and next time."""
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    _digest_command(deps, "", "list all")


@digest_app.command("unsubscribe")
def digest_unsubscribe(channel: Annotated[str, typer.Argument(help="Slack channel id.")]) -> None:
    """Stop a channel's digests (their history is kept)."""
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    _digest_command(deps, channel, "unsubscribe")


@digest_app.command("run")
def digest_run(channel: Annotated[str | None, typer.Option(help="Only this channel's digest.")] = None,
               dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the digest; post nothing.")] = False,
               cadence: Annotated[str, typer.Option(help="weekly or daily (dry run without a subscription).")]
               = "weekly") -> None:
    """Post the digests due now, once each (what the scheduler does each tick), or print one."""
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    if dry_run:
        with make_session_factory(deps.engine)() as session:
            subs = digests.subscriptions(session, channel) if channel else []
            sub = subs[0] if subs else None
            built = build_digest(session, sub.cadence if sub else cadence, sub.segment if sub else None)
            message = digest_message(built, disclose_people=True)
        render_reply(Reply(message.text, message.blocks), console)
        return
    report = _deliverer(deps, _slack_client(deps)).run_due(channel)
    console.print(f"Digests: {report.summary()}.")


@app.command()
def doctor() -> None:
    """Check settings, the database, migrations, data, analytics, digests and Slack; say what to fix."""
    deps = build_deps()
    found = settings_checks(deps.settings) + store_checks(deps.engine, datetime.now())
    if deps.settings.slack_bot_token is not None:
        found += slack_checks(make_client(deps.settings.slack_bot_token.get_secret_value(),
                                          deps.settings.slack_api_url))
    for check in found:
        mark = {True: "[green]ok[/green]  ", False: "[red]FAIL[/red]", None: "[yellow]warn[/yellow]"}[check.ok]
        console.print(f"{mark} {check.name}: {check.detail}" + (f"\n       -> {check.fix}" if check.fix else ""),
                      highlight=False)
    broken = [c for c in found if c.ok is False]
    console.print(f"{len(broken)} problem(s) to fix." if broken else "All good.")
    if broken:
        raise typer.Exit(1)


def _admin_command(text: str) -> None:
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    admin_commands.check(text)  # usage errors and refusals end the command with exit code 2
    message = admin_commands.run(Request(user_id=CLI_USER, channel_id="cli", text=text), _context(deps, CLI_USER))
    render_reply(Reply(message.text, message.blocks), console)


CLI_USER = "cli"
"""Who runs the command line: whoever has this installation's settings acts as an admin."""


@admin_app.command("grant")
def admin_grant(user: Annotated[str, typer.Argument(help="Slack member id (U0123ABCD) or user group id (S0123ABCD).")],
                role: Annotated[str, typer.Argument(help="admin, manager, rep, marketer or viewer.")]) -> None:
    """Give a Slack user a role."""
    _admin_command(f"grant {shlex.quote(user)} {shlex.quote(role)}")


@admin_app.command("revoke")
def admin_revoke(user: Annotated[str, typer.Argument(help="Slack member id or user group id.")]) -> None:
    """Take a user's role away (back to CRM_DEFAULT_ROLE)."""
    _admin_command(f"revoke {shlex.quote(user)}")


@admin_app.command("roles")
def admin_roles() -> None:
    """Everyone's role."""
    _admin_command("roles")


@app.command()
def audit(user: Annotated[str | None, typer.Option(help="Only this Slack member id.")] = None,
          customer: Annotated[str | None, typer.Option(help="Only disclosures of this customer id.")] = None,
          since: Annotated[str | None, typer.Option(help="From this date, YYYY-MM-DD.")] = None) -> None:
    """Read the audit log: commands, disclosures (which customer, which fields, how masked), role changes."""
    words = ["audit"] + (["--user", user] if user else []) + (["--customer", customer] if customer else []) \
        + (["--since", since] if since else [])
    _admin_command(" ".join(shlex.quote(w) for w in words))


@customer_app.command("export")
def customer_export(customer: Annotated[str, typer.Argument(help="The customer's id (exactly as stored).")],
                    output: Annotated[Path | None, typer.Option(help="Write the JSON here instead of printing it.")]
                    = None) -> None:
    """Everything held about a customer as JSON: profile, orders, scores, predictions, alerts, who saw it."""
    with _store_session() as session:
        held = _subject_request(lambda: erasure.export_customer(session, customer, _utcnow()), customer)
        access.record(session, at=_utcnow(), user_id=CLI_USER, channel_id="cli", action="export",
                      what="data subject export", customer_ref=customer, detail={"orders": len(held["orders"])})
        session.commit()
    text = json.dumps(held, indent=2, ensure_ascii=False)
    if output is None:
        print(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    errors.print(f"Wrote everything held about {customer} to {output} ({len(held['orders'])} orders).")


@customer_app.command("erase")
def customer_erase(customer: Annotated[str, typer.Argument(help="The customer's id (exactly as stored).")],
                   yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False) -> None:
    """Erase a customer: personal data and everything derived about them; figures stay, anonymised."""
    with _store_session() as session:
        _subject_request(lambda: erasure.subject(session, customer), customer)  # known, before asking
        if not yes and not typer.confirm(f"Erase customer {customer} for good (this cannot be undone)?"):
            raise UserError("nothing erased")
        try:  # not while a refresh writes scores: it would fail on the missing customer, or score them again
            with locks.held(session.get_bind(), REFRESH_LOCK, locks.process_name(), _utcnow(), timedelta(minutes=10)):
                done = _subject_request(lambda: erasure.erase_customer(session, customer, CLI_USER, _utcnow()),
                                        customer)
        except locks.LockHeld as exc:
            raise UserError(f"nothing erased: a refresh {str(exc).split(' is ', 1)[1]}; erase when it has "
                            "finished") from None
        scrubbed, missing = erasure.scrub_reject_files(erasure.reject_files(session), customer)
    counts = ", ".join(f"{n:,} {what.replace('_', ' ')}" for what, n in done.removed.items())
    console.print(f"Erased customer {customer}: {counts}; {scrubbed:,} rows removed from import reject files. "
                  f"The audit log now knows them as {done.pseudonym}; imports will keep them out.", highlight=False)
    if missing:
        console.print("Reject files recorded by imports but not on this machine (check them by hand): "
                      + ", ".join(missing), highlight=False)
    if done.slack_messages:
        console.print("Alerts that named them were posted in Slack; delete them there: " + ", ".join(
            f"{target} at ts {ts}" for target, ts in done.slack_messages), highlight=False)
    console.print("Other messages already posted in Slack (digests in private channels, answers) are not in the "
                  "store: delete them in Slack if they name this customer.", highlight=False)


def _subject_request(action: Callable[[], T], customer: str) -> T:
    try:
        return action()
    except erasure.AlreadyErased as exc:
        raise UserError(f"customer {customer} was {exc}: the store holds nothing about them") from None
    except erasure.CustomerNotFound:
        raise UserError(f"no customer with id {customer!r}; give the exact id (in `crm-bot console`, "
                        "`/customer NAME` finds it by e-mail or name)") from None


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def _store_session() -> Iterator[Session]:
    """A session on the configured store, after checking its schema is current."""
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    with make_session_factory(deps.engine)() as session:
        yield session


def _refresh(deps: Deps, params: RefreshParams) -> None:
    with errors.status("Refreshing analytics...") as status:
        summary = run_refresh_exclusive(deps.engine, params, keep_runs=deps.settings.keep_analytics_runs,
                                        progress=lambda step: status.update(f"Refreshing: {step}..."))
    console.print(terminal.refresh_summary(summary))


@app.command()
def refresh(
    as_of: Annotated[datetime | None, typer.Option(help="Analyse as of this date (default: the last sale in the "
                                                       "store).", formats=["%Y-%m-%d", "%Y-%m-%d %H:%M"])] = None,
    min_support: Annotated[float, typer.Option(min=0.0001, max=1.0, help="Basket rules: share of orders a "
                                                                         "product combination must appear in.")]
    = RuleParams.min_support,
    min_confidence: Annotated[float, typer.Option(min=0.0, max=1.0, help="Basket rules: minimum confidence.")]
    = RuleParams.min_confidence,
    min_lift: Annotated[float, typer.Option(min=0.0, help="Basket rules: minimum lift.")] = RuleParams.min_lift,
    engine: Annotated[str, typer.Option(help=f"Itemset engine: {', '.join(ENGINES)}.")] = RuleParams.engine,
    top_n: Annotated[int, typer.Option(min=1, max=50, help="Recommendations per customer.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed (clusters, samples, models).")] = 42,
    horizon_days: Annotated[int, typer.Option(min=7, max=365, help="Purchase propensity and expected orders: "
                                                                   "the window ahead, in days.")] = 90,
    clv_months: Annotated[int, typer.Option(min=1, max=60, help="Customer lifetime value horizon in months.")] = 12,
    discount: Annotated[float, typer.Option(min=0.0, max=0.99, help="Yearly discount rate of lifetime value "
                                                                    "(0.10 = 10%).")] = 0.10,
) -> None:
    """Compute segments, clusters, churn and lifetime value, purchase propensity, basket rules and
    recommendations; store them as a new snapshot."""
    if engine not in ENGINES:
        raise UserError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    rules = RuleParams(min_support=min_support, min_confidence=min_confidence, min_lift=min_lift, engine=engine)
    _refresh(deps, RefreshParams(as_of=as_of, random_state=seed, top_n=top_n, horizon_days=horizon_days,
                                 clv_months=clv_months, annual_discount=discount, rules=rules))


@app.command()
def segments(name: Annotated[str | None, typer.Argument(help="A segment, e.g. 'At risk', to see its profile "
                                                             "and most valuable customers.")] = None) -> None:
    """RFM segments of the latest refresh: size, value share, movement, suggested action."""
    with _store_session() as session:
        console.print(terminal.segments(segments_view(session, name)))


@app.command()
def clusters() -> None:
    """Behavioural clusters of the latest refresh, profiled in words, with how k was chosen and their stability."""
    with _store_session() as session:
        console.print(terminal.clusters(clusters_view(session)))


@app.command()
def rules(product: Annotated[str | None, typer.Option(help="Only rules about this product code.")] = None,
          limit: Annotated[int, typer.Option(min=1, max=500)] = 20) -> None:
    """"Customers who buy X also buy Y" rules of the latest refresh, in words and figures."""
    with _store_session() as session:
        console.print(terminal.rules(rules_view(session, product, limit)))


@app.command()
def recommend(customer: Annotated[str, typer.Argument(help="Customer id, e-mail or name.")]) -> None:
    """Products to offer a customer next, each with the reason."""
    with _store_session() as session:
        console.print(terminal.recommendations(recommend_view(session, customer)))


@app.command()
def explain(customer: Annotated[str, typer.Argument(help="Customer id, e-mail or name.")]) -> None:
    """Everything predicted about a customer (propensity, churn, next order, value, builder targets), with why."""
    with _store_session() as session:
        console.print(terminal_predictions.explain(explain_view(session, customer)))


@app.command("model-health")
def model_health_command() -> None:
    """Each prediction model: when and on what it was trained, against baselines, calibration, drift, warnings."""
    with _store_session() as session:
        console.print(terminal_predictions.model_health(model_health(session)))


@app.command()
def train(target: Annotated[str, typer.Option(help="The yes/no customer attribute to predict, e.g. churned.")],
          seed: Annotated[int, typer.Option(help="Random seed (split, models).")] = 42) -> None:
    """Prediction builder: learn a yes/no customer attribute from the others (and from behaviour), score everyone."""
    deps = build_deps()
    ensure_schema(deps.engine, create=False)
    with errors.status(f"Training models for {target!r}..."):
        summary = train_target(deps.engine, target, seed)
    console.print(terminal_predictions.train_report(summary))


@app.command()
def stats() -> None:
    """Show what the store holds."""
    with _store_session() as session:
        console.print(terminal.store_summary(store_summary(session)))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply schema migrations (safe to run any number of times)."""
    deps = build_deps()
    migrate.upgrade(deps.engine, revision)
    console.print(f"Schema at revision {migrate.current_revision(deps.engine)}.")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and the one this version needs."""
    deps = build_deps()
    current, head = migrate.current_revision(deps.engine), migrate.head_revision(deps.engine)
    console.print(f"database: {current or 'empty'}; this version needs: {head}"
                  + ("" if current == head else " (run `crm-bot db upgrade`)"))


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree (run by CI)."""
    deps = build_deps()
    migrate.upgrade(deps.engine)
    migrate.check(deps.engine)
    console.print("Models and migrations agree.")


def main() -> None:
    """Console-script entry point: turn known failures into messages, not tracebacks."""
    try:
        app()
    except (SettingsError, UserError, DatabaseUrlError, UserFacingError, NothingToAnalyse, RefreshBusy) as exc:
        errors.print(f"[red]Error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except ImportFileError as exc:
        done = "\nNothing from this file was written." if exc.nothing_written else ""
        errors.print(f"[red]Cannot import:[/red] {exc}{done}", highlight=False)
        sys.exit(2)
    except OperationalError as exc:
        errors.print(f"[red]Database unavailable:[/red] {str(exc.orig).strip().splitlines()[0]}\n"
                     "Check DATABASE_URL and that the database server is running.", highlight=False)
        sys.exit(3)


if __name__ == "__main__":
    main()


__all__ = ["FORMATS", "app", "main"]
