"""Issue 9, ingest: values parsed one by one and checked per column, on tiny exports where
the right answer is obvious by eye (amounts, dates, ids, YAML mapping values)."""

import datetime as dt

import pandas as pd
import pytest

from clinic_analysis.ingest import checks
from clinic_analysis.ingest.load import load_clinic
from clinic_analysis.ingest.values import parse_datetime, parse_money, read_money
from clinic_analysis.params import Params
from tests.ingest.test_load import make_params

COLS = {"patient_id": "Код", "date": "Дата", "amount": "Сума"}


def _amounts(tmp_path, cells: list[str], **opts):
    """A visits export of one patient, one visit a day, these amounts."""
    rows = "".join(f"P1;0{i + 1}.02.2024;{c}\n" for i, c in enumerate(cells))
    params = make_params(
        tmp_path,
        {"v.csv": ("visits", "Код;Дата;Сума\n" + rows, {"columns": COLS, **opts})},
        clinic={"as_of": "2024-03-01"},
    )
    data = load_clinic(params)
    return data, data.visits.sort_values("date")["amount"].tolist()


# ----------------------------------------------------------------------------- amounts


@pytest.mark.parametrize("text", ["1234.50", "1 234,50", "1.234,50", "1,234.50", "1234,50"])
@pytest.mark.parametrize("decimal", [",", ".", None])
def test_an_amount_that_reads_one_way_only_is_read_that_way_whatever_the_convention(text, decimal):
    assert parse_money(pd.Series([text]), decimal).tolist() == [1234.5]


def test_dotted_amount_in_a_decimal_comma_column_is_not_multiplied_by_100(tmp_path):
    data, amounts = _amounts(tmp_path, ["1 200,50", "1234.50", "300"], decimal=",")
    assert amounts == [1200.5, 1234.5, 300.0]
    assert checks.warnings(data) == {}


def test_one_dotted_value_does_not_flip_a_column_without_decimal_key(tmp_path):
    _, amounts = _amounts(tmp_path, ["1 200,50", "99,90", "1234.50", "300"])
    assert amounts == [1200.5, 99.9, 1234.5, 300.0]


def test_ambiguous_amount_follows_the_declared_convention():
    # "1.234" is 1,234 where the comma marks decimals and 1.234 where the dot does
    assert parse_money(pd.Series(["1.234", "1,234"]), ",").tolist() == [1234.0, 1.234]
    assert parse_money(pd.Series(["1.234", "1,234"]), ".").tolist() == [1.234, 1234.0]


def test_ambiguous_amount_follows_the_convention_the_column_shows():
    # three values with a decimal comma decide the column: "2.500" groups thousands
    s = pd.Series(["12,50", "1 000,00", "7,5", "2.500"])
    assert parse_money(s).tolist() == [12.5, 1000.0, 7.5, 2500.0]


def test_ambiguous_amount_is_not_guessed_when_the_column_contradicts_the_params():
    # declared decimal comma, but the column writes decimals with a dot: "1.234" is unclear
    out = parse_money(pd.Series(["1234.50", "99.90", "1.234"]), ",")
    assert out.iloc[:2].tolist() == [1234.5, 99.9] and pd.isna(out.iloc[2])


def test_ambiguous_amount_in_an_unclear_column_is_kept_without_amount_and_warned(tmp_path):
    data, amounts = _amounts(tmp_path, ["1.234", "500"])
    assert amounts[1] == 500.0 and pd.isna(amounts[0])
    (e,) = data.ledger
    assert e.rows_kept == 2 and e.balanced  # the row stays, its amount is missing
    assert e.flags == {"ambiguous_amount": 1}
    assert checks.warnings(data) == {"ambiguous_amounts": 1}


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "Infinity", "abc", "1.2.3,4,5"])
def test_text_that_is_no_amount_is_missing_and_flagged_never_infinite(tmp_path, text):
    data, amounts = _amounts(tmp_path, [text, "100"])
    assert pd.isna(amounts[0]) and amounts[1] == 100.0
    assert data.ledger[0].flags == {"unparseable_amount": 1}
    assert checks.warnings(data) == {"unparseable_amount": 1}


