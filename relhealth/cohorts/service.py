"""Cohorts, fixed panels and programs: the rules and the writes; waves and invitations read.

Functions take the session and validated data, flush, and leave the commit to the request or
command. Who is asked is decided in ``relhealth.cohorts.rules``; when waves open, remind and
close is ``relhealth.cohorts.tick``.
"""

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from dateutil.rrule import rrule, rrulestr
from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.orm import Session

from relhealth.accounts.models import Account, AccountTeamMember, Person, Side
from relhealth.accounts.seniority import ladder
from relhealth.analytics.suppression import rate_figures, suppress_rates
from relhealth.auth.models import Role, User
from relhealth.auth.permissions import readable_accounts
from relhealth.cohorts import rules
from relhealth.cohorts.models import (
    Cohort,
    CohortMember,
    CohortMode,
    ComplementaryCohort,
    Confidentiality,
    Invitation,
    InvitationStatus,
    Program,
    Trigger,
    Wave,
)
from relhealth.core.errors import Conflict, InvalidInput, NotFound
from relhealth.core.pagination import page_of, sorted_by
from relhealth.core.time import today_utc
from relhealth.surveys.models import Survey, SurveyVersion

DEFAULT_RRULE = "FREQ=MONTHLY;INTERVAL=3"  # quarterly
PREVIEW_SAMPLE = 20
PREVIEW_ACCOUNTS = 200  # the preview lists the accounts with the most people first

# The built-in two-way partnership listening: their people and ours on each partner's team,
# asked in the same wave with mirrored wording (their side external, ours internal).
PARTNER_TWO_WAY_RULE = {"kinds": ["partner"], "sides": ["external", "internal"]}
BUILTIN_PROGRAMS = {
    "Relationship health": {
        "survey_key": "relationship-health",
        "cohort": ("Customers, their people", CohortMode.DYNAMIC, {"kinds": ["customer"]}),
    },
    "Partner two-way": {
        "survey_key": "partner-two-way",
        "cohort": ("Partners, both sides", CohortMode.DYNAMIC, PARTNER_TWO_WAY_RULE),
    },
}


# Who may see what ----------------------------------------------------------------------------


def sees_everything(user: User) -> bool:
    return user.role in (Role.ADMIN, Role.EXECUTIVE)


def account_scope(user: User, today: dt.date | None = None) -> ColumnElement[bool] | None:
    """A WHERE clause on Account narrowing what ``user`` sees of cohorts and waves; None: all."""
    return None if sees_everything(user) else readable_accounts(user, today)


# Cohorts -------------------------------------------------------------------------------------


def clean_rule(rule: Any) -> dict[str, list]:
    return rules.validate_rule(rule, ladder())


def _members_query(
    session: Session,
    cohort: Cohort,
    today: dt.date,
    account_id: int | None = None,
    accounts: ColumnElement[bool] | None = None,
) -> Select | None:
    if cohort.mode == CohortMode.FIXED and panel_filled(session, cohort):
        return rules.panel_members_query(cohort.id, today, account_id, accounts)
    return rules.rule_members_query(cohort.rule, today, account_id, accounts)


def panel_filled(session: Session, cohort: Cohort) -> bool:
    """Whether a fixed panel has ever had members (it is filled from its rule at first use)."""
    return session.scalar(select(exists().where(CohortMember.cohort_id == cohort.id))) is True


def cohort_members(
    session: Session,
    cohort: Cohort,
    today: dt.date,
    account_id: int | None = None,
    accounts: ColumnElement[bool] | None = None,
) -> list[rules.Member]:
    """Who ``cohort`` asks as of ``today``: a filled panel's members, else its rule's matches."""
    return rules.load_members(session, _members_query(session, cohort, today, account_id, accounts))


def cohort_touches(
    session: Session, cohort: Cohort, accounts: ColumnElement[bool] | None, today: dt.date
) -> bool:
    """Whether the cohort asks anyone about an account the clause ``accounts`` selects."""
    if accounts is None:
        return True
    stmt = _members_query(session, cohort, today, accounts=accounts)
    return stmt is not None and session.scalar(select(exists(stmt.subquery().select()))) is True


