"""Delivering the outbox: claim due messages, send each, record what happened, commit.

``deliver_due`` is what ``relhealth send-mail`` (and, later, a Celery task) runs. Unlike a
service it commits: what happened is committed every few dozen messages, and whatever stops a
run commits what was done so far, so only a crash can send a message twice (docs/decisions.md).
"""

import contextlib
import datetime as dt
import hashlib
import logging
import queue
import time
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session, scoped_session

from relhealth.accounts.models import Person
from relhealth.db import utcnow
from relhealth.messaging.mime import Attachment, OutgoingEmail, compose
from relhealth.messaging.models import MessageStatus, OutboxMessage
from relhealth.messaging.service import WITHDRAWN
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

    def add(self, other: "DeliveryReport") -> None:
        """Count in what another report (one message's, one round's) says."""
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.unsubscribed += other.unsubscribed
        self.unavailable = other.unavailable or self.unavailable

    def __str__(self) -> str:
        text = f"Sent {self.sent}, to retry {self.retrying}, failed {self.failed}"
        if self.unsubscribed:
            text += f", withdrawn {self.unsubscribed} (unsubscribed)"
        return text


def retry_delay(attempts: int) -> dt.timedelta:
    """How long to wait after ``attempts`` failed attempts: 1 min, 2, 4 ... at most 1 h."""
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 10), LAST_RETRY)


def message_id(message: OutboxMessage | Row, mail_from: str) -> str:
    """A Message-ID fixed for an outbox row, so a retry after a crash reuses it.

    ``email.utils.make_msgid`` draws a random one on every call; this one is derived from the
    row's id and creation time (which keeps ids from two installations on one domain apart).
    """
    domain = _domain(mail_from)
    stamp = message.created_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    return f"<outbox.{message.id}.{stamp}@{domain}>"


@lru_cache(maxsize=8)
def _domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


def build_email(
    message: OutboxMessage | Row, mail_from: str, attachment_root: Path | None = None
) -> OutgoingEmail:
    """The RFC 5322 message for an outbox message (model or row): text, HTML, extra headers,
    and the files it attaches, read from ``attachment_root`` (the instance folder).

    Raises ValueError for a message that can never be built (a line break in a header, an
    attached file that is gone or no longer matches its hash).
    """
    headers = {
        "From": mail_from,
        "To": message.to_address,
        "Subject": message.subject,
        "Date": format_datetime(message.created_at.astimezone(dt.UTC)),
        "Message-ID": message_id(message, mail_from),
    }
    names = {name.lower(): name for name in headers}
    for name, value in (message.headers or {}).items():
        if name.lower().startswith(("content-", "mime-")):
            raise ValueError(f"header {name} is set from the body, not by the caller")
        headers.pop(names.get(name.lower(), name), None)
        headers[name] = value
    files = load_attachments(message.attachments or [], attachment_root)
    data = compose(headers, message.body_text, message.body_html, headers["Message-ID"], files)
    return OutgoingEmail(subject=message.subject, message_id=headers["Message-ID"], data=data)


def load_attachments(references: list[dict], root: Path | None) -> list[Attachment]:
    """The files an outbox message refers to (``path`` inside ``root``), checked against their
    SHA-256: the outbox keeps references, not megabytes (docs/decisions.md)."""
    files = []
    for reference in references:
        if root is None:
            raise ValueError("this message has attachments but no folder to read them from")
        path = (root / reference["path"]).resolve()
        if not path.is_relative_to(root.resolve()):
            raise ValueError(f"attachment {reference['path']!r} is outside the instance folder")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ValueError(f"attachment {reference['path']} cannot be read: {error}") from None
        if hashlib.sha256(data).hexdigest() != reference["sha256"]:
            raise ValueError(f"attachment {reference['path']} does not match its SHA-256")
        files.append(Attachment(reference["filename"], reference["content_type"], data))
    return files


