"""The closed loop: follow-up cases, their timeline and root causes, praise, outreach experiments.

A ``Case`` is opened for a detractor's response (their people only; see README "Closing the
loop") or for an alert. While it is open its ``open_key`` names the cause ("detractor:person:17",
"alert:42"); the unique constraint on it keeps one open case per person and reason, and once the
case ends the key is cleared so a later response may open a new one. Every change to a case is a
``CaseActivity`` (the timeline); root causes are ``CaseTag`` rows from a configured taxonomy.

``Praise`` records a positive response that named one of our people; kudos go out through the
outbox. An ``Experiment`` splits a period's detractors at random (seeded, stratified by tier)
into outreach and control; its ``ExperimentAssignment`` rows are written once and never changed
(the database refuses updates), and ``ExperimentEvent`` rows audit what happened to it.
"""

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from relhealth.db import JSONDocument, int_pk, money, str50, str_enum, utcnow
from relhealth.extensions import db


class CaseReason(enum.StrEnum):
    DETRACTOR = "detractor"  # NPS 0-6
    LOW_SCORE = "low_score"  # the response's mean scaled score below FOLLOWUP_LOW_SCORE
    NEGATIVE_TEXT = "negative_text"  # a text answer's sentiment below FOLLOWUP_NEGATIVE_SENTIMENT
    ALERT = "alert"  # an analytics alert (group or person)


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CONTACTED = "contacted"
    ACTION_PLANNED = "action_planned"
    RESOLVED = "resolved"
    CLOSED_UNRESOLVED = "closed_unresolved"


# The workflow: which status may follow which. Ended cases take no further change.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.CONTACTED, CaseStatus.CLOSED_UNRESOLVED}),
    CaseStatus.CONTACTED: frozenset(
        {CaseStatus.ACTION_PLANNED, CaseStatus.RESOLVED, CaseStatus.CLOSED_UNRESOLVED}
    ),
    CaseStatus.ACTION_PLANNED: frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED_UNRESOLVED}),
    CaseStatus.RESOLVED: frozenset(),
    CaseStatus.CLOSED_UNRESOLVED: frozenset(),
}
ENDED = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED_UNRESOLVED})


class ActivityKind(enum.StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    NOTE = "note"
    STATUS = "status"  # written by the workflow: from_status -> to_status
    ASSIGNED = "assigned"  # written when the owner changes
    TOLD_RESPONDENT = "told_respondent"  # the "we heard you" message was queued
    TAGGED = "tagged"  # root causes changed


# Activities a person logs (the rest are written by the service).
LOGGED_KINDS = frozenset(
    {ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING, ActivityKind.NOTE}
)
# Logging one of these is a contact with the respondent: it moves "first contact" if not yet set.
CONTACT_KINDS = frozenset({ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING})


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(
            "(reason = 'alert') = (alert_id IS NOT NULL)", name="alert_cases_name_their_alert"
        ),
        CheckConstraint(
            "reason = 'alert' OR (response_id IS NOT NULL AND person_id IS NOT NULL)",
            name="response_cases_name_their_response",
        ),
        CheckConstraint(
            "(status IN ('resolved', 'closed_unresolved')) = (ended_at IS NOT NULL)",
            name="ended_has_a_time",
        ),
        CheckConstraint(
            "(status IN ('resolved', 'closed_unresolved')) = (open_key IS NULL)",
            name="live_cases_hold_their_key",
        ),
        CheckConstraint("priority >= 0", name="priority_not_negative"),
        Index("ix_cases_status_priority", "status", "priority"),
        Index("ix_cases_account_id_status", "account_id", "status"),
        Index("ix_cases_owner_id_status", "owner_id", "status"),
        Index("ix_cases_opened_at", "opened_at"),
    )

    id: Mapped[int_pk]
    reason: Mapped[CaseReason] = mapped_column(str_enum(CaseReason, "reason"))
    open_key: Mapped[str | None] = mapped_column(
        String(120),
        unique=True,
        comment="reason:person:<id> or alert:<id> while open; cleared when the case ends",
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"),
        index=True,
        comment="the respondent (or the alert's person); none for a group alert",
    )
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300), comment="one line for the inbox")
    score: Mapped[float | None] = mapped_column(comment="the NPS (0-10) or mean scaled score")
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"),
        comment="the account's owner; else a user on the account team",
    )
    priority: Mapped[float] = mapped_column(comment="higher first; README: Case priority")
    priority_parts: Mapped[dict] = mapped_column(
        JSONDocument, default=dict, comment="the formula's inputs and factors"
    )
    value_at_stake: Mapped[money] = mapped_column(
        default=Decimal(0), comment="the account's lifetime value, else its annual value"
    )
    status: Mapped[CaseStatus] = mapped_column(
        str_enum(CaseStatus, "case_status"), default=CaseStatus.OPEN
    )
    held: Mapped[bool] = mapped_column(
        default=False,
        comment="withheld: the respondent is in an experiment's control arm until it ends",
    )
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="SET NULL"), index=True
    )
    opened_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, comment="when the owner first saw it (a held case: when released)"
    )
    first_contact_due: Mapped[dt.datetime]
    resolution_due: Mapped[dt.datetime]
    first_contact_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None] = mapped_column(comment="resolved or closed unresolved")
    resolution: Mapped[str | None] = mapped_column(Text, comment="what was done, in a sentence")
    told_respondent_at: Mapped[dt.datetime | None] = mapped_column(
        comment="the loop closed with the customer: 'we heard you' queued"
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    activities: Mapped[list["CaseActivity"]] = relationship(
        back_populates="case", order_by="CaseActivity.occurred_at, CaseActivity.id"
    )
    tags: Mapped[list["CaseTag"]] = relationship(
        cascade="all, delete-orphan", order_by="CaseTag.tag", lazy="selectin"
    )

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def __repr__(self) -> str:
        return f"<Case {self.id} {self.reason} account {self.account_id} {self.status}>"


class CaseActivity(db.Model):
    __tablename__ = "case_activities"
    __table_args__ = (Index("ix_case_activities_case_id_occurred_at", "case_id", "occurred_at"),)

    id: Mapped[int_pk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[ActivityKind] = mapped_column(str_enum(ActivityKind, "activity_kind"))
    body: Mapped[str] = mapped_column(
        Text, default="", comment="what happened, in the author's words"
    )
    from_status: Mapped[str50 | None]
    to_status: Mapped[str50 | None]
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), comment="none when relhealth wrote it"
    )
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="activities")


