"""Terminal output of the CLI: import reports, store summaries and the import progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from db.importers import ImportReport
from db.stats import StoreSummary

PROGRESS_MIN_ROWS = 5_000
"""Files with fewer rows than this import without a progress bar."""


def _number(value: int) -> str:
    return f"{value:,}"


def import_report(report: ImportReport) -> Group | str:
    """The summary printed after an import: rows read = accepted + rejected, by category and reason."""
    if report.status == "skipped":
        when = f" on {report.previous_finished_at:%Y-%m-%d %H:%M} UTC" if report.previous_finished_at else ""
        return (f"{report.source_name}: this exact file was imported completely before (run "
                f"{report.previous_run_id}{when}, {report.rows_read:,} rows); nothing to do. "
                "Use --force to re-check every row.")
    table = Table(title=f"Import of {report.source_name} ({report.source_format}, run {report.run_id})",
                  show_header=True, title_justify="left")
    table.add_column("rows", justify="right")
    table.add_column("what")
    table.add_row(_number(report.rows_read), "[bold]rows read[/bold]")
    table.add_row(_number(report.accepted), "[bold]accepted[/bold]")
    for code, count in sorted(report.categories.items(), key=lambda item: -item[1]):
        table.add_row(_number(count), f"  {report.describe_category(code)}")
    table.add_row(_number(report.rejected_total), "[bold]rejected[/bold]" + ("" if report.rejected_total
                                                                            else " (none)"))
    for code, count in sorted(report.rejected.items(), key=lambda item: -item[1]):
        table.add_row(_number(count), f"  {report.describe_reason(code)}")
    outcome = Table.grid(padding=(0, 2))
    outcome.add_row("New in the store:", f"{report.stored_new:,} rows ({report.new_customers:,} customers, "
                    f"{report.new_products:,} products, {report.new_orders:,} orders)")
    if report.updated:
        outcome.add_row("Updated:", f"{report.updated:,} rows")
    outcome.add_row("Already stored:", f"{report.already_stored:,} rows (unchanged)")
    for code, count in report.notes.items():
        outcome.add_row("Note:", f"{count:,} {report.describe_note(code)}")
    if report.reject_file:
        outcome.add_row("Rejected rows:", f"{report.reject_file} (line, reason, the row as read)")
    return Group(table, outcome)


def store_summary(summary: StoreSummary, currency: str = "") -> Table:
    """The store in a few lines."""
    table = Table(title="The store now holds", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("customers", _number(summary.customers))
    table.add_row("products (merchandise)", _number(summary.products))
    table.add_row("non-product codes (postage, fees, ...)", _number(summary.non_products))
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.orders_by_kind.items()))
    table.add_row("orders", f"{summary.orders:,}" + (f" ({kinds})" if kinds else ""))
    table.add_row("guest orders (no customer id)", _number(summary.guest_orders))
    table.add_row("order lines", _number(summary.lines))
    if summary.first_order_at and summary.last_order_at:
        table.add_row("date range", f"{summary.first_order_at:%Y-%m-%d} .. {summary.last_order_at:%Y-%m-%d}")
    table.add_row("product sales", f"{currency}{summary.sales_value:,.2f}")
    table.add_row("cancelled or returned", f"{currency}{summary.credit_value:,.2f}")
    table.add_row("all lines, as in the source", f"{currency}{summary.gross_line_value:,.3f}")
    table.add_row("customer countries", _number(summary.countries))
    return table


@contextmanager
def import_progress(console: Console, label: str) -> Iterator[object]:
    """A progress callback ``(done, total)`` showing a bar once the file is big enough to need one."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True,
                        disable=not console.is_terminal)
    task = progress.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        if total >= PROGRESS_MIN_ROWS:
            progress.update(task, completed=done, total=total)

    with progress:
        yield update
