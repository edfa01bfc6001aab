"""Fit, validate and apply the models for one clinic.

:func:`fit_models` makes the audit's one fitted model set (:class:`ModelSet`, kept on the
Audit): BG/NBD, MBG/NBD and Pareto/NBD are fitted on a calibration period and scored on the
holdout; the model with the lowest per-patient holdout error is refitted on the full history,
with Gamma-Gamma for spend (or its fallback when its check fails). Everything downstream (the
models section, segment values, the call lists and the forecast) reads this set; the holdout
fits are the only other fits. :func:`compute_models` turns it into metrics and tables.

Every failure mode (too little history, too few repeat patients, a fit that does not
converge, spend correlated with frequency) is reported in plain words and in metrics.json
with the fallback used; never a crash and never an absurd number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clinic_analysis.measures.history import (
    AVG_MONTH_DAYS,
    TOO_LITTLE_HISTORY,
    enough_history,
    months_of_history,
)
from clinic_analysis.models import clusters as K
from clinic_analysis.models import forecast as F
from clinic_analysis.models import lifetimes_adapter as L
from clinic_analysis.models.clv import (
    GRID_SHARE,
    MIN_REPEATERS,
    GammaGamma,
    Holdout,
    PurchaseModel,
    clv,
    expected_next_visit,
    frequency_fit,
    holdout_split,
    only,
    rfm,
    score_holdout,
    upto,
)
from clinic_analysis.models.parallel import ahead, forks, in_background, in_child, thread_map

#: BG/NBD is kept only when its holdout error is lower than the best model that lets a
#: patient leave after the first visit by more than this share (it cannot say that a
#: one-visit patient is gone, so a tie goes to the model that can).
BGNBD_MARGIN = 0.01


@dataclass
class ModelSet:
    """The audit's fitted models: one purchase model, the spend per visit, and how the
    model was chosen."""

    status: str  # ok | too_little_history | too_few_repeaters | not_converged
    summary: pd.DataFrame  # rfm of the base at as_of (frequency, recency, T, monetary, ...)
    chosen: str | None = None
    purchases: PurchaseModel | None = None
    spend: pd.Series | None = None  # expected spend per visit, per patient
    gamma_gamma: dict = field(default_factory=dict)  # its metrics: params, check, status
    selection: dict = field(default_factory=dict)  # model -> holdout scores
    holdouts: dict = field(default_factory=dict)  # model -> Holdout
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.purchases is not None

    def p_alive(self) -> pd.Series:
        """P(alive) per patient. Under BG/NBD a patient without a repeat visit cannot have
        left by the model's own assumption: shown as unknown (NaN), never as 1."""
        p = pd.Series(self.purchases.p_alive(self.summary), index=self.summary.index)
        if self.chosen == "bgnbd":
            p[self.summary["frequency"] == 0] = np.nan
        return p

    def expected_visits(self, days: float) -> pd.Series:
        return pd.Series(
            self.purchases.expected_visits(self.summary, days), index=self.summary.index
        )


def _r(x, n=4):
    return None if x is None or not np.isfinite(x) else round(float(x), n)


def fit_spend(s: pd.DataFrame, revenue: pd.Series, max_corr: float) -> tuple[pd.Series, dict]:
    """Expected spend per visit: Gamma-Gamma when its check holds, else the patient's own
    average check (the clinic's for those without money). Returns (spend, metrics)."""
    m: dict = {}
    spend = None
    try:
        gg = GammaGamma().fit(s)
        corr = gg.corr_
        m = {"params": {k: _r(v, 6) for k, v in gg.params_.items()}, "freq_monetary_corr": _r(corr)}
        if np.isfinite(corr) and abs(corr) > max_corr:
            m["status"] = "assumption_failed"
        elif gg.params_["q"] <= 1:
            m["status"] = "q_below_one"
        else:
            m["status"] = "ok"
            spend = gg.expected_spend(s)
    except (L.ConvergenceError, ValueError, np.linalg.LinAlgError, KeyError):
        m = {"status": "not_converged"}
    if spend is None:
        own = (revenue.reindex(s.index) / (s["frequency"] + 1)).clip(lower=0)
        spend = own.fillna(own.mean()).to_numpy()
        m["fallback"] = "own_average_check"
    return pd.Series(np.clip(spend, 0, None), index=s.index), m


