"""Visit gaps and first visits, on visit days small enough to check by eye."""

from __future__ import annotations

import pandas as pd

from clinic_analysis.measures import summary


def _days(rows):
    return pd.DataFrame(
        {"patient_id": [p for p, _ in rows], "day": pd.to_datetime([d for _, d in rows])}
    )


def test_visit_gaps_are_the_days_between_one_patients_consecutive_visits():
    # B's only visit sits between A's rows and must not get A's last day as its previous one
    days = _days(
        [("A", "2024-02-10"), ("B", "2024-03-01"), ("A", "2024-01-01"), ("A", "2024-01-11")]
    )
    gaps = summary.visit_gaps(days)
    assert gaps.index.tolist() == days.index.tolist()  # in the rows' own order
    assert gaps.tolist()[0] == 30  # A: Jan 11 -> Feb 10
    assert pd.isna(gaps.iloc[1])  # B: one visit, no gap
    assert pd.isna(gaps.iloc[2])  # A's first visit
    assert gaps.iloc[3] == 10  # A: Jan 1 -> Jan 11
    assert sorted(gaps.dropna().tolist()) == [10, 30]


def test_visit_gaps_keep_a_frames_own_index_labels():
    days = _days([("A", "2024-01-01"), ("A", "2024-01-11")]).set_axis([7, 3])
    gaps = summary.visit_gaps(days)
    assert pd.isna(gaps[7])
    assert gaps[3] == 10


def test_first_visits_are_each_patients_earliest_day():
    days = _days([("A", "2024-02-10"), ("B", "2024-03-01"), ("A", "2024-01-01")])
    first = summary.first_visits(days)
    assert first.to_dict() == {"A": pd.Timestamp("2024-01-01"), "B": pd.Timestamp("2024-03-01")}
