"""Present: run the audit notebook with papermill and render HTML/PDF, atomically.

Stages: load params → compute (cached in ``.cache/<clinic>/``) → write metrics.json /
patients.parquet / rejected_rows.csv / call_lists.xlsx (in a thread, while the next stages
run: nothing of them reads these files) → execute ``notebooks/audit.ipynb`` → HTML (nbconvert,
own template) → PDF (WeasyPrint) → wait for the data files. Everything is written into a temporary
folder first and replaces ``reports/<clinic>/`` as a whole only when all of it succeeded;
one run at a time per clinic; a stopped run's leftovers are cleaned at the next start.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clinic_analysis.audit import Audit
from clinic_analysis.cache import cache_dir_for, get_audit, make_private_dir
from clinic_analysis.errors import ParamsError
from clinic_analysis.i18n import Catalog, Formatter
from clinic_analysis.measures import followup
from clinic_analysis.params import SLUG_PATTERN, Params, load_params
from clinic_analysis.report.execute import (
    NOTEBOOK,
    EarlyKernel,
    execute_notebook,
    nbformat_write,
    start_kernel_early,
    take_preloaded,
)
from clinic_analysis.report.publish import (
    archive,
    clean_stale,
    clinic_lock,
    disk_errors,
    move_into_place,
)
from clinic_analysis.report.reuse import (
    DATA_ENTRY,
    DATA_FILES,
    PDF_ENTRY,
    VIEW_ENTRY,
    DataFilesWriter,
    data_outputs_key,
    notebook_key,
    read_executed,
    record_outputs,
    report_view_key,
    reuse_outputs,
    write_data_outputs,
    write_executed,
)

# jsonschema (which nbformat loads) imports rfc3987_syntax whenever it is installed (JupyterLab
# brings it) only to check IRI formats, which notebooks never use; building its grammar costs
# ~1.7 s of every render. Marked absent here, jsonschema skips that one check.
sys.modules.setdefault("rfc3987_syntax", None)

PROJECT_DIR = Path(__file__).resolve().parents[2]
SLUG_RE = re.compile(SLUG_PATTERN)


def default_reports_dir() -> Path:
    return Path(os.environ.get("CLINIC_AUDIT_REPORTS", PROJECT_DIR / "reports"))


def params_path_for(clinic: str) -> Path:
    """``demo`` → ``params/demo.yaml``; a path to a YAML file is taken as it is."""
    p = Path(clinic)
    if p.suffix in (".yaml", ".yml"):
        return p
    return PROJECT_DIR / "params" / f"{clinic}.yaml"


def checked_slug(params: Params, params_path: Path | str) -> str:
    """The clinic's slug, which names ``reports/<slug>/`` and ``.cache/<slug>/``. An explicit
    ``clinic.slug`` is validated with the params; one taken from the file name is checked
    here, so that no name can reach outside those folders."""
    slug = params.slug
    if not SLUG_RE.fullmatch(slug):
        raise ParamsError(
            f"{params_path}: the clinic slug '{slug}' (taken from the file name) may hold only "
            "lowercase letters, digits, '-' and '_'",
            hint="set `clinic.slug:` in the params file, e.g. slug: my-clinic",
        )
    return slug


def check_logo(params: Params, params_path: Path | str) -> None:
    """The branding logo must be a PNG, JPEG or SVG file (by its bytes, not only its name),
    and an SVG must hold no script."""
    logo = params.report.branding.logo
    if logo is None:
        return
    where = f"{params_path}: report.branding.logo"
    try:
        data = Path(logo).read_bytes()
    except OSError as err:
        raise ParamsError(f"{where}: cannot read {logo}: {err.strerror or err}") from None
    kind = image_kind(data)
    suffix = Path(logo).suffix.lower().replace(".jpeg", ".jpg")
    if kind is None or suffix != f".{kind}":
        raise ParamsError(
            f"{where}: {logo} is not a {suffix.lstrip('.').upper()} image",
            hint="give a PNG, JPEG or SVG file whose name ends in its type",
        )
    if kind == "svg" and re.search(rb"<script|\son[a-z]+\s*=|javascript:", data, re.I):
        raise ParamsError(f"{where}: {logo} is an SVG with scripts; save it without them")


def image_kind(data: bytes) -> str | None:
    """``png``, ``jpg`` or ``svg`` from a file's first bytes; ``None`` for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) and b"<svg" in head:
        return "svg"
    return None


