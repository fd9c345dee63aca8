"""marshmallow schemas of follow-up cases: ``XxxSchema`` out, ``XxxArgs`` in."""

import datetime as dt

from marshmallow import Schema, fields, validate

from relhealth.core.schemas import Choice, Id, Text, no_nul, validate_sort
from relhealth.db import utcnow
from relhealth.followup import service
from relhealth.followup.models import LOGGED_KINDS, CaseReason, CaseStatus

BODY_LENGTH = 10_000
LOGGED_KIND_VALUES = sorted(kind.value for kind in LOGGED_KINDS)


class CaseSchema(Schema):
    id = fields.Integer()
    reason = fields.String()
    title = fields.String()
    account_id = fields.Integer()
    person_id = fields.Integer(
        allow_none=True, metadata={"description": "the respondent; none for a group alert"}
    )
    response_id = fields.Integer(allow_none=True)
    alert_id = fields.Integer(allow_none=True)
    wave_id = fields.Integer(allow_none=True)
    score = fields.Float(allow_none=True, metadata={"description": "NPS 0-10 or mean 0-100"})
    owner_id = fields.Integer(allow_none=True)
    priority = fields.Float(metadata={"description": "higher first (README: Case priority)"})
    priority_parts = fields.Dict(metadata={"description": "the formula's inputs and factors"})
    value_at_stake = fields.Decimal(as_string=True)
    status = fields.String()
    overdue = fields.Method(
        "get_overdue", metadata={"description": "live and past a due date"}, dump_only=True
    )
    experiment_id = fields.Integer(allow_none=True)
    opened_at = fields.DateTime()
    first_contact_due = fields.DateTime()
    resolution_due = fields.DateTime()
    first_contact_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    told_respondent_at = fields.DateTime(allow_none=True)
    tags = fields.Method("get_tags", metadata={"description": "root causes"}, dump_only=True)

    def get_overdue(self, case) -> bool:
        return service.is_overdue(case, utcnow())

    def get_tags(self, case) -> list[str]:
        return [tag.tag for tag in case.tags]


class CaseActivitySchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    kind = fields.String()
    body = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    author_id = fields.Integer(allow_none=True, metadata={"description": "none: relhealth"})
    occurred_at = fields.DateTime()
    created_at = fields.DateTime()


class CaseListArgs(Schema):
    status = Choice(CaseStatus)
    reason = Choice(CaseReason)
    owner_id = Id(strict=False, data_key="owner")
    account_id = Id(strict=False, data_key="account")
    person_id = Id(strict=False, data_key="person")
    overdue = fields.Boolean(metadata={"description": "only late (true) or on time (false)"})
    live = fields.Boolean(metadata={"description": "only live (true) or ended (false)"})
    sort = fields.String(
        validate=validate_sort,
        metadata={
            "description": "comma-separated: priority, overdue, opened_at, first_contact_due,"
            " resolution_due, status, account_id, value_at_stake; - for descending"
            " (default -overdue,-priority: late first, then by priority)"
        },
    )


class CaseUpdateArgs(Schema):
    owner_id = Id(metadata={"description": "a user who may change the account"})
    tags = fields.List(
        fields.String(validate=[validate.Length(min=1, max=50), no_nul]),
        validate=validate.Length(max=20),
        metadata={"description": "root causes from the taxonomy; replaces the current ones"},
    )


class CaseTransitionArgs(Schema):
    to = Choice(CaseStatus, required=True)
    note = fields.String(validate=[validate.Length(max=BODY_LENGTH), no_nul], load_default="")
    resolution = fields.String(
        validate=[validate.Length(max=BODY_LENGTH), no_nul],
        allow_none=True,
        metadata={"description": "what was done; required to resolve"},
    )


class CaseActivityArgs(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(LOGGED_KIND_VALUES),
        metadata={"enum": LOGGED_KIND_VALUES},
    )
    body = fields.String(validate=[validate.Length(max=BODY_LENGTH), no_nul], load_default="")
    occurred_at = fields.AwareDateTime(
        default_timezone=dt.UTC,
        metadata={"description": "when it happened, UTC unless an offset is given; default now"},
    )


class TellRespondentArgs(Schema):
    message = Text(BODY_LENGTH, required=True, metadata={"description": "what we are doing"})
