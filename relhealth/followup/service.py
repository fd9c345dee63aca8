"""Follow-up cases: opened from responses and alerts, worked through their workflow.

``open_cases_for_response`` runs right after a response is stored (``hooks``), so it reads
only what it needs in a handful of queries. A case's ``open_key`` ("detractor:person:17",
"alert:42") is unique while the case is open: a person who answers badly again while their
case is open adds a note to it instead of a second case, and two submissions racing each
other cannot open two. ``open_missing_cases`` is the sweep for responses whose cases were not
opened when they arrived (imported history, a failed hook).

The rest acts on one case: ``transition`` (the workflow of ``models.TRANSITIONS``),
``log_activity``, ``set_tags``, ``assign`` and ``tell_respondent``. Services flush; the
caller commits. Held cases (an experiment's control arm) are invisible until released.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, lazyload

from relhealth.accounts.models import (
    Account,
    AccountTeamMember,
    GraphSnapshot,
    Person,
    PersonRole,
    Side,
    TeamRole,
)
from relhealth.analytics.models import Alert, AlertStatus
from relhealth.auth.models import User
from relhealth.auth.permissions import readable_accounts, writable_accounts
from relhealth.cohorts.models import Confidentiality, Program, Wave
from relhealth.core import bulk
from relhealth.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from relhealth.core.pagination import page_of, sorted_by
from relhealth.db import utcnow
from relhealth.followup import experiments, rules
from relhealth.followup.models import (
    CONTACT_KINDS,
    ENDED,
    LOGGED_KINDS,
    TRANSITIONS,
    ActivityKind,
    Case,
    CaseActivity,
    CaseReason,
    CaseStatus,
    CaseTag,
)
from relhealth.messaging.models import OutboxMessage
from relhealth.messaging.service import queue_message, render_message
from relhealth.surveys.models import Answer, QuestionType, Response

TITLE_LENGTH = 300
QUOTE_LENGTH = 120  # how much of a negative comment a case's title quotes
INSERT_CHUNK = 500  # cases per INSERT statement (SQLite allows 32,766 parameters in one)
TEAM_ROLE_ORDER = (TeamRole.OWNER, TeamRole.EXECUTIVE_SPONSOR, TeamRole.MEMBER)


def settings_for(config: Mapping[str, Any] | None = None) -> rules.FollowupSettings:
    """The closed loop's settings (``FOLLOWUP_*``) from ``config``, default the app's."""
    return rules.FollowupSettings.from_config(config if config is not None else current_app.config)


def open_key(
    reason: CaseReason | str, *, person_id: int | None = None, alert_id: int | None = None
) -> str:
    """The key that keeps one open case per cause: ``detractor:person:17`` or ``alert:42``."""
    if alert_id is not None:
        return f"alert:{alert_id}"
    return f"{CaseReason(reason).value}:person:{person_id}"


# Opening cases ------------------------------------------------------------------------------


def _signal(answers: Sequence[Any]) -> tuple[rules.ResponseSignal, str | None]:
    """The response's signal and the text of its most negative comment."""
    mean = rules.mean_rating(answers)
    scored = [a for a in answers if a.sentiment is not None]
    worst = min(scored, key=lambda a: a.sentiment) if scored else None
    signal = rules.ResponseSignal(
        nps=rules.nps_answer(answers),
        mean_scaled=round(mean, 2) if mean is not None else None,
        lowest_sentiment=worst.sentiment if worst is not None else None,
    )
    return signal, worst.text if worst is not None else None


def _quote(text: str | None, length: int = QUOTE_LENGTH) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _title(reason: CaseReason, name: str, signal: rules.ResponseSignal, comment: str | None) -> str:
    if reason == CaseReason.DETRACTOR:
        title = f"{name} answered {signal.nps:g} out of 10 when asked how likely to recommend us"
    elif reason == CaseReason.LOW_SCORE:
        title = f"{name} rated us {signal.mean_scaled:.0f} out of 100 on average"
    else:
        title = f"{name} wrote: “{_quote(comment)}”"
    return title[:TITLE_LENGTH]


