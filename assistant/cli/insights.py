"""The analytics at the terminal: refresh, segments, clusters, rules, recommendations, predictions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from analytics import words
from analytics.builder_limits import DEFAULT_BUDGET_SECONDS
from analytics.rules import ENGINES, RuleParams
from assistant.cli import terminal, terminal_predictions
from assistant.cli.deps import CLI_USER, Deps, console, deps_of, errors, runner_context, store_session
from assistant.commands import insights as insight_commands
from assistant.commands.answer import answer
from assistant.commands.base import Request
from assistant.errors import UserFacingError
from assistant.jobs.exports import write_csv_atomically
from assistant.jobs.refresh.inputs import RefreshParams
from assistant.slack.console_render import Reply
from assistant.slack.console_render import render as render_reply
from assistant.views.insights import clusters_view, recommend_view, rules_view, segments_view
from assistant.views.list_exports import ListExport, list_export
from assistant.views.policy import Viewer
from assistant.views.predictions import explain_view, model_health
from assistant.views.score_exports import EXPORT_COLUMNS, score_export
from db import currencies


def refresh_with_status(deps: Deps, params: RefreshParams, explain_plan: bool = False) -> None:
    """Run the refresh (never two at once) with a live status line, then print its summary; with
    ``explain_plan``, print what it would do instead."""
    from assistant.jobs.refresh.executor import executor_for
    from assistant.jobs.refresh.run import plan_refresh, run_refresh_exclusive  # scikit-learn: only when refreshing

    params = replace(params, currency=params.currency or deps.settings.currency or None)
    executor = executor_for(deps.settings.dask_scheduler, deps.engine.dialect.name,
                                deps.settings.refresh_workers)
    try:
        if explain_plan:
            console.print("\n".join(plan_refresh(deps.engine, params, executor).describe()))
            return
        with errors.status("Refreshing analytics...") as status:
            summary = run_refresh_exclusive(deps.engine, params, keep_runs=deps.settings.keep_analytics_runs,
                                            progress=lambda step: status.update(f"Refreshing: {step}..."),
                                            executor=executor)
    finally:
        executor.close()
    console.print(terminal.refresh_summary(summary))


def refresh(
    ctx: typer.Context,
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
    explain_plan: Annotated[bool, typer.Option("--explain-plan", help="Print the steps, sample sizes and partitions "
                                                                      "this refresh would use, and stop.")] = False,
    currency: Annotated[str | None, typer.Option(help="With orders in several currencies: analyse this one's "
                                                      "(default: CRM_CURRENCY, else the one most orders are in; "
                                                      "the others are kept apart, never converted).")] = None,
) -> None:
    """Compute segments, clusters, churn and lifetime value, purchase propensity, basket rules and
    recommendations; store them as a new snapshot."""
    if engine not in ENGINES:
        raise UserFacingError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    rules = RuleParams(min_support=min_support, min_confidence=min_confidence, min_lift=min_lift, engine=engine)
    refresh_with_status(deps_of(ctx), RefreshParams(as_of=as_of, random_state=seed, top_n=top_n,
                                                    horizon_days=horizon_days, clv_months=clv_months,
                                                    annual_discount=discount, rules=rules,
                                                    currency=_held_currency(ctx, currency)), explain_plan)


def _held_currency(ctx: typer.Context, code: str | None) -> str | None:
    """``--currency`` checked: an ISO code, and one the store holds orders in when its orders say."""
    if code is None:
        return None
    code = code.strip().upper()
    if not words.is_currency(code):
        raise UserFacingError(f"--currency {code!r} is not an ISO 4217 currency code (e.g. GBP, EUR, USD)")
    with store_session(ctx) as session:
        held = currencies.order_currencies(session)
    if held and code not in held:
        listed = ", ".join(f"{c} ({n:,} orders)" for c, n in held.items())
        raise UserFacingError(f"--currency {code}: the store holds no orders in {code}; its orders are in {listed}")
    return code


CSV_OPTION = typer.Option("--csv", help="Write the whole list (every customer, all fields) to this CSV file "
                                         "for a campaign tool (replaced if it exists).", dir_okay=False)
TERMINAL = Viewer(CLI_USER, "admin", "im")
"""Who runs the command line: this installation's operator, who sees everything."""


def _export(listed: ListExport, path: Path) -> None:
    written = write_csv_atomically(path, listed.columns, listed.rows)
    console.print(f"{written:,} customers written to {path} ({listed.title}).", highlight=False)


def segments(ctx: typer.Context,
             name: Annotated[str | None, typer.Argument(help="A segment, e.g. 'At risk', to see its profile "
                                                             "and most valuable customers.")] = None,
             csv_path: Annotated[Path | None, CSV_OPTION] = None) -> None:
    """RFM segments of the latest refresh: size, value share, movement, suggested action."""
    with store_session(ctx) as session:
        view = segments_view(session, name)
        if csv_path is None:
            console.print(terminal.segments(view))
            return
        if view.segment is None:
            raise UserFacingError("say which segment to export: `crm-bot segments \"At risk\" --csv FILE`")
        _export(list_export(session, TERMINAL, "segment", view.segment), csv_path)


