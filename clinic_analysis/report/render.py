"""Render an executed audit notebook: nbconvert HTML (own template) → WeasyPrint PDF.

The notebook's *outputs* are the report: code, prompts, streams, errors and cells tagged
``remove``/``hide`` never reach the HTML. The HTML is self-contained (no script, no external
URL of any kind, images as data URIs) and carries one stylesheet for both the screen and A4
print, so ``weasyprint audit.html`` gives the same PDF as :func:`write_pdf`.

Post-processing (:func:`postprocess`) turns nbconvert's stream of outputs into one flat flow
of blocks inside ``<main>``; on that flow:

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup, Comment, Tag
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from traitlets import default

from clinic_analysis.errors import ReportError

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


def _b64(text) -> str:
    data = text if isinstance(text, bytes) else str(text).encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def export_html(nb: nbformat.NotebookNode, meta: ReportMeta) -> str:
    """The report's self-contained HTML from an executed notebook."""
    body, _ = AuditHTMLExporter(meta=meta).from_notebook_node(nb)
    return body


def write_pdf(html: str, pdf_path: Path) -> int:
    """Render the report HTML to an A4 PDF with WeasyPrint; returns the page count."""
    from weasyprint import HTML

    pdf_path = Path(pdf_path)
    doc = HTML(string=html, base_url=str(pdf_path.parent.resolve())).render()
    doc.write_pdf(str(pdf_path))
    return len(doc.pages)


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


# ---------------------------------------------------------------------------------------------
# post-processing


HEADINGS = ("h1", "h2", "h3", "h4")
NUMBERED = ("h2", "h3")
#: blocks that carry the point of a sub-section; a heading is kept with the first of them
ANCHORS = ("figure", "table", "img", "svg")
ANCHOR_CLASSES = ("kpis", "chart", "report-table", "dataframe")
#: short text that may sit between a heading and its anchor (kept with both)
LEAD_TAGS = ("p", "div", "blockquote")
LEAD_MAX_CHARS = 600
LEAD_MAX_BLOCKS = 2
URL_RE = re.compile(r"https?://", re.I)


def postprocess(html: str) -> str:
    """Flatten, sanitise, number and list the headings, keep headings with what follows."""
    soup = BeautifulSoup(html, "html.parser")
    _sanitise(soup)
    main = soup.find("main")
    if main is not None:
        blocks = _flat_blocks(main)
        main.clear()
        for b in blocks:
            main.append(b)
        _mark_blocks(main)
        _lift_summary(soup, main)
        _headings_and_toc(soup, main)
        _section_nav(soup, main)
        _keep_with_next(main)
    text = str(soup)
    # the last net: whatever survived above (e.g. a URL in an attribute we do not know)
    return URL_RE.sub("", text)


def _sanitise(soup: BeautifulSoup) -> None:
    for c in soup.find_all(string=lambda s: isinstance(s, Comment)):
        c.extract()
    for tag in soup.find_all(["script", "link", "iframe", "object", "embed", "base", "frame"]):
        tag.decompose()
    for tag in soup.find_all("meta", attrs={"http-equiv": True}):
        tag.decompose()
    for a in soup.find_all("a", class_="anchor-link"):
        a.decompose()
    for tag in soup.find_all(True):
        for attr in list(tag.attrs):
            val = tag.attrs[attr]
            sval = " ".join(val) if isinstance(val, list) else str(val)
            if attr.lower().startswith("on"):
                del tag.attrs[attr]
            elif attr in ("href", "xlink:href") and URL_RE.match(sval.strip()):
                del tag.attrs[attr]  # the text stays, without the link
            elif attr == "src" and not sval.startswith("data:"):
                if tag.name == "img":
                    _embed_or_drop(tag)
                else:
                    tag.decompose()  # audio, video, source: nothing a printed report can use
                break
            elif attr == "xmlns" or attr.startswith("xmlns:"):
                del tag.attrs[attr]  # inline SVG needs no namespace declaration in HTML
            elif attr == "style" and URL_RE.search(sval):
                tag[attr] = _strip_css_urls(sval)
    for style in soup.find_all("style"):
        if style.string and (URL_RE.search(style.string) or "@import" in style.string):
            style.string = _strip_css_urls(style.string)
    for s in soup.find_all(string=URL_RE):
        if s.parent is not None and s.parent.name != "style":
            s.replace_with(URL_RE.sub("", str(s)))


