"""Report subscriptions: the API, and the tick rendering and e-mailing them, once each."""

import datetime as dt
import hashlib
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from relhealth.auth.models import AccountAssignment, Role
from relhealth.cohorts.tick import tick
from relhealth.db import utcnow
from relhealth.messaging.delivery import deliver_due
from relhealth.messaging.models import MessageStatus, OutboxMessage
from relhealth.messaging.transports import OutboxFolder, SMTPSettings, SMTPTransport
from relhealth.reports import subscriptions
from relhealth.reports.models import DeliveryStatus, ReportDelivery, ReportStatus
from tests import factories as f
from tests.messaging.conftest import smtp_server  # noqa: F401 -- the real aiosmtpd fixture

START = dt.datetime(2026, 11, 2, 7, 0, tzinfo=dt.UTC)  # a Monday
WEEKLY = "FREQ=WEEKLY;BYDAY=MO"
FROM = "relhealth <reports@relhealth.test>"


@pytest.fixture
def manager():
    return f.UserFactory(role=Role.ACCOUNT_MANAGER, email="exec@relhealth.test")


@pytest.fixture
def account(manager):
    return f.AccountFactory(owner_id=manager.id, name="Acme Industries")


def subscribe(api, user, **body):
    return api.as_(user).post("/api/v1/report-subscriptions", json=body)


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


# The API -------------------------------------------------------------------------------------


def test_subscribing_schedules_the_first_occurrence_of_the_rule(api, manager, account):
    response = subscribe(
        api,
        manager,
        kind="account",
        account_id=account.id,
        rrule="RRULE:FREQ=MONTHLY;BYMONTHDAY=1",
        starts_at="2030-01-01T08:00:00Z",
    )

    assert response.status_code == 201, response.json
    body = response.json
    assert body["rrule"] == "FREQ=MONTHLY;BYMONTHDAY=1"
    assert body["next_run_at"].startswith("2030-01-01T08:00:00")
    assert body["active"] is True
    assert body["user_id"] == manager.id
    listed = api.as_(manager).get("/api/v1/report-subscriptions").json
    assert [s["id"] for s in listed] == [body["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "account", "rrule": WEEKLY}, "account_id"),
        ({"kind": "monthly", "rrule": WEEKLY}, "kind"),
        ({"kind": "portfolio"}, "rrule"),
        ({"kind": "portfolio", "rrule": "EVERY MONDAY"}, "rrule"),
        ({"kind": "portfolio", "rrule": "FREQ=HOURLY"}, "rrule"),
        ({"kind": "portfolio", "rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule"),
        ({"kind": "portfolio", "rrule": "FREQ=WEEKLY;UNTIL=20200101T000000Z"}, "rrule"),
        ({"kind": "portfolio", "rrule": WEEKLY, "starts_at": "Monday"}, "starts_at"),
        ({"kind": "portfolio", "rrule": WEEKLY, "filters": {"tier": "gold"}}, "filters"),
    ],
)
def test_bad_subscriptions_are_refused_with_the_field_named(api, manager, body, field):
    response = subscribe(api, manager, **body)

    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]


def test_subscriptions_to_a_foreign_account_and_of_others_are_not_found(api, manager, account):
    stranger = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    mine = subscribe(api, manager, kind="account", account_id=account.id, rrule=WEEKLY).json

    assert (
        subscribe(api, stranger, kind="account", account_id=account.id, rrule=WEEKLY).status_code
        == 404
    )
    url = f"/api/v1/report-subscriptions/{mine['id']}"
    assert api.as_(stranger).get(url).status_code == 404
    assert api.as_(stranger).patch(url, json={"active": False}).status_code == 404
    assert api.as_(stranger).delete(url).status_code == 404
    assert api.as_(stranger).get(url + "/deliveries").status_code == 404
    assert api.as_(stranger).get("/api/v1/report-subscriptions").json == []


def test_a_subscription_is_changed_paused_and_unsubscribed(api, manager, account):
    created = subscribe(api, manager, kind="portfolio", rrule=WEEKLY).json
    url = f"/api/v1/report-subscriptions/{created['id']}"

    changed = api.as_(manager).patch(
        url, json={"rrule": "FREQ=MONTHLY", "starts_at": "2031-03-05T06:00:00Z"}
    )
    bad = api.as_(manager).patch(url, json={"rrule": "FREQ=SECONDLY"})
    paused = api.as_(manager).patch(url, json={"active": False})
    resumed = api.as_(manager).patch(url, json={"active": True})
    deleted = api.as_(manager).delete(url)

    assert changed.status_code == 200
    assert changed.json["next_run_at"].startswith("2031-03-05T06:00:00")
    assert bad.status_code == 422
    assert "rrule" in bad.json["errors"]["json"]
    assert paused.json["active"] is False
    assert resumed.json["active"] is True
    assert deleted.status_code == 204
    assert api.as_(manager).get(url).json["active"] is False


# Delivering ----------------------------------------------------------------------------------