def _readable_cohorts(
    session: Session, user: User, cohorts: Sequence[Cohort], today: dt.date
) -> list[Cohort]:
    scope = account_scope(user, today)
    return [c for c in cohorts if cohort_touches(session, c, scope, today)]


def list_cohorts(session: Session, user: User, today: dt.date | None = None) -> list[Cohort]:
    """Cohorts ``user`` may see: all for admins and executives, else those touching their
    accounts."""
    today = today or today_utc()
    cohorts = session.scalars(select(Cohort).order_by(Cohort.name, Cohort.id)).all()
    return _readable_cohorts(session, user, cohorts, today)


def get_cohort(session: Session, user: User, cohort_id: int) -> Cohort:
    cohort = session.get(Cohort, cohort_id)
    if cohort is None or not _readable_cohorts(session, user, [cohort], today_utc()):
        raise NotFound("No such cohort.")
    return cohort


def _check_name(session: Session, model, name: str, exclude_id: int | None = None) -> None:
    stmt = select(model.id).where(model.name == name)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise Conflict(f"The name {name!r} is already used.", {"name": ["Already used."]})


def create_cohort(session: Session, data: Mapping[str, Any]) -> Cohort:
    _check_name(session, Cohort, data["name"])
    cohort = Cohort(
        name=data["name"], mode=CohortMode(data["mode"]), rule=clean_rule(data.get("rule") or {})
    )
    session.add(cohort)
    session.flush()
    return cohort


def update_cohort(session: Session, cohort: Cohort, data: Mapping[str, Any]) -> Cohort:
    """Change a cohort. A filled panel keeps its members when the rule changes (refresh it)."""
    if "name" in data:
        _check_name(session, Cohort, data["name"], cohort.id)
        cohort.name = data["name"]
    if "mode" in data:
        cohort.mode = CohortMode(data["mode"])
    if "rule" in data:
        cohort.rule = clean_rule(data["rule"] or {})
    session.flush()
    return cohort


def delete_cohort(session: Session, cohort: Cohort) -> None:
    """Delete a cohort no program uses (its panel membership goes with it)."""
    used = session.scalar(
        select(
            exists().where(Program.cohort_id == cohort.id)
            | exists().where(ComplementaryCohort.cohort_id == cohort.id)
        )
    )
    if used:
        raise Conflict("A program uses this cohort; change the program first.")
    for member in session.scalars(select(CohortMember).where(CohortMember.cohort_id == cohort.id)):
        session.delete(member)
    session.delete(cohort)
    session.flush()


def preview_cohort(
    session: Session,
    rule: Any,
    today: dt.date,
    accounts: ColumnElement[bool] | None = None,
    sample_size: int = PREVIEW_SAMPLE,
) -> dict[str, Any]:
    """Who a rule would ask today: counts by account, side and level, flags, and a sample.

    People who would be skipped (left, not active yet, opted out, no e-mail) are counted and
    flagged, not hidden. ``accounts`` narrows it to what the caller may see.
    """
    rule = clean_rule(rule)
    members = rules.load_members(session, rules.rule_members_query(rule, today, None, accounts))
    return summarise_members(members, today, sample_size)


