"""``make init``, part one: what one export file is. Its table is guessed from its headers,
each column from Ukrainian, Russian and English header names, and every guess is checked
against the values: a column is a date only if most of its values parse as dates, money only
if they parse as amounts. Attendance flags ("No-show": Yes/No, "Явка": 0/1) become the visit
status with their direction spelled out. The language and currency are guessed from the
headers and values. :mod:`clinic_analysis.ingest.init` writes the draft from these guesses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clinic_analysis.errors import ClinicAuditError
from clinic_analysis.ingest.headers import HEADER_GUESSES
from clinic_analysis.ingest.readers import detect_encoding, read_table, sniff_delimiter
from clinic_analysis.ingest.tables import CATEGORIES, COLUMNS
from clinic_analysis.ingest.values import (
    FALSE_WORDS,
    TRUE_WORDS,
    as_text,
    parse_datetime,
    parse_money,
)

SAMPLE = 2000  # values of a column looked at to check a guess
MOST = 0.8  # share of a column's values that must fit a guess (dates, amounts, flags)

TABLE_HINTS = {
    "plans": [r"план", r"plan"],
    "visits": [
        r"прийом",
        r"прием",
        r"візит",
        r"визит",
        r"visit",
        r"encounter",
        r"послуг",
        r"услуг",
        r"service",
        r"appointment",
        r"booking",
        r"запис",
        r"no.?show",
        r"явк",
    ],
    "patients": [r"піб", r"фио", r"телефон", r"phone", r"народж", r"рожден", r"birth"],
}
# negative words first: "не з'явився" must not be read as "з'явився"
STATUS_GUESSES = {
    "no_show": r"не ?з.?явив|не ?явил|неявк|не ?прийш|не ?приш|не ?дійш|не ?дош|no.?show|missed|"
    r"not ?attend|did ?not|absent",
    "cancelled": r"скасов|отмен|cancel",
    "refund": r"поверн|возврат|refund",
    "refused": r"відмов|отказ|refus|declin",
    "completed": r"викон|выполн|заверш|complet|done|прийшов|пришел|пришёл|був|был|оплач|attend",
    "booked": r"запис|заплан|book|schedul",
    "proposed": r"запропон|предлож|propos",
    "accepted": r"прийнят|принят|accept|в роботі|в работе",
}
# a yes/no column that says whether the patient came; "no_show" headers mean yes = did not come
ATTENDANCE_HEADERS = {
    "no_show": r"no.?show|not.?attend|не ?з.?яв|не ?яв|неявк|не ?прийш|не ?приш|missed|absent|"
    r"did.?not|^dna$",
    "completed": r"attend|show.?up|showed|came|arrived|visited|явк|з.?яв|явил|прийш|приш[её]л|пришла",
}
NOT_A_VISIT_DATE = r"birth|народж|рожд|creat|створ|созд|schedul|регистр|реєстр|registr|запис"


def date_share(col: pd.Series) -> float:
    """The share of a column's non-empty values that parse as dates (``load.parse_datetime``).

    Bare numbers never count: a column of ids (``5642903``) or Excel serials as plain numbers
    is not taken for dates."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return 1.0 if col.notna().any() else 0.0
    t = as_text(col).dropna().head(SAMPLE)
    if t.empty:
        return 0.0
    parsed = parse_datetime(t)
    ok = parsed.notna() & parsed.dt.year.between(1900, 2100)
    ok &= ~t.str.fullmatch(r"[+-]?\d+(?:[.,]\d+)?")
    return float(ok.mean())


def money_share(col: pd.Series) -> float:
    """The share of a column's non-empty values that parse as amounts."""
    t = col.dropna().head(SAMPLE)
    if t.empty:
        return 0.0
    return float(parse_money(t).notna().mean())


def _fits(canon: str, table: str, col: pd.Series | None) -> bool:
    """Do a column's values fit what the canonical column holds?"""
    if col is None:
        return True
    kind = COLUMNS[table][canon]
    if kind in ("date", "datetime"):
        return date_share(col) >= MOST
    if kind == "money":
        return money_share(col) >= MOST
    return True


def guess_table(headers: list[str], name: str, frame: pd.DataFrame | None = None) -> str:
    text = " ".join(headers).lower() + " " + name.lower()
    scores = {t: sum(bool(re.search(p, text)) for p in ps) for t, ps in TABLE_HINTS.items()}
    date_like = any(re.search(r"дата|date|start", h.lower()) for h in headers)
    if frame is not None:
        date_like = any(date_share(frame[h]) >= MOST for h in headers)
    if scores["plans"] and re.search(r"план|plan", name.lower() + " ".join(headers).lower()):
        return "plans"
    if scores["visits"] >= scores["patients"] and date_like:
        return "visits"
    return "patients" if scores["patients"] else "visits"


