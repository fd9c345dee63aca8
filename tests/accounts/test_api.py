"""The REST API for accounts, people, relationships and teams: validation, rules, lists, docs.

Who may do what is pinned in tests/auth/test_api_matrix.py; here the caller is an admin unless
a test says otherwise, so every answer is about the input, not about permissions.
"""

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from relhealth.accounts.models import (
    Account,
    AccountKind,
    Person,
    RelationshipKind,
    RelationshipType,
    Side,
    StakeholderRole,
    TeamRole,
    Tier,
)
from relhealth.auth.models import Role, User
from tests import factories as f

V1 = "/api/v1"
MAX_ID = 2**31 - 1


@dataclass
class World:
    admin: User
    account: Account
    person: Person  # one of theirs, on ``account``
    staff: Person  # one of ours, on ``account``'s team
    spare: Person  # one of ours, on no team
    edge: object  # staff covers person
    member: object  # staff's place on the team


@pytest.fixture
def world(session) -> World:
    admin = f.UserFactory(role=Role.ADMIN)
    account = f.AccountFactory()
    person = f.PersonFactory(account=account)
    member = f.TeamMemberFactory(account=account)
    edge = f.RelationshipFactory(source=member.person, target=person)
    return World(admin, account, person, member.person, f.StaffFactory(), edge, member)


@pytest.fixture
def admin_api(api, world):
    return api.as_(world.admin)


def _ids(world: World) -> dict[str, int]:
    return {
        "account": world.account.id,
        "person": world.person.id,
        "staff": world.staff.id,
        "spare": world.spare.id,
        "edge": world.edge.id,
        "member": world.member.id,
    }


# Validation ----------------------------------------------------------------------------------

NEW_ACCOUNT = {"name": "Initech", "kind": "customer"}
NEW_PERSON = {"side": "internal", "first_name": "Alan", "last_name": "Kay", "seniority": "senior"}