def fit_one(kind: str, days: pd.DataFrame, as_of: pd.Timestamp, ids, max_corr: float) -> ModelSet:
    """One model kind with its spend model on the history up to ``as_of`` (used for the
    chosen model and for the forecast's backtest cut-offs)."""
    s = only(rfm(days, as_of), ids)
    revenue = upto(days, as_of).groupby("patient_id")["amount"].sum()
    out = ModelSet(status="ok", summary=s, chosen=kind)
    if int((s["frequency"] > 0).sum()) < MIN_REPEATERS:
        out.status = "too_few_repeaters"
        return out
    pool, spending = in_background(fit_spend, s, revenue, max_corr, rows=len(days))
    try:
        out.purchases = PurchaseModel(kind).fit(s)
    except L.ConvergenceError:
        out.status = "not_converged"
    finally:
        spend = spending.result()
        pool.shutdown()
    if out.purchases is not None:
        out.spend, out.gamma_gamma = spend
    return out


def select_model(days: pd.DataFrame, as_of: pd.Timestamp, holdout_days: int, ids) -> dict:
    """Fit each model on the calibration period and score it on the holdout."""
    cal, actual = holdout_split(days, as_of, holdout_days, ids)
    out: dict[str, Holdout] = {}
    if int((cal["frequency"] > 0).sum()) < MIN_REPEATERS:
        return out

    def scored(kind: str) -> Holdout | None:
        try:
            model = PurchaseModel(kind).fit(cal)
        except L.ConvergenceError:
            return None
        if model.grid_days_ > max(1.0, cal["T"].max() * GRID_SHARE) * 1.001:
            return None  # Pareto/NBD on a grid coarser than the measured-safe one: not trusted
        h = score_holdout(model, cal, actual, holdout_days)
        return h if np.isfinite(h.mae) else None  # a fit that cannot predict is left out

    for kind, h in zip(L.MODELS, thread_map(scored, L.MODELS, rows=len(days)), strict=True):
        if h is not None:
            out[kind] = h
    return out


def choose(scores: dict[str, Holdout]) -> str | None:
    """The model with the lowest per-patient holdout error; BG/NBD only when it is clearly
    better (:data:`BGNBD_MARGIN`)."""
    if not scores:
        return None
    best = min(scores, key=lambda k: scores[k].mae)
    if best == "bgnbd":
        others = [k for k in scores if k != "bgnbd"]
        if others:
            alt = min(others, key=lambda k: scores[k].mae)
            if scores[alt].mae <= scores["bgnbd"].mae * (1 + BGNBD_MARGIN):
                return alt
    return best


def fit_models(params, days: pd.DataFrame, ids, as_of) -> ModelSet:
    """The audit's one model set (see the module doc)."""
    cfg = params.models
    ids = pd.Index(ids).unique()
    if not enough_history(days, as_of, params.history.min_months):
        return ModelSet(status=TOO_LITTLE_HISTORY, summary=only(rfm(days, as_of), ids))
    scores = select_model(days, as_of, cfg.holdout_days, ids)
    kind = choose(scores) or "mbgnbd"
    fits = fit_one(kind, days, as_of, ids, cfg.max_spend_correlation)
    fits.holdouts = scores
    fits.selection = {
        k: {
            "params": {p: _r(v, 6) for p, v in h.params.items()},
            "log_likelihood": _r(h.log_likelihood, 2),
            "holdout_mae": _r(h.mae),
            "holdout_total_error": _r(h.total_error),
            "chosen": k == kind,
        }
        for k, h in scores.items()
    }
    if scores:  # a model that did not fit or cannot predict is listed, with no figures
        for k in L.MODELS:
            fits.selection.setdefault(
                k,
                {"params": None, "log_likelihood": None, "holdout_mae": None,
                 "holdout_total_error": None, "chosen": False},
            )  # fmt: skip
    return fits


#: the backtest's cut-offs (months back) computed in the caller's process when
#: :class:`ModelWork` has a child process, the others in the child (else the caller would
#: wait for the child: measured at 100k patients)
HERE_CUTOFFS = F.BACKTEST_MONTHS_BACK[-1:]


