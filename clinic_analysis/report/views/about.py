"""Section 1, about the data: sources, the row ledger, the rules of who is a patient, data quality."""

from __future__ import annotations

import html

import pandas as pd

from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Element, Group, Paragraph, Table
from clinic_analysis.report.views.context import Context


def about_data_intro(c: Context) -> Callout:
    a, t, f = c.audit, c.t, c.f
    rows = a.data_quality.rows
    text = t(
        "about.intro",
        files=f.number(rows["files"]),
        systems=f.number(rows["systems"]),
        rows=f.number(rows["rows_in"]),
        kept=f.number(rows["rows_kept"]),
        dropped=f.number(rows["rows_not_kept"]),
        as_of=f.date(a.data.as_of),
    )
    return P.callout(html.escape(text))


def sources_table(c: Context) -> Table:
    t, f = c.t, c.f
    df = c.audit.sources.copy()
    df["table"] = df["table"].map(lambda x: t(f"table.{x}"))
    df["period"] = [
        f"{f.date(lo, 'short')} – {f.date(hi, 'short')}" if isinstance(lo, str) else "—"
        for lo, hi in zip(df["date_min"], df["date_max"], strict=True)
    ]
    df = df[
        ["system", "table", "file", "rows_in", "rows_kept", "rows_merged", "rows_dropped", "period"]
    ]
    return P.table(
        df,
        formats={k: f.number for k in ("rows_in", "rows_kept", "rows_merged", "rows_dropped")},
        headers={k: t(f"about.col.{k}") for k in df.columns},
    )


def ledger_table(c: Context) -> Table | Callout:
    t, f = c.t, c.f
    df = c.audit.reasons.copy()
    if df.empty:
        return P.callout(html.escape(t("about.no_drops")))
    df["table"] = df["table"].map(lambda x: t(f"table.{x}"))
    df["reason"] = df["reason"].map(t.reason)
    return P.table(
        df,
        formats={"rows": f.number},
        headers={k: t(f"about.col.{k}") for k in df.columns},
    )


def base_by_rule_table(c: Context) -> Table:
    t, f = c.t, c.f
    by_rule = c.audit.base.by_rule
    chosen = c.audit.params.patient_rule
    df = pd.DataFrame(
        {
            "rule": [t(f"rule.{r}") + (" ✓" if r == chosen else "") for r in by_rule],
            "patients": list(by_rule.values()),
        }
    )
    ne = t("honest.not_exported")
    return P.table(
        df,
        formats={"patients": lambda x: ne if x is None or x != x else f.number(x)},
        headers={"rule": t("about.col.rule"), "patients": t("about.col.patients")},
    )


def base_rule_note(c: Context) -> Paragraph:
    t = c.t
    rule = c.audit.params.patient_rule
    return P.paragraph(html.escape(t("about.rule_note", rule=t(f"rule.{rule}"))), muted=True)


def merges_note(c: Context) -> Paragraph:
    t, f = c.t, c.f
    m = c.audit.data_quality.merges
    text = t(
        "quality.merges",
        persons=f.number(m["persons"]),
        records=f.number(m["source_records"]),
        across=f.number(m["across_systems"]),
        within=f.number(m["within_a_system"]),
    )
    return P.paragraph(html.escape(" ".join([text, *_identity_sentences(c)])))


def _identity_sentences(c: Context) -> list[str]:
    """How cards were joined and which phones several people share: counts only."""
    t, f = c.t, c.f
    idn = c.audit.data_quality.identity or {}
    rules = c.audit.params.identity
    if not idn:
        return []
    by = idn["merges_by_rule"]
    out = []
    if idn["merged_cards"]:
        out.append(
            t(
                "identity.merged",
                n=f.number(idn["merged_cards"]),
                phone=f.number(idn["merged_by_phone"]),
                name=f.number(by.get("name_birth_date", 0)),
            )
        )
    if idn["shared_lines"] is None:
        return [*out, t("identity.no_phones")]
    if not rules.match_on_phone:
        out.append(t("identity.phone_off"))
    if idn["phones_shared_by_family"]:
        key = "identity.family" if rules.require_name_match else "identity.family_merged"
        out.append(
            t(
                key,
                phones=f.number(idn["phones_shared_by_family"]),
                people=f.number(idn["people_on_family_phones"]),
            )
        )
    if idn["shared_lines"]:
        out.append(
            t(
                "identity.shared_lines",
                lines=f.number(idn["shared_lines"]),
                min=f.number(rules.shared_phone_min_people),
                cards=f.number(idn["cards_on_shared_lines"]),
            )
        )
    if not idn["phones_shared_by_family"] and not idn["shared_lines"]:
        out.append(t("identity.no_shared"))
    if idn["ambiguous_cards"]:
        out.append(t("identity.ambiguous", n=f.number(idn["ambiguous_cards"])))
    return out


def anomalies_table(c: Context) -> Table:
    t, f = c.t, c.f
    a = c.audit.data_quality.anomalies
    rows = [
        (
            t(f"quality.anomaly.{k}"),
            (f.money(v) if v else "—") if k.endswith("_amount") else f.number(v),
        )
        for k, v in a.items()
    ]
    df = pd.DataFrame(rows, columns=["what", "n"])
    return P.table(
        df, numeric=["n"], headers={"what": t("quality.col.what"), "n": t("quality.col.n")}
    )


def warnings_block(c: Context) -> Group:
    """One warning per data-quality problem, or one line saying there is none."""
    t, f = c.t, c.f
    dq = c.audit.data_quality
    parts: list[Element] = [
        P.callout(html.escape(t(f"quality.warn.{k}", n=f.number(n))), kind="warn")
        for k, n in dq.warnings.items()
    ]
    for table in dq.missing_tables:
        parts.append(P.callout(html.escape(t(f"quality.missing.{table}")), kind="warn"))
    if not parts:
        parts.append(P.callout(html.escape(t("quality.no_warnings"))))
    return Group(parts)
