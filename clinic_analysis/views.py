"""Section views: the report's tables, charts and plain-language readings, in the client's
language. Each takes the :class:`~clinic_analysis.audit.Audit` plus the catalogue ``t`` and
formatter ``f`` and returns something to ``display``; the figures come from ``audit``.
"""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
from IPython.display import HTML

from . import plots
from . import present as P
from .audit import Audit
from .i18n import Catalog, Formatter


CHART_MONTHS = 60  # monthly charts show the last five years


class Context:
    """What every view needs: the audit, the catalogue and the formatter."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit
        self.t = Catalog(audit.params.clinic.language)
        self.f = Formatter(audit.params.clinic.language, audit.params.clinic.currency)
        self.palette = plots.set_report_theme(audit.params.report.branding.colour)


# ----------------------------------------------------------------------------- about the data


def about_data_intro(c: Context) -> HTML:
    a, t, f = c.audit, c.t, c.f
    rows_in = sum(e.rows_in for e in a.data.ledger)
    kept = sum(e.rows_kept for e in a.data.ledger)
    systems = sorted({e.system for e in a.data.ledger})
    text = t(
        "about.intro",
        files=f.number(len(a.data.ledger)),
        systems=f.number(len(systems)),
        rows=f.number(rows_in),
        kept=f.number(kept),
        dropped=f.number(rows_in - kept),
        as_of=f.date(a.data.as_of),
    )
    return P.callout(html.escape(text))


def sources_table(c: Context) -> HTML:
    t, f = c.t, c.f
    df = c.audit.sources.copy()
    df["table"] = df["table"].map(lambda x: t(f"table.{x}"))
    df["period"] = [
        f"{f.date(lo, 'short')} – {f.date(hi, 'short')}" if lo else "—"
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


def ledger_table(c: Context) -> HTML:
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


def base_by_rule_table(c: Context) -> HTML:
    t, f = c.t, c.f
    by_rule = c.audit.metrics["base"]["by_rule"]
    chosen = c.audit.params.patient_rule
    import pandas as pd

    df = pd.DataFrame(
        {
            "rule": [t(f"rule.{r}") + (" ✓" if r == chosen else "") for r in by_rule],
            "patients": list(by_rule.values()),
        }
    )
    return P.table(
        df,
        formats={"patients": f.number},
        headers={"rule": t("about.col.rule"), "patients": t("about.col.patients")},
    )


def base_rule_note(c: Context) -> HTML:
    t = c.t
    rule = c.audit.params.patient_rule
    return P.paragraph(html.escape(t("about.rule_note", rule=t(f"rule.{rule}"))), muted=True)


# ----------------------------------------------------------------------------- base at a glance


def glance_kpis(c: Context) -> HTML:
    m, t, f = c.audit.metrics, c.t, c.f
    return P.kpis(
        [
            (f.number(m["base"]["patients"]), t("glance.kpi.patients")),
            (f.number(m["base"]["visits"]), t("glance.kpi.visits")),
            (f.money_short(m["revenue"]["total"]), t("glance.kpi.revenue")),
            (f.money(m["revenue"]["average_check"]), t("glance.kpi.average_check")),
        ]
    )


def glance_monthly_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    fig, ax = plt.subplots(figsize=plots.WIDE)
    plots.plot_monthly(
        c.audit.monthly.tail(CHART_MONTHS),
        ax=ax,
        title=t("glance.chart.monthly"),
        bars_label=t("glance.axis.revenue"),
        line_label=t("glance.axis.patients"),
        money_fmt=f.money_short,
        number_fmt=f.number,
        month_fmt=f.month,
    )
    return P.figure(fig, t("glance.caption.monthly"))


def glance_new_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    fig, ax = plt.subplots(figsize=plots.WIDE)
    plots.plot_new_patients(
        c.audit.monthly.tail(CHART_MONTHS),
        ax=ax,
        title=t("glance.chart.new"),
        new_label=t("glance.axis.new"),
        base_label=t("glance.axis.base"),
        number_fmt=f.number,
        month_fmt=f.month,
    )
    return P.figure(fig, t("glance.caption.new"))


def glance_reading(c: Context) -> HTML:
    """A plain-language reading of the last 12 months against the 12 before."""
    t, f = c.t, c.f
    mo = c.audit.monthly
    if len(mo) < 24:
        return P.callout(html.escape(t("glance.reading_short", months=f.number(len(mo)))))
    last, prev = mo.tail(12), mo.iloc[-24:-12]
    rev_l, rev_p = last["revenue"].sum(), prev["revenue"].sum()
    new_l, new_p = last["new_patients"].sum(), prev["new_patients"].sum()
    change = (rev_l / rev_p - 1) if rev_p else None
    new_change = (new_l / new_p - 1) if new_p else None
    key = "glance.reading_up" if (change or 0) >= 0 else "glance.reading_down"
    text = t(
        key,
        revenue=f.money_short(rev_l),
        change=f.percent(abs(change), 0) if change is not None else "—",
        new=f.number(new_l),
        new_change=(("+" if new_change >= 0 else "−") + f.percent(abs(new_change)))
        if new_change is not None
        else "—",
        best=f.month(last.loc[last["revenue"].idxmax(), "month"], "wide"),
    )
    return P.callout(html.escape(text))


# ----------------------------------------------------------------------------- data quality


def merges_note(c: Context) -> HTML:
    t, f = c.t, c.f
    m = c.audit.metrics["data_quality"]["merges"]
    text = t(
        "quality.merges",
        persons=f.number(m["persons"]),
        records=f.number(m["source_records"]),
        across=f.number(m["across_systems"]),
        within=f.number(m["within_a_system"]),
    )
    return P.paragraph(html.escape(text))


def anomalies_table(c: Context) -> HTML:
    import pandas as pd

    t, f = c.t, c.f
    a = c.audit.metrics["data_quality"]["anomalies"]
    rows = [
        (t(f"quality.anomaly.{k}"), f.money(v) if k.endswith("_amount") else f.number(v))
        for k, v in a.items()
    ]
    df = pd.DataFrame(rows, columns=["what", "n"])
    return P.table(
        df, numeric=["n"], headers={"what": t("quality.col.what"), "n": t("quality.col.n")}
    )


def warnings_block(c: Context) -> HTML:
    t, f = c.t, c.f
    dq = c.audit.metrics["data_quality"]
    parts = [
        P.callout(html.escape(t(f"quality.warn.{k}", n=f.number(n))), kind="warn").data
        for k, n in dq["warnings"].items()
    ]
    for table in dq["missing_tables"]:
        parts.append(
            P.callout(html.escape(t(f"quality.missing.{table}")), kind="warn").data
        )
    if not parts:
        parts.append(P.callout(html.escape(t("quality.no_warnings"))).data)
    return HTML("".join(parts))
