"""The call lists the front desk works: card ids, header block, drop-downs, print layout."""

from __future__ import annotations

import shutil
import subprocess
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from clinic_analysis.errors import ReportError
from clinic_analysis.i18n import Catalog
from clinic_analysis.measures.followup import read_meta
from clinic_analysis.report.calllists import (
    FONT_PT,
    HEADER_ROWS,
    LINE_PT,
    META_SHEET,
    OUTCOMES,
    REASONS,
    SHEET_ROWS,
    check_fits,
    column_widths,
    print_scale,
    write_call_lists,
)
from clinic_analysis.report.reuse import Stopped


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
    table = demo_audit.calls.table
    assert (table["sheet"] == "returning_at_risk").any()


def test_patients_with_neither_phone_nor_email_are_counted_and_left_off(demo_audit, book):
    table = demo_audit.calls.table
    gone = table[table["uncontactable"] & ~table["refused_contact"]]
    m = demo_audit.metrics["calls"]
    assert sum(m["uncontactable"].values()) == int(table["uncontactable"].sum())
    assert len(gone)  # the demo has cards without contacts
    listed = set()
    for name, _key, first, cols in read_meta(book)["sheets"]:
        listed |= {r[cols.index("card")] for r in _rows(book, name, first)}
    assert not {", ".join(s) for s in gone["source_ids"]} & listed


def test_a_sheet_longer_than_a_spreadsheet_holds_is_a_clear_error_not_a_cut_list():
    check_fits("Lapsed", SHEET_ROWS - HEADER_ROWS - 1)  # the last row that fits: no error
    with pytest.raises(ReportError, match=r"'Lapsed' would list 1,048,571 patients"):
        check_fits("Lapsed", SHEET_ROWS - HEADER_ROWS)


def test_a_set_stop_ends_the_writing_of_the_call_lists(demo_audit, tmp_path):
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        write_call_lists(demo_audit, tmp_path / "stopped.xlsx", stop=stop)


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


def test_the_ranking_module_imports_neither_the_report_language_nor_the_spreadsheet():
    from tests.conftest import loaded_after

    heavy = [
        "clinic_analysis.i18n",
        "clinic_analysis.report.calllists",
        "clinic_analysis.audit",
        "babel",
        "xlsxwriter",
    ]
    assert loaded_after("import clinic_analysis.measures.calls", heavy) == []


def test_the_workbook_is_written_from_the_call_table_the_audit_already_holds(
    demo_audit, tmp_path, monkeypatch
):
    from clinic_analysis.measures import calls

    assert demo_audit.calls.table is not None  # built by compute_audit, counted in the metrics
    monkeypatch.setattr(calls, "call_table", lambda audit: pytest.fail("call table rebuilt"))
    write_call_lists(demo_audit, tmp_path / "again.xlsx")


def test_a_do_not_call_mark_moves_the_patient_to_the_do_not_contact_count():
    import pandas as pd

    from clinic_analysis.measures.calls import call_metrics, mark_do_not_call

    table = pd.DataFrame(
        {
            "sheet": ["lapsed", "lapsed", "no_show"],
            "refused_contact": [False, False, True],
            "uncontactable": [False, False, True],
        },
        index=pd.Index(["a", "b", "c"], name="patient_id"),
    )
    marked = mark_do_not_call(table, ["b"])
    assert list(marked["refused_contact"]) == [False, True, True]
    assert not table.loc["b", "refused_contact"]  # the table given is left as it was
    m = call_metrics(marked)
    assert (m["sheets"]["lapsed"], m["sheets"]["do_not_contact"]) == (1, 2)
    assert m["uncontactable"]["no_show"] == 1


def test_figures_formatted_once_per_text_read_as_if_each_was_formatted_alone():
    import math
    import random

    from clinic_analysis.i18n import Formatter
    from clinic_analysis.report.calllists import format_each

    f = Formatter("uk", "UAH")
    rng = random.Random(7)
    chances = [0.0, -0.0, math.nan, 0.12345, 0.1235, 0.12355, 0.0005, 0.00049, 1.0]
    chances += [rng.random() * 0.3 for _ in range(3000)]
    got = format_each(chances, lambda x: f.percent(x, 1))
    assert list(got) == [f.percent(x, 1) for x in chances]
    money = [9999.4, 9999.5, 9999.6, 10000.0, 999949.9, 999950.0, 1e6, 2.5e6, 0.5, 1.5, -3.0]
    money += [10000 + rng.random() * 10000 for _ in range(5000)]
    seen = []
    got = format_each(money, lambda x: seen.append(x) or f.money_short(x))
    assert list(got) == [f.money_short(x) for x in money]
    assert len(seen) < len(money) / 5  # ~100 texts: babel is not asked 5,000 times


def test_dates_are_stored_as_the_day_numbers_a_spreadsheet_counts():
    import pandas as pd

    from clinic_analysis.report.calllists import excel_days

    days = excel_days(
        pd.Series(
            pd.to_datetime(["1900-01-01", "1900-03-01", "2000-01-01T15:30"], format="ISO8601")
        )
    )
    assert list(days) == [1.0, 61.0, 36526.0]  # 1900-02-29, Excel's phantom day, is 60
    assert excel_days(pd.Series([pd.NaT])).isna().all()


def test_phones_are_shown_in_the_international_format():
    from clinic_analysis.report.calllists import internationals

    got = internationals(["+380671234567", None, "+999123", "", 5, "+380671234567"])
    # not a number phonenumbers reads: as it is; no phone: ""
    assert list(got) == ["+380 67 123 4567", "", "+999123", "", "", "+380 67 123 4567"]
    assert list(internationals([None, float("nan")])) == ["", ""]  # a list with no phone at all


def _parsed(e164):
    """What phonenumbers itself makes of a written E.164 number (the reference)."""
    import phonenumbers

    try:
        num = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def test_a_phone_reads_as_phonenumbers_reads_it_in_any_country():
    import random

    import phonenumbers

    from clinic_analysis.report.calllists import international, internationals

    rng = random.Random(3)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    # Italy's leading zero, Russia's national prefix 8, Argentina's mobile 9, the UK, a
    # number too short, a non-geographic code (800), NANPA, Arabic-Indic digits
    numbers = ["+390612345678", "+78001234567", "+5491123456789", "+442071234567", "+0123",
               "+380", "+80012345678", "+12015550123", "+٣٨٠٦٧١٢٣٤٥٦٧", "+380 67 123 45 67"]  # fmt: skip
    numbers += [
        f"+{rng.choice(codes)}{rng.randrange(10 ** rng.randint(1, 13)):d}" for _ in range(3000)
    ]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):  # every region's own examples
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(
                    phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                )
    assert list(internationals(numbers)) == [_parsed(n) for n in numbers]
    assert [international(n) for n in numbers[:20]] == [_parsed(n) for n in numbers[:20]]


_REGIONS = ["UA", "PL", "DE", "GB", "US", "IT", "RU", "AR", "MX", "IN", "BR", "FR", "JP", "KZ"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_REGIONS), st.text("0123456789", min_size=1, max_size=14)),
        min_size=1,
        max_size=30,
    )
)
def test_phones_of_several_countries_read_as_phonenumbers_reads_them_one_by_one(written):
    import phonenumbers

    from clinic_analysis.report.calllists import internationals

    numbers = [f"+{phonenumbers.country_code_for_region(r)}{digits}" for r, digits in written]
    assert list(internationals(numbers)) == [_parsed(n) for n in numbers]
