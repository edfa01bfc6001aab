"""The analyst's plain cells, in the report's style.

:func:`install` (called once in the notebook's setup cell) makes the kernel show

* a matplotlib/seaborn figure (``plt.show()``, a returned Figure or a figure left open at
  the end of a cell) as the report shows its own charts: a PNG at the report's resolution,
  cropped to its content, with alt text made of its titles (the template writes it into
  ``<img alt>``);
* a returned ``DataFrame``/``Series`` as a report table: numbers, money, percentages and
  dates formatted for the report's language, no default index, long frames cut with a note.

Nothing here changes what the library's own views show.
"""

from __future__ import annotations

import base64
import re

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from clinic_analysis.i18n import Catalog, Formatter
from clinic_analysis.report import present as P

MAX_ROWS = 50  # a plain DataFrame longer than this shows its first rows and a note
#: column names read as money (English, Ukrainian, Russian); ``df.attrs["money"]`` overrides
MONEY_RE = re.compile(
    r"revenue|amount|money|ltv|clv|check|spend|price|cost|paid|sum\b|value"
    r"|виручк|сум|вартіст|чек|дохід|выручк|стоимост|доход|оплат|₴|грн|uah|usd|eur|\$",
    re.I,
)
#: column names read as shares in 0..1; ``df.attrs["percent"]`` overrides
PERCENT_RE = re.compile(r"rate|share|pct|percent|ratio|prob|p_alive|частк|доля|%", re.I)


def figure_png(fig: Figure) -> tuple[str, dict]:
    """A figure as the report's PNG (base64) plus ``{"alt": ...}``; the figure is closed, so
    the inline backend does not show it a second time at the end of the cell."""
    alt = P.figure_alt(fig)
    png = P.png_bytes(fig)
    plt.close(fig)
    return base64.b64encode(png).decode("ascii"), {"alt": alt}


def _column_format(name: str, s: pd.Series, f: Formatter, money: set, percent: set):
    """The formatter of one column, from its dtype and name (or the frame's ``attrs``)."""
    if pd.api.types.is_bool_dtype(s):
        return None
    if pd.api.types.is_datetime64_any_dtype(s):
        return lambda v: f.date(None if pd.isna(v) else pd.Timestamp(v).date(), "short")
    if not pd.api.types.is_numeric_dtype(s):
        return None
    values = pd.to_numeric(s, errors="coerce").dropna()
    if name in money or (name not in percent and MONEY_RE.search(name)):
        return f.money
    is_share = values.empty or values.between(0, 1).all()
    if name in percent or (PERCENT_RE.search(name) and is_share):
        return lambda v: f.percent(v, 1)
    if pd.api.types.is_integer_dtype(s) or (values == values.round()).all():
        return f.number
    digits = 1 if values.abs().max() >= 10 else 2
    return lambda v: f.number(v, digits)


def frame_html(df: pd.DataFrame | pd.Series, f: Formatter, t: Catalog | None = None) -> str:
    """A plain DataFrame (or Series) as the report's table, formatted for its language.

    Money columns are recognised by name (revenue, amount, LTV, сума, виручка...) or listed
    in ``df.attrs["money"]``; shares in 0..1 by name (rate, share, частка...) or
    ``df.attrs["percent"]``. A named or non-default index becomes the first columns.
    """
    if isinstance(df, pd.Series):
        df = df.to_frame(name=df.name if df.name is not None else "")
    attrs = dict(df.attrs)
    total = len(df)
    shown = df.head(MAX_ROWS)
    default_index = isinstance(shown.index, pd.RangeIndex) and shown.index.name is None
    shown = shown.reset_index(drop=default_index)
    shown.columns = [
        " · ".join(str(x) for x in c if str(x)) if isinstance(c, tuple) else str(c)
        for c in shown.columns
    ]
    shown = shown.loc[:, ~pd.Index(shown.columns).duplicated()]
    money = {str(c) for c in attrs.get("money", ())}
    percent = {str(c) for c in attrs.get("percent", ())}
    formats = {}
    for col in shown.columns:
        fmt = _column_format(col, shown[col], f, money, percent)
        if fmt is not None:
            formats[col] = fmt
    html = P.table(shown, formats=formats).data
    if total > len(shown):
        note = (
            t("display.rows_shown", shown=f.number(len(shown)), total=f.number(total))
            if t is not None
            else f"{len(shown)} / {total}"
        )
        html += f'<p class="muted">{note}</p>'
    return html


