"""What each PDF report says: its figures, sentences, tables and charts, gathered from the
analytics services and drawn with ``reports.charts`` and the stakeholder map.

Nothing is computed here that the web pages compute elsewhere: the health index, NPS, gaps,
panel change and themes come from ``relhealth.analytics`` (the account's answers are loaded
once and handed to the same pure functions ``service.account_trends`` uses), the map from
``relhealth.accounts``. This module only picks, orders and words them for paper.
"""

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from relhealth.accounts import service as accounts_service
from relhealth.accounts.map import render_map
from relhealth.accounts.models import Account, AccountKind, Person
from relhealth.accounts.seniority import ladder
from relhealth.analytics import metrics, service, summaries, text, trends
from relhealth.analytics.metrics import AnalyticsSettings
from relhealth.analytics.people import map_scores, whom_we_hear_from
from relhealth.auth.models import User
from relhealth.followup import kpis, stories
from relhealth.reports import charts
from relhealth.reports.render import Images

SIDES = {"external": "Their side", "internal": "Our side"}
QUADRANT_LABELS = {
    "agreed_strength": "agreed strength",
    "agreed_weakness": "agreed weakness",
    "blind_spot": "blind spot",
    "undervalued_strength": "undervalued strength",
}
GAP_CLASS_LABELS = charts.GAP_CLASS_LABELS
_SVG_NS, _XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
_LABEL = re.compile(r'aria-label="([^"]*)"')
MAP_WIDTH = 900  # px of the map's own layout; the page scales it to the text width
VERBATIMS = 8
MOVERS = 5
CHANGES = 3
FACETS = 4  # dimension panels per trend chart: two rows of two fill a page
PRINT_DPI = 200  # the charts' resolution on paper


def _svg(images: Images, svg: str) -> Markup:
    """An SVG drawing (the stakeholder map) as an ``<img>`` of the report's ``images``.

    The same drawing as inline SVG, but WeasyPrint lays an image out once instead of as a tree
    of boxes. Its text stays selectable.
    """
    if "xmlns=" not in svg[: svg.find(">")]:
        svg = svg.replace("<svg ", f'<svg xmlns="{_SVG_NS}" xmlns:xlink="{_XLINK_NS}" ', 1)
    label = _LABEL.search(svg)
    alt = Markup(label.group(1)) if label else "chart"  # noqa: S704 -- already an escaped attribute
    url = images.add(svg.encode(), "image/svg+xml")
    return Markup(f'<img alt="{alt}" src="{url}">')  # noqa: S704 -- url is ours, alt escaped


def _chart(images: Images, jpeg: bytes, title: str) -> Markup:
    """A chart drawn at ``PRINT_DPI`` (JPEG bytes) as an ``<img>`` of the report's ``images``,
    named ``title``.

    Charts print as images rather than SVG: WeasyPrint draws an SVG chart node by node (every
    tick label is a text layout of its own), which made the charts most of a report's time;
    a bitmap it merely embeds. At ``PRINT_DPI`` the lines and 7 pt labels print sharp.
    """
    return Markup('<img alt="{}" src="{}">').format(title, images.add(jpeg, "image/jpeg"))


def dimension_label(key: object) -> str:
    return charts.label_of(key)


def dimension_trends(
    by_dimension: pd.DataFrame, images: Images, per_chart: int = FACETS
) -> list[dict]:
    """Their side and ours per wave, one small panel per dimension, ``per_chart`` panels (two
    rows) to a chart so each chart fits on a page."""
    dimensions = sorted(by_dimension["dimension"].dropna().unique(), key=str)
    result = []
    for start in range(0, len(dimensions), per_chart):
        chunk = dimensions[start : start + per_chart]
        title = ", ".join(dimension_label(d) for d in chunk)
        name = f"Their side and ours per wave: {title}"
        image = charts.trend_chart(
            by_dimension[by_dimension["dimension"].isin(chunk).to_numpy(dtype=bool)],
            series="side",
            facet="dimension",
            labels=SIDES,
            series_order=["external", "internal"],
            facet_order=chunk,
            title=name,
            dpi=PRINT_DPI,
        )
        result.append({"title": title, "image": _chart(images, image, name)})
    return result


def _cover(account: Account | None, now: dt.datetime, title: str) -> dict:
    return {
        "title": title,
        "account": account,
        "date": now.date(),
        "generated_at": now,
    }


