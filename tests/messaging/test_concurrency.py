"""Senders running at once share the outbox: every message goes out exactly once.

Runs on the suite's backend, in a database of its own: the senders need real commits, seen
across connections. On PostgreSQL they claim rows with FOR UPDATE SKIP LOCKED; on SQLite they
take turns at the single write lock.
"""

import threading
from collections import Counter

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.orm import Session, sessionmaker

from relhealth.config import sqlalchemy_url
from relhealth.extensions import db
from relhealth.messaging.delivery import deliver_due
from relhealth.messaging.models import MessageStatus, OutboxMessage
from relhealth.messaging.service import queue_message
from relhealth.messaging.transports import SMTPSettings, SMTPTransport
from tests.conftest import make_app
from tests.databases import throwaway_database

SENDERS = 4
MESSAGES = 300


@pytest.fixture
def outbox_engine(tmp_path):
    """An engine on a fresh, migrated database holding MESSAGES queued messages."""
    with throwaway_database(tmp_path) as url:
        app = make_app(url)
        with app.app_context():
            upgrade()
            db.engine.dispose()
        engine = sa.create_engine(sqlalchemy_url(url, tmp_path), pool_size=SENDERS + 1)
        with Session(engine) as session:
            for n in range(MESSAGES):
                queue_message(
                    session,
                    dedupe_key=f"invitation:{n}",
                    kind="invitation",
                    to=f"person{n}@customer.test",
                    subject="How is Our company doing for you?",
                    text="Hello",
                    headers={"List-Unsubscribe": f"<http://rh.test/unsubscribe/{n}>"},
                )
            session.commit()
        try:
            yield engine
        finally:
            engine.dispose()


def test_senders_running_at_once_deliver_each_message_exactly_once(outbox_engine, smtp_server):
    start = threading.Barrier(SENDERS)
    reports, errors = [], []

    def sender() -> None:
        sessions = sessionmaker(bind=outbox_engine)
        settings = SMTPSettings.from_url(smtp_server.url, timeout=10)
        transport = SMTPTransport(settings, connections=3)
        try:
            start.wait()
            while True:
                report = deliver_due(
                    sessions, batch=7, transport=transport, max_attempts=8, mail_from="rh@rh.test"
                )
                reports.append(report)
                if report.attempted == 0:
                    return
        except Exception as error:  # reported below: a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(r.sent for r in reports) == MESSAGES
    assert not any(r.retrying or r.failed for r in reports)
    received = Counter(m["Message-ID"] for m in smtp_server.handler.messages)
    assert len(received) == MESSAGES
    assert set(received.values()) == {1}
    with Session(outbox_engine) as session:
        rows = session.execute(sa.select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert Counter(rows) == {(MessageStatus.SENT, 1): MESSAGES}
