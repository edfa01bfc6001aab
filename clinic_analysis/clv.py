"""Churn and lifetime value: BG/NBD + Gamma-Gamma, fitted, validated and explained.

Estimators follow scikit-learn's shape: settings in ``__init__``, ``fit`` learns, learned
state ends in ``_``, and an unfitted model refuses with one sentence. Time is in days.
Patients are compressed to unique (frequency, recency, T) rows with weights before the fit,
so fit time depends on distinct rows, not patients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import lifetimes_adapter as L

MIN_REPEATERS = 20  # fewer patients with a repeat visit than this: no model, said plainly
MONTH_DAYS = 30.4375


class NotFittedError(RuntimeError):
    """Model has not been fit yet. Please call the .fit method first."""


def rfm(days: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per patient at ``as_of``: frequency (repeat visit days), recency (days from the first
    to the last visit), T (days from the first visit to as_of), monetary (average amount of
    the repeat visits), plus first and last visit. ``days`` from summary.visit_days."""
    d = days[days["day"] <= as_of].sort_values(["patient_id", "day"])
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


def compress(summary: pd.DataFrame, cols=("frequency", "recency", "T")) -> pd.DataFrame:
    """Unique rows of ``cols`` with a ``weight`` column (how many patients share each)."""
    return summary.groupby(list(cols), sort=False).size().rename("weight").reset_index()


def round_sig(x: np.ndarray, digits: int) -> np.ndarray:
    """Round to ``digits`` significant digits (0 stays 0)."""
    x = np.asarray(x, float)
    mag = np.where(x > 0, np.floor(np.log10(np.where(x > 0, x, 1))), 0)
    scale = 10.0 ** (digits - 1 - mag)
    return np.round(x * scale) / scale


class BGNBD:
    """BG/NBD (Fader, Hardie & Lee 2005) on day-level summaries.

    The fit sees recency and T rounded to ``resolution`` days (a week by default: at most
    3.5 days off, far below the model's precision), so that patients collapse to few distinct
    rows and the fit time depends on them, not on the size of the base; predictions use the
    exact days."""

    def __init__(self, penalizer: float = 0.0, resolution: float = 7.0) -> None:
        self.penalizer = penalizer
        self.resolution = resolution

    def fit(self, summary: pd.DataFrame) -> BGNBD:
        coarse = summary[["frequency", "recency", "T"]].copy()
        if self.resolution > 1:
            q = self.resolution
            coarse["T"] = np.maximum(np.round(coarse["T"] / q) * q, 1.0)
            coarse["recency"] = np.minimum(np.round(coarse["recency"] / q) * q, coarse["T"])
        rows = compress(coarse)
        self.rows_ = len(rows)
        tried = []
        for pen in (self.penalizer, 1e-3, 1e-2, 1e-1):
            try:
                model = L.fit_bgnbd(
                    rows["frequency"], rows["recency"], rows["T"], rows["weight"], penalizer=pen
                )
            except (L.ConvergenceError, ValueError, np.linalg.LinAlgError) as err:
                tried.append(f"penalizer {pen}: {type(err).__name__}")
                continue
            self.model_ = model
            self.params_ = L.bgnbd_params(model)
            self.penalizer_ = pen
            self.converged_ = pen == self.penalizer
            self.attempts_ = tried
            return self
        raise L.ConvergenceError("BG/NBD did not converge: " + "; ".join(tried))

    def _check(self):
        if not hasattr(self, "model_"):
            raise NotFittedError(NotFittedError.__doc__)

    def _on_unique(self, summary, fn):
        self._check()
        rows = compress(summary)
        values = fn(rows["frequency"].to_numpy(), rows["recency"].to_numpy(), rows["T"].to_numpy())
        rows["v"] = values
        key = ["frequency", "recency", "T"]
        return summary[key].merge(rows[key + ["v"]], on=key, how="left")["v"].to_numpy()

    def p_alive(self, summary: pd.DataFrame) -> np.ndarray:
        return self._on_unique(summary, lambda f, r, t: L.p_alive(self.model_, f, r, t))

    def expected_visits(self, summary: pd.DataFrame, days: float) -> np.ndarray:
        return self._on_unique(
            summary, lambda f, r, t: L.expected_purchases(self.model_, days, f, r, t)
        )

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return "<BGNBD: not fitted>"
        p = ", ".join(f"{k}: {v:.4g}" for k, v in self.params_.items())
        return f"<BGNBD: fitted on {self.rows_} distinct rows, {p}>"


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
    model: BGNBD, summary: pd.DataFrame, max_x: int = 7, step: float = 30.0
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
    by_frequency: pd.DataFrame = field(repr=False)


def holdout(
    days: pd.DataFrame, as_of: pd.Timestamp, holdout_days: int = 180, penalizer: float = 0.0
) -> Holdout | None:
    """Refit on the calibration period (up to as_of − holdout) and compare each patient's
    predicted holdout visits with what happened."""
    cal_end = as_of - pd.Timedelta(days=holdout_days)
    cal = rfm(days, cal_end)
    if (cal["frequency"] > 0).sum() < MIN_REPEATERS:
        return None
    model = BGNBD(penalizer).fit(cal)
    pred = model.expected_visits(cal, holdout_days)
    hold = days[(days["day"] > cal_end) & (days["day"] <= as_of)]
    actual = hold.groupby("patient_id").size().reindex(cal.index).fillna(0).to_numpy()
    by_f = pd.DataFrame(
        {
            "frequency": cal["frequency"].clip(upper=7).to_numpy(),
            "predicted": pred,
            "actual": actual,
        }
    )
    by_f = by_f.groupby("frequency")[["predicted", "actual"]].mean().reset_index()
    return Holdout(
        days=holdout_days,
        mae=float(np.mean(np.abs(pred - actual))),
        predicted_total=float(pred.sum()),
        actual_total=float(actual.sum()),
        patients=int(len(cal)),
        by_frequency=by_f,
    )


def clv(
    model: BGNBD,
    summary: pd.DataFrame,
    spend: np.ndarray,
    months: int = 12,
    annual_discount: float = 0.15,
) -> np.ndarray:
    """Discounted value of the next ``months``: Σ_m ΔE[visits in month m] × spend / (1+d)^m."""
    monthly = (1 + annual_discount) ** (1 / 12) - 1
    total = np.zeros(len(summary))
    prev = np.zeros(len(summary))
    for m in range(1, months + 1):
        cum = model.expected_visits(summary, m * MONTH_DAYS)
        total += (cum - prev) * spend / (1 + monthly) ** m
        prev = cum
    return np.clip(total, 0, None)


def expected_next_visit(summary: pd.DataFrame) -> pd.Series:
    """Due date from a returning patient's own rhythm: last visit + their mean interval."""
    interval = summary["recency"] / summary["frequency"].where(summary["frequency"] > 0)
    return summary["last"] + pd.to_timedelta(interval.round(), unit="D")