def response_rate(invitations: pd.DataFrame, wave_ids: list[int]) -> dict:
    """Responded / invited over ``wave_ids`` (the reporting period's waves)."""
    if invitations.empty or not wave_ids:
        return {"invited": 0, "responded": 0, "rate": None}
    chosen = invitations[invitations["wave_id"].isin(wave_ids).to_numpy(dtype=bool)]
    invited = chosen[chosen["invited"].to_numpy(dtype=bool)]
    responded = int(invited["responded"].sum())
    return {
        "invited": len(invited),
        "responded": responded,
        "rate": responded / len(invited) if len(invited) else None,
    }


def biggest_changes(by_dimension: pd.DataFrame, limit: int = CHANGES) -> list[dict]:
    """Per dimension, their side's change since the previous wave in the latest wave;
    the ``limit`` largest, significant changes first."""
    if by_dimension.empty:
        return []
    theirs = by_dimension[by_dimension["side"].eq("external").fillna(False).to_numpy(dtype=bool)]
    theirs = theirs.sort_values("wave_at", kind="stable")
    latest_wave = theirs["wave_at"].max()
    rows = [
        r
        for r in summaries.records(theirs[theirs["wave_at"].eq(latest_wave).to_numpy(dtype=bool)])
        if r.get("status") == "ok" and r.get("change") is not None
    ]
    rows.sort(key=lambda r: (not r.get("significant"), -abs(r["change"])))
    return [{**r, "label": dimension_label(r["dimension"])} for r in rows[:limit]]


def widest_gaps(gaps: pd.DataFrame, limit: int = CHANGES) -> list[dict]:
    rows = [
        r for r in summaries.records(gaps) if r.get("status") == "ok" and r.get("gap") is not None
    ]
    rows.sort(key=lambda r: -abs(r["gap"]))
    return [_gap_row(r) for r in rows[:limit]]


def n_label(respondents: int | None, status: str | None) -> str:
    """A group's n as printed beside its score: a group nobody in answered has n=0; only a
    suppressed group (a confidential program, under k) hides it."""
    if respondents is not None:
        return f"n={respondents}"
    return "n=\u2013" if status == "suppressed" else "n=0"


def _gap_row(row: dict) -> dict:
    return {
        **row,
        "label": dimension_label(row["dimension"]),
        "gap_class_label": GAP_CLASS_LABELS.get(row.get("gap_class") or "", "\u2013"),
        "quadrant_label": QUADRANT_LABELS.get(row.get("quadrant") or "", "\u2013"),
    }


def _coverage(session: Session, account: Account, answers: pd.DataFrame, images: Images) -> dict:
    settings = accounts_service.graph_settings()
    stakeholders, figures = accounts_service.account_map(session, account, settings.today)
    scores, sentiment = map_scores(answers)
    people = dict(stakeholders.nodes(data=True))

    def name(person_id: int) -> str:
        person = people.get(person_id) or {}
        return str(person.get("name") or f"person {person_id}")

    return {
        "metrics": figures,
        "svg": _svg(
            images,
            render_map(
                stakeholders,
                figures,
                title=account.name,
                scores=scores,
                sentiment=sentiment,
                ladder=settings.ladder,
                max_width=MAP_WIDTH,
            ),
        ),
        "heard": whom_we_hear_from(stakeholders, answers, settings),
        "uncovered_executives": [name(p) for p in figures["uncovered"]["executives"]],
        "uncovered_decision_makers": [name(p) for p in figures["uncovered"]["decision_makers"]],
        "stale_links": len(figures["stale_links"]),
        "key_person_risks": [
            {"person": name(r["person"]), "orphaned": len(r["orphaned"])}
            for r in figures["key_person_risks"]
        ],
    }


def _names(session: Session, person_ids: set[int]) -> dict[int, dict]:
    if not person_ids:
        return {}
    rows = session.execute(
        select(Person.id, Person.first_name, Person.last_name, Person.title).where(
            Person.id.in_(sorted(person_ids))
        )
    )
    return {pid: {"name": f"{first} {last}", "title": title} for pid, first, last, title in rows}


