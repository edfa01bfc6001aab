"""A worksheet's table rows written a block at a time, as xlsxwriter writes them.

xlsxwriter spends ~12 µs of Python on each cell (checks, a tuple, then the XML one
attribute at a time); a call list of 100k patients has half a million cells. Here the
same XML is built a column at a time: each distinct text is escaped once, each row is one
string, a block of rows one write into the worksheet's row data.

The cells written are xlsxwriter's own, in its ``constant_memory`` mode (inline strings):
a text cell (``write_string``: always text, never a formula, whatever it starts with), a
number (``write_number``) or a formatted blank (``write_blank``). The bytes are those the
library writes for the same calls (tests compare the two over generated texts); the
worksheet's own state (its dimensions, the row it holds) is left as after those calls, so
the library writes everything else (validations, filters, print setup) as usual.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name
from xlsxwriter.xmlwriter import XMLwriter

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

TEXT, NUMBER = "text", "number"

# a text xlsxwriter writes as it is: nothing to escape (XML specials, control characters,
# its own _xHHHH_ escapes), no whitespace to preserve at either end, not a rich string
_AS_IS = re.compile(r'["&<>\n\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$|^<r>')


def write_rows(
    ws: Worksheet,
    first: int,
    columns: Sequence[tuple[Sequence, str, Format]],
    heights: Sequence[float | None] | None = None,
    check: Callable[[], None] | None = None,
    every: int = 4096,
) -> None:
    """Rows ``first``, ``first + 1``... of ``ws`` (opened in ``constant_memory`` mode), one
    per value of the columns, as ``write_string`` (kind :data:`TEXT`) or ``write_number``
    (:data:`NUMBER`) of each value, ``write_blank`` of each ``None``, in column 0, 1...
    with that column's format; ``heights`` (points, ``None``: the default) as ``set_row``.
    ``check`` is called before each block of ``every`` rows (it may raise to stop)."""
    if not ws.constant_memory:
        raise ValueError("write_rows writes a worksheet opened with constant_memory")
    if ws.excel_version == 2010 or ws.default_row_height != ws.original_row_height:
        raise ValueError("write_rows writes rows of the default kind only")
    if any(fmt is None for _, _, fmt in columns):
        raise ValueError("write_rows needs a format for every column")
    n = len(columns[0][0]) if columns else 0
    if any(len(values) != n for values, _, _ in columns):
        raise ValueError("write_rows needs columns of one length")
    if not n:
        return
    last = first + n - 1
    held = first == ws.previous_row and (ws.table.get(first) or first in ws.row_info)
    if first < ws.previous_row or held or last >= ws.xls_rowmax or len(columns) > ws.xls_colmax:
        raise ValueError(f"rows {first}-{last} cannot be written after row {ws.previous_row}")
    ws._write_single_row(first)  # the row written before (as writing to ``first`` does)
    ws._check_dimensions(first, 0)
    ws._check_dimensions(last, len(columns) - 1)
    xfs = [fmt._get_xf_index() for _, _, fmt in columns]  # in column order, as cells would
    row = "".join(f'<c r="{xl_col_to_name(j)}{{0}}{{{j + 2}}}' for j in range(len(columns))).join(
        ('<row r="{0}"{1}>', "</row>")
    )
    tags = _height_tags(ws, heights, n)
    for start in range(0, n, every):  # a block at a time: its cells' XML never all in memory
        if check is not None:
            check()
        stop = min(start + every, n)
        tails = [
            _tails(ws, values[start:stop], kind, xf)
            for (values, kind, _), xf in zip(columns, xfs, strict=True)
        ]
        ws.fh.write(
            "".join(
                row.format(first + i + 1, tags[i], *cells)
                for i, cells in zip(range(start, stop), zip(*tails, strict=True), strict=True)
            )
        )
    ws.previous_row = last  # written already: closing the sheet leaves it alone


def _tails(ws: Worksheet, values: Sequence, kind: str, xf: int) -> list[str]:
    """Each cell's XML after its reference (``A7``): format, type and value; ``None`` (or
    NaN) a formatted blank."""
    blank = f'" s="{xf}"/>'
    if kind == NUMBER:  # each number alone (0.0 and -0.0 are written apart)
        return [blank if v is None or v != v else f'" s="{xf}"{number_xml(ws, v)}' for v in values]
    if kind != TEXT:
        raise ValueError(f"unknown cell kind {kind!r}")
    codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    texts = np.array([f'" s="{xf}"{text_xml(ws, v)}' for v in uniq] + [blank], dtype=object)
    return texts[codes].tolist()  # code -1 (None): the blank, last


def text_xml(ws: Worksheet, text: str) -> str:
    """What xlsxwriter writes after ``<c r=".." s=".."`` for ``write_string(text)``."""
    if not isinstance(text, str):
        raise TypeError(f"a text cell holds a str, not {type(text).__name__}")
    if not _AS_IS.search(text) and len(text) <= ws.xls_strmax // 2:
        return f' t="inlineStr"><is><t>{text}</t></is></c>'
    if len(text) > ws.xls_strmax // 2 and _utf16_len(text) > ws.xls_strmax:
        text = _utf16_truncate(text, ws.xls_strmax)
    text = XMLwriter._escape_control_characters(text)
    if text.startswith("<r>") and text.endswith("</r>"):
        return f' t="inlineStr"><is>{text}</is></c>'
    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    return f' t="inlineStr"><is><t{space}>{ws._escape_data(text)}</t></is></c>'


def number_xml(ws: Worksheet, number: float) -> str:
    """What xlsxwriter writes after ``<c r=".." s=".."`` for ``write_number(number)``."""
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise TypeError(f"a number cell holds a number, not {type(number).__name__}")
    if not math.isfinite(number):
        raise TypeError("NAN/INF not supported in write_number()")
    return f"><v>{number:.16G}</v></c>"


def _height_tags(ws: Worksheet, heights, n: int) -> list[str]:
    """Each row's height attributes, as ``set_row(r, height)`` makes xlsxwriter write."""
    if heights is None:
        return [""] * n
    codes, uniq = pd.factorize(pd.Series(heights, dtype=object), use_na_sentinel=True)
    tags = []
    for h in uniq:
        pixels = int(h * 4.0 / 3.0 + 0.5)  # set_row
        if pixels == 0:
            raise ValueError("write_rows does not hide rows")
        custom = pixels != ws.original_row_height
        tags.append(f' ht="{pixels * 0.75:.16g}" customHeight="1"' if custom else "")
    return np.array([*tags, ""], dtype=object)[codes].tolist()
