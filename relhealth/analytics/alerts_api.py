"""REST resources: alerts, listed for the accounts you may read, acted on where you may write."""

from flask.views import MethodView
from marshmallow import Schema, fields

from relhealth.analytics import alerts_service
from relhealth.analytics.models import AlertKind, AlertSeverity, AlertStatus
from relhealth.auth.api import api_blueprint, api_user
from relhealth.core.pagination import PAGING, paged
from relhealth.core.schemas import Choice, Id, validate_sort
from relhealth.core.schemas import sort_keys as parse_sort
from relhealth.db import utcnow
from relhealth.extensions import db

blp = api_blueprint(
    "alerts", __name__, "/alerts", "What the analytics noticed: declines, detractors, gaps."
)


class AlertSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    account_id = fields.Integer()
    person_id = fields.Integer(
        allow_none=True, metadata={"description": "never set in a confidential program"}
    )
    wave_id = fields.Integer(allow_none=True)
    dimension = fields.String(allow_none=True)
    severity = fields.String()
    confidential = fields.Boolean()
    message = fields.String()
    evidence = fields.Dict(metadata={"description": "the figures behind the alert"})
    status = fields.String()
    opened_at = fields.DateTime()
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by_id = fields.Integer(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by_id = fields.Integer(allow_none=True)


class AlertListArgs(Schema):
    account_id = Id(strict=False, data_key="account")
    kind = Choice(AlertKind)
    status = Choice(AlertStatus)
    severity = Choice(AlertSeverity)
    wave_id = Id(strict=False, data_key="wave")
    sort = fields.String(
        validate=validate_sort,
        metadata={
            "description": "comma-separated: opened_at, severity, kind, status, account_id;"
            " - for descending (default -opened_at)"
        },
    )


class AlertActionArgs(Schema):
    """No fields: anything sent is refused (422), so a typo is not silently ignored."""


@blp.route("")
class Alerts(MethodView):
    @blp.arguments(AlertListArgs, location="query")
    @blp.response(200, AlertSchema(many=True))
    @blp.paginate(**PAGING)
    def get(self, args, pagination_parameters):
        """List alerts of the accounts you may read

        Filters: account, kind, status, severity, wave. Newest first unless sorted otherwise.
        """
        sort = parse_sort(args, ("-opened_at",))
        return paged(
            pagination_parameters,
            lambda page, size: alerts_service.list_alerts(
                db.session, api_user(), args, sort, page, size
            ),
        )


@blp.route("/<id:alert_id>")
class AlertById(MethodView):
    @blp.response(200, AlertSchema)
    def get(self, alert_id):
        """Get an alert"""
        return alerts_service.get_alert(db.session, api_user(), alert_id)


@blp.route("/<id:alert_id>/acknowledge")
class AlertAcknowledge(MethodView):
    @blp.arguments(AlertActionArgs)
    @blp.response(200, AlertSchema)
    def post(self, _args, alert_id):
        """Acknowledge an alert (someone is on it)

        For users who may change the account; again is harmless; a resolved alert: 409.
        """
        alert = alerts_service.get_alert(db.session, api_user(), alert_id, write=True)
        alerts_service.acknowledge_alert(db.session, alert, api_user(), utcnow())
        db.session.commit()
        return alert


@blp.route("/<id:alert_id>/resolve")
class AlertResolve(MethodView):
    @blp.arguments(AlertActionArgs)
    @blp.response(200, AlertSchema)
    def post(self, _args, alert_id):
        """Resolve an alert (dealt with)

        For users who may change the account; resolving again is harmless.
        """
        alert = alerts_service.get_alert(db.session, api_user(), alert_id, write=True)
        alerts_service.resolve_alert(db.session, alert, api_user(), utcnow())
        db.session.commit()
        return alert
