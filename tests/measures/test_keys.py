"""Patients coded as integers while the audit computes, and back to their ids after."""

from __future__ import annotations

import dataclasses

import pandas as pd

from clinic_analysis.ingest.tables import ClinicData
from clinic_analysis.measures.keys import PatientKeys


def tiny_data(patients=("mis:b", "mis:a", "mis:c")) -> ClinicData:
    visits = pd.DataFrame(
        {"patient_id": pd.Series(["mis:c", "mis:a", "mis:c"], dtype="str"), "amount": [1.0, 2, 3]}
    )
    cards = pd.DataFrame({"patient_id": pd.Series(list(patients), dtype="str")})
    plans = pd.DataFrame({"patient_id": pd.Series(["mis:d"], dtype="str")})  # a plan, no card
    return ClinicData(
        visits=visits,
        patients=cards,
        plans=plans,
        ledger=[],
        as_of=pd.Timestamp("2025-01-01"),
        present={},
        rejected=pd.DataFrame(),
    )


def test_codes_follow_the_sorted_order_of_the_ids_across_all_tables():
    keys, coded = PatientKeys.code(tiny_data())
    assert keys.ids.tolist() == ["mis:a", "mis:b", "mis:c", "mis:d"]
    assert coded.visits["patient_id"].tolist() == [2, 0, 2]
    assert coded.patients["patient_id"].tolist() == [1, 0, 2]
    assert coded.plans["patient_id"].tolist() == [3]
    assert coded.visits["amount"].tolist() == [1.0, 2, 3]  # the other columns as they were


def test_coding_leaves_the_given_data_as_it_was():
    data = tiny_data()
    PatientKeys.code(data)
    assert data.visits["patient_id"].tolist() == ["mis:c", "mis:a", "mis:c"]


def test_decode_gives_back_the_ids_with_their_dtype_and_the_index_name():
    data = tiny_data()
    keys, _ = PatientKeys.code(data)
    frame = pd.DataFrame(
        {"patient_id": [3, 0], "x": [1, 2]}, index=pd.Index([2, 1], name="patient_id")
    )
    out = keys.decode_frame(frame)
    assert out.index.tolist() == ["mis:c", "mis:b"] and out.index.name == "patient_id"
    assert out["patient_id"].tolist() == ["mis:d", "mis:a"]
    assert out["patient_id"].dtype == data.visits["patient_id"].dtype
    assert frame["patient_id"].tolist() == [3, 0]  # the coded frame is not changed


def test_a_row_without_an_id_leaves_the_ids_uncoded():
    data = tiny_data()
    data = dataclasses.replace(
        data, plans=pd.DataFrame({"patient_id": pd.Series([None], dtype="str")})
    )
    keys, coded = PatientKeys.code(data)
    assert keys.ids is None and coded is data
    assert keys.decode_frame(data.visits) is data.visits


def test_decode_fits_turns_only_per_patient_tables_back():
    @dataclasses.dataclass
    class Fits:
        summary: pd.DataFrame
        totals: pd.Series
        status: str = "ok"

    keys, _ = PatientKeys.code(tiny_data())
    summary = pd.DataFrame({"frequency": [1, 0]}, index=pd.Index([0, 2], name="patient_id"))
    totals = pd.Series([5.0], index=pd.Index([0], name="month"))
    out = keys.decode_fits(Fits(summary, totals))
    assert out.summary.index.tolist() == ["mis:a", "mis:c"]
    assert out.totals.index.tolist() == [0]  # not keyed by patient: kept
    assert out.status == "ok"
