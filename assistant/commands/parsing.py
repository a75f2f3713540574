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
