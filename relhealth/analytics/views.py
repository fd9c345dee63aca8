"""Pages: an account's trends (scores, gaps, panel, themes) and the portfolio health dashboard.

Thin: each page asks ``service`` for its tables, ``reports.charts`` draws them, and the
templates say what a missing figure means (no answers, insufficient signal, suppressed). The
CSV links point at session-authenticated twins of the API exports (the API itself wants a
bearer token), with the same columns.
"""

import math
from typing import Any

import pandas as pd
from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from marshmallow import ValidationError
from sqlalchemy import select

from relhealth.accounts.models import Account, AccountKind, Tier
from relhealth.accounts.seniority import ladder
from relhealth.analytics import api, metrics, schemas, service, summaries, text
from relhealth.auth.models import User
from relhealth.auth.permissions import account_access, readable_accounts
from relhealth.extensions import db
from relhealth.reports import charts

bp = Blueprint("analytics_pages", __name__)

BREAKDOWNS = (
    ("", "Overall"),
    ("side", "Side"),
    ("seniority", "Seniority"),
    ("dimension", "Dimension"),
)
MOVERS = 5


def _svg(svg: str) -> Markup:
    return Markup(svg)  # noqa: S704 -- matplotlib escapes every piece of user text itself


def _by() -> str | None:
    by = request.args.get("by", "")
    return by if by in schemas.TREND_BREAKDOWNS else None


