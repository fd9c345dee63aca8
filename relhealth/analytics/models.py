"""Alerts: what the analytics noticed about an account and someone should look at.

An alert is opened by ``alerts_service.evaluate_alerts`` from the pure rules in ``alerts``;
its ``dedupe_key`` names the cause (rule, account, wave, dimension, person or snapshot), so
evaluating again never opens it twice. People acknowledge it (someone is on it) and resolve it.
The follow-up cases of the closed loop are opened from alerts and refer to them by id.
"""

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from relhealth.db import JSONDocument, int_pk, str50, str_enum, utcnow
from relhealth.extensions import db


class AlertKind(enum.StrEnum):
    SIGNIFICANT_DECLINE = "significant_decline"
    EXECUTIVE_DETRACTOR = "executive_detractor"
    GAP_WIDENED = "gap_widened"
    KEY_PERSON_SILENT = "key_person_silent"
    COVERAGE_LOST = "coverage_lost"


class AlertSeverity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(db.Model):
    __tablename__ = "alerts"
    __table_args__ = (
        # A confidential program's alert speaks of groups only: it never names a person.
        CheckConstraint("NOT confidential OR person_id IS NULL", name="confidential_names_nobody"),
        CheckConstraint(
            "status = 'open' OR acknowledged_at IS NOT NULL", name="acknowledged_has_a_time"
        ),
        CheckConstraint(
            "status <> 'resolved' OR resolved_at IS NOT NULL", name="resolved_has_a_time"
        ),
        Index("ix_alerts_account_id_status", "account_id", "status"),
        Index("ix_alerts_status_opened_at", "status", "opened_at"),
    )

    id: Mapped[int_pk]
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind, "kind"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"),
        index=True,
        comment="the person it is about; never set in a confidential program",
    )
    wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("waves.id", ondelete="CASCADE"),
        index=True,
        comment="the wave that showed it (for coverage: the wave whose snapshot did)",
    )
    dimension: Mapped[str50 | None]
    severity: Mapped[AlertSeverity] = mapped_column(str_enum(AlertSeverity, "severity"))
    confidential: Mapped[bool] = mapped_column(
        default=False, comment="from a confidential program: group figures only"
    )
    message: Mapped[str] = mapped_column(Text, comment="plain language, with figures and n")
    evidence: Mapped[dict] = mapped_column(JSONDocument, comment="the figures behind the alert")
    dedupe_key: Mapped[str] = mapped_column(
        String(200), unique=True, comment="names the cause; re-evaluating never duplicates"
    )
    status: Mapped[AlertStatus] = mapped_column(
        str_enum(AlertStatus, "status"), default=AlertStatus.OPEN
    )
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[dt.datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<Alert {self.id} {self.kind} account {self.account_id} {self.status}>"
