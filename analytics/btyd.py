"""Buy-till-you-die models: BG/NBD, MBG/NBD and Gamma-Gamma, fitted by maximum likelihood on scipy.

Inputs are the classic per-customer summary, in one time unit (weeks by default):

* ``frequency`` (x): repeat purchase periods (purchases on the same day count once),
* ``recency`` (t_x): time from the first to the last purchase,
* ``T``: time from the first purchase to the end of the observation window,
* ``monetary`` (zbar): mean value of the repeat purchases (Gamma-Gamma only; customers with
  x > 0).

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way" (BG/NBD);
Batislam, Denizel & Filiztekin (2007) (MBG/NBD: one-time buyers can also have left, so they
do not get P(alive) = 1); Fader & Hardie (2013), "The Gamma-Gamma model of monetary value".
On the CDNOW calibration summary the fits reproduce the published parameters (tests assert it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from analytics.contract import empty_frame, require_columns

SUMMARY_COLUMNS = {"customer_id": "object", "frequency": "float64", "recency": "float64", "T": "float64",
                   "monetary": "float64"}


def rfm_summary(transactions: pd.DataFrame, observation_end: datetime, unit_days: float = 7.0) -> pd.DataFrame:
    """Per-customer (frequency, recency, T, monetary) from dated transactions.

    Parameters
    ----------
    transactions : ``customer_id, date, value`` rows (one per purchase; several a day allowed).
    observation_end : end of the calibration window; later transactions are ignored.
    unit_days : length of the time unit in days (7: weeks, as in the literature).

    Returns
    -------
    DataFrame with ``SUMMARY_COLUMNS``, one row per customer with a purchase by ``observation_end``.
    Purchases on the same day are merged into one (their values added); ``monetary`` is the mean
    value of the repeat days (0 when there are none).
    """
    require_columns(transactions, ("customer_id", "date", "value"), "transactions")
    end = pd.Timestamp(observation_end)
    frame = transactions.assign(day=pd.to_datetime(transactions["date"]).dt.normalize())
    frame = frame[frame["day"] <= end]
    if frame.empty:
        return empty_frame(SUMMARY_COLUMNS)
    days = frame.groupby(["customer_id", "day"], as_index=False)["value"].sum().sort_values(["customer_id", "day"])
    first = days.groupby("customer_id")["day"].transform("min")
    days["repeat"] = days["day"] > first
    grouped = days.groupby("customer_id")
    summary = pd.DataFrame({
        "frequency": grouped["repeat"].sum().astype("float64"),
        "recency": (grouped["day"].max() - grouped["day"].min()).dt.days / unit_days,
        "T": (end.normalize() - grouped["day"].min()).dt.days / unit_days,
        "monetary": days[days["repeat"]].groupby("customer_id")["value"].mean(),
    })
    summary["monetary"] = summary["monetary"].fillna(0.0)
    return summary.reset_index().astype(SUMMARY_COLUMNS)


def _arrays(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    require_columns(summary, ("frequency", "recency", "T"), "customer summary")
    x = summary["frequency"].to_numpy(dtype="float64")
    t_x = summary["recency"].to_numpy(dtype="float64")
    big_t = summary["T"].to_numpy(dtype="float64")
    if len(x) and ((x < 0).any() or (t_x < 0).any() or (t_x > big_t + 1e-9).any()):
        raise ValueError("summary must have frequency >= 0 and 0 <= recency <= T")
    return x, t_x, big_t


@dataclass(frozen=True)
class BetaGeoParams:
    """Fitted (M)BG/NBD parameters and the log-likelihood at them."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    modified: bool = False
    """True for MBG/NBD."""


