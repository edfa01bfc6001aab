"""The project's own shape: dependency lists in step, notebooks committed clean."""

import json
import re
import tomllib

import yaml

from tests.conftest import ROOT


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(spec: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    return _norm(m.group(1)), m.group(2).replace(" ", "")


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = dict(
        _split(s) for s in project["dependencies"] + project["optional-dependencies"]["dev"]
    )
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    conda_deps = dict(_split(d) for d in conda if not d.startswith(("python=", "pip")))
    assert conda_deps == pip_deps
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-e ."]


def test_requirements_lock_pins_every_direct_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[_norm(name)] = version
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name, _ = _split(spec)
        assert name in lock, f"{name} is not pinned in requirements.lock"


def test_notebooks_are_committed_without_outputs():
    for nb_path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], f"{nb_path.name}: a cell has outputs"
                assert cell["execution_count"] is None, f"{nb_path.name}: execution counts"


def test_notebook_has_a_parameters_cell():
    nb = json.loads((ROOT / "notebooks" / "audit.ipynb").read_text(encoding="utf-8"))
    tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1
    assert "params_path" in "".join(tagged[0]["source"])
