"""Who to call, in what order: the call table of one audit (computation only).

Everyone worth a call (the patients of :data:`refusers.CALL_SEGMENTS`, and returning
patients at risk on a sheet of their own), with what ranks them: ``priority`` (the value of
calling now, :func:`refusers.call_value`: ``chance`` that a call brings the patient back ×
the ``value`` of a return), the months since their event and their plan balance; what the
front desk needs (the MIS card ids, name, phone in E.164, e-mail, last visit, the last
missed appointment, doctor); and who must not be called (``refused_contact``: refused
communication, or marked "do not call" on the last lists) or cannot be (``uncontactable``:
no phone and no e-mail).

Built once per audit (``audit.calls.table``, by :func:`clinic_analysis.audit.compute_audit`)
and reused by the metrics, the follow-up and the workbook. Nothing here knows the report's
language or the spreadsheet: :mod:`clinic_analysis.report.calllists` formats and writes the lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from clinic_analysis.measures.completeness import cards_for
from clinic_analysis.measures.refusers import CALL_SEGMENTS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from clinic_analysis.audit import Audit

AT_RISK_SHEET = "returning_at_risk"
# the card columns a call list shows or ranks by
CARD_COLUMNS = ("phone_e164", "email", "consent", "full_name", "first_name", "last_name",
                "source_ids")  # fmt: skip
SHEETS = (*CALL_SEGMENTS, AT_RISK_SHEET)
# the outcome drop-down and the refusal reasons (keys; their texts are in the catalogue)
OUTCOMES = ("not_reached", "call_back", "booked", "refused", "wrong_number", "do_not_call")
REASONS = ("price", "treated_elsewhere", "no_time", "fear", "doubts", "other")
# the workbook's hidden sheet that names each sheet's segment and columns, and its format:
# the next audit reads the filled-in lists back by them (measures/followup.py)
META_SHEET = "_meta"
META_FORMAT = "clinic-audit call lists 1"


def card_keys(text) -> list[str]:
    """The source keys (``system:id``) a card cell names (``"mis:17, lab:9"``): the inverse
    of :func:`clinic_analysis.report.calllists.card_text`."""
    if text is None:
        return []
    return [p.strip() for p in str(text).split(",") if p.strip()]


def call_table(audit: Audit) -> pd.DataFrame:
    """Everyone worth a call, one row per patient (index ``patient_id``), ranked within each
    sheet by :func:`rank`."""
    seg = audit.refusers.segments
    phase = audit.patients.set_index("patient_id")["phase"].reindex(seg.index)
    sheet = seg["segment"].astype("object").where(seg["segment"].isin(CALL_SEGMENTS))
    sheet = sheet.mask((seg["segment"] == "returning") & (phase == "at_risk"), AT_RISK_SHEET)
    seg = seg[sheet.notna()]
    cards = cards_for(audit.data.patients, seg.index, CARD_COLUMNS)
    none = pd.Series(None, index=seg.index, dtype=object)
    phone = cards.get("phone_e164", none)
    phone = phone.where(phone.notna() & phone.astype("str").ne(""))  # a number, not ""
    email = cards["email"].fillna("") if "email" in cards else pd.Series("", index=seg.index)
    consent = cards["consent"] if "consent" in cards else pd.Series(pd.NA, index=seg.index)
    doctor = (
        last_doctor(audit.data.visits)
        .reindex(seg.index)
        .fillna(seg.get("plan_doctor", none))
        .fillna("")
    )
    balance = seg["open_plan_balance"]
    out = pd.DataFrame(
        {
            "sheet": sheet[seg.index],
            "segment": seg["segment"].astype(str),
            "priority": seg["priority"],
            "chance": seg["chance"],
            "value": seg["value"],
            "months": seg["months_since_event"],
            "balance": balance.where(balance > 0),
            "last_visit": pd.to_datetime(seg["last_visit"]).dt.normalize(),
            "missed": pd.to_datetime(seg["last_missed"]).dt.normalize(),
            "doctor": doctor,
            "name": contact_names(cards),
            "phone": phone,
            "email": email,
            "source_ids": cards.get("source_ids", none),
            "refused_contact": consent.astype("boolean").eq(False).fillna(False).to_numpy(),
            "uncontactable": (phone.isna() & (email == "")).to_numpy(),
        },
        index=seg.index,
    )
    out.index.name = "patient_id"
    dnc = audit.followup.do_not_call if audit.followup is not None else []
    out = mark_do_not_call(out, dnc)
    return rank(out, out["months"])


def calls_of(audit: Audit) -> pd.DataFrame:
    """The audit's call table, built once (:func:`call_table`; an audit computed by
    :func:`clinic_analysis.audit.compute_audit` already holds it)."""
    calls = audit.calls
    if calls is None or calls.table is None:
        return call_table(audit)
    return calls.table


def mark_do_not_call(table: pd.DataFrame, patient_ids: Iterable) -> pd.DataFrame:
    """The table with ``patient_ids`` (marked "do not call" on the last audit's filled-in
    lists) moved to the patients who refused contact; a new table, the given one is kept."""
    marked = table["refused_contact"] | table.index.isin(list(patient_ids))
    return table.assign(refused_contact=marked)


def rank(table: pd.DataFrame, months: pd.Series) -> pd.DataFrame:
    """Within each sheet: highest expected value first; at equal value the fresher patient,
    then the larger balance; the patient id last, so the order is reproducible."""
    t = table.assign(_m=months.reindex(table.index), _b=table["balance"].fillna(0.0))
    t = t.rename_axis("patient_id").reset_index()
    t = t.sort_values(
        ["sheet", "priority", "_m", "_b", "patient_id"], ascending=[True, False, True, False, True]
    )
    return t.set_index("patient_id").drop(columns=["_m", "_b"])


def last_doctor(visits: pd.DataFrame) -> pd.Series:
    """The doctor of each patient's last completed visit."""
    if "doctor" not in visits:
        return pd.Series(dtype=object)
    done = visits.loc[
        (visits["status"] == "completed") & visits["doctor"].notna(),
        ["patient_id", "date", "doctor"],
    ]
    return (
        done.sort_values("date")
        .drop_duplicates("patient_id", keep="last")
        .set_index("patient_id")["doctor"]
    )


