"""``relhealth send-mail``."""

import datetime as dt

from relhealth.db import utcnow
from relhealth.messaging.models import MessageStatus
from relhealth.messaging.service import WITHDRAWN
from tests.messaging.conftest import queue


def _later() -> str:
    return (utcnow() + dt.timedelta(minutes=1)).isoformat()


def test_send_mail_once_delivers_what_is_due_and_prints_counts(
    app, session, smtp_server, monkeypatch
):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    messages = queue(session, 2)
    result = app.test_cli_runner().invoke(args=["send-mail", "--once", "--now", _later()])
    assert result.exit_code == 0, result.output
    assert f"Sent 2, to retry 0, failed 0 (over SMTP at 127.0.0.1:{smtp_server.port})." in (
        result.output
    )
    assert all(m.status == MessageStatus.SENT for m in messages)
    assert len(smtp_server.handler.envelopes) == 2


def test_send_mail_once_drains_every_batch(app, session, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    queue(session, 5)
    result = app.test_cli_runner().invoke(args=["send-mail", "--once", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "Sent 5," in result.output


def test_send_mail_once_fails_when_the_server_is_down_and_keeps_the_mail(
    app, session, smtp_server, monkeypatch
):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    smtp_server.stop()
    messages = queue(session, 2)
    result = app.test_cli_runner().invoke(args=["send-mail", "--once", "--now", _later()])
    assert result.exit_code == 1
    assert "Stopped early, the rest stay queued" in result.output
    assert all(m.status == MessageStatus.QUEUED for m in messages)


def test_send_mail_refuses_bad_settings_and_options(app, monkeypatch):
    runner = app.test_cli_runner()
    assert "--now needs --once" in runner.invoke(args=["send-mail", "--now", _later()]).output
    assert "not an ISO date" in runner.invoke(args=["send-mail", "--once", "--now", "soon"]).output
    monkeypatch.setitem(app.config, "SMTP_URL", "http://mail.test")
    result = runner.invoke(args=["send-mail", "--once"])
    assert result.exit_code == 1
    assert "RELHEALTH_SMTP_URL: expected smtp://" in result.output


def _failed(session, n: int = 1, error: str = "550 No such user", **overrides):
    messages = queue(session, n, **overrides)
    for message in messages:
        message.status, message.attempts, message.last_error = MessageStatus.FAILED, 3, error
    session.commit()
    return messages


def test_requeue_failed_puts_failed_messages_back_and_keeps_their_error(app, session):
    failed = _failed(session, 2)
    (withdrawn,) = _failed(session, error=WITHDRAWN)
    (sent,) = queue(session)
    sent.status = MessageStatus.SENT
    session.commit()

    result = app.test_cli_runner().invoke(args=["send-mail", "--requeue-failed"])

    assert result.exit_code == 0, result.output
    assert result.output == "Requeued 2 failed messages.\n"
    session.expire_all()
    assert [(m.status, m.attempts) for m in failed] == [(MessageStatus.QUEUED, 0)] * 2
    assert all(m.last_error == "550 No such user" for m in failed)
    assert withdrawn.status == MessageStatus.FAILED  # they unsubscribed: it stays withdrawn
    assert sent.status == MessageStatus.SENT


def test_requeue_failed_with_ids_touches_only_those_and_names_the_rest(app, session):
    first, second = _failed(session, 2)
    (queued,) = queue(session)
    session.commit()

    result = app.test_cli_runner().invoke(
        args=["send-mail", "--requeue-failed", "--id", str(first.id), "--id", str(queued.id)]
    )

    assert result.exit_code == 0, result.output
    assert "Requeued 1 failed message.\n" in result.output
    assert f"Not requeued (no such message, not failed, or withdrawn): {queued.id}." in (
        result.output
    )
    session.expire_all()
    assert (first.status, second.status) == (MessageStatus.QUEUED, MessageStatus.FAILED)


def test_requeue_failed_with_once_delivers_them_again(app, session, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    (message,) = _failed(session)

    result = app.test_cli_runner().invoke(args=["send-mail", "--requeue-failed", "--once"])

    assert result.exit_code == 0, result.output
    assert "Requeued 1 failed message.\nSent 1, to retry 0, failed 0" in result.output
    session.expire_all()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert [e.rcpt_tos for e in smtp_server.handler.envelopes] == [[message.to_address]]


def test_message_ids_need_requeue_failed(app):
    result = app.test_cli_runner().invoke(args=["send-mail", "--once", "--id", "3"])
    assert result.exit_code == 2
    assert "--id needs --requeue-failed" in result.output
