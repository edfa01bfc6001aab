"""Issue 9, ingest: whole sources: files listed twice, rows exported twice, mappings that
drop most rows, folders and UTF-16 files. Each case stops with one clear line or keeps
every row in the ledger."""

import pandas as pd
import pytest
import yaml

from clinic_analysis.errors import DataValueError, ParamsError, SourceFileError
from clinic_analysis.ingest.load import load_clinic
from clinic_analysis.ingest.readers import detect_encoding
from clinic_analysis.params import Params, load_params
from tests.ingest.test_load import make_params
from tests.test_cli import run

COLS = {"patient_id": "Код", "date": "Дата", "amount": "Сума"}
JAN = "Код;Дата;Сума\nP1;05.01.2024;100\nP2;06.01.2024;200\n"


# ----------------------------------------------------------------------------- listed twice


def test_the_same_file_listed_twice_is_an_error_naming_both_entries(tmp_path):
    params = make_params(
        tmp_path,
        {
            "jan.csv": ("visits", JAN, {"columns": COLS}),
            "copy_of_jan.csv": ("visits", JAN, {"columns": COLS, "system": "old"}),
        },
    )
    with pytest.raises(ParamsError) as e:
        load_clinic(params)
    msg = str(e.value)
    assert "sources[0] (mis / visits" in msg and "jan.csv" in msg
    assert "sources[1] (old / visits" in msg and "copy_of_jan.csv" in msg


def test_one_file_feeding_two_tables_is_no_duplicate(tmp_path):
    text = "Код;Дата;Сума;ПІБ\nP1;05.01.2024;100;Іваненко Марія\n"
    params = make_params(tmp_path, {"a.csv": ("visits", text, {"columns": COLS})})
    raw = params.model_dump()
    raw["sources"].append(
        {**raw["sources"][0], "table": "patients", "columns": {"patient_id": "Код"}}
    )
    data = load_clinic(params.model_validate(raw))
    assert [e.rows_kept for e in data.ledger] == [1, 1]


def test_two_sheets_of_one_workbook_for_one_table_are_no_duplicate(tmp_path):
    path = tmp_path / "visits.xlsx"
    with pd.ExcelWriter(path) as xl:
        for sheet, day in (("2023", "05.01.2023"), ("2024", "05.01.2024")):
            frame = pd.DataFrame({"Код": ["P1"], "Дата": [day], "Сума": [100]})
            frame.to_excel(xl, sheet_name=sheet, index=False)
    source = {"system": "mis", "table": "visits", "path": path, "columns": COLS}
    params = Params.model_validate(
        {
            "clinic": {"name": "t", "slug": "t"},
            "sources": [{**source, "sheet": "2023"}, {**source, "sheet": "2024"}],
        }
    )
    data = load_clinic(params)
    assert sorted(data.visits["date"].dt.year) == [2023, 2024]


def test_rows_in_two_overlapping_exports_of_one_system_are_kept_once(tmp_path):
    feb = "Код;Дата;Сума\nP2;06.01.2024;200\nP3;07.02.2024;300\n"
    params = make_params(
        tmp_path,
        {
            "jan.csv": ("visits", JAN, {"columns": COLS}),
            "feb.csv": ("visits", feb, {"columns": COLS}),
        },
    )
    data = load_clinic(params)
    jan, febe = data.ledger
    assert jan.dropped == {} and jan.rows_kept == 2
    assert febe.dropped == {"duplicate_row_across_sources": 1} and febe.rows_kept == 1
    assert jan.balanced and febe.balanced
    assert sorted(data.visits["amount"]) == [100.0, 200.0, 300.0]
    gone = data.rejected
    assert gone["reason"].tolist() == ["duplicate_row_across_sources"]
    assert gone["row"].tolist() == [2] and gone["path"].str.endswith("feb.csv").all()


def test_same_rows_in_two_systems_are_not_merged(tmp_path):
    feb = "Код;Дата;Сума\nP2;06.01.2024;200\n"
    params = make_params(
        tmp_path,
        {
            "jan.csv": ("visits", JAN, {"columns": COLS}),
            "new.csv": ("visits", feb, {"columns": COLS, "system": "new"}),
        },
    )
    data = load_clinic(params)
    assert [e.dropped for e in data.ledger] == [{}, {}]
    assert len(data.visits) == 3


