"""Messages the bot sent, printed in a terminal: the console's and the command line's view of Block Kit.

Kept apart from ``console`` (which starts the Bolt app and the fake Slack) so the command line
can print a message without loading either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape


def mrkdwn_to_rich(text: str, unlinkify: Callable[[str], str] = lambda t: t) -> str:
    """Slack mrkdwn (*bold*, _italic_, `code`, escaped &<>, <#C…>/<@U…> links) as rich markup."""
    text = unlinkify(text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = escape(text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"[bold]\1[/bold]", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"[italic]\1[/italic]", text)
    return re.sub(r"`([^`\n]+)`", r"[cyan]\1[/cyan]", text)


@dataclass
class Reply:
    """A message the bot sent, as the fake received it; ``numbers`` are its buttons' numbers here."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [e for b in self.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


def render(reply: Reply, out: Console, unlinkify: Callable[[str], str] = lambda t: t) -> None:
    """Print a message readably: header, sections, fields, context, numbered buttons."""
    def show(text: str) -> str:
        return mrkdwn_to_rich(text, unlinkify)
    if not reply.blocks:
        out.print(show(reply.text))
    for block in reply.blocks:
        kind = block.get("type")
        if kind == "header":
            out.print(f"[bold underline]{escape(block['text']['text'])}[/bold underline]")
        elif kind == "section":
            if "text" in block:
                out.print(show(block["text"]["text"]))
            for item in block.get("fields", []):
                out.print("  " + show(item["text"]).replace("\n", ": ", 1))
        elif kind == "context":
            out.print("[dim]" + " ".join(show(e.get("text", "")) for e in block["elements"]) + "[/dim]")
        elif kind == "input":
            out.print(f"[bold]{escape(block['label']['text'])}:[/bold] [dim](the form's field)[/dim]")
        elif kind == "divider":
            out.print("[dim]" + "-" * 40 + "[/dim]")
    if reply.buttons:  # numbered where they can be pressed (the console), else just named
        numbers = [f"{n} " for n in reply.numbers] if reply.numbers else [""] * len(reply.buttons)
        out.print(" ".join(f"[reverse] {n}{escape(b['text']['text'])} [/reverse]"
                           for n, b in zip(numbers, reply.buttons, strict=True)))


CONSOLE_USER = "U0ADMIN01"
"""Who types in the console: the fake's default user; the composition root makes them admin."""
