"""Archived reports (each one a job until it is rendered), subscriptions and their deliveries.

A ``Report`` row is made when a report is asked for (API, or a subscription falling due); it is
rendered inline or by a Celery worker, and the PDF is archived in the instance folder as
``reports/<sha256>.pdf`` (docs/decisions.md), named by its hash so the row can prove it.
A ``ReportSubscription`` renders a report on its RFC 5545 rule and e-mails it; every occurrence
it handled is a ``ReportDelivery``, unique per (subscription, occurrence), so a tick run twice
delivers once.
"""

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from relhealth.accounts.models import Account
from relhealth.auth.models import User
from relhealth.db import JSONDocument, int_pk, str_enum, utcnow
from relhealth.extensions import db
from relhealth.messaging.models import OutboxMessage


class ReportKind(enum.StrEnum):
    ACCOUNT = "account"  # one account's relationship report
    PARTNER = "partner"  # a partner account, both sides' views side by side
    PORTFOLIO = "portfolio"  # every account the user may read, ranked


class ReportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"  # the e-mail is in the outbox; its own status says whether it went
    FAILED = "failed"  # no e-mail: the report could not be rendered or may no longer be read


class Report(db.Model):
    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(
            "status <> 'done' OR (sha256 IS NOT NULL AND size IS NOT NULL"
            " AND finished_at IS NOT NULL)",
            name="done_is_archived",
        ),
        CheckConstraint("kind = 'portfolio' OR account_id IS NOT NULL", name="account_given"),
        Index("ix_reports_requested_by_id_created_at", "requested_by_id", "created_at"),
    )

    id: Mapped[int_pk]
    kind: Mapped[ReportKind] = mapped_column(str_enum(ReportKind, "kind"))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"),
        index=True,
        comment="the account reported on; none for a portfolio report",
    )
    parameters: Mapped[dict] = mapped_column(
        JSONDocument, default=dict, comment="what was asked: kind, account_id, filters"
    )
    status: Mapped[ReportStatus] = mapped_column(
        str_enum(ReportStatus, "status"), default=ReportStatus.QUEUED
    )
    error: Mapped[str | None] = mapped_column(Text, comment="why rendering failed")
    sha256: Mapped[str | None] = mapped_column(
        String(64), comment="hex SHA-256 of the PDF; archived as reports/<sha256>.pdf"
    )
    size: Mapped[int | None] = mapped_column(comment="bytes of the PDF")
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"),
        comment="who asked for it (a subscription's user for a delivered report)",
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    requested_by: Mapped[User | None] = relationship()
    account: Mapped[Account | None] = relationship()

    @property
    def archive_name(self) -> str | None:
        """The PDF's path inside the instance folder, once it is rendered."""
        return f"reports/{self.sha256}.pdf" if self.sha256 else None


class ReportSubscription(db.Model):
    __tablename__ = "report_subscriptions"
    __table_args__ = (
        CheckConstraint("kind = 'portfolio' OR account_id IS NOT NULL", name="account_given"),
        Index("ix_report_subscriptions_active_next_run_at", "active", "next_run_at"),
    )

    id: Mapped[int_pk]
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, comment="who receives it"
    )
    kind: Mapped[ReportKind] = mapped_column(str_enum(ReportKind, "kind"))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"),
        index=True,
        comment="the account of an account or partner report",
    )
    filters: Mapped[dict] = mapped_column(
        JSONDocument, default=dict, comment="a portfolio report's filters: kind, tier, owner_id"
    )
    rrule: Mapped[str] = mapped_column(String(500), comment="RFC 5545 recurrence rule")
    starts_at: Mapped[dt.datetime] = mapped_column(comment="DTSTART of the rule (UTC)")
    next_run_at: Mapped[dt.datetime | None] = mapped_column(
        comment="the next occurrence to deliver; none once the rule has ended"
    )
    active: Mapped[bool] = mapped_column(default=True, comment="false once unsubscribed")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class ReportDelivery(db.Model):
    __tablename__ = "report_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "occurrence"),
        CheckConstraint(
            "status <> 'queued' OR outbox_message_id IS NOT NULL", name="queued_has_a_message"
        ),
    )

    id: Mapped[int_pk]
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("report_subscriptions.id", ondelete="CASCADE")
    )
    occurrence: Mapped[dt.datetime] = mapped_column(comment="the rule's occurrence delivered")
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("reports.id", ondelete="SET NULL"), index=True
    )
    outbox_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus, "status"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    report: Mapped[Report | None] = relationship()
    outbox_message: Mapped[OutboxMessage | None] = relationship()
