"""Writing an e-mail's bytes directly: headers, a text part and an HTML alternative.

Python's ``email`` package parses every header it is given into a tree and folds it back,
which cost the sender more than everything else per message together (``bench/RESULTS.md``).
Outbox messages only ever need one shape (a text body, maybe its HTML alternative, maybe files
attached in a multipart/mixed around them), so it is written here, following RFC 5322,
2045-2047, 2183 and 2369: header lines folded at spaces within 78 characters; non-ASCII text in
headers as RFC 2047 encoded words (display names too, never the address itself); bodies in
UTF-8, 7bit when they are plain ASCII, else quoted-printable or base64, whichever is shorter, so
the whole message is ASCII and any server takes it; CRLF line ends throughout, as SMTP sends
them.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.quoprimime import header_encode
from email.utils import formataddr, getaddresses
from functools import lru_cache

CRLF = b"\r\n"
FOLD_AT = 78  # RFC 5322: lines SHOULD stay within 78 characters ...
LINE_LIMIT = 998  # ... and MUST stay within 998
# RFC 2047: an encoded word is at most 75 characters, 12 of them the =?utf-8?q? ?= frame.
_FRAME = len("=?utf-8?q??=")
_ENCODED_WORD_PAYLOAD = 75 - _FRAME
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII but the colon
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab may stay, a line break may not
_BARE_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})
# Characters a Q-encoded word carries as they are; each other byte takes three (=XX).
_Q_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/ ")


# Attachment file names are written as they are, quoted: a safe subset keeps them so.
_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,150}")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message: its name as the reader sees it, its type and bytes."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A message ready to go: its bytes as SMTP sends them and the headers that name it."""

    subject: str
    message_id: str
    data: bytes


