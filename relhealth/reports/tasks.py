"""Background jobs of the reports domain: rendering a report asked for through the API."""

from celery import shared_task
from flask import current_app
from sqlalchemy.orm import Session

from relhealth.celery_app import celery_for
from relhealth.extensions import db
from relhealth.reports import jobs
from relhealth.reports.models import Report

RENDER_TASK = "relhealth.reports.render"


@shared_task(name=RENDER_TASK)
def render_report_task(report_id: int) -> str | None:
    """Render and archive a queued report; its status after (None if it is gone)."""
    _render(db.session, report_id)
    report = db.session.get(Report, report_id)
    return report.status.value if report is not None else None


def start_report(session: Session, report: Report) -> Report:
    """Have a committed, queued report rendered: by a Celery worker when a broker is
    configured (``RELHEALTH_BROKER_URL``), else here and now (committed)."""
    if current_app.config["BROKER_URL"]:
        celery_for(current_app).send_task(RENDER_TASK, args=[report.id])
        return report
    _render(session, report.id)
    session.refresh(report)
    return report


def _render(session: Session, report_id: int) -> None:
    """Claim and commit; render, reading only, and end that transaction; record the outcome.

    Nothing is held while the PDF is made, and the outcome is written by a transaction that
    starts with its write: on SQLite one that reads and then writes can deadlock with another
    writer (an API call recording its token's use) and is refused at once.
    """
    claimed = jobs.claim_report(session, report_id)
    session.commit()
    if not claimed:
        return
    report = session.get(Report, report_id)
    changes = jobs.render_outcome(session, report, jobs.archive_folder())
    session.commit()
    jobs.record_outcome(session, report_id, changes)
    session.commit()
