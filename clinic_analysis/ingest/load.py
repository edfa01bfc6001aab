"""Load: source files -> canonical tables (:class:`~clinic_analysis.ingest.tables.ClinicData`).

Parsing follows how clinics' exports really look: UTF-8 (with or without BOM) or
Windows-1251, ``;``/``,``/tab separators, decimal commas and spaces in thousands,
day-first dates with or without time, Excel's empty cells. Every input row ends up in the
ledger: kept, or dropped with a named reason (and written to ``rejected_rows.csv``).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from clinic_analysis.errors import ColumnError, DataValueError, ParamsError, SourceFileError
from clinic_analysis.ingest import identity
from clinic_analysis.ingest.tables import CATEGORIES, COLUMNS, DEFAULTS, ClinicData, LedgerEntry
from clinic_analysis.params import Params, Source

ENCODINGS = ("utf-8-sig", "utf-8", "cp1251", "utf-16", "utf-16-le", "utf-16-be")
# tried in this order on each value the params' date_format did not read (day-first; the
# day and month swap places when the params' date_format is month-first)
DATE_FORMATS = (
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%y",
    "%d.%m.%y %H:%M",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y.%m.%d",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%y",
    "%d-%m-%Y",
    "%d-%m-%Y %H:%M",
)
SERIAL_DAYS = (10_000, 80_000)  # Excel day numbers read as dates: 1927-05-18 .. 2119-01-10
TRUE_WORDS = {"так", "да", "yes", "y", "true", "1", "+", "є", "есть", "згоден", "согласен"}
FALSE_WORDS = {"ні", "нет", "no", "n", "false", "0", "-", "немає", "нема"}
SEX_WORDS = {
    "f": "f", "ж": "f", "жін": "f", "жін.": "f", "жіноча": "f", "жен": "f", "жен.": "f",
    "женский": "f", "female": "f", "woman": "f",
    "m": "m", "ч": "m", "чол": "m", "чол.": "m", "чоловіча": "m", "м": "m", "муж": "m",
    "муж.": "m", "мужской": "m", "male": "m", "man": "m",
}  # fmt: skip

WHOLE_ID = r"^([1-9]\d*)\.0+$"  # "29872499824296.0": a number an export wrote as a float
SCI_ID = r"\d+(?:[.,]\d+)?[eE]\+?\d+"  # an id Excel turned into a number: 2.98725E+13

# ledger reasons (stable keys; the report translates them)
R_MISSING_ID = "missing_patient_id"
R_BAD_DATE = "unparseable_date"
R_DUPLICATE = "duplicate_row"
R_AFTER_AS_OF = "after_as_of"
R_EXCLUDED_PATIENT = "excluded_patient"
R_BEFORE_OPENED = "before_clinic_opened"
R_CROSS_DUPLICATE = "duplicate_row_across_sources"
DEFAULT_OPENED = pd.Timestamp("1990-01-01")  # no visit is plausible before, unless params say


def detect_encoding(raw: bytes) -> str:
    """UTF-8 with BOM; UTF-16 (by its BOM, or without one by the NUL bytes of its ASCII
    characters); else UTF-8 if it decodes, else Windows-1251."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\0" in raw:  # text in UTF-8 or cp1251 holds no NUL bytes; UTF-16 without BOM does
        return "utf-16-le" if raw[1::2].count(0) >= raw[0::2].count(0) else "utf-16-be"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # a multi-byte character cut at the end of a sample is still UTF-8
        if err.reason != "unexpected end of data":
            return "cp1251"
    return "utf-8"


def sniff_delimiter(sample: str) -> str:
    """The separator of a CSV sample: ``;``, ``,``, tab or ``|``.

    ``csv.Sniffer`` guesses first; another separator wins when it splits every line into the
    same, larger number of fields (the sniffer can take ``1;29.09.2025;1 970,00`` for
    comma-separated)."""
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters=";,\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ";,\t|"}
        sniffed = max(counts, key=counts.get) if max(counts.values()) else ","
    if len(lines) > 2:
        lines = lines[:-1]  # the last line of a sample may be cut

    def fields(d: str) -> int:
        counts = {len(row) for row in csv.reader(lines, delimiter=d)}
        return counts.pop() if len(counts) == 1 else 0

    best = max(";,\t|", key=fields)
    return best if fields(best) > fields(sniffed) else sniffed


def read_raw(source: Source) -> pd.DataFrame:
    """Read one source file into a frame of raw values (strings for text files)."""
    return read_table(
        source.path,
        encoding=source.encoding,
        delimiter=source.delimiter,
        sheet=source.sheet,
        what=f"source '{source.system}' / {source.table}",
    )


