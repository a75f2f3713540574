"""Buy-till-you-die models against the published CDNOW fits and against numerical integration."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import betaln, gammaln
from sklearn.metrics import roc_auc_score

from analytics.btyd import (
    BetaGeoParams,
    expected_purchases,
    expected_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
    rfm_summary,
)
from analytics.lifetime_choice import MIN_HOLDOUT_GAIN, choose_purchase_model
from tests.analytics.btyd_simulation import simulate


def three_significant(value: float) -> float:
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def cdnow(datasets: Path) -> pd.DataFrame:
    summary = pd.read_csv(datasets / "cdnow" / "cdnow_customers_summary_with_transactions.csv")
    return summary.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary"})


def test_bgnbd_reproduces_the_published_cdnow_parameters(cdnow: pd.DataFrame) -> None:
    fitted = fit_bgnbd(cdnow)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
    for name, value in published.items():
        assert three_significant(getattr(fitted, name)) == three_significant(value), name
    # and the README's own re-fit, to four decimals
    assert (fitted.r, fitted.alpha, fitted.a, fitted.b) == pytest.approx((0.2426, 4.4135, 0.7929, 2.4258), abs=1e-4)
    assert fitted.log_likelihood == pytest.approx(-9582.43, abs=0.01)


def test_gamma_gamma_reproduces_the_published_cdnow_parameters(cdnow: pd.DataFrame) -> None:
    fitted = fit_gamma_gamma(cdnow)
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert three_significant(getattr(fitted, name)) == three_significant(value), name
    assert (fitted.p, fitted.q, fitted.v) == pytest.approx((6.2488, 3.7446, 15.4477), abs=1e-3)


def test_summary_from_transactions_matches_the_calibration_file(datasets: Path, cdnow: pd.DataFrame) -> None:
    raw = pd.read_csv(datasets / "cdnow" / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "customer_id", "date", "cds", "value"], dtype={"date": str})
    transactions = raw.assign(date=pd.to_datetime(raw["date"], format="%Y%m%d"))
    summary = rfm_summary(transactions, datetime(1997, 9, 30)).set_index("customer_id")
    expected = cdnow.set_index("ID")
    assert len(summary) == len(expected) == 2_357
    summary = summary.loc[expected.index]
    assert (summary["frequency"].to_numpy() == expected["frequency"].to_numpy()).all()
    assert np.abs(summary["recency"].to_numpy() - expected["recency"].to_numpy()).max() < 0.01
    assert np.abs(summary["T"].to_numpy() - expected["T"].to_numpy()).max() < 0.01
    assert np.abs(summary["monetary"].to_numpy() - expected["monetary"].to_numpy()).max() < 0.01


CUSTOMERS = pd.DataFrame({"frequency": [0.0, 2.0, 4.0, 14.0], "recency": [0.0, 30.43, 20.0, 37.5],
                          "T": [38.86, 38.86, 38.0, 38.0]})


def _numerical(params: BetaGeoParams, x: float, t_x: float, big_t: float, horizon: float) -> tuple[float, float]:
    """P(alive) and E[purchases in horizon] by integrating over each customer's dropout probability p.

    The purchase rate is integrated out in closed form (gamma prior); the dropout probability
    numerically, with the beta density's endpoint singularities handled by quad's algebraic
    weight, so the hypergeometric closed form is checked independently.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    extra = 1 if params.modified else 0  # MBG/NBD: a customer may also leave right after the first purchase

    def rate_term(s: float) -> float:  # log E[lambda^x exp(-lambda s)] under the gamma prior
        return float(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + s))

    def beta_integral(function: object) -> float:  # integral of function(p) * Beta(a, b) density
        value = integrate.quad(function, 0, 1, weight="alg", wvar=(a - 1, b - 1), epsabs=0, epsrel=1e-12,
                               limit=500)[0]
        return value * float(np.exp(-betaln(a, b)))

    alive = beta_integral(lambda p: (1 - p) ** (x + extra)) * np.exp(rate_term(big_t))
    left = 0.0
    if x > 0 or params.modified:
        left = beta_integral(lambda p: p * (1 - p) ** (x - 1 + extra)) * np.exp(rate_term(t_x))
    # G(T) - G(T + p t) written as -G(T) expm1(...) to avoid cancellation for small p.
    def future_integrand(p: float) -> float:
        if p == 0:  # the limit as p -> 0
            return float(np.exp(rate_term(big_t)) * (r + x) * horizon / (alpha + big_t))
        return float(-(1 - p) ** (x + extra) / p * np.exp(rate_term(big_t)) * np.expm1(
            (r + x) * np.log((alpha + big_t) / (alpha + big_t + p * horizon))))

    future = beta_integral(future_integrand)
    return alive / (alive + left), future / (alive + left)


