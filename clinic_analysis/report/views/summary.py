"""The executive summary (the owner's first page), the methodology appendix and glossary."""

from __future__ import annotations

import html

from clinic_analysis.report.elements import Group, Html, Paragraph
from clinic_analysis.report.views.context import Context, _or_missing, _pct_signed


def executive_summary(c: Context) -> Html:
    """The owner's first page: the money in the base, three numbers, three actions (each
    linked to its section). The report moves it to right after the cover."""
    a, t, f = c.audit, c.t, c.f
    at_stake = a.refusers.at_stake or {}
    # frozen: every unpaid stopped-plan balance and refused plan, however old; at stake:
    # the refusers section's windowed part of it (refusals of the last months)
    frozen = a.refusers.frozen
    stake = at_stake.get("total")
    potential = (a.refusers.potential or {}).get("base")
    fc_base = a.forecast.no_action_total  # "if nothing is done"
    fc_total = a.forecast.with_calls_total  # "if the base is worked"
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
    return Html(
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
    a, t, f = c.audit, c.t, c.f
    out = []
    rev = a.revenue.last_12m
    growth = a.revenue.growth_12m
    out.append(
        t(
            "web.num.revenue",
            revenue=_or_missing(c, f.money_short, rev),
            growth=_or_missing(c, lambda g: _pct_signed(f, g), growth),
        )
    )
    ret = a.repeat.new_patient_retention
    mark = a.repeat.retention_mark
    out.append(
        t(
            "web.num.retention",
            retention=_or_missing(c, f.percent, ret),
            mark=_or_missing(c, f.percent, mark),
        )
    )
    n = a.refusers.refusers_total
    contactable = a.completeness.contactable
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
    a, t, f = c.audit, c.t, c.f
    by_segment = a.refusers.potential_by_segment or {}
    sheets = a.calls.sheets or {}
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
    ret = a.repeat.new_patient_retention
    mark = a.repeat.retention_mark
    if ret is not None and mark is not None and ret < mark:
        actions.append(
            (
                t("web.act.retention_title"),
                t("web.act.retention", retention=f.percent(ret), mark=f.percent(mark)),
                "sec-repeat",
            )
        )
    contactable = a.completeness.contactable
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


def methodology_appendix(c: Context) -> Group:
    """Methodology: how the figures were made, the models and how they were checked, and
    what the exports did not hold."""
    a, t, f = c.audit, c.t, c.f
    models = a.models
    parts = [Paragraph(html.escape(t("web.app.method")))]
    checks = []
    ho = models.holdout  # the chosen model's holdout check
    if ho and models.chosen:
        checks.append(
            t(
                "web.app.holdout",
                model=t(f"choice.name.{models.chosen}"),
                days=f.number(ho.get("days")),
                predicted=f.number(ho.get("predicted_total")),
                actual=f.number(ho.get("actual_total")),
            )
        )
    gg = (models.gamma_gamma or {}).get("status")
    if gg:
        checks.append(t("web.app.gamma_gamma", status=gg))
    bt = a.forecast.backtest
    if bt and bt.get("mape") is not None:
        checks.append(
            t("web.app.backtest", months=f.number(bt.get("months")), mape=f.percent(bt["mape"]))
        )
    clusters = models.clusters or {}
    k = clusters.get("k")
    if k is not None:
        checks.append(
            t("web.app.clusters", k=f.number(k), s=f.number(clusters.get("silhouette"), 2))
        )
    if not checks:
        checks.append(t("web.app.no_models"))
    parts.append(Html(f"<h4>{html.escape(t('web.app.models'))}</h4>"))
    parts.append(_bullets(checks))
    missing = _not_exported(c)
    parts.append(Html(f"<h4>{html.escape(t('web.app.missing'))}</h4>"))
    if missing:
        parts.append(_bullets(missing))
    else:
        parts.append(Paragraph(html.escape(t("web.app.nothing_missing"))))
    return Group(parts)


def _bullets(items: list[str]) -> Html:
    return Html("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in items) + "</ul>")


def _not_exported(c: Context) -> list[str]:
    a, t = c.audit, c.t
    out = []
    for table in a.data_quality.missing_tables or []:
        out.append(t("web.app.missing_table", table=t.get(f"table.{table}", table)))
    fields = a.completeness.not_exported or []
    if fields:
        out.append(t("web.app.missing_fields", fields=", ".join(map(str, fields))))
    breakdowns = a.repeat.not_available or []
    if breakdowns:
        out.append(t("web.app.missing_breakdowns", names=", ".join(map(str, breakdowns))))
    return out


def glossary(c: Context) -> Html:
    """The report's terms and their definitions, in the report's language."""
    t = c.t
    items = "".join(
        f"<dt>{html.escape(t(f'web.gloss.{k}.term'))}</dt>"
        f"<dd>{html.escape(t(f'web.gloss.{k}.def'))}</dd>"
        for k in GLOSSARY_TERMS
    )
    return Html(f'<h4>{html.escape(t("web.app.glossary"))}</h4><dl class="glossary">{items}</dl>')
