"""Section 3, base dynamics: inflow, outflow, the growth the revenue needs."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import pandas as pd

from clinic_analysis.report import plots, theme
from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Chart, Group, Kpis, Table, deferred
from clinic_analysis.report.views.context import (
    Context,
    _amounts,
    _covered,
    _enough,
    _money,
    _no_amounts,
    _pct_signed,
    _too_little,
)


def _yoy(c: Context, x) -> str:
    """A year-on-year change, or "too little history" when two years are not covered."""
    if not c.audit.history.year_on_year:
        return c.t("honest.too_little_history_short")
    return _pct_signed(c.f, x)


def dynamics_kpis(c: Context) -> Kpis:
    base, t, f = c.audit.base, c.t, c.f
    return P.kpis(
        [
            (f.number(base.active_base), t("dyn.kpi.active_base")),
            (_yoy(c, base.growth_12m), t("dyn.kpi.base_growth")),
            (
                _yoy(c, c.audit.revenue.growth_12m) if _amounts(c) else _money(c, None),
                t("dyn.kpi.revenue_growth"),
            ),
            (f.percent(base.pre_appointment_rate), t("dyn.kpi.pre_appointment")),
        ]
    )


@deferred
def dynamics_flow_chart(c: Context) -> Chart | Callout:
    t, f = c.t, c.f
    flow = c.audit.base.flow
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


def required_growth_table(c: Context) -> Table | Callout:
    t, f = c.t, c.f
    req = c.audit.base.required_growth_for_revenue
    if not _amounts(c):
        return _no_amounts(c)
    if not _enough(c):
        return _too_little(c)
    if not req:
        return P.callout(html.escape(t("dyn.required_na")), kind="warn")
    df = pd.DataFrame({"target": [float(k) for k in req], "base": list(req.values())})
    return P.table(
        df,
        formats={"target": f.percent, "base": f.percent},
        headers={"target": t("dyn.col.revenue_target"), "base": t("dyn.col.base_needed")},
    )


def required_growth_reading(c: Context) -> Callout | Group:
    t, f = c.t, c.f
    base = c.audit.base
    req, inp = base.required_growth_for_revenue, base.required_growth_inputs
    if not req or not _amounts(c) or not _enough(c):
        return Group([])
    text = t(
        "dyn.required_reading",
        retention=f.percent(inp["retention"]),
        v_ret=f.money(inp["revenue_per_retained"]),
        v_new=f.money(inp["revenue_per_new"]),
        need20=f.percent(req["0.2"]),
    )
    return P.callout(html.escape(text))


def dynamics_reading(c: Context) -> Callout | Group:
    t, f = c.t, c.f
    base, history = c.audit.base, c.audit.history
    flow = base.flow
    if flow is None or flow.empty:
        return Group([])
    last12 = base.flow_last_12m
    fields = dict(
        new=f.number(last12["new"]),
        recaptured=f.number(last12["recaptured"]),
        lost=f.number(last12["lost"]),
        pre=f.percent(base.pre_appointment_rate),
    )
    if history.year_on_year:
        text = t("dyn.reading", net=_pct_signed(f, base.growth_12m), **fields)
    else:  # the months covered only: no year-on-year change
        text = t("honest.dyn_reading_short", months=f.number(history.months, 1), **fields)
    return P.callout(html.escape(text))
