"""`make init`: drafts a params file from export files, every guess commented."""

import json
import re

import pandas as pd
import pytest
import yaml
from babel.numbers import get_currency_symbol

from clinic_analysis.examples.booking import write_booking_export
from clinic_analysis.examples.messy import generate_messy
from clinic_analysis.ingest.init import check_draft, draft_params, write_draft
from clinic_analysis.ingest.init_guess import (
    date_share,
    guess_columns,
    guess_currency,
    guess_language,
    guess_source,
    guess_status,
    guess_table,
)
from clinic_analysis.ingest.readers import sniff_delimiter
from clinic_analysis.params import Params
from clinic_analysis.report.pipeline import build_report
from tests.measures.test_honest import _blocks


def test_guesses_ukrainian_russian_and_english_headers():
    uk = guess_columns(["Код пацієнта", "Дата прийому", "Сума, грн", "Статус", "Лікар"], "visits")
    assert uk == {
        "patient_id": "Код пацієнта",
        "date": "Дата прийому",
        "amount": "Сума, грн",
        "status": "Статус",
        "doctor": "Лікар",
    }
    ru = guess_columns(["ID клиента", "ФИО", "Телефон", "Дата рождения"], "patients")
    assert ru == {
        "patient_id": "ID клиента",
        "full_name": "ФИО",
        "phone": "Телефон",
        "birth_date": "Дата рождения",
    }
    assert guess_columns(["Patient ID", "Appointment ID", "Date"], "visits") == {
        "patient_id": "Patient ID",
        "date": "Date",
        "visit_id": "Appointment ID",
    }
    en = guess_columns(["PATIENT", "START", "BASE_ENCOUNTER_COST", "PROVIDER"], "visits")
    assert en["patient_id"] == "PATIENT" and en["date"] == "START"
    assert en["amount"] == "BASE_ENCOUNTER_COST" and en["doctor"] == "PROVIDER"


def test_guesses_tables_and_status_words():
    assert guess_table(["Код", "ПІБ", "Телефон"], "old_patients") == "patients"
    assert guess_table(["Код пацієнта", "Дата прийому", "Сума"], "visits") == "visits"
    assert guess_status("Не з'явився", "visits") == "no_show"
    assert guess_status("Выполнен", "visits") == "completed"
    assert guess_status("Возврат", "visits") == "refund"
    assert guess_status("щось інше", "visits") is None


def test_draft_of_the_messy_exports_is_valid_params_once_checked(tmp_path):
    generate_messy(tmp_path / "data", n_people=50)
    files = [tmp_path / "data" / "old_patients.csv", tmp_path / "data" / "old_visits.csv"]
    text = draft_params("messy2", files, tmp_path / "params")
    assert "encoding: cp1251" in text and "# guess" in text
    assert '"Не з\'явився": no_show' in text and "FIXME" not in text
    raw = yaml.safe_load(text)
    for s in raw["sources"]:  # the draft's relative paths start at the params folder
        s["path"] = str((tmp_path / "params" / s["path"]).resolve())
    params = Params.model_validate(raw)
    assert [s.table for s in params.sources] == ["patients", "visits"]


# ----------------------------------------------------------------------------- guesses checked


def _csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_column_of_seven_digit_numbers_is_never_a_date(tmp_path):
    assert date_share(pd.Series(["5642903", "5642503", "5630213"])) == 0.0
    assert date_share(pd.Series([5642903, 5642503])) == 0.0  # as XLSX gives them
    assert date_share(pd.Series(["2016-04-29T00:00:00Z", "29.04.2016", "nonsense"])) == 2 / 3
    # "Appointment" is a date header by name, but its values are ids: no date is guessed
    f = _csv(tmp_path / "v.csv", "Appointment,Patient\n5642903,P1\n5642503,P2\n5630213,P3\n")
    g = guess_source(f)
    assert "date" not in g.columns
    text = draft_params("c", [f], tmp_path / "params")
    assert "date: FIXME" in text and "5642903" not in _mapped_headers(text)


def _mapped_headers(text):
    cols = yaml.safe_load(text)["sources"][0]["columns"]
    return {str(v) for v in cols.values()}


def test_a_date_header_whose_values_are_ids_gives_way_to_the_column_of_dates(tmp_path):
    f = _csv(
        tmp_path / "v.csv",
        "Appointment,Patient,When\n5642903,P1,29.04.2016\n5642503,P2,02.05.2016\n",
    )
    assert guess_source(f).columns["date"] == "When"


def test_money_is_guessed_only_where_the_values_are_amounts():
    df = pd.DataFrame(
        {"Patient": ["P1", "P2"], "Paid": ["yes", "no"], "Price": ["1 200,50", "300"]}
    )
    assert guess_columns(list(df.columns), "visits", df)["amount"] == "Price"


