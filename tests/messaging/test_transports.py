"""SMTP over TLS: certificates are verified unless the URL says ``?verify=false``.

The servers are real aiosmtpd ones on loopback, with a self-signed certificate made for the
test by the ``openssl`` command.
"""

import shutil
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller

from relhealth.config import ConfigError
from relhealth.db import utcnow
from relhealth.messaging.delivery import deliver_due
from relhealth.messaging.models import MessageStatus
from relhealth.messaging.transports import SMTPSettings, SMTPTransport
from tests.messaging.conftest import Recorder, free_port, queue

FROM = "relhealth <relhealth@relhealth.test>"


class TLSRecorder(Recorder):
    """Also notes whether each message came over an encrypted connection."""

    def __init__(self):
        super().__init__()
        self.encrypted: list[bool] = []

    async def handle_DATA(self, server, session, envelope):
        self.encrypted.append(server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory) -> ssl.SSLContext:
    """A server TLS context with a certificate for 127.0.0.1 signed by nobody we trust."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture(params=["starttls", "smtps"])
def tls_server(request, self_signed):
    """A STARTTLS server that refuses mail in the clear, or one speaking TLS from the start."""
    handler, port = TLSRecorder(), free_port()
    if request.param == "starttls":
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            tls_context=self_signed,
            require_starttls=True,
        )
        url = f"smtp://127.0.0.1:{port}?starttls=true"
    else:
        controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=self_signed)
        url = f"smtps://127.0.0.1:{port}"
    controller.start()
    yield url, handler
    controller.stop()


def _deliver(session, url: str):
    transport = SMTPTransport(SMTPSettings.from_url(url, timeout=5))
    return deliver_due(session, now=utcnow(), transport=transport, mail_from=FROM)


def test_a_self_signed_certificate_is_refused_by_default_and_the_mail_waits(session, tls_server):
    url, handler = tls_server
    (message,) = queue(session)

    report = _deliver(session, url)

    assert report.sent == 0
    assert "certificate verify failed" in report.unavailable
    assert message.status == MessageStatus.QUEUED
    assert handler.envelopes == []


def test_verify_false_sends_over_tls_to_a_self_signed_relay(session, tls_server):
    url, handler = tls_server
    separator = "&" if "?" in url else "?"
    (message,) = queue(session)

    report = _deliver(session, f"{url}{separator}verify=false")

    assert report.sent == 1
    assert message.status == MessageStatus.SENT
    assert handler.encrypted == [True]
    assert [e.rcpt_tos for e in handler.envelopes] == [[message.to_address]]


@pytest.mark.parametrize(
    ("url", "verify"),
    [
        ("smtp://mail.test:587?starttls=true", True),
        ("smtp://mail.test:587?starttls=true&verify=false", False),
        ("smtps://mail.test?verify=no", False),
        ("smtps://mail.test?verify=true", True),
    ],
)
def test_certificates_are_verified_unless_the_url_says_otherwise(url, verify):
    assert SMTPSettings.from_url(url).verify_tls is verify


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("smtp://mail.test?verify=false", "needs TLS"),
        ("smtps://mail.test?verify=perhaps", "expected a boolean"),
        ("smtp://mail.test?starttls=sometimes", "expected a boolean"),
    ],
)
def test_verify_needs_tls_and_a_yes_or_no(url, error):
    with pytest.raises(ConfigError, match=error):
        SMTPSettings.from_url(url)
