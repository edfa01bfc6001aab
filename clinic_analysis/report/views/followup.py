"""Section 10, what the calls achieved since the last audit."""

from __future__ import annotations

import html

from clinic_analysis.report import present as P
from clinic_analysis.report.elements import Callout, Group, Paragraph, Table
from clinic_analysis.report.views.context import Context


def _by_segment(c: Context) -> dict:
    """The follow-up's figures per call list (empty when there is no earlier audit)."""
    fu = c.audit.followup
    return (fu.by_segment if fu else None) or {}


def followup_intro(c: Context) -> Callout:
    """Which audit this one follows, and how many listed patients were called."""
    t, f = c.t, c.f
    fu = c.audit.followup
    prev = fu.previous if fu else None
    if not prev:
        return P.callout(html.escape(t("fu.none")))
    by = _by_segment(c)
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


def followup_table(c: Context) -> Table | Group:
    """Per list: listed, called, reached, booked; came among the called and among the
    control (``(count, rate)``), the difference in points with its interval
    (``(difference, low, high)``); revenue from the called."""
    import pandas as pd

    t, f = c.t, c.f
    by = _by_segment(c)
    if not by:
        return Group([])

    def share(cell) -> str:
        x, rate = cell
        return f"{f.number(x)} ({f.percent(rate)})" if rate is not None else f.number(x)

    def points(d) -> str:
        return ("+" if d > 0 else "−" if d < 0 else "±") + f.number(abs(d) * 100)

    def difference(cell) -> str:
        if not isinstance(cell, tuple):
            return "—"
        d, low, high = cell
        return f"{points(d)} ({points(low)}…{points(high)})"

    rows = []
    for key, m in by.items():
        ci = m.get("difference_ci")
        diff = None
        if ci and m.get("difference") is not None:
            diff = (m["difference"], ci[0], ci[1])
        rows.append(
            {
                "segment": t(f"calls.sheet.{key}"),
                "listed": m["listed"],
                "called": m["called"],
                "reached": m["reached"],
                "booked": m["booked"],
                "came": (m["came"], m["came_rate"]),
                "control": (m["control_came"], m["control_came_rate"]),
                "difference": diff,
                "revenue": m["revenue"],
            }
        )
    df = pd.DataFrame(rows)
    cur = c.audit.params.clinic.currency
    counts = {k: f.number for k in ("listed", "called", "reached", "booked")}
    return P.table(
        df,
        formats={
            **counts,
            "came": share,
            "control": share,
            "difference": difference,
            "revenue": f.money_short,
        },
        headers={k: t(f"fu.col.{k}").format(currency=cur) for k in df.columns},
    )


def followup_note(c: Context) -> Paragraph | Group:
    """How came and the control are read; listed patients the new export no longer has."""
    t, f = c.t, c.f
    by = _by_segment(c)
    if not by:
        return Group([])
    text = t("fu.note")
    lost = c.audit.followup.totals["not_found"]
    if lost:
        text += " " + t("fu.unmatched", n=f.number(lost))
    return P.paragraph(html.escape(text), muted=True)


def _since_keys() -> list[str]:
    """The figures of ``since_last``, in its order (as :func:`measures.followup.since_last`
    names them)."""
    from clinic_analysis.measures.followup import PHASES, SEGMENT_FIGURES, SINCE_FIGURES

    return [
        *SINCE_FIGURES,
        *(f"phase_{p}" for p in PHASES),
        *(f"segment_{s}" for s in SEGMENT_FIGURES),
    ]


def since_last_table(c: Context) -> Table | Group:
    """The headline figures of the previous audit and of this one, side by side. Each row
    has its own unit (money, share, count), so the cells are formatted per row: text."""
    import pandas as pd

    t, f = c.t, c.f
    since = c.audit.since_last
    figures = getattr(since, "figures", None) or {}
    if not figures:
        return Group([])
    rows = []
    for key in _since_keys():
        v = figures.get(key)
        if v is None or (v["then"] is None and v["now"] is None):
            continue
        if key.startswith("phase_"):
            label = t("fu.fig.phase", name=t(f"act.phase.{key[6:]}"))
        elif key.startswith("segment_"):
            label = t("fu.fig.segment", name=t(f"seg.{key[8:]}"))
        else:
            label = t(f"fu.fig.{key}")
        fmt = {"revenue_12m": f.money_short, "repeat_rate": f.percent}.get(key, f.number)
        rows.append({"figure": label, "then": fmt(v["then"]), "now": fmt(v["now"])})
    if not rows:
        return Group([])
    df = pd.DataFrame(rows)
    return P.table(df, numeric=["then", "now"], headers={k: t(f"fu.col.{k}") for k in df.columns})


def uncontactable_note(c: Context) -> Paragraph | Group:
    """Patients of each list with neither a phone nor an e-mail: said here, not listed."""
    t, f = c.t, c.f
    gone = c.audit.calls.uncontactable or {}
    items = [f"{t(f'calls.sheet.{k}')}: {f.number(n)}" for k, n in gone.items() if n]
    if not items:
        return Group([])
    return P.paragraph(html.escape(t("fu.uncontactable", items="; ".join(items))), muted=True)