def summarise_members(
    members: Sequence[rules.Member], today: dt.date, sample_size: int = PREVIEW_SAMPLE
) -> dict[str, Any]:
    levels = ladder()
    flags = [m.flag(today) for m in members]
    by_account: dict[int, Counter] = defaultdict(Counter)
    names = {}
    for member in members:
        by_account[member.account_id][member.side] += 1
        names[member.account_id] = member.account_name
    by_side_and_level = {s.value: dict.fromkeys(levels, 0) for s in Side}
    for member in members:
        level = by_side_and_level[member.side]
        level[member.seniority] = level.get(member.seniority, 0) + 1
    rank = {level: i for i, level in enumerate(levels)}
    ordered = sorted(
        zip(members, flags, strict=True),
        key=lambda mf: (
            mf[0].account_name,
            mf[0].side,
            rank.get(mf[0].seniority, len(rank)),
            mf[0].last_name,
            mf[0].first_name,
        ),
    )
    accounts = sorted(by_account.items(), key=lambda item: (-sum(item[1].values()), names[item[0]]))
    return {
        "people": len({m.person_id for m in members}),
        "pairs": len(members),
        "askable": sum(flag is None for flag in flags),
        "flagged": {flag: sum(f == flag for f in flags) for flag in rules.FLAGS},
        "accounts": len(by_account),
        "by_account": [
            {
                "account_id": account_id,
                "account_name": names[account_id],
                "people": sum(counts.values()),
                "external": counts[Side.EXTERNAL.value],
                "internal": counts[Side.INTERNAL.value],
            }
            for account_id, counts in accounts[:PREVIEW_ACCOUNTS]
        ],
        "by_side": {side: sum(levels.values()) for side, levels in by_side_and_level.items()},
        "by_level": {
            level: sum(by_side_and_level[s][level] for s in by_side_and_level)
            for level in by_side_and_level[Side.EXTERNAL.value]
        },
        "by_side_and_level": by_side_and_level,
        "sample": [
            {
                "person_id": m.person_id,
                "name": m.name,
                "account_id": m.account_id,
                "account_name": m.account_name,
                "side": m.side,
                "seniority": m.seniority,
                "flag": flag,
            }
            for m, flag in ordered[:sample_size]
        ],
    }


# Fixed panels --------------------------------------------------------------------------------


def _require_fixed(cohort: Cohort) -> None:
    if cohort.mode != CohortMode.FIXED:
        raise InvalidInput.on("mode", "Only a fixed panel has members; this cohort is dynamic.")


def refresh_panel(session: Session, cohort: Cohort, today: dt.date) -> int:
    """Add to a fixed panel whoever its rule matches today and who was never on it.

    Members who left are not added; someone removed from the panel stays removed (re-add them
    by hand). Returns how many were added. The first wave of a panel fills it this way.
    """
    _require_fixed(cohort)
    known = set(
        session.execute(
            select(CohortMember.person_id, CohortMember.account_id).where(
                CohortMember.cohort_id == cohort.id
            )
        )
    )
    rows = [
        {
            "cohort_id": cohort.id,
            "person_id": m.person_id,
            "account_id": m.account_id,
            "added_on": today,
        }
        for m in rules.load_members(session, rules.rule_members_query(cohort.rule, today))
        if (m.person_id, m.account_id) not in known and m.flag(today) != rules.LEFT
    ]
    if rows:
        session.execute(CohortMember.__table__.insert(), rows)
    session.flush()
    return len(rows)


def list_panel_members(
    session: Session,
    cohort: Cohort,
    filters: Mapping[str, Any],
    page: int,
    page_size: int,
    accounts: ColumnElement[bool] | None = None,
    today: dt.date | None = None,
) -> tuple[list[CohortMember], int]:
    today = today or today_utc()
    stmt = select(CohortMember).where(CohortMember.cohort_id == cohort.id)
    if accounts is not None:
        stmt = stmt.where(CohortMember.account_id.in_(select(Account.id).where(accounts)))
    if filters.get("account_id") is not None:
        stmt = stmt.where(CohortMember.account_id == filters["account_id"])
    if filters.get("active") is not None:
        active = (CohortMember.added_on <= today) & or_(
            CohortMember.removed_on.is_(None), CohortMember.removed_on > today
        )
        stmt = stmt.where(active if filters["active"] else ~active)
    stmt = sorted_by(stmt, ["account_id"], {"account_id": CohortMember.account_id}, CohortMember.id)
    return page_of(session, stmt, page, page_size)


