"""The demo's closed loop: cases in every state with their timelines, praise, a finished
experiment, and nothing left waiting in the outbox."""

import datetime as dt

from sqlalchemy import func, select

from relhealth.demo import generate_portfolio, seed_database, seed_survey_history
from relhealth.demo_followup import seed_followup
from relhealth.followup.models import (
    ActivityKind,
    Arm,
    Case,
    CaseActivity,
    CaseStatus,
    CaseTag,
    Experiment,
    ExperimentAssignment,
    ExperimentStatus,
    Praise,
)
from relhealth.messaging.models import MessageStatus, OutboxMessage

TODAY = dt.date(2026, 11, 26)


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_demo_has_cases_in_every_state_praise_and_a_finished_experiment(session):
    seed_database(session, generate_portfolio(seed=5, accounts=6, today=TODAY))
    session.commit()
    seed_survey_history(session, TODAY, seed=5)

    counts = seed_followup(session, TODAY, seed=5)

    assert counts["follow-up cases"] == count(session, Case) > 0
    statuses = set(session.scalars(select(Case.status).distinct()))
    assert statuses == set(CaseStatus)
    resolved = session.scalars(select(Case).where(Case.status == CaseStatus.RESOLVED)).all()
    assert all(case.resolution and case.first_contact_at for case in resolved)
    assert any(case.told_respondent_at for case in resolved)
    kinds = set(session.scalars(select(CaseActivity.kind).distinct()))
    assert {ActivityKind.CALL, ActivityKind.STATUS, ActivityKind.TOLD_RESPONDENT} <= kinds
    assert count(session, CaseTag) > 0
    assert counts["praise"] == count(session, Praise) > 0

    (experiment,) = session.scalars(select(Experiment)).all()
    assert experiment.status == ExperimentStatus.FINISHED
    arms = set(session.scalars(select(ExperimentAssignment.arm).distinct()))
    assert arms == set(Arm)
    assert count(session, Case, Case.held.is_(True)) == 0  # the control arm was released

    assert count(session, OutboxMessage, OutboxMessage.status == MessageStatus.QUEUED) == 0
    # Played in time order: nothing happened after the demo's "now".
    now = dt.datetime.combine(TODAY, dt.time(8), tzinfo=dt.UTC)
    assert session.scalar(select(func.max(CaseActivity.occurred_at))) <= now
