"""The analyst's desk: plain notebook cells reach the report in its style.

``frame_html`` is checked on a hand-built frame; the end-to-end test appends a plain
seaborn chart (``plt.show()``) and a plain DataFrame to a copy of the report notebook and
renders it through :func:`clinic_analysis.report.pipeline.build_report`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from clinic_analysis.i18n import Catalog, Formatter
from clinic_analysis.report.display import MAX_ROWS, frame_html
from tests.conftest import ROOT


def _spaces(text: str) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", text)


def _cells(html: str) -> list[list[str]]:
    soup = BeautifulSoup(html, "html.parser")
    return [
        [_spaces(td.get_text()) for td in tr.find_all(["td", "th"])] for tr in soup.find_all("tr")
    ]


def test_plain_dataframe_is_formatted_in_the_report_language():
    df = pd.DataFrame(
        {
            "revenue": [1234567.5, -1000.0],
            "visits": [3, 12],
            "first_visit": pd.to_datetime(["2026-10-31", "2025-01-02"]),
            "share": [0.25, 0.5],
        }
    )
    rows = _cells(frame_html(df, Formatter("uk", "UAH"), Catalog("uk")))
    assert rows[0] == ["revenue", "visits", "first_visit", "share"]  # no index column
    assert rows[1] == ["1 234 568 ₴", "3", "31.10.2026", "25,0%"]
    assert rows[2] == ["-1 000 ₴", "12", "02.01.2025", "50,0%"]
    en = _cells(frame_html(df, Formatter("en", "UAH"), Catalog("en")))
    assert en[1] == ["UAH 1,234,568", "3", "2026-10-31", "25.0%"]


def test_named_index_becomes_a_column_and_attrs_name_money_columns():
    df = pd.DataFrame({"doctor": ["A", "B"], "x": [1500.0, 250.0]}).set_index("doctor")
    df.attrs["money"] = ["x"]
    rows = _cells(frame_html(df, Formatter("en", "USD"), Catalog("en")))
    assert rows == [["doctor", "x"], ["A", "US$ 1,500"], ["B", "US$ 250"]]


def test_a_long_frame_shows_its_first_rows_and_says_so():
    df = pd.DataFrame({"visits": range(MAX_ROWS + 25)})
    html = frame_html(df, Formatter("en", "UAH"), Catalog("en"))
    assert len(_cells(html)) == MAX_ROWS + 1
    assert f"The first {MAX_ROWS} rows of {MAX_ROWS + 25}." in html


# --------------------------------------------------------------------------- end to end

CHART_TITLE = "Analyst chart 7431"
ANALYST_CELLS = [
    "import matplotlib.pyplot as plt\n"
    "import seaborn as sns\n"
    'ax = sns.barplot(x=["Mon", "Tue", "Wed"], y=[12, 30, 21])\n'
    f'ax.set_title("{CHART_TITLE}")\n'
    "plt.show()",
    'import pandas as pd\npd.DataFrame({"revenue": [9401920.0, 512.0], "visits": [1200, 3]})',
]


@pytest.fixture(scope="module")
def analyst_report(small_demo, tmp_path_factory):
    from clinic_analysis.report.pipeline import build_report

    folder = tmp_path_factory.mktemp("analyst")
    nb = nbformat.read(ROOT / "notebooks" / "audit.ipynb", as_version=4)
    for source in ANALYST_CELLS:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    path = folder / "audit.ipynb"
    nbformat.write(nb, path)
    formats = ["html", "pdf"] if shutil.which("pdftotext") else ["html"]
    out = folder / "out"
    build_report(small_demo, out_dir=out, notebook=path, formats=formats, log=lambda s: None)
    return out


@pytest.mark.slow
def test_plain_chart_and_dataframe_added_at_the_end_reach_the_html(analyst_report):
    soup = BeautifulSoup((analyst_report / "audit.html").read_text("utf-8"), "html.parser")
    charts = [img for img in soup.select("main figure.chart img") if img["alt"] == CHART_TITLE]
    assert len(charts) == 1  # shown once (plt.show), not again at the end of the cell
    last_table = soup.select("main table")[-1]
    rows = [[_spaces(c.get_text()) for c in tr.find_all(["td", "th"])] for tr in last_table("tr")]
    assert rows == [["revenue", "visits"], ["9 401 920 ₴", "1 200"], ["512 ₴", "3"]]
    assert "9401920.0" not in soup.get_text()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler")
def test_plain_chart_and_dataframe_added_at_the_end_reach_the_pdf(analyst_report):
    pdf = analyst_report / "audit.pdf"
    text = _spaces(
        subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    )
    assert "9 401 920 ₴" in text
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True)
    images = [ln.split() for ln in listing.stdout.splitlines()[2:]]
    soup = BeautifulSoup((analyst_report / "audit.html").read_text("utf-8"), "html.parser")
    assert sum(1 for row in images if row[2] == "image") == len(soup.select("main img"))


@pytest.mark.slow
def test_report_has_summary_first_nav_alt_texts_and_no_explanations(analyst_report):
    html = (analyst_report / "audit.html").read_text("utf-8")
    soup = BeautifulSoup(html, "html.parser")
    order = [el.name + "." + el.get("class", [""])[0] for el in soup.body.find_all(recursive=False)]
    assert order[:3] == ["header.cover", "section.summary", "nav.toc"]
    actions = soup.select("section.summary ol.actions a")
    assert len(actions) == 3
    ids = {el["id"] for el in soup.find_all(id=True)}
    assert all(a["href"].lstrip("#") in ids for a in actions)
    nav = soup.select("nav.sections a")
    assert [a.get_text() for a in nav] == [h.get_text() for h in soup.select("main h2")]
    assert all(img.get("alt", "").strip() for img in soup.select("main img"))
    assert "report-hide" not in html and "Add your own section" not in html
    assert soup.select("main dl.glossary dt")


@pytest.mark.slow
def test_an_unchanged_notebook_is_reused_and_an_edited_one_runs(analyst_report, small_demo):
    from clinic_analysis.report.pipeline import build_report

    nb_path = analyst_report.parent / "audit.ipynb"
    out = analyst_report.parent / "again"
    logs: list[str] = []
    build_report(small_demo, out_dir=out, notebook=nb_path, formats=["html"], log=logs.append)
    assert any("outputs reused" in line for line in logs)
    assert (out / "audit.html").read_bytes() == (analyst_report / "audit.html").read_bytes()
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("## Edited section 5150"))
    edited = analyst_report.parent / "edited.ipynb"
    nbformat.write(nb, edited)
    logs.clear()
    build_report(small_demo, out_dir=out, notebook=edited, formats=["html"], log=logs.append)
    assert any("notebook executed" in line for line in logs)
    assert "Edited section 5150" in (out / "audit.html").read_text("utf-8")


def test_a_stored_notebook_altered_or_for_other_inputs_is_not_reused(tmp_path):
    from clinic_analysis.report.reuse import EXECUTED_ENTRY, read_executed, write_executed

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("stored 42")])
    write_executed(tmp_path, "key-a", nb)
    assert read_executed(tmp_path, "key-a").cells[0].source == "stored 42"
    assert read_executed(tmp_path, "key-b") is None
    entry = tmp_path / EXECUTED_ENTRY
    entry.write_bytes(entry.read_bytes().replace(b"stored 42", b"stored 43"))
    assert read_executed(tmp_path, "key-a") is None


# --------------------------------------------------------------------------- the owner's page


class _Section(SimpleNamespace):
    """A typed result section as the views read it: a figure not given is ``None``."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return None


