"""Cohorts (who is asked), programs (what and when), waves and invitations."""

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from relhealth.accounts.models import Side
from relhealth.db import JSONDocument, TimestampMixin, int_pk, str_enum, utcnow
from relhealth.extensions import db


class CohortMode(enum.StrEnum):
    FIXED = "fixed"  # a panel: the same members wave after wave
    DYNAMIC = "dynamic"  # the rule is evaluated again at every wave


class Cohort(TimestampMixin, db.Model):
    __tablename__ = "cohorts"

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(unique=True)
    mode: Mapped[CohortMode] = mapped_column(str_enum(CohortMode, "mode"))
    rule: Mapped[dict] = mapped_column(
        JSONDocument,
        comment="account_ids, kinds, tiers, relationship_types, seniorities, sides, roles",
    )

    members: Mapped[list["CohortMember"]] = relationship(back_populates="cohort")


class CohortMember(db.Model):
    """A person on a fixed panel, for one account (ours answer per account they serve)."""

    __tablename__ = "cohort_members"
    __table_args__ = (UniqueConstraint("cohort_id", "person_id", "account_id"),)

    id: Mapped[int_pk]
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    added_on: Mapped[dt.date]
    removed_on: Mapped[dt.date | None]

    cohort: Mapped[Cohort] = relationship(back_populates="members")


class Confidentiality(enum.StrEnum):
    IDENTIFIED = "identified"
    CONFIDENTIAL = "confidential"


class Trigger(enum.StrEnum):
    SCHEDULE = "schedule"
    BEFORE_RENEWAL = "before_renewal"
    AFTER_START = "after_start"


class Program(TimestampMixin, db.Model):
    """A survey sent to a cohort on a schedule (or on account events)."""

    __tablename__ = "programs"
    __table_args__ = (
        CheckConstraint("open_days > 0", name="open_days_positive"),
        CheckConstraint("fatigue_days >= 0", name="fatigue_days_not_negative"),
        CheckConstraint("min_group_size >= 1", name="min_group_size_positive"),
        CheckConstraint(
            "trigger = 'schedule' OR trigger_days IS NOT NULL", name="event_trigger_has_days"
        ),
    )

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(unique=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="RESTRICT"))
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="RESTRICT"))
    rrule: Mapped[str] = mapped_column(
        String(500), default="FREQ=MONTHLY;INTERVAL=3", comment="RFC 5545 recurrence rule"
    )
    starts_at: Mapped[dt.datetime] = mapped_column(comment="DTSTART of the rule (UTC)")
    open_days: Mapped[int] = mapped_column(default=14, comment="how long a wave stays open")
    reminder_days: Mapped[list] = mapped_column(
        JSONDocument, default=lambda: [7], comment="days after opening to remind"
    )
    fatigue_days: Mapped[int] = mapped_column(default=90, comment="across all programs")
    confidentiality: Mapped[Confidentiality] = mapped_column(
        str_enum(Confidentiality, "confidentiality"), default=Confidentiality.IDENTIFIED
    )
    min_group_size: Mapped[int] = mapped_column(default=3, comment="k, when confidential")
    trigger: Mapped[Trigger] = mapped_column(str_enum(Trigger, "trigger"), default=Trigger.SCHEDULE)
    trigger_days: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)

    cohort: Mapped[Cohort] = relationship()
    complementary: Mapped[list["ComplementaryCohort"]] = relationship(cascade="all, delete-orphan")


class ComplementaryCohort(db.Model):
    """A further cohort asked in a program's waves beside its main one."""

    __tablename__ = "complementary_cohorts"

    program_id: Mapped[int] = mapped_column(
        ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True
    )
    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="RESTRICT"), primary_key=True
    )
    added_on: Mapped[dt.date]


class WaveStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Wave(db.Model):
    """One occurrence of a program: survey version and members frozen when it opens."""

    __tablename__ = "waves"
    __table_args__ = (UniqueConstraint("program_id", "occurrence"),)

    id: Mapped[int_pk]
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="RESTRICT"))
    occurrence: Mapped[str] = mapped_column(
        String(100), comment="which occurrence: a date, or an account event; unique per program"
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT"), comment="for event-triggered waves"
    )
    survey_version_id: Mapped[int] = mapped_column(
        ForeignKey("survey_versions.id", ondelete="RESTRICT")
    )
    opens_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime]
    status: Mapped[WaveStatus] = mapped_column(str_enum(WaveStatus, "status"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    program: Mapped[Program] = relationship()


class InvitationStatus(enum.StrEnum):
    INVITED = "invited"
    RESPONDED = "responded"
    SKIPPED = "skipped"
    EXPIRED = "expired"


class Invitation(db.Model):
    """Wave x person x account: a personal link, or a recorded reason for not asking."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("wave_id", "person_id", "account_id"),
        Index("ix_invitations_person_id_invited_at", "person_id", "invited_at"),
        # one account's invitations across waves: response rates, drop-outs, silent key people
        Index("ix_invitations_account_id_wave_id", "account_id", "wave_id"),
        CheckConstraint(
            "status <> 'skipped' OR skip_reason IS NOT NULL", name="skips_have_a_reason"
        ),
    )

    id: Mapped[int_pk]
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    side: Mapped[Side] = mapped_column(str_enum(Side, "side"), comment="frozen at invitation")
    seniority: Mapped[str] = mapped_column(String(50), comment="frozen at invitation")
    status: Mapped[InvitationStatus] = mapped_column(str_enum(InvitationStatus, "status"))
    skip_reason: Mapped[str | None] = mapped_column(String(50))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime | None]
    invited_at: Mapped[dt.datetime | None]
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_reminded_at: Mapped[dt.datetime | None]
    responded_at: Mapped[dt.datetime | None]

    wave: Mapped[Wave] = relationship()
