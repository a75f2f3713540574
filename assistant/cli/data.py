"""Getting data in and looking at the store: imports, the demo, stats, schema migrations."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from analytics.words import is_currency
from assistant.cli import terminal
from assistant.cli.deps import Deps, console, deps_of, errors, runner_context, store_session
from assistant.cli.insights import refresh_with_status
from assistant.errors import UserFacingError
from assistant.jobs.refresh.inputs import RefreshParams
from assistant.slack.console_render import CONSOLE_USER
from assistant.views.insights import segments_view
from db import migrate
from db.currencies import mixed_currencies
from db.engine import make_session_factory
from db.importers import ImportOptions, ImportReport, import_file
from db.sample import ONLINE_RETAIL_SAMPLE
from db.snapshots import store_currency
from db.stats import store_summary

import_app = typer.Typer(help="Load CSV exports into the store (idempotent: re-running changes nothing).",
                         no_args_is_help=True)
db_app = typer.Typer(help="Database schema: upgrade, check, current.", no_args_is_help=True)

MapOption = Annotated[list[str], typer.Option("--map", help="Read file column OLD as NEW: --map OLD=NEW "
                                                             "(repeatable).")]
EncodingOption = Annotated[str, typer.Option(help="Text encoding of the file (e.g. cp1252 for old Excel "
                                                  "exports).")]
DateFormatOption = Annotated[str | None, typer.Option(help="strftime layout of the dates if not ISO 8601, "
                                                           "e.g. '%m/%d/%Y %H:%M'.")]
ForceOption = Annotated[bool, typer.Option(help="Re-check every row even if this exact file was imported "
                                                "before.")]
PathArgument = Annotated[Path, typer.Argument(help="CSV file, plain or .gz.")]


def _parse_renames(pairs: list[str]) -> dict[str, str]:
    renames = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise UserFacingError(f"--map {pair!r}: expected FILE_COLUMN=EXPECTED_COLUMN, "
                                  "e.g. --map 'Order No=order_id'")
        renames[old.strip()] = new.strip()
    return renames


def _options(deps: Deps, renames: list[str], encoding: str, date_format: str | None, force: bool,
             currency: str | None = None) -> ImportOptions:
    if currency is not None and not is_currency(currency):
        raise UserFacingError(f"--currency {currency!r}: give an ISO 4217 code, e.g. GBP, EUR, USD")
    return ImportOptions(encoding=encoding, date_format=date_format, renames=_parse_renames(renames),
                         batch_rows=deps.settings.import_batch_rows, reject_dir=deps.settings.rejects_dir,
                         force=force, currency=currency.upper() if currency else None)


def run_import(deps: Deps, source_format: str, path: Path, options: ImportOptions) -> ImportReport:
    """Import with a progress bar and print the report."""
    with terminal.import_progress(errors, f"Importing {path.name}") as progress:
        report = import_file(deps.engine, source_format, path, options, progress=progress)  # type: ignore[arg-type]
    console.print(terminal.import_report(report))
    return report


def _import(ctx: typer.Context, source_format: str, path: Path, renames: list[str], encoding: str,
            date_format: str | None, force: bool, currency: str | None = None) -> None:
    deps = deps_of(ctx)
    run_import(deps, source_format, path, _options(deps, renames, encoding, date_format, force, currency))


@import_app.command("online-retail")
def import_online_retail(ctx: typer.Context, path: PathArgument,
                         renames: MapOption = [],  # noqa: B006 (typer reads the default)
                         encoding: EncodingOption = "utf-8", date_format: DateFormatOption = None,
                         force: ForceOption = False) -> None:
    """UCI Online Retail / Online Retail II (InvoiceNo or Invoice, UnitPrice or Price, CustomerID or Customer ID)."""
    _import(ctx, "online-retail", path, renames, encoding, date_format, force)


@import_app.command("customers")
def import_customers(ctx: typer.Context, path: PathArgument, renames: MapOption = [],  # noqa: B006
                     encoding: EncodingOption = "utf-8", date_format: DateFormatOption = None,
                     force: ForceOption = False) -> None:
    """Customers: customer_id, name, email, phone, country, created_at, owner (+ any extra attribute columns)."""
    _import(ctx, "customers", path, renames, encoding, date_format, force)


@import_app.command("owners")
def import_owners_file(ctx: typer.Context, path: Annotated[Path, typer.Argument(help="CSV with customer_id,owner.")]
                       ) -> None:
    """Account owners in bulk: customer_id,owner (a Slack member id or an e-mail); rows that fail change nothing."""
    from assistant.cli.admin import people_for
    from assistant.commands.owner_file import import_owners

    deps = deps_of(ctx)
    context = replace(runner_context(deps, CONSOLE_USER), people=people_for(deps))
    with store_session(ctx) as session:
        report = import_owners(session, path, context, "cli", context.now())
    console.print(f"Owners from {path.name}: {report.changed:,} accounts handed over, {report.unchanged:,} already "
                  f"with that owner, {len(report.rejected):,} rows rejected.", highlight=False)
    for line, ref, why in report.rejected[:20]:
        errors.print(f"  line {line}: {ref or '(blank)'}: {why}", highlight=False)
    if len(report.rejected) > 20:
        errors.print(f"  ... and {len(report.rejected) - 20:,} more", highlight=False)
    if report.rejected:
        raise typer.Exit(1)


@import_app.command("orders")
def import_orders(ctx: typer.Context, path: PathArgument, renames: MapOption = [],  # noqa: B006
                  encoding: EncodingOption = "utf-8", date_format: DateFormatOption = None,
                  force: ForceOption = False,
                  currency: Annotated[str | None, typer.Option(help="ISO code of the prices (e.g. EUR), when "
                                                                    "they carry no £/€/¥ symbol.")] = None) -> None:
    """Orders, one row per line: order_id, customer_id, date, sku, description, quantity, unit_price, status."""
    _import(ctx, "orders", path, renames, encoding, date_format, force, currency)


@import_app.command("shopify")
def import_shopify(ctx: typer.Context, path: PathArgument, encoding: EncodingOption = "utf-8",
                   force: ForceOption = False) -> None:
    """Shopify's order export (Orders > Export): line items, refunds and cancellations as credits, each order's
    currency; customers are known by their e-mail."""
    _import(ctx, "shopify", path, [], encoding, None, force)


@import_app.command("woocommerce")
def import_woocommerce(ctx: typer.Context, path: PathArgument, encoding: EncodingOption = "utf-8",
                       force: ForceOption = False) -> None:
    """WooCommerce's order export (Customer/Order/Coupon Export, one row per item): item refunds, cancellations
    and refunded orders as credits, each order's currency."""
    _import(ctx, "woocommerce", path, [], encoding, None, force)


