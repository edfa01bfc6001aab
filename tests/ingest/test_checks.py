"""Anomalies and suspicious data are counted and said, never a crash."""

import pytest

from clinic_analysis.ingest import checks
from clinic_analysis.ingest.load import load_clinic
from tests.ingest.test_load import STATUS, VISIT_COLS, _visits_params, make_params


def test_anomalies_on_the_tiny_clinic(tmp_path):
    data = load_clinic(_visits_params(tmp_path))
    a = checks.anomalies(data)
    assert a["future_bookings"] == 1
    assert a["zero_amount_visits"] == 1
    assert a["refunds"] == 1 and a["refunds_amount"] == 200
    assert a["negative_amount_visits"] == 0


def test_scientific_ids_swapped_dates_and_collisions_are_warned(tmp_path):
    old_v = (
        "Код;Дата;Сума;Статус\n"
        "2.98725E+13;01.02.2024;100;Виконано\n"
        "7;12.31.2023;100;Виконано\n"
        "7;11.30.2023;100;Виконано\n"
        "7;05.03.2024;100;Виконано\n"
    )
    new_p = "id,name,phone\n7,Петренко Олег,0931112233\n"
    old_p = "Код;ПІБ;Телефон\n7;Іваненко Марія;0671234567\n"
    params = make_params(
        tmp_path,
        {
            "ov.csv": ("visits", old_v, {"system": "old", "columns": VISIT_COLS, "values": STATUS}),
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
        },
    )
    data = load_clinic(params)
    w = checks.warnings(data)
    assert w["scientific_ids"] == 1
    assert w["day_month_swapped"] == 2  # 12.31.2023 and 11.30.2023 (dropped as bad dates)
    assert w["id_collisions"] == 1  # id 7 is Марія in the old system and Олег in the new
    assert data.ledger[0].dropped == {"unparseable_date": 2}


def test_merges_count_people_made_of_several_records(tmp_path):
    p1 = "Код;ПІБ;Телефон\n1;Іваненко Марія;067 123 45 67\n2;Іваненко Марія;0671234567\n"
    params = make_params(
        tmp_path,
        {
            "p.csv": (
                "patients",
                p1,
                {"columns": {"patient_id": "Код", "full_name": "ПІБ", "phone": "Телефон"}},
            )
        },
    )
    m = checks.merges(load_clinic(params))
    assert m == {
        "persons": 1,
        "source_records": 2,
        "merged_persons": 1,
        "across_systems": 0,
        "within_a_system": 1,
    }


def test_every_anomaly_and_warning_has_a_label_in_every_language():
    from clinic_analysis.i18n import LANGUAGES, load_catalog

    anomaly_keys = [
        "future_bookings",
        "zero_amount_visits",
        "missing_amount_visits",
        "negative_amount_visits",
        "refunds",
        "refunds_amount",
        "visits_before_card",
        "patients_without_card",
    ]
    warning_keys = [
        "scientific_ids",
        "day_month_swapped",
        "id_collisions",
        "unparseable_amount",
        "ambiguous_amounts",
        "unparseable_amount_total",
        "unparseable_amount_paid",
        "unparseable_birth_date",
        "unparseable_created_at",
    ]
    for lang in LANGUAGES:
        cat = load_catalog(lang)
        for k in anomaly_keys:
            assert f"quality.anomaly.{k}" in cat
        for k in warning_keys:
            assert f"quality.warn.{k}" in cat
        for t in ("visits", "patients", "plans"):
            assert f"quality.missing.{t}" in cat


CARDS = (
    "Код;ПІБ;Телефон;Дата народження\n"
    "1;Іваненко Олена;067 123 45 67;02.03.1978\n"  # mother and daughter on one mobile
    "2;Іваненко Софія;+38 (067) 123-45-67;14.09.2012\n"
    "3;Коваль Петро;044 222 33 44;\n"  # three people on the clinic's landline
    "4;Мельник Ірина;(044) 222-33-44;\n"
    "5;Бондар Тарас;0442223344;\n"
    "6;Ткаченко Андрій;093 111 22 33;01.01.1990\n"  # a duplicate card, phone in two formats
    "7;ТКАЧЕНКО андрій;+380931112233;01.01.1990\n"
    "8;Шевчук Олег;;05.05.1970\n"  # a duplicate card without a phone
    "9;Шевчук Олег;;05.05.1970\n"
)


