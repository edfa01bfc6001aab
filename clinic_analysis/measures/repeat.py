"""Repeat purchase index (domain.md, items 5 and 8).

The headline is censoring-aware: among patients first seen at least 12 months before the
audit date, the share who came back (a second visit day) within 12 months of their first
visit. Recent patients have not had their chance yet and are left out, so they do not drag
the figure down. The lifetime share (ever two visit days or more) is kept beside it,
labelled. Also: how soon patients come back, new-patient retention by month of first
visit, breakdowns by the first visit's doctor and service line, the acquisition channel,
promo vs not, and cohorts, on the same 12-month basis, each with a Wilson 95% interval;
groups smaller than ``min_group_size`` are pooled as "other".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinic_analysis.measures import summary

Z95 = 1.959963984540054
OTHER = "__other__"
RETURN_WINDOWS = (90, 180, 365)
DENTAL_RETENTION_MARK = 0.60  # the industry's mark for new-patient retention in dentistry


def wilson(successes, n, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (NaN for n = 0)."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def first_and_second(days: pd.DataFrame) -> pd.DataFrame:
    """Per patient: first visit day, second visit day (NaT if none), number of visit days."""
    d = days.sort_values(["patient_id", "day"])
    rank = d.groupby("patient_id").cumcount()
    first = d[rank == 0].set_index("patient_id")["day"].rename("first")
    second = d[rank == 1].set_index("patient_id")["day"].rename("second")
    n = d.groupby("patient_id").size().rename("visits")
    out = pd.concat([first, second, n], axis=1)
    out["days_to_second"] = (out["second"] - out["first"]).dt.days
    return out


def came_back_within(fs: pd.DataFrame, as_of: pd.Timestamp, window: int = 365) -> pd.Series:
    """Per patient first seen at least ``window`` days before ``as_of`` (the others have not
    had the chance yet and are left out): True when a second visit day came within
    ``window`` days of the first."""
    eligible = fs[fs["first"] <= as_of - pd.Timedelta(days=window)]
    return (eligible["days_to_second"] <= window).rename("came_back")


def returned_within(fs: pd.DataFrame, as_of: pd.Timestamp, window: int) -> dict:
    """Share returning within ``window`` days among patients first seen at least that long
    ago (younger patients have not had the chance yet and are left out)."""
    back = came_back_within(fs, as_of, window)
    n = len(back)
    return {"patients": int(n), "rate": (back.sum() / n) if n else None}


def rate_12m(fs: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    """The headline: share of patients first seen >= 12 months ago who came back within 12
    months, with its Wilson 95% interval (``None`` when nobody is old enough)."""
    back = came_back_within(fs, as_of, 365)
    n, k = int(len(back)), int(back.sum())
    if not n:
        return {"eligible": 0, "returned": 0, "rate": None, "low": None, "high": None}
    lo, hi = wilson(k, n)
    return {"eligible": n, "returned": k, "rate": k / n, "low": float(lo), "high": float(hi)}


def retention_by_month(fs: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """New-patient retention: a second visit within 12 months of the first, by month of
    first visit, for cohorts whose 12 months have passed."""
    eligible = fs[fs["first"] <= as_of - pd.Timedelta(days=365)].copy()
    eligible["month"] = eligible["first"].dt.to_period("M").dt.to_timestamp()
    eligible["kept"] = eligible["days_to_second"] <= 365
    g = eligible.groupby("month")["kept"].agg(["size", "sum"])
    g.columns = ["patients", "retained"]
    g["rate"] = g["retained"] / g["patients"]
    return g.reset_index()


def breakdown(groups: pd.Series, repeated: pd.Series, min_size: int = 30) -> pd.DataFrame:
    """Repeat rate per group with Wilson intervals; small groups pooled as ``OTHER``.

    ``groups`` and ``repeated`` are indexed by patient; missing groups become ``OTHER`` too.
    """
    g = groups.reindex(repeated.index)
    sizes = g.value_counts()
    small = sizes[sizes < min_size].index
    pooled = g.where(~g.isin(small) & g.notna(), OTHER)
    t = pd.DataFrame({"group": pooled, "rep": repeated.astype(bool)})
    out = t.groupby("group")["rep"].agg(patients="size", repeaters="sum")
    out["rate"] = out["repeaters"] / out["patients"]
    lo, hi = wilson(out["repeaters"], out["patients"])
    out["low"], out["high"] = lo, hi
    out["pooled_groups"] = 0
    if OTHER in out.index:
        out.loc[OTHER, "pooled_groups"] = int(len(small)) + int(g.isna().any())
    out = out.sort_values("patients", ascending=False)
    if OTHER in out.index:  # "other" last
        out = pd.concat([out.drop(OTHER), out.loc[[OTHER]]])
    return out.reset_index()


def cohort_matrix(days: pd.DataFrame, as_of: pd.Timestamp, quarters: int = 8) -> pd.DataFrame:
    """Share of each first-visit quarter's patients who visited in each later quarter
    (rows: cohort; columns: quarters since the first visit, 1..quarters)."""
    d = days[["patient_id", "day"]].copy()
    first = d["patient_id"].map(summary.first_visits(d))
    d["cohort"] = first.dt.to_period("Q")
    d["age_q"] = _quarter_number(d["day"]) - _quarter_number(first)
    size = d.drop_duplicates("patient_id").groupby("cohort").size()
    seen = d[d["age_q"].between(1, quarters)].drop_duplicates(["patient_id", "age_q"])
    m = seen.groupby(["cohort", "age_q"]).size().unstack(fill_value=0)
    m = m.reindex(columns=range(1, quarters + 1), fill_value=0)
    share = m.div(size.reindex(m.index), axis=0)
    # cells the cohort has not lived through yet are unknown, not zero
    last_q = as_of.to_period("Q")
    for cohort in share.index:
        for q in share.columns:
            if cohort + q > last_q:
                share.loc[cohort, q] = np.nan
    share.index = share.index.astype(str)
    return share.tail(12)


def _quarter_number(day: pd.Series) -> pd.Series:
    """Quarters since year 0: two days' difference is the quarters between them."""
    return day.dt.year * 4 + (day.dt.month - 1) // 3


def revenue_split(money: pd.DataFrame, days: pd.DataFrame, has_amount: bool = True) -> dict:
    """Gross revenue of first visits vs repeat visits (``money`` from
    :func:`summary.money_rows`; refunds are not tied to a visit, so they are left out of the
    split). ``None`` figures without amounts."""
    if not has_amount:
        return {"first_visits": None, "repeat_visits": None, "repeat_share": None}
    first = summary.first_visits(days)
    visits = money[~money["refund"]]
    is_first = visits["day"] == visits["patient_id"].map(first)
    total = float(visits["gross"].sum())
    repeat = float(visits.loc[~is_first, "gross"].sum())
    return {
        "first_visits": total - repeat,
        "repeat_visits": repeat,
        "repeat_share": (repeat / total) if total else None,
    }
