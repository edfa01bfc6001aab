"""render.py: an executed notebook → self-contained HTML → A4 PDF.

The notebooks are built here with ``nbformat.v4`` (code cells carrying the outputs the
presentation helpers emit), so these tests run without a kernel and in a few seconds.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402

from clinic_analysis.errors import ReportError  # noqa: E402
from clinic_analysis.report.render import (  # noqa: E402
    CSS_FILE,
    AuditHTMLExporter,
    ReportMeta,
    brand_palette,
    export_html,
    parse_colour,
    write_pdf,
)

CLINIC = "Стоматологія «Усмішка»"
STRINGS = {
    "toc": "Зміст",
    "page": "Сторінка",
    "of": "з",
    "prepared_by": "Підготував",
    "audit_date": "Дата аудиту",
    "confidential": "Конфіденційно: лише для керівництва клініки",
}
META = ReportMeta(
    title="Аудит бази пацієнтів",
    clinic_name=CLINIC,
    audit_date="31 жовтня 2026 р.",
    consultant="Консалтингова група «Система продажів»",
    language="uk",
    strings=STRINGS,
)
PX_TO_PT = 0.75  # WeasyPrint page sizes are CSS px


# ---------------------------------------------------------------------------------------------
# building notebooks


def html_cell(*fragments: str, source: str = "display(x)", tags=()) -> nbformat.NotebookNode:
    cell = new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    cell.outputs = [
        new_output("display_data", data={"text/html": f, "text/plain": "<IPython.HTML>"})
        for f in fragments
    ]
    return cell


def png_chart(width_in: float = 10.6, height_in: float = 4.2) -> str:
    fig, ax = plt.subplots(figsize=(width_in, height_in))
    ax.bar(range(12), [5, 7, 6, 9, 11, 10, 12, 14, 13, 15, 17, 16], color="#1f6f8b")
    ax.set_title("Виручка по місяцях, ₴")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def chart_html(png: str, caption: str) -> str:
    return (
        f'<figure class="chart"><img src="data:image/png;base64,{png}" alt="">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def report_table(rows: int, cols: int = 4) -> str:
    head = "<th>Лікар</th>" + "".join(f'<th class="num">Колонка {j}</th>' for j in range(1, cols))
    body = "".join(
        f"<tr><td>Пацієнт групи {i} з довгою назвою сегмента</td>"
        + "".join(f'<td class="num">{i * j} 000 ₴</td>' for j in range(1, cols))
        + "</tr>"
        for i in range(1, rows + 1)
    )
    return (
        f'<table class="report-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


KPIS = (
    '<div class="kpis">'
    '<div class="kpi"><div class="kpi-value">5 012</div><div class="kpi-label">пацієнтів</div></div>'
    '<div class="kpi"><div class="kpi-value">14 726</div><div class="kpi-label">візитів</div></div>'
    '<div class="kpi"><div class="kpi-value">34,7 млн ₴</div><div class="kpi-label">виручка</div></div>'
    '<div class="kpi"><div class="kpi-value">68%</div><div class="kpi-label">повторність</div></div>'
    "</div>"
)


def sample_notebook() -> nbformat.NotebookNode:
    """Every kind of output the report meets, plus what must not reach it."""
    png = png_chart()
    df = pd.DataFrame(
        {"Філія": ["Центр", "Лівий берег", "Оболонь"], "Візити": [5120, 4033, 2871]}
    ).set_index("Філія")
    cells = [
        new_markdown_cell("# Developer notes SECRET_MARKDOWN_NOTE", metadata={"tags": ["remove"]}),
        new_code_cell('params_path = "SECRET_PARAMS_PATH"', metadata={"tags": ["parameters"]}),
        html_cell(
            '<h2 id="sec-glance">База з першого погляду</h2>',
            KPIS,
            '<div class="callout">За останні 12 місяців клініка заробила 11,8 млн ₴.</div>',
            source="display(section(SECRET_SOURCE_GLANCE))",
        ),
        html_cell(chart_html(png, "Виручка по місяцях"), source="display(V.chart_SECRET)"),
    ]
    noisy = new_code_cell("print('STREAM_NOISE_4242')  # SECRET_SOURCE_STREAM")
    noisy.outputs = [
        new_output("stream", name="stdout", text="STREAM_NOISE_4242\n"),
        new_output("stream", name="stderr", text="WARNING_STDERR_4242\n"),
    ]
    cells.append(noisy)
    plot = new_code_cell("plt.plot(x)  # SECRET_SOURCE_PLOT")
    plot.outputs = [
        new_output(
            "display_data",
            data={"image/png": png, "text/plain": "<Figure size 1600x630 with 1 Axes>"},
        )
    ]
    cells.append(plot)
    cells.append(
        html_cell(
            '<h3 id="sub-doctors">Повторність за лікарем</h3>',
            '<p class="muted">Сорок рядків: таблиця переходить на наступну сторінку.</p>',
            report_table(40, cols=4),
        )
    )
    cells.append(html_cell("<h3>Підрозділ без id</h3>", report_table(6, cols=9)))
    result = new_code_cell("df  # SECRET_SOURCE_DF", execution_count=7)
    result.outputs = [
        new_output(
            "execute_result",
            data={"text/html": df.to_html(), "text/plain": str(df)},
            execution_count=7,
        )
    ]
    cells.append(result)
    md = new_code_cell("display(Markdown(text))  # SECRET_SOURCE_MD")
    md.outputs = [
        new_output(
            "display_data",
            data={
                "text/markdown": "**Висновок**: база росте. Див. [методику](https://example.com/m)."
                "\n\n- перший пункт\n- другий пункт",
                "text/plain": "<IPython.Markdown>",
            },
        )
    ]
    cells.append(md)
    cells.append(
        html_cell(
            '<h2 id="sec-plans">Відмовники</h2>',
            '<div class="callout warn">Розділ не застосовується: плани лікування не вивантажено.</div>',
            '<script src="https://cdn.example.com/x.js"></script>'
            '<p>Деталі на <a href="http://example.org/page">сайті</a>.</p>',
        )
    )
    cells.append(html_cell("<p>REMOVED_OUTPUT_TEXT</p>", source="SECRET_REMOVED", tags=["remove"]))
    cells.append(html_cell("<p>HIDDEN_OUTPUT_TEXT</p>", source="SECRET_HIDDEN", tags=["hide"]))
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def foot_notebook(groups: int = 36) -> nbformat.NotebookNode:
    """Sub-headings, charts and tables that land at every height of a page: with nothing
    keeping them together, some headings end up alone at the foot of a page, a chart's
    caption on the next page and one or two table rows on a page of their own."""
    png = png_chart(10.6, 3.6)
    cells = [html_cell('<h2 id="sec-long">Довгий розділ</h2>')]
    filler = "Пацієнти повертаються протягом року в двох випадках з трьох."
    caption = "Стовпчики — виручка за місяць; " * 12
    for k in range(groups):
        paras = [f"<p>{filler} ({k}.{j})</p>" for j in range(k % 11 + 1)]
        body = report_table(12 + k % 5) if k % 2 else chart_html(png, f"Графік {k}. {caption}")
        lead = ['<p class="muted">Коротке пояснення до графіка.</p>'] if k % 4 == 1 else []
        cells.append(html_cell(*paras))
        cells.append(html_cell(f"<h3>Підрозділ {k}</h3>", *lead, body))
    return new_notebook(cells=cells)


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def nb():
    return sample_notebook()


@pytest.fixture(scope="module")
def html(nb):
    return export_html(nb, META)


@pytest.fixture(scope="module")
def pdf(html, tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "audit.pdf"
    pages = write_pdf(html, path)
    return path, pages


@pytest.fixture(scope="module")
def doc(html):
    return weasy(html)


def weasy(html: str):
    from weasyprint import HTML

    return HTML(string=html).render()


def pdftotext(path, first: int | None = None, last: int | None = None) -> str:
    args = ["pdftotext", "-layout"]
    if first:
        args += ["-f", str(first), "-l", str(last or first)]
    return subprocess.run(
        [*args, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext")


# ---------------------------------------------------------------------------------------------
# HTML


def test_html_is_self_contained(html):
    assert not re.search(r"https?://", html)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html
    soup = BeautifulSoup(html, "html.parser")
    srcs = [img["src"] for img in soup.find_all("img")]
    assert len(srcs) == 2 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not [t for t in soup.find_all(True) if any(a.startswith("on") for a in t.attrs)]


def test_html_shows_no_code_streams_or_removed_cells(nb, html):
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if "SECRET" in line:
                assert line not in html
    assert "SECRET" not in html
    assert "STREAM_NOISE_4242" not in html and "WARNING_STDERR_4242" not in html
    assert "REMOVED_OUTPUT_TEXT" not in html and "HIDDEN_OUTPUT_TEXT" not in html
    assert "<Figure size" not in html and "&lt;Figure size" not in html
    assert "In&nbsp;[" not in html and "Out[" not in html


def test_every_output_kind_is_shown(html):
    soup = BeautifulSoup(html, "html.parser")
    main = soup.find("main")
    assert main.find("div", class_="kpis") and len(main.select(".kpi")) == 4
    assert len(main.find_all("figure", class_="chart")) == 2  # helper figure and a bare PNG
    assert main.find("div", class_="callout warn")
    assert main.find("table", class_="dataframe")  # execute_result, not only display_data
    assert "Лівий берег" in main.get_text()
    assert main.find("strong", string="Висновок")  # text/markdown output
    assert [li.get_text() for li in main.find_all("li")] == ["перший пункт", "другий пункт"]
    # external link: the words stay, the link goes
    assert "сайті" in main.get_text() and "методику" in main.get_text()
    assert not main.find("a", href=re.compile("example"))


def test_cyrillic_and_meta_survive(html):
    soup = BeautifulSoup(html, "html.parser")
    assert soup.html["lang"] == "uk"
    cover = soup.find(class_="cover")
    text = cover.get_text(" ")
    for s in (CLINIC, "Аудит бази пацієнтів", "31 жовтня 2026 р.", "Підготував", "Дата аудиту"):
        assert s in text
    assert "Сторінка" in html and "34,7 млн ₴" in html


def test_contents_links_point_to_numbered_headings(html):
    soup = BeautifulSoup(html, "html.parser")
    toc = soup.find("nav", class_="toc")
    links = [a["href"] for a in toc.find_all("a")]
    ids = [t["id"] for t in soup.find_all(id=True)]
    assert len(ids) == len(set(ids)), "ids are unique"
    heads = soup.find("main").find_all(["h2", "h3"])
    assert links == [f"#{h['id']}" for h in heads]
    assert [a.get_text() for a in toc.find_all("a")] == [
        "База з першого погляду",
        "Повторність за лікарем",
        "Підрозділ без id",
        "Відмовники",
    ]
    assert [li["class"][0] for li in toc.find_all("li")] == ["toc-h2", "toc-h3", "toc-h3", "toc-h2"]
    assert heads[0]["id"] == "sec-glance"  # the helpers' ids are kept


def test_headings_and_leads_keep_with_their_block(html):
    main = BeautifulSoup(html, "html.parser").find("main")
    blocks = [c for c in main.children if getattr(c, "name", None)]
    assert not [b for b in blocks if b.name == "div" and not b.get("class")], "flat flow"
    for b in blocks:
        if b.name in ("h2", "h3"):
            assert "keep-next" in b["class"]
    lead = main.find("p", class_="muted")
    assert "keep-next" in lead["class"]  # between "Повторність за лікарем" and its table


def test_export_leaves_the_notebook_alone(nb):
    before = nbformat.writes(nb)
    export_html(nb, META)
    assert nbformat.writes(nb) == before


def test_exporter_works_without_meta(nb):
    body, _ = AuditHTMLExporter().from_notebook_node(nb)
    assert "База з першого погляду" in body and "SECRET" not in body


def test_logo_is_embedded_and_a_missing_logo_is_named(tmp_path):
    logo = tmp_path / "logo.png"
    plt.imsave(logo, [[0.0, 1.0], [1.0, 0.0]])
    cell = html_cell('<h2 id="sec-a">Розділ</h2>')
    meta = ReportMeta(**{**META.__dict__, "logo": logo})
    out = export_html(new_notebook(cells=[cell]), meta)
    img = BeautifulSoup(out, "html.parser").select_one(".cover-logo img")
    assert img["src"].startswith("data:image/png;base64,")
    with pytest.raises(ReportError, match="logo"):
        export_html(
            new_notebook(cells=[cell]), ReportMeta(**{**META.__dict__, "logo": tmp_path / "no.png"})
        )


def test_missing_ui_words_fall_back_to_the_language():
    meta = ReportMeta(title="Audit", clinic_name="C", audit_date="", consultant="", language="ru")
    assert meta.ui("toc") == "Содержание" and meta.ui("page") == "Страница"
    en = ReportMeta(title="Audit", clinic_name="C", audit_date="", consultant="", language="en")
    html = export_html(new_notebook(cells=[html_cell("<h2>One</h2>")]), en)
    assert '<html lang="en">' in html and "Contents" in html


def test_brand_colours_stay_readable():
    assert parse_colour("#1f6f8b") == parse_colour("#1F6F8B")
    assert parse_colour("#fff") == (1.0, 1.0, 1.0) and parse_colour("rgb(255, 0, 0)") == (1, 0, 0)
    for bad in ("red;} body{display:none", "url(x)", ""):
        with pytest.raises(ValueError):
            parse_colour(bad)
    yellow = brand_palette("#f5c518")
    assert yellow["on"] != "#ffffff"  # dark text on a light band
    from clinic_analysis.report.render import _contrast

    ink = tuple(int(yellow["ink"][i : i + 2], 16) / 255 for i in (1, 3, 5))
    assert _contrast(ink, (1, 1, 1)) >= 4.5
    assert brand_palette("#1f6f8b")["on"] == "#ffffff"


# ---------------------------------------------------------------------------------------------
# PDF


def test_pdf_has_a4_pages(pdf, doc):
    path, pages = pdf
    assert path.read_bytes().startswith(b"%PDF-")
    assert pages > 2
    assert len(doc.pages) == pages
    for p in doc.pages:
        assert abs(p.width * PX_TO_PT - 595.28) < 1 and abs(p.height * PX_TO_PT - 841.89) < 1
    if shutil.which("pdfinfo"):  # the written file itself (its MediaBoxes are compressed)
        info = subprocess.run(
            ["pdfinfo", "-f", "1", "-l", str(pages), str(path)], capture_output=True, text=True
        ).stdout
        sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)
        assert len(sizes) == pages
        assert all(abs(float(w) - 595.28) < 1 and abs(float(h) - 841.89) < 1 for w, h in sizes)


def test_cover_and_contents_have_pages_of_their_own(doc):
    first = {a for a in doc.pages[0].anchors}
    assert "toc" not in first and not first & {"sec-glance", "sec-plans"}
    assert "toc" in doc.pages[1].anchors
    assert "sec-glance" in doc.pages[2].anchors  # a section opens a page


@needs_pdftotext
def test_pdf_text_cyrillic_hryvnia_footer_and_contents(pdf, doc):
    path, pages = pdf
    text = pdftotext(path)
    assert CLINIC in text and "₴" in text and "34,7 млн ₴" in text
    assert f"Сторінка 3 з {pages}" in text
    cover = pdftotext(path, 1)
    assert "Сторінка" not in cover and CLINIC in cover and "Консалтингова група" in cover
    # contents: numbers from CSS counters, page numbers from target-counter()
    page_of = {a: i + 1 for i, p in enumerate(doc.pages) for a in p.anchors}
    toc = pdftotext(path, 2)
    expected = [
        ("1. ", "База з першого погляду", page_of["sec-glance"]),
        ("1.1 ", "Повторність за лікарем", page_of["sub-doctors"]),
        ("2. ", "Відмовники", page_of["sec-plans"]),
    ]
    for number, title, page in expected:
        m = re.search(rf"{re.escape(number)}\s*{re.escape(title)}\s*\.{{5,}}\s*(\d+)", toc)
        assert m, (title, toc)
        assert int(m.group(1)) == page
    assert "1. База з першого погляду" in pdftotext(path, page_of["sec-glance"])


def _last_heading_alone(doc) -> list[int]:
    """Pages whose last content is a heading (h2/h3): nothing of the heading's section
    (text line, image, table row) follows it on the page."""
    from weasyprint.formatting_structure import boxes

    def flat(box, out):
        out.append(box)
        for child in getattr(box, "children", None) or []:
            if not isinstance(child, boxes.MarginBox):
                flat(child, out)
        return out

    bad = []
    for n, page in enumerate(doc.pages, start=1):
        seq = flat(page._page_box, [])
        heads = [
            i
            for i, b in enumerate(seq)
            if isinstance(b, boxes.BlockBox) and b.element_tag in ("h2", "h3")
        ]
        if not heads:
            continue
        last = heads[-1]
        after = seq[last + len(flat(seq[last], [])) :]
        content = (boxes.LineBox, boxes.ReplacedBox, boxes.TableRowBox)
        if not any(isinstance(b, content) for b in after):
            bad.append(n)
    return bad


@pytest.fixture(scope="module")
def foot_html():
    return export_html(foot_notebook(), META)


@pytest.fixture(scope="module")
def foot_doc(foot_html):
    return weasy(foot_html)


def with_css(html: str, css: str) -> str:
    return html.replace("</head>", f"<style>{css}</style></head>")


#: the page-break rules of report.css switched off: the controls of the tests below
LOOSE = """
h2, h3, .keep-next { break-after: auto !important }
figure, figure.chart { break-inside: auto !important }
main tbody tr { break-before: auto !important; break-after: auto !important }
"""


@pytest.fixture(scope="module")
def foot_loose_doc(foot_html):
    """The same notebook without the rules: shows that it does provoke every case."""
    return weasy(with_css(foot_html, LOOSE))


def test_no_page_ends_with_a_heading(foot_doc, foot_loose_doc):
    assert len(foot_doc.pages) > 8
    assert _last_heading_alone(foot_doc) == []
    # the notebook does put headings at the foot of pages: without keep-next some stay there
    assert _last_heading_alone(foot_loose_doc), "the test notebook no longer provokes the case"


def _split_blocks(doc) -> list[str]:
    """Figures and KPI rows whose boxes lie on more than one page."""
    from weasyprint.formatting_structure import boxes

    first_page: dict[int, int] = {}
    split = []
    for n, page in enumerate(doc.pages):
        stack = [page._page_box]
        while stack:
            b = stack.pop()
            stack.extend(getattr(b, "children", None) or [])
            el = getattr(b, "element", None)
            cls = (el.get("class") or "").split() if el is not None else []
            whole = isinstance(b, boxes.BlockBox) and (
                b.element_tag == "figure" or (b.element_tag == "div" and "kpis" in cls)
            )
            if whole and first_page.setdefault(id(el), n) != n:
                split.append(f"{b.element_tag} on pages {first_page[id(el)] + 1}-{n + 1}")
    return split


def test_charts_and_kpi_rows_are_never_split(doc, foot_doc, foot_loose_doc):
    assert _split_blocks(doc) == [] and _split_blocks(foot_doc) == []
    assert _split_blocks(foot_loose_doc), "the test notebook no longer provokes a split chart"


def test_charts_fit_the_content_width(doc, foot_doc):
    from weasyprint.formatting_structure import boxes

    content_width_pt = (210 - 2 * 17) / 25.4 * 72  # A4 minus the page margins
    imgs = []
    for page in [*doc.pages, *foot_doc.pages]:
        stack = [page._page_box]
        while stack:
            b = stack.pop()
            stack.extend(getattr(b, "children", None) or [])
            if isinstance(b, boxes.ReplacedBox) and b.element_tag == "img":
                imgs.append(b)
    assert len(imgs) >= 20
    for b in imgs:
        assert b.width * PX_TO_PT <= content_width_pt + 0.5
        assert b.height * PX_TO_PT <= (297 - 40) / 25.4 * 72


def test_names_cannot_break_out_of_the_stylesheet():
    meta = ReportMeta(**{**META.__dict__, "clinic_name": 'Клініка</style><script>x()</script>"'})
    html = export_html(new_notebook(cells=[html_cell("<h2>Розділ</h2>")]), meta)
    assert "<script" not in html.lower()
    assert html.count("</style>") == 1
    cover = BeautifulSoup(html, "html.parser").find(class_="cover-clinic")
    assert cover.get_text() == 'Клініка</style><script>x()</script>"'


def test_wrapped_outputs_join_one_flow():
    """Outputs wrapped in plain divs (or nbconvert's lab wrappers) are unwrapped, so a
    heading and its chart become siblings, where ``break-after: avoid`` works."""
    png = png_chart(4, 2)
    cell = html_cell(
        '<div><div class="jp-OutputArea-output"><h3>Обгорнутий підрозділ</h3></div></div>',
        f"<div>{chart_html(png, 'Графік')}</div>",
        "Просто текст без тегу і <b>жирне</b>",
    )
    main = BeautifulSoup(export_html(new_notebook(cells=[cell]), META), "html.parser").main
    blocks = [c for c in main.children if getattr(c, "name", None)]
    assert [b.name for b in blocks] == ["h3", "figure", "p"]
    assert "keep-next" in blocks[0]["class"] and "top" in blocks[0]["class"]
    assert blocks[2].b.get_text() == "жирне"


def _table_fragments(doc) -> list[int]:
    """Body rows in each fragment of every table that is split across pages."""
    from weasyprint.formatting_structure import boxes

    counts: dict[int, list[int]] = {}
    for page in doc.pages:
        stack = [page._page_box]
        while stack:
            b = stack.pop()
            stack.extend(getattr(b, "children", None) or [])
            if isinstance(b, boxes.TableBox):
                rows = sum(
                    len(g.children)
                    for g in b.children
                    if isinstance(g, boxes.TableRowGroupBox) and not g.is_header
                )
                counts.setdefault(id(b.element), []).append(rows)
    return [n for frags in counts.values() if len(frags) > 1 for n in frags]


def test_split_tables_keep_three_rows_on_each_page(foot_doc, foot_loose_doc):
    fragments = _table_fragments(foot_doc)
    assert fragments and min(fragments) >= 3
    assert min(_table_fragments(foot_loose_doc)) < 3, "the test notebook no longer splits badly"


# ---------------------------------------------------------------------------------------------
# web report (issue 12): phones, section navigation, alt text, the summary page, flow


def test_stylesheet_wraps_kpis_scrolls_tables_on_a_phone_and_hides_nav_in_print():
    css = CSS_FILE.read_text(encoding="utf-8")
    phone = re.search(r"@media \(max-width: (\d+)px\) \{(.*?)\n  \}", css, re.S)
    assert phone and int(phone.group(1)) >= 390
    assert re.search(r"\.kpis \{[^}]*flex-wrap: wrap", phone.group(2))
    screen = re.search(r"@media screen \{(.*?)\n\}", css, re.S).group(1)
    assert re.search(r"nav\.sections \{[^}]*position: sticky", screen)
    assert re.search(r"\.table-scroll \{[^}]*overflow-x: auto", screen)
    printed = css[css.index("@media print") :]
    assert re.search(r"nav\.sections \{ display: none; \}", printed)


def test_every_section_is_in_the_sticky_nav_and_every_table_in_a_scroll_box(html):
    soup = BeautifulSoup(html, "html.parser")
    nav = soup.find("nav", class_="sections")
    assert nav is not None and nav.find_next_sibling("main") is not None
    heads = soup.find("main").find_all("h2")
    assert [a["href"] for a in nav.find_all("a")] == [f"#{h['id']}" for h in heads]
    tables = soup.find("main").find_all("table")
    assert tables and all("table-scroll" in t.parent.get("class", []) for t in tables)


def test_a_plain_figure_carries_its_alt_text_from_the_output_metadata():
    cell = new_code_cell("plt.show()")
    cell.outputs = [
        new_output(
            "display_data",
            data={"image/png": png_chart(), "text/plain": "<Figure>"},
            metadata={"image/png": {"alt": "Виручка по місяцях, ₴"}},
        )
    ]
    soup = BeautifulSoup(export_html(new_notebook(cells=[cell]), META), "html.parser")
    assert soup.select_one("main figure.chart img")["alt"] == "Виручка по місяцях, ₴"


def test_report_hide_cells_stay_out_of_the_report():
    cells = [
        new_markdown_cell("EXPLANATION_FOR_THE_ANALYST", metadata={"tags": ["report-hide"]}),
        html_cell("<p>HIDDEN_EXAMPLE_OUTPUT</p>", tags=["report-hide"]),
        html_cell("<p>VISIBLE_TEXT</p>"),
    ]
    html = export_html(new_notebook(cells=cells), META)
    assert "VISIBLE_TEXT" in html
    assert "EXPLANATION_FOR_THE_ANALYST" not in html and "HIDDEN_EXAMPLE_OUTPUT" not in html


def test_summary_moves_after_the_cover_and_short_sections_share_a_page():
    summary = '<section class="summary" id="summary"><h1>Головне</h1><p>Гроші в базі.</p></section>'
    cells = [
        html_cell('<h2 id="sec-a">Перший розділ</h2>', "<p>Короткий текст.</p>"),
        html_cell(summary),
        html_cell('<h2 id="sec-b">Другий розділ</h2>', "<p>Ще один короткий текст.</p>"),
    ]
    html = export_html(new_notebook(cells=cells), META)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("header", class_="cover").find_next_sibling().get("id") == "summary"
    assert [li.get_text() for li in soup.select("nav.toc li")] == ["Перший розділ", "Другий розділ"]
    pages = weasy(html).pages
    texts = [
        " ".join(b.text for b in _boxes(p._page_box) if getattr(b, "text", None)) for p in pages
    ]
    assert "Головне" in texts[1]  # cover, summary, contents, then the sections
    both = [t for t in texts if "Перший розділ" in t and "Другий розділ" in t]
    assert len(both) >= 2  # the contents, and one page holding both short sections


def _boxes(box):
    yield box
    for child in getattr(box, "children", []):
        yield from _boxes(child)
