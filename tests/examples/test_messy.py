"""The messy two-system example: every ledger figure, the merge count and the audit's
headline figures, against the generator's truth."""

import pandas as pd
import pytest

from clinic_analysis.audit import compute_audit
from clinic_analysis.examples.messy import generate_messy
from clinic_analysis.ingest.load import load_clinic
from clinic_analysis.params import load_params
from tests.conftest import ROOT, write_params_copy


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("messy")
    truth = generate_messy(folder / "data", n_people=400, seed=7)
    params = load_params(write_params_copy(ROOT / "params" / "messy.yaml", folder))
    return truth, params, load_clinic(params)


@pytest.fixture(scope="module")
def metrics(messy):
    _, params, _ = messy
    return compute_audit(params).metrics


@pytest.fixture(scope="module")
def exports(messy):
    """The old MIS's CSVs and the new MIS's workbook, read without the package's loader."""
    truth, _, _ = messy
    f = truth.folder
    old_p = pd.read_csv(f / "old_patients.csv", sep=";", encoding="cp1251", dtype=str)
    old_v = pd.read_csv(f / "old_visits.csv", sep=";", encoding="cp1251", dtype=str)
    new_p = pd.read_excel(
        f / "new_mis.xlsx", sheet_name="Пациенты", dtype={"Телефон": str}, engine="openpyxl"
    )
    new_v = pd.read_excel(f / "new_mis.xlsx", sheet_name="Визиты", engine="openpyxl")
    return old_p.fillna(""), old_v.fillna(""), new_p, new_v


def test_same_seed_gives_byte_identical_files(messy, tmp_path):
    truth, _, _ = messy
    generate_messy(tmp_path, n_people=400, seed=7)
    for name in ("old_patients.csv", "old_visits.csv", "new_mis.xlsx", "truth.json"):
        assert (truth.folder / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_every_ledger_figure_matches_the_truth(messy):
    truth, _, data = messy
    got: dict = {}
    for e in data.ledger:
        d = e.as_dict()
        got.setdefault(e.system, {})[e.table] = {
            k: d[k] for k in ("rows_in", "rows_kept", "merged", "dropped")
        }
    assert got == truth.ledger


def test_ledger_balances_for_every_source(messy):
    _, _, data = messy
    for e in data.ledger:
        assert e.rows_in == e.rows_kept + sum(e.dropped.values()), (e.system, e.table)


def test_people_in_both_systems_are_one_person(messy):
    truth, _, data = messy
    assert len(data.patients) == truth.persons
    systems = data.patients["source_ids"].map(lambda ks: {k.split(":")[0] for k in ks})
    both = data.patients[systems.map(len) == 2]
    assert len(both) == truth.merged_by_phone + truth.merged_by_name


def test_a_second_card_in_one_system_is_the_same_person(messy):
    truth, _, data = messy
    old_keys = data.patients["source_ids"].map(lambda ks: sum(k.startswith("old_mis:") for k in ks))
    assert (old_keys == 2).sum() == truth.duplicate_cards > 0


def test_the_old_mis_holds_families_a_landline_and_second_cards(messy, exports):
    from clinic_analysis.examples.messy import LANDLINE

    truth, _, _ = messy
    old_p = exports[0]
    digits = old_p["Телефон"].str.replace(r"\D", "", regex=True).str[-9:]
    assert (digits == LANDLINE[1:]).sum() == truth.landline_cards >= 3
    # a second card: same name and birth date, the phone written another way
    twins = old_p[old_p.duplicated(["ПІБ", "Дата народження"], keep=False)]
    assert len(twins) == 2 * truth.duplicate_cards
    for _, pair in twins.groupby(["ПІБ", "Дата народження"]):
        assert pair["Телефон"].nunique() == 2
        assert pair["Телефон"].str.replace(r"\D", "", regex=True).str[-9:].nunique() == 1
    assert truth.children_on_parent_phone == round(0.06 * truth.persons)


def test_refunds_come_as_negative_amounts_on_completed_rows_too(messy, exports):
    truth, _, _ = messy
    _, old_v, _, new_v = exports
    negative_old = old_v["Сума, грн"].str.startswith("-")
    assert (old_v.loc[negative_old, "Статус"] == "Виконано").all()
    assert (new_v.loc[new_v["Сумма"] < 0, "Статус"] == "Выполнен").all()
    assert negative_old.sum() + (new_v["Сумма"] < 0).sum() == truth.negative_refunds > 0
    assert (old_v["Статус"] == "Повернення").sum() == 4


def test_a_third_of_the_messy_patients_come_once(messy):
    truth, _, _ = messy
    once = truth.audit["segments"]["new"] + truth.audit["segments"]["consulted_only"]
    assert once / truth.audit["people"] == pytest.approx(0.4, abs=0.1)


def test_rejected_rows_file_lists_every_drop(messy):
    truth, _, data = messy
    expected = sum(
        n for sys in truth.ledger.values() for t in sys.values() for n in t["dropped"].values()
    )
    assert len(data.rejected) == expected
    assert data.rejected["reason"].notna().all()


def test_messy_metrics_carry_the_ledger(messy, metrics):
    truth, _, _ = messy
    assert metrics["ledger"] == truth.ledger
    assert metrics["base"]["by_rule"]["booked"] >= metrics["base"]["by_rule"]["came"]


def test_no_show_segment_matches_the_truth(messy, metrics):
    truth, _, _ = messy
    assert truth.no_show_only > 0
    assert metrics["refusers"]["counts"]["no_show"] == truth.no_show_only
    assert metrics["refusers"]["unsegmented"] == 0
    assert sum(metrics["refusers"]["counts"].values()) == truth.persons


def net_revenue(m: dict) -> float:
    """``revenue.net`` once gross / refunds / net are separate figures, ``total`` before."""
    return m["revenue"]["net"] if "net" in m["revenue"] else m["revenue"]["total"]


def test_the_audit_counts_the_messy_people(messy, metrics):
    truth, _, _ = messy
    assert metrics["base"]["patients"] == truth.audit["people"]
    assert metrics["base"]["by_rule"] == truth.audit["by_rule"]


def test_the_audit_finds_the_messy_net_revenue(messy, metrics):
    truth, _, _ = messy
    assert net_revenue(metrics) == pytest.approx(truth.audit["net_revenue"], abs=0.01)
    assert metrics["revenue"]["refunds"] == pytest.approx(truth.audit["refunds"], abs=0.01)


def test_the_audit_counts_the_messy_visit_days(messy, metrics):
    truth, _, _ = messy
    assert metrics["base"]["visits"] == truth.audit["visit_days"]


def test_the_audit_finds_the_messy_segment_sizes(messy, metrics):
    truth, _, _ = messy
    assert metrics["activity"]["thresholds_days"] == truth.audit["activity_days"]
    assert metrics["refusers"]["counts"] == truth.audit["segments"]
