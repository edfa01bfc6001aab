"""The built-in demo clinic: a deterministic, realistic dental clinic with known truth.

Stomatology «Усмішка» (two branches, eight doctors, five years of history) as a Ukrainian
MIS would export it: ``visits.csv`` and ``patients.csv`` (UTF-8 with BOM, ``;``, decimal
comma, ``dd.mm.yyyy`` dates) and ``plans.xlsx`` (sheet ``Плани``). ``params/demo.yaml`` maps
these files; ``truth.json`` keeps what generated them so that tests can check what the
models and the audit recover.

The truth
---------
* Arrivals (first visits) are spread over ``years`` before ``as_of`` with a growth trend
  and the dental season ``SEASON`` (a summer dip, autumn and late-winter peaks, the New Year
  holidays at half).
* After arriving, each patient follows the MBG/NBD process (Batislam et al. 2007; BG/NBD of
  Fader, Hardie & Lee 2005 with a dropout chance at the first visit too) on a seasonal
  clock: visit rate ``lam ~ Gamma(shape=r, scale=1/alpha)`` per day of the clock, dropout
  probability ``p ~ Beta(a, b)``; right after the first visit and after each repeat visit the
  patient drops out with probability ``p``, so many come once and never return. The clock
  runs fast in busy months and slow in summer (a year of it is a year), so repeat visits
  follow the season. Times are floored to whole days; a Sunday visit moves to Monday (or to
  Saturday when Monday is after ``as_of``), so the per-patient summary in the truth is
  recomputed from the dated records.
* Spend per completed visit follows the Gamma-Gamma model: ``nu ~ Gamma(shape=q, rate=v)``
  per patient, spend ``~ Gamma(shape=p, rate=nu)``, mean ``p*v/(q-1)`` UAH; amounts are
  rounded to 10 UAH (at least 10). A share of first visits is a free consultation
  (amount 0): those are not Gamma-Gamma draws.
* On top come what a real export carries: cards without any record, no-show-only
  patients, occasional no-shows and cancellations before a visit, refunds (most written as a
  negative amount on an ordinary ``Виконано`` row, some as a ``Повернення`` row), future
  bookings after ``as_of``, treatment plans, cards with partly missing contacts, children on
  a parent's mobile (same surname, own first name and birth date), the clinic's landline
  typed into cards of different people, and second cards of one person (same name and birth
  date, the mobile in another format) with part of the later records.
* What the audit must find is computed by :func:`audit_truth` from the people (not the
  cards) and recorded in ``truth.json`` (``audit``).

Only ``numpy.random.default_rng(spec.seed)`` is used, so the same spec gives byte-identical
files (the xlsx zip is rewritten with fixed timestamps).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DemoSpec",
    "DemoTruth",
    "generate_demo",
    "load_truth",
    "load_truth_patients",
    "simulate_bgnbd",
    "simulate_mbgnbd",
    "audit_truth",
    "VISIT_COLUMNS",
    "PATIENT_COLUMNS",
    "PLAN_COLUMNS",
    "VISIT_STATUSES",
    "PLAN_STATUSES",
]

# ----------------------------------------------------------------------------- the clinic

BRANCHES = ("Центр", "Оболонь")
#: name, branch, what the doctor mostly does
DOCTORS: tuple[tuple[str, str, str], ...] = (
    ("Коваленко Олена Вікторівна", "Центр", "Терапія"),
    ("Шевчук Андрій Петрович", "Центр", "Ортопедія"),
    ("Бондаренко Ірина Сергіївна", "Центр", "Гігієна"),
    ("Мельник Тарас Іванович", "Центр", "Імплантологія"),
    ("Кравченко Юлія Андріївна", "Центр", "Ортодонтія"),
    ("Ткаченко Наталія Олегівна", "Оболонь", "Терапія"),
    ("Лисенко Дмитро Юрійович", "Оболонь", "Хірургія"),
    ("Олійник Сергій Миколайович", "Оболонь", "Ортопедія"),
)
#: a patient's own doctor is one of these general dentists of the patient's branch
HOME_DOCTORS = {"Центр": ([0, 1], [0.6, 0.4]), "Оболонь": ([5, 7], [0.6, 0.4])}
#: service line -> branch -> specialists the visit goes to (probability of being referred)
SPECIALISTS: dict[str, tuple[dict[str, list[int]], float]] = {
    "Імплантологія": ({"Центр": [3], "Оболонь": [6]}, 0.9),
    "Хірургія": ({"Центр": [3], "Оболонь": [6]}, 0.8),
    "Ортодонтія": ({"Центр": [4], "Оболонь": [4]}, 0.95),
    "Гігієна": ({"Центр": [2]}, 0.6),
}
OTHER_DOCTOR_SHARE = 0.07  # a visit to another doctor of the same branch (holidays, urgency)

#: (service line, service, typical price from, to (UAH), how common)
SERVICES: tuple[tuple[str, str, int, int, float], ...] = (
    ("Діагностика", "Консультація", 200, 600, 3.0),
    ("Діагностика", "Панорамний знімок", 300, 700, 3.0),
    ("Діагностика", "Комп'ютерна томографія", 900, 1800, 1.0),
    ("Гігієна", "Професійна гігієна", 900, 2600, 4.0),
    ("Гігієна", "Фторування", 250, 800, 1.0),
    ("Гігієна", "Профілактичний огляд", 10, 400, 1.0),
    ("Гігієна", "Відбілювання", 3500, 9000, 1.0),
    ("Терапія", "Лікування карієсу", 900, 3500, 6.0),
    ("Терапія", "Лікування каналів", 2200, 7500, 3.0),
    ("Терапія", "Художня реставрація", 2500, 6500, 2.0),
    ("Ортопедія", "Металокерамічна коронка", 3500, 9000, 2.0),
    ("Ортопедія", "Керамічна вкладка", 6000, 14000, 1.0),
    ("Ортопедія", "Знімний протез", 9000, 28000, 1.0),
    ("Імплантологія", "Імплантація", 9000, 45000, 2.0),
    ("Імплантологія", "Синус-ліфтинг", 12000, 35000, 0.5),
    ("Імплантологія", "Коронка на імпланті", 8000, 30000, 1.0),
    ("Ортодонтія", "Брекет-система", 14000, 70000, 1.0),
    ("Ортодонтія", "Корекція брекетів", 700, 2500, 0.4),
    ("Хірургія", "Видалення зуба", 800, 3500, 1.2),
    ("Хірургія", "Видалення зуба мудрості", 2500, 7000, 1.0),
    ("Хірургія", "Кісткова пластика", 9000, 30000, 0.5),
)
#: visits in each month (January ... December) relative to an average month in dentistry:
#: a summer dip, peaks in autumn and late winter (the New Year holidays come on top)
SEASON = (1.0, 1.08, 1.1, 1.03, 0.95, 0.88, 0.72, 0.74, 1.05, 1.17, 1.18, 1.06)
#: the clinic's own landlines (one per branch), as front desks type them into cards
LANDLINES = {"Центр": "0442347788", "Оболонь": "0444195566"}
SERVICE_LINES = tuple(dict.fromkeys(s[0] for s in SERVICES))
CONSULTATION = next(k for k, s in enumerate(SERVICES) if s[1] == "Консультація")
#: what a booked-ahead visit or a missed first booking is usually for
BOOKING_SERVICES = {
    "Профілактичний огляд": 3.0,
    "Професійна гігієна": 3.0,
    "Лікування карієсу": 3.0,
    "Консультація": 2.0,
    "Корекція брекетів": 1.0,
    "Металокерамічна коронка": 1.0,
}
FIRST_BOOKING_SERVICES = {"Консультація": 6.0, "Лікування карієсу": 2.0, "Професійна гігієна": 2.0}

VISIT_STATUSES = {
    "completed": "Виконано",
    "no_show": "Не з'явився",
    "cancelled": "Скасовано",
    "booked": "Запис",
    "refund": "Повернення",
}
PLAN_STATUSES = {
    "proposed": "Запропоновано",
    "accepted": "Прийнято",
    "completed": "Завершено",
    "refused": "Відмова",
}
REFUSAL_REASONS = {
    "Дорого": 0.35,
    "Подумаю": 0.2,
    "Лікується в іншій клініці": 0.15,
    "Страх лікування": 0.1,
    "": 0.2,
}
CHANNELS = {
    "Instagram": 0.22,
    "Google": 0.21,
    "Рекомендація": 0.2,
    "Facebook": 0.07,
    "Вивіска": 0.09,
    "Сайт": 0.11,
    "Акція": 0.07,
    "": 0.03,
}
OPERATORS = ("050", "063", "066", "067", "068", "073", "093", "095", "096", "097", "098", "099")
EMAIL_DOMAINS = {"gmail.com": 0.55, "ukr.net": 0.28, "i.ua": 0.09, "meta.ua": 0.08}

# names: (male, female) surnames; first names by sex; fathers' names -> (male, female)
SURNAMES: tuple[tuple[str, str], ...] = tuple(
    (s, s)
    for s in (
        "Іваненко", "Петренко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко",
        "Шевченко", "Шевчук", "Мельник", "Олійник", "Лисенко", "Руденко", "Савченко",
        "Гончаренко", "Марченко", "Поліщук", "Левченко", "Мороз", "Павленко", "Симоненко",
        "Ковальчук", "Бойко", "Гнатюк", "Дорошенко", "Зінченко", "Кузьменко", "Литвиненко",
        "Приходько", "Романюк", "Мазур", "Ярошенко", "Гуменюк", "Кравчук", "Савчук",
    )
) + (
    ("Ковальський", "Ковальська"), ("Яворський", "Яворська"), ("Білий", "Біла"),
    ("Левицький", "Левицька"), ("Стельмах", "Стельмах"), ("Сидоренко", "Сидоренко"),
)  # fmt: skip
FIRST_NAMES = {
    "Ж": ("Олена", "Марія", "Ірина", "Наталія", "Оксана", "Тетяна", "Юлія", "Мар'яна",
          "Ольга", "Анна", "Катерина", "Софія", "Вікторія", "Людмила", "Галина", "Дарина",
          "Анастасія", "Христина", "Світлана", "Яна"),
    "Ч": ("Олег", "Андрій", "Сергій", "Володимир", "Дмитро", "Ігор", "Юрій", "Тарас",
          "Богдан", "Максим", "Олександр", "Василь", "Микола", "Павло", "Роман", "Віктор",
          "Артем", "Денис", "Євген", "Степан"),
}  # fmt: skip
PATRONYMICS: dict[str, tuple[str, str]] = {
    "Олександр": ("Олександрович", "Олександрівна"),
    "Іван": ("Іванович", "Іванівна"),
    "Петро": ("Петрович", "Петрівна"),
    "Сергій": ("Сергійович", "Сергіївна"),
    "Василь": ("Васильович", "Василівна"),
    "Микола": ("Миколайович", "Миколаївна"),
    "Андрій": ("Андрійович", "Андріївна"),
    "Віктор": ("Вікторович", "Вікторівна"),
    "Юрій": ("Юрійович", "Юріївна"),
    "Володимир": ("Володимирович", "Володимирівна"),
    "Михайло": ("Михайлович", "Михайлівна"),
    "Анатолій": ("Анатолійович", "Анатоліївна"),
    "Олег": ("Олегович", "Олегівна"),
    "Богдан": ("Богданович", "Богданівна"),
    "Ігор": ("Ігорович", "Ігорівна"),
    "Григорій": ("Григорович", "Григорівна"),
}

VISIT_COLUMNS = (
    "№ прийому",
    "Код пацієнта",
    "Дата прийому",
    "Лікар",
    "Послуга",
    "Напрям",
    "Сума, грн",
    "Статус",
    "Філія",
)
PATIENT_COLUMNS = (
    "Код пацієнта",
    "ПІБ",
    "Телефон",
    "E-mail",
    "Месенджер",
    "Дата народження",
    "Стать",
    "Згода на розсилку",
    "Джерело",
    "Хто порекомендував",
    "Дата створення картки",
)
PLAN_COLUMNS = (
    "№ плану",
    "Код пацієнта",
    "Дата плану",
    "Сума плану",
    "Оплачено",
    "Статус плану",
    "Причина відмови",
    "Лікар",
)
PLANS_SHEET = "Плани"
FIXED_TIME = dt.datetime(2026, 1, 1)  # document properties and zip member times of plans.xlsx

# kinds of card
CAME, NO_SHOW_ONLY, CARD_ONLY = "came", "no_show_only", "card_only"


@dataclass(frozen=True)
class DemoSpec:
    """What the demo clinic looks like.

    The MBG/NBD truth (``r``, ``alpha``, ``a``, ``b``) is in days of the seasonal clock (a
    year of it is a calendar year; ``season_strength`` scales the swing of ``SEASON``, 0 for
    none); the Gamma-Gamma truth
    (``p``, ``q``, ``v``) is for the spend per paid completed visit in UAH: ``z ~ Gamma(shape=p,
    rate=nu)``, ``nu ~ Gamma(shape=q, rate=v)``, mean spend ``p*v/(q-1)``. Shares are of
    people (``*_only_share``, ``child_share``, ``landline_share``, ``duplicate_share``), of
    completed visits (``noise_share``, ``refund_share``), of refunds
    (``negative_refund_share``: exported as a negative amount on a completed row), of children
    (``child_phone_share``: on a parent's phone), of first visits (``free_first_share``) or of
    patients who came (``plan_share``).
    """

    n_patients: int = 5000  # people who got a card (incl. no-show-only and card-only ones)
    years: float = 5.0  # history length before as_of
    as_of: dt.date = dt.date(2026, 10, 31)
    seed: int = 20261122
    # MBG/NBD truth, time unit = days (of the seasonal clock)
    r: float = 0.9
    alpha: float = 180.0
    a: float = 0.8
    b: float = 3.0
    season_strength: float = 1.0
    # Gamma-Gamma truth for spend per completed visit (UAH)
    p: float = 3.0
    q: float = 4.0
    v: float = 2400.0
    no_show_only_share: float = 0.08  # cards whose only records are no-shows / cancellations
    card_only_share: float = 0.02  # cards with no record at all (a call, a web form)
    growth_per_year: float = 0.2  # new patients grow by this much a year
    free_first_share: float = 0.10  # first visits that are a free consultation (amount 0)
    noise_share: float = 0.055  # completed visits preceded by a no-show / cancellation
    refund_share: float = 0.015  # paid completed visits that get a refund row
    negative_refund_share: float = 0.6  # refunds written as a negative amount, status Виконано
    booking_share: float = 0.6  # alive patients due within 60 days who have booked ahead
    plan_share: float = 0.30  # patients who came and got a treatment plan
    second_plan_share: float = 0.0  # of those, who got a second plan (0: one plan a patient)
    phone_share: float = 0.95
    email_share: float = 0.40
    messenger_share: float = 0.50
    birth_date_share: float = 0.88
    late_card_share: float = 0.03  # cards created a few days after the first record
    child_share: float = 0.08  # people aged 4-18
    child_phone_share: float = 0.8  # of the children: the card carries a parent's mobile
    landline_share: float = 0.015  # cards where the front desk typed the clinic's landline
    duplicate_share: float = 0.03  # of people who came back: a second card (same name, birth)


@dataclass(frozen=True)
class DemoTruth:
    """What :func:`generate_demo` wrote and the truth behind it.

    ``files`` maps ``visits``, ``patients``, ``plans`` to their paths. ``counts`` holds
    rows per file (``visits_rows``, ``patients_rows``, ``plans_rows``), rows per visit status
    (``visits_completed`` (refunds written as negative amounts included), ``visits_no_show``,
    ``visits_cancelled``, ``visits_booked``, ``visits_refund``) and per plan status
    (``plans_proposed`` ...), the people and their cards (``n_people``, ``n_cards``,
    ``n_duplicate_cards``, ``n_children_on_parent_phone``, ``n_landline_cards``) and, per
    person, the bases ``n_patients_booked`` (any visit record), ``n_patients_came`` (a visit on
    or before ``as_of``), ``n_patients_paid`` (a completed visit with amount > 0),
    ``n_no_show_only``, ``n_card_only``, ``n_patients_with_plan``, ``n_alive_at_as_of``,
    ``n_dropped_after_first_visit``; and ``n_future_bookings``, ``n_refunds`` (of them
    ``n_negative_refunds``), ``n_free_first_visits``.

    ``audit`` is what the audit must find (see :func:`audit_truth`): ``people``,
    ``by_rule``, ``gross``, ``refunds``, ``net_revenue``, ``visit_days``, ``activity_days``,
    ``segments``.

    ``patients`` has one row per person: ``patient`` (the card code), ``duplicate_card`` (the
    code of a second card, or ""), ``kind`` (``came``, ``no_show_only``, ``card_only``),
    ``phone_kind`` (``own``, ``family``: a child on a parent's mobile, ``landline``: the
    clinic's, ``none``), ``branch``, ``home_doctor``, the MBG/NBD draws ``lam`` (visits a day
    of the seasonal clock), ``p_drop``, ``alive_at_as_of``, ``death_date`` (the date of the
    visit after which the patient dropped out, possibly the first; NaT if alive), the
    Gamma-Gamma draw ``nu`` and ``mean_spend`` (= p/nu), and the summary of the visits (not
    refunds) as dated in ``visits.csv``, over both cards: ``first_visit``, ``last_visit``,
    ``n_completed_visits``, ``frequency`` (distinct visit days - 1), ``recency_days`` (last -
    first), ``T_days`` (as_of - first). Model columns are missing for people who never came.
    """

    spec: DemoSpec
    files: dict[str, Path]
    counts: dict[str, int]
    patients: pd.DataFrame = field(repr=False)
    audit: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- BG/NBD


def _simulate(n, r, alpha, a, b, T, rng, keep_times, modified=False):
    """The BG/NBD (or, ``modified``, the MBG/NBD) process, exactly and without a loop over
    purchases.

    Given ``lam`` the repeat purchases in (0, T] are ``N ~ Poisson(lam*T)`` points spread
    uniformly; the customer drops out at the ``K``-th repeat purchase, ``K ~ Geometric(p)``
    (independent coin flips after each purchase). So ``frequency = min(N, K)``, ``alive =
    K > N``, and the last observed purchase is the ``frequency``-th of ``N`` uniform order
    statistics: ``recency = T * Beta(frequency, N - frequency + 1)``. Given it, the earlier
    purchases are ``frequency - 1`` sorted uniforms on (0, recency). MBG/NBD (Batislam, Denizel
    & Filiztekin 2007) flips the first coin at the first purchase too, so ``K - 1`` replaces
    ``K``: a customer may drop out right after the first visit and never return.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    for name, val in (("r", r), ("alpha", alpha), ("a", a), ("b", b)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be a positive number, got {val}")
    T = np.array(np.broadcast_to(np.asarray(T, dtype=float), (n,)), dtype=float)
    if not (np.isfinite(T).all() and (T >= 0).all()):
        raise ValueError("T must be finite and >= 0")
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    n_events = rng.poisson(lam * T)
    k_drop = rng.geometric(np.clip(p, 1e-12, 1.0)) - (1 if modified else 0)
    freq = np.minimum(n_events, k_drop).astype(np.int64)
    alive = k_drop > n_events
    rec = np.zeros(n)
    has = freq > 0
    rec[has] = T[has] * rng.beta(freq[has], n_events[has] - freq[has] + 1)
    owner = times = None
    if keep_times:
        before = np.maximum(freq - 1, 0)
        owner = np.repeat(np.arange(n), before)
        u = rng.random(len(owner)) * rec[owner]
        earlier = u[np.lexsort((u, owner))]
        # each customer's repeat purchases: the sorted earlier ones, then the last one
        last_owner = np.flatnonzero(has)
        owner = np.concatenate([owner, last_owner])
        times = np.concatenate([earlier, rec[last_owner]])
        order = np.argsort(owner, kind="stable")
        owner, times = owner[order], times[order]
    return freq, rec, T, lam, p, alive, owner, times


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: np.ndarray | float,
    rng: np.random.Generator,
    keep_times: bool = False,
) -> pd.DataFrame:
    """Simulate the BG/NBD process (Fader, Hardie & Lee 2005) for ``n`` customers.

    Each customer is observed for ``T`` time units (a number or an array of ``n``) from
    the first purchase at time 0: ``lam ~ Gamma(shape=r, scale=1/alpha)``, ``p ~ Beta(a, b)``;
    repeat purchases arrive as a Poisson process with rate ``lam``; after each *repeat*
    purchase the customer drops out with probability ``p`` (no dropout at the first one).

    The simulation is exact in distribution but vectorised: the number of repeat purchases
    is ``min(Poisson(lam*T), Geometric(p))`` and the purchase times are uniform order
    statistics (see ``_simulate``), so 100,000 customers take a few hundredths of a second.

    Returns a frame with ``frequency`` (repeat purchases in (0, T]), ``recency`` (time of the
    last purchase since the first; 0 if none), ``T``, ``lam``, ``p``, ``alive`` (not dropped
    out by T) and, with ``keep_times``, ``times``: an array of each customer's repeat
    purchase times, ascending (its last element equals ``recency``). ``keep_times`` draws
    its extra random numbers last, so the other columns do not depend on it.
    """
    return _sim_frame(*_simulate(n, r, alpha, a, b, T, rng, keep_times), n, keep_times)


def simulate_mbgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: np.ndarray | float,
    rng: np.random.Generator,
    keep_times: bool = False,
) -> pd.DataFrame:
    """Simulate the MBG/NBD process (Batislam, Denizel & Filiztekin 2007) for ``n`` customers.

    As :func:`simulate_bgnbd` (same columns), except that the dropout coin is also flipped at
    the first purchase: with probability ``p`` a customer never returns (``frequency = 0``,
    ``alive = False``). lifetimes fits it with ``ModifiedBetaGeoFitter``.
    """
    out = _simulate(n, r, alpha, a, b, T, rng, keep_times, modified=True)
    return _sim_frame(*out, n, keep_times)


