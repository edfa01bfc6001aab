"""Load: source files -> canonical tables (:class:`~clinic_analysis.tables.ClinicData`).

Parsing follows how clinics' exports really look: UTF-8 (with or without BOM) or
Windows-1251, ``;``/``,``/tab separators, decimal commas and spaces in thousands,
day-first dates with or without time, Excel's empty cells. Every input row ends up in the
ledger: kept, or dropped with a named reason (and written to ``rejected_rows.csv``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from . import identity
from .errors import ColumnError, DataValueError, SourceFileError
from .params import Params, Source
from .tables import CATEGORIES, COLUMNS, DEFAULTS, ClinicData, LedgerEntry

ENCODINGS = ("utf-8-sig", "utf-8", "cp1251")
DATE_FORMATS = (
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%y",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y",
)
TRUE_WORDS = {"так", "да", "yes", "y", "true", "1", "+", "є", "есть", "згоден", "согласен"}
FALSE_WORDS = {"ні", "нет", "no", "n", "false", "0", "-", "немає", "нема"}
SEX_WORDS = {
    "f": "f", "ж": "f", "жін": "f", "жін.": "f", "жіноча": "f", "жен": "f", "жен.": "f",
    "женский": "f", "female": "f", "woman": "f",
    "m": "m", "ч": "m", "чол": "m", "чол.": "m", "чоловіча": "m", "м": "m", "муж": "m",
    "муж.": "m", "мужской": "m", "male": "m", "man": "m",
}  # fmt: skip

SCI_ID = r"\d+(?:[.,]\d+)?[eE]\+?\d+"  # an id Excel turned into a number: 2.98725E+13

# ledger reasons (stable keys; the report translates them)
R_MISSING_ID = "missing_patient_id"
R_BAD_DATE = "unparseable_date"
R_DUPLICATE = "duplicate_row"
R_AFTER_AS_OF = "after_as_of"
R_EXCLUDED_PATIENT = "excluded_patient"


def detect_encoding(raw: bytes) -> str:
    """UTF-8 with BOM, else UTF-8 if it decodes, else Windows-1251."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # a multi-byte character cut at the end of a sample is still UTF-8
        if err.reason != "unexpected end of data":
            return "cp1251"
    return "utf-8"


def sniff_delimiter(sample: str) -> str:
    """The separator of a CSV sample: ``;``, ``,``, tab or ``|``."""
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=";,\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ";,\t|"}
        return max(counts, key=counts.get) if max(counts.values()) else ","


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
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            return _read_csv(path, encoding, delimiter)
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pd.read_excel(path, engine="calamine", sheet_name=sheet if sheet else 0)
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
            hint="set `encoding:` (utf-8, utf-8-sig or cp1251) for this source in params",
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


def _as_text(s: pd.Series) -> pd.Series:
    """Strings, stripped; empty -> missing. Excel floats that are whole numbers lose '.0'."""
    if pd.api.types.is_float_dtype(s):
        whole = s.notna() & (s == np.floor(s))
        out = s.astype(object)
        out[whole] = s[whole].astype("int64").astype(str)
        out[~whole & s.notna()] = s[~whole & s.notna()].astype(str)
        s = out
    s = s.astype("str").where(s.notna())
    s = s.str.strip()
    return s.where(s != "")


def parse_money(s: pd.Series, decimal: str | None = None) -> pd.Series:
    """'1 234,50', '1234.50', '1.234,50 грн' -> float; unparseable -> NaN."""
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    t = _as_text(s)
    t = t.str.replace(r"[\s\u00a0\u202f'’]|грн\.?|₴|uah|руб\.?", "", regex=True, case=False)
    if decimal is None:
        has_comma_dec = t.str.contains(r",\d{1,2}$", regex=True, na=False).any()
        has_dot = t.str.contains(".", regex=False, na=False).any()
        decimal = "," if has_comma_dec and not has_dot else "."
    if decimal == ",":
        t = t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        t = t.str.replace(",", "", regex=False)
    return pd.to_numeric(t, errors="coerce").astype("float64")


