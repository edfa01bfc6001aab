"""A call sheet lists at most params ``calls.max_rows_per_sheet`` patients, the first to call;
the do-not-contact sheet is never cut; the metrics and the report say what was left out."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from openpyxl import load_workbook

from clinic_analysis.i18n import Catalog
from clinic_analysis.measures.calls import call_metrics
from clinic_analysis.measures.followup import read_meta, read_outcomes
from clinic_analysis.measures.results import Calls
from clinic_analysis.params import load_params
from clinic_analysis.report.calllists import write_call_lists
from tests.conftest import DEMO_PARAMS

AS_OF = pd.Timestamp("2026-01-31")


def _table() -> pd.DataFrame:
    """Five lapsed patients in call order (p1 first), two who refused contact, one nobody
    can reach; the cards are mis:1 ... mis:8."""
    n = 8
    return pd.DataFrame(
        {
            "sheet": ["lapsed"] * n,
            "chance": [0.5, 0.4, 0.3, 0.2, 0.1, 0.3, 0.2, 0.1],
            "value": [1000.0] * n,
            "source_ids": [[f"mis:{i}"] for i in range(1, n + 1)],
            "name": [f"Patient {i}" for i in range(1, n + 1)],
            "phone": [f"+38067123450{i}" for i in range(1, n)] + [None],
            "email": [""] * n,
            "last_visit": [pd.Timestamp("2025-01-10")] * n,
            "missed": [pd.NaT] * n,
            "doctor": ["Dr A"] * n,
            "balance": [None] * n,
            "refused_contact": [False] * 5 + [True, True, False],
            "uncontactable": [False] * 7 + [True],
        },
        index=pd.Index([f"p{i}" for i in range(1, n + 1)], name="patient_id"),
    )


def _audit(cap: int | None = None, language: str = "en"):
    params = load_params(DEMO_PARAMS)
    update = {"clinic": params.clinic.model_copy(update={"language": language})}
    if cap is not None:
        update["calls"] = params.calls.model_copy(update={"max_rows_per_sheet": cap})
    params = params.model_copy(update=update)
    table = _table()
    calls = Calls.from_metrics(call_metrics(table, params.calls.max_rows_per_sheet), table=table)
    return SimpleNamespace(
        params=params,
        data=SimpleNamespace(as_of=AS_OF, has=lambda *a: True),
        calls=calls,
    )


def _sheets(path) -> dict[str, list[tuple]]:
    """Every sheet's cell values (``_meta`` too), row by row."""
    wb = load_workbook(path, read_only=True)
    out = {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    wb.close()
    return out


def _cards(path, key: str) -> list[str]:
    meta = read_meta(path)
    name, first, cols = next((n, f, c) for n, k, f, c in meta["sheets"] if k == key)
    ws = load_workbook(path, read_only=True)[name]
    rows = list(ws.iter_rows(min_row=first + 1, values_only=True))
    return [r[cols.index("card")] for r in rows if any(r)]


def test_a_sheet_longer_than_the_cap_lists_its_first_rows_and_says_how_many_of_how_many(
    tmp_path,
):
    path = tmp_path / "call_lists.xlsx"
    rows = write_call_lists(_audit(cap=2), path)
    assert rows["lapsed"] == 2
    assert _cards(path, "lapsed") == ["mis:1", "mis:2"]  # the two to call first
    t = Catalog("en")
    title = _sheets(path)[t("calls.sheet.lapsed")[:31]][0][0]
    assert title == "Lapsed: 2 of 5, those to call first; the other 3 are counted in the report"


def test_the_do_not_contact_sheet_is_never_cut(tmp_path):
    path = tmp_path / "call_lists.xlsx"
    rows = write_call_lists(_audit(cap=1), path)
    assert rows == {"lapsed": 1, "do_not_contact": 2}
    assert _cards(path, "do_not_contact") == ["mis:6", "mis:7"]


def test_metrics_count_everyone_and_say_what_was_listed_and_left_out():
    m = call_metrics(_table(), 2)
    assert m["sheets"]["lapsed"] == 5  # everyone of the segment, listed or not
    assert m["sheets"]["do_not_contact"] == 2
    assert m["listed"] == {"lapsed": 2}
    assert m["left_out"] == {"lapsed": 3}


def test_no_cut_sheet_adds_no_listed_keys_to_the_metrics():
    assert {"listed", "left_out"}.isdisjoint(call_metrics(_table(), 5))
    assert Calls.from_metrics(call_metrics(_table(), 5)).as_metrics().keys() == {
        "sheets",
        "uncontactable",
    }


def test_a_cut_list_read_back_gives_the_outcomes_of_the_listed_rows(tmp_path):
    path = tmp_path / "call_lists.xlsx"
    write_call_lists(_audit(cap=2), path)
    meta = read_meta(path)
    name, first, cols = next((n, f, c) for n, k, f, c in meta["sheets"] if k == "lapsed")
    t = Catalog("en")
    wb = load_workbook(path)
    ws = wb[name]
    ws.cell(first + 1, cols.index("outcome") + 1, t("calls.outcome.booked"))
    ws.cell(first + 2, cols.index("outcome") + 1, t("calls.outcome.not_reached"))
    filled = tmp_path / "call_lists.filled.xlsx"
    wb.save(filled)
    got = read_outcomes(filled)
    lapsed = got[got["list"] == "lapsed"]
    assert [k[0] for k in lapsed["keys"]] == ["mis:1", "mis:2"]
    assert list(lapsed["outcome"]) == ["booked", "not_reached"]
    assert list(lapsed["called"]) == [True, True]
    assert len(got[got["list"] == "do_not_contact"]) == 2


def test_the_default_cap_leaves_a_small_clinics_workbook_as_it_was(tmp_path):
    default, exact = tmp_path / "default.xlsx", tmp_path / "exact.xlsx"
    write_call_lists(_audit(), default)  # 10,000
    write_call_lists(_audit(cap=5), exact)  # the sheet's own length: nothing cut either
    assert _sheets(default) == _sheets(exact)
    t = Catalog("en")
    assert _sheets(default)[t("calls.sheet.lapsed")[:31]][0][0] == "Lapsed: 5"


@pytest.mark.parametrize("language", ["uk", "ru", "en"])
def test_the_report_says_in_one_sentence_which_sheets_were_cut(language):
    from clinic_analysis.report import views as V

    c = V.Context(_audit(cap=2, language=language))
    t = Catalog(language)
    note = V.action_plan_note(c).data
    assert t("calls.cut_note", cap="2", lists=f"{t('calls.sheet.lapsed')}: 3") in note
    assert "calls.cut_note" not in note  # the key exists in the catalogue


def test_the_report_says_nothing_of_a_cut_when_no_sheet_was_cut():
    from clinic_analysis.report import views as V

    c = V.Context(_audit())
    t = Catalog("en")
    assert t("calls.cut_note", cap="", lists="")[:20] not in V.action_plan_note(c).data
