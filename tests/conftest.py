"""Shared fixtures: a small generated demo clinic and a params file that maps it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO_PARAMS = ROOT / "params" / "demo.yaml"


def write_demo_params(folder: Path, patients: int = 300, **clinic) -> Path:
    """A copy of params/demo.yaml whose demo data live in ``folder/data``."""
    raw = yaml.safe_load(DEMO_PARAMS.read_text(encoding="utf-8"))
    raw["demo"]["patients"] = patients
    for s in raw["sources"]:
        s["path"] = str(folder / "data" / Path(s["path"]).name)
    raw["clinic"].update(clinic)
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """Params of a 300-card demo clinic (data generated once per test session)."""
    folder = tmp_path_factory.mktemp("small_demo")
    path = write_demo_params(folder)
    from clinic_analysis.params import load_params
    from clinic_analysis.report import ensure_demo_data

    ensure_demo_data(load_params(path))
    return path
