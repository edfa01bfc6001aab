"""Base at a glance: per-patient and per-month summaries of visits and money.

One definition of money for every section (:func:`money_rows`, :func:`money_totals`):

* a *refund* is any row with a negative amount, whatever its status, or a ``refund`` status
  row (it refunds ``|amount|``); a refund is money, never a visit;
* a *visit* is a completed row that is not a refund; two visits of one patient on one day
  are one *visit day*;
* *gross* is the sum of the visits' positive amounts, *refunds* the money refunded, *net* =
  gross − refunds, and the *average check* = net / visit days;
* "the last 12 months" is one window, the 365 days ending at the audit date
  (:func:`last_12_months`); every section reads it from there.

Without an ``amount`` column every money figure is ``None`` (not exported), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from clinic_analysis.ingest.tables import ClinicData

YEAR_DAYS = 365  # "12 months" everywhere: the 365 days ending at a date


def is_refund(visits: pd.DataFrame) -> pd.Series:
    """Refund rows: a ``refund`` status, or a negative amount whatever the status."""
    return visits["status"].eq("refund") | (visits["amount"] < 0)


def is_visit(visits: pd.DataFrame) -> pd.Series:
    """Visit rows: completed and not a refund (the patient came)."""
    return visits["status"].eq("completed") & ~is_refund(visits)


def visit_days(visits: pd.DataFrame) -> pd.DataFrame:
    """Visits collapsed to one row per patient and day, with the day's amount (gross)."""
    done = visits.loc[is_visit(visits), ["patient_id", "date", "amount"]]
    day = done["date"].dt.normalize()
    out = (
        done.assign(day=day)
        .groupby(["patient_id", "day"], sort=True, observed=True)["amount"]
        .sum(min_count=0)
        .reset_index()
    )
    return out


def visit_gaps(days: pd.DataFrame) -> pd.Series:
    """Days since the same patient's previous visit day, for each row of ``days`` (one row
    per patient and visit day, as :func:`visit_days` gives), in the rows' own order and index;
    NaN on a patient's first visit day."""
    d = days[["patient_id", "day"]].reset_index(drop=True).sort_values(["patient_id", "day"])
    gap = d["day"].diff().dt.days.where(d["patient_id"].eq(d["patient_id"].shift()))
    return pd.Series(gap.sort_index().to_numpy(), index=days.index, name="gap")


def first_visits(days: pd.DataFrame) -> pd.Series:
    """The first visit day of each patient (indexed by ``patient_id``) of visit days."""
    return days.groupby("patient_id")["day"].min()


def money_rows(visits: pd.DataFrame) -> pd.DataFrame:
    """Every row that moves money: visits and refunds.

    Columns: patient_id, date, day (date at midnight), status, amount, ``refund`` (bool),
    ``gross`` (a visit's positive amount, else 0), ``refunded`` (money given back, >= 0) and
    ``revenue`` (signed net: gross − refunded). A visit without an amount counts 0.
    """
    refund = is_refund(visits)
    keep = refund | is_visit(visits)
    money = visits.loc[keep, ["patient_id", "date", "status", "amount"]].copy()
    money["refund"] = refund[keep]
    amount = money["amount"].fillna(0.0)
    money["day"] = money["date"].dt.normalize()
    money["gross"] = amount.where(~money["refund"], 0.0).clip(lower=0.0)
    money["refunded"] = amount.abs().where(money["refund"], 0.0)
    money["revenue"] = money["gross"] - money["refunded"]
    return money


@dataclass(frozen=True)
class Money:
    """Money of a set of rows (all time or one window). Figures are ``None`` when the export
    has no amounts; ``visit_days`` and ``refund_rows`` are counts and always known."""

    gross: float | None
    refunds: float | None
    net: float | None
    visit_days: int
    refund_rows: int
    start: pd.Timestamp | None = None  # window bounds: (start, end], None for all time
    end: pd.Timestamp | None = None

    @property
    def average_check(self) -> float | None:
        if self.net is None or not self.visit_days:
            return None
        return self.net / self.visit_days

    def as_metrics(self) -> dict:
        r = lambda x: None if x is None else round(float(x), 2)  # noqa: E731
        return {
            "gross": r(self.gross),
            "refunds": r(self.refunds),
            "net": r(self.net),
            "visit_days": int(self.visit_days),
            "refund_rows": int(self.refund_rows),
            "average_check": r(self.average_check),
        }


def money_totals(
    money: pd.DataFrame, days: pd.DataFrame, has_amount: bool = True, start=None, end=None
) -> Money:
    """Gross, refunds, net and visit days of ``money`` (from :func:`money_rows`) and ``days``
    (from :func:`visit_days`), optionally within the window (start, end] of days."""
    if start is not None or end is not None:
        lo = pd.Timestamp.min if start is None else pd.Timestamp(start).normalize()
        hi = pd.Timestamp.max if end is None else pd.Timestamp(end).normalize()
        money, days = in_window(money, lo, hi), in_window(days, lo, hi)
    gross = float(money["gross"].sum())
    refunds = float(money["refunded"].sum())
    return Money(
        gross=gross if has_amount else None,
        refunds=refunds if has_amount else None,
        net=(gross - refunds) if has_amount else None,
        visit_days=int(len(days)),
        refund_rows=int(money["refund"].sum()),
        start=None if start is None else pd.Timestamp(start).normalize(),
        end=None if end is None else pd.Timestamp(end).normalize(),
    )


