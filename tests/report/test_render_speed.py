"""The fast paths of a re-render give what the slow ones gave: a chart drawn once is the
picture ``savefig(bbox_inches="tight")`` gives, a chart taken from the store is the one
stored for exactly the same cells, and the package versions in the cache key are read from
the distributions' folder names."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zlib
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from clinic_analysis import cache as cache_mod  # noqa: E402
from clinic_analysis.cache import ChartStore  # noqa: E402
from clinic_analysis.report import elements  # noqa: E402
from clinic_analysis.report.display import KernelCharts  # noqa: E402
from clinic_analysis.report.elements import Chart, figure_png  # noqa: E402


def _savefig_tight_on_white(fig, dpi=150) -> np.ndarray:
    """The old way: savefig with bbox_inches="tight", then laid on white."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    rgba = Image.open(buf).convert("RGBA")
    rgb = Image.new("RGB", rgba.size, "white")
    rgb.paste(rgba, mask=rgba.getchannel("A"))
    return np.asarray(rgb)


def _pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGB"
    return np.asarray(image)


def _busy_figure():
    """A title, a second y axis, rotated labels and a legend hung below the axes: content
    that reaches outside the canvas, which the tight box must take in."""
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.bar(["Mon", "Tue", "Wed"], [12, 30, 21], label="visits")
    ax.set_title("Visits by weekday", loc="left")
    ax.tick_params(axis="x", rotation=45)
    ax2 = ax.twinx()
    ax2.plot([0, 1, 2], [1000, 5000, 2500], color="red", label="revenue")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncols=2)
    plt.close(fig)
    return fig


