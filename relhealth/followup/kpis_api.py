"""REST resources of the closed loop's figures: the KPIs and the root causes (JSON or CSV).

Both answer over the cases of the accounts you may read, from ``start`` to ``end`` (dates, both
inclusive; by default the last 365 days up to today, UTC). ``?format=csv`` (or ``Accept:
text/csv``) gives one table: the KPIs with the overall row first, or the root causes.
"""

import datetime as dt
from typing import Any

import pandas as pd
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from relhealth.analytics.api import CSV_NOTE, csv_response, wants_csv
from relhealth.analytics.schemas import Format
from relhealth.auth.api import api_blueprint, api_user
from relhealth.auth.permissions import account_access
from relhealth.core.schemas import Id
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup import kpis

kpis_blp = api_blueprint(
    "closed-loop-kpis",
    __name__,
    "/kpis",
    "Closing the loop: % of detractors resolved, time to contact and resolve, SLA breaches.",
)
root_causes_blp = api_blueprint(
    "root-causes",
    __name__,
    "/root-causes",
    "The recurring causes behind negative experiences, by count and value at risk.",
)
blueprints = (kpis_blp, root_causes_blp)

DEFAULT_DAYS = 365
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2999, 12, 31)


# Arguments ------------------------------------------------------------------------------------


def _date(description: str) -> fields.Date:
    return fields.Date(
        validate=validate.Range(
            min=EARLIEST, max=LATEST, error="Must be a date from {min} to {max}."
        ),
        metadata={"description": description},
    )


class RangeArgs(Schema):
    start = _date("first day (inclusive); default: 365 days before `end`")
    end = _date("last day (inclusive); default: today (UTC)")
    account_id = Id(strict=False, data_key="account", metadata={"description": "one account"})
    format = Format()

    @validates_schema
    def _in_order(self, data, **_kwargs):
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise ValidationError("Must be on or after start.", "end")


class ClosedLoopArgs(RangeArgs):
    by = fields.String(
        validate=validate.OneOf(kpis.BREAKDOWNS),
        metadata={"description": "a row per owner, account or period; default: overall only"},
    )
    period = fields.String(
        load_default="month",
        validate=validate.OneOf(kpis.PERIODS),
        metadata={"description": "month (default) or quarter, for by=period"},
    )


class RootCauseArgs(RangeArgs):
    period = fields.String(
        validate=validate.OneOf(kpis.PERIODS),
        metadata={"description": "a row per month or quarter and tag; default: the whole range"},
    )


def date_range(args: dict[str, Any], today: dt.date) -> tuple[dt.date, dt.date]:
    """The inclusive dates asked for, defaults filled in (the last 365 days up to ``today``)."""
    end = args.get("end") or max(today, args.get("start") or today)
    start = args.get("start") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    return start, end