def test_the_tick_delivers_a_due_subscription_exactly_once(api, session, manager, account):
    subscription = subscriptions.create_subscription(
        session,
        manager,
        {"kind": "account", "account_id": account.id, "rrule": WEEKLY, "starts_at": START},
        START - dt.timedelta(days=1),
    )
    now = START + dt.timedelta(days=8, hours=1)  # the second Monday is the latest due

    first = tick(session, now)
    again = tick(session, now + dt.timedelta(minutes=5))

    assert first.reports_delivered == 1
    assert again.reports_delivered == 0
    assert "Reports e-mailed: 1" in first.lines()
    [delivery] = session.scalars(select(ReportDelivery)).all()
    assert delivery.occurrence == START + dt.timedelta(days=7)
    assert delivery.status == DeliveryStatus.QUEUED
    assert delivery.report.status == ReportStatus.DONE
    assert delivery.report.parameters["subscription_id"] == subscription.id
    [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "report")).all()
    assert message.id == delivery.outbox_message_id
    assert message.to_address == "exec@relhealth.test"
    assert message.dedupe_key == f"report:{subscription.id}:20261109T070000Z"
    assert "Acme Industries" in message.subject
    [attachment] = message.attachments
    assert attachment["sha256"] == delivery.report.sha256
    assert attachment["path"] == f"reports/{delivery.report.sha256}.pdf"
    assert attachment["content_type"] == "application/pdf"
    session.refresh(subscription)
    assert subscription.next_run_at == START + dt.timedelta(days=14)

    log = api.as_(manager).get(f"/api/v1/report-subscriptions/{subscription.id}/deliveries")
    assert log.status_code == 200
    [entry] = log.json
    assert entry["status"] == "queued"
    assert entry["email_status"] == "queued"
    assert entry["report_id"] == delivery.report_id
    assert entry["occurrence"].startswith("2026-11-09T07:00:00")


def test_a_subscription_not_due_or_inactive_is_not_delivered(session, manager, account):
    values = {"kind": "account", "account_id": account.id, "rrule": WEEKLY, "starts_at": START}
    later = subscriptions.create_subscription(session, manager, values, START)
    paused = subscriptions.create_subscription(session, manager, values, START)
    subscriptions.update_subscription(session, paused, {"active": False}, START)

    report = tick(session, START - dt.timedelta(hours=1))
    report_after = tick(session, START + dt.timedelta(hours=1))

    assert report.reports_delivered == 0
    assert report_after.reports_delivered == 1
    delivered = session.scalars(select(ReportDelivery.subscription_id)).all()
    assert delivered == [later.id]


def test_a_subscriber_who_lost_the_account_gets_a_failed_delivery_and_no_email(session, account):
    viewer = f.AssignmentFactory(account_id=account.id).user
    subscription = subscriptions.create_subscription(
        session,
        viewer,
        {"kind": "account", "account_id": account.id, "rrule": WEEKLY, "starts_at": START},
        START,
    )
    session.execute(AccountAssignment.__table__.delete())

    report = tick(session, START + dt.timedelta(minutes=1))

    assert report.reports_delivered == 0
    [delivery] = session.scalars(select(ReportDelivery)).all()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.outbox_message_id is None
    assert "account" in delivery.error.lower()
    assert count(session, OutboxMessage, OutboxMessage.kind == "report") == 0
    session.refresh(subscription)
    assert subscription.next_run_at == START + dt.timedelta(days=7)


def _delivered_pdf(session, manager, account) -> tuple[ReportDelivery, bytes]:
    subscriptions.create_subscription(
        session,
        manager,
        {"kind": "account", "account_id": account.id, "rrule": WEEKLY, "starts_at": START},
        START,
    )
    tick(session, START + dt.timedelta(minutes=1))
    [delivery] = session.scalars(select(ReportDelivery)).all()
    archived = Path(current_app.instance_path) / delivery.report.archive_name
    return delivery, archived.read_bytes()


def _attached_pdf(data: bytes) -> tuple[str, bytes]:
    email = message_from_bytes(data, policy=default)
    assert email.get_content_type() == "multipart/mixed"
    assert "as of" in email.get_body(("plain",)).get_content()
    [attachment] = list(email.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    return attachment.get_filename(), attachment.get_content()


def test_smtp_receives_the_report_with_the_archived_pdf_attached(
    session,
    manager,
    account,
    smtp_server,  # noqa: F811 -- the fixture imported above
):
    delivery, archived = _delivered_pdf(session, manager, account)
    transport = SMTPTransport(SMTPSettings.from_url(smtp_server.url, timeout=5))

    result = deliver_due(session, now=utcnow(), transport=transport, mail_from=FROM)

    assert result.sent == 1
    [envelope] = smtp_server.handler.envelopes
    assert envelope.rcpt_tos == ["exec@relhealth.test"]
    filename, pdf = _attached_pdf(envelope.content)
    assert filename.startswith("account-report-acme-industries-")
    assert filename.endswith(".pdf")
    assert pdf == archived
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == delivery.report.sha256
    session.refresh(delivery)
    assert delivery.outbox_message.status == MessageStatus.SENT


def test_the_outbox_folder_writes_the_report_as_an_eml_with_the_pdf(
    session, manager, account, tmp_path
):
    _delivery, archived = _delivered_pdf(session, manager, account)

    result = deliver_due(
        session,
        now=utcnow(),
        transport=OutboxFolder(tmp_path),
        mail_from=FROM,
    )

    assert result.sent == 1
    [eml] = tmp_path.glob("*.eml")
    _filename, pdf = _attached_pdf(eml.read_bytes())
    assert pdf == archived


def test_an_attachment_gone_from_the_archive_fails_its_message_for_good(
    session, manager, account, tmp_path
):
    delivery, _archived = _delivered_pdf(session, manager, account)
    (Path(current_app.instance_path) / delivery.report.archive_name).unlink()

    result = deliver_due(
        session,
        now=utcnow(),
        transport=OutboxFolder(tmp_path),
        mail_from=FROM,
    )

    assert result.failed == 1
    assert result.sent == 0
    session.refresh(delivery)
    assert "cannot be read" in delivery.outbox_message.last_error
