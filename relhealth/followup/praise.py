"""Praise: a happy respondent names one of our people; kudos go to them and their manager.

The "who made a difference" question (``made_a_difference`` in the shipped surveys) is free
text. ``find_named_staff`` reads it against our staff directory, most certain first:

1. an e-mail address of one of our people;
2. a full name, exactly, ignoring case and accents ("José Núñez" is "jose nunez");
3. a close spelling of a full name (``difflib`` ratio >= ``FUZZY_RATIO``: "Jon Smiht" is
   John Smith), only when exactly one person is that close;
4. a capitalised first name alone, when exactly one member of the account's team is called
   that (or close to it, ratio >= ``FIRST_NAME_RATIO``).

Words a step has used (or found ambiguous) are not read again by a later step, so "John Smith"
never also praises Joan Smith. Whoever is named gets a ``Praise`` row, and kudos (the
respondent's words, the account's name; never the respondent's name) go through the outbox to
them and to whoever they report to. Only their people's positive responses in identified
programs count: a confidential respondent's words are never sent around with their account.
"""

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from relhealth.accounts.models import (
    Account,
    AccountTeamMember,
    Person,
    Relationship,
    RelationshipKind,
    Side,
)
from relhealth.auth.models import User
from relhealth.auth.permissions import readable_accounts
from relhealth.cohorts.models import Confidentiality, Program, Wave
from relhealth.core.pagination import page_of, sorted_by
from relhealth.followup import rules
from relhealth.followup.models import Praise, PraiseMatch
from relhealth.followup.rules import FollowupSettings
from relhealth.messaging.service import queue_message, render_message
from relhealth.surveys.models import Answer, Response