def demo(ctx: typer.Context,
         database: Annotated[Path | None, typer.Option(help="SQLite file to use instead of DATABASE_URL.")]
         = None) -> None:
    """Create the store, load the bundled Online Retail sample and show what is in it. No Slack needed."""
    deps = deps_of(ctx, database)
    console.print(f"Store: [bold]{deps.engine.url.render_as_string(hide_password=True)}[/bold]")
    migrate.upgrade(deps.engine)
    report = run_import(deps, "online-retail", ONLINE_RETAIL_SAMPLE, _options(deps, [], "utf-8", None, False))
    if report.status == "skipped":
        console.print("The sample is already loaded.")
    with make_session_factory(deps.engine)() as session:
        console.print(terminal.store_summary(store_summary(session), store_currency(session)))
    refresh_with_status(deps, RefreshParams())
    with make_session_factory(deps.engine)() as session:
        console.print(terminal.segments(segments_view(session)))
    console.print("Sample: UCI Online Retail subset (CC BY 4.0, Chen et al. 2012); see db/sample/README.md. It is "
                  "historical (2010-12-01 to 2011-12-09), so answers count days back from its last day and the "
                  "digest says how old the data is.\n"
                  "Try: `crm-bot segments 'At risk'`, `crm-bot explain 12748`, `crm-bot model-health`, "
                  "`crm-bot digest run --dry-run`, `crm-bot console` (then `/crm digest preview`).\n"
                  "`crm-bot import online-retail PATH.csv.gz` loads a full export into the same store.")
    if sys.stdin.isatty() and sys.stdout.isatty():
        from assistant.slack.console import run_console  # the Bolt app: loaded only to talk to it

        console.print("\nNow talking to the bot as in Slack (a local fake Slack; no workspace needed).")
        run_console(runner_context(deps, CONSOLE_USER), console)


def stats(ctx: typer.Context) -> None:
    """Show what the store holds."""
    with store_session(ctx) as session:
        console.print(terminal.store_summary(store_summary(session), store_currency(session)))
        mixed = mixed_currencies(session)
    if mixed:
        errors.print(f"[yellow]Note:[/yellow] {mixed}.", highlight=False)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply schema migrations (safe to run any number of times)."""
    engine = deps_of(ctx).engine
    migrate.upgrade(engine, revision)
    console.print(f"Schema at revision {migrate.current_revision(engine)}.")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision of the database and the one this version needs."""
    engine = deps_of(ctx).engine
    current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    console.print(f"database: {current or 'empty'}; this version needs: {head}"
                  + ("" if current == head else " (run `crm-bot db upgrade`)"))


@db_app.command("check")
def db_check(ctx: typer.Context) -> None:
    """Fail if the models and the migrations disagree (run by CI)."""
    engine = deps_of(ctx).engine
    migrate.upgrade(engine)
    migrate.check(engine)
    console.print("Models and migrations agree.")


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.add_typer(import_app, name="import")
    app.command()(demo)
    app.command()(stats)
    app.add_typer(db_app, name="db")
