"""Terminal output of the prediction commands: train, explain, model-health."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table

from analytics import words
from assistant.views.predictions import ExplainView, ModelHealth
from db.snapshot_models import CustomerPrediction, PredictionModel

if TYPE_CHECKING:  # training brings scikit-learn: not loaded for `--help`
    from assistant.jobs.training import TrainSummary


def _metrics_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("model", "kind", "ROC AUC", "Brier", "top-10% precision", "top-10% recall"):
        table.add_column(column, justify="left" if column in ("model", "kind") else "right")
    for r in rows:
        table.add_row(str(r["model"]), str(r["kind"]), f"{r['roc_auc']:.3f}", f"{r['brier']:.3f}",
                      f"{r['top_decile_precision']:.2f}", f"{r['top_decile_recall']:.2f}")
    return table


def _reliability_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Calibration (held-out customers): predicted vs what happened", title_justify="left")
    for column in ("probability", "customers", "mean predicted", "observed"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r["bin"]), f"{r['customers']:,}", f"{r['mean_predicted']:.2f}", f"{r['observed_rate']:.2f}")
    return table


def train_report(summary: TrainSummary) -> Group:
    """The builder's comparison, how it chose, what went in and what was left out, and the warnings."""
    r = summary.result
    best = r.table.set_index("model").loc[r.winner]
    unlabelled = r.sizes.get("unlabelled", 0)
    lines: list[RenderableType] = [
        f"Prediction model {summary.model_id} for {r.target!r}: {r.winner} (chosen by cross-validated ROC AUC on "
        f"the training part), ROC AUC {best['roc_auc']:.3f} on {r.sizes['holdout']:,} held-out customers; "
        f"{summary.scored:,} customers scored and explained ({summary.method})"
        + (f", {unlabelled:,} of them without a label (scored, not trained on)" if unlabelled else "")
        + f" in {summary.seconds:.1f} s.",
        _metrics_table(r.table.to_dict("records"), "Held-out comparison (models vs baselines)"),
        escape(f"Settings: {_settings(r.settings)}; calibration: {r.calibration.get('method')} "
               f"(cross-validated Brier {_briers(r.calibration)})."),
    ]
    lines.extend(escape(f"Note: {note}") for note in r.notes)
    selection = Table(title="Signal (mutual information with the label)", title_justify="left")
    for column in ("feature", "share", "used"):
        selection.add_column(column)
    for row in r.selection.itertuples():
        selection.add_row(str(row.feature), f"{row.share:.1%}", "yes" if row.kept else "no")
    lines.append(selection)
    together = [" / ".join(g) for g in r.related if len(g) > 1]
    if together:
        lines.append(escape("Explained together (related columns): " + "; ".join(together)))
    if r.plan.left_out:
        lines.append(escape("Left out: " + "; ".join(f"{k} ({v})" for k, v in r.plan.left_out.items())))
    lines.append(_reliability_table(summary.reliability.to_dict("records")))
    lines.extend(f"Warning: {w}" for w in summary.warnings)
    return Group(*lines)


def _groups_table(kind: str, rows: list[dict[str, Any]]) -> Table:
    """Held-out ROC AUC and calibration per group; "clearly worse" where the model fails that group."""
    table = Table(title=f"By {kind} (groups of at least 100 customers)", title_justify="left")
    for column in (kind, "customers", "ROC AUC", "calibration error", ""):
        table.add_column(column)
    for row in rows[:12]:
        table.add_row(escape(str(row["group"])), f"{row['customers']:,}", f"{row['roc_auc']:.3f}",
                      f"{row['calibration_error']:.3f}", "clearly worse" if row["flagged"] else "")
    return table


def _settings(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in settings.items())


def _briers(calibration: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in calibration.get("cv_brier", {}).items())