def _identity_params(tmp_path, cards=CARDS, columns=None, **extra):
    columns = columns or {
        "patient_id": "Код",
        "full_name": "ПІБ",
        "phone": "Телефон",
        "birth_date": "Дата народження",
    }
    return make_params(tmp_path, {"p.csv": ("patients", cards, {"columns": columns})}, **extra)


def test_identity_counts_merges_family_phones_and_shared_lines(tmp_path):
    data = load_clinic(_identity_params(tmp_path))
    assert len(data.patients) == 7  # 9 cards: two duplicates joined, nobody else
    assert checks.identity(data) == {
        "cards": 9,
        "people": 7,
        "merged_cards": 2,
        "merges_by_rule": {"name_birth_date": 1, "phone_and_name": 1},
        "phones_shared_by_family": 1,
        "people_on_family_phones": 2,
        "shared_lines": 1,
        "cards_on_shared_lines": 3,
        "ambiguous_cards": 0,
        "merged_by_phone": 1,  # the duplicate with the same phone and name
    }


def test_identity_rules_come_from_params(tmp_path):
    params = _identity_params(tmp_path, identity={"require_name_match": False})
    data = load_clinic(params)
    # the mother and the daughter become one; the landline still joins nobody
    assert len(data.patients) == 6
    assert checks.identity(data)["merges_by_rule"]["phone_only"] == 2
    assert checks.identity(data)["merged_by_phone"] == 2  # names need not match: phone alone


def test_identity_phone_figures_are_null_without_a_phone_column(tmp_path):
    columns = {"patient_id": "Код", "full_name": "ПІБ", "birth_date": "Дата народження"}
    ident = checks.identity(load_clinic(_identity_params(tmp_path, columns=columns)))
    assert ident["shared_lines"] is None and ident["phones_shared_by_family"] is None
    assert ident["merged_cards"] == 2  # Ткаченко and Шевчук by name and birth date


@pytest.mark.parametrize("language", ["uk", "ru", "en"])
def test_merges_note_gives_counts_and_no_contacts(tmp_path, language):
    from types import SimpleNamespace

    from clinic_analysis.report import views as V

    params = _identity_params(tmp_path, clinic={"language": language})
    data = load_clinic(params)
    metrics = {"data_quality": {"merges": checks.merges(data), "identity": checks.identity(data)}}
    quality = SimpleNamespace(**metrics["data_quality"])
    text = V.merges_note(V.Context(SimpleNamespace(params=params, data_quality=quality))).data
    for fragment in ("067", "044", "093", "123", "222", "Іваненко", "Коваль", "Ткаченко"):
        assert fragment not in text
    if language == "en":
        assert "same person: 2 (1 by a shared phone and the same name, 1 by the same full" in text
        assert "for example): 1, carrying 2 people" in text
        assert "call centre): 1, on 3 cards" in text
    assert "identity.match_on_phone" not in text


def test_merges_note_says_when_no_phone_is_shared(tmp_path):
    from types import SimpleNamespace

    from clinic_analysis.report import views as V

    cards = "Код;ПІБ;Телефон;Дата народження\n1;Коваль Петро;067 123 45 67;\n"
    params = _identity_params(tmp_path, cards=cards, clinic={"language": "en"})
    data = load_clinic(params)
    metrics = {"data_quality": {"merges": checks.merges(data), "identity": checks.identity(data)}}
    quality = SimpleNamespace(**metrics["data_quality"])
    text = V.merges_note(V.Context(SimpleNamespace(params=params, data_quality=quality))).data
    assert "No phone is on the cards of several different people." in text
    assert "Cards joined" not in text


def test_row_totals_add_up_the_ledger_of_every_file(tmp_path):
    data = load_clinic(_identity_params(tmp_path))
    totals = checks.row_totals(data)
    assert totals["files"] == len(data.ledger)
    assert totals["rows_in"] == sum(e.rows_in for e in data.ledger)
    assert totals["rows_in"] - totals["rows_kept"] == totals["rows_not_kept"]
    assert totals["systems"] == 1
