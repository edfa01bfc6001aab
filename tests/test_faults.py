"""Fault suite: whatever stops a run, the last good report stays as it was and the next run is
clean; the cache never runs code; one run of a clinic at a time; a folder that cannot be
written is one line naming it.

What is simulated, said plainly:

* A stop at a stage is the stage's function raising ``KeyboardInterrupt`` / ``SystemExit`` /
  ``OSError`` (monkeypatched), or a real ``SIGKILL`` the run sends itself from inside the
  stage (in a subprocess): the stop lands exactly at that stage, with no timing involved.
* The notebook stage is a stub that writes a small executed notebook: these faults concern
  the pipeline around the notebook, and a kernel per case would take minutes. The real
  notebook runs in ``test_report.py``.
* Tests run as root, whom ``chmod`` does not stop: a full or read-only disk is an
  ``OSError`` (ENOSPC, EROFS, EACCES) raised at the point of writing; the one real
  unwritable folder used is under ``/sys`` (sysfs refuses ``mkdir`` even to root).
"""

from __future__ import annotations

import errno
import fcntl
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from clinic_analysis import cache as cache_mod
from clinic_analysis.cache import CACHE_MAGIC, cache_dir_for, cache_key, get_audit
from clinic_analysis.errors import ParamsError, ReportError
from clinic_analysis.params import load_params
from clinic_analysis.report import pipeline as report
from clinic_analysis.report import publish, render
from tests.conftest import ROOT
from tests.ingest.test_load import _visits_params

pytestmark = pytest.mark.slow

SLUG = "faults"


def stub_execute(text: str = "first run"):
    """A stand-in for the notebook stage: writes a one-section executed notebook."""

    def execute(notebook, output, params_path, out_dir, log=print, fresh=False, kernel=None):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("display(section('Stub', 'sec-stub'))")
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data",
                data={"text/html": f"<h2 id='sec-stub'>Stub section</h2><p>{text}</p>"},
            )
        ]
        nb.cells.append(cell)
        nbformat.write(nb, output)
        return nb

    return execute


