"""The messy two-system example: every ledger figure and the merge count, against the
generator's truth."""

import pytest

from clinic_analysis.audit import compute_audit
from clinic_analysis.load import load_clinic
from clinic_analysis.messy import generate_messy
from clinic_analysis.params import load_params

from .conftest import ROOT, write_params_copy


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("messy")
    truth = generate_messy(folder / "data", n_people=400, seed=7)
    params = load_params(write_params_copy(ROOT / "params" / "messy.yaml", folder))
    return truth, params, load_clinic(params)


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
    two = data.patients[data.patients["n_sources"] == 2]
    assert len(two) == truth.merged_by_phone + truth.merged_by_name
    assert all({k.split(":")[0] for k in ks} == {"old_mis", "new_mis"} for ks in two["source_ids"])


def test_rejected_rows_file_lists_every_drop(messy):
    truth, _, data = messy
    expected = sum(
        n for sys in truth.ledger.values() for t in sys.values() for n in t["dropped"].values()
    )
    assert len(data.rejected) == expected
    assert data.rejected["reason"].notna().all()


def test_messy_metrics_carry_the_ledger(messy):
    truth, params, _ = messy
    audit = compute_audit(params)
    assert audit.metrics["ledger"] == truth.ledger
    assert audit.metrics["base"]["by_rule"]["booked"] >= audit.metrics["base"]["by_rule"]["came"]


def test_no_show_segment_matches_the_truth(messy):
    truth, params, _ = messy
    audit = compute_audit(params)
    assert truth.no_show_only > 0
    assert audit.metrics["refusers"]["counts"]["no_show"] == truth.no_show_only
    assert audit.metrics["refusers"]["unsegmented"] == 0
    assert sum(audit.metrics["refusers"]["counts"].values()) == truth.persons
