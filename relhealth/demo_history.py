"""Bulk survey history for benchmarks and big demos: years of answers in seconds, not hours.

``relhealth.demo.seed_survey_history`` runs the real scheduler tick and submits every answer
through the survey service: right for the demo, far too slow for the 400,000 responses of a
2,000-account benchmark (``bench/analytics.py``). ``bulk_survey_history`` writes the same kind
of history for an already-seeded portfolio straight into the tables, with COPY on PostgreSQL
(``relhealth.core.bulk``): one program asking the "Relationship health" survey of everyone on
both sides of every account, quarterly closed waves, their invitations (responded, expired or
skipped with the scheduler's reasons), the responses with side and seniority frozen at answer
time, and their answers (NPS, the seven rated dimensions, sometimes text, with its sentiment).

The answers follow the demo's model (the same helpers): some accounts decline, some improve;
our people see things rosier than theirs; executives are more critical than the line; people
answer with their own regularity, and a few of their people leave before each wave.

What it does not write: e-mails (no outbox history), reminders as messages (only the counters
on the invitations), stakeholder-graph snapshots, panel membership (the cohort is dynamic).
For benchmarks and demos only: it trusts its input (no answer validation, no permission
checks) and must run on a portfolio without survey history of its own.
"""

import datetime as dt
import functools
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from relhealth.accounts.models import Person, Relationship, Side
from relhealth.analytics.text import sentiment
from relhealth.cohorts import rules
from relhealth.cohorts.models import Invitation, InvitationStatus, Wave, WaveStatus
from relhealth.cohorts.service import create_cohort, create_program, latest_version
from relhealth.core import bulk, memory
from relhealth.demo import (
    DEMO_OPEN_DAYS,
    QUARTERS,
    _latent_score,
    _new_mood,
    _quarter_starts,
    _responds,
    _simulated_answers,
    _team_names,
)
from relhealth.surveys.builtin import RELATIONSHIP_HEALTH, install_builtin_surveys
from relhealth.surveys.models import Answer, QuestionType, Response, ResponseSource
from relhealth.surveys.service import freeze_version, scale_of, scaled_value, survey_by_key

HISTORY_PROGRAM = "Relationship health, everyone (history)"
HISTORY_COHORT = "Every account, both sides (history)"
HISTORY_RULE = {"sides": [Side.EXTERNAL.value, Side.INTERNAL.value]}
LEAVERS_PER_WAVE = 0.02  # of their people still there, before every wave but the first
REMINDER_DAY = 7  # the program's default reminder, a week after a wave opens
CHUNK = 20_000  # invitations written per round trip


@functools.cache
def _sentiment(text: str) -> float | None:
    return sentiment(text)  # the texts repeat: score each once