def add_panel_member(
    session: Session, cohort: Cohort, person_id: int, account_id: int, on: dt.date
) -> CohortMember:
    """Put someone on a fixed panel for an account; someone removed before is re-added."""
    _require_fixed(cohort)
    person = session.get(Person, person_id)
    if person is None:
        raise InvalidInput.on("person_id", "No person with this id.")
    if session.get(Account, account_id) is None:
        raise InvalidInput.on("account_id", "No account with this id.")
    if person.side == Side.EXTERNAL and person.account_id != account_id:
        raise InvalidInput.on("account_id", "Their people answer for their own account only.")
    if person.side == Side.INTERNAL:
        on_team = session.scalar(
            select(
                exists().where(
                    AccountTeamMember.account_id == account_id,
                    AccountTeamMember.person_id == person_id,
                    or_(AccountTeamMember.ended_on.is_(None), AccountTeamMember.ended_on > on),
                )
            )
        )
        if not on_team:
            raise InvalidInput.on(
                "account_id", "Our people answer for accounts whose team they are on."
            )
    member = session.scalar(
        select(CohortMember).where(
            CohortMember.cohort_id == cohort.id,
            CohortMember.person_id == person_id,
            CohortMember.account_id == account_id,
        )
    )
    if member is None:
        member = CohortMember(
            cohort_id=cohort.id, person_id=person_id, account_id=account_id, added_on=on
        )
        session.add(member)
    elif member.removed_on is None:
        raise Conflict("This person is already on the panel for this account.")
    else:  # re-adding reopens the same row: the panel keeps one row per person and account
        member.added_on = on
        member.removed_on = None
    session.flush()
    return member


def get_panel_member(session: Session, cohort: Cohort, member_id: int) -> CohortMember:
    member = session.get(CohortMember, member_id)
    if member is None or member.cohort_id != cohort.id:
        raise NotFound("No such panel member.")
    return member


def remove_panel_member(session: Session, member: CohortMember, on: dt.date) -> CohortMember:
    """Take someone off a panel from ``on`` (kept for history)."""
    if on < member.added_on:
        raise InvalidInput.on("on", "The panel member cannot leave before they were added.")
    member.removed_on = on
    session.flush()
    return member


# Programs ------------------------------------------------------------------------------------

_FREQ = re.compile(r"(?:^|;)FREQ=([A-Z]+)(?:;|$)")
_ALLOWED_FREQ = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")


def parse_rrule(text: str, starts_at: dt.datetime) -> rrule:
    """An RFC 5545 RRULE (``FREQ=MONTHLY;INTERVAL=3``) starting at ``starts_at``.

    At most one wave a day; the rule must fire at least once. InvalidInput on ``rrule``.
    """
    value = text.strip()
    value = value.removeprefix("RRULE:")
    if not value or "\n" in value or "DTSTART" in value.upper():
        raise InvalidInput.on(
            "rrule", "Give one rule such as FREQ=MONTHLY;INTERVAL=3 (starts_at is its start)."
        )
    match = _FREQ.search(value.upper())
    if match is None or match.group(1) not in _ALLOWED_FREQ:
        raise InvalidInput.on("rrule", f"FREQ must be one of {', '.join(_ALLOWED_FREQ)}.")
    try:
        parsed = rrulestr(value, dtstart=starts_at)
    except (ValueError, TypeError, OverflowError) as error:
        raise InvalidInput.on("rrule", f"Not a valid recurrence rule: {error}.") from None
    if not isinstance(parsed, rrule):
        raise InvalidInput.on("rrule", "Give one rule, not a set of rules.")
    if parsed.after(starts_at, inc=True) is None:
        raise InvalidInput.on("rrule", "The rule never fires after starts_at.")
    return parsed


def program_rule(program: Program) -> rrule:
    return rrulestr(program.rrule, dtstart=program.starts_at)


def next_occurrence(program: Program, after: dt.datetime) -> dt.datetime | None:
    """When a schedule program's next wave opens (None for event-triggered programs)."""
    if program.trigger != Trigger.SCHEDULE or not program.active:
        return None
    return program_rule(program).after(after, inc=False)