def _said(signal: rules.ResponseSignal, comment: str | None) -> str:
    """What a response said, in a line: the note added to a case that is already open."""
    parts = []
    if signal.nps is not None:
        parts.append(f"NPS {signal.nps:g}")
    if signal.mean_scaled is not None:
        parts.append(f"mean score {signal.mean_scaled:.0f}/100")
    if comment:
        parts.append(f"wrote “{_quote(comment)}”")
    return ", ".join(parts) or "no rated answers"


# Statements of the path a submission takes, built once: building them costs more than running
# them (a response opens its cases in a few milliseconds).
_ROLES = select(PersonRole.person_id, PersonRole.role).where(
    PersonRole.person_id.in_(bindparam("ids", expanding=True))
)


def _roles(session: Session, person_ids: Iterable[int]) -> dict[int, list[str]]:
    roles: dict[int, list[str]] = defaultdict(list)
    ids = sorted(set(person_ids))
    if ids:
        for person_id, role in session.execute(_ROLES, {"ids": ids}):
            roles[person_id].append(role.value)
    return roles


_LATEST_METRICS = select(GraphSnapshot.account_id, GraphSnapshot.metrics).where(
    GraphSnapshot.id.in_(
        select(func.max(GraphSnapshot.id))
        .where(GraphSnapshot.account_id.in_(bindparam("ids", expanding=True)))
        .group_by(GraphSnapshot.account_id)
    )
)


def _influence(session: Session, account_ids: Iterable[int]) -> dict[int, dict[str, float]]:
    """PageRank of each person in the latest graph snapshot of each account."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    return {
        account_id: (metrics or {}).get("influence") or {}
        for account_id, metrics in session.execute(_LATEST_METRICS, {"ids": ids})
    }


_TEAM_USERS = (
    select(AccountTeamMember.account_id, User.id)
    .join(User, User.person_id == AccountTeamMember.person_id)
    .where(
        AccountTeamMember.account_id.in_(bindparam("ids", expanding=True)),
        User.is_enabled,
        or_(AccountTeamMember.ended_on.is_(None), AccountTeamMember.ended_on > bindparam("today")),
        or_(
            AccountTeamMember.started_on.is_(None),
            AccountTeamMember.started_on <= bindparam("today"),
        ),
    )
    .order_by(
        AccountTeamMember.account_id,
        case(
            {role: index for index, role in enumerate(TEAM_ROLE_ORDER)},
            value=AccountTeamMember.role,
            else_=len(TEAM_ROLE_ORDER),
        ),
        AccountTeamMember.started_on,
        User.id,
    )
)


def _team_owners(session: Session, account_ids: Iterable[int], today: dt.date) -> dict[int, int]:
    """A user for each account without an owner: one linked to an active team member,
    the team's owner first, then the executive sponsor, then members (longest serving first)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    owners: dict[int, int] = {}
    for account_id, user_id in session.execute(_TEAM_USERS, {"ids": ids, "today": today}):
        owners.setdefault(account_id, user_id)
    return owners


def _priority(
    value,
    seniority: str | None,
    roles: Sequence[str],
    influence: Mapping[str, float],
    person_id: int | None,
    settings: rules.FollowupSettings,
    severity: str | None = None,
) -> tuple[float, dict[str, Any]]:
    pagerank = influence.get(str(person_id)) if person_id is not None else None
    score, parts = rules.priority(
        value,
        seniority=seniority,
        roles=roles,
        pagerank=pagerank,
        people=len(influence) or None,
        severity=severity,
        settings=settings,
    )
    parts.update({"seniority_level": seniority, "roles": sorted(roles), "pagerank": pagerank})
    return score, parts


def _note(case_id: int, body: str, now: dt.datetime) -> CaseActivity:
    return CaseActivity(
        case_id=case_id, kind=ActivityKind.NOTE, body=body, occurred_at=now, created_at=now
    )


_INSERT_NEW: dict[str, Any] = {}  # the statement of each dialect, built once


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> list[Case]:
    """Insert the cases whose open key is free; the cases inserted.

    ``INSERT ... ON CONFLICT (open_key) DO NOTHING``: a case another process opened meanwhile
    is skipped, not an error, and no savepoint is needed (one statement, on the submission's
    path).
    """
    dialect = "postgresql" if bulk.is_postgresql(session) else "sqlite"
    stmt = _INSERT_NEW.get(dialect)
    if stmt is None:
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        stmt = _INSERT_NEW[dialect] = (
            insert(Case)
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(Case)
            .options(lazyload(Case.tags))  # a new case has none: no query to find that out
        )
    inserted = []
    for start in range(0, len(rows), INSERT_CHUNK):
        inserted += session.scalars(stmt, rows[start : start + INSERT_CHUNK]).all()
    return sorted(inserted, key=lambda case_: case_.id)


