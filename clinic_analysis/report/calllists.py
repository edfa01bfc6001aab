"""The call lists: ``reports/<clinic>/call_lists.xlsx`` for the front desk.

A sheet per segment worth calling (and one for returning patients at risk), rows ranked by
the value of calling now (refusers.call_value: P(comes back if called) = segment rate ×
freshness × P(alive), × the value of a return), fresher first at equal value, with a short
"why first" column, the MIS card ids, the patient's name and contacts,
the last visit (and a no-show's missed appointment), doctor and plan balance. The segment's
explanation and script sit once in a header block; the outcome (a drop-down), the refusal
reason, the date called and who called are for the front desk to fill in: the next audit
reads them back (:mod:`clinic_analysis.measures.followup`). A hidden sheet ``_meta`` names each
sheet's segment and columns. Printed: A4 landscape, fit to width at 9 pt or more, the
table header repeated. Patients who refused communication (or were marked "do not call"
on the last lists) are listed apart on their own sheet, never mixed in. Patients with no
phone and no e-mail are left off (counted in metrics). A call sheet lists at most params
``calls.max_rows_per_sheet`` patients, the first to call (its title says "n of total"; the
metrics count everyone); the do-not-contact sheet is never cut. The same audit gives the same
bytes.
This is the only output that carries names, phones and e-mails.

Who is on which list, in what order, is computed once per audit by
:mod:`clinic_analysis.measures.calls`; this module only words, formats and writes it (a million
patients' lists in seconds: every text formatted once per distinct value, phones a country
at a time, the rows written a block at a time by :mod:`clinic_analysis.report.xlsxrows`, never
held in memory as cells).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from clinic_analysis.i18n import Catalog, Formatter
from clinic_analysis.measures.calls import (
    META_FORMAT,
    META_SHEET,
    OUTCOMES,
    REASONS,
    SHEETS,
    calls_of,
    listed,
    on_lists,
)
from clinic_analysis.report.xlsxrows import NUMBER, TEXT, write_rows

if TYPE_CHECKING:
    from collections.abc import Callable
    from threading import Event

    from clinic_analysis.audit import Audit


def international(e164) -> str:
    """``+380671234567`` -> ``+380 67 123 4567``; "" for no phone; a number phonenumbers
    cannot read stays as it is."""
    if not isinstance(e164, str):
        return ""
    try:
        num = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def internationals(values) -> pd.Series:
    """:func:`international` of each value, a country at a time: a plain E.164 number (the
    country code, then the national number as written) is formatted with phonenumbers' own
    metadata, its patterns applied as ``format_number`` applies them, over the whole column
    at once (Arrow's regular expressions; ~20 µs a number one at a time). Anything
    ``phonenumbers.parse`` could read otherwise (a national number that starts with 0 or
    with the country's national prefix, an unknown country code, a length parse refuses)
    goes through :func:`international`, once per distinct value."""
    values = pd.Series(values, dtype=object)
    out = np.full(len(values), "", dtype=object)
    at = np.flatnonzero([isinstance(v, str) for v in values])
    texts = pa.array(values.iloc[at].tolist(), pa.string())
    done = np.zeros(len(at), dtype=bool)
    plain = pc.match_substring_regex(texts, r"^\+[1-9][0-9]+$").to_numpy(zero_copy_only=False)
    cc = np.full(len(at), "", dtype=object)
    known = pa.array(sorted(str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE))
    for n in (3, 2, 1):  # parse takes the shortest known code: the last written wins
        head = pc.utf8_slice_codeunits(texts, 1, 1 + n)
        hit = plain & pc.is_in(head, value_set=known).to_numpy(zero_copy_only=False)
        cc[hit] = head.filter(pa.array(hit)).to_numpy(zero_copy_only=False)
    for code in pd.unique(cc[cc != ""]):
        some = np.flatnonzero(cc == code)
        national = pc.utf8_slice_codeunits(texts.take(some), 1 + len(code))
        formatted = _national_formatted(int(code), national)
        ok = formatted != None  # noqa: E711 (elementwise)
        out[at[some[ok]]] = [f"+{code} {x}" for x in formatted[ok]]
        done[some[ok]] = True
    rest = at[~done]
    codes, uniq = pd.factorize(values.iloc[rest])
    out[rest] = np.asarray([international(v) for v in uniq], dtype=object)[codes]
    return pd.Series(out, index=values.index, dtype=object)


def _national_formatted(cc: int, national: pa.Array) -> np.ndarray:
    """The national numbers (ASCII digits) of country ``cc`` as ``format_number`` writes
    them in the international format: the first of the country's formats whose pattern
    the whole number matches and whose (last, most detailed) leading digits pattern its
    start matches, its groups rearranged as the format says; no format fits: the number
    as it is. ``None`` where ``parse`` might read the number otherwise."""
    out = np.full(len(national), None, dtype=object)
    region = phonenumbers.region_code_for_country_code(cc)
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(cc, region.upper())
    if meta is None:
        return out
    length = pc.utf8_length(national).to_numpy(zero_copy_only=False)
    ok = (length >= 2) & (length <= 17)  # what parse reads as a national number
    ok &= ~pc.starts_with(national, "0").to_numpy(zero_copy_only=False)
    try:
        if meta.national_prefix_for_parsing:
            prefix = f"^(?:{meta.national_prefix_for_parsing})"
            ok &= ~pc.match_substring_regex(national, prefix).to_numpy(zero_copy_only=False)
        left = np.flatnonzero(ok)
        out[left] = national.take(left).to_numpy(zero_copy_only=False)
        for f in meta.intl_number_format or meta.number_format:  # the first that fits
            some = national.take(left)
            fits = pc.match_substring_regex(some, f"^(?:{f.pattern})$")
            if f.leading_digits_pattern:
                start = pc.match_substring_regex(some, f"^(?:{f.leading_digits_pattern[-1]})")
                fits = pc.and_(fits, start)
            fits = fits.to_numpy(zero_copy_only=False)
            shown = pc.replace_substring_regex(some.filter(pa.array(fits)), f.pattern, f.format)
            out[left[fits]] = shown.to_numpy(zero_copy_only=False)
            left = left[~fits]
    except pa.ArrowInvalid:  # a pattern Arrow's expressions do not take: one at a time
        return np.full(len(national), None, dtype=object)
    return out


def format_each(values, show: Callable[[float], str]) -> np.ndarray:
    """``[show(x) for x in values]``, with ``show`` called about once per distinct text
    rather than once per value (babel takes ~0.05 ms a number; a model gives each patient
    its own chance). ``show`` must round: the values that share a text form one interval
    (so a text at both ends of a run of sorted values is the text of every value between;
    the run is halved until it is). Zeros (0.0 and -0.0 apart) and NaN are shown alone."""
    x = np.asarray(values, dtype=float)
    out = np.empty(len(x), dtype=object)
    odd = (x == 0) | np.isnan(x)
    for v in (0.0, -0.0, np.nan):
        hit = np.isnan(x) if np.isnan(v) else (x == 0) & (np.signbit(x) == np.signbit(v))
        if hit.any():
            out[hit] = show(v)
    u = np.unique(x[~odd])
    if not len(u):
        return out
    texts = np.empty(len(u), dtype=object)
    shown: dict[int, str] = {}

    def at(i: int) -> str:
        if i not in shown:
            shown[i] = show(float(u[i]))
        return shown[i]

    runs = [(0, len(u) - 1)]
    while runs:
        lo, hi = runs.pop()
        if at(lo) == at(hi):
            texts[lo : hi + 1] = shown[lo]
        elif hi - lo == 1:
            texts[lo], texts[hi] = shown[lo], shown[hi]
        else:
            mid = (lo + hi) // 2
            runs += [(lo, mid), (mid, hi)]
    out[~odd] = texts[np.searchsorted(u, x[~odd])]
    return out


def why_first(table: pd.DataFrame, t: Catalog, fmt: Formatter) -> np.ndarray:
    """A short reason per row: the chance a call brings the patient back × what a return is
    worth (a plan's balance or the patient's typical visits); the dates stand beside."""
    chance, chances = pd.factorize(format_each(table["chance"], lambda x: fmt.percent(x, 1)))
    value, values = pd.factorize(format_each(table["value"], fmt.money_short))
    pair, pairs = pd.factorize(chance * len(values) + value)  # one text per distinct pair
    n = len(values)
    texts = [t("ranking.text", chance=chances[p // n], value=values[p % n]) for p in pairs]
    return np.asarray(texts, dtype=object)[pair]


HEADER_ROWS = 5  # title, who, script, how to fill in, blank; the table header follows
# column widths (Excel character units); columns empty on a sheet are left out
WIDTHS = {"rank": 4, "why_first": 13, "card": 12, "name": 22, "phone": 16, "email": 19,
          "last_visit": 10, "missed": 10, "doctor": 14, "balance": 8, "segment": 14,
          "outcome": 12, "reason": 11, "called_on": 9, "called_by": 8}  # fmt: skip
OPTIONAL = ("why_first", "email", "last_visit", "missed", "doctor", "balance")
FONT_PT = 12  # printed "fit to width" at 9 pt or more (see print_scale)
MARGIN_IN = 0.25  # left and right
FIT_WIDTH_PX = (11.69 - 2 * MARGIN_IN) * 96  # A4 landscape, printable width in pixels
# pixels per width unit: Excel's is 7 (Calibri); LibreOffice without Calibri draws ~8.5
PX_PER_CHAR = 8.5


MIN_PRINTED_PT = 10.0  # 9 pt with room for the padding a spreadsheet adds to each column
FLEXIBLE = ("name", "email", "doctor", "segment")  # narrowed when a sheet is too wide
WRAPPED = ("why_first", *FLEXIBLE)  # their text wraps; the row grows to show it all
LINE_PT = 15.0  # one line of the table's text


def print_scale(widths: list[float]) -> float:
    """The scale "fit to page width" prints columns of these widths at (at most 1),
    reckoned for the widest default font a spreadsheet may substitute."""
    return min(1.0, FIT_WIDTH_PX / sum(w * PX_PER_CHAR + 5 for w in widths))


def column_widths(keys: list[str]) -> list[float]:
    """The columns' widths, the flexible ones narrowed so that the sheet prints at
    ``MIN_PRINTED_PT`` or more when fit to the page width."""
    widths = [WIDTHS[k] for k in keys]
    budget = (FIT_WIDTH_PX * FONT_PT / MIN_PRINTED_PT - 5 * len(keys)) / PX_PER_CHAR
    excess = sum(widths) - budget
    flex = sum(w for k, w in zip(keys, widths, strict=True) if k in FLEXIBLE)
    if excess > 0 and flex:
        f = max(0.4, 1 - excess / flex)
        widths = [w * f if k in FLEXIBLE else w for k, w in zip(keys, widths, strict=True)]
    return [round(w, 1) for w in widths]


def row_lines(row: dict, widths: dict[str, float]) -> int:
    """Lines the row needs when its wrapped columns break their text at their widths."""
    need = 1
    for c in WRAPPED:
        text = row.get(c)
        if c in widths and _filled(text):
            need = max(need, text_lines(str(text), max(int(widths[c]), 1)))
    return need


def text_lines(text: str, width: int) -> int:
    """Lines ``text`` takes in a column ``width`` characters wide (words kept whole, a word
    longer than the column broken; a width unit holds about one character of the table's
    font)."""
    if len(text) <= width:
        return 1
    lines, used = 1, 0
    for word in text.split():
        if used and used + 1 + len(word) > width:
            lines, used = lines + 1, len(word)
        else:
            used += (1 if used else 0) + len(word)
        lines += (len(word) - 1) // width if len(word) > width else 0
    return lines


def _lines(texts: pd.Series, width: float) -> np.ndarray:
    """:func:`text_lines` of each text of a column ("" and None take one line)."""
    w = max(int(width), 1)
    out = np.ones(len(texts), dtype=np.int64)
    s = texts.fillna("").astype(str)
    long = (s.str.len() > w).to_numpy()
    if long.any():  # once per distinct text (doctors, reasons repeat; names seldom)
        codes, uniq = pd.factorize(s[long])
        out[long] = np.array([text_lines(x, w) for x in uniq], dtype=np.int64)[codes]
    return out


def card_text(source_ids) -> str:
    """The card ids the front desk finds in the MIS: ``mis:123`` (several cards of one
    person: ``mis:123, mis:456``)."""
    if not isinstance(source_ids, list | tuple) or not len(source_ids):
        return ""
    return ", ".join(str(s) for s in source_ids)


def short_name(full) -> str:
    """``Коваленко Олена Вікторівна`` -> ``Коваленко О. В.`` (surname, name, patronymic):
    a doctor's name that fits its column on paper (a long name would spill into the empty
    outcome cells). Other names are kept as they are."""
    parts = str(full or "").split()
    if len(parts) != 3 or any(p.endswith(".") for p in parts):
        return " ".join(parts)
    return f"{parts[0]} {parts[1][0]}. {parts[2][0]}."


def _columns(key: str, cells: pd.DataFrame) -> list[str]:
    """The sheet's columns: an optional one only when a row of the sheet fills it."""
    cols = ["rank", "why_first", "card", "name", "phone", "email", "last_visit", "missed",
            "doctor", "balance"]  # fmt: skip
    cols += ["segment"] if key == "do_not_contact" else []
    cols += ["outcome", "reason", "called_on", "called_by"]
    return [c for c in cols if c not in OPTIONAL or (c in cells and cells[c].notna().any())]


def _filled(v) -> bool:
    return not (v is None or v is pd.NaT or v == "" or (isinstance(v, float) and pd.isna(v)))


def excel_days(dates: pd.Series) -> pd.Series:
    """Dates as the day numbers a spreadsheet stores (1900 system, as xlsxwriter writes a
    date: the days since 1899-12-31, plus one after Excel's phantom 29 February 1900)."""
    days = (pd.to_datetime(dates).dt.normalize() - pd.Timestamp("1899-12-31")).dt.days
    return (days + (days > 59)).astype(float)


def _texts(values: pd.Series, how: Callable | None = None) -> pd.Series:
    """A text column to write: ``how`` applied once per distinct value; "" is blank."""
    if how is not None:
        codes, uniq = pd.factorize(values, use_na_sentinel=False)
        values = pd.Series(np.asarray([how(v) for v in uniq], dtype=object)[codes], values.index)
    return values.astype(object).where(values.notna() & (values != ""))


def _cells(table: pd.DataFrame, t: Catalog, fmt: Formatter) -> pd.DataFrame:
    """The cells of every listed row, as written: a text, a number (dates as day numbers)
    or None for a blank cell."""
    return pd.DataFrame(
        {
            "sheet": table["sheet"],
            "why_first": why_first(table, t, fmt),
            "card": _texts(table["source_ids"].map(card_text)),
            "name": _texts(table["name"]),
            "phone": _texts(internationals(table["phone"])),
            "email": _texts(table["email"]),
            "last_visit": excel_days(table["last_visit"]),
            "missed": excel_days(table["missed"]).where(table["sheet"] == "no_show"),
            "doctor": _texts(table["doctor"], short_name),
            "balance": table["balance"],
            "segment": _texts(table["sheet"], lambda s: t(f"calls.sheet.{s}")),
        },
        index=table.index,
    )


NUMBERS = ("rank", "last_visit", "missed", "balance")
SHEET_ROWS = 1_048_576  # the rows of a sheet in Excel and LibreOffice


def check_fits(name: str, n: int) -> None:
    """A sheet of ``n`` patients below the header block must fit in a spreadsheet's rows
    (xlsxwriter would drop the rest without a word): else one clear error."""
    room = SHEET_ROWS - HEADER_ROWS - 1
    if n > room:
        from clinic_analysis.errors import ReportError

        raise ReportError(
            f"call_lists.xlsx: the sheet '{name}' would list {n:,} patients, more than the "
            f"{room:,} rows a spreadsheet's sheet holds",
            hint="audit the clinic's branches apart (a params file per branch); "
            "patients.parquet lists every patient",
        )


STOP_EVERY = 4096  # rows written between two looks at the ``stop`` of write_call_lists


def write_call_lists(audit: Audit, path: Path, stop: Event | None = None) -> dict[str, int]:
    """Write the workbook; returns rows per sheet. Same audit, same bytes. Rows are written
    one after another (xlsxwriter's ``constant_memory``): a million patients' lists never
    sit in memory as cells. ``stop`` set (by another thread) ends the writing early with
    :class:`~clinic_analysis.report.reuse.Stopped`."""
    import xlsxwriter

    lang = audit.params.clinic.language
    t = Catalog(lang)
    cur = audit.params.clinic.currency
    fmt = Formatter(lang, cur)
    table = calls_of(audit)
    totals = table.loc[on_lists(table), "sheet"].value_counts()  # each call sheet's patients
    # a call sheet lists its first ``cap`` patients (the do-not-contact sheet is never cut)
    table = table[listed(table, audit.params.calls.max_rows_per_sheet) | table["refused_contact"]]
    cells = _cells(table, t, fmt)
    ok = on_lists(table).to_numpy()
    as_of = pd.Timestamp(audit.data.as_of).normalize().to_pydatetime()
    outcomes = [t(f"calls.outcome.{o}") for o in OUTCOMES]
    reasons = [t(f"calls.reason.{r}") for r in REASONS]
    sheets: dict[str, int] = {}
    options = {"remove_timezone": True, "constant_memory": True}
    with xlsxwriter.Workbook(path, options) as wb:
        wb.set_properties(
            {"title": t("calls.title"), "comments": t("calls.note"), "created": as_of}
        )
        base = {"font_size": FONT_PT, "valign": "top"}
        head = wb.add_format({**base, "bold": True, "bg_color": "#1f6f8b",
                              "font_color": "#ffffff", "text_wrap": True, "border": 1})  # fmt: skip
        title = wb.add_format({**base, "bold": True, "font_size": 14})
        block = wb.add_format({**base, "text_wrap": True})
        date = wb.add_format({**base, "num_format": "dd.mm.yyyy", "align": "left"})
        money = wb.add_format({**base, "num_format": "# ##0"})
        plain = wb.add_format(base)
        entry = wb.add_format(
            {**base, "bg_color": "#fff8e1", "border": 1, "border_color": "#cccccc"}
        )
        entry_date = wb.add_format({**base, "bg_color": "#fff8e1", "border": 1,
                                    "border_color": "#cccccc", "num_format": "dd.mm.yyyy"})  # fmt: skip
        wrap = wb.add_format({**base, "text_wrap": True, "valign": "top"})
        fmts = {"last_visit": date, "missed": date, "balance": money, "outcome": entry,
                "reason": entry, "called_on": entry_date, "called_by": entry}  # fmt: skip
        # narrowed columns wrap instead of cutting a name or a reason on paper
        fmts.update(dict.fromkeys(WRAPPED, wrap))
        sheet = cells["sheet"].to_numpy()
        groups = [(s, (sheet == s) & ok) for s in SHEETS]
        groups.append(("do_not_contact", table["refused_contact"].to_numpy()))
        meta_rows = [["format", META_FORMAT], ["as_of", as_of.date().isoformat()],
                     ["language", lang], ["clinic", audit.params.slug]]  # fmt: skip
        for key, mask in groups:
            rows = cells[mask]
            if rows.empty:  # never an empty sheet: metrics say how many were left off
                continue
            rows = rows.assign(rank=np.arange(1, len(rows) + 1, dtype=float))  # 1 = call first
            if key == "do_not_contact":
                rows = rows.assign(outcome=t("calls.outcome.do_not_call"))
            cols = _columns(key, rows)
            name = t(f"calls.sheet.{key}")[:31]
            check_fits(name, len(rows))
            ws = wb.add_worksheet(name)
            last = len(cols) - 1
            script = (
                audit.params.refusers.scripts.get(key) or t(f"calls.script.{key}")
                if key != "do_not_contact"
                else t("calls.dnc_note")
            )
            # rows are written in order (constant_memory): each row's height first
            ws.set_row(0, 20)
            ws.write_string(0, 0, _title(key, len(rows), int(totals.get(key, 0)), t, fmt), title)
            ws.set_row(1, 18)
            ws.merge_range(1, 0, 1, last, t(f"calls.about.{key}"), block)
            ws.set_row(2, 34)
            ws.merge_range(2, 0, 2, last, f"{t('calls.col.scenario')}: {script}", block)
            ws.set_row(3, 34)
            ws.merge_range(3, 0, 3, last, t("calls.how_to_fill"), block)
            hr = HEADER_ROWS
            widths = column_widths(cols)
            ws.set_row(hr, 30)
            for j, (c, w) in enumerate(zip(cols, widths, strict=True)):
                ws.write_string(hr, j, t(f"calls.col.{c}").format(currency=cur), head)
                ws.set_column(j, j, w)
            width_of = dict(zip(cols, widths, strict=True))
            lines = np.ones(len(rows), dtype=np.int64)
            for c in WRAPPED:
                if c in width_of:
                    lines = np.maximum(lines, _lines(rows[c], width_of[c]))
            _write_rows(ws, hr + 1, rows, cols, lines, fmts, plain, stop)
            first, end = hr + 1, hr + len(rows)
            if key != "do_not_contact":
                oc, rc = cols.index("outcome"), cols.index("reason")
                ws.data_validation(first, oc, end, oc, {"validate": "list", "source": outcomes})
                ws.data_validation(first, rc, end, rc, {"validate": "list", "source": reasons})
                dc = cols.index("called_on")
                ws.data_validation(
                    first, dc, end, dc,
                    {"validate": "date", "criteria": ">=", "value": as_of,
                     "error_message": t("calls.date_error")},
                )  # fmt: skip
            ws.freeze_panes(hr + 1, 0)
            ws.autofilter(hr, 0, end, last)
            ws.set_landscape()
            ws.set_paper(9)  # A4
            ws.set_margins(left=MARGIN_IN, right=MARGIN_IN, top=0.5, bottom=0.5)
            ws.fit_to_pages(1, 0)
            ws.repeat_rows(hr)
            ws.set_footer(f"&L{name}&R&P / &N")
            meta_rows.append(["sheet", name, key, hr + 1, *cols])
            sheets[key] = int(len(rows))
        if not sheets:  # nobody to call: one sheet that says so, never an empty one
            ws = wb.add_worksheet(t("calls.title")[:31])
            ws.write_string(0, 0, t("calls.nobody"), title)
        meta = wb.add_worksheet(META_SHEET)
        for i, r in enumerate(meta_rows):
            for j, v in enumerate(r):
                meta.write(i, j, v)
        meta.very_hidden()
    return sheets


def _title(key: str, n: int, total: int, t: Catalog, fmt: Formatter) -> str:
    """The sheet's title: its name and patients; "n of total" when the sheet was cut."""
    if total <= n:
        return f"{t(f'calls.sheet.{key}')}: {n}"
    return t(
        "calls.cut_title",
        sheet=t(f"calls.sheet.{key}"),
        n=fmt.number(n),
        total=fmt.number(total),
        rest=fmt.number(total - n),
    )


def _write_rows(ws, first: int, rows: pd.DataFrame, cols, lines, fmts, plain, stop=None) -> None:
    """The table's rows from ``first`` on: per cell a text, a number or a blank (the entry
    columns are blank, formatted for the front desk); a row whose wrapped text needs more
    than one line is made that tall (a spreadsheet keeps stored heights). ``stop`` set ends
    it early (checked every few thousand rows)."""
    n = len(rows)
    columns = []
    for c in cols:
        kind = NUMBER if c in NUMBERS else TEXT
        if c not in rows:  # the front desk's columns: blank
            columns.append(([None] * n, kind, fmts.get(c, plain)))
            continue
        v = rows[c]
        columns.append((v.astype(object).where(v.notna(), None).tolist(), kind, fmts.get(c, plain)))
    heights = np.where(lines > 1, LINE_PT * lines, np.nan)

    def check() -> None:
        if stop is not None and stop.is_set():
            from clinic_analysis.report.reuse import Stopped

            raise Stopped()

    write_rows(ws, first, columns, heights, check=check, every=STOP_EVERY)
