"""Section 7, refusers and frozen revenue, and the action plan."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt

from clinic_analysis.measures import gaps
from clinic_analysis.report import plots
from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Chart, Group, Kpis, Paragraph, Table, deferred
from clinic_analysis.report.views.context import Context, _amounts, _money, _no_amounts


def _delay_loss(r) -> float | None:
    """What one month without calls costs (None when money is not exported)."""
    return r.delay_cost.get("loss_1_month")


def refusers_kpis(c: Context) -> Kpis:
    r, t, f = c.audit.refusers, c.t, c.f
    stake = r.at_stake
    loss = _delay_loss(r)
    return P.kpis(
        [
            (
                f.number(r.refusers_total),
                t("honest.kpi_refusers", n=f.number(len(_refuser_rows(r)))),
            ),
            (_money(c, stake["total"]), t("ref.kpi.at_stake", months=stake["months"])),
            (_money(c, r.potential["base"]), t("ref.kpi.potential")),
            (_money(c, loss), t("ref.kpi.delay")),
        ]
    )


def _refuser_rows(r) -> list[str]:
    """The refuser segments with patients: the rows the segments table shows for them."""
    from clinic_analysis.measures.refusers import REFUSER_SEGMENTS

    return [s for s in REFUSER_SEGMENTS if r.counts.get(s)]


FRESH_MAJORITY = 0.5  # at least half refused recently: the reading says "most are fresh"


def refusers_reading(c: Context) -> Callout:
    r, t, f = c.audit.refusers, c.t, c.f
    s = c.audit.params.refusers
    if not r.refusers_total:
        return P.callout(html.escape(t("honest.no_refusers")))
    fresh = r.fresh_share
    key = "honest.ref_few_fresh" if fresh < FRESH_MAJORITY else "honest.ref_mostly_fresh"
    parts = [
        t(key, n=f.number(r.refusers_total), fresh=f.percent(fresh)),
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


def segments_table(c: Context) -> Table:
    """One row per segment with patients: size, share, plan balance, model value and the
    return potential. (The notebook shows :func:`unreachable_note` under it.)"""
    import pandas as pd

    from clinic_analysis.measures.refusers import SEGMENTS

    r, t, f = c.audit.refusers, c.t, c.f
    plan_money = gaps.has_plan_amounts(c.audit.data)
    rows = []
    for s in SEGMENTS:
        n = r.counts[s]
        if not n:
            continue
        pot = r.potential_by_segment.get(s, {}).get("base")
        rows.append(
            {
                "segment": t(f"seg.{s}"),
                "patients": n,
                "share": r.shares[s],
                "balance": r.plan_balance.get(s) or None,
                "model_value": (r.model_value_12m or {}).get(s) or None,
                "potential": pot,
                "what": t(f"seg_about.{s}"),
            }
        )
    df = pd.DataFrame(rows)
    ne = t("honest.not_exported")
    return P.table(
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


def unreachable_note(c: Context) -> Callout | Group:
    """A warning naming the segments to call in which nobody can be contacted."""
    from clinic_analysis.measures.refusers import CALL_SEGMENTS

    r, t = c.audit.refusers, c.t
    reach = r.contactable or {}
    if reach and all(v is None for v in reach.values()):
        return P.callout(html.escape(t("honest.unreachable_not_exported")), kind="warn")
    nobody = [s for s in CALL_SEGMENTS if r.counts.get(s) and not reach.get(s)]
    if not nobody:
        return Group([])
    text = t("honest.unreachable", segments=", ".join(t(f"seg.{s}") for s in nobody))
    return P.callout(html.escape(text), kind="warn")


@deferred
def segment_ages_chart(c: Context) -> Chart | Paragraph:
    from clinic_analysis.measures.refusers import AGE_BUCKETS, REFUSER_SEGMENTS

    t = c.t
    ages = c.audit.refusers.segment_ages
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


def scenarios_table(c: Context) -> Table | Callout:
    """Per segment and in total, the money each scenario returns. A scenario's cell holds
    ``(money, return rate)``; the total row's cells hold the money alone."""
    import pandas as pd

    from clinic_analysis.measures.refusers import SCENARIOS

    r, t, f = c.audit.refusers, c.t, c.f
    if not _amounts(c):
        return _no_amounts(c)
    rows = []
    for s, vals in r.potential_by_segment.items():
        if not r.counts.get(s):
            continue
        rates = r.rates[s]
        rows.append(
            {
                "segment": t(f"seg.{s}"),
                "patients": r.counts[s],
                **{sc: (vals[sc], rates[sc]) for sc in SCENARIOS},
            }
        )
    rows.append(
        {
            "segment": t("ref.total"),
            "patients": r.potential_patients,
            **{sc: r.potential[sc] for sc in SCENARIOS},
        }
    )

    def money_rate(cell) -> str:
        if not isinstance(cell, tuple):  # the total row: the money alone
            return f.money_short(cell)
        return f"{f.money_short(cell[0])} ({f.percent(cell[1])})"

    df = pd.DataFrame(rows)
    return P.table(
        df,
        formats={"patients": f.number, **{sc: money_rate for sc in SCENARIOS}},
        headers={
            "segment": t("ref.col.segment"),
            "patients": t("ref.col.patients"),
            **{sc: t(f"ref.scenario.{sc}") for sc in SCENARIOS},
        },
    )


