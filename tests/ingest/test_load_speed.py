"""The loader's fast paths give what the plain ones give: sources read side by side in two
processes, duplicate rows found through the id column, persons looked up by pyarrow, names
folded and amounts read once per distinct text. Tiny hand-built exports."""

import re
import sys

import numpy as np
import pandas as pd
import pytest

from clinic_analysis.errors import ColumnError, DataValueError
from clinic_analysis.ingest import load
from clinic_analysis.ingest.identity import OTHER_SPACES, normalize_name
from clinic_analysis.ingest.load import _duplicated, _person_of, _split, load_clinic
from clinic_analysis.ingest.values import parse_datetime, read_money
from clinic_analysis.params import Source
from tests.ingest.test_load import STATUS, VISIT_COLS, VISITS, make_params

PATIENTS = """Код;ПІБ;Телефон;Дата народження
P1;Іваненко Марія Петрівна;067 123 45 67;01.02.1980
P2;Петренко Іван;0671234567;
P3;Іваненко Марія;+380671234567;01.02.1980
P3;Іваненко Марія;;
"""
PATIENT_COLS = {"patient_id": "Код", "full_name": "ПІБ", "phone": "Телефон"}
PATIENT_COLS |= {"birth_date": "Дата народження"}
PLANS = "Код;План;Дата;Сума\nP1;L1;03.02.2024;5000\nP4;L2;04.02.2024;1000\n"
PLAN_COLS = {"patient_id": "Код", "plan_id": "План", "date": "Дата", "amount_total": "Сума"}


def _clinic(tmp_path, visits=VISITS, patients=PATIENTS, plans=PLANS, visit_cols=VISIT_COLS):
    return make_params(
        tmp_path,
        {
            "v.csv": ("visits", visits, {"columns": visit_cols, "values": STATUS}),
            "p.csv": ("patients", patients, {"columns": PATIENT_COLS}),
            "l.csv": ("plans", plans, {"columns": PLAN_COLS}),
        },
        clinic={"as_of": "2024-04-30"},
    )


def _same_clinic(a, b) -> None:
    for table in ("visits", "patients", "plans", "rejected"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table), check_exact=True)
    assert a.ledger == b.ledger and a.identity == b.identity and a.as_of == b.as_of


def _side_by_side(monkeypatch, on: bool = True) -> None:
    """Every clinic read in two processes however small its files (``on``), or none."""
    monkeypatch.setattr(load, "PARALLEL_MIN_WORK", 0 if on else 10**18)
    monkeypatch.setattr(load.os, "sched_getaffinity", lambda _: {0, 1})


def test_sources_read_side_by_side_give_the_clinic_read_one_by_one(tmp_path, monkeypatch):
    params = _clinic(tmp_path)
    one_by_one = load_clinic(params)
    _side_by_side(monkeypatch)
    here, aside = _split(params.sources)
    assert here and aside  # the case is really split
    side = load_clinic(params)
    _same_clinic(side, one_by_one)
    dropped = {"missing_patient_id": 1, "unparseable_date": 1, "duplicate_row": 1}
    assert side.ledger[0].dropped == dropped | {"after_as_of": 1}
    assert len(side.patients) == 3  # P1 and P3 are one person (same phone and name)


