"""What the data cannot tell: figures of columns that were not exported.

A clinic's export may lack the visit amounts (an appointments log). Every figure that needs
them is then "not exported": ``None`` in metrics.json (never 0), NaN per patient, and the
charts and tables built on money are dropped, so the report says so instead of printing
zero money. :func:`blank_money` is the one place that lists those figures; it runs once,
at the end of :func:`clinic_analysis.audit.compute_audit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clinic_analysis.measures.history import TOO_LITTLE_HISTORY
from clinic_analysis.models.results import Forecast

if TYPE_CHECKING:
    from clinic_analysis.audit import Audit
    from clinic_analysis.ingest.tables import ClinicData

NOT_EXPORTED = "not_exported"
# per-patient columns that are money (NaN without amounts)
MONEY_COLUMNS = ("revenue", "revenue_12m", "historic_value", "expected_spend", "clv_12m")
# model notes about money models, meaningless without amounts
MONEY_NOTES = ("gg_assumption_failed", "gg_q_below_one", "gg_not_converged", "forecast_failed")


def has_amounts(data: ClinicData) -> bool:
    """True when the visits carry their amounts."""
    return data.has("visits", "amount")


def has_plan_amounts(data: ClinicData) -> bool:
    return data.has("plans", "amount_total")


# leaves that count rows or name a window: they stay when amounts are missing
NOT_MONEY = frozenset({"visit_days", "refund_rows", "start", "end"})


def _nulls(d):
    """The same shape with every money leaf set to None (counts and dates stay)."""
    if isinstance(d, dict):
        return {k: v if k in NOT_MONEY else _nulls(v) for k, v in d.items()}
    return None


def _blank(section, *keys: str) -> None:
    """Set each money field of ``section`` that is set to its shape with None leaves."""
    for k in keys:
        if section.has(k):
            setattr(section, k, _nulls(getattr(section, k)))


def blank_money(audit: Audit) -> None:
    """Without visit amounts: every money figure becomes None / NaN and money charts go.
    Without plan amounts: the plan balances become None. Changes ``audit`` in place."""
    data = audit.data
    if not has_plan_amounts(data):
        _blank(audit.refusers, "plan_balance")
    if has_amounts(data):
        return
    rev = audit.revenue
    _blank(rev, *(k for k in rev.as_metrics() if k not in NOT_MONEY))
    base = audit.base
    if "paid" in base.by_rule:  # "paid" is read from the amounts
        base.by_rule["paid"] = None
    _blank(base, "required_growth_for_revenue")
    for k in ("revenue_per_retained", "revenue_per_new", "revenue_12m"):
        if k in base.required_growth_inputs:
            base.required_growth_inputs[k] = None
    _blank(audit.activity, "revenue_12m", "at_risk_revenue_12m")
    ref = audit.refusers
    _blank(ref, "stake", "potential", "potential_by_segment", "delay_cost", "model_value_12m")
    ref.return_history["average_check"] = None
    anomalies = audit.data_quality.anomalies
    for k in list(anomalies):
        if k.endswith("_amount") or "amount_" in k:
            anomalies[k] = None
    models = audit.models
    if models.status not in (TOO_LITTLE_HISTORY, None):  # ran: their money parts cannot
        models.gamma_gamma = {"status": NOT_EXPORTED}
        models.clv = {"status": NOT_EXPORTED}
        models.notes = [n for n in (models.notes or []) if n not in MONEY_NOTES]
        audit.forecast = Forecast(status=NOT_EXPORTED)
    ref.potential_table = None  # the money charts and tables go
    ref.delay = None
    audit.forecast.by_month = None
    audit.forecast.backtest_runs = None
    for col in MONEY_COLUMNS:
        if col in audit.patients:
            audit.patients[col] = np.nan
    if "revenue" in audit.monthly:
        audit.monthly["revenue"] = np.nan


def contact_reach(audit: Audit) -> dict[str, int | None]:
    """Patients per segment the clinic can reach (a valid phone or e-mail, no refusal of
    contact); None for every segment when neither phone nor e-mail is exported."""
    from clinic_analysis.measures.completeness import cards_for, contactable, field_flags
    from clinic_analysis.measures.refusers import SEGMENTS

    present = audit.data.present.get("patients", [])
    if not {"phone", "email"} & set(present):
        return {s: None for s in SEGMENTS}
    seg = audit.refusers.segments["segment"]
    cards = cards_for(audit.data.patients, seg.index)
    ok = contactable(cards, field_flags(cards, present, audit.params.clinic.phone_region))
    return {s: int(ok[seg == s].sum()) for s in SEGMENTS}


def apply(audit: Audit) -> None:
    """Mark what the export cannot tell: money without amounts (:func:`blank_money`), the
    segments nobody can be contacted in (``refusers.contactable``), and reachability
    without any phone or e-mail exported."""
    blank_money(audit)
    audit.refusers.contactable = contact_reach(audit)
    comp = audit.completeness
    if not {"phone", "email"} & set(audit.data.present.get("patients", [])):
        comp.contactable = None  # reachability is unknown, not 0%
        comp.uncontactable = None
        for year in comp.by_year.values():
            year.pop("contactable", None)
