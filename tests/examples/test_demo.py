"""The demo clinic generator: deterministic, shaped like a real export, with known truth;
and the audit finds that truth."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import betaln, gammaln, hyp2f1

from clinic_analysis.examples.demo import (
    PATIENT_COLUMNS,
    PLAN_COLUMNS,
    VISIT_COLUMNS,
    DemoSpec,
    audit_truth,
    generate_demo,
    load_truth,
    load_truth_patients,
    simulate_bgnbd,
    simulate_mbgnbd,
)
from clinic_analysis.examples.demo_spec import LANDLINES, SERVICES, SURNAMES

SPEC = DemoSpec(n_patients=1500)
AS_OF = pd.Timestamp(SPEC.as_of)
FILES = ("visits.csv", "patients.csv", "plans.xlsx", "truth.json", "truth_patients.parquet")
STATUSES = {"Виконано", "Не з'явився", "Скасовано", "Запис", "Повернення"}
MOBILE = {"50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo(out, SPEC)


def person_of(truth_patients: pd.DataFrame) -> dict[str, str]:
    """Card code -> the person's (first) card code, from the generator's truth."""
    second = truth_patients[truth_patients["duplicate_card"] != ""]
    return {
        **dict(zip(truth_patients["patient"], truth_patients["patient"], strict=True)),
        **dict(zip(second["duplicate_card"], second["patient"], strict=True)),
    }


@pytest.fixture(scope="module")
def visits(demo):
    """visits.csv parsed independently of the package's loader, with the true person."""
    out, truth = demo
    v = pd.read_csv(
        out / "visits.csv", sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False
    )
    v["when"] = pd.to_datetime(v["Дата прийому"], format="%d.%m.%Y %H:%M")
    v["day"] = v["when"].dt.normalize()
    v["amount"] = pd.to_numeric(
        v["Сума, грн"].str.replace(" ", "", regex=False).str.replace(",", ".", regex=False)
    )
    v["person"] = v["Код пацієнта"].map(person_of(truth.patients))
    assert v["person"].notna().all()
    # a visit is a completed row that is no refund (a negative amount is a refund)
    v["is_visit"] = (v["Статус"] == "Виконано") & (v["amount"] >= 0)
    return v


@pytest.fixture(scope="module")
def cards(demo):
    out, _ = demo
    return pd.read_csv(
        out / "patients.csv", sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False
    )


@pytest.fixture(scope="module")
def plans(demo):
    out, _ = demo
    return pd.read_excel(out / "plans.xlsx", sheet_name="Плани", engine="openpyxl")


# ----------------------------------------------------------------------------- determinism


def test_same_spec_gives_byte_identical_files(demo, tmp_path):
    out, _ = demo
    generate_demo(tmp_path, SPEC)
    for name in FILES:
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_another_seed_gives_other_data(demo, tmp_path):
    out, _ = demo
    generate_demo(tmp_path, DemoSpec(n_patients=SPEC.n_patients, seed=1))
    for name in ("visits.csv", "patients.csv", "plans.xlsx"):
        assert (out / name).read_bytes() != (tmp_path / name).read_bytes(), name


def test_generation_leaves_the_global_random_state_alone(tmp_path):
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    generate_demo(tmp_path, DemoSpec(n_patients=50))
    assert (np.random.get_state()[1] == before).all()


def test_invalid_spec_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no_show_only_share"):
        generate_demo(tmp_path, DemoSpec(n_patients=10, no_show_only_share=1.5))
    with pytest.raises(ValueError, match="q must be > 1"):
        generate_demo(tmp_path, DemoSpec(n_patients=10, q=1.0))


# ----------------------------------------------------------------------------- file formats


