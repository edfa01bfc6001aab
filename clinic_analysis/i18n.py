"""The string catalogue and locale-aware formatting (Babel).

Everything the client reads goes through :class:`Catalog` (``t("key")``); the catalogue lives in
``locales/{uk,ru,en}.yaml`` with the same keys in each language (a test checks it).
Numbers, money, percentages, dates and month names are formatted with Babel for the
report's language.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cache, cached_property
from pathlib import Path

import pandas as pd
import yaml
from babel import Locale
from babel.dates import format_date, get_month_names
from babel.numbers import NumberPattern, format_decimal, format_percent, parse_pattern

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("uk", "ru", "en")
BABEL_LOCALE = {"uk": "uk_UA", "ru": "ru_UA", "en": "en_GB"}
MISSING = "—"


@cache
def load_catalog(language: str) -> dict[str, str]:
    """The flat key -> text mapping of one language."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown report language {language!r}: use one of {LANGUAGES}")
    data = yaml.safe_load((LOCALES_DIR / f"{language}.yaml").read_text(encoding="utf-8"))
    return _flatten(data)


def _flatten(d: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)
    return out


class Catalog:
    """``t = Catalog("uk"); t("sec.about_data")``; ``{name}`` fields are filled from kwargs."""

    def __init__(self, language: str = "uk") -> None:
        self.language = language
        self.strings = load_catalog(language)

    def __call__(self, key: str, **fields) -> str:
        try:
            text = self.strings[key]
        except KeyError:
            raise KeyError(f"string '{key}' is missing from locales/{self.language}.yaml") from None
        return text.format(**fields) if fields else text

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.strings.get(key, default)

    def reason(self, key: str) -> str:
        """A ledger reason: built-in keys are translated, rule reasons stay as written."""
        if key.startswith("excluded: "):
            return self("ledger.reason.excluded", reason=key.removeprefix("excluded: "))
        return self.strings.get(f"ledger.reason.{key}", key)


@cache
def _number_pattern(pattern: str) -> NumberPattern:
    return parse_pattern(pattern)


@cache
def _babel_locale(name: str) -> Locale:
    return Locale.parse(name)


class Formatter:
    """Numbers, money, percentages and dates in the report's language."""

    def __init__(self, language: str = "uk", currency: str = "UAH") -> None:
        self.language = language
        self.locale = BABEL_LOCALE[language]
        self.currency = currency

    @staticmethod
    def _missing(x) -> bool:
        return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA or x is pd.NaT

    def number(self, x, digits: int = 0) -> str:
        if self._missing(x):
            return MISSING
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(x, format=fmt, locale=self.locale)

    def money(self, x, digits: int = 0) -> str:
        if self._missing(x):
            return MISSING
        num = "#,##0" + ("." + "0" * digits if digits else "")
        pattern = f"¤\u00a0{num}" if self.language == "en" else f"{num}\u00a0¤"
        # babel's format_currency with its pattern and locale parsed once (half its time)
        return _number_pattern(pattern).apply(
            x, _babel_locale(self.locale), currency=self.currency, currency_digits=False
        )

    def money_short(self, x) -> str:
        """Large sums with a unit word: 1.2 млн ₴."""
        if self._missing(x):
            return MISSING
        units = {"uk": ("тис.", "млн"), "ru": ("тыс.", "млн"), "en": ("k", "m")}[self.language]
        if abs(x) >= 1e6:
            return self._unit(x / 1e6, units[1])
        if abs(x) >= 1e4:
            return self._unit(x / 1e3, units[0])
        return self.money(x)

    def _unit(self, v: float, unit: str) -> str:
        num = _number_pattern("#,##0.0").apply(v, _babel_locale(self.locale))  # format_decimal
        sym = self._symbol
        if self.language == "en":
            return f"{sym}\u00a0{num}{unit}"
        return f"{num}\u00a0{unit}\u00a0{sym}"

    @cached_property
    def _symbol(self) -> str:
        """The currency's sign as :meth:`money` writes it (₴, UAH)."""
        return self.money(0).replace("0", "").strip()

    def percent(self, x, digits: int = 0) -> str:
        if self._missing(x):
            return MISSING
        fmt = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return format_percent(x, format=fmt, locale=self.locale)

    def date(self, d, style: str = "long") -> str:
        if self._missing(d):
            return MISSING
        d = pd.Timestamp(d).date() if not isinstance(d, dt.date) else d
        if style == "short":
            return d.strftime("%d.%m.%Y") if self.language != "en" else d.isoformat()
        return format_date(d, format=style, locale=self.locale)

    def month(self, d, style: str = "abbreviated") -> str:
        """'жовт. 2026' / 'окт. 2026' / 'Oct 2026'."""
        d = pd.Timestamp(d)
        name = get_month_names(style, context="stand-alone", locale=self.locale)[d.month]
        return f"{name} {d.year}"

    def month_names(self, style: str = "abbreviated") -> list[str]:
        names = get_month_names(style, context="stand-alone", locale=self.locale)
        return [names[i] for i in range(1, 13)]
