"""Block Kit building blocks as plain dicts, kept inside Slack's limits.

Limits (Slack's, enforced here so no message is ever refused): 50 blocks a message, 3,000
characters of section text, 10 fields of 2,000 characters, 150 characters of header, 75 of a
button label, 2,000 of a button value.  Long lists are paginated by the renderers, not cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_BLOCKS = 50
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10
HEADER_CHARS = 150
BUTTON_LABEL_CHARS = 75
BUTTON_VALUE_CHARS = 2000

Block = dict[str, Any]


@dataclass(frozen=True)
class Chart:
    """A PNG and what to call it."""

    png: bytes
    filename: str
    title: str


@dataclass(frozen=True)
class FileToSend:
    """A file for the asker's direct messages (a list export), written to a temporary ``path``."""

    path: Path
    filename: str
    title: str
    comment: str


@dataclass
class Message:
    """What the bot says: a plain-text fallback (notifications, screen readers) plus blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    response_type: str = "ephemeral"
    """``ephemeral`` (only the asker sees it) or ``in_channel``."""
    chart: Chart | None = None
    """A picture that goes with the answer (a time series), uploaded into its thread where there is one."""
    modal: Block | None = None
    """A form to open (``views.open``) instead of posting; ``text`` says what to type when it cannot open."""
    field_errors: dict[str, str] | None = None
    """A form that cannot be saved: what is wrong, by the field's ``block_id``, shown beside each field."""
    file: FileToSend | None = None
    """Sent to the asker's direct messages (never to a channel) before ``text`` is shown; then deleted."""
    replace: bool = False
    """A button's answer that takes the place of the message clicked (a reminder once Done: its buttons go)."""

    def __post_init__(self) -> None:
        if len(self.blocks) > MAX_BLOCKS:
            raise ValueError(f"a message holds at most {MAX_BLOCKS} blocks; paginate (got {len(self.blocks)})")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def escape(text: object) -> str:
    """Slack mrkdwn escaping of user or data text (&, <, >), so names cannot inject mentions or links."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, HEADER_CHARS), "emoji": True}}


def section(text: str, fields: list[str] | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_CHARS)}}
    if fields:
        block["fields"] = [{"type": "mrkdwn", "text": _cut(f, FIELD_CHARS)} for f in fields[:MAX_FIELDS]]
    return block


def sections(lines: list[str], heading: str = "") -> list[Block]:
    """Lines packed into as few sections as fit Slack's 3,000 characters each (never cut mid-list)."""
    blocks: list[Block] = []
    current = heading
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > SECTION_CHARS and current:
            blocks.append(section(current))
            candidate = line
        current = candidate
    if current:
        blocks.append(section(current))
    return blocks


def fields_section(fields: list[str]) -> Block:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": _cut(f, FIELD_CHARS)}
                                          for f in fields[:MAX_FIELDS]]}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, SECTION_CHARS)}]}


def divider() -> Block:
    return {"type": "divider"}


def button(label: str, action_id: str, value: str, primary: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button",
                               "text": {"type": "plain_text", "text": _cut(label, BUTTON_LABEL_CHARS)},
                               "action_id": action_id, "value": _cut(value, BUTTON_VALUE_CHARS)}
    if primary:
        element["style"] = "primary"
    return element


def actions(*elements: dict[str, Any]) -> Block:
    return {"type": "actions", "elements": list(elements)[:25]}


def text_message(text: str, response_type: str = "ephemeral") -> Message:
    """A message that is just words (usage help, refusals, errors)."""
    return Message(text=text, blocks=[section(escape(text))], response_type=response_type)
