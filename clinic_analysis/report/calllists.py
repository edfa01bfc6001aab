"""The call lists: ``reports/<clinic>/call_lists.xlsx`` for the front desk.

A sheet per segment worth calling (and one for returning patients at risk), rows ranked by
the value of calling now (refusers.call_value: P(comes back if called) = segment rate ×
freshness × P(alive), × the value of a return), fresher first at equal value, with a short
"why first" column, the MIS card ids, the patient's name and contacts,
the last visit (and a no-show's missed appointment), doctor and plan balance. The segment's
explanation and script sit once in a header block; the outcome (a drop-down), the refusal
reason, the date called and who called are for the front desk to fill in: the next audit
reads them back (:mod:`clinic_analysis.measures.followup`). A hidden sheet ``_meta`` names each
sheet's segment and columns. Printed: A4 landscape, fit to width at 9 pt or more, the
table header repeated. Patients who refused communication (or were marked "do not call"
on the last lists) are listed apart on their own sheet, never mixed in. Patients with no
phone and no e-mail are left off (counted in metrics). The same audit gives the same bytes.
This is the only output that carries names, phones and e-mails.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import phonenumbers

from clinic_analysis.measures.refusers import CALL_SEGMENTS, patient_features
from clinic_analysis.report.i18n import Catalog

if TYPE_CHECKING:
    from clinic_analysis.audit import Audit

AT_RISK_SHEET = "returning_at_risk"
SHEETS = (*CALL_SEGMENTS, AT_RISK_SHEET)


def sheet_counts(table: pd.DataFrame) -> dict[str, int]:
    """Rows per sheet: consenting patients per segment, and those who refused contact."""
    ok = table[~table["refused_contact"] & ~table["uncontactable"]]
    out = {s: int((ok["sheet"] == s).sum()) for s in SHEETS}
    out["do_not_contact"] = int(table["refused_contact"].sum())
    return out


def _pretty_phone(e164) -> str:
    if not isinstance(e164, str):
        return ""
    return _international(e164)


@lru_cache(maxsize=1 << 20)  # the lists are built three times a run (metrics, follow-up, file)
def _international(e164: str) -> str:
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


def _last_missed(audit: Audit, persons: pd.Index) -> pd.Series:
    """The last missed appointment (no-show, cancelled, or a booking left in the past), by
    the segmentation's own rule."""
    data = audit.data
    return patient_features(data.visits, data.plans.iloc[0:0], data.as_of, persons)["last_missed"]


def call_table(audit: Audit) -> pd.DataFrame:
    """Everyone worth a call, with contacts, ranked within each sheet by priority."""
    t = Catalog(audit.params.clinic.language)
    seg = audit.refusers.segments.copy()
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
            "why_first": why_first(seg, t, audit),
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
            "source_ids": cards.get("source_ids", None),
            "missed": pd.to_datetime(_last_missed(audit, seg.index)).dt.date,
        },
        index=seg.index,
    )
    # "do not call" marked on the last audit's filled-in lists carries forward
    dnc = audit.followup.do_not_call if audit.followup is not None else []
    out["refused_contact"] |= out.index.isin(dnc)
    out["uncontactable"] = (out["phone"] == "") & (out["email"] == "")
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
    """A short reason per row: the chance a call brings the patient back × what a return is
    worth (a plan's balance or the patient's typical visits); the dates stand beside."""
    lang, cur = audit.params.clinic.language, audit.params.clinic.currency
    return [
        t(
            "ranking.text",
            chance=_formatted(lang, cur, "percent", chance, repr(chance), 1),
            value=_formatted(lang, cur, "money_short", value, repr(value)),
        )
        for chance, value in zip(seg["chance"], seg["value"], strict=True)
    ]


@lru_cache(maxsize=1 << 20)
def _formatted(language: str, currency: str, how: str, x, key: str, *args) -> str:
    """``Formatter(language, currency).<how>(x, *args)``, once per distinct value: babel
    takes ~0.1 ms a number, and the models give many patients the same figures. ``key`` is
    ``repr(x)``, so that 0.0 and -0.0 (equal as keys) are told apart."""
    from clinic_analysis.report.i18n import Formatter

    return getattr(Formatter(language, currency), how)(x, *args)