Sessions = Session | scoped_session | Callable[[], Session]
OUTBOX = OutboxMessage.__table__
# Built once, Core rather than ORM: per message, statement building costs as much as sending.
RECORD_OUTCOME = update(OUTBOX).where(OUTBOX.c.id == bindparam("outbox_id"))
# Outcomes are committed together, every RECORD_EVERY messages or RECORD_WAIT seconds,
# whichever comes first: a crash re-sends at most that many (docs/decisions.md).
RECORD_EVERY = 50
RECORD_WAIT = 0.5


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
    PostgreSQL, so several workers share the queue), then sent (on several SMTP connections at
    once, ``RELHEALTH_SMTP_CONNECTIONS``); what happened to each message
    is committed every ``RECORD_EVERY`` messages or ``RECORD_WAIT`` seconds, and whatever
    stops the run commits what was done so far. A failed message is tried again after
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
    attachment_root = Path(current_app.instance_path) if has_app_context() else None
    sender = parseaddr(mail_from)[1]  # the envelope sender
    session, owned = _open(sessions)
    postgresql = session.get_bind().dialect.name == "postgresql"
    report = DeliveryReport()
    claimed: list[Row] = []
    outcomes = _Outcomes(session)
    lanes: _Lanes | None = None
    try:
        claimed = _claim(session, clock(), batch, lock_rows=postgresql)
        # Read in the claiming transaction: on SQLite a transaction that starts with a read
        # and later writes can deadlock with another sender's.
        unsubscribed = _unsubscribed(session, claimed)
        session.commit()
        deadline = time.monotonic() + CLAIM_LEASE.total_seconds() / 2
        lanes = _Lanes(transport, mail_from, sender, max_attempts, clock, attachment_root)
        with lanes:
            for message in claimed:
                for message_id, changes, done in lanes.make_room():
                    report.add(done)
                    outcomes.add(message_id, changes)
                if report.unavailable or time.monotonic() >= deadline:
                    break
                if message.id in unsubscribed:
                    outcomes.add(message.id, _withdraw(message.id, report))
                else:
                    lanes.send(message)
            for message_id, changes, done in lanes.finish():
                report.add(done)
                outcomes.add(message_id, changes)
        outcomes.commit()
    except BaseException:
        session.rollback()
        # What the server took must not go again: record it before handing back the rest.
        for message_id, changes, done in lanes.harvest() if lanes else ():
            report.add(done)
            outcomes.keep(message_id, changes)
        outcomes.commit(safely=True)
        _release(session, outcomes.unfinished(claimed), clock(), safely=True)
        raise
    else:
        _release(session, outcomes.unfinished(claimed), clock())
    finally:
        if owned:
            session.close()
    return report


class _Outcomes:
    """What happened to each message, committed a few dozen at a time.

    One commit per message cost more than building and sending it; committing every
    ``RECORD_EVERY`` messages (or ``RECORD_WAIT`` seconds, for a slow server) makes the
    database a small part of a message's cost, at the price of re-sending up to that many
    after a crash (docs/decisions.md).
    """

    def __init__(self, session: Session):
        self.session = session
        self.pending: dict[int, dict[str, Any]] = {}
        self.finished: set[int] = set()
        self.oldest = 0.0

    def add(self, message_id: int, changes: dict[str, Any]) -> None:
        """Keep an outcome, and commit the pending ones if there are enough or they are old."""
        self.keep(message_id, changes)
        if len(self.pending) >= RECORD_EVERY or time.monotonic() - self.oldest >= RECORD_WAIT:
            self.commit()

    def keep(self, message_id: int, changes: dict[str, Any]) -> None:
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending[message_id] = changes

    def commit(self, safely: bool = False) -> None:
        """Write and commit the pending outcomes, one statement per set of changed columns."""
        if not self.pending:
            return
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for message_id, changes in self.pending.items():
            groups.setdefault(tuple(changes), []).append({"outbox_id": message_id, **changes})
        try:
            for rows in groups.values():
                self.session.execute(RECORD_OUTCOME, rows)
            self.session.commit()
        except Exception:
            if not safely:
                raise
            # Already failing: these go again when their lease is over (docs/decisions.md).
            self.session.rollback()
            log.exception("could not record %d delivered outbox messages", len(self.pending))
            return
        self.finished.update(self.pending)
        self.pending.clear()

    def unfinished(self, claimed: list[Row]) -> list[int]:
        """Claimed messages with no outcome recorded, to hand back (not those in flight)."""
        return [m.id for m in claimed if m.id not in self.finished and m.id not in self.pending]