def _program() -> int | None:
    value = request.args.get("program", "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _export(frame: pd.DataFrame, schema, filename: str):
    """A table as the API's CSV export of it: the schema's columns, in its order."""
    wanted = [name for name in schema().fields if name in frame.columns]
    return api.csv_response(frame[wanted], filename)


def _taxonomy():
    path = current_app.config.get("THEMES_FILE") or None
    return text.load_taxonomy(path) if path else None


def _series_labels(by: str | None) -> dict[str, str]:
    return {"external": "Their side", "internal": "Our side"} if by == "side" else {}


@bp.route("/accounts/<id:account_id>/trends")
@login_required
def account_trends(account_id: int):
    """How an account's relationship moves: headline, trend chart, gaps, panel, themes."""
    account = account_access(db.session, current_user, account_id)
    settings = service.analytics_settings()
    by, program_id = _by(), _program()
    answers = service.load_answers(
        db.session,
        user=current_user,
        account_ids=[account.id],
        program_ids=[program_id] if program_id else None,
    )
    context: dict[str, Any] = {
        "account": account,
        "by": by or "",
        "breakdowns": BREAKDOWNS,
        "program_id": program_id,
        "settings": settings,
        "has_answers": not metrics.numeric_answers(answers).empty,
    }
    if not context["has_answers"]:
        return render_template("analytics/trends.html", **context)

    overall = service.account_trends(db.session, account, None, settings, program_id=program_id)
    # By dimension: one small panel per dimension, their side and ours in each.
    breakdown = ["dimension", "side"] if by == "dimension" else by
    series = (
        overall
        if by is None
        else service.account_trends(db.session, account, breakdown, settings, program_id=program_id)
    )
    context["headline"] = summaries.headline(metrics.health_per_wave(answers, settings), overall)
    context["trend_svg"] = _svg(
        charts.trend_chart(
            series,
            series="side" if by in ("side", "dimension") else by,
            facet="dimension" if by == "dimension" else None,
            labels=_series_labels("side" if by == "dimension" else by),
            series_order=ladder() if by == "seniority" else None,
            title=f"{account.name}: scores per wave",
        )
    )
    if by == "seniority":
        context["heatmap_svg"] = _svg(
            charts.heatmap_chart(
                series,
                row="seniority",
                row_order=ladder(),
                title=f"{account.name}: scores by seniority and wave",
            )
        )
    context["trend_rows"] = summaries.records(series.sort_values("wave_at", ascending=False))

    gaps = service.account_gaps(db.session, account, settings)
    context["gaps"] = gaps
    context["gap_rows"] = summaries.records(gaps["gaps"])
    context["top_rows"] = summaries.records(gaps["top_vs_line"])
    if gaps["gaps"]["status"].eq("ok").any():
        context["gap_svg"] = _svg(
            charts.gap_chart(
                gaps["gaps"],
                high_line=settings.high_line,
                aligned=settings.gap_aligned,
                title=f"{account.name}: ours vs theirs per dimension",
            )
        )

    panel = service.account_panel(db.session, account, settings, program_id=program_id)
    change = panel["change"]
    if not change.empty:
        change = change.sort_values("wave_at_after", ascending=False, kind="stable")
    context["panel_rows"] = summaries.records(change)
    context["migration"] = summaries.latest_migration(panel["migration"], panel["change"])
    drop_outs = panel["drop_outs"]
    if not drop_outs.empty:
        drop_outs = drop_outs.sort_values("wave_at", ascending=False, kind="stable")
    context["drop_outs"] = summaries.records(drop_outs)

    taxonomy = _taxonomy()
    context["themes"] = summaries.records(text.themes(answers, taxonomy))
    context["phrases"] = summaries.telling_phrase_rows(
        text.telling_phrases(answers, taxonomy, limit=2)
    )
    return render_template("analytics/trends.html", **context)


@bp.route("/accounts/<id:account_id>/trends.csv")
@login_required
def account_trends_csv(account_id: int):
    account = account_access(db.session, current_user, account_id)
    series = service.account_trends(
        db.session, account, _by(), service.analytics_settings(), program_id=_program()
    )
    return _export(series, schemas.TrendPointSchema, f"account-{account.id}-trends")


@bp.route("/accounts/<id:account_id>/gaps.csv")
@login_required
def account_gaps_csv(account_id: int):
    account = account_access(db.session, current_user, account_id)
    table = request.args.get("table", "gaps")
    if table not in schemas.GAP_TABLES:
        abort(404)
    gaps = service.account_gaps(db.session, account, service.analytics_settings())
    schema = schemas.GapSchema if table == "gaps" else schemas.TopVsLineSchema
    return _export(gaps[table], schema, f"account-{account.id}-{table.replace('_', '-')}")


@bp.route("/accounts/<id:account_id>/panel.csv")
@login_required
def account_panel_csv(account_id: int):
    account = account_access(db.session, current_user, account_id)
    table = request.args.get("table", "change")
    if table not in schemas.PANEL_TABLES:
        abort(404)
    panel = service.account_panel(
        db.session, account, service.analytics_settings(), program_id=_program()
    )
    schema = {
        "change": schemas.PanelChangeSchema,
        "migration": schemas.MigrationSchema,
        "drop_outs": schemas.DropOutSchema,
    }[table]
    return _export(panel[table], schema, f"account-{account.id}-{table.replace('_', '-')}")


def _portfolio_filters() -> tuple[dict, str]:
    args = {k: v for k, v in request.args.items() if v != ""}
    args.pop("format", None)
    loaded = {}
    for key, value in args.items():
        try:
            loaded.update(schemas.PortfolioSummaryArgs().load({key: value}))
        except ValidationError:
            continue
    loaded.pop("format", None)
    sort = loaded.pop("sort", "health")
    return loaded, sort


def _portfolio(filters: dict, sort: str) -> pd.DataFrame:
    return service.portfolio_summary(
        db.session, current_user, filters, service.analytics_settings(), sort=sort
    )


@bp.route("/portfolio/health")
@login_required
def portfolio():
    """Every readable account ranked by health and by value at risk, with the movers."""
    filters, sort = _portfolio_filters()
    settings = service.analytics_settings()
    summary = _portfolio(filters, sort)
    if not summary.empty:
        summary = summary.merge(
            service.health_changes(
                db.session, current_user, summary["account_id"].tolist(), settings
            ),
            on="account_id",
            how="left",
        )
    rows = summaries.records(summary)
    movers = []
    if "health_change" in summary:
        changed = [r for r in rows if r.get("health_change") is not None]
        changed.sort(key=lambda r: abs(r["health_change"]), reverse=True)
        movers = changed[:MOVERS]
    scored = summary[summary["health_status"].eq("ok").fillna(False)] if rows else summary
    chart = None
    if not summary.empty:
        chart = _svg(
            charts.portfolio_chart(
                summary.assign(status=summary["health_status"]),
                change="health_change" if "health_change" in summary else None,
                high_line=settings.high_line,
                title="Accounts by health, with value at risk",
            )
        )
    owners = db.session.scalars(
        select(User)
        .where(User.id.in_(select(Account.owner_id).where(readable_accounts(current_user))))
        .order_by(User.name)
    )
    return render_template(
        "analytics/portfolio.html",
        rows=rows,
        scored=len(scored),
        movers=movers,
        chart=chart,
        sort=sort,
        filters=filters,
        args=request.args,
        kinds=list(AccountKind),
        tiers=list(Tier),
        owners=list(owners),
        settings=settings,
        csv_url=url_for(
            "analytics_pages.portfolio_csv", **{k: v for k, v in request.args.items() if v}
        ),
    )


@bp.route("/portfolio/health.csv")
@login_required
def portfolio_csv():
    filters, sort = _portfolio_filters()
    return _export(_portfolio(filters, sort), schemas.PortfolioRowSchema, "portfolio-summary")


def number(value: Any, digits: int = 0, signed: bool = False) -> str:
    """A figure for a page: rounded, a dash when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    return f"{value:+.{digits}f}" if signed else f"{value:,.{digits}f}"


@bp.app_template_filter("figure")
def figure_filter(value: Any, digits: int = 0) -> str:
    return number(value, digits)


@bp.app_template_filter("signed")
def signed_filter(value: Any, digits: int = 0) -> str:
    return number(value, digits, signed=True)


@bp.app_template_filter("money")
def money_filter(value: Any) -> str:
    return charts.money(value) if value is not None else "\u2013"
