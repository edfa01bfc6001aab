"""The call lists: ``reports/<clinic>/call_lists.xlsx`` for the front desk.

A sheet per segment worth calling (and one for returning patients at risk), rows ranked by
the value of calling now (refusers.call_value: P(comes back if called) = segment rate ×
freshness × P(alive), × the value of a return), fresher first at equal value, with a short
"why first" column, with the patient's name and contacts, the last visit,
doctor, plan balance, the suggested contact scenario and an empty column for the outcome.
Patients who refused communication are listed apart on their own sheet, never mixed in.
This is the only output that carries names, phones and e-mails.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import phonenumbers

from .i18n import Catalog
from .refusers import CALL_SEGMENTS

if TYPE_CHECKING:
    from .audit import Audit

AT_RISK_SHEET = "returning_at_risk"
SHEETS = (*CALL_SEGMENTS, AT_RISK_SHEET)


def sheet_counts(table: pd.DataFrame) -> dict[str, int]:
    """Rows per sheet: consenting patients per segment, and those who refused contact."""
    ok = table[~table["refused_contact"]]
    out = {s: int((ok["sheet"] == s).sum()) for s in SHEETS}
    out["do_not_contact"] = int(table["refused_contact"].sum())
    return out


def _pretty_phone(e164) -> str:
    if not isinstance(e164, str):
        return ""
    try:
        num = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _names(cards: pd.DataFrame) -> pd.Series:
    if "full_name" in cards and cards["full_name"].notna().any():
        return cards["full_name"].fillna("")
    parts = [cards[c].fillna("") for c in ("last_name", "first_name") if c in cards]
    if not parts:
        return pd.Series("", index=cards.index)
    out = parts[0]
    for p in parts[1:]:
        out = out + " " + p
    return out.str.strip()


def last_doctor(visits: pd.DataFrame) -> pd.Series:
    if "doctor" not in visits:
        return pd.Series(dtype=object)
    done = visits[(visits["status"] == "completed") & visits["doctor"].notna()]
    return (
        done.sort_values("date")
        .drop_duplicates("patient_id", keep="last")
        .set_index("patient_id")["doctor"]
    )


def call_table(audit: Audit) -> pd.DataFrame:
    """Everyone worth a call, with contacts, ranked within each sheet by priority."""
    t = Catalog(audit.params.clinic.language)
    seg = audit.frames["segments"].copy()
    cards = audit.data.patients.set_index("patient_id").reindex(seg.index)
    people = audit.patients.set_index("patient_id").reindex(seg.index)
    seg["sheet"] = seg["segment"].astype("object").where(seg["segment"].isin(CALL_SEGMENTS))
    at_risk = (seg["segment"] == "returning") & (people["phase"] == "at_risk")
    seg.loc[at_risk, "sheet"] = AT_RISK_SHEET
    seg = seg[seg["sheet"].notna()]
    cards = cards.reindex(seg.index)
    scripts = audit.params.refusers.scripts
    consent = cards["consent"] if "consent" in cards else pd.Series(pd.NA, index=cards.index)
    phone = cards["phone_e164"] if "phone_e164" in cards else pd.Series(None, index=cards.index)
    doctor = (
        last_doctor(audit.data.visits)
        .reindex(seg.index)
        .fillna(seg.get("plan_doctor", pd.Series(index=seg.index, dtype=object)))
    )
    out = pd.DataFrame(
        {
            "sheet": seg["sheet"],
            "priority": seg["priority"],
            "why": why_first(seg, t, audit),
            "name": _names(cards),
            "phone": phone.map(_pretty_phone),
            "email": cards["email"].fillna("") if "email" in cards else "",
            "last_visit": pd.to_datetime(seg["last_visit"]).dt.date,
            "months": seg["months_since_event"].round(1),
            "doctor": doctor.fillna(""),
            "balance": seg["open_plan_balance"].where(seg["open_plan_balance"] > 0),
            "segment": [t(f"seg.{s}") for s in seg["segment"].astype(str)],
            "scenario": [scripts.get(s) or t(f"calls.script.{s}") for s in seg["sheet"]],
            "outcome": "",
            "refused_contact": consent.astype("boolean").eq(False).fillna(False).to_numpy(),
        },
        index=seg.index,
    )
    out.index.name = "patient_id"
    return rank(out, seg["months_since_event"])


def rank(table: pd.DataFrame, months: pd.Series) -> pd.DataFrame:
    """Within each sheet: highest expected value first; at equal value the fresher patient,
    then the larger balance; the patient id last, so the order is reproducible."""
    t = table.assign(_m=months.reindex(table.index), _b=table["balance"].fillna(0.0))
    t = t.rename_axis("patient_id").reset_index()
    t = t.sort_values(
        ["sheet", "priority", "_m", "_b", "patient_id"], ascending=[True, False, True, False, True]
    )
    return t.set_index("patient_id").drop(columns=["_m", "_b"])


def why_first(seg: pd.DataFrame, t: Catalog, audit: Audit) -> list[str]:
    """A short reason per row: the chance a call brings the patient back, what a return is
    worth (and where that comes from), and how long ago the event was."""
    from .i18n import Formatter

    f = Formatter(audit.params.clinic.language, audit.params.clinic.currency)
    plan = seg["open_plan_balance"].fillna(0) + seg.get("refused_plan_total", 0.0)
    out = []
    for chance, value, months, p in zip(
        seg["chance"], seg["value"], seg["months_since_event"], plan, strict=True
    ):
        src = t("ranking.plan") if p >= value - 0.5 and p > 0 else t("ranking.visits")
        out.append(
            t(
                "ranking.text",
                chance=f.percent(chance, 1),
                value=f.money_short(value),
                source=src,
                months=f.number(months, 1),
            )
        )
    return out


def write_call_lists(audit: Audit, path: Path) -> dict[str, int]:
    """Write the workbook; returns rows per sheet."""
    t = Catalog(audit.params.clinic.language)
    table = call_table(audit)
    cur = audit.params.clinic.currency
    cols = [
        "priority",
        "why",
        "name",
        "phone",
        "email",
        "last_visit",
        "months",
        "doctor",
        "balance",
        "segment",
        "scenario",
        "outcome",
    ]
    widths = {"priority": 9, "why": 30, "name": 28, "phone": 17, "email": 24, "last_visit": 11,
              "months": 9, "doctor": 25, "balance": 12, "segment": 16, "scenario": 52,
              "outcome": 26}  # fmt: skip
    headers = [
        (t("ranking.col") if c == "why" else t(f"calls.col.{c}")).format(currency=cur) for c in cols
    ]
    sheets: dict[str, int] = {}
    import xlsxwriter

    with xlsxwriter.Workbook(path) as wb:
        wb.set_properties({"title": t("calls.title"), "comments": t("calls.note")})
        head = wb.add_format(
            {
                "bold": True,
                "bg_color": "#1f6f8b",
                "font_color": "#ffffff",
                "text_wrap": True,
                "valign": "top",
                "border": 1,
            }
        )
        wrap = wb.add_format({"text_wrap": True, "valign": "top", "font_size": 9})
        date = wb.add_format({"num_format": "dd.mm.yyyy", "valign": "top", "align": "left"})
        money = wb.add_format({"num_format": "# ##0", "valign": "top"})
        plain = wb.add_format({"valign": "top"})
        groups = [(s, table[(table["sheet"] == s) & ~table["refused_contact"]]) for s in SHEETS]
        groups.append(("do_not_contact", table[table["refused_contact"]]))
        for key, rows in groups:
            name = t(f"calls.sheet.{key}")[:31]
            df = rows[cols].copy()
            df["priority"] = range(1, len(df) + 1)  # 1 = call first
            ws = wb.add_worksheet(name)
            for j, h in enumerate(headers):
                ws.write_string(0, j, h, head)
            fmts = {"last_visit": date, "balance": money, "scenario": wrap,
                    "segment": wrap, "why": wrap}  # fmt: skip
            for i, row in enumerate(df.itertuples(index=False), start=1):
                for j, (c, value) in enumerate(zip(cols, row, strict=True)):
                    fmt = fmts.get(c, plain)
                    if (
                        value is None
                        or (isinstance(value, float) and pd.isna(value))
                        or (value is pd.NaT)
                    ):
                        ws.write_blank(i, j, None, fmt)
                    elif c == "last_visit":
                        ws.write_datetime(i, j, pd.Timestamp(value).to_pydatetime(), fmt)
                    elif isinstance(value, int | float):
                        ws.write_number(i, j, float(value), fmt)
                    else:
                        ws.write_string(i, j, str(value), fmt)
                ws.set_row(i, 36)  # room for the wrapped script (xlsx rows do not autofit)
            for j, c in enumerate(cols):
                ws.set_column(j, j, widths[c])
            ws.freeze_panes(1, 2)
            ws.autofilter(0, 0, max(len(df), 1), len(cols) - 1)
            ws.set_row(0, 32)
            ws.set_landscape()
            ws.set_paper(9)  # A4
            ws.fit_to_pages(1, 0)
            ws.repeat_rows(0)
            sheets[key] = int(len(df))
    return sheets
