"""Section 4, the activity index: active, at risk and lapsed patients."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
from IPython.display import HTML

from clinic_analysis.measures.history import TOO_LITTLE_HISTORY
from clinic_analysis.report import plots, theme
from clinic_analysis.report import present as P
from clinic_analysis.report.views.context import Context, _amounts, _covered, _money, _too_little


def activity_intro(c: Context) -> HTML:
    t, f = c.t, c.f
    a = c.audit.metrics["activity"]
    if a.get("status") == TOO_LITTLE_HISTORY:
        return _too_little(c)
    th = a["thresholds_days"]
    key = {"data": "act.rule_data", "params": "act.rule_params", "default": "act.rule_default"}[
        a["threshold_source"]
    ]
    full = a.get("thresholds", {})
    if full.get("capped"):
        both = full["active_percentile_days"] > th["active"]
        key = "act.rule_capped_both" if both else "act.rule_capped"
    text = t(
        key,
        a=f.number(th["active"]),
        b=f.number(th["at_risk"]),
        n=f.number(a["intervals"]),
        pa=f.number(round(100 * full.get("active_percentile", 0.75))),
        pb=f.number(round(100 * full.get("at_risk_percentile", 0.9))),
        raw_a=f.number(full.get("active_percentile_days")),
        raw_b=f.number(full.get("at_risk_percentile_days")),
        cap=f.number(full.get("cap_days")),
    )
    return P.paragraph(html.escape(text), muted=True)


def activity_table(c: Context) -> HTML:
    import pandas as pd

    from clinic_analysis.measures.activity import PHASES

    t, f = c.t, c.f
    a = c.audit.metrics["activity"]
    if a.get("status") == TOO_LITTLE_HISTORY:
        return HTML("")  # the section's intro says why
    th = a["thresholds_days"]
    total = sum(a["counts"].values()) or 1
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
            "patients": [a["counts"][p] for p in PHASES],
            "share": [a["counts"][p] / total for p in PHASES],
            "revenue": [a["revenue_12m"][p] for p in PHASES],
            "action": [t(f"act.action.{p}") for p in PHASES],
        }
    )
    return P.table(
        df,
        formats={"patients": f.number, "share": f.percent, "revenue": lambda x: _money(c, x)},
        headers={k: t(f"act.col.{k}") for k in df.columns},
    )


def activity_mix_chart(c: Context) -> HTML:
    from clinic_analysis.measures.activity import PHASES

    t, f = c.t, c.f
    mix = _covered(c, c.audit.frames.get("phase_mix"))
    if mix is None or mix.empty:
        return HTML("")  # too little history: the section's intro says why
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


def activity_reading(c: Context) -> HTML:
    t, f = c.t, c.f
    a = c.audit.metrics["activity"]
    if a.get("status") == TOO_LITTLE_HISTORY:
        return HTML("")
    mix = _covered(c, c.audit.frames.get("phase_mix"))
    counts = a["counts"]
    total = sum(counts.values()) or 1
    trend = ""
    if mix is not None and len(mix) >= 13:
        share_now = mix["active"].iloc[-1] / max(mix[list(counts)].iloc[-1].sum(), 1)
        share_then = mix["active"].iloc[-13] / max(mix[list(counts)].iloc[-13].sum(), 1)
        key = "act.trend_up" if share_now >= share_then else "act.trend_down"
        trend = " " + t(key, now=f.percent(share_now), then=f.percent(share_then))
    fields = dict(
        active=f.percent(counts["active"] / total),
        risk=f.number(counts["at_risk"] + counts["lapsing"]),
        lost=f.number(counts["lost_1y"] + counts["lost_2y"]),
    )
    if _amounts(c):
        rev = a["revenue_12m"]
        text = t(
            "act.reading", risk_revenue=f.money_short(rev["at_risk"] + rev["lapsing"]), **fields
        )
    else:
        text = t("honest.act_reading_no_amounts", **fields)
    return P.callout(html.escape(text + trend))
