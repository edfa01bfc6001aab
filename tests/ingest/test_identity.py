"""Identity resolution across systems and duplicate cards."""

import re

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_analysis.ingest.identity import (
    _tokens,
    name_words,
    normalize_name,
    normalize_phone,
    resolve,
    summary,
    valid_national_numbers,
)
from clinic_analysis.ingest.load import load_clinic
from clinic_analysis.params import Identity
from tests.ingest.test_load import STATUS, VISIT_COLS, make_params


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


@settings(deadline=None)  # nothing timed: a busy machine takes a case past the default 200 ms
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


def test_a_number_spaced_differently_is_parsed_once(monkeypatch):
    from clinic_analysis.ingest import identity

    parsed = []
    real = identity._one_phone
    monkeypatch.setattr(
        identity, "_one_phone", lambda raw, region: parsed.append(raw) or real(raw, region)
    )
    out = normalize_phone(
        pd.Series(["+48 22 123 45 67", "+48-22-123-45-67", "(+48) 22.123.45.67", "+48221234567"])
    )
    assert out.tolist() == ["+48221234567"] * 4
    assert parsed == ["+48221234567"]


def test_plain_ukrainian_numbers_are_decided_without_parsing_one_by_one(monkeypatch):
    from clinic_analysis.ingest import identity

    parsed = []
    real = identity._one_phone
    monkeypatch.setattr(
        identity, "_one_phone", lambda raw, region: parsed.append(raw) or real(raw, region)
    )
    out = normalize_phone(pd.Series(["067 123 45 67", "80671234567", "+380 10 123 45 67"]))
    assert out.iloc[:2].tolist() == ["+380671234567"] * 2 and pd.isna(out.iloc[2])
    assert parsed == []


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+380 10 123 45 67", None),  # +380 and 9 digits, but no Ukrainian number starts 10
        ("0101234567", None),
        ("067\t123 45 67", None),  # a tab is not spacing phonenumbers skips
        ("067 123 45 67 доб. 12", "+380671234567"),  # text: parsed as written
        ("0 (800) 50 10 10", "+380800501010"),  # toll-free
    ],
)
def test_phones_outside_the_plain_shapes_follow_phonenumbers(raw, e164):
    out = normalize_phone(pd.Series([raw])).iloc[0]
    assert (pd.isna(out) and e164 is None) or out == e164


@pytest.mark.parametrize(
    ("region", "national", "valid"),
    [
        ("UA", "671234567", True),  # mobile
        ("UA", "442223344", True),  # Kyiv landline
        ("UA", "800501010", True),  # toll free
        ("UA", "101234567", False),  # no Ukrainian number starts 10
        ("UA", "67123456", False),  # a digit short
        ("UA", "6712345678", False),  # a digit long
        ("UA", "6", False),
        ("PL", "221234567", True),
        ("PL", "22123456", False),
        ("US", "2125550123", True),
        ("US", "1125550123", False),  # no area code starts 1
        ("GB", "2071234567", True),
        ("GB", "207123456", False),
    ],
)
def test_national_number_validity_is_phonenumbers_own(region, national, valid):
    number = phonenumbers.PhoneNumber(
        country_code=phonenumbers.country_code_for_region(region), national_number=int(national)
    )
    assert phonenumbers.is_valid_number_for_region(number, region) is valid
    assert valid_national_numbers([national], region).tolist() == [valid]


@given(
    st.sampled_from(["UA", "PL", "DE", "GB", "US", "IT", "KZ", "MD"]),
    st.lists(st.from_regex(r"[1-9][0-9]{0,13}", fullmatch=True), min_size=1, max_size=30),
)
def test_national_number_validity_agrees_with_phonenumbers_on_any_digits(region, nationals):
    code = phonenumbers.country_code_for_region(region)
    library = [
        phonenumbers.is_valid_number_for_region(
            phonenumbers.PhoneNumber(country_code=code, national_number=int(n)), region
        )
        for n in nationals
    ]
    assert valid_national_numbers(nationals, region).tolist() == library


