"""Section 9, the revenue forecast and its backtest."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
from IPython.display import HTML

from clinic_analysis.report import plots, theme
from clinic_analysis.report import present as P
from clinic_analysis.report.views.context import Context, _amounts, _no_amounts
from clinic_analysis.report.views.models import _models_off


def forecast_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    fc = c.audit.frames.get("forecast")
    if _models_off(c):
        return HTML("")
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


def forecast_table(c: Context) -> HTML:
    t, f = c.t, c.f
    fc = c.audit.frames.get("forecast")
    if fc is None:
        return HTML("")
    df = fc.copy()
    df["month"] = [f.month(m) for m in df["month"]]
    df["band"] = [
        f"{f.money_short(lo)} – {f.money_short(hi)}"
        for lo, hi in zip(df["no_action_low"], df["no_action_high"], strict=True)
    ]
    df = df[["month", "no_action", "band", "reactivation", "with_calls"]]
    return P.table(
        df,
        formats={k: f.money_short for k in ("no_action", "reactivation", "with_calls")},
        numeric=["band"],
        headers={k: t(f"fc.col.{k}") for k in df.columns},
    )


def backtest_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    bt = c.audit.frames.get("backtest")
    fm = c.audit.metrics.get("forecast", {}).get("backtest", {})
    if _models_off(c):
        return HTML("")
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
        cutoffs=f.number(len(fm.get("cutoffs", []))),
        inside=f.number(fm.get("inside", 0)),
        months=f.number(fm.get("months", 0)),
        mape=f.percent(fm.get("mape"), 1),
    )
    return HTML(P.figure(fig).data + P.callout(html.escape(text)).data)
