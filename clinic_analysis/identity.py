"""Identity resolution: the same person across systems and duplicate cards.

Phones are normalised to E.164 with ``phonenumbers`` (default region UA, so
``067 123 45 67``, ``+38 (067) 123-45-67``, ``80671234567`` and ``0671234567`` are one number).
Two cards are one person when they share a valid normalised phone, or, where a card has no
valid phone, the same normalised full name plus birth date. Visits and plans follow their
card. Each person's ``patient_id`` is the smallest of the source keys (``system:id``) it
merges, so it is stable for the same inputs.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import phonenumbers

APOSTROPHES = re.compile(r"[\u2019\u02bc\u2018`´]")


def normalize_phone(values: pd.Series, region: str = "UA") -> pd.Series:
    """E.164 (``+380671234567``) for valid numbers, missing otherwise.

    Parsing runs once per distinct value. Ukrainian habits are handled first: a leading
    ``8`` before ``0XX`` (``80671234567``) and bare 9-digit national numbers.
    """
    text = values.astype("str").where(values.notna())
    uniq = text.dropna().unique()
    out = {}
    for raw in uniq:
        out[raw] = _one_phone(raw, region)
    return text.map(out).astype("object").where(text.notna())


def _one_phone(raw: str, region: str) -> str | None:
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return None
    candidate = raw
    if region == "UA":
        if len(digits) == 11 and digits.startswith("80"):
            candidate = "+3" + digits
        elif len(digits) == 9:
            candidate = "+380" + digits
        elif len(digits) == 12 and digits.startswith("380"):
            candidate = "+" + digits
    try:
        num = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def normalize_name(values: pd.Series) -> pd.Series:
    """Case, spaces and apostrophe variants (' ’ ʼ) folded: 'Ковальчук  Мар’яна' ==
    'КОВАЛЬЧУК мар'яна'."""
    t = values.astype("str").where(values.notna())
    t = t.str.lower().str.replace(APOSTROPHES, "'", regex=True)
    t = t.str.replace("ё", "е", regex=False).str.replace(r"\s+", " ", regex=True).str.strip()
    return t.where(t != "")


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union_groups(self, groups: pd.Series) -> None:
        """Union every set of row positions that share a key value."""
        for members in groups:
            if len(members) > 1:
                first = self.find(members[0])
                for m in members[1:]:
                    r = self.find(m)
                    if r != first:
                        self.parent[r] = first


def resolve(cards: pd.DataFrame, region: str = "UA") -> pd.DataFrame:
    """Map each card (one row per source key ``patient_id``) to a person.

    Returns a frame indexed like ``cards`` with ``person_id``, ``phone_e164`` and
    ``match`` (how the card was joined: ``phone``, ``name_birth_date`` or ``""``).
    """
    n = len(cards)
    keys = cards["patient_id"].astype(str).to_numpy()
    phone = (
        normalize_phone(cards["phone"], region)
        if "phone" in cards
        else pd.Series(None, index=cards.index, dtype="object")
    )
    name = _full_name(cards)
    birth = cards["birth_date"] if "birth_date" in cards else pd.Series(pd.NaT, index=cards.index)
    uf = _UnionFind(n)
    pos = pd.Series(np.arange(n), index=cards.index)

    by_phone = pos[phone.notna()].groupby(phone[phone.notna()]).agg(list)
    uf.union_groups(by_phone)
    name_key = name + "|" + pd.to_datetime(birth).dt.strftime("%Y-%m-%d")
    usable = phone.isna() & name.notna() & pd.to_datetime(birth).notna()
    # a phoneless card joins others (with or without phones) of the same name and birth date
    all_named = name.notna() & pd.to_datetime(birth).notna()
    named_groups = pos[all_named].groupby(name_key[all_named]).agg(list)
    has_phoneless = name_key[usable].unique()
    uf.union_groups(named_groups[named_groups.index.isin(has_phoneless)])

    roots = np.array([uf.find(i) for i in range(n)])
    group_min = pd.Series(keys).groupby(roots).transform("min").to_numpy()
    sizes = pd.Series(roots).map(pd.Series(roots).value_counts()).to_numpy()
    match = np.where(sizes > 1, np.where(phone.notna(), "phone", "name_birth_date"), "")
    return pd.DataFrame(
        {"person_id": group_min, "phone_e164": phone.to_numpy(), "match": match},
        index=cards.index,
    )


def _full_name(cards: pd.DataFrame) -> pd.Series:
    if "full_name" in cards and cards["full_name"].notna().any():
        name = cards["full_name"]
    else:
        parts = [cards[c] for c in ("last_name", "first_name") if c in cards]
        if not parts:
            return pd.Series(None, index=cards.index, dtype="object")
        name = parts[0].astype("str").where(parts[0].notna())
        for p in parts[1:]:
            name = name.fillna("") + " " + p.astype("str").fillna("")
    return normalize_name(name)
