"""Section 6, card completeness: which fields of the patient cards are filled."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import pandas as pd

from clinic_analysis.report import plots
from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Chart, Group, Kpis, Table, deferred
from clinic_analysis.report.views.context import Context, _or_missing


def completeness_kpis(c: Context) -> Kpis:
    m, t, f = c.audit.completeness, c.t, c.f
    fields = m.fields

    def pct(x):
        return _or_missing(c, f.percent, x)

    return P.kpis(
        [
            (pct(m.contactable), t("comp.kpi.contactable")),
            (pct(fields.get("phone")), t("comp.kpi.phone")),
            (pct(fields.get("email")), t("comp.kpi.email")),
            (pct(m.mean_score), t("comp.kpi.score")),
        ]
    )


@deferred
def completeness_chart(c: Context) -> Chart | Group:
    t, f = c.t, c.f
    m = c.audit.completeness
    shares = pd.Series({t(f"comp.field.{k}"): v for k, v in m.fields.items() if v is not None})
    if m.contactable is not None:
        shares[t("comp.field.contactable")] = m.contactable
    if shares.empty:
        return Group([])
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(shares) + 1.0))
    plots.plot_shares(shares, ax=ax, title=t("comp.chart.fields"), pct_fmt=f.percent)
    return P.figure(fig, t("comp.caption.fields"))


def completeness_by_year_table(c: Context) -> Table | Group:
    """Fields as rows, the last six first-visit years as columns (fits an A4 page)."""
    t, f = c.t, c.f
    by_year = c.audit.completeness.by_year_table
    if by_year is None or by_year.empty:
        return Group([])
    wide = by_year.set_index("year").tail(6).T
    if c.audit.completeness.contactable is None:  # no phone or e-mail exported
        wide = wide.drop(index="contactable", errors="ignore")
    if wide.empty:
        return Group([])
    df = pd.DataFrame({"field": [t(f"comp.field.{k}") for k in wide.index]})
    years = [str(y) for y in wide.columns]
    for y, col in zip(years, wide.columns, strict=True):
        df[y] = wide[col].to_numpy()
    return P.table(
        df, formats={y: f.percent for y in years}, headers={"field": t("comp.col.field")}
    )


def completeness_reading(c: Context) -> Callout:
    t, f = c.t, c.f
    m = c.audit.completeness
    if m.contactable is None:
        parts = [t("honest.no_contacts")]
    else:
        parts = [
            t(
                "comp.reading",
                contactable=f.percent(m.contactable),
                n=f.number(c.audit.completeness.uncontactable),
            )
        ]
    if m.not_exported:
        parts.append(
            t(
                "comp.not_exported",
                fields=", ".join(t(f"comp.field.{x}") for x in m.not_exported),
            )
        )
    return P.callout(html.escape(" ".join(parts)))