def model_health(items: list[ModelHealth]) -> Group:
    """Per model: when, on what, how good against baselines, how calibrated, drift, warnings."""
    parts: list[RenderableType] = []
    for item in items:
        m: PredictionModel = item.model
        training = m.training or {}
        source = f"refresh run {m.run_id}" if m.run_id is not None else "prediction builder"
        head = f"[bold]{m.target}[/bold] ({source}, model {m.id}, {m.version}): "
        if m.status == "refused":
            parts.append(head + f"no model: {m.refusal}")
            continue
        if m.status == "baseline":
            parts.append(head + f"no trained model ({m.refusal}); standing in: {m.model_name}, "
                         f"{item.scored:,} customers scored")
            continue
        sizes = training.get("comparison_sizes") or training
        data = f", on data up to {m.data_as_of:%Y-%m-%d}" if m.data_as_of else ""
        parts.append(head + f"{m.model_name}, trained {m.trained_at:%Y-%m-%d %H:%M} ({words.days_ago(item.age_days)})"
                     f"{data}, on {training.get('customers', training.get('labelled', 0)):,} customers with "
                     f"{training.get('positives', 0):,} positives; {item.scored:,} scored; explanations: "
                     f"{training.get('explanation_method', '?')}; calibration error "
                     f"{training.get('calibration_error', 0):.3f}." + (
                         " Out of time: the comparison learned from orders up to "
                         f"{str(training.get('comparison_train_cutoff'))[:10]} and was checked on what customers did "
                         f"in the {training.get('horizon_days', 90)} days after "
                         f"{str(training.get('comparison_evaluation_cutoff'))[:10]}, on "
                         f"{sizes.get('test_customers', 0):,} customers." if m.run_id is not None else ""))
        parts.append(_metrics_table(m.metrics, "Against baselines"))
        parts.append(_reliability_table(m.reliability))
        if item.drift:
            drift = Table(title="Drift since training (population stability index)", title_justify="left")
            for column in ("feature", "PSI", "reading"):
                drift.add_column(column)
            for row in item.drift[:8]:
                drift.add_row(str(row["feature"]), f"{row['psi']:.3f}", str(row["level"]))
            parts.append(drift)
        samples = training.get("samples")
        if samples:
            parts.append(escape(
                f"Samples of refresh run {m.run_id}: models fitted on {samples['fitting_customers']:,} customers "
                f"(at most {samples['fit_sample_limit']:,}, seeded), lifetime models on "
                f"{samples.get('lifetime_fitted_on') or 0:,} of them, basket rules on "
                f"{samples['basket_share']:.1%} of the sale orders; everyone scored in {samples['partitions']:,} "
                "partition(s)."))
        if training.get("retrained_because"):
            because = "; ".join(training["retrained_because"])
            parts.append(escape(f"Retrained by the scheduled refresh because {because}"))
        for kind, rows in (training.get("groups") or {}).items():
            if rows:
                parts.append(_groups_table(kind, rows))
        warnings = list(m.warnings or []) + [f"major population shift since training in {row['feature']}"
                                             for row in item.drift if row["level"] == "major shift"
                                             and m.run_id is None]
        parts.extend([f"Warning: {w}" for w in warnings] or ["No warnings."])
    return Group(*parts)


def _prediction_line(label: str, prediction: CustomerPrediction | None) -> list[RenderableType]:
    if prediction is None:
        return [f"{label}: not scored (the customer was not in the model's population)"]
    lines: list[RenderableType] = [escape(f"{label}: {prediction.explanation}")]
    if prediction.counterfactual:
        lines.append(escape(f"  What if: {prediction.counterfactual}"))
    # The remainder is shown when it pushes as much as half the strongest factor (stored as "material").
    shown = [f for f in prediction.factors if f["feature"] != "other factors" or f.get("material")]
    if shown:
        table = Table(show_header=True, box=None, padding=(0, 2))
        for column in ("", "factor", "push (model scale)"):
            table.add_column(column)
        for f in shown:
            table.add_row("+" if f["direction"] == "for" else "-", f["phrase"], f"{f['contribution']:+.3f}")
        lines.append(table)
    return lines


def explain(view: ExplainView) -> Group:
    """Everything predicted about one customer, each with its why."""
    c = view.customer
    parts: list[RenderableType] = [f"[bold]Customer {c.external_id}[/bold]{f' ({c.name})' if c.name else ''}"
                           + (f", as of {view.run.as_of:%Y-%m-%d}" if view.run else "")]
    if view.score is not None:
        parts.append(f"Segment {view.score.segment}; {view.score.frequency} orders; last {view.score.recency_days} "
                     "days ago.")
    if view.propensity is not None:
        model, prediction = view.propensity
        if model.status == "refused":
            parts.append(f"Purchase propensity: not predicted ({model.refusal}).")
        else:
            label = "Purchase propensity" + (" (baseline, not a trained model)" if model.status == "baseline" else
                                             f" ({model.model_name})")
            parts.extend(_prediction_line(label, prediction))
    for text in (view.churn_why, view.next_purchase, view.value_why):
        if text:
            parts.append(text[0].upper() + text[1:] + ".")
    for model, prediction in view.builder:
        parts.extend(_prediction_line(f"{model.target} ({model.model_name}, prediction builder)", prediction))
    parts.extend(view.notes)
    return Group(*parts)
