"""Load: source files -> canonical tables (:class:`~clinic_analysis.ingest.tables.ClinicData`).

Reading files is :mod:`~clinic_analysis.ingest.readers`, parsing values
:mod:`~clinic_analysis.ingest.values`. Parsing follows how clinics' exports really look:
UTF-8 (with or without BOM) or Windows-1251, ``;``/``,``/tab separators, decimal commas and spaces in thousands,
day-first dates with or without time, Excel's empty cells. Every input row ends up in the
ledger: kept, or dropped with a named reason (and written to ``rejected_rows.csv``).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clinic_analysis.errors import ColumnError, DataValueError, ParamsError
from clinic_analysis.ingest import identity
from clinic_analysis.ingest.readers import apply_lookup, read_raw
from clinic_analysis.ingest.tables import COLUMNS, DEFAULTS, ClinicData, LedgerEntry
from clinic_analysis.ingest.values import (
    SCI_ID,
    WHOLE_ID,
    as_text,
    month_first_format,
    parse_bool,
    parse_category,
    parse_datetime,
    parses_month_first,
    read_money,
)
from clinic_analysis.params import Params, Source

# ledger reasons (stable keys; the report translates them)
R_MISSING_ID = "missing_patient_id"
R_BAD_DATE = "unparseable_date"
R_DUPLICATE = "duplicate_row"
R_AFTER_AS_OF = "after_as_of"
R_EXCLUDED_PATIENT = "excluded_patient"
R_BEFORE_OPENED = "before_clinic_opened"
R_CROSS_DUPLICATE = "duplicate_row_across_sources"
DEFAULT_OPENED = pd.Timestamp("1990-01-01")  # no visit is plausible before, unless params say


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
    month_first = bool(source.date_format) and month_first_format(source.date_format)
    for canon, header in source.columns.items():
        col = raw[header]
        kind = kinds[canon]
        mapping = source.values.get(canon)
        if kind == "id" or kind == "text":
            out[canon] = as_text(col)
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
            unread = _has_text(col, out[canon].isna().to_numpy()) & ~ambiguous.to_numpy()
            entry.flag(f"unparseable_{canon}", unread.sum())
        elif kind == "datetime" or kind == "date":
            out[canon] = parse_datetime(col, source.date_format)
            if kind == "date":
                out[canon] = out[canon].dt.normalize()
            failed = as_text(col[out[canon].isna() & col.notna()]).dropna()
            entry.flag(f"{canon}_month_first", parses_month_first(failed, month_first).sum())
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
        no_date = out["date"].isna().to_numpy()
        bad = pd.Series(_has_text(raw[source.columns["date"]], no_date), index=raw.index)
        if source.table == "visits":
            bad |= out["date"].isna()
        reasons[bad & reasons.isna()] = R_BAD_DATE
        if source.table in ("visits", "plans"):
            reasons[(out["date"] < opened) & reasons.isna()] = R_BEFORE_OPENED
    _fail_fast(raw, out, reasons, source, opened)
    dup = _duplicated(raw, source) & reasons.isna()
    reasons[dup] = R_DUPLICATE

    rejected = _rejected_frame(raw, reasons, source)
    del raw  # the file's cells: only the rejected rows are needed from them
    keep = reasons.isna()
    kept = out if keep.all() else out[keep]  # a copy only when rows are dropped
    for reason, n in reasons.value_counts().items():
        entry.drop(str(reason), int(n))
    return kept, entry, rejected


def _duplicated(raw: pd.DataFrame, source: Source) -> pd.Series:
    """``raw.duplicated(keep="first")``: rows equal to an earlier row in every cell. When the
    row's own id column (visit, plan or patient id) holds no value twice, no two rows can be
    equal: that one column is looked at instead of all."""
    own = {"visits": "visit_id", "plans": "plan_id", "patients": "patient_id"}.get(source.table)
    header = source.columns.get(own) if own else None
    if header is not None and not raw[header].duplicated().any():
        return pd.Series(False, index=raw.index)
    return raw.duplicated(keep="first")


def _has_text(col: pd.Series, where: np.ndarray) -> np.ndarray:
    """Which cells of ``col`` hold some text (:func:`as_text`), looked at only ``where``."""
    found = np.zeros(len(col), dtype=bool)
    found[where] = as_text(col[where]).notna().to_numpy()
    return found


def _fail_fast(
    raw: pd.DataFrame, out: pd.DataFrame, reasons: pd.Series, source: Source, opened
) -> None:
    """Stop with one line when a mapped column drops more than half of the source's rows."""
    counts = reasons.value_counts()
    n_rows = len(raw)
    month_first = bool(source.date_format) and month_first_format(source.date_format)
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
        sample = as_text(raw.loc[reasons == reason, header]).dropna()
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
        elif len(sample) and parses_month_first(sample, month_first).all():
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


