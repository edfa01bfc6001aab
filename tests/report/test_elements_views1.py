"""The views of sections 1-6 hand back elements: a table keeps its numbers in ``.frame``, a
chart its ``.figure`` (restyled, it shows restyled), nothing to show is an empty element.

Each test builds the few typed results a view reads by hand (an audit with no
``metrics`` dict at all: the views read fields, never metrics.json paths)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from clinic_analysis.i18n import Catalog, Formatter
from clinic_analysis.measures import readings
from clinic_analysis.measures.history import TOO_LITTLE_HISTORY
from clinic_analysis.report import present as P
from clinic_analysis.report import views as V
from clinic_analysis.report.elements import Callout, Chart, Group, Kpis, Paragraph, Table

matplotlib.use("Agg")


def _context(amounts: bool = True, **sections) -> SimpleNamespace:
    """A context over hand-built typed results (the tables the views draw are their fields)."""
    history = SimpleNamespace(
        months=60.0, min_months=12, enough=True, year_on_year_months=24, year_on_year=True
    )
    audit = SimpleNamespace(
        data=SimpleNamespace(has=lambda table, column: amounts),
        base=SimpleNamespace(first_visit=None, patients=10),
        history=history,
        params=SimpleNamespace(patient_rule="came"),
    )
    for name, value in sections.items():
        setattr(audit, name, value)
    return SimpleNamespace(audit=audit, t=Catalog("en"), f=Formatter("en", "UAH"))


def _cells(element) -> list[list[str]]:
    soup = BeautifulSoup(element.html(), "html.parser")
    return [
        [td.get_text().replace("\u00a0", " ") for td in tr.find_all(["td", "th"])]
        for tr in soup.find_all("tr")
    ]


def _alt(element) -> str:
    return BeautifulSoup(element._repr_html_(), "html.parser").find("img")["alt"]


PHASE_COUNTS = {"active": 6, "at_risk": 2, "lapsing": 2, "lost_1y": 0, "lost_2y": 0}


def _activity(**overrides) -> SimpleNamespace:
    fields = dict(
        status=None,
        thresholds_days={"active": 90, "at_risk": 180},
        counts=PHASE_COUNTS,
        revenue_12m={
            "active": 6000.0,
            "at_risk": 1500.0,
            "lapsing": 500.0,
            "lost_1y": 0.0,
            "lost_2y": 0.0,
        },
    )
    fields = fields | overrides
    fields.setdefault("shares", readings.shares(fields["counts"]))  # as compute_measures does
    return SimpleNamespace(**fields)


def test_activity_table_frame_holds_each_phase_count_share_and_revenue():
    table = V.activity_table(_context(activity=_activity()))
    assert isinstance(table, Table)
    df = table.frame
    assert df["patients"].tolist() == [6, 2, 2, 0, 0]
    assert df["share"].tolist() == pytest.approx([0.6, 0.2, 0.2, 0.0, 0.0])
    assert df["revenue"].tolist() == [6000.0, 1500.0, 500.0, 0.0, 0.0]
    assert df["days"].tolist() == ["≤ 90", "91–180", "181–365", "366–730", "> 730"]
    first_row = _cells(table)[1]
    assert first_row[2:5] == ["6", "60%", "UAH 6,000"]


def test_required_growth_table_keeps_targets_and_base_growth_as_numbers():
    base = SimpleNamespace(first_visit=None, required_growth_for_revenue={"0.1": 0.05, "0.2": 0.15})
    table = V.required_growth_table(_context(base=base))
    assert isinstance(table, Table)
    assert table.frame["target"].tolist() == [0.1, 0.2]
    assert table.frame["base"].tolist() == [0.05, 0.15]
    assert _cells(table)[1:] == [["10%", "5%"], ["20%", "15%"]]
    assert 'class="num"' in table.html()  # both columns stay right-aligned


def test_required_growth_table_without_amounts_is_a_warning_not_a_table():
    base = SimpleNamespace(first_visit=None, required_growth_for_revenue={"0.1": 0.05})
    out = V.required_growth_table(_context(amounts=False, base=base))
    assert isinstance(out, Callout) and out.kind == "warn"


def test_patients_by_rule_frame_keeps_a_missing_count_missing():
    base = SimpleNamespace(first_visit=None, by_rule={"booked": 120, "came": 100, "paid": None})
    table = V.base_by_rule_table(_context(base=base))
    assert isinstance(table, Table)
    assert table.frame["patients"].tolist()[:2] == [120, 100]
    assert table.frame["patients"].isna().tolist() == [False, False, True]
    assert [row[1] for row in _cells(table)[1:]] == ["120", "100", "not exported"]
    assert _cells(table)[2][0].endswith("✓")  # the chosen rule


def test_completeness_by_year_shows_the_last_six_years_and_no_contact_row_without_contacts():
    years = [str(y) for y in range(2018, 2026)]
    by_year = pd.DataFrame(
        {"year": years, "phone": [0.5] * 8, "email": [0.25] * 8, "contactable": [0.6] * 8}
    )
    c = _context(completeness=SimpleNamespace(contactable=None, by_year_table=by_year))
    table = V.completeness_by_year_table(c)
    assert isinstance(table, Table)
    assert list(table.frame.columns) == ["field", *years[2:]]
    assert table.frame["field"].tolist() == ["phone (valid)", "e-mail (valid)"]
    assert table.frame["2025"].tolist() == [0.5, 0.25]
    assert _cells(table)[1][1:3] == ["50%", "50%"]


def _breakdown() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group": ["Dr A", "Dr B", "__other__"],
            "patients": [40, 30, 12],
            "rate": [0.5, 0.4, 0.25],
            "low": [0.35, 0.25, 0.09],
            "high": [0.65, 0.57, 0.53],
            "pooled_groups": [0, 0, 3],
        }
    )


def test_repeat_breakdown_is_a_chart_a_table_and_the_pooled_note():
    repeat = SimpleNamespace(
        not_available=[],
        rate_12m=0.42,
        min_group_size=10,
        breakdowns={"by_doctor": _breakdown()},
        pooled_groups={"by_doctor": 3},
    )
    c = _context(repeat=repeat)
    out = V.repeat_breakdown(c, "by_doctor")
    assert isinstance(out, Group)
    chart, table, note = out.parts
    assert isinstance(chart, Chart) and isinstance(table, Table) and isinstance(note, Paragraph)
    assert table.frame["label"].tolist() == ["Dr A", "Dr B", "other (small groups)"]
    assert table.frame["patients"].tolist() == [40, 30, 12]
    assert table.frame["rate"].tolist() == [0.5, 0.4, 0.25]
    assert _cells(table)[1] == ["Dr A", "40", "50%", "35%–65%"]
    assert "fewer than 10 patients (3)" in note.text
    # the group shows its parts in order, nothing else
    assert out.html() == chart.html() + table.html() + note.html()


def test_a_breakdown_that_was_not_exported_says_so():
    repeat = SimpleNamespace(
        not_available=["by_channel"], rate_12m=0.42, min_group_size=10, breakdowns={}
    )
    out = V.repeat_breakdown(_context(repeat=repeat), "by_channel")
    assert isinstance(out, Callout) and out.kind == "warn"


def test_a_restyled_chart_shows_its_new_title_next_time():
    days = pd.DataFrame({"days_to_second": [10, 20, 30, 200]})
    c = _context(repeat=SimpleNamespace(days_to_second=days))
    chart = V.repeat_days_chart(c)
    assert isinstance(chart, Chart)
    old = c.t("rep.chart.days")
    assert _alt(chart).startswith(old)
    chart.figure.axes[0].set_title("Return speed 4711")
    alt = _alt(chart)
    assert alt.startswith("Return speed 4711") and old not in alt
    assert c.t("rep.caption.days").rstrip(".") in alt  # the reading stays


def test_too_little_history_leaves_the_phase_table_empty_and_its_block_without_heading():
    c = _context(activity=SimpleNamespace(status=TOO_LITTLE_HISTORY))
    table = V.activity_table(c)
    assert isinstance(table, Group) and not table and table.html() == ""
    assert P.block("Phases", table, V.activity_reading(c)).html() == ""
    assert P.block("Phases", table, V.activity_intro(c)).html().startswith("<h3")


def test_no_flow_and_no_required_growth_render_nothing():
    base = SimpleNamespace(
        first_visit=None,
        required_growth_for_revenue={},
        required_growth_inputs={},
        flow=None,
        flow_last_12m=None,
    )
    c = _context(base=base)
    for out in (V.dynamics_reading(c), V.required_growth_reading(c)):
        assert isinstance(out, Group) and out.html() == ""
    assert isinstance(V.dynamics_flow_chart(c), Callout)  # the chart's place says why


def test_warnings_are_one_callout_each_or_one_saying_all_is_well():
    dq = SimpleNamespace(warnings={"id_collisions": 3}, missing_tables=["plans"])
    out = V.warnings_block(_context(data_quality=dq))
    assert isinstance(out, Group)
    assert [(type(p), p.kind) for p in out.parts] == [(Callout, "warn"), (Callout, "warn")]
    assert "3 patient ids" in out.parts[0].text
    calm = V.warnings_block(_context(data_quality=SimpleNamespace(warnings={}, missing_tables=[])))
    assert [p.kind for p in calm.parts] == ["info"]


def test_kpis_read_typed_fields_and_mark_missing_contacts_not_exported():
    comp = SimpleNamespace(
        fields={"phone": 0.8, "email": None}, contactable=None, mean_score=0.5, not_exported=[]
    )
    kpis = V.completeness_kpis(_context(completeness=comp))
    assert isinstance(kpis, Kpis)
    assert [v for v, _ in kpis.items] == ["not exported", "80%", "not exported", "50%"]


def test_completeness_reading_counts_the_patients_who_cannot_be_reached():
    comp = SimpleNamespace(contactable=0.7, not_exported=["messenger"], uncontactable=3)
    text = V.completeness_reading(_context(completeness=comp)).text  # 10 patients, 70% reachable
    assert text.startswith("70% of patients can be reached")
    assert "3 cannot" in text and "Fields not exported: messenger;" in text