def test_infinite_excel_number_is_missing():
    values, ambiguous = read_money(pd.Series([float("inf"), 12.5, None], dtype=object))
    assert pd.isna(values[0]) and values[1] == 12.5 and pd.isna(values[2])
    assert not ambiguous.any()


def test_negative_amounts_keep_their_sign():
    s = pd.Series(["-1 000,00", "−250", "+30"])
    assert parse_money(s, ",").tolist() == [-1000.0, -250.0, 30.0]


def test_amount_words_map_to_numbers_written_as_yaml_numbers(tmp_path):
    _, amounts = _amounts(tmp_path, ["безкоштовно", "500"], values={"amount": {"Безкоштовно": 0}})
    assert amounts == [0.0, 500.0]


# ----------------------------------------------------------------------------- dates


def test_one_column_with_several_date_formats_is_read_day_first():
    s = pd.Series(["03.04.2024", "2024-04-05", "06/04/2024 10:30", "07.04.24", "45390"])
    assert parse_datetime(s).tolist() == [
        pd.Timestamp("2024-04-03"),
        pd.Timestamp("2024-04-05"),
        pd.Timestamp("2024-04-06 10:30"),
        pd.Timestamp("2024-04-07"),
        pd.Timestamp("2024-04-08"),  # an Excel serial day number
    ]


def test_month_first_date_format_makes_the_other_values_month_first_too():
    s = pd.Series(["04/03/2024", "04/05/2024 10:30", "2024-04-06"])
    assert parse_datetime(s, "%m/%d/%Y").tolist() == [
        pd.Timestamp("2024-04-03"),
        pd.Timestamp("2024-04-05 10:30"),
        pd.Timestamp("2024-04-06"),
    ]


def test_excel_cells_mixing_dates_text_and_numbers_are_read_per_cell():
    s = pd.Series([dt.datetime(2024, 4, 3, 9, 0), "05.04.2024", 45390.0, 5642903, None])
    out = parse_datetime(s)
    assert out.iloc[:3].tolist() == [
        pd.Timestamp("2024-04-03 09:00"),
        pd.Timestamp("2024-04-05"),
        pd.Timestamp("2024-04-08"),
    ]
    assert out.iloc[3:].isna().all()  # 5642903 is an id, not a day number


def _dated(tmp_path, dates: list[str], **clinic):
    rows = "".join(f"P{i};{d};100\n" for i, d in enumerate(dates))
    params = make_params(
        tmp_path, {"v.csv": ("visits", "Код;Дата;Сума\n" + rows, {"columns": COLS})}, clinic=clinic
    )
    return load_clinic(params)


def test_visits_before_1990_are_dropped_as_before_the_clinic_opened(tmp_path):
    data = _dated(tmp_path, ["01.01.1900", "05.03.2024", "06.03.2024"])
    (e,) = data.ledger
    assert e.dropped == {"before_clinic_opened": 1} and e.rows_kept == 2 and e.balanced
    assert data.rejected["row"].tolist() == [2]


def test_clinic_opened_in_params_moves_the_plausible_start(tmp_path):
    data = _dated(
        tmp_path,
        ["05.03.2019", "05.03.2024", "06.03.2024"],
        opened="2020-01-01",
        as_of="2024-12-31",
    )
    assert data.ledger[0].dropped == {"before_clinic_opened": 1}


def test_without_as_of_a_far_future_visit_never_becomes_the_audit_date(tmp_path):
    data = _dated(tmp_path, ["05.03.2024", "06.03.2024", "01.01.2099"])
    assert data.as_of == pd.Timestamp("2024-03-06")
    assert data.ledger[0].dropped == {"after_as_of": 1}


def test_without_as_of_and_no_past_visit_the_audit_date_is_today(tmp_path):
    text = "Код;Дата;Статус\nP1;01.01.2099;Запис\nP2;02.01.2099;Виконано\n"
    opts = {
        "columns": {"patient_id": "Код", "date": "Дата", "status": "Статус"},
        "values": {"status": {"Запис": "booked", "Виконано": "completed"}},
    }
    data = load_clinic(make_params(tmp_path, {"v.csv": ("visits", text, opts)}))
    assert data.as_of == pd.Timestamp.today().normalize()
    assert data.ledger[0].dropped == {"after_as_of": 1}  # the "completed" visit in 2099
    assert data.visits["status"].tolist() == ["booked"]


