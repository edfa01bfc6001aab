"""Patients as integers while the audit computes.

Every measure groups, joins and looks up rows by ``patient_id``. On text ids (arrow
strings) each of those hashes or converts millions of strings; on integers it is a fraction
of the time and memory. :func:`clinic_analysis.audit.compute_audit` therefore codes the ids
once (:meth:`PatientKeys.code`), computes on the codes and turns
every per-patient result back into the ids (:meth:`PatientKeys.decode`).

The codes are the positions of the ids in their sorted order, so sorting or grouping by
code gives the same order as by id: every figure, and every row order, is the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clinic_analysis.ingest.tables import ClinicData

TABLES = ("visits", "patients", "plans")
KEY = "patient_id"


@dataclass(frozen=True)
class PatientKeys:
    """The distinct patient ids in sorted order: code ``i`` stands for ``ids[i]``.
    ``ids`` is None when the ids cannot be coded (a row without an id): then encoding
    and decoding leave everything as it is."""

    ids: pd.Index | None

    @classmethod
    def code(cls, data: ClinicData) -> tuple[PatientKeys, ClinicData]:
        """The keys of ``data`` and the same data with each table's ``patient_id`` replaced
        by its code (int64); the other columns are shared with ``data``, not copied."""
        tables = [t for t in TABLES if KEY in getattr(data, t)]
        cols = [getattr(data, t)[KEY] for t in tables]
        if not cols or any(c.isna().any() for c in cols):
            return cls(None), data  # the loader drops rows without an id: never code one
        codes, ids = pd.factorize(pd.concat(cols, ignore_index=True), sort=True)
        coded, start = {}, 0
        for t, col in zip(tables, cols, strict=True):
            part = codes[start : start + len(col)].astype("int64")
            coded[t] = getattr(data, t).assign(**{KEY: part})
            start += len(col)
        return cls(pd.Index(ids, name=KEY)), dataclasses.replace(data, **coded)

    def decode(self, codes) -> pd.Index:
        """The ids of ``codes`` (an array, Series or Index of codes), as an Index named
        like ``codes`` (or ``patient_id``)."""
        if self.ids is None:
            return pd.Index(codes)
        name = getattr(codes, "name", KEY)
        return self.ids.take(np.asarray(codes, dtype="int64")).rename(name)

    def decode_frame(self, frame: pd.DataFrame | pd.Series | None, index: bool = True):
        """``frame`` with its ``patient_id`` column, and its index when ``index`` is true,
        turned back into ids (a new object; None stays None)."""
        if frame is None or self.ids is None:
            return frame
        out = frame.copy(deep=False)
        if index:
            out.index = self.decode(out.index)
        if isinstance(out, pd.DataFrame) and KEY in out.columns:
            out[KEY] = self.decode(out[KEY].to_numpy()).array
        return out

    def decode_fits(self, fits):
        """The fitted models (a dataclass) with every per-patient table (indexed by
        ``patient_id``) turned back into ids."""
        if self.ids is None or not dataclasses.is_dataclass(fits):
            return fits
        per_patient = {
            f.name: self.decode_frame(v)
            for f in dataclasses.fields(fits)
            if isinstance(v := getattr(fits, f.name), pd.DataFrame | pd.Series)
            and v.index.name == KEY
        }
        return dataclasses.replace(fits, **per_patient)
