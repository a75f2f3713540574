"""A population simulated from known (M)BG/NBD parameters, to check the lifetime models recover them.

Each customer makes a first purchase, then repeat purchases as a Poisson process with rate
lambda ~ Gamma(r, rate alpha); after each repeat purchase (and, under MBG/NBD, also right after
the first) they leave for good with probability p ~ Beta(a, b).  Observation lengths T are
spread over 26 to 78 weeks; times are recorded to the day.  Returns the summary the models
read (frequency, recency, T, in weeks) and whether each customer is truly still active at T.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate(customers: int, r: float, alpha: float, a: float, b: float, modified: bool = False,
             seed: int = 0) -> pd.DataFrame:
    """``customer_id, frequency, recency, T, monetary, alive`` for ``customers`` simulated customers."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, customers)
    dropout = rng.beta(a, b, customers)
    horizon = rng.uniform(26, 78, customers)
    frequency = np.zeros(customers)
    recency = np.zeros(customers)
    alive = np.ones(customers, dtype=bool)
    if modified:
        alive &= rng.random(customers) >= dropout  # may leave right after the first purchase
    now = np.zeros(customers)
    active = alive.copy()
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1 / rate[idx])
        inside = now[idx] <= horizon[idx]
        done = idx[~inside]
        active[done] = False
        bought = idx[inside]
        frequency[bought] += 1
        recency[bought] = now[bought]
        leaves = bought[rng.random(len(bought)) < dropout[bought]]
        alive[leaves] = False
        active[leaves] = False
    # Recorded by the day, as order dates are (which also makes many customers share a summary).
    recency, horizon = np.floor(recency * 7) / 7, np.floor(horizon * 7) / 7
    return pd.DataFrame({"customer_id": np.arange(customers), "frequency": frequency, "recency": recency,
                         "T": horizon, "monetary": np.where(frequency > 0, 20.0, 0.0), "alive": alive})
