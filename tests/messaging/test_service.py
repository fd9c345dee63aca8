"""The outbox, e-mail content and unsubscribe tokens."""

import datetime as dt

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from relhealth.core.errors import NotFound
from relhealth.messaging.models import MessageStatus, OutboxMessage
from relhealth.messaging.service import (
    opt_out,
    person_for_unsubscribe,
    queue_message,
    render_email,
    render_subject,
    unsubscribe_headers,
    unsubscribe_link,
    unsubscribe_token,
)
from tests.factories import PersonFactory


def _queue(session, key="invitation:1", to="ada@customer.test"):
    return queue_message(session, dedupe_key=key, kind="invitation", to=to, subject="S", text="T")


def test_queue_message_keeps_one_message_per_cause(session):
    first = _queue(session)
    assert first.status == MessageStatus.QUEUED
    assert first.attempts == 0
    assert _queue(session, to="someone@else.test") is None
    assert _queue(session, key="invitation:2") is not None
    count = session.scalar(select(func.count()).select_from(OutboxMessage))
    assert count == 2


CONTEXT = {
    "person_name": "Ada",
    "account_name": "Contoso",
    "survey_name": "Relationship health",
    "link": "http://rh.test/s/abc",
    "closes_on": dt.date(2026, 12, 10),
    "unsubscribe_link": "http://rh.test/unsubscribe/xyz",
}


@pytest.mark.parametrize("kind", ["invitation", "reminder"])
def test_survey_emails_word_the_question_for_each_side(app, kind):
    with app.app_context():
        external_text, external_html = render_email(kind, **CONTEXT, side="external")
        internal_text, internal_html = render_email(kind, **CONTEXT, side="internal")
        subjects = {
            side: render_subject(kind, **CONTEXT, side=side) for side in ("external", "internal")
        }
    assert "How is Our company doing for you?" in external_text
    assert "How is Our company doing for you?" in external_html
    assert "How do you think Contoso sees us?" in internal_text
    assert "How do you think Contoso sees us?" in internal_html
    assert "Contoso sees us" not in external_text
    assert subjects["external"].endswith("is Our company doing for you?")
    assert subjects["internal"].endswith("do you think Contoso sees us?")
    for text, html in ((external_text, external_html), (internal_text, internal_html)):
        assert "10 December 2026" in text
        assert "10 December 2026" in html
        assert "http://rh.test/s/abc" in text
        assert 'href="http://rh.test/s/abc"' in html
        assert "http://rh.test/unsubscribe/xyz" in text
        assert 'href="http://rh.test/unsubscribe/xyz"' in html
        assert "Relationship health" in text


def test_email_html_escapes_names_and_text_keeps_them(app, monkeypatch):
    monkeypatch.setitem(app.config, "COMPANY_NAME", "R&D Partners")
    with app.app_context():
        text, html = render_email(
            "invitation", **{**CONTEXT, "person_name": "<script>x</script>"}, side="external"
        )
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "R&amp;D Partners" in html
    assert "Hello <script>x</script>," in text
    assert "R&D Partners" in text


def test_email_html_loads_nothing_from_elsewhere(app):
    with app.app_context():
        _text, html = render_email("invitation", **CONTEXT, side="external")
    assert "<img" not in html
    assert "<link" not in html
    assert "<style" not in html
    assert "<script" not in html


def test_unsubscribe_tokens_name_the_person_and_cannot_be_forged(app, session):
    person = PersonFactory()
    token = unsubscribe_token(person.id)
    assert person_for_unsubscribe(session, token) is person
    forged = URLSafeSerializer("another key", salt="relhealth.unsubscribe").dumps(person.id)
    other_purpose = URLSafeSerializer(app.config["SECRET_KEY"]).dumps(person.id)
    for bad in (forged, other_purpose, token[:-2], "garbage", unsubscribe_token(10**9)):
        with pytest.raises(NotFound):
            person_for_unsubscribe(session, bad)


def test_unsubscribe_links_and_headers_follow_the_base_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://rh.example.com/")
    with app.app_context():
        link = unsubscribe_link(7)
        assert link == f"https://rh.example.com/unsubscribe/{unsubscribe_token(7)}"
    assert unsubscribe_headers(link) == {
        "List-Unsubscribe": f"<{link}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_opting_out_twice_changes_nothing_the_second_time(session):
    person = PersonFactory()
    assert opt_out(session, person) is True
    assert opt_out(session, person) is False
    assert person.opted_out
