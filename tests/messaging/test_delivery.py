"""Delivering the outbox: the .eml folder, real SMTP through aiosmtpd, failures and retries."""

import datetime as dt
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from relhealth.accounts.models import Side
from relhealth.db import utcnow
from relhealth.messaging import delivery
from relhealth.messaging.delivery import CLAIM_LEASE, build_email, deliver_due, retry_delay
from relhealth.messaging.models import MessageStatus
from relhealth.messaging.service import (
    render_email,
    render_subject,
    survey_link,
    unsubscribe_headers,
    unsubscribe_link,
)
from relhealth.messaging.transports import OutboxFolder, SMTPSettings, SMTPTransport
from tests.factories import PersonFactory
from tests.messaging.conftest import queue

FROM = "relhealth <relhealth@relhealth.test>"


def smtp(server, connections: int = 1) -> SMTPTransport:
    return SMTPTransport(SMTPSettings.from_url(server.url, timeout=5), connections)


def deliver(session, transport, now, **options):
    return deliver_due(session, now=now, transport=transport, mail_from=FROM, **options)


def parsed(email):
    return message_from_bytes(email.data, policy=default)


def parts(email):
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    return text, html


def queue_invitation(session, person, kind="invitation", side=Side.EXTERNAL):
    context = {
        "person_name": person.name,
        "account_name": person.account.name,
        "survey_name": "Relationship health",
        "link": survey_link("personal-token"),
        "closes_on": dt.date(2026, 12, 10),
        "unsubscribe_link": unsubscribe_link(person.id),
        "side": side,
    }
    text, html = render_email(kind, **context)
    return queue(
        session,
        dedupe_key=f"{kind}:{person.id}",
        kind=kind,
        to=person.email,
        subject=render_subject(kind, **context),
        text=text,
        html=html,
        headers=unsubscribe_headers(context["unsubscribe_link"]),
    )[0]


