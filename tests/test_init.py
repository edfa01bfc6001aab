"""`make init`: drafts a params file from export files, every guess commented."""

import yaml

from clinic_analysis.init import draft_params, guess_columns, guess_status, guess_table
from clinic_analysis.messy import generate_messy
from clinic_analysis.params import Params


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
