"""Report subscriptions: a report rendered on an RFC 5545 rule and e-mailed as a PDF attachment.

``deliver_due_reports`` is the tick's step. Each due subscription's report is rendered and
archived (in a transaction that only reads), then, in a short one under a lock on the
subscription's row, the report is recorded, an e-mail with the PDF attached (by reference to
the archive) is queued in the outbox, the occurrence is logged as a ``ReportDelivery`` and
``next_run_at`` moves on. The delivery is unique per (subscription,
occurrence) and the e-mail's dedupe key names the same pair, so a tick run twice, or two ticks
at once, deliver an occurrence once. Occurrences a stopped scheduler missed are not caught up:
the latest due one is delivered, as reminders are.
"""

import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import select
from sqlalchemy.orm import Session

from relhealth.accounts.models import Account
from relhealth.auth.models import Role, User
from relhealth.cohorts.service import parse_rrule
from relhealth.core.errors import NotFound
from relhealth.core.pagination import page_of
from relhealth.messaging.models import OutboxMessage
from relhealth.messaging.service import queue_message, render_email, render_subject
from relhealth.reports import jobs
from relhealth.reports.models import (
    DeliveryStatus,
    Report,
    ReportDelivery,
    ReportKind,
    ReportStatus,
    ReportSubscription,
)

logger = logging.getLogger(__name__)

EMAIL_KIND = "report"


class TickReport(Protocol):
    """What the tick's report needs from this step (``relhealth.cohorts.tick.TickReport``)."""

    reports_delivered: int
    problems: list[str]


def subscription_rule(subscription: ReportSubscription) -> rrule:
    return rrulestr(subscription.rrule, dtstart=subscription.starts_at)


