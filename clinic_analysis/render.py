"""Render an executed audit notebook: nbconvert HTML (own template) → WeasyPrint PDF.

The HTML is self-contained: outputs only (no code, prompts or streams), images as data
URIs, no scripts and no external URL of any kind. Post-processing numbers the sections,
builds the table of contents (page numbers in the PDF through ``target-counter``) and keeps
every sub-heading together with the block that follows it.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE = "clinic_audit"
UI_KEYS = ("toc", "page", "of", "prepared_by", "audit_date", "confidential")


@dataclass(frozen=True)
class ReportMeta:
    title: str
    clinic_name: str
    audit_date: str
    consultant: str
    language: str
    colour: str = "#1f6f8b"
    logo: Path | None = None
    strings: Mapping[str, str] = field(default_factory=dict)


class AuditHTMLExporter(HTMLExporter):
    """HTMLExporter on the ``clinic_audit`` template, outputs only."""

    def __init__(self, **kw):
        super().__init__(
            template_name=TEMPLATE,
            extra_template_basedirs=[str(TEMPLATE_DIR)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            **kw,
        )


def _css_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def page_css(meta: ReportMeta) -> str:
    s = meta.strings
    return f"""
:root {{ --brand: {meta.colour}; }}
@page {{
  size: A4; margin: 18mm 16mm 18mm 16mm;
  @top-left {{ content: {_css_string(meta.clinic_name)}; font-size: 7.5pt; color: #667085; }}
  @top-right {{ content: {_css_string(meta.title)}; font-size: 7.5pt; color: #667085; }}
  @bottom-left {{ content: {_css_string(s.get("confidential", ""))}; font-size: 7pt;
                  color: #98a2b3; }}
  @bottom-right {{ content: {_css_string(s.get("page", "Page") + " ")} counter(page)
                   {_css_string(" " + s.get("of", "of") + " ")} counter(pages);
                   font-size: 7.5pt; color: #667085; }}
}}
@page :first {{
  @top-left {{ content: none; }} @top-right {{ content: none; }}
  @bottom-left {{ content: none; }} @bottom-right {{ content: none; }}
}}
"""


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def export_html(nb: nbformat.NotebookNode, meta: ReportMeta) -> str:
    """The report's self-contained HTML from an executed notebook."""
    css = (TEMPLATE_DIR / TEMPLATE / "report.css").read_text(encoding="utf-8") + page_css(meta)
    resources = {
        "audit": {
            "title": meta.title,
            "clinic_name": meta.clinic_name,
            "audit_date": meta.audit_date,
            "consultant": meta.consultant,
            "language": meta.language,
            "logo": _data_uri(meta.logo) if meta.logo and Path(meta.logo).exists() else "",
            "strings": {k: meta.strings.get(k, "") for k in UI_KEYS},
            "css": css,
        }
    }
    body, _ = AuditHTMLExporter().from_notebook_node(nb, resources=resources)
    return postprocess(body)


def postprocess(html: str) -> str:
    """Number the sections, build the contents, keep headings with what follows, and strip
    anything that could reach outside the file."""
    soup = BeautifulSoup(html, "html.parser")
    main = soup.find("main")
    for tag in soup.find_all(["script", "link", "iframe"]):
        tag.decompose()
    # flatten any wrapper divs into one flow of blocks
    if main is not None:
        blocks = _top_blocks(main)
        main.clear()
        for b in blocks:
            main.append(b)
        _number_and_toc(soup, main)
        _keep_with_next(soup, main)
    text = str(soup)
    return re.sub(r"https?://[^\s\"'<>)]*", "", text)


def _is_wrapper(el) -> bool:
    """nbconvert's cell/output divs (and plain untagged divs around them)."""
    if el.name != "div":
        return False
    classes = el.get("class", [])
    return not classes or any(c.startswith(("jp-", "cell", "output")) for c in classes)


def _top_blocks(main) -> list:
    """The content blocks of the report in order, without nbconvert's wrappers."""
    out = []

    def walk(node):
        for child in list(node.children):
            if getattr(child, "name", None) is None:
                if str(child).strip():
                    out.append(child)
                continue
            if _is_wrapper(child):
                walk(child)
            else:
                out.append(child.extract())

    walk(main)
    return out


def _number_and_toc(soup, main) -> None:
    toc = soup.find("nav", id="toc")
    items = []
    h2n = h3n = 0
    used: set[str] = set()
    for h in main.find_all(["h2", "h3"]):
        hid = h.get("id") or "h-" + re.sub(r"\W+", "-", h.get_text().lower()).strip("-")
        base, k = hid, 2
        while hid in used:
            hid, k = f"{base}-{k}", k + 1
        used.add(hid)
        h["id"] = hid
        if h.name == "h2":
            h2n, h3n = h2n + 1, 0
            number = f"{h2n}."
        else:
            h3n += 1
            number = f"{h2n}.{h3n}" if h2n else f"{h3n}."
        title = h.get_text().strip()
        h.string = f"{number} {title}"
        items.append((h.name, hid, f"{number} {title}"))
    if toc is None:
        return
    ol = soup.new_tag("ol")
    for level, hid, text in items:
        li = soup.new_tag("li", attrs={"class": f"toc-{level}"})
        a = soup.new_tag("a", href=f"#{hid}")
        a.string = text
        li.append(a)
        ol.append(li)
    toc.append(ol)


def _keep_with_next(soup, main) -> None:
    """Wrap each sub-heading (h3) with the block after it, so a page never ends on a heading
    (section headings h2 start a new page in print)."""
    children = [c for c in main.children if getattr(c, "name", None)]
    for i, el in enumerate(children):
        if el.name == "h3" and i + 1 < len(children):
            nxt = children[i + 1]
            if nxt.name in ("h2", "h3"):
                continue
            wrap = soup.new_tag("div", attrs={"class": "keep"})
            el.insert_before(wrap)
            wrap.append(el.extract())
            wrap.append(nxt.extract())


def write_pdf(html: str, pdf_path: Path) -> int:
    """Render the HTML to an A4 PDF with WeasyPrint; returns the page count."""
    from weasyprint import HTML

    doc = HTML(string=html, base_url=str(Path(pdf_path).parent)).render()
    doc.write_pdf(str(pdf_path))
    return len(doc.pages)