def verbatims(session: Session, answers: pd.DataFrame, limit: int = VERBATIMS) -> list[dict]:
    """The most telling sentences (``text.telling_phrases``), each with who said it: a name and
    title in identified programs; nobody in confidential ones (the phrases carry no person)."""
    phrases = summaries.telling_phrase_rows(
        text.telling_phrases(answers, _taxonomy(), limit=2), limit=limit
    )
    if not phrases:
        return []
    said = answers[answers["text"].notna().to_numpy(dtype=bool)]
    identified = said[said["k"].le(1).to_numpy(dtype=bool)]
    sources = {
        (r["person_id"], r["wave_id"]): r
        for r in summaries.records(identified[["person_id", "wave_id", "side", "seniority"]])
    }
    names = _names(session, {int(p["person_id"]) for p in phrases if p.get("person_id")})
    result = []
    for phrase in phrases:
        source = sources.get((phrase.get("person_id"), phrase.get("wave_id")))
        person = names.get(phrase["person_id"]) if source else None
        result.append(
            {
                "text": phrase["phrase"],
                "themes": [str(t).replace("_", " ") for t in phrase["themes"]],
                "sentiment": phrase.get("sentiment"),
                "wave_at": phrase.get("wave_at"),
                "side": SIDES.get(source["side"], "\u2013") if source else None,
                "seniority": source["seniority"] if source else None,
                "name": person["name"] if person else None,
                "title": person["title"] if person else None,
            }
        )
    return result


def _taxonomy():
    from flask import current_app

    path = current_app.config.get("THEMES_FILE") or None
    return text.load_taxonomy(path) if path else None


def _method(answers: pd.DataFrame, settings: AnalyticsSettings) -> dict:
    """Every wave's n per side (respondents and answers), for the appendix on method."""
    numeric = metrics.numeric_answers(answers)
    per_wave = []
    if not numeric.empty:
        grouped = numeric.groupby(["wave_at", "side"], observed=True).agg(
            respondents=("response_id", "nunique"), answers=("scaled", "size")
        )
        for (wave_at, side), row in grouped.iterrows():
            per_wave.append(
                {
                    "wave_at": wave_at,
                    "side": SIDES.get(side, side),
                    "respondents": int(row["respondents"]),
                    "answers": int(row["answers"]),
                }
            )
    return {
        "settings": settings,
        "per_wave": per_wave,
        "confidential": bool((answers["k"] > 1).any()) if not answers.empty else False,
    }


def account_content(
    session: Session,
    account: Account,
    settings: AnalyticsSettings,
    now: dt.datetime,
) -> dict[str, Any]:
    """Everything the account relationship report shows (``templates/reports/account.html``)."""
    answers = service.load_answers(session, account_ids=[account.id])
    images = Images()
    content: dict[str, Any] = {
        "cover": _cover(account, now, "Account relationship report"),
        "account": account,
        "settings": settings,
        "images": images,
        "has_answers": not metrics.numeric_answers(answers).empty,
        "coverage": _coverage(session, account, answers, images),
    }
    if not content["has_answers"]:
        return content

    overall = trends.trend(answers, None, settings)
    by_dimension = trends.trend(answers, ["dimension", "side"], settings)
    theirs = answers[answers["side"].eq("external").fillna(False).to_numpy(dtype=bool)]
    by_seniority = trends.trend(theirs, "seniority", settings)
    gaps = service.account_gaps(session, account, settings, answers=answers)
    invitations = service.load_invitations(session, account_ids=[account.id])
    panel = service.account_panel(
        session, account, settings, answers=answers, invitations=invitations
    )

    content["headline"] = summaries.headline(metrics.health_per_wave(answers, settings), overall)
    content["period"] = gaps["period"]
    content["first_wave_at"] = answers["wave_at"].min()
    content["last_wave_at"] = answers["wave_at"].max()
    content["response"] = response_rate(invitations, gaps["wave_ids"])
    content["changes"] = biggest_changes(by_dimension)
    content["widest_gaps"] = widest_gaps(gaps["gaps"])
    content["gap_rows"] = [_gap_row(r) for r in summaries.records(gaps["gaps"])]
    content["top_rows"] = [
        {
            **r,
            "side_label": SIDES.get(r["side"], r["side"]),
            "n_top": n_label(r["respondents_top"], r["status"]),
            "n_line": n_label(r["respondents_line"], r["status"]),
        }
        for r in summaries.records(gaps["top_vs_line"])
    ]
    content["trend_charts"] = dimension_trends(by_dimension, images)
    title = "Ours vs theirs per dimension"
    content["gap_chart"] = _chart(
        images,
        charts.gap_chart(
            gaps["gaps"],
            high_line=settings.high_line,
            aligned=settings.gap_aligned,
            title=title,
            dpi=PRINT_DPI,
        ),
        title,
    )
    title = "Their side: scores by seniority and wave"
    content["heatmap_chart"] = _chart(
        images,
        charts.heatmap_chart(
            by_seniority, row="seniority", row_order=ladder(), title=title, dpi=PRINT_DPI
        ),
        title,
    )
    change = panel["change"]
    content["panel_rows"] = (
        summaries.records(
            change.sort_values("wave_at_after", ascending=False, kind="stable").head(4)
        )
        if not change.empty
        else []
    )
    content["migration"] = summaries.latest_migration(panel["migration"], change)
    drop_outs = panel["drop_outs"]
    latest_drop = (
        drop_outs[drop_outs["wave_at"].eq(drop_outs["wave_at"].max()).to_numpy(dtype=bool)]
        if not drop_outs.empty
        else drop_outs
    )
    content["drop_outs"] = [
        {**r, "side_label": SIDES.get(r.get("side") or "", "")}
        for r in summaries.records(latest_drop)
    ]
    content["drop_out_total"] = int(drop_outs["people"].sum()) if not drop_outs.empty else 0
    content["verbatims"] = verbatims(session, answers)
    content["loop"] = kpis.closed_loop_summary(session, None, account.id, now=now)
    content["stories"] = stories.detractor_stories(session, account.id, now)
    content["method"] = _method(answers, settings)
    return content


