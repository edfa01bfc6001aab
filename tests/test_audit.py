"""Compute stage: figures on a tiny clinic, and the on-disk cache."""

import io
import pickle

import pandas as pd

from clinic_analysis.audit import compute_audit
from clinic_analysis.cache import cache_key, get_audit
from tests.ingest.test_load import STATUS, VISIT_COLS, VISITS, _visits_params, make_params


def test_base_figures_on_a_tiny_clinic(tmp_path):
    audit = compute_audit(_visits_params(tmp_path))
    m = audit.metrics
    # kept: P1 two completed visits the same day + a no-show; P2 one free visit + a refund;
    # P3 one future booking only
    assert m["base"]["by_rule"] == {"booked": 3, "came": 2, "paid": 1}
    assert m["base"]["patients"] == 2  # rule "came"
    assert m["base"]["visits"] == 2  # P1's same-day visits count once
    assert m["revenue"]["total"] == 1200.5 + 300 - 200
    assert m["revenue"]["refunds"] == 200
    assert m["clinic"]["as_of"] == "2024-04-30"
    led = m["ledger"]["mis"]["visits"]
    assert led["rows_in"] == led["rows_kept"] + sum(led["dropped"].values())
    p = audit.patients.set_index("patient_id")
    assert p.loc["mis:P1", "visits"] == 1
    assert p.loc["mis:P1", "revenue"] == 1500.5
    assert p.loc["mis:P2", "revenue"] == -200
    assert p.loc["mis:P1", "first_visit"] == pd.Timestamp("2024-02-01")


def test_patient_rule_changes_the_base(tmp_path):
    audit = compute_audit(_visits_params(tmp_path, patient_rule="paid"))
    assert audit.metrics["base"]["patients"] == 1
    base = audit.patients[audit.patients["in_base"]]
    assert base["patient_id"].tolist() == ["mis:P1"]
    assert len(audit.patients) == 3  # everyone with a visit record stays, for the segments


def test_monthly_summary_counts_new_patients_once(tmp_path):
    audit = compute_audit(_visits_params(tmp_path))
    mo = audit.monthly.set_index("month")
    assert mo.loc["2024-02-01", "new_patients"] == 1
    assert mo.loc["2024-03-01", "new_patients"] == 1
    assert mo["base"].iloc[-1] == 2
    assert mo.index[-1] == pd.Timestamp("2024-04-01")  # runs to as_of
    assert mo.loc["2024-03-01", "revenue"] == -200


def test_cache_key_is_stable_and_sensitive(tmp_path):
    params = _visits_params(tmp_path)
    k1 = cache_key(params, code="c")
    assert k1 == cache_key(params, code="c")
    assert k1 != cache_key(params, code="other code")
    assert k1 != cache_key(params.model_copy(update={"patient_rule": "paid"}), code="c")
    src = params.sources[0].path
    src.write_bytes(src.read_bytes() + "P9;01.04.2024;100;Виконано\n".encode())
    assert k1 != cache_key(params, code="c")


def test_second_get_audit_is_a_cache_hit_and_a_change_recomputes(tmp_path):
    params = _visits_params(tmp_path)
    misses = []
    a1, hit1 = get_audit(params, tmp_path / "cache", on_miss=lambda: misses.append(1))
    a2, hit2 = get_audit(params, tmp_path / "cache", on_miss=lambda: misses.append(2))
    assert (hit1, hit2) == (False, True)
    assert misses == [1]  # told before computing, only when it computes
    assert a2.metrics == a1.metrics
    params2 = make_params(
        tmp_path,
        {
            "v.csv": (
                "visits",
                VISITS.replace("1 200,50", "1 000"),
                {"columns": VISIT_COLS, "values": STATUS},
            )
        },
        clinic={"as_of": "2024-04-30"},
    )
    a3, hit3 = get_audit(params2, tmp_path / "cache")
    assert not hit3
    assert a3.metrics["revenue"]["total"] == 1000 + 300 - 200
    assert len(list((tmp_path / "cache").glob("audit-*.pkl"))) == 1  # old entry replaced


def test_audit_tables_are_keyed_by_patient_ids_not_internal_codes(tmp_path):
    params = _visits_params(tmp_path)
    audit = compute_audit(params)
    assert audit.patients["patient_id"].tolist() == ["mis:P1", "mis:P2", "mis:P3"]
    assert audit.patients["patient_id"].dtype == audit.data.visits["patient_id"].dtype
    assert set(audit.refusers.segments.index) == {"mis:P1", "mis:P2", "mis:P3"}
    assert audit.refusers.segments.loc["mis:P3", "segment"] == "awaiting"  # a booking only
    assert set(audit.calls.table.index) <= {"mis:P1", "mis:P2", "mis:P3"}
    assert audit.data.visits["patient_id"].str.startswith("mis:").all()  # data as loaded


def test_cache_entries_write_arrow_columns_without_copying_them_and_read_them_back_the_same(
    tmp_path,
):
    """pandas pickles an Arrow-backed column through a copy of its data, and the pickle
    keeps every copy until the end (0.7 GB at a 1M-patient clinic's visits): none here."""
    import pyarrow as pa

    from clinic_analysis.cache import _Pickler, _read_entry, _write_entry

    n = 50_000
    frame = pd.DataFrame(
        {
            "patient_id": pd.array([f"P{i}" for i in range(n)], dtype="str"),
            "doctor": pd.array(["Коваль", "Smith", None, "Lee"] * (n // 4), dtype="str"),
            "tag": pd.array(["a", "b"] * (n // 2), dtype=pd.ArrowDtype(pa.string())),
            "amount": [1.5] * n,
            # as the CSV reader makes them: several chunks
            "branch": pd.arrays.ArrowExtensionArray(
                pa.chunked_array([pa.array(["North"] * (n // 2)), pa.array(["South"] * (n // 2))])
            ),
        }
    )
    sliced = frame["doctor"].iloc[10:20]  # a slice of the column: written compactly
    pool = pa.default_memory_pool()
    seen = []

    class Watching:  # the Arrow pool's use, each time the pickle is written to
        def write(self, data):
            seen.append(pool.bytes_allocated())
            return memoryview(data).nbytes

    before = pool.bytes_allocated()
    _Pickler(Watching(), protocol=5).dump(frame)
    assert max(seen) == before  # not one byte copied

    secret = b"k" * 32
    _write_entry(tmp_path / "frame.pkl", "key", {"frame": frame, "sliced": sliced}, secret)
    back, why = _read_entry(tmp_path / "frame.pkl", "key", secret)
    assert why == ""
    pd.testing.assert_frame_equal(back["frame"], frame)
    assert back["frame"].dtypes.equals(frame.dtypes)
    pd.testing.assert_series_equal(back["sliced"], sliced)
    assert len(pickle.dumps(sliced)) < 5_000  # ten names, not the column they were cut from
    written = io.BytesIO()
    _Pickler(written, protocol=5).dump(sliced)
    assert len(written.getvalue()) < 5_000
