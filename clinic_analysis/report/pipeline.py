"""Present: run the audit notebook with papermill and render HTML/PDF, atomically.

Stages: load params → compute (cached in ``.cache/<clinic>/``) → write metrics.json /
patients.parquet / rejected_rows.csv / call_lists.xlsx → execute ``notebooks/audit.ipynb`` →
HTML (nbconvert, own template) → PDF (WeasyPrint). Everything is written into a temporary
folder first and replaces ``reports/<clinic>/`` as a whole only when all of it succeeded;
one run at a time per clinic; a stopped run's leftovers are cleaned at the next start.
"""

from __future__ import annotations

import fcntl
import filecmp
import hashlib
import hmac
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from clinic_analysis.audit import Audit, cache_dir_for, cache_root, get_audit, make_private_dir
from clinic_analysis.errors import ParamsError, ReportError
from clinic_analysis.measures import followup
from clinic_analysis.outputs import DISK_PROBLEMS, disk_error, write_csv
from clinic_analysis.params import SLUG_PATTERN, Params, load_params
from clinic_analysis.report.i18n import Catalog, Formatter

if TYPE_CHECKING:  # nbformat loads jsonschema: seconds the notebook's first cell need not pay
    import nbformat

# jsonschema (which nbformat loads) imports rfc3987_syntax whenever it is installed (JupyterLab
# brings it) only to check IRI formats, which notebooks never use; building its grammar costs
# ~1.7 s of every render. Marked absent here, jsonschema skips that one check.
sys.modules.setdefault("rfc3987_syntax", None)

PROJECT_DIR = Path(__file__).resolve().parents[2]
NOTEBOOK = PROJECT_DIR / "notebooks" / "audit.ipynb"
KERNEL_NAME = "clinic-audit"
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
) -> ReportResult:
    """Render the whole audit of one clinic. Raises :class:`ClinicAuditError` subclasses.

    One run at a time per clinic (a lock in its cache folder; a second run waits up to
    ``lock_wait`` seconds, then stops). Leftovers of a stopped run are cleaned first; the
    new report replaces the old one as a whole (outputs this run did not make are removed).
    The last run's executed notebook, data files and PDF are reused when nothing they
    depend on changed (:func:`notebook_key`, :func:`data_outputs_key`, the HTML's bytes) and
    the files are still the ones it wrote; ``fresh=True`` makes them all again.
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
        try:
            if ensure_demo_data(params):
                log(f"  demo data generated in {params.sources[0].path.parent}")
            timings["load params"] = time.perf_counter() - t0

            t = time.perf_counter()
            audit, hit = get_audit(params, cache_dir, log)
            followup.attach(audit, out / followup.HISTORY)
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
                else:
                    write_data_outputs(audit, tmp)
                    record_outputs(cache_dir, DATA_ENTRY, data_key, _files(tmp))
                timings["data files"] = time.perf_counter() - t

                t = time.perf_counter()
                key = notebook_key(notebook, params_path, audit)
                meta = report_meta(params, audit)
                view_key = report_view_key(key, meta)
                if not fresh and reuse_outputs(cache_dir, VIEW_ENTRY, view_key, out, tmp):
                    html = (tmp / "audit.html").read_text(encoding="utf-8")
                    timings["notebook"] = time.perf_counter() - t
                    log(
                        "  notebook and html: unchanged since the last run, kept"
                        f" ({timings['notebook']:.1f} s; --fresh makes them again)"
                    )
                else:
                    executed = None if fresh else read_executed(cache_dir, key)
                    if executed is not None:
                        nbformat_write(executed, tmp / "audit.ipynb")
                        timings["notebook"] = time.perf_counter() - t
                        log(
                            "  notebook: unchanged since the last run, its outputs reused"
                            f" ({timings['notebook']:.1f} s; --fresh runs it again)"
                        )
                    else:
                        executed = execute_notebook(
                            notebook, tmp / "audit.ipynb", params_path, out, log
                        )
                        write_executed(cache_dir, key, executed)
                        timings["notebook"] = time.perf_counter() - t
                        log(f"  notebook executed ({timings['notebook']:.1f} s)")

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

                files = move_into_place(tmp, out, log)
                archive(out, audit.metrics["clinic"]["as_of"], log)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if new_folder and not any(out.iterdir()):  # a first run that failed
                out.rmdir()
    timings["total"] = time.perf_counter() - t0
    return ReportResult(out_dir=out, files=files, cache_hit=hit, timings=timings)


# ------------------------------------------------------------- one run at a time, as a whole

# every file a run may leave in reports/<clinic>/; a run replaces all of them
OUTPUTS = (
    "audit.html",
    "audit.pdf",
    "audit.ipynb",
    "metrics.json",
    "patients.parquet",
    "rejected_rows.csv",
    "call_lists.xlsx",
    "audit.failed.ipynb",
)
# folders of reports/<clinic>/ a run keeps: the archive of every audit (metrics.json and the
# call lists it issued), which the next audit reads back
PRESERVED = (followup.HISTORY,)
MOVING = ".moving"  # in a temp folder: the names being moved in (present only while moving)
PREVIOUS = ".previous"  # in a temp folder: the last report's files, set aside while moving


@contextmanager
def disk_errors(folder: Path, elsewhere: str = "choose another folder with --out"):
    """A read-only, full or forbidden ``folder`` becomes one line naming it."""
    try:
        yield
    except OSError as err:
        if err.errno not in DISK_PROBLEMS or not _concerns(err.filename, Path(folder)):
            raise
        raise disk_error(err, folder, elsewhere) from None


def _concerns(filename, folder: Path) -> bool:
    """Whether an error's file is ``folder``, inside it or one of the folders above it."""
    if filename is None:
        return True
    p = Path(os.fsdecode(filename)).resolve()
    folder = folder.resolve()
    return p == folder or folder in p.parents or p in folder.parents


