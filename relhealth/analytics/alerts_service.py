"""Alerts: evaluate the rules against the database and store what they find; list and act.

``evaluate_alerts`` loads the frames of the accounts concerned (``service.load_answers`` /
``load_invitations``), their people's roles and graph snapshots, runs the pure rules of
``alerts`` and inserts the candidates not stored yet (``INSERT ... ON CONFLICT DO NOTHING`` on
the unique dedupe key), so it is idempotent and safe to run from several processes at once.
The scheduler tick runs it for the accounts of the waves it has just closed; ``relhealth
alerts evaluate`` runs it on demand. Services flush; the caller commits.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select, union
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from relhealth.accounts.models import Account, GraphSnapshot, Person, PersonRole
from relhealth.accounts.seniority import ladder
from relhealth.analytics import alerts, service
from relhealth.analytics.metrics import analytics_settings
from relhealth.analytics.models import Alert, AlertStatus
from relhealth.auth.models import User
from relhealth.auth.permissions import readable_accounts, writable_accounts
from relhealth.cohorts.models import Invitation, Wave, WaveStatus
from relhealth.core import bulk
from relhealth.core.errors import Conflict, Forbidden, NotFound
from relhealth.core.pagination import page_of, sorted_by

# Accounts evaluated together: their answers are in memory at once.
ACCOUNT_CHUNK = 200

ALERT_SORTS = {
    "opened_at": Alert.opened_at,
    "severity": Alert.severity,
    "kind": Alert.kind,
    "status": Alert.status,
    "account_id": Alert.account_id,
}


def alert_settings() -> alerts.AlertSettings:
    """The rules' thresholds from the app's settings (``ALERT_*`` and the analytics ones)."""
    config = current_app.config
    return alerts.AlertSettings(
        analytics=analytics_settings(config),
        decline_min_points=config["ALERT_DECLINE_MIN_POINTS"],
        gap_widening_points=config["ALERT_GAP_WIDENING_POINTS"],
        key_roles=tuple(config["ALERT_KEY_ROLES"]),
    )


@dataclass
class EvaluationReport:
    """What one evaluation did."""

    accounts: int = 0
    candidates: int = 0
    opened: int = 0


def _scope(
    session: Session, since: dt.datetime, account_ids: Iterable[int] | None
) -> tuple[list[int], set[int], set[int]]:
    """(accounts to evaluate, closed waves to look at, snapshots to look at)."""
    waves = select(Wave.id).where(Wave.status == WaveStatus.CLOSED, Wave.closes_at >= since)
    snapshots = select(GraphSnapshot.id).where(GraphSnapshot.taken_at >= since)
    if account_ids is not None:
        accounts = sorted(set(account_ids))
    else:
        accounts = sorted(
            session.scalars(
                union(
                    select(Invitation.account_id).where(Invitation.wave_id.in_(waves)),
                    select(GraphSnapshot.account_id).where(GraphSnapshot.taken_at >= since),
                )
            )
        )
    return accounts, set(session.scalars(waves)), set(session.scalars(snapshots))


def _key_roles(session: Session, account_ids: Sequence[int]) -> dict[int, list[str]]:
    roles = defaultdict(list)
    for person_id, role in session.execute(
        select(PersonRole.person_id, PersonRole.role)
        .join(Person, Person.id == PersonRole.person_id)
        .where(Person.account_id.in_(account_ids))
    ):
        roles[person_id].append(role.value)
    return roles


def _snapshots(session: Session, account_ids: Sequence[int], since: dt.datetime) -> list[dict]:
    """The accounts' snapshots taken since ``since``, and the one before that of each."""
    columns = (
        GraphSnapshot.id,
        GraphSnapshot.account_id,
        GraphSnapshot.taken_at,
        GraphSnapshot.wave_id,
        GraphSnapshot.metrics,
    )
    in_scope = GraphSnapshot.account_id.in_(account_ids)
    latest_before = (
        select(func.max(GraphSnapshot.id))
        .where(in_scope, GraphSnapshot.taken_at < since)
        .group_by(GraphSnapshot.account_id)
    )
    rows = session.execute(
        select(*columns).where(
            in_scope, (GraphSnapshot.taken_at >= since) | GraphSnapshot.id.in_(latest_before)
        )
    )
    return [row._asdict() for row in rows]


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert the alerts whose dedupe key is not stored yet; returns how many were."""
    if not rows:
        return 0
    insert = postgresql_insert if bulk.is_postgresql(session) else sqlite_insert
    stmt = (
        insert(Alert.__table__)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Alert.__table__.c.id)
    )
    return len(session.scalars(stmt, rows).all())


def evaluate_alerts(
    session: Session, now: dt.datetime, account_ids: Iterable[int] | None = None
) -> EvaluationReport:
    """Run every alert rule and open the alerts not opened yet, as of ``now``.

    Looks at waves closed within ``ALERT_LOOKBACK_DAYS`` (open waves are not over yet) and
    the graph snapshots taken within it, for ``account_ids`` (default: every account such a
    wave or snapshot concerns). Evaluating again opens nothing twice.
    """
    settings = alert_settings()
    levels = ladder()
    since = now - dt.timedelta(days=current_app.config["ALERT_LOOKBACK_DAYS"])
    accounts, waves, snapshot_ids = _scope(session, since, account_ids)
    report = EvaluationReport(accounts=len(accounts))
    for start in range(0, len(accounts), ACCOUNT_CHUNK):
        chunk = accounts[start : start + ACCOUNT_CHUNK]
        candidates = alerts.evaluate(
            service.load_answers(session, account_ids=chunk),
            service.load_invitations(session, account_ids=chunk),
            _snapshots(session, chunk, since),
            _key_roles(session, chunk),
            levels,
            settings,
            waves=waves,
            snapshot_ids=snapshot_ids,
        )
        report.candidates += len(candidates)
        rows = [
            {**candidate.as_row(), "status": AlertStatus.OPEN.value, "opened_at": now}
            for candidate in candidates
        ]
        report.opened += _insert_new(session, rows)
    session.flush()
    return report


def accounts_of_waves(session: Session, wave_ids: Sequence[int]) -> list[int]:
    """The accounts invited in ``wave_ids`` (whose alerts a closing wave may change)."""
    return sorted(
        session.scalars(
            select(Invitation.account_id).where(Invitation.wave_id.in_(wave_ids)).distinct()
        )
    )


# Listing and acting ------------------------------------------------------------------------


def alert_query(user: User, filters: Mapping[str, Any]) -> Select:
    """The alerts of the accounts ``user`` may read, narrowed by ``filters``."""
    stmt = select(Alert).where(
        Alert.account_id.in_(select(Account.id).where(readable_accounts(user)))
    )
    for name in ("account_id", "kind", "status", "severity", "wave_id", "person_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Alert, name) == filters[name])
    return stmt


def list_alerts(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    sort: Sequence[str] = ("-opened_at",),
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Alert], int]:
    stmt = sorted_by(alert_query(user, filters), sort, ALERT_SORTS, Alert.id.desc())
    return page_of(session, stmt, page, page_size)


def get_alert(session: Session, user: User, alert_id: int, *, write: bool = False) -> Alert:
    """The alert, if ``user`` may read its account (404 otherwise); ``write``: may change it."""
    alert = session.scalar(alert_query(user, {}).where(Alert.id == alert_id))
    if alert is None:
        raise NotFound("No such alert.")
    if write:
        may_write = session.scalar(
            select(Account.id).where(Account.id == alert.account_id, writable_accounts(user))
        )
        if may_write is None:
            raise Forbidden("You may read this account's alerts but not act on them.")
    return alert


def acknowledge_alert(session: Session, alert: Alert, user: User, now: dt.datetime) -> Alert:
    """Someone is on it. Acknowledging again changes nothing; a resolved alert stays resolved."""
    if alert.status == AlertStatus.RESOLVED:
        raise Conflict("This alert is already resolved.")
    if alert.status == AlertStatus.OPEN:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = now
        alert.acknowledged_by_id = user.id
        session.flush()
    return alert


def resolve_alert(session: Session, alert: Alert, user: User, now: dt.datetime) -> Alert:
    """Dealt with. Resolving an open alert acknowledges it too; resolving again changes nothing."""
    if alert.status == AlertStatus.RESOLVED:
        return alert
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by_id = user.id
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = now
    alert.resolved_by_id = user.id
    session.flush()
    return alert
