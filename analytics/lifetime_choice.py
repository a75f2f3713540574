"""Which purchase model the data supports: BG/NBD or MBG/NBD, chosen by held-out log-likelihood.

The two differ in one assumption: under BG/NBD a customer can only leave after a repeat
purchase (so a one-time buyer is alive until proven otherwise, P(alive) = 1); under MBG/NBD
they may also leave right after their first.  Both have four parameters, so neither is favoured
by its size: each is fitted on a seeded 70% of the customers and judged by the log-likelihood
of the other 30% (customers are independent given the parameters, so this is an honest
out-of-sample test), then the winner is refitted on everyone.  Pareto/NBD is not among the
candidates: no well-kept implementation is available here (see docs/analytics.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.btyd import BetaGeoParams, DidNotConverge, bgnbd_log_likelihood, fit_bgnbd

MODELS = {"BG/NBD": False, "MBG/NBD": True}
"""Candidate name -> ``modified`` flag of ``fit_bgnbd``."""
HOLDOUT_SHARE = 0.3
MIN_HOLDOUT_GAIN = 1.0
"""The held-out log-likelihood must be higher by this much (nats) to count as a win; closer
than that is a tie, and a tie goes to BG/NBD (the published original, and it does not invent
drop-out among one-time buyers)."""


@dataclass(frozen=True)
class LifetimeChoice:
    """The chosen model refitted on everyone, and what each candidate scored on the held-out customers."""

    name: str
    params: BetaGeoParams
    held_out: dict[str, float]
    """Candidate -> log-likelihood of the held-out customers (missing if it did not converge)."""
    failed: dict[str, str]
    reason: str

    def summary(self) -> dict[str, Any]:
        """What model-health shows."""
        return {"chosen": self.name, "held_out_log_likelihood": {k: round(v, 2) for k, v in self.held_out.items()},
                "did_not_converge": self.failed, "reason": self.reason, "held_out_share": HOLDOUT_SHARE}


def held_out_log_likelihood(params: BetaGeoParams, summary: pd.DataFrame) -> float:
    """Total log-likelihood of ``summary``'s customers under ``params``."""
    values = bgnbd_log_likelihood((params.r, params.alpha, params.a, params.b),
                                  summary["frequency"].to_numpy(dtype="float64"),
                                  summary["recency"].to_numpy(dtype="float64"),
                                  summary["T"].to_numpy(dtype="float64"), params.modified)
    return float(values.sum())


def choose_purchase_model(summary: pd.DataFrame, random_state: int) -> LifetimeChoice:
    """Fit both candidates on 70% of the customers, keep the better on the other 30%, refit it on all.

    Raises ``DidNotConverge`` when neither converges (and ``ValueError`` for a summary without
    repeat purchases, as ``fit_bgnbd``).
    """
    rng = np.random.default_rng(random_state)
    held = rng.random(len(summary)) < HOLDOUT_SHARE
    fit_part, test_part = summary[~held], summary[held]
    scores: dict[str, float] = {}
    failed: dict[str, str] = {}
    for name, modified in MODELS.items():
        try:
            scores[name] = held_out_log_likelihood(fit_bgnbd(fit_part, modified=modified), test_part)
        except DidNotConverge as exc:
            failed[name] = str(exc)
    if not scores:
        raise DidNotConverge("; ".join(f"{name}: {why}" for name, why in failed.items()))
    if len(scores) == 1:
        name = next(iter(scores))
        reason = f"the only one that converged ({', '.join(f'{k}: {v}' for k, v in failed.items())})"
    else:
        gain = scores["MBG/NBD"] - scores["BG/NBD"]
        name = "MBG/NBD" if gain >= MIN_HOLDOUT_GAIN else "BG/NBD"
        if abs(gain) < MIN_HOLDOUT_GAIN:
            reason = f"the two fit the held-out customers equally well (difference {gain:+.2f}); BG/NBD on a tie"
        else:
            reason = (f"higher log-likelihood on {len(test_part):,} held-out customers by {abs(gain):,.1f} "
                      f"({scores['MBG/NBD']:,.1f} vs {scores['BG/NBD']:,.1f})")
    return LifetimeChoice(name, fit_bgnbd(summary, modified=MODELS[name]), scores, failed, reason)