def bgnbd_log_likelihood(params: tuple[float, float, float, float], x: np.ndarray, t_x: np.ndarray,
                         big_t: np.ndarray, modified: bool = False) -> np.ndarray:
    """Per-customer log-likelihood of BG/NBD (or MBG/NBD when ``modified``)."""
    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    if modified:
        stay = betaln(a, b + x + 1) - betaln(a, b) - (r + x) * np.log(alpha + big_t)
        leave = betaln(a + 1, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
        return common + np.logaddexp(stay, leave)
    stay = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        leave = np.where(x > 0, np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) + betaln(a, b + x) - betaln(a, b)
                         - (r + x) * np.log(alpha + t_x), -np.inf)
    return common + np.logaddexp(stay, leave)


class DidNotConverge(ValueError):
    """The likelihood ran off to a boundary: the history cannot identify the model's parameters."""


def _check_converged(names: str, values: np.ndarray, log_likelihood: float, plausible: dict[str, float]) -> None:
    """Refuse parameters outside ``[1/limit, limit]`` (per name) or a non-finite likelihood."""
    if not np.isfinite(log_likelihood) or not np.isfinite(values).all():
        raise DidNotConverge(f"the likelihood has no finite maximum for {names}")
    for name, value in zip(names.split(", "), values, strict=True):
        limit = plausible[name]
        if not 1 / limit <= value <= limit:
            raise DidNotConverge(f"{name} ran off to {value:.3g} (outside 1/{limit:g} .. {limit:g}); this history "
                                 "cannot pin the model down")


def fit_bgnbd(summary: pd.DataFrame, modified: bool = False) -> BetaGeoParams:
    """Maximum-likelihood (M)BG/NBD parameters for a customer summary.

    Raises ``ValueError`` for an empty summary or one with no repeat purchase at all (the
    model cannot be identified), ``DidNotConverge`` when the maximum runs off to a boundary.
    """
    x, t_x, big_t = _arrays(summary)
    if len(x) == 0 or not (x > 0).any():
        raise ValueError("BG/NBD needs customers with repeat purchases; the summary has none")
    # Customers with the same (x, t_x, T) contribute the same term: evaluate each distinct triple
    # once, weighted by how many share it (day-resolution histories repeat a lot).
    triples, weights = np.unique(np.column_stack([x, t_x, big_t]), axis=0, return_counts=True)
    x, t_x, big_t = triples[:, 0], triples[:, 1], triples[:, 2]

    def negative(log_params: np.ndarray) -> float:
        with np.errstate(all="ignore"):  # the optimiser probes extreme values; those just score badly
            value = -(weights * bgnbd_log_likelihood(tuple(np.exp(log_params)), x, t_x, big_t, modified)).sum()
        return float(value) if np.isfinite(value) else 1e300

    start = np.log([1.0, max(float(big_t.mean()), 1.0), 1.0, 1.0])
    # Nelder-Mead finds the basin robustly; its evaluations are capped because on histories with
    # no measurable drop-out it crawls towards a -> 0 for ever, and L-BFGS-B finishes from there.
    result = minimize(negative, start, method="Nelder-Mead",
                      options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 5_000, "maxfev": 5_000})
    result = minimize(negative, result.x, method="L-BFGS-B")
    # a and b may legitimately go extreme (no measurable drop-out: a -> 0, b -> inf); r and alpha may not.
    _check_converged("r, alpha, a, b", np.exp(result.x), -result.fun,
                     {"r": 1e6, "alpha": 1e8, "a": np.inf, "b": np.inf})
    r, alpha, a, b = np.exp(result.x)
    return BetaGeoParams(float(r), float(alpha), float(a), float(b), float(-result.fun), modified)


def probability_alive(params: BetaGeoParams, summary: pd.DataFrame) -> np.ndarray:
    """P(the customer is still active) at the end of the observation window."""
    x, t_x, big_t = _arrays(summary)
    ratio = ((params.alpha + big_t) / (params.alpha + t_x)) ** (params.r + x)
    if params.modified:
        return 1.0 / (1.0 + params.a / (params.b + x) * ratio)
    return np.where(x > 0, 1.0 / (1.0 + params.a / np.maximum(params.b + x - 1, 1e-12) * ratio), 1.0)


