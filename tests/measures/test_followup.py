"""The next audit reads the last one back: outcomes, came, control, since the last audit."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from clinic_analysis.errors import SourceFileError
from clinic_analysis.ingest.tables import ClinicData
from clinic_analysis.measures import followup

ROOT = Path(__file__).resolve().parents[2]


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    lo, hi = followup.newcombe_diff(56, 70, 48, 80)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    assert followup.newcombe_diff(1, 5, 0, 0) is None


def _data(visits: list[tuple]) -> ClinicData:
    v = pd.DataFrame(visits, columns=["patient_id", "date", "status", "amount"])
    v["date"] = pd.to_datetime(v["date"])
    return ClinicData(
        visits=v,
        patients=pd.DataFrame(),
        plans=pd.DataFrame(),
        ledger=[],
        as_of=pd.Timestamp("2027-01-31"),
        present={"visits": ["patient_id", "date", "status", "amount"]},
        rejected=pd.DataFrame(),
    )


def test_came_and_revenue_count_only_completed_visits_after_the_previous_audit():
    lists = pd.DataFrame(
        {
            "list": ["lapsed"] * 4,
            "keys": [["mis:1"], ["mis:2"], ["mis:3"], ["mis:4", "mis:5"]],
            "outcome": ["booked", "not_reached", "", ""],
            "reason": "",
            "called_on": pd.to_datetime(["2026-11-02", "2026-11-03", None, None]),
            "called_by": "",
        }
    )
    lists["called"] = (lists["outcome"] != "") | lists["called_on"].notna()
    persons = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C", "D"],
            "source_ids": [["mis:1"], ["mis:2"], ["mis:3"], ["mis:4", "mis:5"]],
        }
    )
    data = _data(
        [
            ("A", "2026-12-01", "completed", 1000.0),  # booked on the call, came
            ("A", "2026-12-05", "refund", 1000.0),  # ... and was refunded
            ("A", "2026-12-09", "completed", 500.0),
            ("B", "2026-10-20", "completed", 900.0),  # before the previous audit: not "came"
            ("C", "2026-12-10", "no_show", None),  # not called, did not come
            ("D", "2027-01-10", "completed", 700.0),  # not called, came (on its second card)
        ]
    )
    by, rows = followup.measure(lists, data, pd.Timestamp("2026-10-31"), persons)
    m = by["lapsed"]
    assert (m["listed"], m["called"], m["reached"], m["booked"], m["came"]) == (4, 2, 1, 1, 1)
    assert (m["came_rate"], m["control"], m["control_came"], m["control_came_rate"]) == (
        0.5,
        2,
        1,
        0.5,
    )
    assert m["revenue"] == 500.0  # 1,000 - 1,000 + 500
    assert m["control_revenue"] == 700.0


def test_a_missing_amount_column_gives_no_revenue_not_zero():
    lists = pd.DataFrame(
        {"list": ["no_show"], "keys": [["mis:1"]], "outcome": ["booked"], "reason": "",
         "called_on": [pd.NaT], "called_by": "", "called": [True]}
    )  # fmt: skip
    data = _data([("A", "2026-12-01", "completed", None)])
    data.present["visits"] = ["patient_id", "date", "status"]
    persons = pd.DataFrame({"patient_id": ["A"], "source_ids": [["mis:1"]]})
    by, _ = followup.measure(lists, data, pd.Timestamp("2026-10-31"), persons)
    assert by["no_show"]["came"] == 1 and by["no_show"]["revenue"] is None


def test_since_last_puts_then_and_now_side_by_side():
    then = {
        "base": {"patients": 100},
        "repeat": {"rate": 0.5},
        "activity": {"counts": {"active": 40}},
    }
    now = {
        "base": {"patients": 120},
        "repeat": {"rate": 0.55},
        "activity": {"counts": {"active": 52}},
    }
    s = followup.since_last(then, now)
    assert s["base"] == {"then": 100, "now": 120}
    assert s["repeat_rate"] == {"then": 0.5, "now": 0.55}
    assert s["phase_active"] == {"then": 40, "now": 52}
    assert s["revenue_12m"] == {"then": None, "now": None}  # not in either: unavailable
    assert followup.since_last(None, now) == {}


def test_the_previous_audit_is_the_latest_history_entry_before_this_one(tmp_path):
    for day in ("2026-04-30", "2026-10-31", "2027-01-31", "notes"):
        (tmp_path / day).mkdir()
    assert followup.previous_entry(tmp_path, pd.Timestamp("2027-01-31")).name == "2026-10-31"
    assert followup.previous_entry(tmp_path, pd.Timestamp("2026-04-30")) is None
    assert followup.previous_entry(tmp_path / "missing", pd.Timestamp("2027-01-31")) is None


def test_the_archive_keeps_a_filled_in_copy_and_the_run_keeps_history(tmp_path):
    from clinic_analysis.report.publish import PRESERVED, archive

    (tmp_path / "metrics.json").write_text("{}", encoding="utf-8")
    (tmp_path / "call_lists.xlsx").write_bytes(b"issued")
    entry = archive(tmp_path, "2026-10-31", log=lambda s: None)
    assert (entry / "metrics.json").read_text() == "{}"
    assert (entry / "call_lists.xlsx").read_bytes() == b"issued"
    assert "history" in PRESERVED


def test_a_workbook_not_written_by_clinic_audit_is_one_clear_error(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "name"
    wb.save(tmp_path / "x.xlsx")
    with pytest.raises(SourceFileError, match="_meta"):
        followup.read_outcomes(tmp_path / "x.xlsx")
    (tmp_path / "y.xlsx").write_text("not a workbook")
    with pytest.raises(SourceFileError, match="Excel workbook"):
        followup.read_outcomes(tmp_path / "y.xlsx")


# --------------------------------------------------------------- the demo of the loop


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """The small demo clinic audited, its lists filled in, its next quarter audited."""
    from clinic_analysis.audit import compute_audit
    from clinic_analysis.examples.demo_followup import generate_followup
    from clinic_analysis.params import load_params

    folder = tmp_path_factory.mktemp("loop")
    truth = generate_followup(folder / "data", n_patients=300)
    raw = yaml.safe_load((ROOT / "params" / "demo_followup.yaml").read_text(encoding="utf-8"))
    for s in raw["sources"]:
        s["path"] = str(folder / "data" / Path(s["path"]).name)
    raw["followup"] = {
        "call_lists": str(folder / "data" / "call_lists.filled.xlsx"),
        "metrics": str(folder / "data" / "previous" / "metrics.json"),
    }
    path = folder / "demo_followup.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    audit = compute_audit(load_params(path))
    followup.attach(audit, None)
    return audit, truth, folder


def test_the_follow_up_reports_what_the_generator_did(loop):
    audit, truth, _ = loop
    by = audit.metrics["followup"]["by_segment"]
    assert set(by) == set(truth["by_segment"])
    for key, want in truth["by_segment"].items():
        got = {k: by[key][k] for k in want}
        assert got == want, key
        n, c = want["control"], want["control_came"]
        assert by[key]["control_came_rate"] == (round(c / n, 6) if n else None)
    called = sum(t["called"] for t in truth["by_segment"].values())
    listed = sum(t["listed"] for t in truth["by_segment"].values())
    assert 0.4 < called / listed < 0.8  # the generator's 60 % of calls
    assert (audit.followup.totals["listed"], audit.followup.totals["called"]) == (listed, called)
    assert audit.metrics["followup"]["previous"]["as_of"] == truth["previous_as_of"]


def test_booked_patients_came_more_often_than_the_control(loop):
    audit, truth, _ = loop
    by = audit.metrics["followup"]["by_segment"].values()
    came = sum(m["came"] for m in by) / sum(m["called"] for m in by)
    control = sum(m["control_came"] for m in by) / sum(m["control"] for m in by)
    assert came > control
    assert all(
        m["difference_ci"] is None or m["difference_ci"][0] < m["difference_ci"][1] for m in by
    )


def test_since_last_compares_with_the_archived_metrics(loop):
    audit, _, folder = loop
    then = json.loads((folder / "data" / "previous" / "metrics.json").read_text(encoding="utf-8"))
    s = audit.metrics["since_last"]
    assert s["base"] == {"then": then["base"]["patients"], "now": audit.metrics["base"]["patients"]}
    assert s["segment_lapsed"]["then"] == then["refusers"]["counts"]["lapsed"]


def test_do_not_call_marks_carry_forward_to_the_next_lists(loop):
    audit, _, folder = loop
    lists = followup.read_outcomes(folder / "data" / "call_lists.filled.xlsx")
    marked = lists[lists["outcome"] == "do_not_call"]
    assert len(marked)
    people = followup.persons_by_card(audit.data.patients)
    ids = {people[k[0]] for k in marked["keys"]}
    table = audit.calls.table
    now = table[table.index.isin(ids)]
    assert now["refused_contact"].all()


def test_a_formula_in_the_outcome_column_is_never_evaluated(loop, tmp_path):
    from openpyxl import load_workbook

    _, _, folder = loop
    book = folder / "data" / "previous" / "call_lists.xlsx"
    meta = followup.read_meta(book)
    name, _key, first, cols = meta["sheets"][0]
    wb = load_workbook(book)
    wb[name].cell(first + 1, cols.index("outcome") + 1).value = '=HYPERLINK("http://x","booked")'
    wb.save(tmp_path / "f.xlsx")
    rows = followup.read_outcomes(tmp_path / "f.xlsx")
    assert not rows["called"].any()  # a formula with no saved value reads as empty


def test_the_report_section_shows_the_calls_and_then_and_now(loop):
    from clinic_analysis.i18n import Catalog
    from clinic_analysis.report import views as V

    audit, truth, _ = loop
    t = Catalog(audit.params.clinic.language)
    c = V.Context(audit)
    table = V.followup_table(c).data
    for key in truth["by_segment"]:
        assert t(f"calls.sheet.{key}") in table
    assert t("fu.col.control") in table
    assert t("fu.fig.base") in V.since_last_table(c).data
    assert t("fu.none") not in V.followup_intro(c).data


def test_a_first_audit_says_there_is_nothing_to_compare_yet(loop, tmp_path):
    import copy

    from clinic_analysis.i18n import Catalog
    from clinic_analysis.report import views as V

    audit, _, _ = loop
    first = copy.copy(audit)
    first.params = audit.params.model_copy(update={"followup": type(audit.params.followup)()})
    followup.attach(first, tmp_path / "history")  # an empty archive
    assert first.metrics["followup"] == {"previous": None, "by_segment": {}}
    assert first.metrics["since_last"] == {}
    t = Catalog(audit.params.clinic.language)
    c = V.Context(first)
    assert t("fu.none") in V.followup_intro(c).data
    assert V.followup_table(c).data == "" and V.since_last_table(c).data == ""


def test_without_params_the_previous_audit_is_read_from_the_history_folder(loop, tmp_path):
    import copy
    import shutil

    audit, truth, folder = loop
    entry = tmp_path / "history" / truth["previous_as_of"]
    entry.mkdir(parents=True)
    shutil.copy(folder / "data" / "previous" / "metrics.json", entry)
    shutil.copy(folder / "data" / "previous" / "call_lists.xlsx", entry)  # as issued
    shutil.copy(folder / "data" / "call_lists.filled.xlsx", entry)  # the clinic's copy
    again = copy.copy(audit)
    again.params = audit.params.model_copy(update={"followup": type(audit.params.followup)()})
    followup.attach(again, tmp_path / "history")
    assert again.metrics["followup"]["previous"]["source"] == "history"
    by = again.metrics["followup"]["by_segment"]
    assert {k: by[k]["came"] for k in by} == {k: v["came"] for k, v in truth["by_segment"].items()}


def test_lists_of_an_audit_not_before_this_one_are_one_clear_error(loop):
    import copy

    from clinic_analysis.errors import ParamsError

    audit, _, _ = loop
    late = copy.copy(audit)
    late.data = copy.copy(audit.data)
    late.data.as_of = pd.Timestamp("2026-10-31")  # the previous audit's own date
    with pytest.raises(ParamsError, match="not before this audit"):
        followup.attach(late, None)
