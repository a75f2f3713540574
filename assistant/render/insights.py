"""Segments, rules, recommendations, accounts at risk, model health and help as Slack messages."""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from analytics import words
from assistant.render.blocks import (
    MAX_BLOCKS,
    Block,
    Message,
    actions,
    button,
    context,
    escape,
    header,
    section,
    sections,
)
from assistant.views import examples
from assistant.views.insights import RecommendView, RulesView, SegmentsView
from assistant.views.predictions import ModelHealth
from db.models import Product


class HelpLine(Protocol):
    """What help shows of a command (the registry's ``CommandSpec`` has these)."""

    @property
    def usage(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def examples(self) -> tuple[str, ...]: ...

LIST_PAGE = 10


def _profile(row: pd.Series, view: SegmentsView) -> str:
    where = f" in {escape(view.country)}" if view.country else ""
    of = f"{escape(view.country)}'s " if view.country else ""
    line = (f"*{escape(str(view.segment))}*{where}: {row['customers']:,} customers ({row['customer_share']:.0%} of "
            f"{of or 'all '}customers), {row['revenue_share']:.0%} of {of}revenue")
    if row["median_orders"] is not None and not pd.isna(row["median_orders"]):
        line += (f"; a typical member has {words.count(row['median_orders'], 'order')}, the last one "
                 f"{words.days_ago(row['median_recency_days'])}")
    return line + "."


EXPORT_ACTION = "crm.export"
"""The Export CSV button; its value is ``KIND|FIRST|SECOND`` (``segment|Champions|Germany``, ``atrisk||France``)."""


def export_button(kind: str, first: str | None = None, second: str | None = None, label: str = "Export CSV"
                  ) -> Block:
    """A button that sends the whole list as a CSV to the clicker's direct messages."""
    return button(label, EXPORT_ACTION, f"{kind}|{first or ''}|{second or ''}")


def _members_page(view: SegmentsView, more: str | None) -> list[Block]:
    if view.members_hidden:
        return [context("Members are not listed here: ask in a direct message (reps, managers and admins).")]
    members = view.members if view.members is not None else pd.DataFrame()
    shown = members.head(LIST_PAGE)
    if shown.empty:
        return [section("No more members." if view.offset else "No members.")]
    lines = [f"{i}. {escape(m.customer_ref)}{f' ({escape(m.name)})' if m.name else ''}: "
             f"{words.count(m.frequency, 'order')}, {words.money(m.monetary_micros / 1e6, view.run.currency)} net, "
             f"last {words.days_ago(m.recency_days)}"
             + (f", {escape(m.country)}" if m.country and not view.country else "")
             for i, m in enumerate(shown.itertuples(), view.offset + 1)]
    blocks = sections(lines, heading="*Most valuable members*")
    buttons = [button("More", "crm.segments", more)] if more is not None and len(members) > LIST_PAGE else []
    blocks.append(actions(*buttons, export_button("segment", view.segment, view.country)))
    return blocks


def segments(view: SegmentsView, more: str | None = None) -> Message:
    """The segment overview, or one segment's profile with a page of its most valuable members.

    ``more`` is the value a "More" button carries to fetch the next page of members.
    """
    table = view.table
    where = f" in {view.country}" if view.country else ""
    as_of = context(f"As of {view.run.as_of:%Y-%m-%d} (run {view.run.id})")
    if view.segment is not None:
        found = table[table["segment"] == view.segment]
        if found.empty:
            text = f"No {view.segment} customers{where}."
            return Message(text=text, blocks=[section(escape(text)), as_of])
        row = found.iloc[0]
        text = f"{view.segment}{where}: {row['customers']:,} customers, {row['revenue_share']:.0%} of revenue"
        if view.offset:  # a "More" page: only the next members
            return Message(text=f"{view.segment}{where}, members from {view.offset + 1}",
                           blocks=[*_members_page(view, more), as_of])
        profile = section(_profile(row, view) + f"\n_Suggested action:_ {escape(row['action'])}")
        return Message(text=text, blocks=[profile, *_members_page(view, more), as_of])
    if table.empty:
        text = f"No customers{where} in the latest analytics."
        return Message(text=text, blocks=[section(escape(text))])
    rows = []
    for r in table.itertuples():
        moved = (f"; {r.moved_in:+,} in / {-r.moved_out:+,} out since last run" if view.has_previous else "")
        action = f"\n    _{escape(r.action)}_" if isinstance(r.action, str) and r.action else ""
        rows.append(f"*{escape(r.segment)}*: {r.customers:,} ({r.customer_share:.0%}), {r.revenue_share:.0%} of "
                    f"revenue{moved}{action}")
    blocks = [header(f"Segments{where} as of {view.run.as_of:%Y-%m-%d}"), *sections(rows)]
    blocks.append(context("`/segments NAME` for a segment's profile and most valuable members"
                          + ("; `--country COUNTRY` for one country." if not view.country else ".")))
    if view.country:  # the country's customers, sent to whoever clicks (at their level, in their DM)
        blocks.append(actions(export_button("country", None, view.country, f"Export {view.country[:40]} as CSV")))
    return Message(text=f"Segments{where}: " + ", ".join(f"{r.segment} {r.customers:,}" for r in table.itertuples()),
                   blocks=blocks)


def rules(view: RulesView, offset: int = 0) -> Message:
    """A page of basket rules in words, strongest first, with "More" when there are more (or why none).

    About one product: the rules from it (what its buyers also buy), or, when none reaches the
    cut-offs, the strongest pairs labelled as weaker; then the other direction, said as such."""
    if view.refusal:
        return Message(text=view.refusal, blocks=[section(escape(view.refusal))])
    if view.product is not None:
        return _product_rules(view)
    shown = view.sentences[offset:offset + LIST_PAGE]
    if not shown:
        text = "No basket rules this run." if offset == 0 else "No more rules."
        return Message(text=text, blocks=[section(text)])
    blocks = [section("\n".join(f"• {escape(s)}" for s in shown)),
              context(f"Rules {offset + 1}-{offset + len(shown)}, strongest first; as of {view.run.as_of:%Y-%m-%d}.")]
    if len(view.sentences) > offset + LIST_PAGE:
        blocks.append(actions(button("More", "crm.rules", f"{view.product or ''}|{offset + LIST_PAGE}")))
    return Message(text=" ".join(shown[:3]), blocks=blocks)


def _product_rules(view: RulesView) -> Message:
    name = view.names.get(str(view.product), str(view.product))
    parts: list[str] = []
    if view.sentences:
        parts.append(f"*What buyers of {escape(name)} also buy*\n"
                     + "\n".join(f"• {escape(s)}" for s in view.sentences[:LIST_PAGE]))
    elif view.weaker_sentences:
        parts.append(f"*What buyers of {escape(name)} also buy*: no rule from it reaches the cut-offs "
                     f"({escape(view.cut_off)}). The strongest pairs, *weaker than the cut-offs*:\n"
                     + "\n".join(f"• {escape(s)} _(weaker)_" for s in view.weaker_sentences))
    else:
        parts.append(f"*What buyers of {escape(name)} also buy*: nothing bought with it often enough to say "
                     f"({escape(view.cut_off)}).")
    if view.reverse_sentences:
        parts.append(f"*The other direction: buyers of these also buy {escape(name)}*\n"
                     + "\n".join(f"• {escape(s)}" for s in view.reverse_sentences[:LIST_PAGE // 2]))
    blocks = [*sections(parts), context(f"As of {view.run.as_of:%Y-%m-%d}; strongest first.")]
    text = " ".join((view.sentences or view.weaker_sentences or view.reverse_sentences)[:2]) or parts[0]
    return Message(text=text, blocks=blocks)


def product_candidates(typed: str, found: list[Product]) -> Message:
    """Several products carry the words typed: one button each, for their rules."""
    lines = [f"*{escape(p.description or p.sku)}* ({escape(p.sku)})" for p in found]
    return Message(text=f"{len(found)} products match {typed[:60]!r}: " + ", ".join(p.sku for p in found),
                   blocks=[section(f"{len(found)} products match *{escape(typed[:60])}*; which one?\n"
                                   + "\n".join(lines)),
                           actions(*[button((p.description or p.sku)[:75], f"crm.rules.{i}", p.sku)
                                     for i, p in enumerate(found)])])


def recommend(view: RecommendView) -> Message:
    """Products to offer a customer, each with the reason."""
    c = view.customer
    lines = [f"{r.rank}. *{escape(r.description or r.sku)}* ({escape(r.sku)}): {escape(r.reason)}"
             for r in view.recommendations.itertuples()]
    body = "\n".join(lines) if lines else "Nothing to recommend."
    notes = [escape(n) for n in view.notes]
    blocks = [section(f"*Offer {escape(c.external_id)} next*\n{body}")]
    if notes:
        blocks.append(context(" ".join(notes)))
    summary = "; ".join(lines) if lines else " ".join(view.notes)
    return Message(text=f"Recommendations for {c.external_id}: {summary}", blocks=blocks)


def at_risk(frame: pd.DataFrame, segment: str | None, meaning: str, offset: int = 0, country: str | None = None,
            more: str | None = None, currency: str | None = None) -> Message:
    """Highest value at stake first: value x churn risk; ``more`` is the next page's button value."""
    where = (f" in {segment}" if segment else "") + (f" in {country}" if country else "")
    if frame.empty:
        text = f"No {'more ' if offset else ''}customers at risk{where}."
        return Message(text=text, blocks=[section(escape(text))])
    lines = [f"{i}. *{escape(r.customer_ref)}*{f' ({escape(r.name)})' if r.name else ''}, {escape(r.segment)}: "
             f"churn risk {r.risk:.2f}, 12-month value {words.money(r.clv_micros / 1e6, currency)}, at stake "
             f"{words.money(r.value_at_stake, currency)}"
             for i, r in enumerate(frame.itertuples(), offset + 1)]
    blocks = [header(f"Accounts at risk{where}"), *sections(lines),
              context(f"Ranked by 12-month value x churn risk ({meaning}).")]
    buttons = [button("More", "crm.atrisk", more)] if more is not None else []
    blocks.append(actions(*buttons, export_button("atrisk", segment, country)))
    return Message(text=f"Accounts at risk{where}: " + "; ".join(lines[:3]), blocks=blocks)


def model_health(items: list[ModelHealth]) -> Message:
    """Each model in a few lines: what, when, how good vs baselines, calibration, drift, warnings."""
    blocks = [header("Model health")]
    texts = []
    for item in items:
        m = item.model
        if m.status != "trained":
            line = f"*{escape(m.target)}*: {m.status}: {escape(m.refusal or '')}"
        else:
            rows = {r["model"]: r for r in m.metrics}
            best = rows.get(m.model_name or "", {})
            baselines = ", ".join(f"{escape(r['model'])} {r['roc_auc']:.3f}" for r in m.metrics
                                  if r["kind"] == "baseline")
            drift = ", ".join(f"{escape(r['feature'])} {r['psi']:.2f}" for r in item.drift[:3])
            data = f" on data up to {m.data_as_of:%Y-%m-%d}" if m.data_as_of else ""
            line = (f"*{escape(m.target)}*: {escape(m.model_name)}, trained {words.days_ago(item.age_days)} "
                    f"({m.trained_at:%Y-%m-%d}){data}, {item.scored:,} scored. ROC AUC {best.get('roc_auc', 0):.3f}, "
                    f"Brier {best.get('brier', 0):.3f} vs baselines {baselines}. Calibration error "
                    f"{(m.training or {}).get('calibration_error', 0):.3f}. Largest drift (PSI): {drift or 'n/a'}.")
            if m.warnings:
                line += "\n:warning: " + "\n:warning: ".join(escape(w) for w in m.warnings)
        texts.append(line)
        if len(blocks) < MAX_BLOCKS - 2:
            block = section(line)
            if m.status == "trained" and m.run_id is None:  # a builder target: its scores for a campaign
                block["accessory"] = export_button("scores", m.target, None, "Export scores")
            blocks.append(block)
    blocks.append(context("Full tables: `crm-bot model-health` in a terminal."))
    return Message(text=" | ".join(texts), blocks=blocks)


def help_message(specs: list[HelpLine]) -> Message:
    """Generated from the command registry, so it lists exactly what exists."""
    lines = [f"`{s.usage}`: {s.summary}" + (f"  e.g. `{s.examples[0]}`" if s.examples else "") for s in specs]
    return Message(text="Commands: " + "; ".join(s.usage for s in specs),
                   blocks=[header("crm-bot commands"), section("\n".join(lines)),
                           context("Mention me with a question too, e.g. "
                                   f"\"@crm tell me about {examples.CUSTOMER}\".")])