_RESPONSE_CONTEXT = (
    select(
        Response.id,
        Response.person_id,
        Response.account_id,
        Response.side,
        Response.seniority,
        Response.wave_id,
        Response.submitted_at,
        Person.first_name,
        Person.last_name,
        Account.owner_id,
        Account.lifetime_value,
        Account.annual_value,
        Program.confidentiality,
    )
    .join(Person, Person.id == Response.person_id)
    .join(Account, Account.id == Response.account_id)
    .outerjoin(Wave, Wave.id == Response.wave_id)
    .outerjoin(Program, Program.id == Wave.program_id)
    .where(Response.id == bindparam("response_id"))
)
_ANSWERS = (
    select(Answer.question_type, Answer.scaled, Answer.value, Answer.sentiment, Answer.text)
    .where(Answer.response_id == bindparam("response_id"))
    .order_by(Answer.id)
)
_OPEN_CASES = select(Case.id, Case.open_key, Case.response_id).where(
    Case.open_key.in_(bindparam("keys", expanding=True))
)


def open_cases_for_response(
    session: Session, response_id: int, settings: rules.FollowupSettings, now: dt.datetime
) -> list[Case]:
    """Open a case for each reason the response gives (``rules.case_reasons``); the new cases.

    Only for their people (side external) and never in a confidential program. A reason whose
    case is already open for this person adds a note "answered again: ..." to that case.
    Owner: the account's owner, else a user on the account team. New cases join a running
    outreach experiment they belong to (``experiments.enrol``). Flushes.
    """
    context = session.execute(_RESPONSE_CONTEXT, {"response_id": response_id}).one_or_none()
    if (
        context is None
        or context.side != Side.EXTERNAL
        or context.confidentiality == Confidentiality.CONFIDENTIAL
    ):
        return []
    answers = session.execute(_ANSWERS, {"response_id": response_id}).all()
    signal, comment = _signal(answers)
    reasons = rules.case_reasons(signal, settings)
    if not reasons:
        return []
    keys = {open_key(reason, person_id=context.person_id): reason for reason in reasons}
    noted: set[int] = set()
    new_case = None
    opened: list[Case] = []
    for _attempt in range(3):  # again only if another submission opened one meanwhile
        open_cases = session.execute(_OPEN_CASES, {"keys": list(keys)}).all()
        for existing in open_cases:
            del keys[existing.open_key]
            # A case this response opened (just now, by the sweep or a retry) hears nothing new.
            if existing.response_id != response_id and existing.id not in noted:
                noted.add(existing.id)
                session.add(_note(existing.id, f"answered again: {_said(signal, comment)}", now))
        if not keys:
            break
        new_case = new_case or _case_maker(session, context, signal, comment, settings, now)
        inserted = _insert_new(session, [new_case(key, reason) for key, reason in keys.items()])
        opened += inserted
        for case_ in inserted:
            del keys[case_.open_key]
        if not keys:
            break
    if opened:
        experiments.enrol(session, opened, context.submitted_at, now)
    session.flush()
    return sorted(opened, key=lambda case_: reasons.index(case_.reason))


def _case_maker(session: Session, context, signal, comment, settings, now):
    """A function making the response's case for one reason: owner, priority and due dates
    are worked out once, as they are the same for every reason."""
    owner_id = context.owner_id
    if owner_id is None:
        owner_id = _team_owners(session, [context.account_id], now.date()).get(context.account_id)
    value = rules.account_value(context.lifetime_value, context.annual_value)
    roles = _roles(session, [context.person_id])[context.person_id]
    influence = _influence(session, [context.account_id]).get(context.account_id, {})
    score, parts = _priority(
        value, context.seniority, roles, influence, context.person_id, settings
    )
    first_contact_due, resolution_due = rules.due_dates(now, settings)
    name = f"{context.first_name} {context.last_name}".strip()

    def make(key: str, reason: CaseReason) -> dict[str, Any]:
        return {
            "reason": reason,
            "open_key": key,
            "account_id": context.account_id,
            "person_id": context.person_id,
            "response_id": context.id,
            "wave_id": context.wave_id,
            "title": _title(reason, name, signal, comment),
            "score": signal.nps if reason == CaseReason.DETRACTOR else signal.mean_scaled,
            "owner_id": owner_id,
            "priority": score,
            "priority_parts": dict(parts),
            "value_at_stake": value,
            "status": CaseStatus.OPEN,
            "opened_at": now,
            "first_contact_due": first_contact_due,
            "resolution_due": resolution_due,
            "held": False,
            "created_at": now,
        }

    return make


