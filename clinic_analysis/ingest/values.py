"""Parsing cell values: text, amounts (decimal comma or dot, checked per column), dates
(day-first, ISO, Excel dates and serial numbers), yes/no, and categories mapped by params."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from clinic_analysis.errors import DataValueError
from clinic_analysis.ingest.tables import CATEGORIES, DEFAULTS

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
ZONE_SUFFIX = r"(?<=\d)(Z|[+-]\d\d:?\d\d)$"  # 2019-02-17T10:06:38Z, ...+02:00
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


def as_text(s: pd.Series) -> pd.Series:
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
    # each distinct cell read once; text columns are told apart by pyarrow (no Python
    # string per cell), Excel's cells as Python objects; missing cells: code -1
    text = pd.api.types.is_string_dtype(s) and s.dtype != object
    codes, distinct = pd.factorize(s if text else s.astype(object))
    readings = [_money_readings(v) for v in np.asarray(distinct, dtype=object)]
    comma, dot = (
        pd.Series(
            np.array([*(np.nan if r[k] is None else r[k] for r in readings), np.nan])[codes],
            index=s.index,
            dtype="float64",
        )
        for k in (0, 1)
    )
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
        words = as_text(s).str.lower().map(low)
        named = words.notna()
        values = values.where(~named, pd.to_numeric(words, errors="coerce"))
        ambiguous &= ~named
    return values.astype("float64"), ambiguous


def parse_money(s: pd.Series, decimal: str | None = None) -> pd.Series:
    """'1 234,50', '1234.50', '1.234,50 грн' -> float; unreadable or ambiguous -> NaN
    (see :func:`read_money`)."""
    return read_money(s, decimal)[0]


def month_first_format(fmt: str) -> bool:
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
        t = as_text(s)
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
        t = as_text(s.where(~(stamps | numbers)))
    codes, written = pd.factorize(t)  # each distinct text parsed once (by pyarrow: no
    if not len(written):  # Python string per cell)
        return out
    # ISO with a zone suffix (e.g. 2019-02-17T10:06:38Z): drop the zone, keep the wall time;
    # only a text ending in Z or holding a + or - can have one (pyarrow tells them apart)
    zoned = np.asarray(written.str.endswith("Z") | written.str.contains("[+-]"), dtype=bool)
    uniq = pd.Series(written.to_numpy(object), dtype=object)
    if zoned.any():
        uniq[zoned] = uniq[zoned].str.replace(ZONE_SUFFIX, "", regex=True)
    parsed = pd.Series(pd.NaT, index=uniq.index, dtype="datetime64[us]")
    todo = pd.Series(True, index=uniq.index)
    month_first = bool(date_format) and month_first_format(date_format)
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
    has = codes >= 0
    dates = out.to_numpy(copy=True)
    dates[has] = parsed.to_numpy()[codes[has]]
    return pd.Series(dates, index=s.index, dtype="datetime64[us]")


def parses_month_first(failed: pd.Series, month_first: bool = False) -> pd.Series:
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
    t = as_text(s)
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
    t = as_text(s)
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
