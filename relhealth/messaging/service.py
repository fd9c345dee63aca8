"""Queueing messages in the outbox, their content, and unsubscribing.

Delivery is ``relhealth.messaging.delivery``.
"""

import datetime as dt
from collections.abc import Collection
from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from relhealth.accounts.models import Person
from relhealth.core.errors import NotFound
from relhealth.db import utcnow
from relhealth.messaging.models import MessageStatus, OutboxMessage

# The error of a survey e-mail withdrawn because its recipient opted out after it was queued.
WITHDRAWN = "not sent: the recipient unsubscribed"


def queue_message(
    session: Session,
    *,
    dedupe_key: str,
    kind: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, str]] | None = None,
) -> OutboxMessage | None:
    """Put a message in the outbox, in the caller's transaction; flushes, never commits.

    ``dedupe_key`` names the cause (``invitation:42``): a second message for the same cause is
    not queued (None is returned), so retrying whatever caused it never sends twice.
    ``attachments`` refer to files in the instance folder (``path``, ``filename``,
    ``content_type``, ``sha256``); they are read when the message is sent.
    """
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return None
    message = OutboxMessage(
        dedupe_key=dedupe_key,
        kind=kind,
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
        headers=headers or {},
        attachments=attachments or None,
    )
    session.add(message)
    session.flush()
    return message


def requeue_failed(
    session: Session, ids: Collection[int] | None = None, now: dt.datetime | None = None
) -> list[int]:
    """Put FAILED messages (all, or those of ``ids``) back in the queue, due at ``now``.

    Their attempts start again from zero; ``last_error`` stays, so why a message failed can
    still be read until its next attempt replaces it. Messages withdrawn because the recipient
    unsubscribed stay withdrawn. Returns the ids requeued; flushes, never commits.
    """
    requeue = (
        update(OutboxMessage)
        .where(
            OutboxMessage.status == MessageStatus.FAILED,
            OutboxMessage.last_error.is_distinct_from(WITHDRAWN),
        )
        .values(status=MessageStatus.QUEUED, attempts=0, next_attempt_at=now or utcnow())
        .returning(OutboxMessage.id)
    )
    if ids is not None:
        requeue = requeue.where(OutboxMessage.id.in_(set(ids)))
    requeued = sorted(session.scalars(requeue, execution_options={"synchronize_session": "fetch"}))
    session.flush()
    return requeued


def absolute_url(path: str) -> str:
    """``path`` on this app as people reach it (``RELHEALTH_BASE_URL``), for links in e-mails."""
    return current_app.config["BASE_URL"].rstrip("/") + "/" + path.lstrip("/")


def survey_link(token: str) -> str:
    """The absolute URL of a respondent's personal survey page."""
    return absolute_url(f"/s/{token}")


def _for_display(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).date()
    if isinstance(value, dt.date):
        return f"{value.day} {value:%B %Y}"
    return value


def render_email(template: str, **context: Any) -> tuple[str, str]:
    """The text and HTML bodies from ``templates/messaging/<template>.txt`` and ``.html``.

    Rendered with the app's Jinja environment, which escapes the HTML and leaves the text
    alone. ``company_name`` defaults to ``RELHEALTH_COMPANY_NAME``; dates read "26 November
    2026". Needs an app context, not a request.
    """
    values = {"company_name": current_app.config["COMPANY_NAME"]}
    values.update({name: _for_display(value) for name, value in context.items()})
    env = current_app.jinja_env
    text = env.get_template(f"messaging/{template}.txt").render(values)
    html = env.get_template(f"messaging/{template}.html").render(values)
    return text.strip() + "\n", html


def render_subject(template: str, **context: Any) -> str:
    """The subject line from ``templates/messaging/<template>_subject.txt``, on one line."""
    values = {"company_name": current_app.config["COMPANY_NAME"], **context}
    subject = current_app.jinja_env.get_template(f"messaging/{template}_subject.txt").render(values)
    return " ".join(subject.split())


def render_message(base: str, **context: Any) -> tuple[str, str, str]:
    """(subject, text, html) from the templates ``<base>_subject.txt``, ``<base>.txt`` and
    ``<base>.html`` (e.g. ``followup/emails/kudos``): the subject on one line, the HTML
    escaped, ``company_name`` defaulting to ``RELHEALTH_COMPANY_NAME``."""
    values = {"company_name": current_app.config["COMPANY_NAME"], **context}
    env = current_app.jinja_env
    subject = " ".join(env.get_template(f"{base}_subject.txt").render(values).split())
    text = env.get_template(f"{base}.txt").render(values).strip() + "\n"
    return subject, text, env.get_template(f"{base}.html").render(values)


UNSUBSCRIBE_SALT = "relhealth.unsubscribe"


def _unsubscribe_serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@lru_cache(maxsize=4)
def _serializer_for(secret_key: str) -> URLSafeSerializer:
    # One per key rather than one per link: a wave signs a link for each of its people.
    return URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(person_id: int) -> str:
    """A signed token naming a person; it can only opt them out, so it never expires."""
    return _unsubscribe_serializer().dumps(person_id)


def unsubscribe_link(person_id: int) -> str:
    """The absolute URL of the page that opts a person out of surveys."""
    return absolute_url(f"/unsubscribe/{unsubscribe_token(person_id)}")


def unsubscribe_headers(link: str) -> dict[str, str]:
    """``List-Unsubscribe`` headers for ``queue_message``: mail clients offer a one-click
    unsubscribe (RFC 8058) that POSTs to ``link``."""
    return {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def person_for_unsubscribe(session: Session, token: str) -> Person:
    """The person an unsubscribe token names; NotFound for a forged or garbled token."""
    try:
        person_id = _unsubscribe_serializer().loads(token)
    except BadData:
        raise NotFound("This unsubscribe link is not valid.") from None
    person = session.get(Person, person_id) if isinstance(person_id, int) else None
    if person is None:
        raise NotFound("This unsubscribe link is not valid.")
    return person


def opt_out(session: Session, person: Person) -> bool:
    """Opt a person out of surveys; False if they already were. Flushes, never commits."""
    if person.opted_out:
        return False
    person.opted_out = True
    session.flush()
    return True
