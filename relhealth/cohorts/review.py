"""Listening program review: does the way we listen to each account fit the relationship?

A relationship-based or strategic account should be heard over time (a fixed panel), below
the top (more than one seniority level answering in recent waves) and from both sides (a
partner's people and ours; for a customer at least ours, or its internal-vs-external gap
cannot be measured); a transactional account is better served by event-triggered surveys.
The review lists, per account, the programs that reached it, the levels and sides actually
heard in its last two waves, panel continuity, and plain recommendations.

``review`` is pure (rows in, findings out); ``load_review`` reads the rows.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from relhealth.accounts.models import Account
from relhealth.cohorts.models import Cohort, CohortMode, Invitation, Program, Trigger, Wave
from relhealth.surveys.models import Response

RECENT_WAVES = 2


@dataclass(frozen=True)
class AccountFacts:
    id: int
    name: str
    kind: str  # customer | partner
    tier: str
    relationship_type: str


@dataclass(frozen=True)
class Reach:
    """One wave that reached an account: its program's shape and who answered."""

    account_id: int
    wave_id: int
    opens_at: dt.datetime
    program: str
    panel: bool  # the program's cohort is a fixed panel
    event_triggered: bool
    answered: frozenset[tuple[int, str, str]]  # (person, side, seniority) who responded


@dataclass
class AccountReview:
    account_id: int
    name: str
    programs: list[str] = field(default_factory=list)
    waves: int = 0
    levels_heard: list[str] = field(default_factory=list)
    sides_heard: list[str] = field(default_factory=list)
    panel_continuity: float | None = None
    recommendations: list[str] = field(default_factory=list)


def review(
    accounts: Iterable[AccountFacts], reaches: Iterable[Reach], ladder: Sequence[str]
) -> list[AccountReview]:
    """Findings per account, accounts needing the most attention first."""
    by_account = defaultdict(list)
    for reach in reaches:
        by_account[reach.account_id].append(reach)
    results = []
    for account in accounts:
        waves = sorted(by_account[account.id], key=lambda r: (r.opens_at, r.wave_id))
        recent = waves[-RECENT_WAVES:]
        heard = set().union(*(r.answered for r in recent)) if recent else set()
        levels = [level for level in ladder if any(s == level for _p, _side, s in heard)]
        sides = sorted({side for _p, side, _s in heard})
        result = AccountReview(
            account_id=account.id,
            name=account.name,
            programs=sorted({r.program for r in waves}),
            waves=len({r.wave_id for r in waves}),
            levels_heard=levels,
            sides_heard=sides,
            panel_continuity=_continuity(recent),
        )
        result.recommendations = _recommend(account, waves, levels, sides, result, ladder)
        results.append(result)
    return sorted(results, key=lambda r: (-len(r.recommendations), r.name))


def _continuity(recent: list[Reach]) -> float | None:
    """Share of the earlier recent wave's respondents who answered again in the latest."""
    if len(recent) < 2:
        return None
    before = {person for person, _side, _level in recent[0].answered}
    after = {person for person, _side, _level in recent[-1].answered}
    return round(len(before & after) / len(before), 4) if before else None


def _recommend(account, waves, levels, sides, result, ladder) -> list[str]:
    name = account.name
    deep = account.relationship_type == "relationship" or account.tier == "strategic"
    if not waves:
        advice = "add it to a panel" if deep else "add it to a program"
        return [f"Nobody at {name} has been surveyed yet: {advice}."]
    advice = []
    if not levels:
        advice.append(f"Nobody at {name} answered the last {RECENT_WAVES} waves: follow up.")
    if deep and not any(r.panel for r in waves):
        advice.append(
            f"{name} is a deep relationship but no fixed panel follows the same people there: "
            "add it to a panel."
        )
    if deep and result.waves < 2:
        advice.append(f"{name} has been heard only once: keep surveying it to see a trend.")
    if deep and len(levels) == 1:
        below = ladder[min(ladder.index(levels[0]) + 1, len(ladder) - 1)]
        advice.append(f"Only {levels[0]} level answers at {name}: add a {below}-level cohort.")
    if account.kind == "partner":
        if "internal" not in sides:
            advice.append(f"{name} is a partner but our side is never asked: add our team.")
        if "external" not in sides:
            advice.append(f"{name} is a partner but their side is never heard.")
    elif deep and levels and not _ours_heard(waves):
        advice.append(
            f"Nobody of ours on {name} answered its programs' recent waves: without our side "
            "the internal-vs-external gap cannot be measured; add our team or remind them."
        )
    if account.relationship_type == "transactional" and not any(r.event_triggered for r in waves):
        advice.append(
            f"{name} is transactional: a survey triggered by its renewal or start fits "
            "better than a recurring one."
        )
    if result.panel_continuity is not None and result.panel_continuity < 0.5:
        advice.append(
            f"Fewer than half of last wave's respondents at {name} answered again: "
            "check the panel for people who left."
        )
    return advice


def _ours_heard(waves: Sequence[Reach]) -> bool:
    """Whether any of our people answered the last ``RECENT_WAVES`` waves of any program
    (``waves`` in time order): our side is often asked in a program of its own, on its own
    rhythm, so the account's last waves overall may all be theirs."""
    by_program = defaultdict(list)
    for reach in waves:
        by_program[reach.program].append(reach)
    return any(
        side == "internal"
        for reaches in by_program.values()
        for reach in reaches[-RECENT_WAVES:]
        for _person, side, _level in reach.answered
    )


def load_review(session: Session, account_ids, ladder: Sequence[str]) -> list[AccountReview]:
    """Read the accounts ``account_ids`` (a select of ids) and every wave that reached them."""
    accounts = [
        AccountFacts(a.id, a.name, a.kind.value, a.tier.value, a.relationship_type.value)
        for a in session.scalars(select(Account).where(Account.id.in_(account_ids)))
    ]
    rows = session.execute(
        select(
            Invitation.account_id,
            Wave.id,
            Wave.opens_at,
            Program.name,
            Cohort.mode,
            Program.trigger,
        )
        .join(Wave, Wave.id == Invitation.wave_id)
        .join(Program, Program.id == Wave.program_id)
        .join(Cohort, Cohort.id == Program.cohort_id)
        .where(Invitation.account_id.in_(account_ids))
        .distinct()
    ).all()
    answered = defaultdict(set)
    for wave_id, account_id, person_id, side, seniority in session.execute(
        select(
            Response.wave_id,
            Response.account_id,
            Response.person_id,
            Response.side,
            Response.seniority,
        ).where(Response.account_id.in_(account_ids), Response.wave_id.is_not(None))
    ):
        answered[wave_id, account_id].add((person_id, side.value, seniority))
    reaches = [
        Reach(
            account_id=account_id,
            wave_id=wave_id,
            opens_at=opens_at,
            program=program,
            panel=mode == CohortMode.FIXED,
            event_triggered=trigger != Trigger.SCHEDULE,
            answered=frozenset(answered[wave_id, account_id]),
        )
        for account_id, wave_id, opens_at, program, mode, trigger in rows
    ]
    return review(accounts, reaches, ladder)
