"""Terminal output of the CLI: import reports, store summaries and the import progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from analytics import words
from assistant.views.insights import ClustersView, RecommendView, RulesView, SegmentsView
from db import currencies
from db.importers import ImportReport
from db.stats import StoreSummary

if TYPE_CHECKING:  # the refresh brings scikit-learn: not loaded for `--help`
    from assistant.jobs.refresh.run import RefreshSummary

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


def store_summary(summary: StoreSummary, currency: str | None = None) -> Table:
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
    table.add_row("product sales", words.money(float(summary.sales_value), currency, 2))
    table.add_row("cancelled or returned", words.money(float(summary.credit_value), currency, 2))
    table.add_row("all lines, as in the source", words.money(float(summary.gross_line_value), currency, 3))
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


def refresh_summary(summary: RefreshSummary) -> Group:
    """What a refresh computed, and what it refused to compute and why."""
    results = summary.results
    lines = [f"Analytics run {summary.run_id} as of {summary.as_of:%Y-%m-%d %H:%M}: "
             f"{words.count(summary.customers, 'customer')} with purchases scored in {summary.seconds:.1f} s."]
    kept = currencies.kept_apart_words(results.get("kept_apart") or {}, results.get("currency"))
    if kept:
        lines.append(f"Money: {kept}; set CRM_CURRENCY to analyse another currency.")
    clusters = results.get("clusters", {})
    if "refused" in clusters:
        lines.append(f"Clusters: none ({clusters['refused']}).")
    else:
        scores = ", ".join(f"k={k}: {v:.3f}" for k, v in clusters["silhouette_by_k"].items())
        lines.append(f"Clusters: {clusters['k']} chosen by silhouette ({scores}); stability under another seed: "
                     f"adjusted Rand index {clusters['stability_ari']:.3f}.")
    rules = results.get("rules", {})
    if "refused" in rules:
        lines.append(f"Basket rules: none ({rules['refused']}).")
    else:
        lines.append(f"Basket rules: {rules['rules']:,} from {rules['itemsets']:,} frequent itemsets in "
                     f"{rules['baskets']:,} orders ({rules['dropped_large']:,} orders over {rules['max_basket_items']} "
                     f"products left out); min support {rules['min_support']:.1%}, confidence "
                     f"{rules['min_confidence']:.0%}, lift {rules['min_lift']:g}.")
    lifetime = results.get("lifetime", {})
    if "refused" in lifetime:
        lines.append(f"Churn and lifetime value: none ({lifetime['refused']}).")
    elif lifetime:
        m = lifetime["purchases"]
        lines.append(f"Churn and lifetime value: {lifetime['model']} fitted on {lifetime['fitted_on']:,} customers "
                     f"(r {m['r']:.3f}, alpha {m['alpha']:.2f}, a {m['a']:.3f}, b {m['b']:.3f}); "
                     f"{lifetime['clv_months']}-month value discounted at {lifetime['annual_discount']:.0%} a year.")
        if lifetime.get("choice"):
            lines.append(f"  {lifetime['choice']['chosen']} chosen over the other: {lifetime['choice']['reason']}.")
        if not lifetime.get("dropout_identified", True):
            lines.append("  Note: this history shows no measurable drop-out (fitted a/(a+b) under 0.001, usual for a "
                         "year of data), so P(alive) is not used; churn risk is read from purchase propensity.")
    propensity = results.get("propensity", {})
    if propensity.get("refused"):
        stand_in = f"; standing in: {propensity['stand_in']}" if propensity.get("stand_in") else ""
        lines.append(f"Purchase propensity: no trained model ({propensity['refused']}){stand_in}.")
    elif propensity:
        lines.append(f"Purchase propensity: {propensity['model']} chosen out of time (ROC AUC "
                     f"{propensity['roc_auc']:.3f}, Brier {propensity['brier']:.3f}); {propensity['scored']:,} "
                     "customers scored and explained. See `crm-bot model-health`.")
        against = propensity.get("against_previous")
        if against:
            lines.append(f"  Against the previous procedure ({against['previous']}): ROC AUC "
                         f"{against['difference']:+.4f} (95% paired bootstrap interval {against['low']:+.4f} to "
                         f"{against['high']:+.4f}).")
        lines.extend(f"  Warning: {w}" for w in propensity.get("warnings", []))
    recs = results.get("recommendations", {})
    lines.append(f"Recommendations: {recs.get('rows', 0):,} for {recs.get('customers', 0):,} customers.")
    importance = Table(title="What drives it (mutual information, share of the total)", title_justify="left")
    importance.add_column("feature")
    for target in results.get("feature_importance", {}):
        importance.add_column(target.replace("_", " "), justify="right")
    features = [row["feature"] for row in next(iter(results.get("feature_importance", {}).values()), [])]
    for feature in features:
        cells = []
        for rows in results["feature_importance"].values():
            share = next((r["share"] for r in rows if r["feature"] == feature), None)
            cells.append(f"{share:.0%}" if share is not None else "-")
        importance.add_row(feature.replace("_", " "), *cells)
    return Group(*lines, importance)


def clusters(view: ClustersView) -> Group | str:
    """Cluster profiles, how k was chosen, stability, and the features that separate them."""
    if view.refusal:
        return view.refusal
    info = view.run.results["clusters"]
    table = Table(title=f"Customer clusters as of {view.run.as_of:%Y-%m-%d} (run {view.run.id})", title_justify="left")
    for column, justify in (("#", "right"), ("customers", "right"), ("revenue", "right"), ("profile", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for c in view.table.itertuples():
        table.add_row(str(c.cluster), f"{c.customers:,} ({c.customer_share:.0%})", f"{c.revenue_share:.0%}",
                      c.description)
    scores = ", ".join(f"k={k}: {v:.3f}" for k, v in info["silhouette_by_k"].items())
    drivers = view.run.results.get("feature_importance", {}).get("cluster", [])[:3]
    said = "; ".join(f"{d['description']} ({d['share']:.0%})" for d in drivers)
    return Group(table, f"k = {info['k']} by silhouette on a sample of up to {info['silhouette_sample']:,} customers "
                        f"({scores}).",
                 f"Stability: adjusted Rand index {info['stability_ari']:.3f} against a fit with another seed "
                 "(1 = the same clusters).", f"What separates them most: {said}." if said else "")


def segments(view: SegmentsView) -> Group:
    """The segment overview (size, value share, movement, action) or one segment's profile."""
    title = f"Segments as of {view.run.as_of:%Y-%m-%d} (run {view.run.id})"
    currency = view.run.currency
    table = Table(title=title, title_justify="left")
    for column, justify in (("segment", "left"), ("customers", "right"), ("revenue", "right"),
                            ("movement", "right"), ("suggested action", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    rows = view.table if view.segment is None else view.table[view.table["segment"] == view.segment]
    for row in rows.itertuples():
        movement = "first run" if not view.has_previous else f"+{row.moved_in} / -{row.moved_out}"
        table.add_row(row.segment, f"{row.customers:,} ({row.customer_share:.0%})",
                      f"{words.money(row.revenue_micros / 1e6, currency)} ({row.revenue_share:.0%})", movement,
                      row.action)
    parts: list[RenderableType] = [table]
    if view.members is not None:
        members = Table(title=f"Most valuable {view.segment} customers", title_justify="left")
        for column in ("customer", "country", "orders", "last order", "spend", "last run"):
            members.add_column(column)
        for m in view.members.itertuples():
            members.add_row(f"{m.customer_ref}{f' {m.name}' if m.name else ''}", m.country or "", str(m.frequency),
                            words.days_ago(m.recency_days), words.money(m.monetary_micros / 1e6, currency),
                            m.previous_segment or "-")
        parts.append(members if len(view.members) else f"No customers in {view.segment} this run.")
    return Group(*parts)


def rules(view: RulesView) -> Group | str:
    """Rules in words, then as a table with every metric; about one product, both directions and,
    when no rule from it reaches the cut-offs, its strongest weaker pairs."""
    if view.refusal:
        return view.refusal
    table = Table(title=f"Basket rules as of {view.run.as_of:%Y-%m-%d} (run {view.run.id})", title_justify="left")
    for column in ("if they buy", "they also buy", "orders", "support", "confidence", "lift", "leverage",
                   "conviction"):
        table.add_column(column, justify="left" if column.startswith(("if", "they")) else "right")
    for r in (*view.rules.itertuples(), *view.reverse.itertuples()):
        conviction = "∞" if r.conviction is None or pd.isna(r.conviction) else f"{r.conviction:.2f}"
        table.add_row(" + ".join(view.names.get(s, s) for s in r.antecedent),
                      view.names.get(r.consequent, r.consequent),
                      f"{r.count:,}", f"{r.support:.2%}", f"{r.confidence:.0%}", f"{r.lift:.1f}", f"{r.leverage:.4f}",
                      conviction)
    if view.product is None:
        return Group(*view.sentences[:5], table)
    name = view.names.get(view.product, view.product)
    parts: list[RenderableType] = [f"What buyers of {name} also buy:", *view.sentences[:5]]
    if not view.sentences and view.weaker_sentences:
        parts += [f"no rule from it reaches the cut-offs ({view.cut_off}); the strongest pairs, weaker:",
                  *[f"{s} (weaker)" for s in view.weaker_sentences]]
    elif not view.sentences:
        parts.append(f"nothing bought with it often enough to say ({view.cut_off}).")
    if view.reverse_sentences:
        parts += [f"The other direction: buyers of these also buy {name}:", *view.reverse_sentences[:5]]
    if table.row_count:
        parts.append(table)
    return Group(*parts)


def recommendations(view: RecommendView) -> Group:
    """A customer's recommendations with reasons, and any caveat."""
    c = view.customer
    head = f"Customer {c.external_id}{f' ({c.name})' if c.name else ''}, {c.country or 'country unknown'}"
    if view.score is not None:
        head += (f": {view.score.segment}, {words.count(view.score.frequency, 'order')}, last "
                 f"{words.count(view.score.recency_days, 'day')} before "
                 f"{view.run.as_of:%Y-%m-%d}")
    parts: list[RenderableType] = [head]
    life = view.lifetime
    if life is not None:
        horizon = view.run.params.get("horizon_days", 90)
        months = view.run.params.get("clv_months", 12)
        money = view.run.currency
        parts.append(f"Outlook: {life.p_alive:.0%} likely still active; about {life.expected_purchases:.1f} orders "
                     f"expected in the next {horizon} days; {months}-month value "
                     f"{words.money(life.clv_micros / 1e6, money)} (range "
                     f"{words.money(life.clv_low_micros / 1e6, money)} to "
                     f"{words.money(life.clv_high_micros / 1e6, money)}).")
    if not view.recommendations.empty:
        table = Table(title="Recommended products", title_justify="left")
        for column in ("#", "product", "why"):
            table.add_column(column)
        for r in view.recommendations.itertuples():
            table.add_row(str(r.rank), f"{r.description or r.sku} ({r.sku})", r.reason)
        parts.append(table)
    parts.extend(view.notes)
    return Group(*parts)
