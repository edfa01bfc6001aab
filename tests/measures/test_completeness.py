"""E-mail validity: the vectorised fast path for plain addresses never accepts what
email-validator rejects, and everything else is still judged by the library."""

from __future__ import annotations

import pandas as pd
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic_analysis.measures.completeness import plain_email, valid_email


def library_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


LABEL_63 = "a" * 63
# address -> valid? (read by eye against email-validator's rules)
CASES = {
    "ivan.petrenko@gmail.com": True,
    "o_kovalenko+dental@ukr.net": True,
    "x%y@mail.clinic.kyiv.ua": True,
    f"a@{LABEL_63}.com": True,  # a host label of 63 characters is the longest allowed
    f"a@{LABEL_63}a.com": False,  # 64 is one too many
    "a@b-c.com": True,
    "A.Kovalenko@Gmail.COM": True,  # capitals in the domain: the library folds them
    "ivan@пошта.укр": True,  # an internationalised domain
    "ab--cd@x.com": True,  # two hyphens in the local part are fine
    "a@ab--cd.com": False,  # ... not as the 3rd and 4th character of a host label
    "a@b.test": False,  # special-use domains are not deliverable
    "a@b.local": False,
    "a@localhost": False,
    "a@b.onion": False,
    "a@b.c1": False,  # a top-level domain ends with a letter
    "a@-b.com": False,
    "a@b-.com": False,
    "a..b@c.com": False,
    ".a@c.com": False,
    "a@b": False,  # no dot in the domain
    "a@@b.com": False,
    '"quoted"@b.com': False,  # quoted local parts are not allowed
    "Ivan <ivan@b.com>": False,  # nor display names
    " ivan@b.com": False,
    "ivan@b.com ": False,
    "not-an-email": False,
    "": False,
    "x" * 242 + "@example.com": True,  # 254 characters: the longest address allowed
    "x" * 243 + "@example.com": False,  # 255: one too many
}


def test_hand_built_addresses_are_judged_like_the_library():
    addresses = list(CASES)
    assert [library_accepts(a) for a in addresses] == list(CASES.values())  # the table is right
    got = valid_email(pd.Series(addresses, index=[7] * len(addresses)))  # duplicate labels
    assert got.tolist() == list(CASES.values())
    assert got.index.tolist() == [7] * len(addresses)


def test_plain_form_is_a_subset_of_what_the_library_accepts():
    plain = plain_email(pd.Series(list(CASES)))
    assert plain.any() and not plain.all()  # both paths are exercised
    for address, fast in zip(CASES, plain, strict=True):
        if fast:
            assert CASES[address], address


def test_missing_values_are_not_valid_emails():
    values = pd.Series([None, "a@b.ua", float("nan"), pd.NA], dtype="object")
    assert valid_email(values).tolist() == [False, True, False, False]
    assert valid_email(pd.Series([], dtype="str")).tolist() == []


def test_valid_email_keeps_the_arrow_and_object_string_dtypes_alike():
    values = ["a@b.ua", "A@B.UA", "a@b.test", None]
    arrow = valid_email(pd.Series(values, dtype="str"))
    plain = valid_email(pd.Series(values, dtype="object"))
    assert arrow.tolist() == plain.tolist() == [True, True, False, False]


_near = st.text(alphabet='abzAZ09-._+%@"<> ', min_size=1, max_size=20)
_tld = st.sampled_from(["com", "ua", "test", "local", "localhost", "c1", "x-y", "arpa", "Com"])
_near_miss = st.builds(lambda a, b, t: f"{a}@{b}.{t}", _near, _near, _tld)
# each example is a batch of addresses: one vectorised call per batch keeps the test fast
_batch = dict(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# addresses close to the plain form: dot-atoms, host labels of up to 64 characters with
# hyphens anywhere, top-level domains ending in a letter or not (the fast path sorts them)
_atom = st.text(alphabet="aZ09_%+-", min_size=1, max_size=6)
_label = st.text(alphabet="az09-", min_size=1, max_size=64)
_plainish = st.builds(
    lambda local, labels, tld: ".".join(local) + "@" + ".".join([*labels, tld]),
    st.lists(_atom, min_size=1, max_size=3),
    st.lists(_label, min_size=1, max_size=4),
    st.sampled_from(["com", "ua", "x1", "test", "kyiv-ua", "b"]),
)


@settings(**_batch)
@given(st.lists(_plainish, min_size=1, max_size=30))
def test_every_address_of_the_plain_form_that_passes_the_fast_path_is_valid(addresses):
    fast = plain_email(pd.Series(addresses))
    for address in [a for a, f in zip(addresses, fast, strict=True) if f]:
        assert library_accepts(address), address


@settings(**_batch)
@given(st.lists(_near_miss, min_size=1, max_size=30))
def test_fast_path_on_near_miss_addresses_agrees_with_the_library(addresses):
    expected = [library_accepts(a) for a in addresses]
    assert valid_email(pd.Series(addresses)).tolist() == expected
    fast = plain_email(pd.Series(addresses))
    assert all(ok for ok, f in zip(expected, fast, strict=True) if f)
