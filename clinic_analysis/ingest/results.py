"""The sections of metrics.json that describe the clinic and its exports: ``clinic``,
``ledger`` and ``data_quality`` (see :mod:`clinic_analysis.results`)."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_analysis.results import Section, inline, metric, optional


@dataclass(kw_only=True)
class Clinic(Section):
    """Who and when the audit is about."""

    name: str = metric()  # the clinic's name as the report prints it
    slug: str = metric()  # the params file's name: reports/<slug>/
    as_of: str = metric()  # the audit date, ISO (YYYY-MM-DD)
    currency: str = metric()  # ISO 4217 code of every money figure
    language: str = metric()  # the report's language: uk | ru | en


@dataclass(kw_only=True)
class Ledger(Section):
    """Every input row kept, merged or dropped with a named reason."""

    # {system: {table: {rows_in, rows_kept, merged, dropped: {reason: rows}}}}; the systems
    # are the section's keys (several files of one table in one system are added up)
    systems: dict = inline()


@dataclass(kw_only=True)
class DataQuality(Section):
    """What the checks of the exports found."""

    anomalies: dict = metric()  # {check: rows or share}; None for an amount check without amounts
    warnings: dict = metric()  # {warning: rows}
    merges: dict = metric()  # {kind of merge: cards merged into one person}
    identity: dict = metric()  # how cards were matched to persons (keys, conflicts)
    missing_tables: list = metric()  # of visits, patients, plans: the tables not exported
    # over every source file: {files, systems, rows_in, rows_kept, rows_not_kept}
    rows: dict = optional()