@pytest.mark.parametrize("modified", [False, True])
def test_closed_forms_agree_with_numerical_integration(modified: bool) -> None:
    params = BetaGeoParams(r=0.2426, alpha=4.4135, a=0.7929, b=2.4258, log_likelihood=0.0, modified=modified)
    alive = probability_alive(params, CUSTOMERS)
    purchases = expected_purchases(params, CUSTOMERS, 39.0)
    for i, row in enumerate(CUSTOMERS.itertuples(index=False)):
        numeric_alive, numeric_purchases = _numerical(params, row.frequency, row.recency, row.T, 39.0)
        assert alive[i] == pytest.approx(numeric_alive, rel=1e-8)
        assert purchases[i] == pytest.approx(numeric_purchases, rel=1e-7)


def test_one_time_buyers_are_not_certainly_alive_under_mbgnbd(cdnow: pd.DataFrame) -> None:
    plain, modified = fit_bgnbd(cdnow), fit_bgnbd(cdnow, modified=True)
    one_timers = cdnow[cdnow["frequency"] == 0]
    assert (probability_alive(plain, one_timers) == 1.0).all()
    assert (probability_alive(modified, one_timers) < 1.0).all()
    assert modified.modified and modified.log_likelihood > -9600


def test_expected_spend_shrinks_towards_the_population_mean(cdnow: pd.DataFrame) -> None:
    params = fit_gamma_gamma(cdnow)
    population = params.p * params.v / (params.q - 1)
    few = pd.DataFrame({"frequency": [0.0, 1.0, 20.0], "monetary": [0.0, 100.0, 100.0]})
    spend = expected_spend(params, few)
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < spend[2] < 100.0


def test_bad_summaries_are_refused() -> None:
    with pytest.raises(ValueError, match="has none"):
        fit_bgnbd(pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [5.0]}))
    with pytest.raises(ValueError, match="recency <= T"):
        fit_bgnbd(pd.DataFrame({"frequency": [1.0], "recency": [6.0], "T": [5.0]}))
    with pytest.raises(ValueError, match="lacks column"):
        fit_bgnbd(pd.DataFrame({"frequency": [1.0]}))
    with pytest.raises(ValueError, match="positive mean spend"):
        fit_gamma_gamma(pd.DataFrame({"frequency": [2.0], "monetary": [0.0]}))
    assert rfm_summary(pd.DataFrame({"customer_id": [], "date": [], "value": []}), datetime(2020, 1, 1)).empty


TRUTH = {"r": 0.55, "alpha": 6.0, "a": 0.65, "b": 3.2}


def test_on_a_simulated_bgnbd_population_bgnbd_is_chosen_and_recovers_the_truth() -> None:
    population = simulate(20_000, **TRUTH, modified=False, seed=0)
    choice = choose_purchase_model(population, random_state=42)
    assert choice.name == "BG/NBD", choice.reason
    assert choice.held_out["BG/NBD"] > choice.held_out["MBG/NBD"] + MIN_HOLDOUT_GAIN
    fitted = choice.params
    for name, true in TRUTH.items():
        assert getattr(fitted, name) == pytest.approx(true, rel=0.10), name
    alive = probability_alive(fitted, population)
    one_time = population["frequency"].to_numpy() == 0
    assert (alive[one_time] == 1.0).all()  # one-time buyers follow the chosen model: alive until they repeat
    assert roc_auc_score(population["alive"], alive) > 0.85


def test_on_a_simulated_mbgnbd_population_mbgnbd_is_chosen() -> None:
    population = simulate(10_000, **TRUTH, modified=True, seed=1)
    choice = choose_purchase_model(population, random_state=42)
    assert choice.name == "MBG/NBD", choice.reason
    alive = probability_alive(choice.params, population)
    one_time = population["frequency"].to_numpy() == 0
    # One-time buyers may have left too: the model's average P(alive) for them matches the truth.
    assert alive[one_time].mean() == pytest.approx(population["alive"][one_time].mean(), abs=0.03)
    assert choice.summary()["chosen"] == "MBG/NBD"
