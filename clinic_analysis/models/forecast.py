"""Revenue forecast by calendar month, with a predictive band and a backtest.

Two lines:

* **if nothing is done** (``no_action``): the existing base's expected visits in each calendar
  month after ``as_of`` (the audit's chosen model, :class:`~clinic_analysis.models.selection.ModelSet`)
  × each patient's expected spend, plus new patients at the last 12 months' pace × what a new
  patient brings in each month since the first visit; both × the calendar month's seasonal
  factor;
* **if the base is worked** (``with_calls``): the first line plus the reactivation layer:
  per patient, what a call adds beyond the visits the base layer already expects from them
  (refusers.py), spread over the first months as the calls are made.

Seasonality: one factor per calendar month, the mean of that month's ratios to the centred
12-month average over the complete months observed (each month divided by the number of times
it was observed), normalised to a mean of 1 and shrunk toward 1 with under two years of
complete months, and as far as the factors do not stand out from their own sampling noise
(empirical Bayes), so that noise is not forecast as seasonality.

The 80% band of the first line is a predictive interval from simulation: parameter draws from
the fit's covariance (a finite-difference Hessian of the log-likelihood, in log parameters),
the base's own process uncertainty (who is still alive, at what rate: persistent over the
horizon), the spend level's sampling error, the new-patient pace (Gamma around the recent
count) and the month-to-month noise the clinic's own revenue shows around its seasonal level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinic_analysis.measures import summary
from clinic_analysis.measures.history import AVG_MONTH_DAYS, enough_history
from clinic_analysis.models import lifetimes_adapter as L
from clinic_analysis.models.clv import upto
from clinic_analysis.models.parallel import thread_map

SEED = 20261122
REACTIVATION_SPREAD = (0.3, 0.3, 0.2, 0.1, 0.1)  # share of the potential realised per month
PARAM_DRAWS = 40  # parameter draws; each is reused across the band's simulations
DRAWS = 1000
BACKTEST_MONTHS_BACK = (6, 9, 12)
BAND = (10, 90)


def complete_months(days: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Revenue per calendar month, full months only (the first month of the data and a month
    cut by ``as_of`` are left out)."""
    d = upto(days, as_of)
    if d.empty:
        return pd.Series(dtype=float)
    per = d.groupby(d["day"].dt.to_period("M"))["amount"].sum()
    first = d["day"].min().to_period("M") + 1
    last = (
        as_of.to_period("M")
        if as_of == as_of + pd.offsets.MonthEnd(0)
        else as_of.to_period("M") - 1
    )
    idx = pd.period_range(first, last, freq="M") if first <= last else pd.PeriodIndex([], freq="M")
    return per.reindex(idx, fill_value=0.0).astype(float)


def seasonal_factors(monthly: pd.Series) -> pd.Series:
    """Factor per calendar month (1..12), see the module doc."""
    ones = pd.Series(1.0, index=range(1, 13))
    if len(monthly) < 12 or monthly.sum() <= 0:
        return ones
    level = monthly.rolling(12, center=True, min_periods=12).mean()
    ratio = (monthly / level).replace([np.inf, -np.inf], np.nan).dropna()
    if ratio.empty:
        ratio = monthly / monthly.mean()
    g = ratio.groupby(ratio.index.month)
    raw = g.mean().reindex(range(1, 13)).fillna(1.0)
    raw = raw / raw.mean()
    # empirical Bayes: a month's factor counts as far as it stands out from its own noise
    se2 = float((g.var().fillna(0) / g.size()).mean()) if g.size().max() > 1 else 0.0
    signal = max(0.0, float(raw.var()) - se2)
    evidence = signal / (signal + se2) if signal + se2 > 0 else 1.0
    weight = min(1.0, len(monthly) / 24) * evidence
    return 1 + weight * (raw - 1)


def month_noise(monthly: pd.Series, season: pd.Series) -> float:
    """Month-to-month noise of revenue around its seasonal level: the sd of the log ratio of
    each deseasonalised month to its centred 5-month mean (inflated for the point's own
    share of that mean)."""
    x = monthly[monthly > 0]
    if len(x) < 6:
        return 0.15
    lx = np.log(x / season.reindex(x.index.month).to_numpy())
    dev = lx - lx.rolling(5, center=True, min_periods=3).mean()
    sd = float(dev.std() * np.sqrt(5 / 4))
    return sd if np.isfinite(sd) else 0.15


