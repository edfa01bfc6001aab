"""The audit's four measures (issue 4): base dynamics, activity index, repeat index and card
completeness, computed from the canonical tables into metrics, per-patient columns and the
tables the report draws."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from clinic_analysis.ingest.tables import ClinicData
from clinic_analysis.measures import activity, completeness, dynamics, readings, repeat, summary
from clinic_analysis.measures.history import TOO_LITTLE_HISTORY, enough_history, months_of_history
from clinic_analysis.params import Params


@dataclass
class Measures:
    metrics: dict
    per_patient: pd.DataFrame  # indexed by patient_id
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    thresholds: activity.Thresholds | None = None


YEAR_ON_YEAR_MONTHS = 24  # a year compared with the year before it


def _f(x):
    return dynamics.safe(x)


def first_visit_attribute(visits: pd.DataFrame, days: pd.DataFrame, column: str) -> pd.Series:
    """The value of ``column`` at each patient's first completed visit."""
    if column not in visits or visits[column].isna().all():
        return pd.Series(dtype="object")
    done = visits.loc[summary.is_visit(visits), ["patient_id", "date", column]]
    done = done.sort_values(["patient_id", "date"])
    first = done.drop_duplicates("patient_id").set_index("patient_id")[column]
    return first


def _money(x):
    return None if x is None else round(float(x), 2)


def _breakdown_metrics(table: pd.DataFrame) -> dict:
    return {
        str(r.group): {
            "patients": int(r.patients),
            "rate": _f(r.rate),
            "low": _f(r.low),
            "high": _f(r.high),
        }
        for r in table.itertuples()
    }


