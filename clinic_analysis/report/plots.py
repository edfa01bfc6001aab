"""Charts: each ``plot_x(data, ax=None, **labels) -> Axes``; style from one theme.

Call :func:`~clinic_analysis.report.theme.set_report_theme` once per kernel; labels come from the string catalogue.
No backend is forced: in a Jupyter kernel (papermill too) matplotlib uses the inline backend,
so an analyst's ``plt.show()`` reaches the report; without a display it falls back to Agg.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from clinic_analysis.report.theme import chart_axes, month_axis
from clinic_analysis.report.theme import colours as theme_colours


def plot_monthly(
    monthly: pd.DataFrame,
    ax: Axes | None = None,
    *,
    title: str = "",
    bars_label: str = "revenue",
    line_label: str = "patients",
    money_fmt=lambda v: f"{v:,.0f}",
    number_fmt=lambda v: f"{v:,.0f}",
    month_fmt=lambda d: d.strftime("%m.%Y"),
) -> Axes:
    """Revenue by month as bars, patients seen by month as a line on a second axis."""
    ax = chart_axes(ax)
    colours = theme_colours()
    x = monthly["month"]
    ax.bar(x, monthly["revenue"], width=20, color=colours[0], alpha=0.85, label=bars_label)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_fmt(v)))
    ax.set_ylabel(bars_label)
    ax2 = ax.twinx()
    ax2.plot(x, monthly["patients"], color=colours[1], lw=2, label=line_label)
    ax2.set_ylim(bottom=0)
    ax2.grid(False)
    ax2.spines["top"].set_visible(False)
    ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number_fmt(v)))
    ax2.set_ylabel(line_label)
    month_axis(ax, month_fmt, x)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(handles, labels, loc="upper left")
    if title:
        ax.set_title(title)
    return ax


def plot_new_patients(
    monthly: pd.DataFrame,
    ax: Axes | None = None,
    *,
    title: str = "",
    new_label: str = "new patients",
    base_label: str = "cumulative base",
    number_fmt=lambda v: f"{v:,.0f}",
    month_fmt=lambda d: d.strftime("%m.%Y"),
) -> Axes:
    """New patients per month (bars) and the cumulative base (line, right axis)."""
    ax = chart_axes(ax)
    colours = theme_colours()
    ax.bar(monthly["month"], monthly["new_patients"], width=20, color=colours[2], label=new_label)
    ax.set_ylabel(new_label)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number_fmt(v)))
    ax2 = ax.twinx()
    ax2.plot(monthly["month"], monthly["base"], color=colours[0], lw=2, label=base_label)
    ax2.set_ylim(bottom=0)
    ax2.grid(False)
    ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number_fmt(v)))
    ax2.set_ylabel(base_label)
    month_axis(ax, month_fmt, monthly["month"])
    h = ax.get_legend_handles_labels()
    h2 = ax2.get_legend_handles_labels()
    ax.legend(h[0] + h2[0], h[1] + h2[1], loc="upper left")
    if title:
        ax.set_title(title)
    return ax


def plot_flow(
    flow: pd.DataFrame,
    ax: Axes | None = None,
    *,
    title: str = "",
    labels: dict[str, str] | None = None,
    number_fmt=lambda v: f"{v:,.0f}",
    month_fmt=lambda d: d.strftime("%m.%Y"),
) -> Axes:
    """Monthly flow: new and recaptured above zero, lost below, net as a line."""
    ax = chart_axes(ax)
    labels = labels or {}
    c = theme_colours()
    x = flow["month"]
    ax.bar(x, flow["new"], width=20, color=c[0], label=labels.get("new", "new"))
    ax.bar(
        x,
        flow["recaptured"],
        width=20,
        bottom=flow["new"],
        color=c[2],
        label=labels.get("recaptured", "recaptured"),
    )
    ax.bar(x, -flow["lost"], width=20, color=c[1], label=labels.get("lost", "lost"))
    ax.plot(x, flow["net"], color=c[4], lw=2, marker="o", ms=3, label=labels.get("net", "net"))
    ax.axhline(0, color="#666", lw=0.8)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number_fmt(v)))
    month_axis(ax, month_fmt, x)
    ax.legend(loc="upper left", ncols=4)
    if title:
        ax.set_title(title)
    return ax


def plot_phase_mix(
    mix: pd.DataFrame,
    phases: list[str],
    ax: Axes | None = None,
    *,
    title: str = "",
    labels: dict[str, str] | None = None,
    number_fmt=lambda v: f"{v:,.0f}",
    month_fmt=lambda d: d.strftime("%m.%Y"),
) -> Axes:
    """Patients per activity phase at each month end, stacked."""
    ax = chart_axes(ax)
    labels = labels or {}
    colours = ["#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#8d99ae"]
    ax.stackplot(
        mix["month"],
        *[mix[p] for p in phases],
        colors=colours[: len(phases)],
        labels=[labels.get(p, p) for p in phases],
        alpha=0.9,
    )
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number_fmt(v)))
    month_axis(ax, month_fmt, mix["month"])
    ax.legend(loc="upper left", ncols=len(phases), fontsize=8)
    ax.set_ylim(0, mix[phases].sum(axis=1).max() * 1.18)
    if title:
        ax.set_title(title)
    return ax


def plot_days_to_second(
    days: pd.Series,
    ax: Axes | None = None,
    *,
    title: str = "",
    xlabel: str = "days",
    ylabel: str = "patients",
    median_label: str = "median",
    limit: int = 730,
) -> Axes:
    """Histogram of days from the first to the second visit (first two years)."""
    ax = chart_axes(ax)
    d = days[days <= limit]
    ax.hist(d, bins=range(0, limit + 15, 15), color=theme_colours()[0], alpha=0.85)
    med = float(days.median()) if len(days) else None
    if med is not None:
        ax.axvline(med, color=theme_colours()[1], lw=2, ls="--", label=f"{median_label}: {med:.0f}")
        ax.legend(loc="upper right")
    for w in (90, 180, 365):
        ax.axvline(w, color="#999", lw=0.8, ls=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def plot_retention(
    ret: pd.DataFrame,
    ax: Axes | None = None,
    *,
    title: str = "",
    mark: float = 0.6,
    mark_label: str = "60%",
    rate_label: str = "retention",
    pct_fmt=lambda v: f"{v:.0%}",
    month_fmt=lambda d: d.strftime("%m.%Y"),
) -> Axes:
    """New-patient 12-month retention by month of first visit, with the industry mark."""
    ax = chart_axes(ax)
    c = theme_colours()
    ax.plot(ret["month"], ret["rate"], color=c[0], lw=2, marker="o", ms=3, label=rate_label)
    ax.axhline(mark, color=c[1], ls="--", lw=1.5, label=mark_label)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: pct_fmt(v)))
    month_axis(ax, month_fmt, ret["month"])
    ax.legend(loc="lower left")
    if title:
        ax.set_title(title)
    return ax


def plot_rates(
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    title: str = "",
    overall: float | None = None,
    overall_label: str = "overall",
    pct_fmt=lambda v: f"{v:.0%}",
    label_col: str = "label",
) -> Axes:
    """Rates with 95% intervals per group (dot and whisker), largest group on top."""
    n = len(table)
    ax = chart_axes(ax, figsize=(10, max(1.6, 0.42 * n + 0.9)))
    y = list(range(n))[::-1]
    c = theme_colours()
    ax.errorbar(
        table["rate"],
        y,
        xerr=[table["rate"] - table["low"], table["high"] - table["rate"]],
        fmt="o",
        color=c[0],
        ecolor="#9aa",
        elinewidth=3,
        capsize=0,
    )
    ax.set_yticks(y)
    ax.set_yticklabels(table[label_col])
    if overall is not None:
        ax.axvline(overall, color=c[1], ls="--", lw=1.2, label=overall_label)
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False)
    lo = min(float(table["low"].min()), overall if overall is not None else 1.0)
    hi = max(float(table["high"].max()), overall if overall is not None else 0.0)
    pad = 0.05
    ax.set_xlim(max(0.0, lo - pad), min(1.0, hi + pad))  # zoom on the groups' differences
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: pct_fmt(v)))
    ax.grid(axis="y", visible=False)
    if title:
        ax.set_title(title)
    return ax


def plot_cohorts(
    share: pd.DataFrame,
    ax: Axes | None = None,
    *,
    title: str = "",
    xlabel: str = "quarters since the first visit",
    ylabel: str = "",
) -> Axes:
    """Cohort retention heatmap: rows = first-visit quarter, columns = quarters since."""
    import seaborn as sns  # here only: its import takes ~2 s (see theme)

    ax = chart_axes(ax, figsize=(10, 0.36 * len(share) + 1.4))
    sns.heatmap(
        share * 100,
        ax=ax,
        annot=True,
        fmt=".0f",
        cmap="Blues",
        vmin=0,
        vmax=max(float((share * 100).max().max()), 1) if share.notna().any().any() else 100,
        cbar=False,
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": 8},
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="y", rotation=0)
    if title:
        ax.set_title(title)
    return ax


def plot_shares(
    shares: pd.Series,
    ax: Axes | None = None,
    *,
    title: str = "",
    pct_fmt=lambda v: f"{v:.0%}",
) -> Axes:
    """Horizontal bars of shares (0..1) with their values written at the end."""
    ax = chart_axes(ax, figsize=(10, 0.42 * len(shares) + 1.0))
    y = list(range(len(shares)))[::-1]
    ax.barh(y, shares.values, color=theme_colours()[0], alpha=0.85)
    for yi, v in zip(y, shares.values, strict=True):
        ax.text(min(v, 1) + 0.01, yi, pct_fmt(v), va="center", fontsize=9)
    ax.set_yticks(y)
    ax.set_yticklabels(shares.index)
    ax.set_xlim(0, 1.1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: pct_fmt(v)))
    ax.grid(axis="y", visible=False)
    if title:
        ax.set_title(title)
    return ax


def plot_stacked_rows(
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    title: str = "",
    row_labels: list[str] | None = None,
    col_labels: list[str] | None = None,
    colours: list[str] | None = None,
) -> Axes:
    """Horizontal stacked bars: one bar per row of ``table``, one stack per column."""
    ax = chart_axes(ax, figsize=(10, 0.5 * len(table) + 1.4))
    colours = colours or ["#2a9d8f", "#8ab17d", "#e9c46a", "#f4a261", "#b5b5b5"]
    y = np.arange(len(table))[::-1]
    left = np.zeros(len(table))
    for j, col in enumerate(table.columns):
        vals = table[col].to_numpy(dtype=float)
        label = col_labels[j] if col_labels else str(col)
        ax.barh(y, vals, left=left, color=colours[j % len(colours)], label=label)
        left = left + vals
    ax.set_yticks(y)
    ax.set_yticklabels(row_labels or [str(i) for i in table.index])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=len(table.columns), fontsize=8)
    ax.grid(axis="y", visible=False)
    if title:
        ax.set_title(title)
    return ax


def plot_paired_bars(
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    x: str,
    first: str,
    second: str,
    title: str = "",
    first_label: str = "actual",
    second_label: str = "model",
    xlabel: str = "",
    ylabel: str = "",
    open_last: bool = True,
) -> Axes:
    """Two bars per category (e.g. actual against the model's expectation); with
    ``open_last`` the last category reads "N+"."""
    ax = chart_axes(ax, figsize=(10, 3.2))
    c = theme_colours()
    pos = np.arange(len(table))
    ax.bar(pos - 0.2, table[first], width=0.4, color=c[0], label=first_label)
    ax.bar(pos + 0.2, table[second], width=0.4, color=c[1], label=second_label)
    ticks = [str(int(v)) if float(v).is_integer() else str(v) for v in table[x]]
    if open_last and ticks:
        ticks[-1] += "+"
    ax.set_xticks(pos)
    ax.set_xticklabels(ticks)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper center", ncols=2)
    if title:
        ax.set_title(title)
    return ax


def plot_deciles(
    values: np.ndarray,
    ax: Axes | None = None,
    *,
    title: str = "",
    xlabel: str = "",
    money_fmt=lambda v: f"{v:,.0f}",
) -> Axes:
    """Sum of ``values`` in each tenth of patients, most valuable first."""
    ax = chart_axes(ax, figsize=(10, 3.2))
    v = np.sort(np.asarray(values, float))[::-1]
    sums = [part.sum() for part in np.array_split(v, 10)]
    ax.bar(range(1, 11), sums, color=theme_colours()[0])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: money_fmt(y)))
    ax.set_xticks(range(1, 11))
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return ax


def plot_curve(
    data: pd.DataFrame,
    ax: Axes | None = None,
    *,
    x: str,
    y: str,
    title: str = "",
    xlabel: str = "",
    money_fmt=lambda v: f"{v:,.0f}",
) -> Axes:
    """A line with markers, the area down to its last value shaded (what is lost)."""
    ax = chart_axes(ax, figsize=(10, 3.2))
    c = theme_colours()
    ax.plot(data[x], data[y], marker="o", lw=2, color=c[0])
    ax.fill_between(data[x], data[y], data[y].iloc[-1], alpha=0.12, color=c[1])
    ax.set_xlabel(xlabel)
    ax.set_xticks(data[x])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_fmt(v)))
    if title:
        ax.set_title(title)
    return ax


def plot_forecast(
    fc: pd.DataFrame,
    ax: Axes | None = None,
    *,
    title: str = "",
    labels: dict[str, str] | None = None,
    money_fmt=lambda v: f"{v:,.0f}",
    month_fmt=lambda d: d.strftime("%m.%Y"),
) -> Axes:
    """Monthly forecast: the "if nothing is done" line with its 80% band, and the line "if
    the base is worked" (the first plus the reactivation layer)."""
    ax = chart_axes(ax)
    labels = labels or {}
    c = theme_colours()
    x = fc["month"]
    ax.fill_between(x, fc["no_action_low"], fc["no_action_high"], color=c[0], alpha=0.18,
                    label=labels.get("band", "80%"))  # fmt: skip
    ax.plot(x, fc["no_action"], marker="o", lw=2, color=c[0],
            label=labels.get("no_action", "no action"))  # fmt: skip
    ax.plot(x, fc["with_calls"], marker="s", lw=2, ls="--", color=c[2],
            label=labels.get("with_calls", "with calls"))  # fmt: skip
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_fmt(v)))
    month_axis(ax, month_fmt, x)
    ax.legend(loc="upper left", ncols=3, fontsize=8)
    top = max(fc["no_action_high"].max(), fc["with_calls"].max())
    ax.set_ylim(0, top * 1.25)
    if title:
        ax.set_title(title)
    return ax


def plot_backtest(
    bt: pd.DataFrame,
    ax: Axes | None = None,
    *,
    title: str = "",
    actual_label: str = "actual",
    predicted_label: str = "predicted",
    money_fmt=lambda v: f"{v:,.0f}",
    month_fmt=lambda d: d.strftime("%m.%Y"),
) -> Axes:
    """Forecasts made from past cut-offs (each with its band) against what happened."""
    ax = chart_axes(ax, figsize=(10, 3.2))
    c = theme_colours()
    actual = bt.groupby("month")["actual"].first()
    ax.plot(actual.index, actual.to_numpy(), marker="o", lw=2, color=c[0], label=actual_label)
    for i, (_, g) in enumerate(bt.groupby("cutoff")):
        colour = c[1 + i % 5]
        ax.plot(g["month"], g["no_action"], marker="s", lw=1.5, ls="--", color=colour,
                label=predicted_label if i == 0 else None)  # fmt: skip
        ax.fill_between(g["month"], g["no_action_low"], g["no_action_high"], color=colour,
                        alpha=0.12)  # fmt: skip
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_fmt(v)))
    month_axis(ax, month_fmt, bt["month"])
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left")
    if title:
        ax.set_title(title)
    return ax
