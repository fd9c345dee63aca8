"""Who may do what through the API: every role against every /api/v1 endpoint.

The expected answers come from the rules in ``relhealth.auth.permissions``: a readable account
that may not be changed answers 403, one that may not be read answers 404 (exactly as a missing
id would, so ids cannot be probed) and never shows in lists; our own staff are readable by all
and changed only by admins. A refused request writes nothing.
"""

from dataclasses import dataclass, field

import pytest

from relhealth.accounts.models import (
    Account,
    AccountKind,
    AccountTeamMember,
    Person,
    Relationship,
    RelationshipKind,
)
from relhealth.auth.models import AccountAssignment, Role, User
from tests import factories as f

ROLES = ("admin", "executive", "account_manager", "partner_manager", "viewer")
ACCOUNT_KEYS = ("owned", "on_team", "partner", "assigned", "other")

# What each role may do on each account of the scene: "write", "read" or None (not even see it).
ACCESS = {
    "admin": dict.fromkeys(ACCOUNT_KEYS, "write"),
    "executive": dict.fromkeys(ACCOUNT_KEYS, "read"),
    "account_manager": {"owned": "write", "on_team": "write"},
    "partner_manager": {"partner": "write"},
    "viewer": {"assigned": "read"},
}


@dataclass
class Scene:
    """Five users (one per role) and five accounts, each with a person, an edge, a teammate."""

    users: dict[str, User] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    edges: dict[str, Relationship] = field(default_factory=dict)
    members: dict[str, AccountTeamMember] = field(default_factory=dict)
    staff: Person | None = None  # one of ours on no team
    colleague: Person | None = None  # another of ours, linked to ``staff``
    staff_edge: Relationship | None = None


def build_scene(session) -> Scene:
    """Built in memory and flushed once: hundreds of tests start from this scene."""
    scene = Scene()
    am_staff, pm_staff = f.StaffFactory.build(), f.StaffFactory.build()
    scene.users = {
        "admin": f.UserFactory.build(role=Role.ADMIN),
        "executive": f.UserFactory.build(role=Role.EXECUTIVE),
        "account_manager": f.UserFactory.build(role=Role.ACCOUNT_MANAGER, person=am_staff),
        "partner_manager": f.UserFactory.build(role=Role.PARTNER_MANAGER, person=pm_staff),
        "viewer": f.UserFactory.build(role=Role.VIEWER),
    }
    someone_else = f.UserFactory.build(role=Role.ACCOUNT_MANAGER)
    scene.accounts = {
        "owned": f.AccountFactory.build(owner=scene.users["account_manager"]),
        "on_team": f.AccountFactory.build(owner=someone_else),
        "partner": f.AccountFactory.build(kind=AccountKind.PARTNER, owner=someone_else),
        "assigned": f.AccountFactory.build(owner=someone_else),
        "other": f.AccountFactory.build(owner=someone_else),
    }
    rows = [
        f.TeamMemberFactory.build(account=scene.accounts["on_team"], person=am_staff),
        f.TeamMemberFactory.build(account=scene.accounts["partner"], person=pm_staff),
    ]
    for key, account in scene.accounts.items():
        scene.people[key] = f.PersonFactory.build(account=account)
        scene.members[key] = f.TeamMemberFactory.build(account=account)
        scene.edges[key] = f.RelationshipFactory.build(
            source=scene.members[key].person, target=scene.people[key]
        )
    scene.staff, scene.colleague = f.StaffFactory.build(), f.StaffFactory.build()
    scene.staff_edge = f.RelationshipFactory.build(
        source=scene.staff, target=scene.colleague, kind=RelationshipKind.WORKS_WITH
    )
    session.add_all(
        [*rows, *scene.members.values(), *scene.edges.values(), scene.staff_edge, someone_else]
    )
    session.add_all(scene.users.values())
    session.flush()
    session.add(
        AccountAssignment(
            user_id=scene.users["viewer"].id, account_id=scene.accounts["assigned"].id
        )
    )
    session.flush()
    return scene


@pytest.fixture
def scene(session):
    return build_scene(session)


