"""Presentation helpers: the constructors the views and the notebook use. Each returns an
element of :mod:`clinic_analysis.report.elements` (a table keeps its frame, a chart its
figure) that shows itself as the report's HTML.
No patient names, phones or e-mails ever pass through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from clinic_analysis.report.elements import (
    FIG_DPI,
    Block,
    Callout,
    Chart,
    Element,
    Heading,
    Kpis,
    Paragraph,
    Table,
    figure_alt,
)
from clinic_analysis.report.layout import slug

__all__ = ["FIG_DPI", "block", "callout", "figure", "figure_alt", "kpis", "paragraph"]


def section(title: str, anchor: str | None = None) -> Heading:
    """A numbered report section (``<h2>``); the number comes from CSS counters."""
    return Heading(title, anchor or f"sec-{slug(title)}", 2)


def subsection(title: str, anchor: str | None = None) -> Heading:
    return Heading(title, anchor or f"sub-{slug(title)}", 3)


def block(title: str, *parts: Element, anchor: str | None = None) -> Block:
    """A subsection with its content, or nothing at all (no heading) when every part is
    empty: a heading never stands alone."""
    return Block(subsection(title, anchor), list(parts))


def kpis(items) -> Kpis:
    """A row of KPI tiles: ``[(value, label), ...]``."""
    return Kpis(list(items))


def callout(text: str, kind: str = "info") -> Callout:
    """A plain-language reading (``info``) or a warning (``warn``). ``text`` is trusted HTML."""
    return Callout(text, kind)


def paragraph(text: str, muted: bool = False) -> Paragraph:
    return Paragraph(text, muted)


def png_bytes(fig: plt.Figure, dpi: int = FIG_DPI) -> bytes:
    """The figure as the report's PNG: ``dpi``, cropped to its content."""
    return Chart(fig).png(dpi)


def figure(fig: plt.Figure, caption: str | None = None) -> Chart:
    """A chart: the figure and its one-line reading (its alt text is its title(s) and the
    reading)."""
    return Chart(fig, caption)


def table(
    df: pd.DataFrame,
    formats: dict[str, Callable[[object], str]] | None = None,
    numeric: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    caption: str | None = None,
) -> Table:
    """A formatted table: ``formats`` turns values into text per column, ``numeric`` columns
    are right-aligned, ``headers`` renames columns for the reader."""
    return Table(df, formats or {}, numeric, headers or {}, caption)