def parse_datetime(s: pd.Series, date_format: str | None = None) -> pd.Series:
    """Day-first dates with or without time, ISO dates, Excel serials -> datetime64 (naive)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert(None)
        return out.astype("datetime64[us]")
    if pd.api.types.is_numeric_dtype(s):  # Excel serial day numbers
        return (pd.Timestamp("1899-12-30") + pd.to_timedelta(s, unit="D")).astype("datetime64[us]")
    t = _as_text(s)
    # ISO with a zone suffix (e.g. 2019-02-17T10:06:38Z): drop the zone, keep the wall time
    t = t.str.replace(r"(?<=\d)(Z|[+-]\d\d:?\d\d)$", "", regex=True)
    out = pd.Series(pd.NaT, index=t.index, dtype="datetime64[us]")
    todo = t.notna()
    formats = (
        [date_format, f"{date_format} %H:%M", f"{date_format} %H:%M:%S"] if date_format else []
    )
    formats += [f for f in DATE_FORMATS if f not in formats]
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(t[todo], format=fmt, errors="coerce")
        ok = parsed.notna()
        if ok.any():
            out.loc[ok[ok].index] = parsed[ok].astype("datetime64[us]")
            todo.loc[ok[ok].index] = False
    if todo.any():  # Excel serials written as text
        num = pd.to_numeric(t[todo], errors="coerce")
        serial = num.between(20000, 80000)
        if serial.any():
            idx = serial[serial].index
            out.loc[idx] = pd.Timestamp("1899-12-30") + pd.to_timedelta(num[idx], unit="D")
    return out


def _month_first(failed: pd.Series) -> pd.Series:
    """Which day-first failures parse as month-first (``12.31.2024``): day and month swapped?"""
    if failed.empty:
        return pd.Series(dtype=bool)
    ok = pd.Series(False, index=failed.index)
    for fmt in ("%m.%d.%Y", "%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y %H:%M", "%m/%d/%Y %H:%M"):
        ok |= pd.to_datetime(failed, format=fmt, errors="coerce").notna()
    return ok


def parse_bool(s: pd.Series, mapping: dict[str, str] | None = None) -> pd.Series:
    t = _as_text(s)
    if mapping:
        low = {k.strip().lower(): v for k, v in mapping.items()}
        m = t.str.lower().map(low)
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
    low = {k.strip().lower(): v for k, v in mapping.items()} if mapping else {}
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


def load_source(source: Source) -> tuple[pd.DataFrame, LedgerEntry, pd.DataFrame]:
    """One source file -> (canonical rows kept, ledger entry, rejected rows)."""
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
    for canon, header in source.columns.items():
        col = raw[header]
        kind = kinds[canon]
        mapping = source.values.get(canon)
        if kind == "id" or kind == "text":
            out[canon] = _as_text(col)
            if canon in source.lookups:
                out[canon] = apply_lookup(out[canon], source.lookups[canon])
            if kind == "id":
                entry.flag(f"scientific_{canon}", out[canon].str.fullmatch(SCI_ID, na=False).sum())
        elif kind == "money":
            out[canon] = parse_money(col, source.decimal)
            entry.flag(f"unparseable_{canon}", (out[canon].isna() & _as_text(col).notna()).sum())
        elif kind == "datetime" or kind == "date":
            out[canon] = parse_datetime(col, source.date_format)
            if kind == "date":
                out[canon] = out[canon].dt.normalize()
            failed = _as_text(col)[out[canon].isna() & col.notna()]
            entry.flag(f"{canon}_month_first", _month_first(failed).sum())
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
    for canon in ("date",):
        if canon in source.columns:
            bad = out[canon].isna() & raw[source.columns[canon]].notna() & reasons.isna()
            if source.table == "visits":
                bad |= out[canon].isna() & reasons.isna()
            reasons[bad] = R_BAD_DATE
    dup = raw.duplicated(keep="first") & reasons.isna()
    reasons[dup] = R_DUPLICATE

    rejected = _rejected_frame(raw, reasons, source)
    kept = out[reasons.isna()].copy()
    for reason, n in reasons.value_counts().items():
        entry.drop(str(reason), int(n))
    return kept, entry, rejected


def _rejected_frame(raw: pd.DataFrame, reasons: pd.Series, source: Source) -> pd.DataFrame:
    mask = reasons.notna()
    if not mask.any():
        return _empty_rejected()
    from .outputs import mask_contacts  # contacts stay in the call lists only

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
    for i, source in enumerate(params.sources):
        kept, entry, rej = load_source(source)
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

    visits, patients, plans = tables["visits"], tables["patients"], tables["plans"]

    # exclusion rules: a matching patient takes their visits and plans along
    extra_rejected = []
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

    # as_of: from params, else the last completed visit
    completed = visits["status"] == "completed"
    if params.clinic.as_of is not None:
        as_of = pd.Timestamp(params.clinic.as_of)
    elif completed.any():
        as_of = visits.loc[completed, "date"].max().normalize()
    else:
        as_of = pd.Timestamp.today().normalize()
    day_after = as_of + pd.Timedelta(days=1)
    late = (visits["date"] >= day_after) & (visits["status"] != "booked")
    _drop(tables, "visits", late, R_AFTER_AS_OF, entries, extra_rejected)
    if "date" in tables["plans"]:
        late_plans = tables["plans"]["date"].notna() & (tables["plans"]["date"] >= day_after)
        _drop(tables, "plans", late_plans, R_AFTER_AS_OF, entries, extra_rejected)
    visits, patients, plans = tables["visits"], tables["patients"], tables["plans"]

    # identity resolution: one person per phone / name + birth date, across systems
    cards = _cards(patients, visits, plans)
    ident = identity.resolve(cards, params.clinic.phone_region)
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
    )


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
    others = pd.Index(visits["patient_id"]).union(pd.Index(plans["patient_id"]))
    missing = others.difference(cards.index)
    if len(missing):
        extra = pd.DataFrame(index=missing)
        extra["source_system"] = [m.split(":", 1)[0] for m in missing]
        extra["source_id"] = [m.split(":", 1)[1] for m in missing]
        cards = pd.concat([cards, extra])
    cards["has_card"] = cards.index.isin(patients["patient_id"])
    cards.index.name = "patient_id"
    return cards.reset_index()


def _persons(card_rows: pd.DataFrame, cards: pd.DataFrame, ident: pd.DataFrame) -> pd.DataFrame:
    """One row per person: the first non-missing value of each field over their cards,
    the normalised phone, and the source keys merged."""
    c = cards.assign(person_id=ident["person_id"].to_numpy(), phone_e164=ident["phone_e164"])
    c = c.sort_values(["person_id", "patient_id"])
    fields = [x for x in c.columns if x not in ("patient_id", "person_id")]
    persons = c.groupby("person_id", sort=True)[fields].first()
    persons["source_ids"] = c.groupby("person_id", sort=True)["patient_id"].agg(list)
    persons["n_sources"] = persons["source_ids"].str.len()
    persons["has_card"] = c.groupby("person_id", sort=True)["has_card"].any()
    persons.index.name = "patient_id"
    return persons.reset_index()
