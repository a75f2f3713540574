"""``crm-bot console``: try the bot in a terminal, through the real Bolt app and the local fake Slack.

What you type travels exactly as in a workspace: ``/customer 12347`` becomes a signed slash
command over HTTP, ``@crm who is at risk?`` an ``app_mention`` event, a button's label a signed
``block_actions`` click; the replies the bot sends to the fake are rendered here.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape

from assistant.commands.base import Context
from assistant.slack.app import build_app, make_client
from assistant.slack.fake import FakeSlack
from assistant.slack.server import RunningServer, start_in_background

REPLY_TIMEOUT = 30.0
HELP = ("Type a slash command (/customer 12347, /segments, /crm help), mention the bot (@crm who is at risk?), "
        "or a button's label (Orders, Why?) to click it. `quit` leaves.")


def mrkdwn_to_rich(text: str) -> str:
    """Slack mrkdwn (*bold*, _italic_, `code`, escaped &<>) as rich markup."""
    text = escape(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"[bold]\1[/bold]", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"[italic]\1[/italic]", text)
    return re.sub(r"`([^`\n]+)`", r"[cyan]\1[/cyan]", text)


@dataclass
class Reply:
    """A message the bot sent, as the fake received it."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [e for b in self.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


def render(reply: Reply, out: Console) -> None:
    """Print a message readably: header, sections, fields, context, buttons."""
    if not reply.blocks:
        out.print(mrkdwn_to_rich(reply.text))
    for block in reply.blocks:
        kind = block.get("type")
        if kind == "header":
            out.print(f"[bold underline]{escape(block['text']['text'])}[/bold underline]")
        elif kind == "section":
            if "text" in block:
                out.print(mrkdwn_to_rich(block["text"]["text"]))
            for item in block.get("fields", []):
                out.print("  " + mrkdwn_to_rich(item["text"]).replace("\n", ": ", 1))
        elif kind == "context":
            out.print("[dim]" + " ".join(mrkdwn_to_rich(e.get("text", "")) for e in block["elements"]) + "[/dim]")
        elif kind == "divider":
            out.print("[dim]" + "-" * 40 + "[/dim]")
    if reply.buttons:
        out.print(" ".join(f"[reverse] {escape(b['text']['text'])} [/reverse]" for b in reply.buttons))


CONSOLE_USER = "U0ADMIN01"
"""Who types in the console: the fake's default user; the composition root makes them admin."""


class ConsoleSession:
    """The fake Slack plus the real app on a local port; ``send`` returns the bot's replies."""

    def __init__(self, context: Context) -> None:
        self.fake = FakeSlack().start()
        self.secret = secrets.token_hex(16)
        self.app = build_app(context, make_client("xoxb-console", self.fake.url), self.secret)
        self.server: RunningServer = start_in_background(self.app)
        self.fake.add_channel("D0CONSOLE", "console", kind="im")
        self.last: Reply | None = None

    def close(self) -> None:
        self.server.stop()
        self.fake.stop()

    def _wait(self, method: str, before: int) -> Reply:
        calls = self.fake.wait_for(lambda c: sum(x.method == method for x in c) > before, REPLY_TIMEOUT)
        params = [c for c in calls if c.method == method][before].params
        blocks = params.get("blocks") or []
        reply = Reply(text=params.get("text", ""), blocks=json.loads(blocks) if isinstance(blocks, str) else blocks)
        self.last = reply
        return reply

    def send(self, line: str) -> Reply:
        """Deliver one line as Slack would and return the bot's answer."""
        line = line.strip()
        button = self._button(line)
        responses = len(self.fake.calls_to("response_url"))
        if button is not None:
            self.fake.click(self.server.url, self.secret, button["action_id"], button.get("value", ""),
                            button["text"]["text"], channel_id="D0CONSOLE")
            return self._wait("response_url", responses)
        if line.startswith("/"):
            command, _, text = line.partition(" ")
            status, body = self.fake.send_command(self.server.url, self.secret, command, text, channel_id="D0CONSOLE")
            if status != 200:
                return Reply(text=f"Slack would show an error (HTTP {status}).")
            if body.strip():  # answered in the acknowledgement: a usage error
                return Reply(text=body)
            return self._wait("response_url", responses)
        posts = len(self.fake.calls_to("chat.postMessage"))
        self.fake.mention(self.server.url, self.secret, line.removeprefix("@crm").strip(), channel_id="D0CONSOLE")
        return self._wait("chat.postMessage", posts)

    def _button(self, line: str) -> dict[str, Any] | None:
        if self.last is None:
            return None
        wanted = line.strip("[] ").lower()
        return next((b for b in self.last.buttons if b["text"]["text"].lower() == wanted), None)


def run_console(context: Context, out: Console, read: Callable[[str], str] = input) -> None:
    """The interactive loop (``read`` raises EOFError at the end of input)."""
    session = ConsoleSession(context)
    out.print(f"[bold]crm-bot console[/bold]: the real bot, a local fake Slack. {HELP}")
    try:
        while True:
            try:
                line = read("crm> ")
            except (EOFError, KeyboardInterrupt):
                break
            if line.strip().lower() in ("quit", "exit", ":q"):
                break
            if not line.strip():
                continue
            try:
                render(session.send(line), out)
            except TimeoutError:
                out.print("[red]The bot did not answer in time.[/red]")
    finally:
        session.close()
