"""Segments on hand-built patients: one per rule and per boundary; sizes against the demo's
truth; potential and decay."""

import numpy as np
import pandas as pd
import pytest

from clinic_analysis.measures import refusers as R
from clinic_analysis.measures.activity import Thresholds
from clinic_analysis.measures.history import AVG_MONTH_DAYS
from clinic_analysis.params import Refusers

AS_OF = pd.Timestamp("2025-12-31")
TH = Thresholds(active=90, at_risk=180, source="params", intervals=0)


def ago(days):
    return AS_OF - pd.Timedelta(days=days)


def v(pid, days_ago, status="completed", amount=1000.0):
    return {"patient_id": pid, "date": ago(days_ago), "status": status, "amount": amount}


def plan(pid, days_ago, status, total=10000.0, paid=0.0, reason=None):
    return {
        "patient_id": pid,
        "date": ago(days_ago),
        "status": status,
        "amount_total": total,
        "amount_paid": paid,
        "refusal_reason": reason,
        "doctor": "Dr",
    }


def segments(visits, plans=()):
    vis = pd.DataFrame(visits)
    pl = pd.DataFrame(
        list(plans),
        columns=[
            "patient_id",
            "date",
            "status",
            "amount_total",
            "amount_paid",
            "refusal_reason",
            "doctor",
        ],
    )
    persons = pd.Index(pd.concat([vis["patient_id"], pl["patient_id"]]).unique())
    f = R.patient_features(vis, pl, AS_OF, persons)
    return R.assign_segments(f, TH, AS_OF)


def test_one_patient_per_rule():
    seg = segments(
        [
            v("noshow", 30, "no_show", None),
            v("await", -10, "booked", None),
            v("refused", 200),
            v("refused", 100),
            v("stopped", 400),
            v("stopped", 181),
            v("consulted", 91),
            v("treat", 400),
            v("treat", 180),
            v("back", 300),
            v("back", 20),
            v("lapsed", 900),
            v("lapsed", 500),
            v("new", 10),
        ],
        [
            plan("refused", 100, "refused", reason="Дорого"),
            plan("stopped", 400, "accepted", paid=2000.0),
            plan("treat", 400, "accepted", paid=5000.0),
        ],
    ).set_index(
        pd.Index(
            ["noshow", "await", "refused", "stopped", "consulted", "treat", "back", "lapsed", "new"]
        )
    )
    assert seg["segment"].astype(str).to_dict() == {
        "noshow": "no_show",
        "await": "awaiting",
        "refused": "plan_refused",
        "stopped": "plan_stopped",
        "consulted": "consulted_only",
        "treat": "active_treatment",
        "back": "returning",
        "lapsed": "lapsed",
        "new": "new",
    }
    assert seg.loc["stopped", "open_plan_balance"] == 8000.0
    assert seg.loc["refused", "refusal_reason"] == "Дорого"
    assert seg.loc["noshow", "months_since_event"] == pytest.approx(30 / AVG_MONTH_DAYS, abs=0.05)
    assert seg.loc["refused", "months_since_event"] == pytest.approx(100 / AVG_MONTH_DAYS, abs=0.05)


@pytest.mark.parametrize(("days", "expected"), [(180, "active_treatment"), (181, "plan_stopped")])
def test_plan_stopped_boundary_is_the_at_risk_limit(days, expected):
    seg = segments([v("p", days)], [plan("p", 300, "accepted", paid=1.0)])
    assert seg["segment"].iloc[0] == expected


@pytest.mark.parametrize(("days", "expected"), [(90, "new"), (91, "consulted_only")])
def test_consulted_only_boundary_is_the_active_limit(days, expected):
    assert segments([v("p", days)])["segment"].iloc[0] == expected


def test_a_booking_keeps_a_one_visit_patient_out_of_consulted_only():
    seg = segments([v("p", 200), v("p", -5, "booked", None)])
    assert seg["segment"].iloc[0] == "new"


def test_a_proposed_plan_never_accepted_means_consulted_only_even_after_two_visits():
    seg = segments([v("p", 300), v("p", 120)], [plan("p", 300, "proposed")])
    assert seg["segment"].iloc[0] == "consulted_only"


def test_refusal_followed_by_an_accepted_plan_is_not_a_refuser():
    seg = segments(
        [v("p", 300), v("p", 20)],
        [plan("p", 300, "refused"), plan("p", 100, "accepted", paid=100.0)],
    )
    assert seg["segment"].iloc[0] == "active_treatment"


@pytest.mark.parametrize(("days", "expected"), [(180, "returning"), (181, "lapsed")])
def test_returning_vs_lapsed_boundary(days, expected):
    assert segments([v("p", 400), v("p", days)])["segment"].iloc[0] == expected