def open_cases_for_alerts(
    session: Session, settings: rules.FollowupSettings, now: dt.datetime
) -> list[Case]:
    """Open a case for every alert that has none yet (resolved alerts excluded); the new cases.

    The title is the alert's message; its severity weighs in the priority; a group alert
    (every alert of a confidential program) names no person. Flushes.
    """
    alerts = session.execute(
        select(
            Alert.id,
            Alert.account_id,
            Alert.person_id,
            Alert.wave_id,
            Alert.severity,
            Alert.message,
            Account.owner_id,
            Account.lifetime_value,
            Account.annual_value,
            Person.seniority,
        )
        .join(Account, Account.id == Alert.account_id)
        .outerjoin(Person, Person.id == Alert.person_id)
        .where(
            Alert.status != AlertStatus.RESOLVED,
            ~exists().where(Case.alert_id == Alert.id),
        )
        .order_by(Alert.id)
    ).all()
    if not alerts:
        return []
    account_ids = {a.account_id for a in alerts}
    roles = _roles(session, {a.person_id for a in alerts if a.person_id is not None})
    influence = _influence(session, account_ids)
    team_owners = _team_owners(
        session, {a.account_id for a in alerts if a.owner_id is None}, now.date()
    )
    first_contact_due, resolution_due = rules.due_dates(now, settings)
    rows = []
    for alert in alerts:
        value = rules.account_value(alert.lifetime_value, alert.annual_value)
        score, parts = _priority(
            value,
            alert.seniority,
            roles.get(alert.person_id, []),
            influence.get(alert.account_id, {}),
            alert.person_id,
            settings,
            severity=alert.severity.value,
        )
        rows.append(
            {
                "reason": CaseReason.ALERT,
                "open_key": open_key(CaseReason.ALERT, alert_id=alert.id),
                "account_id": alert.account_id,
                "person_id": alert.person_id,
                "alert_id": alert.id,
                "wave_id": alert.wave_id,
                "title": _quote(alert.message, TITLE_LENGTH),
                "owner_id": alert.owner_id or team_owners.get(alert.account_id),
                "priority": score,
                "priority_parts": parts,
                "value_at_stake": value,
                "status": CaseStatus.OPEN,
                "opened_at": now,
                "first_contact_due": first_contact_due,
                "resolution_due": resolution_due,
                "held": False,
                "created_at": now,
            }
        )
    # An alert whose case another process opened meanwhile is skipped.
    return _insert_new(session, rows)


def _gives_a_reason(settings: rules.FollowupSettings) -> ColumnElement[bool]:
    """A HAVING clause over a response's answers: the SQL twin of ``rules.case_reasons``."""
    nps = func.min(case((Answer.question_type == QuestionType.NPS, Answer.value)))
    return or_(
        nps <= 6,
        func.avg(case((Answer.question_type == QuestionType.RATING, Answer.scaled)))
        < settings.low_score,
        func.min(Answer.sentiment) < settings.negative_sentiment,
    )


