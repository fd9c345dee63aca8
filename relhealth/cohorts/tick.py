"""The scheduler tick: close waves that are over, open waves that are due, send reminders.

``tick(session, now)`` is run by ``relhealth tick`` (cron) or the Celery beat task. It is
idempotent and safe to run in several processes at once:

- every write is keyed by a unique constraint: one wave per (program, occurrence), one
  invitation per (wave, person, account), one outbox message per cause (``invitation:<id>``,
  ``reminder:<id>:<n>``);
- each wave is opened in its own transaction, holding a lock on its program's row (and, on
  PostgreSQL, a transaction-level advisory lock so waves of different programs open one at a
  time and the fatigue cap sees every invitation made before it); a crash leaves whole waves;
  the stakeholder-graph snapshots of a wave's accounts follow, 500 accounts a transaction;
- a later tick finishes what an earlier one left undone: a wave without invitations is filled,
  invited people without their e-mail get it, accounts without their snapshot get one;
- reminders lock the invitations they rotate (``FOR UPDATE SKIP LOCKED``), closing locks the
  waves it closes;
- report subscriptions that are due are rendered and e-mailed, one transaction each, keyed by
  (subscription, occurrence) (``relhealth.reports.subscriptions``).

Personal tokens are stored only as digests, so a reminder carries a new token: the old link
stops working (docs/decisions.md).
"""

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import (
    Integer,
    Select,
    String,
    cast,
    column,
    exists,
    literal,
    or_,
    select,
    text,
    update,
    values,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, scoped_session

from relhealth.accounts.models import Account, GraphSnapshot, Person, Side, SnapshotReason
from relhealth.accounts.service import take_snapshots
from relhealth.analytics.alerts_service import accounts_of_waves, evaluate_alerts
from relhealth.cohorts import rules, service
from relhealth.cohorts.emails import INVITATION, REMINDER, Recipient, SurveyEmails
from relhealth.cohorts.models import (
    Cohort,
    CohortMode,
    Invitation,
    InvitationStatus,
    Program,
    Trigger,
    Wave,
    WaveStatus,
)
from relhealth.core import bulk, memory
from relhealth.core.time import today_utc
from relhealth.core.tokens import new_token
from relhealth.db import utcnow
from relhealth.followup.hooks import follow_up
from relhealth.messaging.models import OutboxMessage
from relhealth.reports.subscriptions import deliver_due_reports
from relhealth.surveys.models import Survey
from relhealth.surveys.service import freeze_version

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key for opening waves ("relhealt" in ASCII, as a 64-bit number).
OPEN_WAVES_LOCK = 0x72656C6865616C74
# Invitations are written in chunks so a huge wave does not hold every row in memory twice.
CHUNK = 5_000
# Accounts whose stakeholder graphs are snapshot in one transaction.
SNAPSHOT_CHUNK = 500


@dataclass
class TickReport:
    """What one tick did, for the command's output and the task's log."""

    now: dt.datetime
    opened: list[str] = field(default_factory=list)
    invited: int = 0
    skipped: Counter = field(default_factory=Counter)
    invitation_emails: int = 0
    reminders: int = 0
    closed: int = 0
    expired: int = 0
    snapshots: int = 0
    alerts: int = 0
    cases: int = 0
    reports_delivered: int = 0
    repaired: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        skipped = ", ".join(f"{reason} {n:,}" for reason, n in sorted(self.skipped.items()))
        lines = [
            f"Tick at {self.now.isoformat()}",
            f"Waves opened: {len(self.opened):,}"
            + (f" ({'; '.join(self.opened)})" if self.opened else ""),
            f"Invitations: {self.invited:,} invited, {sum(self.skipped.values()):,} skipped"
            + (f" ({skipped})" if skipped else ""),
            f"E-mails queued: {self.invitation_emails:,} invitations, {self.reminders:,} reminders",
            f"Waves closed: {self.closed:,} ({self.expired:,} unanswered invitations expired)",
            f"Stakeholder-graph snapshots: {self.snapshots:,}",
            f"Alerts opened: {self.alerts:,}",
            f"Follow-up cases opened: {self.cases:,}",
            f"Reports e-mailed: {self.reports_delivered:,}",
        ]
        lines += [f"Completed: {what}" for what in self.repaired]
        lines += [f"Problem: {what}" for what in self.problems]
        return lines

    def as_dict(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "opened": list(self.opened),
            "invited": self.invited,
            "skipped": dict(self.skipped),
            "invitation_emails": self.invitation_emails,
            "reminders": self.reminders,
            "closed": self.closed,
            "expired": self.expired,
            "snapshots": self.snapshots,
            "alerts": self.alerts,
            "cases": self.cases,
            "reports_delivered": self.reports_delivered,
            "repaired": list(self.repaired),
            "problems": list(self.problems),
        }


Sessions = Session | scoped_session | Callable[[], Session]


def tick(sessions: Sessions, now: dt.datetime | None = None) -> TickReport:
    """Close what is over, open what is due, remind who has not answered, as of ``now``.

    ``sessions`` is a session (committed after every step) or a factory of sessions (one is
    made and closed). Any error rolls back only the step it happened in and is raised.
    """
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("tick needs an aware datetime (UTC)")
    owned = not isinstance(sessions, Session | scoped_session)
    session = sessions() if owned else sessions
    report = TickReport(now=now)
    try:
        close_waves(session, now, report)
        open_due_waves(session, now, report)
        send_reminders(session, now, report)
        open_follow_up_cases(session, now, report)
        deliver_due_reports(session, now, report)
    except BaseException:
        session.rollback()
        raise
    finally:
        if owned:
            session.close()
    return report


# Closing -------------------------------------------------------------------------------------


def close_waves(session: Session, now: dt.datetime, report: TickReport) -> None:
    """Close open waves whose window is over; their unanswered invitations expire."""
    wave_ids = session.scalars(
        select(Wave.id)
        .where(Wave.status == WaveStatus.OPEN, Wave.closes_at <= now)
        .order_by(Wave.id)
        .with_for_update(skip_locked=True)
    ).all()
    if wave_ids:
        closed = session.execute(
            update(Wave)
            .where(Wave.id.in_(wave_ids), Wave.status == WaveStatus.OPEN)
            .values(status=WaveStatus.CLOSED, closed_at=now)
        ).rowcount
        expired = session.execute(
            update(Invitation)
            .where(Invitation.wave_id.in_(wave_ids), Invitation.status == InvitationStatus.INVITED)
            .values(status=InvitationStatus.EXPIRED)
        ).rowcount
        report.closed += closed
        report.expired += expired
    session.commit()
    if wave_ids:
        evaluate_closed_waves(session, wave_ids, now, report)


def evaluate_closed_waves(
    session: Session, wave_ids: list[int], now: dt.datetime, report: TickReport
) -> None:
    """Open the alerts the just-closed waves show, in a transaction of their own.

    A failure is reported, not raised: the waves stay closed and the tick goes on opening
    waves; ``relhealth alerts evaluate`` (idempotent) catches up.
    """
    try:
        accounts = accounts_of_waves(session, wave_ids)
        report.alerts += evaluate_alerts(session, now, accounts).opened
        session.commit()
    except Exception:
        session.rollback()
        logger.exception("Evaluating alerts after closing waves %s failed", wave_ids)
        report.problems.append("Alerts could not be evaluated; run `relhealth alerts evaluate`.")


def open_follow_up_cases(session: Session, now: dt.datetime, report: TickReport) -> None:
    """Open the cases of new alerts, and of recent responses that opened none (imported, or
    their submission's follow-up failed). Like alerts, a failure is reported, not raised."""
    try:
        opened = follow_up(session, current_app.config, now)
        report.cases += opened["alert_cases"] + opened["response_cases"]
    except Exception:
        session.rollback()
        logger.exception("Opening follow-up cases failed")
        report.problems.append("Follow-up cases could not be opened; the next tick retries.")


# Opening -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueWave:
    """An occurrence of a program whose window is open at ``now``."""

    occurrence: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    account_id: int | None = None
    label: str = ""


def due_waves(session: Session, program: Program, now: dt.datetime) -> list[DueWave]:
    """The program's occurrences due at ``now``: opened by now and whose window has not passed.

    Schedule programs: the rule's occurrences. Event programs: one per account and event
    (``renewal:<account>:<renewal date>``, ``start:<account>``), at the program's time of day.
    """
    window = dt.timedelta(days=program.open_days)
    if program.trigger == Trigger.SCHEDULE:
        occurrences = service.program_rule(program).between(now - window, now, inc=True)
        return [
            DueWave(
                occurrence.isoformat(),
                occurrence,
                occurrence + window,
                label=f"{program.name} {occurrence:%Y-%m-%d}",
            )
            for occurrence in occurrences
            if occurrence + window > now
        ]
    shift = dt.timedelta(days=program.trigger_days or 0)
    renewal = program.trigger == Trigger.BEFORE_RENEWAL
    column = Account.renewal_date if renewal else Account.started_on
    first, last = (now - window).date(), now.date()
    # event day = renewal date - N days, or start date + N days
    low, high = (first + shift, last + shift) if renewal else (first - shift, last - shift)
    rows = session.execute(
        select(Account.id, Account.name, column)
        .where(
            column.between(low, high),
            or_(Account.ended_on.is_(None), Account.ended_on > last),
        )
        .order_by(Account.id)
    ).all()
    at = program.starts_at.astimezone(dt.UTC).timetz()
    due = []
    for account_id, name, day in rows:
        opens = dt.datetime.combine(day - shift if renewal else day + shift, at)
        if opens < program.starts_at or not opens <= now < opens + window:
            continue
        occurrence = f"renewal:{account_id}:{day.isoformat()}" if renewal else f"start:{account_id}"
        what = "renewal" if renewal else "start"
        due.append(
            DueWave(occurrence, opens, opens + window, account_id, f"{program.name} {name} {what}")
        )
    return due


def open_due_waves(session: Session, now: dt.datetime, report: TickReport) -> None:
    """Open (or finish opening) every due wave of every active program, a wave at a time."""
    program_ids = session.scalars(
        select(Program.id).where(Program.active.is_(True)).order_by(Program.id)
    ).all()
    for program_id in program_ids:
        program = session.get(Program, program_id)
        for due in due_waves(session, program, now):
            wave_id = open_wave(session, program_id, due, now, report)
            if wave_id is not None:
                snapshot_wave(session, program_id, wave_id, now, report)
        session.commit()


def _lock_for_opening(session: Session, program_id: int) -> Program | None:
    if bulk.is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OPEN_WAVES_LOCK})
    return session.scalar(
        select(Program)
        .where(Program.id == program_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def open_wave(
    session: Session, program_id: int, due: DueWave, now: dt.datetime, report: TickReport
) -> int | None:
    """Open one due wave in its own transaction, or finish one an earlier tick left undone.

    Returns the id of the open wave (None if there is none, or it has closed).
    """
    try:
        program = _lock_for_opening(session, program_id)
        if program is None or not program.active:
            session.commit()
            return None
        wave = session.scalar(
            select(Wave).where(Wave.program_id == program.id, Wave.occurrence == due.occurrence)
        )
        if wave is not None and wave.status == WaveStatus.CLOSED:
            session.commit()
            return None
        today = today_utc(now)
        if wave is None:
            members = wave_members(session, program, today, due.account_id)
            if due.account_id is not None and not members:
                session.commit()  # nobody of the cohort at this account: no wave
                return None
            wave = _create_wave(session, program, due, now, report)
            if wave is None:
                session.commit()
                return None
            report.opened.append(due.label)
            _invite(session, program, wave, members, now, report)
        else:
            _complete(session, program, wave, due, now, report)
        wave_id = wave.id
        session.commit()
        return wave_id
    except BaseException:
        session.rollback()
        raise


def _create_wave(
    session: Session, program: Program, due: DueWave, now: dt.datetime, report: TickReport
) -> Wave | None:
    version = service.latest_version(session, program.survey_id)
    if version is None:
        report.problems.append(f"{program.name}: its survey has no version; no wave opened.")
        return None
    freeze_version(session, version, now)
    wave = Wave(
        program_id=program.id,
        occurrence=due.occurrence,
        account_id=due.account_id,
        survey_version_id=version.id,
        opens_at=due.opens_at,
        closes_at=due.closes_at,
        status=WaveStatus.OPEN,
        created_at=now,
    )
    session.add(wave)
    session.flush()
    return wave


def wave_members(
    session: Session, program: Program, today: dt.date, account_id: int | None = None
) -> list[rules.Member]:
    """Who a wave of ``program`` asks: its cohort and complementary cohorts, each pair once.

    A fixed panel used for the first time is filled from its rule first (under a lock on the
    cohort, so two programs sharing it fill it once).
    """
    members: dict[tuple[int, int], rules.Member] = {}
    for cohort in service.program_cohorts(session, program, today):
        if cohort.mode == CohortMode.FIXED and not service.panel_filled(session, cohort):
            session.scalar(select(Cohort.id).where(Cohort.id == cohort.id).with_for_update())
            if not service.panel_filled(session, cohort):
                service.refresh_panel(session, cohort, today)
        for member in service.cohort_members(session, cohort, today, account_id):
            members.setdefault((member.person_id, member.account_id), member)
    return list(members.values())


def _recently_surveyed(session: Session, program: Program, wave: Wave) -> set[int]:
    """People invited by another program within the fatigue cap before this wave opened.

    A program's own earlier waves do not count: its schedule is its own cadence (a quarterly
    program would otherwise trip a 90-day cap whenever a quarter is 89 days long). Invitations
    to the same wave for several accounts are one survey.
    """
    if program.fatigue_days <= 0:
        return set()
    since = wave.opens_at - dt.timedelta(days=program.fatigue_days)
    other_waves = select(Wave.id).where(Wave.program_id != program.id, Wave.id != wave.id)
    return set(
        session.scalars(
            select(Invitation.person_id)
            .where(
                Invitation.wave_id.in_(other_waves),
                Invitation.invited_at.is_not(None),
                Invitation.invited_at > since,
            )
            .distinct()
        )
    )


@memory.paused_gc()
def _invite(
    session: Session,
    program: Program,
    wave: Wave,
    members: Iterable[rules.Member],
    now: dt.datetime,
    report: TickReport,
) -> None:
    """Create the wave's invitations (or recorded skips) and queue the invitation e-mails."""
    today = today_utc(now)
    done = set(
        session.execute(
            select(Invitation.person_id, Invitation.account_id).where(Invitation.wave_id == wave.id)
        )
    )
    fatigued = _recently_surveyed(session, program, wave)
    emails = _emails(session, program, wave, INVITATION, now)
    pending = [m for m in members if (m.person_id, m.account_id) not in done]
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start : start + CHUNK]
        rows, tokens = [], []
        for member in chunk:
            reason = member.flag(today) or (rules.FATIGUE if member.person_id in fatigued else None)
            plain, digest = new_token() if reason is None else (None, None)
            tokens.append(plain)
            rows.append(
                {
                    "wave_id": wave.id,
                    "person_id": member.person_id,
                    "account_id": member.account_id,
                    "side": member.side,
                    "seniority": member.seniority,
                    "status": (
                        InvitationStatus.SKIPPED if reason else InvitationStatus.INVITED
                    ).value,
                    "skip_reason": reason,
                    "token_hash": digest,
                    "expires_at": wave.closes_at if reason is None else None,
                    "invited_at": now if reason is None else None,
                    "reminders_sent": 0,
                }
            )
            if reason:
                report.skipped[reason] += 1
        ids = bulk.insert_rows_returning_ids(session, Invitation.__table__, rows)
        messages = (  # made while they are written
            emails.row(
                Recipient(
                    f"invitation:{invitation_id}",
                    member.person_id,
                    member.email,
                    member.name,
                    member.account_name,
                    member.side,
                    plain,
                )
            )
            for invitation_id, member, plain in zip(ids, chunk, tokens, strict=True)
            if plain is not None
        )
        queued = bulk.insert_rows(session, OutboxMessage.__table__, messages)
        report.invited += queued
        report.invitation_emails += queued


def _emails(
    session: Session, program: Program, wave: Wave, kind: str, now: dt.datetime
) -> SurveyEmails:
    survey_name = session.scalar(select(Survey.name).where(Survey.id == program.survey_id))
    return SurveyEmails(kind, survey_name or program.name, wave.closes_at, now)


def _mail_recipients(wave_id: int) -> Select:
    """A wave's invited people with an e-mail address: what an invitation or reminder needs."""
    return (
        select(
            Invitation.id,
            Invitation.person_id,
            Invitation.side,
            Person.first_name,
            Person.last_name,
            Person.email,
            Account.name,
        )
        .join(Person, Person.id == Invitation.person_id)
        .join(Account, Account.id == Invitation.account_id)
        .where(
            Invitation.wave_id == wave_id,
            Invitation.status == InvitationStatus.INVITED,
            Person.email.is_not(None),
        )
    )


def _dedupe_key(prefix: str):
    return literal(prefix) + cast(Invitation.id, String)


def _complete(
    session: Session,
    program: Program,
    wave: Wave,
    due: DueWave,
    now: dt.datetime,
    report: TickReport,
) -> None:
    """Finish a wave an earlier tick left undone; a complete wave costs two cheap queries.

    A wave without invitations gets its members now. Once it has invitations, its member list
    is frozen: only invited people whose e-mail is missing get it (with a new token, since only
    digests are stored).
    """
    has_invitations = session.scalar(select(exists().where(Invitation.wave_id == wave.id)))
    if not has_invitations:
        members = wave_members(session, program, today_utc(now), due.account_id)
        _invite(session, program, wave, members, now, report)
        if members:
            report.repaired.append(f"{due.label}: invited its members")
        return
    unsent = session.execute(
        _mail_recipients(wave.id)
        .where(~exists().where(OutboxMessage.dedupe_key == _dedupe_key("invitation:")))
        .order_by(Invitation.id)
    ).all()
    if not unsent:
        return
    emails = _emails(session, program, wave, INVITATION, now)
    messages, hashes = [], []
    for row in unsent:
        plain, digest = new_token()
        hashes.append({"id": row.id, "token_hash": digest})
        messages.append(
            emails.row(
                Recipient(
                    f"invitation:{row.id}",
                    row.person_id,
                    row.email,
                    f"{row.first_name} {row.last_name}".strip(),
                    row.name,
                    row.side.value,
                    plain,
                )
            )
        )
    session.execute(update(Invitation), hashes)
    bulk.insert_rows(session, OutboxMessage.__table__, messages)
    report.invitation_emails += len(messages)
    report.repaired.append(f"{due.label}: queued {len(messages):,} missing invitation e-mails")


def snapshot_wave(
    session: Session, program_id: int, wave_id: int, now: dt.datetime, report: TickReport
) -> None:
    """Snapshot the stakeholder graph of every account in the wave, once per wave and account.

    Right after the wave opens, a chunk of accounts per transaction (a wave over thousands of
    accounts measures thousands of graphs); a tick that stops half-way leaves the rest to the
    next. The opening lock makes concurrent ticks take turns, so none is taken twice.
    """
    while True:
        try:
            _lock_for_opening(session, program_id)
            accounts_in_wave = select(Invitation.account_id).where(Invitation.wave_id == wave_id)
            taken = select(GraphSnapshot.account_id).where(GraphSnapshot.wave_id == wave_id)
            missing = session.scalars(
                select(Account.id)
                .where(Account.id.in_(accounts_in_wave), Account.id.not_in(taken))
                .order_by(Account.id)
                .limit(SNAPSHOT_CHUNK)
            ).all()
            taken_now = take_snapshots(session, missing, SnapshotReason.WAVE, wave_id, now)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        report.snapshots += taken_now
        if len(missing) < SNAPSHOT_CHUNK:
            return


# Reminders -----------------------------------------------------------------------------------


def send_reminders(session: Session, now: dt.datetime, report: TickReport) -> None:
    """Remind who has not answered, at each reminder offset, wave by wave."""
    wave_ids = session.scalars(
        select(Wave.id)
        .where(Wave.status == WaveStatus.OPEN, Wave.opens_at <= now, Wave.closes_at > now)
        .order_by(Wave.id)
    ).all()
    session.commit()
    for wave_id in wave_ids:
        remind_wave(session, wave_id, now, report)


@memory.paused_gc()
def remind_wave(session: Session, wave_id: int, now: dt.datetime, report: TickReport) -> int:
    """Send the reminder due at ``now`` to the wave's invited people who have not answered.

    Reminder n is due from ``opens_at + reminder_days[n-1]``; if a tick missed some, only the
    latest due one is sent. Each reminder carries a new token (only digests are stored), so
    the invitation's earlier link stops working; ``reminders_sent`` becomes n. Invitations are
    reminded in transactions of a few thousand, each locked only while its reminders are
    queued, so someone answering meanwhile waits seconds at most.
    """
    wave = session.get(Wave, wave_id)
    program = wave.program
    points = [wave.opens_at + dt.timedelta(days=d) for d in sorted(program.reminder_days)]
    due = [n for n, point in enumerate(points, start=1) if point <= now]
    if not due:
        session.commit()
        return 0
    number, point = due[-1], points[due[-1] - 1]
    today = today_utc(now)
    pending = (
        _mail_recipients(wave.id)
        .where(
            Invitation.reminders_sent < number,
            Invitation.invited_at <= point,  # invited before this reminder was due
            Person.opted_out.is_(False),
            or_(Person.left_on.is_(None), Person.left_on > today),
        )
        .order_by(Invitation.id)
        .limit(CHUNK)
        .with_for_update(of=Invitation, skip_locked=True)
    )
    emails = _emails(session, program, wave, REMINDER, now)
    sent, after = 0, 0
    while True:
        try:
            rows = session.execute(pending.where(Invitation.id > after)).all()
            reminded = _remind(session, rows, number, emails, now)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        sent += reminded
        if len(rows) < CHUNK:
            break
        after = rows[-1].id
    report.reminders += sent
    return sent


def _remind(session: Session, rows, number: int, emails: SurveyEmails, now: dt.datetime) -> int:
    """Queue reminder ``number`` for locked invitation ``rows`` and rotate their tokens."""
    tokens = {row.id: new_token() for row in rows}
    messages = [
        emails.row(
            Recipient(
                f"reminder:{row.id}:{number}",
                row.person_id,
                row.email,
                f"{row.first_name} {row.last_name}".strip(),
                row.name,
                Side(row.side).value,
                tokens[row.id][0],
            )
        )
        for row in rows
    ]
    queued = _queue_reminders(session, messages)
    # Rotate only where the reminder was queued: its e-mail carries the new link.
    rotations = [
        (row.id, tokens[row.id][1]) for row in rows if f"reminder:{row.id}:{number}" in queued
    ]
    _rotate_tokens(session, rotations, number, now)
    return len(rotations)


def _queue_reminders(session: Session, rows: list[dict]) -> set[str]:
    """Queue reminder e-mails; returns the dedupe keys actually written.

    On PostgreSQL their invitations are locked (``FOR UPDATE``, and re-checked against
    ``reminders_sent`` after the wait), so no other tick can be queueing the same reminders:
    one COPY. SQLite has no row locks: an insert that skips causes already queued.
    """
    if not rows:
        return set()
    if bulk.is_postgresql(session):
        bulk.insert_rows(session, OutboxMessage.__table__, rows)
        return {row["dedupe_key"] for row in rows}
    session.flush()
    stmt = (
        sqlite_insert(OutboxMessage.__table__)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.__table__.c.dedupe_key)
    )
    return set(session.scalars(stmt, rows))


def _rotate_tokens(
    session: Session, rotations: list[tuple[int, str]], number: int, now: dt.datetime
) -> None:
    """Give invitations their new token digests and record reminder ``number``."""
    if not rotations:
        return
    if bulk.is_postgresql(session):
        # One UPDATE joined to the new digests, rather than one statement per invitation.
        digests = values(column("id", Integer), column("token_hash", String), name="digests").data(
            rotations
        )
        session.execute(
            update(Invitation)
            .where(Invitation.id == digests.c.id)
            .values(token_hash=digests.c.token_hash, reminders_sent=number, last_reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        return
    session.execute(
        update(Invitation),
        [
            {"id": id_, "token_hash": digest, "reminders_sent": number, "last_reminded_at": now}
            for id_, digest in rotations
        ],
    )
