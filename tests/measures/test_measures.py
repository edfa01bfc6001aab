"""The four measures on tiny hand-built tables where the answer is obvious by eye."""

import math

import pandas as pd
import pytest

from clinic_analysis.audit import compute_audit
from clinic_analysis.measures import activity, completeness, dynamics, repeat
from clinic_analysis.measures.summary import money_rows, visit_days
from clinic_analysis.params import Activity

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
    req = dynamics.required_growth(visit_days(v), money_rows(v), AS_OF, targets=(0.2,))
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


def test_revenue_split_first_vs_repeat_leaves_refunds_out():
    v = visits(
        [
            ("a", "2025-01-01", "completed", 100),
            ("a", "2025-02-01", "completed", 300),
            ("a", "2025-02-03", "completed", -300),  # a refund: no repeat visit
            ("b", "2025-03-01", "completed", 100),
            ("b", "2025-03-05", "refund", 50),
        ]
    )
    s = repeat.revenue_split(money_rows(v), visit_days(v))
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
    from tests.ingest.test_load import STATUS, VISIT_COLS, make_params

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


# ----------------------------------------------------------------------------- issue 9


def test_capped_at_risk_limit_keeps_the_true_percentile():
    th = activity.thresholds(days_of(_pairs(10)), Activity())  # intervals 10, 20, ..., 400
    gaps = pd.Series([10 * (i + 1) for i in range(40)])
    assert th.at_risk == activity.MAX_B and th.capped
    assert th.at_risk_percentile_days == math.ceil(gaps.quantile(0.90)) > activity.MAX_B
    assert th.active_percentile_days == math.ceil(gaps.quantile(0.75))
    assert not activity.thresholds(days_of(_pairs(5)), Activity()).capped


def test_active_days_alone_is_checked_against_the_derived_at_risk_limit():
    from clinic_analysis.errors import ParamsError

    d = days_of(_pairs(10))  # at-risk limit derived: 300
    with pytest.raises(ParamsError, match=r"activity.active_days = 320 .* 300 days"):
        activity.thresholds(d, Activity(active_days=320))
    th = activity.thresholds(d, Activity(active_days=100))
    assert (th.active, th.at_risk, th.source) == (100, 300, "params")


def test_at_risk_days_alone_is_checked_against_the_derived_active_limit():
    from clinic_analysis.errors import ParamsError

    d = days_of(_pairs(5))  # active limit derived: q75 of 5, 10, ..., 200 is 151.25 -> 152
    with pytest.raises(ParamsError, match=r"activity.at_risk_days = 120 .* 152 days"):
        activity.thresholds(d, Activity(at_risk_days=120))


def _intro(activity_metrics, language="en"):
    from types import SimpleNamespace

    from clinic_analysis.params import Params
    from clinic_analysis.report import views as V

    params = Params.model_validate(
        {
            "clinic": {"name": "T", "language": language},
            "sources": [
                {
                    "system": "s",
                    "table": "visits",
                    "path": "v.csv",
                    "columns": {"patient_id": "id", "date": "d"},
                }
            ],
        }
    )
    activity = SimpleNamespace(status=None, **activity_metrics["activity"])
    audit = SimpleNamespace(params=params, activity=activity)
    return V.activity_intro(V.Context(audit))


def _activity_metrics(raw_a, raw_b, a=299, b=300, capped=True):
    return {
        "activity": {
            "thresholds_days": {"active": a, "at_risk": b},
            "thresholds": {
                "active": a,
                "at_risk": b,
                "active_percentile": 0.75,
                "at_risk_percentile": 0.9,
                "active_percentile_days": raw_a,
                "at_risk_percentile_days": raw_b,
                "capped": capped,
                "cap_days": 300,
            },
            "threshold_source": "data",
            "intervals": 5000,
        }
    }


def test_activity_intro_states_the_cap_and_the_true_percentile():
    text = _intro(_activity_metrics(raw_a=200, raw_b=371, a=200)).data
    assert "capped at 300 days" in text and "90th percentile is 371 days" in text
    assert "90% within" not in text and "within 200 days" in text
    both = _intro(_activity_metrics(raw_a=320, raw_b=371)).data
    assert "active up to 299 days" in both and "320 and 371 days" in both
    plain = _intro(_activity_metrics(raw_a=120, raw_b=250, a=120, b=250, capped=False))
    assert "90% within 250 days" in plain.data


def test_repeat_rate_12m_leaves_out_patients_first_seen_within_the_year():
    d = days_of(
        [
            ("a", "2024-01-10", "completed", 1),
            ("a", "2024-06-01", "completed", 1),  # back within 12 months
            ("b", "2024-02-01", "completed", 1),
            ("b", "2025-06-01", "completed", 1),  # back, but after 16 months: not within
            ("c", "2024-03-01", "completed", 1),  # never back
            ("d", "2025-10-01", "completed", 1),  # first seen 3 months ago: not eligible
        ]
    )
    r = repeat.rate_12m(repeat.first_and_second(d), AS_OF)
    assert (r["eligible"], r["returned"]) == (3, 1)
    assert r["rate"] == pytest.approx(1 / 3)
    assert r["low"] < 1 / 3 < r["high"]


REPEAT_CSV = (
    "Код;Дата;Сума;Статус\n"
    "A;10.01.2024;100;Виконано\n"
    "A;01.06.2024;100;Виконано\n"
    "B;01.02.2024;100;Виконано\n"
    "B;01.06.2025;100;Виконано\n"
    "C;01.03.2024;100;Виконано\n"
    "D;01.10.2025;100;Виконано\n"
    "D;15.10.2025;100;Виконано\n"
)


