"""Follow-up cases: what opens them, who owns them, the workflow, the timeline, telling people."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import GraphSnapshot, SnapshotReason, StakeholderRole, TeamRole
from relhealth.analytics.models import Alert, AlertKind, AlertSeverity, AlertStatus
from relhealth.auth.models import Role
from relhealth.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from relhealth.extensions import db
from relhealth.followup import experiments, rules, service
from relhealth.followup.models import (
    TRANSITIONS,
    ActivityKind,
    Case,
    CaseActivity,
    CaseReason,
    CaseStatus,
    CaseTag,
)
from relhealth.messaging.models import OutboxMessage
from tests import factories as f
from tests.followup.conftest import NOW

LATER = NOW + dt.timedelta(hours=5)


def cases_of(person) -> list[Case]:
    return list(db.session.scalars(select(Case).where(Case.person_id == person.id)))


def activities(case) -> list[CaseActivity]:
    return list(
        db.session.scalars(
            select(CaseActivity)
            .where(CaseActivity.case_id == case.id)
            .order_by(CaseActivity.occurred_at, CaseActivity.id)
        )
    )


def state(case) -> tuple:
    """Everything about a case as stored: equal before and after means nothing changed."""
    db.session.expire_all()
    row = db.session.execute(select(*Case.__table__.columns).where(Case.id == case.id)).one()
    count = db.session.scalar(
        select(func.count()).select_from(CaseActivity).where(CaseActivity.case_id == case.id)
    )
    tags = sorted(db.session.scalars(select(CaseTag.tag).where(CaseTag.case_id == case.id)))
    outbox = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    return tuple(row), count, tags, outbox


def walk_to(case, status, user):
    """Take a fresh case along the workflow to ``status``."""
    path = {
        CaseStatus.OPEN: [],
        CaseStatus.CONTACTED: [CaseStatus.CONTACTED],
        CaseStatus.ACTION_PLANNED: [CaseStatus.CONTACTED, CaseStatus.ACTION_PLANNED],
        CaseStatus.RESOLVED: [CaseStatus.CONTACTED, CaseStatus.RESOLVED],
        CaseStatus.CLOSED_UNRESOLVED: [CaseStatus.CLOSED_UNRESOLVED],
    }[status]
    for step in path:
        service.transition(db.session, case, step, user, NOW, resolution="Refund agreed.")
    return case


# Opening cases from responses ----------------------------------------------------------------


@pytest.mark.parametrize("nps", [0, 6])
def test_a_detractor_response_opens_a_case_for_the_accounts_owner(world, respond, settings, nps):
    response = respond(world.ada, nps=nps, ratings=[5, 5])
    [case] = service.open_cases_for_response(db.session, response.id, settings, NOW)
    assert case.reason == CaseReason.DETRACTOR
    assert case.open_key == f"detractor:person:{world.ada.id}"
    assert (case.account_id, case.person_id, case.response_id, case.wave_id) == (
        world.acme.id,
        world.ada.id,
        response.id,
        world.wave.id,
    )
    assert case.owner_id == world.owner.id
    assert case.status == CaseStatus.OPEN
    assert case.score == nps
    assert f"Ada Byron answered {nps} out of 10" in case.title
    assert case.value_at_stake == Decimal("100000")
    assert case.opened_at == NOW
    assert not case.held


@pytest.mark.parametrize("nps", [7, 8, 9, 10])
def test_passives_and_promoters_open_no_case(world, respond, settings, nps):
    response = respond(world.ada, nps=nps, ratings=[4, 5], text="Fine", sentiment=0.2)
    assert service.open_cases_for_response(db.session, response.id, settings, NOW) == []
    assert cases_of(world.ada) == []


def test_a_low_mean_score_opens_a_low_score_case(world, respond, settings):
    response = respond(world.ada, ratings=[2, 2, 3])  # scaled 25, 25, 50: mean 33.3
    [case] = service.open_cases_for_response(db.session, response.id, settings, NOW)
    assert case.reason == CaseReason.LOW_SCORE
    assert case.score == pytest.approx(33.33, abs=0.01)
    assert "rated us 33 out of 100" in case.title


def test_a_mean_score_at_the_threshold_opens_nothing(world, respond, settings):
    response = respond(world.ada, ratings=[3, 2, 4])  # mean exactly 50
    low = rules.FollowupSettings(low_score=50.0)
    assert service.open_cases_for_response(db.session, response.id, low, NOW) == []


def test_a_negative_comment_opens_a_negative_text_case_quoting_it(world, respond, settings):
    response = respond(world.ada, text="Support never answers  our tickets.", sentiment=-0.8)
    [case] = service.open_cases_for_response(db.session, response.id, settings, NOW)
    assert case.reason == CaseReason.NEGATIVE_TEXT
    assert case.title == "Ada Byron wrote: “Support never answers our tickets.”"


def test_a_long_comment_is_shortened_in_the_title(world, respond, settings):
    response = respond(world.ada, text="awful " * 100, sentiment=-0.9)
    [case] = service.open_cases_for_response(db.session, response.id, settings, NOW)
    assert len(case.title) < 150
    assert case.title.endswith("…”")


def test_a_response_with_every_reason_opens_one_case_per_reason(world, respond, settings):
    response = respond(world.ada, nps=1, ratings=[1, 2], text="Terrible.", sentiment=-0.9)
    cases = service.open_cases_for_response(db.session, response.id, settings, NOW)
    assert [c.reason for c in cases] == [
        CaseReason.DETRACTOR,
        CaseReason.LOW_SCORE,
        CaseReason.NEGATIVE_TEXT,
    ]
    assert len({c.open_key for c in cases}) == 3


def test_our_own_people_open_no_case(world, respond, settings):
    staff = f.StaffFactory()
    response = respond(staff, nps=0, account=world.acme)
    assert service.open_cases_for_response(db.session, response.id, settings, NOW) == []
    assert cases_of(staff) == []


def test_a_confidential_program_opens_no_case(world, respond, settings):
    response = respond(world.ada, nps=0, text="Awful", sentiment=-1.0, wave=world.secret_wave)
    assert service.open_cases_for_response(db.session, response.id, settings, NOW) == []
    assert cases_of(world.ada) == []


def test_an_imported_response_without_a_wave_opens_a_case(world, respond, settings):
    response = respond(world.ada, nps=2, wave=False)
    [case] = service.open_cases_for_response(db.session, response.id, settings, NOW)
    assert case.wave_id is None


def test_an_unknown_response_opens_nothing(world, settings):
    assert service.open_cases_for_response(db.session, 987654, settings, NOW) == []


def test_answering_badly_again_adds_a_note_not_a_second_case(world, respond, open_case, settings):
    first = open_case(world.ada, nps=3)
    again = respond(world.ada, nps=2, ratings=[5], text="Still slow", sentiment=-0.1)
    assert service.open_cases_for_response(db.session, again.id, settings, LATER) == []
    assert cases_of(world.ada) == [first]
    [note] = activities(first)
    assert note.kind == ActivityKind.NOTE
    assert note.body.startswith("answered again: NPS 2")
    assert "Still slow" in note.body
    assert note.author_id is None


def test_a_second_bad_answer_for_another_reason_opens_that_reason(world, respond, open_case):
    first = open_case(world.ada, nps=3)
    again = respond(world.ada, nps=2, text="Awful", sentiment=-0.9)
    [new] = service.open_cases_for_response(db.session, again.id, service.settings_for(), LATER)
    assert new.reason == CaseReason.NEGATIVE_TEXT
    assert [a.kind for a in activities(first)] == [ActivityKind.NOTE]


def test_opening_the_same_response_twice_changes_nothing(world, respond, settings):
    response = respond(world.ada, nps=3)
    [case] = service.open_cases_for_response(db.session, response.id, settings, NOW)
    assert service.open_cases_for_response(db.session, response.id, settings, LATER) == []
    assert cases_of(world.ada) == [case]
    assert activities(case) == []


@pytest.mark.parametrize("end", [CaseStatus.RESOLVED, CaseStatus.CLOSED_UNRESOLVED])
def test_once_the_case_ends_a_new_bad_answer_opens_a_new_case(
    world, respond, open_case, settings, end
):
    first = walk_to(open_case(world.ada, nps=3), end, world.owner)
    assert first.open_key is None
    again = respond(world.ada, nps=4)
    [second] = service.open_cases_for_response(db.session, again.id, settings, LATER)
    assert second.id != first.id
    assert second.open_key == f"detractor:person:{world.ada.id}"


def test_each_person_has_their_own_case(world, respond, settings):
    colleague = f.PersonFactory(account=world.acme)
    for person in (world.ada, colleague):
        response = respond(person, nps=3)
        assert len(service.open_cases_for_response(db.session, response.id, settings, NOW)) == 1


def test_without_an_owner_the_account_team_owner_takes_the_case(world, respond, settings):
    world.acme.owner_id = None
    member, lead, former = (f.StaffFactory() for _ in range(3))
    f.TeamMemberFactory(account=world.acme, person=member, role=TeamRole.MEMBER)
    f.TeamMemberFactory(account=world.acme, person=lead, role=TeamRole.OWNER)
    f.TeamMemberFactory(
        account=world.acme, person=former, role=TeamRole.OWNER, ended_on=dt.date(2026, 1, 1)
    )
    member_user = f.UserFactory(person_id=member.id)
    lead_user = f.UserFactory(person_id=lead.id)
    f.UserFactory(person_id=former.id)
    [case] = service.open_cases_for_response(
        db.session, respond(world.ada, nps=1).id, settings, NOW
    )
    assert case.owner_id == lead_user.id
    lead_user.is_enabled = False
    colleague = f.PersonFactory(account=world.acme)
    [case] = service.open_cases_for_response(
        db.session, respond(colleague, nps=1).id, settings, NOW
    )
    assert case.owner_id == member_user.id


def test_without_an_owner_or_a_team_the_case_has_no_owner(world, respond, settings):
    world.acme.owner_id = None
    [case] = service.open_cases_for_response(
        db.session, respond(world.ada, nps=1).id, settings, NOW
    )
    assert case.owner_id is None


def test_the_priority_and_its_parts_are_stored(world, respond, settings):
    world.acme.lifetime_value = Decimal("999990")
    ceo = f.PersonFactory(account=world.acme, seniority="executive")
    ceo.roles = [StakeholderRole.ECONOMIC_BUYER.value]
    db.session.add_all(
        [
            GraphSnapshot(
                account_id=world.acme.id,
                taken_at=NOW - dt.timedelta(days=90),
                reason=SnapshotReason.MANUAL,
                graph={},
                metrics={"influence": {str(ceo.id): 0.1, "1": 0.9}},
            ),
            GraphSnapshot(  # the latest one counts
                account_id=world.acme.id,
                taken_at=NOW - dt.timedelta(days=1),
                reason=SnapshotReason.MANUAL,
                graph={},
                metrics={"influence": {str(ceo.id): 0.5, **{str(-n): 0.125 for n in range(4)}}},
            ),
        ]
    )
    db.session.flush()
    [case] = service.open_cases_for_response(db.session, respond(ceo, nps=0).id, settings, NOW)
    parts = case.priority_parts
    assert parts["value"] == 999990.0
    assert parts["value_points"] == 6.0
    assert parts["seniority"] == 2.0
    assert parts["role"] == rules.KEY_ROLE_WEIGHT
    assert parts["influence"] == 1.5  # 0.5 among 5 people: 2.5x the average
    assert parts["severity"] == 1.0
    assert parts["pagerank"] == 0.5
    assert parts["roles"] == ["economic_buyer"]
    assert parts["seniority_level"] == "executive"
    assert case.priority == pytest.approx(6.0 * 2.0 * 1.5 * 1.5)
    assert case.value_at_stake == Decimal("999990")


def test_a_person_missing_from_the_graph_weighs_as_average(world, respond, settings):
    db.session.add(
        GraphSnapshot(
            account_id=world.acme.id,
            reason=SnapshotReason.MANUAL,
            graph={},
            metrics={"influence": {"-1": 0.5, "-2": 0.5}},
        )
    )
    [case] = service.open_cases_for_response(
        db.session, respond(world.ada, nps=0).id, settings, NOW
    )
    assert case.priority_parts["influence"] == 1.0
    assert case.priority_parts["pagerank"] is None


def test_due_dates_come_from_the_settings(world, respond):
    quick = rules.FollowupSettings(first_contact_hours=4, resolution_days=3)
    [case] = service.open_cases_for_response(db.session, respond(world.ada, nps=0).id, quick, NOW)
    assert case.first_contact_due - case.opened_at == dt.timedelta(hours=4)
    assert case.resolution_due - case.opened_at == dt.timedelta(days=3)


# The workflow ----------------------------------------------------------------------------


ALL_PAIRS = list(itertools.product(CaseStatus, CaseStatus))


@pytest.mark.parametrize(
    ("start", "to"), [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]], ids=str
)
def test_every_allowed_transition_moves_the_case_and_is_on_its_timeline(
    world, open_case, start, to
):
    case = walk_to(open_case(world.ada, nps=3), start, world.owner)
    before = len(activities(case))
    service.transition(
        db.session, case, to, world.owner, LATER, note=" On it. ", resolution="Credit note."
    )
    assert case.status == to
    timeline = activities(case)
    assert len(timeline) == before + 1
    step = timeline[-1]
    assert (step.kind, step.from_status, step.to_status) == (ActivityKind.STATUS, start, to)
    assert (step.body, step.author_id) == ("On it.", world.owner.id)
    if to in (CaseStatus.RESOLVED, CaseStatus.CLOSED_UNRESOLVED):
        assert case.ended_at == LATER
        assert case.open_key is None
        assert case.resolution == "Credit note."
    else:
        assert case.ended_at is None
        assert case.open_key is not None


@pytest.mark.parametrize(
    ("start", "to"), [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]], ids=str
)
def test_every_illegal_transition_is_a_conflict_and_changes_nothing(world, open_case, start, to):
    case = walk_to(open_case(world.ada, nps=3), start, world.owner)
    before = state(case)
    with pytest.raises(Conflict) as error:
        service.transition(db.session, case, to, world.owner, LATER, resolution="Done.")
    assert f"cannot become {to.value}" in error.value.message
    assert state(case) == before


def test_contacting_sets_the_first_contact_once(world, open_case):
    case = open_case(world.ada, nps=3)
    service.transition(db.session, case, CaseStatus.CONTACTED, world.owner, LATER)
    assert case.first_contact_at == LATER


def test_resolving_needs_a_resolution(world, open_case):
    case = walk_to(open_case(world.ada, nps=3), CaseStatus.CONTACTED, world.owner)
    before = state(case)
    for resolution in (None, "", "   "):
        with pytest.raises(InvalidInput) as error:
            service.transition(
                db.session, case, CaseStatus.RESOLVED, world.owner, LATER, resolution=resolution
            )
        assert "resolution" in error.value.fields
    assert state(case) == before


def test_an_unknown_status_is_invalid_input(world, open_case):
    case = open_case(world.ada, nps=3)
    with pytest.raises(InvalidInput) as error:
        service.transition(db.session, case, "reopened", world.owner, LATER)
    assert "to" in error.value.fields


# The timeline ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["call", "email", "meeting"])
def test_a_contact_moves_an_open_case_to_contacted(world, open_case, kind):
    case = open_case(world.ada, nps=3)
    when = NOW + dt.timedelta(hours=2)
    activity = service.log_activity(db.session, case, kind, "Talked.", world.owner, when, LATER)
    assert (activity.kind, activity.body, activity.author_id) == (kind, "Talked.", world.owner.id)
    assert activity.occurred_at == when
    assert case.status == CaseStatus.CONTACTED
    assert case.first_contact_at == when
    kinds = [(a.kind, a.to_status) for a in activities(case)]
    assert sorted(kinds) == sorted([(kind, None), (ActivityKind.STATUS, CaseStatus.CONTACTED)])


def test_a_note_is_not_a_contact(world, open_case):
    case = open_case(world.ada, nps=3)
    service.log_activity(db.session, case, "note", "Checking the logs.", world.owner, None, LATER)
    assert case.status == CaseStatus.OPEN
    assert case.first_contact_at is None
    [note] = activities(case)
    assert note.occurred_at == LATER


def test_an_earlier_contact_logged_later_moves_the_first_contact_back(world, open_case):
    case = open_case(world.ada, nps=3)
    service.log_activity(db.session, case, "call", "", world.owner, LATER, LATER)
    earlier = NOW + dt.timedelta(hours=1)
    service.log_activity(db.session, case, "meeting", "", world.owner, earlier, LATER)
    assert case.first_contact_at == earlier
    assert case.status == CaseStatus.CONTACTED
    statuses = [a for a in activities(case) if a.kind == ActivityKind.STATUS]
    assert len(statuses) == 1


@pytest.mark.parametrize("end", [CaseStatus.RESOLVED, CaseStatus.CLOSED_UNRESOLVED])
@pytest.mark.parametrize("kind", ["call", "note"])
def test_ended_cases_take_no_activity(world, open_case, end, kind):
    case = walk_to(open_case(world.ada, nps=3), end, world.owner)
    before = state(case)
    with pytest.raises(Conflict):
        service.log_activity(db.session, case, kind, "Late news.", world.owner, None, LATER)
    assert state(case) == before


@pytest.mark.parametrize(
    ("kind", "body", "occurred_at", "field"),
    [
        ("status", "x", None, "kind"),
        ("told_respondent", "x", None, "kind"),
        ("tweet", "x", None, "kind"),
        ("note", "   ", None, "body"),
        ("call", "x", LATER + dt.timedelta(minutes=1), "occurred_at"),
        ("call", "x", NOW - dt.timedelta(minutes=1), "occurred_at"),
    ],
)
def test_bad_activities_are_refused_and_change_nothing(
    world, open_case, kind, body, occurred_at, field
):
    case = open_case(world.ada, nps=3)
    before = state(case)
    with pytest.raises(InvalidInput) as error:
        service.log_activity(db.session, case, kind, body, world.owner, occurred_at, LATER)
    assert field in error.value.fields
    assert state(case) == before


# Root causes and owners ----------------------------------------------------------------------


def test_tags_come_from_the_taxonomy_and_replace_the_old_ones(world, open_case, settings):
    case = open_case(world.ada, nps=3)
    service.set_tags(db.session, case, ["pricing_value", "billing"], world.owner, LATER)
    assert [t.tag for t in case.tags] == ["billing", "pricing_value"]
    service.set_tags(db.session, case, ["billing", "delivery", "billing"], world.owner, LATER)
    assert [t.tag for t in case.tags] == ["billing", "delivery"]
    tagged = [a for a in activities(case) if a.kind == ActivityKind.TAGGED]
    assert [a.body for a in tagged] == ["billing, pricing_value", "billing, delivery"]
    service.set_tags(db.session, case, ["delivery", "billing"], world.owner, LATER)
    assert len([a for a in activities(case) if a.kind == ActivityKind.TAGGED]) == 2


def test_a_tag_outside_the_taxonomy_is_refused_and_changes_nothing(world, open_case):
    case = open_case(world.ada, nps=3)
    service.set_tags(db.session, case, ["billing"], world.owner, LATER)
    before = state(case)
    with pytest.raises(InvalidInput) as error:
        service.set_tags(db.session, case, ["billing", "gremlins"], world.owner, LATER)
    assert "gremlins" in error.value.fields["tags"][0]
    assert state(case) == before


def test_the_taxonomy_is_a_setting(world, open_case):
    case = open_case(world.ada, nps=3)
    custom = rules.FollowupSettings(root_causes=("gremlins",))
    service.set_tags(db.session, case, ["gremlins"], world.owner, LATER, settings=custom)
    assert [t.tag for t in case.tags] == ["gremlins"]


def test_tags_can_be_cleared_and_set_on_an_ended_case(world, open_case):
    case = walk_to(open_case(world.ada, nps=3), CaseStatus.RESOLVED, world.owner)
    service.set_tags(db.session, case, ["billing"], world.owner, LATER)
    service.set_tags(db.session, case, [], world.owner, LATER)
    assert case.tags == []


def test_assigning_to_someone_who_may_change_the_account(world, open_case):
    case = open_case(world.ada, nps=3)
    service.assign(db.session, case, world.admin.id, world.owner, LATER)
    assert case.owner_id == world.admin.id
    [assigned] = activities(case)
    assert assigned.kind == ActivityKind.ASSIGNED
    assert assigned.body == f"assigned to {world.admin.name}"
    service.assign(db.session, case, world.admin.id, world.owner, LATER)  # same: no activity
    assert len(activities(case)) == 1


@pytest.mark.parametrize("who", ["viewer", "executive", "other", "nobody", "disabled"])
def test_assigning_to_someone_who_may_not_change_the_account_is_refused(world, open_case, who):
    case = open_case(world.ada, nps=3)
    if who == "disabled":
        user = f.UserFactory(role=Role.ADMIN, is_enabled=False)
    owner_id = {
        "viewer": world.viewer.id,
        "executive": world.executive.id,
        "other": world.other.id,
        "nobody": 987654,
    }.get(who) or user.id
    before = state(case)
    with pytest.raises(InvalidInput) as error:
        service.assign(db.session, case, owner_id, world.owner, LATER)
    assert "owner_id" in error.value.fields
    assert state(case) == before


def test_an_ended_case_keeps_its_owner(world, open_case):
    case = walk_to(open_case(world.ada, nps=3), CaseStatus.CLOSED_UNRESOLVED, world.owner)
    with pytest.raises(Conflict):
        service.assign(db.session, case, world.admin.id, world.owner, LATER)


# Telling the respondent ---------------------------------------------------------------------


def test_telling_the_respondent_queues_we_heard_you(app, world, open_case):
    case = open_case(world.ada, nps=3)
    message = service.tell_respondent(
        db.session, case, "We are adding a second support engineer.", world.owner, LATER
    )
    assert message.to_address == "ada@acme.test"
    assert message.headers == {"Reply-To": world.owner.email}
    assert message.kind == "we_heard_you"
    assert message.dedupe_key == f"case:{case.id}:we_heard_you"
    company = app.config["COMPANY_NAME"]
    assert message.subject == f"{company} heard you: what we are doing about it"
    assert "Hello Ada," in message.body_text
    assert "We are adding a second support engineer." in message.body_text
    assert "Olivia Owner" in message.body_text
    assert "We are adding a second support engineer." in message.body_html
    assert case.told_respondent_at == LATER
    [told] = activities(case)
    assert (told.kind, told.body, told.author_id) == (
        ActivityKind.TOLD_RESPONDENT,
        "We are adding a second support engineer.",
        world.owner.id,
    )


def test_the_message_is_text_not_html_in_the_email(world, open_case):
    case = open_case(world.ada, nps=3)
    world.ada.first_name = "<b>Ada</b>"
    evil = 'Fixed <script>alert("x")</script> & more'
    message = service.tell_respondent(db.session, case, evil, world.owner, LATER)
    assert "<script>" not in message.body_html
    assert "&lt;script&gt;alert(" in message.body_html
    assert "<b>Ada</b>" not in message.body_html
    assert evil in message.body_text  # plain text stays as written


def test_a_resolved_case_may_still_tell_the_respondent(world, open_case):
    case = walk_to(open_case(world.ada, nps=3), CaseStatus.RESOLVED, world.owner)
    service.tell_respondent(db.session, case, "Refunded.", world.owner, LATER)
    assert case.told_respondent_at == LATER


@pytest.mark.parametrize("problem", ["told_twice", "no_email", "opted_out"])
def test_telling_is_refused_when_it_cannot_or_may_not_reach_them(world, open_case, problem):
    case = open_case(world.ada, nps=3)
    if problem == "told_twice":
        service.tell_respondent(db.session, case, "Fixed.", world.owner, NOW)
    elif problem == "no_email":
        world.ada.email = None
    else:
        world.ada.opted_out = True
    db.session.flush()
    before = state(case)
    with pytest.raises(Conflict):
        service.tell_respondent(db.session, case, "Fixed again.", world.owner, LATER)
    assert state(case) == before


def test_telling_needs_a_message(world, open_case):
    case = open_case(world.ada, nps=3)
    with pytest.raises(InvalidInput) as error:
        service.tell_respondent(db.session, case, "  ", world.owner, LATER)
    assert "message" in error.value.fields
    assert case.told_respondent_at is None


# Alerts --------------------------------------------------------------------------------------


def alert(account, *, person=None, severity=AlertSeverity.HIGH, status=AlertStatus.OPEN, **kw):
    row = Alert(
        kind=AlertKind.EXECUTIVE_DETRACTOR if person else AlertKind.SIGNIFICANT_DECLINE,
        account_id=account.id,
        person_id=person.id if person else None,
        severity=severity,
        confidential=kw.pop("confidential", False),
        message=kw.pop("message", "Trust fell 20 points (n=12)."),
        evidence={},
        dedupe_key=f"test:{account.id}:{person.id if person else '-'}:{severity}:{status}",
        status=status,
        opened_at=NOW,
        acknowledged_at=None if status == AlertStatus.OPEN else NOW,
        resolved_at=NOW if status == AlertStatus.RESOLVED else None,
    )
    db.session.add(row)
    db.session.flush()
    return row


def test_every_alert_without_a_case_opens_one(world, settings):
    group = alert(world.acme, severity=AlertSeverity.MEDIUM, confidential=True)
    ceo = f.PersonFactory(account=world.globex, seniority="executive")
    personal = alert(world.globex, person=ceo, severity=AlertSeverity.HIGH)
    alert(world.acme, status=AlertStatus.RESOLVED)
    cases = service.open_cases_for_alerts(db.session, settings, NOW)
    by_alert = {c.alert_id: c for c in cases}
    assert set(by_alert) == {group.id, personal.id}
    group_case = by_alert[group.id]
    assert group_case.reason == CaseReason.ALERT
    assert group_case.open_key == f"alert:{group.id}"
    assert group_case.person_id is None
    assert group_case.title == "Trust fell 20 points (n=12)."
    assert group_case.owner_id == world.owner.id
    assert group_case.priority_parts["severity"] == 1.5
    person_case = by_alert[personal.id]
    assert person_case.person_id == ceo.id
    assert person_case.owner_id == world.other.id
    assert person_case.priority_parts["severity"] == 2.0
    assert person_case.priority_parts["seniority"] == 2.0
    assert person_case.priority == pytest.approx(group_case.priority / 1.5 * 2.0 * 2.0)
    assert service.open_cases_for_alerts(db.session, settings, LATER) == []


def test_an_alert_whose_case_ended_opens_no_new_one(world, settings):
    alert(world.acme)
    [case] = service.open_cases_for_alerts(db.session, settings, NOW)
    service.transition(db.session, case, CaseStatus.CLOSED_UNRESOLVED, world.owner, NOW)
    assert service.open_cases_for_alerts(db.session, settings, LATER) == []


def test_a_group_alert_case_tells_nobody(world, settings):
    alert(world.acme)
    [case] = service.open_cases_for_alerts(db.session, settings, NOW)
    with pytest.raises(Conflict):
        service.tell_respondent(db.session, case, "Fixed.", world.owner, LATER)


# The sweep -----------------------------------------------------------------------------------


def test_the_sweep_opens_the_cases_a_submission_missed(world, respond, settings):
    missed = respond(world.ada, nps=2)
    bob_missed = respond(world.bob, ratings=[1, 1])
    respond(f.PersonFactory(account=world.acme), nps=10)  # promoter
    respond(f.PersonFactory(account=world.acme), nps=0, wave=world.secret_wave)
    respond(f.StaffFactory(), nps=0, account=world.acme)
    assert service.open_missing_cases(db.session, settings, LATER, since=None) == 2
    opened = db.session.scalars(select(Case)).all()
    assert {(c.response_id, c.reason) for c in opened} == {
        (missed.id, CaseReason.DETRACTOR),
        (bob_missed.id, CaseReason.LOW_SCORE),
    }
    assert service.open_missing_cases(db.session, settings, LATER, since=None) == 0


def test_the_sweep_looks_back_only_as_far_as_asked(world, respond, settings):
    respond(world.ada, nps=2, submitted_at=NOW - dt.timedelta(days=30))
    since = NOW - dt.timedelta(days=7)
    assert service.open_missing_cases(db.session, settings, NOW, since=since) == 0
    assert service.open_missing_cases(db.session, settings, NOW, since=None) == 1


def test_the_sweep_leaves_responses_noted_on_an_open_case(world, respond, open_case, settings):
    case = open_case(world.ada, nps=3)
    again = respond(world.ada, nps=1, submitted_at=LATER)
    service.open_cases_for_response(db.session, again.id, settings, LATER)
    assert service.open_missing_cases(db.session, settings, LATER, since=None) == 0
    assert len(activities(case)) == 1


def test_the_sweep_opens_a_case_for_a_response_after_the_last_case_ended(
    world, respond, open_case, settings
):
    first = walk_to(open_case(world.ada, nps=3), CaseStatus.CLOSED_UNRESOLVED, world.owner)
    first.ended_at = NOW + dt.timedelta(hours=1)
    later = respond(world.ada, nps=1, submitted_at=NOW + dt.timedelta(days=2))
    assert service.open_missing_cases(db.session, settings, LATER, since=None) == 1
    [case] = [c for c in cases_of(world.ada) if c.id != first.id]
    assert case.response_id == later.id


# Visibility ----------------------------------------------------------------------------------


def test_users_see_the_cases_of_the_accounts_they_may_read(world, respond, settings):
    acme_case = service.open_cases_for_response(
        db.session, respond(world.ada, nps=1).id, settings, NOW
    )[0]
    globex_case = service.open_cases_for_response(
        db.session, respond(world.bob, nps=1).id, settings, NOW
    )[0]

    def visible(user, **filters):
        return set(db.session.scalars(service.case_query(user, filters)))

    assert visible(world.owner) == {acme_case}
    assert visible(world.viewer) == {acme_case}
    assert visible(world.other) == {globex_case}
    assert visible(world.admin) == visible(world.executive) == {acme_case, globex_case}
    assert visible(world.admin, account_id=world.globex.id) == {globex_case}
    assert visible(world.admin, owner_id=world.owner.id) == {acme_case}
    assert visible(world.admin, reason="low_score") == set()
    assert visible(world.admin, status=["open", "contacted"]) == {acme_case, globex_case}
    walk_to(acme_case, CaseStatus.RESOLVED, world.owner)
    assert visible(world.admin, status="resolved") == {acme_case}
    assert visible(world.admin, live=True) == {globex_case}
    assert visible(world.admin, live=False) == {acme_case}


def test_overdue_means_live_and_past_a_due_date(world, open_case, settings):
    late_contact = open_case(world.ada, nps=1)
    contacted = walk_to(
        open_case(f.PersonFactory(account=world.acme), nps=1), CaseStatus.CONTACTED, world.owner
    )
    ended = walk_to(
        open_case(f.PersonFactory(account=world.acme), nps=1), CaseStatus.RESOLVED, world.owner
    )
    past_contact = NOW + dt.timedelta(hours=settings.first_contact_hours + 1)
    past_resolution = NOW + dt.timedelta(days=settings.resolution_days + 1)

    def overdue(now):
        stmt = service.case_query(world.owner, {"overdue": True, "now": now})
        return set(db.session.scalars(stmt))

    assert overdue(NOW) == set()
    assert overdue(past_contact) == {late_contact}
    assert overdue(past_resolution) == {late_contact, contacted}
    on_time = service.case_query(world.owner, {"overdue": False, "now": past_contact})
    assert set(db.session.scalars(on_time)) == {contacted, ended}
    assert service.is_overdue(late_contact, past_contact)
    assert not service.is_overdue(contacted, past_contact)
    assert not service.is_overdue(ended, past_resolution)


def test_list_cases_puts_late_cases_first_then_by_priority(world, open_case, settings):
    small = open_case(world.ada, nps=1)
    big = open_case(f.PersonFactory(account=world.acme, seniority="executive"), nps=1)
    assert big.priority > small.priority
    walk_to(big, CaseStatus.CONTACTED, world.owner)
    past_contact = NOW + dt.timedelta(hours=settings.first_contact_hours + 1)
    cases, total = service.list_cases(db.session, world.owner, {}, now=NOW)
    assert (cases, total) == ([big, small], 2)
    cases, _ = service.list_cases(db.session, world.owner, {}, now=past_contact)
    assert cases == [small, big]
    cases, total = service.list_cases(
        db.session, world.owner, {}, ["priority"], page=2, page_size=1, now=NOW
    )
    assert (cases, total) == ([big], 2)


def test_a_foreign_case_is_not_found_and_a_readers_write_is_forbidden(world, open_case):
    case = open_case(world.ada, nps=1)
    assert service.get_case(db.session, world.owner, case.id, write=True) == case
    assert service.get_case(db.session, world.admin, case.id, write=True) == case
    with pytest.raises(NotFound):
        service.get_case(db.session, world.other, case.id)
    with pytest.raises(NotFound):
        service.get_case(db.session, world.owner, 987654)
    for reader in (world.viewer, world.executive):
        assert service.get_case(db.session, reader, case.id) == case
        with pytest.raises(Forbidden):
            service.get_case(db.session, reader, case.id, write=True)


def test_held_cases_are_invisible_until_released(world, open_case, settings):
    case = open_case(world.ada, nps=1)
    case.held = True
    db.session.flush()
    assert list(db.session.scalars(service.case_query(world.admin, {}))) == []
    with pytest.raises(NotFound):
        service.get_case(db.session, world.admin, case.id)
    with pytest.raises(Conflict):
        service.transition(db.session, case, CaseStatus.CONTACTED, world.admin, LATER)
    with pytest.raises(Conflict):
        service.log_activity(db.session, case, "note", "x", world.admin, None, LATER)
    release = NOW + dt.timedelta(days=30)
    experiments.release_held_case(db.session, case, settings, release)
    assert not case.held
    assert case.opened_at == release
    assert case.first_contact_due == release + dt.timedelta(hours=settings.first_contact_hours)
    assert case.resolution_due == release + dt.timedelta(days=settings.resolution_days)
    assert service.get_case(db.session, world.admin, case.id) == case


def test_a_rival_submission_opening_the_same_case_meanwhile_gets_a_note(
    world, respond, settings, monkeypatch
):
    """Two of Ada's submissions racing: the other one's case lands between our check and our
    insert; the unique open key refuses ours, and this response becomes a note on theirs."""
    rival_response = respond(world.ada, nps=1)
    ours = respond(world.ada, nps=2)
    rival = []
    roles = service._roles

    def roles_then_rival(session, person_ids):
        if not rival:
            rival.append(None)  # the rival's own call goes straight through
            rival[:] = service.open_cases_for_response(session, rival_response.id, settings, NOW)
        return roles(session, person_ids)

    monkeypatch.setattr(service, "_roles", roles_then_rival)
    assert service.open_cases_for_response(db.session, ours.id, settings, LATER) == []
    assert cases_of(world.ada) == rival
    [note] = activities(rival[0])
    assert note.body.startswith("answered again: NPS 2")


def test_without_an_owner_or_a_user_the_email_offers_no_reply_to_anyone(world, open_case):
    case = open_case(world.ada, nps=3)
    case.owner_id = None
    message = service.tell_respondent(db.session, case, "Fixed.", None, LATER)
    assert message.headers == {}
    assert "reply to this e-mail" not in message.body_text
    assert "reply to this e-mail" not in message.body_html
    [told] = activities(case)
    assert told.author_id is None


def test_an_alert_case_opened_meanwhile_by_another_process_is_skipped(world, settings, monkeypatch):
    first, second = alert(world.acme), alert(world.globex)
    influence = service._influence

    def influence_then_rival(session, account_ids):
        if not session.scalar(select(Case.id).where(Case.alert_id == first.id)):
            session.add(
                Case(
                    reason=CaseReason.ALERT,
                    open_key=f"alert:{first.id}",
                    account_id=world.acme.id,
                    alert_id=first.id,
                    title="rival",
                    priority=1.0,
                    first_contact_due=NOW,
                    resolution_due=NOW,
                )
            )
            session.flush()
        return influence(session, account_ids)

    monkeypatch.setattr(service, "_influence", influence_then_rival)
    [opened] = service.open_cases_for_alerts(db.session, settings, NOW)
    assert opened.alert_id == second.id
    titles = db.session.scalars(select(Case.title).order_by(Case.alert_id)).all()
    assert titles == ["rival", opened.title]


def test_many_alerts_open_their_cases_in_chunks(world, settings, monkeypatch):
    monkeypatch.setattr(service, "INSERT_CHUNK", 2)
    alerts = [
        alert(world.acme, message=f"Alert {n}", severity=severity)
        for n, severity in enumerate(AlertSeverity)
    ]
    cases = service.open_cases_for_alerts(db.session, settings, NOW)
    assert [c.alert_id for c in cases] == [a.id for a in alerts]
    assert [c.title for c in cases] == ["Alert 0", "Alert 1", "Alert 2"]


def test_a_missed_response_before_a_live_case_is_not_noted_again_and_again(
    world, respond, open_case, settings
):
    respond(world.ada, nps=2, submitted_at=NOW - dt.timedelta(days=1))  # its hook failed
    case = open_case(world.ada, nps=3)
    for _sweep in range(2):
        assert service.open_missing_cases(db.session, settings, LATER, since=None) == 0
    assert activities(case) == []