class _Simulation:
    """The demo's model of how people answer, with its random state."""

    def __init__(self, session: Session, seed: int, questions: Sequence):
        self.rng = random.Random(seed * 7919)  # noqa: S311 -- reproducible demo data
        self.questions = questions
        account_ids = session.scalars(
            select(Person.account_id).where(Person.account_id.is_not(None)).distinct()
        ).all()
        self.moods = {account_id: _new_mood(self.rng) for account_id in sorted(account_ids)}
        self.person_effect: dict[int, float] = defaultdict(lambda: self.rng.gauss(0, 6))
        self.propensity: dict[int, float] = defaultdict(lambda: self.rng.betavariate(6, 2))
        self.team_names = _team_names(session)

    def invitation(self, wave: Wave, member: rules.Member, quarter: int):
        """(invitation row, answers or None): what became of one member's invitation."""
        row = {
            "wave_id": wave.id,
            "person_id": member.person_id,
            "account_id": member.account_id,
            "side": member.side,
            "seniority": member.seniority,
            "status": InvitationStatus.EXPIRED.value,
            "skip_reason": None,
            "token_hash": None,  # the links of a closed wave no longer work
            "expires_at": wave.closes_at,
            "invited_at": wave.opens_at,
            "reminders_sent": 0,
            "last_reminded_at": None,
            "responded_at": None,
        }
        reason = member.flag(wave.opens_at.date())
        if reason is not None:
            row.update(status=InvitationStatus.SKIPPED.value, skip_reason=reason)
            row.update(expires_at=None, invited_at=None)
            return row, None
        rng = self.rng
        external = member.side == Side.EXTERNAL.value
        executive = member.seniority == "executive"
        reminded = wave.opens_at + dt.timedelta(days=REMINDER_DAY)
        if not _responds(rng, self.propensity[member.person_id], external, executive):
            row.update(reminders_sent=1, last_reminded_at=reminded)
            return row, None
        mood = self.moods[member.account_id]
        effect = self.person_effect[member.person_id]
        score = _latent_score(mood, quarter, effect, external, executive)
        answers = _simulated_answers(
            rng, self.questions, mood, score, external, self.team_names[member.account_id]
        )
        submitted = wave.opens_at + dt.timedelta(
            days=rng.randint(0, DEMO_OPEN_DAYS - 2), hours=rng.randint(0, 8)
        )
        row.update(status=InvitationStatus.RESPONDED.value, responded_at=submitted)
        if submitted > reminded:
            row.update(reminders_sent=1, last_reminded_at=reminded)
        return row, answers

    def leavers(self, session: Session, today: dt.date) -> int:
        """A few of their people leave before a wave: their links end the same day.

        ``relhealth.accounts.service.end_person`` in bulk (their people are on no team of ours).
        """
        active = session.execute(
            select(Person.id, Person.active_from)
            .where(
                Person.side == Side.EXTERNAL,
                or_(Person.left_on.is_(None), Person.left_on > today),
            )
            .order_by(Person.id)
        ).all()
        if not active:
            return 0
        leaving = self.rng.sample(active, k=max(1, round(len(active) * LEAVERS_PER_WAVE)))
        rows = []
        for person_id, active_from in leaving:
            left = today - dt.timedelta(days=self.rng.randint(5, 40))
            rows.append({"id": person_id, "left_on": max(left, active_from or left)})
        session.execute(update(Person), rows)
        ids = [row["id"] for row in rows]
        for start in range(0, len(ids), 5_000):
            part = ids[start : start + 5_000]
            session.execute(
                update(Relationship)
                .where(
                    or_(Relationship.source_id.in_(part), Relationship.target_id.in_(part)),
                    or_(Relationship.ended_on.is_(None), Relationship.ended_on > today),
                )
                .values(ended_on=today)
            )
        return len(rows)


def bulk_survey_history(
    session: Session,
    *,
    today: dt.date | None = None,
    waves: int = QUARTERS,
    seed: int = 7,
) -> dict[str, int]:
    """Write ``waves`` closed quarterly waves of one program over every account; return counts.

    The portfolio (accounts, people, account teams) must already be seeded
    (``relhealth.demo.seed_database``). Waves open on the first day of a quarter; the last is
    the last quarter whose window had closed by ``today``. Commits nothing (the caller does).
    """
    today = today or dt.date.today()
    install_builtin_surveys(session)
    survey = survey_by_key(session, RELATIONSHIP_HEALTH.key)
    version = latest_version(session, survey.id)
    starts = _quarter_starts(today - dt.timedelta(days=DEMO_OPEN_DAYS), waves)
    freeze_version(session, version, starts[0])
    cohort = create_cohort(
        session, {"name": HISTORY_COHORT, "mode": "dynamic", "rule": HISTORY_RULE}
    )
    program = create_program(
        session,
        {
            "name": HISTORY_PROGRAM,
            "survey_id": survey.id,
            "cohort_id": cohort.id,
            "starts_at": starts[0],
            "open_days": DEMO_OPEN_DAYS,
            "reminder_days": [REMINDER_DAY],
            "fatigue_days": 0,
        },
        today,
    )
    simulation = _Simulation(session, seed, [_Question.of(q) for q in version.questions])
    counts = dict.fromkeys(
        ("waves", "invitations", "skipped", "responses", "answers", "people left"), 0
    )
    for quarter, opens in enumerate(starts):
        if quarter:
            counts["people left"] += simulation.leavers(session, opens.date())
        closes = opens + dt.timedelta(days=DEMO_OPEN_DAYS)
        wave = Wave(
            program_id=program.id,
            occurrence=opens.isoformat(),  # as the scheduler names a scheduled occurrence
            survey_version_id=version.id,
            opens_at=opens,
            closes_at=closes,
            status=WaveStatus.CLOSED,
            created_at=opens,
            closed_at=closes,
        )
        session.add(wave)
        session.flush()
        counts["waves"] += 1
        members = rules.load_members(session, rules.rule_members_query(HISTORY_RULE, opens.date()))
        for start in range(0, len(members), CHUNK):
            written = _write_chunk(
                session, simulation, wave, version, members[start : start + CHUNK], quarter
            )
            for key, value in written.items():
                counts[key] += value
    session.flush()
    return counts


