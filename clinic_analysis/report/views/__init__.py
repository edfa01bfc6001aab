"""Section views: the report's tables, charts and plain-language readings, in the client's
language, one module per report section. Each view takes a :class:`Context` (the audit, the
catalogue ``t`` and formatter ``f``) and returns an element of
:mod:`clinic_analysis.report.elements` to ``display``: a ``Table`` keeps its numbers in
``.frame``, a ``Chart`` its matplotlib ``.figure`` (restyle it and show it again), a reading
is a ``Callout`` or ``Paragraph``, several parts a ``Group``, and nothing to show an empty
``Group``. Views read the audit's typed results (``c.audit.repeat.rate_12m``) and present
them; they compute no figure (every figure printed is in metrics.json). The notebook
imports this package as ``V``."""

from clinic_analysis.report.views.about import (
    about_data_intro,
    anomalies_table,
    base_by_rule_table,
    base_rule_note,
    ledger_table,
    merges_note,
    sources_table,
    warnings_block,
)
from clinic_analysis.report.views.activity import (
    activity_intro,
    activity_mix_chart,
    activity_reading,
    activity_table,
)
from clinic_analysis.report.views.completeness import (
    completeness_by_year_table,
    completeness_chart,
    completeness_kpis,
    completeness_reading,
)
from clinic_analysis.report.views.context import Context
from clinic_analysis.report.views.dynamics import (
    dynamics_flow_chart,
    dynamics_kpis,
    dynamics_reading,
    required_growth_reading,
    required_growth_table,
)
from clinic_analysis.report.views.followup import (
    followup_intro,
    followup_note,
    followup_table,
    since_last_table,
    uncontactable_note,
)
from clinic_analysis.report.views.forecast import backtest_chart, forecast_chart, forecast_table
from clinic_analysis.report.views.glance import (
    glance_kpis,
    glance_monthly_chart,
    glance_new_chart,
    glance_reading,
)
from clinic_analysis.report.views.models import (
    cluster_crosstab,
    clusters_block,
    clv_chart,
    frequency_fit_chart,
    gamma_gamma_note,
    holdout_chart,
    model_choice_table,
    models_intro,
    models_kpis,
    p_alive_by_phase,
    phases_agree,
)
from clinic_analysis.report.views.refusers import (
    action_plan_note,
    action_plan_table,
    delay_chart,
    plans_missing_note,
    potential_method,
    refusal_reasons_table,
    refusers_kpis,
    refusers_reading,
    scenarios_table,
    segment_ages_chart,
    segments_table,
    unreachable_note,
)
from clinic_analysis.report.views.repeat import (
    repeat_breakdown,
    repeat_cohort_chart,
    repeat_days_chart,
    repeat_kpis,
    repeat_reading,
    repeat_retention_chart,
)
from clinic_analysis.report.views.summary import executive_summary, glossary, methodology_appendix

__all__ = [
    "Context",
    "about_data_intro",
    "sources_table",
    "ledger_table",
    "base_by_rule_table",
    "base_rule_note",
    "merges_note",
    "anomalies_table",
    "warnings_block",
    "glance_kpis",
    "glance_monthly_chart",
    "glance_new_chart",
    "glance_reading",
    "dynamics_kpis",
    "dynamics_flow_chart",
    "required_growth_table",
    "required_growth_reading",
    "dynamics_reading",
    "activity_intro",
    "activity_table",
    "activity_mix_chart",
    "activity_reading",
    "repeat_kpis",
    "repeat_reading",
    "repeat_days_chart",
    "repeat_retention_chart",
    "repeat_breakdown",
    "repeat_cohort_chart",
    "completeness_kpis",
    "completeness_chart",
    "completeness_by_year_table",
    "completeness_reading",
    "refusers_kpis",
    "refusers_reading",
    "segments_table",
    "unreachable_note",
    "segment_ages_chart",
    "scenarios_table",
    "potential_method",
    "delay_chart",
    "refusal_reasons_table",
    "plans_missing_note",
    "action_plan_table",
    "action_plan_note",
    "models_intro",
    "model_choice_table",
    "models_kpis",
    "p_alive_by_phase",
    "phases_agree",
    "holdout_chart",
    "frequency_fit_chart",
    "gamma_gamma_note",
    "clv_chart",
    "clusters_block",
    "cluster_crosstab",
    "forecast_chart",
    "forecast_table",
    "backtest_chart",
    "followup_intro",
    "followup_table",
    "followup_note",
    "since_last_table",
    "uncontactable_note",
    "executive_summary",
    "methodology_appendix",
    "glossary",
]
