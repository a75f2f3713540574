"""Reading what was typed after a command: shell-like words, and commands that take nothing."""

from __future__ import annotations

import re
import shlex

from assistant.commands.base import UsageError

APOSTROPHE_IN_WORD = re.compile(r"(?<=\w)['\u2019](?=\w)")


def words(text: str) -> list[str]:
    """Shell-like words: quotes group (``--country "United Kingdom"``), an apostrophe inside a
    word (``can't``) is just a letter."""
    text = APOSTROPHE_IN_WORD.sub("\\\\'", text.replace("\u201c", '"').replace("\u201d", '"'))
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"could not read that ({exc}); close any quote you opened") from exc


def no_arguments(text: str) -> None:
    """For commands that take nothing."""
    if text.strip():
        raise UsageError("this command takes no arguments")


PERSON = re.compile(r"^(?:<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|@?([UW][A-Z0-9]{6,}))$")
"""A Slack member: a mention (``<@U0123ABCD>``, what Slack sends for a typed @name) or a bare id."""


def person(text: str, what: str) -> str:
    """The member id in ``text``, or a usage error saying how to name someone (``what`` is the option)."""
    match = PERSON.match(text.strip())
    if match is None:
        raise UsageError(f"{what} needs a person: mention them (type @ and pick them) or give their member id "
                         f"(U0123ABCD), not {text[:40]!r}")
    return match.group(1) or match.group(2)
