"""Time helpers: every time-driven operation takes an explicit ``today``/``now``."""

import datetime as dt

from relhealth.db import utcnow


def today_utc(now: dt.datetime | None = None) -> dt.date:
    """The UTC calendar date of ``now`` (default: the current time)."""
    return (now or utcnow()).astimezone(dt.UTC).date()
