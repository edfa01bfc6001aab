"""``make init``: sniff export files and draft ``params/<clinic>.yaml`` for the consultant.

Each file is read and guessed (:mod:`clinic_analysis.ingest.init_guess`: encoding, delimiter,
table, columns checked against their values, status values, attendance flags, language,
currency). The draft marks every guess ``# guess`` and says in its header which canonical
columns were not found (their figures will show as "not exported").
"""

from __future__ import annotations

import os
from pathlib import Path

from clinic_analysis.errors import ClinicAuditError
from clinic_analysis.ingest.init_guess import (
    SourceGuess,
    guess_currency,
    guess_language,
    guess_source,
    sheets_of,
)
from clinic_analysis.ingest.tables import CATEGORIES, COLUMNS

MONEY_NOTE = "(!) no money anywhere in the report"


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line(code: str, comment: str, width: int = 30) -> str:
    return f"{code.ljust(width)} # {comment}"


def _missing_lines(guesses: list[SourceGuess]) -> list[str]:
    out = []
    tables = {g.table for g in guesses}
    for g in guesses:
        if g.missing:
            names = [f"amount {MONEY_NOTE}" if c == "amount" else c for c in g.missing]
            out.append(f"#   {g.table} ({g.name}): " + ", ".join(names))
    for t in ("patients", "plans"):
        if t not in tables:
            names = [c for c in COLUMNS[t] if c != "patient_id"]
            out.append(f"#   no {t} file: " + ", ".join(names))
    return out


def draft_params(clinic: str, files: list[Path], params_dir: Path) -> str:
    """The text of a draft params file for these export files."""
    guesses = [guess_source(Path(f), sheet) for f in files for sheet in sheets_of(Path(f))]
    guesses = [g for g in guesses if g.headers or g.sheet is None]  # empty sheets are no tables
    texts = [h for g in guesses for h in g.headers]
    texts += [v for g in guesses for v in g.status]
    language, why_language = guess_language(texts)
    money = [g.samples[h] for g in guesses for c, h in g.columns.items() if c.startswith("amount")]
    money += [h for g in guesses for h in g.headers]
    currency, why_currency = guess_currency(money, language)
    names = ", ".join(dict.fromkeys(Path(f).name for f in files))
    lines = [
        f"# Draft params for '{clinic}', written by `make init` from {names}.",
        "# Check every line marked '# guess' (replace the value if it is wrong) and fill in",
        f"# the values still to fix, then run `make report CLINIC={clinic}`.",
    ]
    missing = _missing_lines(guesses)
    if missing:
        lines += [
            "#",
            "# Not found in these files; every figure that needs them will show as",
            '# "not exported" (if a file holds one under another name, map it under `columns:`):',
            *missing,
        ]
    lines += [
        "clinic:",
        f"  name: {_q(clinic)}",
        _line(f"  currency: {currency}", f"guess: {why_currency}"),
        _line(f"  language: {language}", f"guess: {why_language} (uk | ru | en)"),
        "  # as_of: 2026-10-31     # the audit date; default: the last completed visit",
        "",
        "patient_rule: came        # booked | came | paid",
        "",
        "sources:",
    ]
    for g in guesses:
        rel = Path(os.path.relpath(g.path.resolve(), params_dir.resolve()))
        lines += [
            _line(
                "  - system: mis",
                f"guess: name the system that exported {g.name}; ids are unique only"
                " inside one system",
            ),
            _line(f"    table: {g.table}", f"guess ({g.rows} rows; visits | patients | plans)"),
            f"    path: {_q(rel.as_posix())}",
        ]
        if g.sheet:
            lines.append(f"    sheet: {_q(g.sheet)}")
        if "encoding" in g.options:
            lines.append(_line(f"    encoding: {g.options['encoding']}", "guess (detected)"))
            lines.append(_line(f"    delimiter: {_q(g.options['delimiter'])}", "guess (sniffed)"))
        if "decimal" in g.options:
            lines.append(
                _line(f"    decimal: {_q(g.options['decimal'])}", "guess (from the amounts)")
            )
        lines.append("    columns:                  # canonical name: the file's header")
        for canon in COLUMNS[g.table]:
            if canon in g.columns:
                h = g.columns[canon]
                why = g.notes.get(canon)
                comment = (
                    f"guess; {why}; e.g. {g.samples[h]}" if why else f"guess; e.g. {g.samples[h]}"
                )
                lines.append(_line(f"      {canon}: {_q(h)}", comment))
            elif canon == "patient_id" or (canon == "date" and g.table == "visits"):
                lines.append(
                    _line(
                        f"      {canon}: FIXME", f"no column found: map the file's {canon} header"
                    )
                )
        unmapped = [h for h in g.headers if h not in g.columns.values()]
        if unmapped:
            lines.append("      # not mapped: " + ", ".join(unmapped)[:200])
        if g.status:
            lines.append("    values:")
            lines.append("      status:                 # every value found, with its count")
            allowed = ", ".join(CATEGORIES[(g.table, "status")])
            for value, (target, n) in g.status.items():
                if target:
                    lines.append(_line(f"        {_q(value)}: {target}", f"guess; {n} rows"))
                else:
                    lines.append(
                        _line(f"        {_q(value)}: FIXME", f"{n} rows; map to one of {allowed}")
                    )
            if g.status_more:
                lines.append(f"        # ... and {g.status_more} more values: map them too")
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


def check_draft(params_path: Path) -> list[str]:
    """Load a draft as it is and say what it gives: rows kept per source, the completed
    visits and their period, or the error that stops it (the draft is written either way)."""
    from clinic_analysis.ingest.load import load_clinic
    from clinic_analysis.params import load_params

    try:
        data = load_clinic(load_params(params_path))
    except ClinicAuditError as err:
        return [f"the draft does not load yet: {err}"]
    except Exception as err:  # noqa: BLE001 - a check must not hide the draft just written
        return [f"the draft could not be checked: {type(err).__name__}: {err}"]
    lines = []
    for e in data.ledger:
        dropped = ", ".join(f"{r} {n}" for r, n in sorted(e.dropped.items()))
        lines.append(
            f"{Path(e.path).name} ({e.table}): {e.rows_kept} of {e.rows_in} rows kept"
            + (f"; dropped: {dropped}" if dropped else "")
        )
    done = data.visits[data.visits["status"] == "completed"]
    if done.empty:
        lines.append("no completed visits: check which status value means the patient came")
    else:
        lines.append(
            f"{len(done)} completed visit rows of {done['patient_id'].nunique()} patients, "
            f"{done['date'].min():%Y-%m-%d} to {done['date'].max():%Y-%m-%d}"
        )
    return lines