def compose(
    headers: dict[str, str],
    text: str,
    html: str | None = None,
    message_id: str = "",
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The message's bytes: ``headers`` in order, then the text body and its HTML alternative,
    and the ``attachments`` after them (multipart/mixed, each part base64).

    The MIME headers are written here, from the bodies. Raises ValueError for what cannot be
    sent: a line break or a control character in a header, a non-ASCII address, an attachment
    name outside letters, digits, dots, dashes, underscores and spaces.
    """
    head = [_header(name, value) for name, value in headers.items()]
    head.append(b"MIME-Version: 1.0")
    body = _body(text, html, message_id)
    if not attachments:
        return CRLF.join(head) + CRLF + body
    files = [_attachment(attachment) for attachment in attachments]
    # Base64 never holds "-" or "_": only the text parts can clash with a boundary.
    boundary = _boundary(body, b"", message_id + ":mixed")
    return CRLF.join(head) + CRLF + _multipart("mixed", boundary, [body, *files])


def _body(text: str, html: str | None, message_id: str) -> bytes:
    """The text part, or multipart/alternative of text and HTML: headers, blank line, body."""
    text_part = _part("plain", text)
    if html is None:
        return text_part
    html_part = _part("html", html)
    return _multipart(
        "alternative", _boundary(text_part, html_part, message_id), [text_part, html_part]
    )


def _multipart(subtype: str, boundary: bytes, parts: list[bytes]) -> bytes:
    """A multipart entity: its Content-Type header, a blank line, the delimited parts."""
    delimiter = b"--" + boundary
    # Each part ends in CRLF; the CRLF before a delimiter belongs to the delimiter (RFC 2046).
    return b"".join(
        [
            b"Content-Type: multipart/" + subtype.encode() + b'; boundary="' + boundary + b'"',
            CRLF + CRLF,
            *(delimiter + CRLF + part + CRLF for part in parts),
            delimiter + b"--" + CRLF,
        ]
    )


def _attachment(attachment: Attachment) -> bytes:
    """An attached file's part: base64 in lines of 76, named in both headers that may name it."""
    name = attachment.filename
    if not _FILENAME.fullmatch(name):
        raise ValueError(f"attachment name {name!r} is not one we write as it is")
    if not _FIELD_NAME.fullmatch(attachment.content_type) or "/" not in attachment.content_type:
        raise ValueError(f"{attachment.content_type!r} is not a content type")
    encoded = base64.encodebytes(attachment.data).replace(b"\n", CRLF)
    return (
        f'Content-Type: {attachment.content_type}; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + encoded


def _part(subtype: str, body: str) -> bytes:
    """A text part: its headers, an empty line and its encoded body, ending in CRLF."""
    encoding, data = encode_body(body)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode() + data


def encode_body(body: str) -> tuple[str, bytes]:
    """``(Content-Transfer-Encoding, bytes)`` of a UTF-8 body with CRLF line ends.

    ASCII with no line over 998 octets goes as it is (readable in any .eml); anything else is
    quoted-printable or base64, whichever is shorter: a few accents read well in the first, a
    text in another script is a third smaller in the second.
    """
    data = body.encode("utf-8")
    lines = data.splitlines()
    if data.isascii() and max(map(len, lines), default=0) <= LINE_LIMIT:
        return "7bit", CRLF.join(lines) + CRLF
    normal = b"\n".join(lines) + b"\n"
    quoted = binascii.b2a_qp(normal, istext=True).replace(b"\n", CRLF)
    encoded = base64.encodebytes(CRLF.join(lines) + CRLF).replace(b"\n", CRLF)
    if len(quoted) <= len(encoded):
        return "quoted-printable", quoted
    return "base64", encoded


def _boundary(text: bytes, html: bytes, message_id: str) -> bytes:
    """A boundary found in neither part; the same for the same message, so files compare."""
    seed = hashlib.blake2b(message_id.encode() + text[-64:] + html[-64:], digest_size=12)
    for attempt in range(100):
        boundary = f"=_{seed.hexdigest()}_{attempt}".encode()
        if b"--" + boundary not in text and b"--" + boundary not in html:
            return boundary
    raise ValueError("no MIME boundary fits these bodies")  # pragma: no cover


def _header(name: str, value: str) -> bytes:
    """One header field, folded and encoded."""
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a header name")
    if _CONTROL.search(value):
        raise ValueError(f"header {name} holds a line break or a control character")
    # The first encoded word shares its line with the name: it is made short enough to fit.
    room = FOLD_AT - len(name) - 2
    if name.lower() in _ADDRESS_HEADERS:
        value = _addresses(name, value, room)
    elif not value.isascii():
        value = " ".join(encoded_words(value, room))
    return _fold(f"{name}: {value}", name).encode("ascii")


@lru_cache(maxsize=256)  # the From is the same on every message
def _addresses(name: str, value: str, room: int) -> str:
    """An address list with display names quoted or encoded; the addresses stay as they are."""
    if _BARE_ADDRESS.fullmatch(value):  # the usual To: nothing to parse or quote
        return value
    written = []
    for display_name, address in getaddresses([value]):
        if "@" not in address or not address.isascii():
            # A non-ASCII address needs SMTPUTF8, which relhealth does not speak.
            raise ValueError(f"header {name}: {address or value!r} is not an address we can use")
        if display_name and not display_name.isascii():
            words = encoded_words(display_name, room if not written else FOLD_AT)
            written.append(f"{' '.join(words)} <{address}>")
        else:
            written.append(formataddr((display_name, address)))
    return ", ".join(written)


def encoded_words(text: str, first_room: int = 75) -> list[str]:
    """RFC 2047 Q-encoded words for ``text``, each within 75 characters, whole characters each.

    Readers join adjacent encoded words without the space between them, so the words may be
    folded onto separate lines freely. The first word fits in ``first_room`` characters
    (what is left of the header's first line) where it can.
    """
    words, chunk, size = [], [], 0
    limit = max(min(first_room, 75) - _FRAME, _FRAME)
    for char in text:
        width = 1 if char in _Q_SAFE else 3 * len(char.encode("utf-8"))
        if chunk and size + width > (limit if not words else _ENCODED_WORD_PAYLOAD):
            words.append(header_encode("".join(chunk).encode("utf-8"), "utf-8"))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    if chunk:
        words.append(header_encode("".join(chunk).encode("utf-8"), "utf-8"))
    return words


def _fold(line: str, name: str) -> str:
    """Fold a header line before spaces so each line stays within 78 characters if it can.

    Folding only inserts CRLF before an existing space, so unfolding gives back the value. The
    first word stays beside the name (a value starting on the next line would read as starting
    with a space), and a word longer than a line (a long link) stays whole, up to 998.
    """
    if len(line) <= FOLD_AT:
        return line
    head, _, rest = line.partition(": ")
    first, *words = rest.split(" ")
    lines, current = [], f"{head}: {first}"
    for word in words:
        if word and len(current) + 1 + len(word) > FOLD_AT and current.strip():
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    if any(len(folded) > LINE_LIMIT for folded in lines):
        raise ValueError(f"header {name} has a word longer than {LINE_LIMIT} characters")
    return "\r\n".join(lines)
