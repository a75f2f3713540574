"""``/crm alert add|list|remove``: what to watch after each refresh and whom to tell.

    /crm alert add churn [--threshold 0.6] [--min-value 1000] [--to owner|#channel] [--max-per-hour 5]
    /crm alert add large-order [--factor 3] [--min-value 500] [--to #channel]
    /crm alert add anomaly [--z 3.5] [--to #channel]
"""

from __future__ import annotations

from analytics.words import money
from assistant.commands.base import Context, Parser, Request, UsageError
from assistant.commands.digest import CHANNEL
from assistant.commands.parsing import words
from assistant.render.blocks import Message, section
from db import alerts, snapshots

KINDS = {"churn": "churn_risk", "large-order": "large_order", "anomaly": "kpi_anomaly"}
USAGE = ("/crm alert add churn|large-order|anomaly [--threshold X | --factor X | --z X] [--min-value N] "
         "[--to owner|#channel] [--max-per-hour N] | list | remove ID")
DEFAULTS = {"churn_risk": 0.6, "large_order": 3.0, "kpi_anomaly": 3.5}


def _channel(text: str | None, fallback: str) -> str:
    if text is None:
        return fallback
    match = CHANNEL.match(text)
    if match is None:
        raise UsageError(f"--to takes `owner` or a channel mention (type # and pick it), not {text[:40]!r}")
    return match.group(1) or match.group(2)


def parse_add(tokens: list[str], channel_id: str) -> dict[str, object]:
    """``add KIND [options]`` -> the rule's fields (usage errors in words)."""
    parser = Parser(prog="/crm alert add", add_help=False)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--threshold", "--factor", "--z", dest="threshold", type=float)
    parser.add_argument("--min-value", type=float, default=0.0)
    parser.add_argument("--to")
    parser.add_argument("--max-per-hour", type=int, default=5)
    args = parser.parse_args(tokens)
    kind = KINDS[args.kind]
    threshold = DEFAULTS[kind] if args.threshold is None else args.threshold
    if kind == "churn_risk" and not 0 < threshold < 1:
        raise UsageError("--threshold is a churn risk between 0 and 1, e.g. 0.6")
    if kind == "large_order" and threshold <= 1:
        raise UsageError("--factor is how many times the customer's usual order, above 1, e.g. 3")
    if kind == "kpi_anomaly" and threshold <= 0:
        raise UsageError("--z is a robust z-score above 0, e.g. 3.5")
    if not 0 <= args.min_value < 1e12 or not 1 <= args.max_per_hour <= 100:
        raise UsageError("--min-value takes an amount of 0 or more; --max-per-hour 1 to 100")
    owner = (args.to is None and kind == "churn_risk") or args.to == "owner"
    if owner and kind == "kpi_anomaly":
        raise UsageError("only customer alerts (churn, large-order) can go to the customer's owner")
    return {"kind": kind, "threshold": threshold, "min_value_micros": round(args.min_value * 1e6),
            "target": "owner" if owner else _channel(args.to, channel_id),
            "fallback_channel": channel_id if owner else None, "max_per_hour": args.max_per_hour}


def check(text: str) -> None:
    """Usage errors in the acknowledgement."""
    parts = words(text)
    action = parts[0].lower() if parts else "list"
    if action == "add":
        parse_add(parts[1:], "C0CHECK00")
    elif action == "remove":
        if len(parts) != 2 or not parts[1].isdigit():
            raise UsageError("say which rule: `/crm alert remove 3` (ids are in `/crm alert list`)")
    elif action != "list":
        raise UsageError(f"unknown alert command {action[:30]!r}\nUsage: {USAGE}")


def describe(rule: alerts.AlertRule, currency: str | None = None) -> str:
    what = {"churn_risk": f"churn risk crossing {rule.threshold:.2f}",
            "large_order": f"orders over {rule.threshold:g}x the customer's usual",
            "kpi_anomaly": f"KPI anomalies beyond robust z {rule.threshold:g}"}[rule.kind]
    worth = f", worth at least {money(rule.min_value_micros / 1e6, currency)}" if rule.min_value_micros else ""
    where = (f"the customer's owner by DM (else <#{rule.fallback_channel}>)" if rule.target == "owner"
             else f"<#{rule.target}>")
    return f"#{rule.id}: {what}{worth} -> {where}, at most {rule.max_per_hour} an hour"


def run(request: Request, context: Context) -> Message:
    """Add, list or remove alert rules."""
    check(request.text)
    parts = words(request.text)
    action = parts[0].lower() if parts else "list"
    now = context.now()
    with context.session_factory() as session:
        if action == "add":
            rule = alerts.add_rule(session, **parse_add(parts[1:], request.channel_id),  # type: ignore[arg-type]
                                   user_id=request.user_id, now=now)
            text = f"Alert {describe(rule, snapshots.store_currency(session))}. Checked after every refresh."
            return Message(text=text, blocks=[section(text)], response_type="in_channel")
        if action == "remove":
            removed = alerts.remove_rule(session, int(parts[1]))
            text = f"Alert rule #{parts[1]} removed." if removed else f"There is no active alert rule #{parts[1]}."
            return Message(text=text, blocks=[section(text)])
        currency = snapshots.store_currency(session)
        lines = [describe(rule, currency) for rule in alerts.rules(session)]
    text = "\n".join(lines) if lines else "No alert rules: `/crm alert add churn` starts one."
    return Message(text=text, blocks=[section(text)])
