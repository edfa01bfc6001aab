"""The four measures on tiny hand-built tables where the answer is obvious by eye."""

import math

import pandas as pd
import pytest

from clinic_analysis import activity, completeness, dynamics, repeat
from clinic_analysis.audit import compute_audit
from clinic_analysis.params import Activity
from clinic_analysis.summary import visit_days

AS_OF = pd.Timestamp("2025-12-31")


def visits(rows):
    """rows: (patient, 'YYYY-MM-DD', status, amount)."""
    df = pd.DataFrame(rows, columns=["patient_id", "date", "status", "amount"])
    df["date"] = pd.to_datetime(df["date"])
    return df


def days_of(rows):
    return visit_days(visits(rows))


# ----------------------------------------------------------------------------- activity


def test_same_day_visits_count_once_in_intervals():
    d = days_of(
        [
            ("a", "2025-01-01", "completed", 1),
            ("a", "2025-01-01", "completed", 1),
            ("a", "2025-01-11", "completed", 1),
            ("b", "2025-03-01", "completed", 1),
        ]
    )
    assert activity.intervals(d).tolist() == [10]


def _pairs(step: int, n: int = 40):
    rows = []
    for i in range(n):  # one interval of step * (i + 1) days per patient
        second = (pd.Timestamp("2020-01-01") + pd.Timedelta(days=step * (i + 1))).date()
        rows += [(f"p{i}", "2020-01-01", "completed", 1), (f"p{i}", str(second), "completed", 1)]
    return rows


def test_thresholds_are_percentiles_of_intervals():
    th = activity.thresholds(days_of(_pairs(5)), Activity())  # intervals 5, 10, ..., 200
    gaps = pd.Series([5 * (i + 1) for i in range(40)])
    assert th.active == math.ceil(gaps.quantile(0.75))
    assert th.at_risk == math.ceil(gaps.quantile(0.90))
    assert th.source == "data" and th.intervals == 40


def test_thresholds_are_capped_so_lapsing_keeps_two_months():
    th = activity.thresholds(days_of(_pairs(10)), Activity())  # intervals up to 400 days
    assert (th.active, th.at_risk) == (activity.MAX_B - 1, activity.MAX_B)


def test_thresholds_fall_back_with_too_few_repeats_and_obey_params():
    d = days_of([("a", "2025-01-01", "completed", 1), ("a", "2025-02-01", "completed", 1)])
    assert activity.thresholds(d, Activity()).source == "default"
    th = activity.thresholds(d, Activity(active_days=100, at_risk_days=200))
    assert (th.active, th.at_risk, th.source) == (100, 200, "params")


def test_phase_boundaries_belong_to_the_healthier_phase():
    th = activity.Thresholds(active=90, at_risk=180, source="params", intervals=0)
    since = pd.Series([0, 90, 91, 180, 181, 365, 366, 730, 731])
    assert activity.phase_of(since, th).tolist() == [
        "active",
        "active",
        "at_risk",
        "at_risk",
        "lapsing",
        "lapsing",
        "lost_1y",
        "lost_1y",
        "lost_2y",
    ]


# ----------------------------------------------------------------------------- dynamics


def test_flow_counts_new_recaptured_and_lost():
    d = days_of(
        [
            ("a", "2023-01-10", "completed", 1),  # new Jan 2023; lost Jan 2024
            ("a", "2024-06-15", "completed", 1),  # recaptured Jun 2024
            ("b", "2025-11-05", "completed", 1),  # new Nov 2025
        ]
    )
    flow = dynamics.flow_by_month(d, AS_OF, months=36).set_index("month")
    assert flow.loc["2023-01-01", "new"] == 1
    assert flow.loc["2024-01-01", "lost"] == 1
    assert flow.loc["2024-06-01", "recaptured"] == 1
    assert flow.loc["2025-06-01", "lost"] == 1  # a lost again a year after June 2024
    assert flow.loc["2025-11-01", "new"] == 1
    assert flow["net"].sum() == 2 + 1 - 2


def test_pre_appointment_rate_counts_active_patients_with_a_future_booking():
    v = visits(
        [
            ("a", "2025-10-01", "completed", 1),
            ("b", "2025-09-01", "completed", 1),
            ("a", "2026-01-15", "booked", None),
            ("c", "2020-01-01", "completed", 1),
            ("c", "2026-01-20", "booked", None),
        ]
    )
    assert dynamics.pre_appointment_rate(visit_days(v), v, AS_OF) == 0.5  # a of {a, b}