def guess_columns(
    headers: list[str], table: str, frame: pd.DataFrame | None = None
) -> dict[str, str]:
    """canonical -> header, each header used once, the most specific patterns first.

    With the file's ``frame`` each guess is checked against the values: a date column must
    hold dates, an amount column amounts. A visits or plans table without a date header
    takes the column whose values are dates (a booking date or birth date only if nothing
    else is)."""
    allowed = list(COLUMNS[table])
    first = ("amount_total", "amount_paid", "visit_id", "plan_id", "first_name", "last_name")
    order = sorted(allowed, key=lambda c: 0 if c in first else 1)
    used: set[str] = set()
    out: dict[str, str] = {}

    def col(h: str) -> pd.Series | None:
        return None if frame is None else frame[h]

    for canon in order:
        for pat in HEADER_GUESSES.get(canon, []):
            hit = next(
                (
                    h
                    for h in headers
                    if h not in used and re.search(pat, h.lower()) and _fits(canon, table, col(h))
                ),
                None,
            )
            if hit:
                out[canon] = hit
                used.add(hit)
                break
    if frame is not None and "date" in allowed and "date" not in out:
        dates = [h for h in headers if h not in used and date_share(frame[h]) >= MOST]
        dates.sort(key=lambda h: bool(re.search(NOT_A_VISIT_DATE, h.lower())))
        if dates:
            out["date"] = dates[0]
            used.add(dates[0])
    if frame is not None and table == "visits" and "status" not in out:
        flag = guess_attendance(frame[[h for h in headers if h not in used]])
        if flag:
            out["status"] = flag[0]
    return {c: out[c] for c in allowed if c in out}


def attendance_direction(header: str) -> str | None:
    """What a "yes" in an attendance column means: ``no_show`` ("No-show", "Не з'явився"),
    ``completed`` ("Attended", "Явка", "Прийшов"), or None for any other header."""
    h = header.strip().lower()
    for meaning, pat in ATTENDANCE_HEADERS.items():
        if re.search(pat, h):
            return meaning
    return None


def guess_attendance(frame: pd.DataFrame) -> tuple[str, str] | None:
    """(header, what "yes" means) of the first column that is an attendance flag: its header
    says so and most of its values are yes/no words (yes/no, 1/0, так/ні, да/нет)."""
    for h in frame.columns:
        meaning = attendance_direction(str(h))
        if meaning is None:
            continue
        low = as_text(frame[h]).dropna().head(SAMPLE).str.lower()
        if len(low) and low.isin(TRUE_WORDS | FALSE_WORDS).mean() >= MOST:
            return str(h), meaning
    return None


def guess_status(value: str, table: str, header: str = "") -> str | None:
    """The canonical status a file's value most likely means. Under an attendance header a
    yes/no word follows the header's direction ("No-show": Yes -> no_show, No -> completed)."""
    allowed = CATEGORIES[(table, "status")]
    low = value.strip().lower()
    meaning = attendance_direction(header) if header else None
    if meaning and table == "visits" and low in TRUE_WORDS | FALSE_WORDS:
        other = "completed" if meaning == "no_show" else "no_show"
        return meaning if low in TRUE_WORDS else other
    for canon, pat in STATUS_GUESSES.items():
        if canon in allowed and re.search(pat, low):
            return canon
    return None


def guess_language(texts: list[str]) -> tuple[str, str]:
    """(language, why) from the headers and values: Ukrainian letters, other Cyrillic, else
    English."""
    text = " ".join(texts).lower()
    if re.search(r"[іїєґ]", text):
        return "uk", "Ukrainian letters in the headers or values"
    if re.search(r"[а-яё]", text):
        return "ru", "Cyrillic headers without Ukrainian letters"
    return "en", "the headers are in Latin letters"


CURRENCY_SIGNS = [
    ("UAH", r"₴|грн|\buah\b|гривн"),
    ("RUB", r"₽|руб|\brub\b"),
    ("BRL", r"r\$|\bbrl\b|reais"),
    ("EUR", r"€|\beur\b|euro"),
    ("GBP", r"£|\bgbp\b"),
    ("PLN", r"zł|\bpln\b"),
    ("USD", r"\$|\busd\b"),
]


def guess_currency(texts: list[str], language: str) -> tuple[str, str]:
    """(ISO code, why) from currency signs in the headers and amounts, else by language."""
    text = " ".join(texts).lower()
    for code, pat in CURRENCY_SIGNS:
        if re.search(pat, text):
            return code, "a currency sign or word in the amounts or headers"
    code = "UAH" if language in ("uk", "ru") else "USD"
    return code, "no currency in the files: set the clinic's ISO code"


