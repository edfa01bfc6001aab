"""One definition of money (summary.money_rows / money_totals / last_12_months) on tiny
hand-built tables where the answer is obvious by eye."""

import pandas as pd
import pytest

from clinic_analysis.audit import compute_audit
from clinic_analysis.measures import summary
from tests.ingest.test_load import STATUS, make_params

AS_OF = pd.Timestamp("2025-12-31")
COLS = {"patient_id": "Код", "date": "Дата", "amount": "Сума", "status": "Статус"}


def visits(rows):
    """rows: (patient, 'YYYY-MM-DD', status, amount)."""
    df = pd.DataFrame(rows, columns=["patient_id", "date", "status", "amount"])
    df["date"] = pd.to_datetime(df["date"])
    df["amount"] = df["amount"].astype("float64")
    return df


def totals(rows):
    v = visits(rows)
    return summary.money_totals(summary.money_rows(v), summary.visit_days(v))


REFUND_CASE = [
    ("a", "2025-06-01", "completed", 1000),
    ("a", "2025-06-03", "completed", -1000),  # its refund, exported as a negative amount
    ("b", "2025-06-05", "completed", 500),
]


def test_negative_amount_is_a_refund_not_a_visit():
    m = totals(REFUND_CASE)
    assert (m.gross, m.refunds, m.net) == (1500, 1000, 500)
    assert m.visit_days == 2 and m.refund_rows == 1
    assert m.average_check == 250


def test_refund_status_row_refunds_its_absolute_amount_whatever_the_sign():
    m = totals(
        [
            ("a", "2025-06-01", "completed", 1000),
            ("a", "2025-06-02", "refund", 300),
            ("a", "2025-06-03", "refund", -200),
        ]
    )
    assert (m.gross, m.refunds, m.net, m.visit_days, m.refund_rows) == (1000, 500, 500, 1, 2)


def test_refund_row_is_not_a_visit_day_nor_makes_a_patient_come():
    v = visits([("r", "2025-06-01", "completed", -400), ("a", "2025-06-01", "completed", 100)])
    assert summary.visit_days(v)["patient_id"].tolist() == ["a"]
    assert summary.base_by_rule(v) == {"booked": 2, "came": 1, "paid": 1}


def test_last_12_months_is_the_365_days_ending_at_the_audit_date():
    v = visits(
        [
            ("a", "2024-12-31", "completed", 7),  # exactly 365 days before: outside
            ("a", "2025-01-01", "completed", 100),  # first day inside
            ("a", "2025-12-31", "completed", 10),  # the audit date: inside
            ("a", "2024-06-01", "completed", 40),  # the 12 months before
        ]
    )
    money, days = summary.money_rows(v), summary.visit_days(v)
    now = summary.last_12_months(money, days, AS_OF)
    before = summary.last_12_months(money, days, AS_OF, years_back=1)
    assert (now.net, now.visit_days) == (110, 2)
    assert (before.net, before.visit_days) == (47, 2)


def test_no_amounts_means_none_not_zero():
    v = visits([("a", "2025-06-01", "completed", None)])
    m = summary.money_totals(summary.money_rows(v), summary.visit_days(v), has_amount=False)
    assert (m.gross, m.refunds, m.net, m.average_check) == (None, None, None, None)
    assert m.visit_days == 1


# ----------------------------------------------------------------------------- end to end

CSV = (
    "Код;Дата;Сума;Статус\n"
    "A;01.06.2025;1000;Виконано\n"
    "A;03.06.2025;-1000;Виконано\n"
    "B;05.06.2025;500;Виконано\n"
    "B;01.03.2024;300;Виконано\n"
    "C;10.10.2023;200;Виконано\n"
)


def _audit(tmp_path, columns=COLS, text=CSV):
    params = make_params(
        tmp_path,
        {"v.csv": ("visits", text, {"columns": columns, "values": STATUS})},
        clinic={"as_of": "2025-12-31"},
    )
    return compute_audit(params)


def test_audit_revenue_is_net_of_a_negative_amount_refund(tmp_path):
    m = _audit(tmp_path).metrics
    rev = m["revenue"]
    assert rev["total"] == rev["net"] == 500 + 300 + 200
    assert (rev["gross"], rev["refunds"], rev["refund_rows"]) == (2000, 1000, 1)
    assert m["base"]["visits"] == 4  # A once, B twice, C once: the refund is no visit
    assert rev["average_check"] == 250
    assert rev["last_12m"] == 500 and rev["window_12m"]["visit_days"] == 2


def test_one_12_month_window_for_glance_dynamics_and_activity(tmp_path):
    from clinic_analysis.report import views as V

    audit = _audit(tmp_path)
    m = audit.metrics
    last = m["revenue"]["last_12m"]
    assert last == 500
    assert m["base"]["required_growth_inputs"]["revenue_12m"] == last  # dynamics
    assert sum(m["activity"]["revenue_12m"].values()) == last  # activity
    assert m["revenue"]["prev_12m"] == 300
    assert m["revenue"]["growth_12m"] == pytest.approx(500 / 300 - 1)
    c = V.Context(audit)
    assert c.f.money_short(last) in V.glance_reading(c).data  # glance


def test_without_an_amount_column_every_money_figure_is_none(tmp_path):
    cols = {k: v for k, v in COLS.items() if k != "amount"}
    text = "\n".join(
        ";".join(x for i, x in enumerate(r.split(";")) if i != 2) for r in CSV.split("\n")
    )
    m = _audit(tmp_path, cols, text).metrics
    rev = m["revenue"]
    for key in ("total", "gross", "refunds", "net", "average_check", "last_12m", "prev_12m"):
        assert rev[key] is None, key
    assert rev["first_visits"] is None and rev["repeat_share"] is None
    assert set(m["activity"]["revenue_12m"].values()) == {None}
    assert m["refusers"]["potential"]["base"] is None
    assert m["refusers"]["at_stake"]["total"] is None
    assert m["base"]["visits"] == 5  # without amounts no row can be told a refund
