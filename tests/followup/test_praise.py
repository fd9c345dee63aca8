"""Praise: who a happy respondent named, recognised by e-mail, name or a close spelling; kudos."""

import datetime as dt

import pytest
from sqlalchemy import select

from relhealth.accounts.models import RelationshipKind, Side, TeamRole
from relhealth.extensions import db
from relhealth.followup import hooks, praise
from relhealth.followup.models import Praise, PraiseMatch
from relhealth.followup.praise import StaffMember, find_named_staff
from relhealth.messaging.models import OutboxMessage
from relhealth.surveys.models import Answer, QuestionType
from tests import factories as f
from tests.followup.conftest import NOW

# Pure matching ---------------------------------------------------------------------------

JOHN = StaffMember(1, "John", "Smith", "john.smith@us.test")
JOAN = StaffMember(2, "Joan", "Smith", "joan@us.test")
JOSE = StaffMember(3, "José", "Núñez")
PRIYA = StaffMember(4, "Priya", "Patel")
ZOE = StaffMember(5, "Zoë", "Ångström")


def named(text, staff, team=()):
    return [(n.person_id, n.matched_by) for n in find_named_staff(text, staff, team)]


def test_a_close_spelling_of_a_full_name_is_recognised():
    assert named("Jon Smiht was great", [JOHN, PRIYA]) == [(1, PraiseMatch.FUZZY)]
    assert named("john smyth", [JOHN, PRIYA]) == [(1, PraiseMatch.FUZZY)]


def test_a_spelling_close_to_two_people_names_nobody():
    assert named("Jon Smith sorted it out", [JOHN, JOAN]) == []
    # ... and the ambiguous words are not read again as a first name alone.
    assert named("Jon Smith sorted it out", [JOHN, JOAN], team=[1]) == []


def test_an_exact_name_wins_over_a_close_one():
    assert named("John Smith helped", [JOHN, JOAN]) == [(1, PraiseMatch.NAME)]


def test_two_people_of_the_same_name_are_named_only_by_e_mail():
    twin = StaffMember(9, "John", "Smith", "js2@us.test")
    assert named("John Smith", [JOHN, twin]) == []
    assert named("Ask JS2@US.TEST", [JOHN, twin]) == [(9, PraiseMatch.EMAIL)]


def test_accents_and_case_are_ignored():
    assert named("jose nunez!", [JOSE]) == [(3, PraiseMatch.NAME)]
    assert named("ZOE ANGSTROM and José Núñez", [JOSE, ZOE]) == [
        (5, PraiseMatch.NAME),
        (3, PraiseMatch.NAME),
    ]
    assert named("Jóse Nuñes", [JOSE]) == [(3, PraiseMatch.FUZZY)]


def test_a_capitalised_first_name_alone_counts_only_on_the_account_team():
    assert named("Priya was brilliant", [PRIYA], team=[4]) == [(4, PraiseMatch.FUZZY)]
    assert named("Priya was brilliant", [PRIYA], team=[]) == []
    assert named("thanks priya", [PRIYA], team=[4]) == []  # lower case: maybe not a name


def test_a_first_name_two_team_members_share_names_nobody():
    other = StaffMember(6, "Priya", "Shah")
    assert named("Priya was brilliant", [PRIYA, other], team=[4, 6]) == []


def test_unrelated_text_names_nobody():
    assert named("Everyone on the support desk", [JOHN, JOAN, JOSE, PRIYA, ZOE], [4]) == []
    assert named("", [JOHN]) == []


# Routing a response ----------------------------------------------------------------------


@pytest.fixture
def staff(world):
    """John Smith (on Acme's team) reports to Maria Boss; Joe Left has left."""
    john = f.StaffFactory(first_name="John", last_name="Smith", email="john.smith@us.test")
    boss = f.StaffFactory(first_name="Maria", last_name="Boss", email="maria@us.test")
    f.RelationshipFactory(source=john, target=boss, kind=RelationshipKind.REPORTS_TO)
    f.TeamMemberFactory(account=world.acme, person=john, role=TeamRole.MEMBER)
    left = f.StaffFactory(first_name="Joe", last_name="Left", left_on=dt.date(2026, 1, 1))
    return {"john": john, "boss": boss, "left": left}


@pytest.fixture
def praising(world, respond, settings):
    """``praising(text, nps=9, ...)``: a response saying ``text`` to "who made a difference",
    routed; returns the praise rows."""

    def praising(
        text, *, person=None, nps=9, ratings=(), wave=None, side=None, account=None, route=True
    ):
        response = respond(
            person or world.ada, nps=nps, ratings=ratings, wave=wave, side=side, account=account
        )
        response.answers.append(
            Answer(question_key="made_a_difference", question_type=QuestionType.TEXT, text=text)
        )
        db.session.flush()
        if not route:
            return response
        return praise.route_praise(db.session, response.id, settings, NOW)

    return praising


def kudos():
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "kudos").order_by(OutboxMessage.id)
        )
    )


def test_a_named_employee_gets_praise_and_kudos_go_to_them_and_their_manager(
    world, staff, praising
):
    rows = praising("John Smith turned our rollout around.")
    assert [(p.employee_id, p.matched_by) for p in rows] == [(staff["john"].id, PraiseMatch.NAME)]
    row = rows[0]
    assert row.account_id == world.acme.id
    assert row.score == 9
    assert row.said == "John Smith turned our rollout around."
    assert row.kudos_sent_at == NOW
    messages = kudos()
    assert [m.to_address for m in messages] == ["john.smith@us.test", "maria@us.test"]
    to_john, to_boss = messages
    assert "Acme" in to_john.subject
    assert "turned our rollout around" in to_john.body_text
    assert "turned our rollout around" in to_john.body_html
    assert "named you" in to_john.body_text
    assert "John Smith" in to_boss.subject
    assert "who reports to you" in to_boss.body_text
    assert "Ada" not in to_john.body_text + to_boss.body_text  # never the respondent's name