def run(params, out, lines=None, lock_wait=0.0, formats=("html",)):
    log = lines.append if lines is not None else (lambda s: None)
    return report.build_report(
        params, out_dir=out, formats=list(formats), log=log, lock_wait=lock_wait
    )


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    """Anything hidden in the report folder: temp folders, an old in-report cache."""
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def lock_is_free() -> bool:
    fd = os.open(cache_dir_for(SLUG) / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture(autouse=True)
def _no_early_kernel(monkeypatch):
    """The notebook stage is a stand-in here: no kernel is started ahead for it."""
    monkeypatch.setattr(report, "start_kernel_early", lambda *a, **k: None)


@pytest.fixture(scope="module")
def clinic(small_demo, tmp_path_factory) -> Path:
    """The small demo clinic under its own slug (its own cache folder and lock)."""
    raw = yaml.safe_load(small_demo.read_text(encoding="utf-8"))
    raw["clinic"]["slug"] = SLUG
    path = tmp_path_factory.mktemp("faults") / "faults.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def good_report(clinic, tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """A finished report (html) and its bytes: the last good report of every case."""
    out = tmp_path_factory.mktemp("good") / SLUG
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report, "execute_notebook", stub_execute())
        mp.setattr(report, "start_kernel_early", lambda *a, **k: None)
        run(clinic, out)
    return out, snapshot(out)


@pytest.fixture
def last_good(good_report, tmp_path, monkeypatch) -> tuple[Path, dict[str, bytes]]:
    """A copy of the good report for one case; the next run's notebook says 'second run'."""
    src, files = good_report
    out = tmp_path / SLUG
    shutil.copytree(src, out)
    monkeypatch.setattr(report, "execute_notebook", stub_execute("second run"))
    # the stored notebook of the good run would be reused: every case runs the notebook stage
    monkeypatch.setattr(report, "read_executed", lambda *a, **k: None)
    monkeypatch.setattr(report, "reuse_outputs", lambda *a, **k: False)  # nor the data files
    return out, files


# ----------------------------------------------------------------------------- reused


def _must_not_run(*args, **kwargs):
    raise AssertionError("made again although nothing it depends on changed")


def test_a_rerun_with_nothing_changed_keeps_the_data_files_and_the_pdf(
    clinic, tmp_path, monkeypatch
):
    out = tmp_path / SLUG
    monkeypatch.setattr(report, "execute_notebook", stub_execute())
    run(clinic, out, formats=("html", "pdf"))
    before = snapshot(out)
    monkeypatch.setattr(report, "write_data_outputs", _must_not_run)
    monkeypatch.setattr(report, "read_executed", _must_not_run)
    monkeypatch.setattr(render, "export_html", _must_not_run)
    monkeypatch.setattr(render, "write_pdf", _must_not_run)
    lines = []
    run(clinic, out, lines, formats=("html", "pdf"))
    assert snapshot(out) == before
    assert any("data files: unchanged" in s for s in lines)
    assert any("notebook and html: unchanged" in s for s in lines)
    assert any("PDF kept" in s for s in lines)


def test_the_data_files_are_written_while_the_notebook_runs(clinic, tmp_path, monkeypatch):
    notebook_started = threading.Event()
    seen = []
    real = report.write_data_outputs

    def write(audit, folder, **kwargs):  # goes on only once the notebook has begun
        seen.append(notebook_started.wait(timeout=60))
        real(audit, folder, **kwargs)

    def execute(*args, **kwargs):
        notebook_started.set()
        return stub_execute()(*args, **kwargs)

    monkeypatch.setattr(report, "write_data_outputs", write)
    monkeypatch.setattr(report, "execute_notebook", execute)
    monkeypatch.setattr(report, "read_executed", lambda *a, **k: None)  # the notebook runs
    out = tmp_path / SLUG
    lines = []
    run(clinic, out, lines)
    assert seen == [True]  # a run writing them before the notebook would wait here in vain
    assert {"metrics.json", "patients.parquet", "call_lists.xlsx"} <= set(snapshot(out))
    assert any("data files written" in s for s in lines)
    monkeypatch.setattr(report, "write_data_outputs", _must_not_run)  # recorded: reused
    run(clinic, out, lines)
    assert any("data files: unchanged" in s for s in lines)


def test_a_run_stopped_during_the_notebook_stops_the_data_files_too(clinic, last_good, monkeypatch):
    out, before = last_good
    stopped = []

    def write(audit, folder, stop=None):  # a long writing that only a stop ends
        stopped.append(stop.wait(timeout=60))
        (folder / "metrics.json").write_text("{}", encoding="utf-8")

    def execute(*args, **kwargs):
        raise KeyboardInterrupt()

    monkeypatch.setattr(report, "write_data_outputs", write)
    monkeypatch.setattr(report, "execute_notebook", execute)
    with pytest.raises(KeyboardInterrupt):
        run(clinic, out)
    assert stopped == [True]
    assert snapshot(out) == before and leftovers(out) == []


def test_a_new_logo_renders_the_report_again(clinic, tmp_path, monkeypatch):
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect fill="red"/></svg>')
    raw = yaml.safe_load(clinic.read_text(encoding="utf-8"))
    raw["report"].setdefault("branding", {})["logo"] = str(logo)
    params = tmp_path / "logo.yaml"
    params.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    out = tmp_path / SLUG
    monkeypatch.setattr(report, "execute_notebook", stub_execute())
    run(params, out)
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect fill="blue"/></svg>')
    run(params, out)
    assert _b64_svg(logo) in (out / "audit.html").read_text()  # the new logo, not the old


def _b64_svg(path: Path) -> str:
    import base64

    return base64.b64encode(path.read_bytes()).decode("ascii")


def test_a_data_file_altered_since_the_last_run_is_written_again(clinic, tmp_path, monkeypatch):
    out = tmp_path / SLUG
    monkeypatch.setattr(report, "execute_notebook", stub_execute())
    run(clinic, out, formats=("html", "pdf"))
    before = snapshot(out)
    (out / "metrics.json").write_text("{}", encoding="utf-8")
    (out / "audit.pdf").unlink()
    lines = []
    run(clinic, out, lines, formats=("html", "pdf"))
    assert snapshot(out) == before  # written again, the same bytes
    assert not any("data files: unchanged" in s or "PDF kept" in s for s in lines)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler")
def test_an_edited_notebook_renders_the_html_and_pdf_again(clinic, tmp_path, monkeypatch):
    notebook = tmp_path / "audit.ipynb"
    shutil.copy(ROOT / "notebooks" / "audit.ipynb", notebook)
    out = tmp_path / SLUG

    def render(text):
        monkeypatch.setattr(report, "execute_notebook", stub_execute(text))
        report.build_report(clinic, out, ["html", "pdf"], notebook=notebook, log=lambda s: None)
        return _pdf_text(out / "audit.pdf")

    assert "first run" in render("first run")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("An analyst's note"))
    nbformat.write(nb, notebook)
    assert "second run" in render("second run")


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


