"""The e-mail bytes relhealth writes itself: what any mail reader must get back from them."""

from email import message_from_bytes
from email.policy import default

import pytest

from relhealth.messaging.mime import Attachment, compose, encode_body, encoded_words

HEADERS = {
    "From": "relhealth <relhealth@relhealth.test>",
    "To": "ada@customer.test",
    "Subject": "How is Our company doing for you?",
}


def read(data: bytes):
    return message_from_bytes(data, policy=default)


def lines(data: bytes) -> list[bytes]:
    assert b"\n" not in data.replace(b"\r\n", b""), "every line ends in CRLF"
    return data.split(b"\r\n")


def test_text_and_html_become_a_multipart_alternative_that_reads_back():
    data = compose(HEADERS, "Hello Ada,\nplease answer.\n", "<p>Hello Ada</p>\n", "<id@x>")

    email = read(data)

    assert email.get_content_type() == "multipart/alternative"
    assert email["MIME-Version"] == "1.0"
    assert email["Subject"] == HEADERS["Subject"]
    assert email.get_body(("plain",)).get_content() == "Hello Ada,\r\nplease answer.\r\n"
    assert email.get_body(("html",)).get_content() == "<p>Hello Ada</p>\r\n"
    assert not email.defects
    assert all(not part.defects for part in email.walk())
    lines(data)


def test_a_message_without_html_is_a_single_text_part():
    email = read(compose(HEADERS, "Hello\n"))
    assert email.get_content_type() == "text/plain"
    assert email.get_content_charset() == "utf-8"
    assert email.get_content() == "Hello\r\n"


def test_non_ascii_names_and_subjects_are_encoded_and_folded_and_read_back_whole():
    subject = "Rappel : comment Zoë Ärger-Müller voit-elle notre société ? " * 3
    headers = {
        "From": "Société Générale d'Études <relhealth@relhealth.test>",
        "To": "Zoë <zoe@customer.test>",
        "Subject": subject,
    }

    data = compose(headers, "Bonjour Zoë\n", "<p>Bonjour Zoë</p>")

    assert data.isascii()
    assert all(len(line) <= 78 for line in lines(data))
    email = read(data)
    assert email["Subject"] == subject
    assert email["From"].addresses[0].display_name == "Société Générale d'Études"
    assert email["From"].addresses[0].addr_spec == "relhealth@relhealth.test"
    assert email["To"].addresses[0].display_name == "Zoë"
    assert email.get_body(("plain",)).get_content().strip() == "Bonjour Zoë"


def test_encoded_words_stay_within_75_characters_and_keep_characters_whole():
    words = encoded_words("é" * 100 + "漢字" * 20)
    assert all(len(word) <= 75 for word in words)
    assert read(compose({"Subject": " ".join(words)}, "x"))["Subject"] == "é" * 100 + "漢字" * 20


def test_a_long_unsubscribe_link_stays_whole_and_unencoded():
    link = "<https://relhealth.example.com/unsubscribe/" + "MQ.a1b2c3" * 12 + ">"
    headers = {**HEADERS, "List-Unsubscribe": link, "List-Unsubscribe-Post": "x=One-Click"}

    data = compose(headers, "Hello\n")

    assert f"List-Unsubscribe: {link}".encode() in data  # one line, as RFC 2369 readers expect
    assert read(data)["List-Unsubscribe"] == link


