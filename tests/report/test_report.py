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
from clinic_analysis.report.pipeline import build_report
from tests.conftest import ROOT

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
    assert not list(out.glob(".*"))  # no temp folder, no cache inside the report
    # the command leaves without tearing the interpreter down: its last lines still arrive
    listed = r.stdout.split("report written to", 1)[1].splitlines()[1:]
    assert [line.strip() for line in listed] == sorted(p.name for p in out.iterdir() if p.is_file())


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


def test_second_run_is_a_cache_hit_that_computes_and_renders_nothing(
    rendered, small_demo, monkeypatch
):
    from clinic_analysis import audit
    from clinic_analysis.report import render

    out, _ = rendered
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}

    def must_not_run(*args, **kwargs):
        raise AssertionError("made again although nothing changed")

    for module, name in [(audit, "compute_audit"), (render, "export_html"), (render, "write_pdf")]:
        monkeypatch.setattr(module, name, must_not_run)
    result = build_report(small_demo, out_dir=out, log=lambda s: None)
    assert result.cache_hit
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before


def test_a_failing_section_is_named_and_leaves_the_report_untouched(rendered, small_demo, tmp_path):
    out, _ = rendered
    before = (out / "audit.html").read_bytes()
    nb = nbformat.read(ROOT / "notebooks" / "audit.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('raise ValueError("boom")'))
    broken = tmp_path / "audit.ipynb"
    nbformat.write(nb, broken)
    with pytest.raises(ReportError) as e:
        build_report(small_demo, out_dir=out, notebook=broken, log=lambda s: None)
    assert "boom" in str(e.value) and "Методологія та глосарій" in str(e.value)  # the last section
    assert (out / "audit.html").read_bytes() == before
    assert (out / "audit.failed.ipynb").exists()
    build_report(small_demo, out_dir=out, log=lambda s: None)  # a good run clears it
    assert not (out / "audit.failed.ipynb").exists()


def test_call_lists_rank_segments_and_keep_refusals_of_contact_apart(rendered, small_demo):
    from openpyxl import load_workbook

    from clinic_analysis.measures.followup import read_meta

    out, _ = rendered
    book = out / "call_lists.xlsx"
    wb = load_workbook(book, read_only=True)
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    sheets = m["calls"]["sheets"]
    names = {}
    for name, key, first, cols in read_meta(book)["sheets"]:
        rows = [r for r in wb[name].iter_rows(min_row=first + 1, values_only=True) if any(r)]
        assert len(rows) == sheets[key], key
        assert [r[cols.index("rank")] for r in rows] == list(range(1, len(rows) + 1))
        names[key] = {r[cols.index("name")] for r in rows}
    assert {k for k, n in sheets.items() if n} == set(names)  # no sheet for an empty list
    cards = pd.read_csv(
        small_demo.parent / "data" / "patients.csv", sep=";", encoding="utf-8-sig", dtype=str
    )
    refused = set(cards.loc[cards["Згода на розсилку"] == "Ні", "ПІБ"])
    dnc = names.pop("do_not_contact")
    called = set().union(*names.values())
    assert dnc and dnc <= refused
    assert not (called & refused)


def test_a_run_archives_its_metrics_and_call_lists_under_history(rendered):
    out, _ = rendered
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    entry = out / "history" / m["clinic"]["as_of"]
    assert (entry / "metrics.json").read_bytes() == (out / "metrics.json").read_bytes()
    assert (entry / "call_lists.xlsx").read_bytes() == (out / "call_lists.xlsx").read_bytes()


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


# ----------------------------------------------------------------------------- contacts, CSV

CARDS = (
    "Код;ПІБ;Телефон;E-mail;Viber;Канал\n"
    'P1;Іваненко Петро;067 123 45 67;petro@example.ua;+380671234567;=HYPERLINK("http://x")\n'
    ";Без Коду Марія;050 000 00 01;;;сайт\n"
    'P1;Іваненко Петро;067 123 45 67;petro@example.ua;+380671234567;=HYPERLINK("http://x")\n'
)


def test_rejected_rows_keep_line_and_reason_but_mask_contacts(tmp_path):
    from clinic_analysis.ingest.load import load_clinic
    from clinic_analysis.outputs import write_csv
    from tests.ingest.test_load import make_params

    cols = {"patient_id": "Код", "full_name": "ПІБ", "phone": "Телефон", "email": "E-mail"}
    cols["channel"] = "Канал"  # "Viber" stays unmapped: masked for its name
    params = make_params(
        tmp_path, {"p.csv": ("patients", CARDS, {"columns": cols, "system": "=cmd|'/C calc'!A0"})}
    )
    write_csv(load_clinic(params).rejected, tmp_path / "rejected_rows.csv")
    text = (tmp_path / "rejected_rows.csv").read_text(encoding="utf-8-sig")
    for secret in ("Іваненко", "Без Коду", "067 123 45 67", "050 000", "petro@", "380671234567"):
        assert secret not in text
    rows = pd.read_csv(tmp_path / "rejected_rows.csv", encoding="utf-8-sig", dtype=str)
    assert rows["row"].tolist() == ["3", "4"]
    assert rows["reason"].tolist() == ["missing_patient_id", "duplicate_row"]
    assert rows["system"].tolist() == ["'=cmd|'/C calc'!A0"] * 2  # shown, never run
    assert rows["values"].tolist() == [
        "ПІБ=*** | Телефон=*** | Канал=сайт",  # the empty e-mail is left out, not "nan"
        'Код=P1 | ПІБ=*** | Телефон=*** | E-mail=*** | Viber=*** | Канал==HYPERLINK("http://x")',
    ]
    assert "nan" not in text


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(tmp_path):
    import csv

    from clinic_analysis.outputs import write_csv

    df = pd.DataFrame(
        {
            "text": ["=1+2", "+380671234567", "-2", "@SUM(A1)", "\tx", "\rx", "ok", None, "a=b"],
            "number": [-5, 1, 2, 3, 4, 5, 6, 7, float("nan")],
        }
    )
    write_csv(df, tmp_path / "x.csv")
    with (tmp_path / "x.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert [r[0] for r in rows[1:]] == [
        "'=1+2",
        "'+380671234567",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "ok",
        "",
        "a=b",
    ]
    # numbers stay numbers (a negative one is not escaped); a missing one is an empty cell
    assert [r[1] for r in rows[1:]] == ["-5.0", "1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0", ""]


def _inputs_contacts(params_path):
    """The names, phones (last nine digits) and e-mails of every patients file of a clinic."""
    from clinic_analysis.ingest.readers import read_raw
    from clinic_analysis.params import load_params

    names, phones, emails = set(), set(), set()
    for s in load_params(params_path).sources:
        if s.table != "patients":
            continue
        raw = read_raw(s)
        for canon, header in s.columns.items():
            values = {str(v).strip() for v in raw[header].dropna() if str(v).strip()}
            if canon in ("full_name", "first_name", "last_name"):
                names |= {v for v in values if len(v) > 5}
            elif canon == "phone":
                phones |= {re.sub(r"\D", "", v)[-9:] for v in values}
            elif canon == "email":
                emails |= values
    return names, {p for p in phones if len(p) == 9}, emails


def _readable_text(path) -> str:
    """A file's text as a reader would find it: tables as their cells, notebooks without
    their embedded pictures, PDFs through pdftotext."""
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
        return " ".join(map(str, df.columns)) + "\n" + df.astype(str).to_csv(index=False)
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for o in cell.get("outputs", []):
                for mime in [m for m in o.get("data", {}) if m.startswith("image/")]:
                    del o["data"][mime]
        return json.dumps(nb, ensure_ascii=False)
    if path.suffix == ".pdf":
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    text = path.read_bytes().decode("utf-8", errors="ignore")
    return re.sub(r"data:image/[^\"')\s]+", "", text)


def test_no_file_but_the_call_lists_holds_a_contact_of_the_inputs(tmp_path):
    from tests.conftest import write_params_copy

    params = write_params_copy(ROOT / "params" / "messy.yaml", tmp_path)
    out = tmp_path / "reports" / "messy"
    formats = ["html", "pdf"] if shutil.which("pdftotext") else ["html"]
    build_report(params, out_dir=out, formats=formats, log=lambda s: None)
    contacts = names, phones, _ = _inputs_contacts(params)
    assert len(names) > 100 and len(phones) > 100  # the inputs do hold contacts
    # every file, the archive in history/ too, but the call lists (issued or archived)
    scanned = sorted(
        p for p in out.rglob("*") if p.is_file() and not p.name.startswith("call_lists")
    )
    assert {p.name for p in scanned} >= {
        "audit.html",
        "audit.ipynb",
        "metrics.json",
        "patients.parquet",
        "rejected_rows.csv",
    }
    found = [(p.name, v) for p in scanned for v in _contacts_in(_readable_text(p), *contacts)]
    assert found == []
    # the same search finds them in the call lists, the one file meant to hold them
    from openpyxl import load_workbook

    wb = load_workbook(out / "call_lists.xlsx", read_only=True)
    cells = "\n".join(
        str(c) for ws in wb.worksheets for r in ws.iter_rows(values_only=True) for c in r
    )
    hits = _contacts_in(cells, *contacts)
    assert set(hits) & names and {re.sub(r"\D", "", h)[-9:] for h in hits} & contacts[1]


def _contacts_in(text: str, names: set, phones: set, emails: set) -> list[str]:
    """The names and e-mails found in ``text`` (any case), and its digit runs shaped like a
    phone whose last nine digits are one of ``phones``."""
    low = text.lower()
    found = [v for v in names | emails if v.lower() in low]
    for run in re.findall(r"\+?\d[\d ()\-]{7,}\d", text):
        digits = re.sub(r"\D", "", run)
        if len(digits) >= 9 and digits[-9:] in phones:
            found.append(run)
    return found
