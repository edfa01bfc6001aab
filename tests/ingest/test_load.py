"""The loader on tiny hand-built exports where the right answer is obvious by eye."""

from pathlib import Path

import pandas as pd
import pytest

from clinic_analysis.errors import ColumnError, DataValueError, SourceFileError
from clinic_analysis.ingest.load import load_clinic
from clinic_analysis.ingest.readers import detect_encoding, sniff_delimiter
from clinic_analysis.ingest.values import parse_datetime, parse_money
from clinic_analysis.params import Params

VISIT_COLS = {"patient_id": "Код", "date": "Дата", "amount": "Сума", "status": "Статус"}
STATUS = {
    "status": {
        "Виконано": "completed",
        "Не з'явився": "no_show",
        "Запис": "booked",
        "Повернення": "refund",
    }
}


def make_params(tmp_path: Path, files: dict[str, tuple[str, str, dict]], **extra) -> Params:
    """files: name -> (table, text, options)."""
    sources = []
    for name, (table, text, opts) in files.items():
        path = tmp_path / name
        enc = opts.pop("_write_encoding", "utf-8")
        path.write_bytes(text.encode(enc))
        sources.append({"system": opts.pop("system", "mis"), "table": table, "path": path, **opts})
    return Params.model_validate(
        {
            "clinic": {"name": "Test", "slug": "test", **extra.pop("clinic", {})},
            "sources": sources,
            **extra,
        }
    )


VISITS = """Код;Дата;Сума;Статус
P1;01.02.2024 10:00;1 200,50;Виконано
P1;01.02.2024 15:00;300;Виконано
P1;10.03.2024;;Не з'явився
P2;05.03.2024 09:15;0;Виконано
;06.03.2024;500;Виконано
P3;31.02.2024;500;Виконано
P2;05.03.2024 09:15;0;Виконано
P2;20.03.2024;200;Повернення
P3;01.05.2024;;Запис
P3;02.05.2024;900;Виконано
"""


def _visits_params(tmp_path, **extra):
    return make_params(
        tmp_path,
        {"v.csv": ("visits", VISITS, {"columns": VISIT_COLS, "values": STATUS})},
        clinic={"as_of": "2024-04-30"},
        **extra,
    )


def test_ledger_accounts_for_every_row(tmp_path):
    data = load_clinic(_visits_params(tmp_path))
    (e,) = data.ledger
    assert e.rows_in == 10
    assert e.dropped == {
        "missing_patient_id": 1,
        "unparseable_date": 1,  # 31.02.2024
        "duplicate_row": 1,
        "after_as_of": 1,  # the completed visit on 02.05 (the booking on 01.05 stays)
    }
    assert e.rows_kept == 6
    assert e.balanced
    assert set(data.rejected["reason"]) == set(e.dropped)
    assert len(data.rejected) == sum(e.dropped.values())
    bad_date = data.rejected[data.rejected["reason"] == "unparseable_date"]
    assert bad_date["row"].tolist() == [7]  # line 7 of the file, header is line 1
    assert "31.02.2024" in bad_date["values"].iloc[0]


def test_future_bookings_are_kept(tmp_path):
    data = load_clinic(_visits_params(tmp_path))
    booked = data.visits[data.visits["status"] == "booked"]
    assert booked["date"].tolist() == [pd.Timestamp("2024-05-01")]


def test_amounts_with_spaces_and_decimal_commas(tmp_path):
    data = load_clinic(_visits_params(tmp_path))
    p1 = data.visits[(data.visits["source_id"] == "P1") & (data.visits["status"] == "completed")]
    assert p1["amount"].tolist() == [1200.5, 300.0]


def test_missing_column_lists_the_file_columns(tmp_path):
    cols = dict(VISIT_COLS, doctor="Лікар")
    params = make_params(
        tmp_path, {"v.csv": ("visits", VISITS, {"columns": cols, "values": STATUS})}
    )
    with pytest.raises(ColumnError) as e:
        load_clinic(params)
    msg = str(e.value)
    assert "v.csv" in msg and "'Лікар'" in msg and "'Статус'" in msg and "doctor" in msg


def test_unmapped_status_values_are_listed_with_counts(tmp_path):
    params = make_params(tmp_path, {"v.csv": ("visits", VISITS, {"columns": VISIT_COLS})})
    with pytest.raises(DataValueError) as e:
        load_clinic(params)
    msg = str(e.value)
    assert "v.csv" in msg and "'Статус'" in msg
    assert "'Виконано' (7)" in msg and "values:" in msg


def test_missing_file_is_named(tmp_path):
    params = _visits_params(tmp_path)
    params.sources[0].path.unlink()
    with pytest.raises(SourceFileError, match=r"v\.csv: file not found"):
        load_clinic(params)


def test_cp1251_file_is_detected(tmp_path):
    params = make_params(
        tmp_path,
        {
            "v.csv": (
                "visits",
                VISITS,
                {"columns": VISIT_COLS, "values": STATUS, "_write_encoding": "cp1251"},
            )
        },
        clinic={"as_of": "2024-04-30"},
    )
    data = load_clinic(params)
    assert data.ledger[0].rows_kept == 6


def test_exclusion_rule_takes_visits_along(tmp_path):
    patients = "Код;ПІБ\nP1;Тест Тестович\nP2;Іваненко Марія\n"
    params = make_params(
        tmp_path,
        {
            "v.csv": ("visits", VISITS, {"columns": VISIT_COLS, "values": STATUS}),
            "p.csv": ("patients", patients, {"columns": {"patient_id": "Код", "full_name": "ПІБ"}}),
        },
        clinic={"as_of": "2024-04-30"},
        exclude=[
            {
                "table": "patients",
                "column": "full_name",
                "pattern": "(?i)тест",
                "reason": "test record",
            }
        ],
    )
    data = load_clinic(params)
    v, p = data.ledger
    assert p.dropped == {"excluded: test record": 1}
    assert v.dropped["excluded_patient"] == 3  # P1's two visits and the no-show
    assert v.balanced and p.balanced
    assert "mis:P1" not in set(data.visits["patient_id"])


def test_detect_encoding():
    assert detect_encoding("Код".encode("cp1251")) == "cp1251"
    assert detect_encoding("Код".encode()) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbf" + "Код".encode()) == "utf-8-sig"


@pytest.mark.parametrize(
    ("line", "sep"), [("a;b;c\n1;2;3", ";"), ("a,b,c\n1,2,3", ","), ("a\tb\tc\n1\t2\t3", "\t")]
)
def test_sniff_delimiter(line, sep):
    assert sniff_delimiter(line) == sep


def test_parse_money_formats():
    s = pd.Series(["1 234,50", "1\u00a0000", "12,5", "", None, "abc"])
    out = parse_money(s, ",")
    assert out.iloc[:3].tolist() == [1234.5, 1000.0, 12.5]
    assert out.iloc[3:].isna().all()
    assert parse_money(pd.Series(["1,234.50", "10.00"]), ".").tolist() == [1234.5, 10.0]


def test_parse_datetime_day_first_iso_and_excel_serial():
    s = pd.Series(["31.12.2024 14:30", "01.02.2024", "2019-02-17T10:06:38Z", "45658", "x"])
    out = parse_datetime(s)
    assert out.iloc[0] == pd.Timestamp("2024-12-31 14:30")
    assert out.iloc[1] == pd.Timestamp("2024-02-01")
    assert out.iloc[2] == pd.Timestamp("2019-02-17 10:06:38")
    assert out.iloc[3] == pd.Timestamp("2025-01-01")
    assert pd.isna(out.iloc[4])