@contextmanager
def clinic_lock(cache_dir: Path, slug: str, wait: float, log: Callable[[str], None]):
    """Hold ``<cache_dir>/lock`` (``fcntl.flock``) for the whole run. A second run of the
    same clinic waits up to ``wait`` seconds, then stops with one line. The lock goes with
    the process, so a killed run never leaves it behind."""
    path = cache_dir / "lock"
    with disk_errors(cache_dir, "set CLINIC_AUDIT_CACHE"):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = path.read_text(encoding="utf-8", errors="replace").strip()
                who = f" (pid {holder})" if holder.isdigit() else ""
                if time.monotonic() >= deadline:
                    raise ReportError(
                        f"another run of '{slug}'{who} is still writing its report; "
                        "run again when it has finished"
                    ) from None
                if not waiting:
                    log(f"  waiting for another run of '{slug}'{who} (up to {wait:.0f} s)")
                    waiting = True
                time.sleep(0.25)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def clean_stale(out: Path, log: Callable[[str], None]) -> None:
    """Before a run: put back the last report if a run was killed while moving its files
    into place, and remove the temporary folders (with personal data) of stopped runs and
    the cache an older version kept inside the report."""
    if not out.is_dir():
        return
    stale = sorted(out.glob(".tmp-*"))
    for tmp in stale:
        if (tmp / MOVING).exists():
            roll_back(tmp, out)
            log("  the last report was put back: a stopped run had begun to replace it")
        shutil.rmtree(tmp)
    if stale:
        log(f"  removed {len(stale)} unfinished temporary folder(s) of stopped runs")
    legacy = out / ".cache"
    if legacy.is_dir():
        shutil.rmtree(legacy)
        log(f"  removed {legacy}: the cache now lives in {cache_root()}, outside the report")


def _move(src: Path, dst: Path) -> None:
    os.replace(src, dst)


def move_into_place(tmp: Path, out: Path, log: Callable[[str], None]) -> list[Path]:
    """Replace the report in ``out`` by the files in ``tmp`` as a whole: the last report's
    files are set aside, the new ones moved in; if anything stops it, the last report is
    put back (here, or by :func:`clean_stale` at the next start after a hard kill)."""
    new = sorted(f.name for f in tmp.iterdir() if not f.name.startswith("."))
    (tmp / MOVING).write_text("\n".join(new) + "\n", encoding="utf-8")
    previous = tmp / PREVIOUS
    previous.mkdir()
    try:
        for name in sorted({*OUTPUTS, *new}):
            if (out / name).exists():
                _move(out / name, previous / name)
        for name in new:
            _move(tmp / name, out / name)
    except BaseException:
        roll_back(tmp, out)
        raise
    (tmp / MOVING).unlink()
    dropped = sorted({f.name for f in previous.iterdir()} - set(new))
    if dropped:
        log(f"  removed {', '.join(dropped)}: not made by this run")
    others = sorted(
        f.name for f in out.iterdir() if f.name not in (*OUTPUTS, *PRESERVED) and f != tmp
    )
    if others:
        log(f"  kept {', '.join(others)} in {out}: not made by clinic-audit")
    return [out / n for n in new]


