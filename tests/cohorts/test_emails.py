"""Invitation and reminder e-mails: rendered once per side, the same as rendered one by one."""

import datetime as dt

import pytest

from relhealth.cohorts.emails import INVITATION, REMINDER, Recipient, SurveyEmails
from relhealth.messaging.service import (
    render_email,
    render_subject,
    survey_link,
    unsubscribe_link,
)

CLOSES = dt.datetime(2027, 1, 18, 9, tzinfo=dt.UTC)
NOW = dt.datetime(2027, 1, 4, 9, tzinfo=dt.UTC)


def recipient(side: str, name: str = "Siobhán O'Brien & <Co>") -> Recipient:
    return Recipient(
        dedupe_key="invitation:7",
        person_id=42,
        email="siobhan@acme.test",
        name=name,
        account_name="Smith & Wesson <Labs>",
        side=side,
        token="tok-EN_123",
    )


@pytest.mark.parametrize("kind", [INVITATION, REMINDER])
@pytest.mark.parametrize("side", ["external", "internal"])
def test_an_e_mail_built_from_markers_is_the_e_mail_rendered_in_full(app, kind, side):
    with app.app_context():
        row = SurveyEmails(kind, "Relationship health", CLOSES, NOW).row(recipient(side))
        context = {
            "person_name": "Siobhán O'Brien & <Co>",
            "account_name": "Smith & Wesson <Labs>",
            "survey_name": "Relationship health",
            "link": survey_link("tok-EN_123"),
            "closes_on": CLOSES,
            "unsubscribe_link": unsubscribe_link(42),
            "side": side,
        }
        text, html = render_email(kind, **context)
        assert (row["body_text"], row["body_html"]) == (text, html)
        assert row["subject"] == render_subject(kind, **context)
        assert row["headers"]["List-Unsubscribe"] == f"<{unsubscribe_link(42)}>"
        assert (row["to_address"], row["kind"], row["status"]) == (
            "siobhan@acme.test",
            kind,
            "queued",
        )


def test_a_template_that_transforms_a_name_is_rendered_in_full(app, monkeypatch):
    with app.app_context():
        emails = SurveyEmails(INVITATION, "Relationship health", CLOSES, NOW)
        monkeypatch.setattr(emails, "_with_markers", lambda side: None)
        row = emails.row(recipient("external", name="Ada"))
        assert "Hello Ada," in row["body_text"]
