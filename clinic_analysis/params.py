"""The per-clinic params file (``params/<clinic>.yaml``): schema, loading, validation.

A new export format is a new params file, never new code. Validation is strict: an unknown
key or a wrong type is an error that names the file and the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clinic_analysis.errors import ParamsError, SourceFileError
from clinic_analysis.ingest.tables import CATEGORIES, COLUMNS

# a clinic's slug names reports/<slug>/ and .cache/<slug>/: nothing that could leave them
SLUG_PATTERN = r"[a-z0-9_-]+"
LOGO_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")

Language = Literal["uk", "ru", "en"]
Encoding = Literal["utf-8", "utf-8-sig", "cp1251", "utf-16", "utf-16-le", "utf-16-be"]
PatientRule = Literal["booked", "came", "paid"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clinic(_Strict):
    name: str
    slug: str | None = None
    currency: str = "UAH"
    language: Language = "uk"
    as_of: dt.date | None = None
    # visits and plans dated before it are dropped (before_clinic_opened); default 1990-01-01
    opened: dt.date | None = None
    phone_region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "UA"

    @model_validator(mode="after")
    def _opened_before_as_of(self) -> Clinic:
        if self.opened and self.as_of and self.opened > self.as_of:
            raise ValueError("opened must not be after as_of")
        return self

    @field_validator("slug")
    @classmethod
    def _safe_slug(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(SLUG_PATTERN, v):
            raise ValueError(
                "may hold only lowercase letters, digits, '-' and '_' (it names the folder "
                "reports/<slug>/)"
            )
        return v

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", v):
            raise ValueError("must be an ISO 4217 code such as UAH, EUR, USD")
        return v


BOOL_TARGETS = {"1": "true", "0": "false", "yes": "true", "no": "false"}


def _scalar_text(v) -> str:
    """A YAML scalar as text: booleans "true"/"false", whole numbers without ".0"."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


class Lookup(_Strict):
    """A dictionary file that names the ids in a column (e.g. providers.csv for doctor ids)."""

    path: Path
    key: str
    value: str
    encoding: Encoding | None = None
    delimiter: str | None = None
    sheet: str | None = None


class Source(_Strict):
    system: str
    table: Literal["visits", "patients", "plans"]
    path: Path
    encoding: Encoding | None = None
    delimiter: str | None = None
    decimal: Literal[",", "."] | None = None
    date_format: str | None = None
    sheet: str | None = None
    columns: dict[str, str]
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    lookups: dict[str, Lookup] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _values_as_written(cls, data):
        """``values:`` keys and targets as people write them in YAML: ``{"Так": true}``,
        ``{1: true}``, ``{Yes: no_show}``. PyYAML follows YAML 1.1 and reads bare
        yes/no/on/off/true/false as booleans: such a key is kept as "true"/"false" and
        matches the cells yes/on/true (no/off/false) alike, case-insensitively. Numbers
        become their text ("1"); a boolean column also takes 1/0 and yes/no as targets."""
        if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
            return data
        kinds = COLUMNS.get(data.get("table"), {})
        values = {}
        for canon, m in data["values"].items():
            if isinstance(m, dict):
                m = {_scalar_text(k): _scalar_text(t) for k, t in m.items()}
                if kinds.get(canon) == "bool":
                    m = {k: BOOL_TARGETS.get(t.lower(), t) for k, t in m.items()}
            values[canon] = m
        return {**data, "values": values}

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v: str | None) -> str | None:
        if v is not None and len(v) != 1:
            raise ValueError("must be a single character such as ';', ',' or a tab")
        return v

    @model_validator(mode="after")
    def _known_columns(self) -> Source:
        known = COLUMNS[self.table]
        for canon in self.columns:
            if canon not in known:
                raise ValueError(
                    f"columns: '{canon}' is not a canonical column of table '{self.table}' "
                    f"(known: {', '.join(known)})"
                )
        if "patient_id" not in self.columns:
            raise ValueError("columns: 'patient_id' must be mapped")
        if self.table == "visits" and "date" not in self.columns:
            raise ValueError("columns: 'date' must be mapped for a visits table")
        for canon in self.lookups:
            if canon not in self.columns:
                raise ValueError(f"lookups: '{canon}' is not mapped under columns")
        for canon, mapping in self.values.items():
            allowed = CATEGORIES.get((self.table, canon))
            kind = known.get(canon)
            if canon not in self.columns:
                raise ValueError(f"values: '{canon}' is not mapped under columns")
            if kind == "money":
                bad = sorted(str(v) for v in mapping.values() if not _is_number(v))
                if bad:
                    raise ValueError(
                        f"values.{canon}: {', '.join(map(repr, bad))} not allowed "
                        "(an amount column maps words to numbers, e.g. безкоштовно: 0)"
                    )
                continue
            if allowed is None:
                if kind != "bool":
                    raise ValueError(f"values: column '{canon}' takes no value mapping")
                allowed = ("true", "false")
            bad = sorted({str(v) for v in mapping.values()} - set(allowed))
            if bad:
                raise ValueError(
                    f"values.{canon}: {', '.join(map(repr, bad))} not allowed "
                    f"(use one of {', '.join(allowed)})"
                )
        return self


