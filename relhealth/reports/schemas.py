"""What the reports API takes and gives."""

import datetime as dt

from marshmallow import Schema, fields, validate

from relhealth.accounts.models import AccountKind, Tier
from relhealth.core.schemas import Choice, Id
from relhealth.reports.models import ReportKind


class PortfolioFiltersArgs(Schema):
    """Which of the accounts you may read a portfolio report covers; none: all of them."""

    kind = Choice(AccountKind)
    tier = Choice(Tier)
    owner_id = Id()


class ReportArgs(Schema):
    kind = Choice(ReportKind, required=True)
    account_id = Id(metadata={"description": "the account, for an account or partner report"})
    filters = fields.Nested(
        PortfolioFiltersArgs, metadata={"description": "a portfolio report's filters"}
    )


class ReportSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    account_id = fields.Integer(allow_none=True)
    parameters = fields.Dict()
    status = fields.String(metadata={"enum": ["queued", "running", "done", "failed"]})
    error = fields.String(allow_none=True)
    sha256 = fields.String(allow_none=True, metadata={"description": "of the PDF's bytes"})
    size = fields.Integer(allow_none=True, metadata={"description": "bytes of the PDF"})
    requested_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class SubscriptionArgs(Schema):
    kind = Choice(ReportKind, required=True)
    account_id = Id()
    filters = fields.Nested(PortfolioFiltersArgs)
    rrule = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYMONTHDAY=1"},
    )
    starts_at = fields.AwareDateTime(
        default_timezone=dt.UTC,
        metadata={
            "description": "the rule's start (DTSTART), UTC unless an offset is given; default now"
        },
    )


class SubscriptionUpdateArgs(Schema):
    filters = fields.Nested(PortfolioFiltersArgs)
    rrule = fields.String(validate=validate.Length(min=1, max=500))
    starts_at = fields.AwareDateTime(default_timezone=dt.UTC)
    active = fields.Boolean()


class SubscriptionSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    kind = fields.String()
    account_id = fields.Integer(allow_none=True)
    filters = fields.Dict()
    rrule = fields.String()
    starts_at = fields.DateTime()
    next_run_at = fields.DateTime(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()


class DeliverySchema(Schema):
    id = fields.Integer()
    occurrence = fields.DateTime()
    status = fields.String(metadata={"description": "queued: the e-mail is in the outbox"})
    error = fields.String(allow_none=True)
    report_id = fields.Integer(allow_none=True)
    outbox_message_id = fields.Integer(allow_none=True)
    email_status = fields.Method(
        "_email_status", metadata={"description": "the e-mail's: queued, sent or failed"}
    )
    sent_at = fields.Method("_sent_at")
    created_at = fields.DateTime()

    def _email_status(self, delivery):
        message = delivery.outbox_message
        return message.status.value if message is not None else None

    def _sent_at(self, delivery):
        message = delivery.outbox_message
        return message.sent_at.isoformat() if message is not None and message.sent_at else None