def test_embedded_mode_writes_each_message_as_a_parseable_eml_file(session, tmp_path):
    person = PersonFactory(first_name="Ada <b>", account__name="Contoso & Co")
    message = queue_invitation(session, person)
    now = utcnow()

    report = deliver(session, OutboxFolder(tmp_path), now)

    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    assert message.status == MessageStatus.SENT
    assert message.sent_at == now
    (path,) = tmp_path.glob("*.eml")
    assert path.name == f"{message.id}-how-is-our-company-doing-for-you.eml"
    email = message_from_bytes(path.read_bytes(), policy=default)
    assert email["To"] == person.email
    assert email["From"] == FROM
    assert email["Subject"] == "How is Our company doing for you?"
    assert email["List-Unsubscribe"] == f"<{unsubscribe_link(person.id)}>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email["Message-ID"] == build_email(message, FROM).message_id
    text, html = parts(email)
    assert "Hello Ada <b>" in text
    assert "Hello Ada &lt;b&gt;" in html
    assert "Contoso &amp; Co" in html
    assert "<b>" not in html
    assert survey_link("personal-token") in text
    assert f'href="{survey_link("personal-token")}"' in html
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_without_an_smtp_url_messages_land_in_the_instance_outbox(app, session, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    (message,) = queue(session, subject="Quarterly survey")

    report = deliver_due(session, now=utcnow())

    assert report.sent == 1
    path = Path(app.instance_path) / "outbox" / f"{message.id}-quarterly-survey.eml"
    assert message_from_bytes(path.read_bytes(), policy=default)["Subject"] == "Quarterly survey"


def test_only_due_queued_messages_are_sent_oldest_first(session, tmp_path):
    later, first, second = queue(session, 3)
    now = utcnow()
    later.next_attempt_at = now + dt.timedelta(minutes=5)
    report = deliver(session, OutboxFolder(tmp_path), now, batch=1)
    assert report.sent == 1
    assert first.status == MessageStatus.SENT
    assert (second.status, later.status) == (MessageStatus.QUEUED, MessageStatus.QUEUED)
    assert deliver(session, OutboxFolder(tmp_path), now).sent == 1
    assert later.status == MessageStatus.QUEUED
    assert deliver(session, OutboxFolder(tmp_path), now + dt.timedelta(minutes=5)).sent == 1
    assert deliver(session, OutboxFolder(tmp_path), now + dt.timedelta(days=1)).attempted == 0


def test_the_message_id_is_the_same_on_every_attempt(session):
    first, second = queue(session, 2)
    assert build_email(first, FROM).message_id == build_email(first, FROM).message_id
    assert build_email(first, FROM).message_id != build_email(second, FROM).message_id
    assert build_email(first, FROM).message_id.endswith("@relhealth.test>")
    assert parsed(build_email(first, FROM))["Message-ID"] == build_email(first, FROM).message_id


def test_a_message_that_cannot_be_built_fails_at_once(session, tmp_path):
    (message,) = queue(session, headers={"X-Note": "line\r\nBcc: someone@else.test"})
    report = deliver(session, OutboxFolder(tmp_path), utcnow())
    assert report.failed == 1
    assert message.status == MessageStatus.FAILED
    assert message.attempts == 1
    assert not list(tmp_path.iterdir())


def test_retry_delays_double_from_a_minute_up_to_an_hour():
    delays = [retry_delay(n) for n in range(1, 10)]
    assert delays[:4] == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == dt.timedelta(hours=1)
    assert retry_delay(500) == dt.timedelta(hours=1)


def test_smtp_delivers_invitations_and_reminders_with_their_content(session, smtp_server):
    theirs = PersonFactory(first_name="Grace", account__name="Fabrikam")
    ours = PersonFactory(first_name="Alan", account=theirs.account)
    queue_invitation(session, theirs)
    queue_invitation(session, ours, kind="reminder", side=Side.INTERNAL)

    report = deliver(session, smtp(smtp_server), utcnow())

    assert report.sent == 2
    by_address = {e.rcpt_tos[0]: e for e in smtp_server.handler.envelopes}
    assert set(by_address) == {theirs.email, ours.email}
    assert by_address[theirs.email].mail_from == "relhealth@relhealth.test"
    invitation, reminder = (
        message_from_bytes(by_address[p.email].content, policy=default) for p in (theirs, ours)
    )
    assert invitation["Subject"] == "How is Our company doing for you?"
    assert reminder["Subject"] == "Reminder: how do you think Fabrikam sees us?"
    assert invitation["List-Unsubscribe"].strip() == f"<{unsubscribe_link(theirs.id)}>"
    text, html = parts(invitation)
    assert "Hello Grace" in text
    assert "Hello Grace" in html
    assert "We would like to hear how the" in text
    text, html = parts(reminder)
    assert "A short reminder" in text
    assert "How do you think Fabrikam sees us?" in html
    assert unsubscribe_link(ours.id) in text


@pytest.mark.parametrize("connections", [1, 4])
def test_a_down_smtp_server_keeps_messages_queued_and_they_go_once_it_is_back(
    session, smtp_server, connections
):
    messages = queue(session, 3)
    smtp_server.stop()
    now = utcnow()

    report = deliver(session, smtp(smtp_server, connections), now)

    assert report.sent == 0
    assert report.unavailable
    assert "cannot reach the SMTP server" in report.unavailable
    first = messages[0]
    assert first.status == MessageStatus.QUEUED
    assert first.attempts == 1
    assert "cannot reach" in first.last_error
    assert first.next_attempt_at == now + dt.timedelta(minutes=1)
    # The run stopped at the first failure; the others wait, untouched and due, for the next.
    assert [m.attempts for m in messages[1:]] == [0, 0]
    assert [m.next_attempt_at for m in messages[1:]] == [now, now]

    # Still down an hour later, and many attempts on: nothing is ever given up for that.
    report = deliver(session, smtp(smtp_server), now + dt.timedelta(hours=1), max_attempts=1)
    assert report.unavailable
    assert all(m.status == MessageStatus.QUEUED for m in messages)

    smtp_server.start()
    report = deliver(session, smtp(smtp_server, connections), now + dt.timedelta(hours=3))
    assert report.sent == 3
    assert all(m.status == MessageStatus.SENT for m in messages)
    assert deliver(session, smtp(smtp_server), now + dt.timedelta(days=1)).attempted == 0
    received = [e.rcpt_tos[0] for e in smtp_server.handler.envelopes]
    assert sorted(received) == sorted(m.to_address for m in messages)


def test_several_connections_share_a_batch_and_each_message_goes_once(session, smtp_server):
    messages = queue(session, 20)
    smtp_server.handler.refuse[messages[7].to_address] = "550 No such user"

    report = deliver(session, smtp(smtp_server, connections=4), utcnow())

    assert (report.sent, report.failed) == (19, 1)
    assert messages[7].status == MessageStatus.FAILED
    assert all(m.status == MessageStatus.SENT for i, m in enumerate(messages) if i != 7)
    received = sorted(e.rcpt_tos[0] for e in smtp_server.handler.envelopes)
    assert received == sorted(m.to_address for i, m in enumerate(messages) if i != 7)
    assert len(set(smtp_server.handler.peers)) > 1


def test_a_recipient_refused_for_now_is_retried_then_failed_after_max_attempts(
    session, smtp_server
):
    (message,) = queue(session)
    smtp_server.handler.refuse[message.to_address] = "450 Mailbox busy, try later"
    now = utcnow()
    for attempt in range(1, 4):
        report = deliver(session, smtp(smtp_server), now, max_attempts=3)
        assert report.attempted == 1
        assert message.attempts == attempt
        assert "450 Mailbox busy" in message.last_error
        now = message.next_attempt_at
    assert message.status == MessageStatus.FAILED
    assert "after 3 attempts" in message.last_error
    assert deliver(session, smtp(smtp_server), now + dt.timedelta(days=1)).attempted == 0
    assert smtp_server.handler.envelopes == []


def test_a_recipient_refused_for_good_fails_at_once_and_the_batch_goes_on(session, smtp_server):
    refused, accepted = queue(session, 2)
    smtp_server.handler.refuse[refused.to_address] = "550 No such user"

    report = deliver(session, smtp(smtp_server), utcnow())

    assert (report.sent, report.failed) == (1, 1)
    assert refused.status == MessageStatus.FAILED
    assert refused.last_error.startswith("550 No such user")
    assert accepted.status == MessageStatus.SENT
    assert [e.rcpt_tos for e in smtp_server.handler.envelopes] == [[accepted.to_address]]


def test_a_connection_the_server_dropped_is_replaced(session, smtp_server):
    first, second = (build_email(m, FROM) for m in queue(session, 2))
    with smtp(smtp_server) as transport:
        transport.send(first, "relhealth@relhealth.test", ["a@customer.test"], "1")
        smtp_server.stop()  # closes the open connection too
        smtp_server.start()
        transport.send(second, "relhealth@relhealth.test", ["b@customer.test"], "2")
    assert [e.rcpt_tos for e in smtp_server.handler.envelopes] == [
        ["a@customer.test"],
        ["b@customer.test"],
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.test", SMTPSettings("mail.test", 25)),
        (
            "smtp://user%40corp:p%2Fss@mail.test:587?starttls=true",
            SMTPSettings("mail.test", 587, starttls=True, username="user@corp", password="p/ss"),
        ),
        ("smtps://mail.test", SMTPSettings("mail.test", 465, implicit_tls=True)),
    ],
)
def test_smtp_urls_are_read(url, expected):
    assert SMTPSettings.from_url(url) == expected


