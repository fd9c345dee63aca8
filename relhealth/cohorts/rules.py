"""Cohort rules: who a rule asks, evaluated in SQL into (person, account) pairs.

A rule is a JSON object with optional lists; a missing or empty list allows anything:

- ``account_ids``, ``kinds``, ``tiers``, ``relationship_types``: which accounts;
- ``sides``: ``external`` (their people) and/or ``internal`` (our people on the account team);
- ``seniorities``: levels of the configured ladder;
- ``roles``: stakeholder roles (decision_maker, champion ...) and, for our people, team roles
  (owner, executive_sponsor, member); a person matches with any one of them.

Their people answer for their account; our people answer once for each account whose active
team they are on. People who left in the last year, opted out, are not active yet or have no
e-mail address still match, with a flag (``left``, ``opted_out``, ``inactive``, ``no_email``):
the preview shows them and a wave records them as skipped with that reason.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    exists,
    false,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from relhealth.accounts.models import (
    Account,
    AccountKind,
    AccountTeamMember,
    Person,
    PersonRole,
    RelationshipType,
    Side,
    StakeholderRole,
    TeamRole,
    Tier,
)
from relhealth.cohorts.models import CohortMember
from relhealth.core.errors import InvalidInput

# Someone who left within this many days still shows (flagged ``left``), so a wave records that
# they were not asked; people who left longer ago are no longer part of the account.
LEFT_RECENTLY_DAYS = 365

ROLE_VALUES = tuple(r.value for r in StakeholderRole) + tuple(r.value for r in TeamRole)
RULE_KEYS = (
    "account_ids",
    "kinds",
    "tiers",
    "relationship_types",
    "sides",
    "seniorities",
    "roles",
)
_CHOICES = {
    "kinds": tuple(k.value for k in AccountKind),
    "tiers": tuple(t.value for t in Tier),
    "relationship_types": tuple(r.value for r in RelationshipType),
    "sides": tuple(s.value for s in Side),
    "roles": ROLE_VALUES,
}

# Why a matching person is not asked, in the order they are checked.
LEFT, INACTIVE, OPTED_OUT, NO_EMAIL, FATIGUE = (
    "left",
    "inactive",
    "opted_out",
    "no_email",
    "fatigue",
)
FLAGS = (LEFT, INACTIVE, OPTED_OUT, NO_EMAIL)
SKIP_REASONS = (*FLAGS, FATIGUE)


def validate_rule(rule: Any, ladder: Sequence[str]) -> dict[str, list]:
    """A clean copy of ``rule`` (known keys, de-duplicated lists); InvalidInput otherwise.

    Field messages are keyed ``rule.<key>`` so an API client sees which list is wrong.
    """
    if not isinstance(rule, Mapping):
        raise InvalidInput.on("rule", 'A rule is an object of lists, e.g. {"sides": [...]}.')
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(rule) - set(RULE_KEYS))
    if unknown:
        errors["rule"] = [f"Unknown keys: {', '.join(unknown)}; use {', '.join(RULE_KEYS)}."]
    clean: dict[str, list] = {}
    choices = {**_CHOICES, "seniorities": tuple(ladder)}
    for key in RULE_KEYS:
        values = rule.get(key)
        if values is None:
            continue
        if not isinstance(values, list):
            errors[f"rule.{key}"] = ["Give a list."]
            continue
        if key == "account_ids":
            if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
                errors[f"rule.{key}"] = ["Account ids are positive integers."]
                continue
        else:
            wrong = [v for v in values if v not in choices[key]]
            if wrong:
                errors[f"rule.{key}"] = [
                    f"Unknown {', '.join(map(str, wrong))}; use {', '.join(choices[key])}."
                ]
                continue
        if values:
            clean[key] = sorted(set(values), key=values.index)
    if errors:
        raise InvalidInput("The cohort rule is not valid.", errors)
    return clean


class Member(NamedTuple):
    """One (person, account) pair a cohort asks, with what decides whether they are asked.

    A named tuple: a wave makes one for each of up to 100,000 pairs.
    """

    person_id: int
    account_id: int
    side: str
    seniority: str
    first_name: str
    last_name: str
    email: str | None
    opted_out: bool
    left_on: dt.date | None
    active_from: dt.date | None
    departed: bool  # a panel member no longer at that account (moved, off its team)
    account_name: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def flag(self, today: dt.date) -> str | None:
        """Why this person cannot be asked as of ``today`` (fatigue aside), or None."""
        if self.departed or (self.left_on is not None and self.left_on <= today):
            return LEFT
        if self.active_from is not None and self.active_from > today:
            return INACTIVE
        if self.opted_out:
            return OPTED_OUT
        if not self.email:
            return NO_EMAIL
        return None


def _member_columns(account_id, departed: ColumnElement[bool]) -> tuple:
    return (
        Person.id.label("person_id"),
        account_id.label("account_id"),
        type_coerce(Person.side, String).label("side"),  # plain text: no enum per row
        Person.seniority.label("seniority"),
        Person.first_name.label("first_name"),
        Person.last_name.label("last_name"),
        Person.email.label("email"),
        Person.opted_out.label("opted_out"),
        Person.left_on.label("left_on"),
        Person.active_from.label("active_from"),
        departed.label("departed"),
        Account.name.label("account_name"),
    )


def _active(end_column, today: dt.date) -> ColumnElement[bool]:
    return or_(end_column.is_(None), end_column > today)


def _account_filter(rule: Mapping[str, list], today: dt.date) -> list[ColumnElement[bool]]:
    clauses = [_active(Account.ended_on, today)]
    for key, column in (
        ("account_ids", Account.id),
        ("kinds", Account.kind),
        ("tiers", Account.tier),
        ("relationship_types", Account.relationship_type),
    ):
        if rule.get(key):
            clauses.append(column.in_(rule[key]))
    return clauses


def _person_filter(rule: Mapping[str, list], today: dt.date) -> list[ColumnElement[bool]]:
    recent = today - dt.timedelta(days=LEFT_RECENTLY_DAYS)
    clauses = [or_(Person.left_on.is_(None), Person.left_on > recent)]
    if rule.get("seniorities"):
        clauses.append(Person.seniority.in_(rule["seniorities"]))
    return clauses


def _has_stakeholder_role(roles: Sequence[str]) -> ColumnElement[bool]:
    wanted = [r for r in roles if r in {s.value for s in StakeholderRole}]
    if not wanted:
        return false()
    return exists().where(PersonRole.person_id == Person.id, PersonRole.role.in_(wanted))


def rule_members_query(
    rule: Mapping[str, list],
    today: dt.date,
    account_id: int | None = None,
    accounts: ColumnElement[bool] | None = None,
) -> Select | None:
    """The pairs ``rule`` matches as of ``today`` (one SELECT, a UNION of both sides).

    ``account_id`` narrows it to one account (event-triggered waves); ``accounts`` is an extra
    WHERE clause on Account (what a user may read). None when the rule allows no side.
    """
    sides = rule.get("sides") or [s.value for s in Side]
    roles = rule.get("roles") or []
    account_clauses = _account_filter(rule, today)
    if account_id is not None:
        account_clauses.append(Account.id == account_id)
    if accounts is not None:
        account_clauses.append(accounts)
    parts = []
    if Side.EXTERNAL in sides:
        stmt = (
            select(*_member_columns(Person.account_id, literal(False)))
            .join(Account, Account.id == Person.account_id)
            .where(Person.side == Side.EXTERNAL, *account_clauses, *_person_filter(rule, today))
        )
        if roles:
            stmt = stmt.where(_has_stakeholder_role(roles))
        parts.append(stmt)
    if Side.INTERNAL in sides:
        team_roles = [r for r in roles if r in {t.value for t in TeamRole}]
        stmt = (
            select(*_member_columns(AccountTeamMember.account_id, literal(False)))
            .join(Person, Person.id == AccountTeamMember.person_id)
            .join(Account, Account.id == AccountTeamMember.account_id)
            .where(
                Person.side == Side.INTERNAL,
                or_(AccountTeamMember.started_on.is_(None), AccountTeamMember.started_on <= today),
                _active(AccountTeamMember.ended_on, today),
                *account_clauses,
                *_person_filter(rule, today),
            )
        )
        if roles:
            stmt = stmt.where(
                or_(
                    _has_stakeholder_role(roles),
                    AccountTeamMember.role.in_(team_roles) if team_roles else false(),
                )
            )
        parts.append(stmt)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts[0].union_all(parts[1])


def panel_members_query(
    cohort_id: int,
    today: dt.date,
    account_id: int | None = None,
    accounts: ColumnElement[bool] | None = None,
) -> Select:
    """A fixed panel's current members as of ``today``, whatever the rule matches now.

    A member who is no longer at that account (their people: moved; ours: off its team; or the
    account ended) is ``departed`` and so skipped as ``left``.
    """
    on_team = exists().where(
        AccountTeamMember.account_id == CohortMember.account_id,
        AccountTeamMember.person_id == CohortMember.person_id,
        _active(AccountTeamMember.ended_on, today),
    )
    still_there = and_(
        _active(Account.ended_on, today),
        or_(
            and_(Person.side == Side.EXTERNAL, Person.account_id == CohortMember.account_id),
            and_(Person.side == Side.INTERNAL, on_team),
        ),
    )
    stmt = (
        select(*_member_columns(CohortMember.account_id, ~still_there))
        .join(Person, Person.id == CohortMember.person_id)
        .join(Account, Account.id == CohortMember.account_id)
        .where(
            CohortMember.cohort_id == cohort_id,
            CohortMember.added_on <= today,
            _active(CohortMember.removed_on, today),
        )
    )
    if account_id is not None:
        stmt = stmt.where(CohortMember.account_id == account_id)
    if accounts is not None:
        stmt = stmt.where(accounts)
    return stmt


def load_members(session: Session, stmt: Select | None) -> list[Member]:
    """Run a members query; pairs come back in a stable order (account, side, person)."""
    if stmt is None:
        return []
    query = stmt.subquery()
    rows = session.execute(
        select(query).order_by(query.c.account_id, query.c.side, query.c.person_id)
    )
    return [Member(*row) for row in rows]  # the columns come in Member's order