# One account-scoped endpoint: (method, path, body, access it needs, status when allowed).
def _account_endpoints():
    new_person = {
        "side": "external",
        "first_name": "Grace",
        "last_name": "Hopper",
        "seniority": "senior",
    }
    return {
        "accounts get": ("get", "/accounts/{account}", None, "read", 200),
        "accounts patch": ("patch", "/accounts/{account}", {"tier": "strategic"}, "write", 200),
        "accounts end": ("post", "/accounts/{account}/end", {"on": "2026-06-30"}, "write", 200),
        "people get": ("get", "/people/{person}", None, "read", 200),
        "people create": (
            "post",
            "/people",
            {**new_person, "account_id": "{account}"},
            "write",
            201,
        ),
        "people patch": ("patch", "/people/{person}", {"title": "CTO"}, "write", 200),
        "people end": ("post", "/people/{person}/end", {"on": "2026-06-30"}, "write", 200),
        "relationships get": ("get", "/relationships/{edge}", None, "read", 200),
        "relationships create": (
            "post",
            "/relationships",
            {"source_id": "{staff}", "target_id": "{person}", "kind": "covers"},
            "write",
            201,
        ),
        "relationships patch": ("patch", "/relationships/{edge}", {"strength": 5}, "write", 200),
        "relationships end": ("post", "/relationships/{edge}/end", {}, "write", 200),
        "team list": ("get", "/accounts/{account}/team", None, "read", 200),
        "team get": ("get", "/accounts/{account}/team/{member}", None, "read", 200),
        "team add": ("post", "/accounts/{account}/team", {"person_id": "{staff}"}, "write", 201),
        "team patch": (
            "patch",
            "/accounts/{account}/team/{member}",
            {"role": "executive_sponsor"},
            "write",
            200,
        ),
        "team end": ("post", "/accounts/{account}/team/{member}/end", {}, "write", 200),
    }


ACCOUNT_ENDPOINTS = _account_endpoints()


def _ids(scene: Scene, key: str) -> dict[str, int]:
    return {
        "account": scene.accounts[key].id,
        "person": scene.people[key].id,
        "edge": scene.edges[key].id,
        "member": scene.members[key].id,
        "staff": scene.staff.id,
    }


def _fill(template, ids):
    """Put the scene's ids into a path or body template ("{account}" -> 12)."""
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}"):
            return ids[template[1:-1]]
        return template.format(**ids)
    if isinstance(template, dict):
        return {key: _fill(value, ids) for key, value in template.items()}
    return template


def _call(api, user, method, path, body):
    caller = api.as_(user) if user is not None else api
    kwargs = {} if body is None else {"json": body}
    return getattr(caller, method)("/api/v1" + path, **kwargs)


def _expected(access: str | None, needs: str, allowed: int, refers_in_body: bool) -> int:
    if access == "write" or (access == "read" and needs == "read"):
        return allowed
    if access == "read":
        return 403
    # Not readable: a path id answers 404; an id in a body is an invalid reference (422).
    return 422 if refers_in_body else 404


@pytest.mark.parametrize("endpoint", ACCOUNT_ENDPOINTS)
@pytest.mark.parametrize("key", ACCOUNT_KEYS)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_documented_answer_on_each_account_endpoint(
    api, session, scene, role, key, endpoint
):
    method, path, body, needs, allowed = ACCOUNT_ENDPOINTS[endpoint]
    ids = _ids(scene, key)
    refers_in_body = endpoint in ("people create", "relationships create")
    expected = _expected(ACCESS[role].get(key), needs, allowed, refers_in_body)
    before = f.db_snapshot(session) if method != "get" else None

    response = _call(api, scene.users[role], method, _fill(path, ids), _fill(body, ids))

    assert response.status_code == expected, response.get_json()
    if method != "get" and expected >= 400:
        assert f.db_snapshot(session) == before, "a refused request must not write anything"
    if expected == 404:
        assert "No such" in response.get_json()["message"]
    if refers_in_body and expected == 422:
        errors = response.get_json()["errors"]["json"]
        assert errors in ({"account_id": ["No such account."]}, {"target_id": ["No such person."]})


@pytest.mark.parametrize("key", ACCOUNT_KEYS)
@pytest.mark.parametrize("role", ROLES)
def test_lists_show_exactly_the_accounts_people_and_links_a_role_may_read(api, scene, role, key):
    caller = api.as_(scene.users[role])
    visible = ACCESS[role].get(key) is not None

    accounts = {a["id"] for a in caller.get("/api/v1/accounts?page_size=500").get_json()}
    people = {p["id"] for p in caller.get("/api/v1/people?page_size=500").get_json()}
    edges = {r["id"] for r in caller.get("/api/v1/relationships?page_size=500").get_json()}

    assert (scene.accounts[key].id in accounts) is visible
    assert (scene.people[key].id in people) is visible
    assert (scene.edges[key].id in edges) is visible
    # Our own staff are a directory everyone reads, and so are the links among them.
    assert {scene.staff.id, scene.colleague.id, scene.members[key].person_id} <= people
    assert scene.staff_edge.id in edges


@pytest.mark.parametrize("endpoint", ACCOUNT_ENDPOINTS)
def test_an_unreadable_account_answers_exactly_like_a_missing_one(api, scene, endpoint):
    method, path, body, _needs, _allowed = ACCOUNT_ENDPOINTS[endpoint]
    user = scene.users["viewer"]
    hidden = _ids(scene, "other")
    missing = {name: 2**31 - 1 - index for index, name in enumerate(hidden)}
    missing["staff"] = hidden["staff"]

    probe = _call(api, user, method, _fill(path, hidden), _fill(body, hidden))
    absent = _call(api, user, method, _fill(path, missing), _fill(body, missing))

    assert probe.status_code in (404, 422)
    assert (probe.status_code, probe.get_json()) == (absent.status_code, absent.get_json())