@pytest.mark.parametrize(
    "url", ["http://mail.test", "smtp://", "smtps://mail.test?starttls=true", "smtp://m?tls=1"]
)
def test_bad_smtp_urls_are_refused_with_the_setting_named(url):
    with pytest.raises(ValueError, match="RELHEALTH_SMTP_URL"):
        SMTPSettings.from_url(url)


class _CrashOnSecond:
    """Sends the first message, then dies as a killed worker would."""

    def __init__(self, folder):
        self.folder = OutboxFolder(folder)
        self.sent = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def send(self, email, sender, recipients, name):
        if self.sent:
            raise KeyboardInterrupt
        self.folder.send(email, sender, recipients, name)
        self.sent += 1


def test_a_crash_mid_batch_keeps_what_was_sent_and_leaves_the_rest_queued(session, tmp_path):
    first, second = queue(session, 2)
    with pytest.raises(KeyboardInterrupt):
        deliver(session, _CrashOnSecond(tmp_path), utcnow())
    assert first.status == MessageStatus.SENT
    assert (second.status, second.attempts) == (MessageStatus.QUEUED, 0)
    report = deliver(session, OutboxFolder(tmp_path), utcnow())
    assert report.sent == 1
    assert len(list(tmp_path.glob("*.eml"))) == 2


def test_a_sender_that_dies_holding_a_batch_only_delays_it(session, tmp_path):
    messages = queue(session, 2)
    now = utcnow()
    delivery._claim(session, now, batch=10, lock_rows=False)  # ... and then the sender died
    session.commit()
    assert deliver(session, OutboxFolder(tmp_path), now).attempted == 0
    just_before = now + CLAIM_LEASE - dt.timedelta(seconds=1)
    assert deliver(session, OutboxFolder(tmp_path), just_before).attempted == 0
    assert deliver(session, OutboxFolder(tmp_path), now + CLAIM_LEASE).sent == 2
    assert all(m.attempts == 1 for m in messages)


