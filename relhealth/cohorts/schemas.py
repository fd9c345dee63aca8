"""marshmallow schemas: ``XxxSchema`` out, ``XxxArgs`` in."""

import datetime as dt

from marshmallow import Schema, fields, validate

from relhealth.accounts.models import Side
from relhealth.cohorts.models import CohortMode, Confidentiality, InvitationStatus, Trigger
from relhealth.cohorts.rules import SKIP_REASONS
from relhealth.cohorts.service import next_occurrence
from relhealth.core.schemas import Choice, Id, Text, validate_seniority
from relhealth.db import utcnow


class CohortSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    mode = fields.String()
    rule = fields.Dict(
        metadata={
            "description": "account_ids, kinds, tiers, relationship_types, "
            "sides, seniorities, roles (lists)"
        }
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


RULE = fields.Dict(
    load_default=dict,
    metadata={
        "description": "lists, each optional: account_ids, kinds, tiers, relationship_types, "
        "sides, seniorities, roles",
        "example": {"kinds": ["partner"], "sides": ["external", "internal"]},
    },
)


class CohortArgs(Schema):
    name = Text(200, required=True)
    mode = Choice(CohortMode, load_default=CohortMode.DYNAMIC.value)
    rule = RULE


class CohortUpdateArgs(Schema):
    name = Text(200)
    mode = Choice(CohortMode)
    rule = fields.Dict()


class PreviewArgs(Schema):
    rule = RULE
    sample = fields.Integer(
        load_default=20, validate=validate.Range(min=0, max=200), metadata={"description": "rows"}
    )


class PreviewAccountSchema(Schema):
    account_id = fields.Integer()
    account_name = fields.String()
    people = fields.Integer()
    external = fields.Integer()
    internal = fields.Integer()


class PreviewRowSchema(Schema):
    person_id = fields.Integer()
    name = fields.String()
    account_id = fields.Integer()
    account_name = fields.String()
    side = fields.String()
    seniority = fields.String()
    flag = fields.String(
        allow_none=True, metadata={"description": "why they would be skipped; null: asked"}
    )


class PreviewSchema(Schema):
    people = fields.Integer(metadata={"description": "distinct people"})
    pairs = fields.Integer(metadata={"description": "person x account (ours answer per account)"})
    askable = fields.Integer(metadata={"description": "pairs that would be invited"})
    flagged = fields.Dict(keys=fields.String(), values=fields.Integer())
    accounts = fields.Integer()
    by_account = fields.List(fields.Nested(PreviewAccountSchema))
    by_side = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_level = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_side_and_level = fields.Dict(keys=fields.String(), values=fields.Dict())
    sample = fields.List(fields.Nested(PreviewRowSchema))


class PanelMemberSchema(Schema):
    id = fields.Integer()
    cohort_id = fields.Integer()
    person_id = fields.Integer()
    account_id = fields.Integer()
    added_on = fields.Date()
    removed_on = fields.Date(allow_none=True)


class PanelMemberArgs(Schema):
    person_id = Id(required=True)
    account_id = Id(required=True)
    on = fields.Date(metadata={"description": "when they join the panel; default today (UTC)"})


class PanelListArgs(Schema):
    account_id = Id(strict=False, data_key="account")
    active = fields.Boolean(metadata={"description": "only current (true) or removed (false)"})


class RefreshSchema(Schema):
    added = fields.Integer()


class ProgramSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    survey_id = fields.Integer()
    cohort_id = fields.Integer()
    complementary_cohort_ids = fields.Method("_complementary")
    rrule = fields.String()
    starts_at = fields.DateTime()
    open_days = fields.Integer()
    reminder_days = fields.List(fields.Integer())
    fatigue_days = fields.Integer()
    confidentiality = fields.String()
    min_group_size = fields.Integer()
    trigger = fields.String()
    trigger_days = fields.Integer(allow_none=True)
    active = fields.Boolean()
    next_wave_at = fields.Method(
        "_next_wave_at",
        metadata={
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": "the next scheduled opening; null for event triggers",
        },
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _complementary(self, program) -> list[int]:
        return [c.cohort_id for c in program.complementary]

    def _next_wave_at(self, program) -> str | None:
        when = next_occurrence(program, utcnow())
        return when.isoformat() if when else None


class ProgramArgs(Schema):
    name = Text(200, required=True)
    survey_id = Id(required=True)
    cohort_id = Id(required=True)
    complementary_cohort_ids = fields.List(Id(), metadata={"description": "cohorts asked beside"})
    rrule = fields.String(
        validate=validate.Length(min=1, max=500),
        metadata={"description": "RFC 5545 RRULE; default FREQ=MONTHLY;INTERVAL=3 (quarterly)"},
    )
    starts_at = fields.AwareDateTime(
        required=True,
        default_timezone=dt.UTC,
        metadata={"description": "the rule's start (DTSTART); UTC unless an offset is given"},
    )
    open_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=365))
    reminder_days = fields.List(
        fields.Integer(strict=True),
        validate=validate.Length(max=10),
        metadata={"description": "days after opening to remind non-responders; default [7]"},
    )
    fatigue_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=3650))
    confidentiality = Choice(Confidentiality)
    min_group_size = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    trigger = Choice(Trigger)
    trigger_days = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=3650)
    )
    active = fields.Boolean()


