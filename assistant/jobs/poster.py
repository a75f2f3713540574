"""What the jobs need from Slack: the ``Poster`` protocol and its error.

Digest delivery and alerts post through this protocol, so they are tested against the fake Slack
and know nothing of slack_sdk; ``assistant.slack.poster.SlackPoster`` is the real one.

Every call that can put something in a channel (``post``, ``upload_chart``) takes ``within``:
seconds after which the poster sends nothing more for that call, retries and rate-limit waits
included.  That bound is what lets a claim's lease cover a post in flight (see
``assistant.jobs.claims``): when the lease runs out, no request of the old holder can still start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from assistant.render.blocks import Message
from db.owners import MEMBER_ID  # noqa: F401  (re-exported: who a direct message can reach)

PRIVATE_KINDS = ("private", "im")
"""Channel kinds where a digest or an alert may name customers (public and shared channels get counts)."""


class PostError(Exception):
    """Slack refused or failed a post.  ``permanent``: retrying cannot help (not in channel...)."""

    def __init__(self, code: str, permanent: bool, advice: str = "", retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code, self.permanent, self.advice = code, permanent, advice
        self.retry_after = retry_after
        """Seconds Slack asked us to wait (a 429 whose ``Retry-After`` did not fit in the call's time)."""


class Poster(Protocol):
    """What delivery needs from Slack."""

    def channel_kind(self, channel: str) -> str:
        """``public``, ``private``, ``im`` or ``shared``."""

    def post(self, channel: str, message: Message, metadata: Mapping[str, object], within: float) -> str:
        """Post ``message`` with ``metadata``, sending nothing after ``within`` seconds; returns its ``ts``.
        Raises ``PostError`` (a transient one when the time ran out: the post may have landed)."""

    def find(self, channel: str, event_type: str, token: str, since: datetime) -> str | None:
        """The ``ts`` of a message posted since ``since`` whose metadata carries ``token``."""

    def upload_chart(self, channel: str, thread_ts: str, png: bytes, filename: str, title: str,
                     within: float) -> str:
        """Upload a PNG into a message's thread within ``within`` seconds; returns the file id."""

    def find_file(self, channel: str, thread_ts: str, filename: str) -> str | None:
        """The id of a file called ``filename`` already in the thread, if any."""

    def tell(self, user: str, text: str) -> None:
        """A direct message to ``user``."""

    def direct_channel(self, user: str) -> str:
        """The id of the app's direct-message conversation with ``user`` (where ``post`` and ``find``
        reach them).  Raises ``PostError`` (permanent when the user is gone or deactivated)."""
