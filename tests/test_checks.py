"""Anomalies and suspicious data are counted and said, never a crash."""

from clinic_analysis import checks
from clinic_analysis.load import load_clinic

from .test_load import STATUS, VISIT_COLS, _visits_params, make_params


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
