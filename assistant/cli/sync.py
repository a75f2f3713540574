"""``crm-bot sync``: bring new and changed orders and customers from the sources file's databases and
the inbox folder."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from assistant.cli import terminal
from assistant.cli.deps import Deps, console, deps_of, errors
from assistant.jobs.refresh.inputs import RefreshParams
from assistant.jobs.sync import SyncOutcome, run_sync, sources_of


def sync(
    ctx: typer.Context,
    source: Annotated[list[str], typer.Option("--source", help="Sync only this source of the sources file "
                                              "(repeatable); default: all of them.")] = [],  # noqa: B006
    full: Annotated[bool, typer.Option(help="Read every row again, not only rows changed since the last sync "
                                            "(rows without a watermark included); nothing is stored twice.")] = False,
    refresh: Annotated[bool, typer.Option(help="Refresh the analytics afterwards if anything new arrived.")]
    = False,
    details: Annotated[bool, typer.Option(help="Print each query's full import report.")] = False,
) -> None:
    """Sync the databases of CRM_SOURCES_FILE (incrementally, by watermark) and the files of CRM_INBOX_DIR into
    the store; never two syncs at once."""
    deps = deps_of(ctx)
    sources = sources_of(deps.settings.sources_file, source)
    inbox = deps.settings.inbox_dir if not source else None  # --source picks databases only
    if not sources and inbox is None:
        errors.print("Nothing to sync: set CRM_SOURCES_FILE to a TOML file naming the databases to read, or "
                     "CRM_INBOX_DIR to a folder exports are dropped in (docs/syncing.md).")
        raise typer.Exit(1)
    with errors.status("Syncing...") as status:
        outcome = run_sync(deps.engine, sources, timezone=deps.settings.timezone, reject_dir=deps.settings.rejects_dir,
                           full=full, inbox=inbox, batch_rows=deps.settings.import_batch_rows,
                           progress=lambda what, rows: status.update(f"Syncing {what}: {rows:,} rows..."))
    console.print(sync_table(outcome))
    if details:
        for part in outcome.parts:
            if part.report:
                console.print(terminal.import_report(part.report))
    for part in outcome.failed:
        errors.print(f"[red]{part.source} ({part.part}):[/red] {part.error}", highlight=False)
    if refresh and outcome.brought_data:
        _refresh(deps)
    elif outcome.brought_data:
        console.print("New data arrived: run `crm-bot refresh` (or sync with --refresh) to update the analytics.")
    if outcome.failed:
        raise typer.Exit(1)


def _refresh(deps: Deps) -> None:
    from assistant.cli.insights import refresh_with_status
    refresh_with_status(deps, RefreshParams())


def sync_table(outcome: SyncOutcome) -> Table:
    """One row per source query: rows read, what they changed, what was rejected, or the failure."""
    table = Table(title="Sync", title_justify="left")
    for column in ("source", "part", "rows read", "new", "updated", "unchanged", "rejected", "result"):
        table.add_column(column, justify="right" if column not in ("source", "part", "result") else "left")
    for part in outcome.parts:
        report = part.report
        if report is None:
            table.add_row(part.source, part.part, "", "", "", "", "", "[red]failed[/red]")
            continue
        if report.status == "skipped":
            table.add_row(part.source, part.part, f"{report.rows_read:,}", "0", "0", f"{report.rows_read:,}", "0",
                          "imported before")
            continue
        changed = report.updated + report.notes.get("orders_changed", 0)
        table.add_row(part.source, part.part, f"{report.rows_read:,}", f"{report.stored_new:,}", f"{changed:,}",
                      f"{report.already_stored:,}", f"{report.rejected_total:,}",
                      f"rejects: {report.reject_file}" if report.reject_file else "ok")
    return table


def register(app: typer.Typer) -> None:
    """Add ``sync`` to the root app."""
    app.command("sync")(sync)
