"""The report's chart theme (one seaborn theme, the branding colour first) and the helpers
every chart shares: a default figure size and month axes labelled on the data's own months."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

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
            "text.parse_math": False,  # labels come from the data: "$" is a dollar sign
        },
    )
    return palette


def chart_axes(ax: Axes | None, figsize=WIDE) -> Axes:
    """The Axes to draw on: the one given, else a new figure's."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


MAX_MONTH_TICKS = 10


def month_ticks(months) -> list[pd.Timestamp]:
    """Tick positions for a monthly axis: the first day of the months the data covers, every
    k-th so that at most ``MAX_MONTH_TICKS`` remain; one tick per month at most, so no two
    ticks read the same month."""
    periods = pd.DatetimeIndex(pd.to_datetime(pd.Series(months))).to_period("M").unique()
    periods = periods.sort_values()
    step = max(1, -(-len(periods) // MAX_MONTH_TICKS))
    return [p.to_timestamp() for p in periods[::step]]


def month_axis(ax: Axes, month_fmt, months) -> None:
    """Ticks on the data's own months, and the axis spanning only those months."""
    ticks = month_ticks(months)
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: month_fmt(mdates.num2date(v))))
    if ticks:
        last = pd.Timestamp(pd.to_datetime(pd.Series(months)).max())
        pad = pd.Timedelta(days=20)
        ax.set_xlim(ticks[0] - pad, max(last, ticks[-1]) + pad)
    ax.set_xlabel("")