def install(context) -> None:
    """Show plain figures and DataFrames in the report's style in this kernel (idempotent).

    ``context`` is a :class:`clinic_analysis.report.views.Context` (its formatter and catalogue
    give the language). Outside IPython this does nothing. The inline backend is switched
    on if something (``MPLBACKEND=Agg``) left a backend that would swallow the figures.
    """
    from IPython import get_ipython

    ip = get_ipython()
    if ip is None:
        return
    if "inline" not in plt.get_backend():
        ip.run_line_magic("matplotlib", "inline")
    else:
        # loading the inline backend registers its own figure formatters (pyplot loads it
        # only at the first figure): load it now, so that ours below replace them
        import matplotlib_inline.backend_inline  # noqa: F401
    _use_chart_store(ip, context.audit)
    formatters = ip.display_formatter.formatters
    for mime in ("image/svg+xml", "image/jpeg", "application/pdf", "text/html"):
        formatters[mime].type_printers.pop(Figure, None)
    formatters["image/png"].for_type(Figure, figure_png)
    f, t = context.f, context.t
    formatters["text/html"].for_type(pd.DataFrame, lambda df: frame_html(df, f, t))
    formatters["text/html"].for_type(pd.Series, lambda s: frame_html(s, f, t))


class KernelCharts:
    """Which chart is about to be shown in this kernel, as a key that is the same in the
    next run of the notebook exactly when that chart is: the audit's inputs (its cache key:
    params, sources, code, package versions), the figures attached after the cached compute
    (metrics), the package's other files (locales), the source of every cell run so far in
    this kernel (IPython's ``In``, the running cell included: papermill runs the cells in
    order, the injected parameters first) and which chart of the running cell it is.

    So a chart is reused only when everything that ran before it is what ran before it the
    last time, which covers an analyst's restyling or filtering in any earlier cell: edit a
    cell and the charts from that cell on are drawn again, those above it are taken from
    the store. What it cannot see is code that gives another result on every run from the
    same inputs (an unseeded random sample, today's date): such a chart may show the last
    run's draw; ``CLINIC_AUDIT_FRESH_CHARTS=1 make report`` draws every chart again."""

    def __init__(self, ip, store, base: str, fresh: bool = False):
        self.ip, self.store, self.base = ip, store, base
        self.fresh = fresh  # drawn again, and stored for the next run
        self._cell: tuple[int, int] = (-1, 0)  # (number of cells run, charts shown in it)

    def key(self, dpi: int | str) -> str | None:
        """The key of the chart about to be shown: ``dpi`` of its PNG, or ``"view"`` for a
        chart view's HTML (:class:`clinic_analysis.report.elements.Deferred`)."""
        import hashlib

        cells = self.ip.user_ns.get("In")
        if not isinstance(cells, list) or len(cells) < 2:
            return None
        n, shown = self._cell
        shown = shown + 1 if n == len(cells) else 1
        self._cell = (len(cells), shown)
        h = hashlib.sha256(self.base.encode())
        for source in cells:
            h.update(str(source).encode() + b"\x00")
        h.update(f"{len(cells)}:{shown}:{dpi}".encode())
        return h.hexdigest()

    def get(self, key: str) -> bytes | None:
        return None if self.fresh else self.store.get(key)

    def put(self, key: str, png: bytes) -> None:
        self.store.put(key, png)


def _use_chart_store(ip, audit) -> None:
    """Charts of this kernel through the audit's chart store (beside its cached audit), so
    that the next run of the notebook draws only what changed; not for an audit that was
    not cached. With ``CLINIC_AUDIT_FRESH_CHARTS`` set every chart is drawn again, and
    stored for the next run."""
    import hashlib
    import json
    import os

    from clinic_analysis.cache import ChartStore, cache_dir_for
    from clinic_analysis.report.elements import use_chart_store
    from clinic_analysis.report.execute import FRESH_CHARTS_ENV
    from clinic_analysis.report.reuse import package_files_digest

    key = getattr(audit, "cache_key", None)
    if not key:
        use_chart_store(None)
        return
    base = hashlib.sha256(key.encode())
    base.update(json.dumps(audit.metrics, sort_keys=True, default=str).encode())
    base.update(package_files_digest().encode())
    try:
        store = ChartStore(cache_dir_for(audit.params.slug), key)
    except OSError:  # a read-only cache: charts are drawn every time
        use_chart_store(None)
        return
    fresh = bool(os.environ.get(FRESH_CHARTS_ENV))  # every chart drawn, and kept for next time
    use_chart_store(KernelCharts(ip, store, base.hexdigest(), fresh=fresh))


__all__ = ["KernelCharts", "figure_png", "frame_html", "install"]