def test_freshness_follows_the_article_and_has_a_floor():
    f = R.freshness(pd.Series([0.0, 4.0, 8.0]), 0.9, 4.0)
    assert f.tolist() == pytest.approx([1.0, 0.1, 0.1])


def test_potential_is_size_times_rate_times_value_and_decays_with_delay():
    seg = segments([v("a", 10, "no_show", None), v("b", 500), v("b", 400)])
    hist = R.ReturnHistory(events=100, transactions=2.0, average_check=1000.0, source="history")
    settings = Refusers()
    pot = R.potential(seg, hist, {}, settings)
    fresh = 0.1 ** ((10 / AVG_MONTH_DAYS) / 4)
    assert pot.loc["no_show", "base"] == pytest.approx(fresh * 0.20 * 2000.0, rel=1e-3)
    assert pot.loc["lapsed", "base"] == pytest.approx(0.10 * 2000.0)
    later = R.potential(seg, hist, {}, settings, delay_months=2)
    assert later.loc["no_show", "base"] < pot.loc["no_show", "base"]
    assert later.loc["lapsed", "base"] == pot.loc["lapsed", "base"]


def test_age_buckets_cover_every_patient():
    seg = segments(
        [v("a", 10, "no_show", None), v("b", 50, "no_show", None), v("c", 800, "no_show", None)]
    )
    ages = R.age_buckets(seg)
    assert ages.loc["no_show"].tolist() == [1, 1, 0, 0, 1]


def test_demo_segment_sizes_match_the_generator_truth(tmp_path):
    from clinic_analysis.audit import compute_audit
    from clinic_analysis.examples.demo import DemoSpec, generate_demo
    from clinic_analysis.params import load_params
    from tests.conftest import DEMO_PARAMS, write_params_copy

    truth = generate_demo(tmp_path / "data", DemoSpec(n_patients=1500))
    audit = compute_audit(load_params(write_params_copy(DEMO_PARAMS, tmp_path)))
    counts = audit.metrics["refusers"]["counts"]
    assert counts["no_show"] == truth.counts["n_no_show_only"]
    # plan refusers: a latest plan refused and no completed visit after it (the generator's
    # truth applies the rule to the real people, refunds written as negative amounts included)
    assert counts["plan_refused"] == truth.audit["segments"]["plan_refused"] > 0
    assert (
        sum(counts.values()) + audit.metrics["refusers"]["unsegmented"]
        == truth.counts["n_patients_booked"]
    )
    assert np.isfinite(audit.metrics["refusers"]["potential"]["base"])


def test_a_completed_visit_after_the_refusal_ends_plan_refused():
    seg = segments([v("p", 300), v("p", 20)], [plan("p", 300, "refused")])
    assert seg["segment"].iloc[0] != "plan_refused"
    assert seg["segment"].iloc[0] == "returning"


def test_a_visit_on_the_refusal_day_keeps_a_plan_refuser():
    seg = segments([v("p", 300), v("p", 100)], [plan("p", 100, "refused")])
    assert seg["segment"].iloc[0] == "plan_refused"


def test_at_stake_is_stopped_balances_plus_refusals_of_the_last_12_months():
    seg = segments(
        [v("old", 3 * 365), v("fresh", 60), v("stopped", 400), v("stopped", 200)],
        [
            plan("old", 3 * 365, "refused", total=50000.0),  # refused 3 years ago: left out
            plan("fresh", 60, "refused", total=20000.0),  # 2 months ago: in
            plan("stopped", 400, "accepted", total=10000.0, paid=4000.0),  # 6000 unpaid
        ],
    )
    s = R.at_stake(seg, months=12)
    assert s["refused_recent"] == 20000 and s["open_balances"] == 6000
    assert s["total"] == 26000 and s["refused_older"] == 50000
    assert s["by_age_bucket"]["1-2"] == 20000  # 60 days: 1.97 months
    assert s["by_age_bucket"]["4-12"] == 6000  # last visit 200 days ago
    assert sum(s["by_age_bucket"].values()) == s["total"]
    assert R.at_stake(seg, months=48)["total"] == 76000  # the window is settable


def test_at_stake_is_none_without_plan_amounts():
    seg = segments([v("p", 60)], [plan("p", 60, "refused")])
    s = R.at_stake(seg, months=12, available=False)
    assert s["total"] is None and set(s["by_age_bucket"].values()) == {None}


def test_an_unknown_segment_in_params_is_one_error_naming_the_key():
    from types import SimpleNamespace

    from clinic_analysis.errors import ParamsError

    good = Refusers(rates={"no_show": {"conservative": 0.1, "base": 0.2, "optimistic": 0.3}})
    R.check_params(SimpleNamespace(refusers=good))  # a known segment passes
    bad = Refusers(scripts={"no_shows": "Call them"})
    with pytest.raises(ParamsError, match=r"refusers\.scripts\.no_shows: unknown segment"):
        R.check_params(SimpleNamespace(refusers=bad))
