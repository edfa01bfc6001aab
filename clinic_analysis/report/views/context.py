"""What every view needs (the audit, catalogue, formatter) and the honesty helpers: a figure
whose column was not exported reads "not exported"; one that needs more history than the
data holds reads "too little history". Neither is ever printed as a zero."""

from __future__ import annotations

import html

from IPython.display import HTML

from clinic_analysis.audit import Audit
from clinic_analysis.measures import gaps
from clinic_analysis.report import present as P
from clinic_analysis.report import theme
from clinic_analysis.report.i18n import Catalog, Formatter

CHART_MONTHS = 60  # monthly charts show the last five years


SECTIONS = (
    "clinic", "base", "revenue", "ledger", "data_quality", "activity", "repeat", "completeness",
    "history", "refusers", "forecast", "models", "calls", "followup", "since_last",
)  # fmt: skip


class _Section(dict):
    """TEMPORARY (issue 11 transition): a metrics.json section read as attributes; a missing
    key reads None. Removed when the typed results land."""

    def __getattr__(self, name: str):
        return self.get(name)


class _TypedView:
    """TEMPORARY (issue 11 transition): ``audit.<section>.<key>`` over metrics.json's dicts,
    the contract the typed results fulfil."""

    def __init__(self, audit: Audit) -> None:
        self.__dict__["_audit"] = audit

    def __getattr__(self, name: str):
        if name in SECTIONS:
            return _Section(self._audit.metrics.get(name) or {})
        return getattr(self._audit, name)


class Context:
    """What every view needs: the audit, the catalogue and the formatter."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit if hasattr(audit, "repeat") else _TypedView(audit)
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


def _no_amounts(c: Context) -> HTML:
    return P.callout(html.escape(c.t("honest.no_amounts")), kind="warn")


def _history(c: Context) -> dict:
    return c.audit.metrics.get("history", {})


def _enough(c: Context) -> bool:
    return bool(_history(c).get("enough", True))


def _too_little(c: Context, needed: int | None = None) -> HTML:
    """One sentence: the months of history available and needed."""
    h = _history(c)
    text = c.t(
        "honest.too_little_history",
        months=c.f.number(h.get("months"), 1),
        needed=c.f.number(needed or h.get("min_months")),
    )
    return P.callout(html.escape(text), kind="warn")


def _covered(c: Context, df):
    """The rows of a monthly frame from the first month the data covers."""
    import pandas as pd

    first = c.audit.metrics["base"].get("first_visit")
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


def _get(d, *path):
    """``d[path[0]][path[1]]...`` or ``None`` when any step is missing or None."""
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
        if d is None:
            return None
    return d


def _sum(values) -> float | None:
    vals = [v for v in (values or []) if v is not None]
    return float(sum(vals)) if vals else None


def _or_missing(c: Context, fmt, x) -> str:
    """``fmt(x)``, or "not exported" when the figure is missing (``None``)."""
    return c.t("honest.not_exported") if x is None else fmt(x)
