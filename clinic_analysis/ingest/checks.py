"""The data audit: anomalies and suspicious data, counted and said plainly (never a crash).

Anomalies are normal in clinic data and handled (future bookings, free visits, refunds,
visits before the card was created); warnings point at data that may mislead the audit
(ids Excel turned into scientific notation, dates whose day and month look swapped, the
same id used by two systems for different people).
"""

from __future__ import annotations

import pandas as pd

from clinic_analysis.ingest.tables import ClinicData


def anomalies(data: ClinicData) -> dict[str, int | float]:
    v = data.visits
    done = v.loc[v["status"] == "completed", ["patient_id", "date", "amount"]]
    out: dict[str, int | float] = {
        "future_bookings": int(((v["status"] == "booked") & (v["date"] > data.as_of)).sum()),
        "zero_amount_visits": int((done["amount"] == 0).sum()),
        "missing_amount_visits": int(done["amount"].isna().sum())
        if data.has("visits", "amount")
        else 0,
        "negative_amount_visits": int((done["amount"] < 0).sum()),
        "refunds": int((v["status"] == "refund").sum()),
        "refunds_amount": round(float(v.loc[v["status"] == "refund", "amount"].abs().sum()), 2),
    }
    if data.has("patients", "created_at"):
        created = data.patients.set_index("patient_id")["created_at"]
        card_date = done["patient_id"].map(created)
        out["visits_before_card"] = int((done["date"].dt.normalize() < card_date).sum())
    if data.has("patients"):
        seen = data.patients["patient_id"].isin(v["patient_id"].unique())
        no_card = data.patients[~data.patients["has_card"] & seen]
        out["patients_without_card"] = int(len(no_card))
    return out


def merges(data: ClinicData) -> dict[str, int]:
    """How many people were assembled from several source records."""
    p = data.patients
    if _one_system(data):  # one system: each person's keys come from it
        systems = (p["n_sources"] > 0).astype("int64")
    else:
        systems = p["source_ids"].map(lambda ks: len({k.split(":", 1)[0] for k in ks}))
    return {
        "persons": int(len(p)),
        "source_records": int(p["n_sources"].sum()),
        "merged_persons": int((p["n_sources"] > 1).sum()),
        "across_systems": int((systems > 1).sum()),
        "within_a_system": int(((p["n_sources"] > 1) & (systems == 1)).sum()),
    }


def row_totals(data: ClinicData) -> dict:
    """The ledger over every source file: files, systems, rows read, rows kept as they are
    and rows not kept as they are (merged into another row or dropped with a reason)."""
    rows_in = sum(e.rows_in for e in data.ledger)
    kept = sum(e.rows_kept for e in data.ledger)
    return {
        "files": len(data.ledger),
        "systems": len({e.system for e in data.ledger}),
        "rows_in": int(rows_in),
        "rows_kept": int(kept),
        "rows_not_kept": int(rows_in - kept),
    }


def identity(data: ClinicData) -> dict:
    """Cards joined into people and phones shared by several people, as counts only (no
    phone digits, no names): ``merged_cards`` and ``merges_by_rule``; phones carried by a
    few different people kept apart (``phones_shared_by_family``); phones on the cards of
    many people that join nothing (``shared_lines``, ``cards_on_shared_lines``); cards that
    fit several people on their phone and joined none (``ambiguous_cards``). Phone figures
    are null when no phone column was exported."""
    return dict(data.identity)


def warnings(data: ClinicData) -> dict[str, int]:
    """Suspicious data, by kind: counts of affected rows (0 kinds are left out)."""
    out: dict[str, int] = {}
    for e in data.ledger:
        for flag, n in e.flags.items():
            if flag.startswith("scientific_"):
                key = "scientific_ids"
            elif flag.endswith("_month_first"):
                key = "day_month_swapped"
            elif flag.startswith("ambiguous_"):
                key = "ambiguous_amounts"
            else:
                key = flag
            out[key] = out.get(key, 0) + n
    collisions = id_collisions(data)
    if collisions:
        out["id_collisions"] = collisions
    return {k: v for k, v in sorted(out.items()) if v}


def id_collisions(data: ClinicData) -> int:
    """Raw ids used by two or more systems for people who did not resolve to one person."""
    if _one_system(data):  # an id shared by two systems needs two systems
        return 0
    p = data.patients[["patient_id", "source_ids"]].explode("source_ids").dropna()
    if p.empty:
        return 0
    parts = p["source_ids"].str.split(":", n=1)
    frame = pd.DataFrame({"system": parts.str[0], "raw": parts.str[1], "person": p["patient_id"]})
    g = frame.groupby("raw").agg(systems=("system", "nunique"), persons=("person", "nunique"))
    return int(((g["systems"] > 1) & (g["persons"] > 1)).sum())


def _one_system(data: ClinicData) -> bool:
    """All the files loaded come from one system (by the ledger, one entry per file)."""
    return len({e.system for e in data.ledger}) == 1
