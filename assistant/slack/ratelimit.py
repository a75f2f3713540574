"""A per-user command rate limit (sliding window, per process), so one person cannot flood the bot.

Each replica counts on its own: with N replicas behind a load balancer a user gets up to N times
the limit, which still bounds a runaway script.  A refusal says when to try again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` commands per ``window`` seconds per user."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def refusal(self, user_id: str) -> str | None:
        """``None`` if the user may go ahead (and counts this command), else the message to show."""
        now = self.clock()
        with self._lock:
            recent = self._seen.setdefault(user_id, deque())
            while recent and now - recent[0] >= self.window:
                recent.popleft()
            if len(recent) >= self.limit:
                wait = self.window - (now - recent[0])
                return (f"You are going fast: {len(recent)} commands in the last minute. Try again in "
                        f"{max(1, round(wait))} s.")
            recent.append(now)
            if len(self._seen) > 10_000:  # forget idle users so memory stays bounded
                for user in [u for u, q in self._seen.items() if not q]:
                    del self._seen[user]
            return None