def test_long_ascii_headers_fold_at_spaces_and_unfold_to_the_same_text():
    subject = "How do you think the account team at Contoso sees us, and what should change?  x"
    data = compose({**HEADERS, "Subject": subject}, "Hello\n")
    assert b"\r\n " in data.split(b"\r\n\r\n")[0]
    assert read(data)["Subject"] == subject


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ("Plain ASCII\n", "7bit"),
        ("Zoë says hi\n", "quoted-printable"),
        ("x" * 1200 + "\n", "quoted-printable"),  # over SMTP's 998-octet line limit
        ("Πώς τα πάμε μαζί σας; " * 8 + "\n", "base64"),  # another script: base64 is shorter
    ],
)
def test_bodies_are_7bit_when_they_can_be_else_the_shorter_encoding(body, encoding):
    assert encode_body(body)[0] == encoding
    data = compose(HEADERS, body)
    assert data.isascii()
    assert all(len(line) <= 998 for line in lines(data))
    assert read(data).get_content().replace("\r\n", "\n") == body


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"X-Note": "line\r\nBcc: someone@else.test"}, "line break"),
        ({"X-Note": "bell\x07"}, "control character"),
        ({"Bad Name": "x"}, "not a header name"),
        ({"To": "zoë@customer.test"}, "not an address"),
        ({"To": "Ada"}, "not an address"),
    ],
)
def test_headers_that_cannot_be_sent_are_refused(headers, error):
    with pytest.raises(ValueError, match=error):
        compose(headers, "Hello\n")


def test_the_boundary_never_occurs_in_a_part():
    data = compose(HEADERS, "Hello\n", "<p>Hello</p>", "<id@x>")
    boundary = read(data).get_boundary()
    # A text quoting the boundary it would get moves the message to another one.
    tricky = compose(HEADERS, "Hello\n", f"<p>Hello</p>\n--{boundary}", "<id@x>")
    assert f"--{boundary}".encode() not in tricky.split(b"\r\n\r\n", 1)[0]
    assert read(tricky).get_body(("html",)).get_content().endswith(f"--{boundary}\r\n")


PDF_BYTES = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def test_attachments_wrap_the_bodies_in_a_multipart_mixed_that_reads_back():
    report = Attachment("account-report-acme-2026-11-27.pdf", "application/pdf", PDF_BYTES)
    data = compose(HEADERS, "Hello Ada,\n", "<p>Hello Ada</p>\n", "<id@x>", [report])

    email = read(data)

    assert email.get_content_type() == "multipart/mixed"
    assert email.get_body(("plain",)).get_content() == "Hello Ada,\r\n"
    assert email.get_body(("html",)).get_content() == "<p>Hello Ada</p>\r\n"
    [attached] = list(email.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == "account-report-acme-2026-11-27.pdf"
    assert attached["Content-Transfer-Encoding"] == "base64"
    assert attached.get_content() == PDF_BYTES
    assert not email.defects
    assert all(not part.defects for part in email.walk())
    assert max(map(len, lines(data))) <= 78
    assert data.isascii()


def test_an_attachment_beside_a_text_only_body_and_several_attachments_keep_their_order():
    files = [
        Attachment("one.pdf", "application/pdf", PDF_BYTES),
        Attachment("two.pdf", "application/pdf", b"%PDF-1.4 small"),
    ]
    email = read(compose(HEADERS, "Hello\n", None, "<id@x>", files))

    assert email.get_content_type() == "multipart/mixed"
    assert email.get_body(("plain",)).get_content() == "Hello\r\n"
    attached = list(email.iter_attachments())
    assert [a.get_filename() for a in attached] == ["one.pdf", "two.pdf"]
    assert [a.get_content() for a in attached] == [PDF_BYTES, b"%PDF-1.4 small"]


@pytest.mark.parametrize(
    "attachment",
    [
        Attachment('report"; x=".pdf', "application/pdf", b""),
        Attachment("../../etc/passwd", "application/pdf", b""),
        Attachment("rapport-\u00e9t\u00e9.pdf", "application/pdf", b""),
        Attachment("report.pdf", "application/pdf\r\nBcc: x@y", b""),
    ],
)
def test_attachment_names_and_types_that_would_need_quoting_are_refused(attachment):
    with pytest.raises(ValueError, match=r"attachment name|content type"):
        compose(HEADERS, "Hello\n", None, "<id@x>", [attachment])
