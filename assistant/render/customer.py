"""The customer card, the pick-list, orders and the full "why" as Slack messages."""

from __future__ import annotations

import pandas as pd

from analytics import words
from assistant.render.blocks import (
    Message,
    actions,
    button,
    context,
    divider,
    escape,
    fields_section,
    header,
    section,
)
from assistant.render.writes import card_notes, who
from assistant.views.cards import CustomerCard
from assistant.views.insights import Candidates
from assistant.views.policy import FULL, MASKED, mask_email, mask_phone
from assistant.views.predictions import ExplainView

ORDERS_PAGE = 10


def _money(value: object, currency: str | None) -> str:
    return words.money(float(value), currency, 2) if value is not None else "-"  # type: ignore[arg-type]


def candidates(found: Candidates) -> Message:
    """Several matches, or a near miss ("did you mean"): a short list with one button each."""
    lines = [f"*{escape(who(c))}*, {escape(c.country or 'country unknown')}" for c in found.customers]
    buttons = actions(*[button(who(c)[:75], f"customer.pick.{i}", c.external_id)
                        for i, c in enumerate(found.customers)])
    named = ", ".join(who(c) for c in found.customers)
    if not found.exact:
        return Message(text=f"No customer {found.query[:80]!r}; did you mean {named}?",
                       blocks=[section(f"No customer *{escape(found.query[:80])}*; did you mean:\n" + "\n".join(lines)),
                               buttons])
    return Message(text=f"{len(found.customers)} customers match {found.query[:80]!r}: {named}",
                   blocks=[section(f"{len(found.customers)} customers match *{escape(found.query[:80])}*; pick one:\n"
                                   + "\n".join(lines)), buttons])


def _score_lines(outlook: ExplainView) -> list[str]:
    lines = []
    if outlook.propensity is not None:
        model, prediction = outlook.propensity
        if prediction is not None:
            tag = " (baseline)" if model.status == "baseline" else ""
            lines.append(f"*Purchase propensity{tag}:* {escape(prediction.explanation)}")
            if prediction.counterfactual:
                lines.append(f"_What if:_ {escape(prediction.counterfactual)}")
        elif model.status == "refused":
            lines.append(f"*Purchase propensity:* not predicted ({escape(model.refusal)})")
    for text in (outlook.churn_why, outlook.next_purchase, outlook.value_why):
        if text:  # each already starts with what it is ("churn risk 0.12 ...", "next order expected ...")
            head, _, rest = text.partition(":") if ":" in text[:60] else (text, "", "")
            lines.append(f"*{escape(head[0].upper() + head[1:])}*" + (f":{escape(rest)}" if rest else ""))
    for model, prediction in outlook.builder:
        if prediction is not None:
            lines.append(f"*{escape(model.target)}:* {escape(prediction.explanation)}")
    return lines


def _contact(customer: object, level: str) -> list[str]:
    """E-mail and phone as the disclosure level allows (masked unless full)."""
    email, phone = getattr(customer, "email", None), getattr(customer, "phone", None)
    if level != FULL:
        email, phone = mask_email(email), mask_phone(phone)
    return ([f"*E-mail*\n{escape(email)}"] if email else []) + ([f"*Phone*\n{escape(phone)}"] if phone else [])


