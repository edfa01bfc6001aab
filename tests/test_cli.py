"""The CLI: user errors are one clear message and a non-zero exit, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEMO_PARAMS, ROOT


def run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "clinic_analysis", *args], capture_output=True, text=True, cwd=cwd
    )


def test_missing_params_file_is_one_clear_line():
    r = run("report", "--clinic", "no_such_clinic")
    assert r.returncode == 2
    assert "params file not found" in r.stderr and "no_such_clinic.yaml" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_unknown_key_names_key_and_file(tmp_path):
    raw = yaml.safe_load(DEMO_PARAMS.read_text(encoding="utf-8"))
    raw["report"]["colour"] = "#ffffff"
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    r = run("report", "--clinic", str(p))
    assert r.returncode == 2
    assert "report.colour: unknown key" in r.stderr and str(p) in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_source_file_names_it(tmp_path):
    raw = yaml.safe_load(DEMO_PARAMS.read_text(encoding="utf-8"))
    raw.pop("demo")
    raw["sources"] = raw["sources"][:1]
    raw["sources"][0]["path"] = "nowhere/visits.csv"
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    r = run("report", "--clinic", str(p), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert "nowhere/visits.csv: file not found" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()  # a first run that fails leaves no folder


def test_debug_shows_the_traceback():
    r = run("report", "--clinic", "no_such_clinic", "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_init_writes_a_draft(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("Код пацієнта;Дата прийому;Сума\nP1;01.02.2024;100\n", encoding="utf-8")
    r = run("init", "--clinic", "newc", "--params-dir", str(tmp_path / "params"), str(f))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "params" / "newc.yaml").read_text(encoding="utf-8")
    assert 'patient_id: "Код пацієнта"' in text
    r2 = run("init", "--clinic", "newc", "--params-dir", str(tmp_path / "params"), str(f))
    assert r2.returncode == 2 and "already exists" in r2.stderr


def _tiny_clinic(tmp_path, **clinic) -> Path:
    """Params of a three-patient clinic (one visits file) in ``tmp_path``."""
    from tests.ingest.test_load import STATUS, VISIT_COLS, VISITS

    (tmp_path / "v.csv").write_text(VISITS, encoding="utf-8")
    raw = {
        "clinic": {"name": "Tiny", "as_of": "2024-04-30", **clinic},
        "sources": [
            {"system": "mis", "table": "visits", "path": "v.csv", "columns": VISIT_COLS}
            | {"values": STATUS}
        ],
    }
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p


def _one_error_line(r) -> str:
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout
    lines = [s for s in r.stderr.splitlines() if s.startswith("error:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_a_slug_that_leaves_reports_is_one_line(tmp_path):
    escaped = f"escaped-{tmp_path.name}"  # not a folder beside the project (a clone's own name)
    r = run("report", "--clinic", str(_tiny_clinic(tmp_path, slug=f"../../{escaped}")))
    assert "clinic.slug: may hold only lowercase letters" in r.stderr
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert not (ROOT.parent / escaped).exists()


def test_an_output_folder_under_a_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    out = tmp_path / "afile" / "report"
    r = run("report", "--clinic", str(_tiny_clinic(tmp_path)), "--out", str(out))
    line = _one_error_line(r)
    assert f"cannot write to {out}: a file stands where a folder should be" in line


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_an_unwritable_report_folder_is_one_line_naming_it(tmp_path):
    # sysfs refuses to make folders even to root: a real unwritable place for these tests
    out = Path("/sys/clinic-audit-probe")
    r = run("report", "--clinic", str(_tiny_clinic(tmp_path)), "--out", str(out))
    line = _one_error_line(r)
    assert f"cannot write to {out}: no permission to write there" in line
