"""Prove a refactor pure: the data outputs of two versions of the code are identical.

Compares, per clinic, ``metrics.json`` (parsed; keys that only the new version has are listed
as added, never as a difference), ``patients.parquet`` (every column, dtype and value) and
every sheet of ``call_lists.xlsx`` (cell values, hidden sheets included).

Two ways to run it:

    # render the clinics at a git ref (in a temporary worktree) and in this checkout, compare
    python scripts/compare_outputs.py --ref main --clinics demo,messy

    # compare two folders holding <clinic>/{metrics.json,patients.parquet,call_lists.xlsx}
    python scripts/compare_outputs.py --before /tmp/before --after reports --clinics demo

Exit code 0 when everything is identical (up to ``--rtol`` for numbers), 1 otherwise, with
one line per difference.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
FILES = ("metrics.json", "patients.parquet", "call_lists.xlsx")


def compare_json(a, b, rtol: float, path: str = "") -> tuple[list[str], list[str]]:
    """Differences and added keys between two parsed JSON values."""
    diffs: list[str] = []
    added: list[str] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                diffs.append(f"{path}.{k}: missing after")
            else:
                d, ad = compare_json(a[k], b[k], rtol, f"{path}.{k}")
                diffs += d
                added += ad
        added += [f"{path}.{k}" for k in b if k not in a]
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{path}: {len(a)} items before, {len(b)} after")
        else:
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                d, ad = compare_json(x, y, rtol, f"{path}[{i}]")
                diffs += d
                added += ad
    elif _numbers(a, b):
        if not math.isclose(a, b, rel_tol=rtol, abs_tol=0.0) and not (a != a and b != b):
            diffs.append(f"{path}: {a!r} -> {b!r}")
    elif a != b or type(a) is not type(b):
        diffs.append(f"{path}: {a!r} -> {b!r}")
    return diffs, added


def _numbers(a, b) -> bool:
    num = (int, float)
    return isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool | type(None))


def compare_parquet(a: Path, b: Path, rtol: float) -> list[str]:
    before, after = pd.read_parquet(a), pd.read_parquet(b)
    try:
        pd.testing.assert_frame_equal(before, after, check_exact=rtol == 0, rtol=rtol or 1e-5)
    except AssertionError as err:
        return [" ".join(str(err).split())[:400]]
    return []


def compare_xlsx(a: Path, b: Path, rtol: float) -> list[str]:
    wa = openpyxl.load_workbook(a, read_only=True, data_only=True)
    wb = openpyxl.load_workbook(b, read_only=True, data_only=True)
    if wa.sheetnames != wb.sheetnames:
        return [f"sheets {wa.sheetnames} -> {wb.sheetnames}"]
    diffs = []
    for name in wa.sheetnames:
        rows_a = list(wa[name].iter_rows(values_only=True))
        rows_b = list(wb[name].iter_rows(values_only=True))
        if len(rows_a) != len(rows_b):
            diffs.append(f"{name}: {len(rows_a)} rows -> {len(rows_b)}")
            continue
        for i, (ra, rb) in enumerate(zip(rows_a, rows_b, strict=True), start=1):
            d, _ = compare_json(list(ra), list(rb), rtol, f"{name}!row {i}")
            diffs += d[:3]
            if len(diffs) > 20:
                return diffs
    return diffs


def compare_dirs(before: Path, after: Path, clinics: list[str], rtol: float) -> int:
    failed = 0
    for clinic in clinics:
        for f in FILES:
            a, b = before / clinic / f, after / clinic / f
            if not a.exists() or not b.exists():
                print(f"{clinic}/{f}: missing ({'before' if not a.exists() else 'after'})")
                failed += 1
                continue
            if f.endswith(".json"):
                diffs, added = compare_json(
                    json.loads(a.read_text()), json.loads(b.read_text()), rtol
                )
                for k in added:
                    print(f"{clinic}/{f}: added {k}")
            elif f.endswith(".parquet"):
                diffs = compare_parquet(a, b, rtol)
            else:
                diffs = compare_xlsx(a, b, rtol)
            for d in diffs:
                print(f"{clinic}/{f}: {d}")
            failed += bool(diffs)
            print(f"{clinic}/{f}: {'DIFFERENT' if diffs else 'identical'}")
    return 1 if failed else 0


def render(checkout: Path, clinics: list[str], out: Path) -> None:
    """Render each clinic's audit with the code in ``checkout`` and copy its data outputs."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "CLINIC_AUDIT_CACHE": str(out / ".cache")}
    for clinic in clinics:
        subprocess.run(
            [sys.executable, "-m", "clinic_analysis", "report", "--clinic", clinic, "--fresh"],
            cwd=checkout,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (out / clinic).mkdir(parents=True, exist_ok=True)
        for f in FILES:
            src = checkout / "reports" / clinic / f
            if src.exists():
                (out / clinic / f).write_bytes(src.read_bytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", help="git ref to render as 'before' (in a temporary worktree)")
    ap.add_argument("--before", type=Path, help="folder of outputs from the old code")
    ap.add_argument("--after", type=Path, help="folder of outputs from the new code")
    ap.add_argument("--clinics", default="demo,messy")
    ap.add_argument("--rtol", type=float, default=0.0, help="relative tolerance for numbers")
    args = ap.parse_args()
    clinics = args.clinics.split(",")
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        tmp = Path(tmp)
        before, after = args.before, args.after
        if args.ref:
            tree = tmp / "ref"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), args.ref],
                check=True,
            )
            try:
                before = tmp / "before"
                render(tree, clinics, before)
            finally:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True
                )
        if after is None:
            after = tmp / "after"
            render(ROOT, clinics, after)
        if before is None:
            ap.error("give --ref or --before")
        sys.exit(compare_dirs(before, after, clinics, args.rtol))


if __name__ == "__main__":
    main()