def read_table(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    what: str = "",
) -> pd.DataFrame:
    """CSV (sniffed), XLSX (calamine) or Parquet, by extension; errors name the file."""
    path = Path(path)
    if not path.exists():
        raise SourceFileError(
            path,
            f"file not found ({what})" if what else "file not found",
            hint="check `path:` in params; relative paths start at the params file's folder",
        )
    if path.is_dir():
        raise SourceFileError.folder(path, what)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            return _read_csv(path, encoding, delimiter)
        if suffix in (".xlsx", ".xlsm", ".xls"):
            # dtype=object: cells keep their own type, so text ids such as "00123" stay text
            return pd.read_excel(
                path, engine="calamine", sheet_name=sheet if sheet else 0, dtype=object
            )
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (SourceFileError, ColumnError):
        raise
    except ValueError as err:
        if sheet and "sheet" in str(err).lower():
            raise SourceFileError(path, f"no sheet '{sheet}' ({err})") from None
        raise SourceFileError(path, f"cannot be read: {err}") from None
    except Exception as err:  # noqa: BLE001 - any reader failure becomes one clear message
        raise SourceFileError(path, f"cannot be read as {suffix[1:]}: {err}") from None
    raise SourceFileError(path, f"unknown file type '{suffix}'", hint="use .csv, .xlsx or .parquet")


def _read_csv(path: Path, encoding: str | None, delimiter: str | None) -> pd.DataFrame:
    with path.open("rb") as fh:
        head = fh.read(256 * 1024)
    encoding = encoding or detect_encoding(head)
    if encoding == "utf-8" and head.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    sep = delimiter or sniff_delimiter(head.decode(encoding, errors="replace"))
    try:
        return pd.read_csv(
            path,
            sep=sep,
            encoding=encoding,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            on_bad_lines="error",
        )
    except UnicodeDecodeError as err:
        raise SourceFileError(
            path,
            f"not valid {encoding} text ({err.reason} at byte {err.start})",
            hint="set `encoding:` (utf-8, utf-8-sig, cp1251 or utf-16) for this source in params",
        ) from None
    except pd.errors.ParserError as err:
        raise SourceFileError(
            path,
            f"rows do not split into the same columns with separator {sep!r}: {err}",
            hint="set `delimiter:` for this source in params",
        ) from None
    except pd.errors.EmptyDataError:
        raise SourceFileError(path, "the file is empty") from None


def apply_lookup(values: pd.Series, lookup) -> pd.Series:
    """Replace ids by the names a dictionary file gives them; unknown ids stay as they are."""
    table = read_table(
        lookup.path,
        encoding=lookup.encoding,
        delimiter=lookup.delimiter,
        sheet=lookup.sheet,
        what="lookup",
    )
    table.columns = [str(c).strip() for c in table.columns]
    for col in (lookup.key, lookup.value):
        if col not in table.columns:
            raise ColumnError(lookup.path, col, list(table.columns), role="lookup")
    names = dict(zip(_as_text(table[lookup.key]), _as_text(table[lookup.value]), strict=True))
    return values.map(names).fillna(values)


# ----------------------------------------------------------------------------- parsers