def _context(metrics: dict):
    """An audit whose sections (``audit.refusers``...) hold the given figures, the rest None;
    the readings compute_audit adds (frozen money, the forecast's totals) computed as it does."""
    from clinic_analysis.measures.readings import refuser_readings
    from clinic_analysis.models.results import horizon_totals

    sections = {
        name: _Section(**metrics.get(name, {}))
        for name in ("refusers", "forecast", "revenue", "repeat", "completeness", "calls")
    }
    r = metrics.get("refusers", {})
    sections["refusers"].frozen = refuser_readings({}, r.get("at_stake", {}), {})["frozen"]
    for k, v in horizon_totals(metrics.get("forecast", {})).items():
        setattr(sections["forecast"], k, v)
    audit = SimpleNamespace(data=SimpleNamespace(as_of=pd.Timestamp("2026-10-31")), **sections)
    return SimpleNamespace(audit=audit, t=Catalog("en"), f=Formatter("en", "UAH"))


def test_summary_frozen_money_holds_every_refused_and_stopped_plan_and_missing_is_marked():
    from clinic_analysis.report.views import executive_summary

    metrics = {
        "refusers": {
            # frozen = every stopped balance and refused plan; at stake = its windowed part
            "at_stake": {
                "total": 2000.0,
                "open_balances": 500.0,
                "refused_recent": 1500.0,
                "refused_older": 1000.0,
            },
            "potential": {"base": 800.0},
            "potential_by_segment": {
                "plan_refused": {"base": 300.0},
                "no_show": {"base": 500.0},
                "lapsed": {"base": 100.0},
            },
        },
        "calls": {"sheets": {"plan_refused": 4, "no_show": 9, "lapsed": 2}},
        "repeat": {"new_patient_retention": 0.4, "retention_mark": 0.6},
    }
    soup = BeautifulSoup(executive_summary(_context(metrics)).data, "html.parser")
    money = [_spaces(v.get_text()) for v in soup.select(".money .v")]
    assert money == ["UAH 3,000", "UAH 2,000", "UAH 800", "not exported", "not exported"]
    actions = [(a["href"], _spaces(a.parent.get_text())) for a in soup.select("ol.actions a")]
    assert [href for href, _ in actions] == ["#sec-plan", "#sec-plan", "#sec-repeat"]
    assert "call 9 patients" in actions[0][1] and "call 4 patients" in actions[1][1]
    assert "40%" in actions[2][1]
    numbers = [_spaces(li.get_text()) for li in soup.select("ul li")]
    assert "Revenue of the last 12 months: not exported (not exported" in numbers[0]


