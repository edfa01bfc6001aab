"""Charts: each ``plot_x(data, ax=None, **labels) -> Axes``; style from one theme.

Call :func:`set_report_theme` once per run; labels come from the string catalogue.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

FONT = "DejaVu Sans"  # renders Cyrillic and ₴
WIDE = (10, 3.8)  # A4 content width at 150 dpi


def set_report_theme(colour: str = "#1f6f8b") -> list[str]:
    """One seaborn theme for the whole report; returns the palette (branding colour first)."""
    palette = [colour, "#e07a5f", "#81b29a", "#f2cc8f", "#3d405b", "#9c89b8", "#5f7470"]
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette=palette,
        font=FONT,
        rc={
            "figure.figsize": WIDE,
            "figure.dpi": 100,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "axes.labelsize": 10,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "grid.color": "#e6e6e6",
        },
    )
    return palette


def _ax(ax: Axes | None, figsize=WIDE) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


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
    ax = _ax(ax)
    colours = sns.color_palette()
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
    _month_axis(ax, month_fmt)
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
    ax = _ax(ax)
    colours = sns.color_palette()
    ax.bar(monthly["month"], monthly["new_patients"], width=20, color=colours[2], label=new_label)
    ax.set_ylabel(new_label)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number_fmt(v)))
    ax2 = ax.twinx()
    ax2.plot(monthly["month"], monthly["base"], color=colours[0], lw=2, label=base_label)
    ax2.set_ylim(bottom=0)
    ax2.grid(False)
    ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number_fmt(v)))
    ax2.set_ylabel(base_label)
    _month_axis(ax, month_fmt)
    h = ax.get_legend_handles_labels()
    h2 = ax2.get_legend_handles_labels()
    ax.legend(h[0] + h2[0], h[1] + h2[1], loc="upper left")
    if title:
        ax.set_title(title)
    return ax


def _month_axis(ax: Axes, month_fmt) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: month_fmt(mdates.num2date(v))))
    ax.set_xlabel("")
