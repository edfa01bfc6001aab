import re

import pytest

from clinic_analysis.i18n import LANGUAGES, Catalog, Formatter, load_catalog
from tests.conftest import ROOT


def test_every_language_has_the_same_keys():
    keys = {lang: set(load_catalog(lang)) for lang in LANGUAGES}
    for lang in LANGUAGES:
        assert keys[lang] == keys["uk"], f"{lang}: {keys[lang] ^ keys['uk']}"


def test_every_key_used_in_code_and_notebooks_exists():
    used: set[str] = set()
    files = list((ROOT / "clinic_analysis").rglob("*.py")) + list(
        (ROOT / "notebooks").glob("*.ipynb")
    )
    for p in files:
        text = p.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\(\\?"([a-z_]+(?:\.[a-z_]+)+)\\?"', text))
    assert used, "no catalogue keys found: the scan is broken"
    for lang in LANGUAGES:
        missing = used - set(load_catalog(lang))
        assert not missing, f"{lang}: {sorted(missing)}"


def test_placeholders_agree_across_languages():
    uk = load_catalog("uk")
    for lang in ("ru", "en"):
        other = load_catalog(lang)
        for key, text in uk.items():
            assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", other[key])), key


def test_missing_key_names_the_file():
    with pytest.raises(KeyError, match=r"locales/uk.yaml"):
        Catalog("uk")("no.such.key")


@pytest.mark.parametrize(
    ("lang", "money", "pct", "date"),
    [
        ("uk", "1\u00a0234\u00a0568\u00a0₴", "23,4%", "31 жовтня 2026\u202fр."),
        ("ru", "1\u00a0234\u00a0568\u00a0₴", "23,4%", "31 октября 2026\u202fг."),
        ("en", "UAH\u00a01,234,568", "23.4%", "31 October 2026"),
    ],
)
def test_formats_follow_the_language(lang, money, pct, date):
    f = Formatter(lang, "UAH")
    assert f.money(1234567.5) == money
    assert f.percent(0.2345, 1) == pct
    assert f.date("2026-10-31") == date


def test_missing_values_print_as_a_dash():
    f = Formatter("uk")
    assert f.money(float("nan")) == f.number(None) == f.date(None) == "—"


def test_ledger_reasons_are_translated_and_rule_reasons_kept():
    t = Catalog("uk")
    assert t.reason("duplicate_row") == "точний дубль рядка"
    assert t.reason("excluded: test record") == "виключено правилом: test record"