class ModelWork:
    """:func:`fit_models`, then the forecast and the backtest of the model it chose, started
    now in a forked child process (:func:`~clinic_analysis.models.parallel.in_child`; here,
    lazily, above its row limit). They need only the visit days, so the rest of the audit
    is computed meanwhile. :meth:`fits` gives the model set; :meth:`forecast` and
    :meth:`backtest` what :func:`compute_models` would compute from it (raising what they
    raised); :meth:`close` when done."""

    def __init__(self, params, days: pd.DataFrame, ids, as_of) -> None:
        self._args = (days, as_of, params)
        # without a child, every cut-off is computed in one go, when asked for
        self._here = HERE_CUTOFFS if forks(len(days)) else ()
        there = tuple(b for b in F.BACKTEST_MONTHS_BACK if b not in self._here)
        self._items = in_child(_model_work, params, days, ids, as_of, there, rows=len(days))
        self._got: dict = {}

    def _get(self, name: str):
        while name not in self._got:
            key, value = next(self._items)
            self._got[key] = value
        return self._got.pop(name)

    def fits(self) -> ModelSet:
        return self._get("fits")

    def forecast(self, reactivation=None) -> pd.DataFrame:
        """:func:`F.forecast` of the set :meth:`fits` gave, with ``reactivation``."""
        return F.with_reactivation(self._get("forecast"), reactivation)

    def backtest(self, fits: ModelSet) -> pd.DataFrame:
        """:func:`F.backtest` of ``fits`` (the set :meth:`fits` gave)."""
        own = F.backtest_runs(*self._args, fits, fit_one, back=self._here) if self._here else []
        return F.join_backtest(self._get("backtest") + own)  # in the order of the cut-offs

    def close(self) -> None:
        self._items.close()


def _model_work(params, days: pd.DataFrame, ids, as_of, back) -> Iterator[tuple[str, object]]:
    """:class:`ModelWork`'s items, named: the fitted set, then (when a model was fitted) the
    backtest's runs of the cut-offs ``back`` and the forecast without its reactivation
    layer."""
    fits = fit_models(params, days, ids, as_of)
    yield "fits", fits
    if fits.status == TOO_LITTLE_HISTORY or not fits.ok:
        return
    pool, forecasting = in_background(F.forecast, fits, days, as_of, params, rows=len(days))
    try:
        yield "backtest", F.backtest_runs(days, as_of, params, fits, fit_one, back=back)
        yield "forecast", forecasting.result()
    finally:
        pool.shutdown()


def start_clustering(params, base: pd.DataFrame, as_of, rows: int) -> Callable:
    """The clustering of the base (``base``: the patients summary's rows of the base)
    started now in a thread (:func:`~clinic_analysis.models.parallel.ahead`; here, when
    asked for, above its row limit): it reads only the visit summary, so it runs beside the
    measures; the function returned gives the :class:`~clinic_analysis.models.clusters.
    Clustering` (or None) to :func:`compute_models`."""
    cfg = params.models

    def clustering():
        return K.cluster(K.features(base, as_of), (cfg.k_min, cfg.k_max))

    return ahead(clustering, rows=rows)


@dataclass
class ModelResult:
    metrics: dict
    per_patient: pd.DataFrame
    frames: dict = field(default_factory=dict)