def test_a_sender_past_half_its_lease_hands_the_rest_back(session, tmp_path, monkeypatch):
    monkeypatch.setattr(delivery, "CLAIM_LEASE", dt.timedelta(0))
    messages = queue(session, 2)
    now = utcnow()
    assert deliver(session, OutboxFolder(tmp_path), now).attempted == 0
    assert all(m.next_attempt_at == now for m in messages)
    assert all(m.status == MessageStatus.QUEUED for m in messages)


def test_survey_mail_to_someone_who_unsubscribed_meanwhile_is_withdrawn(session, tmp_path):
    person = PersonFactory(email="ada@customer.test")
    survey = queue_invitation(session, person)
    (notice,) = queue(session, to="ADA@customer.test", headers={})  # not an unsubscribable one
    person.opted_out = True

    report = deliver(session, OutboxFolder(tmp_path), utcnow())

    assert (report.sent, report.unsubscribed) == (1, 1)
    assert str(report) == "Sent 1, to retry 0, failed 0, withdrawn 1 (unsubscribed)"
    assert survey.status == MessageStatus.FAILED
    assert survey.last_error == "not sent: the recipient unsubscribed"
    assert notice.status == MessageStatus.SENT


def test_bodies_stay_readable_and_7bit_safe_for_any_server(session):
    plain, accented = queue(session, 2)
    accented.body_text = "Zoë says hi\n"
    accented.subject = "Héllo"
    ascii_email, accented_email = (build_email(m, FROM) for m in (plain, accented))
    assert parsed(ascii_email).get_body(("plain",))["Content-Transfer-Encoding"] == "7bit"
    assert b"Hello Ada,\r\nplease answer." in ascii_email.data
    assert accented_email.data.isascii()
    reparsed = parsed(accented_email)
    assert reparsed.get_body(("plain",))["Content-Transfer-Encoding"] == "quoted-printable"
    assert reparsed.get_body(("plain",)).get_content().strip() == "Zoë says hi"
    assert reparsed["Subject"] == "Héllo"


@pytest.mark.parametrize(
    ("every", "wait", "committed"),
    [
        (2, 60.0, [2, 2, 1]),  # every second message, and the rest at the end
        (50, 0.0, [1, 1, 1, 1, 1]),  # every time the wait is over
    ],
)
def test_outcomes_are_committed_a_few_at_a_time(
    session, tmp_path, monkeypatch, every, wait, committed
):
    monkeypatch.setattr(delivery, "RECORD_EVERY", every)
    monkeypatch.setattr(delivery, "RECORD_WAIT", wait)
    messages = queue(session, 5)
    sizes = []
    commit = delivery._Outcomes.commit

    def counting_commit(self, safely=False):
        if self.pending:
            sizes.append(len(self.pending))
        commit(self, safely)

    monkeypatch.setattr(delivery._Outcomes, "commit", counting_commit)

    report = deliver(session, OutboxFolder(tmp_path), utcnow())

    assert sizes == committed  # a crash re-sends at most what is not yet committed
    assert report.sent == 5
    assert all(m.status == MessageStatus.SENT for m in messages)


class _CrashingLanes:
    """Three lanes into one folder; sending the message named ``crash_on`` kills the run,
    whichever lane it lands on (threads take messages in no fixed order)."""

    def __init__(self, folder, crash_on: str):
        self.folder, self.crash_on = OutboxFolder(folder), crash_on

    def lanes(self):
        return [self, *(_CrashingLanes(self.folder.folder, self.crash_on) for _ in range(2))]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def send(self, email, sender, recipients, name):
        if name == self.crash_on:
            raise KeyboardInterrupt
        self.folder.send(email, sender, recipients, name)


def test_a_crash_with_messages_in_flight_on_several_connections_keeps_what_was_sent(
    session, tmp_path
):
    messages = queue(session, 12)
    crashing = messages[6]

    with pytest.raises(KeyboardInterrupt):
        deliver(session, _CrashingLanes(tmp_path, str(crashing.id)), utcnow())

    written = {int(path.name.split("-")[0]) for path in tmp_path.glob("*.eml")}
    sent = {m.id for m in messages if m.status == MessageStatus.SENT}
    assert sent == written  # every message that went is recorded, and only those
    assert crashing.id not in sent
    assert all(m.attempts == 0 for m in messages if m.id not in sent)
    assert deliver(session, OutboxFolder(tmp_path), utcnow()).sent == 12 - len(sent)
