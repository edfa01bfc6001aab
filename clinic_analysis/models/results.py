"""The sections of metrics.json the models compute: ``models`` and ``forecast`` (see
:mod:`clinic_analysis.results`), and the figures of the base the report quotes from the
per-patient model columns (:func:`base_figures`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from clinic_analysis.results import Section, metric, optional, table


@dataclass(kw_only=True)
class Models(Section):
    """Churn and lifetime value models. With too little history only status, months and
    min_months are written."""

    status: str = metric()  # ok | too_little_history | too_few_repeaters | ...
    months: float = optional()  # months of history (too little history only)
    min_months: int = optional()  # months needed (too little history only)
    chosen: str | None = optional()  # the model chosen on the holdout; None: none fitted
    selection: dict = optional()  # {model: holdout scores, chosen}
    time_unit: str = optional()  # "days"
    gamma_gamma: dict = optional()  # spend model: status, correlation; not_exported w/o money
    clusters: dict = optional()  # k, silhouette, scores, sizes; {} when not clustered
    notes: list = optional()  # warnings about the fits (catalogue keys)
    repeaters: int = optional()  # patients with a repeat visit
    fit: dict = optional()  # the chosen model's parameters and convergence
    # annual_discount, total_12m, mean_12m, top_decile_share; base_total_12m (issue 11):
    # the CLV of the next 12 months of the patients in the base
    clv: dict = optional()
    # mean, one_visit_mean, one_visit_2y_mean; base_mean and by_phase {phase: {patients,
    # mean}} (issue 11): over the patients of the base
    p_alive: dict = optional()
    # days, mae, patients, predicted_total, actual_total; total_error (issue 11):
    # |predicted / actual - 1| of the holdout's visits
    holdout: dict = optional()
    forecast_error: str = optional()  # the error that stopped the forecast
    # added by issue 11: visits the base is expected to make in the next 12 months
    expected_visits_12m: float = optional()
    holdout_by_frequency: pd.DataFrame | None = table()  # actual vs predicted (chart)
    frequency_fit: pd.DataFrame | None = table()  # observed vs expected repeat visits (chart)
    cluster_profile: pd.DataFrame | None = table()  # one row per cluster (table)


@dataclass(kw_only=True)
class Forecast(Section):
    """Revenue of the next months, with and without the calls. Money rounded to units."""

    status: str = optional()  # why there is no forecast (too little history, not exported)
    months: float = optional()  # months of history (too little history only)
    min_months: int = optional()  # months needed (too little history only)
    monthly: list = optional()  # [{month, no_action, low, high, reactivation, with_calls}]
    total_12m: float | None = optional()  # revenue of the next 12 months if nothing is done
    with_calls_12m: float | None = optional()  # the same if the call lists are worked
    backtest: dict = optional()  # cutoffs, mape, coverage, months, inside
    # added by issue 11: the whole horizon of ``monthly``, nothing done / the base worked
    no_action_total: float | None = optional()
    with_calls_total: float | None = optional()
    by_month: pd.DataFrame | None = table()  # the monthly forecast (chart)
    backtest_runs: pd.DataFrame | None = table()  # predicted vs actual by cutoff (chart)


def horizon_totals(forecast: dict) -> dict:
    """Revenue over the whole forecast horizon (every month of ``monthly``), if nothing is
    done and if the base is worked; empty when there is no forecast."""
    if "monthly" not in forecast:
        return {}

    def total(key: str) -> float | None:
        vals = [row[key] for row in forecast["monthly"] if row.get(key) is not None]
        return float(sum(vals)) if vals else None

    return {"no_action_total": total("no_action"), "with_calls_total": total("with_calls")}


def model_readings(models: dict, fig: dict, crosstabs: dict | None = None) -> dict:
    """The models' metrics with what the report quotes: the holdout's total error, the
    clusters' patients by phase and segment (``crosstabs`` from :func:`cluster_crosstabs`),
    and of the base (``fig`` from :func:`base_figures`) the mean P(alive), P(alive) by
    phase, the CLV total and the visits expected in 12 months."""
    out = dict(models)
    if crosstabs and isinstance(out.get("clusters"), dict):
        out["clusters"] = {**out["clusters"], "crosstab": crosstabs}
    if "holdout" in out:
        h = out["holdout"]
        err = abs(h["predicted_total"] / max(h["actual_total"], 1) - 1)
        out["holdout"] = {**h, "total_error": _r(err)}
    if not fig:
        return out
    out["p_alive"] = {
        **out.get("p_alive", {}),
        "base_mean": fig["base_mean"],
        "by_phase": fig["by_phase"],
    }
    if "clv_base_total_12m" in fig and "clv" in out:
        out["clv"] = {**out["clv"], "base_total_12m": fig["clv_base_total_12m"]}
    out["expected_visits_12m"] = fig["expected_visits_12m"]
    return out


def _r(x, digits: int = 4):
    return None if x is None or pd.isna(x) else round(float(x), digits)


CROSSTAB_BY = ("phase", "segment")


def cluster_crosstabs(people: pd.DataFrame) -> dict:
    """Patients of the base per cluster and activity phase, and per cluster and segment:
    ``{by: {"clusters": [...], "columns": [...], "counts": [[...], ...]}}`` (rows in cluster
    order, columns in text order; patients without a phase or segment left out). Empty
    without clusters."""
    if "cluster" not in people:
        return {}
    base = people[people["in_base"] & people["cluster"].notna()]
    out = {}
    for by in CROSSTAB_BY:
        ct = pd.crosstab(base["cluster"], base[by].astype(str))
        cols = [x for x in ct.columns if x not in ("nan", "<NA>")]
        out[by] = {
            "clusters": [c.item() if hasattr(c, "item") else c for c in ct.index],
            "columns": cols,
            "counts": ct[cols].to_numpy().astype(int).tolist(),
        }
    return out


def base_figures(people: pd.DataFrame, phases) -> dict:
    """What the report quotes of the patients in the base (``in_base``) from the model
    columns: mean P(alive), P(alive) by activity phase, visits expected in 12 months and
    the CLV of the next 12 months. Empty when the models gave no P(alive)."""
    if "p_alive" not in people:
        return {}
    base = people[people["in_base"]]
    g = base.groupby("phase", observed=False)["p_alive"].agg(["size", "mean"])
    g = g.reindex(list(phases))
    out = {
        "base_mean": _r(base["p_alive"].mean()),
        "by_phase": {
            str(k): {"patients": int(0 if pd.isna(r["size"]) else r["size"]), "mean": _r(r["mean"])}
            for k, r in g.iterrows()
        },
        "expected_visits_12m": _r(base["expected_visits_12m"].sum()),
    }
    if "clv_12m" in base:
        out["clv_base_total_12m"] = _r(base["clv_12m"].dropna().sum(), 2)
    return out
