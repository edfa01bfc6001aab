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


@pytest.mark.parametrize("lang", ["uk", "ru", "en"])
@pytest.mark.parametrize("currency", ["UAH", "EUR", "USD"])
def test_money_reads_as_babels_format_currency_and_format_decimal(lang, currency):
    import random

    from babel.numbers import format_currency, format_decimal

    from clinic_analysis.i18n import BABEL_LOCALE

    f = Formatter(lang, currency)
    loc = BABEL_LOCALE[lang]
    rng = random.Random(5)
    values = [0, -0.0, 0.5, 1.5, 2.5, -3.0, 9999.5, 10000, 12345.678, 999949.9, 999950.0, 1e6,
              2.55e6, -1.25e7, 7, 10**12] + [rng.uniform(-1e7, 1e7) for _ in range(300)]  # fmt: skip

    def money(x, digits=0):
        num = "#,##0" + ("." + "0" * digits if digits else "")
        pattern = f"¤\u00a0{num}" if lang == "en" else f"{num}\u00a0¤"
        return format_currency(x, currency, format=pattern, locale=loc, currency_digits=False)

    sym = money(0).replace("0", "").strip()
    units = {"uk": ("тис.", "млн"), "ru": ("тыс.", "млн"), "en": ("k", "m")}[lang]

    def short(x):
        if abs(x) < 1e4:
            return money(x)
        v, unit = (x / 1e6, units[1]) if abs(x) >= 1e6 else (x / 1e3, units[0])
        num = format_decimal(v, format="#,##0.0", locale=loc)
        return f"{sym}\u00a0{num}{unit}" if lang == "en" else f"{num}\u00a0{unit}\u00a0{sym}"

    assert [f.money(x) for x in values] == [money(x) for x in values]
    assert [f.money(x, 2) for x in values] == [money(x, 2) for x in values]
    assert [f.money_short(x) for x in values] == [short(x) for x in values]


def test_short_money_says_thousands_and_millions_in_the_language():
    assert Formatter("uk", "UAH").money_short(1_234_567) == "1,2\u00a0млн\u00a0₴"
    assert Formatter("ru", "UAH").money_short(12_345) == "12,3\u00a0тыс.\u00a0₴"
    assert Formatter("en", "UAH").money_short(12_345) == "UAH\u00a012.3k"
    assert Formatter("uk", "UAH").money_short(950) == "950\u00a0₴"
