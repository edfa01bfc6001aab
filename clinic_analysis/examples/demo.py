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

This module runs the generator; beside it: ``demo_spec`` (the clinic and :class:`DemoSpec`),
``demo_simulate`` (the MBG/NBD process, the season, appointment times, services and
doctors), ``demo_cards`` (cards and plans), ``export`` (how files are written) and ``truth``
(:func:`audit_truth`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from clinic_analysis.examples.demo_cards import make_cards, make_duplicate_cards, make_plans
from clinic_analysis.examples.demo_simulate import (
    appointment_times,
    arrivals,
    calendar_day,
    doctors_for,
    off_sunday,
    seasonal_clock,
    service_index,
    services_for,
    simulate_bgnbd,
    simulate_mbgnbd,
    simulate_process,
    weighted_choice,
)
from clinic_analysis.examples.demo_spec import (
    BOOKING_SERVICES,
    BRANCHES,
    CAME,
    CARD_ONLY,
    CONSULTATION,
    DOCTORS,
    FIRST_BOOKING_SERVICES,
    HOME_DOCTORS,
    NO_SHOW_ONLY,
    PATIENT_COLUMNS,
    PLAN_COLUMNS,
    PLAN_STATUSES,
    PLANS_SHEET,
    SERVICES,
    VISIT_COLUMNS,
    VISIT_STATUSES,
    DemoSpec,
    DemoTruth,
    check_spec,
)
from clinic_analysis.examples.export import money_text, write_csv, write_xlsx
from clinic_analysis.examples.truth import audit_truth

# the demo's public face: generate_demo and what it needs or returns (defined beside it)
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

# ----------------------------------------------------------------------------- generator


def generate_demo(out_dir: Path, spec: DemoSpec | None = None) -> DemoTruth:
    """Write ``visits.csv``, ``patients.csv``, ``plans.xlsx`` and ``truth.json`` (plus the
    per-person truth as ``truth_patients.parquet``) into ``out_dir``; return the truth.

    Deterministic: the same spec gives byte-identical files. Nothing is dated after
    ``spec.as_of`` except future bookings (status ``Запис``, 1–60 days after it). Without a
    ``spec``: the default :class:`DemoSpec`.
    """
    spec = DemoSpec() if spec is None else spec
    check_spec(spec)
    rng = np.random.default_rng(spec.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    as_of = pd.Timestamp(spec.as_of).normalize()
    span = int(round(spec.years * 365.25))  # day numbers 0..span, span = as_of
    start = as_of - pd.Timedelta(days=span)
    n = spec.n_patients
    codes = np.array([f"P{i + 1:06d}" for i in range(n)])

    # ----- who the people are
    arrive = arrivals(spec, span, start, rng)
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
    clock = seasonal_clock(start, span, spec.season_strength)
    freq, _, _, lam, p_drop, alive, owner, times = simulate_process(
        n, spec.r, spec.alpha, spec.a, spec.b, clock[span] - clock[arrive], rng, True, True
    )
    nu = rng.gamma(shape=spec.q, scale=1.0 / spec.v, size=n)
    who = np.flatnonzero(came)
    rep = came[owner]
    pat = np.concatenate([who, owner[rep]])
    rep_day = calendar_day(clock, clock[arrive[owner[rep]]] + times[rep])
    day = np.concatenate([arrive[who], np.minimum(rep_day, span)])
    first = np.concatenate([np.ones(len(who), bool), np.zeros(rep.sum(), bool)])
    order = np.lexsort((day, ~first, pat))
    pat, day, first = pat[order], day[order], first[order]
    day = off_sunday(day, start, later=day + 1 <= span)  # Monday, unless that is after as_of
    m = len(pat)
    spend = rng.gamma(shape=spec.p, scale=1.0 / nu[pat])
    free = first & (rng.random(m) < spec.free_first_share)
    amount = np.where(free, 0.0, np.maximum(10.0, np.round(spend / 10.0) * 10.0))
    svc = services_for(amount, rng)
    svc[free] = CONSULTATION
    line = np.array([SERVICES[k][0] for k in svc], dtype=object)
    doc = doctors_for(line, home[pat], branch[pat], rng)
    done = pd.DataFrame(
        {"i": pat, "day": day, "status": "completed", "amount": amount, "doc": doc, "svc": svc}
    )

    # ----- no-shows / cancellations before a visit, refunds after one
    sel = rng.random(m) < spec.noise_share
    missed_day = off_sunday(day - rng.integers(1, 15, size=m), start, later=False)
    st = np.where(rng.random(m) < 0.6, "no_show", "cancelled")
    noise = pd.DataFrame(
        {"i": pat, "day": missed_day, "status": st, "amount": np.nan, "doc": doc, "svc": svc}
    )[sel & (missed_day >= 0)]
    sel = (amount > 0) & (rng.random(m) < spec.refund_share)
    refund_day = off_sunday(day + rng.integers(1, 8, size=m), start, later=True)
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
    bsvc = service_index(list(BOOKING_SERVICES))[weighted_choice(rng, BOOKING_SERVICES, n)]
    bookings = pd.DataFrame({
        "i": np.arange(n), "day": off_sunday(span + ahead, start, later=True),
        "status": "booked", "amount": np.nan, "doc": home, "svc": bsvc,
    })[sel]  # fmt: skip

    # ----- no-show-only cards: booked once or twice, never came
    nso = np.flatnonzero(kind == NO_SHOW_ONLY)
    k = len(nso)
    twice = rng.random(k) < 0.3
    gap = rng.integers(5, 22, size=k)
    fsvc = service_index(list(FIRST_BOOKING_SERVICES))
    s1 = fsvc[weighted_choice(rng, FIRST_BOOKING_SERVICES, k)]
    st1 = np.where(rng.random(k) < 0.75, "no_show", "cancelled")
    st2 = np.where(rng.random(k) < 0.75, "no_show", "cancelled")
    d1 = off_sunday(arrive[nso], start, later=arrive[nso] + 1 <= span)
    d2 = off_sunday(arrive[nso] + gap, start, later=arrive[nso] + gap + 1 <= span)
    missed = pd.concat([
        pd.DataFrame({"i": nso, "day": d1, "status": st1, "amount": np.nan,
                      "doc": home[nso], "svc": s1}),
        pd.DataFrame({"i": nso, "day": d2, "status": st2, "amount": np.nan,
                      "doc": home[nso], "svc": s1})[twice & (d2 <= span)],
    ])  # fmt: skip

    rec = pd.concat([done, noise, refunds, bookings, missed], ignore_index=True)
    when = appointment_times(rec["day"].to_numpy(), start, rng).to_numpy().copy()
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
    patients, phone_kind = make_cards(spec, rng, codes, came, created, branch)
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
        [patients, make_duplicate_cards(patients.iloc[dup], all_codes[n:], dup_created, rng)],
        ignore_index=True,
    )

    visits = pd.DataFrame({
        "№ прийому": [f"V{k + 1:07d}" for k in range(len(rec))],
        "Код пацієнта": all_codes[rec["card"].to_numpy()],
        "Дата прийому": rec["when"].dt.strftime("%d.%m.%Y %H:%M"),
        "Лікар": [DOCTORS[d][0] for d in rec["doc"]],
        "Послуга": [SERVICES[s][1] for s in rec["svc"]],
        "Напрям": [SERVICES[s][0] for s in rec["svc"]],
        "Сума, грн": [money_text(x) for x in rec["amount"].to_numpy()],
        "Статус": rec["status"].map(VISIT_STATUSES),
        "Філія": [DOCTORS[d][1] for d in rec["doc"]],
    })  # fmt: skip
    visits_path = out_dir / "visits.csv"
    write_csv(visits, visits_path)
    patients_path = out_dir / "patients.csv"
    write_csv(patients, patients_path)

    # ----- treatment plans, proposed at a completed visit by its doctor
    dd = rec[(rec["status"] == "completed") & ~(rec["amount"] < 0)]  # visits, not refunds
    plans = make_plans(spec, rng, dd, all_codes, alive, as_of)
    plans_path = out_dir / "plans.xlsx"
    write_xlsx(plans.drop(columns="_person"), plans_path, PLANS_SHEET)

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


def load_truth(out_dir: Path | str) -> dict:
    """``truth.json`` of a generated demo: ``spec`` (dates as ISO strings), ``as_of``,
    ``history_start``, ``bgnbd`` (r, alpha, a, b in days), ``gamma_gamma`` (p, q, v,
    mean_spend) and ``counts``."""
    return json.loads((Path(out_dir) / "truth.json").read_text(encoding="utf-8"))


def load_truth_patients(out_dir: Path | str) -> pd.DataFrame:
    """The per-patient truth of a generated demo (see :class:`DemoTruth`)."""
    return pd.read_parquet(Path(out_dir) / "truth_patients.parquet")