def _strip_css_urls(css: str) -> str:
    css = re.sub(r"@import[^;]*;", "", css)
    return re.sub(r"url\(\s*['\"]?https?://[^)]*\)", "none", css, flags=re.I)


def _embed_or_drop(img: Tag) -> None:
    """An image that is not a data URI: embed a local file, drop anything else."""
    src = str(img.get("src", ""))
    path = Path(src[7:] if src.startswith("file://") else src)
    if not URL_RE.match(src) and src and path.is_file() and path.stat().st_size < 20_000_000:
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        img["src"] = f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    else:
        img.decompose()


def _is_wrapper(el: Tag) -> bool:
    """A div that only groups blocks: nbconvert's cell/output wrappers (lab/classic class
    names) and plain class-less divs. Their children join the flow."""
    if el.name != "div":
        return False
    classes = el.get("class", [])
    if el.get("style"):
        return False
    return not classes or all(
        c.startswith(("jp-", "cell", "output", "rendered_", "inner_cell")) for c in classes
    )


def _flat_blocks(main: Tag) -> list:
    """The content blocks of the report in order, without wrappers; loose inline content
    (text, links, images) is gathered into paragraphs."""
    out: list = []
    loose: list = []

    def flush():
        if any(str(x).strip() for x in loose):
            p = BeautifulSoup("", "html.parser").new_tag("p")
            for x in loose:
                p.append(x)
            out.append(p)
        loose.clear()

    def walk(node):
        for child in list(node.children):
            name = getattr(child, "name", None)
            if name is None:
                if str(child).strip():
                    loose.append(child.extract())
                continue
            if name in INLINE:
                loose.append(child.extract())
                continue
            flush()
            if _is_wrapper(child):
                walk(child)
            else:
                out.append(child.extract())
        flush()

    walk(main)
    return out


INLINE = {"a", "span", "b", "strong", "i", "em", "code", "small", "sub", "sup", "br", "abbr"}


def _mark_blocks(main: Tag) -> None:
    """Classes the stylesheet needs: a lone image becomes a chart figure, KPI rows know
    their size, wide tables get a smaller font."""
    for img in list(main.find_all("img", recursive=False)):
        fig = BeautifulSoup("", "html.parser").new_tag("figure", attrs={"class": "chart"})
        img.wrap(fig)
    for p in list(main.find_all("p", recursive=False)):
        kids = [c for c in p.children if getattr(c, "name", None) or str(c).strip()]
        if len(kids) == 1 and getattr(kids[0], "name", None) == "img":
            p.name = "figure"
            p["class"] = ["chart"]
    for row in main.find_all("div", class_="kpis"):
        n = len(row.find_all("div", class_="kpi", recursive=False))
        row["class"] = [*row.get("class", []), f"kpis-{min(max(n, 1), 6)}"]
    for table in main.find_all("table"):
        first = table.find("tr")
        n = len(first.find_all(["td", "th"], recursive=False)) if first else 0
        if n >= 7:
            table["class"] = [*table.get("class", []), "wide"]
        if not table.find("thead"):
            _promote_header(table)
        parent = table.parent
        if parent is not None and "table-scroll" not in parent.get("class", []):
            table.wrap(
                BeautifulSoup("", "html.parser").new_tag("div", attrs={"class": "table-scroll"})
            )


def _promote_header(table: Tag) -> None:
    """A table whose first row is all ``th`` gets it as ``thead`` (repeats on a new page)."""
    body = table.find("tbody") or table
    first = body.find("tr", recursive=False)
    if first is None or first.find("td"):
        return
    thead = BeautifulSoup("", "html.parser").new_tag("thead")
    thead.append(first.extract())
    before = table.find(["caption", "colgroup"], recursive=False)
    if before is not None:
        before.insert_after(thead)
    else:
        table.insert(0, thead)


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.lower()).strip("-") or "section"