class CaseTag(db.Model):
    """A root cause of a case, from the taxonomy (setting FOLLOWUP_ROOT_CAUSES)."""

    __tablename__ = "case_tags"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)


class PraiseMatch(enum.StrEnum):
    EMAIL = "email"  # the answer carried the employee's e-mail address
    NAME = "name"  # full name, exactly (ignoring case and accents)
    FUZZY = "fuzzy"  # a close spelling of one person's name


class Praise(db.Model):
    __tablename__ = "praise"
    __table_args__ = (UniqueConstraint("response_id", "employee_id"),)

    id: Mapped[int_pk]
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    employee_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True, comment="one of our people"
    )
    said: Mapped[str] = mapped_column(Text, comment="the answer that named them, as written")
    matched_by: Mapped[PraiseMatch] = mapped_column(str_enum(PraiseMatch, "matched_by"))
    score: Mapped[float | None] = mapped_column(comment="the response's NPS, if asked")
    kudos_sent_at: Mapped[dt.datetime | None] = mapped_column(comment="kudos queued in the outbox")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExperimentStatus(enum.StrEnum):
    DRAFT = "draft"  # defined; nobody assigned yet
    RUNNING = "running"  # assigned; control cases withheld
    FINISHED = "finished"  # control cases released; outcomes can be compared


class Arm(enum.StrEnum):
    OUTREACH = "outreach"
    CONTROL = "control"


class Experiment(db.Model):
    __tablename__ = "experiments"
    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period_in_order"),
        CheckConstraint(
            "outreach_share > 0 AND outreach_share < 1", name="outreach_share_between_0_and_1"
        ),
    )

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    hypothesis: Mapped[str | None] = mapped_column(Text)
    period_start: Mapped[dt.date] = mapped_column(comment="detractors who answered from ...")
    period_end: Mapped[dt.date] = mapped_column(comment="... to this day, inclusive")
    seed: Mapped[int] = mapped_column(comment="the random assignment is reproducible from it")
    outreach_share: Mapped[float] = mapped_column(default=0.5)
    status: Mapped[ExperimentStatus] = mapped_column(
        str_enum(ExperimentStatus, "experiment_status"), default=ExperimentStatus.DRAFT
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    assignments: Mapped[list["ExperimentAssignment"]] = relationship(
        order_by="ExperimentAssignment.id"
    )


class ExperimentAssignment(db.Model):
    """One detractor's arm. Written once when the experiment starts; never updated."""

    __tablename__ = "experiment_assignments"
    __table_args__ = (UniqueConstraint("experiment_id", "response_id"),)

    id: Mapped[int_pk]
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    stratum: Mapped[str50] = mapped_column(comment="the account's tier when assigned")
    arm: Mapped[Arm] = mapped_column(str_enum(Arm, "arm"))
    baseline_score: Mapped[float | None] = mapped_column(
        comment="the respondent's mean scaled score in the detracting response"
    )
    baseline_value: Mapped[money] = mapped_column(
        default=Decimal(0), comment="the account's annual value when assigned"
    )
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExperimentEvent(db.Model):
    """The audit trail of an experiment: created, started (with its assignment digest), finished."""

    __tablename__ = "experiment_events"

    id: Mapped[int_pk]
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str50]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    detail: Mapped[dict] = mapped_column(JSONDocument, default=dict)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
