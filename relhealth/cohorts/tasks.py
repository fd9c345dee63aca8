"""Background jobs of the cohorts domain: the scheduler tick as a Celery task."""

import datetime as dt

from celery import shared_task
from celery.utils.log import get_task_logger

from relhealth.celery_app import TICK_TASK
from relhealth.cohorts.tick import tick
from relhealth.extensions import db

logger = get_task_logger(__name__)


@shared_task(name=TICK_TASK)
def tick_task(now: str | None = None) -> dict:
    """Run the scheduler tick (``now``: an ISO time, default the current time)."""
    when = dt.datetime.fromisoformat(now) if now else None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    report = tick(db.session, when)
    for line in report.lines():
        logger.info(line)
    return report.as_dict()
