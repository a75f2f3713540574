"""Who a Slack user is (name, time zone, still active), from ``users.info``, kept a few minutes."""

from __future__ import annotations

import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from assistant.commands.base import Person

PEOPLE_TTL = 300.0
"""Seconds a user's description is trusted: a deactivation or a new time zone applies within this."""
UNKNOWN = ("user_not_found", "users_not_found")


class SlackPeople:
    """User id -> ``Person`` (``None`` when the workspace has no such user); other Slack errors raise."""

    def __init__(self, client: WebClient, ttl: float = PEOPLE_TTL) -> None:
        self._client = client
        self._ttl = ttl
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, Person | None]] = {}

    def __call__(self, user_id: str) -> Person | None:
        with self._lock:
            cached = self._known.get(user_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        try:
            user = self._client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") not in UNKNOWN:
                raise
            found = None
        else:
            profile = user.get("profile") or {}
            found = Person(user_id, str(user.get("real_name") or profile.get("display_name") or user.get("name")
                                        or user_id), str(user.get("tz") or "UTC"), active=not user.get("deleted"),
                           bot=bool(user.get("is_bot")))
        with self._lock:
            self._known[user_id] = (time.monotonic(), found)
        return found
