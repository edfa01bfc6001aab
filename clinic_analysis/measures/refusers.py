"""Refusers, frozen revenue and who to call first (domain.md, items 2-4, 6 and 12).

Every person with a visit record falls in exactly one segment, tested in this order:

1. ``no_show``: bookings but never a completed visit (only future bookings: ``awaiting``);
2. ``plan_refused``: their latest treatment plan was refused and no visit came after the
   refusal (the reason is kept);
3. ``plan_stopped``: an accepted plan still unpaid or open, and no visit for longer than
   the activity index's ``at_risk`` limit;
4. ``consulted_only``: one visit (or a proposed plan never accepted), no accepted plan,
   nothing booked, and older than the ``active`` limit;
5. ``active_treatment``: an open plan and a recent visit;
6. ``returning``: two visits or more, still active or at risk;
7. ``lapsed``: two visits or more, lapsing or lost;
8. ``new``: one recent visit (or one visit and a booking).

Potential = segment size × reactivation rate × transactions per reactivated patient ×
average check (the last two from this clinic's own patients who came back after a gap),
under three scenarios. Refusers go cold fast: by default 9 of 10 are treated elsewhere
within 4 months, so a refuser's chance decays as ``(1 - 0.9) ** (months / 4)``, down to that
floor; the cost of delay is how the potential shrinks each month nobody calls. With the
audit's models, each patient's chance is also × P(alive) and the value of a return uses the
patient's expected spend: the call lists rank by the same expected value (:func:`call_value`).

The money *at stake* (the section's headline) is defined and windowed: the unpaid balances
of plans stopped midway (``plan_stopped``) plus the refused plans of the last
``refusers.at_stake_months`` months (12 by default), shown by months since the event.
Money uses the one definition of :mod:`summary` (net of refunds; ``None`` without amounts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from clinic_analysis.errors import ParamsError
from clinic_analysis.measures import summary
from clinic_analysis.measures.activity import Thresholds
from clinic_analysis.measures.history import AVG_MONTH_DAYS

SEGMENTS = ("no_show", "plan_refused", "plan_stopped", "consulted_only", "active_treatment",
            "returning", "lapsed", "new", "awaiting")  # fmt: skip
REFUSER_SEGMENTS = ("no_show", "plan_refused", "plan_stopped", "consulted_only")
CALL_SEGMENTS = ("plan_stopped", "plan_refused", "no_show", "consulted_only", "lapsed")
SCENARIOS = ("conservative", "base", "optimistic")
DEFAULT_RATES = {
    "no_show": (0.10, 0.20, 0.30),
    "plan_refused": (0.05, 0.10, 0.20),
    "plan_stopped": (0.15, 0.25, 0.40),
    "consulted_only": (0.05, 0.10, 0.20),
    "lapsed": (0.05, 0.10, 0.15),
}
AGE_BUCKETS = (("0-1", 0, 1), ("1-2", 1, 2), ("2-4", 2, 4), ("4-12", 4, 12), ("12+", 12, np.inf))


def patient_features(
    visits: pd.DataFrame, plans: pd.DataFrame, as_of: pd.Timestamp, persons: pd.Index
) -> pd.DataFrame:
    """Per person: visits, last visit, no-show history, bookings and plan state."""
    f = pd.DataFrame(index=persons)
    done = visits.loc[summary.is_visit(visits), ["patient_id", "date"]]
    day = done["date"].dt.normalize()
    f["visits"] = day.groupby(done["patient_id"]).nunique().reindex(persons).fillna(0).astype(int)
    f["last_visit"] = day.groupby(done["patient_id"]).max().reindex(persons)
    missed = visits.loc[
        visits["status"].isin(["no_show", "cancelled"])
        | ((visits["status"] == "booked") & (visits["date"] <= as_of)),
        ["patient_id", "date"],
    ]
    f["last_missed"] = missed.groupby("patient_id")["date"].max().reindex(persons)
    booked = visits[(visits["status"] == "booked") & (visits["date"] > as_of)]
    f["future_booking"] = f.index.isin(booked["patient_id"])
    f["days_since_last_visit"] = (as_of - f["last_visit"]).dt.days
    # plans
    f["open_plan_balance"] = 0.0
    f["latest_plan_status"] = None
    f["refusal_date"] = pd.NaT
    f["refusal_reason"] = None
    f["refused_plan_total"] = 0.0
    f["has_accepted_plan"] = False
    f["has_open_plan"] = False
    f["proposed_only"] = False
    f["plan_doctor"] = None
    if len(plans) and plans["patient_id"].notna().any():
        p = plans.copy()
        p["date"] = pd.to_datetime(p["date"])
        total = pd.to_numeric(p["amount_total"], errors="coerce")
        paid = pd.to_numeric(p["amount_paid"], errors="coerce").fillna(0.0)
        p["balance"] = (total - paid).clip(lower=0).fillna(0.0)
        is_open = (p["status"] == "accepted") | ((p["status"] == "completed") & (p["balance"] > 0))
        f["open_plan_balance"] = (
            p[is_open].groupby("patient_id")["balance"].sum().reindex(persons).fillna(0.0)
        )
        f["has_open_plan"] = f.index.isin(p.loc[is_open, "patient_id"])
        accepted = p["status"].isin(["accepted", "completed"])
        f["has_accepted_plan"] = f.index.isin(p.loc[accepted, "patient_id"])
        f["proposed_only"] = (
            f.index.isin(p.loc[p["status"] == "proposed", "patient_id"]) & ~f["has_accepted_plan"]
        )
        latest = p.sort_values(["patient_id", "date"]).drop_duplicates("patient_id", keep="last")
        latest = latest.set_index("patient_id")
        f["latest_plan_status"] = latest["status"].reindex(persons)
        refused = latest[latest["status"] == "refused"]
        f["refusal_date"] = refused["date"].reindex(persons)
        f["refusal_reason"] = refused["refusal_reason"].reindex(persons)
        f["refused_plan_total"] = (
            pd.to_numeric(refused["amount_total"], errors="coerce").reindex(persons).fillna(0.0)
        )
        f["plan_doctor"] = latest["doctor"].reindex(persons)
    return f


def assign_segments(f: pd.DataFrame, th: Thresholds, as_of: pd.Timestamp) -> pd.DataFrame:
    """Add ``segment`` and ``months_since_event`` (see the module doc for the rules)."""
    seg = pd.Series(pd.NA, index=f.index, dtype="object")
    since = f["days_since_last_visit"]
    no_visit = f["visits"] == 0
    rules = [
        ("awaiting", no_visit & f["last_missed"].isna() & f["future_booking"]),
        ("no_show", no_visit & f["last_missed"].notna()),
        ("plan_refused", f["latest_plan_status"].eq("refused")
         & ~(f["last_visit"] > f["refusal_date"].dt.normalize())),
        ("plan_stopped", f["has_open_plan"] & (since > th.at_risk)),
        ("consulted_only", ((f["visits"] == 1) | f["proposed_only"]) & ~f["has_accepted_plan"]
         & ~f["future_booking"] & (since > th.active)),
        ("active_treatment", f["has_open_plan"] & (since <= th.at_risk)),
        ("returning", (f["visits"] >= 2) & (since <= th.at_risk)),
        ("lapsed", (f["visits"] >= 2) & (since > th.at_risk)),
        ("new", f["visits"] == 1),
    ]  # fmt: skip
    for name, rule in rules:
        seg = seg.where(seg.notna() | ~rule.fillna(False), name)
    out = f.copy()
    out["segment"] = pd.Categorical(seg, categories=list(SEGMENTS))
    event = out["last_visit"].copy()
    event[out["segment"] == "no_show"] = out["last_missed"]
    refused = out["segment"] == "plan_refused"
    event[refused] = out.loc[refused, "refusal_date"].fillna(out.loc[refused, "last_visit"])
    out["months_since_event"] = ((as_of - event).dt.days / AVG_MONTH_DAYS).clip(lower=0)
    out.loc[out["segment"] == "awaiting", "months_since_event"] = 0.0
    return out


def age_buckets(seg: pd.DataFrame) -> pd.DataFrame:
    """Segment × months since the event, in the buckets 0-1, 1-2, 2-4, 4-12, 12+."""
    labels = [b[0] for b in AGE_BUCKETS]
    edges = [b[1] for b in AGE_BUCKETS] + [np.inf]
    bucket = pd.cut(seg["months_since_event"], bins=edges, labels=labels, right=False)
    t = pd.crosstab(seg["segment"], bucket).reindex(columns=labels, fill_value=0)
    return t.reindex([s for s in SEGMENTS if s in t.index])


@dataclass(frozen=True)
class ReturnHistory:
    events: int
    transactions: float
    average_check: float
    source: str  # "history" or "fallback"


def return_history(
    days: pd.DataFrame,
    th: Thresholds,
    min_events: int = 20,
    money: pd.DataFrame | None = None,
    has_amount: bool = True,
) -> ReturnHistory:
    """What a patient who comes back after a gap (more than the ``at_risk`` limit) brings in
    the 12 months from the return: visits and average check (net of refunds, per visit day;
    ``money`` from :func:`summary.money_rows`, else the visit days' amounts), from this
    clinic's history. The check is NaN without amounts."""
    d = days.sort_values(["patient_id", "day"]).reset_index(drop=True)
    if money is None:  # visit days only: their amounts are the money
        gross = d["amount"].fillna(0.0).clip(lower=0.0)
        money = d.assign(gross=gross, refunded=0.0, refund=False, revenue=gross)
    gap = summary.visit_gaps(d)
    returns = d[gap > th.at_risk][["patient_id", "day"]].rename(columns={"day": "back"})
    nan = float("nan")
    overall_check = summary.money_totals(money, d, has_amount).average_check
    overall_check = nan if overall_check is None else overall_check
    if len(returns) < min_events:
        return ReturnHistory(int(len(returns)), 1.5, overall_check, "fallback")
    window = pd.Timedelta(days=summary.YEAR_DAYS)
    n = d.merge(returns, on="patient_id")
    n = n[(n["day"] >= n["back"]) & (n["day"] < n["back"] + window)]
    per = n.groupby(["patient_id", "back"]).size().rename("n").reset_index()
    m = money[["patient_id", "day", "revenue"]].merge(returns, on="patient_id")
    m = m[(m["day"] >= m["back"]) & (m["day"] < m["back"] + window)]
    cash = float(m["revenue"].sum())
    return ReturnHistory(
        events=int(len(per)),
        transactions=float(per["n"].mean()),
        average_check=cash / float(per["n"].sum()) if has_amount else nan,
        source="history",
    )


def rates_for(segment: str, overrides: dict) -> tuple[float, float, float]:
    if segment in overrides:
        s = overrides[segment]
        return (s.conservative, s.base, s.optimistic)
    return DEFAULT_RATES.get(segment, (0.0, 0.0, 0.0))


def freshness(months: pd.Series, share_gone: float = 0.9, months_gone: float = 4.0) -> pd.Series:
    """A refuser's remaining chance relative to a fresh one: (1 - share_gone) ** (m / months_gone),
    not below (1 - share_gone)."""
    floor = 1 - share_gone
    return np.maximum(floor ** (months / months_gone), floor)


def stake(seg: pd.DataFrame, hist: ReturnHistory) -> pd.Series:
    """Money at stake per patient (the value of a return): an unfinished plan's balance or a
    refused plan's total, else what a returned patient brings: the clinic's transactions per
    reactivated patient × the patient's expected spend per visit (the models' ``spend``
    column when the audit has it, else the clinic's average check after a return)."""
    refused = seg.get("refused_plan_total", pd.Series(0.0, index=seg.index))
    if "segment" in seg:  # a refused plan counts only while the patient is a plan refuser
        refused = refused.where(seg["segment"] == "plan_refused", 0.0)
    plan_money = seg["open_plan_balance"] + refused
    check = seg["spend"].fillna(hist.average_check) if "spend" in seg else hist.average_check
    return np.maximum(plan_money, hist.transactions * check)


def return_chance(seg: pd.DataFrame, settings, delay_months: float = 0.0) -> pd.Series:
    """P(the patient comes back if called), before the segment's rate: freshness decay for
    refusers (lapsed patients do not decay: their P(alive) does) × P(alive) (the models'
    ``p_alive`` column; 1 where the model cannot tell, e.g. no completed visit)."""
    fresh = freshness(
        seg["months_since_event"] + delay_months,
        settings.gone_elsewhere_share,
        settings.gone_elsewhere_months,
    )
    fresh = fresh.where(seg["segment"].isin(REFUSER_SEGMENTS), 1.0)
    alive = seg["p_alive"].fillna(1.0).clip(0, 1) if "p_alive" in seg else 1.0
    return fresh * alive


def at_stake(seg: pd.DataFrame, months: int, available: bool = True) -> dict:
    """The headline money at stake: unpaid balances of plans stopped midway plus the refused
    plans of the last ``months`` months, in total and by months since the event (the age
    buckets). Older refused plans are counted apart (``refused_older``), not in the total.
    All ``None`` when plan amounts are not exported."""
    labels = [b[0] for b in AGE_BUCKETS]
    if not available:
        return {"months": months, "total": None, "open_balances": None,
                "refused_recent": None, "refused_older": None, "patients": None,
                "by_age_bucket": dict.fromkeys(labels)}  # fmt: skip
    stopped = seg["segment"] == "plan_stopped"
    refused = seg["segment"] == "plan_refused"
    recent = refused & (seg["months_since_event"] < months)
    balances = seg["open_plan_balance"].where(stopped, 0.0)
    refused_recent = seg["refused_plan_total"].where(recent, 0.0)
    money = balances + refused_recent
    edges = [b[1] for b in AGE_BUCKETS] + [np.inf]
    bucket = pd.cut(seg["months_since_event"], bins=edges, labels=labels, right=False)
    by_age = money.groupby(bucket, observed=False).sum().reindex(labels, fill_value=0.0)
    r = lambda x: round(float(x), 2)  # noqa: E731
    return {
        "months": months,
        "total": r(money.sum()),
        "open_balances": r(balances.sum()),
        "refused_recent": r(refused_recent.sum()),
        "refused_older": r(seg["refused_plan_total"].where(refused & ~recent, 0.0).sum()),
        "patients": int((money > 0).sum()),
        "by_age_bucket": {k: r(v) for k, v in by_age.items()},
    }


def potential(
    seg: pd.DataFrame, hist: ReturnHistory, overrides: dict, settings, delay_months: int = 0
) -> pd.DataFrame:
    """Additional revenue per segment and scenario if the clinic calls ``delay_months`` from
    now: Σ rate × freshness × P(alive) × value of a return over the segment's patients: the
    same probabilities the call lists rank by (:func:`call_value`)."""
    return _potential(seg, stake(seg, hist), _segment_codes(seg), overrides, settings, delay_months)


def _potential(
    seg: pd.DataFrame,
    value: pd.Series,
    codes: np.ndarray,
    overrides: dict,
    settings,
    delay_months: int = 0,
) -> pd.DataFrame:
    """:func:`potential` from the value of a return per patient (:func:`stake`) and the
    segments' codes (:func:`_segment_codes`)."""
    weighted = (return_chance(seg, settings, delay_months) * value).to_numpy()
    rows = []
    for s in DEFAULT_RATES:
        m = codes == SEGMENTS.index(s)
        rates = rates_for(s, overrides)
        total = float(pd.Series(weighted[m]).sum())
        rows.append(
            {
                "segment": s,
                "patients": int(m.sum()),
                "stake": float(pd.Series(value.to_numpy()[m]).sum()),
                **{sc: total * r for sc, r in zip(SCENARIOS, rates, strict=True)},
            }
        )
    return pd.DataFrame(rows).set_index("segment")


def _segment_codes(seg: pd.DataFrame) -> np.ndarray:
    """Each patient's segment as its position in :data:`SEGMENTS` (-1: none)."""
    segment = seg["segment"].astype(pd.CategoricalDtype(list(SEGMENTS)))
    return segment.cat.codes.to_numpy()


def delay_curve(seg, hist, overrides, settings, months: int = 12) -> pd.DataFrame:
    """Base-scenario potential if nobody calls for 0..``months`` months."""
    value, codes = stake(seg, hist), _segment_codes(seg)  # the same whatever the delay
    return pd.DataFrame(
        {"month": m, "base": _potential(seg, value, codes, overrides, settings, m)["base"].sum()}
        for m in range(months + 1)
    )


def call_value(seg: pd.DataFrame, hist: ReturnHistory, settings) -> pd.DataFrame:
    """The value of calling now, per patient (base scenario): ``chance`` = segment rate ×
    freshness × P(alive), ``value`` of a return, and ``priority`` = chance × value (0 outside
    the segments worth calling). Not rounded: patients whose inputs differ do not tie."""
    # returning patients at risk get a reminder: ranked with the lapsed patients' rate
    base = [rates_for("lapsed" if s == "returning" else s, settings.rates)[1] for s in SEGMENTS]
    rate = pd.Series(np.array([*base, 0.0])[_segment_codes(seg)], index=seg.index)
    chance = rate * return_chance(seg, settings)
    value = stake(seg, hist)
    return pd.DataFrame({"chance": chance, "value": value, "priority": chance * value})


def _m(x) -> float | None:
    """Money for metrics.json: rounded, ``None`` when unknown (no amounts exported)."""
    x = float(x)
    return round(x, 2) if np.isfinite(x) else None


def _none_like(d: dict) -> dict:
    """The same keys, every number ``None`` (money not exported)."""
    return {k: _none_like(v) if isinstance(v, dict) else None for k, v in d.items()}


@dataclass
class RefuserResult:
    metrics: dict
    per_patient: pd.DataFrame  # segment, months_since_event, open_plan_balance, priority, ...
    frames: dict


def check_params(params) -> None:
    """The segments named under ``refusers.rates`` and ``refusers.scripts`` exist.

    Params are validated without knowing the segments (they belong to this stage), so the
    stage checks the names before it computes anything."""
    for where in ("rates", "scripts"):
        for key in getattr(params.refusers, where):
            if key not in SEGMENTS:
                raise ParamsError(
                    f"refusers.{where}.{key}: unknown segment '{key}'",
                    hint=f"use one of: {', '.join(SEGMENTS)}",
                )


def compute_refusers(
    params,
    data,
    days: pd.DataFrame,
    th: Thresholds,
    money: pd.DataFrame | None = None,
    alive=None,
    spend=None,
) -> RefuserResult:
    """Segments, ages, money at stake, potential by scenario and the cost of delay.
    ``money`` from :func:`summary.money_rows` (built from the visits when not given);
    ``alive`` and ``spend``: the models' P(alive) and expected spend per visit per patient
    (left out, every patient counts as alive and at the clinic's average check)."""
    as_of = data.as_of
    persons = pd.Index(
        pd.concat([data.visits["patient_id"], data.plans["patient_id"]]).dropna().unique()
    )
    feats = patient_features(data.visits, data.plans, as_of, persons)
    seg = assign_segments(feats, th, as_of)
    if alive is not None:
        seg["p_alive"] = alive.reindex(seg.index)
    if spend is not None:
        seg["spend"] = spend.reindex(seg.index)
    settings = params.refusers
    has_amount = data.has("visits", "amount")
    money = summary.money_rows(data.visits) if money is None else money
    hist = return_history(days, th, money=money, has_amount=has_amount)
    pot = potential(seg, hist, settings.rates, settings)
    delay = delay_curve(seg, hist, settings.rates, settings)
    # without amounts the typical value is unknown: plan balances alone rank the calls
    value_hist = hist if has_amount else replace(hist, average_check=0.0)
    seg[["chance", "value", "priority"]] = call_value(seg, value_hist, settings)
    plan_money = data.has("plans", "amount_total")
    counts = seg["segment"].value_counts().reindex(list(SEGMENTS), fill_value=0)
    ages = age_buckets(seg)
    balance = seg.groupby("segment", observed=False)["open_plan_balance"].sum()
    reasons = (
        seg.loc[seg["segment"] == "plan_refused", "refusal_reason"].fillna("").value_counts()
        if "refusal_reason" in seg
        else pd.Series(dtype=int)
    )
    fresh = seg[seg["segment"].isin(REFUSER_SEGMENTS)]
    metrics = {
        "counts": {k: int(v) for k, v in counts.items()},
        "unsegmented": int(seg["segment"].isna().sum()),
        "refusers_total": int(len(fresh)),
        "fresh_share": float((fresh["months_since_event"] < 4).mean()) if len(fresh) else None,
        "plan_balance": {k: _m(balance.get(k, 0.0)) if plan_money else None for k in SEGMENTS},
        "stake": {s: _m(pot.loc[s, "stake"]) for s in pot.index},
        "age_months": {s: {b: int(ages.loc[s, b]) for b in ages.columns} for s in ages.index},
        "refusal_reasons": {str(k): int(v) for k, v in reasons.items()},
        "return_history": {
            "events": hist.events,
            "transactions": round(hist.transactions, 3),
            "average_check": _m(hist.average_check),
            "source": hist.source,
        },
        "rates": {
            s: dict(zip(SCENARIOS, rates_for(s, settings.rates), strict=True))
            for s in DEFAULT_RATES
        },  # fmt: skip
        "potential": {sc: _m(pot[sc].sum()) for sc in SCENARIOS},
        "potential_by_segment": {
            s: {sc: _m(pot.loc[s, sc]) for sc in SCENARIOS} for s in pot.index
        },
        "at_stake": at_stake(seg, settings.at_stake_months, plan_money),
        "delay_cost": {
            "base_now": _m(delay["base"].iloc[0]),
            "base_in_1_month": _m(delay["base"].iloc[1]),
            "base_in_12_months": _m(delay["base"].iloc[-1]),
            # what a month's delay costs: the base potential now minus in one month
            "loss_1_month": _m(delay["base"].iloc[0]) - _m(delay["base"].iloc[1]),
        },
    }
    if not has_amount:  # the typical value of a patient is unknown: no money figure
        for key in ("stake", "potential", "potential_by_segment", "delay_cost"):
            metrics[key] = _none_like(metrics[key])
    cols = [
        "segment",
        "months_since_event",
        "open_plan_balance",
        "refused_plan_total",
        "priority",
        "chance",
        "value",
        "refusal_reason",
        "future_booking",
        "last_visit",
        "plan_doctor",
        "last_missed",  # the call lists show a no-show's missed appointment
    ]
    return RefuserResult(
        metrics=metrics,
        per_patient=seg[cols],
        frames={"segment_ages": ages, "potential": pot, "delay": delay},
    )