def ensure_demo_data(params: Params) -> bool:
    """Generate a demo clinic's sources when the params ask for it and they are missing."""
    if params.demo is None or all(s.path.exists() for s in params.sources):
        return False
    out = params.sources[0].path.parent
    if params.demo.kind == "followup":
        from clinic_analysis.examples.demo_followup import generate_followup

        generate_followup(out, n_patients=params.demo.patients, seed=params.demo.seed)
        return True
    if params.demo.kind == "messy":
        from clinic_analysis.examples.messy import generate_messy

        generate_messy(out, n_people=params.demo.patients, seed=params.demo.seed)
        return True
    from clinic_analysis.examples.demo import DemoSpec, generate_demo

    spec = DemoSpec(n_patients=params.demo.patients, seed=params.demo.seed)
    if params.clinic.as_of is not None:
        spec = DemoSpec(
            n_patients=params.demo.patients, seed=params.demo.seed, as_of=params.clinic.as_of
        )
    generate_demo(out, spec)
    return True


def open_audit(params_path: Path | str, report_dir: Path | str | None = None) -> tuple[Audit, bool]:
    """The notebook's entry point: params → (cached) audit, followed up against the last
    audit archived in ``<report_dir>/history/`` (default ``reports/<clinic>/``). Returns
    ``(audit, cache_hit)``."""
    preloaded = take_preloaded(params_path, report_dir)  # read ahead by the early kernel
    if preloaded is not None:
        return preloaded
    params = load_params(params_path)
    slug = checked_slug(params, params_path)
    ensure_demo_data(params)
    audit, hit = get_audit(params, cache_dir_for(slug))
    folder = Path(report_dir) if report_dir else default_reports_dir() / slug
    followup.attach(audit, folder / followup.HISTORY)
    return audit, hit


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
    lock_wait: float = 60.0,
    fresh: bool = False,
    kernel: EarlyKernel | None = None,
) -> ReportResult:
    """Render the whole audit of one clinic. Raises :class:`ClinicAuditError` subclasses.

    One run at a time per clinic (a lock in its cache folder; a second run waits up to
    ``lock_wait`` seconds, then stops). Leftovers of a stopped run are cleaned first; the
    new report replaces the old one as a whole (outputs this run did not make are removed).
    The last run's executed notebook, data files and PDF are reused when nothing they
    depend on changed (:func:`notebook_key`, :func:`data_outputs_key`, the HTML's bytes) and
    the files are still the ones it wrote; ``fresh=True`` makes them all again.
    ``kernel``: the notebook's kernel if the caller started it (the command line does, before
    its imports); this run closes it. Else the run starts one before the compute.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    params_path = Path(params_path).resolve()
    params = load_params(params_path)
    slug = checked_slug(params, params_path)
    check_logo(params, params_path)
    out = Path(out_dir) if out_dir else default_reports_dir() / slug
    out = out.resolve()
    formats = formats or list(params.report.formats)
    cache_dir = cache_dir_for(slug)
    with disk_errors(cache_dir, "set CLINIC_AUDIT_CACHE"):
        make_private_dir(cache_dir)

    with clinic_lock(cache_dir, slug, lock_wait, log):
        with disk_errors(out):  # an unwritable folder stops the run before computing
            clean_stale(out, log)
            new_folder = not out.exists()
            out.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out))
        writer: DataFilesWriter | None = None  # the data files being written meanwhile
        try:
            if ensure_demo_data(params):
                log(f"  demo data generated in {params.sources[0].path.parent}")
            timings["load params"] = time.perf_counter() - t0
            kernel = kernel or start_kernel_early(notebook, fresh)

            t = time.perf_counter()
            # a new audit: the notebook will draw every chart (its chart store is empty)
            on_miss = kernel.will_draw if kernel is not None else None
            audit, hit = get_audit(params, cache_dir, log, on_miss=on_miss)
            followup.attach(audit, out / followup.HISTORY)
            if kernel is not None:
                kernel.preload(params_path, out)  # the kernel reads the cached audit now
            timings["compute"] = time.perf_counter() - t
            log(
                f"  compute: {'cache hit, nothing recomputed' if hit else 'computed and cached'}"
                f" ({timings['compute']:.1f} s)"
            )

            with disk_errors(out):
                t = time.perf_counter()
                data_key = data_outputs_key(audit)
                if not fresh and reuse_outputs(cache_dir, DATA_ENTRY, data_key, out, tmp):
                    log("  data files: unchanged since the last run, kept")
                else:  # written while the notebook runs; waited for before the move
                    writer = DataFilesWriter(write_data_outputs, audit, tmp)
                timings["data files"] = time.perf_counter() - t

                t = time.perf_counter()
                key = notebook_key(notebook, params_path, audit)
                meta = report_meta(params, audit)
                view_key = report_view_key(key, meta)
                if not fresh and reuse_outputs(cache_dir, VIEW_ENTRY, view_key, out, tmp):
                    kernel = _close(kernel)
                    html = (tmp / "audit.html").read_text(encoding="utf-8")
                    timings["notebook"] = time.perf_counter() - t
                    log(
                        "  notebook and html: unchanged since the last run, kept"
                        f" ({timings['notebook']:.1f} s; --fresh makes them again)"
                    )
                else:
                    executed = None if fresh else read_executed(cache_dir, key)
                    if executed is not None:
                        kernel = _close(kernel)
                        nbformat_write(executed, tmp / "audit.ipynb")
                        timings["notebook"] = time.perf_counter() - t
                        log(
                            "  notebook: unchanged since the last run, its outputs reused"
                            f" ({timings['notebook']:.1f} s; --fresh runs it again)"
                        )
                    else:
                        done = tmp / "audit.ipynb"
                        executed = execute_notebook(
                            notebook, done, params_path, out, log, fresh, kernel=kernel
                        )
                        kernel = _close(kernel)
                        write_executed(cache_dir, key, executed)
                        timings["notebook"] = time.perf_counter() - t
                        log(f"  notebook executed ({timings['notebook']:.1f} s)")
                    if writer is not None:
                        writer.failed()  # a full disk stops the run now, not after the PDF

                    from clinic_analysis.report.render import export_html

                    t = time.perf_counter()
                    html = export_html(executed, meta)
                    (tmp / "audit.html").write_text(html, encoding="utf-8")
                    record_outputs(
                        cache_dir, VIEW_ENTRY, view_key, [tmp / "audit.ipynb", tmp / "audit.html"]
                    )
                    timings["html"] = time.perf_counter() - t
                    log(f"  html rendered ({timings['html']:.1f} s)")
                if "pdf" in formats:
                    t = time.perf_counter()
                    pdf_key = hashlib.sha256(f"{audit.cache_key}\n{html}".encode()).hexdigest()
                    if not fresh and reuse_outputs(cache_dir, PDF_ENTRY, pdf_key, out, tmp):
                        timings["pdf"] = time.perf_counter() - t
                        log("  pdf: the report is unchanged since the last run, its PDF kept")
                    else:
                        from clinic_analysis.report.render import write_pdf

                        pages = write_pdf(html, tmp / "audit.pdf")
                        record_outputs(cache_dir, PDF_ENTRY, pdf_key, [tmp / "audit.pdf"])
                        timings["pdf"] = time.perf_counter() - t
                        log(f"  pdf rendered: {pages} pages ({timings['pdf']:.1f} s)")
                if "html" not in formats:
                    (tmp / "audit.html").unlink()
                if writer is not None:
                    t = time.perf_counter()
                    writer.result()
                    files = [tmp / n for n in DATA_FILES if (tmp / n).is_file()]
                    record_outputs(cache_dir, DATA_ENTRY, data_key, files)
                    waited = time.perf_counter() - t
                    timings["data files"] += waited
                    timings["data files, written meanwhile"] = writer.seconds
                    writer = None
                    log(
                        f"  data files written ({timings['data files, written meanwhile']:.1f} s"
                        f" beside the notebook, {waited:.1f} s of it waited for)"
                    )

                files = move_into_place(tmp, out, log)
                archive(out, audit.metrics["clinic"]["as_of"], log)
        finally:
            _close(kernel)
            if writer is not None:  # the run stopped: end the data files before removing tmp
                writer.stop()
            shutil.rmtree(tmp, ignore_errors=True)
            if new_folder and not any(out.iterdir()):  # a first run that failed
                out.rmdir()
    timings["total"] = time.perf_counter() - t0
    return ReportResult(out_dir=out, files=files, cache_hit=hit, timings=timings)


def _close(kernel: EarlyKernel | None) -> None:
    """Stop the early kernel if there is one; returns None (``kernel = _close(kernel)``)."""
    if kernel is not None:
        kernel.close()


def report_meta(params: Params, audit: Audit):
    from clinic_analysis.report.render import ReportMeta

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