@given(st.from_regex(r"[1-9][0-9]{8}", fullmatch=True))
def test_plus_380_and_nine_digits_is_what_phonenumbers_parses(national):
    parsed = phonenumbers.parse("+380" + national, "UA")
    built = phonenumbers.PhoneNumber(country_code=380, national_number=int(national))
    assert (parsed.country_code, parsed.national_number) == (380, int(national))
    assert phonenumbers.is_valid_number(parsed) == phonenumbers.is_valid_number(built)


SPACING = re.compile("[ \u00a0\\-().]")
WRITTEN_PHONE = st.builds(
    lambda prefix, digits, marks: _insert(prefix + digits, marks),
    st.sampled_from(["", "+", "0", "8", "80", "38", "380", "+38", "+380", "00380", "+48", "+1"]),
    st.from_regex(r"[0-9]{0,12}", fullmatch=True),
    st.lists(
        st.tuples(
            st.integers(0, 20), st.sampled_from([" ", "-", "(", ")", ".", "\u00a0", "\t", "x"])
        ),
        max_size=4,
    ),
)


def _insert(text: str, marks) -> str:
    for at, mark in marks:
        text = text[:at] + mark + text[at:]
    return text


@given(st.sampled_from(["UA", "PL", "US"]), st.lists(WRITTEN_PHONE, min_size=1, max_size=20))
def test_phones_decided_together_agree_with_the_library_one_by_one(region, written):
    from clinic_analysis.ingest.identity import _one_phone

    def one_by_one(raw):
        bare = SPACING.sub("", raw)
        return _one_phone(bare if re.fullmatch(r"\+?[0-9]+", bare) else raw, region)

    expected = [one_by_one(w) for w in written]
    got = normalize_phone(pd.Series(written, dtype=object), region).tolist()
    assert [None if pd.isna(g) else g for g in got] == expected


def test_name_words_are_sorted_whatever_their_order_and_initials():
    names = ["коваль марія", "марія коваль", "м.в. коваль", "коваль,марія", "-", None]
    assert name_words(np.array(names, dtype=object)).tolist() == [
        "коваль марія",
        "коваль марія",
        "в коваль м",
        "коваль марія",
        None,
        None,
    ]


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet="аБzЁ.,-' \u00a0\t\u2003ʼ", max_size=12),
        ),
        max_size=20,
    )
)
def test_name_words_agree_with_the_words_of_each_name_one_by_one(names):
    expected = [" ".join(sorted(w)) if (w := _tokens(n)) else None for n in names]
    assert name_words(np.array(names, dtype=object)).tolist() == expected


def test_names_fold_case_spaces_and_apostrophes():
    out = normalize_name(
        pd.Series(["Ковальчук  Мар’яна", "КОВАЛЬЧУК мар'яна", "ковальчук марʼяна "])
    )
    assert out.nunique() == 1
    assert normalize_name(pd.Series(["Семёнова Алёна", "СЕМЕНОВА алена"])).nunique() == 1


MOBILE = "067 123 45 67"
LANDLINE = "044 222 33 44"


def _cards(rows, columns=("full_name", "phone", "birth_date")):
    """A card table from ``(key, *values)`` rows; birth dates as ISO text or None."""
    df = pd.DataFrame(rows, columns=["patient_id", *columns])
    if "birth_date" in df:
        df["birth_date"] = pd.to_datetime(df["birth_date"])
    return df


def _people(cards, **rules) -> int:
    return resolve(cards, rules=Identity(**rules))["person_id"].nunique()


def test_mother_and_daughter_on_one_mobile_are_two_people():
    cards = _cards(
        [
            ("c:1", "Іваненко Олена", MOBILE, "1978-03-02"),
            ("c:2", "Іваненко Софія", "+38 (067) 123-45-67", "2012-09-14"),
        ]
    )
    out = resolve(cards)
    assert out["person_id"].tolist() == ["c:1", "c:2"]
    s = summary(out)
    assert s["phones_shared_by_family"] == 1 and s["people_on_family_phones"] == 2
    assert s["merged_cards"] == 0 and s["shared_lines"] == 0


