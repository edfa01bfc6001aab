"""Section views: the report's tables, charts and plain-language readings, in the client's
language. Each takes the :class:`~clinic_analysis.audit.Audit` plus the catalogue ``t`` and
formatter ``f`` and returns something to ``display``; the figures come from ``audit``.
"""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
from IPython.display import HTML

from . import gaps, plots
from . import present as P
from .audit import Audit
from .history import TOO_LITTLE_HISTORY
from .i18n import Catalog, Formatter

CHART_MONTHS = 60  # monthly charts show the last five years


class Context:
    """What every view needs: the audit, the catalogue and the formatter."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit
        self.t = Catalog(audit.params.clinic.language)
        self.f = Formatter(audit.params.clinic.language, audit.params.clinic.currency)
        self.palette = plots.set_report_theme(audit.params.report.branding.colour)


# ----------------------------------------------------------------------------- honesty
# A figure whose column was not exported reads "not exported"; one that needs more history
# than the data holds reads "too little history". Neither is ever printed as a zero.


def _amounts(c: Context) -> bool:
    return gaps.has_amounts(c.audit.data)


def _money(c: Context, x, short: bool = True) -> str:
    """Money, or "not exported" when the visits carry no amounts."""
    if not _amounts(c):
        return c.t("honest.not_exported")
    return c.f.money_short(x) if short else c.f.money(x)


def _no_amounts(c: Context) -> HTML:
    return P.callout(html.escape(c.t("honest.no_amounts")), kind="warn")


def _history(c: Context) -> dict:
    return c.audit.metrics.get("history", {})


def _enough(c: Context) -> bool:
    return bool(_history(c).get("enough", True))


def _too_little(c: Context, needed: int | None = None) -> HTML:
    """One sentence: the months of history available and needed."""
    h = _history(c)
    text = c.t(
        "honest.too_little_history",
        months=c.f.number(h.get("months"), 1),
        needed=c.f.number(needed or h.get("min_months")),
    )
    return P.callout(html.escape(text), kind="warn")


def _covered(c: Context, df):
    """The rows of a monthly frame from the first month the data covers."""
    import pandas as pd

    first = c.audit.metrics["base"].get("first_visit")
    if df is None or df.empty or first is None:
        return df
    start = pd.Timestamp(first).to_period("M").to_timestamp()
    return df[df["month"] >= start].reset_index(drop=True)


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
    ne = t("honest.not_exported")
    return P.table(
        df,
        formats={"patients": lambda x: ne if x is None or x != x else f.number(x)},
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
            (_money(c, m["revenue"]["total"]), t("glance.kpi.revenue")),
            (_money(c, m["revenue"]["average_check"], short=False), t("glance.kpi.average_check")),
        ]
    )


def glance_monthly_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    if not _amounts(c):
        return _no_amounts(c)
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
    m = c.audit.metrics
    mo = c.audit.monthly
    if not _history(c).get("year_on_year", len(mo) >= 24):
        return _too_little(c, _history(c).get("year_on_year_months"))
    # the one "last 12 months" window (summary.last_12_months), as dynamics and activity
    new_l, new_p = m["base"]["new_last_12m"], m["base"]["new_prev_12m"]
    if not _amounts(c):
        text = t(
            "honest.glance_no_amounts",
            new=f.number(new_l),
            new_change=_pct_signed(f, (new_l / new_p - 1) if new_p else None),
        )
        return P.callout(html.escape(text))
    last = mo.tail(12)
    rev_l = m["revenue"]["last_12m"]
    change = m["revenue"]["growth_12m"]
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
    return P.paragraph(html.escape(" ".join([text, *_identity_sentences(c)])))


def _identity_sentences(c: Context) -> list[str]:
    """How cards were joined and which phones several people share: counts only."""
    t, f = c.t, c.f
    idn = c.audit.metrics["data_quality"].get("identity") or {}
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
                phone=f.number(by.get("phone_and_name", 0) + by.get("phone_only", 0)),
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


def anomalies_table(c: Context) -> HTML:
    import pandas as pd

    t, f = c.t, c.f
    a = c.audit.metrics["data_quality"]["anomalies"]
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


def warnings_block(c: Context) -> HTML:
    t, f = c.t, c.f
    dq = c.audit.metrics["data_quality"]
    parts = [
        P.callout(html.escape(t(f"quality.warn.{k}", n=f.number(n))), kind="warn").data
        for k, n in dq["warnings"].items()
    ]
    for table in dq["missing_tables"]:
        parts.append(P.callout(html.escape(t(f"quality.missing.{table}")), kind="warn").data)
    if not parts:
        parts.append(P.callout(html.escape(t("quality.no_warnings"))).data)
    return HTML("".join(parts))


# ----------------------------------------------------------------------------- dynamics


def _pct_signed(f: Formatter, x) -> str:
    if x is None:
        return "—"
    return ("+" if x >= 0 else "−") + f.percent(abs(x))


def _yoy(c: Context, x) -> str:
    """A year-on-year change, or "too little history" when two years are not covered."""
    if not _history(c).get("year_on_year", True):
        return c.t("honest.too_little_history_short")
    return _pct_signed(c.f, x)


def dynamics_kpis(c: Context) -> HTML:
    m, t, f = c.audit.metrics, c.t, c.f
    return P.kpis(
        [
            (f.number(m["base"]["active_base"]), t("dyn.kpi.active_base")),
            (_yoy(c, m["base"]["growth_12m"]), t("dyn.kpi.base_growth")),
            (
                _yoy(c, m["revenue"]["growth_12m"]) if _amounts(c) else _money(c, None),
                t("dyn.kpi.revenue_growth"),
            ),
            (f.percent(m["base"]["pre_appointment_rate"]), t("dyn.kpi.pre_appointment")),
        ]
    )


def dynamics_flow_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    flow = c.audit.frames.get("flow")
    if flow is None or flow.empty:
        return P.callout(html.escape(t("dyn.no_data")), kind="warn")
    flow = _covered(c, flow)
    fig, ax = plt.subplots(figsize=plots.WIDE)
    plots.plot_flow(
        flow,
        ax=ax,
        title=t("dyn.chart.flow"),
        labels={k: t(f"dyn.flow.{k}") for k in ("new", "recaptured", "lost", "net")},
        number_fmt=f.number,
        month_fmt=f.month,
    )
    return P.figure(fig, t("dyn.caption.flow"))


def required_growth_table(c: Context) -> HTML:
    import pandas as pd

    t, f = c.t, c.f
    req = c.audit.metrics["base"]["required_growth_for_revenue"]
    if not _amounts(c):
        return _no_amounts(c)
    if not _enough(c):
        return _too_little(c)
    if not req:
        return P.callout(html.escape(t("dyn.required_na")), kind="warn")
    df = pd.DataFrame(
        {
            "target": [f.percent(float(k)) for k in req],
            "base": [f.percent(v) for v in req.values()],
        }
    )
    return P.table(
        df,
        numeric=["target", "base"],
        headers={"target": t("dyn.col.revenue_target"), "base": t("dyn.col.base_needed")},
    )


def required_growth_reading(c: Context) -> HTML:
    t, f = c.t, c.f
    m = c.audit.metrics["base"]
    req, inp = m["required_growth_for_revenue"], m["required_growth_inputs"]
    if not req or not _amounts(c) or not _enough(c):
        return HTML("")
    text = t(
        "dyn.required_reading",
        retention=f.percent(inp["retention"]),
        v_ret=f.money(inp["revenue_per_retained"]),
        v_new=f.money(inp["revenue_per_new"]),
        need20=f.percent(req["0.2"]),
    )
    return P.callout(html.escape(text))


def dynamics_reading(c: Context) -> HTML:
    t, f = c.t, c.f
    m = c.audit.metrics
    flow = c.audit.frames.get("flow")
    if flow is None or flow.empty:
        return HTML("")
    last12 = flow.tail(12)
    fields = dict(
        new=f.number(last12["new"].sum()),
        recaptured=f.number(last12["recaptured"].sum()),
        lost=f.number(last12["lost"].sum()),
        pre=f.percent(m["base"]["pre_appointment_rate"]),
    )
    if _history(c).get("year_on_year", True):
        text = t("dyn.reading", net=_pct_signed(f, m["base"]["growth_12m"]), **fields)
    else:  # the months covered only: no year-on-year change
        text = t(
            "honest.dyn_reading_short", months=f.number(_history(c).get("months"), 1), **fields
        )
    return P.callout(html.escape(text))


# ----------------------------------------------------------------------------- activity


def activity_intro(c: Context) -> HTML:
    t, f = c.t, c.f
    a = c.audit.metrics["activity"]
    if a.get("status") == TOO_LITTLE_HISTORY:
        return _too_little(c)
    th = a["thresholds_days"]
    key = {"data": "act.rule_data", "params": "act.rule_params", "default": "act.rule_default"}[
        a["threshold_source"]
    ]
    full = a.get("thresholds", {})
    if full.get("capped"):
        both = full["active_percentile_days"] > th["active"]
        key = "act.rule_capped_both" if both else "act.rule_capped"
    text = t(
        key,
        a=f.number(th["active"]),
        b=f.number(th["at_risk"]),
        n=f.number(a["intervals"]),
        pa=f.number(round(100 * full.get("active_percentile", 0.75))),
        pb=f.number(round(100 * full.get("at_risk_percentile", 0.9))),
        raw_a=f.number(full.get("active_percentile_days")),
        raw_b=f.number(full.get("at_risk_percentile_days")),
        cap=f.number(full.get("cap_days")),
    )
    return P.paragraph(html.escape(text), muted=True)


def activity_table(c: Context) -> HTML:
    import pandas as pd

    from .activity import PHASES

    t, f = c.t, c.f
    a = c.audit.metrics["activity"]
    if a.get("status") == TOO_LITTLE_HISTORY:
        return HTML("")  # the section's intro says why
    th = a["thresholds_days"]
    total = sum(a["counts"].values()) or 1
    ranges = {
        "active": f"≤ {th['active']}",
        "at_risk": f"{th['active'] + 1}–{th['at_risk']}",
        "lapsing": f"{th['at_risk'] + 1}–365",
        "lost_1y": "366–730",
        "lost_2y": "> 730",
    }
    df = pd.DataFrame(
        {
            "phase": [t(f"act.phase.{p}") for p in PHASES],
            "days": [ranges[p] for p in PHASES],
            "patients": [a["counts"][p] for p in PHASES],
            "share": [a["counts"][p] / total for p in PHASES],
            "revenue": [a["revenue_12m"][p] for p in PHASES],
            "action": [t(f"act.action.{p}") for p in PHASES],
        }
    )
    return P.table(
        df,
        formats={"patients": f.number, "share": f.percent, "revenue": lambda x: _money(c, x)},
        headers={k: t(f"act.col.{k}") for k in df.columns},
    )


def activity_mix_chart(c: Context) -> HTML:
    from .activity import PHASES

    t, f = c.t, c.f
    mix = _covered(c, c.audit.frames.get("phase_mix"))
    if mix is None or mix.empty:
        return HTML("")  # too little history: the section's intro says why
    fig, ax = plt.subplots(figsize=plots.WIDE)
    plots.plot_phase_mix(
        mix,
        list(PHASES),
        ax=ax,
        title=t("act.chart.mix"),
        labels={p: t(f"act.phase.{p}") for p in PHASES},
        number_fmt=f.number,
        month_fmt=f.month,
    )
    return P.figure(fig, t("act.caption.mix"))


def activity_reading(c: Context) -> HTML:
    t, f = c.t, c.f
    a = c.audit.metrics["activity"]
    if a.get("status") == TOO_LITTLE_HISTORY:
        return HTML("")
    mix = _covered(c, c.audit.frames.get("phase_mix"))
    counts = a["counts"]
    total = sum(counts.values()) or 1
    trend = ""
    if mix is not None and len(mix) >= 13:
        share_now = mix["active"].iloc[-1] / max(mix[list(counts)].iloc[-1].sum(), 1)
        share_then = mix["active"].iloc[-13] / max(mix[list(counts)].iloc[-13].sum(), 1)
        key = "act.trend_up" if share_now >= share_then else "act.trend_down"
        trend = " " + t(key, now=f.percent(share_now), then=f.percent(share_then))
    fields = dict(
        active=f.percent(counts["active"] / total),
        risk=f.number(counts["at_risk"] + counts["lapsing"]),
        lost=f.number(counts["lost_1y"] + counts["lost_2y"]),
    )
    if _amounts(c):
        rev = a["revenue_12m"]
        text = t(
            "act.reading", risk_revenue=f.money_short(rev["at_risk"] + rev["lapsing"]), **fields
        )
    else:
        text = t("honest.act_reading_no_amounts", **fields)
    return P.callout(html.escape(text + trend))


# ----------------------------------------------------------------------------- repeat


def repeat_kpis(c: Context) -> HTML:
    r, t, f = c.audit.metrics["repeat"], c.t, c.f
    rev = c.audit.metrics["revenue"]
    ok = r.get("status_12m") == "ok"
    return P.kpis(
        [
            (f.percent(r["rate_12m"]), t("rep.kpi.rate_12m" if ok else "rep.kpi.rate_12m_short")),
            (f.percent(r["rate"]), t("rep.kpi.rate_lifetime")),
            (f.number(r["median_days_to_second"]), t("rep.kpi.median_days")),
            (
                f.percent(rev["repeat_share"]) if _amounts(c) else _money(c, None),
                t("rep.kpi.repeat_share"),
            ),
        ]
    )


def repeat_reading(c: Context) -> HTML:
    r, t, f = c.audit.metrics["repeat"], c.t, c.f
    rev = c.audit.metrics["revenue"]
    w = r["returned_within"]
    ret = r["new_patient_retention"]
    if r.get("status_12m") != "ok":
        text = t("rep.reading_short", lifetime=f.percent(r["rate"]))
        return P.callout(html.escape(text))
    fields = dict(
        rate=f.percent(r["rate_12m"]),
        eligible=f.number(r["eligible_12m"]),
        lifetime=f.percent(r["rate"]),
        w90=f.percent(w["90"]["rate"]),
        w180=f.percent(w["180"]["rate"]),
        w365=f.percent(w["365"]["rate"]),
    )
    parts = [t("rep.reading_12m", **fields)]
    if all(w[k]["rate"] is not None for k in ("90", "180", "365")):
        parts.append(t("honest.rep_windows", **fields))
    if _amounts(c):
        parts.append(t("honest.rep_share", share=f.percent(rev["repeat_share"])))
    else:
        parts.append(t("honest.rep_share_not_exported"))
    text = " ".join(parts)
    if ret is not None:  # no retention figure, no sentence about it
        key = "rep.retention_above" if ret >= r["retention_mark"] else "rep.retention_below"
        text += " " + t(key, retention=f.percent(ret), mark=f.percent(r["retention_mark"]))
    return P.callout(html.escape(text))


def repeat_days_chart(c: Context) -> HTML:
    t = c.t
    d = c.audit.frames.get("days_to_second")
    if d is None or d.empty:
        return P.callout(html.escape(t("rep.no_repeats")), kind="warn")
    fig, ax = plt.subplots(figsize=plots.WIDE)
    plots.plot_days_to_second(
        d["days_to_second"],
        ax=ax,
        title=t("rep.chart.days"),
        xlabel=t("rep.axis.days"),
        ylabel=t("rep.axis.patients"),
        median_label=t("rep.median"),
    )
    return P.figure(fig, t("rep.caption.days"))


def repeat_retention_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    ret = _covered(c, c.audit.frames.get("retention_by_month"))
    if not _enough(c):
        return _too_little(c)
    if ret is None or ret.empty:
        return P.callout(html.escape(t("rep.no_retention")), kind="warn")
    fig, ax = plt.subplots(figsize=plots.WIDE)
    mark = c.audit.metrics["repeat"]["retention_mark"]
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


def repeat_breakdown(c: Context, name: str) -> HTML:
    """Dot chart and table of one breakdown (by_doctor, by_service_line, ...)."""
    t, f = c.t, c.f
    table = c.audit.frames.get(f"repeat_{name}")
    if table is None and name not in c.audit.metrics["repeat"]["not_available"]:
        return P.callout(html.escape(t("rep.breakdown_short")), kind="warn")
    if table is None:
        return P.callout(html.escape(t(f"rep.na.{name}")), kind="warn")
    table = table.copy()
    table["label"] = [_group_label(c, name, g) for g in table["group"]]
    parts = []
    if len(table) > 1:  # a single group says nothing the table does not
        fig, ax = plt.subplots(figsize=(10, max(1.6, 0.42 * len(table) + 0.9)))
        plots.plot_rates(
            table,
            ax=ax,
            title=t(f"rep.chart.{name}"),
            overall=c.audit.metrics["repeat"]["rate_12m"],
            overall_label=t("rep.overall"),
            pct_fmt=f.percent,
        )
        parts.append(P.figure(fig).data)
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
        ).data
    )
    pooled = int(table["pooled_groups"].sum())
    if pooled:
        min_size = f.number(c.audit.metrics["repeat"]["min_group_size"])
        text = t("rep.pooled", n=f.number(pooled), min=min_size)
        parts.append(P.paragraph(html.escape(text), muted=True).data)
    if name == "by_cohort_year":
        parts.append(P.paragraph(html.escape(t("rep.censoring")), muted=True).data)
    return HTML("".join(parts))


def repeat_cohort_chart(c: Context) -> HTML:
    t = c.t
    share = c.audit.frames.get("cohorts")
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


# ----------------------------------------------------------------------------- completeness


def completeness_kpis(c: Context) -> HTML:
    m, t, f = c.audit.metrics["completeness"], c.t, c.f
    fields = m["fields"]

    def pct(x):
        return _or_missing(c, f.percent, x)

    return P.kpis(
        [
            (pct(m["contactable"]), t("comp.kpi.contactable")),
            (pct(fields.get("phone")), t("comp.kpi.phone")),
            (pct(fields.get("email")), t("comp.kpi.email")),
            (pct(m["mean_score"]), t("comp.kpi.score")),
        ]
    )


def completeness_chart(c: Context) -> HTML:
    import pandas as pd

    t, f = c.t, c.f
    m = c.audit.metrics["completeness"]
    shares = pd.Series({t(f"comp.field.{k}"): v for k, v in m["fields"].items() if v is not None})
    if m["contactable"] is not None:
        shares[t("comp.field.contactable")] = m["contactable"]
    if shares.empty:
        return HTML("")
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(shares) + 1.0))
    plots.plot_shares(shares, ax=ax, title=t("comp.chart.fields"), pct_fmt=f.percent)
    return P.figure(fig, t("comp.caption.fields"))


def completeness_by_year_table(c: Context) -> HTML:
    """Fields as rows, the last six first-visit years as columns (fits an A4 page)."""
    import pandas as pd

    t, f = c.t, c.f
    by_year = c.audit.frames.get("completeness_by_year")
    if by_year is None or by_year.empty:
        return HTML("")
    wide = by_year.set_index("year").tail(6).T
    if c.audit.metrics["completeness"]["contactable"] is None:  # no phone or e-mail exported
        wide = wide.drop(index="contactable", errors="ignore")
    if wide.empty:
        return HTML("")
    df = pd.DataFrame({"field": [t(f"comp.field.{k}") for k in wide.index]})
    years = [str(y) for y in wide.columns]
    for y, col in zip(years, wide.columns, strict=True):
        df[y] = wide[col].to_numpy()
    return P.table(
        df, formats={y: f.percent for y in years}, headers={"field": t("comp.col.field")}
    )


def completeness_reading(c: Context) -> HTML:
    t, f = c.t, c.f
    m = c.audit.metrics["completeness"]
    if m["contactable"] is None:
        parts = [t("honest.no_contacts")]
    else:
        parts = [
            t(
                "comp.reading",
                contactable=f.percent(m["contactable"]),
                n=f.number(round((1 - m["contactable"]) * c.audit.metrics["base"]["patients"])),
            )
        ]
    if m["not_exported"]:
        parts.append(
            t(
                "comp.not_exported",
                fields=", ".join(t(f"comp.field.{x}") for x in m["not_exported"]),
            )
        )
    return P.callout(html.escape(" ".join(parts)))


# ----------------------------------------------------------------------------- refusers


def _delay_loss(r: dict) -> float | None:
    """What one month without calls costs (None when money is not exported)."""
    d = r["delay_cost"]
    if d["base_now"] is None or d["base_in_1_month"] is None:
        return None
    return d["base_now"] - d["base_in_1_month"]


def refusers_kpis(c: Context) -> HTML:
    r, t, f = c.audit.metrics["refusers"], c.t, c.f
    stake = r["at_stake"]
    loss = _delay_loss(r)
    return P.kpis(
        [
            (
                f.number(r["refusers_total"]),
                t("honest.kpi_refusers", n=f.number(len(_refuser_rows(r)))),
            ),
            (_money(c, stake["total"]), t("ref.kpi.at_stake", months=stake["months"])),
            (_money(c, r["potential"]["base"]), t("ref.kpi.potential")),
            (_money(c, loss), t("ref.kpi.delay")),
        ]
    )


def _refuser_rows(r: dict) -> list[str]:
    """The refuser segments with patients: the rows the segments table shows for them."""
    from .refusers import REFUSER_SEGMENTS

    return [s for s in REFUSER_SEGMENTS if r["counts"].get(s)]


FRESH_MAJORITY = 0.5  # at least half refused recently: the reading says "most are fresh"


def refusers_reading(c: Context) -> HTML:
    r, t, f = c.audit.metrics["refusers"], c.t, c.f
    s = c.audit.params.refusers
    if not r["refusers_total"]:
        return P.callout(html.escape(t("honest.no_refusers")))
    fresh = r["fresh_share"]
    key = "honest.ref_few_fresh" if fresh < FRESH_MAJORITY else "honest.ref_mostly_fresh"
    parts = [
        t(key, n=f.number(r["refusers_total"]), fresh=f.percent(fresh)),
        t(
            "honest.ref_article",
            gone=f.percent(s.gone_elsewhere_share),
            months=f.number(s.gone_elsewhere_months),
        ),
    ]
    loss = _delay_loss(r)
    if _amounts(c) and loss is not None:
        parts.append(t("honest.ref_loss", loss=f.money(loss)))
    text = " ".join(parts)
    return P.callout(html.escape(text))


def segments_table(c: Context) -> HTML:
    import pandas as pd

    from .refusers import SEGMENTS

    r, t, f = c.audit.metrics["refusers"], c.t, c.f
    total = sum(r["counts"].values()) or 1
    plan_money = gaps.has_plan_amounts(c.audit.data)
    rows = []
    for s in SEGMENTS:
        n = r["counts"][s]
        if not n:
            continue
        pot = r["potential_by_segment"].get(s, {}).get("base")
        rows.append(
            {
                "segment": t(f"seg.{s}"),
                "patients": n,
                "share": n / total,
                "balance": r["plan_balance"].get(s) or None,
                "model_value": r.get("model_value_12m", {}).get(s) or None,
                "potential": pot,
                "what": t(f"seg_about.{s}"),
            }
        )
    df = pd.DataFrame(rows)
    ne = t("honest.not_exported")
    table = P.table(
        df,
        formats={
            "patients": f.number,
            "share": f.percent,
            "balance": (lambda x: f.money_short(x)) if plan_money else (lambda x: ne),
            "model_value": lambda x: _money(c, x),
            "potential": lambda x: _money(c, x),
        },
        headers={k: t(f"ref.col.{k}") for k in df.columns},
    )
    return HTML(table.data + unreachable_note(c).data)


def unreachable_note(c: Context) -> HTML:
    """A warning naming the segments to call in which nobody can be contacted."""
    from .refusers import CALL_SEGMENTS

    r, t = c.audit.metrics["refusers"], c.t
    reach = r.get("contactable", {})
    if reach and all(v is None for v in reach.values()):
        return P.callout(html.escape(t("honest.unreachable_not_exported")), kind="warn")
    nobody = [s for s in CALL_SEGMENTS if r["counts"].get(s) and not reach.get(s)]
    if not nobody:
        return HTML("")
    text = t("honest.unreachable", segments=", ".join(t(f"seg.{s}") for s in nobody))
    return P.callout(html.escape(text), kind="warn")


def segment_ages_chart(c: Context) -> HTML:
    from .refusers import AGE_BUCKETS, REFUSER_SEGMENTS

    t = c.t
    ages = c.audit.frames.get("segment_ages")
    rows = [s for s in (*REFUSER_SEGMENTS, "lapsed") if ages is not None and s in ages.index]
    if not rows or not ages.loc[rows].to_numpy().sum():
        return P.paragraph(html.escape(t("honest.no_refusers")), muted=True)
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(rows) + 1.4))
    plots.plot_stacked_rows(
        ages.loc[rows],
        ax=ax,
        title=t("ref.chart.ages"),
        row_labels=[t(f"seg.{s}") for s in rows],
        col_labels=[
            t(f"ref.age.{b[0].replace('-', '_').replace('+', 'plus')}") for b in AGE_BUCKETS
        ],
    )
    return P.figure(fig, t("ref.caption.ages"))


def scenarios_table(c: Context) -> HTML:
    import pandas as pd

    from .refusers import SCENARIOS

    r, t, f = c.audit.metrics["refusers"], c.t, c.f
    if not _amounts(c):
        return _no_amounts(c)
    rows = []
    for s, vals in r["potential_by_segment"].items():
        if not r["counts"].get(s):
            continue
        rates = r["rates"][s]
        rows.append(
            {
                "segment": t(f"seg.{s}"),
                "patients": r["counts"][s],
                **{sc: f"{f.money_short(vals[sc])} ({f.percent(rates[sc])})" for sc in SCENARIOS},
            }
        )
    rows.append(
        {
            "segment": t("ref.total"),
            "patients": sum(x["patients"] for x in rows),
            **{sc: f.money_short(r["potential"][sc]) for sc in SCENARIOS},
        }
    )
    df = pd.DataFrame(rows)
    return P.table(
        df,
        formats={"patients": f.number},
        numeric=list(SCENARIOS),
        headers={
            "segment": t("ref.col.segment"),
            "patients": t("ref.col.patients"),
            **{sc: t(f"ref.scenario.{sc}") for sc in SCENARIOS},
        },
    )


def potential_method(c: Context) -> HTML:
    r, t, f = c.audit.metrics["refusers"], c.t, c.f
    h = r["return_history"]
    if not _amounts(c):
        return HTML("")  # the scenarios above say why
    key = "ref.method_history" if h["source"] == "history" else "ref.method_fallback"
    text = t(
        key,
        events=f.number(h["events"]),
        tx=f.number(h["transactions"], 1),
        check=f.money(h["average_check"]),
    )
    return P.paragraph(html.escape(text), muted=True)


def delay_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    d = c.audit.frames.get("delay")
    if not _amounts(c):
        return _no_amounts(c)
    if d is None or d.empty:
        return HTML("")
    fig, ax = plt.subplots(figsize=(10, 3.2))
    plots.plot_curve(
        d,
        ax=ax,
        x="month",
        y="base",
        title=t("ref.chart.delay"),
        xlabel=t("ref.axis.months"),
        money_fmt=f.money_short,
    )
    return P.figure(fig, t("ref.caption.delay"))


def refusal_reasons_table(c: Context) -> HTML:
    import pandas as pd

    r, t, f = c.audit.metrics["refusers"], c.t, c.f
    reasons = r["refusal_reasons"]
    if not c.audit.data.has("plans"):
        return P.callout(html.escape(t("quality.missing.plans")), kind="warn")
    if not reasons:
        return P.paragraph(html.escape(t("ref.no_refusals")), muted=True)
    df = pd.DataFrame(
        {"reason": [k or t("ref.no_reason") for k in reasons], "n": list(reasons.values())}
    )
    return P.table(
        df,
        formats={"n": f.number},
        headers={"reason": t("ref.col.reason"), "n": t("ref.col.patients")},
    )


def plans_missing_note(c: Context) -> HTML:
    if c.audit.data.has("plans"):
        return HTML("")
    return P.callout(html.escape(c.t("quality.missing.plans")), kind="warn")


# ----------------------------------------------------------------------------- action plan


def action_plan_table(c: Context) -> HTML:
    import pandas as pd

    from .calls import AT_RISK_SHEET
    from .refusers import CALL_SEGMENTS

    t, f = c.t, c.f
    r = c.audit.metrics["refusers"]
    calls = c.audit.metrics.get("calls", {}).get("sheets", {})
    rows = []
    for s in (*CALL_SEGMENTS, AT_RISK_SHEET):
        n = calls.get(s)
        if not n:
            continue
        pot = r["potential_by_segment"].get(s, {}).get("base")
        rows.append(
            {
                "segment": t(f"calls.sheet.{s}"),
                "contact": n,
                "who": t(f"plan.who.{s}"),
                "cadence": t(f"plan.cadence.{s}"),
                "expected": _money(c, pot) if pot is not None or not _amounts(c) else "—",
                "measure": t(f"plan.measure.{s}"),
            }
        )
    if not rows:  # nobody to call: the note says why, no empty table
        return unreachable_note(c)
    df = pd.DataFrame(rows)
    table = P.table(
        df,
        formats={"contact": f.number},
        numeric=["expected"],
        headers={k: t(f"plan.col.{k}") for k in df.columns},
    )
    return HTML(table.data + unreachable_note(c).data)


def action_plan_note(c: Context) -> HTML:
    t, f = c.t, c.f
    dnc = c.audit.metrics.get("calls", {}).get("sheets", {}).get("do_not_contact", 0)
    if not c.audit.data.has("patients", "consent"):
        return P.callout(html.escape(t("honest.plan_note_no_consent")))
    return P.callout(html.escape(t("plan.note", dnc=f.number(dnc))))


# ----------------------------------------------------------------------------- models


def _models(c: Context) -> dict:
    return c.audit.metrics.get("models", {})


def _models_off(c: Context) -> bool:
    """True when the models did not run for too little history (the intro says why)."""
    return _models(c).get("status") == TOO_LITTLE_HISTORY


def _note(c: Context, note: str) -> str:
    return c.t.get(f"mod.note.{note}") or c.t(f"modnote.{note}")


def models_intro(c: Context) -> HTML:
    t = c.t
    if _models_off(c):
        return _too_little(c)
    parts = [P.callout(html.escape(t("mod.intro"))).data]
    if not _amounts(c):
        parts.append(P.callout(html.escape(t("honest.models_no_amounts")), kind="warn").data)
    for note in _models(c).get("notes", []):
        parts.append(P.callout(html.escape(_note(c, note)), kind="warn").data)
    return HTML("".join(parts))


def model_choice_table(c: Context) -> HTML:
    """Which model describes this clinic: the three models scored on the holdout."""
    import pandas as pd

    t, f = c.t, c.f
    m = _models(c)
    sel = m.get("selection") or {}
    if not sel:
        return P.callout(html.escape(t("mod.no_holdout")), kind="warn")
    df = pd.DataFrame(
        {
            "model": [t(f"choice.name.{k}") for k in sel],
            "holdout_mae": [v["holdout_mae"] for v in sel.values()],
            "holdout_total_error": [v["holdout_total_error"] for v in sel.values()],
            "log_likelihood": [v["log_likelihood"] for v in sel.values()],
            "chosen": [t("choice.chosen_mark") if v["chosen"] else "" for v in sel.values()],
        }
    )
    tbl = P.table(
        df,
        formats={
            "holdout_mae": lambda x: f.number(x, 3),
            "holdout_total_error": lambda x: _pct_signed(f, None if x != x else x),
            "log_likelihood": f.number,
        },
        headers={k: t(f"choice.col.{k}") for k in df.columns},
    )
    chosen = m.get("chosen")
    h = m.get("holdout", {})
    text = t("choice.reading", model=t(f"choice.name.{chosen}"), days=f.number(h.get("days")))
    if chosen == "bgnbd":
        text += " " + t("choice.bgnbd_why")
    return HTML(tbl.data + P.callout(html.escape(text)).data)


def models_kpis(c: Context) -> HTML:
    t, f = c.t, c.f
    m = _models(c)
    p = c.audit.patients
    if "p_alive" not in p:
        return HTML("")
    base = p[p["in_base"]]
    return P.kpis(
        [
            (f.percent(base["p_alive"].mean()), t("mod.kpi.p_alive")),
            (f.number(base["expected_visits_12m"].sum()), t("mod.kpi.visits")),
            (_money(c, m.get("clv", {}).get("total_12m")), t("mod.kpi.clv")),
            (
                _money(c, c.audit.metrics.get("forecast", {}).get("total_12m")),
                t("mod.kpi.forecast"),
            ),
        ]
    )


def p_alive_by_phase(c: Context) -> HTML:
    import pandas as pd

    from .activity import PHASES

    t, f = c.t, c.f
    p = c.audit.patients
    if "p_alive" not in p:
        return HTML("")
    g = p[p["in_base"]].groupby("phase", observed=False)["p_alive"].agg(["size", "mean"])
    g = g.reindex(list(PHASES))
    df = pd.DataFrame(
        {
            "phase": [t(f"act.phase.{x}") for x in g.index],
            "patients": g["size"].to_numpy(),
            "p_alive": g["mean"].to_numpy(),
        }
    )
    text = t("mod.phase_agree" if phases_agree(g["mean"]) else "mod.phase_disagree")
    return HTML(
        P.table(
            df,
            formats={"patients": f.number, "p_alive": f.percent},
            headers={k: t(f"mod.col.{k}") for k in df.columns},
        ).data
        + P.callout(html.escape(text)).data
    )


def phases_agree(p_alive) -> bool:
    """True when P(alive), as the table shows it (whole percent), never rises from one
    phase to a later one; phases without patients are skipped."""
    shown = (p_alive.dropna() * 100).round()
    return bool((shown.diff().dropna() <= 0).all())


def holdout_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    hb = c.audit.frames.get("holdout_by_frequency")
    h = _models(c).get("holdout")
    if _models_off(c):
        return HTML("")
    if hb is None or h is None:
        return P.callout(html.escape(t("mod.no_holdout")), kind="warn")
    fig, ax = plt.subplots(figsize=(10, 3.4))
    plots.plot_paired_bars(
        hb,
        ax=ax,
        x="frequency",
        first="actual",
        second="predicted",
        title=t("mod.chart.holdout", days=f.number(h["days"])),
        first_label=t("mod.actual"),
        second_label=t("mod.predicted"),
        xlabel=t("mod.axis.calibration_visits"),
        ylabel=t("mod.axis.holdout_visits"),
    )
    text = t(
        "mod.holdout_reading",
        days=f.number(h["days"]),
        pred=f.number(h["predicted_total"]),
        actual=f.number(h["actual_total"]),
        mae=f.number(h["mae"], 2),
        err=f.percent(abs(h["predicted_total"] / max(h["actual_total"], 1) - 1)),
    )
    return HTML(P.figure(fig, t("mod.caption.holdout")).data + P.callout(html.escape(text)).data)


def frequency_fit_chart(c: Context) -> HTML:
    t = c.t
    ff = c.audit.frames.get("frequency_fit")
    if ff is None:
        return HTML("")
    fig, ax = plt.subplots(figsize=(10, 3.0))
    plots.plot_paired_bars(
        ff,
        ax=ax,
        x="frequency",
        first="observed",
        second="expected",
        title=t("mod.chart.frequency"),
        first_label=t("mod.actual"),
        second_label=t("mod.model"),
        xlabel=t("mod.axis.repeat_visits"),
        ylabel=t("mod.axis.patients"),
    )
    return P.figure(fig, t("mod.caption.frequency"))


def gamma_gamma_note(c: Context) -> HTML:
    t, f = c.t, c.f
    g = _models(c).get("gamma_gamma", {})
    if "freq_monetary_corr" not in g:
        return HTML("")
    key = "mod.gg_ok" if g.get("status") == "ok" else "mod.gg_failed"
    return P.paragraph(html.escape(t(key, corr=f.number(g["freq_monetary_corr"], 2))), muted=True)


def clv_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    p = c.audit.patients
    if not _amounts(c):
        return _no_amounts(c)
    if "clv_12m" not in p:
        return HTML("")
    values = p.loc[p["in_base"], "clv_12m"].dropna().to_numpy()
    fig, ax = plt.subplots(figsize=(10, 3.2))
    plots.plot_deciles(
        values,
        ax=ax,
        title=t("mod.chart.clv"),
        xlabel=t("mod.axis.decile"),
        money_fmt=f.money_short,
    )
    share = _models(c).get("clv", {}).get("top_decile_share")
    text = t("mod.clv_reading", share=f.percent(share), total=f.money_short(values.sum()))
    return HTML(P.figure(fig, t("mod.caption.clv")).data + P.callout(html.escape(text)).data)


def clusters_block(c: Context) -> HTML:
    import pandas as pd

    t, f = c.t, c.f
    prof = c.audit.frames.get("cluster_profile")
    cl = _models(c).get("clusters", {})
    if _models_off(c):
        return HTML("")
    if prof is None or not cl:
        return P.callout(html.escape(t("mod.no_clusters")), kind="warn")
    df = pd.DataFrame(
        {
            "cluster": [_cluster_label(c, n) for n in prof.index],
            "patients": prof["patients"].to_numpy(),
            "recency": prof["recency_days"].to_numpy(),
            "frequency": prof["frequency"].to_numpy(),
            "monetary": prof["monetary"].to_numpy() if "monetary" in prof else None,
            "tenure": prof["tenure_days"].to_numpy(),
        }
    )
    tbl = P.table(
        df,
        formats={
            "patients": f.number,
            "recency": f.number,
            "frequency": f.number,
            "monetary": lambda x: _money(c, x, short=False),
            "tenure": f.number,
        },
        headers={k: t(f"mod.col.{k}") for k in df.columns},
    )
    note = P.paragraph(
        html.escape(
            t(
                "mod.clusters_note" if "monetary" in prof else "honest.clusters_note_no_spend",
                k=cl["k"],
                s=f.number(cl["silhouette"], 2),
            )
        ),
        muted=True,
    )
    return HTML(tbl.data + note.data)


def _cluster_label(c: Context, name: str) -> str:
    head, _, tail = name.rpartition("_")
    if head and tail.isdigit():
        return f"{_cluster_name(c, head)} ({tail})"
    return _cluster_name(c, name)


def _cluster_name(c: Context, name: str) -> str:
    return c.t.get(f"cluster.{name}") or c.t(f"honest.cluster.{name}")


def cluster_crosstab(c: Context, by: str) -> HTML:
    import pandas as pd

    t, f = c.t, c.f
    p = c.audit.patients
    if _models_off(c):
        return HTML("")
    if "cluster" not in p:
        return P.callout(html.escape(t("mod.no_clusters")), kind="warn")
    base = p[p["in_base"] & p["cluster"].notna()]
    ct = pd.crosstab(base["cluster"], base[by].astype(str))
    label = (lambda x: t(f"act.phase.{x}")) if by == "phase" else (lambda x: t(f"seg.{x}"))
    cols = [x for x in ct.columns if x not in ("nan", "<NA>")]
    df = pd.DataFrame({"cluster": [_cluster_label(c, n) for n in ct.index]})
    for col in cols:
        df[label(col)] = ct[col].to_numpy()
    return P.table(
        df,
        formats={label(col): f.number for col in cols},
        headers={"cluster": t("mod.col.cluster")},
    )


def forecast_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    fc = c.audit.frames.get("forecast")
    if _models_off(c):
        return HTML("")
    if not _amounts(c):
        return _no_amounts(c)
    if fc is None:
        return P.callout(html.escape(t("mod.no_forecast")), kind="warn")
    fig, ax = plt.subplots(figsize=plots.WIDE)
    plots.plot_forecast(
        fc,
        ax=ax,
        title=t("mod.chart.forecast"),
        labels={k: t(f"fc.line.{k}") for k in ("no_action", "with_calls", "band")},
        money_fmt=f.money_short,
        month_fmt=f.month,
    )
    return P.figure(fig, t("fc.caption"))


def forecast_table(c: Context) -> HTML:
    t, f = c.t, c.f
    fc = c.audit.frames.get("forecast")
    if fc is None:
        return HTML("")
    df = fc.copy()
    df["month"] = [f.month(m) for m in df["month"]]
    df["band"] = [
        f"{f.money_short(lo)} – {f.money_short(hi)}"
        for lo, hi in zip(df["no_action_low"], df["no_action_high"], strict=True)
    ]
    df = df[["month", "no_action", "band", "reactivation", "with_calls"]]
    return P.table(
        df,
        formats={k: f.money_short for k in ("no_action", "reactivation", "with_calls")},
        numeric=["band"],
        headers={k: t(f"fc.col.{k}") for k in df.columns},
    )


def backtest_chart(c: Context) -> HTML:
    t, f = c.t, c.f
    bt = c.audit.frames.get("backtest")
    fm = c.audit.metrics.get("forecast", {}).get("backtest", {})
    if _models_off(c):
        return HTML("")
    if not _amounts(c):
        return _no_amounts(c)
    if bt is None or bt.empty:
        return P.callout(html.escape(t("fc.no_backtest")), kind="warn")
    fig, ax = plt.subplots(figsize=(10, 3.2))
    plots.plot_backtest(
        bt,
        ax=ax,
        title=t("fc.chart.backtest"),
        actual_label=t("mod.actual"),
        predicted_label=t("mod.predicted"),
        money_fmt=f.money_short,
        month_fmt=f.month,
    )
    text = t(
        "fc.backtest_reading",
        cutoffs=f.number(len(fm.get("cutoffs", []))),
        inside=f.number(fm.get("inside", 0)),
        months=f.number(fm.get("months", 0)),
        mape=f.percent(fm.get("mape"), 1),
    )
    return HTML(P.figure(fig).data + P.callout(html.escape(text)).data)


# ----------------------------------------------------------------------------- since the last audit


def followup_intro(c: Context) -> HTML:
    """Which audit this one follows, and how many listed patients were called."""
    t, f = c.t, c.f
    fu = c.audit.metrics.get("followup") or {}
    prev = fu.get("previous")
    if not prev:
        return P.callout(html.escape(t("fu.none")))
    by = fu.get("by_segment", {})
    text = t(
        "fu.intro",
        then=f.date(prev["as_of"]) if prev.get("as_of") else "—",
        now=f.date(c.audit.data.as_of),
        listed=f.number(sum(m["listed"] for m in by.values())),
        called=f.number(sum(m["called"] for m in by.values())),
    )
    if not by:
        text += " " + t("fu.no_lists")
    return P.callout(html.escape(text))


def followup_table(c: Context) -> HTML:
    """Per list: listed, called, reached, booked; came among the called and among the
    control (count and rate), the difference in points with its interval; revenue from the
    called."""
    import pandas as pd

    t, f = c.t, c.f
    by = (c.audit.metrics.get("followup") or {}).get("by_segment") or {}
    if not by:
        return HTML("")

    def share(x, rate):
        return f"{f.number(x)} ({f.percent(rate)})" if rate is not None else f.number(x)

    def points(d):
        return ("+" if d > 0 else "−" if d < 0 else "±") + f.number(abs(d) * 100)

    rows = []
    for key, m in by.items():
        ci = m.get("difference_ci")
        diff = "—"
        if ci and m["came_rate"] is not None and m["control_came_rate"] is not None:
            d = m["came_rate"] - m["control_came_rate"]
            diff = f"{points(d)} ({points(ci[0])}…{points(ci[1])})"
        rows.append(
            {
                "segment": t(f"calls.sheet.{key}"),
                "listed": f.number(m["listed"]),
                "called": f.number(m["called"]),
                "reached": f.number(m["reached"]),
                "booked": f.number(m["booked"]),
                "came": share(m["came"], m["came_rate"]),
                "control": share(m["control_came"], m["control_came_rate"]),
                "difference": diff,
                "revenue": f.money_short(m["revenue"]),
            }
        )
    df = pd.DataFrame(rows)
    cur = c.audit.params.clinic.currency
    return P.table(
        df,
        numeric=[k for k in df.columns if k != "segment"],
        headers={k: t(f"fu.col.{k}").format(currency=cur) for k in df.columns},
    )


def followup_note(c: Context) -> HTML:
    """How came and the control are read; listed patients the new export no longer has."""
    t, f = c.t, c.f
    by = (c.audit.metrics.get("followup") or {}).get("by_segment") or {}
    if not by:
        return HTML("")
    text = t("fu.note")
    lost = sum(m.get("not_found", 0) for m in by.values())
    if lost:
        text += " " + t("fu.unmatched", n=f.number(lost))
    return P.paragraph(html.escape(text), muted=True)


def since_last_table(c: Context) -> HTML:
    """The headline figures of the previous audit and of this one, side by side."""
    import pandas as pd

    t, f = c.t, c.f
    since = c.audit.metrics.get("since_last") or {}
    if not since:
        return HTML("")
    rows = []
    for key, v in since.items():
        if v["then"] is None and v["now"] is None:
            continue
        if key.startswith("phase_"):
            label = t("fu.fig.phase", name=t(f"act.phase.{key[6:]}"))
        elif key.startswith("segment_"):
            label = t("fu.fig.segment", name=t(f"seg.{key[8:]}"))
        else:
            label = t(f"fu.fig.{key}")
        fmt = {"revenue_12m": f.money_short, "repeat_rate": f.percent}.get(key, f.number)
        rows.append({"figure": label, "then": fmt(v["then"]), "now": fmt(v["now"])})
    df = pd.DataFrame(rows)
    return P.table(df, numeric=["then", "now"], headers={k: t(f"fu.col.{k}") for k in df.columns})


def uncontactable_note(c: Context) -> HTML:
    """Patients of each list with neither a phone nor an e-mail: said here, not listed."""
    t, f = c.t, c.f
    gone = (c.audit.metrics.get("calls") or {}).get("uncontactable") or {}
    items = [f"{t(f'calls.sheet.{k}')}: {f.number(n)}" for k, n in gone.items() if n]
    if not items:
        return HTML("")
    return P.paragraph(html.escape(t("fu.uncontactable", items="; ".join(items))), muted=True)


# ----------------------------------------------------------------------------- executive summary
# (issue 12) Figures are read with .get(): a key that is missing or None shows "not exported".


def _get(d, *path):
    """``d[path[0]][path[1]]...`` or ``None`` when any step is missing or None."""
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
        if d is None:
            return None
    return d


def _sum(values) -> float | None:
    vals = [v for v in (values or []) if v is not None]
    return float(sum(vals)) if vals else None


def _or_missing(c: Context, fmt, x) -> str:
    """``fmt(x)``, or "not exported" when the figure is missing (``None``)."""
    return c.t("honest.not_exported") if x is None else fmt(x)


def executive_summary(c: Context) -> HTML:
    """The owner's first page: the money in the base, three numbers, three actions (each
    linked to its section). The report moves it to right after the cover."""
    m, t, f = c.audit.metrics, c.t, c.f
    r = m.get("refusers") or {}
    at_stake = r.get("at_stake") or {}
    # frozen: every unpaid stopped-plan balance and refused plan, however old; at stake:
    # the refusers section's windowed part of it (refusals of the last months)
    frozen = _sum(at_stake.get(k) for k in ("open_balances", "refused_recent", "refused_older"))
    stake = at_stake.get("total")
    potential = _get(r, "potential", "base")
    monthly = _get(m, "forecast", "monthly") or []
    fc_base = _sum(row.get("no_action") for row in monthly)  # "if nothing is done"
    fc_total = _sum(row.get("with_calls") for row in monthly)  # "if the base is worked"
    money = [
        (frozen, t("web.sum.frozen")),
        (stake, t("web.sum.stake")),
        (potential, t("web.sum.potential")),
        (fc_base, t("web.sum.forecast_base")),
        (fc_total, t("web.sum.forecast_total")),
    ]
    money_html = "".join(
        f'<div><div class="v">{html.escape(_or_missing(c, c.f.money_short, v))}</div>'
        f'<div class="l">{html.escape(label)}</div></div>'
        for v, label in money
    )
    numbers = _summary_numbers(c)
    numbers_html = "".join(f"<li>{html.escape(n)}</li>" for n in numbers)
    actions_html = "".join(
        f'<li><a href="#{anchor}">{html.escape(title)}</a>: {html.escape(text)}</li>'
        for title, text, anchor in _summary_actions(c)
    )
    as_of = f.date(c.audit.data.as_of)
    return HTML(
        '<section class="summary" id="summary">'
        f"<h1>{html.escape(t('web.sum.title'))}</h1>"
        f'<p class="muted">{html.escape(t("web.sum.intro", as_of=as_of))}</p>'
        f"<h2>{html.escape(t('web.sum.money'))}</h2>"
        f'<div class="money">{money_html}</div>'
        f"<h2>{html.escape(t('web.sum.numbers'))}</h2><ul>{numbers_html}</ul>"
        f"<h2>{html.escape(t('web.sum.actions'))}</h2>"
        f'<ol class="actions">{actions_html}</ol></section>'
    )


def _summary_numbers(c: Context) -> list[str]:
    m, t, f = c.audit.metrics, c.t, c.f
    out = []
    rev = _get(m, "revenue", "last_12m")
    growth = _get(m, "revenue", "growth_12m")
    out.append(
        t(
            "web.num.revenue",
            revenue=_or_missing(c, f.money_short, rev),
            growth=_or_missing(c, lambda g: _pct_signed(f, g), growth),
        )
    )
    ret = _get(m, "repeat", "new_patient_retention")
    mark = _get(m, "repeat", "retention_mark")
    out.append(
        t(
            "web.num.retention",
            retention=_or_missing(c, f.percent, ret),
            mark=_or_missing(c, f.percent, mark),
        )
    )
    n = _get(m, "refusers", "refusers_total")
    contactable = _get(m, "completeness", "contactable")
    out.append(
        t(
            "web.num.refusers",
            n=_or_missing(c, f.number, n),
            contactable=_or_missing(c, f.percent, contactable),
        )
    )
    return out


def _summary_actions(c: Context) -> list[tuple[str, str, str]]:
    """Three actions, the largest expected money first: (title, text, section anchor)."""
    m, t, f = c.audit.metrics, c.t, c.f
    by_segment = _get(m, "refusers", "potential_by_segment") or {}
    sheets = _get(m, "calls", "sheets") or {}
    ranked = sorted(
        (
            (v.get("base"), s)
            for s, v in by_segment.items()
            if isinstance(v, dict) and v.get("base") and sheets.get(s)
        ),
        reverse=True,
    )
    actions = [
        (
            t(f"calls.sheet.{s}"),
            t("web.act.call", n=f.number(sheets[s]), money=f.money_short(pot)),
            "sec-plan",
        )
        for pot, s in ranked[:2]
    ]
    ret = _get(m, "repeat", "new_patient_retention")
    mark = _get(m, "repeat", "retention_mark")
    if ret is not None and mark is not None and ret < mark:
        actions.append(
            (
                t("web.act.retention_title"),
                t("web.act.retention", retention=f.percent(ret), mark=f.percent(mark)),
                "sec-repeat",
            )
        )
    contactable = _get(m, "completeness", "contactable")
    if len(actions) < 3 and contactable is not None:
        actions.append(
            (
                t("web.act.cards_title"),
                t("web.act.cards", contactable=f.percent(contactable)),
                "sec-completeness",
            )
        )
    for pot, s in ranked[2:]:
        if len(actions) >= 3:
            break
        actions.append(
            (
                t(f"calls.sheet.{s}"),
                t("web.act.call", n=f.number(sheets[s]), money=f.money_short(pot)),
                "sec-plan",
            )
        )
    return actions[:3]


# ----------------------------------------------------------------------------- appendix


GLOSSARY_TERMS = (
    "patient",
    "active_base",
    "phases",
    "repeat_rate",
    "retention",
    "refusers",
    "frozen",
    "stake",
    "potential",
    "p_alive",
    "ltv",
    "forecast",
    "mape",
    "wilson",
)


def methodology_appendix(c: Context) -> HTML:
    """Methodology: how the figures were made, the models and how they were checked, and
    what the exports did not hold."""
    m, t, f = c.audit.metrics, c.t, c.f
    models = m.get("models") or {}
    parts = [f"<p>{html.escape(t('web.app.method'))}</p>"]
    checks = []
    ho = _get(models, "bgnbd", "holdout")
    if ho:
        checks.append(
            t(
                "web.app.holdout",
                days=f.number(ho.get("days")),
                predicted=f.number(ho.get("predicted_total")),
                actual=f.number(ho.get("actual_total")),
            )
        )
    gg = _get(models, "gamma_gamma", "status")
    if gg:
        checks.append(t("web.app.gamma_gamma", status=gg))
    bt = _get(m, "forecast", "backtest")
    if bt and bt.get("mape") is not None:
        checks.append(
            t("web.app.backtest", months=f.number(bt.get("months")), mape=f.percent(bt["mape"]))
        )
    k = _get(models, "clusters", "k")
    if k is not None:
        checks.append(
            t(
                "web.app.clusters",
                k=f.number(k),
                s=f.number(_get(models, "clusters", "silhouette"), 2),
            )
        )
    if not checks:
        checks.append(t("web.app.no_models"))
    parts.append(f"<h4>{html.escape(t('web.app.models'))}</h4>")
    parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in checks) + "</ul>")
    missing = _not_exported(c)
    parts.append(f"<h4>{html.escape(t('web.app.missing'))}</h4>")
    if missing:
        parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in missing) + "</ul>")
    else:
        parts.append(f"<p>{html.escape(t('web.app.nothing_missing'))}</p>")
    return HTML("".join(parts))


def _not_exported(c: Context) -> list[str]:
    m, t = c.audit.metrics, c.t
    out = []
    for table in _get(m, "data_quality", "missing_tables") or []:
        out.append(t("web.app.missing_table", table=t.get(f"table.{table}", table)))
    fields = _get(m, "completeness", "not_exported") or []
    if fields:
        out.append(t("web.app.missing_fields", fields=", ".join(map(str, fields))))
    breakdowns = _get(m, "repeat", "not_available") or []
    if breakdowns:
        out.append(t("web.app.missing_breakdowns", names=", ".join(map(str, breakdowns))))
    return out


def glossary(c: Context) -> HTML:
    """The report's terms and their definitions, in the report's language."""
    t = c.t
    items = "".join(
        f"<dt>{html.escape(t(f'web.gloss.{k}.term'))}</dt>"
        f"<dd>{html.escape(t(f'web.gloss.{k}.def'))}</dd>"
        for k in GLOSSARY_TERMS
    )
    return HTML(f'<h4>{html.escape(t("web.app.glossary"))}</h4><dl class="glossary">{items}</dl>')
