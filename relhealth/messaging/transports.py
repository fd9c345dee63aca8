"""Ways an e-mail leaves: an SMTP server, or ``.eml`` files in the instance's outbox folder.

A transport sends one built message at a time and says how a failure should be treated by
raising one of the errors below; ``relhealth.messaging.delivery`` decides what to record.
"""

import os
import re
import smtplib
import ssl
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import parse_qs, unquote, urlsplit

from relhealth.config import ConfigError, parse_bool
from relhealth.messaging.mime import OutgoingEmail


class DeliveryError(Exception):
    """This message did not go; try it again later."""


class MessageRejected(DeliveryError):
    """The server refused this message for good (a 5xx reply): retrying cannot help."""


class TransportUnavailable(DeliveryError):
    """Nothing can be sent now (server down, refused our login or sender): stop this run."""


class _ConnectionLost(TransportUnavailable):
    """The server closed or reset the connection; a reused one may just have gone stale."""


class Transport(Protocol):
    """Sends built messages; used as a context manager around one batch."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def send(self, email: OutgoingEmail, sender: str, recipients: list[str], name: str) -> None:
        """Send ``email`` from envelope ``sender`` to ``recipients``; ``name`` labels it."""


def _slug(text: str, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "message"


class OutboxFolder:
    """The embedded transport: each message becomes ``<folder>/<id>-<slug>.eml``.

    Files are complete RFC 5322 messages (any mail client opens them), written to a temporary
    file and renamed into place, so a reader never sees half a message. Sending the same
    message again overwrites the same file: the folder never holds a message twice.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def __str__(self) -> str:
        return f"into {self.folder}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def path_for(self, name: str, subject: str) -> Path:
        return self.folder / f"{name}-{_slug(subject)}.eml"

    def send(self, email: OutgoingEmail, sender: str, recipients: list[str], name: str) -> None:
        target = self.path_for(name, email.subject)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(email.data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            # A full disk or a permission problem is not the message's fault: stop and retry.
            raise TransportUnavailable(f"cannot write {target}: {error}") from error


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    verify_tls: bool = True  # False only for a relay with a self-signed certificate

    @classmethod
    def from_url(cls, url: str, timeout: float = 30.0) -> "SMTPSettings":
        """Parse ``smtp://user:pass@host:port?starttls=true`` or ``smtps://user:pass@host``.

        ``?verify=false`` accepts any certificate (a relay with a self-signed one).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigError(f"RELHEALTH_SMTP_URL: expected smtp:// or smtps://, got {url!r}")
        if not parts.hostname:
            raise ConfigError("RELHEALTH_SMTP_URL: no host given")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls", "verify"}
        if unknown:
            raise ConfigError(f"RELHEALTH_SMTP_URL: unknown option {', '.join(sorted(unknown))}")
        try:
            starttls = parse_bool(query.get("starttls", "false"))
            verify_tls = parse_bool(query.get("verify", "true"))
        except ValueError as error:
            raise ConfigError(f"RELHEALTH_SMTP_URL: {error}") from None
        if starttls and parts.scheme == "smtps":
            raise ConfigError("RELHEALTH_SMTP_URL: smtps:// is TLS already; drop ?starttls")
        if not verify_tls and not (starttls or parts.scheme == "smtps"):
            raise ConfigError("RELHEALTH_SMTP_URL: ?verify=false needs TLS (smtps:// or ?starttls)")
        try:
            port = parts.port
        except ValueError as error:
            raise ConfigError(f"RELHEALTH_SMTP_URL: {error}") from error
        return cls(
            host=parts.hostname,
            port=port or (465 if parts.scheme == "smtps" else 25),
            implicit_tls=parts.scheme == "smtps",
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
            verify_tls=verify_tls,
        )


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def _refusal(code: int, text: bytes | str) -> DeliveryError:
    """Classify an SMTP reply about one message (RFC 5321: 4yz try again, 5yz never)."""
    if code == 421:  # the server is closing the connection: not about this message
        return TransportUnavailable(_reply(code, text))
    if code >= 500:
        return MessageRejected(_reply(code, text))
    return DeliveryError(_reply(code, text))


class SMTPTransport:
    """Delivers through one SMTP connection per batch, opened on first use; ``lanes()`` gives
    ``connections`` transports in all, for ``deliver_due`` to send on at once.

    A connection that fails while being reused (servers drop idle ones) is replaced once; a
    fresh connection that fails means the server is unreachable.
    """

    def __init__(self, settings: SMTPSettings, connections: int = 1):
        self.settings = settings
        self.connections = connections
        self._smtp: smtplib.SMTP | None = None
        self._tls_context: ssl.SSLContext | None = None

    def lanes(self) -> list["SMTPTransport"]:
        """This transport and ``connections - 1`` more to the same server, to send at once."""
        others = [SMTPTransport(self.settings) for _ in range(self.connections - 1)]
        if others and (self.settings.starttls or self.settings.implicit_tls):
            for other in others:
                other._tls_context = self._tls()  # one set of certificates loaded, not four
        return [self, *others]

    def __str__(self) -> str:
        return f"over SMTP at {self.settings.host}:{self.settings.port}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.implicit_tls:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=self._tls())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _tls(self) -> ssl.SSLContext:
        # Loading the system's certificates takes tens of milliseconds: once per transport.
        if self._tls_context is None:
            context = ssl.create_default_context()
            if not self.settings.verify_tls:
                # Still encrypted, but anyone between us and the relay could read the mail.
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls_context = context
        return self._tls_context

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def send(self, email: OutgoingEmail, sender: str, recipients: list[str], name: str) -> None:
        reused = self._smtp is not None
        try:
            self._send(email, sender, recipients)
        except _ConnectionLost:
            # Servers close idle connections; try once on a fresh one. A timeout is not
            # retried here: the server may have taken the message and be slow to say so.
            if not reused:
                raise
            self._send(email, sender, recipients)

    def _send(self, email: OutgoingEmail, sender: str, recipients: list[str]) -> None:
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except smtplib.SMTPResponseException as error:
                raise TransportUnavailable(_reply(error.smtp_code, error.smtp_error)) from error
            except (smtplib.SMTPException, OSError) as error:
                raise TransportUnavailable(f"cannot reach the SMTP server: {error}") from error
        try:
            # The bytes are ASCII with CRLF line ends already: sendmail sends them as they are.
            self._smtp.sendmail(sender, recipients, email.data)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise _refusal(code, text) from error
        except smtplib.SMTPSenderRefused as error:
            # Refusing our own sender address refuses every message: stop, do not burn them.
            self._discard()
            raise TransportUnavailable(
                f"sender refused: {_reply(error.smtp_code, error.smtp_error)}"
            ) from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code == 421:
                self._discard()
            raise _refusal(error.smtp_code, error.smtp_error) from error
        except smtplib.SMTPNotSupportedError as error:
            raise MessageRejected(str(error)) from error
        except (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError) as error:
            self._discard()
            raise _ConnectionLost(f"lost the SMTP server: {error}") from error
        except (smtplib.SMTPException, OSError) as error:  # timed out, unreachable
            self._discard()
            raise TransportUnavailable(f"lost the SMTP server: {error}") from error


def transport_from_config(config: Mapping, instance_path: str | Path) -> Transport:
    """The SMTP transport if ``SMTP_URL`` is set, else the instance's outbox folder."""
    url = config.get("SMTP_URL") or ""
    if not url:
        return OutboxFolder(Path(instance_path) / "outbox")
    settings = SMTPSettings.from_url(url, timeout=float(config.get("SMTP_TIMEOUT", 30)))
    return SMTPTransport(settings, connections=int(config.get("SMTP_CONNECTIONS", 1)))