# Endpoints that concern no account: /me, creating accounts, our own staff and their links.


@pytest.mark.parametrize("role", ROLES)
def test_me_tells_every_role_who_the_token_belongs_to(api, scene, role):
    user = scene.users[role]
    response = api.as_(user).get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json() == {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": role,
        "person_id": user.person_id,
    }


CREATORS = {"customer": {"admin", "account_manager"}, "partner": {"admin", "partner_manager"}}


@pytest.mark.parametrize("kind", CREATORS)
@pytest.mark.parametrize("role", ROLES)
def test_only_admins_and_the_matching_manager_create_an_account_of_a_kind(
    api, session, scene, role, kind
):
    user = scene.users[role]
    before = f.db_snapshot(session)
    response = api.as_(user).post("/api/v1/accounts", json={"name": "New Co", "kind": kind})
    if role in CREATORS[kind]:
        assert response.status_code == 201, response.get_json()
        expected_owner = None if role == "admin" else user.id
        assert response.get_json()["owner_id"] == expected_owner
        # What a manager creates, they own, and so may read and change afterwards.
        new = response.get_json()["id"]
        assert (
            api.as_(user).patch(f"/api/v1/accounts/{new}", json={"tier": "key"}).status_code == 200
        )
    else:
        assert response.status_code == 403
        assert f.db_snapshot(session) == before


# (method, path, body, status for an admin); everyone else reads with 200 and writes with 403.
STAFF_ENDPOINTS = {
    "staff get": ("get", "/people/{staff}", None, 200),
    "staff create": (
        "post",
        "/people",
        {"side": "internal", "first_name": "Alan", "last_name": "Kay", "seniority": "manager"},
        201,
    ),
    "staff patch": ("patch", "/people/{staff}", {"title": "Head of Sales"}, 200),
    "staff end": ("post", "/people/{staff}/end", {"on": "2026-06-30"}, 200),
    "staff link get": ("get", "/relationships/{staff_edge}", None, 200),
    "staff link create": (
        "post",
        "/relationships",
        {"source_id": "{colleague}", "target_id": "{staff}", "kind": "reports_to"},
        201,
    ),
    "staff link patch": ("patch", "/relationships/{staff_edge}", {"strength": 1}, 200),
    "staff link end": ("post", "/relationships/{staff_edge}/end", {}, 200),
}


@pytest.mark.parametrize("endpoint", STAFF_ENDPOINTS)
@pytest.mark.parametrize("role", ROLES)
def test_our_own_staff_are_read_by_everyone_and_changed_only_by_admins(
    api, session, scene, role, endpoint
):
    method, path, body, admin_status = STAFF_ENDPOINTS[endpoint]
    ids = {
        "staff": scene.staff.id,
        "colleague": scene.colleague.id,
        "staff_edge": scene.staff_edge.id,
    }
    expected = admin_status if role == "admin" or method == "get" else 403
    before = f.db_snapshot(session)

    response = _call(api, scene.users[role], method, _fill(path, ids), _fill(body, ids))

    assert response.status_code == expected, response.get_json()
    if expected == 403:
        assert f.db_snapshot(session) == before


def _every_endpoint():
    for name, (method, path, body, *_rest) in {**ACCOUNT_ENDPOINTS, **STAFF_ENDPOINTS}.items():
        yield pytest.param(method, path, body, id=name)
    yield pytest.param("get", "/me", None, id="me")
    yield pytest.param("get", "/accounts", None, id="accounts list")
    yield pytest.param("post", "/accounts", {"name": "X", "kind": "customer"}, id="accounts create")
    yield pytest.param("get", "/people", None, id="people list")
    yield pytest.param("get", "/relationships", None, id="relationships list")


@pytest.mark.parametrize(("method", "path", "body"), list(_every_endpoint()))
@pytest.mark.parametrize("token", [None, "rh_not-a-real-token", "Basic dXNlcjpwdw=="])
def test_every_endpoint_wants_a_valid_bearer_token(api, session, scene, method, path, body, token):
    ids = {
        **_ids(scene, "owned"),
        "colleague": scene.colleague.id,
        "staff_edge": scene.staff_edge.id,
    }
    headers = {}
    if token is not None:
        headers["Authorization"] = token if token.startswith("Basic") else f"Bearer {token}"
    before = f.db_snapshot(session)
    kwargs = {} if body is None else {"json": _fill(body, ids)}

    response = getattr(api.client, method)("/api/v1" + _fill(path, ids), headers=headers, **kwargs)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert f.db_snapshot(session) == before