def partner_content(
    session: Session,
    account: Account,
    settings: AnalyticsSettings,
    now: dt.datetime,
) -> dict[str, Any]:
    """Both sides of a partnership, dimension by dimension (``templates/reports/partner.html``)."""
    if account.kind != AccountKind.PARTNER:
        from relhealth.core.errors import InvalidInput

        raise InvalidInput(f"{account.name} is a customer: the two-way report is for partners.")
    answers = service.load_answers(session, account_ids=[account.id])
    images = Images()
    content: dict[str, Any] = {
        "cover": _cover(account, now, "Partnership two-way report"),
        "account": account,
        "settings": settings,
        "images": images,
        "has_answers": not metrics.numeric_answers(answers).empty,
    }
    if not content["has_answers"]:
        return content
    gaps = service.account_gaps(session, account, settings, answers=answers)
    by_dimension = trends.trend(answers, ["dimension", "side"], settings)
    content["period"] = gaps["period"]
    content["rows"] = [_gap_row(r) for r in summaries.records(gaps["gaps"])]
    content["disagreements"] = [
        r for r in content["rows"] if r.get("status") == "ok" and r.get("gap_class") != "aligned"
    ]
    content["disagreements"].sort(key=lambda r: -abs(r["gap"]))
    content["quadrants"] = {
        label: [r["label"] for r in content["rows"] if r.get("quadrant") == key]
        for key, label in QUADRANT_LABELS.items()
    }
    title = "How each side rates the partnership"
    content["gap_chart"] = _chart(
        images,
        charts.gap_chart(
            gaps["gaps"],
            high_line=settings.high_line,
            aligned=settings.gap_aligned,
            title=title,
            dpi=PRINT_DPI,
        ),
        title,
    )
    content["trend_charts"] = dimension_trends(by_dimension, images)
    content["method"] = _method(answers, settings)
    return content


def portfolio_content(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    settings: AnalyticsSettings,
    now: dt.datetime,
) -> dict[str, Any]:
    """Accounts ranked by health and value at risk, and the biggest movers
    (``templates/reports/portfolio.html``)."""
    summary = service.portfolio_summary(session, user, filters, settings, sort="health")
    if not summary.empty:
        summary = summary.merge(
            service.health_changes(session, user, summary["account_id"].tolist(), settings),
            on="account_id",
            how="left",
        )
    rows = summaries.records(summary)
    movers = [r for r in rows if r.get("health_change") is not None]
    movers.sort(key=lambda r: abs(r["health_change"]), reverse=True)
    by_risk = [r for r in rows if r.get("value_at_risk") is not None]
    by_risk.sort(key=lambda r: -r["value_at_risk"])
    scored = [r for r in rows if r.get("health_status") == "ok"]
    images = Images()
    content: dict[str, Any] = {
        "cover": _cover(None, now, "Portfolio relationship report"),
        "settings": settings,
        "images": images,
        "filters": {k: v for k, v in filters.items() if v not in (None, "")},
        "rows": rows,
        "scored": len(scored),
        "movers": movers[:MOVERS],
        "by_risk": by_risk[:10],
        "total_at_risk": sum(r["value_at_risk"] for r in by_risk),
        "total_value": sum(summaries.plain(r.get("annual_value")) or 0 for r in rows),
        "below_line": [r for r in scored if r["health"] < settings.high_line],
        "loop": kpis.closed_loop_summary(
            session, user, now=now, within=[r["account_id"] for r in rows] if filters else None
        ),
    }
    title = "Accounts by health, with value at risk"
    content["portfolio_chart"] = _chart(
        images,
        charts.portfolio_chart(
            summary.assign(status=summary["health_status"]) if not summary.empty else summary,
            change="health_change" if "health_change" in summary else None,
            high_line=settings.high_line,
            limit=40,
            title=title,
            dpi=PRINT_DPI,
        ),
        title,
    )
    return content


