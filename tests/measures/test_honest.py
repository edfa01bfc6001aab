"""Honest figures (issue 9, items 7-8): a column that is not exported reads "not exported"
(null in metrics.json, never 0) and a section that needs more history than the data hold
says "too little history" instead of printing figures."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

from clinic_analysis.audit import compute_audit
from clinic_analysis.measures.history import TOO_LITTLE_HISTORY
from clinic_analysis.measures.refusers import REFUSER_SEGMENTS
from clinic_analysis.models import clusters as K
from clinic_analysis.params import load_params
from clinic_analysis.report import plots, theme
from clinic_analysis.report import views as V
from tests import worlds

matplotlib.use("Agg")

MONEY_CHARTS = ("plot_monthly", "plot_deciles", "plot_curve", "plot_forecast", "plot_backtest")
HISTORY_CHARTS = (
    "plot_phase_mix",
    "plot_retention",
    "plot_cohorts",
    "plot_forecast",
    "plot_backtest",
    "plot_paired_bars",
    "plot_deciles",
)


@pytest.fixture(scope="module")
def no_amounts(tmp_path_factory):
    return compute_audit(load_params(worlds.no_amounts_clinic(tmp_path_factory.mktemp("a"))))


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    return compute_audit(load_params(worlds.short_history_clinic(tmp_path_factory.mktemp("b"))))


@pytest.fixture
def drawn(monkeypatch):
    """Records which chart helpers a view calls (and draws nothing)."""
    calls: list[str] = []
    for name in dir(plots):
        if name.startswith("plot_"):
            monkeypatch.setattr(plots, name, lambda *a, _n=name, **k: calls.append(_n))
    return calls


def _text(html_obj) -> str:
    return re.sub(r"<[^>]+>", " ", html_obj.data)


# ----------------------------------------------------------------------------- no amounts


def test_the_world_without_amounts_has_visits_but_no_amount_column(no_amounts):
    assert no_amounts.metrics["base"]["visits"] > 500
    assert not no_amounts.data.has("visits", "amount")


def test_without_amounts_money_metrics_are_null_not_zero(no_amounts):
    m = no_amounts.metrics
    counts = {"visit_days", "refund_rows", "window_12m"}  # counts of rows, not money
    money = {k: v for k, v in m["revenue"].items() if k not in counts}
    assert {"total", "gross", "net", "refunds", "average_check", "last_12m"} <= set(money)
    assert all(v is None for v in money.values())
    window = m["revenue"]["window_12m"]
    assert all(window[k] is None for k in ("gross", "refunds", "net", "average_check"))
    assert m["revenue"]["visit_days"] == m["base"]["visits"] > 0
    assert m["refusers"]["at_stake"]["total"] is None
    assert all(v is None for v in m["activity"]["revenue_12m"].values())
    r = m["refusers"]
    assert all(v is None for v in r["potential"].values())
    assert all(v is None for v in r["stake"].values())
    assert all(v is None for v in r["delay_cost"].values())
    assert r["return_history"]["average_check"] is None
    assert all(v is None for s in r["potential_by_segment"].values() for v in s.values())
    assert all(v is None for v in m["base"]["required_growth_for_revenue"].values())
    assert m["models"]["gamma_gamma"] == {"status": "not_exported"}
    assert m["models"]["clv"] == {"status": "not_exported"}
    assert m["forecast"] == {"status": "not_exported"}
    assert no_amounts.patients["revenue"].isna().all()
    assert no_amounts.monthly["revenue"].isna().all()


def test_without_amounts_the_visit_model_still_runs(no_amounts):
    m = no_amounts.metrics["models"]
    assert m["status"] == "ok" and m["chosen"] in m["selection"]
    assert no_amounts.patients["p_alive"].between(0, 1).any()


def test_without_amounts_kpis_read_not_exported(no_amounts):
    c = V.Context(no_amounts)
    glance = _text(V.glance_kpis(c))
    assert glance.count("not exported") == 2  # revenue and average check
    assert "R$" not in glance
    refusers = _text(V.refusers_kpis(c))
    assert refusers.count("not exported") == 3  # at stake, potential, cost of delay
    assert "not exported" in _text(V.models_kpis(c))


def test_without_amounts_no_money_chart_is_drawn(no_amounts, drawn):
    c = V.Context(no_amounts)
    for view in (
        V.glance_monthly_chart,
        V.delay_chart,
        V.clv_chart,
        V.forecast_chart,
        V.backtest_chart,
        V.scenarios_table,
    ):
        html = view(c).data
        assert "Amounts are not exported" in html, view.__name__
        assert "<img" not in html
    assert not set(drawn) & set(MONEY_CHARTS), drawn


def test_without_amounts_the_action_plan_holds_no_money(no_amounts):
    c = V.Context(no_amounts)
    # this world exports no phones or e-mails either: no list, no table, no money; the
    # note the notebook shows under the plan says why
    assert V.action_plan_table(c).data == ""
    text = _text(V.unreachable_note(c))
    assert "Nobody can be contacted in any segment" in text
    assert not re.search(r"R\$\s*\d", text)


def test_without_contacts_the_segments_to_call_are_flagged(no_amounts):
    reach = no_amounts.metrics["refusers"]["contactable"]
    assert reach and all(v is None for v in reach.values())
    c = V.Context(no_amounts)
    text = _text(V.unreachable_note(c))  # shown under the segments table
    assert "Nobody can be contacted in" in text
    assert "no phones or e-mails" in text


def test_a_segment_whose_patients_have_no_valid_phone_is_flagged(short):
    c = V.Context(short)
    assert _text(V.unreachable_note(c)).strip() == ""  # everyone has a phone here
    counts = short.metrics["refusers"]["counts"]
    segment = next(s for s in ("no_show", "consulted_only", "lapsed") if counts[s])
    reach = dict(short.refusers.contactable)
    short.refusers.contactable = {**reach, segment: 0}
    try:
        text = _text(V.unreachable_note(c))
    finally:
        short.refusers.contactable = reach
    assert "Nobody can be contacted in" in text
    assert c.t(f"seg.{segment}") in text


def test_clusters_without_spend_leave_money_out_and_are_not_named_by_it():
    people = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(4)],
            "visits": [1, 1, 8, 1],
            "revenue": [0.0, 0.0, 0.0, 0.0],
            "first_visit": pd.to_datetime(["2024-01-01"] * 4),
            "last_visit": pd.to_datetime(["2024-02-01", "2026-10-01", "2026-10-01", "2024-01-01"]),
        }
    )
    X = K.features(people, pd.Timestamp("2026-10-30"))
    assert "monetary" not in X
    names = K.name_clusters(X.assign(patients=1), X.median())
    assert not any("spender" in n or "high_value" in n for n in names.values())
    assert names["P2"] == "loyal_frequent"  # recent and frequent, spend unknown


def test_a_sleeping_frequent_cluster_with_low_spend_is_no_big_spender():
    profile = pd.DataFrame(
        {
            "recency_days": [400.0],
            "frequency": [6.0],
            "monetary": [100.0],
            "tenure_days": [900.0],
            "patients": [50],
        }
    )
    population = pd.Series(
        {"recency_days": 200.0, "frequency": 2.0, "monetary": 1000.0, "tenure_days": 700.0}
    )
    assert K.name_clusters(profile, population)[0] == "sleeping_frequent"


# ----------------------------------------------------------------------------- short history


def test_the_short_world_covers_six_weeks(short):
    h = short.metrics["history"]
    assert 1.3 <= h["months"] <= 1.5
    assert h["enough"] is False and h["min_months"] == 12


def test_short_history_models_carry_the_status_and_no_figures(short):
    m = short.metrics
    assert m["models"]["status"] == TOO_LITTLE_HISTORY
    assert "bgnbd" not in m["models"] and "clv" not in m["models"]
    assert m["forecast"]["status"] == TOO_LITTLE_HISTORY and "total_12m" not in m["forecast"]
    assert "p_alive" not in short.patients and "expected_visits_12m" not in short.patients


def test_short_history_activity_limits_and_retention_carry_the_status(short):
    m = short.metrics
    assert m["activity"]["status"] == TOO_LITTLE_HISTORY
    assert "thresholds_days" not in m["activity"] and "counts" not in m["activity"]
    assert m["repeat"]["new_patient_retention"] is None
    assert m["repeat"]["retention_status"] == TOO_LITTLE_HISTORY
    assert m["base"]["growth_12m"] is None and m["revenue"]["growth_12m"] is None
    assert short.repeat.cohorts.empty and short.repeat.retention_by_month.empty


def test_short_history_phases_use_the_stated_defaults_not_six_week_artefacts(short):
    # six weeks of visits would give limits of about a month from the rhythm of intervals
    seen = short.patients.loc[short.patients["visits"] > 0, "phase"]
    assert (seen == "active").all()


def test_short_history_views_say_so_and_draw_nothing(short, drawn):
    c = V.Context(short)
    for view in (V.activity_intro, V.models_intro, V.repeat_retention_chart, V.repeat_cohort_chart):
        text = _text(view(c))
        assert "The data cover 1.4 months of history" in text, view.__name__
        assert "at least 12" in text
    for view in (V.activity_table, V.activity_reading, V.activity_mix_chart, V.models_kpis):
        assert view(c).data == "", view.__name__
    for view in (V.p_alive_by_phase, V.holdout_chart, V.clv_chart, V.forecast_chart):
        assert view(c).data == "", view.__name__
    assert V.clusters_block(c).data == "" and V.backtest_chart(c).data == ""
    assert "at least 24" in _text(V.glance_reading(c))
    assert "too little history" in _text(V.dynamics_kpis(c))
    assert not set(drawn) & set(HISTORY_CHARTS), drawn


def test_short_history_flow_chart_spans_only_the_covered_months(short, monkeypatch):
    seen = {}
    monkeypatch.setattr(plots, "plot_flow", lambda flow, **k: seen.setdefault("flow", flow))
    V.dynamics_flow_chart(V.Context(short))
    assert list(seen["flow"]["month"].dt.strftime("%Y-%m")) == ["2026-09", "2026-10"]


# ----------------------------------------------------------------------------- month axes


def test_month_ticks_are_one_per_month_on_two_months_of_data():
    months = pd.to_datetime(["2026-09-01", "2026-10-01"])
    assert theme.month_ticks(months) == list(months)


def test_month_ticks_thin_out_a_long_span_and_never_repeat_a_month():
    months = pd.date_range("2021-11-01", periods=60, freq="MS")
    ticks = theme.month_ticks(months)
    assert len(ticks) <= theme.MAX_MONTH_TICKS
    assert len({t.strftime("%Y-%m") for t in ticks}) == len(ticks)


def test_a_monthly_chart_of_two_months_has_unique_labels_and_no_empty_years():
    monthly = pd.DataFrame(
        {
            "month": pd.to_datetime(["2026-09-01", "2026-10-01"]),
            "new_patients": [120, 80],
            "base": [120, 200],
        }
    )
    ax = plots.plot_new_patients(monthly, month_fmt=lambda d: d.strftime("%b %Y"))
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["Sep 2026", "Oct 2026"]
    lo, hi = (matplotlib.dates.num2date(x).date() for x in ax.get_xlim())
    assert lo.isoformat() >= "2026-08-01" and hi.isoformat() <= "2026-11-30"


# ----------------------------------------------------------------------------- readings


def test_model_and_phases_agree_only_when_p_alive_never_rises():
    assert V.phases_agree(pd.Series([0.95, 0.70, 0.40, 0.20, 0.05]))
    assert not V.phases_agree(pd.Series([0.95, 0.70, 0.75, 0.20, 0.05]))
    # a rise the table shows (83% -> 84%) is a disagreement, an empty phase is skipped
    assert not V.phases_agree(pd.Series([0.90, 0.83, 0.84, np.nan, 0.10]))
    assert V.phases_agree(pd.Series([0.90, 0.831, 0.834, np.nan, 0.10]))


def test_the_refuser_kpi_counts_the_refuser_rows_of_the_segments_table(no_amounts):
    c = V.Context(no_amounts)
    kpi = _text(V.refusers_kpis(c))
    n = int(re.search(r"refusers \(segments: (\d+)\)", kpi).group(1))
    table = V.segments_table(c).data
    rows = [c.t(f"seg.{s}") for s in REFUSER_SEGMENTS]
    shown = sum(f"<td>{r}</td>" in table for r in rows)
    assert (
        n
        == shown
        == len([s for s in REFUSER_SEGMENTS if no_amounts.metrics["refusers"]["counts"][s]])
    )


def test_the_retention_sentence_follows_the_retention_figure(no_amounts):
    c = V.Context(no_amounts)
    r = no_amounts.repeat
    saved = r.new_patient_retention
    try:
        r.new_patient_retention = 0.9
        assert "above the industry mark" in _text(V.repeat_reading(c))
        r.new_patient_retention = 0.2
        assert "below the industry mark" in _text(V.repeat_reading(c))
        r.new_patient_retention = None
        assert "industry mark" not in _text(V.repeat_reading(c))
    finally:
        r.new_patient_retention = saved


def test_the_dynamics_reading_compares_years_only_with_two_years_of_data(no_amounts, short):
    long_text = _text(V.dynamics_reading(V.Context(no_amounts)))
    short_text = _text(V.dynamics_reading(V.Context(short)))
    assert "changed by" in long_text and "too few to compare" not in long_text
    assert "too few to compare" in short_text and "changed by" not in short_text


# ----------------------------------------------------------------------------- whole reports


def _report_html(params_path, out) -> str:
    from clinic_analysis.report.pipeline import build_report

    build_report(params_path, out_dir=out, formats=["html"], log=lambda s: None)
    html = (out / "audit.html").read_text(encoding="utf-8")
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    return {
        "no_amounts": _report_html(worlds.no_amounts_clinic(folder / "a"), folder / "a-out"),
        "short": _report_html(worlds.short_history_clinic(folder / "b"), folder / "b-out"),
    }


def _blocks(html: str) -> list[str]:
    """The report body as a sequence of headings and content blocks."""
    body = html.split("<main", 1)[1]
    pattern = r'<h2|<h3|<img|<table|<p[ >]|<div class="callout|<div class="kpis'
    return [m.group(0) for m in re.finditer(pattern, body)]


CURRENCY_ZERO = re.compile(r"R\$\s?0(?![\d.,])|(?<![\d.,])0\s?(₴|UAH)|UAH\s?0(?![\d.,])")


@pytest.mark.slow
@pytest.mark.parametrize("world", ["no_amounts", "short"])
def test_the_report_prints_no_currency_zero(reports, world):
    text = re.sub(r"<[^>]+>", " ", reports[world]).replace("\u00a0", " ")
    assert not CURRENCY_ZERO.search(text), CURRENCY_ZERO.search(text)


@pytest.mark.slow
@pytest.mark.parametrize("world", ["no_amounts", "short"])
def test_the_report_has_no_heading_without_content(reports, world):
    blocks = _blocks(reports[world])
    assert blocks.count("<h2") >= 9
    for here, after in zip(blocks, [*blocks[1:], "<end"], strict=True):
        if here in ("<h2", "<h3"):
            assert after not in ("<h3", "<end") and not (here == "<h3" and after == "<h2"), blocks


@pytest.mark.slow
def test_the_short_report_shows_no_model_figure(reports):
    html = reports["short"]
    for label in ("mean P(alive) of the base", "expected visits in 12 months", "revenue forecast"):
        assert label not in html
    assert "The data cover 1.4 months of history; this needs at least 12" in html
    assert "≤ 30" not in html and "31–31" not in html


@pytest.mark.slow
def test_the_report_without_amounts_says_not_exported(reports):
    html = reports["no_amounts"]
    assert html.count("not exported") >= 10
    assert "Amounts are not exported with the visits" in html
    assert "big spenders" not in html and "high-value" not in html


def test_without_amounts_a_list_to_call_shows_its_value_as_not_exported(no_amounts):
    import copy

    audit = copy.deepcopy(no_amounts)
    audit.calls.sheets = {"no_show": 3}  # as if phones had been exported
    text = _text(V.action_plan_table(V.Context(audit)))
    assert "not exported" in text and not re.search(r"R\$\s*\d", text)
