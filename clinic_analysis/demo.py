"""The built-in demo clinic: a deterministic, realistic dental clinic with known truth.

Visits follow the BG/NBD process (Fader, Hardie & Lee 2005) in days: each patient's visit
rate ``lam ~ Gamma(r, 1/alpha)`` and dropout probability ``p ~ Beta(a, b)``; after each
*repeat* visit the patient drops out with probability p. Spend per visit follows the
Gamma-Gamma model: ``nu ~ Gamma(q, 1/v)``, spend ``~ Gamma(p_spend, 1/nu)``. On top come what
a real MIS export carries: no-show-only patients, occasional no-shows and cancellations,
refunds, future bookings, treatment plans, and patient cards with partly missing contacts,
in Ukrainian. The exports are written as a Ukrainian MIS would (``params/demo.yaml`` maps
them); the truth is kept in ``truth.json`` for tests.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DOCTORS = [
    ("Коваленко Олена Вікторівна", "f"), ("Шевчук Андрій Петрович", "m"),
    ("Бондаренко Ірина Сергіївна", "f"), ("Мельник Тарас Іванович", "m"),
    ("Ткаченко Наталія Олегівна", "f"), ("Лисенко Дмитро Юрійович", "m"),
    ("Кравченко Юлія Андріївна", "f"), ("Олійник Сергій Миколайович", "m"),
]  # fmt: skip
SERVICES = {
    "Терапія": [("Лікування карієсу", 1.0), ("Лікування каналів", 1.6), ("Пломбування", 0.8)],
    "Гігієна": [("Професійна гігієна", 0.7), ("Фторування", 0.4)],
    "Ортопедія": [("Металокерамічна коронка", 2.2), ("Керамічна вкладка", 1.9)],
    "Імплантологія": [("Імплантація", 3.0), ("Синус-ліфтинг", 2.5)],
    "Ортодонтія": [("Брекет-система", 2.4), ("Корекція брекетів", 0.6)],
    "Хірургія": [("Видалення зуба", 0.8), ("Резекція", 1.2)],
    "Діагностика": [("Панорамний знімок", 0.3), ("Консультація", 0.3)],
}
LINE_WEIGHTS = [0.34, 0.22, 0.12, 0.06, 0.06, 0.10, 0.10]
CHANNELS = ["Instagram", "Google", "Рекомендація", "Facebook", "Вивіска", "Сайт", "Акція"]
CHANNEL_WEIGHTS = [0.22, 0.22, 0.20, 0.08, 0.08, 0.10, 0.10]
FIRST = {
    "f": ["Олена", "Марія", "Ірина", "Наталія", "Оксана", "Тетяна", "Юлія", "Мар'яна", "Ольга",
          "Анна", "Катерина", "Софія", "Вікторія", "Людмила", "Галина", "Дарина"],
    "m": ["Олег", "Андрій", "Сергій", "Володимир", "Дмитро", "Ігор", "Юрій", "Тарас", "Богдан",
          "Максим", "Олександр", "Василь", "Микола", "Павло", "Роман", "Віктор"],
}  # fmt: skip
FATHER = ["Олександр", "Іван", "Петро", "Сергій", "Василь", "Микола", "Андрій", "Віктор", "Юрій"]
SURNAMES = [
    "Іваненко", "Петренко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Шевчук",
    "Мельник", "Олійник", "Лисенко", "Руденко", "Савченко", "Гончаренко", "Марченко",
    "Поліщук", "Левченко", "Мороз", "Павленко", "Симоненко", "Климченко", "Ковальчук",
    "Білик", "Гребенюк", "Дорошенко", "Зінченко", "Кузьменко", "Литвиненко", "Приходько",
]  # fmt: skip
OPERATORS = ["050", "063", "066", "067", "068", "073", "093", "095", "096", "097", "098", "099"]
REFUSAL_REASONS = ["Дорого", "Подумаю", "Лікується в іншій клініці", "Страх лікування", ""]
STATUS_UA = {"completed": "Виконано", "no_show": "Не з'явився", "cancelled": "Скасовано",
             "booked": "Запис", "refund": "Повернення"}  # fmt: skip
PLAN_UA = {"proposed": "Запропоновано", "accepted": "Прийнято", "completed": "Завершено",
           "refused": "Відмова"}  # fmt: skip
FIXED_TIME = dt.datetime(2026, 1, 1)


@dataclass(frozen=True)
class DemoSpec:
    """What the demo clinic looks like; the BG/NBD and Gamma-Gamma truth is in days / UAH."""

    n_patients: int = 5000
    years: float = 5.0
    as_of: dt.date = dt.date(2026, 10, 31)
    seed: int = 20261122
    r: float = 0.9
    alpha: float = 180.0
    a: float = 0.8
    b: float = 3.0
    p: float = 3.0
    q: float = 4.0
    v: float = 2400.0
    no_show_only_share: float = 0.08
    growth_per_year: float = 0.2
    refund_share: float = 0.01
    noise_share: float = 0.05  # no-shows / cancellations between visits
    plan_share: float = 0.30
    free_first_share: float = 0.10


@dataclass(frozen=True)
class DemoTruth:
    spec: DemoSpec
    files: dict[str, Path]
    counts: dict[str, int]
    patients: pd.DataFrame = field(repr=False)


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T,
    rng: np.random.Generator,
    keep_times: bool = False,
) -> pd.DataFrame:
    """Simulate the BG/NBD process for ``n`` customers observed for ``T`` time units after
    their first purchase. Returns frequency (repeat purchases), recency (time of the last
    purchase since the first; 0 if none), T, lam, p, alive and, with ``keep_times``, the
    repeat purchase times."""
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    t = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    active = np.ones(n, dtype=bool)  # still inside the observation window and alive
    freq = np.zeros(n, dtype=np.int64)
    rec = np.zeros(n)
    times: list[list[float]] = [[] for _ in range(n)] if keep_times else []
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0 / lam[idx])
        inside = t[idx] <= T[idx]
        buy = idx[inside]
        freq[buy] += 1
        rec[buy] = t[buy]
        if keep_times:
            for i in buy:
                times[i].append(float(t[i]))
        dies = buy[rng.random(len(buy)) < p[buy]]
        alive[dies] = False
        active[idx[~inside]] = False
        active[dies] = False
    out = pd.DataFrame(
        {"frequency": freq, "recency": rec, "T": T, "lam": lam, "p": p, "alive": alive}
    )
    if keep_times:
        out["times"] = times
    return out


def _arrivals(spec: DemoSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Days (from the start of the history) of first contact: growth and seasonality."""
    span = int(spec.years * 365)
    day = np.arange(span)
    start = pd.Timestamp(spec.as_of) - pd.Timedelta(days=span)
    month = (start + pd.to_timedelta(day, unit="D")).month
    dom = (start + pd.to_timedelta(day, unit="D")).day
    season = np.where(np.isin(month, [7, 8]), 0.7, 1.0) * np.where(
        (month == 12) & (dom > 20), 0.5, 1.0
    )
    weight = (1 + spec.growth_per_year) ** (day / 365) * season
    return np.sort(rng.choice(day, size=n, p=weight / weight.sum()))


