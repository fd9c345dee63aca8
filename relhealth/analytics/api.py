"""REST resources of the analytics: an account's trends, gaps and panel; the portfolio summary.

Each endpoint answers JSON, or CSV with ``?format=csv`` (or ``Accept: text/csv``): one table
per file, suppressed cells blank, a ``status`` column on every row.
"""

import io
from collections.abc import Mapping
from typing import Any

import pandas as pd
from flask import Response, request
from flask.views import MethodView

from relhealth.analytics import schemas, service
from relhealth.analytics.summaries import plain, records
from relhealth.auth.api import api_blueprint, api_user
from relhealth.auth.permissions import account_access
from relhealth.extensions import db

account_analytics_blp = api_blueprint(
    "account-analytics",
    __name__,
    "/accounts",
    "An account's survey analytics: trends, gaps, panel change (JSON or CSV).",
)
portfolio_analytics_blp = api_blueprint(
    "portfolio-analytics",
    __name__,
    "/portfolio",
    "Across all your accounts: health, value at risk and trends (JSON or CSV).",
)
blueprints = (account_analytics_blp, portfolio_analytics_blp)

CSV = "text/csv"
CSV_NOTE = "JSON; or a CSV file (text/csv) with ?format=csv or Accept: text/csv"


def wants_csv(args: Mapping[str, Any]) -> bool:
    """``?format=csv``, or an ``Accept`` header that prefers CSV to JSON."""
    if args.get("format") == "csv":
        return True
    if "format" in request.args:
        return False
    return request.accept_mimetypes.best_match(["application/json", CSV]) == CSV


