"""Contacts stay in the call lists: which headers of a source hold names, phones, e-mails or
messengers, and raw rows with those cells masked (for ``rejected_rows.csv``)."""

from __future__ import annotations

import re

import pandas as pd

from clinic_analysis.ingest.headers import HEADER_GUESSES
from clinic_analysis.params import Source

CONTACT_COLUMNS = ("full_name", "first_name", "last_name", "phone", "email", "messenger")
MASK = "***"


def contact_headers(source: Source, headers) -> set[str]:
    """The headers of ``source`` that hold contacts: mapped to a contact column in params, or
    unmapped but named like one (the header patterns ``make init`` guesses with)."""
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