def _cell_text(v) -> str | None:
    """One cell as text: a whole float (Excel's number for an id) loses '.0'."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float):
        if v != v:  # NaN
            return None
        if math.isfinite(v) and v == math.floor(v):
            return str(int(v))
    return str(v)


def _as_text(s: pd.Series) -> pd.Series:
    """Strings, stripped; empty -> missing. Excel floats that are whole numbers lose '.0'
    (whether the column is all numbers or numbers mixed with text)."""
    if pd.api.types.is_float_dtype(s) or s.dtype == object:
        s = s.map(_cell_text, na_action="ignore").astype(object)
    s = s.astype("str").where(s.notna())
    s = s.str.strip()
    return s.where(s != "")


# YAML 1.1 (PyYAML) reads bare yes/no/on/off as booleans and params keep them as
# "true"/"false": such a key matches a cell written in any of these spellings
BOOL_SPELLINGS = {"true": ("yes", "on"), "false": ("no", "off")}


def value_lookup(mapping: dict[str, str] | None) -> dict[str, str]:
    """A params ``values:`` mapping keyed by lower-case cell text; a key that YAML read as a
    boolean also matches yes/on (no/off), case-insensitively."""
    low = {str(k).strip().lower(): v for k, v in (mapping or {}).items()}
    for key, spellings in BOOL_SPELLINGS.items():
        if key in low:
            for alias in spellings:
                low.setdefault(alias, low[key])
    return low


MONEY_NOISE = r"[\s\u00a0\u202f'’]|грн\.?|₴|uah|руб\.?|₽|\$|€|usd|eur"


def _reading(body: str, dec: str) -> float | None:
    """The number ``body`` (digits and separators, no sign) means if ``dec`` is the decimal
    mark and the other mark groups thousands; None when it cannot be read that way."""
    th = re.escape("." if dec == "," else ",")
    m = re.fullmatch(rf"(\d+|[1-9]\d{{0,2}}(?:{th}\d{{3}})+)?(?:{re.escape(dec)}(\d+))?", body)
    if not m or not (m.group(1) or m.group(2)):
        return None
    whole = re.sub(th, "", m.group(1) or "0")
    return float(f"{whole}.{m.group(2) or 0}")


def _money_readings(v) -> tuple[float | None, float | None]:
    """(value if ',' is the decimal mark, value if '.' is) of one cell; None = unreadable."""
    if isinstance(v, bool):
        return None, None
    if isinstance(v, (int, float, np.number)):
        x = float(v)
        return (x, x) if math.isfinite(x) else (None, None)
    text = re.sub(MONEY_NOISE, "", str(v), flags=re.IGNORECASE)
    m = re.fullmatch(r"([+\-−]?)(.*)", text)
    sign = -1.0 if m.group(1) in ("-", "−") else 1.0
    comma, dot = _reading(m.group(2), ","), _reading(m.group(2), ".")
    return (
        None if comma is None else sign * comma,
        None if dot is None else sign * dot,
    )


def read_money(
    s: pd.Series, decimal: str | None = None, mapping: dict[str, str] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Amounts parsed per value, the decimal mark checked per column.

    Returns ``(values, ambiguous)``. A value is read the only way it can be read
    ("1234.50", "1 234,50", "1.234,50", "1,234.50" are all 1234.5, whatever the column's
    convention). A value that reads two ways ("1.234": 1234 or 1.234) follows the column's
    convention: the mark that the column's unambiguous values use most, else the
    ``decimal:`` of the params; when there is none, or the two disagree, it is left missing
    and marked in ``ambiguous``. Text that is no number ("abc", "inf", "nan") is missing.
    ``mapping`` (params ``values:``) gives numbers to words such as "безкоштовно": 0.
    """
    cells = s.astype(object)
    readings = {v: _money_readings(v) for v in pd.unique(cells[cells.notna()])}
    comma = cells.map(lambda v: readings[v][0], na_action="ignore").astype("float64")
    dot = cells.map(lambda v: readings[v][1], na_action="ignore").astype("float64")
    # the column's own convention: the votes of the values only one convention can read
    only_comma = int((comma.notna() & dot.isna()).sum())
    only_dot = int((dot.notna() & comma.isna()).sum())
    shown = "," if only_comma > only_dot else "." if only_dot > only_comma else None
    if decimal is None:
        decimal = shown
    elif shown is not None and shown != decimal:
        decimal = None  # the column contradicts the params: neither is trusted
    two_ways = comma.notna() & dot.notna() & (comma != dot)
    if decimal == ",":
        values = comma.fillna(dot)
    elif decimal == ".":
        values = dot.fillna(comma)
    else:
        values = comma.fillna(dot).where(~two_ways)
    ambiguous = two_ways & (decimal is None)
    if mapping:
        low = value_lookup(mapping)
        words = _as_text(s).str.lower().map(low)
        named = words.notna()
        values = values.where(~named, pd.to_numeric(words, errors="coerce"))
        ambiguous &= ~named
    return values.astype("float64"), ambiguous


def parse_money(s: pd.Series, decimal: str | None = None) -> pd.Series:
    """'1 234,50', '1234.50', '1.234,50 грн' -> float; unreadable or ambiguous -> NaN
    (see :func:`read_money`)."""
    return read_money(s, decimal)[0]


def _month_first_format(fmt: str) -> bool:
    """Does a date format put the month before the day (``%m/%d/%Y``)?"""
    return "%m" in fmt and "%d" in fmt and fmt.index("%m") < fmt.index("%d")


def _swap_day_month(fmt: str) -> str:
    if fmt.startswith(("%Y", "%y")):  # year-first formats are the same everywhere
        return fmt
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _date_formats(date_format: str | None, month_first: bool) -> list[str]:
    formats = (
        [date_format, f"{date_format} %H:%M", f"{date_format} %H:%M:%S"] if date_format else []
    )
    for f in DATE_FORMATS:
        f = _swap_day_month(f) if month_first else f
        if f not in formats:
            formats.append(f)
    return formats


