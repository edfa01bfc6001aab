"""The views of sections 7-10 and the summary hand back elements: a table keeps its numbers
in ``.frame`` (the formats make the text), a chart keeps its figure (restyled, it shows
restyled), an empty view renders nothing. The audit here is built by hand with the typed
sections (``audit.refusers.counts``...), so every expected figure is checkable by eye."""

import re
from types import SimpleNamespace as NS

import matplotlib
import pandas as pd
import pytest

from clinic_analysis.measures.activity import PHASES
from clinic_analysis.measures.followup import _totals as followup_totals
from clinic_analysis.measures.readings import refuser_readings
from clinic_analysis.measures.refusers import SEGMENTS
from clinic_analysis.models.results import base_figures, horizon_totals
from clinic_analysis.report import present as P
from clinic_analysis.report import views as V
from clinic_analysis.report.elements import Callout, Chart, Group, Html, Kpis, Table

matplotlib.use("Agg")

AS_OF = pd.Timestamp("2026-10-30")


class _Data:
    """The export's tables and columns: ``has(table, column)`` as ClinicData answers it."""

    def __init__(self, columns: dict[str, set[str]]) -> None:
        self.columns = columns
        self.as_of = AS_OF

    def has(self, table: str, column: str | None = None) -> bool:
        return table in self.columns and (column is None or column in self.columns[table])


def _refusers(**over) -> NS:
    counts = dict.fromkeys(SEGMENTS, 0) | {"plan_stopped": 3, "lapsed": 1}
    values = {
        "counts": counts,
        "refusers_total": 3,
        "fresh_share": 0.6,
        "plan_balance": {"plan_stopped": 4000.0},
        "rates": {
            "plan_stopped": {"conservative": 0.1, "base": 0.2, "optimistic": 0.4},
            "lapsed": {"conservative": 0.05, "base": 0.1, "optimistic": 0.2},
        },
        "potential": {"conservative": 150.0, "base": 300.0, "optimistic": 600.0},
        "potential_by_segment": {
            "plan_stopped": {"conservative": 100.0, "base": 200.0, "optimistic": 400.0},
            "lapsed": {"conservative": 50.0, "base": 100.0, "optimistic": 200.0},
        },
        "at_stake": {
            "total": 500.0,
            "months": 12,
            "open_balances": 100.0,
            "refused_recent": 200.0,
            "refused_older": 300.0,
        },
        "delay_cost": {"base_now": 1000.0, "base_in_1_month": 900.0, "loss_1_month": 100.0},
        "model_value_12m": None,
        "contactable": {"plan_stopped": 3, "lapsed": 1},
        "return_history": {"source": "history", "events": 10, "transactions": 1.5},
        "refusal_reasons": {},
        "delay": None,
    }
    values = values | over
    # the readings compute_audit adds (shares, frozen money, the potential's patients)
    readings = refuser_readings(
        values["counts"], values["at_stake"], values["potential_by_segment"]
    )
    return NS(**(readings | values))


def _context(amounts: bool = True, frames: dict | None = None, **sections) -> V.Context:
    visits = {"amount"} if amounts else set()
    audit = NS(
        params=NS(
            clinic=NS(language="en", currency="BRL"),
            report=NS(branding=NS(colour="#1f6f8b")),
            refusers=NS(gone_elsewhere_share=0.5, gone_elsewhere_months=12),
        ),
        data=_Data({"visits": visits, "patients": set(), "plans": {"amount_total"}}),
        patients=pd.DataFrame(),
        refusers=_refusers(),
        revenue=NS(last_12m=12000.0, growth_12m=0.1),
        repeat=NS(new_patient_retention=0.3, retention_mark=0.5, not_available=[]),
        completeness=NS(contactable=0.8, not_exported=[]),
        data_quality=NS(missing_tables=[]),
        models=NS(status="ok", holdout=None, gamma_gamma=None, clusters=None),
        forecast=NS(
            monthly=[{"no_action": 100.0, "with_calls": 150.0}] * 12,
            total_12m=1200.0,
            backtest=None,
            by_month=None,
            backtest_runs=None,
            **horizon_totals({"monthly": [{"no_action": 100.0, "with_calls": 150.0}] * 12}),
        ),
        calls=NS(sheets={"plan_stopped": 3, "lapsed": 1}, uncontactable={}),
        followup=NS(previous=None, by_segment={}),
        since_last=None,
    )
    for name, value in sections.items():
        setattr(audit, name, value)
    # the tables the views draw are fields of their sections
    where = {"forecast": ("forecast", "by_month"), "delay": ("refusers", "delay")}
    for name, value in (frames or {}).items():
        section, field = where[name]
        setattr(getattr(audit, section), field, value)
    return V.Context(audit)


