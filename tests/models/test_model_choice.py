"""The model choice, P(alive) and the forecast band on simulated clinics with known truth."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from clinic_analysis.models import forecast as F
from clinic_analysis.models.clv import PurchaseModel
from clinic_analysis.models.selection import ModelSet, choose, fit_one, select_model
from tests.models.model_worlds import clinic, simulate, to_days

AS_OF = pd.Timestamp("2026-10-31")
BG = {"r": 0.9, "alpha": 120.0, "a": 0.8, "b": 3.0}


def _params(min_months=12, months=12):
    return SimpleNamespace(
        models=SimpleNamespace(forecast_months=months, max_spend_correlation=0.3, holdout_days=180),
        history=SimpleNamespace(min_months=min_months),
    )


@pytest.mark.parametrize(
    ("world", "truth"),
    [
        ("mbgnbd", {"r": 0.9, "alpha": 120.0, "a": 1.2, "b": 3.0}),
        ("pareto", {"r": 0.9, "alpha": 120.0, "s": 0.8, "beta": 900.0}),
    ],
)
def test_each_model_recovers_its_own_parameters(world, truth):
    rng = np.random.default_rng(3)
    n = 2500  # exact rows for both models (Pareto/NBD is coarsened above 3,000 rows)
    sim = simulate(world, n, truth, rng.integers(300, 1800, n).astype(float), rng)
    model = PurchaseModel("mbgnbd" if world == "mbgnbd" else "pareto").fit(sim)
    for k, v in truth.items():
        assert model.params_[k] == pytest.approx(v, rel=0.3), k


@pytest.fixture(scope="module")
def third_never():
    """A clinic where a third of first-timers never return (the rest: BG/NBD)."""
    rng = np.random.default_rng(1)
    n = 6000
    sim = simulate("one_third_never", n, BG, rng.integers(200, 1800, n).astype(float), rng)
    return sim, to_days(sim, AS_OF, rng=rng)


def test_selection_does_not_pick_bgnbd_where_a_third_never_return(third_never):
    _, days = third_never
    scores = select_model(days, AS_OF, 180, days["patient_id"].unique())
    assert set(scores) == {"bgnbd", "mbgnbd", "pareto"}
    assert choose(scores) != "bgnbd"


def test_p_alive_of_one_visit_patients_gone_two_years_is_near_the_truth(third_never):
    sim, days = third_never
    fits = fit_one("mbgnbd", days, AS_OF, days["patient_id"].unique(), 0.3)
    order = fits.summary.index.str[1:].astype(int)
    truth = sim["alive"].to_numpy()[order]
    p = fits.p_alive().to_numpy()
    s = fits.summary
    gone = ((s["frequency"] == 0) & (s["T"] >= 730)).to_numpy()
    assert gone.sum() > 300
    assert abs(p[gone].mean() - truth[gone].mean()) < 0.1
    # P(alive) separates the alive from the gone far better than BG/NBD can here
    bg = fit_one("bgnbd", days, AS_OF, days["patient_id"].unique(), 0.3)
    auc, auc_bg = roc_auc_score(truth, p), roc_auc_score(truth, bg.purchases.p_alive(s))
    assert auc > 0.75 and auc > auc_bg + 0.1


def test_bgnbd_never_shows_one_visit_patients_as_certainly_alive():
    s = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 100.0], "T": [900.0, 900.0]})
    sim = simulate("bgnbd", 3000, BG, 1000.0, np.random.default_rng(2))
    fits = ModelSet(
        status="ok", summary=s, chosen="bgnbd", purchases=PurchaseModel("bgnbd").fit(sim)
    )
    p = fits.p_alive()
    assert np.isnan(p.iloc[0]) and 0 < p.iloc[1] < 1


def test_forecast_months_are_calendar_months_after_as_of():
    months = F.forecast_months(pd.Timestamp("2026-10-15"), 3)
    assert [str(m) for m in months] == ["2026-11", "2026-12", "2027-01"]


def test_seasonal_factors_divide_by_the_times_each_month_was_observed():
    # 30 complete months, July always half the level: July's factor is about half the rest
    idx = pd.period_range("2023-01", "2025-06", freq="M")
    monthly = pd.Series([50.0 if p.month == 7 else 100.0 for p in idx], index=idx)
    f = F.seasonal_factors(monthly)
    assert f[7] == pytest.approx(0.5 / (11.5 / 12), rel=0.05)
    assert f.mean() == pytest.approx(1.0)
    # with one year only the factors shrink halfway toward 1
    short = F.seasonal_factors(monthly.iloc[:12])
    assert 1 > short[7] > f[7]


@pytest.mark.slow
def test_forecast_band_holds_between_70_and_90_percent_of_months():
    inside = months = 0
    for seed in (11, 12, 13):
        rng = np.random.default_rng(seed)
        days = clinic("mbgnbd", {"r": 0.9, "alpha": 120.0, "a": 1.2, "b": 3.0}, 4, 60, AS_OF, rng)
        fits = fit_one("mbgnbd", days, AS_OF, days["patient_id"].unique(), 0.3)
        bt = F.backtest(days, AS_OF, _params(), fits, refit=fit_one)
        i, n = F.coverage(bt)
        inside, months = inside + i, months + n
    assert months >= 60
    assert 0.7 <= inside / months <= 0.9, (inside, months)
