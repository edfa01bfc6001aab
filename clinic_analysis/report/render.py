"""Render an executed audit notebook: nbconvert HTML (own template) → WeasyPrint PDF.

The notebook's *outputs* are the report: code, prompts, streams, errors and cells tagged
``remove``/``hide`` never reach the HTML. The HTML is self-contained (no script, no external
URL of any kind, images as data URIs) and carries one stylesheet for both the screen and A4
print, so ``weasyprint audit.html`` gives the same PDF as :func:`write_pdf`.

Post-processing (:func:`~clinic_analysis.report.layout.postprocess`) turns nbconvert's
stream of outputs into one flat flow of blocks inside ``<main>``; on that flow:

* ``h2``/``h3`` are numbered by CSS counters (``1.``, ``1.1``) and listed in the contents
  (``<nav class="toc">``), whose page numbers come from ``target-counter()`` in print;
* headings, and the short lead-in text between a heading and its chart/table/KPI row, carry
  ``break-after: avoid`` (class ``keep-next``). Because the flow is flat (siblings, not one
  wrapper per cell), WeasyPrint honours it: when the chart does not fit, the heading moves to
  the next page with it. Section headings (``h2``) also start a new page in print; charts,
  KPI rows, callouts and table rows never split, and a split table keeps at least three rows
  (under its repeated header) on each page;
* anything that could reach outside the file (scripts, links to http(s), external images,
  ``url()`` in styles) is removed.
"""

from __future__ import annotations

import base64
import colorsys
import copy
import mimetypes
import re
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from clinic_analysis.errors import ReportError

if TYPE_CHECKING:
    import nbformat

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE = "clinic_audit"
CSS_FILE = TEMPLATE_DIR / TEMPLATE / "report.css"
UI_KEYS = ("toc", "page", "of", "prepared_by", "audit_date", "confidential")

#: Cells with any of these tags are left out of the report (Jupyter Book / nbconvert spellings;
#: ``report-hide`` marks the notebook's explanations, which stay visible in Jupyter).
REMOVE_CELL_TAGS = frozenset(
    {
        "remove",
        "hide",
        "remove_cell",
        "remove-cell",
        "hide_cell",
        "hide-cell",
        "hide-all",
        "report-hide",
    }
)
REMOVE_OUTPUT_TAGS = frozenset({"remove_output", "remove-output", "hide_output", "hide-output"})

#: UI words used when ``ReportMeta.strings`` lacks a key.
DEFAULT_STRINGS: Mapping[str, Mapping[str, str]] = {
    "uk": {
        "toc": "Зміст",
        "page": "Сторінка",
        "of": "з",
        "prepared_by": "Підготував",
        "audit_date": "Дата аудиту",
        "confidential": "Конфіденційно",
    },
    "ru": {
        "toc": "Содержание",
        "page": "Страница",
        "of": "из",
        "prepared_by": "Подготовил",
        "audit_date": "Дата аудита",
        "confidential": "Конфиденциально",
    },
    "en": {
        "toc": "Contents",
        "page": "Page",
        "of": "of",
        "prepared_by": "Prepared by",
        "audit_date": "Audit date",
        "confidential": "Confidential",
    },
}


@dataclass(frozen=True)
class ReportMeta:
    """What the report says about itself: cover, running header/footer, language, branding."""

    title: str
    clinic_name: str
    audit_date: str  # already formatted for the language
    consultant: str
    language: str  # "uk" | "ru" | "en": <html lang>, hyphenation
    colour: str = "#1f6f8b"  # branding colour (hex, rgb() or a CSS colour name)
    logo: Path | None = None  # PNG/SVG/JPG, embedded on the cover as a data URI
    strings: Mapping[str, str] = field(default_factory=dict)  # UI words, keys in UI_KEYS

    def ui(self, key: str) -> str:
        """A UI word in the report language (``strings``, else the built-in default)."""
        if key in self.strings and self.strings[key] is not None:
            return str(self.strings[key])
        lang = (self.language or "en").split("-")[0].lower()
        return DEFAULT_STRINGS.get(lang, DEFAULT_STRINGS["en"])[key]


