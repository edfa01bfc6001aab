"""The data files of a run, and what the next run may reuse: the data files, the notebook
and HTML, the PDF and the executed notebook, each signed with the key of what it depends on."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from clinic_analysis.audit import Audit
from clinic_analysis.outputs import write_csv

if TYPE_CHECKING:
    import nbformat


# the data files a run writes (beside the notebook, the HTML and the PDF)
DATA_FILES = ("metrics.json", "patients.parquet", "rejected_rows.csv", "call_lists.xlsx")


def write_data_outputs(audit: Audit, folder: Path, stop: threading.Event | None = None) -> None:
    """metrics.json, patients.parquet, rejected_rows.csv and call_lists.xlsx. ``stop`` set
    (by another thread) ends the writing early with :class:`Stopped`."""
    (folder / "metrics.json").write_text(
        json.dumps(audit.metrics, ensure_ascii=False, indent=2, default=_json_default) + "\n",
        encoding="utf-8",
    )
    audit.patients.to_parquet(folder / "patients.parquet", index=False)
    write_csv(audit.data.rejected, folder / "rejected_rows.csv")
    from clinic_analysis.report.calllists import write_call_lists

    write_call_lists(audit, folder / "call_lists.xlsx", stop=stop)


class Stopped(Exception):
    """The data files were not finished: the run stopped before they were needed."""


class DataFilesWriter:
    """The data files written in a thread of their own while the notebook runs (the report
    process mostly waits on the kernel then, and the kernel takes one core):
    :meth:`result` waits for them and raises whatever stopped them (a full disk, an
    interrupt) in the caller's thread; :meth:`stop` ends them early when the run fails."""

    # While the writer holds the interpreter, the thread that talks to the kernel waits for
    # its turn at every message; Python's default 5 ms turns made the notebook ~50% slower at
    # 100k patients. Shorter turns while the writer runs keep the kernel's replies flowing.
    SWITCH_INTERVAL = 0.0005

    def __init__(self, write: Callable[..., None], audit: Audit, folder: Path):
        self.seconds: float | None = None  # the writing's own wall time, once done
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(self.SWITCH_INTERVAL)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(write, audit, folder), name="data-files", daemon=True
        )
        self._thread.start()

    def _run(self, write, audit, folder) -> None:
        t = time.perf_counter()
        try:
            write(audit, folder, stop=self._stop)
        except BaseException as err:  # re-raised by result() in the run's own thread
            self._error = err
        self.seconds = time.perf_counter() - t

    def failed(self) -> None:
        """Raise the writing's error now if it has already stopped on one."""
        if not self._thread.is_alive():
            self.result()

    def result(self) -> None:
        """Wait for the data files; raise what stopped them, if anything did."""
        self._thread.join()
        sys.setswitchinterval(self._interval)
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def stop(self) -> None:
        """End the writing early (the run failed) and wait for it to let go of its files."""
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._interval)


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
    from clinic_analysis.cache import _read_entry, cache_secret, file_digest

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
    from clinic_analysis.cache import _write_entry, cache_secret, file_digest

    _write_entry(cache_dir / entry, key, {f.name: file_digest(f) for f in files}, cache_secret())


def _json_default(o):
    if isinstance(o, pd.Timestamp):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


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
    from clinic_analysis.cache import CACHE_MAGIC, _signature, cache_secret

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

    from clinic_analysis.cache import CACHE_MAGIC, _signature, cache_secret

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