def test_chart_drawn_once_is_the_picture_savefig_tight_gives():
    fig = _busy_figure()
    expected = _savefig_tight_on_white(fig)
    got = _pixels(figure_png(fig))
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_multi_line_texts_of_several_fonts_and_sizes_are_placed_as_savefig_places_them():
    """The line gap, ascent and descent read once per font and size (not per text) give
    the same layout: two-line titles and labels, bold, italic, a large suptitle."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(6, 3))
    fig.suptitle("Visits and revenue\nby weekday", fontsize=16, fontweight="bold")
    ax.bar(["Mon", "Tue"], [3, 5], label="visits\n(completed)")
    ax.set_title("First line\nsecond line", loc="left", fontstyle="italic")
    ax.set_ylabel("visits,\nper day", fontsize=7)
    ax.legend(title="Legend\ntitle", loc="upper left", bbox_to_anchor=(1, 1))
    ax2.plot([0, 1], [1, 2])
    ax2.text(0.5, 1.5, "ÄÉ ґ Щ ₴\nqypj", fontsize=11, fontweight="bold")
    plt.close(fig)
    assert np.array_equal(_pixels(figure_png(fig)), _savefig_tight_on_white(fig))


def test_a_transparent_figure_is_laid_on_white():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    fig.patch.set_alpha(0)
    ax.patch.set_alpha(0)
    plt.close(fig)
    got = _pixels(figure_png(fig))
    assert tuple(got[0, 0]) == (255, 255, 255)
    assert np.array_equal(got, _savefig_tight_on_white(fig))


def test_a_figure_with_a_layout_engine_still_gets_its_tight_picture():
    fig, ax = plt.subplots(figsize=(4, 2), layout="constrained")
    ax.plot([0, 1], [0, 1])
    ax.set_title("constrained")
    plt.close(fig)
    assert np.array_equal(_pixels(figure_png(fig)), _savefig_tight_on_white(fig))


def test_each_text_of_a_chart_is_measured_once_for_its_box_and_its_drawing(monkeypatch):
    from collections import Counter

    from matplotlib.backends.backend_agg import RendererAgg

    measured = Counter()
    measure = RendererAgg.get_text_width_height_descent

    def counting(self, s, prop, ismath):
        measured[(s, prop.get_size_in_points())] += 1
        return measure(self, s, prop, ismath)

    monkeypatch.setattr(RendererAgg, "get_text_width_height_descent", counting)
    fig = _busy_figure()
    got = _pixels(figure_png(fig))
    assert [n for (s, _), n in measured.items() if s == "Visits by weekday"] == [1]  # title
    assert set(measured.values()) == {1}  # every text: once, not once per step
    monkeypatch.setattr(RendererAgg, "get_text_width_height_descent", measure)
    assert np.array_equal(got, _savefig_tight_on_white(fig))


class _FakeStore:
    def __init__(self, key="k1"):
        self.next_key, self.saved, self.asked = key, {}, []

    def key(self, dpi):
        return self.next_key

    def get(self, key):
        self.asked.append(key)
        return self.saved.get(key)

    def put(self, key, png):
        self.saved[key] = png


def test_a_chart_is_drawn_once_and_then_taken_from_the_store(monkeypatch):
    store = _FakeStore()
    monkeypatch.setattr(elements, "_chart_store", store)
    fig = _busy_figure()
    first = Chart(fig).png()
    assert store.saved == {"k1": first}
    monkeypatch.setattr(type(fig), "savefig", lambda *a, **k: pytest.fail("drawn again"))
    assert Chart(fig).png() == first


def test_without_a_key_the_chart_is_drawn_and_not_stored(monkeypatch):
    store = _FakeStore(key=None)
    monkeypatch.setattr(elements, "_chart_store", store)
    png = Chart(_busy_figure()).png()
    assert png.startswith(b"\x89PNG") and store.saved == {} and store.asked == []


def _kernel(cells):
    return SimpleNamespace(user_ns={"In": cells})


def test_chart_key_changes_when_any_earlier_cell_changes_and_per_chart_of_a_cell():
    cells = ["", "setup()", "display(V.glance_new_chart(c))"]
    charts = KernelCharts(_kernel(cells), store=None, base="audit-1")
    first, second = charts.key(150), charts.key(150)  # two charts shown by one cell
    assert first != second
    again = KernelCharts(_kernel(list(cells)), store=None, base="audit-1")
    assert [again.key(150), again.key(150)] == [first, second]  # the next run, same cells
    edited = KernelCharts(_kernel(["", "setup(); restyle()", cells[2]]), None, "audit-1")
    assert edited.key(150) != first  # an earlier cell edited: drawn again
    other_audit = KernelCharts(_kernel(list(cells)), store=None, base="audit-2")
    assert other_audit.key(150) != first
    assert KernelCharts(_kernel(list(cells)), None, "audit-1").key(300) != first
    assert KernelCharts(SimpleNamespace(user_ns={}), None, "audit-1").key(150) is None


def test_a_stored_chart_altered_on_disk_is_not_used_and_other_audits_charts_go(tmp_path):
    old = ChartStore(tmp_path, "a" * 64)
    old.put("x", b"old chart")
    store = ChartStore(tmp_path, "b" * 64)
    assert not old.folder.exists()  # the charts of another audit are removed
    store.put("k", b"\x89PNG chart bytes")
    assert store.get("k") == b"\x89PNG chart bytes"
    path = store.folder / "k.png"
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    assert store.get("k") is None
    assert store.get("missing") is None


def test_package_versions_are_read_from_folder_names_once_per_distribution(tmp_path, monkeypatch):
    (tmp_path / "Foo_Bar-1.2.dist-info").mkdir()
    (tmp_path / "other-3.0.dist-info").mkdir()
    egg = tmp_path / "foo_bar.egg-info"  # a source tree's: no version in the name
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: foo-bar\nVersion: 1.2\n")
    (tmp_path / "not-a-dist").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(tmp_path / "missing")])
    cache_mod.dependency_versions.cache_clear()
    try:
        lines = cache_mod.dependency_versions().splitlines()
    finally:
        cache_mod.dependency_versions.cache_clear()
    assert lines == [sys.version, "foo-bar==1.2", "other==3.0"]


def _png_data_uri(image: Image.Image) -> str:
    import base64

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@pytest.mark.skipif(shutil.which("pdfimages") is None, reason="needs poppler")
def test_pdf_images_show_the_pixels_of_the_html_images_whatever_their_kind(tmp_path):
    from clinic_analysis.report.render import write_pdf

    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8), "RGB")
    grey = Image.fromarray(rng.integers(0, 255, (20, 25), dtype=np.uint8), "L")
    palette = rgb.resize((12, 10)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    images = [rgb, grey, palette]  # 8-bit RGB and grey go as they are; a palette the usual way
    body = "".join(f'<img src="{_png_data_uri(im)}">' for im in images)
    write_pdf(f"<html><body>{body}</body></html>", tmp_path / "x.pdf")
    subprocess.run(
        ["pdfimages", "-png", str(tmp_path / "x.pdf"), str(tmp_path / "img")], check=True
    )
    got = sorted(tmp_path.glob("img-*.png"))
    assert len(got) == 3
    assert np.array_equal(np.asarray(Image.open(got[0])), np.asarray(rgb))
    assert np.array_equal(np.asarray(Image.open(got[1])), np.asarray(grey))
    assert np.array_equal(
        np.asarray(Image.open(got[2]).convert("RGB")), np.asarray(palette.convert("RGB"))
    )


def test_only_plain_8_bit_pngs_give_their_rows_as_they_are():
    from clinic_analysis.report.render import _idat_of_plain_png

    def opened(image, interlaced=False):
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        data = bytearray(buf.getvalue())
        if interlaced:  # Pillow writes no interlaced PNG: mark the header so, CRC and all
            data[28] = 1
            data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
        return Image.open(io.BytesIO(bytes(data)))

    rgb = Image.new("RGB", (8, 4), "teal")
    assert _idat_of_plain_png(opened(rgb))
    assert _idat_of_plain_png(opened(rgb.convert("L")))
    assert _idat_of_plain_png(opened(rgb.convert("RGBA"))) is None
    assert _idat_of_plain_png(opened(rgb.convert("P"))) is None
    assert _idat_of_plain_png(opened(rgb, interlaced=True)) is None
    assert _idat_of_plain_png(rgb) is None  # decoded already: no file to read


class _DictStore:
    """A chart store in memory whose keys are given in order, as a kernel's would be."""

    def __init__(self, keys):
        self.keys, self.saved = list(keys), {}

    def key(self, kind):
        return f"{self.keys.pop(0)}:{kind}"

    def get(self, key):
        return self.saved.get(key)

    def put(self, key, data):
        self.saved[key] = data


