"""Accounts, people, relationships and teams: the rules and writes (relhealth.accounts.service)."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from relhealth.accounts import service
from relhealth.accounts.models import (
    AccountKind,
    AccountTeamMember,
    Person,
    Relationship,
    RelationshipKind,
    TeamRole,
)
from relhealth.auth.models import Role
from relhealth.core.errors import Conflict, Forbidden, InvalidInput
from tests import factories as f

TODAY = dt.date(2026, 6, 15)
REPORTS_TO = RelationshipKind.REPORTS_TO


@pytest.fixture
def admin(session):
    return f.UserFactory(role=Role.ADMIN)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def link(session, user, source, target, kind=REPORTS_TO, **extra):
    data = {"source_id": source.id, "target_id": target.id, "kind": kind, **extra}
    return service.create_relationship(session, user, data, today=TODAY)


# Accounts ------------------------------------------------------------------------------------


def test_an_account_manager_owns_what_they_create_even_when_asking_for_no_owner(session):
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    first = service.create_account(session, manager, {"name": "A", "kind": "customer"})
    second = service.create_account(
        session, manager, {"name": "B", "kind": "customer", "owner_id": None}
    )
    assert first.owner_id == second.owner_id == manager.id


def test_only_an_admin_gives_an_account_to_someone_else_or_to_nobody(session, admin):
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    colleague = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    account = f.AccountFactory(owner=manager)
    for owner_id in (colleague.id, None):
        with pytest.raises(Forbidden):
            service.update_account(session, manager, account, {"owner_id": owner_id})
    assert account.owner_id == manager.id
    service.update_account(session, admin, account, {"owner_id": colleague.id})
    assert account.owner_id == colleague.id
    service.update_account(session, admin, account, {"owner_id": None})
    assert account.owner_id is None


def test_an_unknown_owner_is_a_field_error(session, admin):
    with pytest.raises(InvalidInput) as error:
        service.create_account(session, admin, {"name": "A", "kind": "customer", "owner_id": 999})
    assert "owner_id" in error.value.fields


def test_account_names_and_crm_ids_are_unique(session, admin):
    f.AccountFactory(name="Acme", crm_id="CRM-1")
    with pytest.raises(Conflict) as error:
        service.create_account(session, admin, {"name": "Acme", "kind": "customer"})
    assert "name" in error.value.fields
    other = f.AccountFactory(name="Other")
    with pytest.raises(Conflict):
        service.update_account(session, admin, other, {"crm_id": "CRM-1"})
    service.update_account(session, admin, other, {"name": "Other", "crm_id": "CRM-2"})
    assert other.crm_id == "CRM-2"


def test_a_partner_manager_cannot_turn_a_partner_into_a_customer(session):
    manager = f.UserFactory(role=Role.PARTNER_MANAGER)
    account = f.AccountFactory(kind=AccountKind.PARTNER, owner=manager)
    with pytest.raises(Forbidden):
        service.update_account(session, manager, account, {"kind": "customer"})
    assert account.kind == AccountKind.PARTNER


def test_ending_an_account_keeps_it_and_lists_tell_active_from_ended(session, admin):
    live = f.AccountFactory(annual_value=Decimal(5))
    ended = f.AccountFactory()
    later = f.AccountFactory(ended_on=TODAY + dt.timedelta(days=1))
    service.end_account(session, ended, TODAY)
    active = session.scalars(service.account_query(admin, {"active": True}, today=TODAY)).all()
    gone = session.scalars(service.account_query(admin, {"active": False}, today=TODAY)).all()
    assert set(active) == {live, later}
    assert set(gone) == {ended}


# People --------------------------------------------------------------------------------------


def test_ending_a_person_ends_their_links_and_team_places_and_deletes_nothing(session, admin):
    ours = f.StaffFactory()
    theirs = f.PersonFactory()
    colleague = f.PersonFactory(account=theirs.account)
    covers = f.RelationshipFactory(source=ours, target=theirs)
    reports = f.RelationshipFactory(source=colleague, target=theirs, kind=REPORTS_TO)
    earlier = dt.date(2026, 1, 31)
    old = f.RelationshipFactory(
        source=ours, target=colleague, kind=RelationshipKind.WORKS_WITH, ended_on=earlier
    )
    unrelated = f.RelationshipFactory(target=colleague)
    place = f.TeamMemberFactory(person=ours)
    before = {model: count(session, model) for model in (Person, Relationship, AccountTeamMember)}

    service.end_person(session, ours, TODAY)
    service.end_person(session, theirs, TODAY)

    assert ours.left_on == theirs.left_on == TODAY
    assert covers.ended_on == reports.ended_on == place.ended_on == TODAY
    assert old.ended_on == earlier  # an edge that had already ended keeps its own date
    assert unrelated.ended_on is None
    assert {model: count(session, model) for model in before} == before


def test_a_person_cannot_leave_before_they_joined(session):
    person = f.PersonFactory(active_from=TODAY)
    with pytest.raises(InvalidInput) as error:
        service.end_person(session, person, TODAY - dt.timedelta(days=1))
    assert "on" in error.value.fields
    assert person.left_on is None
    with pytest.raises(InvalidInput):
        service.update_person(
            session, person, {"active_from": TODAY, "left_on": dt.date(2026, 1, 1)}
        )


def test_emails_are_lower_cased_and_unique_among_people(session, admin):
    account = f.AccountFactory()
    data = {
        "side": "external",
        "account_id": account.id,
        "first_name": "Ada",
        "last_name": "L",
        "seniority": "staff",
        "email": " Ada@Example.TEST ",
        "roles": ["champion", "user"],
    }
    person = service.create_person(session, admin, dict(data))
    assert person.email == "ada@example.test"
    assert person.roles == ["champion", "user"]
    with pytest.raises(Conflict):
        service.create_person(session, admin, {**data, "email": "ADA@example.test"})
    service.update_person(session, person, {"roles": ["blocker"]})
    assert person.roles == ["blocker"]


def test_people_of_an_account_must_name_it_and_our_people_must_not(session, admin):
    base = {"first_name": "A", "last_name": "B", "seniority": "staff"}
    with pytest.raises(InvalidInput) as missing:
        service.create_person(session, admin, {**base, "side": "external"})
    account = f.AccountFactory()
    with pytest.raises(InvalidInput) as extra:
        service.create_person(
            session, admin, {**base, "side": "internal", "account_id": account.id}
        )
    assert "account_id" in missing.value.fields
    assert "account_id" in extra.value.fields


def test_people_sort_by_the_configured_seniority_ladder(app, session, admin, monkeypatch):
    account = f.AccountFactory()
    for level in ("staff", "executive", "manager", "senior"):
        f.PersonFactory(account=account, seniority=level)

    def levels(sort):
        people, total = service.list_people(session, admin, {"account_id": account.id}, sort)
        assert total == 4
        return [p.seniority for p in people]

    assert levels(["seniority"]) == ["executive", "senior", "manager", "staff"]
    assert levels(["-seniority"]) == ["staff", "manager", "senior", "executive"]
    monkeypatch.setitem(app.config, "SENIORITY_LADDER", ("staff", "manager", "senior", "executive"))
    assert levels(["seniority"]) == ["staff", "manager", "senior", "executive"]


# Relationships -------------------------------------------------------------------------------


def test_a_reporting_loop_is_refused_with_a_field_error(session, admin):
    account = f.AccountFactory()
    a, b, c = (f.PersonFactory(account=account) for _ in range(3))
    link(session, admin, a, b)
    link(session, admin, b, c)
    with pytest.raises(InvalidInput) as error:
        link(session, admin, c, a)
    assert error.value.fields == {"target_id": ["This reporting line would make a cycle."]}
    assert count(session, Relationship) == 2


def test_an_ended_reporting_line_no_longer_makes_a_loop(session, admin):
    ours = [f.StaffFactory() for _ in range(3)]
    link(session, admin, ours[0], ours[1])
    line = link(session, admin, ours[1], ours[2])
    service.end_relationship(session, line, TODAY)
    assert link(session, admin, ours[2], ours[0]).kind == REPORTS_TO


def test_reporting_lines_of_another_organisation_do_not_count(session, admin):
    theirs = f.PersonFactory()
    boss = f.PersonFactory(account=theirs.account)
    ours = [f.StaffFactory(), f.StaffFactory()]
    link(session, admin, theirs, boss)
    link(session, admin, ours[0], ours[1])
    assert link(session, admin, boss, theirs, kind=RelationshipKind.WORKS_WITH)
    assert link(session, admin, ours[1], ours[0], kind=RelationshipKind.WORKS_WITH)


def test_both_ends_must_exist(session, admin):
    person = f.PersonFactory()
    for data in (
        {"source_id": 2**31 - 1, "target_id": person.id},
        {"source_id": person.id, "target_id": 2**31 - 1},
    ):
        with pytest.raises(InvalidInput) as error:
            service.create_relationship(session, admin, {**data, "kind": "works_with"})
        missing = "source_id" if data["source_id"] != person.id else "target_id"
        assert error.value.fields == {missing: ["No such person."]}


def test_re_creating_an_ended_relationship_reopens_the_same_row(session, admin):
    ours, theirs = f.StaffFactory(), f.PersonFactory()
    edge = link(session, admin, ours, theirs, kind=RelationshipKind.COVERS)
    service.end_relationship(session, edge, TODAY)
    again = link(session, admin, ours, theirs, kind=RelationshipKind.COVERS, strength=5)
    assert again.id == edge.id
    assert again.ended_on is None
    assert again.strength == 5
    assert count(session, Relationship) == 1


def test_a_duplicate_active_relationship_is_a_conflict(session, admin):
    ours, theirs = f.StaffFactory(), f.PersonFactory()
    edge = link(session, admin, ours, theirs, kind=RelationshipKind.COVERS, strength=2)
    with pytest.raises(Conflict):
        link(session, admin, ours, theirs, kind=RelationshipKind.COVERS, strength=4)
    assert edge.strength == 2
    # The same pair with another kind is a different relationship.
    assert link(session, admin, ours, theirs, kind=RelationshipKind.SPONSORS).id != edge.id


def test_someone_who_has_left_cannot_be_linked(session, admin):
    ours, theirs = f.StaffFactory(), f.PersonFactory(left_on=TODAY)
    with pytest.raises(InvalidInput) as error:
        link(session, admin, ours, theirs, kind=RelationshipKind.COVERS)
    assert "target_id" in error.value.fields


# Account teams -------------------------------------------------------------------------------


def test_re_adding_an_ended_team_member_reopens_the_place(session):
    account = f.AccountFactory()
    ours = f.StaffFactory()
    place = service.add_team_member(
        session, account, {"person_id": ours.id, "role": TeamRole.MEMBER}, today=TODAY
    )
    service.end_team_member(session, place, TODAY)
    assert service.team_of(session, account, active=True, today=TODAY) == []
    assert service.team_of(session, account, active=False, today=TODAY) == [place]

    later = TODAY + dt.timedelta(days=30)
    again = service.add_team_member(
        session, account, {"person_id": ours.id, "role": TeamRole.OWNER}, today=later
    )
    assert again.id == place.id
    assert again.ended_on is None
    assert again.role == TeamRole.OWNER
    assert again.started_on == later
    assert service.team_of(session, account, active=True, today=later) == [place]


def test_an_active_team_member_cannot_be_added_twice(session):
    place = f.TeamMemberFactory()
    with pytest.raises(Conflict):
        service.add_team_member(
            session, place.account, {"person_id": place.person_id, "role": "member"}, today=TODAY
        )


def test_only_our_current_people_join_a_team(session):
    account = f.AccountFactory()
    for person in (f.PersonFactory(account=account), f.StaffFactory(left_on=TODAY)):
        with pytest.raises(InvalidInput) as error:
            service.add_team_member(
                session, account, {"person_id": person.id, "role": "member"}, today=TODAY
            )
        assert "person_id" in error.value.fields
    assert count(session, AccountTeamMember) == 0


def test_people_by_side_and_level_keeps_empty_levels_in_ladder_order(session):
    account = f.AccountFactory()
    f.PersonFactory(account=account, seniority="manager")
    f.PersonFactory(account=account, seniority="manager", left_on=TODAY)
    f.TeamMemberFactory(account=account, person=f.StaffFactory(seniority="executive"))
    grouped = service.people_by_side_and_level(session, account, today=TODAY)
    assert list(grouped["external"]) == ["executive", "senior", "manager", "staff"]
    assert {level: len(people) for level, people in grouped["external"].items()} == {
        "executive": 0,
        "senior": 0,
        "manager": 1,
        "staff": 0,
    }
    assert len(grouped["internal"]["executive"]) == 1


def test_search_treats_percent_and_underscore_as_text(session, admin):
    literal = f.PersonFactory(last_name="a_b")
    f.PersonFactory(last_name="axb")
    people, total = service.list_people(session, admin, {"q": "a_b"})
    assert [p.id for p in people] == [literal.id]
    assert total == 1


def test_leaving_ends_links_and_team_places_that_were_to_end_later(session):
    member = f.TeamMemberFactory(ended_on=dt.date(2030, 1, 1))
    edge = f.RelationshipFactory(source=member.person, ended_on=dt.date(2030, 1, 1))
    service.end_person(session, member.person, dt.date(2026, 6, 30))
    assert member.ended_on == dt.date(2026, 6, 30)
    assert edge.ended_on == dt.date(2026, 6, 30)


def test_a_teammate_cannot_take_ownership_but_an_admin_can_hand_it_over(session, admin):
    owner = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    teammate = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    account = f.AccountFactory(owner_id=owner.id)
    with pytest.raises(Forbidden):
        service.update_account(session, teammate, account, {"owner_id": teammate.id})
    assert account.owner_id == owner.id
    service.update_account(session, admin, account, {"owner_id": teammate.id})
    assert account.owner_id == teammate.id