def test_attendance_flags_map_with_their_direction():
    assert guess_status("Yes", "visits", "No-show") == "no_show"
    assert guess_status("No", "visits", "No-show") == "completed"
    assert guess_status("1", "visits", "Attended") == "completed"
    assert guess_status("0", "visits", "Attended") == "no_show"
    assert guess_status("Так", "visits", "Прийшов") == "completed"
    assert guess_status("Так", "visits", "Не з'явився") == "no_show"
    assert guess_status("нет", "visits", "Явка") == "no_show"
    assert guess_status("да", "visits", "Неявка") == "no_show"
    assert guess_status("Не прийшов", "visits") == "no_show"  # not "прийшов" = completed
    assert guess_status("Не пришел", "visits") == "no_show"
    assert guess_status("Not attended", "visits") == "no_show"
    assert guess_status("Так", "visits", "Прийшла") == "completed"
    assert guess_status("ні", "visits", "Прийшла") == "no_show"


def test_an_attendance_column_becomes_the_status_only_when_its_values_are_yes_no():
    df = pd.DataFrame(
        {"Patient": ["P1", "P2"], "Явка": ["1", "0"], "Attended by": ["Ivanov", "Li"]}
    )
    assert guess_columns(list(df.columns), "visits", df)["status"] == "Явка"
    df = pd.DataFrame({"Patient": ["P1", "P2"], "Attended by": ["Ivanov", "Li"]})
    assert "status" not in guess_columns(list(df.columns), "visits", df)


def test_language_and_currency_are_guessed_from_the_files():
    assert guess_language(["Код пацієнта", "Сума"])[0] == "uk"
    assert guess_language(["Код пациента", "Сумма"])[0] == "ru"
    assert guess_language(["PatientId", "No-show"])[0] == "en"
    assert guess_currency(["Сума, грн"], "uk")[0] == "UAH"
    assert guess_currency(["R$ 120,00"], "en")[0] == "BRL"
    assert guess_currency(["PatientId"], "en")[0] == "USD"


def test_a_semicolon_file_with_decimal_commas_is_not_read_as_comma_separated(tmp_path):
    # csv.Sniffer may take the comma of "1 970,00" for the separator: every line still
    # splits into two fields, but ";" splits each into four
    sample = "Код;Дата прийому;Сума, грн;Статус\n1000;29.09.2025;1 970,00;Виконано\n" * 3
    assert sniff_delimiter(sample) == ";"
    assert sniff_delimiter("a,b\n1,2\n3,4\n") == ","
    f = _csv(tmp_path / "v.csv", sample.split("\n", 1)[0] + "\n1000;29.09.2025;1 970,00;Так\n")
    g = guess_source(f)
    assert g.options["delimiter"] == ";" and g.options["decimal"] == ","
    assert g.columns["amount"] == "Сума, грн"


def test_each_sheet_of_a_workbook_becomes_a_source(tmp_path):
    f = tmp_path / "mis.xlsx"
    with pd.ExcelWriter(f) as xl:
        pd.DataFrame(
            {"ID клиента": ["N1"], "ФИО": ["Иванов Иван"], "Телефон": ["0671234567"]}
        ).to_excel(xl, sheet_name="Пациенты", index=False)
        pd.DataFrame(
            {
                "ID клиента": ["N1"],
                "Дата визита": ["2024-02-01"],
                "Сумма": [100],
                "Статус": ["Выполнен"],
            }
        ).to_excel(xl, sheet_name="Визиты", index=False)
    raw = yaml.safe_load(draft_params("c", [f], tmp_path / "params"))
    assert [(s["sheet"], s["table"]) for s in raw["sources"]] == [
        ("Пациенты", "patients"),
        ("Визиты", "visits"),
    ]
    assert raw["clinic"]["language"] == "ru"
    assert raw["sources"][1]["values"]["status"] == {"Выполнен": "completed"}


def test_init_says_what_the_draft_loads_and_what_stops_it(tmp_path):
    f = _csv(
        tmp_path / "v.csv",
        "PatientId,AppointmentDay,No-show\n1,2016-04-29T00:00:00Z,No\n"
        "1,2016-05-02T00:00:00Z,Yes\n2,2016-05-03T00:00:00Z,No\n",
    )
    draft = write_draft("c", [f], tmp_path / "params")
    assert check_draft(draft) == [
        "v.csv (visits): 3 of 3 rows kept",
        "2 completed visit rows of 2 patients, 2016-04-29 to 2016-05-03",
    ]
    draft.write_text(draft.read_text(encoding="utf-8").replace('"No": completed', '"No": no_show'))
    assert check_draft(draft)[-1].startswith("no completed visits")
    g = _csv(tmp_path / "w.csv", "Patient,Status\nP1,weird\n")
    draft = write_draft("d", [g], tmp_path / "params")
    assert check_draft(draft)[0].startswith("the draft does not load yet:")


