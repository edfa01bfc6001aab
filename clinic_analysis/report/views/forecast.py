"""Section 9, the revenue forecast and its backtest."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt

from clinic_analysis.report import plots, theme
from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Chart, Group, Table, deferred
from clinic_analysis.report.views.context import Context, _amounts, _no_amounts
from clinic_analysis.report.views.models import _models_off


@deferred
def forecast_chart(c: Context) -> Chart | Callout | Group:
    t, f = c.t, c.f
    fc = c.audit.forecast.by_month
    if _models_off(c):
        return Group([])
    if not _amounts(c):
        return _no_amounts(c)
    if fc is None:
        return P.callout(html.escape(t("mod.no_forecast")), kind="warn")
    fig, ax = plt.subplots(figsize=theme.WIDE)
    plots.plot_forecast(
        fc,
        ax=ax,
        title=t("mod.chart.forecast"),
        labels={k: t(f"fc.line.{k}") for k in ("no_action", "with_calls", "band")},
        money_fmt=f.money_short,
        month_fmt=f.month,
    )
    return P.figure(fig, t("fc.caption"))


def forecast_table(c: Context) -> Table | Group:
    """Month by month: revenue with no action, its band ``(low, high)``, what the calls
    add and the total with calls. The month is its label (text, left-aligned)."""
    t, f = c.t, c.f
    fc = c.audit.forecast.by_month
    if fc is None:
        return Group([])
    df = fc.copy()
    df["month"] = [f.month(m) for m in df["month"]]
    df["band"] = list(zip(df["no_action_low"], df["no_action_high"], strict=True))
    df = df[["month", "no_action", "band", "reactivation", "with_calls"]]
    return P.table(
        df,
        formats={
            **{k: f.money_short for k in ("no_action", "reactivation", "with_calls")},
            "band": lambda b: f"{f.money_short(b[0])} – {f.money_short(b[1])}",
        },
        headers={k: t(f"fc.col.{k}") for k in df.columns},
    )


@deferred
def backtest_chart(c: Context) -> Group | Callout:
    t, f = c.t, c.f
    bt = c.audit.forecast.backtest_runs
    fm = c.audit.forecast.backtest or {}
    if _models_off(c):
        return Group([])
    if not _amounts(c):
        return _no_amounts(c)
    if bt is None or bt.empty:
        return P.callout(html.escape(t("fc.no_backtest")), kind="warn")
    fig, ax = plt.subplots(figsize=(10, 3.2))
    plots.plot_backtest(
        bt,
        ax=ax,
        title=t("fc.chart.backtest"),
        actual_label=t("mod.actual"),
        predicted_label=t("mod.predicted"),
        money_fmt=f.money_short,
        month_fmt=f.month,
    )
    text = t(
        "fc.backtest_reading",
        cutoffs=f.number(len(fm.get("cutoffs", []))),  # the cut-offs metrics.json lists
        inside=f.number(fm.get("inside", 0)),
        months=f.number(fm.get("months", 0)),
        mape=f.percent(fm.get("mape"), 1),
    )
    return Group([P.figure(fig), P.callout(html.escape(text))])
