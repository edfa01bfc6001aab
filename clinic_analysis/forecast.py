"""Revenue forecast for the next months, with an uncertainty band and a backtest.

Three layers, month by month:

* **base**: the existing patients' expected visits in the month (BG/NBD, incremental) ×
  their expected spend (Gamma-Gamma);
* **new**: new patients at the recent pace (last 12 months) with each calendar month's
  seasonality, × what a new patient brings in each month since the first visit (from
  the clinic's own history of new patients);
* **reactivation**: the base-scenario potential from the refusers section, spread over the
  first months as the calls are made (shown apart; not in the backtest).

The band comes from simulation: Poisson visit counts around the expectations and a
bootstrap of the new-patient pace (500 draws, fixed seed): the 10th and 90th percentiles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clv import BGNBD, MONTH_DAYS, GammaGamma, rfm

SEED = 20261122
REACTIVATION_SPREAD = (0.3, 0.3, 0.2, 0.1, 0.1)  # share of the potential realised per month


def new_patient_curve(days: pd.DataFrame, as_of: pd.Timestamp, months: int = 12) -> np.ndarray:
    """Average revenue per new patient in month 0, 1, ... after the first visit."""
    first = days.groupby("patient_id")["day"].transform("min")
    age = ((days["day"] - first).dt.days // MONTH_DAYS).astype(int)
    cohort_ok = first <= as_of - pd.Timedelta(days=months * MONTH_DAYS)
    d = days[cohort_ok & (age < months)]
    n = d["patient_id"].nunique()
    if n == 0:
        return np.zeros(months)
    return (
        d.groupby(age[cohort_ok & (age < months)])["amount"]
        .sum()
        .reindex(range(months), fill_value=0.0)
        .to_numpy()
        / n
    )


def forecast(
    days: pd.DataFrame,
    as_of: pd.Timestamp,
    months: int = 12,
    reactivation: float = 0.0,
    draws: int = 500,
) -> pd.DataFrame:
    """Monthly forecast after ``as_of``: base, new, reactivation, total, low, high."""
    s = rfm(days, as_of)
    model = BGNBD().fit(s)
    spend = GammaGamma().fit(s).expected_spend(s)
    cum_prev = np.zeros(len(s))
    base, base_visits = [], []
    for m in range(1, months + 1):
        cum = model.expected_visits(s, m * MONTH_DAYS)
        base.append(float(((cum - cum_prev) * spend).sum()))
        base_visits.append(float((cum - cum_prev).sum()))
        cum_prev = cum
    # new patients: the last 12 months' pace with month-of-year seasonality
    first = days.groupby("patient_id")["day"].min()
    recent = first[first > as_of - pd.Timedelta(days=365)]
    by_month = first.dt.month.value_counts().reindex(range(1, 13), fill_value=0)
    season = by_month / by_month.mean() if by_month.mean() else by_month * 0 + 1
    pace = len(recent) / 12
    curve = new_patient_curve(days, as_of, months)
    start = as_of.to_period("M") + 1
    periods = [start + i for i in range(months)]
    arrivals = np.array([pace * season[p.month] for p in periods])
    new = np.array([sum(arrivals[j] * curve[i - j] for j in range(i + 1)) for i in range(months)])
    spread = np.zeros(months)
    spread[: len(REACTIVATION_SPREAD)] = REACTIVATION_SPREAD[:months]
    react = reactivation * spread
    # uncertainty: Poisson visits around the base, bootstrap of the arrival pace
    rng = np.random.default_rng(SEED)
    mean_spend = np.array(base) / np.maximum(base_visits, 1e-9)
    sims = np.empty((draws, months))
    boot_pace = rng.poisson(len(recent), draws) / 12
    for k in range(draws):
        visits = rng.poisson(base_visits)
        arr = boot_pace[k] * np.array([season[p.month] for p in periods])
        nk = np.array([sum(arr[j] * curve[i - j] for j in range(i + 1)) for i in range(months)])
        sims[k] = visits * mean_spend + nk + react
    out = pd.DataFrame(
        {
            "month": [p.to_timestamp() for p in periods],
            "base": base,
            "new": new,
            "reactivation": react,
        }
    )
    out["total"] = out["base"] + out["new"] + out["reactivation"]
    out["low"] = np.percentile(sims, 10, axis=0)
    out["high"] = np.percentile(sims, 90, axis=0)
    return out


def backtest(days: pd.DataFrame, as_of: pd.Timestamp, months: int = 6) -> pd.DataFrame:
    """The same forecast made ``months`` ago (no reactivation layer) against what happened."""
    start = (as_of.to_period("M") - months).to_timestamp() - pd.Timedelta(days=1)
    f = forecast(days[days["day"] <= start], start, months=months, draws=200)
    actual = days[(days["day"] > start)].groupby(days["day"].dt.to_period("M"))["amount"].sum()
    f["actual"] = [float(actual.get(pd.Timestamp(m).to_period("M"), 0.0)) for m in f["month"]]
    # the last month may be cut by as_of: compare full months only
    f = f[f["month"] + pd.offsets.MonthEnd(0) <= as_of]
    return f


def mape(bt: pd.DataFrame) -> float | None:
    ok = bt["actual"] > 0
    if not ok.any():
        return None
    return float((abs(bt.loc[ok, "total"] - bt.loc[ok, "actual"]) / bt.loc[ok, "actual"]).mean())