def csv_response(frame: pd.DataFrame, filename: str) -> Response:
    """``frame`` as a CSV download; missing values (suppressed cells among them) are blank."""
    out = io.StringIO()
    frame.to_csv(out, index=False, na_rep="", date_format="%Y-%m-%dT%H:%M:%SZ")
    return Response(
        out.getvalue(),
        mimetype=CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _table(frame: pd.DataFrame, schema) -> pd.DataFrame:
    """The columns of ``frame`` that ``schema`` publishes, in its order (the CSV's columns)."""
    wanted = [name for name in schema().fields if name in frame.columns]
    return frame[wanted]


@account_analytics_blp.route("/<id:account_id>/trends")
class AccountTrends(MethodView):
    @account_analytics_blp.arguments(schemas.TrendArgs, location="query")
    @account_analytics_blp.response(200, schemas.TrendsSchema, description=CSV_NOTE)
    def get(self, args, account_id):
        """An account's scores per wave, optionally one series per side, seniority or dimension

        Each point: n, respondents, mean (0-100) with its 95% CI, NPS, the change since the
        previous wave of the same series and whether it is larger than noise (Welch's t-test).
        """
        account = account_access(db.session, api_user(), account_id)
        series = service.account_trends(
            db.session,
            account,
            args.get("by"),
            service.analytics_settings(),
            program_id=args.get("program_id"),
        )
        series = _table(series, schemas.TrendPointSchema)
        if wants_csv(args):
            return csv_response(series, f"account-{account.id}-trends")
        return {"account_id": account.id, "by": args.get("by"), "series": records(series)}


@account_analytics_blp.route("/<id:account_id>/gaps")
class AccountGaps(MethodView):
    @account_analytics_blp.arguments(schemas.GapArgs, location="query")
    @account_analytics_blp.response(200, schemas.GapsSchema, description=CSV_NOTE)
    def get(self, args, account_id):
        """Internal-vs-external gap per dimension in one quarter, and the top-vs-line gap

        The latest calendar quarter with answers, or the quarter of `wave_id`: every wave that
        opened in it, so both sides are compared even when they answer in different programs.
        Each dimension: both scores, their n, the gap (ours minus theirs), its class and
        quadrant. Top vs line: the executives' mean minus everyone else's on the same side.
        """
        account = account_access(db.session, api_user(), account_id)
        gaps = service.account_gaps(
            db.session, account, service.analytics_settings(), wave_id=args.get("wave_id")
        )
        tables = {
            "gaps": _table(gaps["gaps"], schemas.GapSchema),
            "top_vs_line": _table(gaps["top_vs_line"], schemas.TopVsLineSchema),
        }
        if wants_csv(args):
            name = args["table"]
            return csv_response(tables[name], f"account-{account.id}-{name.replace('_', '-')}")
        return {
            "account_id": account.id,
            "wave": gaps["wave"],
            "wave_id": gaps["wave_id"],
            "wave_at": plain(gaps["wave_at"]),
            **{name: records(table) for name, table in tables.items()},
        }


@account_analytics_blp.route("/<id:account_id>/panel")
class AccountPanel(MethodView):
    @account_analytics_blp.arguments(schemas.PanelArgs, location="query")
    @account_analytics_blp.response(200, schemas.PanelSchema, description=CSV_NOTE)
    def get(self, args, account_id):
        """Within-person change between consecutive waves, NPS migration, drop-outs

        Panel change: the mean change of the people who answered both waves (paired t-test).
        Drop-outs (answered the previous wave, invited and silent now) are named only in
        identified programs; in confidential ones only their number is given.
        """
        account = account_access(db.session, api_user(), account_id)
        result = service.account_panel(
            db.session, account, service.analytics_settings(), program_id=args.get("program_id")
        )
        tables = {
            "change": _table(result["change"], schemas.PanelChangeSchema),
            "migration": _table(result["migration"], schemas.MigrationSchema),
            "drop_outs": _table(result["drop_outs"], schemas.DropOutSchema),
        }
        if wants_csv(args):
            name = args["table"]
            return csv_response(tables[name], f"account-{account.id}-{name.replace('_', '-')}")
        return {"account_id": account.id, **{n: records(t) for n, t in tables.items()}}


@portfolio_analytics_blp.route("/summary")
class PortfolioSummary(MethodView):
    @portfolio_analytics_blp.arguments(schemas.PortfolioSummaryArgs, location="query")
    @portfolio_analytics_blp.response(
        200, schemas.PortfolioRowSchema(many=True), description=CSV_NOTE
    )
    def get(self, args):
        """Every active account you may see, ranked by health and by value at risk

        Health: the health index of the account's latest wave (their people's answers). Value
        at risk: annual value x the share of those respondents who are NPS detractors.
        Filters: kind, tier, owner. Sort: health (default, least healthy first),
        value_at_risk, nps, name, annual_value, respondents; '-' for descending.
        """
        csv = wants_csv(args)
        args.pop("format")
        sort = args.pop("sort")
        rows = service.portfolio_summary(
            db.session, api_user(), args, service.analytics_settings(), sort=sort
        )
        rows = _table(rows, schemas.PortfolioRowSchema)
        if csv:
            return csv_response(rows, "portfolio-summary")
        return records(rows)


@portfolio_analytics_blp.route("/trends")
class PortfolioTrends(MethodView):
    @portfolio_analytics_blp.arguments(schemas.PortfolioTrendArgs, location="query")
    @portfolio_analytics_blp.response(200, schemas.PortfolioTrendsSchema, description=CSV_NOTE)
    def get(self, args):
        """The scores of all your accounts per quarter, optionally per side, seniority or dimension

        One point per calendar quarter: every wave that opened in it (of any program), and
        imported history submitted in it. Each point as in an account's trends: n, respondents
        (people per wave, added up over the quarter's waves), mean with its 95% CI, NPS, the
        change since the previous quarter and Welch's test of it. Filters: kind, tier, owner.
        """
        csv = wants_csv(args)
        args.pop("format")
        by = args.pop("by", None)
        series = service.portfolio_trends(
            db.session, api_user(), by, args, service.analytics_settings()
        )
        series = _table(series, schemas.TrendPointSchema)
        if csv:
            return csv_response(series, "portfolio-trends")
        return {"by": by, "series": records(series)}
