"""Figures the report's readings quote, derived from the measures' tables (issue 11: they
used to be computed in the views). Each is written to metrics.json."""

from __future__ import annotations

import pandas as pd

from clinic_analysis.measures.dynamics import safe


def best_month(monthly: pd.DataFrame) -> str | None:
    """``YYYY-MM`` of the month of ``monthly`` with the most revenue; None when no month has
    a revenue (none, or amounts not exported)."""
    rev = monthly["revenue"] if "revenue" in monthly else pd.Series(dtype=float)
    if rev.dropna().empty:
        return None
    return pd.Timestamp(monthly.loc[rev.idxmax(), "month"]).strftime("%Y-%m")


def change(now, before) -> float | None:
    """``now / before - 1``; None when there is nothing to compare with (``before`` 0)."""
    return safe(now / before - 1) if before else None


def flow_sums(flow: pd.DataFrame, months: int = 12) -> dict | None:
    """Patients new, recaptured and lost over the last ``months`` rows of the monthly flow;
    None without a flow."""
    if flow is None or flow.empty:
        return None
    last = flow.tail(months)
    return {k: int(last[k].sum()) for k in ("new", "recaptured", "lost")}


def covered(mix: pd.DataFrame, first_visit) -> pd.DataFrame:
    """The rows of a monthly table from the month of the first visit (as the charts)."""
    if mix is None or mix.empty or first_visit is None or pd.isna(first_visit):
        return mix
    start = pd.Timestamp(first_visit).to_period("M").to_timestamp()
    return mix[mix["month"] >= start].reset_index(drop=True)


def active_share_trend(mix: pd.DataFrame, phases) -> tuple[float | None, float | None]:
    """The active share of the phase mix in its last month and 12 months before (None when
    the mix covers fewer than 13 months)."""
    if mix is None or len(mix) < 13:
        return None, None
    phases = list(phases)

    def share(row) -> float:
        return safe(row["active"] / max(row[phases].sum(), 1))

    return share(mix.iloc[-1]), share(mix.iloc[-13])


def shares(counts: dict) -> dict:
    """``{group: its share of all}`` (0 for every group when there is nobody)."""
    total = sum(counts.values()) or 1
    return {k: safe(n / total) for k, n in counts.items()}


def refuser_readings(counts: dict, at_stake: dict, potential_by_segment: dict) -> dict:
    """The refusers section's readings: each segment's share of the persons segmented, the
    money frozen in plans (unpaid balances of stopped plans and refused plans, however
    old; None when plan amounts are not exported) and the patients of the segments the
    potential is read for."""
    parts = [at_stake.get(k) for k in ("open_balances", "refused_recent", "refused_older")]
    known = [x for x in parts if x is not None]
    return {
        "shares": shares(counts),
        "frozen": round(float(sum(known)), 2) if known else None,
        "potential_patients": int(sum(counts.get(s, 0) for s in potential_by_segment)),
    }


def phase_readings(counts: dict, revenue_12m: dict, mix: pd.DataFrame, phases) -> dict:
    """The activity section's readings: each phase's share of the base, the patients at
    risk (at risk + lapsing) and lost (1-2 years + over 2 years), the revenue of those at
    risk, and the active share now and a year ago."""
    rev = [revenue_12m.get(p) for p in ("at_risk", "lapsing")]
    now, then = active_share_trend(mix, phases)
    return {
        "shares": shares({p: counts[p] for p in phases}),
        "at_risk_patients": int(counts["at_risk"] + counts["lapsing"]),
        "lost_patients": int(counts["lost_1y"] + counts["lost_2y"]),
        "at_risk_revenue_12m": None if None in rev else round(float(sum(rev)), 2),
        "active_share_now": now,
        "active_share_year_ago": then,
    }


def pooled_groups(tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Per breakdown, the small groups pooled into "other"."""
    return {name: int(t["pooled_groups"].sum()) for name, t in tables.items()}
