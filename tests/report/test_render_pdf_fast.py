"""The PDF and HTML stages' shortcuts give what the plain ways give: a table laid out without
measuring min-content gets the columns WeasyPrint computes with it, images handed to
WeasyPrint by the URL fetcher are the data URIs' images, the HTML post-processing with the
images set aside is the one without, and the one shared exporter carries nothing from one
report to the next."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook, new_output
from PIL import Image

from clinic_analysis.report import layout, render
from clinic_analysis.report.render import ReportMeta, export_html, write_pdf

CSS = """
@page { size: A4; margin: 20mm; }
html { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; }
table { width: 100%; border-collapse: collapse; font-size: 8pt; }
td, th { padding: 1.1mm 1.6mm; overflow-wrap: anywhere; hyphens: auto; }
td.num { white-space: nowrap; text-align: right; }
"""


def _table(rows: list[list[str]], style: str = "", head: list[str] | None = None) -> str:
    head_html = "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head or []) + "</tr></thead>"
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if c[:1].isdigit() else ""}">{c}</td>' for c in r)
        + "</tr>"
        for r in rows
    )  # fmt: skip
    return f'<table style="{style}">{head_html if head else ""}<tbody>{body}</tbody></table>'


def _doc(tables: list[str]) -> str:
    return f'<html lang="uk"><style>{CSS}</style><body>{"".join(tables)}</body></html>'


SHORT = _table([["Активні", "1 204"], ["Сплячі", "311"]], head=["Сегмент", "Пацієнти"])
LONG_WORDS = "Найдовша назва сегмента пацієнтів, які давно не приходили до клініки"
WIDE = _table(
    [[LONG_WORDS, "12 345", LONG_WORDS, "67%", LONG_WORDS, "1 000 000 ₴", LONG_WORDS]] * 3,
    head=["Сегмент", "Пацієнти", "Опис", "Частка", "Порада", "Виручка", "Примітка"],
)
PERCENT = SHORT.replace("<th>Сегмент</th>", '<th style="width: 30%">Сегмент</th>')
AUTO_WIDTH = _table([["Активні", "1 204"]], style="width: auto")
SPLIT = _table([["Рядок", str(i)] for i in range(120)], head=["Назва", "Номер"])


def _columns(html: str, shortcut: bool) -> list[tuple[float, list[float]]]:
    """Every laid-out table's width and column widths, in page order."""
    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes

    if shortcut:
        with render._table_min_content_only_when_it_counts():
            doc = HTML(string=html).render()
    else:
        doc = HTML(string=html).render()
    return [
        (box.width, list(box.column_widths))
        for page in doc.pages
        for box in page._page_box.descendants()
        if isinstance(box, boxes.TableBox)
    ]


@pytest.mark.parametrize(
    "tables",
    [[SHORT], [WIDE], [PERCENT], [AUTO_WIDTH], [SHORT, WIDE, SHORT], [SPLIT]],
    ids=["fits", "too-wide", "percent-column", "auto-width", "mixed", "split-over-pages"],
)
def test_table_columns_are_the_ones_weasyprint_computes_with_min_content(tables):
    html = _doc(tables)
    expected = _columns(html, shortcut=False)
    assert expected and all(widths for _, widths in expected)
    assert _columns(html, shortcut=True) == expected


WORDS = st.text(alphabet="аеіоулнрстшщїґАБВabcilmwW0123456789-–%₴,.", min_size=1, max_size=14)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.lists(WORDS, min_size=1, max_size=4).map(" ".join), min_size=3, max_size=3),
        min_size=1,
        max_size=3,
    ),
    width_mm=st.integers(min_value=30, max_value=170),
)
def test_any_table_gets_the_columns_weasyprint_computes_with_min_content(rows, width_mm):
    from html import escape

    cells = [[escape(c) for c in r] for r in rows]
    html = _doc([_table(cells, style=f"width: {width_mm}mm")])
    assert _columns(html, shortcut=True) == _columns(html, shortcut=False)


def test_a_table_that_fits_is_laid_out_without_measuring_min_content(monkeypatch):
    from weasyprint.layout import preferred

    measured = []
    usual = preferred.table_cell_min_max_content_width

    def spy(context, box, outer=True):
        measured.append(box)
        return usual(context, box, outer)

    monkeypatch.setattr(preferred, "table_cell_min_max_content_width", spy)
    _columns(_doc([SHORT]), shortcut=True)
    assert measured == []  # max-content only
    _columns(_doc([WIDE]), shortcut=True)
    assert len(measured) == 7 * 4  # too wide: every cell measured the usual way
    measured.clear()
    _columns(_doc([SHORT]), shortcut=False)
    assert len(measured) == 2 * 3  # outside the shortcut nothing changes


def test_the_shortcut_is_undone_after_the_render():
    from weasyprint.layout import preferred, table

    cell, layout_ = preferred.table_cell_min_max_content_width, table.auto_table_layout
    with render._table_min_content_only_when_it_counts():
        assert table.auto_table_layout is not layout_
    assert preferred.table_cell_min_max_content_width is cell
    assert table.auto_table_layout is layout_