# (method, path, body, field): each body breaks exactly one rule, named by ``field``.
BODY_CASES = {
    # unknown fields
    "account unknown field": ("post", "/accounts", {**NEW_ACCOUNT, "colour": "red"}, "colour"),
    "person side is fixed": ("patch", "/people/{person}", {"side": "internal"}, "side"),
    "relationship kind is fixed": ("patch", "/relationships/{edge}", {"kind": "covers"}, "kind"),
    "end unknown field": ("post", "/accounts/{account}/end", {"when": "2026-01-01"}, "when"),
    # missing and null
    "account name missing": ("post", "/accounts", {"kind": "customer"}, "name"),
    "account name null": ("patch", "/accounts/{account}", {"name": None}, "name"),
    "account name empty": ("post", "/accounts", {**NEW_ACCOUNT, "name": ""}, "name"),
    "team role missing": ("patch", "/accounts/{account}/team/{member}", {}, "role"),
    "team person missing": ("post", "/accounts/{account}/team", {"role": "member"}, "person_id"),
    # wrong types
    "account name number": ("post", "/accounts", {**NEW_ACCOUNT, "name": 42}, "name"),
    "account value list": (
        "post",
        "/accounts",
        {**NEW_ACCOUNT, "annual_value": [1]},
        "annual_value",
    ),
    "account value bool": (
        "post",
        "/accounts",
        {**NEW_ACCOUNT, "annual_value": True},
        "annual_value",
    ),
    "person opted out word": ("post", "/people", {**NEW_PERSON, "opted_out": "maybe"}, "opted_out"),
    "person roles string": ("post", "/people", {**NEW_PERSON, "roles": "champion"}, "roles"),
    "strength string": ("patch", "/relationships/{edge}", {"strength": "3"}, "strength"),
    "strength fraction": ("patch", "/relationships/{edge}", {"strength": 3.5}, "strength"),
    # strings over the column's length
    "account name too long": ("post", "/accounts", {**NEW_ACCOUNT, "name": "x" * 201}, "name"),
    "account crm too long": ("post", "/accounts", {**NEW_ACCOUNT, "crm_id": "x" * 101}, "crm_id"),
    "first name too long": (
        "post",
        "/people",
        {**NEW_PERSON, "first_name": "x" * 101},
        "first_name",
    ),
    "title too long": ("patch", "/people/{person}", {"title": "x" * 201}, "title"),
    "department too long": ("patch", "/people/{person}", {"department": "x" * 101}, "department"),
    "email too long": (
        "patch",
        "/people/{person}",
        {"email": "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "test"},
        "email",
    ),
    "email malformed": ("patch", "/people/{person}", {"email": "not-an-address"}, "email"),
    "NUL in a name": ("post", "/accounts", {**NEW_ACCOUNT, "name": "Ini\x00tech"}, "name"),
    "NUL in a title": ("patch", "/people/{person}", {"title": "C\x00O"}, "title"),
    # money
    "negative value": ("post", "/accounts", {**NEW_ACCOUNT, "annual_value": -1}, "annual_value"),
    "negative value text": (
        "patch",
        "/accounts/{account}",
        {"lifetime_value": "-0.01"},
        "lifetime_value",
    ),
    "huge value": ("post", "/accounts", {**NEW_ACCOUNT, "annual_value": 10**12}, "annual_value"),
    "huge exponent": (
        "post",
        "/accounts",
        {**NEW_ACCOUNT, "annual_value": "1E+999999999"},
        "annual_value",
    ),
    "NaN value text": ("post", "/accounts", {**NEW_ACCOUNT, "annual_value": "NaN"}, "annual_value"),
    "Infinity value text": (
        "patch",
        "/accounts/{account}",
        {"annual_value": "Infinity"},
        "annual_value",
    ),
    # ids in a body
    "owner id zero": ("post", "/accounts", {**NEW_ACCOUNT, "owner_id": 0}, "owner_id"),
    "owner id negative": ("patch", "/accounts/{account}", {"owner_id": -1}, "owner_id"),
    "owner id too big": ("post", "/accounts", {**NEW_ACCOUNT, "owner_id": MAX_ID + 1}, "owner_id"),
    "owner id text": ("post", "/accounts", {**NEW_ACCOUNT, "owner_id": "1"}, "owner_id"),
    "account id zero": ("post", "/people", {**NEW_PERSON, "account_id": 0}, "account_id"),
    "source id too big": (
        "post",
        "/relationships",
        {"source_id": 2**63, "target_id": "{person}", "kind": "covers"},
        "source_id",
    ),
    "target id negative": (
        "post",
        "/relationships",
        {"source_id": "{spare}", "target_id": -5, "kind": "covers"},
        "target_id",
    ),
    "team person id zero": ("post", "/accounts/{account}/team", {"person_id": 0}, "person_id"),
    # enums and the seniority ladder
    "account kind": ("post", "/accounts", {**NEW_ACCOUNT, "kind": "prospect"}, "kind"),
    "account tier": ("patch", "/accounts/{account}", {"tier": "gold"}, "tier"),
    "account tier case": ("patch", "/accounts/{account}", {"tier": "Strategic"}, "tier"),
    "relationship type": (
        "patch",
        "/accounts/{account}",
        {"relationship_type": "friendly"},
        "relationship_type",
    ),
    "person side": ("post", "/people", {**NEW_PERSON, "side": "both"}, "side"),
    "seniority off the ladder": (
        "post",
        "/people",
        {**NEW_PERSON, "seniority": "intern"},
        "seniority",
    ),
    "seniority case": ("patch", "/people/{person}", {"seniority": "Executive"}, "seniority"),
    "stakeholder role": ("patch", "/people/{person}", {"roles": ["king"]}, "roles"),
    "duplicate roles": (
        "patch",
        "/people/{person}",
        {"roles": ["champion", "user", "champion"]},
        "roles",
    ),
    "relationship kind": (
        "post",
        "/relationships",
        {"source_id": "{spare}", "target_id": "{person}", "kind": "likes"},
        "kind",
    ),
    "strength below 1": ("patch", "/relationships/{edge}", {"strength": 0}, "strength"),
    "strength above 5": ("patch", "/relationships/{edge}", {"strength": 6}, "strength"),
    "team role": ("patch", "/accounts/{account}/team/{member}", {"role": "boss"}, "role"),
    # dates
    "no such day": ("patch", "/accounts/{account}", {"renewal_date": "2026-02-30"}, "renewal_date"),
    "no such month": (
        "post",
        "/accounts",
        {**NEW_ACCOUNT, "started_on": "2026-13-01"},
        "started_on",
    ),
    "date in words": ("post", "/accounts/{account}/end", {"on": "tomorrow"}, "on"),
    "date as number": ("post", "/people/{person}/end", {"on": 20260101}, "on"),
    "last contact": (
        "patch",
        "/relationships/{edge}",
        {"last_contact_on": "31/01/2026"},
        "last_contact_on",
    ),
    "team start": (
        "post",
        "/accounts/{account}/team",
        {"person_id": "{spare}", "started_on": "x"},
        "started_on",
    ),
}


def _fill(template, ids):
    if isinstance(template, str):
        if re.fullmatch(r"\{\w+\}", template):
            return ids[template[1:-1]]
        return template.format(**ids)
    if isinstance(template, dict):
        return {key: _fill(value, ids) for key, value in template.items()}
    return template


@pytest.mark.parametrize("case", BODY_CASES)
def test_an_invalid_body_is_a_422_naming_the_field_and_writes_nothing(
    admin_api, session, world, case
):
    method, path, body, field = BODY_CASES[case]
    ids = _ids(world)
    before = f.db_snapshot(session)

    response = getattr(admin_api, method)(V1 + _fill(path, ids), json=_fill(body, ids))

    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]["json"]
    assert field in errors, errors
    assert all(isinstance(message, str) for message in _messages(errors[field]))
    assert f.db_snapshot(session) == before