# ---------------------------------------------------------------------------------------------
# exporter


@cache
def exporter_class():
    """:class:`AuditHTMLExporter`, made on first use: nbconvert is imported only when a
    report is rendered (the notebook's kernel and the run's first stages never need it)."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets import default

    from clinic_analysis.report.layout import postprocess

    class AuditHTMLExporter(HTMLExporter):
        """nbconvert ``HTMLExporter`` on the ``clinic_audit`` template: outputs only, one flat
        flow of blocks, cover and contents from :class:`ReportMeta`, no script, no external URL.

        ``AuditHTMLExporter(meta=meta).from_notebook_node(nb)`` returns the finished HTML.
        Without ``meta`` the cover shows the notebook's ``metadata.title`` (if any).
        """

        export_from_notebook = "Clinic audit HTML"

        def __init__(self, meta: ReportMeta | None = None, **kw):
            kw.setdefault("exclude_input", True)
            kw.setdefault("exclude_input_prompt", True)
            kw.setdefault("exclude_output_prompt", True)
            kw.setdefault("exclude_raw", True)
            kw.setdefault("exclude_unknown", True)
            kw.setdefault("exclude_anchor_links", True)
            # the notebook is checked once, after the last preprocessor, not after each
            kw.setdefault("optimistic_validation", True)
            super().__init__(**kw)
            self.meta = meta
            self.register_preprocessor(
                TagRemovePreprocessor(
                    enabled=True,
                    remove_cell_tags=set(REMOVE_CELL_TAGS),
                    remove_all_outputs_tags=set(REMOVE_OUTPUT_TAGS),
                ),
                enabled=True,
            )

        @default("template_name")
        def _template_name_default(self):
            return TEMPLATE

        @default("extra_template_basedirs")
        def _extra_template_basedirs_default(self):
            return [str(TEMPLATE_DIR)]

        def default_filters(self):
            yield from super().default_filters()
            yield ("b64encode", _b64)

        def from_notebook_node(self, nb, resources=None, **kw):
            meta = self.meta or _meta_from_notebook(nb)
            resources = dict(resources or {})
            resources["audit"] = _audit_resources(meta)
            # the tag preprocessor works on a copy: the caller's notebook stays as it was
            body, resources = super().from_notebook_node(copy.deepcopy(nb), resources, **kw)
            return postprocess(body), resources

    return AuditHTMLExporter


def __getattr__(name: str):
    if name == "AuditHTMLExporter":
        return exporter_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_EXPORTER_LOCK = threading.Lock()


@cache
def _compiled_exporter():
    """One exporter whose Jinja templates are compiled (a new exporter compiles them
    again); :func:`export_html` sets its ``meta`` for each report."""
    exporter = exporter_class()()
    exporter.template  # noqa: B018 (loads and compiles the template)
    return exporter


def warm_up() -> None:
    """Import what the HTML and PDF stages need (nbconvert and its compiled template,
    WeasyPrint): run in a thread while the notebook's kernel works, so that those stages
    start at once."""
    with _EXPORTER_LOCK:
        _compiled_exporter()
    from weasyprint import HTML

    with _PDF_LOCK:  # WeasyPrint's first document in a process also loads fonts, hyphenation
        HTML(string=_WARM_UP_HTML).write_pdf()


_WARM_UP_HTML = (
    '<html lang="uk"><style>td { hyphens: auto; overflow-wrap: anywhere }</style>'
    "<table><tr><td>Зміст <b>₴</b> 1</td></tr></table></html>"
)


def _b64(text) -> str:
    data = text if isinstance(text, bytes) else str(text).encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def export_html(nb: nbformat.NotebookNode, meta: ReportMeta) -> str:
    """The report's self-contained HTML from an executed notebook."""
    with _EXPORTER_LOCK:
        exporter = _compiled_exporter()
        exporter.meta = meta
        try:
            body, _ = exporter.from_notebook_node(nb)
        finally:
            exporter.meta = None
    return body