def _png(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (40, 30), colour)
    image.paste((255, 255, 255), (10, 10, 30, 20))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
    '<rect width="40" height="20" fill="#1f6f8b"/></svg>'
)


def _uri(mime: str, data: bytes, wrap: bool = False) -> str:
    text = base64.b64encode(data).decode("ascii")
    if wrap:  # a payload broken over lines, as some notebooks store it
        text = "\n".join(text[i : i + 20] for i in range(0, len(text), 20))
    return f"data:{mime};base64,{text}"


IMAGES_HTML = _doc(
    [
        f'<p><img src="{_uri("image/png", _png((200, 30, 30)))}" alt="red"></p>',
        f'<p><img src="{_uri("image/png", _png((30, 30, 200)), wrap=True)}" alt="blue"></p>',
        f'<p><img src="{_uri("image/svg+xml", SVG.encode())}" alt="svg"></p>',
        SHORT,
    ]
)


def test_images_are_handed_to_weasyprint_as_they_are_in_the_html():
    html, fetcher = render._images_aside(IMAGES_HTML)
    assert "base64" not in html and html.count('src="clinic-audit-image:') == 3
    got = fetcher.fetch("clinic-audit-image:0")
    assert got.read() == _png((200, 30, 30))
    assert fetcher.fetch("clinic-audit-image:1").read() == _png((30, 30, 200))
    svg = fetcher.fetch("clinic-audit-image:2")
    assert svg.read() == SVG.encode() and svg.content_type == "image/svg+xml"
    with pytest.raises(ValueError):  # not one of this report's images: the usual way, refused
        fetcher.fetch("clinic-audit-image")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs pdftoppm")
def test_the_pdf_looks_as_weasyprint_draws_the_html_itself(tmp_path):
    from weasyprint import HTML

    HTML(string=IMAGES_HTML, base_url=str(tmp_path)).write_pdf(tmp_path / "plain.pdf")
    assert write_pdf(IMAGES_HTML, tmp_path / "fast.pdf") == 1

    def pixels(name: str) -> bytes:
        out = subprocess.run(
            ["pdftoppm", "-r", "60", "-png", str(tmp_path / name)],
            capture_output=True,
            check=True,
        ).stdout
        return out

    assert pixels("fast.pdf") == pixels("plain.pdf")


# ---------------------------------------------------------------------------------------------
# HTML post-processing with the images set aside


def _postprocess_page(*blocks: str) -> str:
    return (
        '<!DOCTYPE html><html><head><style>p{}</style></head><body><nav id="toc"></nav><main>'
        + "".join(blocks)
        + "</main></body></html>"
    )


def test_postprocess_with_images_aside_is_the_postprocess_without():
    page = _postprocess_page(
        "<h2>Огляд</h2><p>Текст із AUDITIMG0X0Z, як у звичайному тексті</p>",
        f'<img src="{_uri("image/png", _png((1, 2, 3)), wrap=True)}" alt="a">',
        f'<div><img src="{_uri("image/png", _png((9, 9, 9)))}"></div>',
        '<img src="https://example.org/x.png">',
        f'<figure class="chart"><img src="{_uri("image/svg+xml", SVG.encode())}"></figure>',
    )
    got = layout.postprocess(page)
    assert got == layout._postprocess(page)
    assert "AUDITIMG0X0Z" in got  # the report's own text is left alone
    assert _uri("image/png", _png((1, 2, 3)), wrap=True) in got


@settings(max_examples=30, deadline=None)
@given(
    text=st.text(alphabet="AUDITMGXZ0123 <>&\"'абв", max_size=40),
    payloads=st.lists(st.binary(min_size=1, max_size=60), max_size=3),
)
def test_any_text_and_images_come_back_unchanged(text, payloads):
    from html import escape

    page = _postprocess_page(
        f"<p>{escape(text)}</p>",
        *(f'<img src="{_uri("image/png", p)}">' for p in payloads),
    )
    assert layout.postprocess(page) == layout._postprocess(page)


# ---------------------------------------------------------------------------------------------
# the shared exporter


def test_each_report_gets_its_own_cover_from_the_shared_exporter():
    nb = new_notebook(
        cells=[
            new_code_cell(
                "x",
                outputs=[
                    new_output("display_data", data={"text/html": "<h2>Розділ</h2><p>Так</p>"})
                ],
            )
        ]
    )
    one = ReportMeta(
        title="Аудит", clinic_name="Клініка Один", audit_date="1", consultant="", language="uk"
    )
    two = ReportMeta(
        title="Audit", clinic_name="Clinic Two", audit_date="2", consultant="", language="en"
    )
    first = export_html(nb, one)
    second = export_html(nb, two)
    assert "Клініка Один" in first and "Clinic Two" not in first
    assert "Clinic Two" in second and "Клініка Один" not in second
    assert export_html(nb, one) == first
    assert render._compiled_exporter().meta is None