def _first_run(rule: rrule, starts_at: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The first occurrence still to deliver: from ``starts_at``, none before ``now``."""
    return rule.after(max(starts_at, now), inc=True)


def create_subscription(
    session: Session, user: User, values: Mapping[str, Any], now: dt.datetime
) -> ReportSubscription:
    """Subscribe ``user`` to a report of ``kind`` over ``account_id`` or ``filters``, on
    ``rrule`` from ``starts_at`` (default ``now``). InvalidInput on a bad rule or scope."""
    kind = ReportKind(values["kind"])
    account_id, filters = values.get("account_id"), dict(values.get("filters") or {})
    jobs.check_scope(session, user, kind, account_id, filters)
    starts_at = (values.get("starts_at") or now).astimezone(dt.UTC)
    text = values["rrule"].strip().removeprefix("RRULE:")
    rule = parse_rrule(text, starts_at)
    subscription = ReportSubscription(
        user=user,
        kind=kind,
        account_id=account_id,
        filters=filters,
        rrule=text,
        starts_at=starts_at,
        next_run_at=_first_run(rule, starts_at, now),
        active=True,
        created_at=now,
    )
    session.add(subscription)
    session.flush()
    return subscription


def update_subscription(
    session: Session, subscription: ReportSubscription, values: Mapping[str, Any], now: dt.datetime
) -> ReportSubscription:
    """Change a subscription's rule, start, portfolio filters or whether it is active.

    Its kind and account stay: subscribe again for another report. A changed rule or start,
    or a subscription made active again, is scheduled afresh from ``now``.
    """
    if "filters" in values:
        jobs.check_scope(
            session,
            subscription.user,
            subscription.kind,
            subscription.account_id,
            values["filters"],
        )
        subscription.filters = dict(values["filters"] or {})
    rescheduled = "rrule" in values or "starts_at" in values
    text = values.get("rrule", subscription.rrule).strip().removeprefix("RRULE:")
    starts_at = (values.get("starts_at") or subscription.starts_at).astimezone(dt.UTC)
    rule = parse_rrule(text, starts_at)
    if values.get("active") and not subscription.active:
        # Subscribing again must still be allowed: the account may be out of reach by now.
        jobs.check_scope(
            session, subscription.user, subscription.kind, subscription.account_id, None
        )
        rescheduled = True
    if "active" in values:
        subscription.active = values["active"]
    subscription.rrule, subscription.starts_at = text, starts_at
    if rescheduled:
        subscription.next_run_at = _first_run(rule, starts_at, now)
    session.flush()
    return subscription


def subscription_query(user: User):
    """The subscriptions ``user`` may see: their own (an admin: all)."""
    stmt = select(ReportSubscription)
    if user.role != Role.ADMIN:
        stmt = stmt.where(ReportSubscription.user_id == user.id)
    return stmt


def list_subscriptions(
    session: Session, user: User, page: int = 1, page_size: int = 50
) -> tuple[list[ReportSubscription], int]:
    stmt = subscription_query(user).order_by(ReportSubscription.id)
    return page_of(session, stmt, page, page_size)


def get_subscription(session: Session, user: User, subscription_id: int) -> ReportSubscription:
    subscription = session.scalar(
        subscription_query(user).where(ReportSubscription.id == subscription_id)
    )
    if subscription is None:
        raise NotFound("No such report subscription.")
    return subscription


def list_deliveries(
    session: Session, subscription: ReportSubscription, page: int = 1, page_size: int = 50
) -> tuple[list[ReportDelivery], int]:
    """The subscription's delivery log, newest occurrence first."""
    stmt = (
        select(ReportDelivery)
        .where(ReportDelivery.subscription_id == subscription.id)
        .order_by(ReportDelivery.occurrence.desc(), ReportDelivery.id.desc())
    )
    return page_of(session, stmt, page, page_size)


# Delivering ----------------------------------------------------------------------------------


def dedupe_key(subscription_id: int, occurrence: dt.datetime) -> str:
    return f"report:{subscription_id}:{occurrence.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def deliver_due_reports(session: Session, now: dt.datetime, report: TickReport) -> None:
    """Deliver every active subscription due at ``now``; commits each as it goes.

    A subscription that fails is rolled back and reported, and the others go on; it is tried
    again at the next tick.
    """
    due = session.scalars(
        select(ReportSubscription.id)
        .where(ReportSubscription.active.is_(True), ReportSubscription.next_run_at <= now)
        .order_by(ReportSubscription.next_run_at, ReportSubscription.id)
    ).all()
    session.commit()
    folder = jobs.archive_folder()
    for subscription_id in due:
        try:
            delivered = deliver_subscription(session, subscription_id, now, folder)
        except Exception:
            session.rollback()
            logger.exception("delivering report subscription %s failed", subscription_id)
            report.problems.append(f"Report subscription {subscription_id} could not be delivered.")
            continue
        report.reports_delivered += int(delivered)


def deliver_subscription(
    session: Session, subscription_id: int, now: dt.datetime, folder: Path
) -> bool:
    """Deliver the occurrence of one subscription due at ``now``; True if an e-mail was queued.

    Commits. The PDF is rendered in a transaction that only reads and ends before the one
    that records the delivery, so the database is not held for the seconds a PDF takes (SQLite
    has one writer). That second transaction locks the subscription and looks again: two ticks
    at once may both render an occurrence, only one delivers it.
    """
    subscription = session.get(ReportSubscription, subscription_id, populate_existing=True)
    due = _due(session, subscription, now)
    report, outcome = None, None
    if due is not None and not _delivered(session, subscription_id, due[1]):
        report = _new_report(session, subscription, due[1], now)
        outcome = jobs.render_outcome(session, report, folder, now)
    session.commit()
    if due is None:
        return False
    rendered_for = due[1]
    try:
        subscription = session.scalar(
            select(ReportSubscription)
            .where(ReportSubscription.id == subscription_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        due = _due(session, subscription, now)
        if due is None:  # another tick delivered it meanwhile, or it was stopped
            session.commit()
            return False
        rule, occurrence = due
        delivered = False
        if not _delivered(session, subscription_id, occurrence):
            if outcome is None or occurrence != rendered_for:
                session.commit()  # not what was rendered: the next tick renders it
                return False
            delivery = _record(session, subscription, report, outcome, occurrence, now)
            delivered = delivery.status == DeliveryStatus.QUEUED
        subscription.next_run_at = rule.after(now)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return delivered


def _due(
    session: Session, subscription: ReportSubscription | None, now: dt.datetime
) -> tuple[rrule, dt.datetime] | None:
    """The subscription's rule and the occurrence to deliver at ``now``: the latest due one."""
    if (
        subscription is None
        or not subscription.active
        or subscription.next_run_at is None
        or subscription.next_run_at > now
    ):
        return None
    rule = subscription_rule(subscription)
    return rule, rule.before(now, inc=True) or subscription.next_run_at


def _delivered(session: Session, subscription_id: int, occurrence: dt.datetime) -> bool:
    return (
        session.scalar(
            select(ReportDelivery.id).where(
                ReportDelivery.subscription_id == subscription_id,
                ReportDelivery.occurrence == occurrence,
            )
        )
        is not None
    )


def _new_report(
    session: Session, subscription: ReportSubscription, occurrence: dt.datetime, now: dt.datetime
) -> Report:
    """The report of an occurrence, not yet in the session: it is added once it is rendered."""
    return Report(
        kind=subscription.kind,
        account_id=subscription.account_id,
        account=session.get(Account, subscription.account_id) if subscription.account_id else None,
        parameters={
            "kind": subscription.kind.value,
            "account_id": subscription.account_id,
            "filters": dict(subscription.filters or {}),
            "subscription_id": subscription.id,
            "occurrence": occurrence.isoformat(),
        },
        status=ReportStatus.RUNNING,
        requested_by=subscription.user,
        created_at=now,
        started_at=now,
    )


def _record(
    session: Session,
    subscription: ReportSubscription,
    report: Report,
    outcome: dict[str, Any],
    occurrence: dt.datetime,
    now: dt.datetime,
) -> ReportDelivery:
    """Archive the rendered report and log the delivery, with its e-mail queued if it is done."""
    for name, value in outcome.items():
        setattr(report, name, value)
    session.add(report)
    session.flush()
    delivery = ReportDelivery(
        subscription_id=subscription.id, occurrence=occurrence, report_id=report.id, created_at=now
    )
    if report.status != ReportStatus.DONE:
        delivery.status, delivery.error = DeliveryStatus.FAILED, report.error
    else:
        delivery.status = DeliveryStatus.QUEUED
        delivery.outbox_message_id = _queue_email(session, subscription, report, occurrence)
    session.add(delivery)
    session.flush()
    return delivery


def _queue_email(
    session: Session, subscription: ReportSubscription, report: Report, occurrence: dt.datetime
) -> int:
    key = dedupe_key(subscription.id, occurrence)
    title = f"{subscription.kind.value.capitalize()} report"
    context = {
        "title": title,
        "account_name": report.account.name if report.account is not None else None,
        "occurrence": occurrence,
        "subscription_id": subscription.id,
        "name": subscription.user.name,
    }
    text, html = render_email("report", **context)
    message = queue_message(
        session,
        dedupe_key=key,
        kind=EMAIL_KIND,
        to=subscription.user.email,
        subject=render_subject("report", day=f"{occurrence.day} {occurrence:%b %Y}", **context),
        text=text,
        html=html,
        attachments=[jobs.attachment_reference(report)],
    )
    if message is not None:
        return message.id
    # Queued by an earlier attempt whose delivery row was lost: log the delivery against it.
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
