"""The sections of metrics.json the measures compute: ``base``, ``revenue``, ``activity``,
``repeat``, ``completeness``, ``history``, ``refusers``, ``followup`` and ``since_last``
(see :mod:`clinic_analysis.results` for ``metric``/``optional``/``table``).

Money is in the clinic's currency, rounded to 2 decimals; a money figure is ``None`` when
the visits carry no amounts ("not exported", never 0). Shares are fractions (0.25 = 25 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from clinic_analysis.results import Section, inline, metric, optional, table


@dataclass(kw_only=True)
class Base(Section):
    """The patient base: its size and how it moves."""

    patients: int = metric()  # patients under the patient rule
    patient_rule: str = metric()  # booked | came | paid: who counts as a patient
    by_rule: dict = metric()  # {rule: patients}; "paid" None without amounts
    visits: int = metric()  # visit days (one per patient and day), refunds excluded
    first_visit: str | None = metric()  # ISO date of the first visit; None without visits
    last_visit: str | None = metric()  # ISO date of the last visit; None without visits
    new_by_month: dict = metric()  # {YYYY-MM: patients first seen that month}
    active_base: int = metric()  # patients seen in the last 12 months
    growth_12m: float | None = metric()  # active base vs a year ago; None under two years
    new_last_12m: int = metric()  # patients first seen in the last 12 months
    new_prev_12m: int = metric()  # patients first seen in the 12 months before
    # {revenue target: base growth it needs}; {} with too little history; None without amounts
    required_growth_for_revenue: dict = metric()
    required_growth_inputs: dict = metric()  # retention and revenue per patient behind it
    flow_by_month: list = metric()  # [{month, new, recaptured, lost, net}] patients
    pre_appointment_rate: float | None = metric()  # share of visits booked ahead
    # added by issue 11 (figures the report used to compute):
    new_growth_12m: float | None = metric(None)  # new_last_12m / new_prev_12m - 1; None: no prev
    # {new, recaptured, lost}: patients over the last 12 months of flow_by_month; None: no flow
    flow_last_12m: dict | None = metric(None)
    active_by_month: pd.DataFrame | None = table()  # month, active patients (chart)
    flow: pd.DataFrame | None = table()  # the monthly flow behind flow_by_month (chart)


@dataclass(kw_only=True)
class Revenue(Section):
    """Money: visits minus refunds. Every figure None without amounts."""

    total: float | None = metric()  # net revenue over the whole export
    gross: float | None = metric()  # visits' amounts before refunds
    refunds: float | None = metric()  # refunded amounts (positive)
    net: float | None = metric()  # gross - refunds (= total)
    visit_days: int = metric()  # visit days the money belongs to
    refund_rows: int = metric()  # refund rows
    average_check: float | None = metric()  # net / visit days
    last_12m: float | None = metric()  # net revenue of the last 12 months
    prev_12m: float | None = metric()  # net revenue of the 12 months before
    growth_12m: float | None = metric()  # last_12m vs prev_12m; None under two years
    window_12m: dict = metric()  # the last-12-months window: start (excl.), end, its money
    first_visits: float | None = metric()  # revenue of patients' first visit days
    repeat_visits: float | None = metric()  # revenue of later visit days
    repeat_share: float | None = metric()  # repeat_visits / (first + repeat)
    # added by issue 11: YYYY-MM of the best month of the last 12 (monthly revenue)
    best_month_12m: str | None = metric(None)


@dataclass(kw_only=True)
class Activity(Section):
    """The activity index: patients by the phase of their last visit. With too little
    history only ``status`` and an empty ``mix_by_month`` are written."""

    status: str = optional()  # "too_little_history" when the phases cannot be read
    thresholds_days: dict = optional()  # {active, at_risk}: days since the last visit
    thresholds: dict = optional()  # the same with the percentiles, raw days and the cap
    threshold_source: str = optional()  # data | params | default
    intervals: int = optional()  # visit intervals the thresholds were read from
    counts: dict = optional()  # {phase: patients}
    revenue_12m: dict = optional()  # {phase: revenue of the last 12 months}; None no amounts
    mix_by_month: list = metric()  # [{month, phase: patients}] (empty: too little history)
    # added by issue 11 (figures the report used to compute); absent with too little history
    shares: dict = optional()  # {phase: share of the base}
    at_risk_patients: int = optional()  # at risk + lapsing
    lost_patients: int = optional()  # lost 1-2 years + lost over 2 years
    at_risk_revenue_12m: float | None = optional()  # their revenue of the last 12 months
    active_share_now: float | None = optional()  # active share, last month of the mix
    active_share_year_ago: float | None = optional()  # the same 12 months before; None: short
    phase_mix: pd.DataFrame | None = table()  # month x phase patients (chart)


@dataclass(kw_only=True)
class Repeat(Section):
    """The repeat index: who comes back, how soon, by group."""

    patients: int = metric()  # patients with a visit day
    rate: float | None = metric()  # share with two visit days or more, ever ("lifetime")
    rate_lifetime: float | None = metric()  # the same (named plainly)
    median_days_to_second: float | None = metric()  # days from the first to the second visit
    returned_within: dict = metric()  # {days: {eligible, returned, rate}}
    status_12m: str = metric()  # ok | too_little_history
    eligible_12m: int = metric()  # patients first seen 12 months ago or more
    returned_12m: int | None = metric()  # of them, back within 12 months; None: too short
    rate_12m: float | None = metric()  # the headline repeat rate; None: too little history
    rate_12m_ci: list | None = metric()  # [low, high] Wilson 95 % interval
    new_patient_retention: float | None = metric()  # retained share of monthly new patients
    retention_status: str = optional()  # "too_little_history" when not computed
    retention_mark: float = metric()  # the dental benchmark the chart marks
    min_group_size: int = metric()  # smaller groups are pooled as "other"
    breakdown_basis: str = metric()  # what the breakdowns count: returned_within_12m
    by_doctor: dict = optional()  # {group: {patients, rate, low, high}}
    by_service_line: dict = optional()  # the same by service line of the first visit
    by_channel: dict = optional()  # the same by channel (card)
    by_promo: dict = optional()  # promo vs non-promo channel
    by_cohort_year: dict = optional()  # by year of the first visit
    not_available: list = metric()  # breakdowns whose column was not exported
    # added by issue 11: {breakdown: groups pooled into "other"}
    pooled_groups: dict = metric(None)
    retention_by_month: pd.DataFrame | None = table()  # monthly cohorts: patients, retained
    days_to_second: pd.DataFrame | None = table()  # days_to_second per returning patient
    breakdowns: dict = table(dict)  # {by_doctor: table of groups, ...} (charts, tables)
    cohorts: pd.DataFrame | None = table()  # cohort x quarter retained share (heat map)


@dataclass(kw_only=True)
class Completeness(Section):
    """How complete the patient cards are."""

    fields: dict = metric()  # {field: share of cards filled}; None when not exported
    not_exported: list = metric()  # fields the export lacks
    contactable: float | None = metric()  # share reachable; None: no phone nor e-mail exported
    mean_score: float | None = metric()  # mean completeness score (0-1)
    by_year: dict = metric()  # {year of first visit: {field: share}}
    # added by issue 11: patients of the base nobody can reach; None: no contacts exported
    uncontactable: int | None = metric(None)
    by_year_table: pd.DataFrame | None = table()  # the same as a table (chart)


@dataclass(kw_only=True)
class History(Section):
    """How much history the data covers; time-based figures need enough of it."""

    months: float = metric()  # months from the first visit to the audit date
    min_months: int = metric()  # months the yearly figures need (params.history)
    enough: bool = metric()  # months >= min_months
    year_on_year_months: int = metric()  # months a year-on-year change needs
    year_on_year: bool = metric()  # months >= year_on_year_months


@dataclass(kw_only=True)
class Refusers(Section):
    """Refusers and the patients worth a call: segments, money at stake, potential."""

    counts: dict = metric()  # {segment: patients}
    unsegmented: int = metric()  # persons in no segment
    refusers_total: int = metric()  # patients in the refuser segments
    fresh_share: float | None = metric()  # of them, refused under 4 months ago
    plan_balance: dict = metric()  # {segment: open plan balance}; None without plan amounts
    stake: dict = metric()  # {segment: money at stake}
    age_months: dict = metric()  # {segment: {age bucket: patients}}
    refusal_reasons: dict = metric()  # {reason: refused plans}
    return_history: dict = metric()  # events, transactions, average_check, source
    rates: dict = metric()  # {segment: {scenario: return rate}}
    potential: dict = metric()  # {scenario: money}
    potential_by_segment: dict = metric()  # {segment: {scenario: money}}
    at_stake: dict = metric()  # money of open and refused plans over at_stake months
    delay_cost: dict = metric()  # the base scenario now, in 1 month, in 12 months
    model_value_12m: dict = optional()  # {segment: the models' CLV of the next 12 months}
    contactable: dict = optional()  # {segment: patients reachable}; None: no contacts
    # added by issue 11 (figures the report used to compute):
    shares: dict = metric(None)  # {segment: share of the persons segmented}
    frozen: float | None = metric(None)  # open balances + refused plans, however old
    potential_patients: int = metric(None)  # patients of the segments the potential reads
    segments: pd.DataFrame | None = table()  # per person: segment, priority, ...
    segment_ages: pd.DataFrame | None = table()  # segment x age bucket (chart)
    potential_table: pd.DataFrame | None = table()  # segment x scenario; None no amounts
    delay: pd.DataFrame | None = table()  # the cost of waiting by month; None no amounts


@dataclass(kw_only=True)
class Followup(Section):
    """What the previous audit's call lists achieved."""

    previous: dict | None = metric(None)  # {as_of, source, call_lists}; None: first audit
    by_segment: dict = metric(None)  # {segment: listed, called, booked, came, ...}
    outcomes: dict = optional()  # {outcome: rows on the filled-in lists}
    do_not_call_carried: int = optional()  # persons marked "do not call", carried forward
    # added by issue 11: {listed, called, not_found} over the segments (with a previous audit)
    totals: dict = optional()
    rows: pd.DataFrame | None = table()  # one row per listed patient and what happened
    do_not_call: list = table(list)  # persons who must not be called again

    def __post_init__(self) -> None:
        if self.by_segment is None:
            self.by_segment = {}


@dataclass(kw_only=True)
class SinceLast(Section):
    """The headline figures of the previous audit and this one."""

    # {figure: {then, now}}: base, active base, revenue, repeat rate, phases, segments;
    # empty when there is no previous audit
    figures: dict = inline()


@dataclass(kw_only=True)
class Calls(Section):
    """The call lists (call_lists.xlsx)."""

    sheets: dict = metric()  # {sheet: rows}
    uncontactable: dict = metric()  # {sheet: patients nobody can reach, left off the lists}
    # a call sheet longer than params calls.max_rows_per_sheet lists its first patients:
    listed: dict = optional()  # {cut sheet: patients listed in call_lists.xlsx}
    left_out: dict = optional()  # {cut sheet: patients counted in sheets but not listed}
    # one row per patient worth a call, ranked (measures/calls.py: call_table)
    table: pd.DataFrame | None = table()
