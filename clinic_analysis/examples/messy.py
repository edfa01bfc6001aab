"""A messy two-system clinic: the ingestion test bed with an exact, known ledger.

An old MIS exported Windows-1251 CSVs with Ukrainian headers; the new MIS exports one
Excel workbook with Russian headers. Patients moved from one to the other (recognised by
their phone in another format, or, without a phone, by name and birth date), and the
exports carry what real ones do: test records, exact duplicate rows, refunds (as a status
and as negative amounts on completed rows), rows without a patient id, impossible dates,
completed visits after the audit date and future bookings; children on a parent's mobile,
the clinic's landline in several people's cards and second cards of one person. A third of
the people come once; visits follow the dental season. Every such row is made on purpose
and counted in :class:`MessyTruth`, so that tests can check each ledger figure, the merged
person count and the audit's headline figures (``audit``, see
:func:`clinic_analysis.examples.truth.audit_truth`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clinic_analysis.examples.demo_simulate import season_weights
from clinic_analysis.examples.export import fix_zip_times, money_text, money_value, phone_text
from clinic_analysis.examples.truth import audit_truth

AS_OF = dt.date(2026, 9, 30)
LANDLINE = "0442347788"  # the clinic's own number, typed into cards by the front desk
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
    merged_by_phone: int  # people in both systems, with a mobile of their own
    merged_by_name: int  # people in both systems without one (name and birth date)
    ledger: dict = field(default_factory=dict)  # system -> table -> rows_in/kept/merged/dropped
    no_show_only: int = 0  # people whose kept records hold no-shows and no completed visit
    children_on_parent_phone: int = 0
    landline_cards: int = 0  # people whose card carries the clinic's landline
    duplicate_cards: int = 0  # people with a second card in the old MIS
    negative_refunds: int = 0  # refunds written as a negative amount on a completed row
    audit: dict = field(default_factory=dict)  # what the audit must find (truth.audit_truth)

    def as_dict(self) -> dict:
        return {
            "persons": self.persons,
            "merged_by_phone": self.merged_by_phone,
            "merged_by_name": self.merged_by_name,
            "ledger": self.ledger,
            "no_show_only": self.no_show_only,
            "children_on_parent_phone": self.children_on_parent_phone,
            "landline_cards": self.landline_cards,
            "duplicate_cards": self.duplicate_cards,
            "negative_refunds": self.negative_refunds,
            "audit": self.audit,
        }


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
                phone_kind="own" if has_phone else "none",
            )
        )
    kids, landline, dups = _families_landline_duplicates(people, rng)

    old_p, new_p, old_v, new_v = [], [], [], []
    old_m, new_m = [], []  # per visit row: (person or None, card key), kept or not
    ledger = {
        "old_mis": {"patients": _entry(), "visits": _entry()},
        "new_mis": {"patients": _entry(), "visits": _entry()},
    }
    merged_phone = merged_name = 0
    start = pd.Timestamp(AS_OF) - pd.Timedelta(days=4 * 365)
    season = season_weights(start, 4 * 365)
    season = season / season.sum()
    negative_refunds = 0
    for p in people:
        name = f"{p['last']} {p['first']}"
        old_key = f"{1000 + p['i']}"
        if p["where"] in (0, 2):
            old_p.append(
                {
                    "Код": old_key,
                    "ПІБ": name,
                    "Телефон": phone_text(p["phone"], p["i"]) if p["phone"] else "",
                    "Дата народження": p["birth"].strftime("%d.%m.%Y"),
                }
            )
        if p["i"] in dups:  # a second card in the old MIS: same name and birth, phone reformatted
            old_p.append(
                {
                    "Код": dups[p["i"]],
                    "ПІБ": name,
                    "Телефон": phone_text(p["phone"], p["i"] + 2),
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
                    "Телефон": phone_text(p["phone"], p["i"] + 1) if p["phone"] else None,
                    "Дата рождения": pd.Timestamp(p["birth"]),
                }
            )
        if p["where"] == 2:
            if p["phone"] and p["phone_kind"] != "landline":
                merged_phone += 1
            else:
                merged_name += 1
        # visits: a few in each system the person is in; a third come once and never return
        systems = [s for s, w in (("old_mis", (0, 2)), ("new_mis", (1, 2))) if p["where"] in w]
        once = rng.random() < 0.35
        if once:
            systems = [systems[int(rng.integers(len(systems)))]]
        for system in systems:
            for _ in range(1 if once else int(rng.integers(1, 5))):
                day = start + pd.Timedelta(days=int(rng.choice(len(season), p=season)))
                amount = float(rng.integers(5, 300) * 10)
                status = "completed" if rng.random() < 0.9 else "no_show"
                card = old_key
                if system == "old_mis" and p["i"] in dups and rng.random() < 0.5:
                    card = dups[p["i"]]
                _visit(
                    old_v, new_v, system, p, day, amount if status == "completed" else None,
                    status, card,
                )  # fmt: skip
                _meta(old_m, new_m, system, p, card, True)
                ledger[system]["visits"]["rows_in"] += 1
                # a refund as a negative amount on an ordinary completed row, days later
                back = day + pd.Timedelta(days=int(rng.integers(1, 8)))
                if status == "completed" and rng.random() < 0.04 and back <= pd.Timestamp(AS_OF):
                    refunded = amount if rng.random() < 0.6 else amount / 2
                    _visit(old_v, new_v, system, p, back, -refunded, "completed", card)
                    _meta(old_m, new_m, system, p, card, True)
                    ledger[system]["visits"]["rows_in"] += 1
                    negative_refunds += 1

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
            old_m.append((None, None, False))
            ledger["old_mis"]["visits"]["rows_in"] += 1
            _count_drop(ledger, "old_mis", "visits", "excluded_patient")
    new_p.append(
        {"ID клиента": "TEST1", "ФИО": "test patient", "Телефон": None, "Дата рождения": None}
    )
    ledger["new_mis"]["patients"]["rows_in"] += 1
    _count_drop(ledger, "new_mis", "patients", "excluded: тестовий запис")
    new_v.append(_new_row("TEST1", start + pd.Timedelta(days=50), 100.0, "completed"))
    new_m.append((None, None, False))
    ledger["new_mis"]["visits"]["rows_in"] += 1
    _count_drop(ledger, "new_mis", "visits", "excluded_patient")

    # exact duplicate rows in the old visits export
    for r in list(old_v[:7]):
        old_v.append(dict(r))
        old_m.append((None, None, False))
        ledger["old_mis"]["visits"]["rows_in"] += 1
        _count_drop(ledger, "old_mis", "visits", "duplicate_row")
    # rows without a patient id, impossible dates
    old_v.append({**old_v[0], "Код пацієнта": "", "Сума, грн": "100,00"})
    old_v.append({**old_v[1], "Дата прийому": "31.02.2025", "Сума, грн": "111,00"})
    old_v.append({**old_v[2], "Дата прийому": "не вказано", "Сума, грн": "112,00"})
    old_m.extend([(None, None, False)] * 3)
    ledger["old_mis"]["visits"]["rows_in"] += 3
    _count_drop(ledger, "old_mis", "visits", "missing_patient_id")
    _count_drop(ledger, "old_mis", "visits", "unparseable_date", 2)
    new_v.append({**new_v[0], "ID клиента": None})
    new_m.append((None, None, False))
    ledger["new_mis"]["visits"]["rows_in"] += 1
    _count_drop(ledger, "new_mis", "visits", "missing_patient_id")
    # refund rows (kept), completed visits after as_of (dropped), future bookings (kept)
    old_people = [p for p in people if p["where"] in (0, 2)]
    new_people = [p for p in people if p["where"] in (1, 2)]
    for p in old_people[:4]:
        card = f"{1000 + p['i']}"
        day = pd.Timestamp(AS_OF) - pd.Timedelta(days=20)
        _visit(old_v, new_v, "old_mis", p, day, 500.0, "refund", card)
        _meta(old_m, new_m, "old_mis", p, card, True)
        ledger["old_mis"]["visits"]["rows_in"] += 1
    for p in new_people[:5]:
        _visit(
            old_v, new_v, "new_mis", p, pd.Timestamp(AS_OF) + pd.Timedelta(days=3), 900.0,
            "completed",
        )  # fmt: skip
        _meta(old_m, new_m, "new_mis", p, None, False)
        ledger["new_mis"]["visits"]["rows_in"] += 1
        _count_drop(ledger, "new_mis", "visits", "after_as_of")
        _visit(
            old_v, new_v, "new_mis", p, pd.Timestamp(AS_OF) + pd.Timedelta(days=14), None, "booked"
        )
        _meta(old_m, new_m, "new_mis", p, None, True)
        ledger["new_mis"]["visits"]["rows_in"] += 1

    # merged rows: a person's cards and visits fold into the smallest of their source keys
    # ("new_mis:..." < "old_mis:..."); every other key's rows count as merged
    for system in ("old_mis", "new_mis"):
        for table in ("patients", "visits"):
            e = ledger[system][table]
            e["rows_kept"] = e["rows_in"] - sum(e["dropped"].values())
    keys: dict[int, list[str]] = {}
    for p in people:
        if p["where"] in (0, 2):
            keys.setdefault(p["i"], []).append(f"old_mis:{1000 + p['i']}")
        if p["where"] in (1, 2):
            keys.setdefault(p["i"], []).append(f"new_mis:N{p['i']:05d}")
        if p["i"] in dups:
            keys[p["i"]].append(f"old_mis:{dups[p['i']]}")
    person_key = {i: min(ks) for i, ks in keys.items()}
    ledger["old_mis"]["patients"]["merged"] = sum(
        k != person_key[i] for i, ks in keys.items() for k in ks if k.startswith("old_mis:")
    )
    for system, meta in (("old_mis", old_m), ("new_mis", new_m)):
        ledger[system]["visits"]["merged"] = sum(
            1 for i, key, kept in meta if kept and key != person_key[i]
        )

    _write_old(folder, old_p, old_v)
    _write_new(folder, new_p, new_v)
    audit = audit_truth(_kept_records(old_v, old_m, new_v, new_m), None, AS_OF)
    truth = MessyTruth(
        folder=folder,
        persons=n_people,
        merged_by_phone=merged_phone,
        merged_by_name=merged_name,
        ledger=ledger,
        no_show_only=audit["segments"]["no_show"],
        children_on_parent_phone=len(kids),
        landline_cards=len(landline),
        duplicate_cards=len(dups),
        negative_refunds=negative_refunds,
        audit=audit,
    )
    (folder / "truth.json").write_text(
        json.dumps(truth.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return truth


def _families_landline_duplicates(people: list[dict], rng) -> tuple[list, list, dict]:
    """Turn some people into what real bases hold, each still one person:

    * children on a parent's mobile (6%): the parent's surname and number, their own first
      name (siblings differ too) and a child's birth date;
    * the clinic's landline typed into the cards of four or more people of one system;
    * second cards in the old MIS (2% of its people with a mobile of their own): the same
      name and birth date, the phone in another format, code ``1000 + n + i``.

    Returns the children, the landline people and ``{person: second card code}``.
    """
    n = len(people)
    order = rng.permutation(n)
    n_kids = int(round(0.06 * n))
    kids = [int(i) for i in order[:n_kids]]
    pool = [int(i) for i in order[n_kids:] if people[i]["phone"]]
    kids = kids if pool else []
    parents = set()
    for kid in kids:
        par = pool[int(rng.integers(len(pool)))]
        k, pa = people[kid], people[par]
        parents.add(par)
        taken = {q["first"] for q in people if q["phone"] == pa["phone"]} | {pa["first"]}
        names = [f for f in FIRST[k["sex"]] if f not in taken]
        k["first"] = names[int(rng.integers(len(names)))]
        k["last"], k["phone"], k["phone_kind"] = pa["last"], pa["phone"], "family"
        k["birth"] = dt.date(2008, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 14)))
        pa["phone_kind"] = "parent"
    # one system only, so that no person carries the landline on two cards
    own = [int(i) for i in order[n_kids:] if people[i]["phone_kind"] == "own"]
    landline = [i for i in own if people[i]["where"] == 0][: max(4, n // 100)]
    if len(landline) < 3:
        landline = []
    for i in landline:
        people[i]["phone"], people[i]["phone_kind"] = LANDLINE, "landline"
    rest = [i for i in own if people[i]["where"] == 0 and i not in set(landline)]
    dups = {i: f"{1000 + n + i}" for i in sorted(rest[: max(1, n // 50)])}
    return kids, landline, dups


def _meta(old_m, new_m, system, p, card, kept):
    """Who a visit row belongs to (person, source key) and whether the loader keeps it."""
    if system == "old_mis":
        old_m.append((p["i"], f"old_mis:{card or 1000 + p['i']}", kept))
    else:
        new_m.append((p["i"], f"new_mis:N{p['i']:05d}", kept))


def _kept_records(old_v, old_m, new_v, new_m) -> pd.DataFrame:
    """The visit rows the loader keeps, with the real person, as ``audit_truth`` reads them."""
    back_old = {w: k for k, w in OLD_STATUS.items()}
    back_new = {w: k for k, w in NEW_STATUS.items()}
    rows = []
    for r, (i, _, kept) in zip(old_v, old_m, strict=True):
        if kept:
            rows.append((i, pd.to_datetime(r["Дата прийому"], format="%d.%m.%Y"),
                         back_old[r["Статус"]], money_value(r["Сума, грн"])))  # fmt: skip
    for r, (i, _, kept) in zip(new_v, new_m, strict=True):
        if kept:
            rows.append((i, r["Дата визита"], back_new[r["Статус"]], r["Сумма"]))
    return pd.DataFrame(rows, columns=["person", "date", "status", "amount"])


def _entry() -> dict:
    return {"rows_in": 0, "rows_kept": 0, "merged": 0, "dropped": {}}


def _count_drop(ledger, system, table, reason, n=1):
    d = ledger[system][table]["dropped"]
    d[reason] = d.get(reason, 0) + n


def _old_row(pid, day, amount, status):
    return {
        "Код пацієнта": pid,
        "Дата прийому": day.strftime("%d.%m.%Y"),
        "Сума, грн": money_text(amount),
        "Статус": OLD_STATUS[status],
    }


def _new_row(pid, day, amount, status):
    return {"ID клиента": pid, "Дата визита": day, "Сумма": amount, "Статус": NEW_STATUS[status]}


def _visit(old_v, new_v, system, p, day, amount, status, card=None):
    if system == "old_mis":
        old_v.append(_old_row(card or f"{1000 + p['i']}", day, amount, status))
    else:
        new_v.append(_new_row(f"N{p['i']:05d}", day, amount, status))


def _write_old(folder: Path, patients, visits):
    pd.DataFrame(patients).to_csv(
        folder / "old_patients.csv", sep=";", index=False, encoding="cp1251"
    )
    pd.DataFrame(visits).to_csv(folder / "old_visits.csv", sep=";", index=False, encoding="cp1251")


def _write_new(folder: Path, patients, visits):
    path = folder / "new_mis.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        pd.DataFrame(patients).to_excel(xw, sheet_name="Пациенты", index=False)
        pd.DataFrame(visits).to_excel(xw, sheet_name="Визиты", index=False)
    fix_zip_times(path)  # the same seed gives the same bytes
