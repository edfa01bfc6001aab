"""Files the project hands to people: contacts masked outside the call lists, CSV cells that a
spreadsheet cannot run.

* :func:`contact_headers` tells which headers of a source file hold names, phones, e-mails
  or messengers (the ``columns`` mapping in params, plus unmapped headers that look like
  one); :func:`mask_contacts` blanks them. Only ``call_lists.xlsx`` carries contacts.
* :func:`write_csv` is the one way a CSV is written for a reader: a cell starting with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so that Excel
  or LibreOffice shows it as text instead of running it as a formula; missing values are
  empty cells, never ``nan``.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pandas as pd

from .errors import ReportError
from .params import Source

CONTACT_COLUMNS = ("full_name", "first_name", "last_name", "phone", "email", "messenger")
MASK = "***"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def contact_headers(source: Source, headers) -> set[str]:
    """The headers of ``source`` that hold contacts: mapped to a contact column in params, or
    unmapped but named like one (the header patterns ``make init`` guesses with)."""
    from .init import HEADER_GUESSES

    mapped = {h for canon, h in source.columns.items() if canon in CONTACT_COLUMNS}
    patterns = [p for canon in CONTACT_COLUMNS for p in HEADER_GUESSES.get(canon, [])]
    unmapped = set(headers) - set(source.columns.values())
    named = {h for h in unmapped if any(re.search(p, str(h).strip().lower()) for p in patterns)}
    return mapped | named


def mask_contacts(rows: pd.DataFrame, source: Source) -> pd.DataFrame:
    """A copy of raw ``rows`` whose contact cells that hold something read ``***``."""
    out = rows.copy()
    for h in contact_headers(source, rows.columns):
        col = out[h].astype(object)
        out[h] = col.where(col.isna() | (col.astype(str).str.strip() == ""), MASK)
    return out


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
