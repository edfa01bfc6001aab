"""Card completeness (domain.md, item 9): can the clinic reach its patients?

Per field, the share of patients whose card has it (a *valid* phone parsed by
``phonenumbers``, an e-mail of valid syntax checked by ``email-validator``, a messenger,
consent, channel, birth date, sex). *Contactable*: a valid phone or e-mail, and no
recorded refusal of communication where the clinic records consent. The per-patient score
is the share of the fields the clinic exports that are filled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from clinic_analysis.ingest.identity import normalize_phone

FIELDS = ("phone", "email", "messenger", "consent", "channel", "birth_date", "sex")
CARD_COLUMNS = (*FIELDS, "phone_e164")  # the card columns the flags read


def cards_for(patients: pd.DataFrame, index: pd.Index, columns=CARD_COLUMNS) -> pd.DataFrame:
    """The cards' ``columns`` (those the table has) for the patients of ``index``, one row
    each (empty for a patient without a card); the other columns are not copied."""
    cols = [c for c in columns if c in patients and c != "patient_id"]
    return patients[["patient_id", *cols]].set_index("patient_id").reindex(index)


# The plain ASCII form almost every address takes, which email-validator (with the settings
# below: syntax only, globally deliverable) always accepts: a dot-atom local part, two or
# more lower-case host labels of 1-63 characters without a leading or trailing hyphen, and
# a top-level domain that starts and ends with a letter. Addresses of this form skip the
# library (a vectorised match); anything else (capitals or IDN in the domain, quotes, "--",
# over 254 characters, a special-use domain) is still checked by it.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
PLAIN_EMAIL = (
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:" + _LABEL + r"\.)+[a-z](?:[a-z0-9-]{0,61}[a-z])?"
)
EMAIL_MAX_LENGTH = 254
# email_validator.SPECIAL_USE_DOMAIN_NAMES (all one label): never globally deliverable
_SPECIAL_TLDS = tuple("." + d for d in SPECIAL_USE_DOMAIN_NAMES)


def plain_email(text: pd.Series) -> pd.Series:
    """True where the text is an address of the plain form (see :data:`PLAIN_EMAIL`) that
    email-validator certainly accepts; False means "ask the library", not "invalid"."""
    text = text.astype("str")
    return (
        text.str.fullmatch(PLAIN_EMAIL)
        & (text.str.len() <= EMAIL_MAX_LENGTH)
        & ~text.str.contains("--", regex=False)
        & ~text.str.endswith(_SPECIAL_TLDS)
    ).astype(bool)


def valid_email(values: pd.Series) -> pd.Series:
    """True where the value is an e-mail address of valid syntax (no DNS look-up): the
    plain form by one vectorised match, the rest by email-validator, once per distinct
    value."""
    text = values.astype("str").where(values.notna())
    ok = np.zeros(len(text), dtype=bool)
    known = text.notna().to_numpy()
    if known.any():
        given = text[known]
        fast = plain_email(given).to_numpy()
        slow = given[~fast]
        checked = slow.map({v: _email_ok(v) for v in slow.unique()}).to_numpy(dtype=bool)
        ok[np.flatnonzero(known)] = fast
        ok[np.flatnonzero(known)[~fast]] = checked
    return pd.Series(ok, index=values.index)


def _email_ok(v: str) -> bool:
    """email-validator's verdict on one address (syntax only, no DNS look-up)."""
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