def contact_names(cards: pd.DataFrame) -> pd.Series:
    """The name to ask for: the full name, else surname and first name ("" when none)."""
    if "full_name" in cards and cards["full_name"].notna().any():
        return cards["full_name"].fillna("")
    parts = [cards[c].fillna("") for c in ("last_name", "first_name") if c in cards]
    if not parts:
        return pd.Series("", index=cards.index)
    out = parts[0]
    for p in parts[1:]:
        out = out + " " + p
    return out.str.strip()


def on_lists(table: pd.DataFrame) -> pd.Series:
    """The rows a sheet of the segment lists: contactable, and contact not refused."""
    return ~table["refused_contact"] & ~table["uncontactable"]


def sheet_counts(table: pd.DataFrame) -> dict[str, int]:
    """Rows per sheet: consenting patients per segment, and those who refused contact."""
    listed = table.loc[on_lists(table), "sheet"].value_counts()
    out = {s: int(listed.get(s, 0)) for s in SHEETS}
    out["do_not_contact"] = int(table["refused_contact"].sum())
    return out


def listed(table: pd.DataFrame, cap: int | None) -> pd.Series:
    """The rows a call sheet lists: on the lists (:func:`on_lists`) and among the ``cap``
    first of their sheet in the table's order (the call order); every one without a cap.
    Patients who refused contact are not call rows (their sheet is never cut)."""
    ok = on_lists(table)
    if cap is None:
        return ok
    sheet = table.loc[ok, "sheet"]
    first = sheet.groupby(sheet, sort=False).cumcount().lt(cap)
    return ok & first.reindex(table.index, fill_value=False)


def call_metrics(table: pd.DataFrame, cap: int | None = None) -> dict:
    """``calls`` in metrics.json: rows per sheet (everyone of the segment), and per segment
    the patients nobody can contact (no phone, no e-mail), who are said here and left off
    the lists. A sheet longer than ``cap`` (params ``calls.max_rows_per_sheet``) lists its
    ``cap`` first patients: ``listed`` and ``left_out`` say so, per cut sheet (absent when
    no sheet was cut)."""
    gone = table.loc[table["uncontactable"], "sheet"].value_counts()
    sheets = sheet_counts(table)
    out = {"sheets": sheets, "uncontactable": {s: int(gone.get(s, 0)) for s in SHEETS}}
    if cap is not None:
        cut = {s: n for s, n in sheets.items() if s in SHEETS and n > cap}
        if cut:
            out["listed"] = dict.fromkeys(cut, int(cap))
            out["left_out"] = {s: n - int(cap) for s, n in cut.items()}
    return out