# ----------------------------------------------------------------------------- side by side

#: the sources are read side by side (two processes) only when their files add up to at
#: least this much work (bytes, a spreadsheet's counting :data:`SHEET_WEIGHT` times): below,
#: starting a process costs about what it saves
PARALLEL_MIN_WORK = 8 * 2**20
#: a spreadsheet's byte is this many bytes of CSV in reading time (zipped XML, every cell a
#: Python object: measured 0.8 s for a 1.1 MB sheet, 0.5 s for a 13 MB CSV)
SHEET_WEIGHT = 20
SHEETS = (".xlsx", ".xlsm", ".xls")


def load_sources(
    sources: list[Source], opened: pd.Timestamp
) -> list[tuple[pd.DataFrame, LedgerEntry, pd.DataFrame]]:
    """:func:`load_source` of each source, in their order, with the same results and errors
    as one after another.

    On a machine with two cores or more and files worth it (:data:`PARALLEL_MIN_WORK`), the
    sources are split into two shares of about equal work (:func:`_split`): this process
    reads the one with the largest source while a forked process reads the other and sends
    back its frames. Whatever goes wrong there (a bad file, a broken process) is left to
    this process: it reads that source itself again, in order, so the error raised is the
    one of the first failing source, worded as ever."""
    here, aside = _split(sources)
    results: dict[int, tuple] = {}
    errors: dict[int, BaseException] = {}
    pool = future = None
    if aside:
        try:
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            future = pool.submit(_load_some, [sources[i] for i in aside], opened)
        except (OSError, ValueError, RuntimeError):  # no fork here: all in this process
            here, aside = list(range(len(sources))), []
    try:
        for i in here:
            try:
                results[i] = load_source(sources[i], opened)
            except Exception as err:  # noqa: BLE001 - raised below, in the sources' order
                errors[i] = err
                break
        if future is not None:
            try:
                done = future.result()
            except Exception:  # noqa: BLE001 - the process failed: those sources are read here
                done = []
            results.update((i, r) for i, r in zip(aside, done, strict=False) if r is not None)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    out = []
    for i, source in enumerate(sources):
        if i in errors:
            raise errors[i]
        out.append(results[i] if i in results else load_source(source, opened))
    return out


def _split(sources: list[Source]) -> tuple[list[int], list[int]]:
    """(sources read here, sources read in another process), in the sources' order; nothing
    aside for small files, one source or one core. Greedy: by decreasing work, each source
    goes to the share with less work so far (the largest one here)."""
    everything = list(range(len(sources)))
    if len(sources) < 2 or len(os.sched_getaffinity(0)) < 2:
        return everything, []
    work = [_work(s) for s in sources]
    if sum(work) < PARALLEL_MIN_WORK:
        return everything, []
    shares: tuple[list[int], list[int]] = ([], [])
    load = [0, 0]
    for i in sorted(everything, key=lambda i: -work[i]):
        side = 0 if load[0] <= load[1] else 1
        shares[side].append(i)
        load[side] += work[i]
    return sorted(shares[0]), sorted(shares[1])


def _work(source: Source) -> int:
    """A source's reading time in CSV bytes: its file's size, a spreadsheet's weighted."""
    try:
        size = source.path.stat().st_size
    except OSError:
        return 0  # reading it says what is wrong
    return size * (SHEET_WEIGHT if source.path.suffix.lower() in SHEETS else 1)


