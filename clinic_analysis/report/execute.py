"""The report notebook run by papermill in the ``clinic-audit`` kernel; a failing cell named
by the report section it belongs to."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from clinic_analysis.errors import ReportError

if TYPE_CHECKING:
    import nbformat

KERNEL_NAME = "clinic-audit"
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "audit.ipynb"  # the report's


def ensure_kernel() -> None:
    """Register the ``clinic-audit`` kernel inside this environment if it is missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        import sys

        from ipykernel.kernelspec import install

        install(kernel_name=KERNEL_NAME, display_name="clinic-audit", prefix=sys.prefix)


def nbformat_write(nb: nbformat.NotebookNode, path: Path) -> None:
    import nbformat

    nbformat.write(nb, str(path))


def _write_once_engine() -> str:
    """papermill's nbclient engine, but the executed notebook is written once at the end
    (papermill does that itself, also on a failure) instead of twice per cell: each write
    re-serialises every chart so far, which grows with the square of the notebook."""
    from papermill.engines import NBClientEngine, papermill_engines

    class WriteOnceEngine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, **kwargs):
            return super().execute_notebook(nb, kernel_name, output_path=None, **kwargs)

    papermill_engines.register(ENGINE_NAME, WriteOnceEngine)
    return ENGINE_NAME


ENGINE_NAME = "clinic-audit-write-once"


FRESH_CHARTS_ENV = "CLINIC_AUDIT_FRESH_CHARTS"
# the kernel talks to us over loopback only (its TCP notice is noise in the log); its history
# stays in memory, as nbclient starts it
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.hist_file=:memory:"]
# run silently by a kernel started ahead of the notebook (:func:`warm_up`, then
# :func:`preload_audit`): no name is left in the analyst's namespace
_IN_KERNEL = "__import__('importlib').import_module('clinic_analysis.report.execute').{call}"
WARM_UP = _IN_KERNEL.format(call="warm_up()")
WARM_UP_DRAWING = _IN_KERNEL.format(call="warm_up_drawing()")


class EarlyKernel:
    """The ``clinic-audit`` kernel started before the audit is computed or loaded, so that
    its start (~1 s) and the notebook's imports (~2.5 s, :func:`warm_up`) run on the second
    core meanwhile, and, once the audit is cached, its reading (:meth:`preload`). All that
    runs silently (no execution count, no output, nothing in the notebook); the notebook's
    own cells then find it done. :func:`execute_notebook` runs the notebook in it;
    :meth:`close` ends it (always called, also when the notebook is not run)."""

    def __init__(self, cwd: Path, fresh: bool = False):
        import os

        from jupyter_client.manager import KernelManager

        ensure_kernel()
        env = dict(os.environ)
        if fresh:
            env[FRESH_CHARTS_ENV] = "1"
        self.km = KernelManager(kernel_name=KERNEL_NAME)
        self.km.start_kernel(cwd=str(cwd), env=env, extra_arguments=KERNEL_ARGS)
        # a session of its own: a second client of the manager's session would take the
        # notebook client's place at the kernel (same identity), which then never answers
        from jupyter_client.session import Session

        key, scheme = self.km.session.key, self.km.session.signature_scheme
        self._kc = self.km.client(session=Session(key=key, signature_scheme=scheme))
        self._kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        self._kc.execute(WARM_UP, silent=True, store_history=False)  # not waited for
        if fresh:
            self.will_draw()

    def will_draw(self) -> None:
        """The notebook will draw its charts (a new audit, whose chart store is empty, or
        ``fresh``): have the kernel import what drawing takes (:func:`warm_up_drawing`)
        meanwhile. Not waited for."""
        if self._kc is not None:
            self._kc.execute(WARM_UP_DRAWING, silent=True, store_history=False)

    def preload(self, params_path: Path, report_dir: Path) -> None:
        """Have the kernel read the audit the notebook will open, ``open_audit(params_path,
        report_dir)`` (:func:`preload_audit`), as soon as it is cached: while this process
        prepares the notebook's run. Not waited for; the notebook's cells queue behind it."""
        if self._kc is not None:
            args = f"{str(params_path)!r}, {str(report_dir)!r}"
            code = _IN_KERNEL.format(call=f"preload_audit({args})")
            self._kc.execute(code, silent=True, store_history=False)

    def close(self) -> None:
        """Stop the kernel and its channels; safe to call twice."""
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)


def warm_up() -> None:
    """In the early kernel, before the notebook: the first cell's imports, matplotlib's
    inline backend, and one throw-away chart drawn as the report draws its charts (the fonts,
    the PNG encoder, matplotlib's first-use paths), so that the notebook's cells find them
    loaded. It changes no style: no rcParams, no theme, nothing shown."""
    import IPython.display  # noqa: F401
    import matplotlib_inline.backend_inline  # noqa: F401 - as display.install loads it

    import clinic_analysis.report.display  # noqa: F401
    import clinic_analysis.report.pipeline  # noqa: F401
    import clinic_analysis.report.present  # noqa: F401
    import clinic_analysis.report.views  # noqa: F401

    with contextlib.suppress(Exception):  # a warm-up only: the notebook says what is wrong
        from matplotlib.figure import Figure

        from clinic_analysis.report.elements import figure_png

        fig = Figure(figsize=(3, 2))  # not pyplot's: never shown
        ax = fig.add_subplot()
        ax.bar(["a", "b"], [1, 2], label="a")
        ax.set_title("Ґ ₴", fontweight="bold")
        ax.legend()
        figure_png(fig)


