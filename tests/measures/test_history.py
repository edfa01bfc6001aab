import pandas as pd

from clinic_analysis.measures.history import enough_history, months_of_history


def _days(*dates):
    return pd.DataFrame({"patient_id": ["a"] * len(dates), "day": pd.to_datetime(list(dates))})


def test_six_weeks_of_visits_is_not_a_year_of_history():
    days = _days("2026-01-01", "2026-02-10")
    assert 1.3 < months_of_history(days, pd.Timestamp("2026-02-12")) < 1.5
    assert not enough_history(days, pd.Timestamp("2026-02-12"), 12)


def test_two_years_of_visits_is_enough_for_twelve_months():
    days = _days("2024-01-01", "2025-12-20")
    assert enough_history(days, pd.Timestamp("2026-01-01"), 12)
    assert not enough_history(days, pd.Timestamp("2026-01-01"), 25)


def test_no_visits_means_no_history():
    empty = pd.DataFrame({"patient_id": [], "day": pd.to_datetime([])})
    assert months_of_history(empty, pd.Timestamp("2026-01-01")) == 0.0