# ----------------------------------------------------------------------------- a booking export


@pytest.fixture(scope="module")
def booking(tmp_path_factory):
    folder = tmp_path_factory.mktemp("booking")
    truth = write_booking_export(folder / "data" / "noshow.csv", seed=7, rows=2000)
    return folder, truth


def test_booking_export_is_deterministic_and_shaped_like_the_public_one(tmp_path, booking):
    _, truth = booking
    again = write_booking_export(tmp_path / "again.csv", seed=7, rows=2000)
    assert again.path.read_bytes() == truth.path.read_bytes()
    df = pd.read_csv(truth.path, dtype=str)
    assert len(df) == truth.rows == 2000
    assert df["AppointmentID"].str.fullmatch(r"\d{7}").all()
    assert df["PatientId"].str.endswith(".0").any()
    assert set(df["No-show"]) == {"Yes", "No"}
    days = pd.to_datetime(df["AppointmentDay"])
    assert (days.max() - days.min()).days <= 42  # six weeks of history
    assert not any(re.search(r"amount|price|name|phone", c, re.I) for c in df.columns)


def test_init_on_a_booking_export_guesses_day_ids_and_no_show(booking):
    _, truth = booking
    g = guess_source(truth.path)
    assert g.table == "visits"
    assert g.columns == {
        "patient_id": "PatientId",
        "date": "AppointmentDay",
        "status": "No-show",
        "visit_id": "AppointmentID",
    }
    assert {v: target for v, (target, _) in g.status.items()} == {
        "No": "completed",
        "Yes": "no_show",
    }
    assert "amount" in g.missing and "doctor" in g.missing


def test_the_draft_marks_every_guess_and_says_what_was_not_found(booking):
    folder, truth = booking
    text = draft_params("booking", [truth.path], folder / "params")
    head = text.split("\nclinic:")[0]
    assert "amount (!)" in head and "not exported" in head and "phone" in head
    for key in ("currency", "language", "table", "system", "encoding", "delimiter"):
        line = next(ln for ln in text.splitlines() if re.match(rf"\s*(- )?{key}:", ln))
        assert "# guess" in line, line
    body = text.split("    columns:")[1].split("report:")[0]
    mappings = [ln for ln in body.splitlines() if re.match(r"\s+\S+: \S", ln)]
    assert len(mappings) == 6  # 4 columns + 2 status values
    assert all("# guess" in ln for ln in mappings)
    assert '"Yes": no_show' in text and '"No": completed' in text and "FIXME" not in text
    raw = yaml.safe_load(text)
    assert raw["sources"][0]["values"]["status"] == {"Yes": "no_show", "No": "completed"}


@pytest.mark.slow
def test_booking_export_goes_from_init_to_a_rendered_report(booking):
    """The acceptance case: init -> the draft as it is -> an HTML report whose base is the
    generator's truth."""
    folder, truth = booking
    params = write_draft("booking", [truth.path], folder / "params")
    assert "FIXME" not in params.read_text(encoding="utf-8")  # nothing to edit
    out = folder / "report"
    build_report(params, out_dir=out, formats=["html"], log=lambda _: None)
    assert (out / "audit.html").stat().st_size > 0
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["base"]["by_rule"]["booked"] == truth.people
    assert m["base"]["patients"] == truth.people_came  # patient_rule: came
    assert m["base"]["visits"] == truth.visits
    # no amounts and six weeks of history: no zero money, no empty heading, no model figure
    assert m["revenue"]["net"] is None and m["revenue"]["visit_days"] == truth.visits
    assert m["models"]["status"] == m["forecast"]["status"] == "too_little_history"
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", (out / "audit.html").read_text())
    text = re.sub(r"<[^>]+>", " ", html).replace("\u00a0", " ")
    symbol = re.escape(get_currency_symbol(m["clinic"]["currency"], locale=m["clinic"]["language"]))
    code = re.escape(m["clinic"]["currency"])
    zero = rf"(?<![\d.,])0\s?({symbol}|{code})|({symbol}|{code})\s?0(?![\d.,])"
    assert not re.search(zero, text), re.search(zero, text)
    blocks = _blocks(html)
    for here, after in zip(blocks, [*blocks[1:], "<end"], strict=True):
        if here in ("<h2", "<h3"):
            assert after not in ("<h3", "<end") and not (here == "<h3" and after == "<h2"), blocks