def test_a_row_twice_in_a_later_export_and_once_earlier_is_dropped_once(tmp_path):
    # two visits of the same price on the same day, each on its own export line (they
    # differ in a column not mapped), once more in the overlapping export
    later = "Код;Дата;Сума;№\nP2;06.01.2024;200;1\nP2;06.01.2024;200;2\n"
    params = make_params(
        tmp_path,
        {
            "jan.csv": ("visits", JAN, {"columns": COLS}),
            "later.csv": ("visits", later, {"columns": COLS}),
        },
    )
    data = load_clinic(params)
    assert data.ledger[1].dropped == {"duplicate_row_across_sources": 1}
    assert (data.visits["amount"] == 200).sum() == 2


# ----------------------------------------------------------------------------- fail fast


APPOINTMENTS = (
    "PatientId,AppointmentID,ScheduledDay,AppointmentDay,No-show\n"
    "29872499824296,5642903,2016-04-29T18:38:08Z,2016-04-29T00:00:00Z,No\n"
    "558997776694438,5642503,2016-04-29T16:08:27Z,2016-04-29T00:00:00Z,No\n"
    "4262962299951,5642549,2016-04-29T16:19:04Z,2016-04-29T00:00:00Z,Yes\n"
)


def test_a_date_mapped_to_an_id_column_stops_with_the_date_columns_to_use(tmp_path):
    opts = {"delimiter": ",", "columns": {"patient_id": "PatientId", "date": "AppointmentID"}}
    params = make_params(tmp_path, {"a.csv": ("visits", APPOINTMENTS, opts)})
    with pytest.raises(DataValueError) as e:
        load_clinic(params)
    msg = str(e.value)
    assert "\n" not in msg  # one line
    assert "a.csv: column 'AppointmentID': holds no dates (e.g. 5642903)" in msg
    assert "map `date` to one of the date columns: ScheduledDay, AppointmentDay" in msg


def test_birth_dates_mapped_as_visit_dates_stop_with_guidance(tmp_path):
    text = "Код;Народження;Візит\nP1;12.03.1975;05.01.2024\nP2;01.02.1980;06.01.2024\n"
    opts = {"columns": {"patient_id": "Код", "date": "Народження"}}
    with pytest.raises(DataValueError, match=r"'Народження': holds dates before 1990-01-01"):
        load_clinic(make_params(tmp_path, {"v.csv": ("visits", text, opts)}))


def test_month_first_dates_in_a_day_first_column_suggest_the_date_format(tmp_path):
    text = "Код;Дата\nP1;12.31.2023\nP2;11.30.2023\nP3;05.01.2024\n"
    opts = {"columns": {"patient_id": "Код", "date": "Дата"}}
    with pytest.raises(DataValueError, match=r"day and month swapped.*date_format.*%m\.%d\.%Y"):
        load_clinic(make_params(tmp_path, {"v.csv": ("visits", text, opts)}))


def test_an_empty_id_column_stops_naming_it(tmp_path):
    text = "Код;Картка;Дата\nP1;;05.01.2024\nP2;;06.01.2024\n"
    opts = {"columns": {"patient_id": "Картка", "date": "Дата"}}
    with pytest.raises(DataValueError, match=r"'Картка': is empty in 2 of 2 rows"):
        load_clinic(make_params(tmp_path, {"v.csv": ("visits", text, opts)}))


def test_half_of_the_rows_with_bad_dates_is_kept_in_the_ledger_not_stopped(tmp_path):
    text = "Код;Дата\nP1;31.02.2024\nP2;05.01.2024\n"
    opts = {"columns": {"patient_id": "Код", "date": "Дата"}}
    data = load_clinic(make_params(tmp_path, {"v.csv": ("visits", text, opts)}))
    assert data.ledger[0].dropped == {"unparseable_date": 1}


# ----------------------------------------------------------------------------- files