def potential_method(c: Context) -> Paragraph | Group:
    r, t, f = c.audit.refusers, c.t, c.f
    h = r.return_history
    if not _amounts(c):
        return Group([])  # the scenarios above say why
    key = "ref.method_history" if h["source"] == "history" else "ref.method_fallback"
    text = t(
        key,
        events=f.number(h["events"]),
        tx=f.number(h["transactions"], 1),
        check=f.money(h["average_check"]),
    )
    return P.paragraph(html.escape(text), muted=True)


@deferred
def delay_chart(c: Context) -> Chart | Callout | Group:
    t, f = c.t, c.f
    d = c.audit.refusers.delay
    if not _amounts(c):
        return _no_amounts(c)
    if d is None or d.empty:
        return Group([])
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


def refusal_reasons_table(c: Context) -> Table | Callout | Paragraph:
    import pandas as pd

    r, t, f = c.audit.refusers, c.t, c.f
    reasons = r.refusal_reasons
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


def plans_missing_note(c: Context) -> Callout | Group:
    if c.audit.data.has("plans"):
        return Group([])
    return P.callout(html.escape(c.t("quality.missing.plans")), kind="warn")


def action_plan_table(c: Context) -> Table | Group:
    """Who to call, how often, what it may return: one row per call list with patients
    (nothing when nobody is to be called; the notebook shows :func:`unreachable_note`
    under it, which says why)."""
    import pandas as pd

    from clinic_analysis.measures.calls import AT_RISK_SHEET
    from clinic_analysis.measures.refusers import CALL_SEGMENTS

    t, f = c.t, c.f
    r = c.audit.refusers
    calls = c.audit.calls.sheets or {}
    rows = []
    for s in (*CALL_SEGMENTS, AT_RISK_SHEET):
        n = calls.get(s)
        if not n:
            continue
        pot = r.potential_by_segment.get(s, {}).get("base")
        rows.append(
            {
                "segment": t(f"calls.sheet.{s}"),
                "contact": n,
                "who": t(f"plan.who.{s}"),
                "cadence": t(f"plan.cadence.{s}"),
                "expected": pot,
                "measure": t(f"plan.measure.{s}"),
            }
        )
    if not rows:  # nobody to call: the note under it says why, no empty table
        return Group([])

    def expected(x) -> str:  # no figure for a list: a dash, or "not exported" without money
        return _money(c, x) if not pd.isna(x) or not _amounts(c) else "—"

    df = pd.DataFrame(rows)
    return P.table(
        df,
        formats={"contact": f.number, "expected": expected},
        headers={k: t(f"plan.col.{k}") for k in df.columns},
    )


def action_plan_note(c: Context) -> Callout:
    t, f = c.t, c.f
    dnc = (c.audit.calls.sheets or {}).get("do_not_contact", 0)
    if not c.audit.data.has("patients", "consent"):
        text = t("honest.plan_note_no_consent")
    else:
        text = t("plan.note", dnc=f.number(dnc))
    cut = cut_note(c)
    return P.callout(html.escape(f"{text} {cut}" if cut else text))


def cut_note(c: Context) -> str:
    """One sentence when a call sheet was cut to params ``calls.max_rows_per_sheet``: the
    patients counted in the report but not listed, per sheet; "" when none was cut."""
    left = c.audit.calls.left_out or {}
    if not left:
        return ""
    lists = "; ".join(f"{c.t(f'calls.sheet.{s}')}: {c.f.number(n)}" for s, n in left.items())
    cap = c.f.number(c.audit.params.calls.max_rows_per_sheet)
    return c.t("calls.cut_note", cap=cap, lists=lists)