def _serial_dates(num: pd.Series) -> pd.Series:
    """Excel serial day numbers in a plausible range -> datetimes; others -> NaT."""
    ok = num.between(*SERIAL_DAYS)
    out = pd.Series(pd.NaT, index=num.index, dtype="datetime64[us]")
    if ok.any():
        days = pd.to_timedelta(num[ok], unit="D")
        out[ok] = (pd.Timestamp("1899-12-30") + days).astype("datetime64[us]")
    return out


def _stamp(v) -> pd.Timestamp:
    """An Excel date cell as a naive timestamp (NaT when out of range)."""
    try:
        x = pd.Timestamp(v)
    except (ValueError, OverflowError):
        return pd.NaT
    return x.tz_convert(None) if x.tzinfo is not None else x


def parse_datetime(s: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates parsed per value -> datetime64 (naive): day-first dates with or without time
    (month-first when the params' ``date_format`` is), ISO dates, Excel dates and serial
    day numbers; one column may mix them. ``date_format`` is tried first. Unreadable -> NaT.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert(None)
        return out.astype("datetime64[us]")
    if pd.api.types.is_bool_dtype(s):
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    if pd.api.types.is_numeric_dtype(s):
        return _serial_dates(s.astype("float64"))
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    if pd.api.types.is_string_dtype(s) and s.dtype != object:  # text only (a CSV column)
        t = _as_text(s)
    else:  # Excel cells: dates, numbers and text mixed
        cells = s.astype(object)
        stamps = cells.map(lambda v: isinstance(v, (dt.date, np.datetime64))).astype(bool)
        if stamps.any():  # Excel date cells
            out[stamps] = cells[stamps].map(_stamp).astype("datetime64[us]")
        numbers = cells.map(
            lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and v == v
        ).astype(bool)
        if numbers.any():  # Excel numbers in a date column
            out[numbers] = _serial_dates(cells[numbers].astype("float64"))
        t = _as_text(s.where(~(stamps | numbers)))
    written = pd.Series(t.dropna().unique(), dtype=object)  # each distinct text parsed once
    if written.empty:
        return out
    # ISO with a zone suffix (e.g. 2019-02-17T10:06:38Z): drop the zone, keep the wall time
    uniq = written.str.replace(r"(?<=\d)(Z|[+-]\d\d:?\d\d)$", "", regex=True)
    parsed = pd.Series(pd.NaT, index=uniq.index, dtype="datetime64[us]")
    todo = pd.Series(True, index=uniq.index)
    month_first = bool(date_format) and _month_first_format(date_format)
    for fmt in _date_formats(date_format, month_first):
        if not todo.any():
            break
        got = pd.to_datetime(uniq[todo], format=fmt, errors="coerce")
        ok = got.notna()
        if ok.any():
            idx = ok[ok].index
            parsed[idx] = got[idx].astype("datetime64[us]")
            todo[idx] = False
    if todo.any():  # Excel serials written as text
        parsed[todo] = _serial_dates(pd.to_numeric(uniq[todo], errors="coerce"))
    lookup = dict(zip(written, parsed, strict=True))
    has = t.notna()
    out[has] = t[has].map(lookup).astype("datetime64[us]")
    return out


def _month_first(failed: pd.Series, month_first: bool = False) -> pd.Series:
    """Which failures parse in the other convention (``12.31.2024`` in a day-first column):
    day and month swapped?"""
    if failed.empty:
        return pd.Series(dtype=bool)
    ok = pd.Series(False, index=failed.index)
    for fmt in ("%m.%d.%Y", "%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y %H:%M", "%m/%d/%Y %H:%M"):
        fmt = _swap_day_month(fmt) if month_first else fmt
        ok |= pd.to_datetime(failed, format=fmt, errors="coerce").notna()
    return ok


def parse_bool(s: pd.Series, mapping: dict[str, str] | None = None) -> pd.Series:
    t = _as_text(s)
    if mapping:
        m = t.str.lower().map(value_lookup(mapping))
        return m.map({"true": True, "false": False}).astype("boolean")
    low = t.str.lower()
    out = pd.Series(pd.NA, index=t.index, dtype="boolean")
    out[low.isin(TRUE_WORDS)] = True
    out[low.isin(FALSE_WORDS)] = False
    return out


def parse_category(
    s: pd.Series, table: str, column: str, mapping: dict[str, str] | None, path: Path, header: str
) -> pd.Series:
    """Map the file's values onto the canonical ones; an unknown status is an error."""
    allowed = CATEGORIES[(table, column)]
    t = _as_text(s)
    if column == "sex" and not mapping:
        return t.str.lower().map(SEX_WORDS)
    low = value_lookup(mapping)
    for a in allowed:  # canonical words are understood as they are
        low.setdefault(a, a)
    key = t.str.lower()
    mapped = key.map(low)
    unknown = t[t.notna() & mapped.isna()]
    if len(unknown) and column == "status":
        counts = unknown.value_counts()
        listed = ", ".join(f"{v!r} ({n})" for v, n in counts.head(15).items())
        raise DataValueError(
            path,
            header,
            f"values not mapped to a {table} status: {listed}",
            hint=(
                f"map each under `values: {{{column}: {{...}}}}` in params to one of "
                f"{', '.join(allowed)}"
            ),
        )
    default = DEFAULTS.get((table, column))
    if default is not None:
        mapped = mapped.fillna(default)
    return mapped


# ----------------------------------------------------------------------------- one source


def load_source(
    source: Source, opened: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, LedgerEntry, pd.DataFrame]:
    """One source file -> (canonical rows kept, ledger entry, rejected rows).

    Visits and plans dated before ``opened`` (default 1990-01-01) are dropped as
    ``before_clinic_opened``. When one reason that a mapped column causes (no id, no date,
    dates before the opening) drops more than half of the rows, the mapping is surely wrong:
    a :class:`DataValueError` says which column and what to map instead.
    """
    opened = DEFAULT_OPENED if opened is None else pd.Timestamp(opened)
    raw = read_raw(source)
    raw.columns = [str(c).strip() for c in raw.columns]
    entry = LedgerEntry(system=source.system, table=source.table, path=str(source.path))
    entry.rows_in = len(raw)
    available = list(raw.columns)
    for canon, header in source.columns.items():
        if header not in raw.columns:
            raise ColumnError(source.path, header, available, role=canon)

    kinds = COLUMNS[source.table]
    out = pd.DataFrame(index=raw.index)
    month_first = bool(source.date_format) and _month_first_format(source.date_format)
    for canon, header in source.columns.items():
        col = raw[header]
        kind = kinds[canon]
        mapping = source.values.get(canon)
        if kind == "id" or kind == "text":
            out[canon] = _as_text(col)
            if kind == "id":  # a whole number written as "123.0" is the id "123"
                floats = out[canon].str.contains(".0", regex=False, na=False)
                out.loc[floats, canon] = out.loc[floats, canon].str.replace(
                    WHOLE_ID, r"\1", regex=True
                )
            if canon in source.lookups:
                out[canon] = apply_lookup(out[canon], source.lookups[canon])
            if kind == "id":
                entry.flag(f"scientific_{canon}", out[canon].str.fullmatch(SCI_ID, na=False).sum())
        elif kind == "money":
            out[canon], ambiguous = read_money(col, source.decimal, mapping)
            entry.flag(f"ambiguous_{canon}", ambiguous.sum())
            unread = out[canon].isna() & _as_text(col).notna() & ~ambiguous
            entry.flag(f"unparseable_{canon}", unread.sum())
        elif kind == "datetime" or kind == "date":
            out[canon] = parse_datetime(col, source.date_format)
            if kind == "date":
                out[canon] = out[canon].dt.normalize()
            failed = _as_text(col)[out[canon].isna() & col.notna()].dropna()
            entry.flag(f"{canon}_month_first", _month_first(failed, month_first).sum())
            if canon != "date":
                entry.flag(f"unparseable_{canon}", len(failed))
        elif kind == "bool":
            out[canon] = parse_bool(col, mapping)
        elif kind == "category":
            out[canon] = parse_category(col, source.table, canon, mapping, source.path, header)
    for (table, column), default in DEFAULTS.items():
        if table == source.table and column not in out:
            out[column] = default

    out["source_system"] = source.system
    out["source_row"] = raw.index.to_numpy() + 2  # 1-based, after the header line
    out["source_id"] = out["patient_id"]

    reasons = pd.Series(pd.NA, index=raw.index, dtype="object")
    reasons[out["patient_id"].isna()] = R_MISSING_ID
    if "date" in source.columns:
        bad = out["date"].isna() & _as_text(raw[source.columns["date"]]).notna()
        if source.table == "visits":
            bad |= out["date"].isna()
        reasons[bad & reasons.isna()] = R_BAD_DATE
        if source.table in ("visits", "plans"):
            reasons[(out["date"] < opened) & reasons.isna()] = R_BEFORE_OPENED
    _fail_fast(raw, out, reasons, source, opened)
    dup = raw.duplicated(keep="first") & reasons.isna()
    reasons[dup] = R_DUPLICATE

    rejected = _rejected_frame(raw, reasons, source)
    kept = out[reasons.isna()].copy()
    for reason, n in reasons.value_counts().items():
        entry.drop(str(reason), int(n))
    return kept, entry, rejected


def _fail_fast(
    raw: pd.DataFrame, out: pd.DataFrame, reasons: pd.Series, source: Source, opened
) -> None:
    """Stop with one line when a mapped column drops more than half of the source's rows."""
    counts = reasons.value_counts()
    n_rows = len(raw)
    month_first = bool(source.date_format) and _month_first_format(source.date_format)
    for reason in (R_MISSING_ID, R_BAD_DATE, R_BEFORE_OPENED):
        if counts.get(reason, 0) * 2 <= n_rows:
            continue
        canon = "patient_id" if reason == R_MISSING_ID else "date"
        header = source.columns[canon]
        where = f"{counts[reason]:,} of {n_rows:,} rows"
        if reason == R_MISSING_ID:
            raise DataValueError(
                source.path,
                header,
                f"is empty in {where}: map `patient_id` to the column holding the patient's "
                "id (or card number)",
            )
        sample = _as_text(raw.loc[reasons == reason, header]).dropna()
        example = f" (e.g. {sample.iloc[0]})" if len(sample) else ""
        unmapped = raw.drop(columns=list(set(source.columns.values())))
        others = _date_columns(unmapped, source.date_format, opened)
        fix = (
            f"map `date` to one of the date columns: {', '.join(others)}"
            if others
            else "map `date` to the column holding the visit's date"
        )
        if reason == R_BEFORE_OPENED:
            problem = f"holds dates before {opened.date().isoformat()}{example} in {where}"
            fix += " (or set `clinic.opened` if the clinic is that old)"
        elif len(sample) and _month_first(sample, month_first).all():
            problem = f"holds dates with day and month swapped{example} in {where}"
            mark = re.search(r"[./-]", sample.iloc[0])
            sep = mark.group(0) if mark else "."
            fmt = sep.join(("%d", "%m", "%Y") if month_first else ("%m", "%d", "%Y"))
            fix = f'set `date_format` for this source to their order (e.g. "{fmt}")'
        elif out["date"].notna().any():
            problem = f"holds no date in {where}{example}"
        else:
            problem = f"holds no dates{example}"
        raise DataValueError(source.path, header, f"{problem}: {fix}")


def _date_columns(raw: pd.DataFrame, date_format: str | None, opened) -> list[str]:
    """The columns most of whose first values read as dates after ``opened``."""
    found = []
    for col in raw.columns:
        sample = raw[col].dropna().head(200)
        if sample.empty:
            continue
        dates = parse_datetime(sample, date_format)
        if (dates >= opened).mean() > 0.8:
            found.append(str(col))
    return found


def _rejected_frame(raw: pd.DataFrame, reasons: pd.Series, source: Source) -> pd.DataFrame:
    mask = reasons.notna()
    if not mask.any():
        return _empty_rejected()
    from clinic_analysis.ingest.contacts import (
        mask_contacts,
    )  # contacts stay in the call lists only

    rows = mask_contacts(raw[mask], source)
    values = rows.apply(
        lambda r: " | ".join(f"{c}={v}" for c, v in r.items() if pd.notna(v) and str(v) != ""),
        axis=1,
    )
    return pd.DataFrame(
        {
            "system": source.system,
            "table": source.table,
            "path": str(source.path),
            "row": rows.index.to_numpy() + 2,
            "reason": reasons[mask].astype(str).to_numpy(),
            "values": values.to_numpy(),
        }
    )


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame(columns=["system", "table", "path", "row", "reason", "values"])


# ----------------------------------------------------------------------------- the clinic


def _empty_table(table: str) -> pd.DataFrame:
    cols = list(COLUMNS[table]) + ["source_system", "source_row", "source_id"]
    return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})


