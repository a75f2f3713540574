"""Errors a person can fix, shared by every layer of the assistant.

A ``UserFacingError`` is shown as written (in Slack, the console or the terminal, exit code 2)
and never with a traceback: its message says what was wrong and how to fix it.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """Shown to the user as written (no traceback): what was wrong and how to fix it."""


class FieldError(UserFacingError):
    """A form's field was filled in wrongly: shown beside that field (``block_id``) in the modal."""

    def __init__(self, block_id: str, message: str) -> None:
        super().__init__(message)
        self.block_id = block_id