def _repeat_audit(tmp_path, text, as_of="2025-12-31"):
    from tests.ingest.test_load import STATUS, VISIT_COLS, make_params

    params = make_params(
        tmp_path,
        {"v.csv": ("visits", text, {"columns": VISIT_COLS, "values": STATUS})},
        clinic={"as_of": as_of},
        repeat={"min_group_size": 1},
    )
    return compute_audit(params)


def test_repeat_headline_is_censoring_aware_and_lifetime_kept_beside(tmp_path):
    r = _repeat_audit(tmp_path, REPEAT_CSV).metrics["repeat"]
    assert r["status_12m"] == "ok"
    assert (r["eligible_12m"], r["returned_12m"]) == (3, 1)  # D is too recent to count
    assert r["rate_12m"] == pytest.approx(1 / 3, abs=1e-6)
    assert r["rate"] == r["rate_lifetime"] == 0.75  # A, B, D of 4 ever came twice
    lo, hi = r["rate_12m_ci"]
    assert lo < r["rate_12m"] < hi
    # the breakdowns use the same basis: 2024's cohort has 3 eligible, 1 back within 12 months
    assert r["by_cohort_year"]["2024"]["patients"] == 3
    assert r["by_cohort_year"]["2024"]["rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert "2025" not in r["by_cohort_year"]


def test_repeat_headline_needs_twelve_months_of_history(tmp_path):
    text = "Код;Дата;Сума;Статус\nA;01.10.2025;100;Виконано\nA;15.11.2025;100;Виконано\n"
    a = _repeat_audit(tmp_path, text)
    r = a.metrics["repeat"]
    assert r["status_12m"] == "too_little_history"
    assert r["rate_12m"] is None and r["rate_12m_ci"] is None
    assert r["rate"] == 1.0  # the lifetime share stays, labelled
    assert "by_cohort_year" not in a.repeat.breakdowns


# ----------------------------------------------------------------------------- month series


def test_active_base_by_month_counts_patients_seen_in_the_year_to_each_month_end():
    d = days_of(
        [
            ("a", "2025-10-15", "completed", 1),
            ("a", "2025-11-20", "completed", 1),  # a twice: still one patient
            ("b", "2025-11-05", "completed", 1),
            ("c", "2024-11-10", "completed", 1),  # more than 365 days before 2025-11-30
        ]
    )
    base = dynamics.active_base_by_month(d, pd.Timestamp("2025-12-31"), months=3)
    # month ends 2025-10-31, 11-30, 12-31: c's visit still counts at the end of October
    assert base.tolist() == [2, 2, 2]
    assert list(base.index.strftime("%Y-%m")) == ["2025-10", "2025-11", "2025-12"]


def test_phase_mix_counts_each_patient_by_the_last_visit_before_each_month_end():
    d = days_of(
        [
            ("a", "2025-01-10", "completed", 1),
            ("a", "2025-11-30", "completed", 1),
            ("b", "2025-01-10", "completed", 1),
        ]
    )
    th = activity.Thresholds(active=60, at_risk=120, source="params", intervals=0)
    mix = activity.phase_mix_by_month(d, th, pd.Timestamp("2025-11-30"), months=2)
    oct_, nov = mix.to_dict("records")
    # at 2025-10-31 both were last seen 294 days before: lapsing
    assert (oct_["active"], oct_["lapsing"]) == (0, 2)
    # at 2025-11-30 a came that very day; b is 324 days away
    assert (nov["active"], nov["lapsing"]) == (1, 1)


def test_phase_mix_puts_a_boundary_day_in_the_healthier_phase_whatever_the_row_order():
    end = pd.Timestamp("2025-11-30")
    ago = lambda n: (end - pd.Timedelta(days=n)).date().isoformat()  # noqa: E731
    d = days_of(
        [
            ("d", ago(121), "completed", 1),  # one day past the at-risk limit: lapsing
            ("a", ago(61), "completed", 1),  # one day past the active limit: at risk
            ("b", ago(60), "completed", 1),  # exactly the active limit: still active
            ("a", ago(400), "completed", 1),  # an older visit of a changes nothing
            ("c", ago(120), "completed", 1),  # exactly the at-risk limit: at risk
            ("e", ago(800), "completed", 1),  # over two years: lost_2y
        ]
    ).sample(frac=1, random_state=3)
    th = activity.Thresholds(active=60, at_risk=120, source="params", intervals=0)
    (row,) = activity.phase_mix_by_month(d, th, end, months=1).to_dict("records")
    assert row == {
        "month": pd.Timestamp("2025-11-01"),
        "active": 1,
        "at_risk": 2,
        "lapsing": 1,
        "lost_1y": 0,
        "lost_2y": 1,
    }


def test_cohort_matrix_shares_patients_by_quarters_since_their_first_visit():
    d = days_of(
        [
            ("a", "2025-01-15", "completed", 1),
            ("a", "2025-04-10", "completed", 1),  # 1 quarter later
            ("a", "2025-10-01", "completed", 1),  # 3 quarters later
            ("b", "2025-03-31", "completed", 1),  # same cohort (2025Q1), never back
            ("c", "2024-12-01", "completed", 1),  # 2024Q4
            ("c", "2025-01-02", "completed", 1),  # 1 quarter later
        ]
    )
    m = repeat.cohort_matrix(d, pd.Timestamp("2025-12-31"), quarters=3)
    assert m.loc["2025Q1"].tolist() == [0.5, 0.0, 0.5]
    assert m.loc["2024Q4"].tolist() == [1.0, 0.0, 0.0]
    # 2025Q1 + 3 quarters is 2025Q4, the audit's quarter; 2024Q4's are all lived through
    m2 = repeat.cohort_matrix(d, pd.Timestamp("2025-09-30"), quarters=3)
    assert math.isnan(m2.loc["2025Q1", 3])  # not lived through yet: unknown, not 0