def _messages(value):
    """Field messages are a list, or for list items a mapping of index -> list."""
    if isinstance(value, dict):
        return [m for item in value.values() for m in _messages(item)]
    return value


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "Initech", "kind": "customer", "annual_value": NaN}',
        '{"name": "Initech", "kind": "customer", "annual_value": Infinity}',
        '{"name": "Initech", "kind": "customer", "annual_value": -Infinity}',
        '{"name": "Initech", "kind": "customer", "annual_value": 1e400}',
    ],
)
def test_non_finite_json_numbers_are_refused(admin_api, session, body):
    before = f.db_snapshot(session)
    response = admin_api.post(V1 + "/accounts", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "annual_value" in response.get_json()["errors"]["json"]
    assert f.db_snapshot(session) == before


def test_strength_is_refused_as_nan(admin_api, session, world):
    response = admin_api.patch(
        f"{V1}/relationships/{world.edge.id}",
        data='{"strength": NaN}',
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "strength" in response.get_json()["errors"]["json"]


@pytest.mark.parametrize("body", ["[1, 2]", '"Initech"', "null", "42"])
def test_a_body_that_is_not_an_object_is_a_422(admin_api, session, body):
    before = f.db_snapshot(session)
    response = admin_api.post(V1 + "/accounts", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]
    assert f.db_snapshot(session) == before


@pytest.mark.parametrize(
    "body", ['{"name": "Initech", "kind":', "{'name': 'Initech'}", "{}}", b"\xff\xfe{}"]
)
def test_a_malformed_json_body_is_a_client_error_not_a_crash(admin_api, session, body):
    # flask-smorest (webargs) answers a body that is not JSON at all with 400, keeping 422 for
    # JSON that breaks the schema.
    before = f.db_snapshot(session)
    response = admin_api.post(V1 + "/accounts", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["errors"]["json"] == ["Invalid JSON body."]
    assert f.db_snapshot(session) == before


def test_an_empty_body_is_an_empty_object_missing_its_required_fields(admin_api, session):
    before = f.db_snapshot(session)
    response = admin_api.post(V1 + "/accounts", data="", content_type="application/json")
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert errors == {"name": ["Missing data for required field."], "kind": errors["kind"]}
    assert f.db_snapshot(session) == before


# (path, query argument, value): the value breaks the argument's rule.
QUERY_CASES = [
    ("/accounts", "kind", "prospect"),
    ("/accounts", "tier", "gold"),
    ("/accounts", "relationship_type", "friendly"),
    ("/accounts", "owner", "0"),
    ("/accounts", "owner", "-3"),
    ("/accounts", "owner", str(MAX_ID + 1)),
    ("/accounts", "owner", "1.5"),
    ("/accounts", "owner", "me"),
    ("/accounts", "active", "maybe"),
    ("/accounts", "q", "x" * 101),
    ("/accounts", "q", "Ini\x00tech"),
    ("/accounts", "sort", " "),
    ("/accounts", "page", "0"),
    ("/accounts", "page", "-1"),
    ("/accounts", "page", "first"),
    ("/accounts", "page_size", "501"),
    ("/accounts", "page_size", "0"),
    ("/people", "account", "0"),
    ("/people", "account", str(2**63)),
    ("/people", "side", "both"),
    ("/people", "seniority", "intern"),
    ("/people", "role", "king"),
    ("/people", "active", "2"),
    ("/relationships", "kind", "likes"),
    ("/relationships", "person", "-1"),
    ("/relationships", "account", "x"),
    ("/accounts/{account}/team", "active", "perhaps"),
]


@pytest.mark.parametrize(("path", "name", "value"), QUERY_CASES)
def test_an_invalid_query_argument_is_a_422_naming_it(admin_api, world, path, name, value):
    response = admin_api.get(V1 + _fill(path, _ids(world)), query_string={name: value})
    assert response.status_code == 422, response.get_json()
    assert name in response.get_json()["errors"]["query"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/accounts", "annual_value, created_at, kind, lifetime_value, name, renewal_date, tier"),
        ("/people", "created_at, email, first_name, last_name, seniority"),
        ("/relationships", "id, kind, last_contact_on, strength"),
    ],
)
@pytest.mark.parametrize("sort", ["colour", "-colour", "name,colour", "--name", "-"])
def test_an_unknown_sort_key_is_a_422_listing_the_allowed_keys(admin_api, path, allowed, sort):
    if path != "/accounts" and sort.startswith("name"):
        sort = sort.replace("name", "id" if path == "/relationships" else "email")
    response = admin_api.get(V1 + path, query_string={"sort": sort})
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["query"]["sort"]
    assert message.endswith(f"use one of: {allowed}.")


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/0",
        "/accounts/-1",
        f"/accounts/{MAX_ID + 1}",
        "/accounts/99999999999999999999999",
        "/accounts/1.0",
        "/accounts/abc",
        "/people/0",
        f"/people/{MAX_ID + 1}",
        "/relationships/-7",
        f"/relationships/{2**63}",
        "/accounts/{account}/team/0",
        "/accounts/{account}/team/" + str(MAX_ID + 1),
        f"/accounts/{MAX_ID}/team/1",
        f"/people/{MAX_ID}",
        f"/relationships/{MAX_ID}",
    ],
)
@pytest.mark.parametrize("method", ["get", "patch"])
def test_an_impossible_or_unknown_id_in_the_path_is_a_json_404(
    admin_api, session, world, path, method
):
    before = f.db_snapshot(session)
    body = {"role": "member"} if "/team/" in path else {}  # valid, so only the id is wrong
    response = getattr(admin_api, method)(V1 + _fill(path, _ids(world)), json=body)
    assert response.status_code == 404
    assert response.get_json()["code"] == 404
    assert f.db_snapshot(session) == before