def test_a_folder_as_path_is_one_clear_error(tmp_path):
    (tmp_path / "exports").mkdir()
    params = make_params(tmp_path, {"v.csv": ("visits", JAN, {"columns": COLS})})
    raw = params.model_dump()
    raw["sources"][0]["path"] = tmp_path / "exports"
    with pytest.raises(SourceFileError, match=r"exports: is a folder, not a file"):
        load_clinic(params.model_validate(raw))


@pytest.mark.parametrize("declare", [True, False])
def test_utf16_export_is_read_with_or_without_encoding_key(tmp_path, declare):
    text = "Код\tДата\tСума\nP1\t05.01.2024\t1 200,50\n"
    opts = {"columns": COLS, "_write_encoding": "utf-16"}
    if declare:
        opts["encoding"] = "utf-16"
    data = load_clinic(make_params(tmp_path, {"v.csv": ("visits", text, opts)}))
    assert data.visits["amount"].tolist() == [1200.5]
    assert data.visits["source_id"].tolist() == ["P1"]


def test_utf16_without_bom_is_detected():
    text = "Код;Дата\nP1;05.01.2024\n"
    assert detect_encoding(text.encode("utf-16-le")) == "utf-16-le"
    assert detect_encoding(text.encode("utf-16-be")) == "utf-16-be"
    assert detect_encoding(text.encode("utf-16")) == "utf-16"  # with its BOM


def _params_file(tmp_path, source: dict) -> str:
    p = tmp_path / "c.yaml"
    raw = {"clinic": {"name": "t"}, "sources": [source]}
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return str(p)


def test_cli_folder_as_path_prints_one_line_without_traceback(tmp_path):
    (tmp_path / "exports").mkdir()
    source = {"system": "mis", "table": "visits", "path": "exports", "columns": COLS}
    r = run("report", "--clinic", _params_file(tmp_path, source), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "is a folder, not a file" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_cli_date_mapped_to_an_id_column_prints_the_fix(tmp_path):
    (tmp_path / "a.csv").write_text(APPOINTMENTS, encoding="utf-8")
    source = {
        "system": "mis",
        "table": "visits",
        "path": "a.csv",
        "columns": {"patient_id": "PatientId", "date": "AppointmentID"},
    }
    r = run("report", "--clinic", _params_file(tmp_path, source), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "map `date` to one of the date columns: ScheduledDay, AppointmentDay" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


# ----------------------------------------------------------------------------- params


def test_params_accept_yaml_booleans_numbers_and_utf16(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "clinic: {name: t, opened: 2015-03-01}\n"
        "sources:\n"
        "  - {system: mis, table: patients, path: p.csv, encoding: utf-16,\n"
        "     columns: {patient_id: Код, consent: Згода},\n"
        '     values: {consent: {"Так": true, "Ні": false, 1: 1, 0: 0}}}\n'
        "  - {system: mis, table: visits, path: v.csv,\n"
        "     columns: {patient_id: Код, date: Дата, status: Неявка},\n"
        "     values: {status: {Yes: no_show, No: completed}}}\n",
        encoding="utf-8",
    )
    params = load_params(p)
    patients, visits = params.sources
    assert patients.values["consent"] == {"Так": "true", "Ні": "false", "1": "true", "0": "false"}
    assert visits.values["status"] == {"true": "no_show", "false": "completed"}
    assert params.clinic.opened.isoformat() == "2015-03-01"


def test_a_boolean_target_for_a_status_is_refused_with_the_choices(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "clinic: {name: t}\n"
        "sources:\n"
        "  - {system: mis, table: visits, path: v.csv,\n"
        "     columns: {patient_id: Код, date: Дата, status: Прийшов},\n"
        "     values: {status: {Так: yes}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ParamsError, match=r"values.status: 'true' not allowed \(use one of"):
        load_params(p)


def test_a_word_as_an_amount_target_is_refused(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "clinic: {name: t}\n"
        "sources:\n"
        "  - {system: mis, table: visits, path: v.csv, columns: {patient_id: Код, date: Дата,\n"
        "     amount: Сума}, values: {amount: {безкоштовно: free}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ParamsError, match=r"values.amount: 'free' not allowed"):
        load_params(p)