# ----------------------------------------------------------------------------- ids


def test_csv_ids_with_leading_zeros_stay_two_patients(tmp_path):
    text = "Код;Дата;Сума\n00123;05.03.2024;100\n123;06.03.2024;100\n"
    params = make_params(tmp_path, {"v.csv": ("visits", text, {"columns": COLS})})
    data = load_clinic(params)
    assert sorted(data.visits["source_id"]) == ["00123", "123"]
    assert data.visits["patient_id"].nunique() == 2


def test_xlsx_text_ids_keep_leading_zeros_and_number_ids_lose_the_dot_zero(tmp_path):
    path = tmp_path / "v.xlsx"
    frame = pd.DataFrame(
        {
            "Код": ["00123", "123", 456.0, 789],
            "Дата": [dt.datetime(2024, 3, d) for d in (5, 6, 7, 8)],
            "Сума": [100, 200.5, "1 000,50", None],
        }
    )
    frame.to_excel(path, index=False)
    params = Params.model_validate(
        {
            "clinic": {"name": "t", "slug": "t"},
            "sources": [{"system": "mis", "table": "visits", "path": path, "columns": COLS}],
        }
    )
    data = load_clinic(params)
    v = data.visits.sort_values("date")
    assert v["source_id"].tolist() == ["00123", "123", "456", "789"]
    assert v["patient_id"].nunique() == 4
    assert v["amount"].tolist()[:3] == [100.0, 200.5, 1000.5]
    assert pd.isna(v["amount"].tolist()[3])


# ----------------------------------------------------------------------------- mappings


def test_yaml_booleans_are_targets_of_a_boolean_column(tmp_path):
    text = "Код;Згода\nP1;Так\nP2;Ні\nP3;\n"
    opts = {
        "columns": {"patient_id": "Код", "consent": "Згода"},
        "values": {"consent": {"Так": True, "Ні": False}},
    }
    data = load_clinic(make_params(tmp_path, {"p.csv": ("patients", text, opts)}))
    consent = data.patients.set_index("source_id")["consent"]
    assert consent[["P1", "P2"]].tolist() == [True, False] and pd.isna(consent["P3"])


def test_yaml_number_keys_and_targets_map_a_boolean_column(tmp_path):
    text = "Код;Згода\nP1;1\nP2;0\n"
    opts = {
        "columns": {"patient_id": "Код", "consent": "Згода"},
        "values": {"consent": {1: 1, 0: 0}},
    }
    data = load_clinic(make_params(tmp_path, {"p.csv": ("patients", text, opts)}))
    assert data.patients.set_index("source_id")["consent"].to_dict() == {"P1": True, "P2": False}


def test_yes_no_keys_that_yaml_reads_as_booleans_still_match_the_cells(tmp_path):
    import yaml

    # how people write it: PyYAML (YAML 1.1) turns the bare keys Yes and No into booleans
    values = yaml.safe_load("status: {Yes: no_show, No: completed}")
    assert list(values["status"]) == [True, False]
    text = "Код;Дата;Неявка\nP1;05.03.2024;Yes\nP2;06.03.2024;no\nP3;07.03.2024;NO\n"
    opts = {"columns": {"patient_id": "Код", "date": "Дата", "status": "Неявка"}, "values": values}
    data = load_clinic(make_params(tmp_path, {"v.csv": ("visits", text, opts)}))
    status = data.visits.set_index("source_id")["status"].to_dict()
    assert status == {"P1": "no_show", "P2": "completed", "P3": "completed"}


def test_a_csv_id_written_as_a_whole_float_is_the_same_id_but_leading_zeros_stay(tmp_path):
    from clinic_analysis.ingest.load import load_source
    from clinic_analysis.params import Source

    path = tmp_path / "v.csv"
    path.write_text(
        "id;date\n123;01.02.2025\n123.0;02.02.2025\n00123;03.02.2025\n12.5;04.02.2025\n"
    )
    src = Source(
        system="mis", table="visits", path=path, columns={"patient_id": "id", "date": "date"}
    )
    kept, _, _ = load_source(src)
    assert kept["patient_id"].tolist() == ["123", "123", "00123", "12.5"]