@pytest.mark.parametrize("suffix", ["/team", "/end"])
def test_an_unknown_account_in_a_sub_resource_path_is_a_404(admin_api, session, world, suffix):
    before = f.db_snapshot(session)
    body = {"person_id": world.spare.id} if suffix == "/team" else {}
    response = admin_api.post(f"{V1}/accounts/{MAX_ID}{suffix}", json=body)
    assert response.status_code == 404
    assert response.get_json()["message"] == "No such account."
    assert f.db_snapshot(session) == before


def test_a_team_member_of_another_account_is_not_found_through_this_one(admin_api, world):
    elsewhere = f.TeamMemberFactory()
    response = admin_api.get(f"{V1}/accounts/{world.account.id}/team/{elsewhere.id}")
    assert response.status_code == 404
    assert response.get_json()["message"] == "No such team member."


# Never a partial write ------------------------------------------------------------------------


def test_a_refused_person_change_leaves_every_field_as_it_was(admin_api, session, world):
    person = f.PersonFactory(
        account=world.account, active_from=date(2026, 1, 1), left_on=date(2026, 3, 1), title="CFO"
    )
    before = f.db_snapshot(session)
    response = admin_api.patch(
        f"{V1}/people/{person.id}",
        json={"title": "CEO", "roles": ["champion"], "active_from": "2026-04-01"},
    )
    assert response.status_code == 422
    assert "left_on" in response.get_json()["errors"]["json"]
    assert f.db_snapshot(session) == before


def test_a_clashing_account_change_writes_none_of_its_other_fields(admin_api, session, world):
    f.AccountFactory(name="Taken")
    before = f.db_snapshot(session)
    response = admin_api.patch(
        f"{V1}/accounts/{world.account.id}", json={"tier": "strategic", "name": "Taken"}
    )
    assert response.status_code == 409
    assert response.get_json()["errors"]["json"] == {"name": ["Already used."]}
    assert f.db_snapshot(session) == before


def test_a_clashing_email_adds_nobody(admin_api, session, world):
    before = f.db_snapshot(session)
    response = admin_api.post(
        V1 + "/people", json={**NEW_PERSON, "email": world.staff.email.upper()}
    )
    assert response.status_code == 409
    assert f.db_snapshot(session) == before


# Relationship rules ---------------------------------------------------------------------------


def post_edge(caller, source, target, kind, **extra):
    body = {"source_id": source.id, "target_id": target.id, "kind": kind, **extra}
    return caller.post(V1 + "/relationships", json=body)


def rule_error(response) -> dict:
    assert response.status_code == 422, response.get_json()
    return response.get_json()["errors"]["json"]


def test_nobody_is_linked_to_themselves(admin_api, world):
    errors = rule_error(post_edge(admin_api, world.person, world.person, "works_with"))
    assert errors == {"target_id": ["A person cannot have a relationship with themselves."]}


def test_both_ends_of_a_relationship_must_exist(admin_api, session, world):
    gone = MAX_ID
    response = admin_api.post(
        V1 + "/relationships",
        json={"source_id": gone, "target_id": world.person.id, "kind": "covers"},
    )
    assert rule_error(response) == {"source_id": ["No such person."]}
    response = admin_api.post(
        V1 + "/relationships",
        json={"source_id": world.spare.id, "target_id": gone, "kind": "covers"},
    )
    assert rule_error(response) == {"target_id": ["No such person."]}


