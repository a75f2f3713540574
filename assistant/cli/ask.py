"""``crm-bot ask "QUESTION"``: the same reading and answers as Slack, at the terminal or for scripts.

``--json`` prints the structured reading and the answer as one JSON object; with no QUESTION, one
question per line is read from standard input and one JSON object printed per line.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Annotated, Any

import typer

from assistant.cli.deps import console, deps_of, runner_context
from assistant.commands import ask as asking
from assistant.commands.answer import answer
from assistant.commands.base import Context, Request
from assistant.commands.understanding.reader import Understanding
from assistant.render.blocks import Message
from assistant.slack.console_render import CONSOLE_USER, Reply, render
from assistant.views.metrics import MetricAnswer

TERMINAL = "terminal"
"""The channel id audit entries of ``crm-bot ask`` carry."""


def _answered(context: Context, question: str) -> tuple[Understanding | None, Message, MetricAnswer | None]:
    """The reading, the message and (for numbers) the measured answer, through the one error boundary."""
    held: list[asking.Response] = []

    def runner(request: Request, context: Context) -> Message:
        held.append(asking.respond(request, context))
        return held[-1].message

    message = answer(runner, Request(user_id=CONSOLE_USER, channel_id=TERMINAL, text=question), context,
                     "/crm ask")
    return (held[-1].understood, message, held[-1].measured) if held else (None, message, None)


def _number(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def as_json(question: str, understood: Understanding | None, message: Message,
            result: MetricAnswer | None) -> dict[str, Any]:
    """The reading and the answer as one JSON-ready object (see the module docstring)."""
    out: dict[str, Any] = {"question": question, "command": None, "text": message.text}
    if understood is None:
        return out
    reading = understood.reading
    out["command"] = " ".join(f"{reading.command} {reading.text}".split()) if reading else None
    out["intent"] = understood.intent
    out["read_by"] = understood.read_by
    if understood.alternatives:
        out["asked_back"] = [r.label for r in understood.alternatives]
    q = understood.question
    if q is not None:
        filters = {k: v for k, v in vars(q.filters).items() if v is not None}
        out.update(metric=q.metric, dimensions=[q.group_by] if q.group_by else [], filters=filters,
                   top=q.top, compare=q.compare)
        if q.period is not None:
            out["period"] = {"start": q.period.start.isoformat(), "end": q.period.end.isoformat(),
                             "said": q.period.said}
    if result is not None:
        out["value"] = _number(result.total)
        out["currency"] = result.currency
        if not result.rows.empty:
            out["rows"] = [{k: _number(v) for k, v in row.items()} for row in result.rows.to_dict("records")]
        if result.compared_with is not None:
            out["compared_with"] = {"start": result.compared_with.start.isoformat(),
                                    "end": result.compared_with.end.isoformat(), "value": _number(result.before)}
    return out


def ask(ctx: typer.Context,
        question: Annotated[str | None, typer.Argument(help="A question in words, e.g. \"revenue last month by "
                                                            "country\"; none: one per line from standard input.")]
        = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print the reading and the answer as JSON.")]
        = False) -> None:
    """Ask in your own words, as in Slack: a command ("who is at risk in France") or numbers
    ("revenue last month by country", "which country grew most this quarter")."""
    context = runner_context(deps_of(ctx), CONSOLE_USER)
    questions = [question] if question is not None else [line.strip() for line in sys.stdin if line.strip()]
    for text in questions:
        understood, message, result = _answered(context, text)
        if json_output or question is None:
            print(json.dumps(as_json(text, understood, message, result), ensure_ascii=False, default=str))
        else:
            render(Reply(text=message.text, blocks=message.blocks), console)


def register(app: typer.Typer) -> None:
    """Add this command to the root app."""
    app.command()(ask)