PROGRAM_DEFAULTS = {
    "rrule": DEFAULT_RRULE,
    "open_days": 14,
    "reminder_days": [7],
    "fatigue_days": 90,
    "confidentiality": Confidentiality.IDENTIFIED.value,
    "min_group_size": 3,
    "trigger": Trigger.SCHEDULE.value,
    "trigger_days": None,
    "active": True,
}


def _validate_program(session: Session, values: dict[str, Any]) -> None:
    """Check a program's settings together; all problems in one InvalidInput."""
    errors: dict[str, list[str]] = {}
    if session.get(Survey, values["survey_id"]) is None:
        errors["survey_id"] = ["No survey with this id."]
    if session.get(Cohort, values["cohort_id"]) is None:
        errors["cohort_id"] = ["No cohort with this id."]
    for cohort_id in values.get("complementary_cohort_ids") or []:
        if session.get(Cohort, cohort_id) is None:
            errors.setdefault("complementary_cohort_ids", []).append(f"No cohort {cohort_id}.")
        elif cohort_id == values["cohort_id"]:
            errors.setdefault("complementary_cohort_ids", []).append(
                "The program's own cohort is not complementary to itself."
            )
    if values["starts_at"].tzinfo is None:
        errors["starts_at"] = ["Give a time zone (UTC: 2027-01-04T09:00:00Z)."]
    elif values["trigger"] == Trigger.SCHEDULE:
        try:
            parse_rrule(values["rrule"], values["starts_at"])
        except InvalidInput as error:
            errors.update(error.fields)
    reminders = values["reminder_days"]
    if any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in reminders):
        errors["reminder_days"] = ["Reminders are whole days after opening, 1 or more."]
    elif any(d >= values["open_days"] for d in reminders):
        errors["reminder_days"] = [
            f"Each reminder must come before the wave closes (fewer than {values['open_days']} "
            "days after opening)."
        ]
    elif len(set(reminders)) != len(reminders):
        errors["reminder_days"] = ["List each reminder day once."]
    if values["trigger"] != Trigger.SCHEDULE and values.get("trigger_days") is None:
        errors["trigger_days"] = ["An event trigger needs its number of days."]
    if errors:
        raise InvalidInput("The program is not valid.", errors)


def _set_complementary(
    session: Session, program: Program, cohort_ids: Sequence[int], today: dt.date
) -> None:
    keep = {c.cohort_id: c for c in program.complementary if c.cohort_id in cohort_ids}
    program.complementary = [
        keep.get(cohort_id) or ComplementaryCohort(cohort_id=cohort_id, added_on=today)
        for cohort_id in dict.fromkeys(cohort_ids)
    ]


def create_program(session: Session, data: Mapping[str, Any], today: dt.date) -> Program:
    values = {**PROGRAM_DEFAULTS, **data}
    _check_name(session, Program, values["name"])
    _validate_program(session, values)
    complementary = values.pop("complementary_cohort_ids", None) or []
    if values["trigger"] == Trigger.SCHEDULE:
        values["trigger_days"] = None
    values["rrule"] = values["rrule"].strip().removeprefix("RRULE:")
    values["reminder_days"] = sorted(values["reminder_days"])
    program = Program(**values)
    session.add(program)
    _set_complementary(session, program, complementary, today)
    session.flush()
    return program


PROGRAM_FIELDS = (
    "name",
    "survey_id",
    "cohort_id",
    "rrule",
    "starts_at",
    "open_days",
    "reminder_days",
    "fatigue_days",
    "confidentiality",
    "min_group_size",
    "trigger",
    "trigger_days",
    "active",
)


def update_program(
    session: Session, program: Program, data: Mapping[str, Any], today: dt.date
) -> Program:
    """Change a program; waves already opened keep what they froze."""
    values = {name: getattr(program, name) for name in PROGRAM_FIELDS}
    values["complementary_cohort_ids"] = [c.cohort_id for c in program.complementary]
    values.update(data)
    if "name" in data:
        _check_name(session, Program, data["name"], program.id)
    _validate_program(session, values)
    complementary = values.pop("complementary_cohort_ids")
    if values["trigger"] == Trigger.SCHEDULE:
        values["trigger_days"] = None
    values["rrule"] = values["rrule"].strip().removeprefix("RRULE:")
    values["reminder_days"] = sorted(values["reminder_days"])
    for name, value in values.items():
        setattr(program, name, value)
    _set_complementary(session, program, complementary, today)
    session.flush()
    return program


