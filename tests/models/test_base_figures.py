"""What the report quotes of the base from the model columns (issue 11)."""

import numpy as np
import pandas as pd
import pytest

from clinic_analysis.measures.activity import PHASES
from clinic_analysis.models.results import base_figures, horizon_totals, model_readings


def _people():
    return pd.DataFrame(
        {
            "in_base": [True, True, True, False],
            "phase": pd.Categorical(["at_risk", "at_risk", "active", "active"], PHASES),
            "p_alive": [0.2, 0.4, 0.9, 0.0],  # the last patient is not in the base
            "expected_visits_12m": [1.0, 2.0, 3.0, 50.0],
            "clv_12m": [100.0, 200.0, np.nan, 1000.0],
        }
    )


def test_mean_p_alive_and_visits_of_the_base_only():
    fig = base_figures(_people(), PHASES)
    assert fig["base_mean"] == pytest.approx(0.5)
    assert fig["expected_visits_12m"] == 6.0
    assert fig["clv_base_total_12m"] == 300.0


def test_p_alive_by_phase():
    by = base_figures(_people(), PHASES)["by_phase"]
    assert list(by) == list(PHASES)
    assert by["active"] == {"patients": 1, "mean": 0.9}
    assert by["at_risk"] == {"patients": 2, "mean": pytest.approx(0.3)}
    assert by["lost_2y"] == {"patients": 0, "mean": None}  # nobody: no mean, not 0


def test_without_p_alive_there_is_nothing_to_quote():
    assert base_figures(_people().drop(columns="p_alive"), PHASES) == {}


def test_forecast_totals_add_every_month_of_the_horizon():
    fc = {"monthly": [{"no_action": 100.0, "with_calls": 150.0},
                      {"no_action": 200.0, "with_calls": None}]}  # fmt: skip
    assert horizon_totals(fc) == {"no_action_total": 300.0, "with_calls_total": 150.0}
    assert horizon_totals({"status": "too_little_history"}) == {}


def test_holdout_total_error_is_the_relative_miss_of_the_visits():
    m = model_readings({"holdout": {"predicted_total": 90.0, "actual_total": 120.0}}, {})
    assert m["holdout"]["total_error"] == 0.25  # 90 predicted for 120 actual


def test_cluster_crosstabs_count_base_patients_per_cluster_and_phase():
    from clinic_analysis.models.results import cluster_crosstabs

    people = pd.DataFrame(
        {
            "in_base": [True, True, True, False, True],
            "cluster": ["loyal", "loyal", "new", "loyal", None],
            "phase": ["active", "at_risk", "active", "active", "active"],
            "segment": ["returning", "returning", "new", "returning", "new"],
        }
    )
    ct = cluster_crosstabs(people)
    # the patient outside the base and the one without a cluster are left out
    assert ct["phase"] == {
        "clusters": ["loyal", "new"],
        "columns": ["active", "at_risk"],
        "counts": [[1, 1], [1, 0]],
    }
    assert ct["segment"]["counts"] == [[0, 2], [1, 0]]
    assert cluster_crosstabs(people.drop(columns="cluster")) == {}