def test_small_files_or_one_core_are_read_in_this_process(tmp_path, monkeypatch):
    params = _clinic(tmp_path)
    assert _split(params.sources) == ([0, 1, 2], [])  # a few bytes: not worth a process
    monkeypatch.setattr(load, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(load.os, "sched_getaffinity", lambda _: {0})
    assert _split(params.sources) == ([0, 1, 2], [])


def test_the_largest_source_is_read_here_and_the_rest_beside_it(tmp_path, monkeypatch):
    _side_by_side(monkeypatch)
    sizes = {"a.csv": 3000, "b.csv": 5000, "c.xlsx": 100, "d.csv": 2500}
    sources = []
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
        cols = {"patient_id": "Код", "date": "Дата"}
        sources.append(Source(system="mis", table="visits", path=tmp_path / name, columns=cols))
    # work 3000, 5000, 100 * 20 (a sheet), 2500; by decreasing work each to the lighter
    # share: b here (5000), a aside (3000), d aside (5500), c here (7000)
    assert _split(sources) == ([1, 2], [0, 3])


def test_a_bad_source_read_aside_stops_with_its_own_error(tmp_path, monkeypatch):
    params = _clinic(tmp_path)
    params.sources[1].columns["email"] = "E-mail"  # no such column in the patients file
    _side_by_side(monkeypatch)
    assert 1 in _split(params.sources)[1]
    with pytest.raises(ColumnError) as side:
        load_clinic(params)
    _side_by_side(monkeypatch, on=False)
    with pytest.raises(ColumnError) as alone:
        load_clinic(params)
    assert str(side.value) == str(alone.value)
    assert "E-mail" in str(side.value) and "p.csv" in str(side.value)


def test_of_two_bad_sources_the_first_one_s_error_is_raised(tmp_path, monkeypatch):
    no_ids = "Код;ПІБ;Телефон;Дата народження\n;А;;\n;Б;;\n"
    old = "".join(f"P{i};L{i};01.01.1800;10\n" for i in range(500))  # the largest file
    params = _clinic(tmp_path, patients=no_ids, plans="Код;План;Дата;Сума\n" + old)
    _side_by_side(monkeypatch)
    assert _split(params.sources) == ([2], [0, 1])  # the plans fail here, the patients aside
    with pytest.raises(DataValueError) as e:
        load_clinic(params)
    assert "p.csv" in str(e.value) and "is empty in 2 of 2 rows" in str(e.value)


# ----------------------------------------------------------------------------- fast paths


def _source(table: str, columns: dict) -> Source:
    return Source(system="mis", table=table, path="x.csv", columns=columns | {"date": "Дата"})


def test_rows_equal_in_every_cell_are_duplicates_whatever_the_id_column():
    visits = _source("visits", {"visit_id": "№", "patient_id": "Код"})
    raw = pd.DataFrame(
        {"№": ["V1", "V2", "V1", "V3"], "Код": ["P1", "P2", "P1", "P9"]}, dtype="str"
    )
    assert _duplicated(raw, visits).tolist() == [False, False, True, False]
    raw.loc[2, "Код"] = "P7"  # the same visit number, another patient: no duplicate row
    assert _duplicated(raw, visits).tolist() == [False] * 4
    unique = pd.DataFrame({"№": ["V1", "V2", None], "Код": ["P1", "P1", "P1"]}, dtype="str")
    assert _duplicated(unique, visits).tolist() == [False] * 3
    no_id = _source("visits", {"patient_id": "Код"})  # no visit number mapped: all cells
    twice = pd.DataFrame({"№": ["V1", "V1"], "Код": ["P1", "P1"]}, dtype="str")
    assert _duplicated(twice, no_id).tolist() == [False, True]


def test_source_keys_map_to_their_person_as_the_lookup_series_does():
    text = pd.StringDtype(na_value=np.nan)
    cards = pd.Series(["mis:1", "mis:2", "old:7"], dtype=text)
    persons = pd.Series(["mis:1", "mis:1", "old:7"], dtype=object)
    keys = pd.Series(["old:7", "mis:2", "mis:2", "mis:1"], index=[5, 6, 7, 8], dtype=text)
    got = _person_of(keys, cards, persons)
    assert got.tolist() == ["old:7", "mis:1", "mis:1", "mis:1"]
    want = keys.map(pd.Series(persons.to_numpy(), index=cards.to_numpy()))
    pd.testing.assert_series_equal(got, want)
    unknown = pd.Series(["mis:3"], dtype=text)  # no card: missing, as the lookup gives
    assert _person_of(unknown, cards, persons).isna().all()


def test_other_spaces_are_every_character_python_counts_as_whitespace():
    every = (chr(c) for c in range(sys.maxunicode + 1))
    assert "".join(c for c in every if c.isspace() and c != " ") == OTHER_SPACES
    assert all(re.fullmatch(r"\s", c) for c in OTHER_SPACES)


def test_names_fold_unicode_spaces_and_apostrophes():
    names = pd.Series(
        ["Ковальчук\u00a0 Мар’яна", "КОВАЛЬЧУК\u2009мар'яна ", "Коваль\tчук  Марʼяна", None, "  "]
    )
    folded = normalize_name(names)
    assert folded.iloc[0] == folded.iloc[1] == "ковальчук мар'яна"
    assert folded.iloc[2] == "коваль чук мар'яна"
    assert folded.iloc[3:].isna().all()


def test_amounts_read_the_same_from_a_csv_text_column_and_from_excel_cells():
    cells = ["1 234,50", "1.234", "500", None, "abc", "1 234,50", "-20,5"]
    text, _ = read_money(pd.Series(cells, dtype="str"))
    excel, _ = read_money(pd.Series(cells, dtype=object))
    assert text.tolist()[:3] == [1234.5, 1234.0, 500.0]  # the column's comma decides 1.234
    assert np.isnan(text.iloc[3]) and np.isnan(text.iloc[4])
    assert text.iloc[5:].tolist() == [1234.5, -20.5]
    pd.testing.assert_series_equal(text, excel)


def test_dates_with_a_zone_keep_their_wall_time_in_text_and_excel_columns():
    cells = ["2019-02-17T10:06:38Z", "2019-02-17 10:06+02:00", "01.11.2021 09:00", "Z", None]
    want = ["2019-02-17 10:06:38", "2019-02-17 10:06", "2021-11-01 09:00", None, None]
    want = pd.Series([pd.Timestamp(w) for w in want], dtype="datetime64[us]")
    for dtype in ("str", object):
        pd.testing.assert_series_equal(parse_datetime(pd.Series(cells, dtype=dtype)), want)