def _text(element) -> str:
    """The visible text of an element's HTML (tags and images left out)."""
    markup = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", element.html())
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)).replace("\u00a0", " ").strip()


def test_segments_table_frame_holds_counts_shares_and_money():
    table = V.segments_table(_context())
    assert isinstance(table, Table)
    df = table.frame
    assert list(df["patients"]) == [3, 1]  # plan_stopped, lapsed: the segments with patients
    assert list(df["share"]) == [0.75, 0.25]
    assert list(df["potential"]) == [200.0, 100.0]
    assert df["balance"].iloc[0] == 4000.0
    assert "75%" in _text(table) and "R$ 4,000" in _text(table)


def test_scenarios_table_cells_hold_money_and_rate_and_total_holds_money():
    table = V.scenarios_table(_context())
    assert isinstance(table, Table)
    df = table.frame
    assert df["base"].iloc[0] == (200.0, 0.2)
    assert df["base"].iloc[-1] == 300.0  # the total row: money alone
    assert list(df["patients"]) == [3, 1, 4]
    text = _text(table)
    assert "R$ 200 (20%)" in text and "R$ 300" in text and "R$ 300 (" not in text


def test_scenarios_without_amounts_is_a_warning_not_a_table():
    assert isinstance(V.scenarios_table(_context(amounts=False)), Callout)


def test_action_plan_table_keeps_expected_money_as_numbers():
    table = V.action_plan_table(_context())
    assert isinstance(table, Table)
    assert list(table.frame["contact"]) == [3, 1]
    assert list(table.frame["expected"]) == [200.0, 100.0]
    assert "R$ 200" in _text(table)


def test_action_plan_with_nobody_to_call_renders_nothing():
    c = _context(calls=NS(sheets={}, uncontactable={}))
    plan = V.action_plan_table(c)
    assert isinstance(plan, Group) and plan.html() == ""


def test_refusers_kpis_show_a_months_delay_cost():
    kpis = V.refusers_kpis(_context())
    assert isinstance(kpis, Kpis)
    assert kpis.items[3][0].replace("\u00a0", " ") == "R$ 100"  # 1,000 now - 900 in a month


def test_followup_table_frame_holds_counts_rates_and_the_difference():
    by = {
        "plan_stopped": {
            "listed": 10,
            "called": 6,
            "reached": 4,
            "booked": 2,
            "came": 3,
            "came_rate": 0.5,
            "control_came": 1,
            "control_came_rate": 0.25,
            "difference_ci": [-0.1, 0.6],
            "difference": 0.25,
            "revenue": 1500.0,
        }
    }
    fu = NS(previous={"as_of": "2026-04-30"}, by_segment=by, totals=followup_totals(by))
    c = _context(followup=fu)
    table = V.followup_table(c)
    assert isinstance(table, Table)
    row = table.frame.iloc[0]
    assert (row["listed"], row["called"], row["reached"], row["booked"]) == (10, 6, 4, 2)
    assert row["came"] == (3, 0.5) and row["control"] == (1, 0.25)
    assert row["difference"] == (0.25, -0.1, 0.6)
    assert "+25 (−10…+60)" in _text(table)
    assert "3 (50%)" in _text(table)
    assert "10 patients were on" in _text(V.followup_intro(c))


def test_followup_without_a_previous_audit_renders_nothing():
    c = _context()
    assert V.followup_table(c).html() == ""
    assert V.followup_note(c).html() == ""
    assert P.block("Calls", V.followup_table(c), V.followup_note(c)).html() == ""


