"""Canonical tables: the data contract between loading and computing.

Every source file, whatever its MIS, is mapped onto these tables and columns. Only
``patient_id`` (and ``date`` for visits and plans) are required; any other column may be
missing from a clinic's export, and the sections that need it say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

TableName = Literal["visits", "patients", "plans"]

# canonical column -> kind (how the loader parses it)
COLUMNS: dict[str, dict[str, str]] = {
    "visits": {
        "patient_id": "id",
        "date": "datetime",
        "status": "category",
        "amount": "money",
        "doctor": "text",
        "service": "text",
        "service_line": "text",
        "branch": "text",
        "visit_id": "id",
    },
    "patients": {
        "patient_id": "id",
        "full_name": "text",
        "first_name": "text",
        "last_name": "text",
        "phone": "text",
        "email": "text",
        "messenger": "text",
        "birth_date": "date",
        "sex": "category",
        "consent": "bool",
        "channel": "text",
        "referred_by": "id",
        "created_at": "date",
    },
    "plans": {
        "plan_id": "id",
        "patient_id": "id",
        "date": "date",
        "amount_total": "money",
        "amount_paid": "money",
        "status": "category",
        "refusal_reason": "text",
        "doctor": "text",
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "visits": ("patient_id", "date"),
    "patients": ("patient_id",),
    "plans": ("patient_id",),
}

# canonical values of the categorical columns, and the default where the column is absent
CATEGORIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("visits", "status"): ("completed", "no_show", "cancelled", "booked", "refund"),
    ("patients", "sex"): ("f", "m"),
    ("plans", "status"): ("proposed", "accepted", "completed", "refused"),
}
DEFAULTS: dict[tuple[str, str], str] = {("visits", "status"): "completed"}


@dataclass
class LedgerEntry:
    """What happened to the rows of one source file."""

    system: str
    table: str
    path: str
    rows_in: int = 0
    rows_kept: int = 0
    merged: int = 0  # kept rows folded into a person first seen in another row or system
    dropped: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)  # kept rows with a suspicious value
    date_min: str | None = None
    date_max: str | None = None

    def drop(self, reason: str, n: int) -> None:
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)

    def flag(self, what: str, n: int) -> None:
        if n:
            self.flags[what] = self.flags.get(what, 0) + int(n)

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_kept + sum(self.dropped.values())

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "rows_in": self.rows_in,
            "rows_kept": self.rows_kept,
            "merged": self.merged,
            "dropped": dict(sorted(self.dropped.items())),
            "flags": dict(sorted(self.flags.items())),
            "date_min": self.date_min,
            "date_max": self.date_max,
        }


@dataclass
class ClinicData:
    """The loaded, canonical tables of one clinic plus the ledger of how they were built.

    visits:   one row per visit record; ``date`` is datetime64, ``status`` one of
              CATEGORIES[visits.status], ``amount`` float (refund rows carry the refunded sum).
    patients: one row per person (``patient_id`` unique).
    plans:    one row per treatment plan (may be empty).
    """

    visits: pd.DataFrame
    patients: pd.DataFrame
    plans: pd.DataFrame
    ledger: list[LedgerEntry]
    as_of: pd.Timestamp
    present: dict[str, list[str]]  # table -> canonical columns actually exported
    rejected: pd.DataFrame  # dropped rows: system, table, path, row, reason
    identity: dict = field(default_factory=dict)  # identity.summary: merges, shared phones

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.present.get(table)
        if cols is None:
            return False
        return column is None or column in cols