Finished = tuple[int, dict[str, Any], DeliveryReport]  # message id, its changes, what it was


class _Lanes:
    """Sends messages on several connections at once, as the transport allows.

    Each message costs the mail server and us a few round trips; waiting for them one message
    at a time, not the work, is what limits a sender (``bench/RESULTS.md``). A transport with
    ``lanes()`` (SMTP: ``RELHEALTH_SMTP_CONNECTIONS``) sends that many messages at a time from
    worker threads; anything else, one. Only one connection is used until the server has taken
    a message, so a server that is down costs one message a back-off, not one per connection.
    Threads only send: building the outcome into the database stays in the caller's thread.
    """

    def __init__(
        self,
        transport: Transport,
        mail_from: str,
        sender: str,
        max_attempts: int,
        clock: Callable[[], dt.datetime],
        attachment_root: Path | None = None,
    ) -> None:
        lanes = getattr(transport, "lanes", None)
        self.lanes: list[Transport] = lanes() if lanes else [transport]
        self.free: queue.SimpleQueue[Transport] = queue.SimpleQueue()
        self.send_options = (mail_from, sender, max_attempts)
        self.attachment_root = attachment_root
        self.clock = clock
        self.window = 1
        self.in_flight: dict[Future, int] = {}
        self.unreported: list[Finished] = []  # finished, but not yet handed to the caller
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> "_Lanes":
        with self.stack as stack:
            for lane in self.lanes:
                self.free.put(stack.enter_context(lane))
            self.pool = stack.enter_context(
                ThreadPoolExecutor(len(self.lanes), thread_name_prefix="relhealth-mail")
            )
            self.stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # The pool waits for messages in flight before the connections close.
        self.stack.__exit__(*exc_info)

    def send(self, message: Row) -> None:
        self.in_flight[self.pool.submit(self._send, message)] = message.id

    def _send(self, message: Row) -> tuple[dict[str, Any], DeliveryReport]:
        lane, done = self.free.get(), DeliveryReport()
        try:
            changes = _deliver(
                message, lane, *self.send_options, self.clock(), done, self.attachment_root
            )
            return changes, done
        finally:
            self.free.put(lane)

    def make_room(self) -> list[Finished]:
        """Wait until another message may go; the messages finished meanwhile."""
        finished: list[Finished] = []
        while len(self.in_flight) >= self.window:
            finished += self._collect(FIRST_COMPLETED)
            if any(done.sent for _, _, done in finished):
                self.window = len(self.lanes)
        return finished

    def finish(self) -> list[Finished]:
        return self._collect(ALL_COMPLETED) if self.in_flight else []

    def harvest(self) -> list[Finished]:
        """After an error: the messages that did finish (the pool has waited for them)."""
        finished, self.unreported = self.unreported, []
        for future, message_id in self.in_flight.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                finished.append((message_id, *future.result()))
        self.in_flight.clear()
        return finished

    def _collect(self, return_when: str) -> list[Finished]:
        done, _ = wait(self.in_flight, return_when=return_when)
        error = None
        for future in done:
            message_id = self.in_flight.pop(future)
            if future.exception() is None:
                self.unreported.append((message_id, *future.result()))
            else:
                error = error or future.exception()
        if error is not None:
            raise error  # the others stay unreported, for harvest()
        finished, self.unreported = self.unreported, []
        return finished


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
    attachment_root: Path | None = None,
) -> dict[str, Any]:
    """Send one claimed message; return the changes that record the outcome."""
    attempts = message.attempts + 1
    try:
        email = build_email(message, mail_from, attachment_root)
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
    return {"status": MessageStatus.FAILED, "last_error": WITHDRAWN}


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
