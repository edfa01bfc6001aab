"""Shared fixtures: a small generated demo clinic and a params file that maps it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO_PARAMS = ROOT / "params" / "demo.yaml"


def write_params_copy(source: Path, folder: Path, patients: int | None = None, **clinic) -> Path:
    """A copy of a built-in params file whose generated data live in ``folder/data``."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    if patients is not None:
        raw["demo"]["patients"] = patients
    for s in raw["sources"]:
        s["path"] = str(folder / "data" / Path(s["path"]).name)
    raw["clinic"].update(clinic)
    path = folder / source.name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def loaded_after(statement: str, modules) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``statement``."""
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {list(modules)!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory) -> Path:
    """Tests (and the runs they start) keep their audit cache and its signing key in a
    temporary folder, never in the project's .cache/ or the user's ~/.config."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ["CLINIC_AUDIT_CACHE"] = str(folder / "cache")
    os.environ["CLINIC_AUDIT_CACHE_KEY"] = str(folder / "key" / "cache.key")
    return folder


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """Params of a 300-card demo clinic (data generated once per test session)."""
    folder = tmp_path_factory.mktemp("small_demo")
    path = write_params_copy(DEMO_PARAMS, folder, patients=300)
    from clinic_analysis.params import load_params
    from clinic_analysis.report.pipeline import ensure_demo_data

    ensure_demo_data(load_params(path))
    return path
