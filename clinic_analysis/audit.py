"""Compute: canonical tables -> one :class:`Audit` result, cached on disk.

The cache key hashes the validated params, the bytes of every source file and the
library's own code, so that re-rendering after a notebook tweak skips the computation while
any change of inputs, params or code recomputes.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import __version__, checks, refusers, summary
from .load import load_clinic
from .measures import compute_measures
from .params import Params
from .tables import ClinicData

PACKAGE_DIR = Path(__file__).parent


@dataclass
class Audit:
    """Everything the report presents. ``metrics`` is the machine-readable twin of the
    report (written as metrics.json); ``patients`` one row per patient (patients.parquet)."""

    params: Params
    data: ClinicData
    metrics: dict
    patients: pd.DataFrame
    monthly: pd.DataFrame
    sources: pd.DataFrame
    reasons: pd.DataFrame
    frames: dict = field(default_factory=dict)  # tables the report draws (see measures.py)
    cache_key: str = ""
    extras: dict = field(default_factory=dict)
    fits: object = None  # the one fitted model set (models.ModelSet)


def compute_audit(params: Params, data: ClinicData | None = None) -> Audit:
    """Load (unless given) and compute every figure of the audit."""
    data = data if data is not None else load_clinic(params)
    days = summary.visit_days(data.visits)  # completed visits, one per patient and day
    patients = summary.patients_summary(data, days)
    rule = params.patient_rule
    base = patients[patients[rule]]
    month = summary.monthly(data, days)
    by_rule = summary.base_by_rule(data.visits)
    money = summary.revenue_rows(data.visits)
    visits_n = int(len(days))
    metrics = {
        "clinic": {
            "name": params.clinic.name,
            "slug": params.slug,
            "as_of": data.as_of.date().isoformat(),
            "currency": params.clinic.currency,
            "language": params.clinic.language,
        },
        "base": {
            "patients": int(len(base)),
            "patient_rule": rule,
            "by_rule": by_rule,
            "visits": visits_n,
            "first_visit": _iso(patients["first_visit"].min()),
            "last_visit": _iso(patients["last_visit"].max()),
        },
        "revenue": {
            "total": round(float(money["revenue"].sum()), 2),
            "refunds": round(float(money.loc[money["revenue"] < 0, "revenue"].abs().sum()), 2),
            "average_check": _ratio(
                money.loc[money["status"] == "completed", "revenue"].sum(), visits_n
            ),
        },
        "ledger": _ledger_metrics(data),
        "data_quality": {
            "anomalies": checks.anomalies(data),
            "warnings": checks.warnings(data),
            "merges": checks.merges(data),
            "missing_tables": [t for t in ("visits", "patients", "plans") if not data.has(t)],
        },
    }
    measures = compute_measures(params, data, days, money, base)
    for section, values in measures.metrics.items():
        metrics.setdefault(section, {}).update(values)
    from .models import compute_models, fit_models

    fits = fit_models(params, days, base["patient_id"], data.as_of)  # the one fitted set
    ref = refusers.compute_refusers(
        params, data, days, measures.thresholds, *((fits.p_alive(), fits.spend) if fits.ok else ())
    )
    metrics["refusers"] = ref.metrics
    # one row per person with any visit record or plan; `in_base` follows the patient rule
    people = patients[patients["patient_id"].isin(ref.per_patient.index)].copy()
    people["in_base"] = people[rule]
    people = people.join(measures.per_patient, on="patient_id")
    people = people.join(
        ref.per_patient[["segment", "months_since_event", "open_plan_balance", "priority"]],
        on="patient_id",
    )
    mod = compute_models(params, fits, days, people, data.as_of, _reactivation(ref, fits))
    metrics["forecast"] = mod.metrics.pop("forecast", {"status": fits.status})
    metrics["models"] = mod.metrics
    people = people.join(mod.per_patient, on="patient_id")
    if "clv_12m" in people:  # the models' expected value of each segment, next 12 months
        value = people.groupby("segment", observed=False)["clv_12m"].sum()
        metrics["refusers"]["model_value_12m"] = {
            str(k): round(float(v), 2) for k, v in value.items()
        }
    audit = Audit(
        params=params,
        data=data,
        metrics=metrics,
        frames={**measures.frames, **ref.frames, **mod.frames, "segments": ref.per_patient},
        patients=people.reset_index(drop=True),
        monthly=month,
        sources=summary.source_overview(data),
        reasons=summary.ledger_reasons(data),
        fits=fits,
    )
    from .calllists import call_table, sheet_counts

    metrics["calls"] = {"sheets": sheet_counts(call_table(audit))}
    return audit


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


def _ratio(a, b) -> float | None:
    return round(float(a) / b, 2) if b else None


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


# ----------------------------------------------------------------------------- cache


def code_fingerprint() -> str:
    """Hash of the library's Python code: a code change invalidates cached audits."""
    h = hashlib.sha256(__version__.encode())
    for p in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(p.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(params: Params, code: str | None = None) -> str:
    """sha256 over the validated params, each source file's bytes, and the code."""
    h = hashlib.sha256()
    h.update(params.fingerprint().encode())
    for s in params.sources:
        for path in [s.path, *(lk.path for lk in s.lookups.values())]:
            h.update(str(path).encode())
            h.update(file_digest(path).encode() if path.exists() else b"missing")
    h.update((code or code_fingerprint()).encode())
    return h.hexdigest()


def get_audit(params: Params, cache_dir: Path) -> tuple[Audit, bool]:
    """The audit for these params: from the cache when inputs are unchanged, else computed
    and stored. Returns ``(audit, cache_hit)``."""
    key = cache_key(params)
    cache_dir = Path(cache_dir)
    path = cache_dir / f"audit-{key[:20]}.pkl"
    if path.exists():
        try:
            with path.open("rb") as fh:
                audit = pickle.load(fh)
            if isinstance(audit, Audit) and audit.cache_key == key:
                return audit, True
        except Exception:  # noqa: BLE001 - a corrupt cache entry is recomputed
            pass
    audit = compute_audit(params)
    audit.cache_key = key
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(audit, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    for old in cache_dir.glob("audit-*.pkl"):
        if old != path:
            old.unlink(missing_ok=True)
    return audit, False
