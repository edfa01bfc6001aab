"""The typed results (issue 11): one section per section of metrics.json, serialised in one
place with the keys, order and absences metrics.json always had."""

import pickle

import pytest

from clinic_analysis.audit import SECTIONS, compute_audit
from clinic_analysis.measures import followup
from clinic_analysis.measures.results import Activity, Repeat
from clinic_analysis.models.results import Forecast, Models
from tests.ingest.test_load import STATUS, VISIT_COLS, VISITS, _visits_params, make_params

# the keys of each section, in order, on the tiny clinic of tests/ingest/test_load.py (three
# months of history: too little for the yearly figures, the activity phases and the models)
BASE_KEYS = [
    "patients", "patient_rule", "by_rule", "visits", "first_visit", "last_visit",
    "new_by_month", "active_base", "growth_12m", "new_last_12m", "new_prev_12m",
    "required_growth_for_revenue", "required_growth_inputs", "flow_by_month",
    "pre_appointment_rate", "new_growth_12m", "flow_last_12m",
]  # fmt: skip
REVENUE_KEYS = [
    "total", "gross", "refunds", "net", "visit_days", "refund_rows", "average_check",
    "last_12m", "prev_12m", "growth_12m", "window_12m", "first_visits", "repeat_visits",
    "repeat_share", "best_month_12m",
]  # fmt: skip
SHORT_REPEAT_KEYS = [
    "patients", "rate", "rate_lifetime", "median_days_to_second", "returned_within",
    "status_12m", "eligible_12m", "returned_12m", "rate_12m", "rate_12m_ci",
    "new_patient_retention", "retention_status", "retention_mark", "min_group_size",
    "breakdown_basis", "not_available", "pooled_groups",
]  # fmt: skip


@pytest.fixture
def tiny(tmp_path):
    audit = compute_audit(_visits_params(tmp_path))
    followup.attach(audit, None)
    return audit


def test_metrics_holds_every_section_in_order(tiny):
    assert list(tiny.metrics) == list(SECTIONS)


def test_sections_keep_their_keys_in_order(tiny):
    m = tiny.metrics
    assert list(m["base"]) == BASE_KEYS
    assert list(m["revenue"]) == REVENUE_KEYS
    assert list(m["clinic"]) == ["name", "slug", "as_of", "currency", "language"]
    assert list(m["ledger"]) == ["mis"]  # the systems are the ledger's keys
    assert list(m["history"]) == [
        "months", "min_months", "enough", "year_on_year_months", "year_on_year"
    ]  # fmt: skip
    assert list(m["calls"]) == ["sheets", "uncontactable"]
    assert m["followup"] == {"previous": None, "by_segment": {}}
    assert m["since_last"] == {}


def test_too_little_history_leaves_the_keys_out_as_before(tiny):
    m = tiny.metrics
    assert m["history"]["enough"] is False
    assert list(m["activity"]) == ["status", "mix_by_month"]  # no phases, no readings
    assert list(m["repeat"]) == SHORT_REPEAT_KEYS  # no breakdown by doctor, cohort, ...
    assert list(m["models"]) == ["status", "months", "min_months"]
    assert list(m["forecast"]) == ["status", "months", "min_months"]


def test_tables_the_report_draws_are_not_written(tiny):
    m = tiny.metrics
    assert tiny.refusers.segments is not None and "segments" not in m["refusers"]
    assert tiny.base.flow is not None and "flow" not in m["base"]
    assert "phase_mix" not in m["activity"] and "breakdowns" not in m["repeat"]


def test_metrics_is_read_only_and_follows_the_sections(tiny):
    with pytest.raises(AttributeError):
        tiny.metrics = {}
    tiny.repeat.rate = 0.5
    assert tiny.metrics["repeat"]["rate"] == 0.5


def test_an_unset_key_is_absent_and_a_none_is_written():
    fc = Forecast(status="too_little_history", months=3.0, min_months=12)
    assert fc.as_metrics() == {"status": "too_little_history", "months": 3.0, "min_months": 12}
    assert fc.total_12m is None and not fc.has("total_12m")  # reads None, not written
    m = Models(status="too_few_repeaters", chosen=None)
    assert m.as_metrics() == {"status": "too_few_repeaters", "chosen": None}


def test_a_stage_key_without_a_field_is_an_error():
    with pytest.raises(TypeError, match="rate_13m"):
        Activity.from_metrics({"mix_by_month": [], "rate_13m": 1})


def test_an_absent_key_stays_absent_through_the_cache_pickle():
    r = Repeat.from_metrics(
        {k: None for k in SHORT_REPEAT_KEYS if k != "retention_status"},
    )
    again = pickle.loads(pickle.dumps(r))
    assert list(again.as_metrics()) == [k for k in SHORT_REPEAT_KEYS if k != "retention_status"]


def test_without_amounts_money_is_null_and_counts_stay(tmp_path):
    cols = {k: v for k, v in VISIT_COLS.items() if k != "amount"}
    params = make_params(
        tmp_path,
        {"v.csv": ("visits", VISITS, {"columns": cols, "values": STATUS})},
        clinic={"as_of": "2024-04-30"},
    )
    m = compute_audit(params).metrics
    assert list(m["revenue"]) == REVENUE_KEYS
    assert m["revenue"]["total"] is None and m["revenue"]["best_month_12m"] is None
    assert m["revenue"]["visit_days"] == 2  # P1 once (two visits one day), P2: not money
    assert m["base"]["by_rule"]["paid"] is None


def test_patients_nobody_can_reach_are_counted_and_unknown_without_contacts(tmp_path, tiny):
    # P1 has a valid phone, P2 a number that is not one: one of the two patients is unreachable
    cards = "Код;ПІБ;Телефон\nP1;Олена Коваль;067 123 45 67\nP2;Іван Бойко;123\n"
    params = make_params(
        tmp_path,
        {
            "v.csv": ("visits", VISITS, {"columns": VISIT_COLS, "values": STATUS}),
            "p.csv": (
                "patients",
                cards,
                {"columns": {"patient_id": "Код", "full_name": "ПІБ", "phone": "Телефон"}},
            ),
        },
        clinic={"as_of": "2024-04-30"},
    )
    comp = compute_audit(params).completeness
    assert (comp.contactable, comp.uncontactable) == (0.5, 1)
    assert tiny.completeness.contactable is None and tiny.completeness.uncontactable is None