def test_since_last_table_reads_each_figure_and_skips_unknown_ones():
    since = NS(
        figures=dict(
            base={"then": 100, "now": 120},
            active_base={"then": None, "now": None},
            revenue_12m={"then": 1000.0, "now": 2000.0},
            repeat_rate={"then": 0.4, "now": 0.5},
            **{f"phase_{p}": None for p in ("active", "at_risk", "lapsing", "lost_1y", "lost_2y")},
            **{f"segment_{s}": None for s in SEGMENTS + ("returning_at_risk",)},
        )
    )
    table = V.since_last_table(_context(since_last=since))
    assert isinstance(table, Table)
    assert [x.replace("\u00a0", " ") for x in table.frame["now"]] == ["120", "R$ 2,000", "50%"]


def test_forecast_table_keeps_the_band_as_low_and_high():
    fc = pd.DataFrame(
        {
            "month": pd.to_datetime(["2026-11-01", "2026-12-01"]),
            "no_action": [1000.0, 900.0],
            "no_action_low": [800.0, 700.0],
            "no_action_high": [1200.0, 1100.0],
            "reactivation": [100.0, 100.0],
            "with_calls": [1100.0, 1000.0],
        }
    )
    table = V.forecast_table(_context(frames={"forecast": fc}))
    assert isinstance(table, Table)
    assert table.frame["band"].iloc[0] == (800.0, 1200.0)
    assert list(table.frame["with_calls"]) == [1100.0, 1000.0]
    assert "R$ 800 – R$ 1,200" in _text(table)
    assert "<td>Nov 2026</td>" in table.html()  # the month: a label, left-aligned


def test_restyled_delay_chart_shows_its_new_title():
    delay = pd.DataFrame({"month": [0, 1, 2], "base": [1000.0, 900.0, 800.0]})
    chart = V.delay_chart(_context(frames={"delay": delay}))
    assert isinstance(chart, Chart)
    chart.figure.axes[0].set_title("What waiting costs")
    assert 'alt="What waiting costs' in chart._repr_html_()


def test_delay_chart_without_a_curve_renders_nothing():
    c = _context(frames={})
    assert V.delay_chart(c).html() == ""
    assert P.block("Delay", V.delay_chart(c)).html() == ""


def test_potential_method_without_amounts_leaves_the_block_empty():
    c = _context(amounts=False)
    assert P.block("Method", V.potential_method(c)).html() == ""


def test_executive_summary_adds_up_frozen_money_and_the_forecast():
    summary = V.executive_summary(_context())
    assert isinstance(summary, Html)
    text = _text(summary)
    assert "R$ 600 " in text  # frozen: 100 + 200 + 300
    assert "R$ 1,200 " in text and "R$ 1,800 " in text  # 12 x 100 without calls, 12 x 150 with


def test_methodology_appendix_says_nothing_was_missing():
    c = _context()
    appendix = V.methodology_appendix(c)
    assert isinstance(appendix, Group)
    assert c.t("web.app.nothing_missing") in _text(appendix)
    assert c.t("web.app.no_models") in _text(appendix)


def test_methodology_appendix_quotes_the_chosen_models_holdout_check():
    holdout = {"days": 180, "predicted_total": 1537.5, "actual_total": 1350.0}
    models = NS(status="ok", chosen="pareto", holdout=holdout, gamma_gamma=None, clusters=None)
    text = _text(V.methodology_appendix(_context(models=models)))
    assert "Pareto/NBD (visits) checked on the last 180 days" in text
    assert "1,538 visits predicted, 1,350 made" in text
    assert "BG/NBD" not in text


@pytest.mark.parametrize("phase_means", [(0.9, 0.5), (0.5, 0.9)])
def test_p_alive_by_phase_tabulates_the_mean_per_phase(phase_means):
    hi, lo = phase_means
    patients = pd.DataFrame(
        {
            "in_base": [True, True, True, False],
            "phase": ["active", "active", "at_risk", "active"],
            "p_alive": [hi + 0.05, hi - 0.05, lo, 0.0],
        }
    )
    c = _context()
    c.audit.patients = patients
    p_alive = base_figures(patients.assign(expected_visits_12m=1.0), PHASES)  # as compute does
    c.audit.models.p_alive = p_alive
    group = V.p_alive_by_phase(c)
    table = group.parts[0]
    assert isinstance(table, Table)
    assert list(table.frame["patients"][:2]) == [2, 1]  # the patient outside the base is out
    assert table.frame["p_alive"].iloc[0] == pytest.approx(hi)
    agree = c.t("mod.phase_agree")
    assert (agree in _text(group)) == (hi > lo)
