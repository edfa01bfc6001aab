"""Base volume and dynamics (domain.md, items 10-11).

The *active base* at a date is the patients with a completed visit in the 365 days up to
it. The month's flow follows the practice-analytics convention: growth = new + recaptured
(a visit after more than 365 days away) − lost (crossing 365 days without a visit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinic_analysis.measures import summary

YEAR = summary.YEAR_DAYS


def _window(days: pd.DataFrame, end: pd.Timestamp, length: int = YEAR) -> pd.DataFrame:
    return days[(days["day"] > end - pd.Timedelta(days=length)) & (days["day"] <= end)]


def active_base(days: pd.DataFrame, at: pd.Timestamp) -> int:
    return int(_window(days, at)["patient_id"].nunique())


def active_base_by_month(days: pd.DataFrame, as_of: pd.Timestamp, months: int = 60) -> pd.Series:
    ends = pd.date_range(end=as_of, periods=months, freq="ME")
    first = days["day"].min()
    ends = ends[ends >= first]
    who = pd.factorize(days["patient_id"])[0]  # patients as integers, counted per window
    day = days["day"].to_numpy()
    year = pd.Timedelta(days=YEAR).to_timedelta64()
    counts = []
    for e in ends:
        seen = who[(day > e.to_datetime64() - year) & (day <= e.to_datetime64())]
        counts.append(int(np.count_nonzero(np.bincount(seen))))
    return pd.Series(
        counts,
        index=ends.to_period("M").to_timestamp(),
        name="active_base",
    )


def growth_12m(
    days: pd.DataFrame, money: pd.DataFrame, as_of: pd.Timestamp, has_amount: bool = True
) -> dict:
    """Active base and net revenue of the last 12 months against the 12 before (the one
    window of :func:`summary.last_12_months`; revenue ``None`` without amounts)."""
    year_ago = as_of - pd.Timedelta(days=YEAR)
    b_now, b_then = active_base(days, as_of), active_base(days, year_ago)
    r_now = summary.last_12_months(money, days, as_of, has_amount).net
    r_then = summary.last_12_months(money, days, as_of, has_amount, years_back=1).net
    return {
        "base_now": b_now,
        "base_year_ago": b_then,
        "base_growth": (b_now / b_then - 1) if b_then else None,
        "revenue_now": r_now,
        "revenue_year_ago": r_then,
        "revenue_growth": (r_now / r_then - 1) if r_now is not None and r_then else None,
    }


def required_growth(
    days: pd.DataFrame,
    money: pd.DataFrame,
    as_of: pd.Timestamp,
    targets=(0.1, 0.2, 0.3),
    has_amount: bool = True,
) -> dict:
    """Base growth needed for a revenue growth target, from this clinic's own retention.

    Next year's revenue = retained patients (this year's active base × retention) × their
    yearly revenue + new patients × a new patient's first-year revenue. Solving for the
    number of new patients that meets the target gives next year's active base, and so the
    base growth the target requires. Returns the inputs too, so the report can show them.
    """
    year_ago = as_of - pd.Timedelta(days=YEAR)
    now = set(_window(days, as_of)["patient_id"])
    before = set(_window(days, year_ago)["patient_id"])
    first = summary.first_visits(days)
    new = set(first[(first > year_ago) & (first <= as_of)].index)
    retained = now & before
    m = summary.in_window(money, *summary.window_12m(as_of))
    per_patient = m.groupby("patient_id")["revenue"].sum()
    revenue = summary.last_12_months(money, days, as_of, has_amount).net
    retention = len(retained) / len(before) if before else None
    v_ret = v_new = None
    if has_amount and retained:
        v_ret = float(per_patient.reindex(list(retained)).fillna(0).mean())
    if has_amount and new:
        v_new = float(per_patient.reindex(list(new)).fillna(0).mean())
    out = {
        "inputs": {
            "active_base": len(now),
            "retention": retention,
            "revenue_per_retained": v_ret,
            "revenue_per_new": v_new,
            "revenue_12m": revenue,
        },
        "targets": {},
    }
    if not (now and retention and v_ret and v_new) or v_new <= 0:
        return out
    kept = retention * len(now)
    for g in targets:
        needed_new = max(((1 + g) * revenue - kept * v_ret) / v_new, 0.0)
        out["targets"][str(g)] = (kept + needed_new) / len(now) - 1
    return out


def flow_by_month(days: pd.DataFrame, as_of: pd.Timestamp, months: int = 24) -> pd.DataFrame:
    """Per month: new, recaptured, lost and net patients (the last ``months`` months)."""
    d = days.sort_values(["patient_id", "day"])
    same_prev = d["patient_id"].eq(d["patient_id"].shift())
    gap = summary.visit_gaps(d)
    month = d["day"].dt.to_period("M")
    new = month[~same_prev].value_counts()
    recaptured = month[gap > YEAR].value_counts()
    same_next = d["patient_id"].eq(d["patient_id"].shift(-1))
    next_gap = (d["day"].shift(-1) - d["day"]).dt.days.where(same_next)
    lost_at = d["day"] + pd.Timedelta(days=YEAR)
    is_lost = (next_gap.isna() | (next_gap > YEAR)) & (lost_at <= as_of)
    lost = lost_at[is_lost].dt.to_period("M").value_counts()
    idx = pd.period_range(end=as_of.to_period("M"), periods=months, freq="M")
    out = pd.DataFrame(
        {
            "new": new.reindex(idx, fill_value=0),
            "recaptured": recaptured.reindex(idx, fill_value=0),
            "lost": lost.reindex(idx, fill_value=0),
        }
    ).astype("int64")
    out["net"] = out["new"] + out["recaptured"] - out["lost"]
    out.index = idx.to_timestamp()
    out.index.name = "month"
    return out.reset_index()


def pre_appointment_rate(days: pd.DataFrame, visits: pd.DataFrame, as_of: pd.Timestamp):
    """Share of the active base (a visit in the last 365 days) holding a future booking."""
    active = set(_window(days, as_of)["patient_id"])
    if not active:
        return None
    booked = visits[(visits["status"] == "booked") & (visits["date"] > as_of)]["patient_id"]
    return len(active & set(booked)) / len(active)


def months_key(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m")


def safe(x):
    """JSON-friendly float: None for missing/inf."""
    if x is None:
        return None
    x = float(x)
    return None if not np.isfinite(x) else round(x, 6)