def _pct(share: float | None) -> str:
    return "\u2013" if share is None else f"{100 * share:.0f}%"


def account_sentences(content: dict) -> dict[str, str]:
    """The executive summary's plain sentences, from the figures ``account_content`` gathered."""
    name = content["account"].name
    cov = content["coverage"]["metrics"]
    overall = cov["coverage"]["overall"]
    coverage = (
        f"{overall['covered']} of their {overall['total']} people ({_pct(overall['share'])}) "
        "have a relationship owner on our side"
        if overall["total"]
        else "None of their people is on the stakeholder map yet"
    )
    executives = content["coverage"]["uncovered_executives"]
    coverage += (
        f"; {len(executives)} of their executives {'has' if len(executives) == 1 else 'have'} "
        "nobody of ours."
        if executives
        else "; every executive of theirs has someone of ours."
    )
    coverage += f" The relationship is {cov['threading']['status']}."
    sentences = {"coverage_sentence": coverage}
    if not content.get("has_answers"):
        return sentences
    health, nps = content["headline"]["health"], content["headline"]["nps"]
    parts = []
    if health["value"] is not None:
        moved = (
            f", {'up' if health['change'] >= 0 else 'down'} {abs(health['change']):.0f} points "
            "since the previous wave"
            if health["change"] is not None
            else ""
        )
        parts.append(
            f"The health of the relationship with {name} stands at {health['value']:.0f} "
            f"out of 100{moved} (n={health['n']:.0f})."
        )
    else:
        parts.append(f"Too few people at {name} answered the latest wave for a health index.")
    if nps["value"] is not None:
        parts.append(f"Their NPS is {nps['value']:+.0f} (n={nps['n']:.0f}).")
    rate = content["response"]["rate"]
    if rate is not None:
        parts.append(
            f"{_pct(rate)} of the people invited in {quarter(content['period'])} answered."
        )
    sentences["summary_sentence"] = " ".join(parts)
    return sentences


def partner_sentence(content: dict) -> str:
    rows = [r for r in content["rows"] if r.get("status") == "ok"]
    if not rows:
        return "Too few people on one side answered to compare the two views yet."
    apart = content["disagreements"]
    if not apart:
        return (
            f"Both sides see the partnership with {content['account'].name} the same way: every "
            f"dimension is within {content['settings'].gap_aligned:.0f} points."
        )
    rosier = sum(1 for r in apart if r["gap"] > 0)
    widest = apart[0]
    return (
        f"The two sides disagree on {len(apart)} of {len(rows)} dimensions; on {rosier} of them "
        f"we see things rosier than they do. The widest gap is {widest['label'].lower()}: "
        f"we score it {widest['internal']:.0f}, they score it {widest['external']:.0f}."
    )


def portfolio_sentence(content: dict) -> str:
    rows = content["rows"]
    scored = [r for r in rows if r.get("health_status") == "ok"]
    if not scored:
        return "No account has enough answers for a health score yet."
    worst = min(scored, key=lambda r: r["health"])
    text_ = (
        f"{len(scored)} of {len(rows)} accounts have a health score; "
        f"{len(content['below_line'])} are below {content['settings'].high_line:.0f}. "
        f"The weakest is {worst['name']} at {worst['health']:.0f}."
    )
    if content["by_risk"]:
        top = content["by_risk"][0]
        text_ += (
            f" The most value at risk is at {top['name']} ({charts.money(top['value_at_risk'])})."
        )
    return text_


def quarter(period: object) -> str:
    """``2026Q4`` as it reads in a sentence: Q4 2026."""
    value = str(period or "")
    if len(value) == 6 and value[4] == "Q":
        return f"Q{value[5]} {value[:4]}"
    return value or "\u2013"