def call_metrics(table: pd.DataFrame) -> dict:
    """``calls`` in metrics.json: rows per sheet, and per segment the patients nobody can
    contact (no phone, no e-mail), who are said here and left off the lists."""
    return {
        "sheets": sheet_counts(table),
        "uncontactable": {
            s: int((table["uncontactable"] & (table["sheet"] == s)).sum()) for s in SHEETS
        },
    }


# the outcome drop-down and the refusal reasons (keys; their texts are in the catalogue)
OUTCOMES = ("not_reached", "call_back", "booked", "refused", "wrong_number", "do_not_call")
REASONS = ("price", "treated_elsewhere", "no_time", "fear", "doubts", "other")
META_SHEET = "_meta"
META_FORMAT = "clinic-audit call lists 1"
HEADER_ROWS = 5  # title, who, script, how to fill in, blank; the table header follows
# column widths (Excel character units); columns empty on a sheet are left out
WIDTHS = {"rank": 4, "why_first": 13, "card": 12, "name": 22, "phone": 16, "email": 19,
          "last_visit": 10, "missed": 10, "doctor": 14, "balance": 8, "segment": 14,
          "outcome": 12, "reason": 11, "called_on": 9, "called_by": 8}  # fmt: skip
OPTIONAL = ("why_first", "email", "last_visit", "missed", "doctor", "balance")
FONT_PT = 12  # printed "fit to width" at 9 pt or more (see print_scale)
MARGIN_IN = 0.25  # left and right
FIT_WIDTH_PX = (11.69 - 2 * MARGIN_IN) * 96  # A4 landscape, printable width in pixels
# pixels per width unit: Excel's is 7 (Calibri); LibreOffice without Calibri draws ~8.5
PX_PER_CHAR = 8.5


MIN_PRINTED_PT = 10.0  # 9 pt with room for the padding a spreadsheet adds to each column
FLEXIBLE = ("name", "email", "doctor", "segment")  # narrowed when a sheet is too wide
WRAPPED = ("why_first", *FLEXIBLE)  # their text wraps; the row grows to show it all
LINE_PT = 15.0  # one line of the table's text


def print_scale(widths: list[float]) -> float:
    """The scale "fit to page width" prints columns of these widths at (at most 1),
    reckoned for the widest default font a spreadsheet may substitute."""
    return min(1.0, FIT_WIDTH_PX / sum(w * PX_PER_CHAR + 5 for w in widths))


def column_widths(keys: list[str]) -> list[float]:
    """The columns' widths, the flexible ones narrowed so that the sheet prints at
    ``MIN_PRINTED_PT`` or more when fit to the page width."""
    widths = [WIDTHS[k] for k in keys]
    budget = (FIT_WIDTH_PX * FONT_PT / MIN_PRINTED_PT - 5 * len(keys)) / PX_PER_CHAR
    excess = sum(widths) - budget
    flex = sum(w for k, w in zip(keys, widths, strict=True) if k in FLEXIBLE)
    if excess > 0 and flex:
        f = max(0.4, 1 - excess / flex)
        widths = [w * f if k in FLEXIBLE else w for k, w in zip(keys, widths, strict=True)]
    return [round(w, 1) for w in widths]


def row_lines(row: dict, widths: dict[str, float]) -> int:
    """Lines the row needs when its wrapped columns break their text at their widths
    (words kept whole; a width unit holds about one character of the table's font)."""
    need = 1
    for c in WRAPPED:
        text = row.get(c)
        if c not in widths or not _filled(text):
            continue
        width, lines, used = max(int(widths[c]), 1), 1, 0
        for word in str(text).split():
            if used and used + 1 + len(word) > width:
                lines, used = lines + 1, len(word)
            else:
                used += (1 if used else 0) + len(word)
            lines += (len(word) - 1) // width if len(word) > width else 0
        need = max(need, lines)
    return need


def card_text(source_ids) -> str:
    """The card ids the front desk finds in the MIS: ``mis:123`` (several cards of one
    person: ``mis:123, mis:456``)."""
    if not isinstance(source_ids, list | tuple) or not len(source_ids):
        return ""
    return ", ".join(str(s) for s in source_ids)


