"""What every view needs (the audit, catalogue, formatter) and the honesty helpers: a figure
whose column was not exported reads "not exported"; one that needs more history than the
data holds reads "too little history". Neither is ever printed as a zero."""

from __future__ import annotations

import html

import pandas as pd

from clinic_analysis.audit import Audit
from clinic_analysis.i18n import Catalog, Formatter
from clinic_analysis.measures import gaps
from clinic_analysis.report import present as P
from clinic_analysis.report import theme
from clinic_analysis.report.elements import Callout

CHART_MONTHS = 60  # monthly charts show the last five years


class Context:
    """What every view needs: the audit, the catalogue and the formatter."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit
        self.t = Catalog(audit.params.clinic.language)
        self.f = Formatter(audit.params.clinic.language, audit.params.clinic.currency)
        self.palette = theme.set_report_theme(audit.params.report.branding.colour)


def _amounts(c: Context) -> bool:
    return gaps.has_amounts(c.audit.data)


def _money(c: Context, x, short: bool = True) -> str:
    """Money, or "not exported" when the visits carry no amounts."""
    if not _amounts(c):
        return c.t("honest.not_exported")
    return c.f.money_short(x) if short else c.f.money(x)


def _no_amounts(c: Context) -> Callout:
    return P.callout(html.escape(c.t("honest.no_amounts")), kind="warn")


def _enough(c: Context) -> bool:
    """True when the data cover the history the time-based figures need."""
    return bool(c.audit.history.enough)


def _too_little(c: Context, needed: int | None = None) -> Callout:
    """One sentence: the months of history available and needed."""
    h = c.audit.history
    text = c.t(
        "honest.too_little_history",
        months=c.f.number(h.months, 1),
        needed=c.f.number(needed or h.min_months),
    )
    return P.callout(html.escape(text), kind="warn")


def _covered(c: Context, df: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of a monthly frame from the first month the data covers."""
    first = c.audit.base.first_visit
    if df is None or df.empty or first is None:
        return df
    start = pd.Timestamp(first).to_period("M").to_timestamp()
    return df[df["month"] >= start].reset_index(drop=True)


def _pct_signed(f: Formatter, x) -> str:
    if x is None:
        return "—"
    return ("+" if x >= 0 else "−") + f.percent(abs(x))


def _note(c: Context, note: str) -> str:
    return c.t.get(f"mod.note.{note}") or c.t(f"modnote.{note}")


def _or_missing(c: Context, fmt, x) -> str:
    """``fmt(x)``, or "not exported" when the figure is missing (``None``)."""
    return c.t("honest.not_exported") if x is None else fmt(x)
