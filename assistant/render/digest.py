"""The digest as a Slack message (and, through the same blocks, as terminal text).

``disclose_people`` is decided by the caller from where the digest goes: a public or shared
channel gets counts only ("3 high-value customers' risk jumped"), never names or ids.
"""

from __future__ import annotations

from datetime import timedelta

from analytics import words
from analytics.digest import KPIS, MONEY_KPIS, KpiChange
from analytics.rfm import SEGMENTS
from assistant.render.blocks import Message, context, escape, fields_section, header, section, sections
from assistant.views.digest import Digest
from assistant.views.insights import rule_sentence


def _pct(change: float | None) -> str:
    return words.change(change)


def _value(change: KpiChange, currency: str | None) -> str:
    return words.money(change.now, currency) if change.kpi in MONEY_KPIS else f"{change.now:,.0f}"


def _kpi_field(change: KpiChange, digest: Digest) -> str:
    unit = digest.unit
    return (f"*{KPIS[change.kpi].capitalize()}*\n{_value(change, digest.currency)}  "
            f"({_pct(change.vs_previous)} vs the previous {unit}, {_pct(change.vs_median)} vs the 8-{unit} median)")


def _anomaly_line(change: KpiChange, digest: Digest) -> str:
    direction = "unusually high" if change.now > change.median else "unusually low"
    line = (f":warning: {KPIS[change.kpi].capitalize()} {_value(change, digest.currency)}: "
            f"{_pct(change.vs_median)} vs the "
            f"8-{digest.unit} median, {direction} (robust z {change.z:+.1f})")
    if change.kpi == "net_revenue" and digest.driver is not None:
        signed = ("+" if digest.driver.change > 0 else "") + words.money(digest.driver.change, digest.currency)
        line += f", driven by the {digest.driver.segment} segment ({signed} against its usual {digest.unit})"
    return line + "."


def _period(digest: Digest) -> str:
    last_day = digest.end - timedelta(days=1)
    if digest.cadence == "daily":
        return f"{last_day:%a %d %b %Y}"
    return f"{digest.start:%d %b} - {last_day:%d %b %Y}"


def headline(digest: Digest) -> str:
    """One sentence: the period's revenue and orders against last period, and what stood out."""
    revenue, orders = digest.changes[0], digest.changes[1]
    unusual = [KPIS[c.kpi] for c in digest.changes if c.anomalous]
    text = (f"{digest.cadence.capitalize()} digest {_period(digest)}"
            f"{' (' + digest.segment + ')' if digest.segment else ''}: revenue "
            f"{words.money(revenue.now, digest.currency)} ({_pct(revenue.vs_previous)}), "
            f"{words.count(orders.now, 'order')} ({_pct(orders.vs_previous)})")
    if unusual:
        text += "; unusual: " + ", ".join(unusual)
    elif digest.quiet:
        text += f"; a quiet {digest.unit}"
    return text + "."


def _moves(digest: Digest, min_group: int = 1) -> list[str]:
    if digest.previous_run is None:
        return []
    since = f"since run {digest.previous_run.id} ({digest.previous_run.as_of:%Y-%m-%d})"
    if not digest.moved_total:
        return [f"*Segments*: nobody changed segment {since}."]
    lines = [f"*Segments*: {digest.moved_total:,} customers changed segment {since}. Biggest moves:"]
    small = digest.moves[digest.moves["customers"] < min_group]
    for move in digest.moves[digest.moves["customers"] >= min_group].itertuples():
        value = f", 12-month value {words.money(move.clv_micros / 1e6, digest.currency)}" if move.clv_micros else ""
        action = (f" _{escape(SEGMENTS[move.to_segment])}_" if move.to_segment in ("At risk", "Can't lose them")
                  else "")
        lines.append(f"• {move.customers:,} {escape(move.from_segment)} -> {escape(move.to_segment)}{value}.{action}")
    if not small.empty:  # groups this small are not described where many can read them
        lines.append(f"• {int(small['customers'].sum()):,} customers in {len(small)} smaller moves.")
    return lines


def _risk(digest: Digest, disclose_people: bool) -> list[str]:
    if digest.risk_jumps.empty:
        return [] if digest.previous_run is None else ["*Churn risk*: no customer's risk jumped by 0.20 or more."]
    total = digest.risk_jump_total
    head = (f"*Churn risk jumped* (by 0.20 or more, {escape(digest.risk_meaning)}) for {total:,} customer"
            f"{'s' if total != 1 else ''}")
    if not disclose_people:
        value = digest.risk_jumps["clv_micros"].sum() / 1e6
        return [head + f"; the top {len(digest.risk_jumps)} hold {words.money(value, digest.currency)} of 12-month "
                       "value. Names are not "
                       "shown in this channel: `/crm atrisk` in a direct message lists them."]
    lines = [head + "; most value at stake first:"]
    for r in digest.risk_jumps.itertuples():
        name = f" ({escape(r.name)})" if r.name else ""
        lines.append(f"• {escape(r.customer_ref)}{name}: {r.risk_before:.2f} -> {r.risk_now:.2f}, 12-month value "
                     f"{words.money(r.clv_micros / 1e6, digest.currency)}")
    return lines


def _rules(digest: Digest) -> list[str]:
    if not digest.rules:
        return []
    lines = ["*New or stronger basket rules*"]
    for rule in digest.rules:
        was = (f" (was {rule.previous_confidence:.0%})" if rule.previous_confidence is not None else " (new)")
        lines.append("• " + escape(rule_sentence(list(rule.antecedent), rule.consequent, rule.confidence, rule.lift,
                                                 rule.count, digest.names)) + was)
    return lines


def digest_message(digest: Digest, disclose_people: bool = False, min_group: int = 1) -> Message:
    """The full digest, or a short one for a quiet period; movements of fewer than ``min_group``
    customers are summed into one line (a channel's setting of the small-group rule)."""
    title = f"{digest.cadence.capitalize()} digest: {_period(digest)}" + (f" - {digest.segment}"
                                                                         if digest.segment else "")
    text = headline(digest)
    notes = context(escape(" ".join(digest.quality + digest.freshness)))
    if digest.quiet:
        return Message(text=text, blocks=[header(title), section(escape(text) + " Nothing unusual."), notes],
                       response_type="in_channel")
    blocks = [header(title), section(escape(text)),
              fields_section([_kpi_field(c, digest) for c in digest.changes])]
    anomalies = [_anomaly_line(c, digest) for c in digest.changes if c.anomalous]
    if anomalies:
        blocks += sections(anomalies)
    for part in (_moves(digest, min_group), _risk(digest, disclose_people), _rules(digest)):
        if part:
            blocks += sections(part)
    blocks.append(notes)
    return Message(text=text, blocks=blocks, response_type="in_channel")