def short_name(full) -> str:
    """``Коваленко Олена Вікторівна`` -> ``Коваленко О. В.`` (surname, name, patronymic):
    a doctor's name that fits its column on paper (a long name would spill into the empty
    outcome cells). Other names are kept as they are."""
    parts = str(full or "").split()
    if len(parts) != 3 or any(p.endswith(".") for p in parts):
        return " ".join(parts)
    return f"{parts[0]} {parts[1][0]}. {parts[2][0]}."


def card_keys(text) -> list[str]:
    """The source keys (``system:id``) a card cell names: the inverse of :func:`card_text`."""
    if text is None:
        return []
    return [p.strip() for p in str(text).split(",") if p.strip()]


def _columns(key: str, rows: pd.DataFrame) -> list[str]:
    cols = ["rank", "why_first", "card", "name", "phone", "email", "last_visit", "missed",
            "doctor", "balance"]  # fmt: skip
    cols += ["segment"] if key == "do_not_contact" else []
    cols += ["outcome", "reason", "called_on", "called_by"]
    keep = []
    for c in cols:
        if c in OPTIONAL and (c not in rows or not rows[c].map(_filled).any()):
            continue
        keep.append(c)
    return keep


def _filled(v) -> bool:
    return not (v is None or v is pd.NaT or v == "" or (isinstance(v, float) and pd.isna(v)))