def test_required_growth_from_retention_and_values():
    # last year's base: a, b; this year: a (retained, 200), c (new, 100)
    v = visits(
        [
            ("a", "2024-06-01", "completed", 100),
            ("b", "2024-07-01", "completed", 100),
            ("a", "2025-06-01", "completed", 200),
            ("c", "2025-07-01", "completed", 100),
        ]
    )
    money = v.assign(revenue=v["amount"])
    req = dynamics.required_growth(visit_days(v), money, AS_OF, targets=(0.2,))
    inp = req["inputs"]
    assert inp["retention"] == 0.5 and inp["revenue_per_retained"] == 200
    assert inp["revenue_per_new"] == 100 and inp["active_base"] == 2
    # kept = 0.5 * 2 = 1 patient x 200; target 1.2 * 300 = 360 -> new = 160/100 = 1.6
    assert req["targets"]["0.2"] == pytest.approx((1 + 1.6) / 2 - 1)


# ----------------------------------------------------------------------------- repeat


def test_wilson_interval_matches_the_textbook_value():
    lo, hi = repeat.wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)


def test_returned_within_leaves_out_patients_too_new_to_tell():
    d = days_of(
        [
            ("a", "2025-01-01", "completed", 1),
            ("a", "2025-02-01", "completed", 1),
            ("b", "2025-01-01", "completed", 1),
            ("c", "2025-12-01", "completed", 1),
        ]
    )
    fs = repeat.first_and_second(d)
    r = repeat.returned_within(fs, AS_OF, 90)
    assert r == {"patients": 2, "rate": 0.5}  # c first came 30 days ago: left out


def test_breakdown_pools_small_groups_and_missing_values_as_other():
    repeated = pd.Series([True, False, True, True, False], index=list("abcde"))
    groups = pd.Series({"a": "X", "b": "X", "c": "X", "d": "Y", "e": None})
    t = repeat.breakdown(groups, repeated, min_size=2).set_index("group")
    assert t.loc["X", "patients"] == 3 and t.loc["X", "rate"] == pytest.approx(2 / 3)
    assert t.loc[repeat.OTHER, "patients"] == 2  # Y (too small) and the missing one
    assert t.index[-1] == repeat.OTHER


def test_empty_breakdown_group_gives_an_empty_table():
    t = repeat.breakdown(pd.Series(dtype=object), pd.Series(dtype=bool), min_size=30)
    assert t.empty


def test_revenue_split_first_vs_repeat():
    v = visits(
        [
            ("a", "2025-01-01", "completed", 100),
            ("a", "2025-02-01", "completed", 300),
            ("b", "2025-03-01", "completed", 100),
            ("b", "2025-03-05", "refund", 50),
        ]
    )
    s = repeat.revenue_split(v, visit_days(v))
    assert s == {"first_visits": 200.0, "repeat_visits": 300.0, "repeat_share": 0.6}


# ----------------------------------------------------------------------------- completeness


def test_completeness_flags_valid_phone_and_email_and_consent():
    p = pd.DataFrame(
        {
            "phone": ["067 123 45 67", "123", None],
            "email": ["a@b.ua", "not-an-email", None],
            "consent": pd.array([True, False, pd.NA], dtype="boolean"),
            "channel": ["Google", None, None],
        }
    )
    flags = completeness.field_flags(p, ["phone", "email", "consent", "channel"])
    assert flags["phone"].tolist() == [True, False, False]
    assert flags["email"].tolist() == [True, False, False]
    reach = completeness.contactable(p, flags)
    assert reach.tolist() == [True, False, False]
    assert completeness.score(flags).tolist() == [1.0, 0.0, 0.0]


# ----------------------------------------------------------------------------- end to end


def test_patient_with_only_refunds_or_only_no_shows_is_not_a_visitor(tmp_path):
    from .test_load import STATUS, VISIT_COLS, make_params

    text = (
        "Код;Дата;Сума;Статус\n"
        "R;01.02.2024;500;Повернення\n"
        "N;01.03.2024;;Не з'явився\n"
        "N;02.03.2024;;Не з'явився\n"
        "A;01.01.2024;100;Виконано\n"
        "A;01.01.2024;50;Виконано\n"
        "A;01.04.2024;100;Виконано\n"
    )
    params = make_params(
        tmp_path,
        {"v.csv": ("visits", text, {"columns": VISIT_COLS, "values": STATUS})},
        clinic={"as_of": "2024-06-30"},
        history={"min_months": 1},  # six months: enough for this test's activity counts
    )
    audit = compute_audit(params)
    m = audit.metrics
    assert m["base"]["by_rule"] == {"booked": 3, "came": 1, "paid": 1}
    assert m["repeat"]["patients"] == 1 and m["repeat"]["rate"] == 1.0
    assert m["repeat"]["median_days_to_second"] == 91  # same-day visits counted once
    assert m["activity"]["counts"]["active"] == 1
    assert m["revenue"]["total"] == 250 - 500
