"""What the closed loop does when a response arrives and when the tick runs.

A response opens its cases and routes its praise in a savepoint of the submission's own
transaction, after the answers are stored: one commit for both keeps the submission fast, and
whatever fails in follow-up rolls back only the savepoint, is logged, and never fails or loses
the submission. The tick's sweep (``follow_up``) opens the cases a failed or bypassed hook
missed (responses imported from CSV, for instance).
"""

import datetime as dt
import logging
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from relhealth.db import utcnow
from relhealth.followup import praise, service
from relhealth.followup.rules import FollowupSettings

log = logging.getLogger(__name__)

# The tick's sweep looks this far back for responses that should have opened a case.
SWEEP_DAYS = 7


def after_response(session: Session, response_id: int, now: dt.datetime | None = None) -> None:
    """Open the follow-up cases of a stored response and queue its kudos, in a savepoint;
    never raises. The caller commits (the response and this together)."""
    now = now or utcnow()
    try:
        with session.begin_nested():
            settings = FollowupSettings.from_config(current_app.config)
            service.open_cases_for_response(session, response_id, settings, now)
            praise.route_praise(session, response_id, settings, now)
    except Exception:
        log.exception("follow-up of response %s failed; the tick's sweep will retry", response_id)


def follow_up(session: Session, config: Any, now: dt.datetime) -> dict[str, int]:
    """The tick's step: cases for new alerts and for recent responses that have none."""
    settings = FollowupSettings.from_config(config)
    alerts = len(service.open_cases_for_alerts(session, settings, now))
    swept = service.open_missing_cases(
        session, settings, now, since=now - dt.timedelta(days=SWEEP_DAYS)
    )
    session.commit()
    return {"alert_cases": alerts, "response_cases": swept}
