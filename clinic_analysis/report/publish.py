"""One run at a time per clinic, and its report replacing the last one as a whole: the
clinic's lock, a stopped run's leftovers cleaned, new files moved into place (or the last
report put back), the archive of each audit."""

from __future__ import annotations

import fcntl
import filecmp
import os
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from clinic_analysis.cache import cache_root
from clinic_analysis.errors import ReportError
from clinic_analysis.measures import followup
from clinic_analysis.outputs import DISK_PROBLEMS, disk_error

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
