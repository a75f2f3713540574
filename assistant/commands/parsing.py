"""Reading what was typed after a command: shell-like words, and commands that take nothing."""

from __future__ import annotations

import re
import shlex

from assistant.commands.base import UsageError

APOSTROPHE_IN_WORD = re.compile(r"(?<=\w)['\u2019](?=\w)")
HELD_APOSTROPHE = "\ue000"
"""Stands in for an apostrophe inside a word while shlex reads quotes (a private-use character,
never typed), so ``can't`` is a letter inside or outside quotes."""
CURLY_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def words(text: str) -> list[str]:
    """Shell-like words: quotes group (``--country "United Kingdom"``, ``"Can't lose them"``), an
    apostrophe inside a word (``can't``) is just a letter, curly quotes count as straight ones."""
    held = APOSTROPHE_IN_WORD.sub(HELD_APOSTROPHE, text).translate(CURLY_QUOTES)
    try:
        return [word.replace(HELD_APOSTROPHE, "'") for word in shlex.split(held)]
    except ValueError:  # shlex's only complaint: "No closing quotation"
        quote = next((q for q in ('"', "'") if held.count(q) % 2), "quote")
        raise UsageError(f"a {quote} is opened and never closed; put quotes around a whole name "
                         f"(\"Can't lose them\") or leave them out") from None


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