def compute_models(
    params, fits: ModelSet, days: pd.DataFrame, people: pd.DataFrame, as_of, reactivation=None,
    work: ModelWork | None = None, clustering: Callable | None = None,
) -> ModelResult:  # fmt: skip
    """Metrics and per-patient figures from the fitted set; ``reactivation``: per patient,
    what calling adds beyond what the base layer already expects (refusers.py). ``work``:
    the :class:`ModelWork` that gave ``fits`` (its forecast and backtest are taken from it),
    ``clustering``: gives the clustering of the base in ``people`` (:func:`start_clustering`);
    else each is computed here."""
    cfg = params.models
    if fits.status == TOO_LITTLE_HISTORY:
        status = {
            "status": TOO_LITTLE_HISTORY,
            "months": round(months_of_history(days, as_of), 1),
            "min_months": params.history.min_months,
        }
        return ModelResult(metrics={**status, "forecast": dict(status)}, per_patient=pd.DataFrame())
    s = fits.summary
    pp = pd.DataFrame(index=s.index)
    m: dict = {
        "status": fits.status,
        "chosen": fits.chosen if fits.ok else None,
        "selection": fits.selection,
        "time_unit": "days",
        "gamma_gamma": {},
        "clusters": {},
        "notes": [],
    }
    frames: dict = {}
    repeaters = int((s["frequency"] > 0).sum())
    m["repeaters"] = repeaters
    pp["historic_value"] = people.set_index("patient_id")["revenue"].reindex(s.index).fillna(0.0)
    pp["expected_next_visit"] = expected_next_visit(s)
    if fits.status != "ok":
        m["notes"].append(fits.status)
    if not fits.ok:
        return ModelResult(metrics=m, per_patient=pp, frames=frames)
    model = fits.purchases
    m["fit"] = {
        "params": {k: _r(v, 6) for k, v in model.params_.items()},
        "converged": bool(model.converged_),
        "penalizer": model.penalizer_,
        "distinct_rows": model.rows_,
        "grid_days": model.grid_days_,
        "log_likelihood": _r(model.log_likelihood_, 2),
    }
    if not model.converged_:
        m["notes"].append("model_penalized")
    if fits.chosen == "bgnbd":
        m["notes"].append("bgnbd_one_visit_unknown")
    pp["p_alive"] = fits.p_alive()
    horizons = (3, 6, 12)
    cums = model.expected_visits_over(s, [months * AVG_MONTH_DAYS for months in horizons])
    for months, cum in zip(horizons, cums, strict=True):
        pp[f"expected_visits_{months}m"] = cum
    m["gamma_gamma"] = dict(fits.gamma_gamma)
    if m["gamma_gamma"].get("status") != "ok":
        m["notes"].append(f"gg_{m['gamma_gamma'].get('status')}")
    pp["expected_spend"] = fits.spend
    pp["clv_12m"] = clv(model, s, fits.spend.to_numpy(), 12, cfg.annual_discount)
    m["clv"] = {
        "annual_discount": cfg.annual_discount,
        "total_12m": _r(pp["clv_12m"].sum(), 2),
        "mean_12m": _r(pp["clv_12m"].mean(), 2),
        "top_decile_share": _r(
            pp["clv_12m"].nlargest(max(len(pp) // 10, 1)).sum() / max(pp["clv_12m"].sum(), 1e-9)
        ),
    }
    one = s["frequency"] == 0
    m["p_alive"] = {
        "mean": _r(pp["p_alive"].mean()),
        "one_visit_mean": _r(pp.loc[one, "p_alive"].mean()) if one.any() else None,
        "one_visit_2y_mean": _r(pp.loc[one & (s["T"] >= 730), "p_alive"].mean())
        if (one & (s["T"] >= 730)).any()
        else None,
    }
    h = fits.holdouts.get(fits.chosen)
    if h is not None:
        m["holdout"] = {
            "days": h.days,
            "mae": _r(h.mae),
            "patients": h.patients,
            "predicted_total": _r(h.predicted_total, 1),
            "actual_total": _r(h.actual_total, 1),
        }
        frames["holdout_by_frequency"] = h.by_frequency
    frames["frequency_fit"] = frequency_fit(model, s)
    if clustering is None:
        X = K.features(people[people["in_base"]], as_of)
        clustering = ahead(K.cluster, X, (cfg.k_min, cfg.k_max), rows=len(days))
    # the clustering, the forecast and the backtest's cut-offs side by side (threads)
    fc_pool, forecasting = (None, None) if work else in_background(
        F.forecast, fits, days, as_of, params, reactivation, rows=len(days)
    )  # fmt: skip
    try:
        if work is None:
            bt = F.backtest(days, as_of, params, fits, refit=fit_one)
            fc = forecasting.result()
        else:
            bt = work.backtest(fits)
            fc = work.forecast(reactivation)
        failed = None
    except (L.ConvergenceError, ValueError) as err:  # said plainly, never a crash
        failed = err
    finally:
        cl = clustering()
        if fc_pool is not None:
            fc_pool.shutdown()
    if cl is not None:
        pp["cluster"] = cl.labels.reindex(pp.index)
        m["clusters"] = {
            "k": cl.k,
            "silhouette": _r(cl.silhouette),
            "scores": {str(k): _r(v) for k, v in cl.scores.items()},
            "sizes": {k: int(v) for k, v in cl.profile["patients"].items()},
        }
        frames["cluster_profile"] = cl.profile
    if failed is not None:
        m["notes"].append("forecast_failed")
        m["forecast_error"] = type(failed).__name__
        return ModelResult(metrics=m, per_patient=pp, frames=frames)
    frames["forecast"] = fc
    frames["backtest"] = bt
    m["forecast"] = F.forecast_metrics(fc, bt)
    return ModelResult(metrics=m, per_patient=pp, frames=frames)