def write_call_lists(audit: Audit, path: Path) -> dict[str, int]:
    """Write the workbook; returns rows per sheet. Same audit, same bytes."""
    import xlsxwriter

    lang = audit.params.clinic.language
    t = Catalog(lang)
    table = call_table(audit)
    cur = audit.params.clinic.currency
    as_of = pd.Timestamp(audit.data.as_of).normalize().to_pydatetime()
    table = table.assign(
        rank=0,
        card=table["source_ids"].map(card_text),
        doctor=table["doctor"].map(short_name),
        missed=table["missed"].where(table["sheet"] == "no_show"),
        outcome="",
        reason="",
        called_on=None,
        called_by="",
    )
    outcomes = [t(f"calls.outcome.{o}") for o in OUTCOMES]
    reasons = [t(f"calls.reason.{r}") for r in REASONS]
    sheets: dict[str, int] = {}
    with xlsxwriter.Workbook(path, {"remove_timezone": True}) as wb:
        wb.set_properties(
            {"title": t("calls.title"), "comments": t("calls.note"), "created": as_of}
        )
        base = {"font_size": FONT_PT, "valign": "top"}
        head = wb.add_format({**base, "bold": True, "bg_color": "#1f6f8b",
                              "font_color": "#ffffff", "text_wrap": True, "border": 1})  # fmt: skip
        title = wb.add_format({**base, "bold": True, "font_size": 14})
        block = wb.add_format({**base, "text_wrap": True})
        date = wb.add_format({**base, "num_format": "dd.mm.yyyy", "align": "left"})
        money = wb.add_format({**base, "num_format": "# ##0"})
        plain = wb.add_format(base)
        entry = wb.add_format(
            {**base, "bg_color": "#fff8e1", "border": 1, "border_color": "#cccccc"}
        )
        entry_date = wb.add_format({**base, "bg_color": "#fff8e1", "border": 1,
                                    "border_color": "#cccccc", "num_format": "dd.mm.yyyy"})  # fmt: skip
        wrap = wb.add_format({**base, "text_wrap": True, "valign": "top"})
        fmts = {"last_visit": date, "missed": date, "balance": money, "outcome": entry,
                "reason": entry, "called_on": entry_date, "called_by": entry}  # fmt: skip
        # narrowed columns wrap instead of cutting a name or a reason on paper
        fmts.update(dict.fromkeys(WRAPPED, wrap))
        ok = ~table["refused_contact"] & ~table["uncontactable"]
        groups = [(s, table[(table["sheet"] == s) & ok]) for s in SHEETS]
        groups.append(("do_not_contact", table[table["refused_contact"]]))
        meta_rows = [["format", META_FORMAT], ["as_of", as_of.date().isoformat()],
                     ["language", lang], ["clinic", audit.params.slug]]  # fmt: skip
        for key, rows in groups:
            if rows.empty:  # never an empty sheet: metrics say how many were left off
                continue
            rows = rows.copy()
            rows["rank"] = range(1, len(rows) + 1)  # 1 = call first
            if key == "do_not_contact":
                rows["outcome"] = t("calls.outcome.do_not_call")
                rows["segment"] = [t(f"calls.sheet.{s}") for s in rows["sheet"]]
            cols = _columns(key, rows)
            name = t(f"calls.sheet.{key}")[:31]
            ws = wb.add_worksheet(name)
            last = len(cols) - 1
            about = "returning_at_risk" if key == "returning_at_risk" else key
            ws.set_row(0, 20)
            ws.write_string(0, 0, f"{t(f'calls.sheet.{key}')}: {len(rows)}", title)
            ws.merge_range(1, 0, 1, last, t(f"calls.about.{about}"), block)
            script = (
                audit.params.refusers.scripts.get(key) or t(f"calls.script.{key}")
                if key != "do_not_contact"
                else t("calls.dnc_note")
            )
            ws.merge_range(2, 0, 2, last, f"{t('calls.col.scenario')}: {script}", block)
            ws.set_row(1, 18)
            ws.set_row(2, 34)
            ws.merge_range(3, 0, 3, last, t("calls.how_to_fill"), block)
            ws.set_row(3, 34)
            hr = HEADER_ROWS
            widths = column_widths(cols)
            for j, (c, w) in enumerate(zip(cols, widths, strict=True)):
                ws.write_string(hr, j, t(f"calls.col.{c}").format(currency=cur), head)
                ws.set_column(j, j, w)
            ws.set_row(hr, 30)
            width_of = dict(zip(cols, widths, strict=True))
            for i, rec in enumerate(rows[cols].itertuples(index=False), start=hr + 1):
                lines = row_lines(dict(zip(cols, rec, strict=True)), width_of)
                if lines > 1:  # a spreadsheet keeps stored heights: give wrapped text room
                    ws.set_row(i, LINE_PT * lines)
                for j, (c, value) in enumerate(zip(cols, rec, strict=True)):
                    fmt = fmts.get(c, plain)
                    if not _filled(value):
                        ws.write_blank(i, j, None, fmt)
                    elif c in ("last_visit", "missed"):
                        ws.write_datetime(i, j, pd.Timestamp(value).to_pydatetime(), fmt)
                    elif isinstance(value, int | float):
                        ws.write_number(i, j, float(value), fmt)
                    else:
                        ws.write_string(i, j, str(value), fmt)
            first, end = hr + 1, hr + len(rows)
            if key != "do_not_contact":
                oc, rc = cols.index("outcome"), cols.index("reason")
                ws.data_validation(first, oc, end, oc, {"validate": "list", "source": outcomes})
                ws.data_validation(first, rc, end, rc, {"validate": "list", "source": reasons})
                dc = cols.index("called_on")
                ws.data_validation(
                    first, dc, end, dc,
                    {"validate": "date", "criteria": ">=", "value": as_of,
                     "error_message": t("calls.date_error")},
                )  # fmt: skip
            ws.freeze_panes(hr + 1, 0)
            ws.autofilter(hr, 0, end, last)
            ws.set_landscape()
            ws.set_paper(9)  # A4
            ws.set_margins(left=MARGIN_IN, right=MARGIN_IN, top=0.5, bottom=0.5)
            ws.fit_to_pages(1, 0)
            ws.repeat_rows(hr)
            ws.set_footer(f"&L{name}&R&P / &N")
            meta_rows.append(["sheet", name, key, hr + 1, *cols])
            sheets[key] = int(len(rows))
        if not sheets:  # nobody to call: one sheet that says so, never an empty one
            ws = wb.add_worksheet(t("calls.title")[:31])
            ws.write_string(0, 0, t("calls.nobody"), title)
        meta = wb.add_worksheet(META_SHEET)
        for i, r in enumerate(meta_rows):
            for j, v in enumerate(r):
                meta.write(i, j, v)
        meta.very_hidden()
    return sheets