@dataclass
class SourceGuess:
    """What init made of one export file."""

    path: Path
    rows: int
    headers: list[str]
    table: str
    columns: dict[str, str]  # canonical -> header
    options: dict[str, str] = field(default_factory=dict)  # encoding, delimiter
    status: dict[str, tuple[str | None, int]] = field(default_factory=dict)  # value -> (guess, n)
    status_more: int = 0  # distinct status values not listed
    notes: dict[str, str] = field(default_factory=dict)  # canonical -> what the guess rests on
    samples: dict[str, str] = field(default_factory=dict)  # header -> a few values
    sheet: str | None = None  # the workbook's sheet, when it has several

    @property
    def name(self) -> str:
        return self.path.name + (f" [{self.sheet}]" if self.sheet else "")

    @property
    def missing(self) -> list[str]:
        """Canonical columns of the table that no header was found for (names count as
        found when either the full name or both its parts are)."""
        found = set(self.columns)
        if "full_name" in found:
            found |= {"first_name", "last_name"}
        if {"first_name", "last_name"} <= found:
            found.add("full_name")
        return [c for c in COLUMNS[self.table] if c not in found]

    def decimal(self, frame: pd.DataFrame) -> str | None:
        """The decimal mark of the money columns: "," when their values end in a comma and
        one or two digits ("1 970,00"), "." when in a dot, None without money columns."""
        money = [h for c, h in self.columns.items() if COLUMNS[self.table][c] == "money"]
        if not money or pd.api.types.is_numeric_dtype(frame[money[0]]):
            return None
        t = as_text(frame[money[0]]).dropna().head(SAMPLE)
        comma = t.str.contains(r",\d{1,2}$").sum()
        dot = t.str.contains(r"\.\d{1,2}$").sum()
        return "," if comma > dot else "." if dot else None


def sheets_of(path: Path) -> list[str | None]:
    """The sheets of a workbook with more than one (each may be a table), else ``[None]``."""
    if Path(path).suffix.lower() not in (".xlsx", ".xlsm", ".xls"):
        return [None]
    try:
        names = pd.ExcelFile(path, engine="calamine").sheet_names
    except Exception:  # noqa: BLE001 - read_table gives the clear error for this file
        return [None]
    return list(names) if len(names) > 1 else [None]


def guess_source(path: Path, sheet: str | None = None) -> SourceGuess:
    """Read one export file (or one sheet of a workbook) and guess its table, columns and
    status values."""
    f = Path(path)
    if not f.exists():
        raise ClinicAuditError(f"{f}: file not found", hint="list existing export files in FILES")
    if f.is_dir():
        raise ClinicAuditError(f"{f}: is a folder", hint="list the export files themselves")
    opts: dict[str, str] = {}
    if f.suffix.lower() in (".csv", ".txt", ".tsv"):
        head = f.read_bytes()[: 256 * 1024]
        opts["encoding"] = detect_encoding(head)
        opts["delimiter"] = sniff_delimiter(head.decode(opts["encoding"], errors="replace"))
    df = read_table(f, encoding=opts.get("encoding"), delimiter=opts.get("delimiter"), sheet=sheet)
    headers = [str(c).strip() for c in df.columns]
    df.columns = headers
    table = guess_table(headers, f.stem + " " + (sheet or ""), df)
    cols = guess_columns(headers, table, df)
    g = SourceGuess(path=f, rows=len(df), headers=headers, table=table, columns=cols, options=opts)
    g.sheet = sheet
    mark = g.decimal(df)
    if mark:
        g.options["decimal"] = mark
    for h in headers:
        g.samples[h] = ", ".join(as_text(df[h]).dropna().unique()[:3])[:60]
    for canon, h in cols.items():
        if COLUMNS[table][canon] in ("date", "datetime"):
            g.notes[canon] = f"{date_share(df[h]):.0%} of its values are dates"
    if "status" in cols:
        h = cols["status"]
        meaning = attendance_direction(h)
        by_name = any(re.search(p, h.lower()) for p in HEADER_GUESSES["status"])
        if meaning and not by_name:
            yes = "did not come" if meaning == "no_show" else "came"
            g.notes["status"] = f"attendance flag: yes = the patient {yes}"
        counts = as_text(df[h]).dropna().value_counts()
        for value, n in counts.head(30).items():
            g.status[str(value)] = (guess_status(str(value), table, h), int(n))
        g.status_more = max(0, len(counts) - 30)
    return g