def window_12m(as_of: pd.Timestamp, years_back: int = 0) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The 12-month window (start, end] ending at ``as_of`` (``years_back`` = 1: the 12
    months before it)."""
    end = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=YEAR_DAYS * years_back)
    return end - pd.Timedelta(days=YEAR_DAYS), end


def in_window(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Rows of ``frame`` (money rows or visit days) whose ``day`` lies in (start, end]."""
    return frame[(frame["day"] > start) & (frame["day"] <= end)]


def last_12_months(
    money: pd.DataFrame,
    days: pd.DataFrame,
    as_of: pd.Timestamp,
    has_amount: bool = True,
    years_back: int = 0,
) -> Money:
    """Money of the 12 months ending at ``as_of`` (the one window glance, dynamics and
    activity all read); ``years_back=1`` gives the 12 months before those."""
    start, end = window_12m(as_of, years_back)
    return money_totals(money, days, has_amount, start, end)


def base_by_rule(visits: pd.DataFrame) -> dict[str, int]:
    """Size of the base under each rule of who counts as a patient.

    booked: any visit record of any status; came: >= 1 visit (completed, not a refund);
    paid: >= 1 visit with an amount above zero.
    """
    done = visits.loc[is_visit(visits), ["patient_id", "amount"]]
    return {
        "booked": int(visits["patient_id"].nunique()),
        "came": int(done["patient_id"].nunique()),
        "paid": int(done.loc[done["amount"] > 0, "patient_id"].nunique()),
    }


def patients_summary(
    data: ClinicData, days: pd.DataFrame | None = None, money: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per patient who made any visit record: first/last visit, visits (distinct
    days), revenue (net of refunds; NaN without amounts), bookings. ``days`` and ``money``
    (:func:`visit_days`, :func:`money_rows`) are built from the visits when not given."""
    days = visit_days(data.visits) if days is None else days
    per = days.groupby("patient_id").agg(
        first_visit=("day", "min"), last_visit=("day", "max"), visits=("day", "size")
    )
    money = money_rows(data.visits) if money is None else money
    money = money.groupby("patient_id")["revenue"].sum()
    records = data.visits.groupby("patient_id").size().rename("records")
    v = data.visits
    paid = is_visit(v) & (v["amount"] > 0)
    paid_any = v.loc[paid, "patient_id"].value_counts(sort=False).rename("paid_visits")
    out = pd.DataFrame(index=records.index.union(data.patients["patient_id"]))
    out.index.name = "patient_id"
    out = out.join(per).join(money.rename("revenue")).join(records).join(paid_any)
    out["visits"] = out["visits"].fillna(0).astype("int64")
    out["records"] = out["records"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    out["came"] = out["visits"] > 0
    out["paid"] = out["paid_visits"].fillna(0) > 0
    out["booked"] = out["records"] > 0
    return out.drop(columns="paid_visits").reset_index()


def monthly(
    data: ClinicData, days: pd.DataFrame | None = None, money: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per calendar month: new patients (first visit), patients seen, visits, revenue (net of
    refunds; NaN without amounts), and the cumulative base. ``days`` and ``money`` as in
    :func:`patients_summary`."""
    days = visit_days(data.visits) if days is None else days.copy()
    if days.empty:
        return pd.DataFrame(
            columns=["month", "new_patients", "patients", "visits", "revenue", "base"]
        )
    days["month"] = days["day"].dt.to_period("M")
    first = days.groupby("patient_id")["month"].min()
    money = money_rows(data.visits) if money is None else money
    money_month = money["day"].dt.to_period("M")
    idx = pd.period_range(days["month"].min(), pd.Timestamp(data.as_of).to_period("M"), freq="M")
    out = pd.DataFrame(index=idx)
    out["new_patients"] = first.value_counts()
    out["patients"] = days.groupby("month")["patient_id"].nunique()
    out["visits"] = days.groupby("month").size()
    out["revenue"] = money["revenue"].groupby(money_month).sum()
    out = out.fillna(0)
    for c in ("new_patients", "patients", "visits"):
        out[c] = out[c].astype("int64")
    if not data.has("visits", "amount"):
        out["revenue"] = float("nan")  # not exported, not zero
    out["base"] = out["new_patients"].cumsum()
    out.index.name = "month"
    out = out.reset_index()
    out["month"] = out["month"].dt.to_timestamp()
    return out


def source_overview(data: ClinicData) -> pd.DataFrame:
    """One row per source file: system, table, file, rows in/kept/dropped, period."""
    rows = []
    for e in data.ledger:
        rows.append(
            {
                "system": e.system,
                "table": e.table,
                "file": e.path.rsplit("/", 1)[-1],
                "rows_in": e.rows_in,
                "rows_kept": e.rows_kept,
                "rows_merged": e.merged,
                "rows_dropped": sum(e.dropped.values()),
                "date_min": e.date_min,
                "date_max": e.date_max,
            }
        )
    return pd.DataFrame(rows)


def ledger_reasons(data: ClinicData) -> pd.DataFrame:
    """Dropped rows by source and named reason."""
    rows = [
        {"system": e.system, "table": e.table, "reason": r, "rows": n}
        for e in data.ledger
        for r, n in sorted(e.dropped.items())
    ]
    return pd.DataFrame(rows, columns=["system", "table", "reason", "rows"])