LANDLINE_NAMES = ("Коваль Петро", "Мельник Ірина", "Бондар Тарас")


def test_three_patients_on_the_clinic_landline_are_three_people_and_a_shared_line():
    cards = _cards(
        [
            ("c:1", "Коваль Петро", LANDLINE, None),
            ("c:2", "Мельник Ірина", LANDLINE, None),
            ("c:3", "Бондар Тарас", "(044) 222-33-44", None),
        ]
    )
    out = resolve(cards)
    assert out["person_id"].nunique() == 3
    s = summary(out)
    assert (s["shared_lines"], s["cards_on_shared_lines"]) == (1, 3)
    assert s["phones_shared_by_family"] == 0


def test_same_full_name_and_birth_date_with_the_phone_in_two_formats_is_one_person():
    cards = _cards(
        [
            ("c:1", "Ткаченко Андрій", "067 123 45 67", "1990-01-01"),
            ("c:2", "ТКАЧЕНКО  андрій", "+38 (067) 123-45-67", "1990-01-01"),
        ]
    )
    out = resolve(cards)
    assert out["person_id"].tolist() == ["c:1", "c:1"]
    assert summary(out)["merges_by_rule"] == {"name_birth_date": 0, "phone_and_name": 1}


def test_same_full_name_and_birth_date_join_whatever_the_phones():
    cards = _cards(
        [
            ("c:1", "Ткаченко Андрій", "067 123 45 67", "1990-01-01"),
            ("c:2", "Ткаченко Андрій", "093 765 43 21", "1990-01-01"),
            ("c:3", "Ткаченко Андрій", None, "1990-01-01"),
        ]
    )
    out = resolve(cards)
    assert out["person_id"].nunique() == 1
    assert summary(out)["merges_by_rule"] == {"name_birth_date": 2, "phone_and_name": 0}


def test_same_name_and_phone_with_conflicting_birth_dates_are_two_people():
    # a father and a son of the same name on the father's phone
    cards = _cards(
        [
            ("c:1", "Шевчук Олег", MOBILE, "1970-05-05"),
            ("c:2", "Шевчук Олег", MOBILE, "2001-11-30"),
        ]
    )
    assert _people(cards) == 2


def test_a_missing_birth_date_or_patronymic_does_not_keep_a_duplicate_apart():
    cards = _cards(
        [
            ("c:1", "Шевчук Олег Іванович", MOBILE, "1970-05-05"),
            ("c:2", "шевчук олег", "80671234567", None),
            ("c:3", "Олег Шевчук", "0671234567", None),  # first name first
        ]
    )
    assert _people(cards) == 1


@pytest.mark.parametrize(
    "middle",
    [
        ("c:2", "Іваненко М.", MOBILE, None),  # fits Марія and Микола
        ("c:2", "Іваненко", MOBILE, None),  # a surname only fits both
    ],
)
def test_a_card_that_fits_two_people_on_a_phone_chains_nobody(middle):
    cards = _cards(
        [
            ("c:1", "Іваненко Марія", MOBILE, "1980-01-01"),
            middle,
            ("c:3", "Іваненко Микола", MOBILE, "1979-02-02"),
        ]
    )
    out = resolve(cards)
    assert out["person_id"].tolist() == ["c:1", "c:2", "c:3"]
    assert summary(out)["ambiguous_cards"] == 1


def test_a_card_without_birth_date_between_two_birth_dates_chains_nobody():
    cards = _cards(
        [
            ("c:1", "Іваненко Марія", MOBILE, "1960-01-01"),
            ("c:2", "Іваненко Марія", MOBILE, None),
            ("c:3", "Іваненко Марія", MOBILE, "1990-06-06"),
        ]
    )
    assert resolve(cards)["person_id"].tolist() == ["c:1", "c:2", "c:3"]


