"""The demo clinic generator: deterministic, shaped like a real export, with known truth."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from clinic_analysis.demo import DemoSpec, generate_demo, load_truth, simulate_bgnbd
from clinic_analysis.load import load_clinic
from clinic_analysis.params import load_params

SMALL = DemoSpec(n_patients=400)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo(out, SMALL)


def test_same_spec_gives_the_same_bytes(demo, tmp_path):
    out, truth = demo
    generate_demo(tmp_path, SMALL)
    for name in ("visits.csv", "patients.csv", "plans.xlsx", "truth.json"):
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_another_seed_gives_other_data(demo, tmp_path):
    out, _ = demo
    generate_demo(tmp_path, DemoSpec(n_patients=400, seed=1))
    assert (out / "visits.csv").read_bytes() != (tmp_path / "visits.csv").read_bytes()


def test_files_are_shaped_like_a_ukrainian_mis_export(demo):
    out, _ = demo
    raw = (out / "visits.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw.decode("utf-8-sig").splitlines()[0]
    assert header.split(";") == [
        "№ прийому",
        "Код пацієнта",
        "Дата прийому",
        "Лікар",
        "Послуга",
        "Напрям",
        "Сума, грн",
        "Статус",
        "Філія",
    ]
    v = pd.read_csv(out / "visits.csv", sep=";", encoding="utf-8-sig", dtype=str)
    paid = v["Сума, грн"].dropna()
    assert paid.str.fullmatch(r"\d{1,3}( \d{3})*,\d\d").all()
    assert set(v["Статус"]) <= {"Виконано", "Не з'явився", "Скасовано", "Запис", "Повернення"}
    plans = pd.read_excel(out / "plans.xlsx", sheet_name="Плани", engine="calamine")
    assert pd.api.types.is_datetime64_any_dtype(plans["Дата плану"])


def test_counts_agree_with_the_files(demo):
    out, truth = demo
    v = pd.read_csv(out / "visits.csv", sep=";", encoding="utf-8-sig", dtype=str)
    c = truth.counts
    assert c["visits_rows"] == len(v)
    assert c["visits_completed"] == (v["Статус"] == "Виконано").sum()
    assert c["visits_no_show"] == (v["Статус"] == "Не з'явився").sum()
    assert c["n_future_bookings"] == (v["Статус"] == "Запис").sum()
    came = v.loc[v["Статус"] == "Виконано", "Код пацієнта"].nunique()
    assert c["n_patients_came"] == came
    assert c["n_cards"] == SMALL.n_patients
    assert load_truth(out)["counts"] == c


def test_nothing_but_bookings_is_dated_after_as_of(demo):
    out, _ = demo
    v = pd.read_csv(out / "visits.csv", sep=";", encoding="utf-8-sig", dtype=str)
    when = pd.to_datetime(v["Дата прийому"], format="%d.%m.%Y %H:%M")
    after = v[when.dt.normalize() > pd.Timestamp(SMALL.as_of)]
    assert set(after["Статус"]) == {"Запис"}
    assert (when.dt.day_of_week != 6).all()  # no Sunday appointments


def test_truth_summary_matches_what_the_loader_sees(demo, tmp_path):
    from .conftest import DEMO_PARAMS, write_params_copy

    out, truth = demo
    path = write_params_copy(DEMO_PARAMS, tmp_path)
    raw = path.read_text(encoding="utf-8")
    path.write_text(raw.replace(str(tmp_path / "data"), str(out)), encoding="utf-8")
    data = load_clinic(load_params(path))
    done = data.visits[data.visits["status"] == "completed"].copy()
    done["day"] = done["date"].dt.normalize()
    per = done.groupby("source_key")["day"].agg(["min", "max", "nunique"])
    t = truth.patients.set_index("patient")
    t.index = "mis:" + t.index
    joined = per.join(t, how="inner")
    assert len(joined) == truth.counts["n_patients_came"]
    assert (joined["nunique"] - 1 == joined["frequency"]).all()
    assert ((joined["max"] - joined["min"]).dt.days == joined["recency_days"]).all()


def test_every_visit_has_a_card_and_phones_are_ukrainian(demo):
    out, _ = demo
    v = pd.read_csv(out / "visits.csv", sep=";", encoding="utf-8-sig", dtype=str)
    p = pd.read_csv(out / "patients.csv", sep=";", encoding="utf-8-sig", dtype=str)
    assert set(v["Код пацієнта"]) <= set(p["Код пацієнта"])
    digits = p["Телефон"].dropna().str.replace(r"\D", "", regex=True)
    assert (
        digits.str[-9:]
        .str[:2]
        .isin(["50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99"])
        .all()
    )


def expected_x(t, r, alpha, a, b):
    """E[X(t)] of the BG/NBD model (Fader, Hardie & Lee 2005, eq. 9)."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_simulated_bgnbd_matches_the_expected_number_of_purchases():
    rng = np.random.default_rng(3)
    r, alpha, a, b = 0.9, 180.0, 1.8, 3.0
    for t in (180.0, 720.0):
        sim = simulate_bgnbd(60_000, r, alpha, a, b, t, rng)
        assert sim["frequency"].mean() == pytest.approx(expected_x(t, r, alpha, a, b), rel=0.03)


def test_simulated_bgnbd_basic_invariants():
    rng = np.random.default_rng(4)
    sim = simulate_bgnbd(5000, 0.5, 100.0, 0.8, 2.5, rng.uniform(10, 900, 5000), rng)
    assert (sim["recency"] <= sim["T"]).all()
    assert (sim.loc[sim["frequency"] == 0, "recency"] == 0).all()
    assert not sim.loc[sim["frequency"] == 0, "alive"].eq(False).any()  # no dropout before a repeat
