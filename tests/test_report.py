"""End to end: the CLI renders a small demo clinic; the outputs keep their promises."""

import json
import re
import shutil
import subprocess
import sys

import nbformat
import pandas as pd
import pytest

from clinic_analysis.errors import ReportError
from clinic_analysis.report import build_report

from .conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rendered(small_demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "clinic_analysis",
            "report",
            "--clinic",
            str(small_demo),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    return out, r


def test_cli_writes_every_output(rendered):
    out, r = rendered
    for name in (
        "audit.html",
        "audit.pdf",
        "audit.ipynb",
        "metrics.json",
        "patients.parquet",
        "rejected_rows.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    assert "computed and cached" in r.stdout
    assert not list(out.glob(".tmp-*"))


def test_metrics_carry_the_contract_keys(rendered, small_demo):
    out, _ = rendered
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(m["clinic"]) >= {"name", "slug", "as_of", "currency", "language"}
    assert m["base"]["patients"] == m["base"]["by_rule"]["came"]
    led = m["ledger"]["mis"]["visits"]
    assert led["rows_in"] == led["rows_kept"] + sum(led["dropped"].values())
    # the keys the issues name, as the report names the concepts
    assert set(m["base"]) >= {
        "new_by_month",
        "growth_12m",
        "required_growth_for_revenue",
        "flow_by_month",
        "pre_appointment_rate",
        "by_rule",
    }
    assert set(m["base"]["required_growth_for_revenue"]) == {"0.1", "0.2", "0.3"}
    assert set(m["revenue"]) >= {"total", "growth_12m", "repeat_share"}
    assert set(m["activity"]["counts"]) == {"active", "at_risk", "lapsing", "lost_1y", "lost_2y"}
    assert set(m["activity"]["thresholds_days"]) == {"active", "at_risk"}
    assert set(m["repeat"]) >= {
        "rate",
        "median_days_to_second",
        "by_doctor",
        "by_service_line",
        "by_channel",
    }
    assert all(
        set(v) == {"patients", "rate", "low", "high"} for v in m["repeat"]["by_doctor"].values()
    )
    assert set(m["completeness"]) >= {"fields", "contactable"}
    assert set(m["refusers"]) >= {"counts", "potential", "potential_by_segment"}
    assert set(m["refusers"]["potential"]) == {"conservative", "base", "optimistic"}
    mod = m["models"]
    assert mod["time_unit"] == "days" and mod["chosen"] in {"bgnbd", "mbgnbd", "pareto"}
    for sel in mod["selection"].values():
        assert set(sel) == {
            "params",
            "log_likelihood",
            "holdout_mae",
            "holdout_total_error",
            "chosen",
        }
    assert mod["selection"][mod["chosen"]]["chosen"]
    assert set(mod["holdout"]) >= {"days", "mae", "predicted_total", "actual_total"}
    assert set(m["models"]["gamma_gamma"]) >= {"params", "freq_monetary_corr"}
    assert set(m["models"]["clusters"]) >= {"k", "silhouette", "sizes"}
    assert set(m["forecast"]["monthly"][0]) == {
        "month",
        "no_action",
        "no_action_low",
        "no_action_high",
        "reactivation",
        "with_calls",
    }
    assert set(m["forecast"]["backtest"]) >= {"cutoffs", "mape", "coverage"}
    p = pd.read_parquet(out / "patients.parquet")
    assert {
        "patient_id",
        "first_visit",
        "last_visit",
        "visits",
        "revenue",
        "phase",
        "days_since_last_visit",
        "completeness",
    } <= set(p.columns)
    assert p["in_base"].sum() == m["base"]["patients"]
    assert len(p) == m["base"]["by_rule"]["booked"]
    assert {
        "segment",
        "months_since_event",
        "open_plan_balance",
        "p_alive",
        "expected_visits_12m",
        "expected_spend",
        "clv_12m",
        "historic_value",
        "expected_next_visit",
        "cluster",
    } <= set(p.columns)
    assert p["patient_id"].is_unique


def test_html_is_self_contained_and_shows_no_code(rendered):
    out, _ = rendered
    html = (out / "audit.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert not re.search(r"https?://", html)
    assert "import " not in html and "display(" not in html and "open_audit" not in html
    imgs = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert imgs and all(src.startswith("data:image/") for src in imgs)
    assert "Про дані" in html and "Зміст" in html
    toc = re.findall(r'<a href="#([^"]+)"', html)
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert toc and set(toc) <= ids


def test_pdf_pages_are_a4(rendered):
    from weasyprint import HTML

    out, _ = rendered
    doc = HTML(filename=str(out / "audit.html")).render()
    assert len(doc.pages) > 5
    mm = 25.4 / 96  # WeasyPrint sizes are CSS px
    assert all(abs(p.width * mm - 210) < 0.5 and abs(p.height * mm - 297) < 0.5 for p in doc.pages)
    assert (out / "audit.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_pdf_text_has_cyrillic_and_hryvnia(rendered):
    out, _ = rendered
    text = subprocess.run(
        ["pdftotext", str(out / "audit.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert "Аудит бази пацієнтів" in text and "₴" in text


def test_report_holds_no_patient_contact_data(rendered, small_demo):
    out, _ = rendered
    cards = pd.read_csv(
        small_demo.parent / "data" / "patients.csv", sep=";", encoding="utf-8-sig", dtype=str
    )
    html = (out / "audit.html").read_text(encoding="utf-8")
    texts = [html]
    if shutil.which("pdftotext"):
        texts.append(
            subprocess.run(
                ["pdftotext", str(out / "audit.pdf"), "-"], capture_output=True, text=True
            ).stdout
        )
    values = []
    for col in ("ПІБ", "Телефон", "E-mail"):
        values += [v for v in cards[col].dropna() if len(v) > 5]
    digits = {re.sub(r"\D", "", v)[-9:] for v in cards["Телефон"].dropna()}
    assert values
    for text in texts:
        for v in values:
            assert v not in text
        flat = re.sub(r"\D", "", text)
        assert not any(d in flat for d in digits if len(d) == 9)


def test_second_run_is_a_cache_hit(rendered, small_demo):
    out, _ = rendered
    result = build_report(small_demo, out_dir=out, log=lambda s: None)
    assert result.cache_hit
    assert result.timings["compute"] < 1.0


def test_a_failing_section_is_named_and_leaves_the_report_untouched(rendered, small_demo, tmp_path):
    out, _ = rendered
    before = (out / "audit.html").read_bytes()
    nb = nbformat.read(ROOT / "notebooks" / "audit.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('raise ValueError("boom")'))
    broken = tmp_path / "audit.ipynb"
    nbformat.write(nb, broken)
    with pytest.raises(ReportError) as e:
        build_report(small_demo, out_dir=out, notebook=broken, log=lambda s: None)
    assert "boom" in str(e.value) and "План дій" in str(e.value)  # the last section
    assert (out / "audit.html").read_bytes() == before
    assert (out / "audit.failed.ipynb").exists()
    build_report(small_demo, out_dir=out, log=lambda s: None)  # a good run clears it
    assert not (out / "audit.failed.ipynb").exists()


def test_call_lists_rank_segments_and_keep_refusals_of_contact_apart(rendered, small_demo):
    from openpyxl import load_workbook

    from clinic_analysis.i18n import Catalog

    out, _ = rendered
    t = Catalog("uk")
    wb = load_workbook(out / "call_lists.xlsx", read_only=True)
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    sheets = m["calls"]["sheets"]
    for key, n in sheets.items():
        ws = wb[t(f"calls.sheet.{key}")[:31]]
        rows = list(ws.iter_rows(values_only=True))
        assert rows[0][0] == t("calls.col.priority")
        assert len(rows) - 1 == n, key
        if n:
            assert [r[0] for r in rows[1:]] == list(range(1, n + 1))
    cards = pd.read_csv(
        small_demo.parent / "data" / "patients.csv", sep=";", encoding="utf-8-sig", dtype=str
    )
    refused = set(cards.loc[cards["Згода на розсилку"] == "Ні", "ПІБ"])
    dnc = {
        r[2]  # priority, why first, name, ...
        for r in wb[t("calls.sheet.do_not_contact")[:31]].iter_rows(min_row=2, values_only=True)
    }
    called = set()
    for key in sheets:
        if key != "do_not_contact":
            called |= {
                r[2]
                for r in wb[t(f"calls.sheet.{key}")[:31]].iter_rows(min_row=2, values_only=True)
            }
    assert dnc and dnc <= refused
    assert not (called & refused)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice")
def test_call_lists_open_in_libreoffice(rendered, tmp_path):
    out, _ = rendered
    shutil.copy(out / "call_lists.xlsx", tmp_path)
    r = subprocess.run(
        [
            "soffice",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(tmp_path / "call_lists.xlsx"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "call_lists.pdf").read_bytes().startswith(b"%PDF-")
