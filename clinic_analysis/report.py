"""Present: run the audit notebook with papermill and render HTML/PDF, atomically.

Stages: load params → compute (cached) → write metrics.json / patients.parquet /
rejected_rows.csv → execute ``notebooks/audit.ipynb`` → HTML (nbconvert, own template) →
PDF (WeasyPrint). Everything is written into a temporary folder first and moved into
``reports/<clinic>/`` only when all of it succeeded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pandas as pd

from .audit import Audit, get_audit
from .errors import ReportError
from .i18n import Catalog, Formatter
from .params import Params, load_params

PROJECT_DIR = Path(__file__).resolve().parents[1]
NOTEBOOK = PROJECT_DIR / "notebooks" / "audit.ipynb"
KERNEL_NAME = "clinic-audit"


def default_reports_dir() -> Path:
    return Path(os.environ.get("CLINIC_AUDIT_REPORTS", PROJECT_DIR / "reports"))


def params_path_for(clinic: str) -> Path:
    """``demo`` → ``params/demo.yaml``; a path to a YAML file is taken as it is."""
    p = Path(clinic)
    if p.suffix in (".yaml", ".yml"):
        return p
    return PROJECT_DIR / "params" / f"{clinic}.yaml"


def ensure_demo_data(params: Params) -> bool:
    """Generate a demo clinic's sources when the params ask for it and they are missing."""
    if params.demo is None or all(s.path.exists() for s in params.sources):
        return False
    out = params.sources[0].path.parent
    if params.demo.kind == "messy":
        from .messy import generate_messy

        generate_messy(out, n_people=params.demo.patients, seed=params.demo.seed)
        return True
    from .demo import DemoSpec, generate_demo

    spec = DemoSpec(n_patients=params.demo.patients, seed=params.demo.seed)
    if params.clinic.as_of is not None:
        spec = DemoSpec(
            n_patients=params.demo.patients, seed=params.demo.seed, as_of=params.clinic.as_of
        )
    generate_demo(out, spec)
    return True


def open_audit(params_path: Path | str, out_dir: Path | str | None = None) -> tuple[Audit, bool]:
    """The notebook's entry point: params → (cached) audit. Returns ``(audit, cache_hit)``."""
    params = load_params(params_path)
    ensure_demo_data(params)
    out = Path(out_dir) if out_dir else default_reports_dir() / params.slug
    return get_audit(params, out / ".cache")


@dataclass
class ReportResult:
    out_dir: Path
    files: list[Path]
    cache_hit: bool
    timings: dict[str, float] = field(default_factory=dict)


def build_report(
    params_path: Path | str,
    out_dir: Path | str | None = None,
    formats: list[str] | None = None,
    notebook: Path = NOTEBOOK,
    log: Callable[[str], None] = print,
) -> ReportResult:
    """Render the whole audit of one clinic. Raises :class:`ClinicAuditError` subclasses."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    params_path = Path(params_path).resolve()
    params = load_params(params_path)
    out = Path(out_dir) if out_dir else default_reports_dir() / params.slug
    out = out.resolve()
    formats = formats or list(params.report.formats)

    if ensure_demo_data(params):
        log(f"  demo data generated in {params.sources[0].path.parent}")
    timings["load params"] = time.perf_counter() - t0

    t = time.perf_counter()
    audit, hit = get_audit(params, out / ".cache")
    timings["compute"] = time.perf_counter() - t
    log(
        f"  compute: {'cache hit, nothing recomputed' if hit else 'computed and cached'}"
        f" ({timings['compute']:.1f} s)"
    )

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out))
    try:
        t = time.perf_counter()
        write_data_outputs(audit, tmp)
        timings["data files"] = time.perf_counter() - t

        t = time.perf_counter()
        executed = execute_notebook(notebook, tmp / "audit.ipynb", params_path, out, log)
        timings["notebook"] = time.perf_counter() - t
        log(f"  notebook executed ({timings['notebook']:.1f} s)")

        from .render import export_html, write_pdf

        t = time.perf_counter()
        meta = report_meta(params, audit)
        html = export_html(executed, meta)
        (tmp / "audit.html").write_text(html, encoding="utf-8")
        timings["html"] = time.perf_counter() - t
        log(f"  html rendered ({timings['html']:.1f} s)")
        if "pdf" in formats:
            t = time.perf_counter()
            pages = write_pdf(html, tmp / "audit.pdf")
            timings["pdf"] = time.perf_counter() - t
            log(f"  pdf rendered: {pages} pages ({timings['pdf']:.1f} s)")
        if "html" not in formats:
            (tmp / "audit.html").unlink()

        files = []
        for f in sorted(tmp.iterdir()):
            target = out / f.name
            f.replace(target)
            files.append(target)
        (out / "audit.failed.ipynb").unlink(missing_ok=True)  # an older failure is now stale
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    timings["total"] = time.perf_counter() - t0
    return ReportResult(out_dir=out, files=files, cache_hit=hit, timings=timings)


def write_data_outputs(audit: Audit, folder: Path) -> None:
    """metrics.json, patients.parquet and rejected_rows.csv."""
    (folder / "metrics.json").write_text(
        json.dumps(audit.metrics, ensure_ascii=False, indent=2, default=_json_default) + "\n",
        encoding="utf-8",
    )
    audit.patients.to_parquet(folder / "patients.parquet", index=False)
    audit.data.rejected.to_csv(folder / "rejected_rows.csv", index=False, encoding="utf-8-sig")
    from .calllists import write_call_lists

    write_call_lists(audit, folder / "call_lists.xlsx")


def _json_default(o):
    if isinstance(o, pd.Timestamp):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def report_meta(params: Params, audit: Audit):
    from .render import ReportMeta

    lang = params.clinic.language
    t = Catalog(lang)
    f = Formatter(lang, params.clinic.currency)
    return ReportMeta(
        title=t("report.title"),
        clinic_name=params.clinic.name,
        audit_date=f.date(audit.data.as_of),
        consultant=params.report.branding.consultant,
        language=lang,
        colour=params.report.branding.colour,
        logo=params.report.branding.logo,
        strings={
            k: t(f"ui.{k}")
            for k in ("toc", "page", "of", "prepared_by", "audit_date", "confidential")
        },
    )


def ensure_kernel() -> None:
    """Register the ``clinic-audit`` kernel inside this environment if it is missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        import sys

        from ipykernel.kernelspec import install

        install(kernel_name=KERNEL_NAME, display_name="clinic-audit", prefix=sys.prefix)


def execute_notebook(
    notebook: Path, output: Path, params_path: Path, out_dir: Path, log=print
) -> nbformat.NotebookNode:
    """Run the notebook with papermill; a failing cell becomes a :class:`ReportError` that
    names the report section (the heading above the cell) and keeps the partial notebook."""
    import papermill as pm

    ensure_kernel()
    try:
        nb = pm.execute_notebook(
            str(notebook),
            str(output),
            parameters={"params_path": str(params_path), "out_dir": str(out_dir)},
            kernel_name=KERNEL_NAME,
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=False,
            # the kernel talks to us over loopback only; its TCP notice is noise in the log
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except pm.PapermillExecutionError as err:
        partial = out_dir / "audit.failed.ipynb"
        shutil.copy(output, partial)
        section = _section_of_cell(nbformat.read(output, as_version=4), err.cell_index)
        raise ReportError(
            f"the report section '{section}' failed: {err.ename}: {err.evalue}",
            hint=f"open {partial} at cell {err.exec_count} to see it; --debug shows more",
        ) from None
    return nb


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
