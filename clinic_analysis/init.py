"""``make init``: sniff export files and draft ``params/<clinic>.yaml`` for the consultant.

Each file is read (encoding, delimiter, headers, a sample of values); its table is guessed
from its headers, each column from Ukrainian, Russian and English header names, and the
status values found are listed for mapping. Every guess is commented for a human to check.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import ClinicAuditError
from .load import detect_encoding, read_table, sniff_delimiter
from .tables import CATEGORIES, COLUMNS

# canonical column -> header patterns (lower-case regexes), uk / ru / en
HEADER_GUESSES: dict[str, list[str]] = {
    "patient_id": [
        r"код пац",
        r"id пац",
        r"(id|код) (клиент|клієнт)",
        r"пацієнт.*(код|id|№)",
        r"пациент.*(код|id|№)",
        r"^patient(_?id)?$",
        r"^код$",
        r"карт(к|оч)",
        r"client.?id",
        r"^id$",
    ],
    "visit_id": [r"№ ?(прийому|приема|візиту|визита)", r"visit.?id", r"encounter.?id"],
    "plan_id": [r"№ ?плану", r"№ ?плана", r"plan.?id"],
    "date": [
        r"дата (прийому|приема|візиту|визита|плану|плана)",
        r"^дата$",
        r"^date$",
        r"visit.?date",
        r"^start$",
        r"appointment",
    ],
    "amount": [
        r"сума",
        r"сумма",
        r"вартість",
        r"стоимость",
        r"оплат",
        r"amount",
        r"price",
        r"cost",
        r"paid",
    ],
    "amount_total": [r"сума плану", r"сумма плана", r"plan.?(total|amount)", r"total"],
    "amount_paid": [r"оплачено", r"сплачено", r"paid"],
    "status": [r"статус", r"status", r"стан"],
    "doctor": [r"лікар", r"врач", r"доктор", r"doctor", r"provider", r"dentist"],
    "service": [r"послуга", r"услуга", r"service", r"description", r"процедур"],
    "service_line": [
        r"напрям",
        r"направлен",
        r"відділ",
        r"отдел",
        r"department",
        r"class",
        r"speciality",
    ],
    "branch": [r"філія", r"филиал", r"branch", r"clinic", r"organization", r"location"],
    "full_name": [r"піб", r"фио", r"п\.і\.б", r"full.?name", r"^пацієнт$", r"^пациент$", r"name"],
    "first_name": [r"^ім'?я$", r"^имя$", r"first"],
    "last_name": [r"прізвище", r"фамилия", r"last", r"surname"],
    "phone": [r"телефон", r"моб", r"phone", r"tel"],
    "email": [r"e-?mail", r"пошта", r"почта"],
    "messenger": [r"месенджер", r"мессенджер", r"viber", r"telegram", r"messenger"],
    "birth_date": [r"народж", r"рожден", r"birth", r"dob"],
    "sex": [r"стать", r"пол", r"sex", r"gender"],
    "consent": [r"згод", r"соглас", r"consent", r"розсил", r"рассыл"],
    "channel": [
        r"джерело",
        r"источник",
        r"канал",
        r"source",
        r"channel",
        r"як дізнав",
        r"как узнал",
    ],
    "referred_by": [r"рекоменд", r"referr"],
    "created_at": [r"створ", r"создан", r"created", r"реєстрац", r"регистрац"],
    "refusal_reason": [r"причина", r"reason"],
}
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
    ],
    "patients": [r"піб", r"фио", r"телефон", r"phone", r"народж", r"рожден", r"birth"],
}
STATUS_GUESSES = {
    "completed": r"викон|выполн|заверш|complet|done|прийшов|пришел|був|был|оплач",
    "no_show": r"не ?з.?явив|не ?приш|не ?дійш|не ?дош|no.?show|missed",
    "cancelled": r"скасов|отмен|cancel",
    "booked": r"запис|заплан|book|schedul",
    "refund": r"поверн|возврат|refund",
    "proposed": r"запропон|предлож|propos",
    "accepted": r"прийнят|принят|accept|в роботі|в работе",
    "refused": r"відмов|отказ|refus|declin",
}


def guess_table(headers: list[str], name: str) -> str:
    text = " ".join(headers).lower() + " " + name.lower()
    scores = {t: sum(bool(re.search(p, text)) for p in ps) for t, ps in TABLE_HINTS.items()}
    date_like = any(re.search(r"дата|date|start", h.lower()) for h in headers)
    if scores["plans"] and re.search(r"план|plan", name.lower() + " ".join(headers).lower()):
        return "plans"
    if scores["visits"] >= scores["patients"] and date_like:
        return "visits"
    return "patients" if scores["patients"] else "visits"


def guess_columns(headers: list[str], table: str) -> dict[str, str]:
    """canonical -> header, each header used once, the most specific patterns first."""
    allowed = list(COLUMNS[table])
    order = sorted(
        allowed,
        key=lambda c: (
            0
            if c
            in ("amount_total", "amount_paid", "visit_id", "plan_id", "first_name", "last_name")
            else 1
        ),
    )
    used: set[str] = set()
    out: dict[str, str] = {}
    for canon in order:
        for pat in HEADER_GUESSES.get(canon, []):
            hit = next((h for h in headers if h not in used and re.search(pat, h.lower())), None)
            if hit:
                out[canon] = hit
                used.add(hit)
                break
    return {c: out[c] for c in allowed if c in out}


def guess_status(value: str, table: str) -> str | None:
    allowed = CATEGORIES[(table, "status")]
    for canon, pat in STATUS_GUESSES.items():
        if canon in allowed and re.search(pat, value.lower()):
            return canon
    return None


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def draft_params(clinic: str, files: list[Path], params_dir: Path) -> str:
    """The text of a draft params file for these export files."""
    lines = [
        f"# Draft params for '{clinic}', written by `make init`: check every line marked",
        "# '# guess', map the status values listed, then run `make report CLINIC=" + clinic + "`.",
        "clinic:",
        f"  name: {_q(clinic)}",
        "  currency: UAH",
        "  language: uk            # uk | ru | en",
        "  # as_of: 2026-10-31     # the audit date; default: the last completed visit",
        "",
        "patient_rule: came        # booked | came | paid",
        "",
        "sources:",
    ]
    for f in files:
        f = Path(f)
        if not f.exists():
            raise ClinicAuditError(
                f"{f}: file not found", hint="list existing export files in FILES"
            )
        opts: dict[str, str] = {}
        if f.suffix.lower() in (".csv", ".txt", ".tsv"):
            head = f.read_bytes()[: 256 * 1024]
            opts["encoding"] = detect_encoding(head)
            opts["delimiter"] = sniff_delimiter(head.decode(opts["encoding"], errors="replace"))
        df = read_table(f, encoding=opts.get("encoding"), delimiter=opts.get("delimiter"))
        headers = [str(c).strip() for c in df.columns]
        df.columns = headers
        table = guess_table(headers, f.stem)
        cols = guess_columns(headers, table)
        try:
            rel = Path("..") / f.resolve().relative_to(params_dir.resolve().parent)
        except ValueError:
            rel = f.resolve()
        lines += [
            f"  - system: mis               # which system exported {f.name}; ids are unique"
            " only inside one system",
            f"    table: {table}            # guess ({len(df)} rows; visits | patients | plans)",
            f"    path: {_q(str(rel))}",
        ]
        if "encoding" in opts:
            lines.append(f"    encoding: {opts['encoding']}        # detected")
            lines.append(f"    delimiter: {_q(opts['delimiter'])}          # sniffed")
        lines.append("    columns:                  # canonical name: the file's header")
        for canon, header in cols.items():
            sample = ", ".join(str(v) for v in df[header].dropna().astype(str).unique()[:3])
            lines.append(f"      {canon}: {_q(header)}    # guess; e.g. {sample[:60]}")
        unmapped = [h for h in headers if h not in cols.values()]
        if unmapped:
            lines.append("      # not mapped: " + ", ".join(unmapped)[:200])
        if "status" in cols:
            counts = df[cols["status"]].dropna().astype(str).str.strip().value_counts()
            lines.append("    values:")
            lines.append("      status:                 # every value found, with its count")
            for value, n in counts.head(30).items():
                g = guess_status(value, table)
                target = g if g else "FIXME"
                lines.append(f"        {_q(value)}: {target}    # {n} rows; guess")
        lines.append("")
    lines += [
        "# exclude:                 # records to leave out, each counted under its reason",
        "#   - {table: patients, column: full_name, pattern: '(?i)тест|test', reason: test record}",
        "",
        "report:",
        "  formats: [html, pdf]",
        "  branding:",
        '    consultant: ""',
        '    colour: "#1f6f8b"',
        "",
    ]
    return "\n".join(lines)


def write_draft(clinic: str, files: list[Path], params_dir: Path, force: bool = False) -> Path:
    out = params_dir / f"{clinic}.yaml"
    if out.exists() and not force:
        raise ClinicAuditError(f"{out}: already exists", hint="pass --force to overwrite it")
    text = draft_params(clinic, files, params_dir)
    params_dir.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