def test_a_new_follow_up_reading_runs_the_notebook_again(tmp_path):
    """The follow-up is attached after the cached compute (history/ is read on each run):
    figures that change there must not reuse the last run's notebook outputs."""
    from types import SimpleNamespace

    from clinic_analysis.report.pipeline import NOTEBOOK
    from clinic_analysis.report.reuse import notebook_key

    params = tmp_path / "p.yaml"
    before = SimpleNamespace(cache_key="k", metrics={"followup": {"by_segment": {}}})
    after = SimpleNamespace(cache_key="k", metrics={"followup": {"by_segment": {"no_show": 1}}})
    assert notebook_key(NOTEBOOK, params, before) != notebook_key(NOTEBOOK, params, after)
    assert notebook_key(NOTEBOOK, params, before) == notebook_key(NOTEBOOK, params, before)


def test_a_kernel_started_ahead_runs_the_notebook_with_its_imports_done_and_counts_from_one(
    tmp_path,
):
    """The early kernel imports what the first cell needs silently: the notebook's first cell
    finds them loaded, and the executed notebook is numbered as if nothing ran before."""
    from clinic_analysis.report.execute import EarlyKernel, execute_notebook

    path = _probe_notebook(tmp_path)
    kernel = EarlyKernel(tmp_path)
    try:
        done = execute_notebook(path, tmp_path / "out.ipynb", path, tmp_path, kernel=kernel)
    finally:
        kernel.close()
    code = [c for c in done.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, 3]  # parameters injected, then ours
    # seaborn (~2 s) is left for a notebook that draws
    assert code[-1].outputs[0]["text"].split() == ["views", "no-seaborn"]
    assert not kernel.km.has_kernel  # closed


LOADED = (
    "import sys\nprint('views' if 'clinic_analysis.report.views' in sys.modules else 'no',"
    " 'seaborn' if 'seaborn' in sys.modules else 'no-seaborn')"
)