def archive(out: Path, as_of: str, log: Callable[[str], None]) -> Path:
    """Copy this audit's metrics.json and call lists to ``out/history/<as_of>/``. A copy the
    front desk already filled in there is never overwritten (a re-run of the same audit)."""
    entry = out / followup.HISTORY / as_of
    entry.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.json", followup.ISSUED):
        src, dst = out / name, entry / name
        if not src.exists() or (dst.exists() and filecmp.cmp(src, dst, shallow=False)):
            continue  # nothing to archive, or archived already (a re-run of the same audit)
        if name == followup.ISSUED and dst.exists() and followup.has_outcomes(dst):
            log(f"  kept {dst}: it holds the front desk's outcomes")
            continue
        part = entry / f".{name}.part"
        shutil.copyfile(src, part)
        os.replace(part, dst)
    return entry


def roll_back(tmp: Path, out: Path) -> None:
    """Undo a partial :func:`move_into_place`: remove what was moved in, put back the rest."""
    listed = (tmp / MOVING).read_text(encoding="utf-8").split()
    for name in listed:
        if not (tmp / name).exists():  # already moved in
            (out / name).unlink(missing_ok=True)
    previous = tmp / PREVIOUS
    if previous.is_dir():
        for f in previous.iterdir():
            os.replace(f, out / f.name)
    (tmp / MOVING).unlink()


def write_data_outputs(audit: Audit, folder: Path) -> None:
    """metrics.json, patients.parquet and rejected_rows.csv."""
    (folder / "metrics.json").write_text(
        json.dumps(audit.metrics, ensure_ascii=False, indent=2, default=_json_default) + "\n",
        encoding="utf-8",
    )
    audit.patients.to_parquet(folder / "patients.parquet", index=False)
    write_csv(audit.data.rejected, folder / "rejected_rows.csv")
    from clinic_analysis.report.calllists import write_call_lists

    write_call_lists(audit, folder / "call_lists.xlsx")


# ------------------------------------------------------------- outputs of the last run, reused

# in the cache folder: signed records of the files the last run wrote and what they were made
# from (a key); a file is reused only when its key matches and its bytes are still the same
DATA_ENTRY = "data-files.signed"  # metrics.json, patients.parquet, call lists...
VIEW_ENTRY = "report-view.signed"  # audit.ipynb and audit.html, of one notebook_key and cover
PDF_ENTRY = "pdf.signed"  # audit.pdf, made from the exact HTML of this run


def data_outputs_key(audit: Audit) -> str:
    """What the data files depend on: the audit (its cache key: params, sources, code,
    packages), what the follow-up attached to it after the cached compute (metrics, the
    follow-up rows, the do-not-call marks) and the package's other files (the locales that
    name the call lists' columns)."""
    h = hashlib.sha256(audit.cache_key.encode())
    h.update(json.dumps(audit.metrics, sort_keys=True, default=str).encode())
    fu = audit.followup
    h.update(json.dumps(fu.do_not_call if fu is not None else None, default=str).encode())
    rows = fu.rows if fu is not None else None
    if isinstance(rows, pd.DataFrame):
        h.update(rows.to_csv(index=False).encode())
    h.update(package_files_digest().encode())
    return h.hexdigest()


def report_view_key(notebook_key: str, meta) -> str:
    """What the executed notebook and the HTML depend on: :func:`notebook_key` and the
    report's cover and page furniture (with the logo's bytes)."""
    h = hashlib.sha256(notebook_key.encode())
    h.update(json.dumps(asdict(meta), sort_keys=True, default=str).encode())
    if meta.logo is not None and Path(meta.logo).is_file():
        h.update(Path(meta.logo).read_bytes())
    return h.hexdigest()