QUESTION_KEY = "made_a_difference"
# A response is positive when its NPS is at least this (a passive or a promoter) ...
POSITIVE_NPS = 7
# ... or, without an NPS, when the mean of its scaled ratings is at least this.
POSITIVE_MEAN_SCALED = 60.0
# A full name spelled this close (difflib ratio, 0-1) counts: one slip in a ten-letter name
# is about 0.9, a missing letter and two swapped ones ("Jon Smiht") 0.84, other names < 0.7.
FUZZY_RATIO = 0.8
# A first name on its own is short, so one slip weighs more: ask for more.
FIRST_NAME_RATIO = 0.85
# Answers longer than this are read only this far (a name is near the start of any answer).
MAX_TEXT = 2000

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower case without accents: "José NÚÑEZ" -> "jose nunez" (NFKD, marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def words(text: str) -> list[tuple[str, str]]:
    """The words of ``text`` as (as written, normalised) pairs; punctuation splits words."""
    return [(match.group(), normalise(match.group())) for match in _WORD.finditer(text)]


@dataclass(frozen=True)
class StaffMember:
    """One of our people as the matcher sees them."""

    id: int
    first_name: str
    last_name: str
    email: str | None = None

    @property
    def full(self) -> tuple[str, ...]:
        return tuple(word for _, word in words(f"{self.first_name} {self.last_name}"))

    @property
    def first(self) -> tuple[str, ...]:
        return tuple(word for _, word in words(self.first_name))


@dataclass(frozen=True)
class Named:
    """A person an answer names, and how they were recognised."""

    person_id: int
    matched_by: PraiseMatch


def _ratio(a: str, b: str) -> float:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.ratio()


def _close(window: str, names: Mapping[int, str], threshold: float) -> set[int]:
    """The people whose name is at least ``threshold`` alike ``window`` (cheap bounds first)."""
    found = set()
    for person_id, name in names.items():
        longest, total = max(len(window), len(name)), len(window) + len(name)
        if 2 * (total - longest) / total < threshold:  # the length difference alone rules it out
            continue
        matcher = SequenceMatcher(None, window, name, autojunk=False)
        if (
            matcher.real_quick_ratio() >= threshold
            and matcher.quick_ratio() >= threshold
            and matcher.ratio() >= threshold
        ):
            found.add(person_id)
    return found


def find_named_staff(
    text: str, staff: Sequence[StaffMember], team_ids: Iterable[int] = ()
) -> list[Named]:
    """Who of ``staff`` the answer ``text`` names, in the order they are named (pure).

    ``team_ids``: the account team, among whom a first name alone may identify someone.
    Ambiguous mentions (two people equally plausible) name nobody.
    """
    text = text[:MAX_TEXT]
    found: dict[int, PraiseMatch] = {}

    by_email = {member.email.lower(): member.id for member in staff if member.email}
    for match in _EMAIL.finditer(text):
        person_id = by_email.get(match.group().lower().rstrip("."))
        if person_id is not None:
            found.setdefault(person_id, PraiseMatch.EMAIL)
    text = _EMAIL.sub(" ", text)  # an address's words are not names ("john.smith@...")

    tokens = words(text)
    used = [False] * len(tokens)

    def windows(size: int):
        for start in range(len(tokens) - size + 1):
            if not any(used[start : start + size]):
                yield start, " ".join(word for _, word in tokens[start : start + size])

    def take(start: int, size: int) -> None:
        for index in range(start, start + size):
            used[index] = True

    # Exact full names (two people of the same name: neither, unless named by e-mail).
    full_names: dict[tuple[str, ...], list[int]] = {}
    for member in staff:
        if member.full:
            full_names.setdefault(member.full, []).append(member.id)
    for size in sorted({len(name) for name in full_names}, reverse=True):
        for start, window in windows(size):
            people = full_names.get(tuple(window.split(" ")))
            if people:
                take(start, size)
                if len(people) == 1:
                    found.setdefault(people[0], PraiseMatch.NAME)

    # Close spellings of full names: one person close enough, else nobody.
    by_size: dict[int, dict[int, str]] = {}
    for name, people in full_names.items():
        for person_id in people:
            by_size.setdefault(len(name), {})[person_id] = " ".join(name)
    for size in sorted(by_size, reverse=True):
        for start, window in windows(size):
            close = _close(window, by_size[size], FUZZY_RATIO)
            if close:
                take(start, size)
                if len(close) == 1:
                    found.setdefault(close.pop(), PraiseMatch.FUZZY)

    # A capitalised first name alone, when it fits exactly one member of the account's team.
    team = set(team_ids)
    first_names = {member.id: " ".join(member.first) for member in staff if member.id in team}
    for index, (written, word) in enumerate(tokens):
        if used[index] or not written[:1].isupper() or not first_names:
            continue
        close = _close(word, first_names, FIRST_NAME_RATIO)
        if close:
            used[index] = True
            if len(close) == 1:
                found.setdefault(close.pop(), PraiseMatch.FUZZY)

    return [Named(person_id, matched_by) for person_id, matched_by in found.items()]


# Reading a response ---------------------------------------------------------------------


def is_positive(answers: Iterable[Answer]) -> bool:
    """Not a detractor: NPS >= 7, or no NPS and a mean scaled rating >= 60."""
    answers = list(answers)
    nps = rules.nps_answer(answers)
    if nps is not None:
        return nps >= POSITIVE_NPS
    mean = rules.mean_rating(answers)
    return mean is not None and mean >= POSITIVE_MEAN_SCALED


def _confidential(session: Session, wave_id: int | None) -> bool:
    if wave_id is None:  # imported history: no program, identified
        return False
    confidentiality = session.scalar(
        select(Program.confidentiality)
        .join(Wave, Wave.program_id == Program.id)
        .where(Wave.id == wave_id)
    )
    return confidentiality == Confidentiality.CONFIDENTIAL


def _active(today: dt.date):
    return or_(Person.left_on.is_(None), Person.left_on > today)


def _staff(session: Session, today: dt.date) -> list[StaffMember]:
    rows = session.execute(
        select(Person.id, Person.first_name, Person.last_name, Person.email).where(
            Person.side == Side.INTERNAL, _active(today)
        )
    )
    return [StaffMember(*row) for row in rows]


def _team(session: Session, account_id: int, today: dt.date) -> list[int]:
    return list(
        session.scalars(
            select(AccountTeamMember.person_id).where(
                AccountTeamMember.account_id == account_id,
                or_(AccountTeamMember.ended_on.is_(None), AccountTeamMember.ended_on > today),
            )
        )
    )


def managers_of(session: Session, person_id: int, today: dt.date) -> list[Person]:
    """Whom ``person_id`` reports to (active ``reports_to`` edges to people still with us)."""
    return list(
        session.scalars(
            select(Person)
            .join(Relationship, Relationship.target_id == Person.id)
            .where(
                Relationship.source_id == person_id,
                Relationship.kind == RelationshipKind.REPORTS_TO,
                or_(Relationship.ended_on.is_(None), Relationship.ended_on > today),
                Person.side == Side.INTERNAL,
                _active(today),
            )
            .order_by(Person.id)
        )
    )


def route_praise(
    session: Session, response_id: int, settings: FollowupSettings, now: dt.datetime
) -> list[Praise]:
    """Record who a positive response named and queue their kudos; flushes, never commits.

    Nothing for our own people's responses, for detractors, for confidential programs, or when
    nobody is recognisably named. Routing a response again sends nothing twice: its praise is
    returned as it stands.
    """
    response = session.get(Response, response_id)
    if response is None or response.side != Side.EXTERNAL:
        return []
    said = next(
        (
            a.text
            for a in response.answers
            if a.question_key == QUESTION_KEY and a.text and a.text.strip()
        ),
        None,
    )
    if said is None or not is_positive(response.answers):
        return []
    if _confidential(session, response.wave_id):
        return []
    existing = list(session.scalars(select(Praise).where(Praise.response_id == response_id)))
    if existing:
        return existing

    today = now.astimezone(dt.UTC).date()
    named = find_named_staff(
        said, _staff(session, today), _team(session, response.account_id, today)
    )
    if not named:
        return []
    nps = rules.nps_answer(response.answers)
    account = session.get(Account, response.account_id)
    rows = []
    for name in named:
        praise = Praise(
            response_id=response.id,
            account_id=response.account_id,
            employee_id=name.person_id,
            said=said,
            matched_by=name.matched_by,
            score=nps,
            created_at=now,
        )
        session.add(praise)
        session.flush()
        if _send_kudos(session, praise, account, today):
            praise.kudos_sent_at = now
        rows.append(praise)
    session.flush()
    return rows


def _send_kudos(session: Session, praise: Praise, account: Account, today: dt.date) -> bool:
    """Kudos to the employee and to whoever they report to; True if any was queued."""
    employee = session.get(Person, praise.employee_id)
    bosses = managers_of(session, employee.id, today)
    recipients = [(employee, False), *((boss, True) for boss in bosses)]
    queued = False
    for person, for_manager in recipients:
        if not person.email:
            continue
        subject, text, html = render_message(
            "followup/emails/kudos",
            name=person.first_name,
            employee_name=employee.name,
            for_manager=for_manager,
            account_name=account.name,
            said=praise.said,
            score=None if praise.score is None else round(praise.score),
        )
        message = queue_message(
            session,
            dedupe_key=f"kudos:{praise.id}:{person.id}",
            kind="kudos",
            to=person.email,
            subject=subject,
            text=text,
            html=html,
        )
        queued = queued or message is not None
    return queued


# Listing --------------------------------------------------------------------------------

PRAISE_SORTS = {
    "created_at": Praise.created_at,
    "account_id": Praise.account_id,
    "employee_id": Praise.employee_id,
    "score": Praise.score,
}


def praise_query(user: User, filters: Mapping[str, Any]) -> Select:
    """Praise about the accounts ``user`` may read, narrowed by account and employee."""
    stmt = select(Praise).where(
        Praise.account_id.in_(select(Account.id).where(readable_accounts(user)))
    )
    for name in ("account_id", "employee_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Praise, name) == filters[name])
    if filters.get("since") is not None:
        stmt = stmt.where(Praise.created_at >= filters["since"])
    return stmt


def list_praise(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    sort: Sequence[str] = ("-created_at",),
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Praise], int]:
    stmt = sorted_by(praise_query(user, filters), sort, PRAISE_SORTS, Praise.id.desc())
    return page_of(session, stmt, page, page_size)


def praise_by_employee(session: Session, user: User, limit: int = 10) -> list[tuple[int, int]]:
    """(employee id, times praised) of the most praised of our people, on readable accounts."""
    stmt = (
        praise_query(user, {})
        .with_only_columns(Praise.employee_id, func.count())
        .group_by(Praise.employee_id)
        .order_by(func.count().desc(), Praise.employee_id)
        .limit(limit)
    )
    return [(employee_id, count) for employee_id, count in session.execute(stmt)]


def praise_rows(session: Session, items: Sequence[Praise]) -> list[dict[str, Any]]:
    """Praise with the names a reader needs (the employee's, the account's): two queries."""
    people = dict(
        session.execute(
            select(Person.id, Person.first_name + " " + Person.last_name).where(
                Person.id.in_({p.employee_id for p in items})
            )
        ).all()
    )
    accounts = dict(
        session.execute(
            select(Account.id, Account.name).where(Account.id.in_({p.account_id for p in items}))
        ).all()
    )
    return [
        {
            "id": p.id,
            "response_id": p.response_id,
            "account_id": p.account_id,
            "account_name": accounts.get(p.account_id),
            "employee_id": p.employee_id,
            "employee_name": people.get(p.employee_id),
            "said": p.said,
            "matched_by": p.matched_by.value,
            "score": p.score,
            "kudos_sent_at": p.kudos_sent_at,
            "created_at": p.created_at,
        }
        for p in items
    ]