def write_pdf(html: str, pdf_path: Path) -> int:
    """Render the report HTML to an A4 PDF with WeasyPrint; returns the page count."""
    from weasyprint import HTML

    pdf_path = Path(pdf_path)
    html, fetcher = _images_aside(html)
    with _PDF_LOCK, _png_streams_as_they_are(), _table_min_content_only_when_it_counts():
        doc = HTML(
            string=html, base_url=str(pdf_path.parent.resolve()), url_fetcher=fetcher
        ).render()
        doc.write_pdf(str(pdf_path))
    return len(doc.pages)


#: one WeasyPrint render at a time in this process (the warm-up's and the report's)
_PDF_LOCK = threading.Lock()


_DATA_SRC_RE = re.compile(r'\bsrc="data:([\w.+-]+/[\w.+-]+);base64,([A-Za-z0-9+/=\s]*)"')
_ASIDE_SCHEME = "clinic-audit-image"


def _images_aside(html: str):
    """The report's images are base64 data URIs (a megabyte of text at 100k patients),
    which WeasyPrint's HTML parser scans and urllib decodes again. For the PDF, each one
    is replaced by a short ``clinic-audit-image:<n>`` URL whose bytes the returned URL
    fetcher hands to WeasyPrint: the same image, the same PDF. Returns the HTML and the
    fetcher (any other URL is fetched the usual way)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    images: list[tuple[str, str]] = []

    def aside(m: re.Match) -> str:
        images.append((m.group(1), m.group(2)))
        return f'src="{_ASIDE_SCHEME}:{len(images) - 1}"'

    html = _DATA_SRC_RE.sub(aside, html)

    class ImagesAside(URLFetcher):
        def fetch(self, url, headers=None):
            scheme, _, n = url.partition(":")
            if scheme == _ASIDE_SCHEME and n.isdigit() and int(n) < len(images):
                mime, data = images[int(n)]
                body = base64.b64decode("".join(data.split()))
                return URLFetcherResponse(url, body, {"Content-Type": mime})
            return super().fetch(url, headers)

    return html, ImagesAside()


@contextmanager
def _table_min_content_only_when_it_counts():
    """WeasyPrint's auto table layout measures every cell twice: its max-content width (the
    text on one line) and its min-content width (the text broken at every opportunity; with
    ``overflow-wrap: anywhere`` and ``hyphens: auto``, as the report's cells have, one line
    per character or syllable: most of the PDF's table time). The min-content widths change
    the columns only when the max-content widths do not fit the table's width; a table
    whose max-content widths fit gets its columns from them alone (CSS 2.1 / css-tables-3
    width distribution, WeasyPrint ``auto_table_layout``).

    While this is active, a table with a definite width and no percentage columns is first
    measured by max-content only; when that fits, WeasyPrint lays it out from those
    measures (the same columns it computes otherwise: a cell's min-content width is never
    above its max-content width, the fragments of a line being narrower than the line, as
    tests/report/test_render_pdf_fast.py checks); when it does not, the measures are
    dropped and WeasyPrint measures the table as usual. Nothing else sees the shortcut's
    measures: they are WeasyPrint's cache entry for the table only during that layout."""
    from weasyprint.layout import preferred, table

    usual_cell = preferred.table_cell_min_max_content_width
    usual_layout = table.auto_table_layout
    measuring = [False]

    def cell_widths(context, box, outer=True):
        if measuring[0]:
            width = preferred.block_max_content_width(context, box, outer)
            return width, width
        return usual_cell(context, box, outer)

    def auto_table_layout(context, box, containing_block):
        wrapped = box.get_wrapped_table()
        if wrapped in context.tables or wrapped.width == "auto":
            return usual_layout(context, box, containing_block)
        measuring[0] = True
        try:
            measures = preferred.table_and_columns_preferred_widths(context, box, outer=False)
        finally:
            measuring[0] = False
        table_min, _, _, column_max, percentages, _, spacing, _ = measures
        fits = (
            not any(percentages)
            and table_min <= wrapped.width
            and sum(column_max) <= (wrapped.width - spacing) * (1 + 1e-9)
        )
        if not fits:
            del context.tables[wrapped]  # measured again, min-content included
            return usual_layout(context, box, containing_block)
        try:
            return usual_layout(context, box, containing_block)
        finally:
            del context.tables[wrapped]

    preferred.table_cell_min_max_content_width = cell_widths
    table.auto_table_layout = auto_table_layout
    try:
        yield
    finally:
        preferred.table_cell_min_max_content_width = usual_cell
        table.auto_table_layout = usual_layout


@contextmanager
def _png_streams_as_they_are():
    """WeasyPrint embeds a PNG's pixels as its compressed rows (``IDAT``): a PDF reads them
    as they are (``FlateDecode``, PNG predictors). For every PNG it decodes the image and
    encodes it again to get them, which for the report's charts is a tenth of the PDF's
    time for the same bytes. While this is active, an 8-bit RGB or grey, non-interlaced
    PNG (what the report's charts are) gives its own rows; any other image goes the usual
    way."""
    from weasyprint.images import RasterImage

    usual = RasterImage._get_png_data

    def png_data(pillow_image):
        rows = _idat_of_plain_png(pillow_image)
        return rows if rows is not None else usual(pillow_image)

    RasterImage._get_png_data = staticmethod(png_data)
    try:
        yield
    finally:
        RasterImage._get_png_data = staticmethod(usual)


def _idat_of_plain_png(pillow_image) -> bytes | None:
    """The joined ``IDAT`` data of a not yet decoded PNG that is 8-bit RGB or grey (no
    palette, no alpha) and not interlaced, else ``None``."""
    fp = getattr(pillow_image, "fp", None)
    if getattr(pillow_image, "format", None) != "PNG" or not hasattr(fp, "getvalue"):
        return None
    data = fp.getvalue()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    depth, colour, interlace = data[24], data[25], data[28]
    if depth != 8 or colour not in (0, 2) or interlace != 0:
        return None
    if pillow_image.mode != ("RGB" if colour == 2 else "L"):
        return None
    rows, pos = [], 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            rows.append(data[pos + 8 : pos + 8 + length])
        elif kind == b"IEND":
            break
        pos += 12 + length
    return b"".join(rows) or None


# ---------------------------------------------------------------------------------------------
# resources: cover, page furniture and branding colours


def _meta_from_notebook(nb) -> ReportMeta:
    md = nb.get("metadata", {})
    title = str(md.get("title", ""))
    return ReportMeta(title=title, clinic_name="", audit_date="", consultant="", language="en")


def _audit_resources(meta: ReportMeta) -> dict:
    css = CSS_FILE.read_text(encoding="utf-8") + "\n" + page_css(meta)
    return {
        "title": meta.title,
        "clinic_name": meta.clinic_name,
        "audit_date": meta.audit_date,
        "consultant": meta.consultant,
        "language": re.sub(r"[^A-Za-z-]", "", meta.language or "") or "en",
        "logo": _data_uri(Path(meta.logo)) if meta.logo else "",
        "strings": {k: meta.ui(k) for k in UI_KEYS},
        "css": css,
    }


def _data_uri(path: Path) -> str:
    if not path.is_file():
        raise ReportError(
            f"branding logo {path} not found",
            hint="fix `report.branding.logo` in params (a PNG, SVG or JPG path) or remove it",
        )
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _css_string(s: str) -> str:
    """A CSS string literal (for ``content:``), safe inside a ``<style>`` element."""
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", str(s))
    s = s.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s.replace("<", "\\3c ").replace(">", "\\3e ") + '"'


_NAMED = {"white": "#ffffff", "black": "#000000"}


def parse_colour(colour: str) -> tuple[float, float, float]:
    """``#rgb``, ``#rrggbb``, ``rgb(r, g, b)`` or a CSS colour name → RGB in 0..1."""
    c = (colour or "").strip().lower()
    c = _NAMED.get(c, c)
    m = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", c)
    if m:
        h = m.group(1)
        if len(h) == 3:
            h = "".join(ch * 2 for ch in h)
        return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
    m = re.fullmatch(
        r"rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*[\d.]+\s*)?\)", c
    )
    if m:
        return tuple(min(int(v), 255) / 255 for v in m.groups())  # type: ignore[return-value]
    if re.fullmatch(r"[a-z]{3,30}", c):
        from matplotlib.colors import CSS4_COLORS

        if c in CSS4_COLORS:
            return parse_colour(CSS4_COLORS[c])
    raise ValueError(f"not a colour the report understands: {colour!r} (use #rrggbb)")


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, v)) * 255):02x}" for v in rgb)


