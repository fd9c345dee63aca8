"""The bulk survey history: consistent rows, closed waves in order, the demo's dynamics."""

import datetime as dt
from collections import Counter, defaultdict

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import Account, AccountTeamMember, Person
from relhealth.cohorts.models import Invitation, InvitationStatus, Program, Wave, WaveStatus
from relhealth.demo import COMPLAINTS, PRAISE, generate_portfolio, seed_database
from relhealth.demo_history import HISTORY_PROGRAM, bulk_survey_history
from relhealth.surveys.builtin import DIMENSIONS
from relhealth.surveys.models import Answer, QuestionType, Response, SurveyVersion
from relhealth.surveys.service import answer_rows

TODAY = dt.date(2026, 11, 26)
NUMERIC = {"nps", *DIMENSIONS}


@pytest.fixture
def history(session):
    seed_database(session, generate_portfolio(accounts=6, today=TODAY))
    counts = bulk_survey_history(session, today=TODAY, waves=8, seed=3)
    session.commit()
    return counts


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_counts_it_reports_are_the_rows_it_wrote(session, history):
    assert history["waves"] == count(session, Wave) == 8
    assert history["invitations"] == count(session, Invitation)
    assert history["skipped"] == count(
        session, Invitation, Invitation.status == InvitationStatus.SKIPPED
    )
    assert history["responses"] == count(session, Response)
    assert history["answers"] == count(session, Answer)
    assert history["responses"] == count(
        session, Invitation, Invitation.status == InvitationStatus.RESPONDED
    )
    assert history["people left"] == count(session, Person, Person.left_on.is_not(None)) > 0
    # Nobody answered every time, nobody never: both kinds of non-answer occur.
    statuses = Counter(session.scalars(select(Invitation.status)))
    assert statuses[InvitationStatus.EXPIRED] > 0
    assert statuses[InvitationStatus.RESPONDED] > 0


def test_eight_closed_quarterly_waves_of_one_program_in_order(session, history):
    program = session.scalar(select(Program).where(Program.name == HISTORY_PROGRAM))
    waves = session.scalars(select(Wave).order_by(Wave.id)).all()
    assert {w.program_id for w in waves} == {program.id}
    opens = [w.opens_at for w in waves]
    assert opens == sorted(opens)
    assert len(set(opens)) == 8
    assert all(w.opens_at.day == 1 and w.opens_at.month in (1, 4, 7, 10) for w in waves)
    assert all(w.status == WaveStatus.CLOSED and w.closes_at.date() <= TODAY for w in waves)
    assert (opens[-1] - opens[0]).days in range(7 * 90, 7 * 93)  # seven quarters apart
    responses = session.execute(
        select(Response.submitted_at, Wave.opens_at, Wave.closes_at).join(
            Wave, Wave.id == Response.wave_id
        )
    ).all()
    assert all(opened <= at < closes for at, opened, closes in responses)


def test_every_response_belongs_to_its_invitation_with_side_and_seniority(session, history):
    rows = session.execute(
        select(Response, Invitation).join(Invitation, Invitation.id == Response.invitation_id)
    ).all()
    assert len(rows) == history["responses"]
    for response, invitation in rows:
        assert invitation.status == InvitationStatus.RESPONDED
        assert invitation.responded_at == response.submitted_at
        assert (response.wave_id, response.person_id, response.account_id) == (
            invitation.wave_id,
            invitation.person_id,
            invitation.account_id,
        )
        assert (response.side, response.seniority) == (invitation.side, invitation.seniority)
    # Sides: their people answer about their own account, ours about accounts they serve.
    people = {p.id: p for p in session.scalars(select(Person))}
    teams = set(session.execute(select(AccountTeamMember.person_id, AccountTeamMember.account_id)))
    for response, _invitation in rows:
        person = people[response.person_id]
        assert response.side == person.side
        if response.side.value == "external":
            assert response.account_id == person.account_id
        else:
            assert (person.id, response.account_id) in teams
    assert {r.side.value for r, _ in rows} == {"external", "internal"}
    assert session.scalar(select(func.count(Account.id.distinct())).join(Response)) == 6


def test_every_response_has_eight_numeric_answers_on_their_scales(session, history):
    answers = session.scalars(select(Answer)).all()
    by_response = defaultdict(set)
    for answer in answers:
        by_response[answer.response_id].add(answer.question_key)
        if answer.question_type == QuestionType.NPS:
            assert 0 <= answer.value <= 10
            assert answer.scaled == pytest.approx(answer.value * 10)
        elif answer.question_type == QuestionType.RATING:
            assert 1 <= answer.value <= 5
            assert answer.scaled == pytest.approx((answer.value - 1) * 25)
            assert answer.dimension == answer.question_key
        else:
            assert answer.question_type == QuestionType.TEXT
            assert answer.text
            assert answer.value is None
            assert answer.scaled is None
            assert -1 <= answer.sentiment <= 1
    assert len(by_response) == history["responses"]
    assert all(keys >= NUMERIC for keys in by_response.values())
    assert any(len(keys) > len(NUMERIC) for keys in by_response.values())  # some text


def test_the_demos_dynamics_ours_rosier_executives_more_critical(session, history):
    rows = session.execute(
        select(Response.side, Response.seniority, Answer.scaled)
        .join(Answer, Answer.response_id == Response.id)
        .where(Answer.scaled.is_not(None))
    ).all()

    def mean(values):
        values = list(values)
        return sum(values) / len(values)

    internal = mean(r.scaled for r in rows if r.side.value == "internal")
    external = mean(r.scaled for r in rows if r.side.value == "external")
    assert internal > external + 3
    top = mean(r.scaled for r in rows if r.side.value == "external" and r.seniority == "executive")
    line = mean(r.scaled for r in rows if r.side.value == "external" and r.seniority != "executive")
    assert top < line


def test_answers_are_stored_as_the_survey_service_stores_them(session, history):
    version = session.get(SurveyVersion, session.scalar(select(Response.survey_version_id)))
    columns = ("question_key", "question_type", "dimension", "value", "scaled", "text")
    responses = session.scalars(select(Response).order_by(Response.id).limit(200)).all()
    assert any(len(r.answers) > len(NUMERIC) for r in responses)
    for response in responses:
        given = {
            a.question_key: a.text if a.text is not None else a.value for a in response.answers
        }
        expected = answer_rows(
            version, {k: int(v) if isinstance(v, float) else v for k, v in given.items()}
        )
        stored = [{c: getattr(a, c) for c in (*columns, "sentiment")} for a in response.answers]
        assert stored == [{c: row[c] for c in (*columns, "sentiment")} for row in expected]


def test_the_unhappiest_complain_and_the_happiest_praise(session, history):
    said = session.execute(
        select(Answer.response_id, Answer.text, Answer.sentiment).where(
            Answer.question_key == "do_differently", Answer.text.is_not(None)
        )
    ).all()
    score = dict(
        session.execute(
            select(Answer.response_id, func.avg(Answer.scaled))
            .where(Answer.scaled.is_not(None))
            .group_by(Answer.response_id)
        ).all()
    )
    complaints = [row for row in said if row.text in COMPLAINTS]
    praise = [row for row in said if row.text in PRAISE]
    assert complaints
    assert praise
    assert all(row.sentiment < -0.4 for row in complaints)
    assert any(row.sentiment < -0.5 for row in complaints)  # such comments open cases

    def mean(rows):
        return sum(score[row.response_id] for row in rows) / len(rows)

    assert mean(complaints) + 20 < mean(praise)
