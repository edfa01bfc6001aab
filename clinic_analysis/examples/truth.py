"""What the audit must find in a generated clinic, by the audit's definitions, computed from
what the generator knows (the real person behind each row). The demo and the messy clinic
both record it in their truth; tests compare the audit with it.

It is deliberately written apart from the library: the visit days, the gaps between them and
the activity thresholds restate ``measures/summary.py: visit_days`` and
``measures/activity.py: intervals, thresholds``, the segments ``measures/refusers.py:
assign_segments``, so that a test comparing the audit with this truth can fail. Do not
replace them with calls to the library.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENTS = ("no_show", "plan_refused", "plan_stopped", "consulted_only", "active_treatment",
            "returning", "lapsed", "new", "awaiting")  # fmt: skip


def audit_truth(records: pd.DataFrame, plans: pd.DataFrame | None, as_of) -> dict:
    """The audit's headline figures, by their definitions, from what a generator knows.

    ``records``: one row per visit row the loader keeps, with the real ``person``, ``date``,
    canonical ``status`` and ``amount``; ``plans``: ``person``, ``date``, ``status``,
    ``amount_total``, ``amount_paid`` (or None). The definitions:

    * a negative amount is a refund whatever its status; ``refunds`` = the refunded money
      (refund rows and negative amounts), ``gross`` = positive completed amounts,
      ``net_revenue`` = gross - refunds;
    * ``visit_days``: distinct (person, day) with a completed visit that is no refund;
    * ``people``: persons with a visit day (rule ``came``); ``by_rule`` under each rule;
    * ``activity_days``: the 75th / 90th percentiles of the days between a person's
      consecutive visit days (ceiled; 180 / 270 under 30 intervals; the second within
      31..300, the first within 30..second - 1);
    * ``segments``: every person with a record or a plan in the first segment whose rule
      holds (see :mod:`clinic_analysis.measures.refusers`); ``plan_refused`` needs no visit after
      the refusal.
    """
    as_of = pd.Timestamp(as_of).normalize()
    r = records.copy()
    r["day"] = pd.to_datetime(r["date"]).dt.normalize()
    amount = pd.to_numeric(r["amount"], errors="coerce")
    booked = r["status"].eq("booked")
    r = r[(r["day"] <= as_of) | booked]
    amount = amount[r.index]
    completed = r["status"].eq("completed")
    refund = r["status"].eq("refund") | (amount < 0)
    gross = float(amount[completed & (amount > 0)].sum())
    refunds = float(amount[refund].abs().sum())
    days = r.loc[completed & ~refund, ["person", "day"]].drop_duplicates()
    days = days.sort_values(["person", "day"])
    gap = days["day"].diff().dt.days[days["person"].eq(days["person"].shift())]
    if len(gap) < 30:
        a, b = 180, 270
    else:
        a, b = int(np.ceil(gap.quantile(0.75))), int(np.ceil(gap.quantile(0.9)))
    b = min(max(b, 31), 300)
    a = min(max(a, 30), b - 1)

    persons = pd.Index(r["person"].unique())
    if plans is not None and len(plans):
        persons = persons.union(pd.Index(plans["person"].unique()))
    n_visits = days.groupby("person").size().reindex(persons, fill_value=0)
    last = days.groupby("person")["day"].max().reindex(persons)
    since = (as_of - last).dt.days
    missed = r["status"].isin(["no_show", "cancelled"]) | (booked & (r["day"] <= as_of))
    has_missed = persons.isin(r.loc[missed, "person"])
    future = persons.isin(r.loc[booked & (r["day"] > as_of), "person"])
    no = pd.Series(False, index=persons)
    refused, open_, accepted, proposed_only = no, no, no, no
    if plans is not None and len(plans):
        p = plans.assign(date=pd.to_datetime(plans["date"])).sort_values(["person", "date"])
        balance = (p["amount_total"] - p["amount_paid"].fillna(0)).clip(lower=0).fillna(0)
        is_open = p["status"].eq("accepted") | (p["status"].eq("completed") & (balance > 0))
        open_ = pd.Series(persons.isin(p.loc[is_open, "person"]), index=persons)
        accepted = pd.Series(
            persons.isin(p.loc[p["status"].isin(["accepted", "completed"]), "person"]), persons
        )
        proposed = persons.isin(p.loc[p["status"].eq("proposed"), "person"])
        proposed_only = pd.Series(proposed, index=persons) & ~accepted
        latest = p.drop_duplicates("person", keep="last").set_index("person")
        refused_at = latest.loc[latest["status"].eq("refused"), "date"].reindex(persons)
        refused = refused_at.notna() & ~(last > refused_at)
    rules = [
        ("awaiting", (n_visits == 0) & ~has_missed & future),
        ("no_show", (n_visits == 0) & has_missed),
        ("plan_refused", refused),
        ("plan_stopped", open_ & (since > b)),
        ("consulted_only", ((n_visits == 1) | proposed_only) & ~accepted & ~future & (since > a)),
        ("active_treatment", open_ & (since <= b)),
        ("returning", (n_visits >= 2) & (since <= b)),
        ("lapsed", (n_visits >= 2) & (since > b)),
        ("new", n_visits == 1),
    ]
    segment = pd.Series("", index=persons)
    for name, rule in rules:
        segment = segment.where((segment != "") | ~rule.fillna(False), name)
    counts = segment.value_counts()
    done = r[completed]
    return {
        "people": int(days["person"].nunique()),
        "by_rule": {
            "booked": int(r["person"].nunique()),
            "came": int(days["person"].nunique()),
            "paid": int(done.loc[amount[done.index] > 0, "person"].nunique()),
        },
        "gross": round(gross, 2),
        "refunds": round(refunds, 2),
        "net_revenue": round(gross - refunds, 2),
        "visit_days": int(len(days)),
        "activity_days": {"active": a, "at_risk": b},
        "segments": {s: int(counts.get(s, 0)) for s in SEGMENTS},
        "unsegmented": int((segment == "").sum()),
    }
