"""Queueing messages in the outbox; delivery is ``relhealth.messaging.delivery``."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from relhealth.messaging.models import OutboxMessage


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
) -> OutboxMessage | None:
    """Put a message in the outbox, in the caller's transaction; flushes, never commits.

    ``dedupe_key`` names the cause (``invitation:42``): a second message for the same cause is
    not queued (None is returned), so retrying whatever caused it never sends twice.
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
    )
    session.add(message)
    session.flush()
    return message