@pytest.mark.parametrize(
    ("source", "target"), [("person", "spare"), ("spare", "staff"), ("person", "colleague")]
)
def test_covers_goes_only_from_one_of_ours_to_one_of_theirs(admin_api, world, source, target):
    people = {
        "person": world.person,
        "spare": world.spare,
        "staff": world.staff,
        "colleague": f.PersonFactory(account=world.account),
    }
    errors = rule_error(post_edge(admin_api, people[source], people[target], "covers"))
    assert errors == {"kind": ["'covers' goes from one of our people to one of theirs."]}


def test_reports_to_links_people_of_one_organisation(admin_api, world):
    errors = rule_error(post_edge(admin_api, world.person, world.spare, "reports_to"))
    assert errors == {"kind": ["'reports_to' links two people of the same organisation."]}


def test_external_people_of_two_accounts_are_never_linked(admin_api, world):
    stranger = f.PersonFactory()
    for kind in ("works_with", "reports_to", "sponsors"):
        errors = rule_error(post_edge(admin_api, world.person, stranger, kind))
        assert errors == {"target_id": ["People of two different accounts cannot be linked."]}


def test_a_reporting_line_that_would_close_a_loop_is_refused(admin_api, session, world):
    a, b, c = world.person, *(f.PersonFactory(account=world.account) for _ in range(2))
    assert post_edge(admin_api, a, b, "reports_to").status_code == 201
    assert post_edge(admin_api, b, c, "reports_to").status_code == 201
    before = f.db_snapshot(session)
    errors = rule_error(post_edge(admin_api, c, a, "reports_to"))
    assert errors == {"target_id": ["This reporting line would make a cycle."]}
    assert f.db_snapshot(session) == before
    # The same pair may still work together.
    assert post_edge(admin_api, c, a, "works_with").status_code == 201


def test_re_creating_an_ended_relationship_reopens_it(admin_api, world):
    url = f"{V1}/relationships/{world.edge.id}"
    ended = admin_api.post(url + "/end", json={"on": "2026-05-01"}).get_json()
    assert ended["ended_on"] == "2026-05-01"

    response = post_edge(admin_api, world.staff, world.person, "covers", strength=5)

    assert response.status_code == 201
    body = response.get_json()
    assert (body["id"], body["ended_on"], body["strength"]) == (world.edge.id, None, 5)
    assert admin_api.get(url).get_json()["ended_on"] is None


def test_a_duplicate_active_relationship_is_a_409(admin_api, session, world):
    before = f.db_snapshot(session)
    response = post_edge(admin_api, world.staff, world.person, "covers", strength=1)
    assert response.status_code == 409
    assert response.get_json()["errors"]["json"] == {"kind": ["Already exists."]}
    assert f.db_snapshot(session) == before


def test_a_new_relationship_takes_its_strength_and_last_contact(admin_api, world):
    response = post_edge(
        admin_api, world.spare, world.person, "sponsors", strength=4, last_contact_on="2026-02-01"
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["kind"], body["strength"], body["last_contact_on"]) == (
        "sponsors",
        4,
        "2026-02-01",
    )
    changed = admin_api.patch(f"{V1}/relationships/{body['id']}", json={"strength": 2})
    assert changed.get_json()["strength"] == 2


# End-dating ----------------------------------------------------------------------------------


def test_ending_a_person_ends_their_links_and_team_places_and_deletes_nothing(
    admin_api, session, world
):
    other_place = f.TeamMemberFactory(person=world.staff)
    staff_link = f.RelationshipFactory(
        source=world.staff, target=world.spare, kind=RelationshipKind.WORKS_WITH
    )
    counts = {table: len(rows) for table, rows in f.db_snapshot(session).items()}

    response = admin_api.post(f"{V1}/people/{world.staff.id}/end", json={"on": "2026-05-31"})

    assert response.status_code == 200
    assert response.get_json()["left_on"] == "2026-05-31"
    assert {table: len(rows) for table, rows in f.db_snapshot(session).items()} == counts
    for edge in (world.edge, staff_link):
        got = admin_api.get(f"{V1}/relationships/{edge.id}").get_json()
        assert got["ended_on"] == "2026-05-31"
    for place in (world.member, other_place):
        got = admin_api.get(f"{V1}/accounts/{place.account_id}/team/{place.id}").get_json()
        assert got["ended_on"] == "2026-05-31"


def test_ending_without_a_date_means_today(admin_api, world):
    response = admin_api.post(f"{V1}/accounts/{world.account.id}/end")
    assert response.status_code == 200
    assert response.get_json()["ended_on"] is not None


