"""Activity index: where each patient is in the life cycle (domain.md, item 7).

Five phases by days since the last completed visit at ``as_of``:
``active`` ≤ A < ``at_risk`` ≤ B < ``lapsing`` ≤ 365 < ``lost_1y`` ≤ 730 < ``lost_2y``.
A and B come from the clinic's own rhythm: the 75th and 90th percentiles of the intervals
between a patient's consecutive visits (two visits on one day are one), capped at 300 days
(so that "lapsing" keeps two months before a year; the true percentiles are kept beside the
used limits and the report says when the cap applied), or from params (``activity:
{active_days, at_risk_days}``). One limit set alone is checked against the other, derived one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clinic_analysis.errors import ParamsError
from clinic_analysis.measures import summary
from clinic_analysis.params import Activity

PHASES = ("active", "at_risk", "lapsing", "lost_1y", "lost_2y")
LAPSING_DAYS, LOST_1Y_DAYS = 365, 730
MIN_A, MAX_B = 30, 300  # B is capped so that "lapsing" keeps two months or more


@dataclass(frozen=True)
class Thresholds:
    active: int
    at_risk: int
    source: str  # "data" (percentiles of intervals), "params", or "default" (too few repeats)
    intervals: int  # how many inter-visit intervals the percentiles rest on
    # the true percentiles of the intervals (None when too few intervals), and whether the
    # used limits were cut down from them (B capped at MAX_B, A kept below B)
    active_percentile_days: int | None = None
    at_risk_percentile_days: int | None = None
    capped: bool = False


def intervals(days: pd.DataFrame) -> pd.Series:
    """Days between consecutive visit days of the same patient (``days`` from
    :func:`summary.visit_days`, sorted by patient and day)."""
    d = days.sort_values(["patient_id", "day"])
    return summary.visit_gaps(d).dropna().astype("int64")


def thresholds(days: pd.DataFrame, settings: Activity) -> Thresholds:
    """A and B for this clinic (see module doc); at least 30 intervals are needed, else
    the defaults of 180/270 days are used and said so. A limit set alone in params must keep
    A < B with the other limit; otherwise :class:`ParamsError` says which to change."""
    gaps = intervals(days)
    if settings.active_days and settings.at_risk_days:
        return Thresholds(settings.active_days, settings.at_risk_days, "params", len(gaps))
    raw_a = raw_b = None
    if len(gaps) < 30:
        a, b, source = 180, 270, "default"
    else:
        raw_a = int(np.ceil(gaps.quantile(settings.active_percentile)))
        raw_b = int(np.ceil(gaps.quantile(settings.at_risk_percentile)))
        a, b, source = raw_a, raw_b, "data"
    b = min(max(b, MIN_A + 1), MAX_B)
    a = min(max(a, MIN_A), b - 1)
    capped = source == "data" and (raw_b > b or raw_a > a)
    derived = "derived from the visits" if source == "data" else "default"
    if settings.active_days:
        if settings.active_days >= b:
            raise ParamsError(
                f"activity.active_days = {settings.active_days} is not below the at-risk limit "
                f"of {b} days ({derived})",
                hint=f"set activity.at_risk_days too (above {settings.active_days}), "
                f"or lower active_days below {b}",
            )
        a, source = settings.active_days, "params"
    if settings.at_risk_days:
        if settings.at_risk_days <= a:
            raise ParamsError(
                f"activity.at_risk_days = {settings.at_risk_days} is not above the active limit "
                f"of {a} days ({derived})",
                hint=f"set activity.active_days too (below {settings.at_risk_days}), "
                f"or raise at_risk_days above {a}",
            )
        b, source = settings.at_risk_days, "params"
    return Thresholds(a, b, source, len(gaps), raw_a, raw_b, capped and source == "data")


def phase_of(days_since: pd.Series, th: Thresholds) -> pd.Series:
    """Phase per patient from days since the last visit (boundaries belong to the
    healthier phase: exactly A days is still ``active``)."""
    bins = [-np.inf, th.active, th.at_risk, LAPSING_DAYS, LOST_1Y_DAYS, np.inf]
    out = pd.cut(days_since, bins=bins, labels=list(PHASES), right=True)
    return out.astype(pd.CategoricalDtype(list(PHASES), ordered=True))


def phase_mix_by_month(days: pd.DataFrame, th: Thresholds, as_of: pd.Timestamp, months: int = 24):
    """Patients per phase at each of the last ``months`` month ends (and at as_of)."""
    ends = pd.date_range(end=as_of, periods=months, freq="ME")
    if len(ends) == 0 or ends[-1] < as_of.normalize():
        ends = ends.append(pd.DatetimeIndex([as_of.normalize()]))[-months:]
    # one pass per month end over the visit days sorted by patient and day: a patient's
    # last visit by the end is the last of their rows on or before it
    who = pd.factorize(days["patient_id"])[0]  # patients as integers: one grouping key
    day = days["day"].to_numpy()
    order = np.lexsort((day, who))
    who, day = who[order], day[order]
    same_next = np.append(who[1:] == who[:-1], False)  # the next row is the same patient's
    edges = np.array([th.active, th.at_risk, LAPSING_DAYS, LOST_1Y_DAYS])
    rows = []
    for end in ends:
        seen = day <= end.to_datetime64()
        last = seen & ~(same_next & np.append(seen[1:], False))
        since = (end.to_datetime64() - day[last]) // np.timedelta64(1, "D")
        # the phases of phase_of: a boundary belongs to the healthier phase
        counts = np.bincount(np.searchsorted(edges, since, side="left"), minlength=len(PHASES))
        row = dict(zip(PHASES, (int(c) for c in counts), strict=True))
        rows.append({"month": end.to_period("M").to_timestamp(), **row})
    return pd.DataFrame(rows)
