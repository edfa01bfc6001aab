"""Identity resolution across systems and duplicate cards."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_analysis.identity import normalize_name, normalize_phone, resolve
from clinic_analysis.load import load_clinic

from .test_load import STATUS, VISIT_COLS, make_params


@pytest.mark.parametrize(
    "raw",
    [
        "067 123 45 67",
        "+38 (067) 123-45-67",
        "80671234567",
        "0671234567",
        "+380671234567",
        "38-067-123-45-67",
    ],
)
def test_ukrainian_phone_habits_are_one_number(raw):
    assert normalize_phone(pd.Series([raw])).iloc[0] == "+380671234567"


@pytest.mark.parametrize("raw", ["12345", "", "не вказано", "000 000 00 00"])
def test_invalid_phones_are_missing(raw):
    assert pd.isna(normalize_phone(pd.Series([raw])).iloc[0])


@given(st.integers(min_value=0, max_value=9_999_999), st.sampled_from(["50", "67", "93", "99"]))
def test_every_format_of_a_mobile_number_agrees(n, op):
    local = f"0{op}{n:07d}"
    forms = [
        local,
        "8" + local,
        "+38" + local,
        f"+38 ({local[:3]}) {local[3:6]}-{local[6:8]}-{local[8:]}",
        f"{local[:3]} {local[3:6]} {local[6:8]} {local[8:]}",
    ]
    out = normalize_phone(pd.Series(forms))
    assert out.nunique() == 1 and out.iloc[0] == "+380" + local[1:]


def test_names_fold_case_spaces_and_apostrophes():
    out = normalize_name(
        pd.Series(["Ковальчук  Мар’яна", "КОВАЛЬЧУК мар'яна", "ковальчук марʼяна "])
    )
    assert out.nunique() == 1


def test_resolve_by_phone_and_by_name_plus_birth_date():
    cards = pd.DataFrame(
        {
            "patient_id": ["old:1", "new:A", "old:2", "new:B", "new:C", "old:3"],
            "phone": ["067 123 45 67", "+380671234567", None, None, None, "0931112233"],
            "full_name": [
                "Іваненко Марія",
                "Іваненко М.",
                "Петренко Олег",
                "петренко  олег",
                "Петренко Олег",
                "Сидоренко Ніна",
            ],
            "birth_date": pd.to_datetime(
                ["1990-01-01", None, "1985-05-05", "1985-05-05", "1986-06-06", None]
            ),
        }
    )
    out = resolve(cards).set_index(cards["patient_id"])
    assert out.loc["old:1", "person_id"] == out.loc["new:A", "person_id"] == "new:A"
    assert out.loc["old:2", "person_id"] == out.loc["new:B", "person_id"]
    assert out.loc["new:C", "person_id"] == "new:C"  # same name, other birth date
    assert out.loc["old:3", "person_id"] == "old:3"
    assert out.loc["old:1", "match"] == "phone"
    assert out.loc["old:2", "match"] == "name_birth_date"


def test_two_systems_merge_into_one_person_and_the_ledger_says_so(tmp_path):
    old_p = "Код;ПІБ;Телефон\n1;Іваненко Марія;067 123 45 67\n2;Петренко Олег;\n"
    new_p = "id,name,phone\nA,Іваненко Марія,+38 (067) 123-45-67\nB,Сидоренко Ніна,0931112233\n"
    old_v = "Код;Дата;Сума;Статус\n1;01.02.2024;100;Виконано\n2;01.03.2024;200;Виконано\n"
    new_v = "id,date,sum\nA,2024-04-01,300\nB,2024-04-02,400\n"
    params = make_params(
        tmp_path,
        {
            "op.csv": (
                "patients",
                old_p,
                {
                    "system": "old",
                    "columns": {"patient_id": "Код", "full_name": "ПІБ", "phone": "Телефон"},
                },
            ),
            "np.csv": (
                "patients",
                new_p,
                {
                    "system": "new",
                    "columns": {"patient_id": "id", "full_name": "name", "phone": "phone"},
                },
            ),
            "ov.csv": ("visits", old_v, {"system": "old", "columns": VISIT_COLS, "values": STATUS}),
            "nv.csv": (
                "visits",
                new_v,
                {"system": "new", "columns": {"patient_id": "id", "date": "date", "amount": "sum"}},
            ),
        },
    )
    data = load_clinic(params)
    assert len(data.patients) == 3
    maria = data.patients[data.patients["source_ids"].map(len) == 2].iloc[0]
    assert sorted(maria["source_ids"]) == ["new:A", "old:1"]
    assert maria["phone_e164"] == "+380671234567"
    assert set(data.visits.loc[data.visits["patient_id"] == maria["patient_id"], "amount"]) == {
        100,
        300,
    }
    merged = {(e.system, e.table): e.merged for e in data.ledger}
    assert merged[("old", "patients")] + merged[("new", "patients")] == 1
    assert merged[("old", "visits")] + merged[("new", "visits")] == 1
    assert all(e.balanced for e in data.ledger)
