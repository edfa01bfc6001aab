"""Identity resolution: the same person across systems and duplicate cards.

Phones are normalised to E.164 with ``phonenumbers`` (default region UA, so
``067 123 45 67``, ``+38 (067) 123-45-67``, ``80671234567`` and ``0671234567`` are one number).

Two rules join cards into one person (both settable under ``identity:`` in params):

``phone_and_name``
    Cards sharing a phone join only when nothing about them disagrees: same surname and
    first name (in either order; an initial matches a name with that letter), patronymics
    and birth dates equal or missing on one side. A mother and a daughter on one mobile
    stay two people. A card that fits several people on its phone joins none of them
    (``ambiguous``). A phone carried by ``shared_phone_min_people`` or more different
    people (a clinic's landline, a call centre) joins nothing and is counted as a shared
    line.
``name_birth_date``
    The same full name and the same birth date join cards whatever their phones.

A chain of phones never merges people whose names disagree: the phone rule only joins cards
inside one person-like group on one phone. Visits and plans follow their card. Each person's
``patient_id`` is the smallest of the source keys (``system:id``) it merges, so it is stable
for the same inputs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from clinic_analysis.params import Identity

# the characters of a pattern, not escapes (``\u2019``, ``\s``): pandas then leaves the
# replacing to pyarrow instead of calling Python's ``re`` once per name
APOSTROPHES = "[\u2019\u02bc\u2018`\u00b4]"
#: the characters besides the space that ``str.split()`` splits words at and ``\s`` of
#: Python's ``re`` matches (``str.isspace``; a test checks them over all of Unicode)
OTHER_SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
SPACES = f"[ {OTHER_SPACES}]+"  # Python's r"\s+"
RULE_PHONE = "phone_and_name"
RULE_PHONE_ONLY = "phone_only"
RULE_NAME = "name_birth_date"


def normalize_phone(values: pd.Series, region: str = "UA") -> pd.Series:
    """E.164 (``+380671234567``) for valid numbers, missing otherwise.

    Parsing runs once per distinct number as written without its spacing: ``067 123 45 67``
    and ``067-123-45-67`` are parsed once (spaces, dashes, brackets and dots between digits
    are what ``phonenumbers`` ignores). Ukrainian habits are handled first: a leading ``8``
    before ``0XX`` (``80671234567``) and bare 9-digit national numbers. Numbers that come
    out as ``+380`` and 9 digits are checked together against phonenumbers' own metadata
    for Ukraine (:func:`valid_national_numbers`); any other shape goes through the library
    (:func:`_one_phone`).
    """
    text = values.astype("str").where(values.notna())
    codes, written = pd.factorize(text.to_numpy(object))  # missing values: code -1
    e164 = _e164(pa.array(written, pa.string()), region)
    e164[pd.isna(e164)] = np.nan  # invalid and missing alike
    return pd.Series(np.append(e164, np.nan)[codes], index=values.index, dtype=object)


PHONE_SPACING = "[ \u00a0\\-().]"  # punctuation phonenumbers skips
BARE_PHONE = r"^\+?[0-9]+$"  # what is left of a plain number: + and digits


def _e164(written: pa.Array, region: str) -> np.ndarray:
    """:func:`_one_phone` of each written phone without its spacing (when what is left is
    ``+`` and digits: the same number for ``phonenumbers``), once per such key."""
    bare = pc.replace_substring_regex(written, PHONE_SPACING, "")
    keys = pc.if_else(pc.match_substring_regex(bare, BARE_PHONE), bare, written)
    distinct = pc.unique(keys)
    return _parse_phones(distinct, region)[pc.index_in(keys, value_set=distinct).to_numpy()]


def _parse_phones(keys: pa.Array, region: str) -> np.ndarray:
    """:func:`_one_phone` of each distinct key: keys of ``+`` and digits whose candidate is
    ``+380`` and 9 digits are decided together by :func:`valid_national_numbers`, the others
    one by one by the library."""
    bare = pc.match_substring_regex(keys, BARE_PHONE)
    cand = _ua_candidates(keys, bare) if region == "UA" else keys
    fast = pc.and_(bare, pc.match_substring_regex(cand, f"^{UA_E164.pattern}$"))
    fast = fast.to_numpy(zero_copy_only=False)
    out = np.full(len(keys), None, dtype=object)
    e164 = cand.filter(fast)
    ok = valid_national_numbers(pc.utf8_slice_codeunits(e164, 4), "UA")
    out[fast] = np.where(ok, e164.to_numpy(zero_copy_only=False), None)
    slow = np.flatnonzero(~fast)
    out[slow] = [_one_phone(k, region) for k in keys.take(slow).to_pylist()]
    return out


def _ua_candidates(keys: pa.Array, bare: pa.Array) -> pa.Array:
    """:func:`_one_phone`'s Ukrainian habits on the keys of ``+`` and digits (``bare``)."""
    digits = pc.utf8_ltrim(keys, "+")
    n = pc.utf8_length(digits)
    no_plus = pc.invert(pc.starts_with(keys, "+"))
    rules = [
        (pc.and_(pc.equal(n, 11), pc.starts_with(digits, "80")), "+3"),
        (pc.equal(n, 9), "+380"),
        (pc.and_(pc.equal(n, 12), pc.starts_with(digits, "380")), "+"),
        (
            pc.and_(pc.equal(n, 10), pc.and_(no_plus, pc.match_substring_regex(digits, "^0[1-9]"))),
            "+38",
        ),
    ]
    out = keys
    for hit, prefix in rules:  # one rule per length: they never overlap
        joined = pc.binary_join_element_wise(prefix, digits, "")
        out = pc.if_else(pc.and_(bare, hit), joined, out)
    return out


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
        elif len(digits) == 10 and raw == digits and digits[0] == "0" and digits[1] != "0":
            candidate = "+38" + digits  # 0XX XXX XX XX: the national prefix, then 9 digits
    if UA_E164.fullmatch(candidate):
        # what phonenumbers.parse reads from +380 and 9 digits, without its text scanning
        num = phonenumbers.PhoneNumber(country_code=380, national_number=int(candidate[4:]))
    else:
        try:
            num = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


