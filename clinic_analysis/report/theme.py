"""The report's chart theme (seaborn's ``whitegrid`` look, the branding colour first) and the
helpers every chart shares: a default figure size, the palette, and month axes labelled on the
data's own months.

The theme is set with matplotlib alone: importing seaborn takes ~2 s (it imports SciPy's
statistics), and a notebook whose charts all come from the chart store draws none. The values
are seaborn's own (``tests/report/test_views.py`` checks them against ``sns.set_theme``)."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.ticker import FuncFormatter

FONT = "DejaVu Sans"  # renders Cyrillic and ₴
WIDE = (10, 3.8)  # A4 content width at 150 dpi

#: seaborn 0.13's ``axes_style("whitegrid")`` and ``plotting_context("notebook")``, as
#: ``sns.set_theme(context="notebook", style="whitegrid")`` sets them; all but
#: ``image.cmap`` ("rocket" is a colormap seaborn registers when imported: the report's
#: heatmap names its own, an analyst's ``imshow`` keeps matplotlib's default)
SEABORN_WHITEGRID = {
    "axes.axisbelow": True,
    "axes.edgecolor": ".8",
    "axes.facecolor": "white",
    "axes.grid": True,
    "axes.labelcolor": ".15",
    "axes.labelsize": 12,
    "axes.linewidth": 1.25,
    "axes.spines.bottom": True,
    "axes.spines.left": True,
    "axes.spines.right": True,
    "axes.spines.top": True,
    "axes.titlesize": 12,
    "figure.facecolor": "white",
    "font.family": ["sans-serif"],
    "font.sans-serif": [
        "Arial",
        "DejaVu Sans",
        "Liberation Sans",
        "Bitstream Vera Sans",
        "sans-serif",
    ],
    "font.size": 12,
    "grid.color": ".8",
    "grid.linestyle": "-",
    "grid.linewidth": 1,
    "legend.fontsize": 11,
    "legend.title_fontsize": 12,
    "lines.linewidth": 1.5,
    "lines.markersize": 6,
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "patch.linewidth": 1,
    "text.color": ".15",
    "xtick.bottom": False,
    "xtick.color": ".15",
    "xtick.direction": "out",
    "xtick.labelsize": 11,
    "xtick.major.size": 6,
    "xtick.major.width": 1.25,
    "xtick.minor.size": 4,
    "xtick.minor.width": 1,
    "xtick.top": False,
    "ytick.color": ".15",
    "ytick.direction": "out",
    "ytick.labelsize": 11,
    "ytick.left": False,
    "ytick.major.size": 6,
    "ytick.major.width": 1.25,
    "ytick.minor.size": 4,
    "ytick.minor.width": 1,
    "ytick.right": False,
}

#: the report's own settings over seaborn's
REPORT_RC = {
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
}


def report_palette(colour: str = "#1f6f8b") -> list[str]:
    """The report's colours, the branding colour first."""
    return [colour, "#e07a5f", "#81b29a", "#f2cc8f", "#3d405b", "#9c89b8", "#5f7470"]


def set_report_theme(colour: str = "#1f6f8b") -> list[str]:
    """One theme for the whole report (what ``sns.set_theme(context="notebook",
    style="whitegrid", palette=..., font=FONT, rc=REPORT_RC)`` sets); returns the palette
    (branding colour first)."""
    palette = report_palette(colour)
    mpl.rcParams.update(SEABORN_WHITEGRID)
    mpl.rcParams["font.family"] = FONT
    mpl.rcParams["axes.prop_cycle"] = cycler("color", [to_rgb(c) for c in palette])
    mpl.rcParams.update(REPORT_RC)
    return palette


def colours() -> list[tuple[float, float, float]]:
    """The colours charts take in turn (the theme's palette), as RGB: what
    ``sns.color_palette()`` gives."""
    cycle = mpl.rcParams["axes.prop_cycle"].by_key()
    return [to_rgb(c) for c in cycle.get("color", [".5"])]


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
