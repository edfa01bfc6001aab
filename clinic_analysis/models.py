"""Fit, validate and apply the models for one clinic: BG/NBD + Gamma-Gamma (P(alive),
expected visits, CLV), clustering and the revenue forecast. Every failure mode (too few
repeat patients, a fit that does not converge, spend correlated with frequency) is caught,
reported in plain words and in metrics.json with the fallback used; never a crash and never
an absurd number."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import clusters as K
from . import forecast as F
from .clv import (
    BGNBD,
    MIN_REPEATERS,
    GammaGamma,
    clv,
    expected_next_visit,
    frequency_fit,
    holdout,
    rfm,
)
from .history import TOO_LITTLE_HISTORY, enough_history, months_of_history
from .lifetimes_adapter import ConvergenceError


@dataclass
class ModelResult:
    metrics: dict
    per_patient: pd.DataFrame
    frames: dict = field(default_factory=dict)


def _r(x, n=4):
    return None if x is None or not np.isfinite(x) else round(float(x), n)


def compute_models(
    params,
    days: pd.DataFrame,
    people: pd.DataFrame,
    as_of: pd.Timestamp,
    reactivation_base: float = 0.0,
) -> ModelResult:
    cfg = params.models
    if not enough_history(days, as_of, params.history.min_months):
        status = {
            "status": TOO_LITTLE_HISTORY,
            "months": round(months_of_history(days, as_of), 1),
            "min_months": params.history.min_months,
        }
        return ModelResult(metrics={**status, "forecast": dict(status)}, per_patient=pd.DataFrame())
    s = rfm(days, as_of)
    s = s[s.index.isin(people.loc[people["in_base"], "patient_id"])]
    pp = pd.DataFrame(index=s.index)
    m: dict = {"bgnbd": {"time_unit": "days"}, "gamma_gamma": {}, "clusters": {}, "notes": []}
    frames: dict = {}
    repeaters = int((s["frequency"] > 0).sum())
    m["bgnbd"]["repeaters"] = repeaters
    bg = None
    if repeaters < MIN_REPEATERS:
        m["bgnbd"]["status"] = "too_few_repeaters"
        m["notes"].append("too_few_repeaters")
    else:
        try:
            bg = BGNBD().fit(s)
            m["bgnbd"]["params"] = {k: _r(v, 6) for k, v in bg.params_.items()}
            m["bgnbd"]["converged"] = bool(bg.converged_)
            m["bgnbd"]["penalizer"] = bg.penalizer_
            m["bgnbd"]["distinct_rows"] = bg.rows_
            m["bgnbd"]["status"] = "ok" if bg.converged_ else "penalized"
            if not bg.converged_:
                m["notes"].append("bgnbd_penalized")
        except ConvergenceError:
            m["bgnbd"]["status"] = "not_converged"
            m["bgnbd"]["converged"] = False
            m["notes"].append("bgnbd_not_converged")
    hist = people.set_index("patient_id")["revenue"].reindex(s.index).fillna(0.0)
    pp["historic_value"] = hist
    pp["expected_next_visit"] = expected_next_visit(s)
    if bg is None:
        return ModelResult(metrics=m, per_patient=pp, frames=frames)

    pp["p_alive"] = np.clip(bg.p_alive(s), 0, 1)
    for months in (3, 6, 12):
        pp[f"expected_visits_{months}m"] = bg.expected_visits(s, months * 30.4375)
    # Gamma-Gamma, with its independence check
    spend = None
    try:
        gg = GammaGamma().fit(s)
        corr = gg.corr_
        m["gamma_gamma"] = {
            "params": {k: _r(v, 6) for k, v in gg.params_.items()},
            "freq_monetary_corr": _r(corr),
        }
        if np.isfinite(corr) and abs(corr) > cfg.max_spend_correlation:
            m["gamma_gamma"]["status"] = "assumption_failed"
            m["notes"].append("gg_assumption_failed")
        elif gg.params_["q"] <= 1:
            m["gamma_gamma"]["status"] = "q_below_one"
            m["notes"].append("gg_q_below_one")
        else:
            m["gamma_gamma"]["status"] = "ok"
            spend = gg.expected_spend(s)
    except (ConvergenceError, ValueError, np.linalg.LinAlgError):
        m["gamma_gamma"] = {"status": "not_converged"}
        m["notes"].append("gg_not_converged")
    if spend is None:  # fallback: the patient's own average check, else the clinic's
        own = (
            people.set_index("patient_id")["revenue"].reindex(s.index) / (s["frequency"] + 1)
        ).clip(lower=0)
        spend = own.fillna(own.mean()).to_numpy()
        m["gamma_gamma"]["fallback"] = "own_average_check"
    pp["expected_spend"] = np.clip(spend, 0, None)
    pp["clv_12m"] = clv(bg, s, pp["expected_spend"].to_numpy(), 12, cfg.annual_discount)
    m["clv"] = {
        "annual_discount": cfg.annual_discount,
        "total_12m": _r(pp["clv_12m"].sum(), 2),
        "mean_12m": _r(pp["clv_12m"].mean(), 2),
        "top_decile_share": _r(
            pp["clv_12m"].nlargest(max(len(pp) // 10, 1)).sum() / max(pp["clv_12m"].sum(), 1e-9)
        ),
    }
    # validation on a holdout period
    try:
        h = holdout(days, as_of, cfg.holdout_days)
    except ConvergenceError:
        h = None
    if h is not None:
        m["bgnbd"]["holdout"] = {
            "days": h.days,
            "mae": _r(h.mae),
            "patients": h.patients,
            "predicted_total": _r(h.predicted_total, 1),
            "actual_total": _r(h.actual_total, 1),
        }
        frames["holdout_by_frequency"] = h.by_frequency
    # frequency histogram: observed against the model's expectation
    frames["frequency_fit"] = frequency_fit(bg, s)
    # clustering
    X = K.features(people[people["in_base"]], as_of)
    cl = K.cluster(X, (cfg.k_min, cfg.k_max))
    if cl is not None:
        pp["cluster"] = cl.labels.reindex(pp.index)
        m["clusters"] = {
            "k": cl.k,
            "silhouette": _r(cl.silhouette),
            "scores": {str(k): _r(v) for k, v in cl.scores.items()},
            "sizes": {k: int(v) for k, v in cl.profile["patients"].items()},
        }
        frames["cluster_profile"] = cl.profile
    # forecast and backtest
    try:
        fc = F.forecast(days, as_of, cfg.forecast_months, reactivation_base)
        frames["forecast"] = fc
        m["forecast"] = {
            "monthly": [
                {
                    "month": r.month.strftime("%Y-%m"),
                    "base": _r(r.base, 0),
                    "new": _r(r.new, 0),
                    "reactivation": _r(r.reactivation, 0),
                    "total": _r(r.total, 0),
                    "low": _r(r.low, 0),
                    "high": _r(r.high, 0),
                }
                for r in fc.itertuples()
            ]
        }
        m["forecast"]["total_12m"] = _r(fc["total"].sum(), 0)
        bt = F.backtest(days, as_of, cfg.backtest_months)
        frames["backtest"] = bt
        m["forecast"]["backtest"] = {"months": int(len(bt)), "mape": _r(F.mape(bt))}
    except (ConvergenceError, ValueError):
        m["notes"].append("forecast_failed")
    return ModelResult(metrics=m, per_patient=pp, frames=frames)
