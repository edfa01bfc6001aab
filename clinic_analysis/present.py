"""Presentation helpers: HTML blocks the notebook displays and the report template styles.

Each returns an ``IPython.display.HTML`` object. The CSS classes (``kpis``, ``chart``,
``report-table``, ``callout``) are the contract with ``templates/clinic_audit``.
No patient names, phones or e-mails ever pass through here.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable, Iterable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML

FIG_DPI = 150


def _slug(text: str) -> str:
    s = re.sub(r"[^\w]+", "-", text.lower(), flags=re.UNICODE).strip("-")
    return s or "section"


def section(title: str, anchor: str | None = None) -> HTML:
    """A numbered report section (``<h2>``); the number comes from CSS counters."""
    anchor = anchor or f"sec-{_slug(title)}"
    return HTML(f'<h2 id="{html.escape(anchor)}">{html.escape(title)}</h2>')


def subsection(title: str, anchor: str | None = None) -> HTML:
    anchor = anchor or f"sub-{_slug(title)}"
    return HTML(f'<h3 id="{html.escape(anchor)}">{html.escape(title)}</h3>')


def block(title: str, *parts: HTML, anchor: str | None = None) -> HTML:
    """A subsection with its content, or nothing at all (no heading) when every part is
    empty: a heading never stands alone."""
    body = "".join(p.data for p in parts)
    if not body.strip():
        return HTML("")
    return HTML(subsection(title, anchor).data + body)


def kpis(items: Iterable[tuple[str, str]]) -> HTML:
    """A row of KPI tiles: ``[(value, label), ...]``."""
    tiles = "".join(
        f'<div class="kpi"><div class="kpi-value">{html.escape(v)}</div>'
        f'<div class="kpi-label">{html.escape(lbl)}</div></div>'
        for v, lbl in items
    )
    return HTML(f'<div class="kpis">{tiles}</div>')


def callout(text: str, kind: str = "info") -> HTML:
    """A plain-language reading (``info``) or a warning (``warn``). ``text`` is trusted HTML."""
    cls = "callout" if kind == "info" else f"callout {kind}"
    return HTML(f'<div class="{cls}">{text}</div>')


def paragraph(text: str, muted: bool = False) -> HTML:
    cls = ' class="muted"' if muted else ""
    return HTML(f"<p{cls}>{text}</p>")


def figure_alt(fig: plt.Figure, reading: str | None = None) -> str:
    """Alt text of a chart: its titles (figure, then each axes) and one-line reading."""
    parts: list[str] = []
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        parts.append(sup.get_text().strip())
    for ax in fig.get_axes():
        for loc in ("left", "center", "right"):
            text = ax.get_title(loc).strip()
            if text and text not in parts:
                parts.append(text)
    if reading and reading.strip():
        parts.append(reading.strip())
    return ". ".join(p.rstrip(".") for p in parts)


def png_bytes(fig: plt.Figure, dpi: int = FIG_DPI) -> bytes:
    """The figure as the report's PNG: ``dpi``, cropped to its content, on white and without
    an alpha channel (the report's page is white; a PDF image with alpha is drawn as two
    images, which WeasyPrint decodes and encodes again: twice the time for the same look)."""
    from PIL import Image

    buf = io.BytesIO()  # matplotlib writes RGBA only: an uncompressed PNG, read back at once
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pil_kwargs={"compress_level": 0})
    rgba = Image.open(buf).convert("RGBA")
    rgb = Image.new("RGB", rgba.size, "white")
    rgb.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    rgb.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def figure(fig: plt.Figure, caption: str | None = None) -> HTML:
    """Embed a matplotlib figure as a PNG data URI with an optional caption; closes it.
    Its alt text is its title(s) and the caption (the chart's one-line reading)."""
    alt = figure_alt(fig, caption)
    png = png_bytes(fig)
    plt.close(fig)
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return HTML(
        f'<figure class="chart"><img src="data:image/png;base64,{data}" '
        f'alt="{html.escape(alt)}">{cap}</figure>'
    )


def table(
    df: pd.DataFrame,
    formats: dict[str, Callable[[object], str]] | None = None,
    numeric: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    caption: str | None = None,
) -> HTML:
    """A formatted table: ``formats`` turns values into text per column, ``numeric`` columns
    are right-aligned, ``headers`` renames columns for the reader."""
    formats = formats or {}
    headers = headers or {}
    numeric = set(numeric) | set(formats)
    head = "".join(
        f'<th class="num">{html.escape(headers.get(c, str(c)))}</th>'
        if c in numeric
        else f"<th>{html.escape(headers.get(c, str(c)))}</th>"
        for c in df.columns
    )
    rows = []
    for rec in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, rec, strict=True):
            text = formats[c](v) if c in formats else ("" if pd.isna(v) else str(v))
            cls = ' class="num"' if c in numeric else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return HTML(
        f'<table class="report-table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
