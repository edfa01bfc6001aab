"""Section 3, base dynamics: inflow, outflow, the growth the revenue needs."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
from IPython.display import HTML

from clinic_analysis.report import plots, theme
from clinic_analysis.report import present as P
from clinic_analysis.report.views.context import (
    Context,
    _amounts,
    _covered,
    _enough,
    _history,
    _money,
    _no_amounts,
    _pct_signed,
    _too_little,
)


def _yoy(c: Context, x) -> str:
    """A year-on-year change, or "too little history" when two years are not covered."""
    if not _history(c).get("year_on_year", True):
        return c.t("honest.too_little_history_short")
    return _pct_signed(c.f, x)


def dynamics_kpis(c: Context) -> HTML:
    m, t, f = c.audit.metrics, c.t, c.f
    return P.kpis(
        [
            (f.number(m["base"]["active_base"]), t("dyn.kpi.active_base")),
            (_yoy(c, m["base"]["growth_12m"]), t("dyn.kpi.base_growth")),
            (
                _yoy(c, m["revenue"]["growth_12m"]) if _amounts(c) else _money(c, None),
                t("dyn.kpi.revenue_growth"),
            ),
            (f.percent(m["base"]["pre_appointment_rate"]), t("dyn.kpi.pre_appointment")),
        ]
    )


def dynamics_flow_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    flow = c.audit.frames.get("flow")
    if flow is None or flow.empty:
        return P.callout(html.escape(t("dyn.no_data")), kind="warn")
    flow = _covered(c, flow)
    fig, ax = plt.subplots(figsize=theme.WIDE)
    plots.plot_flow(
        flow,
        ax=ax,
        title=t("dyn.chart.flow"),
        labels={k: t(f"dyn.flow.{k}") for k in ("new", "recaptured", "lost", "net")},
        number_fmt=f.number,
        month_fmt=f.month,
    )
    return P.figure(fig, t("dyn.caption.flow"))


def required_growth_table(c: Context) -> HTML:
    import pandas as pd

    t, f = c.t, c.f
    req = c.audit.metrics["base"]["required_growth_for_revenue"]
    if not _amounts(c):
        return _no_amounts(c)
    if not _enough(c):
        return _too_little(c)
    if not req:
        return P.callout(html.escape(t("dyn.required_na")), kind="warn")
    df = pd.DataFrame(
        {
            "target": [f.percent(float(k)) for k in req],
            "base": [f.percent(v) for v in req.values()],
        }
    )
    return P.table(
        df,
        numeric=["target", "base"],
        headers={"target": t("dyn.col.revenue_target"), "base": t("dyn.col.base_needed")},
    )


def required_growth_reading(c: Context) -> HTML:
    t, f = c.t, c.f
    m = c.audit.metrics["base"]
    req, inp = m["required_growth_for_revenue"], m["required_growth_inputs"]
    if not req or not _amounts(c) or not _enough(c):
        return HTML("")
    text = t(
        "dyn.required_reading",
        retention=f.percent(inp["retention"]),
        v_ret=f.money(inp["revenue_per_retained"]),
        v_new=f.money(inp["revenue_per_new"]),
        need20=f.percent(req["0.2"]),
    )
    return P.callout(html.escape(text))


def dynamics_reading(c: Context) -> HTML:
    t, f = c.t, c.f
    m = c.audit.metrics
    flow = c.audit.frames.get("flow")
    if flow is None or flow.empty:
        return HTML("")
    last12 = flow.tail(12)
    fields = dict(
        new=f.number(last12["new"].sum()),
        recaptured=f.number(last12["recaptured"].sum()),
        lost=f.number(last12["lost"].sum()),
        pre=f.percent(m["base"]["pre_appointment_rate"]),
    )
    if _history(c).get("year_on_year", True):
        text = t("dyn.reading", net=_pct_signed(f, m["base"]["growth_12m"]), **fields)
    else:  # the months covered only: no year-on-year change
        text = t(
            "honest.dyn_reading_short", months=f.number(_history(c).get("months"), 1), **fields
        )
    return P.callout(html.escape(text))
