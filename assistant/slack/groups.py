"""Which Slack user groups a person belongs to, so roles granted to a group reach its members."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
GROUPS_TTL = 300.0
"""Seconds a membership list is trusted: someone leaving a group loses its role within this."""


class UserGroups:
    """User id -> ids of their Slack user groups, from one ``usergroups.list`` call every few minutes.

    If Slack will not answer (e.g. the ``usergroups:read`` scope is missing) nobody is in any
    group: roles granted to people still apply, group roles do not (the least privilege).
    """

    def __init__(self, client: WebClient, ttl: float = GROUPS_TTL) -> None:
        self._client = client
        self._ttl = ttl
        self._lock = threading.Lock()
        self._members: dict[str, frozenset[str]] = {}
        self._fetched = float("-inf")

    def __call__(self, user_id: str) -> frozenset[str]:
        with self._lock:
            if time.monotonic() - self._fetched > self._ttl:
                self._members = self._fetch()
                self._fetched = time.monotonic()
            return self._members.get(user_id, frozenset())

    def _fetch(self) -> dict[str, frozenset[str]]:
        try:
            groups: list[dict[str, Any]] = self._client.usergroups_list(include_users=True)["usergroups"]
        except SlackApiError as exc:
            log.warning("user groups unavailable (%s): roles granted to groups do not apply",
                        exc.response.get("error"))
            return {}
        members: dict[str, set[str]] = {}
        for group in groups:
            for user in group.get("users") or []:
                members.setdefault(user, set()).add(str(group["id"]))
        return {user: frozenset(ids) for user, ids in members.items()}
