"""Two tiny clinics built in code, for the "honest figures" tests (issue 9, items 7-8).

* :func:`no_amounts_clinic`: 30 months of visits, but the export has no amount column, no
  phone and no e-mail (an appointments log);
* :func:`short_history_clinic`: amounts and phones, but only six weeks of history.

Each writes its CSVs and a params YAML into ``folder`` and returns the params path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

AS_OF = pd.Timestamp("2026-10-30")
STATUS = {"done": "completed", "missed": "no_show", "booked": "booked"}


def _visits(rng, patients: int, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    span = (end - start).days
    rows = []
    for i in range(patients):
        pid = f"P{i:04d}"
        first = start + pd.Timedelta(days=int(rng.integers(0, span)))
        if i % 9 == 0:  # never came: a no-show
            rows.append((pid, first, "missed", 0.0, "Dr A"))
            continue
        day = first
        for _ in range(1 + int(rng.poisson(2.0))):
            if day > end:
                break
            rows.append(
                (pid, day, "done", float(rng.choice([400, 800, 1500])), ["Dr A", "Dr B"][i % 2])
            )
            day = day + pd.Timedelta(days=int(rng.integers(7, 200)))
        if i % 7 == 0:
            rows.append((pid, end + pd.Timedelta(days=10), "booked", 0.0, "Dr B"))
    df = pd.DataFrame(rows, columns=["id", "date", "status", "amount", "doctor"])
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    return df


def _write(
    folder: Path, name: str, visits: pd.DataFrame, cards: pd.DataFrame, amount: bool, contacts: bool
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    vcols = {"patient_id": "id", "date": "date", "status": "status", "doctor": "doctor"}
    if amount:
        vcols["amount"] = "amount"
    visits[list(vcols.values())].to_csv(folder / "visits.csv", index=False)
    pcols = {"patient_id": "id", "full_name": "name"}
    if contacts:
        pcols["phone"] = "phone"
    cards[list(pcols.values())].to_csv(folder / "patients.csv", index=False)
    params = {
        "clinic": {
            "name": name,
            "slug": name.lower().replace(" ", "-"),
            "currency": "BRL",
            "language": "en",
            "as_of": AS_OF.date().isoformat(),
        },
        "sources": [
            {
                "system": "mis",
                "table": "visits",
                "path": "visits.csv",
                "date_format": "%Y-%m-%d",
                "columns": vcols,
                "values": {"status": STATUS},
            },
            {"system": "mis", "table": "patients", "path": "patients.csv", "columns": pcols},
        ],
        "report": {"formats": ["html"]},
    }
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def _cards(visits: pd.DataFrame) -> pd.DataFrame:
    ids = sorted(visits["id"].unique())
    return pd.DataFrame(
        {
            "id": ids,
            "name": [f"Patient {i}" for i in ids],
            "phone": [f"+38067{int(i[1:]):07d}" for i in ids],
        }
    )


def no_amounts_clinic(folder: Path, patients: int = 400) -> Path:
    """30 months of an appointments log with no amount, phone or e-mail column."""
    rng = np.random.default_rng(1)
    v = _visits(rng, patients, AS_OF - pd.DateOffset(months=30), AS_OF)
    return _write(folder, "No Amounts", v, _cards(v), amount=False, contacts=False)


def short_history_clinic(folder: Path, patients: int = 300) -> Path:
    """Six weeks of visits with amounts and phones."""
    rng = np.random.default_rng(2)
    v = _visits(rng, patients, AS_OF - pd.Timedelta(weeks=6), AS_OF)
    return _write(folder, "Six Weeks", v, _cards(v), amount=True, contacts=True)