def reuse_outputs(cache_dir: Path, entry: str, key: str, out: Path, tmp: Path) -> bool:
    """Copy the last run's files from ``out`` into ``tmp`` when the signed record ``entry``
    says they were made for ``key`` and every one of them still has the bytes recorded
    (sha256). Otherwise nothing is reused (and the caller makes them again)."""
    from clinic_analysis.audit import _read_entry, cache_secret, file_digest

    record, _ = _read_entry(cache_dir / entry, key, cache_secret())
    if not isinstance(record, dict) or not record:
        return False
    if not all((out / n).is_file() and file_digest(out / n) == d for n, d in record.items()):
        return False
    for name, digest in record.items():
        shutil.copyfile(out / name, tmp / name)
        if file_digest(tmp / name) != digest:  # changed while being copied
            return False
    return True


def record_outputs(cache_dir: Path, entry: str, key: str, files: list[Path]) -> None:
    """Sign which files were made for ``key``: the name and sha256 of each."""
    from clinic_analysis.audit import _write_entry, cache_secret, file_digest

    _write_entry(cache_dir / entry, key, {f.name: file_digest(f) for f in files}, cache_secret())


def _files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))


def _json_default(o):
    if isinstance(o, pd.Timestamp):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


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


def ensure_kernel() -> None:
    """Register the ``clinic-audit`` kernel inside this environment if it is missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        import sys

        from ipykernel.kernelspec import install

        install(kernel_name=KERNEL_NAME, display_name="clinic-audit", prefix=sys.prefix)


# ------------------------------------------------------------- the executed notebook, reused

EXECUTED_ENTRY = "notebook.signed"


def notebook_key(notebook: Path, params_path: Path, audit: Audit) -> str:
    """What the executed notebook depends on: the notebook's bytes, the params path it is
    given, the audit's cache key (params, every source file's bytes, the library's code,
    the installed packages) and every other file of the package (locales, templates)."""
    h = hashlib.sha256(audit.cache_key.encode())
    # the figures attached after the cached compute (the follow-up of the last audit's
    # lists, read from the report's history/) change the notebook's outputs too
    h.update(json.dumps(audit.metrics, sort_keys=True, default=str).encode())
    h.update(str(params_path).encode() + b"\n" + Path(notebook).read_bytes())
    h.update(package_files_digest().encode())
    return h.hexdigest()


def package_files_digest() -> str:
    """sha256 of the package's files other than code (locales, templates): the code is in
    the audit's cache key already."""
    from clinic_analysis.audit import PACKAGE_DIR

    h = hashlib.sha256()
    for p in sorted(PACKAGE_DIR.rglob("*")):
        if p.is_file() and p.suffix not in (".py", ".pyc"):
            h.update(p.relative_to(PACKAGE_DIR).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def read_executed(cache_dir: Path, key: str) -> nbformat.NotebookNode | None:
    """The executed notebook stored for ``key``, if it is there, signed by this machine's
    cache key and intact; else ``None`` (the notebook runs)."""
    from clinic_analysis.audit import CACHE_MAGIC, _signature, cache_secret

    try:
        blob = (cache_dir / EXECUTED_ENTRY).read_bytes()
    except OSError:
        return None
    if not blob.startswith(CACHE_MAGIC):
        return None
    stored_key, _, rest = blob[len(CACHE_MAGIC) :].partition(b"\n")
    mac, payload = rest[:32], rest[32:]
    if stored_key != key.encode() or not hmac.compare_digest(
        mac, _signature(cache_secret(), key, payload)
    ):
        return None
    import nbformat

    return nbformat.reads(payload.decode("utf-8"), as_version=4)


def write_executed(cache_dir: Path, key: str, nb: nbformat.NotebookNode) -> None:
    import nbformat

    from clinic_analysis.audit import CACHE_MAGIC, _signature, cache_secret

    payload = nbformat.writes(nb).encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".notebook-", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(CACHE_MAGIC + key.encode() + b"\n")
            fh.write(_signature(cache_secret(), key, payload))
            fh.write(payload)
        os.replace(tmp, cache_dir / EXECUTED_ENTRY)
    finally:
        Path(tmp).unlink(missing_ok=True)


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
            parameters={"params_path": str(params_path), "report_dir": str(out_dir)},
            kernel_name=KERNEL_NAME,
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=False,
            engine_name=_write_once_engine(),
            # the kernel talks to us over loopback only; its TCP notice is noise in the log
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
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
