"""Every report view renders in every language on a small demo clinic: no missing string,
no unfilled placeholder, no patient contact data."""

import inspect
import re
import typing

import matplotlib
import pytest
from IPython.display import HTML

from clinic_analysis.audit import compute_audit
from clinic_analysis.params import load_params
from clinic_analysis.report import views as V

matplotlib.use("Agg")

BREAKDOWNS = ("by_doctor", "by_service_line", "by_channel", "by_promo", "by_cohort_year")


@pytest.fixture(scope="module")
def audit(small_demo):
    return compute_audit(load_params(small_demo))


def _views():
    for name, fn in inspect.getmembers(V, inspect.isfunction):
        if name not in V.__all__ or name.startswith("_"):
            continue
        params = list(inspect.signature(fn).parameters)
        if params[:1] == ["c"]:
            yield name, fn, params[1:]


def _returns_what_it_declares(name, fn, out) -> None:
    """A view converted to elements returns what its annotation says (``Table``, ``Chart``,
    ``Chart | Callout``...); one that still declares ``HTML`` is not checked yet."""
    declared = typing.get_type_hints(fn).get("return")
    if declared is not None and declared is not HTML:
        assert isinstance(out, declared), (name, type(out), declared)


@pytest.mark.parametrize("language", ["uk", "ru", "en"])
def test_every_view_renders_in_every_language(audit, language):
    clinic = audit.params.clinic.model_copy(update={"language": language})
    audit.params = audit.params.model_copy(update={"clinic": clinic})
    c = V.Context(audit)
    names = [str(n) for n in audit.data.patients["full_name"].dropna() if len(str(n)) > 5]
    done = 0
    for name, fn, extra in _views():
        calls = [(fn, (b,)) for b in BREAKDOWNS] if extra == ["name"] else [(fn, ())]
        if extra == ["by"]:
            calls = [(fn, ("phase",)), (fn, ("segment",))]
        for f, args in calls:
            out = f(c, *args)
            _returns_what_it_declares(name, f, out)
            html = out.data
            assert isinstance(html, str), name
            text = re.sub(r"<[^>]+>|data:image/png;base64,[A-Za-z0-9+/=]+", " ", html)
            assert not re.search(r"\{[a-z_]+\}", text), (name, text[:200])
            assert not any(n in text for n in names), name
            done += 1
    assert done > 40


@pytest.mark.parametrize(("world", "language"), [("no_amounts", "uk"), ("short", "ru")])
def test_every_view_renders_without_amounts_and_on_six_weeks(tmp_path, world, language):
    """The honest variants (not exported, too little history) exist in every language and
    no view prints a currency zero."""
    from tests import worlds

    build = worlds.no_amounts_clinic if world == "no_amounts" else worlds.short_history_clinic
    audit = compute_audit(load_params(build(tmp_path)))
    clinic = audit.params.clinic.model_copy(update={"language": language})
    audit.params = audit.params.model_copy(update={"clinic": clinic})
    c = V.Context(audit)
    marker = c.t(
        "honest.not_exported" if world == "no_amounts" else "honest.too_little_history_short"
    )
    seen = []
    for name, fn, extra in _views():
        calls = [(b,) for b in BREAKDOWNS] if extra == ["name"] else [()]
        if extra == ["by"]:
            calls = [("phase",), ("segment",)]
        for args in calls:
            out = fn(c, *args)
            _returns_what_it_declares(name, fn, out)
            html = out.data
            text = re.sub(r"<[^>]+>|data:image/png;base64,[A-Za-z0-9+/=]+", " ", html)
            text = text.replace("\u00a0", " ")
            assert not re.search(r"\{[a-z_]+\}", text), (name, text[:200])
            assert not re.search(r"(?<![\d.,])0 R\$|R\$ 0(?![\d.,])", text), (name, text[:300])
            seen.append(text)
    assert any(marker in s for s in seen)


def test_an_analyst_reuses_a_views_figure_and_frame(audit):
    """The notebook's "add your own section": take a view's figure or frame, restyle it and
    show it again, in the report's style."""
    from bs4 import BeautifulSoup

    from clinic_analysis.report.display import frame_html

    c = V.Context(audit)
    chart = V.glance_new_chart(c)
    assert c.t("glance.chart.new") in BeautifulSoup(chart.data, "html.parser").img["alt"]
    chart.figure.axes[0].set_title("New patients 8812")
    alt = BeautifulSoup(chart._repr_html_(), "html.parser").img["alt"]
    assert alt.startswith("New patients 8812") and c.t("glance.chart.new") not in alt
    frame = V.sources_table(c).frame[["file", "rows_in", "rows_kept"]]
    assert frame["rows_in"].dtype.kind == "i" and (frame["rows_in"] >= frame["rows_kept"]).all()
    shown = frame_html(frame, c.f, c.t)
    assert f">{c.f.number(frame['rows_in'].iloc[0])}</td>" in shown


def test_a_dollar_sign_in_a_doctors_name_is_plain_text_in_charts():
    import matplotlib.pyplot as plt

    from clinic_analysis.report.theme import set_report_theme

    set_report_theme()
    fig, ax = plt.subplots()
    ax.barh(["Dr $Ivanov_{$ Jr", "Smith"], [1, 2])  # broken mathtext: would not render
    ax.set_title("$5 off $promo")
    fig.canvas.draw()  # raises on mathtext when "$" is parsed
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Dr $Ivanov_{$ Jr", "Smith"]
    plt.close(fig)


def test_the_report_theme_is_what_seaborn_set_theme_sets():
    """The theme is set without importing seaborn (~2 s); it must stay seaborn's."""
    import matplotlib as mpl
    import seaborn as sns

    from clinic_analysis.report import theme

    with mpl.rc_context():
        mpl.rcdefaults()
        sns.set_theme(
            context="notebook",
            style="whitegrid",
            palette=theme.report_palette("#aa3355"),
            font=theme.FONT,
            rc=theme.REPORT_RC,
        )
        seaborns = dict(mpl.rcParams)
        seaborn_colours = [tuple(c) for c in sns.color_palette()]
        mpl.rcdefaults()
        palette = theme.set_report_theme("#aa3355")
        ours = dict(mpl.rcParams)
        our_colours = theme.colours()
    differ = {k for k in seaborns if seaborns[k] != ours[k]}
    assert differ == {"image.cmap"}  # seaborn's "rocket" exists only once seaborn is imported
    assert our_colours == seaborn_colours and palette[0] == "#aa3355"
    assert our_colours[0] == (0xAA / 255, 0x33 / 255, 0x55 / 255)


def test_the_report_views_do_not_import_seaborn():
    """A notebook whose charts come from the chart store never pays seaborn's import."""
    from tests.conftest import loaded_after

    setup = (
        "import clinic_analysis.report.views, clinic_analysis.report.display\n"
        "from clinic_analysis.report.theme import set_report_theme; set_report_theme()"
    )
    assert loaded_after(setup, ["seaborn", "scipy.stats"]) == []
