"""The demo's patient cards and treatment plans.

Cards carry names consistent with sex, partly missing contacts, children on a parent's
mobile, the clinic's landline in a few cards and, for some people, a second card (same name
and birth date, the mobile in another format). Plans are proposed at completed visits.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from clinic_analysis.examples.demo_simulate import weighted_choice
from clinic_analysis.examples.demo_spec import (
    BRANCHES,
    CHANNELS,
    DOCTORS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LANDLINES,
    OPERATORS,
    PATRONYMICS,
    PLAN_COLUMNS,
    PLAN_STATUSES,
    REFUSAL_REASONS,
    SURNAMES,
)
from clinic_analysis.examples.export import phone_text

_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie",
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ю": "iu",
    "я": "ia", "'": "",
})  # fmt: skip


def _translit(s: str) -> str:
    return s.lower().translate(_TRANSLIT)


def _unique_ints(rng, low: int, high: int, size: int) -> np.ndarray:
    """``size`` distinct integers in [low, high), drawn until no two are equal."""
    x = rng.integers(low, high, size)
    while True:
        _, first = np.unique(x, return_index=True)
        dup = np.setdiff1d(np.arange(size), first)
        if not len(dup):
            return x
        x[dup] = rng.integers(low, high, len(dup))


def make_cards(spec, rng, codes, came, created, branch) -> tuple[pd.DataFrame, np.ndarray]:
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
    form = weighted_choice(rng, [0.3, 0.2, 0.1, 0.25, 0.15], n)
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
        phone_text(LANDLINES[br], int(f)) if pk == "landline"
        else phone_text(f"{OPERATORS[kk // 10**7]}{kk % 10**7:07d}", int(f)) if h else ""
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
    domain = weighted_choice(rng, EMAIL_DOMAINS, n)
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
    consent = np.array(["Так", "Ні", ""])[weighted_choice(rng, [0.7, 0.1, 0.2], n)]
    channel = np.array(list(CHANNELS), dtype=object)[weighted_choice(rng, CHANNELS, n)]
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


def make_duplicate_cards(orig: pd.DataFrame, codes, created: pd.Series, rng) -> pd.DataFrame:
    """Second cards of the same people: the same name, sex and birth date, the mobile in
    another format, no e-mail (it was not asked again), created when first used."""
    out = orig.copy().reset_index(drop=True)
    out["Код пацієнта"] = codes
    shift = rng.integers(1, 5, size=len(out))
    phones = []
    for text, sh in zip(out["Телефон"], shift, strict=True):
        local = "0" + re.sub(r"\D", "", text)[-9:]
        old = next(f for f in range(5) if phone_text(local, f) == text)
        phones.append(phone_text(local, int((old + sh) % 5)))
    out["Телефон"] = phones
    out["E-mail"] = ""
    out["Дата створення картки"] = pd.DatetimeIndex(created).strftime("%d.%m.%Y")
    return out


def make_plans(spec, rng, done: pd.DataFrame, codes, alive, as_of) -> pd.DataFrame:
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
    reasons = np.array(list(REFUSAL_REASONS), dtype=object)[
        weighted_choice(rng, REFUSAL_REASONS, k)
    ]
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
