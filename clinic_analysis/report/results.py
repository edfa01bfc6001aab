"""The ``calls`` section of metrics.json (see :mod:`clinic_analysis.results`)."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_analysis.results import Section, metric


@dataclass(kw_only=True)
class Calls(Section):
    """The call lists (call_lists.xlsx)."""

    sheets: dict = metric()  # {sheet: rows}
    uncontactable: dict = metric()  # {sheet: patients nobody can reach, left off the lists}