def open_missing_cases(
    session: Session,
    settings: rules.FollowupSettings,
    now: dt.datetime,
    since: dt.datetime | None = None,
) -> int:
    """The sweep: open the cases of responses (submitted since ``since``) that should have some
    and have none; how many cases it opened.

    A response is left alone when a case refers to it, or when a case of the same person was
    open when it was submitted or is open now: it was, or would now be, a note on that case,
    and a sweep that runs again must not add the note again.
    """
    covered_by_open_case = exists().where(
        Case.person_id == Response.person_id,
        Case.reason != CaseReason.ALERT,
        or_(
            Case.open_key.is_not(None),
            and_(
                Case.created_at <= Response.submitted_at,
                or_(Case.ended_at.is_(None), Case.ended_at > Response.submitted_at),
            ),
        ),
    )
    stmt = (
        select(Response.id)
        .join(Answer, Answer.response_id == Response.id)
        .outerjoin(Wave, Wave.id == Response.wave_id)
        .outerjoin(Program, Program.id == Wave.program_id)
        .where(
            Response.side == Side.EXTERNAL,
            or_(Program.id.is_(None), Program.confidentiality != Confidentiality.CONFIDENTIAL),
            ~exists().where(Case.response_id == Response.id),
            ~covered_by_open_case,
        )
        .group_by(Response.id, Response.submitted_at)
        .having(_gives_a_reason(settings))
        .order_by(Response.submitted_at, Response.id)
    )
    if since is not None:
        stmt = stmt.where(Response.submitted_at >= since)
    opened = 0
    for response_id in session.scalars(stmt).all():
        opened += len(open_cases_for_response(session, response_id, settings, now))
    return opened


# Listing -----------------------------------------------------------------------------------


def overdue(now: dt.datetime) -> ColumnElement[bool]:
    """A WHERE clause: live cases past a due date (first contact missing, or resolution)."""
    return and_(
        Case.status.not_in(ENDED),
        or_(
            and_(Case.first_contact_at.is_(None), Case.first_contact_due < now),
            Case.resolution_due < now,
        ),
    )


def is_overdue(case_: Case, now: dt.datetime) -> bool:
    """``overdue`` for one case in memory."""
    if case_.ended:
        return False
    late_contact = case_.first_contact_at is None and case_.first_contact_due < now
    return late_contact or case_.resolution_due < now


def case_sorts(now: dt.datetime) -> dict[str, ColumnElement]:
    """What cases sort by; ``overdue`` sorts late cases after the others (``-overdue`` first)."""
    return {
        "priority": Case.priority,
        "opened_at": Case.opened_at,
        "first_contact_due": Case.first_contact_due,
        "resolution_due": Case.resolution_due,
        "status": Case.status,
        "account_id": Case.account_id,
        "value_at_stake": Case.value_at_stake,
        "overdue": case((overdue(now), 1), else_=0),
    }


DEFAULT_SORT = ("-overdue", "-priority")


