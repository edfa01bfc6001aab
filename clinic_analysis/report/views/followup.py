"""Section 10, what the calls achieved since the last audit."""

from __future__ import annotations

import html

from IPython.display import HTML

from clinic_analysis.report import present as P
from clinic_analysis.report.views.context import Context


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
        listed=f.number(c.audit.followup.totals["listed"]),
        called=f.number(c.audit.followup.totals["called"]),
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
    lost = c.audit.followup.totals["not_found"]
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