def _luminance(rgb) -> float:
    def lin(v):
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def brand_palette(colour: str) -> dict[str, str]:
    """The branding colour and what the stylesheet derives from it: ``ink`` (readable as text
    on white), ``on`` (text on a brand background), ``soft``/``tint`` (pale backgrounds)."""
    rgb = parse_colour(colour)
    h, lum, s = colorsys.rgb_to_hls(*rgb)
    ink = rgb
    while _contrast(ink, (1, 1, 1)) < 4.5 and lum > 0.05:
        lum -= 0.04
        ink = colorsys.hls_to_rgb(h, lum, s)
    on = (1, 1, 1) if _contrast(rgb, (1, 1, 1)) >= 3.0 else (0.11, 0.14, 0.19)

    def mix(t):
        return tuple(1 - t + t * v for v in rgb)

    return {
        "brand": _hex(rgb),
        "ink": _hex(ink),
        "on": _hex(on),
        "soft": _hex(mix(0.07)),
        "tint": _hex(mix(0.16)),
    }


def page_css(meta: ReportMeta) -> str:
    """The per-report part of the stylesheet: brand colours and the A4 page furniture."""
    p = brand_palette(meta.colour)
    page_of = (
        f"{_css_string(meta.ui('page') + ' ')} counter(page) "
        f"{_css_string(' ' + meta.ui('of') + ' ')} counter(pages)"
    )
    return f"""
/* ---- per report: branding and page furniture (render.page_css) ---- */
:root {{ --brand: {p["brand"]}; --brand-ink: {p["ink"]}; --on-brand: {p["on"]};
         --brand-soft: {p["soft"]}; --brand-tint: {p["tint"]}; }}
@page {{
  size: A4;
  margin: 21mm 17mm 19mm 17mm;
  @top-left {{ content: {_css_string(meta.clinic_name)}; }}
  @top-right {{ content: {_css_string(meta.title)}; }}
  @bottom-left {{ content: {_css_string(meta.ui("confidential"))}; }}
  @bottom-right {{ content: {page_of}; }}
}}
@page {{
  @top-left {{ width: 50%; font: 7.5pt "DejaVu Sans", sans-serif; color: #667085; vertical-align: bottom;
              padding-bottom: 2.5mm; border-bottom: 0.75pt solid {p["brand"]}; }}
  @top-right {{ width: 50%; font: 7.5pt "DejaVu Sans", sans-serif; color: #667085; vertical-align: bottom;
               padding-bottom: 2.5mm; border-bottom: 0.75pt solid {p["brand"]}; }}
  @bottom-left {{ width: 65%; font: 7pt "DejaVu Sans", sans-serif; color: #98a2b3; vertical-align: top;
                 padding-top: 3mm; }}
  @bottom-right {{ width: 35%; font: 7.5pt "DejaVu Sans", sans-serif; color: #475467; vertical-align: top;
                  padding-top: 3mm; }}
}}
@page cover {{
  margin: 0;
  @top-left {{ content: none; border: none; }} @top-right {{ content: none; border: none; }}
  @bottom-left {{ content: none; }} @bottom-right {{ content: none; }}
}}
"""


__all__ = [
    "exporter_class",
    "ReportMeta",
    "brand_palette",
    "export_html",
    "parse_colour",
    "page_css",
    "write_pdf",
]