NO_DROPOUT = 1e-8
"""Below this drop-out probability per purchase (a / (a + b)) expected purchases use the no-drop-out
limit: its error is of that order, while the closed form's rounding error is far larger there."""


def expected_purchases(params: BetaGeoParams, summary: pd.DataFrame, horizon: float) -> np.ndarray:
    """Expected number of purchases in the next ``horizon`` time units, per customer."""
    x, t_x, big_t = _arrays(summary)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1) < 1e-9:
        raise ValueError("expected purchases are undefined at a = 1 exactly; refit or perturb the parameters")
    if a / (a + b) < NO_DROPOUT:
        # No measurable drop-out (a -> 0, b -> inf): the closed form below cancels catastrophically
        # (at b = 1e8 it is 45% too high, at 1e11 absurd); its limit is the NBD's posterior mean rate.
        return (r + x) * horizon / (alpha + big_t) * probability_alive(params, summary)
    z = horizon / (alpha + big_t + horizon)
    if params.modified:
        head = (a + b + x) / (a - 1)
        tail = 1 - ((alpha + big_t) / (alpha + big_t + horizon)) ** (r + x) * hyp2f1(r + x, b + x + 1, a + b + x, z)
        alive_odds = 1 + a / (b + x) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
        return head * tail / alive_odds
    head = (a + b + x - 1) / (a - 1)
    tail = 1 - ((alpha + big_t) / (alpha + big_t + horizon)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    death_odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12), 0.0)
    alive_odds = 1 + death_odds * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
    return head * tail / alive_odds


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma spend parameters (``v`` is often written gamma)."""

    p: float
    q: float
    v: float
    log_likelihood: float


def _spenders(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    require_columns(summary, ("frequency", "monetary"), "customer summary")
    repeat = summary[summary["frequency"] > 0]
    x = repeat["frequency"].to_numpy(dtype="float64")
    zbar = repeat["monetary"].to_numpy(dtype="float64")
    if (zbar <= 0).any():
        raise ValueError("Gamma-Gamma needs a positive mean spend for every repeat customer")
    return x, zbar


def fit_gamma_gamma(summary: pd.DataFrame) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters from repeat customers' (frequency, monetary)."""
    x, zbar = _spenders(summary)
    if len(x) == 0:
        raise ValueError("Gamma-Gamma needs customers with repeat purchases; the summary has none")

    def negative(log_params: np.ndarray) -> float:
        p, q, v = np.exp(log_params)
        ll = (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(zbar)
              + p * x * np.log(x) - (p * x + q) * np.log(x * zbar + v))
        value = -ll.sum()
        return float(value) if np.isfinite(value) else 1e300

    result = minimize(negative, np.log([1.0, 1.0, float(np.mean(zbar))]), method="Nelder-Mead",
                      options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 20_000, "maxfev": 40_000})
    result = minimize(negative, result.x, method="L-BFGS-B")
    _check_converged("p, q, v", np.exp(result.x), -result.fun, {"p": 1e6, "q": 1e6, "v": 1e10})
    p, q, v = np.exp(result.x)
    return GammaGammaParams(float(p), float(q), float(v), float(-result.fun))


def expected_spend(params: GammaGammaParams, summary: pd.DataFrame) -> np.ndarray:
    """Expected value of a customer's future purchase (population mean for customers with x = 0)."""
    require_columns(summary, ("frequency", "monetary"), "customer summary")
    x = summary["frequency"].to_numpy(dtype="float64")
    zbar = summary["monetary"].to_numpy(dtype="float64")
    if params.q <= 1:
        raise ValueError(f"expected spend needs q > 1 (fitted q = {params.q:.3f})")
    population = params.p * params.v / (params.q - 1)
    weight = (params.q - 1) / (params.p * x + params.q - 1)
    return np.where(x > 0, weight * population + (1 - weight) * zbar, population)