def card(view: CustomerCard, level: str = MASKED, can_write: bool = False) -> Message:
    """The customer card: profile, orders, value, segment and cluster, scores with why, products to offer,
    the latest notes.

    ``level`` (``assistant.views.policy``) decides whether contact details and notes' text are shown;
    ``can_write`` adds the Add note, Follow up and Assign buttons for those who may use them.
    """
    c, outlook, totals = view.customer, view.outlook, view.totals
    score, run = outlook.score, outlook.run
    currency = run.currency if run else None
    segment = "-"
    if score is not None:
        segment = score.segment + (f" (was {score.previous_segment})" if score.previous_segment
                                   and score.previous_segment != score.segment else "")
    first, last = totals.get("first_order_at"), totals.get("last_order_at")
    facts = [f"*Country*\n{escape(c.country or 'unknown')}", f"*Segment*\n{escape(segment)}",
             f"*Orders*\n{totals.get('orders', 0):,}", f"*Net value*\n{_money(totals.get('net_value'), currency)}",
             f"*First order*\n{first:%Y-%m-%d}" if first else "*First order*\n-",
             f"*Last order*\n{last:%Y-%m-%d}" if last else "*Last order*\n-"]
    if c.owner:
        facts.append(f"*Owner*\n{escape(c.owner)}")
    facts += _contact(c, level)
    blocks = [header(f"Customer {who(c)}"), fields_section(facts[:10])]
    if view.cluster:
        blocks.append(context(escape(view.cluster[0].upper() + view.cluster[1:])))
    lines = _score_lines(outlook)
    if lines:
        blocks.append(section("\n".join(lines)))
    if not view.recommendations.empty:
        recs = [f"{r.rank}. *{escape(r.description or r.sku)}* ({escape(r.sku)}): {escape(r.reason)}"
                for r in view.recommendations.itertuples()]
        blocks.append(section("*Offer next*\n" + "\n".join(recs)))
    blocks += card_notes(c, view.notes, view.note_count, level == FULL)
    blocks.append(context(f"As of {run.as_of:%Y-%m-%d} (analytics run {run.id})" if run else
                          "No analytics yet: run `crm-bot refresh`."))
    buttons = [button("Orders", "customer.orders", f"{c.external_id}|0"),
               button("Why?", "customer.why", c.external_id),
               button("Recommend", "customer.recommend", c.external_id)]
    if view.note_count:
        buttons.append(button("Notes", "customer.notes", f"{c.external_id}|0"))
    if can_write:
        buttons += [button("Add note", "customer.add_note", c.external_id),
                    button("Follow up", "customer.follow_up", c.external_id),
                    button("Assign", "customer.assign", c.external_id)]
    blocks.append(actions(*buttons))
    orders = int(str(totals.get("orders") or 0))
    text = f"Customer {who(c)}: {segment}, {words.count(orders, 'order')}, net value " \
           f"{_money(totals.get('net_value'), currency)}"
    if outlook.propensity is not None and outlook.propensity[1] is not None:
        text += f"; {outlook.propensity[1].explanation}"
    return Message(text=text, blocks=blocks)


def orders_page(customer: object, frame: pd.DataFrame, offset: int, more: bool,
                currency: str | None = None) -> Message:
    """A page of a customer's orders, newest first, with a "More" button when there are more."""
    if frame.empty:
        return Message(text=f"No orders for {who(customer)}.",
                       blocks=[section(f"No orders for {escape(who(customer))}.")])
    rows = [f"`{escape(r.order_ref)}` {r.ordered_at:%Y-%m-%d}  {r.kind}  {words.count(r.lines, 'line')}  "
            f"{_money(r.value, r.currency or currency)}"  # each order in its own currency: never converted
            for r in frame.itertuples()]
    blocks = [section(f"*Orders of {escape(who(customer))}* ({offset + 1}-{offset + len(frame)}, newest first)\n"
                      + "\n".join(rows))]
    if more:
        blocks.append(actions(button("More", "customer.orders",
                                     f"{customer.external_id}|{offset + len(frame)}")))  # type: ignore[attr-defined]
    return Message(text=f"Orders {offset + 1}-{offset + len(frame)} of {who(customer)}", blocks=blocks)


def why(outlook: ExplainView) -> Message:
    """The full explanation: every stored factor of every score, with its push."""
    blocks = [header(f"Why: customer {who(outlook.customer)}")]
    text_lines = []
    models = ([outlook.propensity] if outlook.propensity else []) + outlook.builder
    for model, prediction in models:
        if prediction is None:
            continue
        factors = "\n".join(f"{'+' if f['direction'] == 'for' else '-'} {escape(f['phrase'])} "
                            f"({f['contribution']:+.2f})" for f in prediction.factors)
        blocks.append(section(f"*{escape(model.target)}* ({escape(model.model_name or '')})\n"
                              f"{escape(prediction.explanation)}\n{factors}"))
        text_lines.append(prediction.explanation)
    for text in (outlook.churn_why, outlook.next_purchase, outlook.value_why):
        if text:
            blocks.append(section(escape(text)))
            text_lines.append(text)
    blocks.append(divider())
    ties = (f" {words.count(outlook.sharing, 'other customer')} share this exact probability: calibration turns "
            "the model's scores into steps, and every score within a step gets that step's observed rate."
            if outlook.sharing else "")
    blocks.append(context("Pushes are on the model's own scale and add up to its score; "
                          f"`/crm model-health` shows how the models were validated.{ties}"))
    return Message(text="; ".join(text_lines) or "Nothing predicted for this customer yet.", blocks=blocks)
