"""A messy two-system clinic: the ingestion test bed with an exact, known ledger.

An old MIS exported Windows-1251 CSVs with Ukrainian headers; the new MIS exports one
Excel workbook with Russian headers. Patients moved from one to the other (recognised by
their phone in another format, or, without a phone, by name and birth date), and the
exports carry what real ones do: test records, exact duplicate rows, refunds, rows without
a patient id, impossible dates, completed visits after the audit date and future bookings.
Every such row is made on purpose and counted in :class:`MessyTruth`, so that tests can
check each ledger figure and the merged person count.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = dt.date(2026, 9, 30)
FIRST = {
    "f": ["Олена", "Марія", "Ірина", "Наталія", "Оксана", "Тетяна", "Юлія", "Мар'яна", "Ольга"],
    "m": ["Олег", "Андрій", "Сергій", "Володимир", "Дмитро", "Ігор", "Юрій", "Тарас", "Богдан"],
}
LAST = [
    "Іваненко",
    "Петренко",
    "Коваленко",
    "Бондаренко",
    "Ткаченко",
    "Кравченко",
    "Шевчук",
    "Мельник",
    "Олійник",
    "Лисенко",
    "Руденко",
    "Мар'янчук",
    "Савченко",
    "Гончаренко",
]
OLD_STATUS = {
    "completed": "Виконано",
    "no_show": "Не з'явився",
    "refund": "Повернення",
    "booked": "Запис",
}
NEW_STATUS = {
    "completed": "Выполнен",
    "no_show": "Не пришел",
    "cancelled": "Отменен",
    "refund": "Возврат",
    "booked": "Записан",
}


@dataclass
class MessyTruth:
    folder: Path
    persons: int  # distinct people after merging (test records excluded)
    merged_by_phone: int
    merged_by_name: int
    ledger: dict = field(default_factory=dict)  # system -> table -> rows_in/kept/merged/dropped
    no_show_only: int = 0  # people whose kept records hold no-shows and no completed visit

    def as_dict(self) -> dict:
        return {
            "persons": self.persons,
            "merged_by_phone": self.merged_by_phone,
            "merged_by_name": self.merged_by_name,
            "ledger": self.ledger,
            "no_show_only": self.no_show_only,
        }


def _phone_formats(local: str, k: int) -> str:
    """The same Ukrainian mobile number (``0XXYYYYYYY``) written five ways."""
    forms = [
        f"{local[:3]} {local[3:6]} {local[6:8]} {local[8:]}",
        f"+38 ({local[:3]}) {local[3:6]}-{local[6:8]}-{local[8:]}",
        "8" + local,
        local,
        "+38" + local,
    ]
    return forms[k % len(forms)]


def generate_messy(folder: Path, n_people: int = 400, seed: int = 7) -> MessyTruth:
    """Write the two systems' exports (mapped by ``params/messy.yaml``) into ``folder``."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    people = []
    for i in range(n_people):
        sex = "f" if rng.random() < 0.6 else "m"
        last = LAST[rng.integers(len(LAST))]
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 55)))
        has_phone = rng.random() < 0.85
        local = f"0{rng.choice(['50', '67', '93', '97', '63'])}{rng.integers(0, 10**7):07d}"
        # where: 0 old only, 1 new only, 2 both (migrated)
        where = int(rng.choice([0, 1, 2], p=[0.45, 0.35, 0.20]))
        people.append(
            dict(
                i=i,
                sex=sex,
                first=FIRST[sex][rng.integers(len(FIRST[sex]))],
                last=last,
                birth=birth,
                phone=local if has_phone else None,
                where=where,
            )
        )

    old_p, new_p, old_v, new_v = [], [], [], []
    kept_status: dict[int, list[str]] = {}  # statuses of the rows the loader will keep
    ledger = {
        "old_mis": {"patients": _entry(), "visits": _entry()},
        "new_mis": {"patients": _entry(), "visits": _entry()},
    }
    merged_phone = merged_name = 0
    start = pd.Timestamp(AS_OF) - pd.Timedelta(days=4 * 365)
    for p in people:
        name = f"{p['last']} {p['first']}"
        if p["where"] in (0, 2):
            old_p.append(
                {
                    "Код": f"{1000 + p['i']}",
                    "ПІБ": name,
                    "Телефон": _phone_formats(p["phone"], p["i"]) if p["phone"] else "",
                    "Дата народження": p["birth"].strftime("%d.%m.%Y"),
                }
            )
        if p["where"] in (1, 2):
            # the new MIS writes names in capitals with another apostrophe
            new_name = name.upper().replace("'", "’") if p["where"] == 2 else name
            new_p.append(
                {
                    "ID клиента": f"N{p['i']:05d}",
                    "ФИО": new_name,
                    "Телефон": _phone_formats(p["phone"], p["i"] + 1) if p["phone"] else None,
                    "Дата рождения": pd.Timestamp(p["birth"]),
                }
            )
        if p["where"] == 2:
            if p["phone"]:
                merged_phone += 1
            else:
                merged_name += 1
        # visits: a few in each system the person is in
        for system in ("old_mis", "new_mis"):
            if (system == "old_mis" and p["where"] == 1) or (
                system == "new_mis" and p["where"] == 0
            ):
                continue
            for _ in range(int(rng.integers(1, 5))):
                day = start + pd.Timedelta(days=int(rng.integers(0, 4 * 365)))
                amount = float(rng.integers(5, 300) * 10)
                status = "completed" if rng.random() < 0.9 else "no_show"
                kept_status.setdefault(p["i"], []).append(status)
                _visit(
                    old_v, new_v, system, p, day, amount if status == "completed" else None, status
                )
                ledger[system]["visits"]["rows_in"] += 1

    for system, rows in (("old_mis", old_p), ("new_mis", new_p)):
        ledger[system]["patients"]["rows_in"] = len(rows)

    # --- the mess, each piece counted -------------------------------------------------
    # test records in both systems, with visits (excluded by rule, visits go with them)
    for k in range(3):
        old_p.append(
            {"Код": f"T{k}", "ПІБ": f"Тест Тестовий {k}", "Телефон": "", "Дата народження": ""}
        )
        ledger["old_mis"]["patients"]["rows_in"] += 1
        _count_drop(ledger, "old_mis", "patients", "excluded: тестовий запис")
        for j in range(2):
            day = start + pd.Timedelta(days=100 + 10 * k + j)
            old_v.append(_old_row(f"T{k}", day, 0.0, "completed"))
            ledger["old_mis"]["visits"]["rows_in"] += 1
            _count_drop(ledger, "old_mis", "visits", "excluded_patient")
    new_p.append(
        {"ID клиента": "TEST1", "ФИО": "test patient", "Телефон": None, "Дата рождения": None}
    )
    ledger["new_mis"]["patients"]["rows_in"] += 1
    _count_drop(ledger, "new_mis", "patients", "excluded: тестовий запис")
    new_v.append(_new_row("TEST1", start + pd.Timedelta(days=50), 100.0, "completed"))
    ledger["new_mis"]["visits"]["rows_in"] += 1
    _count_drop(ledger, "new_mis", "visits", "excluded_patient")

    # exact duplicate rows in the old visits export
    for r in list(old_v[:7]):
        old_v.append(dict(r))
        ledger["old_mis"]["visits"]["rows_in"] += 1
        _count_drop(ledger, "old_mis", "visits", "duplicate_row")
    # rows without a patient id, impossible dates
    old_v.append({**old_v[0], "Код пацієнта": "", "Сума, грн": "100,00"})
    old_v.append({**old_v[1], "Дата прийому": "31.02.2025", "Сума, грн": "111,00"})
    old_v.append({**old_v[2], "Дата прийому": "не вказано", "Сума, грн": "112,00"})
    ledger["old_mis"]["visits"]["rows_in"] += 3
    _count_drop(ledger, "old_mis", "visits", "missing_patient_id")
    _count_drop(ledger, "old_mis", "visits", "unparseable_date", 2)
    new_v.append({**new_v[0], "ID клиента": None})
    ledger["new_mis"]["visits"]["rows_in"] += 1
    _count_drop(ledger, "new_mis", "visits", "missing_patient_id")
    # refunds (kept), completed visits after as_of (dropped), future bookings (kept)
    old_people = [p for p in people if p["where"] in (0, 2)]
    new_people = [p for p in people if p["where"] in (1, 2)]
    for p in old_people[:4]:
        kept_status[p["i"]].append("refund")
        _visit(
            old_v, new_v, "old_mis", p, pd.Timestamp(AS_OF) - pd.Timedelta(days=20), 500.0, "refund"
        )
        ledger["old_mis"]["visits"]["rows_in"] += 1
    for p in new_people[:5]:
        kept_status[p["i"]].append("booked")  # the completed visit after as_of is dropped
        _visit(
            old_v,
            new_v,
            "new_mis",
            p,
            pd.Timestamp(AS_OF) + pd.Timedelta(days=3),
            900.0,
            "completed",
        )
        ledger["new_mis"]["visits"]["rows_in"] += 1
        _count_drop(ledger, "new_mis", "visits", "after_as_of")
        _visit(
            old_v, new_v, "new_mis", p, pd.Timestamp(AS_OF) + pd.Timedelta(days=14), None, "booked"
        )
        ledger["new_mis"]["visits"]["rows_in"] += 1

    # merged rows: the new system's cards and visits of migrated people fold into the
    # person whose id is the smallest source key ("new_mis:..." < "old_mis:...")
    for system in ("old_mis", "new_mis"):
        for table in ("patients", "visits"):
            e = ledger[system][table]
            e["rows_kept"] = e["rows_in"] - sum(e["dropped"].values())
    migrated_old_ids = {f"{1000 + p['i']}" for p in people if p["where"] == 2}
    ledger["old_mis"]["patients"]["merged"] = len(migrated_old_ids)
    n_old_merged = 0  # kept old visits of migrated people
    seen = set()
    for _, row in pd.DataFrame(old_v).iterrows():
        key = tuple(row.fillna("").astype(str))
        dup = key in seen
        seen.add(key)
        if (
            dup
            or row["Код пацієнта"] in ("", None)
            or row["Дата прийому"] in ("31.02.2025", "не вказано")
        ):
            continue
        if row["Код пацієнта"] in migrated_old_ids:
            n_old_merged += 1
    ledger["old_mis"]["visits"]["merged"] = n_old_merged

    _write_old(folder, old_p, old_v)
    _write_new(folder, new_p, new_v)
    truth = MessyTruth(
        folder=folder,
        persons=n_people,
        merged_by_phone=merged_phone,
        merged_by_name=merged_name,
        ledger=ledger,
        no_show_only=sum(
            1 for st in kept_status.values() if "completed" not in st and "no_show" in st
        ),
    )
    (folder / "truth.json").write_text(
        json.dumps(truth.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return truth


def _entry() -> dict:
    return {"rows_in": 0, "rows_kept": 0, "merged": 0, "dropped": {}}


def _count_drop(ledger, system, table, reason, n=1):
    d = ledger[system][table]["dropped"]
    d[reason] = d.get(reason, 0) + n


def _old_row(pid, day, amount, status):
    return {
        "Код пацієнта": pid,
        "Дата прийому": day.strftime("%d.%m.%Y"),
        "Сума, грн": "" if amount is None else f"{amount:,.2f}".replace(",", " ").replace(".", ","),
        "Статус": OLD_STATUS[status],
    }


def _new_row(pid, day, amount, status):
    return {"ID клиента": pid, "Дата визита": day, "Сумма": amount, "Статус": NEW_STATUS[status]}


def _visit(old_v, new_v, system, p, day, amount, status):
    if system == "old_mis":
        old_v.append(_old_row(f"{1000 + p['i']}", day, amount, status))
    else:
        new_v.append(_new_row(f"N{p['i']:05d}", day, amount, status))


def _write_old(folder: Path, patients, visits):
    pd.DataFrame(patients).to_csv(
        folder / "old_patients.csv", sep=";", index=False, encoding="cp1251"
    )
    pd.DataFrame(visits).to_csv(folder / "old_visits.csv", sep=";", index=False, encoding="cp1251")


def _write_new(folder: Path, patients, visits):
    with pd.ExcelWriter(folder / "new_mis.xlsx", engine="openpyxl") as xw:
        pd.DataFrame(patients).to_excel(xw, sheet_name="Пациенты", index=False)
        pd.DataFrame(visits).to_excel(xw, sheet_name="Визиты", index=False)