def load_clinic(params: Params) -> ClinicData:
    """Read every source of a clinic into canonical tables plus the ledger."""
    parts: dict[str, list[pd.DataFrame]] = {"visits": [], "patients": [], "plans": []}
    present: dict[str, list[str]] = {}
    ledger: list[LedgerEntry] = []
    rejected: list[pd.DataFrame] = []
    entries: dict[int, LedgerEntry] = {}
    check_duplicate_sources(params)
    opened = pd.Timestamp(params.clinic.opened) if params.clinic.opened else DEFAULT_OPENED
    for i, source in enumerate(params.sources):
        kept, entry, rej = load_source(source, opened)
        kept["_source"] = i
        parts[source.table].append(kept)
        present.setdefault(source.table, [])
        for c in source.columns:
            if c not in present[source.table]:
                present[source.table].append(c)
        ledger.append(entry)
        entries[i] = entry
        rejected.append(rej)

    tables = {
        t: (pd.concat(p, ignore_index=True) if p else _empty_table(t)) for t, p in parts.items()
    }
    for t, df in tables.items():
        for c in COLUMNS[t]:
            if c not in df:
                df[c] = pd.Series(pd.NA, index=df.index, dtype="object")
        if "_source" not in df:
            df["_source"] = pd.Series(dtype="int64")
        # ids are unique only inside one system
        df["patient_id"] = df["source_system"].astype(str) + ":" + df["patient_id"].astype(str)

    # the same rows exported twice (overlapping exports of one system): kept once
    extra_rejected = []
    for t in tables:
        twice = _across_sources(tables[t])
        _drop(tables, t, twice, R_CROSS_DUPLICATE, entries, extra_rejected)
    visits, patients, plans = tables["visits"], tables["patients"], tables["plans"]

    # exclusion rules: a matching patient takes their visits and plans along
    for rule in params.exclude:
        df = tables[rule.table]
        if rule.column not in df:
            continue
        hit = df[rule.column].astype("str").str.contains(rule.pattern, regex=True, na=False)
        if rule.table == "patients" and hit.any():
            ids = set(df.loc[hit, "patient_id"])
            _drop(tables, "patients", hit, f"excluded: {rule.reason}", entries, extra_rejected)
            for t in ("visits", "plans"):
                m = tables[t]["patient_id"].isin(ids)
                _drop(tables, t, m, R_EXCLUDED_PATIENT, entries, extra_rejected)
        elif hit.any():
            _drop(tables, rule.table, hit, f"excluded: {rule.reason}", entries, extra_rejected)
    visits, patients, plans = tables["visits"], tables["patients"], tables["plans"]

    # as_of: from params, else the last completed visit not after today (a far-future
    # typo never becomes the audit date)
    today = pd.Timestamp.today().normalize()
    completed = (visits["status"] == "completed") & (visits["date"] < today + pd.Timedelta(days=1))
    if params.clinic.as_of is not None:
        as_of = pd.Timestamp(params.clinic.as_of)
    elif completed.any():
        as_of = visits.loc[completed, "date"].max().normalize()
    else:
        as_of = today
    day_after = as_of + pd.Timedelta(days=1)
    late = (visits["date"] >= day_after) & (visits["status"] != "booked")
    _drop(tables, "visits", late, R_AFTER_AS_OF, entries, extra_rejected)
    if "date" in tables["plans"]:
        late_plans = tables["plans"]["date"].notna() & (tables["plans"]["date"] >= day_after)
        _drop(tables, "plans", late_plans, R_AFTER_AS_OF, entries, extra_rejected)
    visits, patients, plans = tables["visits"], tables["patients"], tables["plans"]

    # identity resolution: a shared phone with agreeing names, or name + birth date
    cards = _cards(patients, visits, plans)
    ident = identity.resolve(cards, params.clinic.phone_region, params.identity)
    person_of = pd.Series(ident["person_id"].to_numpy(), index=cards["patient_id"].to_numpy())
    for t in ("visits", "patients", "plans"):
        df = tables[t]
        df["source_key"] = df["patient_id"]
        df["patient_id"] = df["patient_id"].map(person_of)
    patients = _persons(tables["patients"], cards, ident)
    visits, plans = tables["visits"], tables["plans"]

    for i, entry in entries.items():
        t = params.sources[i].table
        rows = tables[t][tables[t]["_source"] == i]
        entry.rows_kept = int(len(rows))
        # merged: folded into a person under another source key, or a repeat of a key's card
        merged = rows["source_key"] != rows["patient_id"]
        if t == "patients":
            merged |= tables[t].duplicated("source_key").reindex(rows.index)
        entry.merged = int(merged.sum())
        if t in ("visits", "plans") and "date" in rows:
            d = rows["date"]
            if d.notna().any():
                entry.date_min = d.min().date().isoformat()
                entry.date_max = d.max().date().isoformat()

    parts_rej = [r for r in rejected + extra_rejected if len(r)]
    rejected_all = pd.concat(parts_rej, ignore_index=True) if parts_rej else _empty_rejected()
    visits = visits.drop(columns="_source").reset_index(drop=True)
    plans = plans.drop(columns="_source").reset_index(drop=True)
    visits["date"] = pd.to_datetime(visits["date"]).astype("datetime64[us]")
    visits["amount"] = pd.to_numeric(visits["amount"], errors="coerce").astype("float64")
    return ClinicData(
        visits=visits,
        patients=patients,
        plans=plans,
        ledger=ledger,
        as_of=as_of,
        present=present,
        rejected=rejected_all,
        identity=identity.summary(ident, "phone" in present.get("patients", [])),
    )