def delete_program(session: Session, program: Program) -> None:
    """Delete a program that never opened a wave; one with history is deactivated instead."""
    if session.scalar(select(exists().where(Wave.program_id == program.id))):
        raise Conflict("This program has waves; set active to false to stop it instead.")
    session.delete(program)
    session.flush()


def program_cohorts(session: Session, program: Program, today: dt.date) -> list[Cohort]:
    """The program's cohort and the complementary cohorts added by ``today``."""
    extra = [c.cohort_id for c in program.complementary if c.added_on <= today]
    cohorts = [program.cohort]
    if extra:
        cohorts += session.scalars(select(Cohort).where(Cohort.id.in_(extra)).order_by(Cohort.id))
    return cohorts


def _readable_programs(
    session: Session, user: User, programs: Sequence[Program], today: dt.date
) -> list[Program]:
    scope = account_scope(user, today)
    if scope is None:
        return list(programs)
    return [
        p
        for p in programs
        if any(cohort_touches(session, c, scope, today) for c in program_cohorts(session, p, today))
        or session.scalar(
            select(
                exists().where(
                    Invitation.wave_id.in_(select(Wave.id).where(Wave.program_id == p.id)),
                    Invitation.account_id.in_(select(Account.id).where(scope)),
                )
            )
        )
    ]


def list_programs(session: Session, user: User, today: dt.date | None = None) -> list[Program]:
    today = today or today_utc()
    programs = session.scalars(select(Program).order_by(Program.name, Program.id)).all()
    return _readable_programs(session, user, programs, today)


def get_program(session: Session, user: User, program_id: int) -> Program:
    program = session.get(Program, program_id)
    if program is None or not _readable_programs(session, user, [program], today_utc()):
        raise NotFound("No such program.")
    return program


def latest_version(session: Session, survey_id: int) -> SurveyVersion | None:
    return session.scalar(
        select(SurveyVersion)
        .where(SurveyVersion.survey_id == survey_id)
        .order_by(SurveyVersion.number.desc())
        .limit(1)
    )


def create_builtin_program(
    session: Session, name: str, starts_at: dt.datetime, today: dt.date
) -> Program:
    """One of ``BUILTIN_PROGRAMS`` with its dynamic cohort, on the shipped survey template."""
    spec = BUILTIN_PROGRAMS[name]
    survey = session.scalar(select(Survey).where(Survey.key == spec["survey_key"]))
    if survey is None:
        raise NotFound(f"The survey template {spec['survey_key']!r} is not installed.")
    cohort_name, mode, rule = spec["cohort"]
    cohort = session.scalar(select(Cohort).where(Cohort.name == cohort_name))
    if cohort is None:
        cohort = create_cohort(session, {"name": cohort_name, "mode": mode, "rule": rule})
    return create_program(
        session,
        {"name": name, "survey_id": survey.id, "cohort_id": cohort.id, "starts_at": starts_at},
        today,
    )


# Waves and invitations -----------------------------------------------------------------------


def list_waves(session: Session, program: Program) -> list[Wave]:
    return list(
        session.scalars(
            select(Wave).where(Wave.program_id == program.id).order_by(Wave.opens_at, Wave.id)
        )
    )


def get_wave(session: Session, user: User, wave_id: int) -> Wave:
    """A wave ``user`` may see: admins and executives any, others one touching their accounts."""
    wave = session.get(Wave, wave_id)
    scope = account_scope(user)
    if wave is not None and scope is not None:
        touches = session.scalar(
            select(
                exists().where(
                    Invitation.wave_id == wave.id,
                    Invitation.account_id.in_(select(Account.id).where(scope)),
                )
            )
        )
        if not touches:
            wave = None
    if wave is None:
        raise NotFound("No such wave.")
    return wave


