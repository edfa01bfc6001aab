"""Section 2, the base at a glance: patients, visits and revenue month by month."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt

from clinic_analysis.report import plots, theme
from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Chart, Kpis, deferred
from clinic_analysis.report.views.context import (
    CHART_MONTHS,
    Context,
    _amounts,
    _money,
    _no_amounts,
    _pct_signed,
    _too_little,
)


def glance_kpis(c: Context) -> Kpis:
    base, revenue, t, f = c.audit.base, c.audit.revenue, c.t, c.f
    return P.kpis(
        [
            (f.number(base.patients), t("glance.kpi.patients")),
            (f.number(base.visits), t("glance.kpi.visits")),
            (_money(c, revenue.total), t("glance.kpi.revenue")),
            (_money(c, revenue.average_check, short=False), t("glance.kpi.average_check")),
        ]
    )


@deferred
def glance_monthly_chart(c: Context) -> Chart | Callout:
    t, f = c.t, c.f
    if not _amounts(c):
        return _no_amounts(c)
    fig, ax = plt.subplots(figsize=theme.WIDE)
    plots.plot_monthly(
        c.audit.monthly.tail(CHART_MONTHS),
        ax=ax,
        title=t("glance.chart.monthly"),
        bars_label=t("glance.axis.revenue"),
        line_label=t("glance.axis.patients"),
        money_fmt=f.money_short,
        number_fmt=f.number,
        month_fmt=f.month,
    )
    return P.figure(fig, t("glance.caption.monthly"))


@deferred
def glance_new_chart(c: Context) -> Chart:
    t, f = c.t, c.f
    fig, ax = plt.subplots(figsize=theme.WIDE)
    plots.plot_new_patients(
        c.audit.monthly.tail(CHART_MONTHS),
        ax=ax,
        title=t("glance.chart.new"),
        new_label=t("glance.axis.new"),
        base_label=t("glance.axis.base"),
        number_fmt=f.number,
        month_fmt=f.month,
    )
    return P.figure(fig, t("glance.caption.new"))


def glance_reading(c: Context) -> Callout:
    """A plain-language reading of the last 12 months against the 12 before."""
    t, f = c.t, c.f
    base, revenue, history = c.audit.base, c.audit.revenue, c.audit.history
    if not history.year_on_year:
        return _too_little(c, history.year_on_year_months)
    # the one "last 12 months" window (summary.last_12_months), as dynamics and activity
    new_l = base.new_last_12m
    if not _amounts(c):
        text = t(
            "honest.glance_no_amounts",
            new=f.number(new_l),
            new_change=_pct_signed(f, base.new_growth_12m),
        )
        return P.callout(html.escape(text))
    rev_l = revenue.last_12m
    change = revenue.growth_12m
    new_change = base.new_growth_12m
    key = "glance.reading_up" if (change or 0) >= 0 else "glance.reading_down"
    text = t(
        key,
        revenue=f.money_short(rev_l),
        change=f.percent(abs(change), 0) if change is not None else "—",
        new=f.number(new_l),
        new_change=(("+" if new_change >= 0 else "−") + f.percent(abs(new_change)))
        if new_change is not None
        else "—",
        best=f.month(revenue.best_month_12m, "wide"),
    )
    return P.callout(html.escape(text))
