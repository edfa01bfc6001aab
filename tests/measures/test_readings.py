"""Figures the report's readings quote, computed with the measures (issue 11)."""

import numpy as np
import pandas as pd

from clinic_analysis.measures import readings
from clinic_analysis.measures.activity import PHASES


def _months(n: int) -> pd.Series:
    return pd.Series(pd.date_range("2025-01-01", periods=n, freq="MS"))


def test_flow_sums_add_the_last_twelve_months_only():
    flow = pd.DataFrame(
        {"month": _months(14), "new": [100, 100] + [1] * 12, "recaptured": [5] * 14,
         "lost": [0, 0] + [2] * 12}
    )  # fmt: skip
    assert readings.flow_sums(flow) == {"new": 12, "recaptured": 60, "lost": 24}
    assert readings.flow_sums(pd.DataFrame()) is None


def test_phase_readings_share_risk_and_lost():
    counts = {"active": 2, "at_risk": 1, "lapsing": 1, "lost_1y": 1, "lost_2y": 3}
    revenue = {"active": 900.0, "at_risk": 100.0, "lapsing": 50.0, "lost_1y": 0.0, "lost_2y": 0.0}
    r = readings.phase_readings(counts, revenue, None, PHASES)
    assert r["shares"] == {"active": 0.25, "at_risk": 0.125, "lapsing": 0.125,
                           "lost_1y": 0.125, "lost_2y": 0.375}  # fmt: skip
    assert (r["at_risk_patients"], r["lost_patients"]) == (2, 4)
    assert r["at_risk_revenue_12m"] == 150.0
    assert r["active_share_now"] is None and r["active_share_year_ago"] is None  # no mix


def test_revenue_at_risk_is_unknown_without_amounts():
    counts = dict.fromkeys(PHASES, 1)
    r = readings.phase_readings(counts, dict.fromkeys(PHASES), None, PHASES)
    assert r["at_risk_revenue_12m"] is None


def test_active_share_now_and_a_year_ago_need_thirteen_months():
    mix = pd.DataFrame({"month": _months(13), **{p: [1] * 13 for p in PHASES}})
    mix.loc[0, "active"] = 1  # a year ago: 1 of 5
    mix.loc[12, "active"] = 6  # now: 6 of 10
    assert readings.active_share_trend(mix, PHASES) == (0.6, 0.2)
    assert readings.active_share_trend(mix.iloc[1:], PHASES) == (None, None)


def test_covered_drops_months_before_the_first_visit():
    mix = pd.DataFrame({"month": _months(4), "active": [0, 0, 3, 4]})
    out = readings.covered(mix, pd.Timestamp("2025-03-17"))
    assert out["active"].tolist() == [3, 4]


def test_change_of_new_patients():
    assert readings.change(10, 8) == 0.25
    assert readings.change(10, 0) is None


def test_best_month_is_the_month_of_most_revenue():
    mo = pd.DataFrame({"month": _months(3), "revenue": [100.0, 300.0, 200.0]})
    assert readings.best_month(mo) == "2025-02"
    assert readings.best_month(mo.assign(revenue=np.nan)) is None  # not exported
    assert readings.best_month(mo.iloc[:0]) is None


def test_pooled_groups_per_breakdown():
    table = pd.DataFrame({"group": ["A", "other"], "pooled_groups": [0, 3]})
    assert readings.pooled_groups({"by_doctor": table}) == {"by_doctor": 3}


def test_refuser_readings_share_frozen_money_and_potential_patients():
    counts = {"no_show": 3, "plan_refused": 1, "lost": 4}
    at_stake = {"open_balances": 500.0, "refused_recent": 1000.0, "refused_older": 250.0,
                "total": 1500.0}  # fmt: skip
    r = readings.refuser_readings(counts, at_stake, {"no_show": {}, "plan_refused": {}})
    assert r["shares"] == {"no_show": 0.375, "plan_refused": 0.125, "lost": 0.5}
    assert r["frozen"] == 1750.0  # older refusals too, unlike the windowed total
    assert r["potential_patients"] == 4  # the segments the potential is read for


def test_frozen_money_is_unknown_without_plan_amounts():
    at_stake = dict.fromkeys(("open_balances", "refused_recent", "refused_older"))
    assert readings.refuser_readings({"lost": 1}, at_stake, {})["frozen"] is None