def warm_up_drawing() -> None:
    """In the early kernel, when the notebook will draw its charts: seaborn (~2 s, with
    SciPy's statistics), which only the cohort heatmap takes and :func:`warm_up` leaves out
    (a notebook whose charts are all in the chart store never imports it)."""
    import seaborn  # noqa: F401


#: the audit read ahead by :func:`preload_audit`, taken by :func:`take_preloaded`
_preloaded: dict[tuple[str, str], tuple] = {}
#: the tables read ahead with it: the one an analyst's cell reaches for first (as the
#: notebook's own example does)
PRELOAD_TABLES = ("visits",)


def _preload_key(params_path, report_dir) -> tuple[str, str]:
    return str(Path(params_path).resolve()), str(Path(report_dir).resolve())


def preload_audit(params_path: str, report_dir: str) -> None:
    """In the early kernel, once the audit is cached: what the notebook's
    ``open_audit(params_path, report_dir)`` would return, read now (with
    :data:`PRELOAD_TABLES`, the string catalogue and Babel's data of the report's language),
    for :func:`take_preloaded`. Any error is left for the notebook's own call to raise."""
    from clinic_analysis.report.pipeline import open_audit

    with contextlib.suppress(Exception):
        audit, hit = open_audit(params_path, report_dir)
        _preloaded[_preload_key(params_path, report_dir)] = audit, hit
        from clinic_analysis.i18n import Catalog, Formatter

        clinic = audit.params.clinic
        Catalog(clinic.language)
        f = Formatter(clinic.language, clinic.currency)
        f.money(1234.5), f.money_short(1234567), f.percent(0.5), f.date(audit.data.as_of)
        for table in PRELOAD_TABLES:
            getattr(audit.data, table)


def take_preloaded(params_path, report_dir) -> tuple | None:
    """``(audit, cache_hit)`` read ahead for exactly this ``open_audit`` call, once; else
    None (an analyst's kernel has nothing read ahead)."""
    if not _preloaded or report_dir is None:
        return None
    return _preloaded.pop(_preload_key(params_path, report_dir), None)


def start_kernel_early(notebook: Path, fresh: bool) -> EarlyKernel | None:
    """The notebook's kernel, started ahead (:class:`EarlyKernel`); None if it cannot start
    here, and the notebook stage starts its own (and reports what is wrong)."""
    try:
        return EarlyKernel(Path(notebook).parent, fresh)
    except Exception:  # noqa: BLE001 - papermill starts the kernel again and says why
        return None


def execute_notebook(
    notebook: Path,
    output: Path,
    params_path: Path,
    out_dir: Path,
    log=print,
    fresh=False,
    kernel: EarlyKernel | None = None,
) -> nbformat.NotebookNode:
    """Run the notebook with papermill; a failing cell becomes a :class:`ReportError` that
    names the report section (the heading above the cell) and keeps the partial notebook.
    ``fresh`` draws every chart again (none is taken from the last run's, see
    :class:`clinic_analysis.report.display.KernelCharts`); so does the environment
    variable ``CLINIC_AUDIT_FRESH_CHARTS=1``. ``kernel``: one started ahead
    (:class:`EarlyKernel`, its ``fresh`` set the same way), else papermill starts one."""
    import os

    import papermill as pm

    ensure_kernel()
    _warm_up_in_background()
    before = os.environ.get(FRESH_CHARTS_ENV)
    if fresh:
        os.environ[FRESH_CHARTS_ENV] = "1"  # the kernel starts with this process's environment
    try:
        nb = pm.execute_notebook(
            str(notebook),
            str(output),
            parameters={"params_path": str(params_path), "report_dir": str(out_dir)},
            kernel_name=KERNEL_NAME,
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=False,
            engine_name=_write_once_engine(),
            extra_arguments=KERNEL_ARGS,
            **({"km": kernel.km} if kernel is not None else {}),
        )
    except pm.PapermillExecutionError as err:
        partial = out_dir / "audit.failed.ipynb"
        shutil.copy(output, partial)
        import nbformat

        section = _section_of_cell(nbformat.read(output, as_version=4), err.cell_index)
        raise ReportError(
            f"the report section '{section}' failed: {err.ename}: {err.evalue}",
            hint=f"open {partial} at cell {err.exec_count} to see it; --debug shows more",
        ) from None
    finally:
        if before is None:
            os.environ.pop(FRESH_CHARTS_ENV, None)
        else:
            os.environ[FRESH_CHARTS_ENV] = before
    return nb


def _warm_up_in_background() -> None:
    """While the kernel runs the notebook (this process only waits for its messages), import
    what the HTML and PDF stages need in a thread: on a second core that is free, and those
    stages start at once. Any error is left for the stage itself to raise."""
    import contextlib
    import threading

    def work():
        from clinic_analysis.report import render

        # an error here is raised again, properly, by the stage that needs the import
        with contextlib.suppress(Exception):
            render.warm_up()

    threading.Thread(target=work, name="clinic-audit-warm-up", daemon=True).start()


def _section_of_cell(nb: nbformat.NotebookNode, index: int) -> str:
    """The last section title the report showed at or above a cell (an ``<h2>`` in the
    outputs), else the analyst's markdown heading above it."""
    import re

    cells = nb.cells[: index + 1]
    for cell in reversed(cells):
        for o in reversed(cell.get("outputs", [])):
            m = re.search(r"<h2[^>]*>(.*?)</h2>", o.get("data", {}).get("text/html", ""), re.S)
            if m:
                return re.sub(r"<[^>]+>", "", m.group(1)).strip()
    for cell in reversed(cells):
        if cell.cell_type == "markdown":
            m = re.search(r"^#{1,2}\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return "(before the first section)"
