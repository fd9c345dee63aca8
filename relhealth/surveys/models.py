"""Survey templates, their frozen versions and questions; responses and their answers."""

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from relhealth.accounts.models import Side
from relhealth.db import JSONDocument, TimestampMixin, int_pk, str_enum, utcnow
from relhealth.extensions import db


class QuestionType(enum.StrEnum):
    NPS = "nps"
    RATING = "rating"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    TEXT = "text"


class Survey(TimestampMixin, db.Model):
    """A questionnaire; what respondents see is one of its versions."""

    __tablename__ = "surveys"

    id: Mapped[int_pk]
    key: Mapped[str] = mapped_column(String(50), unique=True, comment="stable slug")
    name: Mapped[str]
    description: Mapped[str | None] = mapped_column(Text)

    versions: Mapped[list["SurveyVersion"]] = relationship(
        back_populates="survey", order_by="SurveyVersion.number"
    )


class SurveyVersion(db.Model):
    """One version of a survey. Frozen once a wave uses it; edits make a new version."""

    __tablename__ = "survey_versions"
    __table_args__ = (UniqueConstraint("survey_id", "number"),)

    id: Mapped[int_pk]
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    number: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    frozen_at: Mapped[dt.datetime | None] = mapped_column(comment="set when a wave first uses it")

    survey: Mapped[Survey] = relationship(back_populates="versions")
    questions: Mapped[list["Question"]] = relationship(
        back_populates="version",
        order_by="Question.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class Question(db.Model):
    """A question with mirrored wording: what their people read, and what ours read."""

    __tablename__ = "questions"
    __table_args__ = (
        UniqueConstraint("version_id", "key"),
        UniqueConstraint("version_id", "position"),
        CheckConstraint(
            "type <> 'rating' OR (scale_min IS NOT NULL AND scale_max IS NOT NULL"
            " AND scale_min < scale_max)",
            name="rating_has_a_scale",
        ),
    )

    id: Mapped[int_pk]
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id", ondelete="CASCADE"))
    position: Mapped[int]
    key: Mapped[str] = mapped_column(String(50), comment="stable across versions")
    type: Mapped[QuestionType] = mapped_column(str_enum(QuestionType, "question_type"))
    dimension: Mapped[str | None] = mapped_column(String(50))
    text_external: Mapped[str] = mapped_column(Text, comment="wording for their people")
    text_internal: Mapped[str] = mapped_column(Text, comment="mirrored wording for ours")
    required: Mapped[bool] = mapped_column(default=True)
    scale_min: Mapped[int | None]
    scale_max: Mapped[int | None]
    options: Mapped[list | None] = mapped_column(JSONDocument, comment="choices, in order")

    version: Mapped[SurveyVersion] = relationship(back_populates="questions")


class ResponseSource(enum.StrEnum):
    FORM = "form"
    API = "api"
    IMPORT = "import"


class Response(db.Model):
    """What one person said, with who they were when they said it."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_account_id_submitted_at", "account_id", "submitted_at"),
        Index("ix_responses_person_id_submitted_at", "person_id", "submitted_at"),
        # The follow-up sweep reads the last days' responses of every account.
        Index("ix_responses_submitted_at", "submitted_at"),
    )

    id: Mapped[int_pk]
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL"),
        unique=True,
        comment="one submission per invitation; empty for imported history",
    )
    wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("waves.id", ondelete="SET NULL"), index=True
    )
    survey_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_versions.id", ondelete="RESTRICT")
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT"), comment="the account answered about"
    )
    side: Mapped[Side] = mapped_column(str_enum(Side, "side"), comment="as at answer time")
    seniority: Mapped[str] = mapped_column(String(50), comment="as at answer time")
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    source: Mapped[ResponseSource] = mapped_column(str_enum(ResponseSource, "source"))
    external_ref: Mapped[str | None] = mapped_column(
        String(100), unique=True, comment="id in the system an import came from"
    )

    answers: Mapped[list["Answer"]] = relationship(
        back_populates="response",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Answer.id",  # stored in question order
    )


class Answer(db.Model):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("response_id", "question_key"),)

    id: Mapped[int_pk]
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(50))
    question_type: Mapped[QuestionType] = mapped_column(str_enum(QuestionType, "question_type"))
    dimension: Mapped[str | None] = mapped_column(String(50))
    value: Mapped[float | None] = mapped_column(Float, comment="nps or rating as answered")
    scaled: Mapped[float | None] = mapped_column(Float, comment="0-100 on the question's scale")
    text: Mapped[str | None] = mapped_column(Text)
    choices: Mapped[list | None] = mapped_column(JSONDocument)
    sentiment: Mapped[float | None] = mapped_column(Float, comment="of the text, -1..1")

    response: Mapped[Response] = relationship(back_populates="answers")
