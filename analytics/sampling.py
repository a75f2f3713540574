"""Seeded samples of customers that do not depend on how the store is split.

Each customer id gets a pseudo-random key in [0, 1) from the seed (SplitMix64, a published
64-bit mixing function); a sample of ``n`` is the ``n`` customers with the smallest keys.  A
partition can therefore tell on its own which of its customers may be in the sample (key below
a bound), and the driver keeps the smallest ``n`` of those: the same customers whatever the
partitioning or the executor, for the same seed.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def unit_keys(ids: np.ndarray, seed: int) -> np.ndarray:
    """A key in [0, 1) per id, fixed by the id and ``seed``."""
    with np.errstate(over="ignore"):  # the mixing relies on wrap-around arithmetic
        z = np.asarray(ids, dtype="int64").astype(np.uint64) + np.uint64(seed) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype("float64") / float(2**53)


def candidate_bound(sample_size: int, population: int, margin: float = 1.1) -> float:
    """The key below which a customer is a sample candidate: a little above ``sample_size / population``
    so that the candidates number at least ``sample_size`` with overwhelming probability."""
    if population <= sample_size:
        return 1.0
    share = sample_size / population
    # Three binomial standard deviations above the expected share, then a 10% margin.
    slack = 3 * np.sqrt(share * (1 - share) / population)
    return float(min(1.0, (share + slack) * margin))


def smallest_keys(ids: np.ndarray, seed: int, n: int) -> np.ndarray:
    """The ``n`` ids with the smallest keys (all of them when there are fewer), ascending by id."""
    ids = np.asarray(ids, dtype="int64")
    if len(ids) <= n:
        return np.sort(ids)
    keys = unit_keys(ids, seed)
    chosen = ids[np.argsort(keys, kind="stable")[:n]]
    return np.sort(chosen)
