"""The next audit reads the last one back: what the calls achieved, and what changed.

Each audit is archived under ``reports/<clinic>/history/<as_of>/`` (its ``metrics.json`` and
the ``call_lists.xlsx`` it issued). A later audit of the same clinic finds the latest entry
dated before its own ``as_of`` (or the files named in params, ``followup:``), reads the
call lists the front desk filled in (values only: formulas are never evaluated) and measures,
per list, from the new export:

* listed, called (an outcome or a date called), reached (an outcome other than "not
  reached" or "wrong number"), booked;
* came: a completed visit after the previous ``as_of``; revenue: net revenue after it;
* the same for the patients of the same list who were *not* called (the control), with a
  95% interval on the difference of the came rates (Wilson intervals combined by
  Newcombe's hybrid score method).

"Since the last audit" puts the headline figures of both audits side by side, and patients
marked "do not call" on the filled lists stay off the next lists.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from clinic_analysis.errors import ParamsError, SourceFileError
from clinic_analysis.i18n import LANGUAGES, load_catalog
from clinic_analysis.measures.calls import (
    META_FORMAT,
    META_SHEET,
    OUTCOMES,
    REASONS,
    SHEETS,
    card_keys,
)
from clinic_analysis.measures.summary import money_rows, visit_days

if TYPE_CHECKING:
    from clinic_analysis.audit import Audit

HISTORY = "history"
FILLED = "call_lists.filled.xlsx"  # a filled-in copy kept beside the issued lists
ISSUED = "call_lists.xlsx"
NOT_REACHED = {"not_reached", "wrong_number"}
# since_last: figure -> path in metrics.json
SINCE_FIGURES = {
    "base": ("base", "patients"),
    "active_base": ("base", "active_base"),
    "revenue_12m": ("revenue", "last_12m"),
    "repeat_rate": ("repeat", "rate"),
}
PHASES = ("active", "at_risk", "lapsing", "lost_1y", "lost_2y")
SEGMENT_FIGURES = (*SHEETS[:-1], "returning", "active_treatment", "new")


@dataclass
class Previous:
    """The audit this one follows: its date, figures and (filled-in) call lists."""

    as_of: pd.Timestamp | None
    metrics: dict | None
    workbook: Path | None
    source: str  # "history" or "params"


# ------------------------------------------------------------------------ finding it


def previous_entry(history: Path, as_of: pd.Timestamp) -> Path | None:
    """The latest ``history/<YYYY-MM-DD>/`` dated before ``as_of``."""
    if not history.is_dir():
        return None
    dated = []
    for p in history.iterdir():
        try:
            day = dt.date.fromisoformat(p.name)
        except ValueError:
            continue
        if p.is_dir() and day < pd.Timestamp(as_of).date():
            dated.append((day, p))
    return max(dated)[1] if dated else None


def find_previous(params, as_of: pd.Timestamp, history: Path | None) -> Previous | None:
    """The files named in params (``followup:``), else the latest history entry."""
    fu = params.followup
    if fu.call_lists is not None or fu.metrics is not None:
        metrics = _read_metrics(fu.metrics) if fu.metrics is not None else None
        return Previous(_as_of(metrics, fu.call_lists), metrics, fu.call_lists, "params")
    entry = previous_entry(history, as_of) if history is not None else None
    if entry is None:
        return None
    metrics_path = entry / "metrics.json"
    metrics = _read_metrics(metrics_path) if metrics_path.is_file() else None
    book = next((entry / n for n in (FILLED, ISSUED) if (entry / n).is_file()), None)
    prev = _as_of(metrics, book) or pd.Timestamp(entry.name)
    return Previous(prev, metrics, book, "history")


def _read_metrics(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceFileError(
            path, "the previous audit's metrics.json was not found", hint="fix followup.metrics"
        ) from None
    except (ValueError, UnicodeDecodeError) as err:
        raise SourceFileError(path, f"not a metrics.json of clinic-audit: {err}") from None


def _as_of(metrics: dict | None, book: Path | None) -> pd.Timestamp | None:
    if metrics and metrics.get("clinic", {}).get("as_of"):
        return pd.Timestamp(metrics["clinic"]["as_of"])
    if book is not None and Path(book).is_file():
        meta = read_meta(book)
        if meta.get("as_of"):
            return pd.Timestamp(meta["as_of"])
    return None


# ------------------------------------------------------------------- the filled workbook


def _open(path: Path):
    from openpyxl import load_workbook

    try:
        # data_only: the values a spreadsheet last saved; no formula is ever evaluated
        return load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise SourceFileError(
            path, "the filled-in call lists were not found", hint="fix followup.call_lists"
        ) from None
    except Exception as err:  # noqa: BLE001 - any unreadable workbook is one clear error
        raise SourceFileError(
            path,
            f"cannot be read as an Excel workbook ({type(err).__name__})",
            hint="save the call lists as .xlsx (Excel or LibreOffice: Save as Excel 2007-365)",
        ) from None


def read_meta(path: Path) -> dict:
    """The hidden ``_meta`` sheet: as_of, language and, per sheet, its list and columns."""
    wb = _open(path)
    try:
        if META_SHEET not in wb.sheetnames:
            raise SourceFileError(
                path,
                "holds no sheet _meta: these are not call lists written by clinic-audit",
                hint="give the workbook the audit issued, filled in (keep its sheets and columns)",
            )
        meta: dict = {"sheets": []}
        for row in wb[META_SHEET].iter_rows(values_only=True):
            if not row or row[0] is None:
                continue
            if row[0] == "sheet":
                name, key, first = row[1], row[2], int(row[3])
                cols = [c for c in row[4:] if c is not None]
                meta["sheets"].append((name, key, first, cols))
            else:
                meta[row[0]] = row[1]
        if meta.get("format") != META_FORMAT:
            raise SourceFileError(path, f"call lists of an unknown format {meta.get('format')!r}")
        return meta
    finally:
        wb.close()


def _labels(kind: str, keys: tuple[str, ...]) -> dict[str, str]:
    """Text (any report language, any case) -> key of an outcome or a refusal reason."""
    out = {}
    for lang in LANGUAGES:
        cat = load_catalog(lang)
        for k in keys:
            out[cat[f"calls.{kind}.{k}"].strip().casefold()] = k
            out[k.casefold()] = k
    return out


def read_outcomes(path: Path) -> pd.DataFrame:
    """One row per listed patient: ``list`` (the sheet's segment), ``keys`` (the source
    keys of the MIS cards), ``outcome`` and ``reason`` (keys; ``other`` for a text not on
    the drop-down; empty when blank), ``called_on``, ``called_by``, ``called``."""
    meta = read_meta(path)
    outcomes, reasons = _labels("outcome", OUTCOMES), _labels("reason", REASONS)
    wb = _open(path)
    rows = []
    try:
        for name, key, first, cols in meta["sheets"]:
            if name not in wb.sheetnames:
                raise SourceFileError(
                    path, f"the sheet '{name}' is missing", hint="keep the sheets as issued"
                )
            for values in wb[name].iter_rows(min_row=first + 1, values_only=True):
                rec = dict(zip(cols, values, strict=False))
                keys = card_keys(rec.get("card"))
                if not keys:
                    continue  # a blank line or a note the front desk added
                text = _text(rec.get("outcome"))
                reason = _text(rec.get("reason"))
                rows.append(
                    {
                        "list": key,
                        "keys": keys,
                        "outcome": outcomes.get(text.casefold(), "other") if text else "",
                        "reason": reasons.get(reason.casefold(), "other") if reason else "",
                        "called_on": _date(rec.get("called_on")),
                        "called_by": _text(rec.get("called_by")),
                    }
                )
    finally:
        wb.close()
    out = pd.DataFrame(
        rows, columns=["list", "keys", "outcome", "reason", "called_on", "called_by"]
    )
    on_list = out["list"] != "do_not_contact"
    out["called"] = on_list & ((out["outcome"] != "") | out["called_on"].notna())
    return out


def _text(v) -> str:
    return "" if v is None else str(v).strip()


def _date(v):
    if v is None or v == "":
        return pd.NaT
    return pd.to_datetime(v, errors="coerce", dayfirst=True)


def has_outcomes(path: Path) -> bool:
    """Whether anyone filled in the lists (an outcome or a date called on a list to call)."""
    try:
        return bool(read_outcomes(path)["called"].any())
    except SourceFileError:
        return False


# ------------------------------------------------------------------------- measuring


def newcombe_diff(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    """95% interval of p1 - p2 (Newcombe's hybrid score method from two Wilson intervals)."""
    if not n1 or not n2:
        return None
    from scipy.stats import binomtest

    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = binomtest(x1, n1).proportion_ci(method="wilson")
    l2, u2 = binomtest(x2, n2).proportion_ci(method="wilson")
    d = p1 - p2
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


def _rate(x: int, n: int) -> float | None:
    return round(x / n, 6) if n else None


def persons_by_card(persons: pd.DataFrame) -> dict[str, str]:
    """Source key (``system:id``) -> the person it belongs to in this audit."""
    out: dict[str, str] = {}
    if "source_ids" not in persons:
        return out
    for pid, keys in zip(persons["patient_id"], persons["source_ids"], strict=True):
        for k in keys if isinstance(keys, list | tuple) else []:
            out[str(k)] = pid
    return out


def measure(
    lists: pd.DataFrame, data, previous_as_of: pd.Timestamp, persons: pd.DataFrame
) -> tuple[dict, pd.DataFrame]:
    """Per list: listed, called, reached, booked, came, revenue, and the control's.

    ``persons`` is the new audit's card table (``patient_id``, ``source_ids``): a listed
    row is found by any of its card keys. Returns ``(metrics, per-row table)``."""
    person_of = persons_by_card(persons)
    rows = lists[lists["list"] != "do_not_contact"].copy()
    rows["patient_id"] = [
        next((person_of[k] for k in keys if k in person_of), None) for keys in rows["keys"]
    ]
    after = pd.Timestamp(previous_as_of).normalize() + pd.Timedelta(days=1)
    visits = data.visits
    days = visit_days(visits)  # completed visits, refunds left out (summary's one definition)
    came_ids = set(days.loc[days["day"] >= after, "patient_id"])
    rows["came"] = rows["patient_id"].isin(came_ids) & rows["patient_id"].notna()
    has_money = data.has("visits", "amount")
    if has_money:
        money = money_rows(visits)
        money = money[money["day"] >= after].groupby("patient_id")["revenue"].sum()
        rows["revenue"] = rows["patient_id"].map(money).fillna(0.0)
    rows["reached"] = rows["called"] & (rows["outcome"] != "") & ~rows["outcome"].isin(NOT_REACHED)
    rows["booked"] = rows["outcome"] == "booked"
    by: dict = {}
    for key in [s for s in SHEETS if s in set(rows["list"])]:
        r = rows[rows["list"] == key]
        c, ctl = r[r["called"]], r[~r["called"]]
        n, nc = len(c), len(ctl)
        ci = newcombe_diff(int(c["came"].sum()), n, int(ctl["came"].sum()), nc)
        by[key] = {
            "listed": int(len(r)),
            "called": int(n),
            "reached": int(c["reached"].sum()),
            "booked": int(c["booked"].sum()),
            "came": int(c["came"].sum()),
            "came_rate": _rate(int(c["came"].sum()), n),
            "control": int(nc),
            "control_came": int(ctl["came"].sum()),
            "control_came_rate": _rate(int(ctl["came"].sum()), nc),
            "difference_ci": [round(ci[0], 6), round(ci[1], 6)] if ci else None,
            "revenue": round(float(c["revenue"].sum()), 2) if has_money else None,
            "control_revenue": round(float(ctl["revenue"].sum()), 2) if has_money else None,
            "not_found": int(r["patient_id"].isna().sum()),
            "refusal_reasons": {
                k: int((c["reason"] == k).sum()) for k in REASONS if (c["reason"] == k).any()
            },
        }
        m = by[key]  # the called came back more (or less) often than the not called, by:
        both = m["came_rate"] is not None and m["control_came_rate"] is not None
        m["difference"] = m["came_rate"] - m["control_came_rate"] if both else None
    return by, rows


def since_last(then: dict | None, now: dict) -> dict:
    """``{figure: {then, now}}``: the base, active base, phase mix, segment sizes, repeat
    index and revenue of the last 12 months of both audits (``None`` where one lacks it)."""
    if not then:
        return {}

    def get(m, *path):
        for p in path:
            if not isinstance(m, dict) or p not in m:
                return None
            m = m[p]
        return m

    out = {k: {"then": get(then, *p), "now": get(now, *p)} for k, p in SINCE_FIGURES.items()}
    for p in PHASES:
        path = ("activity", "counts", p)
        out[f"phase_{p}"] = {"then": get(then, *path), "now": get(now, *path)}
    for s in SEGMENT_FIGURES:
        path = ("refusers", "counts", s)
        out[f"segment_{s}"] = {"then": get(then, *path), "now": get(now, *path)}
    return out


def _totals(by: dict) -> dict:
    """Listed, called and no longer found patients over the segments."""
    return {
        k: int(sum(m.get(k, 0) for m in by.values())) for k in ("listed", "called", "not_found")
    }


def attach(audit: Audit, history: Path | None) -> None:
    """Find the previous audit and set ``audit.followup`` and ``audit.since_last`` (with
    the per-row table in ``followup.rows``), and carry "do not call" marks forward (the
    call lists and ``audit.calls`` are then recounted). No previous audit: the metrics say
    so (``followup.previous: null``)."""
    from clinic_analysis.measures.calls import call_metrics, calls_of, mark_do_not_call
    from clinic_analysis.measures.results import Calls, Followup, SinceLast

    prev = find_previous(audit.params, audit.data.as_of, history)
    fu = Followup(previous=None, by_segment={})
    audit.followup = fu
    audit.since_last = SinceLast()
    if prev is None:
        return
    if prev.as_of is not None and prev.as_of >= audit.data.as_of:
        raise ParamsError(
            f"followup: the previous audit is dated {prev.as_of.date()}, not before this "
            f"audit's {audit.data.as_of.date()}",
            hint="name the filled-in lists of an earlier audit under followup:, or a later as_of",
        )
    fu.previous = {
        "as_of": prev.as_of.date().isoformat() if prev.as_of is not None else None,
        "source": prev.source,
        "call_lists": prev.workbook is not None,
    }
    fu.totals = _totals(fu.by_segment)
    audit.since_last = SinceLast(figures=since_last(prev.metrics, audit.metrics))
    if prev.workbook is None or prev.as_of is None:
        return
    lists = read_outcomes(prev.workbook)
    by, rows = measure(lists, audit.data, prev.as_of, audit.data.patients)
    fu.by_segment = by
    fu.totals = _totals(by)
    on_lists = lists[lists["list"] != "do_not_contact"]
    fu.outcomes = {k: int((on_lists["outcome"] == k).sum()) for k in (*OUTCOMES, "other")}
    fu.rows = rows.drop(columns=["keys"])
    marked = lists[(lists["outcome"] == "do_not_call") | (lists["list"] == "do_not_contact")]
    person_of = persons_by_card(audit.data.patients)
    dnc = sorted({person_of[k] for keys in marked["keys"] for k in keys if k in person_of})
    fu.do_not_call = dnc
    fu.do_not_call_carried = len(dnc)
    table = mark_do_not_call(calls_of(audit), dnc)  # ranks stay as they were
    cap = audit.params.calls.max_rows_per_sheet
    audit.calls = Calls.from_metrics(call_metrics(table, cap), table=table)
