"""Section 4, the activity index: active, at risk and lapsed patients."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import pandas as pd

from clinic_analysis.measures.activity import PHASES
from clinic_analysis.measures.history import TOO_LITTLE_HISTORY
from clinic_analysis.report import plots, theme
from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Chart, Group, Paragraph, Table, deferred
from clinic_analysis.report.views.context import Context, _amounts, _covered, _money, _too_little


def activity_intro(c: Context) -> Paragraph | Callout:
    t, f = c.t, c.f
    a = c.audit.activity
    if a.status == TOO_LITTLE_HISTORY:
        return _too_little(c)
    th = a.thresholds_days
    key = {"data": "act.rule_data", "params": "act.rule_params", "default": "act.rule_default"}[
        a.threshold_source
    ]
    full = a.thresholds or {}
    if full.get("capped"):
        both = full["active_percentile_days"] > th["active"]
        key = "act.rule_capped_both" if both else "act.rule_capped"
    text = t(
        key,
        a=f.number(th["active"]),
        b=f.number(th["at_risk"]),
        n=f.number(a.intervals),
        pa=f.number(round(100 * full.get("active_percentile", 0.75))),
        pb=f.number(round(100 * full.get("at_risk_percentile", 0.9))),
        raw_a=f.number(full.get("active_percentile_days")),
        raw_b=f.number(full.get("at_risk_percentile_days")),
        cap=f.number(full.get("cap_days")),
    )
    return P.paragraph(html.escape(text), muted=True)


def activity_table(c: Context) -> Table | Group:
    t, f = c.t, c.f
    a = c.audit.activity
    if a.status == TOO_LITTLE_HISTORY:
        return Group([])  # the section's intro says why
    th = a.thresholds_days
    ranges = {
        "active": f"≤ {th['active']}",
        "at_risk": f"{th['active'] + 1}–{th['at_risk']}",
        "lapsing": f"{th['at_risk'] + 1}–365",
        "lost_1y": "366–730",
        "lost_2y": "> 730",
    }
    df = pd.DataFrame(
        {
            "phase": [t(f"act.phase.{p}") for p in PHASES],
            "days": [ranges[p] for p in PHASES],
            "patients": [a.counts[p] for p in PHASES],
            "share": [a.shares[p] for p in PHASES],
            "revenue": [a.revenue_12m[p] for p in PHASES],
            "action": [t(f"act.action.{p}") for p in PHASES],
        }
    )
    return P.table(
        df,
        formats={"patients": f.number, "share": f.percent, "revenue": lambda x: _money(c, x)},
        headers={k: t(f"act.col.{k}") for k in df.columns},
    )


@deferred
def activity_mix_chart(c: Context) -> Chart | Group:
    t, f = c.t, c.f
    mix = _covered(c, c.audit.activity.phase_mix)
    if mix is None or mix.empty:
        return Group([])  # too little history: the section's intro says why
    fig, ax = plt.subplots(figsize=theme.WIDE)
    plots.plot_phase_mix(
        mix,
        list(PHASES),
        ax=ax,
        title=t("act.chart.mix"),
        labels={p: t(f"act.phase.{p}") for p in PHASES},
        number_fmt=f.number,
        month_fmt=f.month,
    )
    return P.figure(fig, t("act.caption.mix"))


def activity_reading(c: Context) -> Callout | Group:
    t, f = c.t, c.f
    a = c.audit.activity
    if a.status == TOO_LITTLE_HISTORY:
        return Group([])
    act = a
    trend = ""
    if act.active_share_year_ago is not None:
        share_now, share_then = act.active_share_now, act.active_share_year_ago
        key = "act.trend_up" if share_now >= share_then else "act.trend_down"
        trend = " " + t(key, now=f.percent(share_now), then=f.percent(share_then))
    fields = dict(
        active=f.percent(act.shares["active"]),
        risk=f.number(act.at_risk_patients),
        lost=f.number(act.lost_patients),
    )
    if _amounts(c):
        risk_revenue = f.money_short(act.at_risk_revenue_12m)
        text = t("act.reading", risk_revenue=risk_revenue, **fields)
    else:
        text = t("honest.act_reading_no_amounts", **fields)
    return P.callout(html.escape(text + trend))