def test_csvs_have_a_bom_semicolons_and_the_headers_in_order(demo):
    out, _ = demo
    for name, columns in (("visits.csv", VISIT_COLUMNS), ("patients.csv", PATIENT_COLUMNS)):
        raw = (out / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name
        lines = raw.decode("utf-8-sig").split("\n")
        assert lines[0].split(";") == list(columns), name
        assert all(line.count(";") == len(columns) - 1 for line in lines if line), name
    assert VISIT_COLUMNS == (
        "№ прийому", "Код пацієнта", "Дата прийому", "Лікар", "Послуга", "Напрям",
        "Сума, грн", "Статус", "Філія",
    )  # fmt: skip


def test_amounts_use_a_decimal_comma_and_space_thousands(demo, visits):
    out, _ = demo
    filled = visits.loc[visits["Сума, грн"] != "", "Сума, грн"]
    assert filled.str.fullmatch(r"-?\d{1,3}( \d{3})*,\d\d").all()
    assert filled.str.startswith("-").any()  # refunds written as negative amounts
    assert (filled.str.len() > 8).any()  # some amounts have a thousands separator
    parsed = pd.read_csv(
        out / "visits.csv", sep=";", encoding="utf-8-sig", decimal=",", thousands=" "
    )["Сума, грн"]
    assert pd.api.types.is_float_dtype(parsed)
    np.testing.assert_array_equal(parsed.to_numpy(), visits["amount"].to_numpy())


def test_dates_are_written_day_first(visits, cards):
    assert visits["Дата прийому"].str.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d").all()
    for col in ("Дата народження", "Дата створення картки"):
        filled = cards.loc[cards[col] != "", col]
        assert filled.str.fullmatch(r"\d\d\.\d\d\.\d{4}").all(), col
        pd.to_datetime(filled, format="%d.%m.%Y")  # parses


def test_plans_sheet_has_real_dates_and_numbers(demo):
    from openpyxl import load_workbook

    out, _ = demo
    wb = load_workbook(out / "plans.xlsx")
    assert wb.sheetnames == ["Плани"]
    ws = wb["Плани"]
    rows = list(ws.iter_rows(values_only=False))
    assert [c.value for c in rows[0]] == list(PLAN_COLUMNS)
    for row in rows[1:]:
        assert row[2].is_date
        assert isinstance(row[3].value, int | float) and isinstance(row[4].value, int | float)


def test_status_words_and_services_are_the_mis_vocabulary(visits):
    assert set(visits["Статус"]) == STATUSES
    assert set(visits["Філія"]) == {"Центр", "Оболонь"}
    assert visits["Лікар"].nunique() == 8
    catalogue = pd.DataFrame(SERVICES, columns=["line", "service", "lo", "hi", "w"])
    per_line = catalogue.groupby("line")["service"].nunique()
    assert set(per_line.index) == {
        "Терапія", "Гігієна", "Ортопедія", "Імплантологія", "Ортодонтія", "Хірургія",
        "Діагностика",
    }  # fmt: skip
    assert per_line.between(2, 4).all()
    assert set(visits["Напрям"]) == set(per_line.index)
    pairs = set(zip(catalogue["line"], catalogue["service"], strict=True))
    assert set(zip(visits["Напрям"], visits["Послуга"], strict=True)) <= pairs
    assert visits["№ прийому"].str.fullmatch(r"V\d{7}").all()
    assert visits["№ прийому"].is_unique


def test_rows_are_sorted_by_date_then_id(visits):
    assert visits["when"].is_monotonic_increasing
    assert visits["№ прийому"].is_monotonic_increasing


# ----------------------------------------------------------------------------- counts


def test_counts_agree_with_the_files(demo, visits, cards, plans):
    out, truth = demo
    c = truth.counts
    st = visits["Статус"]
    done = visits[visits["is_visit"] & (visits["day"] <= AS_OF)]
    statuses = visits.groupby("person")["Статус"].agg(set)
    plan_people = plans["Код пацієнта"].map(person_of(truth.patients))
    expected = {
        "visits_rows": len(visits),
        "patients_rows": len(cards),
        "plans_rows": len(plans),
        "visits_completed": (st == "Виконано").sum(),
        "visits_no_show": (st == "Не з'явився").sum(),
        "visits_cancelled": (st == "Скасовано").sum(),
        "visits_booked": (st == "Запис").sum(),
        "visits_refund": (st == "Повернення").sum(),
        "plans_proposed": (plans["Статус плану"] == "Запропоновано").sum(),
        "plans_accepted": (plans["Статус плану"] == "Прийнято").sum(),
        "plans_completed": (plans["Статус плану"] == "Завершено").sum(),
        "plans_refused": (plans["Статус плану"] == "Відмова").sum(),
        "n_cards": cards["Код пацієнта"].nunique(),
        "n_patients_booked": visits["person"].nunique(),
        "n_patients_came": done["person"].nunique(),
        "n_patients_paid": done.loc[done["amount"] > 0, "person"].nunique(),
        "n_no_show_only": statuses.map(lambda s: s <= {"Не з'явився", "Скасовано"}).sum(),
        "n_card_only": len(set(cards["Код пацієнта"].map(person_of(truth.patients)))
                           - set(visits["person"])),
        "n_future_bookings": (visits["day"] > AS_OF).sum(),
        "n_refunds": (st == "Повернення").sum() + (visits["amount"] < 0).sum(),
        "n_negative_refunds": (visits["amount"] < 0).sum(),
        "n_patients_with_plan": plan_people.nunique(),
        "n_duplicate_cards": len(cards) - SPEC.n_patients,
    }  # fmt: skip
    for key, value in expected.items():
        assert c[key] == value, key
    assert c["n_people"] == SPEC.n_patients == len(truth.patients)
    assert c["n_patients_paid"] < c["n_patients_came"] < c["n_patients_booked"] < c["n_people"]
    assert c["n_alive_at_as_of"] == truth.patients["alive_at_as_of"].sum()


def test_truth_json_reads_back_the_spec_counts_and_parameters(demo):
    out, truth = demo
    saved = load_truth(out)
    assert saved["counts"] == truth.counts
    assert saved["spec"]["as_of"] == "2026-10-31"
    assert saved["spec"]["n_patients"] == SPEC.n_patients
    assert saved["mbgnbd"] == {
        "r": 0.9, "alpha": 180.0, "a": 0.8, "b": 3.0, "time_unit": "days", "season_strength": 1.0,
    }  # fmt: skip
    assert saved["audit"] == truth.audit
    assert saved["gamma_gamma"]["mean_spend"] == pytest.approx(3.0 * 2400.0 / 3.0)
    assert set(truth.files) == {"visits", "patients", "plans"}
    assert all(p.exists() for p in truth.files.values())
    pd.testing.assert_frame_equal(load_truth_patients(out), truth.patients)


def test_shares_are_near_the_spec(demo, visits, cards, plans):
    _, truth = demo
    c = truth.counts
    n = SPEC.n_patients
    assert c["n_no_show_only"] / n == pytest.approx(SPEC.no_show_only_share, abs=0.02)
    assert c["n_patients_with_plan"] / c["n_patients_came"] == pytest.approx(0.30, abs=0.04)
    paid = (visits["Статус"] == "Виконано") & (visits["amount"] > 0)
    assert c["n_refunds"] / paid.sum() == pytest.approx(0.015, abs=0.006)
    assert c["n_negative_refunds"] / c["n_refunds"] == pytest.approx(0.6, abs=0.1)
    came = visits[visits["person"].isin(truth.patients.query("kind == 'came'")["patient"])]
    past = came[came["day"] <= AS_OF]
    missed = past["Статус"].isin(["Не з'явився", "Скасовано"]).mean()
    assert missed == pytest.approx(0.05, abs=0.015)
    assert c["n_free_first_visits"] / c["n_patients_came"] == pytest.approx(0.10, abs=0.025)
    assert (cards["Телефон"] != "").mean() == pytest.approx(0.95, abs=0.02)
    assert (cards["E-mail"] != "").mean() == pytest.approx(0.40, abs=0.04)
    assert (cards["Месенджер"] != "").mean() == pytest.approx(0.50, abs=0.04)
    consent = cards["Згода на розсилку"].value_counts(normalize=True)
    assert consent["Так"] == pytest.approx(0.7, abs=0.04)
    assert consent["Ні"] == pytest.approx(0.1, abs=0.03)
    assert set(cards["Джерело"]) - {""} == {
        "Instagram", "Google", "Рекомендація", "Facebook", "Вивіска", "Сайт", "Акція",
    }  # fmt: skip


# ----------------------------------------------------------------------------- the story


def test_nothing_but_bookings_is_dated_after_as_of(visits, cards, plans):
    after = visits[visits["day"] > AS_OF]
    assert set(after["Статус"]) == {"Запис"}
    assert set(visits.loc[visits["Статус"] == "Запис", "day"] > AS_OF) == {True}
    lead = (after["day"] - AS_OF).dt.days
    assert lead.between(1, 61).all()  # 1–60 days, +1 when a Sunday moved to Monday
    assert (pd.to_datetime(cards["Дата створення картки"], format="%d.%m.%Y") <= AS_OF).all()
    births = cards.loc[cards["Дата народження"] != "", "Дата народження"]
    assert (pd.to_datetime(births, format="%d.%m.%Y") < AS_OF).all()
    assert (plans["Дата плану"] <= AS_OF).all()


def test_appointments_keep_clinic_hours_on_the_quarter_hour_and_skip_sundays(visits):
    when = visits["when"]
    assert (when.dt.day_of_week != 6).all()
    assert (when.dt.minute % 15 == 0).all()
    assert when.dt.hour.between(9, 18).all()
    start = pd.Timestamp(SPEC.as_of) - pd.DateOffset(years=5)
    assert (when >= start - pd.Timedelta(days=2)).all()


def test_amounts_are_empty_exactly_for_missed_and_booked_visits(visits):
    empty = visits["amount"].isna()
    assert (empty == visits["Статус"].isin(["Не з'явився", "Скасовано", "Запис"])).all()
    done = visits[visits["Статус"] == "Виконано"]
    assert (done["amount"] % 10 == 0).all()
    assert (visits.loc[visits["Статус"] == "Повернення", "amount"] > 0).all()


def test_free_visits_are_first_visit_consultations(visits):
    done = visits[visits["is_visit"]].sort_values(["person", "when"])
    free = done[done["amount"] == 0]
    assert len(free) > 0
    assert (free["Послуга"] == "Консультація").all()
    first = done.groupby("person")["№ прийому"].first()
    assert free["№ прийому"].isin(first).all()


def test_refunds_follow_a_paid_visit_of_the_same_person(visits):
    done = visits[visits["is_visit"] & (visits["amount"] > 0)]
    refunds = visits[(visits["Статус"] == "Повернення") | (visits["amount"] < 0)]
    assert (refunds["Статус"] == "Виконано").any() and (refunds["Статус"] == "Повернення").any()
    for _, r in refunds.iterrows():
        prior = done[
            (done["person"] == r["person"])
            & (done["day"] < r["day"])
            & (done["day"] >= r["day"] - pd.Timedelta(days=9))
            & (done["amount"] >= abs(r["amount"]))
        ]
        assert len(prior), r["№ прийому"]


def test_no_show_only_cards_never_came(demo, visits):
    _, truth = demo
    nso = truth.patients.loc[truth.patients["kind"] == "no_show_only", "patient"]
    rows = visits[visits["Код пацієнта"].isin(nso)]
    assert set(rows["Статус"]) == {"Не з'явився", "Скасовано"}
    assert rows.groupby("Код пацієнта").size().between(1, 2).all()
    assert set(rows["Код пацієнта"]) == set(nso)


def test_future_bookings_belong_to_patients_alive_at_as_of(demo, visits):
    _, truth = demo
    alive = set(truth.patients.loc[truth.patients["alive_at_as_of"], "patient"])
    booked = set(visits.loc[visits["Статус"] == "Запис", "person"])
    assert booked and booked <= alive


def test_new_patients_grow_and_dip_in_summer_and_late_december(demo):
    _, truth = demo
    first = truth.patients["first_visit"].dropna()
    year = ((AS_OF - first).dt.days // 365).value_counts()  # 0 = the last twelve months
    assert year[0] > 1.3 * year[3]
    month = first.dt.month
    per_month = month.value_counts() / first.dt.to_period("M").groupby(month).nunique()
    assert per_month[[7, 8]].mean() < 0.9 * per_month[[3, 4, 5, 9, 10, 11]].mean()
    late_dec = ((first.dt.month == 12) & (first.dt.day >= 20)).sum() / 12
    early_dec = ((first.dt.month == 12) & (first.dt.day < 20)).sum() / 19
    assert late_dec < 0.8 * early_dec


def test_visits_dip_in_summer_and_peak_in_autumn(visits):
    done = visits[visits["is_visit"]]
    done = done[done["day"] >= AS_OF - pd.DateOffset(years=4)]  # four whole years
    per_month = done["day"].dt.month.value_counts()
    assert per_month[[7, 8]].mean() < 0.8 * per_month[[9, 10, 11]].mean()
    assert per_month[[7, 8]].mean() < 0.9 * per_month[[2, 3, 4]].mean()


def test_a_patient_mostly_stays_with_one_doctor(visits):
    done = visits[visits["Статус"] == "Виконано"]
    top = done.groupby("Код пацієнта")["Лікар"].agg(lambda s: s.value_counts().iloc[0])
    assert top.sum() / len(done) > 0.65


def test_spend_per_paid_visit_has_the_gamma_gamma_mean(visits):
    done = visits[(visits["Статус"] == "Виконано") & (visits["amount"] > 0)]
    assert done["amount"].mean() == pytest.approx(3.0 * 2400.0 / 3.0, rel=0.1)


# ----------------------------------------------------------------------------- cards


def test_every_visit_and_plan_patient_has_a_card(visits, cards, plans):
    codes = set(cards["Код пацієнта"])
    assert cards["Код пацієнта"].is_unique
    assert cards["Код пацієнта"].str.fullmatch(r"P\d{6}").all()
    assert set(visits["Код пацієнта"]) <= codes
    assert set(plans["Код пацієнта"]) <= codes


def test_phones_are_valid_ukrainian_numbers_in_mixed_formats(demo, cards):
    _, truth = demo
    phones = cards.loc[cards["Телефон"] != "", "Телефон"]
    digits = phones.str.replace(r"\D", "", regex=True)
    assert digits.str.len().isin([10, 11, 12]).all()
    forms = {
        r"0\d\d \d{3} \d\d \d\d", r"\+38 \(0\d\d\) \d{3}-\d\d-\d\d", r"80\d{9}", r"0\d{9}",
        r"\+380\d{9}",
    }  # fmt: skip
    for form in forms:
        assert phones.str.fullmatch(form).any(), form
    assert phones.map(lambda p: any(re.fullmatch(f, p) for f in forms)).all()
    # a mobile of one's own is nobody else's (a second card of the same person aside)
    kind = cards["Код пацієнта"].map(truth.patients.set_index("patient")["phone_kind"])
    own = cards.loc[kind == "own", "Телефон"].str.replace(r"\D", "", regex=True).str[-9:]
    assert own.str[:2].isin(MOBILE).all() and own.is_unique
    phonenumbers = pytest.importorskip("phonenumbers")
    for d in digits.str[-9:].unique():
        assert phonenumbers.is_valid_number(phonenumbers.parse("+380" + d))


def _card_table(cards, truth):
    t = truth.patients.set_index("patient")
    c = cards.assign(person=cards["Код пацієнта"].map(person_of(truth.patients)))
    c["phone_kind"] = c["person"].map(t["phone_kind"])
    c["digits"] = c["Телефон"].str.replace(r"\D", "", regex=True).str[-9:]
    c["surname"] = c["ПІБ"].str.split(" ").str[0]
    c["first"] = c["ПІБ"].str.split(" ").str[1]
    return c


def test_children_share_a_parent_mobile_with_their_own_first_name_and_birth_date(demo, cards):
    _, truth = demo
    c = _card_table(cards, truth)
    kids = c[c["phone_kind"] == "family"]
    assert truth.counts["n_children_on_parent_phone"] == len(kids)
    assert len(kids) / SPEC.n_patients == pytest.approx(0.08 * 0.8, abs=0.02)
    adults = c[c["phone_kind"] != "family"]
    for _, kid in kids.iterrows():
        parents = adults[(adults["digits"] == kid["digits"]) & (adults["person"] != kid["person"])]
        assert len(parents) >= 1, kid["Код пацієнта"]
        parent = parents.iloc[0]
        family_name = next(pair for pair in SURNAMES if parent["surname"] in pair)
        assert kid["surname"] in family_name  # the family name, in the child's gender
        assert kid["first"] != parent["first"]
        if kid["Дата народження"] and parent["Дата народження"]:
            born = pd.to_datetime(
                [kid["Дата народження"], parent["Дата народження"]], dayfirst=True
            )
            assert born[0] > born[1] + pd.DateOffset(years=10)
    # siblings on one phone have different first names
    family = kids.groupby("digits")["first"]
    assert (family.nunique() == family.size()).all()


def test_the_clinic_landline_is_on_three_or_more_cards_of_different_people(demo, cards):
    _, truth = demo
    c = _card_table(cards, truth)
    land = c[c["phone_kind"] == "landline"]
    assert truth.counts["n_landline_cards"] == len(land) > 0
    assert set(land["digits"]) <= {n[1:] for n in LANDLINES.values()}
    per_number = land.groupby("digits")["person"]
    assert (per_number.nunique() >= 3).all() and (per_number.nunique() == per_number.size()).all()
    assert land["ПІБ"].is_unique


def test_duplicate_cards_repeat_name_and_birth_date_with_the_phone_in_another_format(
    demo, cards, visits
):
    _, truth = demo
    c = _card_table(cards, truth)
    pairs = truth.patients[truth.patients["duplicate_card"] != ""]
    assert len(pairs) == truth.counts["n_duplicate_cards"] > 0
    assert len(pairs) / truth.counts["n_patients_came"] == pytest.approx(0.015, abs=0.01)
    by_code = c.set_index("Код пацієнта")
    for first, second in zip(pairs["patient"], pairs["duplicate_card"], strict=True):
        a, b = by_code.loc[first], by_code.loc[second]
        assert a["ПІБ"] == b["ПІБ"] and a["Дата народження"] == b["Дата народження"] != ""
        assert a["digits"] == b["digits"] and a["Телефон"] != b["Телефон"]
    # each second card carries some of its person's later records
    on_second = visits[visits["Код пацієнта"].isin(pairs["duplicate_card"])]
    assert set(on_second["Код пацієнта"]) == set(pairs["duplicate_card"])
    first_day = visits.groupby("person")["day"].min()
    assert (on_second["day"] > on_second["person"].map(first_day)).all()
    # and a full name with a birth date is one person: no two people share them
    keyed = c[c["Дата народження"] != ""]
    same = keyed.groupby(["ПІБ", "Дата народження"])["person"]
    assert (same.nunique() == 1).all()


def test_names_agree_with_sex(cards):
    parts = cards["ПІБ"].str.split(" ")
    assert (parts.str.len() == 3).all()
    patronymic = parts.str[2]
    women = cards["Стать"] == "Ж"
    assert set(cards["Стать"]) == {"Ж", "Ч"}
    assert patronymic[women].str.contains(r"(?:і|ї)вна$").all()
    assert patronymic[~women].str.endswith("ович").all()
    assert not parts.str[0][women].str.endswith("ський").any()
    assert not parts.str[0][~women].str.endswith("ська").any()


def test_referrers_are_earlier_patients_who_came(demo, cards):
    _, truth = demo
    came = truth.patients.set_index("patient")
    ref = cards[cards["Хто порекомендував"] != ""]
    assert len(ref) > 0
    assert (ref["Джерело"] == "Рекомендація").all()
    assert (came.loc[ref["Хто порекомендував"], "kind"] == "came").all()
    assert (ref["Хто порекомендував"].to_numpy() < ref["Код пацієнта"].to_numpy()).all()


def test_cards_are_created_at_the_first_record_or_a_little_later(cards, visits):
    created = pd.to_datetime(
        cards.set_index("Код пацієнта")["Дата створення картки"], format="%d.%m.%Y"
    )
    first = visits.groupby("Код пацієнта")["day"].min()
    lag = (created.reindex(first.index) - first).dt.days
    assert (lag >= 0).all() and (lag <= 10).all()
    assert (lag == 0).mean() > 0.9


def test_emails_are_distinct(cards):
    mails = cards.loc[cards["E-mail"] != "", "E-mail"]
    assert mails.is_unique and mails.str.fullmatch(r"[a-z0-9.]+@[a-z.]+\.[a-z]+").all()


# ----------------------------------------------------------------------------- plans


def test_plans_are_proposed_at_a_visit_by_its_doctor(plans, visits):
    assert plans["№ плану"].is_unique
    assert plans["Сума плану"].between(8000, 120000).all()
    done = visits[visits["Статус"] == "Виконано"]
    seen = set(zip(done["Код пацієнта"], done["day"], done["Лікар"], strict=True))
    for r in plans.itertuples(index=False):
        assert (r[1], pd.Timestamp(r[2]), r[7]) in seen


def test_a_refused_plan_is_the_person_last_visit(demo, plans, visits):
    _, truth = demo
    last = visits[visits["is_visit"]].groupby("person")["day"].max()
    refused = plans[plans["Статус плану"] == "Відмова"]
    assert len(refused) > 0
    who = refused["Код пацієнта"].map(person_of(truth.patients))
    assert (refused["Дата плану"].to_numpy() == last.reindex(who).to_numpy()).all()


def test_plan_payments_and_reasons_follow_the_status(plans):
    st = plans["Статус плану"]
    assert set(st) == {"Запропоновано", "Прийнято", "Завершено", "Відмова"}
    total, paid = plans["Сума плану"], plans["Оплачено"]
    assert (paid[st == "Завершено"] == total[st == "Завершено"]).all()
    acc = st == "Прийнято"
    assert ((paid[acc] > 0) & (paid[acc] < total[acc])).all()
    assert (paid[st.isin(["Запропоновано", "Відмова"])] == 0).all()
    reason = plans["Причина відмови"].fillna("")
    assert (reason[st != "Відмова"] == "").all()
    assert set(reason[st == "Відмова"]) == {
        "Дорого", "Подумаю", "Лікується в іншій клініці", "Страх лікування", "",
    }  # fmt: skip


# ----------------------------------------------------------------------------- truth summary


def test_truth_summary_agrees_with_the_visits_file(demo, visits):
    _, truth = demo
    done = visits[visits["is_visit"]]
    per = done.groupby("person")["day"].agg(["min", "max", "nunique", "size"])
    t = truth.patients.set_index("patient")
    came = t[t["kind"] == "came"]
    assert set(per.index) == set(came.index)
    j = per.join(came)
    assert (j["nunique"] - 1 == j["frequency"]).all()
    assert ((j["max"] - j["min"]).dt.days == j["recency_days"]).all()
    assert ((AS_OF - j["min"]).dt.days == j["T_days"]).all()
    assert (j["size"] == j["n_completed_visits"]).all()
    assert (j["min"] == j["first_visit"]).all()
    dead = j[~j["alive_at_as_of"]]
    # dropout comes after a visit: the last one, possibly the first
    assert (dead["death_date"] == dead["max"]).all()
    assert j.loc[j["alive_at_as_of"], "death_date"].isna().all()
    others = t[t["kind"] != "came"]
    assert others["lam"].isna().all() and not others["alive_at_as_of"].any()
    assert (others["n_completed_visits"] == 0).all()


def test_truth_summary_matches_what_the_loader_sees(demo, tmp_path):
    from clinic_analysis.ingest.load import load_clinic
    from clinic_analysis.params import load_params
    from tests.conftest import DEMO_PARAMS, write_params_copy

    out, truth = demo
    path = write_params_copy(DEMO_PARAMS, tmp_path)
    raw = path.read_text(encoding="utf-8")
    path.write_text(raw.replace(str(tmp_path / "data"), str(out)), encoding="utf-8")
    data = load_clinic(load_params(path))
    v = data.visits
    done = v[(v["status"] == "completed") & (v["amount"] >= 0)].copy()
    done["day"] = done["date"].dt.normalize()
    done["person"] = done["source_key"].str.removeprefix("mis:").map(person_of(truth.patients))
    per = done.groupby("person")["day"].agg(["min", "max", "nunique"])
    joined = per.join(truth.patients.set_index("patient"), how="inner")
    assert len(joined) == truth.counts["n_patients_came"]
    assert (joined["nunique"] - 1 == joined["frequency"]).all()
    assert ((joined["max"] - joined["min"]).dt.days == joined["recency_days"]).all()


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("default_demo")
    return out, generate_demo(out)


def test_default_demo_has_the_mbgnbd_share_alive(default_demo):
    _, truth = default_demo
    assert truth.counts["n_people"] == 5000
    came = truth.patients[truth.patients["kind"] == "came"]
    # about as many alive as the MBG/NBD model says for their ages (on the seasonal clock a
    # year is a year, so calendar ages serve)
    expected = np.mean(
        [p_alive_mbg(t, 0.9, 180.0, 0.8, 3.0) for t in came["T_days"].astype(float)[::25]]
    )
    assert came["alive_at_as_of"].mean() == pytest.approx(expected, abs=0.03)


def test_a_third_of_first_time_patients_never_return(default_demo):
    _, truth = default_demo
    came = truth.patients[truth.patients["kind"] == "came"]
    seasoned = came[came["T_days"] >= 365]  # first seen a year or more ago
    assert (seasoned["frequency"] == 0).mean() == pytest.approx(0.36, abs=0.06)
    # and the truth knows who left right after the first visit
    gone_at_once = came[~came["alive_at_as_of"] & (came["frequency"] == 0)]
    # (a dropout after a repeat visit on the first visit's day also shows no repeat day)
    assert len(gone_at_once) >= truth.counts["n_dropped_after_first_visit"] > 0.15 * len(came)
    assert (gone_at_once["death_date"] == gone_at_once["first_visit"]).all()


def test_the_demo_reads_as_a_healthy_clinic(default_demo):
    out, truth = default_demo
    v = pd.read_csv(out / "visits.csv", sep=";", encoding="utf-8-sig", dtype=str)
    v["day"] = pd.to_datetime(v["Дата прийому"], format="%d.%m.%Y %H:%M").dt.normalize()
    v["amount"] = pd.to_numeric(v["Сума, грн"].str.replace(" ", "").str.replace(",", "."))
    v["person"] = v["Код пацієнта"].map(person_of(truth.patients))
    done = v[(v["Статус"] == "Виконано") & (v["amount"] >= 0)]
    first_day = done.groupby("person")["day"].transform("min")
    repeat_share = done.loc[done["day"] > first_day, "amount"].sum() / done["amount"].sum()
    assert 0.6 <= repeat_share <= 0.8  # most revenue from repeat visits (domain.md, item 5)
    year = (AS_OF - done["day"]).dt.days // 365  # 0 = the last twelve months
    revenue = done.groupby(year)["amount"].sum()
    assert revenue[0] > 1.1 * revenue[1] > 1.1 * 1.1 * revenue[2]  # growing
    assert truth.audit["net_revenue"] > 0.97 * truth.audit["gross"]  # refunds stay small


# ----------------------------------------------------------------------------- BG/NBD


def expected_x(t, r, alpha, a, b):
    """E[X(t)] of the BG/NBD model (Fader, Hardie & Lee 2005, eq. 9)."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def pmf_x(x, t, r, alpha, a, b):
    """P(X(t) = x) of the BG/NBD model (Fader, Hardie & Lee 2005, eq. 8)."""
    lb = betaln(a, b)
    g = alpha / (alpha + t)
    z = t / (alpha + t)

    def nbd(j):
        return np.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1) + r * np.log(g) + j * np.log(z))

    out = np.exp(betaln(a, b + x) - lb) * nbd(x)
    if x > 0:
        tail = 1 - sum(nbd(j) for j in range(x))
        out += np.exp(betaln(a + 1, b + x - 1) - lb) * tail
    return out


def p_alive(t, r, alpha, a, b):
    """P(not dropped out by t): dropouts are the p-thinned purchases, rate lam*p, so
    E[exp(-lam p t)] = E_p[(alpha / (alpha + p t))^r]."""
    f = lambda p: (alpha / (alpha + p * t)) ** r * stats.beta.pdf(p, a, b)  # noqa: E731
    return integrate.quad(f, 0, 1, limit=200)[0]


def p_alive_mbg(t, r, alpha, a, b):
    """MBG/NBD: the first coin is flipped at the first purchase (survives with 1 - p), then
    as in BG/NBD: E_p[(1 - p) (alpha / (alpha + p t))^r]."""
    f = lambda p: (1 - p) * (alpha / (alpha + p * t)) ** r * stats.beta.pdf(p, a, b)  # noqa: E731
    return integrate.quad(f, 0, 1, limit=200)[0]


def reference_bgnbd(n, r, alpha, a, b, T, rng):
    """Event by event, as the model is told: purchase, then a coin flip for dropout."""
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    t = np.zeros(n)
    freq = np.zeros(n, int)
    rec = np.zeros(n)
    alive = np.ones(n, bool)
    active = np.ones(n, bool)
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1 / lam[idx])
        inside = t[idx] <= T
        buy = idx[inside]
        freq[buy] += 1
        rec[buy] = t[buy]
        dies = buy[rng.random(len(buy)) < p[buy]]
        alive[dies] = False
        active[idx[~inside]] = False
        active[dies] = False
    return pd.DataFrame({"frequency": freq, "recency": rec, "alive": alive})


@pytest.mark.parametrize(("a", "b"), [(0.8, 3.0), (1.8, 3.0)])
def test_simulated_frequency_matches_the_expected_number_of_purchases(a, b):
    rng = np.random.default_rng(3)
    r, alpha = 0.9, 180.0
    for t in (180.0, 720.0, 1800.0):
        sim = simulate_bgnbd(200_000, r, alpha, a, b, t, rng)
        assert sim["frequency"].mean() == pytest.approx(expected_x(t, r, alpha, a, b), rel=0.02)


def test_simulated_frequency_follows_the_bgnbd_distribution():
    rng = np.random.default_rng(5)
    r, alpha, a, b, t = 0.9, 180.0, 0.8, 3.0, 1000.0
    sim = simulate_bgnbd(200_000, r, alpha, a, b, t, rng)
    k = 12
    probs = np.array([pmf_x(x, t, r, alpha, a, b) for x in range(k)])
    probs = np.append(probs, 1 - probs.sum())
    observed = np.bincount(np.minimum(sim["frequency"], k), minlength=k + 1)
    assert observed[0] / len(sim) == pytest.approx((alpha / (alpha + t)) ** r, abs=0.005)
    assert stats.chisquare(observed, probs * len(sim)).pvalue > 1e-3


def test_share_alive_matches_the_model():
    rng = np.random.default_rng(6)
    r, alpha, a, b = 0.9, 180.0, 0.8, 3.0
    for t in (90.0, 365.0, 1825.0):
        sim = simulate_bgnbd(100_000, r, alpha, a, b, t, rng)
        assert sim["alive"].mean() == pytest.approx(p_alive(t, r, alpha, a, b), abs=0.006)


def test_simulation_agrees_with_an_event_by_event_reference():
    r, alpha, a, b, t = 0.7, 60.0, 1.2, 2.5, 500.0
    fast = simulate_bgnbd(40_000, r, alpha, a, b, t, np.random.default_rng(8))
    slow = reference_bgnbd(40_000, r, alpha, a, b, t, np.random.default_rng(9))
    for col in ("frequency", "recency"):
        x, y = fast.loc[fast["frequency"] > 0, col], slow.loc[slow["frequency"] > 0, col]
        assert stats.ks_2samp(x, y).pvalue > 1e-3, col
    # recency given frequency, too
    for f in (1, 3):
        x = fast.loc[fast["frequency"] == f, "recency"]
        y = slow.loc[slow["frequency"] == f, "recency"]
        assert stats.ks_2samp(x, y).pvalue > 1e-3, f
    assert fast["alive"].mean() == pytest.approx(slow["alive"].mean(), abs=0.012)


def test_simulated_bgnbd_basic_invariants():
    rng = np.random.default_rng(4)
    T = rng.uniform(0, 900, 5000)
    sim = simulate_bgnbd(5000, 0.5, 100.0, 0.8, 2.5, T, rng, keep_times=True)
    assert list(sim.columns) == ["frequency", "recency", "T", "lam", "p", "alive", "times"]
    np.testing.assert_array_equal(sim["T"], T)
    assert (sim["recency"] <= sim["T"]).all() and (sim["recency"] >= 0).all()
    zero = sim["frequency"] == 0
    assert (sim.loc[zero, "recency"] == 0).all()
    assert sim.loc[zero, "alive"].all()  # no dropout before a repeat purchase
    assert (sim["times"].map(len) == sim["frequency"]).all()
    for times, rec in zip(sim.loc[~zero, "times"], sim.loc[~zero, "recency"], strict=True):
        assert (np.diff(times) >= 0).all() and times[-1] == rec and times[0] > 0


def test_times_do_not_change_the_other_columns_and_seeds_repeat():
    a = simulate_bgnbd(1000, 0.9, 180, 0.8, 3, 700, np.random.default_rng(1))
    b = simulate_bgnbd(1000, 0.9, 180, 0.8, 3, 700, np.random.default_rng(1), keep_times=True)
    pd.testing.assert_frame_equal(a, b.drop(columns="times"))
    c = simulate_bgnbd(1000, 0.9, 180, 0.8, 3, 700, np.random.default_rng(2))
    assert not a.equals(c)


def test_simulation_refuses_bad_parameters():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="alpha"):
        simulate_bgnbd(10, 0.9, -1.0, 0.8, 3.0, 100.0, rng)
    with pytest.raises(ValueError, match="T"):
        simulate_bgnbd(10, 0.9, 180.0, 0.8, 3.0, -5.0, rng)
    assert len(simulate_bgnbd(0, 0.9, 180.0, 0.8, 3.0, 100.0, rng, keep_times=True)) == 0


def test_lifetimes_recovers_the_simulated_parameters():
    lifetimes = pytest.importorskip("lifetimes")
    rng = np.random.default_rng(11)
    n = 20_000
    sim = simulate_bgnbd(n, 0.9, 180.0, 0.8, 3.0, rng.uniform(30, 1826, n), rng)
    fit = lifetimes.BetaGeoFitter().fit(sim["frequency"], sim["recency"], sim["T"])
    got = fit.params_
    assert got["r"] == pytest.approx(0.9, rel=0.1)
    assert got["alpha"] == pytest.approx(180.0, rel=0.1)
    assert got["a"] == pytest.approx(0.8, rel=0.15)
    assert got["b"] == pytest.approx(3.0, rel=0.2)


# ----------------------------------------------------------------------------- MBG/NBD


def test_mbgnbd_loses_a_share_right_after_the_first_purchase():
    r, alpha, a, b = 0.9, 180.0, 0.8, 3.0
    for t in (90.0, 720.0):
        sim = simulate_mbgnbd(200_000, r, alpha, a, b, t, np.random.default_rng(12))
        # no repeat purchase: dropped at the first (E[p]) or no purchase in t
        never = a / (a + b) + b / (a + b) * (alpha / (alpha + t)) ** r
        assert (sim["frequency"] == 0).mean() == pytest.approx(never, abs=0.005)
        assert sim["alive"].mean() == pytest.approx(p_alive_mbg(t, r, alpha, a, b), abs=0.005)
        assert not sim.loc[sim["frequency"] == 0, "alive"].all()  # unlike BG/NBD


def test_mbgnbd_and_bgnbd_differ_only_by_the_first_coin():
    bg = simulate_bgnbd(1000, 0.9, 180.0, 0.8, 3.0, 700.0, np.random.default_rng(1))
    mbg = simulate_mbgnbd(1000, 0.9, 180.0, 0.8, 3.0, 700.0, np.random.default_rng(1))
    pd.testing.assert_series_equal(bg["lam"], mbg["lam"])
    assert (mbg["frequency"] <= bg["frequency"]).all()
    assert (mbg["frequency"] < bg["frequency"]).any()


def test_lifetimes_recovers_the_simulated_mbgnbd_parameters():
    from clinic_analysis.models.lifetimes_adapter import bgnbd_params, fit_mbgnbd

    rng = np.random.default_rng(11)
    n = 20_000
    sim = simulate_mbgnbd(n, 0.9, 180.0, 0.8, 3.0, rng.uniform(30, 1826, n), rng)
    got = bgnbd_params(fit_mbgnbd(sim["frequency"], sim["recency"], sim["T"]))
    assert got["r"] == pytest.approx(0.9, rel=0.1)
    assert got["alpha"] == pytest.approx(180.0, rel=0.1)
    assert got["a"] == pytest.approx(0.8, rel=0.15)
    assert got["b"] == pytest.approx(3.0, rel=0.2)


def test_mbgnbd_fit_on_the_demo_summary_recovers_the_truth(default_demo):
    """The demo's own (frequency, recency, T), dated as the files date them (seasonal
    clock, Sundays moved, whole days), still give back the generator's MBG/NBD, and its
    P(alive) matches who is truly alive; BG/NBD, which cannot let a one-visit patient go,
    overstates it."""
    from clinic_analysis.models.lifetimes_adapter import (
        bgnbd_params,
        fit_bgnbd,
        fit_mbgnbd,
        p_alive,
    )

    _, truth = default_demo
    came = truth.patients[truth.patients["kind"] == "came"]
    rows = [came[c].astype(float).to_numpy() for c in ("frequency", "recency_days", "T_days")]
    model = fit_mbgnbd(*rows)
    got = bgnbd_params(model)
    assert got["r"] == pytest.approx(0.9, rel=0.2)
    assert got["alpha"] == pytest.approx(180.0, rel=0.2)
    assert got["a"] == pytest.approx(0.8, rel=0.3)
    assert got["b"] == pytest.approx(3.0, rel=0.3)
    alive = came["alive_at_as_of"].mean()
    assert p_alive(model, *rows).mean() == pytest.approx(alive, abs=0.03)
    assert p_alive(fit_bgnbd(*rows), *rows).mean() > alive + 0.1


# ----------------------------------------------------------------------------- audit truth


def test_audit_truth_counts_a_refund_row_as_money_back_not_a_visit():
    records = pd.DataFrame({
        "person": ["A", "A", "A", "B", "B"],
        "date": pd.to_datetime(["2026-01-05", "2026-01-07", "2026-01-20", "2026-02-01",
                                "2026-02-03"]),
        "status": ["completed", "completed", "completed", "completed", "refund"],
        "amount": [1000.0, -1000.0, 500.0, 300.0, 100.0],
    })  # fmt: skip
    t = audit_truth(records, None, "2026-03-01")
    assert t["gross"] == 1800.0 and t["refunds"] == 1100.0 and t["net_revenue"] == 700.0
    assert t["visit_days"] == 3  # A: 5 and 20 January; B: 1 February
    assert t["people"] == 2
    assert t["segments"]["returning"] + t["segments"]["lapsed"] == 1  # A came twice
    assert t["segments"]["new"] + t["segments"]["consulted_only"] == 1  # B came once


def test_audit_truth_segments_follow_the_rules_in_order():
    records = pd.DataFrame({
        "person": ["noshow", "await", "gone", "fresh", "refuser"],
        "date": pd.to_datetime(["2026-01-10", "2026-03-10", "2025-01-10", "2026-02-20",
                                "2026-02-01"]),
        "status": ["no_show", "booked", "completed", "completed", "completed"],
        "amount": [np.nan, np.nan, 900.0, 400.0, 700.0],
    })  # fmt: skip
    plans = pd.DataFrame({"person": ["refuser"], "date": pd.to_datetime(["2026-02-01"]),
                          "status": ["refused"], "amount_total": [20000.0],
                          "amount_paid": [0.0]})  # fmt: skip
    t = audit_truth(records, plans, "2026-03-01")
    assert t["activity_days"] == {"active": 180, "at_risk": 270}  # too few intervals
    assert {k: v for k, v in t["segments"].items() if v} == {
        "no_show": 1, "awaiting": 1, "consulted_only": 1, "new": 1, "plan_refused": 1,
    }  # fmt: skip


def test_the_truth_matches_the_audit_where_its_rules_already_agree(tmp_path):
    """With no family phones, no landline and refunds only as a status, the pipeline of
    today already follows every definition: the truth code itself is checked here."""
    from clinic_analysis.audit import compute_audit
    from clinic_analysis.params import load_params
    from tests.conftest import DEMO_PARAMS, write_params_copy

    spec = DemoSpec(n_patients=800, child_phone_share=0.0, landline_share=0.0,
                    negative_refund_share=0.0)  # fmt: skip
    truth = generate_demo(tmp_path / "data", spec).audit
    m = compute_audit(load_params(write_params_copy(DEMO_PARAMS, tmp_path))).metrics
    assert m["base"]["by_rule"] == truth["by_rule"]
    assert m["base"]["visits"] == truth["visit_days"]
    assert net_revenue(m) == truth["net_revenue"]
    assert m["activity"]["thresholds_days"] == truth["activity_days"]
    assert m["refusers"]["counts"] == truth["segments"]


def net_revenue(metrics: dict) -> float:
    """Net revenue as metrics.json states it (``revenue.net`` once gross / refunds / net are
    separate figures; ``revenue.total`` before)."""
    rev = metrics["revenue"]
    return rev["net"] if "net" in rev else rev["total"]


@pytest.fixture(scope="module")
def demo_audit(demo, tmp_path_factory):
    from clinic_analysis.audit import compute_audit
    from clinic_analysis.params import load_params
    from tests.conftest import DEMO_PARAMS, write_params_copy

    out, truth = demo
    folder = tmp_path_factory.mktemp("demo_audit")
    path = write_params_copy(DEMO_PARAMS, folder)
    raw = path.read_text(encoding="utf-8")
    path.write_text(raw.replace(str(folder / "data"), str(out)), encoding="utf-8")
    return truth.audit, compute_audit(load_params(path)).metrics


def test_the_audit_counts_the_demo_people(demo_audit):
    truth, m = demo_audit
    assert m["base"]["patients"] == truth["people"]
    assert m["base"]["by_rule"] == truth["by_rule"]


def test_the_audit_finds_the_demo_net_revenue(demo_audit):
    truth, m = demo_audit
    assert net_revenue(m) == pytest.approx(truth["net_revenue"], abs=0.01)
    assert m["revenue"]["refunds"] == pytest.approx(truth["refunds"], abs=0.01)


def test_the_audit_counts_the_demo_visit_days(demo_audit):
    truth, m = demo_audit
    assert m["base"]["visits"] == truth["visit_days"]


def test_the_audit_finds_the_demo_segment_sizes(demo_audit):
    truth, m = demo_audit
    assert m["activity"]["thresholds_days"] == truth["activity_days"]
    assert m["refusers"]["counts"] == truth["segments"]
    assert m["refusers"]["unsegmented"] == 0