def _probe_notebook(folder: Path, probe: str = LOADED) -> Path:
    """A notebook of a parameters cell and one cell, ``probe`` (by default it prints what the
    kernel has loaded)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("params_path = None\nreport_dir = None"),
        nbformat.v4.new_code_cell(probe),
    ]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "clinic-audit", "language": "python"}
    path = folder / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_kernel_told_the_notebook_will_draw_imports_seaborn_ahead(tmp_path):
    from clinic_analysis.report.execute import EarlyKernel, execute_notebook

    path = _probe_notebook(tmp_path)
    kernel = EarlyKernel(tmp_path)
    try:
        kernel.will_draw()  # a new audit: every chart will be drawn
        done = execute_notebook(path, tmp_path / "out.ipynb", path, tmp_path, kernel=kernel)
    finally:
        kernel.close()
    assert done.cells[-1].outputs[0]["text"].split() == ["views", "seaborn"]


def test_the_audit_read_ahead_is_what_the_same_open_audit_call_gets_once(monkeypatch, tmp_path):
    import datetime as dt

    from clinic_analysis.report import execute, pipeline

    class Data:
        as_of = dt.date(2026, 10, 31)
        visits = "the visits table"

    clinic = SimpleNamespace(language="en", currency="UAH")
    audit = SimpleNamespace(params=SimpleNamespace(clinic=clinic), data=Data())
    calls = []

    def fake_open_audit(params_path, report_dir):
        calls.append((params_path, report_dir))
        return audit, True

    monkeypatch.setattr(pipeline, "open_audit", fake_open_audit)
    monkeypatch.setattr(execute, "_preloaded", {})
    params, out = tmp_path / "p.yaml", tmp_path / "out"
    execute.preload_audit(str(params), str(out))
    assert calls == [(str(params), str(out))]
    assert execute.take_preloaded(params, tmp_path / "other") is None  # another report folder
    assert execute.take_preloaded(None, None) is None  # an analyst's open_audit(params)
    assert execute.take_preloaded(str(params), str(out)) == (audit, True)
    assert execute.take_preloaded(str(params), str(out)) is None  # taken once only


def test_a_failed_read_ahead_leaves_the_error_to_the_notebook(monkeypatch, tmp_path):
    from clinic_analysis.report import execute, pipeline

    def broken(params_path, report_dir):
        raise pipeline.ParamsError("params.yaml: clinic.name is missing")

    monkeypatch.setattr(pipeline, "open_audit", broken)
    monkeypatch.setattr(execute, "_preloaded", {})
    execute.preload_audit(str(tmp_path / "p.yaml"), str(tmp_path))  # raises nothing
    assert execute._preloaded == {}


def test_the_early_kernel_reads_the_cached_audit_ahead_and_the_notebook_opens_it(
    small_demo, tmp_path
):
    """``preload`` once the audit is cached: the notebook's ``open_audit`` gets that audit
    (the visits already read), the same as a reading from the cache gives."""
    from clinic_analysis.cache import cache_dir_for, get_audit
    from clinic_analysis.params import load_params
    from clinic_analysis.report.execute import EarlyKernel, execute_notebook

    params = load_params(small_demo)
    get_audit(params, cache_dir_for(params.slug))  # computed and cached, as the run does
    path = _probe_notebook(
        tmp_path,
        (
            "from clinic_analysis.report import execute as X\n"
            "from clinic_analysis.report.pipeline import open_audit\n"
            "ahead = len(X._preloaded)\n"
            "audit, hit = open_audit(params_path, report_dir)\n"
            "again, _ = open_audit(params_path, report_dir)  # nothing ahead now: the cache\n"
            "print(ahead, 'visits' in vars(audit.data), 'visits' in vars(again.data), hit,\n"
            "      len(X._preloaded), audit is not again, audit.metrics == again.metrics)"
        ),
    )
    out = tmp_path / "report"
    out.mkdir()
    kernel = EarlyKernel(tmp_path)
    try:
        kernel.preload(small_demo, out)
        done = execute_notebook(path, tmp_path / "out.ipynb", small_demo, out, kernel=kernel)
    finally:
        kernel.close()
    printed = done.cells[-1].outputs[0]["text"].split()
    assert printed == ["1", "True", "False", "True", "0", "True", "True"]