def check_duplicate_sources(params: Params) -> None:
    """The same file (by content) listed twice for one table and sheet would count its rows
    twice: a :class:`ParamsError` names both entries."""
    seen: dict[tuple, int] = {}
    for i, s in enumerate(params.sources):
        if not s.path.is_file():
            continue  # reading it says what is wrong
        with s.path.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        key = (digest, s.table, s.sheet)
        if key in seen:
            j = seen[key]

            def name(k: int) -> str:
                src = params.sources[k]
                return f"sources[{k}] ({src.system} / {src.table}, {src.path})"

            raise ParamsError(
                f"{name(j)} and {name(i)} are the same file (identical content): "
                "its rows would be counted twice",
                hint="remove one of the two entries from `sources:` in params",
            )
        seen[key] = i


def _across_sources(df: pd.DataFrame) -> pd.Series:
    """Rows identical (all canonical values, same system) to a row of an earlier source.

    Rows are paired by occurrence: a row that a source holds twice and an earlier source
    once is dropped once."""
    if df.empty or df["_source"].nunique() < 2:
        return pd.Series(False, index=df.index)
    cols = [c for c in df.columns if c not in ("_source", "source_row")]
    key = pd.util.hash_pandas_object(df[cols].astype(str), index=False)
    nth = key.groupby([key, df["_source"]]).cumcount()
    pair = pd.DataFrame({"key": key, "nth": nth, "src": df["_source"]})
    first_src = pair.groupby(["key", "nth"])["src"].transform("min")
    return pd.Series((pair["src"] != first_src).to_numpy(), index=df.index)


