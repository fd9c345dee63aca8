"""The closed-loop dashboard: KPI tiles, a table per owner or account, the trend, root causes.

Thin, like the analytics pages: the figures come from ``kpis`` (three statements: the KPIs by
owner or account with the total, the KPIs per period, the root causes), the template says what
a missing figure means. The CSV links are session-authenticated twins of the API's exports.
"""

import datetime as dt
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from relhealth.analytics.api import csv_response
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup import kpis
from relhealth.followup.kpis_api import (
    ClosedLoopArgs,
    as_times,
    date_range,
    kpi_table,
    root_cause_table,
)

bp = Blueprint("followup_kpi_pages", __name__)

TABLES = (("owner", "By owner"), ("account", "By account"))
PERIODS = (("month", "Month"), ("quarter", "Quarter"))


def _arguments() -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The page's query arguments, each validated alone: a bad one is reported and ignored."""
    loaded: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in request.args.items():
        if value == "" or key not in ("start", "end", "by", "period"):
            continue
        try:
            loaded.update(ClosedLoopArgs(only=(key,)).load({key: value}))
        except ValidationError as error:
            errors.update(error.messages)
    if loaded.get("start") and loaded.get("end") and loaded["end"] < loaded["start"]:
        errors["end"] = ["Must be on or after the start."]
        loaded.pop("end")
    if loaded.get("by") not in dict(TABLES):
        loaded["by"] = "owner"
    loaded.setdefault("period", "month")
    return loaded, errors


def _figures(args: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    start, end = date_range(args, now.date())
    first, last = as_times(start, end)
    scope = {"start": first, "end": last, "now": now}
    table = kpis.closed_loop_kpis(db.session, current_user, by=args["by"], **scope)
    trend = kpis.closed_loop_kpis(
        db.session, current_user, by="period", period=args["period"], **scope
    )
    causes = kpis.root_causes(db.session, current_user, start=first, end=last, period=None)
    return {"start": start, "end": end, "table": table, "trend": trend, "causes": causes}


@bp.route("/closed-loop")
@login_required
def dashboard():
    """How well detractors are followed up, and what keeps causing them."""
    args, errors = _arguments()
    figures = _figures(args, utcnow())
    overall = figures["table"]["overall"]
    top_value = max((c["value_at_stake"] for c in figures["causes"]), default=0)
    link_args = {
        "start": figures["start"].isoformat(),
        "end": figures["end"].isoformat(),
        "by": args["by"],
        "period": args["period"],
    }
    return render_template(
        "followup/kpis.html",
        args=args,
        errors=errors,
        overall=overall,
        groups=figures["table"]["groups"],
        trend=figures["trend"]["groups"],
        causes=figures["causes"],
        top_value=top_value,
        start=figures["start"],
        end=figures["end"],
        has_cases=overall["detractors"] > 0 or bool(figures["causes"]),
        tables=TABLES,
        periods=PERIODS,
        link_args=link_args,
        csv_urls={
            name: url_for("followup_kpi_pages.dashboard_csv", table=name, **link_args)
            for name in ("kpis", "trend", "root_causes")
        },
    )


@bp.route("/closed-loop.csv")
@login_required
def dashboard_csv():
    """One of the page's tables as the API's CSV of it."""
    table = request.args.get("table", "kpis")
    if table not in ("kpis", "trend", "root_causes"):
        abort(404)
    args, _errors = _arguments()
    figures = _figures(args, utcnow())
    if table == "root_causes":
        return csv_response(root_cause_table(figures["causes"]), "root-causes")
    result = figures["table"] if table == "kpis" else figures["trend"]
    return csv_response(kpi_table(result), f"closed-loop-{table}")