def _load_some(sources: list[Source], opened: pd.Timestamp) -> list[tuple | None]:
    """In the forked process: :func:`load_source` of each source until one fails (None for
    it and the ones after: the parent reads them itself and raises the error)."""
    out: list[tuple | None] = []
    for source in sources:
        try:
            out.append(load_source(source, opened))
        except Exception:  # noqa: BLE001 - the parent reads it again and raises the error
            break
    return out + [None] * (len(sources) - len(out))


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
    for i, (source, (kept, entry, rej)) in enumerate(
        zip(params.sources, load_sources(params.sources, opened), strict=True)
    ):
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
    del parts  # each source's rows live on in the tables only
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
    for t in ("visits", "patients", "plans"):
        df = tables[t]
        df["source_key"] = df["patient_id"]
        df["patient_id"] = _person_of(df["patient_id"], cards["patient_id"], ident["person_id"])
    patients = _persons(tables["patients"], cards, ident)
    merges = identity.summary(ident, "phone" in present.get("patients", []))
    del cards, ident  # the cards are in the persons now
    visits, plans = tables["visits"], tables["plans"]

    for i, entry in entries.items():
        t = params.sources[i].table
        df = tables[t]
        mine = (df["_source"] == i).to_numpy()
        entry.rows_kept = int(mine.sum())
        # merged: folded into a person under another source key, or a repeat of a key's card
        merged = (df["source_key"] != df["patient_id"]).to_numpy(copy=True)
        if t == "patients":
            merged |= df.duplicated("source_key").to_numpy()
        entry.merged = int((merged & mine).sum())
        if t in ("visits", "plans") and "date" in df:
            d = df["date"][mine]
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
        identity=merges,
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


def _person_of(keys: pd.Series, card_keys: pd.Series, persons: pd.Series) -> pd.Series:
    """The person of each source key: ``keys.map(pd.Series(persons, index=card_keys))``, the
    keys looked up by pyarrow when they are text (no Python string per row)."""
    text = pd.StringDtype(na_value=np.nan)
    if len(keys) and keys.dtype == text and card_keys.dtype == text:
        at = pc.index_in(pa.array(keys), value_set=pa.array(card_keys))
        if not at.null_count:  # every key has its card
            found = pa.array(persons.to_numpy(object), pa.large_string()).take(at)
            found = found.to_pandas(types_mapper=lambda _: text).array
            return pd.Series(found, index=keys.index)
    return keys.map(pd.Series(persons.to_numpy(), index=card_keys.to_numpy()))


def _cards(patients: pd.DataFrame, visits: pd.DataFrame, plans: pd.DataFrame) -> pd.DataFrame:
    """One row per source key (``system:id``): its card (later rows of the same key fill the
    gaps of the first), or an empty card for keys seen only in visits or plans."""
    cards = patients.drop(columns="_source").groupby("patient_id", sort=True).first()
    with_card = len(cards)  # the keys of the card rows come first
    others = pd.Index(pd.concat([visits["patient_id"], plans["patient_id"]]).unique())
    missing = others.difference(cards.index)  # sorted
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
    person = ident["person_id"].to_numpy()
    if cards["patient_id"].is_monotonic_increasing:  # grouping keeps the key order: no copy
        order = np.arange(len(cards))
        c = cards.copy(deep=False)
    else:
        rank = [pd.factorize(k, sort=True)[0] for k in (cards["patient_id"], person)]
        order = np.lexsort(rank)  # by person, then source key
        c = cards.take(order)  # one copy, in that order
    c["person_id"] = person[order]
    c["phone_e164"] = ident["phone_e164"]
    fields = [x for x in c.columns if x not in ("patient_id", "person_id")]
    persons = c.groupby("person_id", sort=True)[fields].first()
    ids = identity.grouped(c["person_id"].to_numpy(object), c["patient_id"].to_numpy(object))
    persons["source_ids"] = pd.Series(ids, index=persons.index, dtype=object)
    persons["n_sources"] = persons["source_ids"].str.len()
    persons["has_card"] = c.groupby("person_id", sort=True)["has_card"].any()
    persons.index.name = "patient_id"
    return persons.reset_index()