# ----------------------------------------------------------------------------- stops


STAGES = {
    "compute": (report, "get_audit"),
    "data files": (report, "write_data_outputs"),
    "notebook": (report, "execute_notebook"),
    "html": (render, "export_html"),
    "pdf": (render, "write_pdf"),
}


@pytest.mark.parametrize(
    ("stage", "stop"),
    [(s, KeyboardInterrupt) for s in STAGES] + [("notebook", SystemExit)],
)
def test_a_run_stopped_at_any_stage_leaves_the_last_report_as_it_was(
    clinic, last_good, monkeypatch, stage, stop
):
    out, before = last_good
    module, name = STAGES[stage]

    def stopped(*args, **kwargs):
        raise stop()

    monkeypatch.setattr(module, name, stopped)
    with pytest.raises(stop):
        run(clinic, out, formats=("html", "pdf"))
    assert snapshot(out) == before
    assert leftovers(out) == []
    assert lock_is_free()


@pytest.mark.parametrize("at_call", [1, 4, 8])  # 6 old files set aside, then 6 new moved in
def test_a_run_stopped_while_moving_into_place_puts_the_last_report_back(
    clinic, last_good, monkeypatch, at_call
):
    out, before = last_good
    calls = []

    def move(src, dst):
        calls.append(src)
        if len(calls) == at_call:
            raise KeyboardInterrupt
        os.replace(src, dst)

    monkeypatch.setattr(publish, "_move", move)
    with pytest.raises(KeyboardInterrupt):
        run(clinic, out)
    assert len(calls) == at_call
    assert snapshot(out) == before
    assert leftovers(out) == []
    monkeypatch.setattr(publish, "_move", os.replace)
    run(clinic, out)  # the next run is clean and replaces the report
    assert b"second run" in (out / "audit.html").read_bytes()
    assert leftovers(out) == []


KILL = """
import os, signal, sys
from clinic_analysis.report import pipeline as report, publish
from tests.test_faults import stub_execute

report.execute_notebook = stub_execute("killed run")
report.start_kernel_early = lambda *a, **k: None
where, _, name = sys.argv[3].rpartition(".")  # "publish._move" or a name in the pipeline
module = publish if where == "publish" else report
at_call = int(sys.argv[4])
original = getattr(module, name)
calls = []

def killed(*args, **kwargs):
    calls.append(1)
    if len(calls) == at_call:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

setattr(module, name, killed)
report.build_report(
    sys.argv[1], out_dir=sys.argv[2], formats=["html"], log=lambda s: None, fresh=True
)
"""


