"""The call lists the front desk works: card ids, header block, drop-downs, print layout."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from clinic_analysis.measures.followup import read_meta
from clinic_analysis.report.calllists import (
    FONT_PT,
    LINE_PT,
    META_SHEET,
    OUTCOMES,
    REASONS,
    call_table,
    column_widths,
    print_scale,
    write_call_lists,
)
from clinic_analysis.report.i18n import Catalog


@pytest.fixture(scope="module")
def demo_audit(small_demo):
    from clinic_analysis.audit import compute_audit
    from clinic_analysis.params import load_params

    return compute_audit(load_params(small_demo))


@pytest.fixture(scope="module")
def book(demo_audit, tmp_path_factory):
    path = tmp_path_factory.mktemp("calls") / "call_lists.xlsx"
    write_call_lists(demo_audit, path)
    return path


def _rows(path, name, first):
    ws = load_workbook(path, read_only=True)[name]
    return [r for r in ws.iter_rows(min_row=first + 1, values_only=True) if any(r)]


def test_every_row_carries_the_card_ids_of_its_person(demo_audit, book):
    cards = demo_audit.data.patients.set_index("patient_id")["source_ids"]
    by_card = {", ".join(v): k for k, v in cards.items()}
    meta = read_meta(book)
    seen = 0
    for name, _key, first, cols in meta["sheets"]:
        for r in _rows(book, name, first):
            card = r[cols.index("card")]
            assert card in by_card, card
            assert card.startswith("mis:")
            seen += 1
    assert seen == sum(demo_audit.metrics["calls"]["sheets"].values())


def test_no_show_rows_carry_the_missed_appointments_date(book):
    meta = read_meta(book)
    ((name, _, first, cols),) = [s for s in meta["sheets"] if s[1] == "no_show"]
    rows = _rows(book, name, first)
    assert "missed" in cols and rows
    assert all(r[cols.index("missed")] is not None for r in rows)
    others = [s for s in meta["sheets"] if s[1] not in ("no_show", "do_not_contact")]
    assert others and all("missed" not in s[3] for s in others)


def test_script_and_explanation_sit_once_in_the_header_block(demo_audit, book):
    t = Catalog("uk")
    meta = read_meta(book)
    wb = load_workbook(book, read_only=True)
    for name, key, first, _cols in meta["sheets"]:
        if key == "do_not_contact":
            continue
        cells = [str(c) for r in wb[name].iter_rows(values_only=True) for c in r if c]
        script = t(f"calls.script.{key}")
        assert sum(script in c for c in cells) == 1, key
        assert sum(t(f"calls.about.{key}") in c for c in cells) == 1, key
        header = [c for r in wb[name].iter_rows(max_row=first - 1, values_only=True) for c in r]
        assert any(c and script in str(c) for c in header)


def test_print_layout_is_a4_landscape_fit_to_width_at_9_pt_or_more(book):
    meta = read_meta(book)
    wb = load_workbook(book)
    for name, _key, first, cols in meta["sheets"]:
        ws = wb[name]
        assert ws.page_setup.orientation == "landscape"
        assert int(ws.page_setup.paperSize) == 9  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        # one page wide (1 is the default, which the file may leave out), any number tall
        assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0)
        assert ws.print_title_rows == f"${first}:${first}"  # the table header repeats
        sizes = {c.font.sz for row in ws.iter_rows() for c in row if c.value is not None}
        assert min(sizes) >= 9
        # the file stores a width with its 5-pixel padding (5/7 of a character) added
        widths = [ws.column_dimensions[chr(65 + j)].width - 5 / 7 for j in range(len(cols))]
        assert print_scale(widths) * FONT_PT >= 9, name
        # a row is one line, or as many as its wrapped text needs (a spreadsheet keeps the
        # stored height, so a wrapped name would be cut without it)
        heights = {ws.row_dimensions[r].ht for r in range(first + 1, ws.max_row + 1)}
        assert heights <= {None, *(LINE_PT * n for n in range(2, 6))}


def test_a_sheet_too_wide_gets_narrower_name_columns_not_a_smaller_font():
    keys = ["rank", "why_first", "card", "name", "phone", "email", "last_visit", "doctor",
            "balance", "segment", "outcome", "reason", "called_on", "called_by"]  # fmt: skip
    assert print_scale(column_widths(keys)) * FONT_PT >= 9
    assert column_widths(["rank", "name"]) == [4, 22]


def test_outcome_and_reason_columns_have_drop_downs_in_the_report_language(book):
    t = Catalog("uk")
    meta = read_meta(book)
    wb = load_workbook(book)
    for name, key, _first, _cols in meta["sheets"]:
        lists = [dv.formula1 for dv in wb[name].data_validations.dataValidation]
        if key == "do_not_contact":
            continue
        assert any(all(t(f"calls.outcome.{o}") in f for o in OUTCOMES) for f in lists if f)
        assert any(all(t(f"calls.reason.{r}") in f for r in REASONS) for f in lists if f)


def test_no_sheet_is_empty_and_do_not_call_patients_are_marked(book):
    t = Catalog("uk")
    meta = read_meta(book)
    wb = load_workbook(book, read_only=True)
    visible = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert META_SHEET not in visible
    assert sorted(visible) == sorted(s[0] for s in meta["sheets"])
    for name, key, first, cols in meta["sheets"]:
        rows = _rows(book, name, first)
        assert rows, name
        if key == "do_not_contact":
            assert {r[cols.index("outcome")] for r in rows} == {t("calls.outcome.do_not_call")}


def test_at_risk_rows_are_not_labelled_returning(demo_audit, book):
    t = Catalog("uk")
    wb = load_workbook(book, read_only=True)
    cells = {c for ws in wb.worksheets for r in ws.iter_rows(values_only=True) for c in r}
    assert t("seg.returning") not in cells
    table = call_table(demo_audit)
    assert (table["sheet"] == "returning_at_risk").any()


def test_patients_with_neither_phone_nor_email_are_counted_and_left_off(demo_audit, book):
    table = call_table(demo_audit)
    gone = table[table["uncontactable"] & ~table["refused_contact"]]
    m = demo_audit.metrics["calls"]
    assert sum(m["uncontactable"].values()) == int(table["uncontactable"].sum())
    assert len(gone)  # the demo has cards without contacts
    listed = set()
    for name, _key, first, cols in read_meta(book)["sheets"]:
        listed |= {r[cols.index("card")] for r in _rows(book, name, first)}
    assert not {", ".join(s) for s in gone["source_ids"]} & listed


def test_two_renders_of_the_same_audit_give_identical_bytes(demo_audit, tmp_path):
    write_call_lists(demo_audit, tmp_path / "a.xlsx")
    write_call_lists(demo_audit, tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice")
def test_call_lists_print_in_libreoffice_as_a4_landscape_pages_at_9_pt(book, tmp_path):
    shutil.copy(book, tmp_path / "calls.xlsx")
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
         str(tmp_path / "calls.xlsx")],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    pdf = tmp_path / "calls.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "841.89 x 595.3" in info  # A4 landscape, in points
    words = subprocess.run(
        ["pdftotext", "-bbox", "-f", "2", "-l", "2", str(pdf), "-"],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    import re

    heights = [
        float(b) - float(a) for a, b in re.findall(r'yMin="([\d.]+)" .*?yMax="([\d.]+)"', words)
    ]
    # a word box is ~1.16 em tall for DejaVu Sans: 9 pt text gives boxes of 10.4 pt or more
    assert heights and min(heights) >= 9 * 1.16 - 0.1
    # rows wrap to two lines (name with patronymic, why first) so nothing is cut on paper:
    # about 20 rows to a page, the sheets' header blocks aside
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    meta = read_meta(book)
    rows = sum(len(_rows(book, name, first)) for name, _k, first, _c in meta["sheets"])
    assert pages <= rows / 15 + len(meta["sheets"])


def test_a_doctors_full_slavic_name_is_shortened_to_initials_to_fit_on_paper():
    from clinic_analysis.report.calllists import short_name

    assert short_name("Коваленко Олена Вікторівна") == "Коваленко О. В."
    assert short_name("John Smith") == "John Smith"
    assert short_name("Ковальчук О. В.") == "Ковальчук О. В."
    assert short_name("") == ""


def test_a_row_grows_to_the_lines_its_wrapped_text_needs():
    from clinic_analysis.report.calllists import row_lines

    widths = {"name": 10.0, "why_first": 13.0, "phone": 16.0}
    assert row_lines({"name": "Іван Петренко", "why_first": "1%", "phone": "+380"}, widths) == 2
    assert row_lines({"name": "Ян", "why_first": "2,5% × 1 200 ₴", "phone": ""}, widths) == 2
    assert row_lines({"name": "Ян", "why_first": "", "phone": "a b c d e f g h i j"}, widths) == 1
    assert row_lines({"name": "Коваленко-Сидоренко", "why_first": None}, widths) == 2
