"""Detractor stories for the account report: what they said, what we did, where they stand now.

A boardroom remembers a story better than a statistic. A story is a resolved detractor case of
the account: the respondent's words (their most negative comment, else their score), the action
planned and the resolution recorded on the case, and their first answer after it was resolved,
when there is one. Cases exist only in identified programs, so a story never comes from a
confidential answer.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from relhealth.accounts.models import Person
from relhealth.followup import praise, rules
from relhealth.followup.models import ActivityKind, Case, CaseActivity, CaseReason, CaseStatus
from relhealth.surveys.models import Answer, Response

LOOKBACK = dt.timedelta(days=730)  # stories of the last two years
CANDIDATES = 12  # the highest-priority resolved cases looked at for a story


@dataclass(frozen=True)
class Standing:
    """A respondent's answer: when, their NPS and their mean rating (0-100, NPS not counted)."""

    answered_at: dt.datetime
    nps: float | None
    score: float | None


@dataclass(frozen=True)
class Story:
    case_id: int
    person: str
    title: str | None
    said: str | None  # their most negative comment, as written
    before: Standing
    plan: str | None  # the action planned
    resolution: str
    resolved_at: dt.datetime
    told: bool  # the respondent was told what was done
    now: Standing | None  # their first answer after the case was resolved

    @property
    def change(self) -> float | None:
        """Points their mean rating moved from the detracting answer to the one after."""
        if self.now is None or self.now.score is None or self.before.score is None:
            return None
        return round(self.now.score - self.before.score, 1)


def _standing(session: Session, response_id: int) -> tuple[Standing, str | None]:
    rows = session.execute(
        select(
            Answer.question_type,
            Answer.question_key,
            Answer.value,
            Answer.scaled,
            Answer.text,
            Answer.sentiment,
        )
        .where(Answer.response_id == response_id)
        .order_by(Answer.id)
    ).all()
    submitted = session.scalar(select(Response.submitted_at).where(Response.id == response_id))
    comments = [
        row
        for row in rows
        if row.text
        and row.sentiment is not None
        and row.question_key != praise.QUESTION_KEY  # a name, not what they said
    ]
    worst = min(comments, key=lambda row: row.sentiment) if comments else None
    mean = rules.mean_rating(rows)
    standing = Standing(
        submitted, rules.nps_answer(rows), round(mean, 1) if mean is not None else None
    )
    return standing, worst.text if worst is not None else None


def detractor_stories(
    session: Session, account_id: int, now: dt.datetime, limit: int = 3
) -> list[Story]:
    """Up to ``limit`` stories of the account, one per person, those with an answer after
    resolution first, then the highest priority, then the most recent."""
    cases = session.scalars(
        select(Case)
        .where(
            Case.account_id == account_id,
            Case.reason == CaseReason.DETRACTOR,
            Case.status == CaseStatus.RESOLVED,
            Case.ended_at >= now - LOOKBACK,
            Case.ended_at <= now,
        )
        .order_by(Case.priority.desc(), Case.ended_at.desc())
        .limit(CANDIDATES)
    ).all()
    stories, told_of = [], set()
    for case in cases:
        if case.person_id in told_of:
            continue  # one story per person: their most important one
        told_of.add(case.person_id)
        after = session.scalar(
            select(Response.id)
            .where(Response.person_id == case.person_id, Response.submitted_at > case.ended_at)
            .where(Response.submitted_at <= now)
            .order_by(Response.submitted_at)
            .limit(1)
        )
        plan = session.scalar(
            select(CaseActivity.body)
            .where(
                CaseActivity.case_id == case.id,
                CaseActivity.kind == ActivityKind.STATUS,
                CaseActivity.to_status == CaseStatus.ACTION_PLANNED.value,
            )
            .order_by(CaseActivity.occurred_at.desc())
            .limit(1)
        )
        person = session.get(Person, case.person_id)
        before, said = _standing(session, case.response_id)
        stories.append(
            Story(
                case_id=case.id,
                person=person.name,
                title=person.title,
                said=said,
                before=before,
                plan=plan or None,
                resolution=case.resolution or "",
                resolved_at=case.ended_at,
                told=case.told_respondent_at is not None,
                now=_standing(session, after)[0] if after is not None else None,
            )
        )
    stories.sort(key=lambda story: story.now is None)  # stable: keeps priority order within
    return stories[:limit]
