"""The outbox: messages written in the same transaction as what caused them."""

import datetime as dt
import enum

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from relhealth.db import JSONDocument, int_pk, str_enum, utcnow
from relhealth.extensions import db


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry; kept with its error


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int_pk]
    dedupe_key: Mapped[str] = mapped_column(
        String(200), unique=True, comment="one message per cause, e.g. invitation:42"
    )
    kind: Mapped[str] = mapped_column(String(50))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSONDocument, default=dict)
    attachments: Mapped[list | None] = mapped_column(
        JSONDocument,
        comment="files to attach, by reference: [{path, filename, content_type, sha256}],"
        " path inside the instance folder",
    )
    status: Mapped[MessageStatus] = mapped_column(
        str_enum(MessageStatus, "status"), default=MessageStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