def wave_counts(
    session: Session, wave: Wave, accounts: ColumnElement[bool] | None = None
) -> dict[str, Any]:
    """Invitations and responses of a wave: totals, skips by reason, and by side and level.

    In a confidential program the analytics rule applies (``suppress_rates``): a group with
    fewer than k respondents is suppressed, and when one side (or one level) is the only
    hidden group of its breakdown, the smallest published group of that breakdown is hidden
    too, so the total minus the published groups does not give it back. A suppressed total
    also hides the awaiting and expired counts.
    """
    stmt = select(
        Invitation.status,
        Invitation.skip_reason,
        Invitation.side,
        Invitation.seniority,
        func.count(),
    ).where(Invitation.wave_id == wave.id)
    if accounts is not None:
        stmt = stmt.where(Invitation.account_id.in_(select(Account.id).where(accounts)))
    rows = session.execute(
        stmt.group_by(
            Invitation.status, Invitation.skip_reason, Invitation.side, Invitation.seniority
        )
    ).all()
    program = wave.program
    k = program.min_group_size if program.confidentiality == Confidentiality.CONFIDENTIAL else 1
    total, by_side, by_level, skipped = (
        Counter(),
        defaultdict(Counter),
        defaultdict(Counter),
        Counter(),
    )
    for status, reason, side, seniority, count in rows:
        total[status] += count
        by_side[Side(side).value][status] += count
        by_level[seniority][status] += count
        if status == InvitationStatus.SKIPPED:
            skipped[reason] += count
    levels = [level for level in ladder() if level in by_level] + sorted(
        set(by_level) - set(ladder())
    )
    # One table of counts: the total, then each breakdown; a breakdown is a partition of it.
    groups = [("total", None, total)]
    groups += [("side", side, by_side[side]) for side in sorted(by_side)]
    groups += [("level", level, by_level[level]) for level in levels]
    counts = pd.DataFrame(
        [
            (
                breakdown,
                group,
                sum(n for status, n in statuses.items() if status != InvitationStatus.SKIPPED),
                statuses[InvitationStatus.RESPONDED],
                k,
            )
            for breakdown, group, statuses in groups
        ],
        columns=["breakdown", "group", "invited", "responded", "k"],
    )
    table = suppress_rates(counts, ["group"], keys=["breakdown", "group"])
    figures = [rate_figures(row) for row in table.to_dict("records")]
    summary, sides, rest = figures[0], figures[1 : 1 + len(by_side)], figures[1 + len(by_side) :]
    return {
        **summary,
        "awaiting": None if summary["suppressed"] else total[InvitationStatus.INVITED],
        "expired": None if summary["suppressed"] else total[InvitationStatus.EXPIRED],
        "skipped": sum(skipped.values()),
        "skipped_by_reason": dict(sorted(skipped.items())),
        "by_side": dict(zip(sorted(by_side), sides, strict=True)),
        "by_level": dict(zip(levels, rest, strict=True)),
    }


INVITATION_SORTS = {
    "id": Invitation.id,
    "status": Invitation.status,
    "account_id": Invitation.account_id,
    "invited_at": Invitation.invited_at,
}


def list_invitations(
    session: Session,
    wave: Wave,
    filters: Mapping[str, Any],
    sort: Sequence[str],
    page: int,
    page_size: int,
    accounts: ColumnElement[bool] | None = None,
) -> tuple[list[Invitation], int]:
    stmt = select(Invitation).where(Invitation.wave_id == wave.id)
    if accounts is not None:
        stmt = stmt.where(Invitation.account_id.in_(select(Account.id).where(accounts)))
    for name in ("status", "side", "account_id", "skip_reason", "seniority"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Invitation, name) == filters[name])
    return page_of(session, sorted_by(stmt, sort, INVITATION_SORTS, Invitation.id), page, page_size)
