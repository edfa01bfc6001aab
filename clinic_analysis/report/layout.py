"""Post-processing of the exported HTML (:func:`postprocess`): nbconvert's stream of outputs
flattened into one flow of blocks inside ``<main>``, sanitised (nothing reaches outside the
file), headings numbered and listed in the contents, and each heading kept with what follows
it in print. See :mod:`clinic_analysis.report.render`."""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the notebook's kernel needs only slug() from here
    from bs4 import BeautifulSoup, Tag

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
    html, images = _set_images_aside(html)
    return _put_images_back(_postprocess(html), images)


#: a ``src="data:…;base64,…"`` attribute: the payload is what is set aside
DATA_SRC_RE = re.compile(r'(\bsrc="data:[\w.+-]+/[\w.+-]+;base64,)([A-Za-z0-9+/=\s]*)(")')


def _set_images_aside(html: str) -> tuple[str, dict[str, str]]:
    """The base64 payloads of data-URI images (most of the report's bytes) replaced by
    short tokens, so that the HTML parser and serialiser do not walk through them; the
    tokens are made so that none occurs in the HTML. :func:`_put_images_back` restores
    them. The attribute stays a ``data:`` URI, which :func:`_sanitise` keeps."""
    images: dict[str, str] = {}
    salt = 0
    while f"AUDITIMG{salt}X" in html:
        salt += 1

    def aside(m: re.Match) -> str:
        token = f"AUDITIMG{salt}X{len(images)}Z"
        images[token] = m.group(2)
        return m.group(1) + token + m.group(3)

    return DATA_SRC_RE.sub(aside, html), images


def _put_images_back(html: str, images: dict[str, str]) -> str:
    if not images:
        return html
    return re.sub(r"AUDITIMG\d+X\d+Z", lambda m: images.get(m.group(0), m.group(0)), html)


def _postprocess(html: str) -> str:
    from bs4 import BeautifulSoup

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
    from bs4 import Comment

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
    from bs4 import BeautifulSoup

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
    from bs4 import BeautifulSoup

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
    from bs4 import BeautifulSoup

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


def slug(text: str) -> str:
    """An id made of a title: lower case, word characters joined by ``-`` ("section" when
    nothing is left)."""
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
        hid = str(h.get("id") or "") or "sec-" + slug(h.get_text(" ", strip=True))
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
    from bs4 import Tag

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
