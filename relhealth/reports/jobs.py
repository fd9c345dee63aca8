"""Report jobs and the archive: asking for a report, rendering it, keeping its PDF.

A report asked for is a ``Report`` row in ``queued``; ``run_report`` renders it (inline, or in
a Celery worker: ``reports.tasks``) and archives the PDF as ``<instance>/reports/<sha256>.pdf``.
The file is named by its hash, so the row proves which bytes it stands for, and the same bytes
are stored once (docs/decisions.md). Services flush; the request, task or tick commits.
"""

import datetime as dt
import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from relhealth.accounts.models import Account, AccountKind
from relhealth.auth.models import Role, User
from relhealth.auth.permissions import account_access
from relhealth.core.errors import Conflict, DomainError, InvalidInput, NotFound
from relhealth.core.pagination import page_of
from relhealth.db import utcnow
from relhealth.reports import service
from relhealth.reports.models import Report, ReportKind, ReportStatus

logger = logging.getLogger(__name__)

PDF = "application/pdf"


def archive_folder() -> Path:
    """Where rendered reports are kept: ``reports/`` in the app's instance folder."""
    return Path(current_app.instance_path) / "reports"


def check_scope(
    session: Session,
    user: User,
    kind: ReportKind,
    account_id: int | None,
    filters: Mapping[str, Any] | None,
) -> Account | None:
    """The account a report of ``kind`` is about, if ``user`` may read it (NotFound if not).

    Account and partner reports need an account (a partner report a partner account);
    a portfolio report takes filters instead and covers only the accounts the user may read.
    """
    if kind == ReportKind.PORTFOLIO:
        if account_id is not None:
            raise InvalidInput.on(
                "account_id", "A portfolio report covers every account you may read: use filters."
            )
        return None
    if filters:
        raise InvalidInput.on("filters", "Only a portfolio report takes filters.")
    if account_id is None:
        raise InvalidInput.on("account_id", f"Give the account for the {kind} report.")
    account = account_access(session, user, account_id)
    if kind == ReportKind.PARTNER and account.kind != AccountKind.PARTNER:
        raise InvalidInput.on("kind", "A partner report is for a partner account.")
    return account