def test_a_misspelt_name_still_reaches_the_right_person(staff, praising):
    rows = praising("Jon Smiht was fantastic")
    assert [(p.employee_id, p.matched_by) for p in rows] == [(staff["john"].id, PraiseMatch.FUZZY)]


def test_an_ambiguous_spelling_praises_nobody(staff, praising):
    f.StaffFactory(first_name="Joan", last_name="Smith")
    assert praising("Jon Smith was fantastic") == []
    assert kudos() == []


def test_an_e_mail_address_in_the_answer_names_its_owner(staff, praising):
    rows = praising("Thanks to JOHN.SMITH@us.test.")
    assert [(p.employee_id, p.matched_by) for p in rows] == [(staff["john"].id, PraiseMatch.EMAIL)]


def test_several_people_named_get_a_praise_row_and_kudos_each(staff, praising):
    zoe = f.StaffFactory(first_name="Zoë", last_name="Ångström", email="zoe@us.test")
    rows = praising("John Smith and zoe angstrom, both wonderful")
    assert sorted(p.employee_id for p in rows) == sorted([staff["john"].id, zoe.id])
    assert sorted(m.to_address for m in kudos()) == [
        "john.smith@us.test",
        "maria@us.test",
        "zoe@us.test",
    ]


def test_unicode_names_match_without_their_accents(praising):
    jose = f.StaffFactory(first_name="José", last_name="Núñez", email="jose@us.test")
    rows = praising("jose nunez knew our business")
    assert [(p.employee_id, p.matched_by) for p in rows] == [(jose.id, PraiseMatch.NAME)]
    assert "jose nunez knew our business" in kudos()[0].body_text


def test_nobody_named_means_no_praise_and_no_kudos(staff, praising):
    assert praising("The whole team, really.") == []
    assert db.session.scalar(select(Praise.id)) is None
    assert kudos() == []


def test_people_who_left_and_their_people_are_not_ours_to_praise(world, staff, praising):
    f.PersonFactory(account=world.acme, first_name="Eve", last_name="Theirs")
    assert praising("Joe Left and Eve Theirs") == []


def test_a_confidential_programs_praise_is_never_routed(world, staff, praising):
    assert praising("John Smith was great", wave=world.secret_wave) == []
    assert kudos() == []


@pytest.mark.parametrize("nps", [0, 5, 6])
def test_a_detractor_naming_someone_is_not_praise(staff, praising, nps):
    assert praising("John Smith", nps=nps) == []


def test_without_an_nps_the_mean_rating_decides(staff, praising):
    assert praising("John Smith", nps=None, ratings=(2, 3)) == []  # mean 37.5 of 100
    assert len(praising("John Smith", nps=None, ratings=(4, 5))) == 1  # 87.5


def test_our_own_peoples_answers_are_not_praise(world, staff, praising):
    colleague = f.StaffFactory(first_name="Col", last_name="League")
    assert praising("John Smith", person=colleague, account=world.acme, side=Side.INTERNAL) == []


def test_html_in_the_answer_is_escaped_in_the_kudos(world, staff, praising):
    world.acme.name = "Acme <b>& Co</b>"
    text = "<script>alert(1)</script> John Smith <img src=x onerror=alert(2)>"
    rows = praising(text)
    assert rows[0].said == text  # stored as written
    html = kudos()[0].body_html
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Acme &lt;b&gt;&amp; Co&lt;/b&gt;" in html
    assert text in kudos()[0].body_text  # plain text carries the words as written


def test_routing_again_sends_nothing_twice(staff, praising, settings):
    response = praising("John Smith", route=False)
    first = praise.route_praise(db.session, response.id, settings, NOW)
    again = praise.route_praise(db.session, response.id, settings, NOW)
    assert [p.id for p in again] == [p.id for p in first]
    assert len(kudos()) == 2


def test_kudos_skip_whoever_has_no_address(world, praising):
    f.StaffFactory(first_name="Quiet", last_name="Person", email=None)
    rows = praising("Quiet Person")
    assert len(rows) == 1
    assert rows[0].kudos_sent_at is None
    assert kudos() == []


def test_an_ended_reporting_line_gets_no_copy(staff, praising):
    old_boss = f.StaffFactory(first_name="Old", last_name="Boss", email="old@us.test")
    f.RelationshipFactory(
        source=staff["john"],
        target=old_boss,
        kind=RelationshipKind.REPORTS_TO,
        ended_on=dt.date(2026, 1, 1),
    )
    praising("John Smith")
    assert "old@us.test" not in [m.to_address for m in kudos()]


def test_a_first_name_alone_praises_the_account_team_member(staff, praising):
    rows = praising("Honestly, John made all the difference")
    assert [p.employee_id for p in rows] == [staff["john"].id]


def test_the_response_hook_routes_praise(app, staff, praising):
    response = praising("John Smith", route=False)
    hooks.after_response(db.session, response.id, NOW)
    assert db.session.scalar(select(Praise.employee_id)) == staff["john"].id
