"""What a view hands back: a table, a chart, KPI tiles, a reading, or a group of them.

Each element keeps its material (``Table.frame`` with its column formats, ``Chart.figure``,
``Callout.text``) and turns itself into the report's HTML only when shown: in Jupyter it
displays itself (``_repr_html_``), and the report is the notebook's HTML outputs. An analyst
can take ``.frame`` or ``.figure``, restyle it and display it again::

    chart = V.glance_monthly_chart(c)
    chart.figure.axes[0].set_title("Revenue, last five years")
    chart                                   # shown again, restyled
    V.segments_table(c).frame               # the numbers behind a table

The CSS classes (``kpis``, ``chart``, ``report-table``, ``callout``) are the contract with
``templates/clinic_audit``. No patient names, phones or e-mails ever pass through here.
"""

from __future__ import annotations

import base64
import functools
import html
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure

FIG_DPI = 150


class Element:
    """Base: an element renders to the report's HTML; an empty one renders to nothing."""

    def html(self) -> str:  # pragma: no cover - every element overrides it
        raise NotImplementedError

    @property
    def data(self) -> str:
        """The HTML (the name IPython's ``HTML`` objects use)."""
        return self.html()

    def _repr_html_(self) -> str:
        return self.html()

    def __bool__(self) -> bool:
        return bool(self.html().strip())


@dataclass(eq=False)
class Html(Element):
    """Markup the report's own code built (headings, lists, paragraphs)."""

    markup: str = ""

    def html(self) -> str:
        return self.markup


@dataclass(eq=False)
class Heading(Element):
    """A numbered section (``level=2``) or a subsection (``level=3``) with its anchor."""

    title: str
    anchor: str
    level: int = 2

    def html(self) -> str:
        a, t = html.escape(self.anchor), html.escape(self.title)
        return f'<h{self.level} id="{a}">{t}</h{self.level}>'


@dataclass(eq=False)
class Kpis(Element):
    """A row of KPI tiles: ``[(value, label), ...]`` (texts already formatted)."""

    items: list[tuple[str, str]]

    def html(self) -> str:
        tiles = "".join(
            f'<div class="kpi"><div class="kpi-value">{html.escape(v)}</div>'
            f'<div class="kpi-label">{html.escape(lbl)}</div></div>'
            for v, lbl in self.items
        )
        return f'<div class="kpis">{tiles}</div>'


@dataclass(eq=False)
class Callout(Element):
    """A plain-language reading (``info``) or a warning (``warn``). ``text`` is trusted HTML
    (the views escape what comes from data)."""

    text: str
    kind: str = "info"

    def html(self) -> str:
        cls = "callout" if self.kind == "info" else f"callout {self.kind}"
        return f'<div class="{cls}">{self.text}</div>'


@dataclass(eq=False)
class Paragraph(Element):
    """A paragraph of trusted HTML; ``muted`` for method notes."""

    text: str
    muted: bool = False

    def html(self) -> str:
        cls = ' class="muted"' if self.muted else ""
        return f"<p{cls}>{self.text}</p>"