def test_active_filters_tell_current_from_ended(admin_api, world):
    gone = f.PersonFactory(account=world.account)
    admin_api.post(f"{V1}/people/{gone.id}/end", json={"on": "2026-01-31"})
    ended_account = f.AccountFactory()
    admin_api.post(f"{V1}/accounts/{ended_account.id}/end", json={"on": "2026-01-31"})
    admin_api.post(f"{V1}/relationships/{world.edge.id}/end", json={"on": "2026-01-31"})
    admin_api.post(f"{V1}/accounts/{world.account.id}/team/{world.member.id}/end")

    def ids(path, active):
        return {row["id"] for row in admin_api.get(f"{V1}{path}?active={active}").get_json()}

    assert ids("/people", "true") == {world.person.id, world.staff.id, world.spare.id}
    assert ids("/people", "false") == {gone.id}
    assert ids("/accounts", "false") == {ended_account.id}
    assert world.account.id in ids("/accounts", "true")
    assert ids("/relationships", "false") == {world.edge.id}
    assert ids("/relationships", "true") == set()
    team = f"/accounts/{world.account.id}/team"
    assert ids(team, "false") == {world.member.id}
    assert ids(team, "true") == set()
    assert len(admin_api.get(V1 + team).get_json()) == 1


def test_re_adding_an_ended_team_member_reopens_their_place(admin_api, world):
    team = f"{V1}/accounts/{world.account.id}/team"
    admin_api.post(f"{team}/{world.member.id}/end", json={"on": "2026-02-01"})

    response = admin_api.post(
        team,
        json={"person_id": world.staff.id, "role": "executive_sponsor", "started_on": "2026-03-01"},
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] == world.member.id
    assert (body["role"], body["started_on"], body["ended_on"]) == (
        "executive_sponsor",
        "2026-03-01",
        None,
    )
    assert body["person"]["id"] == world.staff.id
    again = admin_api.post(team, json={"person_id": world.staff.id})
    assert again.status_code == 409


def test_only_our_people_join_an_account_team(admin_api, session, world):
    before = f.db_snapshot(session)
    response = admin_api.post(
        f"{V1}/accounts/{world.account.id}/team", json={"person_id": world.person.id}
    )
    assert rule_error(response) == {"person_id": ["Only our own people join an account team."]}
    assert f.db_snapshot(session) == before


# Lists: paging, filters, sorting --------------------------------------------------------------


def test_lists_are_paged_with_an_x_pagination_header(admin_api, world):
    for index in range(6):
        f.AccountFactory(name=f"Paged {index}")
    response = admin_api.get(V1 + "/accounts?q=Paged&page=2&page_size=4")
    assert response.status_code == 200
    assert [a["name"] for a in response.get_json()] == ["Paged 4", "Paged 5"]
    assert json.loads(response.headers["X-Pagination"]) == {
        "total": 6,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }
    first = admin_api.get(V1 + "/accounts?q=Paged&page_size=4")
    assert len(first.get_json()) == 4
    assert json.loads(first.headers["X-Pagination"])["next_page"] == 2


@pytest.mark.parametrize("page", ["3", "1000", str(10**30)])
def test_a_page_past_the_end_is_empty_not_an_error(admin_api, world, page):
    response = admin_api.get(V1 + "/people", query_string={"page": page, "page_size": "2"})
    assert response.status_code == 200
    assert response.get_json() == []
    assert json.loads(response.headers["X-Pagination"])["total"] == 3


def test_the_default_page_holds_fifty(admin_api, session):
    for _ in range(55):
        f.StaffFactory()
    response = admin_api.get(V1 + "/people")
    assert len(response.get_json()) == 50
    total = 55 + 3  # and the world's three people
    assert json.loads(response.headers["X-Pagination"])["total"] == total
    assert json.loads(response.headers["X-Pagination"])["total_pages"] == 2
    assert len(admin_api.get(V1 + "/people?page_size=500").get_json()) == total


@pytest.fixture
def portfolio(world):
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    accounts = {
        "acme": f.AccountFactory(
            name="Acme Corp", tier=Tier.STRATEGIC, annual_value=Decimal(500), owner=manager
        ),
        "bolt": f.AccountFactory(
            name="Bolt Partners",
            kind=AccountKind.PARTNER,
            tier=Tier.STANDARD,
            annual_value=Decimal(900),
            relationship_type=RelationshipType.TRANSACTIONAL,
        ),
        "core": f.AccountFactory(name="Core Labs", tier=Tier.KEY, annual_value=Decimal(100)),
    }
    return manager, accounts


PORTFOLIO = {"Acme Corp", "Bolt Partners", "Core Labs"}


