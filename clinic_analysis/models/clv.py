"""Churn and lifetime value: BG/NBD, MBG/NBD or Pareto/NBD + Gamma-Gamma, fitted, validated and explained.

Estimators follow scikit-learn's shape: settings in ``__init__``, ``fit`` learns, learned
state ends in ``_``, and an unfitted model refuses with one sentence. Time is in days.
Patients are compressed to exact unique (frequency, recency, T) rows with weights before the
fit, so fit time depends on distinct rows, not patients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clinic_analysis.measures.history import AVG_MONTH_DAYS
from clinic_analysis.models import lifetimes_adapter as L

MIN_REPEATERS = 20  # fewer patients with a repeat visit than this: no model, said plainly


class NotFittedError(RuntimeError):
    """Model has not been fit yet. Please call the .fit method first."""


def upto(days: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The visit days up to ``as_of``: ``days`` itself, not a copy, when none is later (the
    usual case: a million patients' days copied per fit would cost gigabytes)."""
    if len(days) and days["day"].max() <= as_of:
        return days
    return days[days["day"] <= as_of]


def rfm(days: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per patient at ``as_of``: frequency (repeat visit days), recency (days from the first
    to the last visit), T (days from the first visit to as_of), monetary (average amount of
    the repeat visits), plus first and last visit. ``days`` from summary.visit_days."""
    d = upto(days, as_of).sort_values(["patient_id", "day"])
    g = d.groupby("patient_id")
    first, last, n = g["day"].min(), g["day"].max(), g.size()
    total, first_amount = g["amount"].sum(), g["amount"].first()
    out = pd.DataFrame(
        {
            "frequency": (n - 1).astype("int64"),
            "recency": (last - first).dt.days.astype(float),
            "T": (as_of - first).dt.days.astype(float),
            "first": first,
            "last": last,
        }
    )
    repeat_total = total - first_amount
    out["monetary"] = (repeat_total / out["frequency"]).where(out["frequency"] > 0, 0.0)
    return out


def only(summary: pd.DataFrame, ids) -> pd.DataFrame:
    """The rows of ``summary`` whose patient (the index) is in ``ids`` (a hash lookup: pandas'
    ``isin`` on string ids walks them one by one in Python)."""
    return summary[pd.Index(ids).unique().get_indexer(summary.index) >= 0]


def unique_rows(summary: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each patient's code among the distinct (frequency, recency, T) rows, and those rows'
    three columns (a prediction is computed once per distinct row, then mapped back)."""
    key = ["frequency", "recency", "T"]
    codes = summary.groupby(key, sort=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    return codes, [summary[k].to_numpy(float)[first] for k in key]


def compress(summary: pd.DataFrame, cols=("frequency", "recency", "T")) -> pd.DataFrame:
    """Unique rows of ``cols`` with a ``weight`` column (how many patients share each)."""
    return summary.groupby(list(cols), sort=False).size().rename("weight").reset_index()


#: Unique (frequency, recency, T) rows above which the fit sees recency and T on a coarser
#: day grid. Below it the fit is exact. The grid is 1/64 of the longest T: on CDNOW-like
#: data this moves no parameter by more than 0.5% (tests/test_model_fit.py measures it).
COARSEN_ABOVE = 60_000
GRID_SHARE = 1 / 64
#: Pareto/NBD needs a hypergeometric function per row and evaluation (lifetimes fits it by
#: Nelder-Mead, without gradients): it sees at most this many rows, on the coarsest grid
#: needed (the grid used is reported with the fit).
PARETO_MAX_ROWS = 3_000


def coarsen(summary: pd.DataFrame, q: float) -> pd.DataFrame:
    """Weighted unique rows with recency and T rounded to a grid of ``q`` days."""
    c = summary[["frequency", "recency", "T"]].copy()
    c["T"] = np.maximum(np.round(c["T"] / q) * q, q)
    c["recency"] = np.minimum(np.round(c["recency"] / q) * q, c["T"])
    return compress(c)


def fit_rows(summary: pd.DataFrame, max_rows: int = COARSEN_ABOVE) -> tuple[pd.DataFrame, float]:
    """The weighted unique rows a fit sees, and the day grid used (1 = exact days): exact
    up to ``max_rows`` rows, else on the grid of :data:`GRID_SHARE` of the longest T."""
    rows, grid = compress(summary[["frequency", "recency", "T"]]), 1.0
    q = float(summary["T"].max() * GRID_SHARE)
    if len(rows) > max_rows and q > 1:
        rows, grid = coarsen(summary, q), q
    while len(rows) > PARETO_MAX_ROWS and max_rows <= PARETO_MAX_ROWS:  # Pareto/NBD only
        grid *= 2
        rows = coarsen(summary, grid)
    return rows, grid


class PurchaseModel:
    """A repeat-visit model of lifetimes on day-level summaries: ``"bgnbd"`` (Fader, Hardie &
    Lee 2005), ``"mbgnbd"`` (Batislam et al. 2007: a patient may leave right after the first
    visit) or ``"pareto"`` (Schmittlein et al. 1987).

    The fit runs on the exact unique (frequency, recency, T) rows with weights; only above
    :data:`COARSEN_ABOVE` rows are recency and T put on a coarser grid (see :func:`fit_rows`).
    Predictions are computed once per unique row and use the exact days."""

    def __init__(self, kind: str = "mbgnbd", penalizer: float = 0.0, max_rows=COARSEN_ABOVE):
        if kind not in L.MODELS:
            raise ValueError(f"unknown model {kind!r}: use one of {L.MODELS}")
        self.kind = kind
        self.penalizer = penalizer
        self.max_rows = max_rows

    def fit(self, summary: pd.DataFrame, initial: dict | None = None) -> PurchaseModel:
        limit = min(self.max_rows, PARETO_MAX_ROWS) if self.kind == "pareto" else self.max_rows
        rows, grid = fit_rows(summary, limit)
        self.rows_, self.grid_days_ = len(rows), grid
        tried = []
        for pen in (self.penalizer, 1e-3, 1e-2, 1e-1):
            try:
                model = L.fit_purchases(
                    self.kind, rows["frequency"], rows["recency"], rows["T"], rows["weight"],
                    penalizer=pen, initial=initial,
                )  # fmt: skip
                params = L.model_params(model)
                if not all(np.isfinite(v) and v > 0 for v in params.values()):
                    raise ValueError("non-finite parameters")
            except (L.ConvergenceError, ValueError, np.linalg.LinAlgError) as err:
                tried.append(f"penalizer {pen}: {type(err).__name__}")
                continue
            self.model_ = model
            self.params_ = params
            self.penalizer_ = pen
            self.converged_ = pen == self.penalizer
            self.attempts_ = tried
            self.fit_rows_ = rows
            self.log_likelihood_ = L.log_likelihood(
                self.kind, params, rows["frequency"], rows["recency"], rows["T"], rows["weight"]
            )
            return self
        raise L.ConvergenceError(f"{self.kind} did not converge: " + "; ".join(tried))

    def _check(self):
        if not hasattr(self, "model_"):
            raise NotFittedError(NotFittedError.__doc__)

    def _on_unique(self, summary, fn, model=None):
        self._check()
        codes, u = unique_rows(summary)
        values = fn(self.model_ if model is None else model, *u)
        return np.asarray(values, float)[codes]

    def with_params(self, params: dict):
        """A copy of the fitted lifetimes model carrying other parameters (for draws)."""
        import copy

        m = copy.copy(self.model_)
        index = self.model_.params_.index
        m.params_ = pd.Series([float(params[k]) for k in index], index=index)
        return m

    def p_alive(self, summary: pd.DataFrame) -> np.ndarray:
        return np.clip(self._on_unique(summary, L.p_alive), 0, 1)

    def expected_visits(self, summary: pd.DataFrame, days: float, model=None) -> np.ndarray:
        return self._on_unique(
            summary, lambda m, f, r, t: L.expected_purchases(m, days, f, r, t), model
        )

    def expected_visits_over(self, summary: pd.DataFrame, days) -> np.ndarray:
        """:meth:`expected_visits` at each of ``days``: one row per horizon, the distinct
        rows found once."""
        self._check()
        codes, u = unique_rows(summary)
        pairs = L.distinct_pairs(u[0], u[2])
        return np.stack(
            [L.expected_purchases(self.model_, t, *u, pairs=pairs)[codes] for t in days]
        )

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"<{self.kind}: not fitted>"
        p = ", ".join(f"{k}: {v:.4g}" for k, v in self.params_.items())
        return f"<{self.kind}: fitted on {self.rows_} distinct rows, {p}>"


def BGNBD(penalizer: float = 0.0) -> PurchaseModel:  # noqa: N802 - the model's name
    """The BG/NBD model (kept for the callers that name it)."""
    return PurchaseModel("bgnbd", penalizer)


class GammaGamma:
    """Gamma-Gamma spend model on patients with at least one repeat visit and spend > 0."""

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: pd.DataFrame) -> GammaGamma:
        rep = summary[(summary["frequency"] > 0) & (summary["monetary"] > 0)]
        self.corr_ = (
            float(rep[["frequency", "monetary"]].corr().iloc[0, 1])
            if len(rep) > 2
            else float("nan")
        )
        rows = compress(rep, cols=("frequency", "monetary"))
        self.model_ = L.fit_gamma_gamma(
            rows["frequency"], rows["monetary"], rows["weight"], penalizer=self.penalizer
        )
        self.params_ = L.gg_params(self.model_)
        self.population_mean_ = float(np.average(rep["monetary"]))
        return self

    def expected_spend(self, summary: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError(NotFittedError.__doc__)
        out = np.full(len(summary), np.nan)
        has = (summary["frequency"] > 0).to_numpy() & (summary["monetary"] > 0).to_numpy()
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        prior = p * v / (q - 1) if q > 1 else self.population_mean_
        out[~has] = prior  # no repeat spend yet: the population's expectation
        if has.any():
            out[has] = L.expected_spend(
                self.model_,
                summary["frequency"].to_numpy()[has],
                summary["monetary"].to_numpy()[has],
            )
        return out


def frequency_fit(
    model: PurchaseModel, summary: pd.DataFrame, max_x: int = 7, step: float = 30.0
) -> pd.DataFrame:
    """Patients by number of repeat visits: observed against the model's expectation
    Σ_i P(X(T_i) = x) (T binned to ``step`` days); the last bin is "max_x or more"."""
    model._check()
    T = (np.round(summary["T"] / step) * step).clip(lower=step)
    counts = T.value_counts()
    expected = np.zeros(max_x + 1)
    for t_val, n in counts.items():
        probs = [L.prob_n_purchases(model.model_, float(t_val), x) for x in range(max_x)]
        expected[:max_x] += n * np.asarray(probs)
        expected[max_x] += n * (1 - sum(probs))
    observed = (
        summary["frequency"]
        .clip(upper=max_x)
        .value_counts()
        .reindex(range(max_x + 1), fill_value=0)
    )
    return pd.DataFrame(
        {"frequency": range(max_x + 1), "observed": observed.to_numpy(), "expected": expected}
    )


@dataclass
class Holdout:
    days: int
    mae: float
    predicted_total: float
    actual_total: float
    patients: int
    log_likelihood: float
    params: dict
    by_frequency: pd.DataFrame = field(repr=False)

    @property
    def total_error(self) -> float:
        """Relative error of the predicted total of holdout visits."""
        return self.predicted_total / max(self.actual_total, 1e-9) - 1


def holdout_split(days: pd.DataFrame, as_of: pd.Timestamp, holdout_days: int, ids=None):
    """Calibration summary at as_of − holdout and each patient's visits in the holdout."""
    cal_end = as_of - pd.Timedelta(days=holdout_days)
    cal = rfm(days, cal_end)
    if ids is not None:
        cal = only(cal, ids)
    hold = days[(days["day"] > cal_end) & (days["day"] <= as_of)]
    actual = hold.groupby("patient_id").size().reindex(cal.index).fillna(0).to_numpy()
    return cal, actual


def score_holdout(model: PurchaseModel, cal: pd.DataFrame, actual, holdout_days: int) -> Holdout:
    """Compare a calibration fit's predicted holdout visits with what happened."""
    pred = model.expected_visits(cal, holdout_days)
    rows = compress(cal)  # log-likelihood on the same exact rows for every model
    ll = L.log_likelihood(
        model.kind, model.params_, rows["frequency"], rows["recency"], rows["T"], rows["weight"]
    )
    by_f = pd.DataFrame(
        {"frequency": cal["frequency"].clip(upper=7).to_numpy(), "predicted": pred,
         "actual": actual}
    )  # fmt: skip
    by_f = by_f.groupby("frequency")[["predicted", "actual"]].mean().reset_index()
    return Holdout(
        days=holdout_days,
        mae=float(np.mean(np.abs(pred - actual))),
        predicted_total=float(pred.sum()),
        actual_total=float(np.sum(actual)),
        patients=int(len(cal)),
        log_likelihood=ll,
        params=dict(model.params_),
        by_frequency=by_f,
    )


def holdout(
    days: pd.DataFrame, as_of: pd.Timestamp, holdout_days: int = 180, kind: str = "bgnbd"
) -> Holdout | None:
    """Refit on the calibration period (up to as_of − holdout) and compare each patient's
    predicted holdout visits with what happened."""
    cal, actual = holdout_split(days, as_of, holdout_days)
    if (cal["frequency"] > 0).sum() < MIN_REPEATERS:
        return None
    return score_holdout(PurchaseModel(kind).fit(cal), cal, actual, holdout_days)


def clv(
    model: PurchaseModel,
    summary: pd.DataFrame,
    spend: np.ndarray,
    months: int = 12,
    annual_discount: float = 0.15,
) -> np.ndarray:
    """Discounted value of the next ``months``: Σ_m ΔE[visits in month m] × spend / (1+d)^m."""
    monthly = (1 + annual_discount) ** (1 / 12) - 1
    total = np.zeros(len(summary))
    prev = np.zeros(len(summary))
    cums = model.expected_visits_over(summary, [m * AVG_MONTH_DAYS for m in range(1, months + 1)])
    for m, cum in enumerate(cums, start=1):
        total += (cum - prev) * spend / (1 + monthly) ** m
        prev = cum
    return np.clip(total, 0, None)


def expected_next_visit(summary: pd.DataFrame) -> pd.Series:
    """Due date from a returning patient's own rhythm: last visit + their mean interval."""
    interval = summary["recency"] / summary["frequency"].where(summary["frequency"] > 0)
    return summary["last"] + pd.to_timedelta(interval.round(), unit="D")