def _drop(tables, table, mask, reason, entries, rejected_out) -> None:
    df = tables[table]
    if not mask.any():
        return
    gone = df[mask]
    for src, n in gone["_source"].value_counts().items():
        entries[int(src)].drop(reason, int(n))
    rejected_out.append(
        pd.DataFrame(
            {
                "system": gone["source_system"].to_numpy(),
                "table": table,
                "path": [entries[int(s)].path for s in gone["_source"]],
                "row": gone["source_row"].to_numpy(),
                "reason": reason,
                "values": "",
            }
        )
    )
    tables[table] = df[~mask]


def _cards(patients: pd.DataFrame, visits: pd.DataFrame, plans: pd.DataFrame) -> pd.DataFrame:
    """One row per source key (``system:id``): its card (later rows of the same key fill the
    gaps of the first), or an empty card for keys seen only in visits or plans."""
    cards = patients.drop(columns="_source").groupby("patient_id", sort=True).first()
    with_card = len(cards)  # the keys of the card rows come first
    others = pd.Index(visits["patient_id"]).union(pd.Index(plans["patient_id"]))
    missing = others.difference(cards.index)
    if len(missing):
        extra = pd.DataFrame(index=missing)
        extra["source_system"] = [m.split(":", 1)[0] for m in missing]
        extra["source_id"] = [m.split(":", 1)[1] for m in missing]
        cards = pd.concat([cards, extra])
    cards["has_card"] = np.arange(len(cards)) < with_card
    cards.index.name = "patient_id"
    return cards.reset_index()


def _persons(card_rows: pd.DataFrame, cards: pd.DataFrame, ident: pd.DataFrame) -> pd.DataFrame:
    """One row per person: the first non-missing value of each field over their cards,
    the normalised phone, and the source keys merged."""
    c = cards.assign(person_id=ident["person_id"].to_numpy(), phone_e164=ident["phone_e164"])
    c = c.sort_values(["person_id", "patient_id"])
    fields = [x for x in c.columns if x not in ("patient_id", "person_id")]
    persons = c.groupby("person_id", sort=True)[fields].first()
    ids = identity.grouped(c["person_id"].to_numpy(object), c["patient_id"].to_numpy(object))
    persons["source_ids"] = pd.Series(ids, index=persons.index, dtype=object)
    persons["n_sources"] = persons["source_ids"].str.len()
    persons["has_card"] = c.groupby("person_id", sort=True)["has_card"].any()
    persons.index.name = "patient_id"
    return persons.reset_index()