def _clinic_time(days: np.ndarray, start: pd.Timestamp, rng) -> pd.DatetimeIndex:
    """Whole days → appointment times: 09:00–19:00 on the quarter hour; Sundays → Monday."""
    ts = start + pd.to_timedelta(days, unit="D")
    ts = ts + pd.to_timedelta(np.where(ts.day_of_week == 6, 1, 0), unit="D")
    quarter = rng.integers(9 * 4, 19 * 4, len(days))
    return ts + pd.to_timedelta(quarter * 15, unit="m")


def _money(x) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return ""
    return f"{x:,.2f}".replace(",", " ").replace(".", ",")


def _phone(rng) -> str:
    op = OPERATORS[rng.integers(len(OPERATORS))]
    local = f"{op}{rng.integers(0, 10**7):07d}"
    k = rng.integers(5)
    forms = [
        f"{local[:3]} {local[3:6]} {local[6:8]} {local[8:]}",
        f"+38 ({local[:3]}) {local[3:6]}-{local[6:8]}-{local[8:]}",
        "8" + local,
        local,
        "+38" + local,
    ]
    return forms[k]


def _translit(s: str) -> str:
    table = str.maketrans({"а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e",
                           "є": "ie", "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "i",
                           "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
                           "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
                           "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "",
                           "ю": "iu", "я": "ia", "'": ""})  # fmt: skip
    return s.lower().translate(table)


