"""The invitation and reminder e-mails of a wave, as outbox rows ready for a bulk insert.

The wording lives in ``templates/messaging/`` (``relhealth.messaging.service.render_email``).
A wave can invite 100,000 people and rendering the templates for each would take most of a
minute, so each e-mail is rendered once per side (their wording, ours) with markers where the
person's name, the account's name and the links go, and the markers are then replaced for each
person (escaped in the HTML). Should a template ever transform one of those values (a filter),
the markers would not come through, and every e-mail is rendered in full instead.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import escape

from relhealth.messaging.models import MessageStatus
from relhealth.messaging.service import (
    render_email,
    render_subject,
    survey_link,
    unsubscribe_headers,
    unsubscribe_link,
)

INVITATION = "invitation"
REMINDER = "reminder"

# Private-use characters: not whitespace (subjects are re-spaced), not escaped in HTML.
_NAME, _ACCOUNT = "\ue000name\ue000", "\ue000account\ue000"
_LINK, _UNSUBSCRIBE = "\ue000link\ue000", "\ue000unsubscribe\ue000"
_MARKER = re.compile("(\ue000(?:name|account|link|unsubscribe)\ue000)")


def _fill(parts: list[str], values: dict[str, str]) -> str:
    """Join a template split on its markers (odd places) with each marker's value."""
    filled = parts.copy()
    for index in range(1, len(filled), 2):
        filled[index] = values[filled[index]]
    return "".join(filled)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who an e-mail goes to and what it is about; ``token`` is the plain personal token."""

    dedupe_key: str
    person_id: int
    email: str
    name: str
    account_name: str
    side: str
    token: str


@dataclass
class SurveyEmails:
    """Builds the outbox rows of one wave's invitations or reminders."""

    kind: str  # INVITATION or REMINDER
    survey_name: str
    closes_at: dt.datetime
    now: dt.datetime
    _sides: dict[str, tuple[list[str], list[str], list[str]] | None] = field(default_factory=dict)
    _unsubscribe: dict[int, str] = field(default_factory=dict)

    def _render(self, side: str, **values: str) -> tuple[str, str, str]:
        subject = render_subject(self.kind, account_name=values["account_name"], side=side)
        text, html = render_email(
            self.kind,
            survey_name=self.survey_name,
            closes_on=self.closes_at,
            side=side,
            **values,
        )
        return subject, text, html

    def _with_markers(self, side: str) -> tuple[list[str], list[str], list[str]] | None:
        """Subject and bodies for one side split on their markers; None if markers are lost."""
        if side not in self._sides:
            rendered = self._render(
                side,
                person_name=_NAME,
                account_name=_ACCOUNT,
                link=_LINK,
                unsubscribe_link=_UNSUBSCRIBE,
            )
            whole = all(marker in body for marker in (_NAME, _LINK) for body in rendered[1:])
            self._sides[side] = tuple(_MARKER.split(part) for part in rendered) if whole else None
        return self._sides[side]

    def row(self, recipient: Recipient) -> dict[str, Any]:
        """The outbox row (all columns but the id) of one e-mail."""
        link = survey_link(recipient.token)
        unsubscribe = self._unsubscribe.get(recipient.person_id)
        if unsubscribe is None:
            unsubscribe = self._unsubscribe[recipient.person_id] = unsubscribe_link(
                recipient.person_id
            )
        marked = self._with_markers(recipient.side)
        if marked is None:
            subject, text, html = self._render(
                recipient.side,
                person_name=recipient.name,
                account_name=recipient.account_name,
                link=link,
                unsubscribe_link=unsubscribe,
            )
        else:
            values = {
                _NAME: recipient.name,
                _ACCOUNT: recipient.account_name,
                _LINK: link,
                _UNSUBSCRIBE: unsubscribe,
            }
            escaped = {marker: str(escape(value)) for marker, value in values.items()}
            subject, text, html = (
                _fill(marked[0], values),
                _fill(marked[1], values),
                _fill(marked[2], escaped),
            )
        return {
            "dedupe_key": recipient.dedupe_key,
            "kind": self.kind,
            "to_address": recipient.email,
            "subject": subject,
            "body_text": text,
            "body_html": html,
            "headers": unsubscribe_headers(unsubscribe),
            "status": MessageStatus.QUEUED.value,
            "attempts": 0,
            "next_attempt_at": self.now,
            "created_at": self.now,
        }
