"""``relhealth send-mail``."""

import datetime as dt

from relhealth.db import utcnow
from relhealth.messaging.models import MessageStatus
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