@dataclass(eq=False)
class Table(Element):
    """A table: ``frame`` holds the values, ``formats`` turns them into text per column (in
    the report's language), ``numeric`` columns are right-aligned, ``headers`` renames
    columns for the reader."""

    frame: pd.DataFrame
    formats: dict[str, Callable[[object], str]] = field(default_factory=dict)
    numeric: Sequence[str] = ()
    headers: dict[str, str] = field(default_factory=dict)
    caption: str | None = None

    def html(self) -> str:
        df, formats, headers = self.frame, self.formats, self.headers
        numeric = set(self.numeric) | set(formats)
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
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (
            f'<table class="report-table">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


@dataclass(eq=False)
class Chart(Element):
    """A matplotlib figure with its one-line reading (the caption). Shown as a PNG whose alt
    text is the chart's title(s) and reading. The figure is closed in pyplot (so that it is
    never shown twice) but kept here, to be restyled and shown again."""

    figure: Figure
    caption: str | None = None

    def __post_init__(self) -> None:
        plt.close(self.figure)

    def png(self, dpi: int = FIG_DPI) -> bytes:
        """The figure as the report's PNG: ``dpi``, cropped to its content, on white and
        without an alpha channel (see :func:`figure_png`); taken from the chart store when
        one is in use (:func:`use_chart_store`) and holds this chart."""
        store = _chart_store
        key = store.key(dpi) if store is not None else None
        if key is not None:
            png = store.get(key)
            if png is not None:
                return png
        png = figure_png(self.figure, dpi)
        if key is not None:
            store.put(key, png)
        return png

    def alt(self) -> str:
        return figure_alt(self.figure, self.caption)

    def html(self) -> str:
        data = base64.b64encode(self.png()).decode("ascii")
        cap = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return (
            f'<figure class="chart"><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(self.alt())}">{cap}</figure>'
        )

    def __bool__(self) -> bool:
        return True


@dataclass(eq=False)
class Group(Element):
    """Several elements shown one after the other (a subsection's content)."""

    parts: list[Element] = field(default_factory=list)

    def html(self) -> str:
        return "".join(markup(p) for p in self.parts)


@dataclass(eq=False)
class Block(Element):
    """A subsection: its heading and content, or nothing at all (no heading) when every part
    is empty: a heading never stands alone."""

    heading: Heading
    parts: list[Element] = field(default_factory=list)

    def html(self) -> str:
        body = "".join(markup(p) for p in self.parts)
        return self.heading.html() + body if body.strip() else ""


_chart_store = None


class Deferred(Element):
    """A chart view's element, made only when it is needed (:func:`deferred`).

    Shown, it is taken from the chart store when the store holds it (the same key as a
    chart's: everything that ran before it in this kernel is what ran before it the last
    time), and the view runs, and draws, only otherwise. So a notebook whose charts are all
    in the store draws none, nor imports what drawing needs. Reaching into it (``.figure``,
    ``.frame``, ``.parts``, ``element()``) makes the element; from then on it is shown as
    that element is (an analyst's restyling included)."""

    def __init__(self, make: Callable[[], Element]):
        self._make = make
        self._element: Element | None = None
        self._html: str | None = None  # shown before it was made: shown the same again

    def element(self) -> Element:
        """The view's element itself (made now if it was not)."""
        if self._element is None:
            self._element = self._make()
        return self._element

    def __getattr__(self, name: str):
        # only for names not found on this object; IPython probes objects for "_repr_*_"
        # and other private names, which must not make the element
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.element(), name)

    def html(self) -> str:
        if self._element is not None:
            return markup(self._element)
        if self._html is None:
            self._html = self._stored_or_made()
        return self._html

    def _stored_or_made(self) -> str:
        store = _chart_store
        key = store.key("view") if store is not None else None
        if key is not None:
            stored = store.get(key)
            if stored is not None:
                return stored.decode("utf-8")
        use_chart_store(None)  # stored once, as this view's HTML (not also as its charts)
        try:
            # made for showing only: it stays this HTML unless someone reaches into it
            text = markup(self._make())
        finally:
            use_chart_store(store)
        if key is not None:
            store.put(key, text.encode("utf-8"))
        return text


def deferred(view: Callable[..., Element]) -> Callable[..., Element]:
    """For a view that draws a chart: while a chart store is in use (the report's kernel,
    :func:`clinic_analysis.report.display.install`), calling it hands back a
    :class:`Deferred` that runs it only when needed; otherwise the element itself."""

    @functools.wraps(view)
    def call(*args, **kwargs):
        if _chart_store is None:
            return view(*args, **kwargs)
        return Deferred(functools.partial(view, *args, **kwargs))

    return call


def use_chart_store(store) -> None:
    """Charts are shown through ``store`` from now on (``None``: always drawn): an object
    with ``key(dpi) -> str | None`` (the key of the chart about to be shown, ``None`` when
    it cannot be known; ``key("view")`` for a chart view's HTML, :class:`Deferred`),
    ``get(key) -> bytes | None`` and ``put(key, data)``."""
    global _chart_store
    _chart_store = store


def figure_png(fig: Figure, dpi: int = FIG_DPI) -> bytes:
    """``fig`` as the report's PNG: what ``savefig(dpi=dpi, bbox_inches="tight")`` shows
    (cropped to the content with ``savefig.pad_inches`` around it), on white and without an
    alpha channel (the report's page is white; a PDF image with alpha is drawn as two images,
    which WeasyPrint decodes and encodes again: twice the time for the same look).

    ``bbox_inches="tight"`` draws the figure twice: once only to measure it, then at the
    cropped size. Here the figure is measured without drawing it (``get_tightbbox`` lays
    out the ticks, labels and titles itself, as the layout engines do before a drawing) and
    drawn once, cropped to that box: the same picture for two thirds of the work. A figure
    with a layout engine (which must run in a drawing first) goes the long way. The drawing
    is taken as the canvas's raw pixels (no PNG written and read back) and its texts are
    measured once for both steps (:class:`_ReportCanvas`)."""
    from PIL import Image

    old_canvas = fig.canvas
    canvas = _ReportCanvas(fig)  # the figure's canvas until the picture is taken
    try:
        raw = io.BytesIO()
        fig.savefig(raw, format="rgba", dpi=dpi, bbox_inches=_tight_box(fig, dpi, canvas))
        size = canvas.renderer.width, canvas.renderer.height  # the cropped drawing's
        image = Image.frombuffer("RGBA", size, raw.getbuffer(), "raw", "RGBA", 0, 1)
    finally:
        fig.set_canvas(old_canvas)
    if image.getextrema()[3][0] == 255:
        rgb = image.convert("RGB")  # opaque everywhere: the alpha channel says nothing
    else:
        rgb = Image.new("RGB", image.size, "white")
        rgb.paste(image, mask=image.getchannel("A"))
    out = io.BytesIO()
    rgb.save(out, format="PNG", dpi=(dpi, dpi))  # the PDF embeds these very bytes
    return out.getvalue()


