"""Section 5, the repeat index: who comes back, when, and by doctor, channel, cohort."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt

from clinic_analysis.report import plots, theme
from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Chart, Element, Group, Kpis, deferred
from clinic_analysis.report.views.context import (
    Context,
    _amounts,
    _covered,
    _enough,
    _money,
    _too_little,
)


def repeat_kpis(c: Context) -> Kpis:
    r, t, f = c.audit.repeat, c.t, c.f
    ok = r.status_12m == "ok"
    return P.kpis(
        [
            (f.percent(r.rate_12m), t("rep.kpi.rate_12m" if ok else "rep.kpi.rate_12m_short")),
            (f.percent(r.rate), t("rep.kpi.rate_lifetime")),
            (f.number(r.median_days_to_second), t("rep.kpi.median_days")),
            (
                f.percent(c.audit.revenue.repeat_share) if _amounts(c) else _money(c, None),
                t("rep.kpi.repeat_share"),
            ),
        ]
    )


def repeat_reading(c: Context) -> Callout:
    r, t, f = c.audit.repeat, c.t, c.f
    w = r.returned_within
    ret = r.new_patient_retention
    if r.status_12m != "ok":
        text = t("rep.reading_short", lifetime=f.percent(r.rate))
        return P.callout(html.escape(text))
    fields = dict(
        rate=f.percent(r.rate_12m),
        eligible=f.number(r.eligible_12m),
        lifetime=f.percent(r.rate),
        w90=f.percent(w["90"]["rate"]),
        w180=f.percent(w["180"]["rate"]),
        w365=f.percent(w["365"]["rate"]),
    )
    parts = [t("rep.reading_12m", **fields)]
    if all(w[k]["rate"] is not None for k in ("90", "180", "365")):
        parts.append(t("honest.rep_windows", **fields))
    if _amounts(c):
        parts.append(t("honest.rep_share", share=f.percent(c.audit.revenue.repeat_share)))
    else:
        parts.append(t("honest.rep_share_not_exported"))
    text = " ".join(parts)
    if ret is not None:  # no retention figure, no sentence about it
        key = "rep.retention_above" if ret >= r.retention_mark else "rep.retention_below"
        text += " " + t(key, retention=f.percent(ret), mark=f.percent(r.retention_mark))
    return P.callout(html.escape(text))


@deferred
def repeat_days_chart(c: Context) -> Chart | Callout:
    t = c.t
    d = c.audit.repeat.days_to_second
    if d is None or d.empty:
        return P.callout(html.escape(t("rep.no_repeats")), kind="warn")
    fig, ax = plt.subplots(figsize=theme.WIDE)
    plots.plot_days_to_second(
        d["days_to_second"],
        ax=ax,
        title=t("rep.chart.days"),
        xlabel=t("rep.axis.days"),
        ylabel=t("rep.axis.patients"),
        median_label=t("rep.median"),
    )
    return P.figure(fig, t("rep.caption.days"))


@deferred
def repeat_retention_chart(c: Context) -> Chart | Callout:
    t, f = c.t, c.f
    ret = _covered(c, c.audit.repeat.retention_by_month)
    if not _enough(c):
        return _too_little(c)
    if ret is None or ret.empty:
        return P.callout(html.escape(t("rep.no_retention")), kind="warn")
    fig, ax = plt.subplots(figsize=theme.WIDE)
    mark = c.audit.repeat.retention_mark
    plots.plot_retention(
        ret.tail(36),
        ax=ax,
        title=t("rep.chart.retention"),
        mark=mark,
        mark_label=t("rep.mark", mark=f.percent(mark)),
        rate_label=t("rep.axis.retention"),
        pct_fmt=f.percent,
        month_fmt=f.month,
    )
    return P.figure(fig, t("rep.caption.retention"))


def _group_label(c: Context, name: str, group: str) -> str:
    if group == "__other__":
        return c.t("rep.other")
    if name == "by_promo":
        return c.t(f"rep.promo.{group}")
    return group


@deferred
def repeat_breakdown(c: Context, name: str) -> Group | Callout:
    """Dot chart and table of one breakdown (by_doctor, by_service_line, ...)."""
    t, f = c.t, c.f
    r = c.audit.repeat
    table = r.breakdowns.get(name)
    if table is None and name not in r.not_available:
        return P.callout(html.escape(t("rep.breakdown_short")), kind="warn")
    if table is None:
        return P.callout(html.escape(t(f"rep.na.{name}")), kind="warn")
    table = table.copy()
    table["label"] = [_group_label(c, name, g) for g in table["group"]]
    parts: list[Element] = []
    if len(table) > 1:  # a single group says nothing the table does not
        fig, ax = plt.subplots(figsize=(10, max(1.6, 0.42 * len(table) + 0.9)))
        plots.plot_rates(
            table,
            ax=ax,
            title=t(f"rep.chart.{name}"),
            overall=r.rate_12m,
            overall_label=t("rep.overall"),
            pct_fmt=f.percent,
        )
        parts.append(P.figure(fig))
    df = table[["label", "patients", "rate", "low", "high"]].copy()
    df["interval"] = [
        f"{f.percent(lo)}–{f.percent(hi)}" for lo, hi in zip(df["low"], df["high"], strict=True)
    ]
    parts.append(
        P.table(
            df[["label", "patients", "rate", "interval"]],
            formats={"patients": f.number, "rate": f.percent},
            numeric=["interval"],
            headers={
                "label": t(f"rep.col.{name}"),
                "patients": t("rep.col.patients"),
                "rate": t("rep.col.rate"),
                "interval": t("rep.col.interval"),
            },
        )
    )
    pooled = c.audit.repeat.pooled_groups.get(name, 0)
    if pooled:
        min_size = f.number(r.min_group_size)
        text = t("rep.pooled", n=f.number(pooled), min=min_size)
        parts.append(P.paragraph(html.escape(text), muted=True))
    if name == "by_cohort_year":
        parts.append(P.paragraph(html.escape(t("rep.censoring")), muted=True))
    return Group(parts)


@deferred
def repeat_cohort_chart(c: Context) -> Chart | Callout:
    t = c.t
    share = c.audit.repeat.cohorts
    if not _enough(c):
        return _too_little(c)
    if share is None or share.empty:
        return P.callout(html.escape(t("rep.no_retention")), kind="warn")
    fig, ax = plt.subplots(figsize=(10, 0.36 * len(share) + 1.4))
    plots.plot_cohorts(
        share,
        ax=ax,
        title=t("rep.chart.cohorts"),
        xlabel=t("rep.axis.quarters"),
        ylabel=t("rep.axis.cohort"),
    )
    return P.figure(fig, t("rep.caption.cohorts"))