def _counting_chart_view():
    from matplotlib.figure import Figure

    from clinic_analysis.report.elements import deferred

    calls = []

    @deferred
    def view(title):
        calls.append(title)
        fig = Figure(figsize=(2, 1))
        fig.add_subplot().set_title(title)
        return Chart(fig, "a reading")

    return view, calls


def test_a_chart_view_in_the_store_is_shown_without_drawing_it_again():
    from clinic_analysis.report.elements import Deferred, use_chart_store

    view, calls = _counting_chart_view()
    store = _DictStore(["run1", "run2"])
    use_chart_store(store)
    try:
        first = view("Visits")
        assert isinstance(first, Deferred) and calls == []  # nothing drawn when called
        shown = first.html()
        assert calls == ["Visits"] and "<img" in shown and "a reading" in shown
        assert first.html() == shown  # shown twice: the same, not looked up again
        store.keys = ["run1"]  # the next run of the same notebook: the same key
        assert view("Visits").html() == shown and calls == ["Visits"]  # from the store
        assert list(store.saved) == ["run1:view"]  # stored once, as the view's HTML
    finally:
        use_chart_store(None)


def test_reaching_into_a_deferred_chart_draws_it_and_shows_the_restyled_figure():
    from clinic_analysis.report.elements import use_chart_store

    view, calls = _counting_chart_view()
    use_chart_store(_DictStore(["k1", "k2"]))
    try:
        chart = view("Visits")
        for probe in (
            "_repr_png_",
            "_ipython_display_",
            "_ipython_canary_method_should_not_exist_",
        ):
            assert not hasattr(chart, probe)  # IPython's probes make nothing
        assert calls == []
        chart.figure.axes[0].set_title("Restyled")  # the element is made here
        assert calls == ["Visits"] and 'alt="Restyled' in chart.html()
    finally:
        use_chart_store(None)


def test_without_a_chart_store_a_chart_view_hands_back_its_element():
    view, calls = _counting_chart_view()
    assert isinstance(view("Visits"), Chart) and calls == ["Visits"]


def test_fresh_charts_are_drawn_again_and_kept_for_the_next_run(tmp_path):
    store = ChartStore(tmp_path, "a" * 64)
    cells = ["", "display(V.glance_new_chart(c))"]
    last_run = KernelCharts(_kernel(list(cells)), store, "audit-1")
    key = last_run.key(150)
    last_run.put(key, b"last run's chart")
    fresh = KernelCharts(_kernel(list(cells)), store, "audit-1", fresh=True)
    assert fresh.key(150) == key and fresh.get(key) is None  # drawn again...
    fresh.put(key, b"fresh chart")
    next_run = KernelCharts(_kernel(list(cells)), store, "audit-1")
    assert next_run.get(next_run.key(150)) == b"fresh chart"  # ...and kept
