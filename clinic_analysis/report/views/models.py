"""Section 8, churn and lifetime value models, and the clusters."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt

from clinic_analysis.measures.history import TOO_LITTLE_HISTORY
from clinic_analysis.report import plots
from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Chart, Group, Kpis, Paragraph, Table, deferred
from clinic_analysis.report.views.context import (
    Context,
    _amounts,
    _money,
    _no_amounts,
    _note,
    _pct_signed,
    _too_little,
)


def _models_off(c: Context) -> bool:
    """True when the models did not run for too little history (the intro says why)."""
    return c.audit.models.status == TOO_LITTLE_HISTORY


def models_intro(c: Context) -> Group | Callout:
    t = c.t
    if _models_off(c):
        return _too_little(c)
    parts = [P.callout(html.escape(t("mod.intro")))]
    if not _amounts(c):
        parts.append(P.callout(html.escape(t("honest.models_no_amounts")), kind="warn"))
    for note in c.audit.models.notes or []:
        parts.append(P.callout(html.escape(_note(c, note)), kind="warn"))
    return Group(parts)


def model_choice_table(c: Context) -> Group | Callout:
    """Which model describes this clinic: the three models scored on the holdout."""
    import pandas as pd

    t, f = c.t, c.f
    m = c.audit.models
    sel = m.selection or {}
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
    chosen = m.chosen
    h = m.holdout or {}
    text = t("choice.reading", model=t(f"choice.name.{chosen}"), days=f.number(h.get("days")))
    if chosen == "bgnbd":
        text += " " + t("choice.bgnbd_why")
    return Group([tbl, P.callout(html.escape(text))])


def models_kpis(c: Context) -> Kpis | Group:
    t, f = c.t, c.f
    if "p_alive" not in c.audit.patients:
        return Group([])
    return P.kpis(
        [
            (f.percent(c.audit.models.p_alive["base_mean"]), t("mod.kpi.p_alive")),
            (f.number(c.audit.models.expected_visits_12m), t("mod.kpi.visits")),
            (_money(c, (c.audit.models.clv or {}).get("total_12m")), t("mod.kpi.clv")),
            (_money(c, c.audit.forecast.total_12m), t("mod.kpi.forecast")),
        ]
    )


def p_alive_by_phase(c: Context) -> Group:
    import pandas as pd

    from clinic_analysis.measures.activity import PHASES

    t, f = c.t, c.f
    if "p_alive" not in c.audit.patients:
        return Group([])
    by = c.audit.models.p_alive["by_phase"]
    df = pd.DataFrame(
        {
            "phase": [t(f"act.phase.{x}") for x in PHASES],
            "patients": [by[x]["patients"] for x in PHASES],
            "p_alive": [by[x]["mean"] for x in PHASES],
        }
    )
    mean = pd.Series([by[x]["mean"] for x in PHASES], dtype=float)
    text = t("mod.phase_agree" if phases_agree(mean) else "mod.phase_disagree")
    return Group(
        [
            P.table(
                df,
                formats={"patients": f.number, "p_alive": f.percent},
                headers={k: t(f"mod.col.{k}") for k in df.columns},
            ),
            P.callout(html.escape(text)),
        ]
    )


def phases_agree(p_alive) -> bool:
    """True when P(alive), as the table shows it (whole percent), never rises from one
    phase to a later one; phases without patients are skipped (a reading of the table as
    printed, not a figure)."""
    shown = (p_alive.dropna() * 100).round()
    return bool((shown.diff().dropna() <= 0).all())


@deferred
def holdout_chart(c: Context) -> Group | Callout:
    t, f = c.t, c.f
    hb = c.audit.models.holdout_by_frequency
    h = c.audit.models.holdout
    if _models_off(c):
        return Group([])
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
        err=f.percent(h["total_error"]),
    )
    return Group([P.figure(fig, t("mod.caption.holdout")), P.callout(html.escape(text))])


@deferred
def frequency_fit_chart(c: Context) -> Chart | Group:
    t = c.t
    ff = c.audit.models.frequency_fit
    if ff is None:
        return Group([])
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


def gamma_gamma_note(c: Context) -> Paragraph | Group:
    t, f = c.t, c.f
    g = c.audit.models.gamma_gamma or {}
    if "freq_monetary_corr" not in g:
        return Group([])
    key = "mod.gg_ok" if g.get("status") == "ok" else "mod.gg_failed"
    return P.paragraph(html.escape(t(key, corr=f.number(g["freq_monetary_corr"], 2))), muted=True)


@deferred
def clv_chart(c: Context) -> Group | Callout:
    t, f = c.t, c.f
    p = c.audit.patients
    if not _amounts(c):
        return _no_amounts(c)
    if "clv_12m" not in p:
        return Group([])
    values = p.loc[p["in_base"], "clv_12m"].dropna().to_numpy()
    fig, ax = plt.subplots(figsize=(10, 3.2))
    plots.plot_deciles(
        values,
        ax=ax,
        title=t("mod.chart.clv"),
        xlabel=t("mod.axis.decile"),
        money_fmt=f.money_short,
    )
    clv = c.audit.models.clv or {}
    share, total = clv.get("top_decile_share"), clv.get("base_total_12m")
    text = t("mod.clv_reading", share=f.percent(share), total=f.money_short(total))
    return Group([P.figure(fig, t("mod.caption.clv")), P.callout(html.escape(text))])


def clusters_block(c: Context) -> Group | Callout:
    import pandas as pd

    t, f = c.t, c.f
    prof = c.audit.models.cluster_profile
    cl = c.audit.models.clusters or {}
    if _models_off(c):
        return Group([])
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
    return Group([tbl, note])


def _cluster_label(c: Context, name: str) -> str:
    head, _, tail = name.rpartition("_")
    if head and tail.isdigit():
        return f"{_cluster_name(c, head)} ({tail})"
    return _cluster_name(c, name)


def _cluster_name(c: Context, name: str) -> str:
    return c.t.get(f"cluster.{name}") or c.t(f"honest.cluster.{name}")


def cluster_crosstab(c: Context, by: str) -> Table | Callout | Group:
    import pandas as pd

    t, f = c.t, c.f
    p = c.audit.patients
    if _models_off(c):
        return Group([])
    if "cluster" not in p:
        return P.callout(html.escape(t("mod.no_clusters")), kind="warn")
    ct = ((c.audit.models.clusters or {}).get("crosstab") or {}).get(by)
    if ct is None:
        return P.callout(html.escape(t("mod.no_clusters")), kind="warn")
    label = (lambda x: t(f"act.phase.{x}")) if by == "phase" else (lambda x: t(f"seg.{x}"))
    cols = ct["columns"]
    df = pd.DataFrame({"cluster": [_cluster_label(c, n) for n in ct["clusters"]]})
    for j, col in enumerate(cols):
        df[label(col)] = [row[j] for row in ct["counts"]]
    return P.table(
        df,
        formats={label(col): f.number for col in cols},
        headers={"cluster": t("mod.col.cluster")},
    )