UA_E164 = re.compile(r"\+380[1-9][0-9]{8}")

# the number types phonenumbers tries, in its order (phonenumberutil._number_type_helper)
NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


@functools.cache
def _type_patterns(region: str, length: int) -> tuple[str, str] | None:
    """The region's general pattern and the alternation of its number types' patterns that
    a national number of ``length`` digits can match (phonenumbers' metadata: a pattern
    counts when the length is one of its possible lengths, or it lists none), anchored;
    None when no number of that length can be valid."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)

    def pattern(desc) -> str | None:
        if desc is None or not desc.national_number_pattern:
            return None
        if desc.possible_length and length not in desc.possible_length:
            return None
        return desc.national_number_pattern

    general = pattern(meta.general_desc)
    kinds = [
        t for t in NUMBER_TYPES if not (t == "mobile" and meta.same_mobile_and_fixed_line_pattern)
    ]
    types = [p for p in (pattern(getattr(meta, t)) for t in kinds) if p is not None]
    if general is None or not types:
        return None
    return f"^(?:{general})$", "^(?:" + "|".join(f"(?:{p})" for p in types) + ")$"


def valid_national_numbers(numbers, region: str) -> np.ndarray:
    """``phonenumbers.is_valid_number`` of each national number (text of ASCII digits, no
    leading zero) of ``region``, the only region of its country code, decided from the
    library's own metadata once per length: the number matches the region's general
    pattern and one of its number types (fixed line, mobile, toll free...), lengths
    allowing, as ``phonenumberutil._number_type_helper`` decides."""
    numbers = pa.array(numbers, pa.string())
    ok = np.zeros(len(numbers), dtype=bool)
    lengths = pc.utf8_length(numbers).to_numpy(zero_copy_only=False)
    for length in np.unique(lengths):
        patterns = _type_patterns(region, int(length))
        if patterns is None:
            continue
        at = np.flatnonzero(lengths == length)
        some = numbers.take(at)
        hit = pc.and_(
            pc.match_substring_regex(some, patterns[0]),
            pc.match_substring_regex(some, patterns[1]),
        )
        ok[at] = hit.to_numpy(zero_copy_only=False)
    return ok


def normalize_name(values: pd.Series) -> pd.Series:
    """Case, spaces, ё/е and apostrophe variants (' ’ ʼ) folded: 'Ковальчук  Мар’яна' ==
    'КОВАЛЬЧУК мар'яна'."""
    text = values.astype("str").where(values.notna())
    codes, written = pd.factorize(text)  # each distinct name folded once
    t = pd.Series(written, dtype=text.dtype)
    t = t.str.lower().str.replace(APOSTROPHES, "'", regex=True)
    t = t.str.replace("ё", "е", regex=False).str.replace(SPACES, " ", regex=True).str.strip()
    folded = np.append(t.where(t != "").to_numpy(object), np.nan)[codes]  # missing: -1
    return pd.Series(folded, index=values.index, name=values.name, dtype=text.dtype)


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

    def roots(self) -> np.ndarray:
        """The root of every element (the parents followed until they stop)."""
        parent = self.parent.copy()
        while True:
            up = parent[parent]
            if (up == parent).all():
                return parent
            parent = up

    def union(self, a: int, b: int) -> int | None:
        """Join the sets of ``a`` and ``b``; the root folded into the other, or None when
        they were one set already."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        self.parent[rb] = ra
        return int(rb)


@dataclass(frozen=True)
class _Card:
    """What identifies a card: name tokens (surname, first, patronymic; one letter for an
    initial), birth date (ISO text) and its specificity (for the order of grouping)."""

    tokens: tuple[str, ...]
    birth: str | None

    @property
    def weight(self) -> int:
        known = sum(2 if len(t) > 1 else 1 for t in self.tokens[:3])
        return known + (2 if self.birth else 0)


def _same_part(a: str | None, b: str | None) -> bool:
    """Name parts agree: equal, one missing, or an initial and a name with that letter."""
    if a is None or b is None:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    return a == b


def _compatible(a: _Card, b: _Card) -> bool:
    """Nothing about two cards disagrees (missing values never do)."""
    if a.birth and b.birth and a.birth != b.birth:
        return False
    if not a.tokens or not b.tokens:
        return True
    ta, tb = (a.tokens + (None, None, None))[:3], (b.tokens + (None, None, None))[:3]
    if ta[0] == tb[0] and _same_part(ta[1], tb[1]) and _same_part(ta[2], tb[2]):
        return True
    # "Firstname Surname" against "Surname Firstname" (full words only)
    swapped = (
        ta[1] is not None
        and tb[1] is not None
        and min(len(ta[0]), len(ta[1]), len(tb[0]), len(tb[1])) > 1
        and (ta[0], ta[1]) == (tb[1], tb[0])
    )
    return swapped and (ta[2] is None or tb[2] is None)


def _people_on_phone(
    members: list[int], cards: dict[int, _Card], keys, limit: int
) -> tuple[list[list[int]], list[int], int]:
    """Group the cards of one phone into people: the most specific cards first; a card joins
    the one group it agrees with, starts a group if none, stays alone if several (ambiguous).
    Returns ``(groups, ambiguous card positions, people)``, where people counts the groups
    with a name or a birth date; grouping stops once they reach ``limit`` (a shared line)."""
    order = sorted(members, key=lambda i: (-cards[i].weight, keys[i]))
    groups: list[list[int]] = []
    ambiguous = []
    people = 0
    for i in order:
        fits = [g for g in groups if all(_compatible(cards[i], cards[m]) for m in g)]
        if len(fits) == 1:
            fits[0].append(i)
        elif not fits:
            groups.append([i])
            people += bool(cards[i].tokens or cards[i].birth)
            if people >= limit:
                break
        else:
            ambiguous.append(i)
    return groups, ambiguous, max(people, 1)


def grouped(keys: np.ndarray, items: np.ndarray) -> list[list]:
    """``items`` grouped by ``keys`` as lists: groups in sorted key order, members in their
    order, as ``pd.Series(items).groupby(keys).agg(list)`` gives them, without a Python
    call per group (keys are not missing)."""
    if not len(keys):
        return []
    codes = pd.factorize(keys, sort=True)[0]  # ranks: sorting text keys costs more
    order = np.argsort(codes, kind="stable")
    k = codes[order]
    ends = [0, *(np.flatnonzero(k[1:] != k[:-1]) + 1).tolist(), len(k)]
    flat = np.asarray(items, dtype=object)[order].tolist()
    return [flat[a:b] for a, b in zip(ends[:-1], ends[1:], strict=True)]


def resolve(cards: pd.DataFrame, region: str = "UA", rules: Identity | None = None) -> pd.DataFrame:
    """Map each card (one row per source key ``patient_id``) to a person.

    Returns a frame indexed like ``cards`` with ``person_id``, ``phone_e164``, ``match``
    (the rule that joined the card: ``phone_and_name``, ``phone_only``, ``name_birth_date``
    or ``""``), ``phone_people`` (different people on the card's phone, 0 without a phone,
    counted up to ``shared_phone_min_people``),
    ``folded_by`` (the rule of the join that folded this card's group into another: one per
    join), ``shared_line`` and ``ambiguous`` (the card fits several people on its phone).
    """
    rules = rules or Identity()
    n = len(cards)
    keys = cards["patient_id"].astype(str).to_numpy()
    phone = (
        normalize_phone(cards["phone"], region)
        if "phone" in cards
        else pd.Series(None, index=cards.index, dtype="object")
    )
    name = _full_name(cards)
    birth = (
        pd.to_datetime(cards["birth_date"])
        if "birth_date" in cards
        else pd.Series(pd.NaT, index=cards.index)
    )
    birth_text = birth.dt.strftime("%Y-%m-%d").where(birth.notna()).to_numpy(object)
    names = name.to_numpy(object)
    known_birth = pd.notna(birth_text)
    uf = _UnionFind(n)
    match = np.full(n, "", dtype=object)
    folded_by = np.full(n, "", dtype=object)
    people_n = np.zeros(n, dtype=int)
    shared = np.zeros(n, dtype=bool)
    ambiguous = np.zeros(n, dtype=bool)

    def join(a: int, b: int, rule: str) -> None:
        folded = uf.union(a, b)
        if folded is not None:
            folded_by[folded] = rule
            match[a] = match[a] or rule
            match[b] = match[b] or rule

    has_phone = phone.notna().to_numpy()
    on_phone, card = phone[has_phone].to_numpy(), np.arange(n)[has_phone]
    limit = rules.shared_phone_min_people
    codes = pd.factorize(on_phone)[0]
    alone = np.bincount(codes)[codes] == 1  # the only card on its phone: one person
    people_n[card[alone]] = 1
    shared[card[alone]] = limit <= 1
    for members in grouped(on_phone[~alone], card[~alone]):
        info = {
            i: _Card(_tokens(names[i]), birth_text[i] if known_birth[i] else None) for i in members
        }
        groups, amb, people = _people_on_phone(members, info, keys, limit)
        people_n[members] = people
        shared[members] = people >= limit
        if len(members) < 2 or people >= limit or not rules.match_on_phone:
            continue
        if not rules.require_name_match:
            for m in members[1:]:
                join(members[0], m, RULE_PHONE_ONLY)
            continue
        ambiguous[amb] = True
        for g in groups:
            for m in g[1:]:
                join(g[0], m, RULE_PHONE)

    # the same full name (any word order) and the same birth date, whatever the phones
    dated = np.flatnonzero(known_birth & pd.notna(names))
    full = name_words(names[dated])
    named = pd.notna(full)  # a name with some word
    dated = dated[named]
    label = pc.binary_join_element_wise(
        pa.array(full[named], pa.string()), pa.array(birth_text[dated], pa.string()), "|"
    )
    label = pd.array(label, dtype=pd.StringDtype(na_value=np.nan))  # text kept by pyarrow
    codes = pd.factorize(label)[0]
    twice = np.bincount(codes)[codes] > 1  # a name and birth date on two cards or more
    for members in grouped(label[twice], dated[twice]):
        for m in members[1:]:
            join(members[0], m, RULE_NAME)

    roots = uf.roots()
    group_min = pd.Series(keys).groupby(roots).transform("min").to_numpy()
    return pd.DataFrame(
        {
            "person_id": group_min,
            "phone_e164": phone.to_numpy(),
            "match": match,
            "folded_by": folded_by,
            "phone_people": people_n,
            "shared_line": shared,
            "ambiguous": ambiguous,
        },
        index=cards.index,
    )


def summary(ident: pd.DataFrame, phones_exported: bool = True) -> dict:
    """Counts for the data audit (no phones, no names): cards and people, merges by rule,
    phones shared by a few people (a family) and shared lines. Phone figures are ``None``
    when no phone column was exported."""
    on_phone = ident[ident["phone_e164"].notna()]
    by_phone = on_phone.groupby("phone_e164").agg(
        people=("phone_people", "first"), shared=("shared_line", "first"), cards=("match", "size")
    )
    persons = int(ident["person_id"].nunique())
    # each join folds one group into another: cards - people joins, each by one rule
    joins = {r: 0 for r in (RULE_PHONE, RULE_NAME)}
    joins.update(ident.loc[ident["folded_by"] != "", "folded_by"].value_counts().to_dict())
    joins = {k: int(v) for k, v in joins.items()}
    family = by_phone[(by_phone["people"] >= 2) & ~by_phone["shared"]]
    shared = by_phone[by_phone["shared"]]
    phone_figure = (lambda v: int(v)) if phones_exported else (lambda v: None)
    return {
        "cards": int(len(ident)),
        "people": persons,
        "merged_cards": int(len(ident) - persons),
        "merges_by_rule": dict(sorted(joins.items())),
        "phones_shared_by_family": phone_figure(len(family)),
        "people_on_family_phones": phone_figure(family["people"].sum()),
        "shared_lines": phone_figure(len(shared)),
        "cards_on_shared_lines": phone_figure(shared["cards"].sum()),
        "ambiguous_cards": phone_figure(ident["ambiguous"].sum()),
        # cards joined by a phone (with the same name, or alone on it)
        "merged_by_phone": int(sum(v for k, v in joins.items() if k.startswith("phone"))),
    }


def _tokens(name) -> tuple[str, ...]:
    """Name words; initials ("М.В.") become single letters."""
    if not isinstance(name, str):
        return ()
    words = name.replace(".", ". ").replace(",", " ").split()
    return tuple(w.strip(".-") for w in words if w.strip(".-"))


NAME_CHUNK = 200_000


def name_words(names: np.ndarray) -> np.ndarray:
    """The words of each name (:func:`_tokens`) sorted and joined by a space (one key for
    any word order), None for a name without a word. pyarrow splits, trims and sorts the
    words of the names whose only whitespace is the space (UTF-8 order is Python's order
    of text); any other name is done by :func:`_tokens` itself."""
    names = np.asarray(names, dtype=object)
    if len(names) > NAME_CHUNK:  # bounded scratch memory
        parts = [name_words(names[i : i + NAME_CHUNK]) for i in range(0, len(names), NAME_CHUNK)]
        return np.concatenate(parts)
    text = pa.array(names, pa.string(), from_pandas=True)
    spaced = pc.replace_substring(pc.replace_substring(text, ".", ". "), ",", " ")
    lists = pc.split_pattern(spaced, " ")
    words = pc.utf8_trim(pc.list_flatten(lists), ".-")
    owner = pc.list_parent_indices(lists)
    kept = pc.not_equal(words, "")
    table = pa.table({"owner": owner.filter(kept), "word": words.filter(kept)})
    table = table.take(pc.sort_indices(table, [("owner", "ascending"), ("word", "ascending")]))
    counts = np.bincount(table["owner"].to_numpy(), minlength=len(text))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int64())
    joined = pc.binary_join(
        pa.LargeListArray.from_arrays(offsets, table["word"].combine_chunks()), " "
    )
    out = joined.to_numpy(zero_copy_only=False).astype(object)
    out[counts == 0] = None
    odd = pc.match_substring_regex(text, f"[{OTHER_SPACES}]").to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(odd):
        out[i] = " ".join(sorted(_tokens(names[i]))) or None
    return out


def _full_name(cards: pd.DataFrame) -> pd.Series:
    """``full_name``, else ``last_name first_name``, card by card; normalised."""
    full = cards.get("full_name", pd.Series(None, index=cards.index, dtype="object"))
    parts = [cards[c] for c in ("last_name", "first_name") if c in cards]
    if parts:
        built = parts[0].astype("str").where(parts[0].notna()).fillna("")
        for p in parts[1:]:
            built = built + " " + p.astype("str").where(p.notna()).fillna("")
        built = built.str.strip().replace("", None)
        full = full.astype("object").where(full.notna(), built)
    return normalize_name(full)