def compute_measures(
    params: Params,
    data: ClinicData,
    days: pd.DataFrame,
    money: pd.DataFrame,
    patients: pd.DataFrame,
) -> Measures:
    as_of = data.as_of
    metrics: dict = {"base": {}, "revenue": {}, "activity": {}, "repeat": {}, "completeness": {}}
    frames: dict[str, pd.DataFrame] = {}
    pp = pd.DataFrame(index=patients["patient_id"])
    # how much history the data covers: time-based figures below need enough of it
    need = params.history.min_months
    enough = enough_history(days, as_of, need)
    year_on_year = enough_history(days, as_of, max(need, YEAR_ON_YEAR_MONTHS))
    metrics["history"] = {
        "months": round(months_of_history(days, as_of), 1),
        "min_months": need,
        "enough": enough,
        "year_on_year_months": max(need, YEAR_ON_YEAR_MONTHS),
        "year_on_year": year_on_year,
    }

    # ------------------------------------------------------------------ dynamics
    first = summary.first_visits(days)
    new = first.dt.to_period("M").value_counts().sort_index()
    metrics["base"]["new_by_month"] = {str(k): int(v) for k, v in new.items()}
    active_by_month = dynamics.active_base_by_month(days, as_of) if len(days) else pd.Series()
    frames["active_by_month"] = active_by_month.rename_axis("month").reset_index()
    has_amount = data.has("visits", "amount")
    g = dynamics.growth_12m(days, money, as_of, has_amount)
    metrics["base"]["active_base"] = g["base_now"]
    metrics["base"]["growth_12m"] = _f(g["base_growth"]) if year_on_year else None
    # the one "last 12 months" window every section reads (summary.last_12_months)
    now12 = summary.last_12_months(money, days, as_of, has_amount)
    prev12 = summary.last_12_months(money, days, as_of, has_amount, years_back=1)
    metrics["revenue"]["last_12m"] = _money(now12.net)
    metrics["revenue"]["prev_12m"] = _money(prev12.net)
    metrics["revenue"]["growth_12m"] = _f(g["revenue_growth"]) if year_on_year else None
    metrics["revenue"]["window_12m"] = {
        "start": now12.start.date().isoformat(),  # exclusive
        "end": now12.end.date().isoformat(),  # inclusive: the audit date
        **now12.as_metrics(),
    }
    for key, (start, end) in (("new_last_12m", summary.window_12m(as_of)),
                              ("new_prev_12m", summary.window_12m(as_of, 1))):  # fmt: skip
        metrics["base"][key] = int(((first > start) & (first <= end)).sum())
    new_change = readings.change(metrics["base"]["new_last_12m"], metrics["base"]["new_prev_12m"])
    metrics["base"]["new_growth_12m"] = new_change
    req = dynamics.required_growth(days, money, as_of, has_amount=has_amount)
    if not enough:  # retention over a year cannot be read from less than a year
        req["targets"] = {}
    metrics["base"]["required_growth_for_revenue"] = {k: _f(v) for k, v in req["targets"].items()}
    metrics["base"]["required_growth_inputs"] = {k: _f(v) for k, v in req["inputs"].items()}
    flow = dynamics.flow_by_month(days, as_of) if len(days) else pd.DataFrame()
    frames["flow"] = flow
    metrics["base"]["flow_by_month"] = [
        {
            "month": r.month.strftime("%Y-%m"),
            "new": int(r.new),
            "recaptured": int(r.recaptured),
            "lost": int(r.lost),
            "net": int(r.net),
        }
        for r in flow.itertuples()
    ]
    metrics["base"]["flow_last_12m"] = readings.flow_sums(flow)
    metrics["base"]["pre_appointment_rate"] = _f(
        dynamics.pre_appointment_rate(days, data.visits, as_of)
    )

    # ------------------------------------------------------------------ activity
    # too little history: the limits from the visit rhythm would be artefacts of the short
    # span, so the phases (still needed by the refuser segments) use the stated defaults
    th = activity.thresholds(days if enough else days.iloc[:0], params.activity)
    last = days.groupby("patient_id")["day"].max()
    since = (as_of - last).dt.days
    pp["days_since_last_visit"] = since.reindex(pp.index)
    pp["phase"] = activity.phase_of(pp["days_since_last_visit"], th)
    m12 = summary.in_window(money, now12.start, now12.end)  # the same window as dynamics
    rev12 = m12.groupby("patient_id")["revenue"].sum()
    pp["revenue_12m"] = rev12.reindex(pp.index).fillna(0.0) if has_amount else float("nan")
    counts = pp["phase"].value_counts().reindex(list(activity.PHASES), fill_value=0)
    rev_phase = pp.groupby("phase", observed=False)["revenue_12m"].sum()
    metrics["activity"] = {
        "thresholds_days": {"active": th.active, "at_risk": th.at_risk},
        "thresholds": {
            "active": th.active,
            "at_risk": th.at_risk,
            "active_percentile": params.activity.active_percentile,
            "at_risk_percentile": params.activity.at_risk_percentile,
            "active_percentile_days": th.active_percentile_days,
            "at_risk_percentile_days": th.at_risk_percentile_days,
            "capped": th.capped,
            "cap_days": activity.MAX_B,
        },
        "threshold_source": th.source,
        "intervals": th.intervals,
        "counts": {k: int(v) for k, v in counts.items()},
        "revenue_12m": {
            k: _money(rev_phase.get(k, 0.0)) if has_amount else None for k in activity.PHASES
        },
    }
    if not enough:
        metrics["activity"] = {"status": TOO_LITTLE_HISTORY}
    mix = activity.phase_mix_by_month(days, th, as_of) if len(days) and enough else pd.DataFrame()
    frames["phase_mix"] = mix
    metrics["activity"]["mix_by_month"] = [
        {"month": r["month"].strftime("%Y-%m"), **{k: int(r[k]) for k in activity.PHASES}}
        for _, r in mix.iterrows()
    ]
    if enough:  # the readings of the section (shares, those at risk, the active trend)
        covered = readings.covered(mix, days["day"].min() if len(days) else None)
        a = metrics["activity"]
        a.update(readings.phase_readings(a["counts"], a["revenue_12m"], covered, activity.PHASES))

    # ------------------------------------------------------------------ repeat
    fs = repeat.first_and_second(days)
    lifetime = fs["visits"] >= 2  # ever two visit days or more (labelled "lifetime")
    metrics["repeat"]["patients"] = int(len(fs))
    metrics["repeat"]["rate"] = _f(lifetime.mean()) if len(fs) else None  # lifetime share
    metrics["repeat"]["rate_lifetime"] = metrics["repeat"]["rate"]
    metrics["repeat"]["median_days_to_second"] = _f(fs["days_to_second"].median())
    metrics["repeat"]["returned_within"] = {
        str(w): {k: _f(v) for k, v in repeat.returned_within(fs, as_of, w).items()}
        for w in repeat.RETURN_WINDOWS
    }
    # the headline: came back within 12 months, among patients first seen >= 12 months ago
    r12 = repeat.rate_12m(fs, as_of)
    r12_ok = enough and r12["eligible"] > 0  # someone first seen a year or more ago
    metrics["repeat"]["status_12m"] = "ok" if r12_ok else TOO_LITTLE_HISTORY
    metrics["repeat"]["eligible_12m"] = r12["eligible"]
    metrics["repeat"]["returned_12m"] = r12["returned"] if r12_ok else None
    metrics["repeat"]["rate_12m"] = _f(r12["rate"]) if r12_ok else None
    metrics["repeat"]["rate_12m_ci"] = [_f(r12["low"]), _f(r12["high"])] if r12_ok else None
    ret = repeat.retention_by_month(fs, as_of) if enough else pd.DataFrame()
    frames["retention_by_month"] = ret
    total_ret = ret["retained"].sum() / ret["patients"].sum() if len(ret) else None
    metrics["repeat"]["new_patient_retention"] = _f(total_ret)
    if not enough:
        metrics["repeat"]["retention_status"] = TOO_LITTLE_HISTORY
    metrics["repeat"]["retention_mark"] = repeat.DENTAL_RETENTION_MARK
    frames["days_to_second"] = fs[["days_to_second"]].dropna()
    min_size = params.repeat.min_group_size
    groups: dict[str, pd.Series] = {
        "by_doctor": first_visit_attribute(data.visits, days, "doctor"),
        "by_service_line": first_visit_attribute(data.visits, days, "service_line"),
    }
    cards = data.patients.set_index("patient_id")
    if data.has("patients", "channel"):
        channel = cards["channel"]
        groups["by_channel"] = channel
        promo = channel.astype("str").str.contains(params.repeat.promo_pattern, regex=True)
        groups["by_promo"] = promo.map({True: "promo", False: "non_promo"}).where(channel.notna())
    groups["by_cohort_year"] = fs["first"].dt.year.astype(str)
    metrics["repeat"]["min_group_size"] = min_size
    metrics["repeat"]["breakdown_basis"] = "returned_within_12m"
    came_back = repeat.came_back_within(fs, as_of, 365)  # the headline's basis
    missing_breakdowns = []
    for name, grp in groups.items():
        if grp.empty or grp.isna().all():
            missing_breakdowns.append(name)
            continue
        if not r12_ok:
            continue  # too little history: no breakdown (status_12m says why)
        table = repeat.breakdown(grp, came_back, min_size)
        frames[f"repeat_{name}"] = table
        metrics["repeat"][name] = _breakdown_metrics(table)
    metrics["repeat"]["not_available"] = missing_breakdowns
    metrics["repeat"]["pooled_groups"] = readings.pooled_groups(
        {k[len("repeat_") :]: v for k, v in frames.items() if k.startswith("repeat_")}
    )
    frames["cohorts"] = (
        repeat.cohort_matrix(days, as_of) if len(days) and enough else pd.DataFrame()
    )
    split = repeat.revenue_split(money, days, has_amount)
    metrics["revenue"]["first_visits"] = _money(split["first_visits"])
    metrics["revenue"]["repeat_visits"] = _money(split["repeat_visits"])
    metrics["revenue"]["repeat_share"] = _f(split["repeat_share"])

    # ------------------------------------------------------------------ completeness
    present = [c for c in data.present.get("patients", [])]
    people = completeness.cards_for(data.patients, pp.index)
    flags = completeness.field_flags(people, present, params.clinic.phone_region)
    pp["completeness"] = completeness.score(flags)
    pp["contactable"] = completeness.contactable(people, flags)
    metrics["completeness"] = {
        "fields": {f: _f(flags[f].mean()) if f in flags else None for f in completeness.FIELDS},
        "not_exported": [f for f in completeness.FIELDS if f not in flags],
        "contactable": _f(pp["contactable"].mean()) if len(pp) else None,
        "mean_score": _f(pp["completeness"].mean()),
        "uncontactable": int((~pp["contactable"].astype(bool)).sum()),
    }
    year = first.reindex(pp.index).dt.year
    by_year = flags.assign(year=year, contactable=pp["contactable"]).groupby("year").mean()
    by_year.index = by_year.index.astype("Int64").astype(str)
    frames["completeness_by_year"] = by_year.reset_index()
    metrics["completeness"]["by_year"] = {
        str(y): {k: _f(v) for k, v in row.items()} for y, row in by_year.iterrows()
    }
    return Measures(metrics=metrics, per_patient=pp, frames=frames, thresholds=th)