def names(response) -> list[str]:
    """The portfolio's names in the order listed (the world's own account is left out)."""
    assert response.status_code == 200, response.get_json()
    return [row["name"] for row in response.get_json() if row["name"] in PORTFOLIO]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=partner", ["Bolt Partners"]),
        ("tier=strategic", ["Acme Corp"]),
        ("relationship_type=transactional", ["Bolt Partners"]),
        ("q=CORP", ["Acme Corp"]),
        ("q=o&kind=customer&tier=key", ["Core Labs"]),
    ],
)
def test_accounts_filter_by_kind_tier_type_and_name(admin_api, portfolio, query, expected):
    assert names(admin_api.get(f"{V1}/accounts?{query}")) == expected


def test_accounts_filter_by_owner(admin_api, portfolio):
    manager, _accounts = portfolio
    assert names(admin_api.get(f"{V1}/accounts?owner={manager.id}")) == ["Acme Corp"]
    assert names(admin_api.get(f"{V1}/accounts?owner={MAX_ID}")) == []


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Acme Corp", "Bolt Partners", "Core Labs"]),
        ("-name", ["Core Labs", "Bolt Partners", "Acme Corp"]),
        ("tier", ["Acme Corp", "Core Labs", "Bolt Partners"]),
        ("-tier", ["Bolt Partners", "Core Labs", "Acme Corp"]),
        ("-annual_value", ["Bolt Partners", "Acme Corp", "Core Labs"]),
        ("kind,-annual_value", ["Acme Corp", "Core Labs", "Bolt Partners"]),
        (" kind , name ,", ["Acme Corp", "Core Labs", "Bolt Partners"]),
    ],
)
def test_accounts_sort_by_keys_with_minus_for_descending(admin_api, portfolio, sort, expected):
    response = admin_api.get(f"{V1}/accounts", query_string={"sort": sort})
    assert names(response) == expected


def test_tier_sorts_by_importance_not_alphabet(admin_api, session):
    for tier in (Tier.STANDARD, Tier.KEY, Tier.STRATEGIC):
        f.AccountFactory(tier=tier)
    tiers = [a["tier"] for a in admin_api.get(f"{V1}/accounts?sort=tier").get_json()]
    assert list(dict.fromkeys(tiers)) == ["strategic", "key", "standard"]


@pytest.fixture
def people(world):
    account = world.account
    made = {
        "exec": f.PersonFactory(
            account=account, seniority="executive", last_name="Zed", title="Chief Executive"
        ),
        "senior": f.PersonFactory(account=account, seniority="senior", last_name="Young"),
        "manager": f.PersonFactory(account=account, seniority="manager", last_name="Xu"),
        "elsewhere": f.PersonFactory(seniority="senior", last_name="Walker"),
    }
    made["exec"].roles = [StakeholderRole.DECISION_MAKER, StakeholderRole.ECONOMIC_BUYER]
    made["senior"].roles = [StakeholderRole.CHAMPION]
    return made


def person_ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [row["id"] for row in response.get_json()]


def test_people_filter_by_account_side_seniority_role_and_text(admin_api, session, world, people):
    session.flush()
    get = admin_api.get
    on_account = {world.person.id, *(p.id for k, p in people.items() if k != "elsewhere")}
    assert set(person_ids(get(f"{V1}/people?account={world.account.id}"))) == on_account
    assert set(person_ids(get(f"{V1}/people?side=internal"))) == {world.staff.id, world.spare.id}
    assert person_ids(get(f"{V1}/people?seniority=senior&account={world.account.id}")) == [
        people["senior"].id
    ]
    assert person_ids(get(f"{V1}/people?role=champion")) == [people["senior"].id]
    assert person_ids(get(f"{V1}/people?role=economic_buyer")) == [people["exec"].id]
    assert person_ids(get(f"{V1}/people?q=chief")) == [people["exec"].id]
    assert person_ids(get(f"{V1}/people?q=WALKER")) == [people["elsewhere"].id]
    assert person_ids(get(f"{V1}/people?q={people['senior'].email}")) == [people["senior"].id]


def test_people_sort_by_the_seniority_ladder_not_the_alphabet(admin_api, world, people):
    account = world.account.id
    ladder = [
        p["seniority"]
        for p in admin_api.get(f"{V1}/people?account={account}&sort=seniority,last_name").get_json()
    ]
    assert ladder == ["executive", "senior", "manager", "staff"]
    reverse = [
        p["seniority"]
        for p in admin_api.get(f"{V1}/people?account={account}&sort=-seniority").get_json()
    ]
    assert reverse == ["staff", "manager", "senior", "executive"]
    by_name = admin_api.get(f"{V1}/people?account={account}&sort=-last_name").get_json()
    assert [p["last_name"] for p in by_name][:3] == ["Zed", "Young", "Xu"]