class Exclude(_Strict):
    table: Literal["visits", "patients", "plans"]
    column: str
    pattern: str
    reason: str

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as err:
            raise ValueError(f"not a valid regular expression: {err}") from None
        return v


class Branding(_Strict):
    consultant: str = ""
    logo: Path | None = None
    colour: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#1f6f8b"

    @field_validator("logo")
    @classmethod
    def _image_name(cls, v: Path | None) -> Path | None:
        # the bytes are checked once the path is resolved (report.check_logo)
        if v is not None and v.suffix.lower() not in LOGO_SUFFIXES:
            raise ValueError(f"must be an image file ({', '.join(LOGO_SUFFIXES)})")
        return v


class Report(_Strict):
    formats: list[Literal["html", "pdf"]] = Field(default_factory=lambda: ["html", "pdf"])
    branding: Branding = Field(default_factory=Branding)


class Activity(_Strict):
    """Activity-index thresholds in days; by default from the clinic's own visit intervals."""

    active_days: int | None = Field(default=None, gt=0, lt=365)
    at_risk_days: int | None = Field(default=None, gt=0, lt=365)
    active_percentile: float = Field(default=0.75, gt=0, lt=1)
    at_risk_percentile: float = Field(default=0.90, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> Activity:
        if self.active_days and self.at_risk_days and self.active_days >= self.at_risk_days:
            raise ValueError("active_days must be below at_risk_days")
        if self.active_percentile >= self.at_risk_percentile:
            raise ValueError("active_percentile must be below at_risk_percentile")
        return self


class Repeat(_Strict):
    """Repeat-index settings."""

    min_group_size: int = Field(default=30, ge=1)
    promo_pattern: str = r"(?i)акці|акци|promo|знижк|скидк|купон|coupon|discount"


class Scenario(_Strict):
    conservative: float = Field(ge=0, le=1)
    base: float = Field(ge=0, le=1)
    optimistic: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Scenario:
        if not self.conservative <= self.base <= self.optimistic:
            raise ValueError("rates must grow: conservative <= base <= optimistic")
        return self


class Refusers(_Strict):
    """Reactivation settings: rates per segment and scenario, contact scripts, decay."""

    rates: dict[str, Scenario] = Field(default_factory=dict)
    scripts: dict[str, str] = Field(default_factory=dict)
    # the article: 9 of 10 refusers are treated elsewhere within about 4 months
    gone_elsewhere_share: float = Field(default=0.9, gt=0, lt=1)
    gone_elsewhere_months: float = Field(default=4.0, gt=0)
    # the "at stake" headline counts plans refused in this many months before the audit date
    at_stake_months: int = Field(default=12, ge=1, le=120)


class Models(_Strict):
    """Churn/CLV models, clustering and forecast settings."""

    holdout_days: int = Field(default=180, ge=30, le=730)
    annual_discount: float = Field(default=0.15, ge=0, lt=1)
    forecast_months: int = Field(default=12, ge=1, le=36)
    backtest_months: int = Field(default=6, ge=1, le=24)
    k_min: int = Field(default=3, ge=2)
    k_max: int = Field(default=6, ge=2, le=12)
    max_spend_correlation: float = Field(default=0.3, gt=0, lt=1)


class History(_Strict):
    """How much history the sections that model time need (activity limits, models,
    forecast, year-on-year readings, cohort retention). Below it they say "too little
    history" instead of printing figures."""

    min_months: int = Field(default=12, ge=1, le=120)


class Identity(_Strict):
    """How cards join into people. A shared phone joins cards only when their names agree
    (surname and first name; birth dates equal or one missing); a phone carried by
    ``shared_phone_min_people`` or more different people (a landline, a call centre) joins
    nothing. The same full name and birth date always join."""

    match_on_phone: bool = True
    require_name_match: bool = True  # false: any shared phone joins (a mother and a daughter too)
    shared_phone_min_people: int = Field(default=3, ge=2)


class Demo(_Strict):
    """Generate the sources with the built-in demo generator when they are missing."""

    kind: Literal["dental", "messy", "followup"] = "dental"
    seed: int = 20261122
    patients: int = Field(default=5000, gt=0)


class Followup(_Strict):
    """The previous audit this one follows up. By default the latest
    ``reports/<clinic>/history/<as_of>/`` dated before this audit (its
    ``call_lists.filled.xlsx`` if the clinic's filled-in copy was saved there, else the
    issued ``call_lists.xlsx``). Or name the files: the filled-in workbook, and the previous
    audit's ``metrics.json`` for "since the last audit"."""

    call_lists: Path | None = None
    metrics: Path | None = None


class Calls(_Strict):
    """The call lists (call_lists.xlsx). A call sheet lists at most ``max_rows_per_sheet``
    patients, those to call first; the others are counted in the report. The do-not-contact
    sheet is never cut (a safety list)."""

    max_rows_per_sheet: int = Field(default=10_000, ge=1)


class Params(_Strict):
    clinic: Clinic
    patient_rule: PatientRule = "came"
    sources: list[Source] = Field(min_length=1)
    exclude: list[Exclude] = Field(default_factory=list)
    report: Report = Field(default_factory=Report)
    activity: Activity = Field(default_factory=Activity)
    repeat: Repeat = Field(default_factory=Repeat)
    refusers: Refusers = Field(default_factory=Refusers)
    models: Models = Field(default_factory=Models)
    history: History = Field(default_factory=History)
    identity: Identity = Field(default_factory=Identity)
    demo: Demo | None = None
    followup: Followup = Field(default_factory=Followup)
    calls: Calls = Field(default_factory=Calls)

    # set by load_params, not by the file
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def slug(self) -> str:
        return self.clinic.slug or "clinic"

    def fingerprint(self) -> str:
        """A stable hash of the validated params (part of the cache key)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_params(path: Path | str) -> Params:
    """Read and validate a params file; relative source paths become absolute.

    Raises :class:`ParamsError` naming the file and every offending key.
    """
    path = Path(path)
    if not path.is_file():
        raise ParamsError(
            f"{path}: params file not found",
            hint="create it with `make init CLINIC=<name>` or copy params/demo.yaml",
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ParamsError(
            f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}"
        ) from None
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: not UTF-8 text", hint="save the params file as UTF-8") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of keys (clinic:, sources:, ...) at the top")
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; see params/demo.yaml for the keys)"
            lines.append(f"  {_format_loc(e['loc'])}: {msg}")
        raise ParamsError(f"{path}: invalid params\n" + "\n".join(lines)) from None

    base = path.resolve().parent
    for i, s in enumerate(params.sources):
        for p in [s.path, *(lk.path for lk in s.lookups.values())]:
            if (base / p).is_dir():
                raise SourceFileError.folder(base / p, f"sources[{i}], {s.system} / {s.table}")
    sources = [
        s.model_copy(
            update={
                "path": (base / s.path).resolve(),
                "lookups": {
                    k: lk.model_copy(update={"path": (base / lk.path).resolve()})
                    for k, lk in s.lookups.items()
                },
            }
        )
        for s in params.sources
    ]
    branding = params.report.branding
    if branding.logo is not None:
        branding = branding.model_copy(update={"logo": (base / branding.logo).resolve()})
    report = params.report.model_copy(update={"branding": branding})
    followup = params.followup.model_copy(
        update={
            k: (base / v).resolve()
            for k, v in params.followup.model_dump().items()
            if v is not None
        }
    )
    clinic = params.clinic
    if clinic.slug is None:
        clinic = clinic.model_copy(update={"slug": path.stem})
    return params.model_copy(
        update={"sources": sources, "report": report, "clinic": clinic, "followup": followup}
    )