class WaveCountsSchema(Schema):
    suppressed = fields.Boolean(
        metadata={
            "description": "confidential program: fewer than k responded, or hidden so a "
            "suppressed sibling cannot be recovered from the total; no figures"
        }
    )
    invited = fields.Integer(allow_none=True)
    responded = fields.Integer(allow_none=True)
    response_rate = fields.Float(allow_none=True)


class WaveSummarySchema(WaveCountsSchema):
    awaiting = fields.Integer(allow_none=True)
    expired = fields.Integer(allow_none=True)
    skipped = fields.Integer()
    skipped_by_reason = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_side = fields.Dict(keys=fields.String(), values=fields.Nested(WaveCountsSchema))
    by_level = fields.Dict(keys=fields.String(), values=fields.Nested(WaveCountsSchema))


class WaveSchema(Schema):
    id = fields.Integer()
    program_id = fields.Integer()
    occurrence = fields.String()
    account_id = fields.Integer(allow_none=True)
    survey_version_id = fields.Integer()
    opens_at = fields.DateTime()
    closes_at = fields.DateTime()
    status = fields.String()
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class WaveDetailSchema(WaveSchema):
    counts = fields.Nested(WaveSummarySchema)


class InvitationSchema(Schema):
    """An invitation as the API shows it: never its token or the token's digest."""

    id = fields.Integer()
    wave_id = fields.Integer()
    person_id = fields.Integer()
    account_id = fields.Integer()
    side = fields.String()
    seniority = fields.String()
    status = fields.String()
    skip_reason = fields.String(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    invited_at = fields.DateTime(allow_none=True)
    reminders_sent = fields.Integer()
    last_reminded_at = fields.DateTime(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)


class InvitationListArgs(Schema):
    status = Choice(InvitationStatus)
    side = Choice(Side)
    seniority = fields.String(validate=validate_seniority)
    account_id = Id(strict=False, data_key="account")
    skip_reason = fields.String(validate=validate.OneOf(SKIP_REASONS))
    sort = fields.String(metadata={"description": "id, status, account_id, invited_at; '-' desc"})


class ReviewArgs(Schema):
    account_id = Id(strict=False, data_key="account")


class AccountReviewSchema(Schema):
    account_id = fields.Integer()
    name = fields.String()
    programs = fields.List(fields.String(), metadata={"description": "programs that reached it"})
    waves = fields.Integer()
    levels_heard = fields.List(fields.String(), metadata={"description": "in the last two waves"})
    sides_heard = fields.List(fields.String())
    panel_continuity = fields.Float(
        allow_none=True,
        metadata={"description": "share of the earlier wave's respondents who answered again"},
    )
    recommendations = fields.List(fields.String())