def atrisk(ctx: typer.Context,
           segment: Annotated[str | None, typer.Argument(help="Only this segment, e.g. Champions.")] = None,
           country: Annotated[str | None, typer.Option(help="Only customers in this country.")] = None,
           top: Annotated[int, typer.Option(min=1, max=50, help="How many to print.")] = 10,
           csv_path: Annotated[Path | None, CSV_OPTION] = None) -> None:
    """The customers with the most value at stake (12-month value x churn risk), or all of them as CSV."""
    deps = deps_of(ctx)
    typed = " ".join([f'"{segment}"' if segment else "", f"--top {top}",
                      f'--country "{country}"' if country else ""]).strip()
    if csv_path is None:
        message = answer(insight_commands.at_risk, Request(CLI_USER, "", typed), runner_context(deps, CLI_USER))
        render_reply(Reply(message.text, message.blocks), console)
        return
    found_segment, _, found_country = insight_commands.at_risk_args(typed)
    with store_session(ctx) as session:
        country_name = insight_commands.country_in_store(session, found_country)
        _export(list_export(session, TERMINAL, "atrisk", found_segment, country_name), csv_path)


def clusters(ctx: typer.Context) -> None:
    """Behavioural clusters of the latest refresh, profiled in words, with how k was chosen and their stability."""
    with store_session(ctx) as session:
        console.print(terminal.clusters(clusters_view(session)))


def rules(ctx: typer.Context,
          product: Annotated[str | None, typer.Option(help="Only rules about this product code.")] = None,
          limit: Annotated[int, typer.Option(min=1, max=500)] = 20) -> None:
    """"Customers who buy X also buy Y" rules of the latest refresh, in words and figures."""
    with store_session(ctx) as session:
        console.print(terminal.rules(rules_view(session, product, limit)))


def recommend(ctx: typer.Context,
              customer: Annotated[str, typer.Argument(help="Customer id, e-mail or name.")]) -> None:
    """Products to offer a customer next, each with the reason."""
    with store_session(ctx) as session:
        console.print(terminal.recommendations(recommend_view(session, customer)))


def explain(ctx: typer.Context, customer: Annotated[str, typer.Argument(help="Customer id, e-mail or name.")]) -> None:
    """Everything predicted about a customer (propensity, churn, next order, value, builder targets), with why."""
    with store_session(ctx) as session:
        console.print(terminal_predictions.explain(explain_view(session, customer)))


def model_health_command(ctx: typer.Context) -> None:
    """Each prediction model: when and on what it was trained, against baselines, calibration, drift, warnings."""
    with store_session(ctx) as session:
        console.print(terminal_predictions.model_health(model_health(session)))


def train(ctx: typer.Context,
          target: Annotated[str, typer.Option(help="The yes/no customer attribute to predict, e.g. churned.")],
          seed: Annotated[int, typer.Option(help="Random seed (split, models).")] = 42,
          budget_seconds: Annotated[float, typer.Option(
              help="Time for tuning the models' settings by cross-validation (more: more settings tried).")]
          = DEFAULT_BUDGET_SECONDS,
          actionable: Annotated[list[str] | None, typer.Option(
              help="A column a person can change (repeat for several); what-ifs are offered only for these.")]
          = None,
          goal: Annotated[str | None, typer.Option(
              help="Which way of the score is wanted: lower (e.g. churn) or higher (e.g. a purchase); "
                   "what-ifs then only go that way.")] = None) -> None:
    """Prediction builder: learn a yes/no customer attribute from the others (and from behaviour), score everyone."""
    from assistant.jobs.training import train_target  # scikit-learn: only when training

    deps = deps_of(ctx)
    with errors.status(f"Training models for {target!r} (tuning for up to {budget_seconds:g} s)..."):
        summary = train_target(deps.engine, target, seed, budget_seconds=budget_seconds,
                               actionable=actionable or (), goal=goal)
    console.print(terminal_predictions.train_report(summary))


def scores(ctx: typer.Context,
           target: Annotated[str, typer.Option(help="purchase, churn, or a prediction-builder target.")],
           csv_path: Annotated[Path, typer.Option("--csv", help="The CSV file to write (replaced if it exists).",
                                                  dir_okay=False)]) -> None:
    """Export every customer's score with its top reasons as CSV, highest first, for a campaign tool."""
    with store_session(ctx) as session:
        export = score_export(session, target)
        written = write_csv_atomically(csv_path, EXPORT_COLUMNS, export.rows)
    console.print(f"{written:,} customers written to {csv_path} ({export.meaning}).", highlight=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    for command in (refresh, segments, atrisk, clusters, rules, recommend, explain):
        app.command()(command)
    app.command("model-health")(model_health_command)
    app.command()(train)
    app.command()(scores)