def kill_run(clinic, out, name, at_call=1):
    r = subprocess.run(
        [sys.executable, "-c", KILL, str(clinic), str(out), name, str(at_call)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == -signal.SIGKILL, r.stderr


def test_a_killed_run_leaves_the_report_and_its_temp_folder_goes_at_the_next_start(
    clinic, last_good
):
    out, before = last_good
    kill_run(clinic, out, "execute_notebook")  # killed with the data files written
    assert snapshot(out) == before
    (tmp,) = out.glob(".tmp-*")
    assert (tmp / "metrics.json").exists()  # personal data a killed run left behind
    lines = []
    run(clinic, out, lines)
    assert any("removed 1 unfinished temporary folder" in s for s in lines)
    assert leftovers(out) == []
    assert b"second run" in (out / "audit.html").read_bytes()


def test_a_run_killed_while_moving_into_place_is_undone_at_the_next_start(
    clinic, last_good, monkeypatch
):
    out, before = last_good
    kill_run(clinic, out, "publish._move", at_call=8)  # old files set aside, one new file moved in
    assert snapshot(out) != before  # a hard kill cannot be undone until the next start
    lines = []
    monkeypatch.setattr(report, "get_audit", _raise(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        run(clinic, out, lines)  # the next start, stopped right after its clean-up
    assert any("last report was put back" in s for s in lines)
    assert snapshot(out) == before
    assert leftovers(out) == []


def _raise(exc):
    def raiser(*args, **kwargs):
        raise exc

    return raiser


# ----------------------------------------------------------------------------- a run as a whole


def test_outputs_this_run_did_not_make_are_removed_and_other_files_kept(clinic, last_good):
    out, before = last_good
    assert "audit.pdf" not in before
    (out / "audit.pdf").write_bytes(b"%PDF- an older run's report")
    (out / "notes.txt").write_text("the consultant's notes", encoding="utf-8")
    lines = []
    result = run(clinic, out, lines)
    assert not (out / "audit.pdf").exists()
    assert (out / "notes.txt").read_text(encoding="utf-8") == "the consultant's notes"
    assert any("removed audit.pdf" in s for s in lines)
    assert any("kept notes.txt" in s for s in lines)
    assert sorted(f.name for f in result.files) == sorted(before)


def test_the_cache_lives_outside_the_report_readable_by_its_owner_only(clinic, last_good):
    out, _ = last_good
    legacy = out / ".cache"
    legacy.mkdir()
    (legacy / "audit-0123.pkl").write_bytes(b"an older version's pickle")
    lines = []
    run(clinic, out, lines)
    assert not legacy.exists() and leftovers(out) == []
    assert any("removed" in s and ".cache" in s for s in lines)
    folder = cache_dir_for(SLUG)
    assert out not in folder.parents
    assert folder.stat().st_mode & 0o777 == 0o700
    (entry,) = folder.glob("audit-*.pkl")
    assert entry.stat().st_mode & 0o777 == 0o600
    assert cache_mod.cache_secret_path().stat().st_mode & 0o777 == 0o600


# ----------------------------------------------------------------------------- the cache


class Planted:
    """A pickle whose loading creates a file: stands for any code a planted cache runs."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("disguise", ["plain pickle", "looks signed"])
def test_a_planted_cache_file_is_never_unpickled(tmp_path, disguise):
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(Planted(probe))).close()
    assert probe.exists()  # the payload does run when unpickled
    params = _visits_params(tmp_path)
    key = cache_key(params)
    marker = tmp_path / "marker"
    payload = pickle.dumps(Planted(marker))
    if disguise == "looks signed":
        payload = CACHE_MAGIC + key.encode() + b"\n" + os.urandom(32) + payload
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"audit-{key[:20]}.pkl").write_bytes(payload)
    lines = []
    audit, hit = get_audit(params, cache, lines.append)
    assert not marker.exists()
    assert not hit and audit.metrics["base"]["visits"] == 2
    assert len(lines) == 1 and "ignored" in lines[0] and "recomputing" in lines[0]
    assert get_audit(params, cache, lines.append)[1]  # replaced by a good entry
    assert len(lines) == 1


def test_a_corrupt_cache_is_recomputed_with_one_line(tmp_path):
    params = _visits_params(tmp_path)
    cache = tmp_path / "cache"
    get_audit(params, cache)
    (entry,) = cache.glob("audit-*.pkl")
    entry.write_bytes(entry.read_bytes()[:-100])  # cut short, as by a full disk
    lines = []
    audit, hit = get_audit(params, cache, lines.append)
    assert not hit and audit.metrics["base"]["patients"] == 2
    assert len(lines) == 1 and "signature does not match" in lines[0]
    assert get_audit(params, cache, lines.append)[1]


def test_a_cache_hit_reads_the_visit_table_only_when_it_is_first_used(tmp_path):
    params = _visits_params(tmp_path)
    get_audit(params, tmp_path / "cache")
    audit, hit = get_audit(params, tmp_path / "cache")
    assert hit and "visits" not in vars(audit.data)  # the report's part only
    assert audit.data.as_of == pd.Timestamp("2024-04-30") and audit.data.has("visits", "amount")
    p1 = audit.data.visits[audit.data.visits["patient_id"] == "mis:P1"]
    assert sorted(p1["amount"].dropna()) == [300.0, 1200.5]  # read on first use
    assert "visits" in vars(audit.data) and "patients" not in vars(audit.data)  # one table
    assert audit.fits.ok is False  # the models, read on first use: 3 patients are too few


def test_an_altered_tables_entry_is_recomputed_when_first_used(tmp_path):
    params = _visits_params(tmp_path)
    cache = tmp_path / "cache"
    get_audit(params, cache)
    (tables,) = cache.glob("tables-*-visits.pkl")
    blob = bytearray(tables.read_bytes())
    blob[-10] ^= 0xFF  # one byte of the pickle changed
    tables.write_bytes(bytes(blob))
    lines = []
    audit, hit = get_audit(params, cache, lines.append)
    assert hit and lines == []  # the report's part is intact
    assert len(audit.data.visits) == 6
    assert len(lines) == 1 and "tables-" in lines[0] and "signature does not match" in lines[0]
    again, _ = get_audit(params, cache, lines.append)
    assert len(again.data.visits) == 6 and len(lines) == 1  # cached anew


def test_a_cache_signed_on_another_machine_is_recomputed(tmp_path, monkeypatch):
    params = _visits_params(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CLINIC_AUDIT_CACHE_KEY", str(tmp_path / "other" / "cache.key"))
    get_audit(params, cache)  # signed with the other machine's key
    monkeypatch.setenv("CLINIC_AUDIT_CACHE_KEY", str(tmp_path / "mine" / "cache.key"))
    lines = []
    assert not get_audit(params, cache, lines.append)[1]
    assert len(lines) == 1 and "signature does not match" in lines[0]
    assert (tmp_path / "mine" / "cache.key").stat().st_mode & 0o777 == 0o600


def test_a_cache_of_other_inputs_under_this_name_is_recomputed(tmp_path):
    params = _visits_params(tmp_path)
    other = _visits_params(tmp_path, patient_rule="paid")
    cache = tmp_path / "cache"
    get_audit(other, cache)
    (entry,) = cache.glob("audit-*.pkl")
    entry.rename(cache / f"audit-{cache_key(params)[:20]}.pkl")
    lines = []
    audit, hit = get_audit(params, cache, lines.append)
    assert not hit and audit.metrics["base"]["patient_rule"] == "came"
    assert len(lines) == 1 and "made for other inputs" in lines[0]


def test_the_cache_key_follows_the_installed_versions(tmp_path):
    import importlib.metadata

    params = _visits_params(tmp_path)
    assert cache_key(params, code="c", versions="pandas==3.1.0") != cache_key(
        params, code="c", versions="pandas==3.1.1"
    )
    assert f"pandas=={importlib.metadata.version('pandas')}" in cache_mod.dependency_versions()


# ----------------------------------------------------------------------------- one at a time


def test_a_second_run_of_a_clinic_stops_with_one_line_while_the_first_runs(
    clinic, last_good, tmp_path, monkeypatch
):
    out, _ = last_good
    inside, release = threading.Event(), threading.Event()
    stub = stub_execute("second run")

    def slow_notebook(*args, **kwargs):
        inside.set()
        release.wait(120)
        return stub(*args, **kwargs)

    monkeypatch.setattr(report, "execute_notebook", slow_notebook)
    first: dict = {}

    def first_run():
        try:
            first["result"] = run(clinic, out)
        except BaseException as err:  # noqa: BLE001 - reported below
            first["error"] = err

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert inside.wait(120)
        with pytest.raises(ReportError) as e:
            run(clinic, tmp_path / "elsewhere")
    finally:
        release.set()
        thread.join(120)
    msg = str(e.value)
    assert f"another run of '{SLUG}' (pid {os.getpid()})" in msg and "\n" not in msg
    assert "error" not in first, first.get("error")
    assert b"second run" in (out / "audit.html").read_bytes()
    assert leftovers(out) == [] and not (tmp_path / "elsewhere").exists()


def test_a_second_run_waits_for_the_first_and_then_runs(clinic, last_good):
    out, _ = last_good
    fd = os.open(cache_dir_for(SLUG) / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # the first run holds the lock
    waiting = threading.Event()
    lines: list[str] = []
    done: dict = {}

    def log(s):
        lines.append(s)
        if "waiting for another run" in s:
            waiting.set()

    def second():
        done["result"] = report.build_report(
            clinic, out_dir=out, formats=["html"], log=log, lock_wait=300
        )

    thread = threading.Thread(target=second)
    thread.start()
    try:
        assert waiting.wait(120)
    finally:
        os.close(fd)  # the first run ends
        thread.join(300)
    assert "result" in done
    assert b"second run" in (out / "audit.html").read_bytes()


# ----------------------------------------------------------------------------- disks


@pytest.mark.parametrize(
    ("err", "words"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "the file system is read-only"),
        (errno.EACCES, "no permission"),
    ],
)
def test_a_full_or_read_only_report_folder_is_one_line_naming_it(
    clinic, last_good, monkeypatch, err, words
):
    out, before = last_good
    calls = []

    def move(src, dst):
        calls.append(src)
        if len(calls) == 8:  # half-way through replacing the report
            raise OSError(err, os.strerror(err), str(dst))
        os.replace(src, dst)

    monkeypatch.setattr(publish, "_move", move)
    with pytest.raises(ReportError) as e:
        run(clinic, out)
    msg = str(e.value)
    assert f"cannot write to {out}: {words}" in msg and "\n" not in msg
    assert snapshot(out) == before and leftovers(out) == []


def test_a_full_disk_while_writing_the_data_files_is_one_line(clinic, last_good, monkeypatch):
    out, before = last_good

    def full(audit, folder, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "metrics.json"))

    monkeypatch.setattr(report, "write_data_outputs", full)
    with pytest.raises(ReportError, match="the disk is full") as e:
        run(clinic, out)
    assert str(out) in str(e.value)
    assert snapshot(out) == before and leftovers(out) == []


def test_an_unwritable_cache_folder_is_one_line_naming_it(clinic, last_good, monkeypatch):
    out, before = last_good
    folder = cache_dir_for(SLUG)

    def refuse(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(report, "make_private_dir", refuse)
    with pytest.raises(ReportError) as e:
        run(clinic, out)
    assert f"cannot write to {folder}: no permission" in str(e.value)
    assert "CLINIC_AUDIT_CACHE" in str(e.value)
    assert snapshot(out) == before


# ----------------------------------------------------------------------------- validation


def _params_file(tmp_path, name="c.yaml", **edits) -> Path:
    raw = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text(encoding="utf-8"))
    raw.pop("demo")
    for s in raw["sources"]:
        s["path"] = str(tmp_path / Path(s["path"]).name)
    for key, value in edits.items():
        section, field = key.split(".", 1)
        if "." in field:
            sub, field = field.split(".")
            raw[section].setdefault(sub, {})[field] = value
        else:
            raw[section][field] = value
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p


@pytest.mark.parametrize("slug", ["../../x", "Demo", "a/b", "", "x.y"])
def test_a_slug_that_could_leave_reports_is_refused(tmp_path, slug):
    with pytest.raises(ParamsError, match=r"clinic\.slug: may hold only lowercase"):
        load_params(_params_file(tmp_path, **{"clinic.slug": slug}))


def test_a_slug_taken_from_an_unsafe_file_name_is_refused(tmp_path):
    p = _params_file(tmp_path, name="My Clinic.yaml")
    with pytest.raises(ParamsError, match=r"(?s)slug 'My Clinic'.*clinic\.slug:"):
        report.build_report(p, out_dir=tmp_path / "out", log=lambda s: None)
    assert not (tmp_path / "out").exists()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>'


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("logo.png", b"<html>not an image</html>", "is not a PNG image"),
        ("logo.svg", PNG, "is not a SVG image"),  # a PNG named .svg
        ("logo.svg", SVG.replace(b"></svg>", b"><script>x()</script></svg>"), "with scripts"),
        ("logo.png", None, "cannot read"),
    ],
)
def test_a_logo_must_be_an_image_file(tmp_path, name, data, error):
    if data is not None:
        (tmp_path / name).write_bytes(data)
    p = _params_file(tmp_path, **{"report.branding.logo": name})
    with pytest.raises(ParamsError, match=error) as e:
        report.check_logo(load_params(p), p)
    assert "report.branding.logo" in str(e.value)


@pytest.mark.parametrize(("name", "data"), [("logo.png", PNG), ("logo.SVG", SVG)])
def test_a_png_or_svg_logo_is_accepted(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    p = _params_file(tmp_path, **{"report.branding.logo": name})
    report.check_logo(load_params(p), p)


def test_a_logo_with_a_non_image_name_is_refused_with_the_params(tmp_path):
    with pytest.raises(ParamsError, match=r"report\.branding\.logo: must be an image file"):
        load_params(_params_file(tmp_path, **{"report.branding.logo": "logo.html"}))


def test_a_cache_entry_streams_its_pickle_and_is_signed_over_all_of_it(tmp_path):
    """The pickle goes to disk as it is made; the file is the same signed entry as ever:
    magic, key, the signature of magic + key + pickle, the pickle; one flipped byte fails."""
    key, secret = "k" * 64, b"machine secret"
    obj = {"visits": pd.DataFrame({"x": range(200_000)}), "note": "text"}
    path = tmp_path / "entry.pkl"
    cache_mod._write_entry(path, key, obj, secret)
    raw = path.read_bytes()
    head = CACHE_MAGIC + key.encode() + b"\n"
    mac, payload = raw[len(head) : len(head) + 32], raw[len(head) + 32 :]
    assert raw.startswith(head)
    assert mac == cache_mod._signature(secret, key, payload)
    back, why = cache_mod._read_entry(path, key, secret)
    assert why == ""
    pd.testing.assert_frame_equal(back["visits"], obj["visits"])
    assert back["note"] == "text"
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    assert cache_mod._read_entry(path, key, secret)[0] is None