def case_query(user: User, filters: Mapping[str, Any]) -> Select:
    """The cases ``user`` may read (their account readable, not held), narrowed by ``filters``:
    ``status`` (one or a list), ``owner_id``, ``account_id``, ``reason``, ``person_id``,
    ``overdue`` (true/false, as of ``filters["now"]``, default now), ``live`` (not ended)."""
    stmt = select(Case).where(
        Case.account_id.in_(select(Account.id).where(readable_accounts(user))),
        Case.held == false(),
    )
    for name in ("owner_id", "account_id", "reason", "person_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Case, name) == filters[name])
    status = filters.get("status")
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        stmt = stmt.where(Case.status.in_(statuses))
    if filters.get("live") is not None:
        live = Case.status.not_in(ENDED)
        stmt = stmt.where(live if filters["live"] else ~live)
    if filters.get("overdue") is not None:
        late = overdue(filters.get("now") or utcnow())
        stmt = stmt.where(late if filters["overdue"] else ~late)
    return stmt


def list_cases(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    sort: Sequence[str] = DEFAULT_SORT,
    page: int = 1,
    page_size: int = 50,
    now: dt.datetime | None = None,
) -> tuple[list[Case], int]:
    now = now or utcnow()
    stmt = sorted_by(case_query(user, {**filters, "now": now}), sort, case_sorts(now), Case.id)
    return page_of(session, stmt, page, page_size)


def get_case(session: Session, user: User, case_id: int, write: bool = False) -> Case:
    """The case, if ``user`` may read its account (404 otherwise, also while held);
    ``write``: 403 unless they may change the account."""
    case_ = session.scalar(case_query(user, {}).where(Case.id == case_id))
    if case_ is None:
        raise NotFound("No such case.")
    if write:
        may_write = session.scalar(
            select(Account.id).where(Account.id == case_.account_id, writable_accounts(user))
        )
        if may_write is None:
            raise Forbidden("You may read this account's cases but not work on them.")
    return case_


def activities_of(session: Session, case_: Case) -> list[CaseActivity]:
    """The case's timeline, oldest first."""
    return list(
        session.scalars(
            select(CaseActivity)
            .where(CaseActivity.case_id == case_.id)
            .order_by(CaseActivity.occurred_at, CaseActivity.id)
        )
    )


# Acting on a case --------------------------------------------------------------------------


def _author(user: User | None) -> int | None:
    return user.id if user is not None else None


def _refuse_held(case_: Case) -> None:
    if case_.held:
        raise Conflict("This case is held by an experiment until it ends.")


def _activity(
    session: Session,
    case_: Case,
    kind: ActivityKind,
    user: User | None,
    now: dt.datetime,
    body: str = "",
    occurred_at: dt.datetime | None = None,
    **extra: Any,
) -> CaseActivity:
    activity = CaseActivity(
        case_id=case_.id,
        kind=kind,
        body=body,
        author_id=_author(user),
        occurred_at=occurred_at or now,
        created_at=now,
        **extra,
    )
    session.add(activity)
    return activity


def _move(
    session: Session,
    case_: Case,
    to_status: CaseStatus,
    user: User | None,
    now: dt.datetime,
    note: str = "",
) -> None:
    _activity(
        session,
        case_,
        ActivityKind.STATUS,
        user,
        now,
        body=note,
        from_status=case_.status.value,
        to_status=to_status.value,
    )
    case_.status = to_status


def transition(
    session: Session,
    case_: Case,
    to_status: CaseStatus | str,
    user: User | None,
    now: dt.datetime,
    note: str = "",
    resolution: str | None = None,
) -> Case:
    """Move the case along the workflow (``models.TRANSITIONS``); anything else is 409.

    Resolving needs a resolution (what was done; 422 without). Ending the case stamps
    ``ended_at`` and frees its open key, so the person's next bad answer opens a new case.
    """
    try:
        to_status = CaseStatus(to_status)
    except ValueError:
        raise InvalidInput.on("to", f"Unknown status {to_status!r}.") from None
    _refuse_held(case_)
    if to_status not in TRANSITIONS[case_.status]:
        allowed = ", ".join(sorted(TRANSITIONS[case_.status])) or "none: the case has ended"
        raise Conflict(
            f"A case that is {case_.status.value} cannot become {to_status.value}"
            f" (allowed: {allowed})."
        )
    resolution = (resolution or "").strip() or None
    if to_status == CaseStatus.RESOLVED and resolution is None:
        raise InvalidInput.on("resolution", "Say what was done to resolve the case.")
    _move(session, case_, to_status, user, now, note.strip())
    if to_status == CaseStatus.CONTACTED and case_.first_contact_at is None:
        case_.first_contact_at = now
    if to_status in ENDED:
        case_.ended_at = now
        case_.open_key = None
        case_.resolution = resolution
    session.flush()
    return case_


def log_activity(
    session: Session,
    case_: Case,
    kind: ActivityKind | str,
    body: str,
    user: User | None,
    occurred_at: dt.datetime | None,
    now: dt.datetime,
) -> CaseActivity:
    """Add a call, e-mail, meeting or note to a live case's timeline (ended cases: 409).

    A call, e-mail or meeting is a contact: it sets the first contact (if earlier or unset)
    and moves an open case to contacted.
    """
    try:
        kind = ActivityKind(kind)
    except ValueError:
        kind = None
    if kind not in LOGGED_KINDS:
        allowed = ", ".join(sorted(k.value for k in LOGGED_KINDS))
        raise InvalidInput.on("kind", f"Log one of: {allowed}.")
    occurred_at = occurred_at or now
    if occurred_at > now:
        raise InvalidInput.on("occurred_at", "This has not happened yet: give a past time.")
    if occurred_at < case_.opened_at:
        raise InvalidInput.on("occurred_at", "The case was opened after this time.")
    body = (body or "").strip()
    if kind == ActivityKind.NOTE and not body:
        raise InvalidInput.on("body", "A note needs some text.")
    _refuse_held(case_)
    if case_.ended:
        raise Conflict(f"This case is {case_.status.value}: its timeline is closed.")
    activity = _activity(session, case_, kind, user, now, body=body, occurred_at=occurred_at)
    if kind in CONTACT_KINDS:
        if case_.first_contact_at is None or occurred_at < case_.first_contact_at:
            case_.first_contact_at = occurred_at
        if case_.status == CaseStatus.OPEN:
            _move(session, case_, CaseStatus.CONTACTED, None, now, f"{kind.value} logged")
    session.flush()
    return activity


def set_tags(
    session: Session,
    case_: Case,
    tags: Sequence[str],
    user: User | None,
    now: dt.datetime,
    settings: rules.FollowupSettings | None = None,
) -> Case:
    """Replace the case's root causes with ``tags`` from the taxonomy (others: 422).

    Allowed on ended cases too: root causes are often settled once the case is understood.
    """
    settings = settings or settings_for()
    wanted = sorted({tag.strip() for tag in tags})
    unknown = [tag for tag in wanted if tag not in settings.root_causes]
    if unknown:
        allowed = ", ".join(settings.root_causes)
        raise InvalidInput.on(
            "tags", f"Not a root cause: {', '.join(unknown)}. Use one of: {allowed}."
        )
    _refuse_held(case_)
    have = [tag.tag for tag in case_.tags]
    if have == wanted:
        return case_
    case_.tags = [tag for tag in case_.tags if tag.tag in wanted] + [
        CaseTag(tag=tag) for tag in wanted if tag not in have
    ]
    _activity(session, case_, ActivityKind.TAGGED, user, now, body=", ".join(wanted) or "none")
    session.flush()
    session.expire(case_, ["tags"])
    return case_


def assign(
    session: Session, case_: Case, owner_id: int, user: User | None, now: dt.datetime
) -> Case:
    """Give the case to another owner, who must be able to change its account (else 422)."""
    _refuse_held(case_)
    if case_.ended:
        raise Conflict(f"This case is {case_.status.value}: it keeps its owner.")
    owner = session.get(User, owner_id)
    may_write = (
        owner is not None
        and owner.is_enabled
        and session.scalar(
            select(Account.id).where(Account.id == case_.account_id, writable_accounts(owner))
        )
    )
    if not may_write:
        raise InvalidInput.on("owner_id", "The owner must be a user who may change this account.")
    if case_.owner_id == owner.id:
        return case_
    case_.owner_id = owner.id
    _activity(session, case_, ActivityKind.ASSIGNED, user, now, body=f"assigned to {owner.name}")
    session.flush()
    return case_


def tell_respondent(
    session: Session, case_: Case, message: str, user: User | None, now: dt.datetime
) -> OutboxMessage:
    """Queue the "we heard you" e-mail to the respondent: what we are doing about it.

    Refused (409) when the case names nobody, the person has no e-mail or opted out, or they
    were told already; an empty message is 422. Records the loop as closed with the customer.
    """
    message = (message or "").strip()
    if not message:
        raise InvalidInput.on("message", "Say what we are doing about it.")
    _refuse_held(case_)
    if case_.told_respondent_at is not None:
        raise Conflict("The respondent was already told about this case.")
    person = session.get(Person, case_.person_id) if case_.person_id is not None else None
    if person is None:
        raise Conflict("This case names nobody to tell (a group alert).")
    if not person.email:
        raise Conflict("The respondent has no e-mail address.")
    if person.opted_out:
        raise Conflict("The respondent opted out of our e-mails.")
    account = session.get(Account, case_.account_id)
    owner = session.get(User, case_.owner_id) if case_.owner_id is not None else None
    sender = user or owner
    subject, text, html = render_message(
        "followup/emails/we_heard_you",
        person_name=person.first_name,
        account_name=account.name,
        message=message,
        sender_name=sender.name if sender is not None else None,
    )
    queued = queue_message(
        session,
        dedupe_key=f"case:{case_.id}:we_heard_you",
        kind="we_heard_you",
        to=person.email,
        subject=subject,
        text=text,
        html=html,
        headers={"Reply-To": sender.email} if sender is not None else None,
    )
    if queued is None:  # queued before, e.g. by a request that failed after queueing
        raise Conflict("The respondent was already told about this case.")
    case_.told_respondent_at = now
    _activity(session, case_, ActivityKind.TOLD_RESPONDENT, user, now, body=message)
    session.flush()
    return queued
