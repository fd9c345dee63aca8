"""A real SMTP server for messaging tests: aiosmtpd on loopback, stopped and started at will."""

import itertools
import socket
import threading
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from relhealth.messaging.models import OutboxMessage
from relhealth.messaging.service import queue_message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """An aiosmtpd handler keeping every message it accepts; it refuses whom it is told to."""

    def __init__(self):
        self.envelopes = []
        self.peers = []
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply, e.g. "450 mailbox busy"
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append(envelope)
            self.peers.append(session.peer)  # one per connection
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [message_from_bytes(e.content, policy=default) for e in self.envelopes]


class SMTPServer:
    """aiosmtpd on a fixed loopback port, so a test can take it down and bring it back."""

    def __init__(self, handler: Recorder):
        self.handler = handler
        self.port = free_port()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server():
    server = SMTPServer(Recorder())
    server.start()
    yield server
    server.stop()


_causes = itertools.count(1)


def queue(session, n: int = 1, **overrides) -> list[OutboxMessage]:
    """Queue ``n`` messages for distinct causes; ``overrides`` replace queue_message's fields."""
    messages = []
    for _ in range(n):
        key = f"test:{next(_causes)}"
        fields = {
            "dedupe_key": key,
            "kind": "invitation",
            "to": f"{key.replace(':', '')}@customer.test",
            "subject": "How is Our company doing for you?",
            "text": "Hello Ada,\nplease answer.\n",
            "html": "<p>Hello Ada, please answer.</p>",
            "headers": {"List-Unsubscribe": "<http://127.0.0.1:5000/unsubscribe/x>"},
            **overrides,
        }
        messages.append(queue_message(session, **fields))
    return messages
