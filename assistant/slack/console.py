"""``crm-bot console``: try the bot in a terminal, through the real Bolt app and the local fake Slack.

What you type travels exactly as in a workspace: ``/customer 12748`` becomes a signed slash
command over HTTP, ``@crm who is at risk?`` an ``app_mention`` event, a button's label a signed
``block_actions`` click; the replies the bot sends to the fake are rendered here.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections import deque
from collections.abc import Callable
from typing import Any

from rich.console import Console

from assistant.commands.base import Context
from assistant.slack.app import build_app, make_client
from assistant.slack.console_render import CONSOLE_USER, Reply, render
from assistant.slack.fake import BOT_USER, FakeSlack, OpenView
from assistant.slack.ratelimit import RateLimiter
from assistant.slack.server import RunningServer, start_in_background
from assistant.views import examples

REPLY_TIMEOUT = 30.0
HELP = (f"Type a slash command (/customer {examples.CUSTOMER}, /segments, /crm help), mention the bot "
        "(@crm who is at risk?), or press a button by its number ([2]) or its label (Why?). "
        "#sales, @jane and @sales-team are a channel, a person and a group of this fake workspace. `quit` leaves.")
LIVE_REPLIES = 10
"""The buttons of this many recent replies can still be pressed (by number, or by label, newest first)."""
WORKSPACE_CHANNELS = (("C0SALES", "sales", "public"), ("C0MARKETING", "marketing", "public"),
                      ("G0LEADERS", "leadership", "private"))
WORKSPACE_PEOPLE = (("U0JANE01", "jane"), ("U0SAM001", "sam"))
WORKSPACE_GROUPS = (("S0SALESTM", "sales-team", {"U0JANE01", "U0SAM001"}),)
"""A few channels (the bot invited), colleagues and a user group, so the README's examples
(``#sales``, ``@jane``, ``@sales-team``) work."""


class ConsoleSession:
    """The fake Slack plus the real app on a local port; ``send`` returns the bot's replies."""

    def __init__(self, context: Context, limiter: RateLimiter | None = None) -> None:
        self.fake = FakeSlack().start()
        self.secret = secrets.token_hex(16)
        self.app = build_app(context, make_client("xoxb-console", self.fake.url), self.secret, limiter=limiter)
        self.server: RunningServer = start_in_background(self.app)
        self.fake.add_channel("D0CONSOLE", "console", kind="im")
        for channel_id, name, kind in WORKSPACE_CHANNELS:
            self.fake.add_channel(channel_id, name, kind=kind, members={BOT_USER, CONSOLE_USER})
        for user_id, name in WORKSPACE_PEOPLE:
            self.fake.add_user(user_id, name)
        for group_id, handle, members in WORKSPACE_GROUPS:
            self.fake.add_usergroup(group_id, handle, members)
        self.recent: deque[Reply] = deque(maxlen=LIVE_REPLIES)
        self._numbers = itertools.count(1)
        self.form: OpenView | None = None
        """A form the bot opened (a modal): the next line typed fills it in, ``cancel`` closes it."""

    def close(self) -> None:
        self.server.stop()
        self.fake.stop()

    def _wait(self, method: str, before: int) -> Reply:
        calls = self.fake.wait_for(lambda c: sum(x.method == method for x in c) > before, REPLY_TIMEOUT)
        params = [c for c in calls if c.method == method][before].params
        blocks = params.get("blocks") or []
        return self._keep(Reply(text=params.get("text", ""),
                                blocks=json.loads(blocks) if isinstance(blocks, str) else blocks))

    def _keep(self, reply: Reply) -> Reply:
        reply.numbers = [next(self._numbers) for _ in reply.buttons]
        if reply.buttons:
            self.recent.append(reply)
        return reply

    def send(self, line: str) -> Reply:
        """Deliver one line as Slack would and return the bot's answer."""
        line = line.strip()
        if self.form is not None and not line.startswith("/"):
            return self._fill(self.form, line)
        button = self._button(line)
        responses = len(self.fake.calls_to("response_url"))
        if button is not None:
            opened = len(self.fake.calls_to("views.open"))
            self.fake.click(self.server.url, self.secret, button["action_id"], button.get("value", ""),
                            button["text"]["text"], channel_id="D0CONSOLE")
            calls = self.fake.wait_for(lambda c: sum(x.method == "response_url" for x in c) > responses
                                       or sum(x.method == "views.open" for x in c) > opened, REPLY_TIMEOUT)
            if sum(x.method == "views.open" for x in calls) > opened:
                return self._show_form(self.fake.opened_views(CONSOLE_USER)[-1])
            return self._wait("response_url", responses)
        if line.startswith("/"):
            command, _, text = line.partition(" ")
            if command.lower() == "/crm":  # the app's manifest has Slack escape /crm: #sales arrives linked
                text = self.fake.linkify(text)
            status, body = self.fake.send_command(self.server.url, self.secret, command, text, channel_id="D0CONSOLE")
            if status != 200:
                return Reply(text=f"Slack would show an error (HTTP {status}).")
            if body.strip():  # answered in the acknowledgement: a usage error
                return Reply(text=body)
            return self._wait("response_url", responses)
        posts = len(self.fake.calls_to("chat.postMessage"))
        self.fake.mention(self.server.url, self.secret, self.fake.linkify(line.removeprefix("@crm").strip()),
                          channel_id="D0CONSOLE")
        return self._wait("chat.postMessage", posts)

    def _show_form(self, form: OpenView) -> Reply:
        self.form = form
        title = form.view.get("title", {}).get("text", "Form")
        hint = {"type": "context", "elements": [{"type": "mrkdwn", "text": "Type it on the next line and press "
                                                 "Enter to submit, or type `cancel`."}]}
        return Reply(text=title, blocks=[{"type": "header", "text": {"type": "plain_text", "text": title}},
                                         *form.view.get("blocks", []), hint])

    def _fill(self, form: OpenView, line: str) -> Reply:
        """The line typed into the form's field, submitted as Slack would; or the form closed."""
        if line.lower() == "cancel":
            self.form = None
            self.fake.close_view(self.server.url, self.secret, form.id)
            return Reply(text="Form closed; nothing was saved.")
        field = next(b for b in form.view["blocks"] if b.get("type") == "input")
        value = line
        if field["element"]["type"] == "users_select":  # "@jane" picked from Slack's list is her member id
            value = self.fake.linkify(line).removeprefix("<@").split("|")[0].rstrip(">")
        answer = self.fake.submit_view(self.server.url, self.secret, form.id, {field["block_id"]: value})
        if answer.get("response_action") == "errors":
            problems = " ".join(answer.get("errors", {}).values())
            return Reply(text=problems + " (type it again, or `cancel`)")
        self.form = None
        if answer.get("response_action") == "update":
            return self._keep(Reply(text="", blocks=answer["view"].get("blocks", [])))
        return Reply(text="Saved.")

    def _button(self, line: str) -> dict[str, Any] | None:
        """The live button ``line`` presses: its number (``2``, ``[2]``) or its label, newest reply first."""
        wanted = line.strip("[] ").lower()
        for reply in reversed(self.recent):
            for number, candidate in zip(reply.numbers, reply.buttons, strict=True):
                if wanted in (str(number), candidate["text"]["text"].lower()):
                    return candidate
        return None


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
                render(session.send(line), out, session.fake.unlinkify)
            except TimeoutError:
                out.print("[red]The bot did not answer in time.[/red]")
    finally:
        session.close()
