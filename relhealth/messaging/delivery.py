"""Delivering the outbox: claim due messages, send each, record what happened, commit.

``deliver_due`` is what ``relhealth send-mail`` (and, later, a Celery task) runs. Unlike a
service it commits, once per message sent, so a crash half way never sends again what was sent.
"""

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import Any

from flask import current_app
from sqlalchemy import Row, bindparam, select, text, update
from sqlalchemy.orm import Session, scoped_session

from relhealth.accounts.models import Person
from relhealth.db import utcnow
from relhealth.messaging.models import MessageStatus, OutboxMessage
from relhealth.messaging.transports import (
    DeliveryError,
    MessageRejected,
    Transport,
    TransportUnavailable,
    transport_from_config,
)

log = logging.getLogger(__name__)

FIRST_RETRY = dt.timedelta(minutes=1)
LAST_RETRY = dt.timedelta(hours=1)
# Claimed messages are left to their sender this long. A sender stops after half of it and
# hands back the rest, so however slow the server, two senders never hold one message.
CLAIM_LEASE = dt.timedelta(minutes=10)


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` run did."""

    sent: int = 0
    retrying: int = 0  # failed this time, queued again for later
    failed: int = 0  # given up on: the server refused them for good, or too often
    unsubscribed: int = 0  # not sent: the recipient opted out after the message was queued
    unavailable: str | None = None  # why the run stopped early: nothing could be sent

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed + self.unsubscribed

    def __str__(self) -> str:
        text = f"Sent {self.sent}, to retry {self.retrying}, failed {self.failed}"
        if self.unsubscribed:
            text += f", withdrawn {self.unsubscribed} (unsubscribed)"
        return text


def retry_delay(attempts: int) -> dt.timedelta:
    """How long to wait after ``attempts`` failed attempts: 1 min, 2, 4 ... at most 1 h."""
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 10), LAST_RETRY)


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, making each header's class once.

    The stock registry builds a new class with ``type()`` for every header set: a third of the
    time it takes to build and flatten a message.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._made:
            self._made[key] = super().__getitem__(name)
        return self._made[key]


# RFC 5322 with CRLF line ends, as SMTP sends it and as .eml files keep it; non-ASCII bodies
# are quoted-printable or base64, as every server takes them (not all announce 8BITMIME).
MAIL_POLICY = SMTP.clone(header_factory=_HeaderClasses(), cte_type="7bit")


def message_id(message: OutboxMessage | Row, mail_from: str) -> str:
    """A Message-ID fixed for an outbox row, so a retry after a crash reuses it.

    ``email.utils.make_msgid`` draws a random one on every call; this one is derived from the
    row's id and creation time (which keeps ids from two installations on one domain apart).
    """
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    stamp = message.created_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    return f"<outbox.{message.id}.{stamp}@{domain}>"


def build_email(message: OutboxMessage | Row, mail_from: str) -> EmailMessage:
    """The RFC 5322 message for an outbox message (model or row): text, HTML, extra headers.

    Raises ValueError for a message that can never be built (a line break in a header).
    """
    email = EmailMessage(policy=MAIL_POLICY)
    email["From"] = mail_from
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at.astimezone(dt.UTC))
    email["Message-ID"] = message_id(message, mail_from)
    for name, value in (message.headers or {}).items():
        if name.lower().startswith(("content-", "mime-")):
            raise ValueError(f"header {name} is set from the body, not by the caller")
        del email[name]
        email[name] = value
    email.set_content(message.body_text, cte=_plain_encoding(message.body_text))
    if message.body_html:
        email.add_alternative(
            message.body_html, subtype="html", cte=_plain_encoding(message.body_html)
        )
    return email


def _plain_encoding(body: str) -> str | None:
    """``7bit`` for ASCII text within SMTP's line limit: readable in any .eml, and quicker
    than the quoted-printable the email package picks for lines over 78 characters. None (let
    it choose) otherwise."""
    if body.isascii() and all(len(line) <= 998 for line in body.splitlines()):
        return "7bit"
    return None


Sessions = Session | scoped_session | Callable[[], Session]
OUTBOX = OutboxMessage.__table__
# Built once, Core rather than ORM: per message, statement building costs as much as sending.
RECORD_OUTCOME = update(OUTBOX).where(OUTBOX.c.id == bindparam("outbox_id"))
NO_DISK_WAIT = text("SET LOCAL synchronous_commit TO OFF")


def deliver_due(
    sessions: Sessions,
    now: dt.datetime | None = None,
    batch: int = 100,
    transport: Transport | None = None,
    *,
    max_attempts: int | None = None,
    mail_from: str | None = None,
) -> DeliveryReport:
    """Send up to ``batch`` queued messages that are due at ``now`` (default: the clock).

    ``sessions`` is a session (committed, not closed) or a factory of sessions (one made and
    closed here). The batch is claimed in one short transaction (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so several workers share the queue), then each message is marked in its own
    transaction as soon as the server has taken it. A failed message is tried again after
    ``retry_delay``; one the server refuses for good (5xx), or ``max_attempts`` times, is
    FAILED. An unreachable server fails nothing: the run stops and the messages wait.
    Settings not given come from the current Flask app.
    """
    if transport is None or max_attempts is None or mail_from is None:
        config = current_app.config
        if transport is None:
            transport = transport_from_config(config, current_app.instance_path)
        max_attempts = max_attempts or config["SMTP_MAX_ATTEMPTS"]
        mail_from = mail_from or config["MAIL_FROM"]
    clock = (lambda: now) if now is not None else utcnow
    sender = parseaddr(mail_from)[1]  # the envelope sender
    session, owned = _open(sessions)
    postgresql = session.get_bind().dialect.name == "postgresql"
    report = DeliveryReport()
    claimed: list[Row] = []
    finished: set[int] = set()
    try:
        claimed = _claim(session, clock(), batch, lock_rows=postgresql)
        # Read in the claiming transaction: on SQLite a transaction that starts with a read
        # and later writes can deadlock with another sender's.
        unsubscribed = _unsubscribed(session, claimed)
        session.commit()
        deadline = time.monotonic() + CLAIM_LEASE.total_seconds() / 2
        with transport:
            for message in claimed:
                if report.unavailable or time.monotonic() >= deadline:
                    break
                if message.id in unsubscribed:
                    changes = _withdraw(message.id, report)
                else:
                    changes = _deliver(
                        message, transport, mail_from, sender, max_attempts, clock(), report
                    )
                if postgresql:
                    # Do not wait for the disk: a crashed worker cannot lose this commit, only
                    # a crashed database server, within a second, could (docs/decisions.md).
                    session.execute(NO_DISK_WAIT)
                session.execute(RECORD_OUTCOME, {"outbox_id": message.id, **changes})
                session.commit()
                finished.add(message.id)
    except BaseException:
        session.rollback()
        _release(session, [m.id for m in claimed if m.id not in finished], clock(), safely=True)
        raise
    else:
        _release(session, [m.id for m in claimed if m.id not in finished], clock())
    finally:
        if owned:
            session.close()
    return report


def _open(sessions: Sessions) -> tuple[Session, bool]:
    if isinstance(sessions, Session):
        return sessions, False
    if isinstance(sessions, scoped_session):
        return sessions(), False
    return sessions(), True


def _claim(session: Session, now: dt.datetime, batch: int, lock_rows: bool) -> list[Row]:
    """Take up to ``batch`` due messages away from other senders for ``CLAIM_LEASE``.

    A claimed message is due again only when the lease is over, which matters only if this
    sender dies: it marks each message it sends at once, and hands back what it did not send.
    """
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == MessageStatus.QUEUED, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
    )
    if lock_rows:
        # Skip rows another sender is claiming at this moment. (SQLite needs no lock: it has
        # one writer, and runs this statement whole.)
        due = due.with_for_update(skip_locked=True)
    rows = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=now + CLAIM_LEASE)
        .returning(*OutboxMessage.__table__.columns)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(rows, key=lambda row: row.id)


def _unsubscribed(session: Session, messages: list[Row]) -> set[int]:
    """The unsubscribable messages (surveys) among ``messages`` whose recipient opted out.

    Someone may unsubscribe from one e-mail while the next is queued; it must not go.
    """
    unsubscribable = {
        m.id: m.to_address.lower()
        for m in messages
        if any(name.lower() == "list-unsubscribe" for name in m.headers or {})
    }
    if not unsubscribable:
        return set()
    opted_out = select(Person.email).where(
        Person.email.in_(set(unsubscribable.values())), Person.opted_out
    )
    gone = {email.lower() for email in session.scalars(opted_out)}
    return {id_ for id_, address in unsubscribable.items() if address in gone}


def _release(session: Session, ids: list[int], now: dt.datetime, safely: bool = False) -> None:
    """Make claimed messages that were not tried due again, for the next run."""
    if not ids:
        return
    try:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == MessageStatus.QUEUED)
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except Exception:
        if not safely:
            raise
        # Already failing: the lease hands them back later anyway.
        session.rollback()
        log.exception("could not hand back %d claimed outbox messages", len(ids))


def _deliver(
    message: Row,
    transport: Transport,
    mail_from: str,
    sender: str,
    max_attempts: int,
    now: dt.datetime,
    report: DeliveryReport,
) -> dict[str, Any]:
    """Send one claimed message; return the changes that record the outcome."""
    attempts = message.attempts + 1
    try:
        email = build_email(message, mail_from)
        transport.send(email, sender, [message.to_address], str(message.id))
    except (MessageRejected, ValueError) as error:
        return _give_up(message.id, attempts, str(error), report)
    except TransportUnavailable as error:
        # Not this message's fault: it waits, whatever its count, and nothing more is tried.
        report.unavailable = str(error)
        return _retry_later(message.id, attempts, str(error), now, report)
    except DeliveryError as error:
        if attempts >= max_attempts:
            return _give_up(message.id, attempts, f"{error} (after {attempts} attempts)", report)
        return _retry_later(message.id, attempts, str(error), now, report)
    report.sent += 1
    return {"status": MessageStatus.SENT, "sent_at": now, "attempts": attempts}


def _withdraw(message_id: int, report: DeliveryReport) -> dict[str, Any]:
    report.unsubscribed += 1
    log.info("outbox message %s withdrawn: the recipient has unsubscribed", message_id)
    return {"status": MessageStatus.FAILED, "last_error": "not sent: the recipient unsubscribed"}


def _retry_later(
    message_id: int, attempts: int, error: str, now: dt.datetime, report: DeliveryReport
) -> dict[str, Any]:
    report.retrying += 1
    retry_at = now + retry_delay(attempts)
    log.warning("outbox message %s not sent, retry at %s: %s", message_id, retry_at, error)
    return {"attempts": attempts, "last_error": error, "next_attempt_at": retry_at}


def _give_up(message_id: int, attempts: int, error: str, report: DeliveryReport) -> dict[str, Any]:
    report.failed += 1
    log.error("outbox message %s failed: %s", message_id, error)
    return {"status": MessageStatus.FAILED, "attempts": attempts, "last_error": error}