def test_people_show_their_roles_in_order(admin_api, people):
    body = admin_api.get(f"{V1}/people/{people['exec'].id}").get_json()
    assert body["roles"] == ["decision_maker", "economic_buyer"]
    assert body["name"] == f"{body['first_name']} {body['last_name']}"


def test_relationships_filter_by_kind_person_account_and_sort_by_strength(admin_api, world, people):
    boss = f.RelationshipFactory(
        source=people["senior"], target=people["exec"], kind=RelationshipKind.REPORTS_TO, strength=5
    )
    other = f.RelationshipFactory(target=people["elsewhere"], strength=1)
    get = admin_api.get
    assert person_ids(get(f"{V1}/relationships?kind=reports_to")) == [boss.id]
    assert person_ids(get(f"{V1}/relationships?person={people['exec'].id}")) == [boss.id]
    assert set(person_ids(get(f"{V1}/relationships?account={world.account.id}"))) == {
        world.edge.id,
        boss.id,
    }
    assert person_ids(get(f"{V1}/relationships?sort=-strength")) == [
        boss.id,
        world.edge.id,
        other.id,
    ]
    assert person_ids(get(f"{V1}/relationships?sort=strength")) == [
        other.id,
        world.edge.id,
        boss.id,
    ]


def test_a_list_filter_on_an_unreadable_account_shows_nothing(api, world):
    viewer = f.UserFactory(role=Role.VIEWER)
    response = api.as_(viewer).get(f"{V1}/people?account={world.account.id}")
    assert response.status_code == 200
    assert response.get_json() == []
    assert api.as_(viewer).get(f"{V1}/relationships?account={world.account.id}").get_json() == []


# Create and change: what comes back ----------------------------------------------------------


def test_creating_an_account_answers_201_with_the_stored_values(admin_api, session):
    response = admin_api.post(
        V1 + "/accounts",
        json={
            "name": "Initech",
            "kind": "partner",
            "tier": "strategic",
            "relationship_type": "relationship",
            "annual_value": "1234.5",
            "lifetime_value": 999999999999,
            "renewal_date": "2027-01-31",
            "crm_id": "CRM-9",
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["annual_value"] == "1234.50"
    assert body["lifetime_value"] == "999999999999.00"
    stored = session.get(Account, body["id"])
    assert (stored.kind, stored.tier, stored.renewal_date.isoformat()) == (
        AccountKind.PARTNER,
        Tier.STRATEGIC,
        "2027-01-31",
    )


def test_creating_a_person_stores_roles_and_a_lower_cased_email(admin_api, session, world):
    response = admin_api.post(
        V1 + "/people",
        json={
            "side": "external",
            "account_id": world.account.id,
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "Grace@Navy.TEST",
            "seniority": "executive",
            "roles": ["influencer", "champion"],
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "grace@navy.test"
    assert body["roles"] == ["champion", "influencer"]
    assert session.get(Person, body["id"]).side == Side.EXTERNAL


def test_changing_a_team_role_answers_with_the_new_role(admin_api, world):
    url = f"{V1}/accounts/{world.account.id}/team/{world.member.id}"
    response = admin_api.patch(url, json={"role": TeamRole.OWNER.value})
    assert response.status_code == 200
    assert response.get_json()["role"] == "owner"
    assert admin_api.get(url).get_json()["role"] == "owner"


# OpenAPI document and docs page ---------------------------------------------------------------


def test_the_openapi_document_lists_every_resource(client):
    response = client.get(V1 + "/openapi.json")
    assert response.status_code == 200
    spec = json.loads(response.data)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "relhealth"
    expected = {
        "/api/v1/me",
        "/api/v1/accounts",
        "/api/v1/accounts/{account_id}",
        "/api/v1/accounts/{account_id}/end",
        "/api/v1/people",
        "/api/v1/people/{person_id}",
        "/api/v1/people/{person_id}/end",
        "/api/v1/relationships",
        "/api/v1/relationships/{relationship_id}",
        "/api/v1/relationships/{relationship_id}/end",
        "/api/v1/accounts/{account_id}/team",
        "/api/v1/accounts/{account_id}/team/{member_id}",
        "/api/v1/accounts/{account_id}/team/{member_id}/end",
    }
    assert expected <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    [account_id] = spec["paths"]["/api/v1/accounts/{account_id}"]["parameters"]
    assert account_id["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    kind = spec["components"]["schemas"]["AccountArgs"]["properties"]["kind"]
    assert kind["enum"] == ["customer", "partner"]


def test_the_docs_page_uses_only_local_assets_and_they_are_served(client):
    page = client.get(V1 + "/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert any(a.endswith(".js") for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()
    assert "/api/v1/openapi.json" in html
    # Swagger UI would otherwise fetch a validator badge from validator.swagger.io.
    assert re.search(r"override_config = \{\s*\"validatorUrl\": null\s*\}", html)
