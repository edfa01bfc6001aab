"""The typed results of the audit and their one serialiser (metrics.json).

Each top-level section of metrics.json is a :class:`Section` dataclass, defined in the stage
that computes it, whose fields are named as the section's keys, in the same order. Four
kinds of field:

- ``metric()``: a key always written (its value may be ``None``: "not exported", "unknown");
- ``optional()``: a key written only when set (``ABSENT`` by default), for keys that exist
  in some audits only (e.g. a breakdown computed with enough history, a model's fit); an
  unset optional field reads ``None`` (:meth:`Section.has` tells unset from ``None``);
  copy a section with ``copy.copy`` (``dataclasses.replace`` would read unset as None);
- ``table()``: a table or object the report draws that is not in metrics.json;
- ``inline()``: a dict whose keys are the section's own (the ledger's systems).

:func:`to_metrics` turns the sections into the dict written as metrics.json; it is the only
place that does.
"""

from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, field, fields
from typing import Any


class _Absent(enum.Enum):
    """The value of an optional key that is not in metrics.json (pickles as itself)."""

    ABSENT = "absent"

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT = _Absent.ABSENT


def metric(default: Any = MISSING):
    """A key always written to metrics.json."""
    if default is MISSING:
        return field()
    return field(default=default)


def optional():
    """A key written to metrics.json only when it is set (not ``ABSENT``)."""
    return field(default=ABSENT, metadata={"optional": True})


def table(default_factory=lambda: None):
    """A table (or object) the report draws; never written to metrics.json."""
    return field(default_factory=default_factory, metadata={"metrics": False}, repr=False)


def inline(default_factory=dict):
    """A dict whose keys are the section's own keys (e.g. the ledger's systems, whose names
    come from the params)."""
    return field(default_factory=default_factory, metadata={"inline": True})


@dataclass(kw_only=True)
class Section:
    """A section of metrics.json (see the module's docstring)."""

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        return None if value is ABSENT else value

    def has(self, name: str) -> bool:
        """True when the key ``name`` is in metrics.json (an optional field that is set)."""
        return self.__dict__.get(name, ABSENT) is not ABSENT

    @classmethod
    def from_metrics(cls, values: dict | None = None, **tables):
        """The section from a stage's dict of metrics (a key that is not a field is an
        error: the section's class must name every key) and its tables."""
        return cls(**(values or {}), **tables)

    def as_metrics(self) -> dict:
        """This section as written to metrics.json."""
        out: dict = {}
        for f in fields(self):
            if f.metadata.get("metrics", True) is False:
                continue
            value = self.__dict__[f.name]
            if value is ABSENT:
                continue
            if f.metadata.get("inline"):
                out.update(value)
            else:
                out[f.name] = value
        return out

    def get(self, key: str, default=None):
        """``section.get(key)`` as on the metrics dict (``default`` when absent)."""
        value = self.__dict__.get(key, ABSENT)
        return default if value is ABSENT else value


def to_metrics(sections: dict[str, Section | None]) -> dict:
    """metrics.json: every section, in order, as its plain dict (a section not computed yet,
    e.g. ``followup`` before the previous audit was looked for, is left out)."""
    return {name: s.as_metrics() for name, s in sections.items() if s is not None}
