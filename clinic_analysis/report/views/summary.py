"""The executive summary (the owner's first page), the methodology appendix and glossary."""

from __future__ import annotations

import html

from IPython.display import HTML

from clinic_analysis.report.views.context import Context, _get, _or_missing, _pct_signed


def executive_summary(c: Context) -> HTML:
    """The owner's first page: the money in the base, three numbers, three actions (each
    linked to its section). The report moves it to right after the cover."""
    m, t, f = c.audit.metrics, c.t, c.f
    r = m.get("refusers") or {}
    at_stake = r.get("at_stake") or {}
    # frozen: every unpaid stopped-plan balance and refused plan, however old; at stake:
    # the refusers section's windowed part of it (refusals of the last months)
    frozen = c.audit.refusers.frozen
    stake = at_stake.get("total")
    potential = _get(r, "potential", "base")
    fc_base = c.audit.forecast.no_action_total  # "if nothing is done"
    fc_total = c.audit.forecast.with_calls_total  # "if the base is worked"
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
