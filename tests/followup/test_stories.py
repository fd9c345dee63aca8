"""Detractor stories for the account report: said, done, where they stand now."""

import datetime as dt

from relhealth.extensions import db
from relhealth.followup import service
from relhealth.followup.models import ActivityKind, CaseReason, CaseStatus
from relhealth.followup.stories import detractor_stories
from relhealth.surveys.models import Answer, QuestionType
from tests import factories as f
from tests.followup.conftest import NOW

LATER = NOW + dt.timedelta(days=90)


def resolve(case, user, *, plan="Named support lead.", resolution="Backlog cleared.", at=NOW):
    contact = at + dt.timedelta(hours=5)
    service.log_activity(db.session, case, ActivityKind.CALL, "Called.", user, contact, contact)
    planned = at + dt.timedelta(days=2)
    service.transition(db.session, case, CaseStatus.ACTION_PLANNED, user, planned, note=plan)
    done = at + dt.timedelta(days=9)
    service.transition(db.session, case, CaseStatus.RESOLVED, user, done, resolution=resolution)
    return case


def test_a_story_tells_what_they_said_what_we_did_and_where_they_stand_now(
    world, respond, settings
):
    response = respond(
        world.ada,
        nps=3,
        ratings=(2, 2, 3, 3),
        text="Support <b>ignored</b> us for a week.",
        sentiment=-0.7,
    )
    cases = service.open_cases_for_response(db.session, response.id, settings, NOW)
    (case,) = [case for case in cases if case.reason == CaseReason.DETRACTOR]
    resolve(case, world.owner)
    respond(world.ada, nps=8, ratings=(4, 4, 4, 4), submitted_at=LATER)

    (story,) = detractor_stories(db.session, world.acme.id, LATER + dt.timedelta(days=1))

    assert story.person == "Ada Byron"
    assert story.said == "Support <b>ignored</b> us for a week."  # escaped where it is shown
    assert (story.before.nps, story.before.score) == (3, 37.5)  # ratings 25, 25, 50, 50
    assert story.plan == "Named support lead."
    assert story.resolution == "Backlog cleared."
    assert (story.now.nps, story.now.score) == (8, 75.0)
    assert story.change == 37.5
    assert not story.told


def test_stories_with_an_answer_after_come_first_and_only_resolved_detractor_cases_count(
    world, open_case, respond
):
    grace = f.PersonFactory(account=world.acme, first_name="Grace", seniority="executive")
    quiet = resolve(open_case(grace, nps=1), world.owner)
    heard = resolve(open_case(world.ada, nps=5), world.owner)
    respond(world.ada, nps=9, submitted_at=LATER)
    linus = f.PersonFactory(account=world.acme, first_name="Linus")
    open_case(linus, nps=2)  # still open: no story yet
    closed = open_case(f.PersonFactory(account=world.acme), nps=0)
    service.transition(db.session, closed, CaseStatus.CLOSED_UNRESOLVED, world.owner, NOW)
    open_case(world.bob, nps=0)  # another account

    stories = detractor_stories(db.session, world.acme.id, LATER)

    assert [story.case_id for story in stories] == [heard.id, quiet.id]
    assert stories[1].now is None
    assert stories[1].change is None


def test_no_story_is_told_of_the_future_or_of_an_account_without_cases(world, open_case):
    resolve(open_case(world.ada, nps=4), world.owner)

    assert detractor_stories(db.session, world.acme.id, NOW) == []
    assert detractor_stories(db.session, world.globex.id, LATER) == []


def test_one_story_per_person_and_a_name_they_praised_is_not_what_they_said(
    world, respond, settings
):
    for when in (NOW, NOW + dt.timedelta(days=30)):
        response = respond(world.ada, nps=2, submitted_at=when)
        response.answers.append(
            Answer(
                question_key="made_a_difference",
                question_type=QuestionType.TEXT,
                text="Dana Whitfield",
                sentiment=0.0,
            )
        )
        db.session.flush()
        (case,) = service.open_cases_for_response(db.session, response.id, settings, when)
        resolve(case, world.owner, at=when)

    (story,) = detractor_stories(db.session, world.acme.id, LATER)

    assert story.said is None
