"""The timing of a claim, which is what makes "exactly once" hold while a post is in flight.

A scheduler posts only what it has claimed in the store (``db.digests.claim``: an insert under a
unique constraint, or a compare-and-set takeover of a claim whose lease ran out).  Three rules,
all derived from the one lease setting, make a takeover of a post in flight impossible:

1. **Fence before every post.**  Immediately before a Slack call that can post, the holder
   compares-and-sets its claim (same attempt number, still claimed by it) and extends the lease
   to ``cover``.  If that fails, another scheduler took over: the holder posts nothing.
2. **Every post has a deadline.**  The call is given ``post_budget`` seconds; the poster starts no
   request after it and waits out no ``Retry-After`` that would end past it (``Poster.post``'s
   ``within``).  A post that runs out of time is a transient failure: it may have landed.
3. **A takeover waits for the last possible landing.**  ``cover`` is at least ``post_budget +
   settle``: a request Slack received before the deadline has ``settle`` more to be stored, and
   only then may another scheduler take the claim over and look in the channel's history for the
   token.  A transient failure gives the claim back no earlier than that either.

So when a takeover reads the history, every request of every earlier holder has ended, and the
history tells the truth.  Digests, their charts and alerts use the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

MIN_POST_BUDGET = timedelta(seconds=2)
"""Even with a very short lease (tests), a post gets this long."""
MIN_SETTLE = timedelta(seconds=1)


@dataclass(frozen=True)
class LeaseTimes:
    """A claim's lease and what follows from it."""

    lease: timedelta

    @property
    def post_budget(self) -> timedelta:
        """How long one post (with its retries and rate-limit waits) may take."""
        return max(MIN_POST_BUDGET, self.lease / 3)

    @property
    def settle(self) -> timedelta:
        """How long after a post's deadline a request Slack already received may still land."""
        return max(MIN_SETTLE, self.lease / 3)

    @property
    def cover(self) -> timedelta:
        """What a fence extends the lease to, from the moment of the fence."""
        return max(self.lease, self.post_budget + self.settle)

    def retry_after(self, slack_wait: float | None) -> timedelta:
        """When a claim given back after a transient failure may be taken again, from the failure:
        after the post in flight could have landed, and not before Slack's ``Retry-After``."""
        return max(self.post_budget + self.settle, timedelta(seconds=slack_wait or 0))
