"""marshmallow schemas: ``XxxSchema`` out, ``XxxArgs`` in.

Question definitions are checked field by field here and as a whole (unique keys, scales,
options, types kept across versions) by ``service.clean_questions``.
"""

import datetime as dt

from marshmallow import Schema, ValidationError, fields, post_load, validate

from relhealth.accounts.models import Side
from relhealth.core.schemas import Choice, Id, Text, no_nul, validate_seniority
from relhealth.surveys.models import QuestionType, ResponseSource
from relhealth.surveys.service import MAX_WORDING_LENGTH


class QuestionSchema(Schema):
    key = fields.String()
    position = fields.Integer()
    type = fields.String()
    dimension = fields.String(allow_none=True)
    text_external = fields.String(metadata={"description": "wording for their people"})
    text_internal = fields.String(metadata={"description": "mirrored wording for ours"})
    required = fields.Boolean()
    scale_min = fields.Integer(allow_none=True)
    scale_max = fields.Integer(allow_none=True)
    options = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "choices in order; for a rating, the labels of its two ends"},
    )


class SurveyVersionSchema(Schema):
    number = fields.Integer()
    created_at = fields.DateTime()
    frozen_at = fields.DateTime(
        allow_none=True, metadata={"description": "set when a wave first used it"}
    )
    questions = fields.List(fields.Nested(QuestionSchema))


class SurveySchema(Schema):
    id = fields.Integer()
    key = fields.String()
    name = fields.String()
    description = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    versions = fields.Method(
        "_version_numbers", metadata={"description": "the numbers of all its versions"}
    )
    latest_version = fields.Method("_latest", metadata={"description": "the current version"})

    def _version_numbers(self, survey) -> list[int]:
        return [version.number for version in survey.versions]

    def _latest(self, survey) -> dict:
        return SurveyVersionSchema().dump(survey.versions[-1])


class QuestionArgs(Schema):
    key = fields.String(required=True, metadata={"description": "stable across versions"})
    position = fields.Integer(strict=True, metadata={"description": "default: the list order"})
    type = Choice(QuestionType, required=True)
    dimension = fields.String(allow_none=True, validate=validate.Length(max=50))
    text_external = Text(MAX_WORDING_LENGTH, required=True)
    text_internal = Text(MAX_WORDING_LENGTH, required=True)
    required = fields.Boolean(metadata={"description": "default: true, false for text"})
    scale_min = fields.Integer(strict=True, allow_none=True)
    scale_max = fields.Integer(strict=True, allow_none=True)
    options = fields.List(fields.String(validate=no_nul), allow_none=True)


class SurveyArgs(Schema):
    key = fields.String(
        required=True, metadata={"description": "a stable slug like 'partner-pulse'"}
    )
    name = Text(200, required=True)
    description = fields.String(allow_none=True, validate=[validate.Length(max=2000), no_nul])
    questions = fields.List(fields.Nested(QuestionArgs), required=True)


class SurveyUpdateArgs(Schema):
    name = Text(200)
    description = fields.String(allow_none=True, validate=[validate.Length(max=2000), no_nul])
    questions = fields.List(
        fields.Nested(QuestionArgs),
        metadata={"description": "all the questions; a frozen version makes a new version"},
    )


class AnswerSchema(Schema):
    question_key = fields.String()
    question_type = fields.String()
    dimension = fields.String(allow_none=True)
    value = fields.Float(allow_none=True, metadata={"description": "nps or rating as answered"})
    scaled = fields.Float(allow_none=True, metadata={"description": "0-100 on its scale"})
    text = fields.String(allow_none=True)
    choices = fields.List(fields.String(), allow_none=True)
    sentiment = fields.Float(allow_none=True, metadata={"description": "of the text, -1..1"})


class ResponseSchema(Schema):
    id = fields.Integer()
    wave_id = fields.Integer(allow_none=True)
    survey_version_id = fields.Integer(allow_none=True)
    person_id = fields.Integer()
    account_id = fields.Integer()
    side = fields.String(metadata={"description": "as at answer time"})
    seniority = fields.String(metadata={"description": "as at answer time"})
    submitted_at = fields.DateTime()
    source = fields.String()
    external_ref = fields.String(allow_none=True)
    answers = fields.List(fields.Nested(AnswerSchema))


