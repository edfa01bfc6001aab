"""What the demo clinic is made of: its branches, doctors, services and prices, the dental
season, the names and contacts on its cards, the columns and status words of its exports,
and :class:`DemoSpec` (the knobs and the truth of the simulation) and :class:`DemoTruth`
(what :func:`clinic_analysis.examples.demo.generate_demo` returns)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

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


def check_spec(spec: DemoSpec) -> None:
    """A ValueError naming the first knob of ``spec`` out of its range."""
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
