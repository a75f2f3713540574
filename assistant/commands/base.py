"""What every command shares: the request, the context it runs in, usage errors, the registry entry."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from assistant.errors import UserFacingError
from assistant.render.blocks import Message
from assistant.views.policy import Viewer, resolve_role
from db.clock import Clock, store_time

if TYPE_CHECKING:  # the understanding layer imports views this module's users also import
    from assistant.commands.understanding.language_model import LanguageModel


@dataclass(frozen=True)
class Request:
    """Who asked what, where (a slash command, a button, or a mention mapped onto a command)."""

    user_id: str
    channel_id: str
    text: str = ""
    place: str = "ephemeral"
    """Where the answer is seen: ``ephemeral`` (only the asker), ``im``, ``private``, ``public``, ``shared``."""
    thread: str = ""
    """The thread a message belongs to (its root's ``ts``): a conversation's follow-ups continue there."""
    fields: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """A submitted form's values by ``block_id`` (a modal); ``text`` then holds its ``private_metadata``."""
    source: str = ""
    """What delivered it, where a write must happen once per delivery (``view:V0123`` for a modal)."""
    disclosures: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)
    """Whose data the answer shows (``what``, ``customer_ref``, ``detail``), for the audit log: ``answer``
    records them with the command in one transaction before anything is shown."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", clean_text(self.text))


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")


def clean_text(text: str) -> str:
    """User text without control characters (PostgreSQL refuses NUL; none of them mean anything
    here), and e-mail addresses as typed (a command with escaping on gets ``<mailto:a@b|a@b>``)."""
    return MAILTO.sub(r"\1", CONTROL.sub("", text))


@dataclass(frozen=True)
class Person:
    """A Slack user as the workspace describes them (``users.info``)."""

    user_id: str
    name: str
    timezone: str
    active: bool = True
    """False once deactivated: such a person cannot own accounts or receive reminders."""
    bot: bool = False


@dataclass
class Context:
    """What runners need, built once by the composition root."""

    session_factory: Callable[[], Session]
    clock: Clock
    """Aware UTC in production (``db.clock.utc_now``); ``now`` gives it as the store keeps times."""
    default_timezone: str = "UTC"
    """For digest subscriptions that name no time zone (``CRM_TIMEZONE``)."""
    admins: frozenset[str] = frozenset()
    """Slack users who are admins whatever the store says (``CRM_ADMINS``): the first admins."""
    first_admin: str | None = None
    """The first of ``CRM_ADMINS`` as written: told about digests subscribed at the terminal."""
    default_role: str = "viewer"
    """The role of users with none stored (``CRM_DEFAULT_ROLE``)."""
    min_group: int = 5
    """Groups smaller than this are not described in channels (``CRM_MIN_GROUP_SIZE``)."""
    operator: str | None = None
    """The person at the terminal (console or command line): they run this installation, so admin."""
    channel_kind: Callable[[str], str] | None = None
    """A channel's real type (``im``, ``private``, ``public``, ``shared``), where Slack can be asked."""
    groups_of: Callable[[str], frozenset[str]] | None = None
    """The Slack user groups a person belongs to (roles granted to a group reach its members)."""
    conversation_idle: timedelta = timedelta(minutes=30)
    """A follow-up refines the previous question only within this (``CRM_CONVERSATION_IDLE_MINUTES``)."""
    language_model: LanguageModel | None = None
    """Asked when the offline reader is unsure (``CRM_LLM_URL``); ``None``: the bot asks back."""
    people: Callable[[str], Person | None] | None = None
    """A Slack user by id (``None``: the workspace has no such user), where Slack can be asked; at the
    terminal without a Slack token, member ids are taken as written."""

    def now(self) -> datetime:
        """The clock as naive UTC, as the store keeps times."""
        return store_time(self.clock())

    def viewer(self, session: Session, request: Request) -> Viewer:
        """Who is asking, with their role, and where the answer will be seen."""
        admins = self.admins | ({self.operator} if self.operator else set())
        groups_of = self.groups_of

        def groups() -> frozenset[str]:
            return groups_of(request.user_id) if groups_of else frozenset()
        return Viewer(request.user_id, resolve_role(session, request.user_id, frozenset(admins), self.default_role,
                                                    groups), request.place)


class UsageError(UserFacingError):
    """The command was typed wrongly; the message shows the usage."""


class Parser(argparse.ArgumentParser):
    """An argument parser that never exits: errors become ``UsageError`` with the usage line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\nUsage: {self.format_usage().removeprefix('usage: ').strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or self.format_usage())


@dataclass(frozen=True)
class CommandSpec:
    """One command, declared once: help and the Slack app's handlers are generated from these."""

    name: str
    """How it is typed, e.g. ``/customer`` or ``/crm rules``."""
    summary: str
    usage: str
    run: Callable[[Request, Context], Message]
    examples: tuple[str, ...] = field(default_factory=tuple)
    check: Callable[[str], object] | None = None
    """Validates the typed text without touching the store (raises ``UsageError``), so usage
    errors are answered in the acknowledgement, instantly."""