def new_patient_curve(days: pd.DataFrame, as_of: pd.Timestamp, months: int = 12) -> np.ndarray:
    """Average revenue per new patient in month 0, 1, ... after the first visit."""
    days = upto(days, as_of)
    first = days.groupby("patient_id")["day"].transform("min")  # each row's first visit
    age = ((days["day"] - first).dt.days // AVG_MONTH_DAYS).astype(int)
    cohort_ok = first <= as_of - pd.Timedelta(days=months * AVG_MONTH_DAYS)
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


def forecast_months(as_of: pd.Timestamp, months: int) -> list[pd.Period]:
    """The calendar months after the one ``as_of`` falls in."""
    start = as_of.to_period("M") + 1
    return [start + i for i in range(months)]


def _base_rows(fits) -> pd.DataFrame:
    """The base as unique (frequency, recency, T) rows with the spend of their patients."""
    s = fits.summary[["frequency", "recency", "T"]].assign(
        spend=fits.spend.reindex(fits.summary.index)
    )
    return (
        s.groupby(["frequency", "recency", "T"])
        .agg(n=("spend", "size"), spend=("spend", "sum"))
        .reset_index()
    )


def _history(rows: pd.DataFrame) -> tuple:
    """The rows' (frequency, recency, T) arrays and their distinct (frequency, T) pairs,
    found once for every :func:`_cum` on these rows."""
    f, r, T = (rows[k].to_numpy(float) for k in ("frequency", "recency", "T"))
    return f, r, T, L.distinct_pairs(f, T)


def _cum(model, hist: tuple, t: float) -> np.ndarray:
    """E[visits in the next ``t`` days] per row (``hist`` from :func:`_history`)."""
    if t <= 0:
        return np.zeros(len(hist[0]))
    f, r, T, pairs = hist
    return L.expected_purchases(model, t, f, r, T, pairs=pairs)  # arrays: no pandas per call


def _base_layer(fits, periods, as_of, rows, hist) -> tuple[np.ndarray, np.ndarray]:
    """Expected visits and revenue of the existing base in each calendar month."""
    ends = [(p.to_timestamp(how="end").normalize() - as_of).days for p in periods]
    start = (periods[0].to_timestamp() - pd.Timedelta(days=1) - as_of).days
    model = fits.purchases.model_
    prev = _cum(model, hist, start)
    visits, money = [], []
    for t in ends:
        cum = _cum(model, hist, float(t))
        visits.append(float(np.sum((cum - prev) * rows["n"])))
        money.append(float(np.sum((cum - prev) * rows["spend"])))
        prev = cum
    return np.array(visits), np.array(money)


def _level_draws(fits, periods, as_of, rows, hist, n: int, rng) -> np.ndarray:
    """Parameter uncertainty as a multiplier of the base layer: the expected revenue over the
    horizon under each parameter draw, relative to the fitted parameters'."""
    start = (periods[0].to_timestamp() - pd.Timedelta(days=1) - as_of).days
    end = (periods[-1].to_timestamp(how="end").normalize() - as_of).days
    model = fits.purchases.model_

    def total(m):  # a Series: its sum skips the rows a drawn parameter set makes NaN
        return float(np.sum((_cum(m, hist, end) - _cum(m, hist, start)) * rows["spend"]))

    point = total(model)
    if point <= 0:
        return np.ones(n)
    return np.array(
        [total(fits.purchases.with_params(p)) / point for p in _param_draws(fits, n, rng)]
    )


def _param_draws(fits, n: int, rng) -> list[dict]:
    """Parameter draws from the fit's covariance (in log parameters)."""
    model = fits.purchases
    rows = model.fit_rows_
    cov = L.log_param_covariance(
        model.kind, model.params_, rows["frequency"], rows["recency"], rows["T"], rows["weight"]
    )
    if cov is None:
        return [dict(model.params_)] * n
    names = list(model.params_)
    mean = np.log([model.params_[k] for k in names])
    z = rng.multivariate_normal(mean, cov, size=n)
    return [dict(zip(names, np.exp(row), strict=True)) for row in z]


def _process_sd(fits, rows: pd.DataFrame, horizon: float) -> float:
    """Relative sd of the base's total over the horizon from who is still alive and at what
    rate: persistent across months, so it does not average out like month noise. Per row,
    with P(alive) p and the visit rate's posterior Gamma(r + x, alpha + T):
    Var = p·Var(λ)·t² + p(1−p)·(E[λ]·t)²."""
    model = fits.purchases.model_
    p = L.p_alive(model, rows["frequency"], rows["recency"], rows["T"])
    r, alpha = fits.purchases.params_["r"], fits.purchases.params_["alpha"]
    shape, rate = r + rows["frequency"].to_numpy(), alpha + rows["T"].to_numpy()
    mean_rate = shape / rate
    var = p * shape / rate**2 * horizon**2 + p * (1 - p) * (mean_rate * horizon) ** 2
    per = rows["spend"].to_numpy() / np.maximum(rows["n"].to_numpy(), 1)  # spend per patient
    total = float(np.sum(rows["n"] * p * mean_rate * horizon * per))
    if total <= 0:
        return 0.0
    return float(np.sqrt(np.sum(rows["n"] * var * per**2)) / total)


def _new_layer(arrivals: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Revenue of new patients in month i: Σ_{j≤i} arrivals[j] × curve[i − j], along the last
    axis (one row per simulation when ``arrivals`` is 2-D)."""
    arrivals = np.asarray(arrivals, float)
    out = np.zeros(arrivals.shape)
    k = arrivals.shape[-1]
    for j in range(k):
        out[..., j:] += arrivals[..., j : j + 1] * curve[: k - j]
    return out


def forecast(
    fits, days: pd.DataFrame, as_of: pd.Timestamp, params, reactivation=None, months=None,
    draws: int = DRAWS,
) -> pd.DataFrame:  # fmt: skip
    """Monthly forecast after ``as_of`` (see the module doc)."""
    months = months or params.models.forecast_months
    rng = np.random.default_rng(SEED)
    periods = forecast_months(as_of, months)
    monthly = complete_months(days, as_of)
    season = seasonal_factors(monthly)
    sf = np.array([season[p.month] for p in periods])
    rows = _base_rows(fits)
    hist = _history(rows)
    base_visits, base = _base_layer(fits, periods, as_of, rows, hist)
    first = summary.first_visits(upto(days, as_of))
    recent = int((first > as_of - pd.Timedelta(days=365)).sum())
    curve = new_patient_curve(days, as_of, months)
    new = _new_layer(recent / 12 * sf, curve)
    # predictive band: parameters, spend level, new-patient pace, month noise
    level = _level_draws(fits, periods, as_of, rows, hist, PARAM_DRAWS, rng)
    amounts = fits.summary["monetary"].where(fits.summary["frequency"] > 0).dropna()
    spend_se = (
        float(amounts.std() / amounts.mean() / np.sqrt(len(amounts))) if len(amounts) > 2 else 0.1
    )
    sigma = month_noise(monthly, season)
    horizon = (periods[-1].to_timestamp(how="end").normalize() - as_of).days
    process = np.exp(rng.normal(0, _process_sd(fits, rows, horizon), draws))
    paces = rng.gamma(recent + 0.5, 1.0, draws) / 12
    spend_mult = np.exp(rng.normal(0, spend_se, draws))
    noise = np.exp(rng.normal(-(sigma**2) / 2, sigma, (draws, months)))
    lv = level[np.arange(draws) % PARAM_DRAWS][:, None]
    b = base * lv * process[:, None] * sf * spend_mult[:, None]
    sims = (b + _new_layer(paces[:, None] * sf, curve)) * noise
    out = pd.DataFrame(
        {
            "month": [p.to_timestamp() for p in periods],
            "base": base * sf,
            "base_visits": base_visits * sf,
            "new": new,
        }
    )
    out["no_action"] = out["base"] + out["new"]
    out["no_action_low"] = np.percentile(sims, BAND[0], axis=0)
    out["no_action_high"] = np.percentile(sims, BAND[1], axis=0)
    return with_reactivation(out, reactivation)


def with_reactivation(fc: pd.DataFrame, reactivation=None) -> pd.DataFrame:
    """``fc`` (:func:`forecast`) with its reactivation layer and ``with_calls`` line made
    from ``reactivation`` (per patient, what a call adds; None: nothing), in place. The
    rest of the forecast does not depend on it: the two can be computed apart."""
    spread = np.zeros(len(fc))
    spread[: len(REACTIVATION_SPREAD)] = REACTIVATION_SPREAD[: len(fc)]
    react_total = 0.0 if reactivation is None else float(np.nansum(reactivation))
    fc["reactivation"] = react_total * spread
    fc["with_calls"] = fc["no_action"] + fc["reactivation"]
    return fc


def backtest(days: pd.DataFrame, as_of: pd.Timestamp, params, fits, refit) -> pd.DataFrame:
    """The forecast made from several past cut-offs (6, 9 and 12 months back, as history
    allows; no reactivation layer) against the revenue that came. One row per cut-off and
    month: cutoff, month, actual, no_action, no_action_low, no_action_high. ``refit``
    fits the chosen model again on the history up to a cut-off
    (:func:`clinic_analysis.models.selection.fit_one`)."""
    return join_backtest(backtest_runs(days, as_of, params, fits, refit))


def backtest_runs(
    days: pd.DataFrame, as_of: pd.Timestamp, params, fits, refit, back=BACKTEST_MONTHS_BACK
) -> list[pd.DataFrame]:
    """:func:`backtest`'s rows of each cut-off ``back`` months back that history allows,
    in order (:func:`join_backtest` joins them)."""
    monthly = complete_months(days, as_of)
    if monthly.empty:
        return []
    last = monthly.index[-1]
    ids = fits.summary.index

    def run(back: int) -> pd.DataFrame | None:
        cutoff = (last - back).to_timestamp(how="end").normalize()
        hist = days[days["day"] <= cutoff]
        if not enough_history(hist, cutoff, params.history.min_months):
            return None
        f = refit(fits.chosen, hist, cutoff, ids, params.models.max_spend_correlation)
        if not f.ok:
            return None
        fc = forecast(f, hist, cutoff, params, months=back, draws=400)
        fc["actual"] = [
            float(monthly.get(pd.Timestamp(m).to_period("M"), np.nan)) for m in fc["month"]
        ]
        fc["cutoff"] = cutoff
        return fc[["cutoff", "month", "actual", "no_action", "no_action_low", "no_action_high"]]

    # the cut-offs are independent (each forecast seeds its own generator): side by side
    return [r for r in thread_map(run, back, rows=len(days)) if r is not None]


def join_backtest(runs: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(runs, ignore_index=True) if runs else pd.DataFrame()


def mape(bt: pd.DataFrame) -> float | None:
    ok = bt["actual"] > 0 if len(bt) else pd.Series(dtype=bool)
    if not ok.any():
        return None
    return float(
        (abs(bt.loc[ok, "no_action"] - bt.loc[ok, "actual"]) / bt.loc[ok, "actual"]).mean()
    )


def coverage(bt: pd.DataFrame) -> tuple[int, int]:
    """Months whose real revenue fell inside the band, and months compared."""
    if not len(bt):
        return 0, 0
    ok = bt["actual"].notna()
    inside = (bt["actual"] >= bt["no_action_low"]) & (bt["actual"] <= bt["no_action_high"])
    return int((inside & ok).sum()), int(ok.sum())


def forecast_metrics(fc: pd.DataFrame, bt: pd.DataFrame) -> dict:
    def r(x):
        return None if x is None or not np.isfinite(x) else round(float(x), 0)

    inside, months = coverage(bt)
    m = mape(bt)
    return {
        "monthly": [
            {
                "month": row.month.strftime("%Y-%m"),
                "no_action": r(row.no_action),
                "no_action_low": r(row.no_action_low),
                "no_action_high": r(row.no_action_high),
                "reactivation": r(row.reactivation),
                "with_calls": r(row.with_calls),
            }
            for row in fc.itertuples()
        ],
        "total_12m": r(fc["no_action"].head(12).sum()),
        "with_calls_12m": r(fc["with_calls"].head(12).sum()),
        "backtest": {
            "cutoffs": sorted({c.date().isoformat() for c in bt["cutoff"]}) if len(bt) else [],
            "mape": None if m is None else round(m, 4),
            "coverage": round(inside / months, 4) if months else None,
            "months": months,
            "inside": inside,
        },
    }