def test_a_person_with_two_phones_does_not_join_the_people_on_either():
    # Олег's two cards are one person (same name and birth date); Марія shares his first
    # phone, Ніна his second: a phone chain Марія ~ Олег ~ Ніна joins nobody to anybody
    cards = _cards(
        [
            ("c:1", "Іваненко Марія", MOBILE, None),
            ("c:2", "Петренко Олег", MOBILE, "1985-05-05"),
            ("c:3", "Петренко Олег", "093 111 22 33", "1985-05-05"),
            ("c:4", "Сидоренко Ніна", "093 111 22 33", None),
        ]
    )
    assert resolve(cards)["person_id"].tolist() == ["c:1", "c:2", "c:2", "c:4"]


def test_a_cross_system_duplicate_joins_under_the_smallest_source_key():
    cards = _cards(
        [
            ("old:7", "Семёнова Алёна", None, "1985-05-05"),
            ("new:B", "СЕМЕНОВА  алена", "0501234567", "1985-05-05"),
            ("old:8", "Кравець Ганна", "050 765 43 21", None),
            ("new:C", "Кравець Ганна", "+380507654321", None),
        ]
    )
    out = resolve(cards)
    assert out["person_id"].tolist() == ["new:B", "new:B", "new:C", "new:C"]


def test_last_and_first_name_columns_are_a_name():
    cards = _cards(
        [
            ("a:1", "Лисенко", "Ірина", MOBILE, None),
            ("a:2", "Лисенко", "Дарина", MOBILE, None),
            ("a:3", "ЛИСЕНКО", "ірина", MOBILE, None),
        ],
        columns=("last_name", "first_name", "phone", "birth_date"),
    )
    assert resolve(cards)["person_id"].tolist() == ["a:1", "a:2", "a:1"]


FAMILY = [
    ("c:1", "Іваненко Олена", MOBILE, "1978-03-02"),
    ("c:2", "Іваненко Софія", MOBILE, "2012-09-14"),
]


def test_require_name_match_off_joins_a_family_phone_as_one_person():
    assert _people(_cards(FAMILY), require_name_match=False) == 1


def test_match_on_phone_off_keeps_a_same_name_duplicate_without_birth_date_apart():
    cards = _cards([("c:1", "Коваль Петро", MOBILE, None), ("c:2", "Коваль Петро", MOBILE, None)])
    assert _people(cards) == 1
    assert _people(cards, match_on_phone=False) == 2


def test_shared_phone_min_people_decides_what_is_a_shared_line():
    cards = _cards([*FAMILY, ("c:3", "Іваненко Олена", MOBILE, None)])  # Олена twice
    assert _people(cards) == 2
    assert _people(cards, shared_phone_min_people=2) == 3  # the phone joins nothing
    out = resolve(cards, rules=Identity(shared_phone_min_people=2))
    assert summary(out)["shared_lines"] == 1


def test_phone_figures_are_null_when_phones_were_not_exported():
    cards = _cards([("c:1", "Коваль Петро", None, "1990-01-01")])
    s = summary(resolve(cards), phones_exported=False)
    assert s["shared_lines"] is None and s["phones_shared_by_family"] is None
    assert s["people"] == 1 and s["merged_cards"] == 0


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
    assert out.loc["old:1", "match"] == "phone_and_name"
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


def test_a_shared_line_is_listed_even_when_phones_join_nothing():
    cards = _cards([(f"c:{i}", name, LANDLINE, None) for i, name in enumerate(LANDLINE_NAMES)])
    out = resolve(cards, rules=Identity(match_on_phone=False))
    assert out["person_id"].nunique() == 3 and summary(out)["shared_lines"] == 1


def test_a_call_centre_number_on_many_cards_joins_nothing_and_is_one_shared_line():
    # 600 cards of 300 people (each twice) on one number: no join through it
    names = [f"Прізвище{i} Ім'я{i}" for i in range(300)] * 2
    cards = _cards([(f"c:{i:04d}", n, LANDLINE, None) for i, n in enumerate(names)])
    out = resolve(cards)
    assert out["person_id"].nunique() == 600
    s = summary(out)
    assert (s["shared_lines"], s["cards_on_shared_lines"]) == (1, 600)