def _sim_frame(freq, rec, T, lam, p, alive, owner, times, n, keep_times) -> pd.DataFrame:
    out = pd.DataFrame(
        {"frequency": freq, "recency": rec, "T": T, "lam": lam, "p": p, "alive": alive}
    )
    if keep_times:
        parts = np.split(times, np.cumsum(freq)[:-1]) if n else []
        out["times"] = pd.Series(parts, index=out.index, dtype=object)
    return out


# ----------------------------------------------------------------------------- helpers


def _choice(rng: np.random.Generator, weights: dict | list | np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights."""
    w = np.asarray(list(weights.values()) if isinstance(weights, dict) else weights, float)
    cum = np.cumsum(w / w.sum())
    return np.minimum(np.searchsorted(cum, rng.random(size), side="right"), len(w) - 1)


def _season(start: pd.Timestamp, days: int, strength: float = 1.0) -> np.ndarray:
    """Demand on each of ``days`` days from ``start`` relative to an average day: the
    monthly profile ``SEASON`` (``strength`` scales its swing) with the New Year holidays
    (late December, early January) at half or less; the mean over whole years is 1."""
    dates = start + pd.to_timedelta(np.arange(days), unit="D")
    month, dom = dates.month.to_numpy(), dates.day.to_numpy()
    w = 1.0 + strength * (np.asarray(SEASON)[month - 1] - 1.0)
    w = w * np.where((month == 12) & (dom >= 24), 0.5, 1.0)
    w = w * np.where((month == 1) & (dom <= 7), 0.55, 1.0)
    year = start + pd.to_timedelta(np.arange(3653), unit="D")  # ten whole years
    ref = 1.0 + strength * (np.asarray(SEASON)[year.month.to_numpy() - 1] - 1.0)
    ref = ref * np.where((year.month == 12) & (year.day >= 24), 0.5, 1.0)
    ref = ref * np.where((year.month == 1) & (year.day <= 7), 0.55, 1.0)
    return w / ref.mean()


def _arrivals(spec: DemoSpec, span: int, start: pd.Timestamp, rng) -> np.ndarray:
    """Sorted day numbers (0 = start, span = as_of) of each person's first contact."""
    day = np.arange(span + 1)
    weight = (1.0 + spec.growth_per_year) ** (day / 365.25) * _season(start, span + 1)
    return np.sort(rng.choice(day, size=spec.n_patients, p=weight / weight.sum()))


def _clock(start: pd.Timestamp, span: int, strength: float) -> np.ndarray:
    """The seasonal clock: ``clock[d]`` is the demand accumulated from day 0 to day ``d``
    (an average day adds 1). The MBG/NBD process runs on this clock, so that visits thin in
    summer and crowd in autumn and winter while a year of it is still about a year."""
    return np.concatenate([[0.0], np.cumsum(_season(start, span + 1, strength))])


def _calendar_day(clock: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Day numbers (floored) of the points ``t`` on the seasonal clock."""
    return np.floor(np.interp(t, clock, np.arange(len(clock)))).astype(np.int64)


def _off_sunday(day: np.ndarray, start: pd.Timestamp, later: np.ndarray | bool) -> np.ndarray:
    """Day numbers with Sundays moved to Monday (``later``) or to Saturday (elsewhere)."""
    day = np.asarray(day, dtype=np.int64)
    sunday = (start + pd.to_timedelta(day, unit="D")).day_of_week.to_numpy() == 6
    return day + np.where(sunday, np.where(later, 1, -1), 0)


def _calendar(day: np.ndarray, start: pd.Timestamp, rng) -> pd.DatetimeIndex:
    """Day numbers (no Sundays) → appointment date-times on the quarter hour: 09:00–18:45
    on weekdays, 10:00–15:45 on Saturdays."""
    day = np.asarray(day, dtype=np.int64)
    saturday = (start + pd.to_timedelta(day, unit="D")).day_of_week.to_numpy() == 5
    u = rng.random(len(day))
    slot = np.where(saturday, 40 + np.floor(u * 24), 36 + np.floor(u * 40)).astype(np.int64)
    return start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(slot * 15, unit="m")


def _money(values: np.ndarray) -> list[str]:
    """UAH as an MIS prints them: ``1 234,50``; empty for missing."""
    return [
        "" if (x is None or x != x) else f"{x:,.2f}".replace(",", " ").replace(".", ",")
        for x in values
    ]


def _services_for(amount: np.ndarray, rng) -> np.ndarray:
    """A service whose usual price range holds the amount (the nearest one otherwise)."""
    lo = np.array([s[2] for s in SERVICES], float)
    hi = np.array([s[3] for s in SERVICES], float)
    w = np.array([s[4] for s in SERVICES], float)
    x = amount[:, None]
    dist = np.maximum(np.maximum(lo - x, x - hi), 0.0)
    ok = dist <= dist.min(axis=1, keepdims=True)
    cum = np.cumsum(ok * w, axis=1)
    u = rng.random(len(amount))[:, None] * cum[:, -1:]
    return np.minimum((cum <= u).sum(axis=1), len(SERVICES) - 1)


def _service_index(names: list[str]) -> np.ndarray:
    idx = {s[1]: k for k, s in enumerate(SERVICES)}
    return np.array([idx[nm] for nm in names])


def _doctors_for(line: np.ndarray, home: np.ndarray, branch: np.ndarray, rng) -> np.ndarray:
    """Who sees the visit: the patient's own doctor, a specialist of the line, or now and
    then another doctor of the same branch."""
    doc = home.copy()
    u = rng.random(len(line))
    pick = rng.random(len(line))
    for ln, (by_branch, share) in SPECIALISTS.items():
        for br, docs in by_branch.items():
            m = (line == ln) & (branch == br) & (u < share)
            doc[m] = np.asarray(docs)[np.floor(pick[m] * len(docs)).astype(int)]
    general = ~np.isin(line, list(SPECIALISTS))
    other = general & (u > 1 - OTHER_DOCTOR_SHARE)
    for br in BRANCHES:
        docs = np.array([k for k, d in enumerate(DOCTORS) if d[1] == br])
        m = other & (branch == br)
        doc[m] = docs[np.floor(pick[m] * len(docs)).astype(int)]
    return doc


_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie",
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ю": "iu",
    "я": "ia", "'": "",
})  # fmt: skip


def _translit(s: str) -> str:
    return s.lower().translate(_TRANSLIT)


def _phone_text(op: str, num: int, form: int) -> str:
    local = f"{op}{num:07d}"
    return (
        f"{local[:3]} {local[3:6]} {local[6:8]} {local[8:]}",
        f"+38 ({local[:3]}) {local[3:6]}-{local[6:8]}-{local[8:]}",
        "8" + local,
        local,
        "+38" + local,
    )[form]


def _unique_ints(rng, low: int, high: int, size: int) -> np.ndarray:
    """``size`` distinct integers in [low, high), drawn until no two are equal."""
    x = rng.integers(low, high, size)
    while True:
        _, first = np.unique(x, return_index=True)
        dup = np.setdiff1d(np.arange(size), first)
        if not len(dup):
            return x
        x[dup] = rng.integers(low, high, len(dup))


def _check_spec(spec: DemoSpec) -> None:
    if spec.n_patients < 1:
        raise ValueError("n_patients must be >= 1")
    if not spec.years > 0:
        raise ValueError("years must be > 0")
    if not spec.q > 1:
        raise ValueError("q must be > 1 (the mean spend p*v/(q-1) must exist)")
    for name in (
        "no_show_only_share", "card_only_share", "free_first_share", "noise_share",
        "refund_share", "booking_share", "plan_share", "second_plan_share", "phone_share",
        "email_share", "messenger_share", "birth_date_share", "late_card_share",
        "negative_refund_share", "child_share", "child_phone_share", "landline_share",
        "duplicate_share", "season_strength",
    ):  # fmt: skip
        val = getattr(spec, name)
        if not 0 <= val <= 1:
            raise ValueError(f"{name} must be within [0, 1], got {val}")
    if spec.no_show_only_share + spec.card_only_share > 1:
        raise ValueError("no_show_only_share + card_only_share must be <= 1")


# ----------------------------------------------------------------------------- generator


def generate_demo(out_dir: Path, spec: DemoSpec = DemoSpec()) -> DemoTruth:
    """Write ``visits.csv``, ``patients.csv``, ``plans.xlsx`` and ``truth.json`` (plus the
    per-person truth as ``truth_patients.parquet``) into ``out_dir``; return the truth.

    Deterministic: the same spec gives byte-identical files. Nothing is dated after
    ``spec.as_of`` except future bookings (status ``Запис``, 1–60 days after it).
    """
    _check_spec(spec)
    rng = np.random.default_rng(spec.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    as_of = pd.Timestamp(spec.as_of).normalize()
    span = int(round(spec.years * 365.25))  # day numbers 0..span, span = as_of
    start = as_of - pd.Timedelta(days=span)
    n = spec.n_patients
    codes = np.array([f"P{i + 1:06d}" for i in range(n)])

    # ----- who the people are
    arrive = _arrivals(spec, span, start, rng)
    u = rng.random(n)
    kind = np.full(n, CAME, dtype=object)
    kind[u < spec.card_only_share + spec.no_show_only_share] = NO_SHOW_ONLY
    kind[u < spec.card_only_share] = CARD_ONLY
    came = kind == CAME
    branch = np.where(rng.random(n) < 0.62, BRANCHES[0], BRANCHES[1])
    home = np.zeros(n, dtype=np.int64)
    pick = rng.random(n)
    for br, (docs, w) in HOME_DOCTORS.items():
        m = branch == br
        home[m] = np.asarray(docs)[np.searchsorted(np.cumsum(w), pick[m] * sum(w))]

    # ----- MBG/NBD visits on the seasonal clock and Gamma-Gamma spend
    clock = _clock(start, span, spec.season_strength)
    freq, _, _, lam, p_drop, alive, owner, times = _simulate(
        n, spec.r, spec.alpha, spec.a, spec.b, clock[span] - clock[arrive], rng, True, True
    )
    nu = rng.gamma(shape=spec.q, scale=1.0 / spec.v, size=n)
    who = np.flatnonzero(came)
    rep = came[owner]
    pat = np.concatenate([who, owner[rep]])
    rep_day = _calendar_day(clock, clock[arrive[owner[rep]]] + times[rep])
    day = np.concatenate([arrive[who], np.minimum(rep_day, span)])
    first = np.concatenate([np.ones(len(who), bool), np.zeros(rep.sum(), bool)])
    order = np.lexsort((day, ~first, pat))
    pat, day, first = pat[order], day[order], first[order]
    day = _off_sunday(day, start, later=day + 1 <= span)  # Monday, unless that is after as_of
    m = len(pat)
    spend = rng.gamma(shape=spec.p, scale=1.0 / nu[pat])
    free = first & (rng.random(m) < spec.free_first_share)
    amount = np.where(free, 0.0, np.maximum(10.0, np.round(spend / 10.0) * 10.0))
    svc = _services_for(amount, rng)
    svc[free] = CONSULTATION
    line = np.array([SERVICES[k][0] for k in svc], dtype=object)
    doc = _doctors_for(line, home[pat], branch[pat], rng)
    done = pd.DataFrame(
        {"i": pat, "day": day, "status": "completed", "amount": amount, "doc": doc, "svc": svc}
    )

    # ----- no-shows / cancellations before a visit, refunds after one
    sel = rng.random(m) < spec.noise_share
    missed_day = _off_sunday(day - rng.integers(1, 15, size=m), start, later=False)
    st = np.where(rng.random(m) < 0.6, "no_show", "cancelled")
    noise = pd.DataFrame(
        {"i": pat, "day": missed_day, "status": st, "amount": np.nan, "doc": doc, "svc": svc}
    )[sel & (missed_day >= 0)]
    sel = (amount > 0) & (rng.random(m) < spec.refund_share)
    refund_day = _off_sunday(day + rng.integers(1, 8, size=m), start, later=True)
    part = np.maximum(10.0, np.round(amount * rng.uniform(0.2, 0.9, m) / 10.0) * 10.0)
    refunded = np.where(rng.random(m) < 0.6, amount, np.minimum(part, amount))
    # most MIS write a refund as a negative amount on an ordinary row, some as a status
    negative = rng.random(m) < spec.negative_refund_share
    refunds = pd.DataFrame(
        {"i": pat, "day": refund_day, "status": np.where(negative, "completed", "refund"),
         "amount": np.where(negative, -refunded, refunded), "doc": doc, "svc": svc}
    )[sel & (refund_day <= span)]  # fmt: skip

    # ----- future bookings: alive patients due within 60 days, some of whom booked ahead
    due = 1.0 - np.exp(-60.0 * lam)
    sel = came & alive & (rng.random(n) < spec.booking_share * due)
    ahead = rng.integers(1, 61, size=n)
    bsvc = _service_index(list(BOOKING_SERVICES))[_choice(rng, BOOKING_SERVICES, n)]
    bookings = pd.DataFrame({
        "i": np.arange(n), "day": _off_sunday(span + ahead, start, later=True),
        "status": "booked", "amount": np.nan, "doc": home, "svc": bsvc,
    })[sel]  # fmt: skip

    # ----- no-show-only cards: booked once or twice, never came
    nso = np.flatnonzero(kind == NO_SHOW_ONLY)
    k = len(nso)
    twice = rng.random(k) < 0.3
    gap = rng.integers(5, 22, size=k)
    fsvc = _service_index(list(FIRST_BOOKING_SERVICES))
    s1 = fsvc[_choice(rng, FIRST_BOOKING_SERVICES, k)]
    st1 = np.where(rng.random(k) < 0.75, "no_show", "cancelled")
    st2 = np.where(rng.random(k) < 0.75, "no_show", "cancelled")
    d1 = _off_sunday(arrive[nso], start, later=arrive[nso] + 1 <= span)
    d2 = _off_sunday(arrive[nso] + gap, start, later=arrive[nso] + gap + 1 <= span)
    missed = pd.concat([
        pd.DataFrame({"i": nso, "day": d1, "status": st1, "amount": np.nan,
                      "doc": home[nso], "svc": s1}),
        pd.DataFrame({"i": nso, "day": d2, "status": st2, "amount": np.nan,
                      "doc": home[nso], "svc": s1})[twice & (d2 <= span)],
    ])  # fmt: skip

    rec = pd.concat([done, noise, refunds, bookings, missed], ignore_index=True)
    when = _calendar(rec["day"].to_numpy(), start, rng).to_numpy().copy()
    # one patient's records of one day keep their order (a first visit comes first)
    in_order = np.lexsort((np.arange(len(rec)), rec["day"].to_numpy(), rec["i"].to_numpy()))
    by_time = np.lexsort((when, rec["day"].to_numpy(), rec["i"].to_numpy()))
    when[in_order] = when[by_time]
    rec["when"] = when
    rec = rec.sort_values(["when", "i"], kind="stable").reset_index(drop=True)
    rec["date"] = rec["when"].dt.normalize()

    # ----- cards: one per person, with family phones and the clinic's landline ...
    first_record = rec.groupby("i")["date"].min().reindex(np.arange(n))
    created = first_record.fillna(start + pd.to_timedelta(pd.Series(arrive), unit="D"))
    late = rng.random(n) < spec.late_card_share
    created = created + pd.to_timedelta(np.where(late, rng.integers(1, 11, n), 0), unit="D")
    created = created.where(created <= as_of, as_of)
    patients, phone_kind = _cards(spec, rng, codes, came, created, branch)
    # ... and a second card for some who came: same name and birth date, the phone in
    # another format; records after a day between their first and last go to either card
    past = rec["date"] <= as_of
    last_record = rec[past].groupby("i")["date"].max().reindex(np.arange(n))
    can = came & (phone_kind == "own") & (patients["Дата народження"].to_numpy() != "")
    can &= (last_record > first_record).to_numpy()  # made when the person came back
    dup = np.flatnonzero(can & (rng.random(n) < spec.duplicate_share))
    dup_no = pd.Series(n + np.arange(len(dup)), index=dup)
    all_codes = np.concatenate([codes, [f"P{j + 1:06d}" for j in dup_no]])
    lag = (last_record[dup] - first_record[dup]).dt.days.to_numpy()
    cutoff = first_record[dup] + pd.to_timedelta(np.floor(rng.random(len(dup)) * lag), unit="D")
    cut = pd.Series(pd.NaT, index=np.arange(n), dtype="datetime64[ns]")
    cut.iloc[dup] = cutoff.to_numpy()
    after = past & (rec["date"] > cut.to_numpy()[rec["i"].to_numpy()])
    opened = after & ~rec["i"].where(after).duplicated()  # the record the card was made for
    moved = opened | (after & (rng.random(len(rec)) < 0.7))
    rec["card"] = rec["i"].to_numpy()
    rec.loc[moved, "card"] = rec.loc[moved, "i"].map(dup_no)
    dup_first = rec[moved].groupby("card")["date"].min()
    dup_created = dup_first.reindex(dup_no.to_numpy()).fillna(
        pd.Series(cutoff.to_numpy(), index=dup_no.to_numpy())
    )
    patients = pd.concat(
        [patients, _duplicate_cards(patients.iloc[dup], all_codes[n:], dup_created, rng)],
        ignore_index=True,
    )

    visits = pd.DataFrame({
        "№ прийому": [f"V{k + 1:07d}" for k in range(len(rec))],
        "Код пацієнта": all_codes[rec["card"].to_numpy()],
        "Дата прийому": rec["when"].dt.strftime("%d.%m.%Y %H:%M"),
        "Лікар": [DOCTORS[d][0] for d in rec["doc"]],
        "Послуга": [SERVICES[s][1] for s in rec["svc"]],
        "Напрям": [SERVICES[s][0] for s in rec["svc"]],
        "Сума, грн": _money(rec["amount"].to_numpy()),
        "Статус": rec["status"].map(VISIT_STATUSES),
        "Філія": [DOCTORS[d][1] for d in rec["doc"]],
    })  # fmt: skip
    visits_path = out_dir / "visits.csv"
    _write_csv(visits, visits_path)
    patients_path = out_dir / "patients.csv"
    _write_csv(patients, patients_path)

    # ----- treatment plans, proposed at a completed visit by its doctor
    dd = rec[(rec["status"] == "completed") & ~(rec["amount"] < 0)]  # visits, not refunds
    plans = _plans(spec, rng, dd, all_codes, alive, as_of)
    plans_path = out_dir / "plans.xlsx"
    _write_xlsx(plans.drop(columns="_person"), plans_path, PLANS_SHEET)

    # ----- the per-person truth, as the files date the completed visits
    summ = dd.groupby("i").agg(
        first_visit=("date", "min"),
        last_visit=("date", "max"),
        n_completed_visits=("date", "size"),
        frequency=("date", "nunique"),
    )
    summ["frequency"] -= 1
    summ["recency_days"] = (summ["last_visit"] - summ["first_visit"]).dt.days
    summ["T_days"] = (as_of - summ["first_visit"]).dt.days
    summ = summ.reindex(np.arange(n))
    is_dead = came & ~alive
    summ.index.name = None
    second = pd.Series(all_codes[n:], index=dup).reindex(np.arange(n)).fillna("")
    truth_df = pd.DataFrame({
        "patient": codes,
        "duplicate_card": second.to_numpy(),
        "kind": kind.astype(str),
        "phone_kind": phone_kind.astype(str),
        "branch": branch,
        "home_doctor": [DOCTORS[d][0] for d in home],
        "lam": np.where(came, lam, np.nan),
        "p_drop": np.where(came, p_drop, np.nan),
        "alive_at_as_of": came & alive,
        "death_date": summ["last_visit"].where(is_dead).to_numpy(),
        "nu": np.where(came, nu, np.nan),
        "mean_spend": np.where(came, spec.p / nu, np.nan),
        "first_visit": summ["first_visit"].to_numpy(),
        "last_visit": summ["last_visit"].to_numpy(),
        "n_completed_visits": summ["n_completed_visits"].fillna(0).astype("int64").to_numpy(),
        "frequency": summ["frequency"].astype("Int64"),
        "recency_days": summ["recency_days"].astype("Int64"),
        "T_days": summ["T_days"].astype("Int64"),
    })  # fmt: skip

    # ----- what the audit must find, by its definitions
    plan_status = {w: k for k, w in PLAN_STATUSES.items()}
    audit = audit_truth(
        pd.DataFrame({"person": codes[rec["i"].to_numpy()], "date": rec["date"],
                      "status": rec["status"], "amount": rec["amount"]}),
        pd.DataFrame({"person": codes[plans["_person"].to_numpy()], "date": plans["Дата плану"],
                      "status": plans["Статус плану"].map(plan_status),
                      "amount_total": plans["Сума плану"], "amount_paid": plans["Оплачено"]}),
        as_of,
    )  # fmt: skip

    # ----- counts and truth.json
    status = rec["status"].value_counts()
    past_done = dd[dd["date"] <= as_of]
    neg = int((rec["amount"] < 0).sum())
    counts = {
        "visits_rows": len(visits),
        "patients_rows": len(patients),
        "plans_rows": len(plans),
        **{f"visits_{k}": int(status.get(k, 0)) for k in VISIT_STATUSES},
        **{f"plans_{k}": int((plans["Статус плану"] == w).sum()) for k, w in PLAN_STATUSES.items()},
        "n_people": n,
        "n_cards": len(patients),
        "n_duplicate_cards": len(dup),
        "n_children_on_parent_phone": int((phone_kind == "family").sum()),
        "n_landline_cards": int((phone_kind == "landline").sum()),
        "n_patients_booked": int(rec["i"].nunique()),
        "n_patients_came": int(past_done["i"].nunique()),
        "n_patients_paid": int(past_done.loc[past_done["amount"] > 0, "i"].nunique()),
        "n_no_show_only": int((kind == NO_SHOW_ONLY).sum()),
        "n_card_only": int((kind == CARD_ONLY).sum()),
        "n_future_bookings": int(status.get("booked", 0)),
        "n_refunds": int(status.get("refund", 0)) + neg,
        "n_negative_refunds": neg,
        "n_free_first_visits": int(free.sum()),
        "n_patients_with_plan": int(plans["_person"].nunique()),
        "n_alive_at_as_of": int(truth_df["alive_at_as_of"].sum()),
        "n_dropped_after_first_visit": int((came & ~alive & (freq == 0)).sum()),
    }  # fmt: skip
    counts = {k: int(v) for k, v in counts.items()}
    spec_json = {k: x.isoformat() if isinstance(x, dt.date) else x for k, x in asdict(spec).items()}
    truth = {
        "spec": spec_json,
        "as_of": as_of.date().isoformat(),
        "history_start": start.date().isoformat(),
        "mbgnbd": {"r": spec.r, "alpha": spec.alpha, "a": spec.a, "b": spec.b,
                   "time_unit": "days", "season_strength": spec.season_strength},
        "gamma_gamma": {
            "p": spec.p, "q": spec.q, "v": spec.v, "mean_spend": spec.p * spec.v / (spec.q - 1),
            "unit": "UAH per paid completed visit (rounded to 10, at least 10; free first "
                    "consultations are 0 and not part of the model)",
        },
        "counts": counts,
        "audit": audit,
        "files": {"visits": visits_path.name, "patients": patients_path.name,
                  "plans": plans_path.name, "truth_patients": "truth_patients.parquet"},
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
        audit=audit,
    )


SEGMENTS = ("no_show", "plan_refused", "plan_stopped", "consulted_only", "active_treatment",
            "returning", "lapsed", "new", "awaiting")  # fmt: skip


def audit_truth(records: pd.DataFrame, plans: pd.DataFrame | None, as_of) -> dict:
    """The audit's headline figures, by their definitions, from what a generator knows.

    ``records``: one row per visit row the loader keeps, with the real ``person``, ``date``,
    canonical ``status`` and ``amount``; ``plans``: ``person``, ``date``, ``status``,
    ``amount_total``, ``amount_paid`` (or None). The definitions:

    * a negative amount is a refund whatever its status; ``refunds`` = the refunded money
      (refund rows and negative amounts), ``gross`` = positive completed amounts,
      ``net_revenue`` = gross - refunds;
    * ``visit_days``: distinct (person, day) with a completed visit that is no refund;
    * ``people``: persons with a visit day (rule ``came``); ``by_rule`` under each rule;
    * ``activity_days``: the 75th / 90th percentiles of the days between a person's
      consecutive visit days (ceiled; 180 / 270 under 30 intervals; the second within
      31..300, the first within 30..second - 1);
    * ``segments``: every person with a record or a plan in the first segment whose rule
      holds (see :mod:`clinic_analysis.measures.refusers`); ``plan_refused`` needs no visit after
      the refusal.
    """
    as_of = pd.Timestamp(as_of).normalize()
    r = records.copy()
    r["day"] = pd.to_datetime(r["date"]).dt.normalize()
    amount = pd.to_numeric(r["amount"], errors="coerce")
    booked = r["status"].eq("booked")
    r = r[(r["day"] <= as_of) | booked]
    amount = amount[r.index]
    completed = r["status"].eq("completed")
    refund = r["status"].eq("refund") | (amount < 0)
    gross = float(amount[completed & (amount > 0)].sum())
    refunds = float(amount[refund].abs().sum())
    days = r.loc[completed & ~refund, ["person", "day"]].drop_duplicates()
    days = days.sort_values(["person", "day"])
    gap = days["day"].diff().dt.days[days["person"].eq(days["person"].shift())]
    if len(gap) < 30:
        a, b = 180, 270
    else:
        a, b = int(np.ceil(gap.quantile(0.75))), int(np.ceil(gap.quantile(0.9)))
    b = min(max(b, 31), 300)
    a = min(max(a, 30), b - 1)

    persons = pd.Index(r["person"].unique())
    if plans is not None and len(plans):
        persons = persons.union(pd.Index(plans["person"].unique()))
    n_visits = days.groupby("person").size().reindex(persons, fill_value=0)
    last = days.groupby("person")["day"].max().reindex(persons)
    since = (as_of - last).dt.days
    missed = r["status"].isin(["no_show", "cancelled"]) | (booked & (r["day"] <= as_of))
    has_missed = persons.isin(r.loc[missed, "person"])
    future = persons.isin(r.loc[booked & (r["day"] > as_of), "person"])
    no = pd.Series(False, index=persons)
    refused, open_, accepted, proposed_only = no, no, no, no
    if plans is not None and len(plans):
        p = plans.assign(date=pd.to_datetime(plans["date"])).sort_values(["person", "date"])
        balance = (p["amount_total"] - p["amount_paid"].fillna(0)).clip(lower=0).fillna(0)
        is_open = p["status"].eq("accepted") | (p["status"].eq("completed") & (balance > 0))
        open_ = pd.Series(persons.isin(p.loc[is_open, "person"]), index=persons)
        accepted = pd.Series(
            persons.isin(p.loc[p["status"].isin(["accepted", "completed"]), "person"]), persons
        )
        proposed = persons.isin(p.loc[p["status"].eq("proposed"), "person"])
        proposed_only = pd.Series(proposed, index=persons) & ~accepted
        latest = p.drop_duplicates("person", keep="last").set_index("person")
        refused_at = latest.loc[latest["status"].eq("refused"), "date"].reindex(persons)
        refused = refused_at.notna() & ~(last > refused_at)
    rules = [
        ("awaiting", (n_visits == 0) & ~has_missed & future),
        ("no_show", (n_visits == 0) & has_missed),
        ("plan_refused", refused),
        ("plan_stopped", open_ & (since > b)),
        ("consulted_only", ((n_visits == 1) | proposed_only) & ~accepted & ~future & (since > a)),
        ("active_treatment", open_ & (since <= b)),
        ("returning", (n_visits >= 2) & (since <= b)),
        ("lapsed", (n_visits >= 2) & (since > b)),
        ("new", n_visits == 1),
    ]
    segment = pd.Series("", index=persons)
    for name, rule in rules:
        segment = segment.where((segment != "") | ~rule.fillna(False), name)
    counts = segment.value_counts()
    done = r[completed]
    return {
        "people": int(days["person"].nunique()),
        "by_rule": {
            "booked": int(r["person"].nunique()),
            "came": int(days["person"].nunique()),
            "paid": int(done.loc[amount[done.index] > 0, "person"].nunique()),
        },
        "gross": round(gross, 2),
        "refunds": round(refunds, 2),
        "net_revenue": round(gross - refunds, 2),
        "visit_days": int(len(days)),
        "activity_days": {"active": a, "at_risk": b},
        "segments": {s: int(counts.get(s, 0)) for s in SEGMENTS},
        "unsegmented": int((segment == "").sum()),
    }


def _cards(spec, rng, codes, came, created, branch) -> tuple[pd.DataFrame, np.ndarray]:
    """The patient cards (one per person): names consistent with sex, contacts partly
    missing; children often on a parent's mobile, a few cards with the clinic's landline.
    Returns the cards and each card's phone kind (``own``, ``family``, ``landline``,
    ``none``)."""
    n = len(codes)
    sex = np.where(rng.random(n) < 0.58, "Ж", "Ч")
    fem = sex == "Ж"
    sur = rng.integers(len(SURNAMES), size=n)
    fn_k = rng.integers(len(FIRST_NAMES["Ж"]), size=n)
    fathers = list(PATRONYMICS)
    fa = rng.integers(len(fathers), size=n)
    child = rng.random(n) < spec.child_share
    age = np.where(child, rng.uniform(4, 18, n), np.clip(rng.normal(41, 14, n), 18, 88))
    has_phone = rng.random(n) < spec.phone_share
    key = _unique_ints(rng, 0, len(OPERATORS) * 10**7, n)
    form = _choice(rng, [0.3, 0.2, 0.1, 0.25, 0.15], n)
    phone_kind = np.where(has_phone, "own", "none").astype(object)

    # children on a parent's mobile: the parent's surname and number (in any format), a
    # first name of their own (siblings differ too)
    kids = np.flatnonzero(child & (rng.random(n) < spec.child_phone_share))
    pool = np.flatnonzero(~child & has_phone & (age >= 35))  # old enough to be a parent
    parent = pool[np.floor(rng.random(len(kids)) * len(pool)).astype(int)] if len(pool) else []
    shift = rng.integers(0, 5, size=len(kids))
    taken: dict[int, set[str]] = {}
    for kid, par, sh in zip(kids[: len(parent)], parent, shift, strict=False):
        names = taken.setdefault(int(par), {FIRST_NAMES[sex[par]][fn_k[par] % 20]})
        while FIRST_NAMES[sex[kid]][fn_k[kid] % 20] in names:
            fn_k[kid] += 1
        names.add(FIRST_NAMES[sex[kid]][fn_k[kid] % 20])
        sur[kid], key[kid], form[kid] = sur[par], key[par], (form[par] + sh) % 5
        has_phone[kid], phone_kind[kid] = True, "family"
    # the clinic's landline typed into cards of different people (three or more per number)
    free = (phone_kind == "own") & ~np.isin(np.arange(n), parent)
    land = free & (rng.random(n) < spec.landline_share)
    for br in BRANCHES:
        if (land & (branch == br)).sum() < 3:
            land &= branch != br
    phone_kind[land] = "landline"

    surname = [SURNAMES[s][int(f)] for s, f in zip(sur, fem, strict=True)]
    first = [FIRST_NAMES[x][k % len(FIRST_NAMES[x])] for x, k in zip(sex, fn_k, strict=True)]
    patron = [PATRONYMICS[fathers[k]][int(f)] for k, f in zip(fa, fem, strict=True)]
    names = [f"{s} {f} {p}" for s, f, p in zip(surname, first, patron, strict=True)]

    # birth dates: children, mostly adults
    birth = created - pd.to_timedelta(np.floor(age * 365.25).astype(int), unit="D")
    has_birth = rng.random(n) < spec.birth_date_share

    phones = [
        _phone_text(LANDLINES[br][:3], int(LANDLINES[br][3:]), int(f)) if pk == "landline"
        else _phone_text(OPERATORS[kk // 10**7], int(kk % 10**7), int(f)) if h else ""
        for kk, f, h, pk, br in zip(key, form, has_phone, phone_kind, branch, strict=True)
    ]  # fmt: skip
    # no two people share a full name and a birth date (that pair means one person)
    label = pd.Series(names) + "|" + birth.dt.strftime("%Y%m%d").where(has_birth, "")
    while True:
        dup = label.duplicated() & has_birth
        if not dup.any():
            break
        birth[dup] = birth[dup] - pd.Timedelta(days=1)
        label = pd.Series(names) + "|" + birth.dt.strftime("%Y%m%d").where(has_birth, "")

    # e-mails: distinct, made of the name
    has_mail = rng.random(n) < spec.email_share
    style = rng.integers(3, size=n)
    domain = _choice(rng, EMAIL_DOMAINS, n)
    domains = list(EMAIL_DOMAINS)
    year = birth.dt.year.to_numpy() % 100
    emails, used = [], set()
    for i in range(n):
        if not has_mail[i]:
            emails.append("")
            continue
        f, s = _translit(first[i]), _translit(surname[i])
        local = (f"{f}.{s}", f"{s}.{f}{year[i]:02d}", f"{f[0]}{s}{year[i]:02d}")[style[i]]
        addr, k = f"{local}@{domains[domain[i]]}", 1
        while addr in used:
            k += 1
            addr = f"{local}{k}@{domains[domain[i]]}"
        used.add(addr)
        emails.append(addr)

    has_msg = rng.random(n) < spec.messenger_share
    messenger = np.where(has_msg, np.where(rng.random(n) < 0.6, "Viber", "Telegram"), "")
    consent = np.array(["Так", "Ні", ""])[_choice(rng, [0.7, 0.1, 0.2], n)]
    channel = np.array(list(CHANNELS), dtype=object)[_choice(rng, CHANNELS, n)]
    # a referral names a patient who came earlier (codes follow the order of arrival)
    came_idx = np.flatnonzero(came)
    earlier = np.searchsorted(came_idx, np.arange(n))  # how many came before card i
    refer = (channel == "Рекомендація") & (rng.random(n) < 0.55) & (earlier > 0)
    ref_pick = np.floor(rng.random(n) * np.maximum(earlier, 1)).astype(int)
    referrer = np.where(refer, codes[came_idx[np.minimum(ref_pick, len(came_idx) - 1)]], "")
    cards = pd.DataFrame({
        "Код пацієнта": codes,
        "ПІБ": names,
        "Телефон": phones,
        "E-mail": emails,
        "Месенджер": messenger,
        "Дата народження": birth.dt.strftime("%d.%m.%Y").where(has_birth, "").to_numpy(),
        "Стать": sex,
        "Згода на розсилку": consent,
        "Джерело": channel,
        "Хто порекомендував": referrer,
        "Дата створення картки": created.dt.strftime("%d.%m.%Y").to_numpy(),
    })  # fmt: skip
    return cards, phone_kind


def _duplicate_cards(orig: pd.DataFrame, codes, created: pd.Series, rng) -> pd.DataFrame:
    """Second cards of the same people: the same name, sex and birth date, the mobile in
    another format, no e-mail (it was not asked again), created when first used."""
    out = orig.copy().reset_index(drop=True)
    out["Код пацієнта"] = codes
    shift = rng.integers(1, 5, size=len(out))
    phones = []
    for text, sh in zip(out["Телефон"], shift, strict=True):
        local = "0" + re.sub(r"\D", "", text)[-9:]
        old = next(f for f in range(5) if _phone_text(local[:3], int(local[3:]), f) == text)
        phones.append(_phone_text(local[:3], int(local[3:]), int((old + sh) % 5)))
    out["Телефон"] = phones
    out["E-mail"] = ""
    out["Дата створення картки"] = pd.DatetimeIndex(created).strftime("%d.%m.%Y")
    return out


def _plans(spec, rng, done: pd.DataFrame, codes, alive, as_of) -> pd.DataFrame:
    """Treatment plans of ~plan_share of the people who came (second_plan_share of them
    have two), each proposed at one of the person's completed visits by its doctor and
    written on that visit's card (column ``_person``: the person). A plan is refused only at
    the person's last visit day (who refuses and later comes back is not a refuser)."""
    done = done.sort_values(["i", "when"], kind="stable")
    per = done.groupby("i").size()
    who = per.index.to_numpy()
    with_plan = who[rng.random(len(who)) < spec.plan_share]
    two = rng.random(len(with_plan)) < spec.second_plan_share
    owner = np.sort(np.concatenate([with_plan, with_plan[two]]))
    k = len(owner)
    offset = np.concatenate([[0], np.cumsum(per.to_numpy())[:-1]])
    pos = pd.Series(offset, index=who).reindex(owner).to_numpy()
    pos = pos + np.floor(rng.random(k) * per.reindex(owner).to_numpy()).astype(int)
    at = done.iloc[pos]
    date = at["date"].to_numpy()
    last_day = done.groupby("i")["date"].max().reindex(owner).to_numpy()
    total = np.round(np.exp(rng.uniform(np.log(8000), np.log(120000), k)) / 100.0) * 100.0
    recent = (as_of - pd.DatetimeIndex(date)).days.to_numpy() <= 30
    live = alive[owner]
    probs = np.where(
        recent[:, None],
        [0.55, 0.30, 0.0, 0.15],
        np.where(live[:, None], [0.18, 0.22, 0.35, 0.25], [0.25, 0.15, 0.20, 0.40]),
    )
    u = rng.random(k)[:, None]
    status = np.minimum((np.cumsum(probs, axis=1) <= u).sum(axis=1), 3)
    status = np.where((status == 3) & (date < last_day), 0, status)
    keys = list(PLAN_STATUSES)
    share = rng.uniform(0.1, 0.85, k)
    part = np.clip(np.round(total * share / 100.0) * 100.0, 100.0, total - 100.0)
    paid = np.select([status == 1, status == 2], [part, total], 0.0)
    reasons = np.array(list(REFUSAL_REASONS), dtype=object)[_choice(rng, REFUSAL_REASONS, k)]
    reason = np.where(status == 3, reasons, "")
    frame = pd.DataFrame({
        "Код пацієнта": codes[at["card"].to_numpy()],
        "Дата плану": pd.DatetimeIndex(date),
        "Сума плану": total,
        "Оплачено": paid,
        "Статус плану": [PLAN_STATUSES[keys[s]] for s in status],
        "Причина відмови": reason,
        "Лікар": [DOCTORS[d][0] for d in at["doc"]],
        "_person": owner,
    }).sort_values(["Дата плану", "Код пацієнта"], kind="stable")  # fmt: skip
    frame.insert(0, "№ плану", [f"PL{j + 1:05d}" for j in range(k)])
    return frame.reset_index(drop=True)[[*PLAN_COLUMNS, "_person"]]


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM, ``;``-separated, ``\\n`` line ends: as the MIS exports."""
    df.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\n")


def _write_xlsx(df: pd.DataFrame, path: Path, sheet: str) -> None:
    """One sheet with real Excel dates and numbers, fixed document properties and zip
    member times, so that the same data give the same bytes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        ws.append([
            x.to_pydatetime() if isinstance(x, pd.Timestamp)
            else (int(x) if isinstance(x, float | np.floating) and float(x).is_integer() else x)
            for x in row
        ])  # fmt: skip
    date_col = list(df.columns).index("Дата плану") + 1
    for (cell,) in ws.iter_rows(min_row=2, min_col=date_col, max_col=date_col):
        cell.number_format = "DD.MM.YYYY"
    for letter, width in zip("ABCDEFGH", (11, 13, 12, 12, 12, 15, 26, 30), strict=True):
        ws.column_dimensions[letter].width = width
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.creator = "clinic-audit demo"
    wb.properties.lastModifiedBy = "clinic-audit demo"
    wb.save(path)
    _fix_zip_times(path)


def _fix_zip_times(path: Path) -> None:
    """Rewrite the xlsx zip with fixed member times and document dates (openpyxl stamps
    the save time into ``docProps/core.xml``), so the bytes are reproducible."""
    with zipfile.ZipFile(path) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in items:
            if name == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", stamp, data)
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zout.writestr(info, data)


def load_truth(out_dir: Path | str) -> dict:
    """``truth.json`` of a generated demo: ``spec`` (dates as ISO strings), ``as_of``,
    ``history_start``, ``bgnbd`` (r, alpha, a, b in days), ``gamma_gamma`` (p, q, v,
    mean_spend) and ``counts``."""
    return json.loads((Path(out_dir) / "truth.json").read_text(encoding="utf-8"))


def load_truth_patients(out_dir: Path | str) -> pd.DataFrame:
    """The per-patient truth of a generated demo (see :class:`DemoTruth`)."""
    return pd.read_parquet(Path(out_dir) / "truth_patients.parquet")