def request_report(
    session: Session,
    user: User,
    kind: ReportKind | str,
    account_id: int | None = None,
    filters: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """A queued report job for ``user``, after checking they may see what it covers."""
    kind = ReportKind(kind)
    check_scope(session, user, kind, account_id, filters)
    report = Report(
        kind=kind,
        account_id=account_id,
        parameters={"kind": kind.value, "account_id": account_id, "filters": dict(filters or {})},
        status=ReportStatus.QUEUED,
        requested_by=user,
        created_at=now or utcnow(),
    )
    session.add(report)
    session.flush()
    return report


def render_pdf(session: Session, report: Report, now: dt.datetime) -> bytes:
    """The report's PDF, rendered for its requester as of ``now`` (their permissions now)."""
    user = report.requested_by
    if user is None:
        raise NotFound("Whoever asked for this report is gone.")
    filters = report.parameters.get("filters") or None
    account = check_scope(session, user, report.kind, report.account_id, filters)
    if report.kind == ReportKind.PORTFOLIO:
        return service.render_portfolio_report(session, user, filters=filters, now=now)
    if report.kind == ReportKind.PARTNER:
        return service.render_partner_report(session, account, now=now)
    return service.render_account_report(session, account, now=now)


def archive_pdf(folder: Path, data: bytes) -> str:
    """Keep ``data`` as ``<folder>/<sha256>.pdf`` (written whole, then renamed); its hash."""
    sha256 = hashlib.sha256(data).hexdigest()
    target = folder / f"{sha256}.pdf"
    if target.exists() and target.stat().st_size == len(data):
        return sha256  # the same bytes are archived already
    folder.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return sha256


def claim_report(session: Session, report_id: int, now: dt.datetime | None = None) -> bool:
    """Mark a queued report ``running`` for this renderer; False if another took it first
    (or it is gone). One UPDATE, so two workers never both render it.

    The caller commits before rendering, so the database is not held for the seconds a PDF
    takes (on SQLite a write transaction blocks every other writer).
    """
    claimed = session.execute(
        update(Report)
        .where(Report.id == report_id, Report.status == ReportStatus.QUEUED)
        .values(status=ReportStatus.RUNNING, started_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return claimed == 1


def render_outcome(
    session: Session, report: Report, folder: Path, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Render a claimed report and archive its PDF; the changes that record the outcome
    (``done`` with its hash and size, or ``failed`` with why). Only reads the database."""
    now = now or utcnow()
    try:
        data = render_pdf(session, report, now)
        sha256 = archive_pdf(folder, data)
        changes = {"status": ReportStatus.DONE, "sha256": sha256, "size": len(data)}
    except DomainError as error:
        changes = {"status": ReportStatus.FAILED, "error": error.message}
    except Exception as error:  # a rendering bug must not leave the job running forever
        logger.exception("report %s could not be rendered", report.id)
        changes = {"status": ReportStatus.FAILED, "error": f"Rendering failed: {error}"}
    changes["finished_at"] = max(now, utcnow())  # a tick may run as of a time to come
    return changes


def record_outcome(session: Session, report_id: int, changes: dict[str, Any]) -> None:
    """Write a rendering's outcome with one UPDATE (no read first: see ``reports.tasks``)."""
    session.execute(
        update(Report)
        .where(Report.id == report_id)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )


def run_report(
    session: Session, report: Report, folder: Path, now: dt.datetime | None = None
) -> Report:
    """Claim and render a queued report in the caller's transaction (a report that is not
    queued is left alone). Flushes, never commits."""
    if claim_report(session, report.id, now):
        session.refresh(report)
        for name, value in render_outcome(session, report, folder, now).items():
            setattr(report, name, value)
        session.flush()
    return report


def report_query(user: User) -> Select:
    """The reports ``user`` may see: their own (an admin: all)."""
    stmt = select(Report)
    if user.role != Role.ADMIN:
        stmt = stmt.where(Report.requested_by_id == user.id)
    return stmt


def list_reports(
    session: Session, user: User, page: int = 1, page_size: int = 50
) -> tuple[list[Report], int]:
    stmt = report_query(user).order_by(Report.created_at.desc(), Report.id.desc())
    return page_of(session, stmt, page, page_size)


def get_report(session: Session, user: User, report_id: int) -> Report:
    """One of ``user``'s reports (an admin: any); NotFound otherwise, or when the account it
    covers is no longer one they may read."""
    report = session.scalar(report_query(user).where(Report.id == report_id))
    if report is None:
        raise NotFound("No such report.")
    if report.account_id is not None:
        account_access(session, user, report.account_id)
    return report


def archived_path(report: Report, folder: Path) -> Path:
    """The archived PDF of a done report; Conflict while it is not rendered."""
    if report.status != ReportStatus.DONE:
        raise Conflict(f"The report is {report.status}, not rendered.")
    path = folder / f"{report.sha256}.pdf"
    if not path.is_file():
        raise NotFound("The report's PDF is no longer in the archive.")
    return path


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].rstrip("-")


def report_filename(report: Report) -> str:
    """The PDF's name for a reader: ``account-report-acme-2026-11-27.pdf``."""
    parts = [f"{report.kind}-report"]
    if report.account is not None and _slug(report.account.name):
        parts.append(_slug(report.account.name))
    parts.append(f"{(report.finished_at or report.created_at):%Y-%m-%d}")
    return "-".join(parts) + ".pdf"


def attachment_reference(report: Report) -> dict[str, str]:
    """What an outbox message keeps to attach a done report: a path, not the bytes."""
    return {
        "path": report.archive_name,
        "filename": report_filename(report),
        "content_type": PDF,
        "sha256": report.sha256,
    }