class _SharedMetricsRenderer(RendererAgg):
    """An Agg renderer that measures each text (string, font, dpi) once per picture: the
    renderer that measures the figure for its tight box and the one that then draws it
    cropped (a new one: another size) share ``metrics``. Agg's measure of a text does not
    depend on the renderer's size, only on the text, its font and the dpi."""

    def __init__(self, width, height, dpi, metrics: dict):
        super().__init__(width, height, dpi)
        self._metrics = metrics

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath == "TeX":
            return super().get_text_width_height_descent(s, prop, ismath)
        key = (s, prop.copy(), ismath, self.dpi)  # a copy: a FontProperties is mutable
        found = self._metrics.get(key)
        if found is None:
            found = self._metrics[key] = super().get_text_width_height_descent(s, prop, ismath)
        return found

    def _get_font_height_metrics(self, prop):
        """The ascent, descent and line gap of ``prop``'s font at this dpi, once per font
        and size: matplotlib's own reading of the font's tables (``Text._get_layout``),
        which it otherwise repeats for every layout of every text (matplotlib asks a
        renderer for this first; ``None`` leaves it to matplotlib)."""
        key = ("font height", prop.copy(), self.dpi)
        found = self._metrics.get(key)
        if found is None:
            found = self._metrics[key] = _font_height_metrics(prop, self.dpi)
        return found


def _font_height_metrics(prop, dpi) -> tuple:
    """``(ascent, descent, line_gap)`` of the font of ``prop`` at ``dpi``, computed as
    ``matplotlib.text.Text._get_layout`` does; ``(None, None, None)`` for a font without
    those tables (matplotlib then measures the text "lp")."""
    from matplotlib.font_manager import fontManager, get_font

    font = get_font(fontManager._find_fonts_by_props(prop))
    for table_name, gap_key, ascent_key, descent_key in (
        ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
        ("hhea", "lineGap", "ascent", "descent"),
    ):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
    return None, None, None


class _ReportCanvas(FigureCanvasAgg):
    """The Agg canvas :func:`figure_png` measures and draws a figure on: its renderers share
    their text measurements (:class:`_SharedMetricsRenderer`)."""

    def __init__(self, figure: Figure):
        super().__init__(figure)
        self._metrics: dict = {}

    def get_renderer(self):  # FigureCanvasAgg's, with the renderer above
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = _SharedMetricsRenderer(w, h, self.figure.dpi, self._metrics)
            self._lastKey = key
        return self.renderer


def _tight_box(fig: Figure, dpi: int, canvas: FigureCanvasAgg):
    """The box ``bbox_inches="tight"`` would crop ``fig`` to at ``dpi`` (inches, padded by
    ``savefig.pad_inches``), measured on ``canvas`` (the figure's) without a drawing;
    ``"tight"`` itself for a figure with a layout engine."""
    import matplotlib as mpl

    if fig.get_layout_engine() is not None:
        return "tight"
    old_dpi = fig.dpi
    try:
        fig.dpi = dpi
        renderer = canvas.get_renderer()
        return fig.get_tightbbox(renderer).padded(mpl.rcParams["savefig.pad_inches"])
    finally:
        fig.dpi = old_dpi


def markup(part) -> str:
    """The HTML of an element, or of anything IPython shows as HTML (``IPython.display.HTML``
    from an analyst's cell); ``None`` is nothing."""
    if part is None:
        return ""
    if isinstance(part, Element):
        return part.html()
    return getattr(part, "data", None) or part._repr_html_()


def group(parts: Iterable[Element | None]) -> Group:
    return Group([p for p in parts if p is not None])


def figure_alt(fig: Figure, reading: str | None = None) -> str:
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