def as_times(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Inclusive dates as the half-open range of UTC times the services take."""
    return (
        dt.datetime.combine(start, dt.time(), dt.UTC),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC),
    )


# Answers --------------------------------------------------------------------------------------


class KpiFiguresSchema(Schema):
    detractors = fields.Integer(metadata={"description": "detractor cases opened in the range"})
    resolved = fields.Integer()
    closed_unresolved = fields.Integer()
    open = fields.Integer(metadata={"description": "not ended yet"})
    resolved_pct = fields.Float(allow_none=True, metadata={"description": "% resolved, by count"})
    value = fields.Float(metadata={"description": "value at stake of all the cases"})
    resolved_value = fields.Float()
    resolved_value_pct = fields.Float(
        allow_none=True, metadata={"description": "% resolved, weighted by value at stake"}
    )
    contacted = fields.Integer()
    first_contact_hours_median = fields.Float(allow_none=True)
    first_contact_hours_mean = fields.Float(allow_none=True)
    resolution_days_median = fields.Float(
        allow_none=True, metadata={"description": "resolved cases only"}
    )
    resolution_days_mean = fields.Float(allow_none=True)
    first_contact_breaches = fields.Integer(
        metadata={"description": "contacted late, or not contacted and past due"}
    )
    resolution_breaches = fields.Integer(
        metadata={"description": "resolved late, or not resolved and past due"}
    )
    breached = fields.Integer(metadata={"description": "cases with either breach"})
    breached_pct = fields.Float(allow_none=True)
    told = fields.Integer(metadata={"description": "respondent told what was done"})
    told_pct = fields.Float(allow_none=True)


class KpiGroupSchema(KpiFiguresSchema):
    key = fields.Raw(
        allow_none=True,
        metadata={"description": "owner id (null: unassigned), account id, or the period"},
    )
    label = fields.String()


class ClosedLoopSchema(Schema):
    start = fields.Date()
    end = fields.Date()
    by = fields.String(allow_none=True)
    period = fields.String()
    overall = fields.Nested(KpiFiguresSchema)
    groups = fields.List(fields.Nested(KpiGroupSchema))


class RootCauseSchema(Schema):
    period = fields.String(allow_none=True, metadata={"description": "null: the whole range"})
    tag = fields.String()
    cases = fields.Integer()
    open = fields.Integer()
    accounts = fields.Integer()
    value_at_stake = fields.Float(
        metadata={"description": "value of the distinct accounts concerned (each once)"}
    )


class RootCausesSchema(Schema):
    start = fields.Date()
    end = fields.Date()
    period = fields.String(allow_none=True)
    causes = fields.List(fields.Nested(RootCauseSchema))


def kpi_table(result: dict[str, Any]) -> pd.DataFrame:
    """The KPIs as one table: the overall row (key empty, label "All") first, then the groups."""
    columns = ["key", "label", *KpiFiguresSchema().fields]
    rows = [{"key": None, "label": "All", **result["overall"]}, *result["groups"]]
    return pd.DataFrame(rows, columns=columns)


def root_cause_table(causes: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(causes, columns=list(RootCauseSchema().fields))


def _scope(args: dict[str, Any]) -> dict[str, Any]:
    user = api_user()
    if args.get("account_id") is not None:
        account_access(db.session, user, args["account_id"])
    return {"user": user, "account_id": args.get("account_id")}


@kpis_blp.route("/closed-loop")
class ClosedLoop(MethodView):
    @kpis_blp.arguments(ClosedLoopArgs, location="query")
    @kpis_blp.response(200, ClosedLoopSchema, description=CSV_NOTE)
    def get(self, args):
        """Closed-loop KPIs of the detractor cases opened in a date range

        % of detractors resolved by count and by value at stake, hours to first contact and
        days to resolution (median, mean), SLA breaches as of now, % of respondents told what
        was done; overall and, with `by`, per owner, account or period (`period`: month or
        quarter). Held cases (an experiment's control arm) are left out until released.
        """
        now = utcnow()
        start, end = date_range(args, now.date())
        scope = _scope(args)
        first, last = as_times(start, end)
        result = kpis.closed_loop_kpis(
            db.session,
            scope["user"],
            start=first,
            end=last,
            by=args.get("by"),
            period=args["period"],
            now=now,
            account_id=scope["account_id"],
        )
        if wants_csv(args):
            return csv_response(kpi_table(result), "closed-loop-kpis")
        return {**result, "start": start, "end": end}


@root_causes_blp.route("")
class RootCauses(MethodView):
    @root_causes_blp.arguments(RootCauseArgs, location="query")
    @root_causes_blp.response(200, RootCausesSchema, description=CSV_NOTE)
    def get(self, args):
        """Root causes of the cases opened in a date range, ranked by value at risk

        Per root-cause tag (and per period with `period`): cases carrying it, how many are
        still open, the accounts concerned and their value at stake, each account once.
        """
        start, end = date_range(args, utcnow().date())
        scope = _scope(args)
        first, last = as_times(start, end)
        causes = kpis.root_causes(
            db.session,
            scope["user"],
            start=first,
            end=last,
            period=args.get("period"),
            account_id=scope["account_id"],
        )
        if wants_csv(args):
            return csv_response(root_cause_table(causes), "root-causes")
        return {"start": start, "end": end, "period": args.get("period"), "causes": causes}