class _Moment(fields.Field):
    """An ISO date or date-time in a query; a date means the start of that day (UTC)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Give a date (2026-03-31) or a date-time.")
        try:
            if len(value) == 10:
                return dt.date.fromisoformat(value)
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError("Give a date (2026-03-31) or a date-time.") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


class ResponseListArgs(Schema):
    account_id = Id(strict=False, data_key="account")
    wave_id = Id(strict=False, data_key="wave")
    survey_id = Id(strict=False, data_key="survey")
    person_id = Id(strict=False, data_key="person")
    side = Choice(Side)
    seniority = fields.String(validate=validate_seniority)
    source = Choice(ResponseSource)
    submitted_from = _Moment(
        metadata={"description": "from this date or date-time on (UTC if no offset)"}
    )
    submitted_to = _Moment(
        metadata={"description": "up to this date-time, or to the end of this date"}
    )
    sort = fields.String(
        metadata={"description": "submitted_at, account_id, person_id, wave_id; - descending"}
    )

    @post_load
    def _bounds(self, data, **kwargs):
        start = data.pop("submitted_from", None)
        if start is not None:
            data["submitted_from"] = _day_start(start) if type(start) is dt.date else start
        end = data.pop("submitted_to", None)
        if end is not None:
            data["submitted_before"] = (
                _day_start(end + dt.timedelta(days=1))
                if type(end) is dt.date
                else end + dt.timedelta(microseconds=1)
            )
        return data


class ResponseRateArgs(Schema):
    wave_ids = fields.List(
        Id(strict=False), data_key="wave", metadata={"description": "repeat for several"}
    )
    account_ids = fields.List(
        Id(strict=False), data_key="account", metadata={"description": "repeat for several"}
    )
    program_id = Id(strict=False, data_key="program")


class ResponseRateSchema(Schema):
    wave_id = fields.Integer()
    account_id = fields.Integer()
    account_name = fields.String()
    seniority = fields.String(metadata={"description": "the level, as frozen at invitation"})
    side = fields.String()
    suppressed = fields.Boolean(
        metadata={
            "description": "confidential program: fewer than k responded, or hidden so a "
            "suppressed sibling cannot be recovered from the total; no figures"
        }
    )
    invited = fields.Integer(
        allow_none=True, metadata={"description": "invitations sent; skipped not counted"}
    )
    responded = fields.Integer(allow_none=True)
    response_rate = fields.Float(
        allow_none=True, metadata={"description": "responded / invited, 0..1"}
    )


class SubmitArgs(Schema):
    answers = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        required=True,
        metadata={
            "description": "question key -> answer: a whole number (nps, rating), an option"
            " (choice), a list of options (multi_choice) or text"
        },
    )


class SubmittedSchema(Schema):
    id = fields.Integer()
    submitted_at = fields.DateTime()
    message = fields.String()


class RespondentQuestionSchema(Schema):
    key = fields.String()
    type = fields.String()
    text = fields.String(metadata={"description": "the wording for this respondent"})
    required = fields.Boolean()
    scale_min = fields.Integer(allow_none=True, metadata={"description": "nps: 0"})
    scale_max = fields.Integer(allow_none=True, metadata={"description": "nps: 10"})
    ends = fields.List(
        fields.String(), allow_none=True, metadata={"description": "labels of the scale's ends"}
    )
    options = fields.List(fields.String(), allow_none=True)


class QuestionnaireSchema(Schema):
    survey = fields.String(metadata={"description": "the survey's name"})
    account = fields.String(metadata={"description": "the account the answers are about"})
    company = fields.String(metadata={"description": "who asks"})
    side = fields.String(metadata={"description": "external (their people) or internal (ours)"})
    closes_at = fields.DateTime()
    confidential = fields.Boolean(
        metadata={"description": "answers are shown only in groups of at least min_group_size"}
    )
    min_group_size = fields.Integer()
    questions = fields.List(fields.Nested(RespondentQuestionSchema))
