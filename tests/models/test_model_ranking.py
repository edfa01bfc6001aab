"""Call lists ranked by the value of calling now, on hand-built patients."""

from types import SimpleNamespace

import pandas as pd
import pytest

from clinic_analysis.measures.calls import rank
from clinic_analysis.measures.refusers import ReturnHistory, call_value, potential

SETTINGS = SimpleNamespace(rates={}, gone_elsewhere_share=0.9, gone_elsewhere_months=4.0)
HIST = ReturnHistory(events=50, transactions=2.0, average_check=1000.0, source="history")


def _seg(rows):
    df = pd.DataFrame(
        rows, columns=["id", "segment", "months_since_event", "open_plan_balance", "p_alive"]
    ).set_index("id")
    df["refused_plan_total"] = 0.0
    return df


def _order(seg):
    v = call_value(seg, HIST, SETTINGS)
    table = pd.DataFrame(
        {"sheet": "s", "priority": v["priority"], "balance": seg["open_plan_balance"]}
    )
    return list(rank(table, seg["months_since_event"]).index), v


def test_fresher_patient_goes_first_at_equal_stake():
    seg = _seg([("gone_43m", "lapsed", 43.0, 0.0, 0.3), ("gone_17m", "lapsed", 17.0, 0.0, 0.3)])
    order, v = _order(seg)
    # the same P(alive) and value: equal expected value, so the fresher one is first
    assert v.loc["gone_43m", "priority"] == v.loc["gone_17m", "priority"]
    assert order == ["gone_17m", "gone_43m"]


def test_a_large_plan_balance_outranks_a_small_one_and_a_dead_patient_sinks():
    seg = _seg(
        [
            ("small_plan", "plan_stopped", 2.0, 3000.0, 0.8),
            ("big_plan", "plan_stopped", 2.0, 60000.0, 0.8),
            ("big_plan_gone", "plan_stopped", 2.0, 60000.0, 0.01),
        ]
    )
    order, v = _order(seg)
    assert order == ["big_plan", "small_plan", "big_plan_gone"]
    # expected value = rate (0.25) × freshness × P(alive) × value of a return
    fresh = 0.1 ** (2 / 4)
    assert v.loc["big_plan", "priority"] == pytest.approx(0.25 * fresh * 0.8 * 60000)


def test_patients_whose_inputs_differ_never_tie():
    seg = _seg([(f"p{i}", "consulted_only", 1.0 + i / 10, 0.0, 0.5) for i in range(20)])
    _, v = _order(seg)
    assert v["priority"].is_unique


def test_the_potential_sums_the_same_expected_values_the_lists_rank_by():
    seg = _seg(
        [
            ("a", "plan_stopped", 1.0, 20000.0, 0.9),
            ("b", "lapsed", 10.0, 0.0, 0.4),
            ("c", "no_show", 0.5, 0.0, None),
        ]
    )
    v = call_value(seg, HIST, SETTINGS)
    pot = potential(seg, HIST, {}, SETTINGS)
    assert pot["base"].sum() == pytest.approx(v["priority"].sum())
    # a no-show has no visit for the model: counted as alive, at the clinic's check
    assert v.loc["c", "value"] == pytest.approx(2.0 * 1000.0)