@memory.paused_gc()
def _write_chunk(session, simulation, wave, version, members, quarter) -> dict[str, int]:
    """Invitations of ``members``, then the responses of those who answered, then answers."""
    invitations, given = [], []
    for member in members:
        row, answers = simulation.invitation(wave, member, quarter)
        invitations.append(row)
        given.append(answers)
    ids = bulk.insert_rows_returning_ids(session, Invitation.__table__, invitations)
    answered = [
        (invitation_id, row, answers)
        for invitation_id, row, answers in zip(ids, invitations, given, strict=True)
        if answers is not None
    ]
    responses = [
        {
            "invitation_id": invitation_id,
            "wave_id": row["wave_id"],
            "survey_version_id": version.id,
            "person_id": row["person_id"],
            "account_id": row["account_id"],
            "side": row["side"],
            "seniority": row["seniority"],
            "submitted_at": row["responded_at"],
            "source": ResponseSource.FORM.value,
            "external_ref": None,
        }
        for invitation_id, row, _answers in answered
    ]
    response_ids = bulk.insert_rows_returning_ids(session, Response.__table__, responses)
    answers = bulk.insert_rows(
        session,
        Answer.__table__,
        _answer_rows(
            simulation.questions, zip(response_ids, (a for _, _, a in answered), strict=True)
        ),
    )
    return {
        "invitations": len(invitations),
        "skipped": sum(row["status"] == InvitationStatus.SKIPPED.value for row in invitations),
        "responses": len(response_ids),
        "answers": answers,
    }


class _Question(NamedTuple):
    """What the simulation and the rows need of a question, read once (not per answer)."""

    key: str
    type: QuestionType
    dimension: str | None
    scale_min: int | None
    scale_max: int | None
    options: list | None
    scale: tuple[int, int] | None

    @classmethod
    def of(cls, question) -> "_Question":
        return cls(
            question.key,
            QuestionType(question.type),
            question.dimension,
            question.scale_min,
            question.scale_max,
            question.options,
            scale_of(question),
        )


def _answer_rows(questions: Sequence[_Question], answered) -> Iterator[dict]:
    """Answer rows as ``relhealth.surveys.service.answer_rows`` makes them (the same columns
    and scaling), made while they are written; each distinct text is scored once."""
    for response_id, answers in answered:
        for question in questions:
            value = answers.get(question.key)
            if value is None:
                continue
            row = {
                "response_id": response_id,
                "question_key": question.key,
                "question_type": question.type.value,
                "dimension": question.dimension,
                "value": None,
                "scaled": None,
                "text": None,
                "choices": None,
                "sentiment": None,
            }
            if question.scale is not None:
                row["value"] = float(value)
                row["scaled"] = scaled_value(value, *question.scale)
            elif question.type == QuestionType.TEXT:
                row["text"] = value
                row["sentiment"] = _sentiment(value)
            else:
                row["choices"] = [value] if isinstance(value, str) else list(value)
            yield row
