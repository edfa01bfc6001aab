"""Files the project hands to people: contacts masked outside the call lists, CSV cells that a
spreadsheet cannot run.

* (Contacts are masked outside the call lists by :mod:`clinic_analysis.ingest.contacts`.)
* :func:`write_csv` is the one way a CSV is written for a reader: a cell starting with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so that Excel
  or LibreOffice shows it as text instead of running it as a formula; missing values are
  empty cells, never ``nan``.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pandas as pd

from clinic_analysis.errors import ReportError

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """``'=1+2`` for ``=1+2``: a text cell a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells (and headers) cannot start a formula."""
    out = df.copy()
    out.columns = [escape_cell(str(c)) for c in out.columns]
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype(object).map(escape_cell)
    return out


def write_csv(df: pd.DataFrame, path: Path | str, **kwargs) -> None:
    """Write ``df`` as a UTF-8 CSV (with BOM, so Excel reads Cyrillic) safe to open in a
    spreadsheet: formulas escaped, missing values empty, CRLF rows (RFC 4180, so that a cell
    holding a line break or a carriage return is quoted)."""
    kwargs.setdefault("index", False)
    kwargs.setdefault("encoding", "utf-8-sig")
    kwargs.setdefault("lineterminator", "\r\n")
    spreadsheet_safe(df).to_csv(path, na_rep="", **kwargs)


DISK_PROBLEMS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "no permission to write there",
    errno.ENOTDIR: "a file stands where a folder should be",
}


def disk_error(
    err: OSError, folder: Path | str, elsewhere: str = "choose another folder with --out"
) -> ReportError:
    """One line for a folder that cannot be written (read-only, full, no permission)."""
    why = DISK_PROBLEMS.get(err.errno, err.strerror or str(err))
    return ReportError(
        f"cannot write to {folder}: {why} (free some space, make it writable or {elsewhere})"
    )
