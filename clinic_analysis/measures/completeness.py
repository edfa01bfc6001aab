"""Card completeness (domain.md, item 9): can the clinic reach its patients?

Per field, the share of patients whose card has it (a *valid* phone parsed by
``phonenumbers``, an e-mail of valid syntax checked by ``email-validator``, a messenger,
consent, channel, birth date, sex). *Contactable*: a valid phone or e-mail, and no
recorded refusal of communication where the clinic records consent. The per-patient score
is the share of the fields the clinic exports that are filled.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from email_validator import EmailNotValidError, validate_email

from clinic_analysis.ingest.identity import normalize_phone

FIELDS = ("phone", "email", "messenger", "consent", "channel", "birth_date", "sex")


def valid_email(values: pd.Series) -> pd.Series:
    """True where the value is an e-mail address of valid syntax (no DNS look-up)."""
    text = values.astype("str").where(values.notna())
    uniq = {v: _email_ok(v) for v in text.dropna().unique()}
    return text.map(uniq).fillna(False).astype(bool)


@lru_cache(maxsize=1 << 20)  # checked for the completeness figures and again for the reach
def _email_ok(v: str) -> bool:
    try:
        validate_email(v, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def field_flags(patients: pd.DataFrame, present: list[str], region: str = "UA") -> pd.DataFrame:
    """Per patient and field: is it filled (and valid)? Fields not exported are absent."""
    out = pd.DataFrame(index=patients.index)
    if "phone" in present:
        phone = patients.get("phone_e164")
        if phone is None:
            phone = normalize_phone(patients["phone"], region)
        out["phone"] = phone.notna()
    if "email" in present:
        out["email"] = valid_email(patients["email"])
    if "consent" in present:
        out["consent"] = patients["consent"].astype("boolean").fillna(False).astype(bool)
    for f in ("messenger", "channel", "birth_date", "sex"):
        if f in present:
            out[f] = patients[f].notna()
    return out


def contactable(patients: pd.DataFrame, flags: pd.DataFrame) -> pd.Series:
    reach = pd.Series(False, index=flags.index)
    for f in ("phone", "email"):
        if f in flags:
            reach |= flags[f]
    if "consent" in patients:
        refused = patients["consent"].astype("boolean").eq(False).fillna(False).astype(bool)
        reach &= ~refused
    return reach


def score(flags: pd.DataFrame) -> pd.Series:
    """Share of exported fields filled, per patient (0..1); NaN when nothing is exported."""
    if flags.shape[1] == 0:
        return pd.Series(float("nan"), index=flags.index)
    return flags.mean(axis=1)
