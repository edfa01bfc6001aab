"""The report notebook run by papermill in the ``clinic-audit`` kernel; a failing cell named
by the report section it belongs to."""

from __future__ import annotations

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
# what the notebook's first cell imports: loaded by a kernel started ahead of the notebook
WARM_IMPORTS = (
    "import clinic_analysis.report.display, clinic_analysis.report.views, "
    "clinic_analysis.report.pipeline, clinic_analysis.report.present, IPython.display"
)


class EarlyKernel:
    """The ``clinic-audit`` kernel started before the audit is computed or loaded, so that
    its start (~1 s) and the notebook's imports (~2.5 s) run on the second core meanwhile.
    The imports run silently (no execution count, no output, nothing in the notebook); the
    notebook's own cells then find them loaded. :func:`execute_notebook` runs the notebook
    in it; :meth:`close` ends it (always called, also when the notebook is not run)."""

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
        self._kc.execute(WARM_IMPORTS, silent=True, store_history=False)  # not waited for

    def close(self) -> None:
        """Stop the kernel and its channels; safe to call twice."""
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)


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