def generate_demo(out_dir: Path, spec: DemoSpec = DemoSpec()) -> DemoTruth:
    """Write visits.csv, patients.csv, plans.xlsx and truth.json into ``out_dir``."""
    rng = np.random.default_rng(spec.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    as_of = pd.Timestamp(spec.as_of)
    span = int(spec.years * 365)
    start = as_of - pd.Timedelta(days=span)
    n = spec.n_patients
    codes = np.array([f"P{i + 1:06d}" for i in range(n)])
    arrive = _arrivals(spec, n, rng)
    no_show_only = rng.random(n) < spec.no_show_only_share

    # ----- the BG/NBD process after each real patient's first visit
    T = (span - 1 - arrive).astype(float)
    sim = simulate_bgnbd(n, spec.r, spec.alpha, spec.a, spec.b, T, rng, keep_times=True)
    nu = rng.gamma(spec.q, 1.0 / spec.v, n)
    home_doc = rng.integers(len(DOCTORS), size=n)
    lines = list(SERVICES)

    rows = []  # (code, day, status, amount, doctor, service, line)
    truth_rows = []
    for i in range(n):
        if no_show_only[i]:
            k = 1 + (rng.random() < 0.3)
            for j in range(k):
                st = "no_show" if rng.random() < 0.75 else "cancelled"
                rows.append(
                    (i, arrive[i] + 7 * j, st, None, home_doc[i], "Консультація", "Діагностика")
                )
            continue
        visit_days = [float(arrive[i])] + [arrive[i] + t for t in sim.at[i, "times"]]
        days_int = np.floor(visit_days).astype(int)
        for j, d in enumerate(days_int):
            line = lines[rng.choice(len(lines), p=LINE_WEIGHTS)]
            svc, mult = SERVICES[line][rng.integers(len(SERVICES[line]))]
            spend = rng.gamma(spec.p, 1.0 / nu[i])
            if j == 0 and rng.random() < spec.free_first_share:
                svc, line, amount = "Консультація", "Діагностика", 0.0
            else:
                amount = round(spend, -1)
            doc = home_doc[i] if rng.random() < 0.8 else rng.integers(len(DOCTORS))
            rows.append((i, d, "completed", amount, doc, svc, line))
            if rng.random() < spec.noise_share:
                st = "no_show" if rng.random() < 0.6 else "cancelled"
                rows.append((i, d - int(rng.integers(1, 10)), st, None, doc, svc, line))
            if amount > 0 and rng.random() < spec.refund_share:
                rows.append(
                    (
                        i,
                        d + int(rng.integers(1, 8)),
                        "refund",
                        round(amount * rng.uniform(0.2, 1.0), -1),
                        doc,
                        svc,
                        line,
                    )
                )
        death = None
        if not sim.at[i, "alive"]:
            death = start + pd.Timedelta(days=int(days_int[-1]))
        elif rng.random() < 0.15:  # alive patients sometimes hold a future booking
            d = span - 1 + int(rng.integers(1, 61))
            rows.append((i, d, "booked", None, home_doc[i], "Профілактичний огляд", "Гігієна"))
        truth_rows.append({
            "patient": codes[i], "lam": sim.at[i, "lam"], "p_drop": sim.at[i, "p"],
            "alive_at_as_of": bool(sim.at[i, "alive"]), "death_date": death, "nu": nu[i],
        })  # fmt: skip

    v = pd.DataFrame(rows, columns=["i", "day", "status", "amount", "doc", "service", "line"])
    v = v[(v["day"] >= 0) & ((v["day"] <= span - 1) | (v["status"] == "booked"))]
    when = _clinic_time(v["day"].to_numpy(), start, rng)
    # a visit moved off a Sunday must not cross as_of
    late = (when.normalize() > as_of) & (v["status"] != "booked").to_numpy()
    when = when.where(~late, when - pd.Timedelta(days=2))
    v = v.assign(when=when).sort_values(["when", "i"], kind="stable").reset_index(drop=True)
    branch = np.where(v["i"].to_numpy() % 3 == 0, "Оболонь", "Центр")
    visits = pd.DataFrame({
        "№ прийому": [f"V{k + 1:07d}" for k in range(len(v))],
        "Код пацієнта": codes[v["i"]],
        "Дата прийому": v["when"].dt.strftime("%d.%m.%Y %H:%M"),
        "Лікар": [DOCTORS[d][0] for d in v["doc"]],
        "Послуга": v["service"],
        "Напрям": v["line"],
        "Сума, грн": [_money(a) for a in v["amount"]],
        "Статус": v["status"].map(STATUS_UA),
        "Філія": branch,
    })  # fmt: skip
    visits_path = out_dir / "visits.csv"
    visits.to_csv(visits_path, sep=";", index=False, encoding="utf-8-sig")

    # ----- cards
    sex = np.where(rng.random(n) < 0.6, "f", "m")
    first_contact = start + pd.to_timedelta(arrive, unit="D")
    names, phones, emails, messengers, births, consents, chans, refs, created = (
        [] for _ in range(9)
    )
    for i in range(n):
        s = sex[i]
        surname = SURNAMES[rng.integers(len(SURNAMES))]
        if s == "f" and surname.endswith(("ий",)):
            surname = surname[:-2] + "а"
        father = FATHER[rng.integers(len(FATHER))]
        patron = father + ("івна" if s == "f" else "ович")
        if father.endswith("й"):
            patron = father[:-1] + ("ївна" if s == "f" else "йович")
        first = FIRST[s][rng.integers(len(FIRST[s]))]
        names.append(f"{surname} {first} {patron}")
        phones.append(_phone(rng) if rng.random() < 0.95 else "")
        emails.append(
            f"{_translit(first)}.{_translit(surname)}{rng.integers(1, 99)}@"
            f"{['gmail.com', 'ukr.net', 'i.ua', 'meta.ua'][rng.integers(4)]}"
            if rng.random() < 0.4
            else ""
        )
        messengers.append(["Viber", "Telegram"][rng.integers(2)] if rng.random() < 0.5 else "")
        age = rng.integers(18, 80)
        bd = first_contact[i] - pd.Timedelta(days=int(age * 365.25 + rng.integers(0, 365)))
        births.append(bd.strftime("%d.%m.%Y") if rng.random() < 0.85 else "")
        u = rng.random()
        consents.append("Так" if u < 0.7 else ("Ні" if u < 0.8 else ""))
        ch = CHANNELS[rng.choice(len(CHANNELS), p=CHANNEL_WEIGHTS)]
        chans.append(ch if rng.random() < 0.9 else "")
        refs.append(
            codes[rng.integers(0, max(i, 1))]
            if ch == "Рекомендація" and i > 0 and rng.random() < 0.5
            else ""
        )
        lag = int(rng.integers(1, 20)) if rng.random() < 0.03 else 0
        created.append((first_contact[i] + pd.Timedelta(days=lag)).strftime("%d.%m.%Y"))
    patients = pd.DataFrame({
        "Код пацієнта": codes, "ПІБ": names, "Телефон": phones, "E-mail": emails,
        "Месенджер": messengers, "Дата народження": births,
        "Стать": np.where(sex == "f", "Ж", "Ч"), "Згода на розсилку": consents,
        "Джерело": chans, "Хто порекомендував": refs, "Дата створення картки": created,
    })  # fmt: skip
    patients_path = out_dir / "patients.csv"
    patients.to_csv(patients_path, sep=";", index=False, encoding="utf-8-sig")

    # ----- treatment plans, proposed at a completed visit
    done = v[v["status"] == "completed"]
    came = done["i"].unique()
    with_plan = came[rng.random(len(came)) < spec.plan_share]
    first_done = done.drop_duplicates("i").set_index("i")
    plan_rows = []
    for k, i in enumerate(sorted(with_plan)):
        at = first_done.loc[i]
        total = float(round(rng.uniform(8000, 120000), -2))
        u = rng.random()
        status = (
            "proposed"
            if u < 0.2
            else "accepted"
            if u < 0.5
            else "completed"
            if u < 0.8
            else "refused"
        )
        paid = {
            "proposed": 0.0,
            "refused": 0.0,
            "completed": total,
            "accepted": float(round(total * rng.uniform(0.1, 0.9), -2)),
        }[status]
        plan_rows.append({
            "№ плану": f"PL{k + 1:05d}", "Код пацієнта": codes[i],
            "Дата плану": at["when"].normalize().to_pydatetime(), "Сума плану": total,
            "Оплачено": paid, "Статус плану": PLAN_UA[status],
            "Причина відмови": REFUSAL_REASONS[rng.integers(len(REFUSAL_REASONS))]
            if status == "refused" else "",
            "Лікар": DOCTORS[at["doc"]][0],
        })  # fmt: skip
    plans = pd.DataFrame(
        plan_rows,
        columns=[
            "№ плану",
            "Код пацієнта",
            "Дата плану",
            "Сума плану",
            "Оплачено",
            "Статус плану",
            "Причина відмови",
            "Лікар",
        ],
    )
    plans_path = out_dir / "plans.xlsx"
    _write_xlsx(plans, plans_path, "Плани")

    # ----- truth
    status_counts = v["status"].value_counts()
    past = v[v["day"] <= span - 1]
    done_past = past[past["status"] == "completed"]
    counts = {
        "visits_rows": int(len(visits)),
        "patients_rows": int(len(patients)),
        "plans_rows": int(len(plans)),
        **{f"visits_{k}": int(status_counts.get(k, 0)) for k in STATUS_UA},
        **{f"plans_{k}": int((plans["Статус плану"] == ua).sum()) for k, ua in PLAN_UA.items()},
        "n_cards": int(n),
        "n_patients_came": int(done_past["i"].nunique()),
        "n_patients_paid": int(done_past.loc[done_past["amount"] > 0, "i"].nunique()),
        "n_patients_booked": int(v["i"].nunique()),
        "n_no_show_only": int(no_show_only.sum()),
        "n_future_bookings": int((v["status"] == "booked").sum()),
        "n_refunds": int(status_counts.get("refund", 0)),
    }
    # the per-patient summary as the files show it (after moving Sunday visits to Monday)
    dd = done_past.assign(day=done_past["when"].dt.normalize())
    summ = dd.groupby("i").agg(
        first_visit=("day", "min"),
        last=("day", "max"),
        n_completed_visits=("day", "size"),
        frequency=("day", "nunique"),
    )
    summ["frequency"] -= 1
    summ["recency_days"] = (summ["last"] - summ["first_visit"]).dt.days
    summ["T_days"] = (as_of - summ["first_visit"]).dt.days
    summ.index = codes[summ.index]
    truth_df = pd.DataFrame(truth_rows).join(summ.drop(columns="last"), on="patient")
    truth = {
        "spec": {k: (v_.isoformat() if isinstance(v_, dt.date) else v_)
                 for k, v_ in asdict(spec).items()},
        "bgnbd": {"r": spec.r, "alpha": spec.alpha, "a": spec.a, "b": spec.b,
                  "time_unit": "days"},
        "gamma_gamma": {"p": spec.p, "q": spec.q, "v": spec.v},
        "counts": counts,
        "alive_at_as_of": int(truth_df["alive_at_as_of"].sum()),
    }  # fmt: skip
    (out_dir / "truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    truth_df.to_parquet(out_dir / "truth_patients.parquet", index=False)
    return DemoTruth(
        spec=spec,
        files={"visits": visits_path, "patients": patients_path, "plans": plans_path},
        counts=counts,
        patients=truth_df,
    )


def _write_xlsx(df: pd.DataFrame, path: Path, sheet: str) -> None:
    """An Excel sheet with fixed document properties, so the same data give the same bytes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        ws.append(list(row))
    for cell in ws["C"][1:]:
        cell.number_format = "DD.MM.YYYY"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.creator = "clinic-audit demo"
    wb.save(path)
    _fix_zip_times(path)


def _fix_zip_times(path: Path) -> None:
    """Rewrite the xlsx zip with fixed member timestamps and document dates (openpyxl stamps
    the save time into docProps/core.xml), so the bytes are reproducible."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    items = [
        (name, re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp, data))
        if name == "docProps/core.xml"
        else (name, data)
        for name, data in items
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)


def load_truth(out_dir: Path) -> dict:
    return json.loads((Path(out_dir) / "truth.json").read_text(encoding="utf-8"))
