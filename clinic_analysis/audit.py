"""Compute: canonical tables -> one :class:`Audit` of typed sections (metrics.json is
serialised from them in one place, :func:`clinic_analysis.results.to_metrics`).

The cached, signed copy of an audit lives in :mod:`clinic_analysis.cache`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clinic_analysis.ingest import checks
from clinic_analysis.ingest.load import load_clinic
from clinic_analysis.ingest.results import Clinic, DataQuality, Ledger
from clinic_analysis.ingest.tables import ClinicData
from clinic_analysis.measures import gaps, readings, refusers, summary
from clinic_analysis.measures.activity import PHASES
from clinic_analysis.measures.compute import compute_measures
from clinic_analysis.measures.keys import PatientKeys
from clinic_analysis.measures.results import (
    Activity,
    Base,
    Calls,
    Completeness,
    Followup,
    History,
    Refusers,
    Repeat,
    Revenue,
    SinceLast,
)
from clinic_analysis.models.results import (
    Forecast,
    Models,
    base_figures,
    cluster_crosstabs,
    horizon_totals,
    model_readings,
)
from clinic_analysis.params import Params
from clinic_analysis.results import to_metrics

PACKAGE_DIR = Path(__file__).parent
PROJECT_DIR = PACKAGE_DIR.parent


# the sections of metrics.json, in order (one attribute of Audit each)
SECTIONS = (
    "clinic", "base", "revenue", "ledger", "data_quality", "activity", "repeat", "completeness",
    "history", "refusers", "forecast", "models", "calls", "followup", "since_last",
)  # fmt: skip


@dataclass
class Audit:
    """Everything the report presents: one typed section per section of metrics.json
    (``audit.repeat.rate_12m``), the tables the report draws inside them, and ``patients``,
    one row per patient (patients.parquet). ``metrics`` is the machine-readable twin of
    the report (metrics.json), serialised from the sections."""

    params: Params
    data: ClinicData
    patients: pd.DataFrame
    monthly: pd.DataFrame
    sources: pd.DataFrame
    reasons: pd.DataFrame
    clinic: Clinic | None = None
    base: Base | None = None
    revenue: Revenue | None = None
    ledger: Ledger | None = None
    data_quality: DataQuality | None = None
    activity: Activity | None = None
    repeat: Repeat | None = None
    completeness: Completeness | None = None
    history: History | None = None
    refusers: Refusers | None = None
    forecast: Forecast | None = None
    models: Models | None = None
    calls: Calls | None = None
    followup: Followup | None = None  # set by measures.followup.attach
    since_last: SinceLast | None = None  # set by measures.followup.attach
    cache_key: str = ""
    extras: dict = field(default_factory=dict)
    fits: object = None  # the one fitted model set (models.ModelSet)

    @property
    def metrics(self) -> dict:
        """metrics.json (read-only: a fresh dict; change the sections, not this)."""
        return to_metrics({name: getattr(self, name) for name in SECTIONS})


def compute_audit(params: Params, data: ClinicData | None = None) -> Audit:
    """Load (unless given) and compute every figure of the audit.

    The figures are computed on patients coded as integers (:mod:`measures.keys`: the
    same order, a fraction of the time and memory); the audit returned holds ``data`` as
    given and every per-patient table by patient id."""
    refusers.check_params(params)
    data = data if data is not None else load_clinic(params)
    keys, coded = PatientKeys.code(data)
    audit = _compute(params, coded)
    audit.data = data
    audit.patients = keys.decode_frame(audit.patients, index=False)
    audit.refusers.segments = keys.decode_frame(audit.refusers.segments)
    audit.repeat.days_to_second = keys.decode_frame(audit.repeat.days_to_second)
    audit.calls.table = keys.decode_frame(audit.calls.table)
    audit.fits = keys.decode_fits(audit.fits)
    return audit


def _compute(params: Params, data: ClinicData) -> Audit:
    """Every figure of the audit from the loaded ``data``."""
    days = summary.visit_days(data.visits)  # visits (not refunds), one per patient and day
    money = summary.money_rows(data.visits)  # visits and refunds: one definition of money
    patients = summary.patients_summary(data, days, money)
    rule = params.patient_rule
    base = patients[patients[rule]]
    from clinic_analysis.models.selection import ModelWork, compute_models, start_clustering

    # the model choice, the chosen model's fit and its backtest need only the visit days,
    # the clustering only the base's visit summary: they run in a child process and a
    # thread beside the measures (see ModelWork, start_clustering)
    models = ModelWork(params, days, base["patient_id"], data.as_of)  # forks: before threads
    clustering = start_clustering(params, base, data.as_of, rows=len(days))
    try:
        month = summary.monthly(data, days, money)
        by_rule = summary.base_by_rule(data.visits)
        has_amount = data.has("visits", "amount")
        totals = summary.money_totals(money, days, has_amount)
        measures = compute_measures(params, data, days, money, base)
        mm, mf = measures.metrics, measures.frames
        fits = models.fits()  # the one fitted set
        alive_spend = {"alive": fits.p_alive(), "spend": fits.spend} if fits.ok else {}
        ref = refusers.compute_refusers(
            params, data, days, measures.thresholds, money, **alive_spend
        )
        # one row per person with any visit record or plan; `in_base` follows the patient rule
        people = patients[patients["patient_id"].isin(ref.per_patient.index)].copy()
        people["in_base"] = people[rule]
        people = people.join(measures.per_patient, on="patient_id")
        people = people.join(
            ref.per_patient[["segment", "months_since_event", "open_plan_balance", "priority"]],
            on="patient_id",
        )
        mod = compute_models(
            params, fits, days, people, data.as_of, _reactivation(ref, fits),
            work=models, clustering=clustering,
        )  # fmt: skip
    finally:
        models.close()
    forecast = mod.metrics.pop("forecast", {"status": fits.status})
    people = people.join(mod.per_patient, on="patient_id")
    model_value = None
    if "clv_12m" in people:  # the models' expected value of each segment, next 12 months
        value = people.groupby("segment", observed=False)["clv_12m"].sum()
        model_value = {str(k): round(float(v), 2) for k, v in value.items()}
    audit = Audit(
        params=params,
        data=data,
        clinic=Clinic(
            name=params.clinic.name,
            slug=params.slug,
            as_of=data.as_of.date().isoformat(),
            currency=params.clinic.currency,
            language=params.clinic.language,
        ),
        base=Base.from_metrics(
            {
                "patients": int(len(base)),
                "patient_rule": rule,
                "by_rule": by_rule,
                "visits": int(len(days)),
                "first_visit": _iso(patients["first_visit"].min()),
                "last_visit": _iso(patients["last_visit"].max()),
                **mm["base"],
            },
            active_by_month=mf["active_by_month"],
            flow=mf["flow"],
        ),
        # total = net (gross of visits minus refunds); None when amounts are not exported
        revenue=Revenue.from_metrics(
            {
                "total": totals.as_metrics()["net"],
                **totals.as_metrics(),
                **mm["revenue"],
                "best_month_12m": readings.best_month(month.tail(12)) if has_amount else None,
            }
        ),
        ledger=Ledger(systems=_ledger_metrics(data)),
        data_quality=DataQuality(
            anomalies=checks.anomalies(data),
            warnings=checks.warnings(data),
            merges=checks.merges(data),
            identity=checks.identity(data),
            missing_tables=[t for t in ("visits", "patients", "plans") if not data.has(t)],
            rows=checks.row_totals(data),
        ),
        activity=Activity.from_metrics(mm["activity"], phase_mix=mf["phase_mix"]),
        repeat=Repeat.from_metrics(
            mm["repeat"],
            retention_by_month=mf["retention_by_month"],
            days_to_second=mf["days_to_second"],
            breakdowns={k[len("repeat_") :]: v for k, v in mf.items() if k.startswith("repeat_")},
            cohorts=mf["cohorts"],
        ),
        completeness=Completeness.from_metrics(
            mm["completeness"], by_year_table=mf["completeness_by_year"]
        ),
        history=History.from_metrics(mm["history"]),
        refusers=Refusers.from_metrics(
            {**ref.metrics, **_refuser_readings(ref.metrics)},
            segments=ref.per_patient,
            segment_ages=ref.frames["segment_ages"],
            potential_table=ref.frames["potential"],
            delay=ref.frames["delay"],
        ),
        forecast=Forecast.from_metrics(
            {**forecast, **horizon_totals(forecast)},
            by_month=mod.frames.get("forecast"),
            backtest_runs=mod.frames.get("backtest"),
        ),
        models=Models.from_metrics(
            model_readings(mod.metrics, base_figures(people, PHASES), cluster_crosstabs(people)),
            holdout_by_frequency=mod.frames.get("holdout_by_frequency"),
            frequency_fit=mod.frames.get("frequency_fit"),
            cluster_profile=mod.frames.get("cluster_profile"),
        ),
        patients=people.reset_index(drop=True),
        monthly=month,
        sources=summary.source_overview(data),
        reasons=summary.ledger_reasons(data),
        fits=fits,
    )
    if model_value is not None:
        audit.refusers.model_value_12m = model_value
    from clinic_analysis.measures.calls import call_metrics, call_table

    table = call_table(audit)  # the one call table: metrics, follow-up, file
    cap = audit.params.calls.max_rows_per_sheet
    audit.calls = Calls.from_metrics(call_metrics(table, cap), table=table)
    gaps.apply(audit)  # money "not exported" without amounts (never 0); who can be reached
    return audit


def _refuser_readings(m: dict) -> dict:
    return readings.refuser_readings(m["counts"], m["at_stake"], m["potential_by_segment"])


def _reactivation(ref, fits) -> pd.Series | None:
    """Per patient, what a call adds beyond the revenue the forecast's base layer already
    expects from them in 12 months (so no patient is counted twice)."""
    if not fits.ok:
        return None
    seg = ref.per_patient
    calls = seg[seg["segment"].isin(refusers.DEFAULT_RATES)]
    expected = (fits.expected_visits(365.25) * fits.spend).reindex(calls.index).fillna(0.0)
    return (calls["priority"] - expected).clip(lower=0)


def _iso(ts) -> str | None:
    return None if pd.isna(ts) else pd.Timestamp(ts).date().isoformat()


def _ledger_metrics(data: ClinicData) -> dict:
    out: dict = {}
    for e in data.ledger:
        d = e.as_dict()
        d.pop("path")
        slot = out.setdefault(e.system, {})
        if e.table in slot:  # several files of one table in one system: add them up
            prev = slot[e.table]
            prev["rows_in"] += d["rows_in"]
            prev["rows_kept"] += d["rows_kept"]
            prev["merged"] += d["merged"]
            for r, n in d["dropped"].items():
                prev["dropped"][r] = prev["dropped"].get(r, 0) + n
        else:
            slot[e.table] = {k: d[k] for k in ("rows_in", "rows_kept", "merged", "dropped")}
    return out
