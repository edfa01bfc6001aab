"""Base at a glance: per-patient and per-month summaries of completed visits and revenue.

A *visit* is a completed visit; two visits of one patient on the same day are one.
Revenue is the sum of completed visits' amounts minus refunds.
"""

from __future__ import annotations

import pandas as pd

from .tables import ClinicData


def visit_days(visits: pd.DataFrame) -> pd.DataFrame:
    """Completed visits collapsed to one row per patient and day, with the day's amount."""
    done = visits[visits["status"] == "completed"]
    day = done["date"].dt.normalize()
    out = (
        done.assign(day=day)
        .groupby(["patient_id", "day"], sort=True, observed=True)["amount"]
        .sum(min_count=0)
        .reset_index()
    )
    return out


def revenue_rows(visits: pd.DataFrame) -> pd.DataFrame:
    """Money rows: completed visits count +amount, refunds count -amount."""
    money = visits[visits["status"].isin(["completed", "refund"])][
        ["patient_id", "date", "status", "amount"]
    ].copy()
    sign = money["status"].map({"completed": 1.0, "refund": -1.0}).astype("float64")
    money["revenue"] = money["amount"].fillna(0.0).abs() * sign
    return money


def base_by_rule(visits: pd.DataFrame) -> dict[str, int]:
    """Size of the base under each rule of who counts as a patient.

    booked: any visit record of any status; came: >= 1 completed visit;
    paid: >= 1 completed visit with an amount above zero.
    """
    done = visits[visits["status"] == "completed"]
    return {
        "booked": int(visits["patient_id"].nunique()),
        "came": int(done["patient_id"].nunique()),
        "paid": int(done.loc[done["amount"] > 0, "patient_id"].nunique()),
    }


def patients_summary(data: ClinicData, days: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per patient who made any visit record: first/last completed visit,
    visits (distinct days), revenue (net of refunds), bookings."""
    days = visit_days(data.visits) if days is None else days.copy()
    per = days.groupby("patient_id").agg(
        first_visit=("day", "min"), last_visit=("day", "max"), visits=("day", "size")
    )
    money = revenue_rows(data.visits).groupby("patient_id")["revenue"].sum()
    records = data.visits.groupby("patient_id").size().rename("records")
    paid_any = (
        data.visits[(data.visits["status"] == "completed") & (data.visits["amount"] > 0)]
        .groupby("patient_id")
        .size()
        .rename("paid_visits")
    )
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


def monthly(data: ClinicData, days: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per calendar month: new patients (first completed visit), patients seen, visits,
    revenue, and the cumulative base."""
    days = visit_days(data.visits) if days is None else days.copy()
    if days.empty:
        return pd.DataFrame(
            columns=["month", "new_patients", "patients", "visits", "revenue", "base"]
        )
    days["month"] = days["day"].dt.to_period("M")
    first = days.groupby("patient_id")["month"].min()
    money = revenue_rows(data.visits)
    money["month"] = money["date"].dt.to_period("M")
    idx = pd.period_range(days["month"].min(), pd.Timestamp(data.as_of).to_period("M"), freq="M")
    out = pd.DataFrame(index=idx)
    out["new_patients"] = first.value_counts()
    out["patients"] = days.groupby("month")["patient_id"].nunique()
    out["visits"] = days.groupby("month").size()
    out["revenue"] = money.groupby("month")["revenue"].sum()
    out = out.fillna(0)
    for c in ("new_patients", "patients", "visits"):
        out[c] = out[c].astype("int64")
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
