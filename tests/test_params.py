from pathlib import Path

import pytest
import yaml

from clinic_analysis.errors import ParamsError
from clinic_analysis.params import load_params
from tests.conftest import DEMO_PARAMS


def _write(tmp_path: Path, raw: dict) -> Path:
    p = tmp_path / "clinic.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(DEMO_PARAMS.read_text(encoding="utf-8"))


def test_demo_params_are_valid_and_paths_become_absolute():
    p = load_params(DEMO_PARAMS)
    assert p.clinic.language == "uk"
    assert p.slug == "demo"
    assert all(s.path.is_absolute() for s in p.sources)
    assert p.sources[0].path.parent.name == "demo"


def test_unknown_key_is_named_with_the_file(tmp_path, raw):
    raw["clinic"]["colour"] = "red"
    path = _write(tmp_path, raw)
    with pytest.raises(ParamsError) as e:
        load_params(path)
    msg = str(e.value)
    assert str(path) in msg
    assert "clinic.colour" in msg and "unknown key" in msg


def test_unknown_top_level_key_is_named(tmp_path, raw):
    raw["sourcez"] = []
    with pytest.raises(ParamsError, match=r"sourcez: unknown key"):
        load_params(_write(tmp_path, raw))


def test_wrong_type_names_the_key(tmp_path, raw):
    raw["clinic"]["as_of"] = "not a date"
    with pytest.raises(ParamsError, match=r"clinic\.as_of"):
        load_params(_write(tmp_path, raw))


def test_bad_language_lists_the_choices(tmp_path, raw):
    raw["clinic"]["language"] = "de"
    with pytest.raises(ParamsError, match=r"clinic\.language: .*'uk'"):
        load_params(_write(tmp_path, raw))


def test_unknown_canonical_column_is_refused(tmp_path, raw):
    raw["sources"][0]["columns"]["pacient"] = "Код"
    with pytest.raises(ParamsError, match=r"sources\[0\].*'pacient' is not a canonical column"):
        load_params(_write(tmp_path, raw))


def test_status_mapped_to_unknown_value_is_refused(tmp_path, raw):
    raw["sources"][0]["values"]["status"]["Виконано"] = "done"
    with pytest.raises(ParamsError, match=r"'done' not allowed"):
        load_params(_write(tmp_path, raw))


def test_visits_without_date_column_is_refused(tmp_path, raw):
    del raw["sources"][0]["columns"]["date"]
    with pytest.raises(ParamsError, match=r"'date' must be mapped"):
        load_params(_write(tmp_path, raw))


def test_missing_params_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ParamsError, match=r"params file not found") as e:
        load_params(tmp_path / "nope.yaml")
    assert "make init" in str(e.value)


def test_broken_yaml_names_the_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("clinic:\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"not valid YAML \(line \d+"):
        load_params(p)


def test_bad_branding_colour(tmp_path, raw):
    raw["report"]["branding"]["colour"] = "blue"
    with pytest.raises(ParamsError, match=r"report\.branding\.colour"):
        load_params(_write(tmp_path, raw))


def test_fingerprint_changes_with_params(tmp_path, raw):
    a = load_params(_write(tmp_path, raw)).fingerprint()
    raw["patient_rule"] = "paid"
    b = load_params(_write(tmp_path, raw)).fingerprint()
    assert a != b


def test_clinic_opened_after_the_audit_date_is_refused(tmp_path, raw):
    raw["clinic"]["opened"] = "2030-01-01"
    with pytest.raises(ParamsError, match=r"clinic: opened must not be after as_of"):
        load_params(_write(tmp_path, raw))


def test_call_sheets_are_capped_at_ten_thousand_rows_by_default():
    assert load_params(DEMO_PARAMS).calls.max_rows_per_sheet == 10_000


@pytest.mark.parametrize("cap", [0, -5])
def test_a_call_sheet_cap_below_one_is_rejected_naming_the_key(tmp_path, raw, cap):
    raw["calls"] = {"max_rows_per_sheet": cap}
    with pytest.raises(ParamsError, match=r"calls\.max_rows_per_sheet"):
        load_params(_write(tmp_path, raw))
