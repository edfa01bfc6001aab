"""An appointments export shaped like a public booking system's (the "medical appointment
no-shows" shape): numeric patient and appointment ids, ISO timestamps with ``Z``, 0/1 flags and
a ``No-show`` Yes/No column (Yes: the patient did NOT come). No amounts, no names, no phones,
six weeks of history. Seeded and deterministic; returns its truth for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = [
    "PatientId", "AppointmentID", "Gender", "ScheduledDay", "AppointmentDay", "Age",
    "Neighbourhood", "Scholarship", "Hipertension", "Diabetes", "Alcoholism", "Handcap",
    "SMS_received", "No-show",
]  # fmt: skip
NEIGHBOURHOODS = [
    "JARDIM DA PENHA", "MATA DA PRAIA", "PONTAL DE CAMBURI", "REPÚBLICA", "GOIABEIRAS",
    "ANDORINHAS", "CONQUISTA", "NOVA PALESTINA", "DA PENHA", "TABUAZEIRO", "BENTO FERREIRA",
    "SÃO PEDRO", "SANTA MARTHA", "MARUÍPE", "JARDIM CAMBURI", "ITARARÉ", "RESISTÊNCIA",
]  # fmt: skip
FIRST_DAY = pd.Timestamp("2016-04-29")  # six weeks of appointment days, weekdays only


@dataclass(frozen=True)
class BookingTruth:
    path: Path
    rows: int
    people: int  # distinct PatientId
    people_came: int  # distinct PatientId with an attended row
    visits: int  # distinct (PatientId, AppointmentDay's day) among attended rows


def write_booking_export(path: Path | str, seed: int = 2016, rows: int = 3000) -> BookingTruth:
    """Write the CSV export to ``path`` and return what it holds."""
    rng = np.random.default_rng(seed)
    n_people = max(1, int(rows * 0.6))
    ids = 10**10 + rng.choice(10**14 - 10**10, n_people, replace=False)
    # some patients' ids come out of the booking system as floats: 29872499824296.0
    as_text = np.where(rng.random(n_people) < 0.2, [f"{i}.0" for i in ids], ids.astype(str))
    person = pd.DataFrame(
        {
            "PatientId": as_text,
            "Gender": np.where(rng.random(n_people) < 0.65, "F", "M"),
            "Age": rng.integers(0, 96, n_people),
            "Neighbourhood": rng.choice(NEIGHBOURHOODS, n_people),
            **{
                c: (rng.random(n_people) < p).astype(int)
                for c, p in [
                    ("Scholarship", 0.1),
                    ("Hipertension", 0.2),
                    ("Diabetes", 0.07),
                    ("Alcoholism", 0.03),
                    ("Handcap", 0.02),
                ]
            },
        }
    )
    # every person books once; the rest of the rows go to repeat bookers
    who = np.concatenate([np.arange(n_people), rng.integers(0, n_people, rows - n_people)])
    days = pd.bdate_range(FIRST_DAY, periods=30)
    day = days[rng.integers(0, len(days), rows)]
    lead = np.where(rng.random(rows) < 0.35, 0, rng.integers(1, 60, rows))
    seconds = rng.integers(7 * 3600, 20 * 3600, rows)
    scheduled = day - pd.to_timedelta(lead, unit="D") + pd.to_timedelta(seconds, unit="s")
    out = person.iloc[who].reset_index(drop=True)
    out["ScheduledDay"] = scheduled.strftime("%Y-%m-%dT%H:%M:%SZ")
    out["AppointmentDay"] = day.strftime("%Y-%m-%dT00:00:00Z")
    out["SMS_received"] = ((lead >= 3) & (rng.random(rows) < 0.55)).astype(int)
    out["No-show"] = np.where(rng.random(rows) < 0.2, "Yes", "No")
    # appointment ids grow with the time of booking, 7 digits
    order = np.argsort(scheduled.to_numpy(), kind="stable")
    out.loc[order, "AppointmentID"] = 5_030_230 + np.arange(rows) * 13 + rng.integers(0, 13, rows)
    out["AppointmentID"] = out["AppointmentID"].astype("int64")
    out = out.sample(frac=1.0, random_state=seed).reset_index(drop=True)[COLUMNS]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, lineterminator="\n")

    came = out[out["No-show"] == "No"]
    return BookingTruth(
        path=path,
        rows=len(out),
        people=int(out["PatientId"].nunique()),
        people_came=int(came["PatientId"].nunique()),
        visits=int(len(came[["PatientId", "AppointmentDay"]].drop_duplicates())),
    )
