"""The call lists' rows written a block at a time (report/xlsxrows.py) give the bytes
xlsxwriter writes for the same cells one call at a time."""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from clinic_analysis.report.xlsxrows import NUMBER, TEXT, write_rows

FIRST = 2  # a header row, a blank row, then the table


def _book(path, table, heights, fast: bool, check=None):
    """A workbook of one sheet: a header, ``table``'s rows (each column (values, kind)),
    then a validation and a filter over them; written cell by cell or by write_rows."""
    with xlsxwriter.Workbook(path, {"constant_memory": True}) as wb:
        wb.set_properties({"created": dt.datetime(2026, 1, 1)})
        head = wb.add_format({"bold": True})
        fmts = [wb.add_format({"num_format": "0.00" if k == NUMBER else "@", "border": j % 2})
                for j, (_, k) in enumerate(table)]  # fmt: skip
        ws = wb.add_worksheet("calls")
        ws.set_row(0, 30)
        ws.write_string(0, 0, "header", head)
        n = len(table[0][0])
        if fast:
            cols = [(v, k, f) for (v, k), f in zip(table, fmts, strict=True)]
            write_rows(ws, FIRST, cols, heights, check=check, every=2)
        else:
            for i in range(n):
                if heights is not None and heights[i] is not None:
                    ws.set_row(FIRST + i, heights[i])
                for j, ((values, kind), fmt) in enumerate(zip(table, fmts, strict=True)):
                    v = values[i]
                    if v is None:
                        ws.write_blank(FIRST + i, j, None, fmt)
                    elif kind == TEXT:
                        ws.write_string(FIRST + i, j, v, fmt)
                    else:
                        ws.write_number(FIRST + i, j, v, fmt)
        ws.data_validation(FIRST, 1, FIRST + n - 1, 1, {"validate": "list", "source": ["a"]})
        ws.autofilter(1, 0, FIRST + n - 1, len(table) - 1)
    return path.read_bytes()


def _same_bytes(tmp_path, table, heights=None):
    slow = _book(tmp_path / "slow.xlsx", table, heights, fast=False)
    fast = _book(tmp_path / "fast.xlsx", table, heights, fast=True)
    if slow != fast:  # say which part differs
        za, zb = zipfile.ZipFile(tmp_path / "slow.xlsx"), zipfile.ZipFile(tmp_path / "fast.xlsx")
        for name in za.namelist():
            assert za.read(name).decode() == zb.read(name).decode(), name
    assert slow == fast


def test_texts_numbers_blanks_and_heights_are_written_as_xlsxwriter_writes_them(tmp_path):
    names = ["Іван Петренко", "=1+2", " padded ", "A & B <c>", "two\nlines", "bell\x07",
             "_x0041_", "<r>rich</r>", "", "tab\tin", "\ufffe", "quote \"q\"", None]  # fmt: skip
    n = len(names)
    numbers = [1.0, 0.0, -0.0, 0.1, 1e20, 12345678901234567.0, 7, 45123.0, -3.5, None, 2.5e-9,
               1e16, None]  # fmt: skip
    heights = [None, 30.0, 45.0, 15.0, None, 30.0, None, 60.0, None, None, 22.5, None, 15.0]
    table = [(names, TEXT), (numbers, NUMBER), ([None] * n, TEXT), (names[::-1], TEXT)]
    _same_bytes(tmp_path, table, heights)


def test_a_text_that_starts_like_a_formula_is_stored_as_text_never_as_a_formula(tmp_path):
    path = tmp_path / "f.xlsx"
    _book(path, [(['=HYPERLINK("http://x")', "+1", "@SUM(A1)"], TEXT)], None, fast=True)
    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    ws = load_workbook(path)["calls"]
    assert [ws.cell(FIRST + 1 + i, 1).data_type for i in range(3)] == ["s", "s", "s"]
    assert ws.cell(FIRST + 1, 1).value == '=HYPERLINK("http://x")'


def test_a_check_that_raises_stops_the_writing_before_the_next_block(tmp_path):
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _book(tmp_path / "s.xlsx", [(["a", "b", "c", "d", "e"], TEXT)], None, True, check)
    assert len(calls) == 2  # blocks of 2 rows: rows 0-1 written, stopped before rows 2-3


def test_rows_cannot_be_written_over_rows_already_written(tmp_path):
    with xlsxwriter.Workbook(tmp_path / "o.xlsx", {"constant_memory": True}) as wb:
        ws = wb.add_worksheet()
        fmt = wb.add_format()
        ws.write_string(5, 0, "row 5", fmt)
        with pytest.raises(ValueError, match="cannot be written"):
            write_rows(ws, 4, [(["x"], TEXT, fmt)])
        with pytest.raises(ValueError, match="cannot be written"):
            write_rows(ws, 5, [(["x"], TEXT, fmt)])
        with pytest.raises(TypeError, match="number"):
            write_rows(ws, 6, [(["x"], NUMBER, fmt)])


_TEXT = st.lists(  # pieces of text that xlsxwriter escapes, or not
    st.characters(exclude_categories=("Cs",), max_codepoint=0x2FF)
    | st.sampled_from(["_x00", "_x0009_", "<r>", "</r>", "&", "\ufffe", "\uffff", "ї", " "]),
    max_size=8,
).map("".join)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.none() | _TEXT,
            st.none()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.integers(-(10**15), 10**15),
            st.none() | st.sampled_from([15.0, 22.5, 30.0, 45.0, 400.0]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_texts_and_numbers_give_the_bytes_xlsxwriter_writes(tmp_path, rows):
    texts, numbers, heights = (list(c) for c in zip(*rows, strict=True))
    _same_bytes(tmp_path, [(texts, TEXT), (numbers, NUMBER)], heights)