def _headings_and_toc(soup: BeautifulSoup, main: Tag) -> None:
    """Unique ids on every numbered heading; the contents list built from them (numbers
    come from CSS counters, in the headings and in the contents alike)."""
    heads = main.find_all(NUMBERED)
    mine = {id(h) for h in heads}
    used = {str(t["id"]) for t in soup.find_all(id=True) if id(t) not in mine}
    items = []
    seen_h2 = False
    for h in heads:
        hid = str(h.get("id") or "") or "sec-" + _slug(h.get_text(" ", strip=True))
        base, k = hid, 2
        while hid in used:
            hid, k = f"{base}-{k}", k + 1
        used.add(hid)
        h["id"] = hid
        seen_h2 = seen_h2 or h.name == "h2"
        if h.name == "h3" and not seen_h2:
            h["class"] = [*h.get("class", []), "top"]  # no section above: numbered "1."
        items.append((h, hid))
    toc = soup.find("nav", id="toc")
    if toc is None:
        return
    if not items:
        toc.decompose()
        return
    ol = soup.new_tag("ol")
    for h, hid in items:
        classes = [f"toc-{h.name}"] + (["top"] if "top" in h.get("class", []) else [])
        li = soup.new_tag("li", attrs={"class": " ".join(classes)})
        a = soup.new_tag("a", href=f"#{hid}")
        a.string = h.get_text(" ", strip=True)
        li.append(a)
        ol.append(li)
    toc.append(ol)


def _lift_summary(soup: BeautifulSoup, main: Tag) -> None:
    """The executive summary (``<section class="summary">``) is the owner's first page:
    moved from the flow to right after the cover, before the contents, unnumbered."""
    summary = main.find("section", class_="summary", recursive=False)
    cover = soup.find("header", class_="cover")
    if summary is None:
        return
    summary.extract()
    if cover is not None:
        cover.insert_after(summary)
    else:
        main.insert_before(summary)


def _section_nav(soup: BeautifulSoup, main: Tag) -> None:
    """A sticky bar of links to the sections (``h2``), for the screen; print hides it."""
    heads = main.find_all("h2")
    if not heads:
        return
    nav = soup.new_tag("nav", attrs={"class": "sections", "id": "sections"})
    for h in heads:
        a = soup.new_tag("a", href=f"#{h['id']}")
        a.string = h.get_text(" ", strip=True)
        nav.append(a)
    main.insert_before(nav)


def _is_anchor(el: Tag) -> bool:
    if el.name in ANCHORS:
        return True
    classes = set(el.get("class", []))
    if classes & set(ANCHOR_CLASSES):
        return True
    return el.find(["figure", "table", "img", "svg"]) is not None


def _keep_with_next(main: Tag) -> None:
    """``keep-next`` (``break-after: avoid``) on every heading and on the short lead-in
    blocks between a heading and its chart/table/KPI row. The blocks are siblings in one
    flow, which is where WeasyPrint (and browsers) honour ``break-after: avoid``."""
    children = [c for c in main.children if isinstance(c, Tag) and c.name != "style"]
    for i, el in enumerate(children):
        if el.name not in HEADINGS:
            continue
        el["class"] = [*el.get("class", []), "keep-next"]
        leads: list[Tag] = []
        for nxt in children[i + 1 :]:
            if _is_anchor(nxt):
                break
            if (
                nxt.name in HEADINGS
                or nxt.name not in LEAD_TAGS
                or len(nxt.get_text()) > LEAD_MAX_CHARS
                or len(leads) == LEAD_MAX_BLOCKS
            ):
                leads = []  # no chart/table close by: the heading keeps with the text only
                break
            leads.append(nxt)
        else:
            leads = []
        for lead in leads:
            lead["class"] = [*lead.get("class", []), "keep-next"]


__all__ = [
    "AuditHTMLExporter",
    "ReportMeta",
    "brand_palette",
    "export_html",
    "parse_colour",
    "page_css",
    "postprocess",
    "write_pdf",
]
