"""A channel's real type, from ``conversations.info``: where a post is seen decides what it may show."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

KIND_TTL = 600.0
"""Seconds a channel's type is trusted: a channel can become private or shared (Slack Connect)."""


def kind_from_info(info: dict[str, Any]) -> str:
    """``shared`` (Slack Connect), ``im``, ``private`` (incl. group DMs) or ``public``."""
    return ("shared" if info.get("is_ext_shared") else "im" if info.get("is_im")
            else "private" if info.get("is_private") or info.get("is_mpim") else "public")


class ChannelKinds:
    """Channel id -> type, asking Slack (``lookup`` returns the ``channel`` of conversations.info)
    at most once per channel every ``KIND_TTL`` seconds."""

    def __init__(self, lookup: Callable[[str], dict[str, Any]], ttl: float = KIND_TTL) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._known: dict[str, tuple[float, str]] = {}

    def __call__(self, channel: str) -> str:
        if channel.startswith(("U", "W", "D")):  # a user id (a DM is opened on posting) or a DM channel
            return "im"
        cached = self._known.get(channel)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        kind = kind_from_info(self._lookup(channel))
        self._known[channel] = (time.monotonic(), kind)
        return kind
