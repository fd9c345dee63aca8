"""The cases API: readable accounts only, writers act, every input validated, illegal moves 409."""

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup import service
from relhealth.followup.models import Case, CaseActivity, CaseTag
from relhealth.messaging.models import OutboxMessage
from tests import factories as f


@pytest.fixture
def cases(world, respond, settings):
    """Ada's detractor and negative-comment cases and Bob's (Globex, foreign to Acme's owner)
    low-score case, opened a month ago: all late for their first contact."""
    opened_at = utcnow() - dt.timedelta(days=30)

    def opened(person, **answers):
        response = respond(person, **answers)
        return service.open_cases_for_response(db.session, response.id, settings, opened_at)[0]

    return {
        "ada": opened(world.ada, nps=2),
        "ada_text": opened(world.ada, text="They never call back.", sentiment=-0.9),
        "bob": opened(world.bob, ratings=[1, 2]),
    }


def snapshot() -> tuple:
    """Every case, activity, tag and outbox message: equal before and after means unchanged."""
    db.session.expire_all()
    return tuple(
        sorted(tuple(str(v) for v in row) for row in db.session.execute(select(*table.columns)))
        for table in (
            Case.__table__,
            CaseActivity.__table__,
            CaseTag.__table__,
            OutboxMessage.__table__,
        )
    )


def url(case, suffix=""):
    return f"/api/v1/cases/{case.id}{suffix}"


# Reading -------------------------------------------------------------------------------------


def test_a_token_is_required(client, cases):
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get(url(cases["ada"])).status_code == 401
    response = client.post(url(cases["ada"], "/transitions"), json={"to": "contacted"})
    assert response.status_code == 401


def test_the_owner_lists_the_cases_of_their_accounts(api, world, cases):
    response = api.as_(world.owner).get("/api/v1/cases")
    assert response.status_code == 200
    assert {c["id"] for c in response.json} == {cases["ada"].id, cases["ada_text"].id}
    assert json.loads(response.headers["X-Pagination"])["total"] == 2
    ada = next(c for c in response.json if c["id"] == cases["ada"].id)
    assert ada["reason"] == "detractor"
    assert ada["status"] == "open"
    assert ada["person_id"] == world.ada.id
    assert ada["owner_id"] == world.owner.id
    assert ada["score"] == 2
    assert ada["value_at_stake"] == "100000.00"
    assert ada["priority_parts"]["value"] == 100000.0
    assert ada["tags"] == []
    assert ada["overdue"] is True
    assert "held" not in ada


def test_an_admin_lists_every_case_and_filters_narrow_it(api, world, cases):
    caller = api.as_(world.admin)
    assert len(caller.get("/api/v1/cases").json) == 3
    only = caller.get(f"/api/v1/cases?account={world.globex.id}").json
    assert [c["id"] for c in only] == [cases["bob"].id]
    assert [c["id"] for c in caller.get("/api/v1/cases?reason=negative_text").json] == [
        cases["ada_text"].id
    ]
    assert len(caller.get(f"/api/v1/cases?owner={world.owner.id}").json) == 2
    assert len(caller.get(f"/api/v1/cases?person={world.ada.id}").json) == 2
    assert caller.get("/api/v1/cases?status=resolved").json == []
    assert len(caller.get("/api/v1/cases?status=open&overdue=true&live=true").json) == 3
    assert caller.get("/api/v1/cases?overdue=false").json == []


def test_cases_sort_and_page(api, world, cases):
    caller = api.as_(world.admin)
    ordered = sorted(cases.values(), key=lambda c: (-c.priority, c.id))
    listed = caller.get("/api/v1/cases?sort=-priority").json
    assert [c["id"] for c in listed] == [c.id for c in ordered]
    assert [c["id"] for c in caller.get("/api/v1/cases").json] == [c.id for c in ordered]
    page = caller.get("/api/v1/cases?sort=-priority&page=2&page_size=2")
    assert [c["id"] for c in page.json] == [ordered[2].id]
    assert json.loads(page.headers["X-Pagination"])["total_pages"] == 2
    ascending = caller.get("/api/v1/cases?sort=account_id,priority").json
    assert ascending[0]["account_id"] == world.acme.id


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=closed", "status"),
        ("reason=grumpy", "reason"),
        ("owner=abc", "owner"),
        ("account=0", "account"),
        ("overdue=maybe", "overdue"),
        ("sort=name", "sort"),
        ("sort=", "sort"),
    ],
)
def test_bad_list_arguments_are_refused_with_a_message(api, world, cases, query, field):
    response = api.as_(world.owner).get(f"/api/v1/cases?{query}")
    assert response.status_code == 422
    assert response.json["errors"]["query"][field]


def test_one_case_and_its_timeline(api, world, cases):
    caller = api.as_(world.viewer)
    response = caller.get(url(cases["ada"]))
    assert response.status_code == 200
    assert response.json["title"].startswith("Ada Byron answered 2 out of 10")
    service.log_activity(db.session, cases["ada"], "note", "Looking.", world.owner, None, utcnow())
    timeline = caller.get(url(cases["ada"], "/activities"))
    assert timeline.status_code == 200
    assert [(a["kind"], a["body"], a["author_id"]) for a in timeline.json] == [
        ("note", "Looking.", world.owner.id)
    ]


def test_a_foreign_case_is_not_found_for_every_action(api, world, cases):
    caller = api.as_(world.owner)
    bob = cases["bob"]
    before = snapshot()
    assert caller.get(url(bob)).status_code == 404
    assert caller.get(url(bob, "/activities")).status_code == 404
    assert caller.patch(url(bob), json={"tags": ["billing"]}).status_code == 404
    transition = caller.post(url(bob, "/transitions"), json={"to": "contacted"})
    assert transition.status_code == 404
    note = caller.post(url(bob, "/activities"), json={"kind": "note", "body": "x"})
    assert note.status_code == 404
    assert caller.post(url(bob, "/tell"), json={"message": "Fixed."}).status_code == 404
    assert caller.get("/api/v1/cases/987654").status_code == 404
    assert snapshot() == before


def test_a_held_case_is_not_found(api, world, cases):
    cases["ada"].held = True
    db.session.flush()
    caller = api.as_(world.admin)
    assert caller.get(url(cases["ada"])).status_code == 404
    assert cases["ada"].id not in {c["id"] for c in caller.get("/api/v1/cases").json}


@pytest.mark.parametrize("reader", ["viewer", "executive"])
def test_read_only_roles_read_but_may_not_write(api, world, cases, reader):
    caller = api.as_(getattr(world, reader))
    ada = cases["ada"]
    assert caller.get(url(ada)).status_code == 200
    before = snapshot()
    writes = [
        caller.patch(url(ada), json={"tags": ["billing"]}),
        caller.patch(url(ada), json={"owner_id": world.admin.id}),
        caller.post(url(ada, "/transitions"), json={"to": "contacted"}),
        caller.post(url(ada, "/activities"), json={"kind": "call", "body": "x"}),
        caller.post(url(ada, "/tell"), json={"message": "Fixed."}),
    ]
    assert [w.status_code for w in writes] == [403] * 5
    assert snapshot() == before


# Acting --------------------------------------------------------------------------------------


def test_the_owner_works_a_case_through_to_resolution(api, world, cases):
    caller = api.as_(world.owner)
    ada = cases["ada"]
    called_at = (
        (ada.opened_at + dt.timedelta(hours=3)).replace(tzinfo=None).isoformat("T", "seconds")
    )
    called = caller.post(
        url(ada, "/activities"),
        json={"kind": "call", "body": "Listened for an hour.", "occurred_at": called_at},
    )
    assert called.status_code == 201
    assert called.json["kind"] == "call"
    assert called.json["occurred_at"].startswith(called_at)
    assert caller.get(url(ada)).json["status"] == "contacted"
    planned = caller.post(url(ada, "/transitions"), json={"to": "action_planned", "note": "Plan"})
    assert (planned.status_code, planned.json["status"]) == (200, "action_planned")
    tagged = caller.patch(url(ada), json={"tags": ["support_responsiveness"]})
    assert (tagged.status_code, tagged.json["tags"]) == (200, ["support_responsiveness"])
    resolved = caller.post(
        url(ada, "/transitions"), json={"to": "resolved", "resolution": "Named a support lead."}
    )
    assert resolved.status_code == 200
    assert resolved.json["status"] == "resolved"
    assert resolved.json["resolution"] == "Named a support lead."
    assert resolved.json["ended_at"] is not None
    assert resolved.json["overdue"] is False
    told = caller.post(url(ada, "/tell"), json={"message": "We named a support lead for you."})
    assert told.status_code == 200
    assert told.json["told_respondent_at"] is not None
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "we_heard_you"))
    assert message.to_address == "ada@acme.test"
    kinds = [a["kind"] for a in caller.get(url(ada, "/activities")).json]
    assert kinds == ["call", "status", "status", "tagged", "status", "told_respondent"]


def test_an_illegal_transition_is_409_and_changes_nothing(api, world, cases):
    caller = api.as_(world.owner)
    before = snapshot()
    response = caller.post(
        url(cases["ada"], "/transitions"), json={"to": "resolved", "resolution": "x"}
    )
    assert response.status_code == 409
    assert "cannot become resolved" in response.json["message"]
    assert snapshot() == before


def test_an_ended_case_takes_no_activity_and_no_transition(api, world, cases):
    caller = api.as_(world.owner)
    ada = cases["ada"]
    assert (
        caller.post(url(ada, "/transitions"), json={"to": "closed_unresolved"}).status_code == 200
    )
    before = snapshot()
    note = caller.post(url(ada, "/activities"), json={"kind": "note", "body": "Late."})
    assert note.status_code == 409
    again = caller.post(url(ada, "/transitions"), json={"to": "contacted"})
    assert again.status_code == 409
    assert caller.patch(url(ada), json={"owner_id": world.admin.id}).status_code == 409
    assert snapshot() == before


def test_resolving_without_a_resolution_is_422(api, world, cases):
    caller = api.as_(world.owner)
    ada = cases["ada"]
    caller.post(url(ada, "/transitions"), json={"to": "contacted"})
    before = snapshot()
    response = caller.post(url(ada, "/transitions"), json={"to": "resolved", "resolution": " "})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["resolution"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("suffix", "body", "field"),
    [
        ("/transitions", {}, "to"),
        ("/transitions", {"to": "reopened"}, "to"),
        ("/transitions", {"to": "contacted", "note": 5}, "note"),
        ("/transitions", {"to": "contacted", "colour": "red"}, "colour"),
        ("/activities", {"kind": "status", "body": "x"}, "kind"),
        ("/activities", {"body": "x"}, "kind"),
        ("/activities", {"kind": "note", "body": "  "}, "body"),
        ("/activities", {"kind": "note", "body": "x\x00y"}, "body"),
        ("/activities", {"kind": "call", "occurred_at": "yesterday"}, "occurred_at"),
        ("/activities", {"kind": "call", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ("/activities", {"kind": "call", "occurred_at": "2001-01-01T00:00:00Z"}, "occurred_at"),
        ("/tell", {}, "message"),
        ("/tell", {"message": ""}, "message"),
        ("/tell", {"message": "   "}, "message"),
        ("", {"tags": ["billing", "gremlins"]}, "tags"),
        ("", {"tags": "billing"}, "tags"),
        ("", {"owner_id": "3"}, "owner_id"),
        ("", {"owner_id": 0}, "owner_id"),
        ("", {"owner_id": 987654}, "owner_id"),
        ("", {"status": "resolved"}, "status"),
    ],
)
def test_bad_bodies_are_422_with_field_messages(api, world, cases, suffix, body, field):
    caller = api.as_(world.owner)
    before = snapshot()
    target = url(cases["ada"], suffix)
    response = caller.patch(target, json=body) if suffix == "" else caller.post(target, json=body)
    assert response.status_code == 422, response.json
    assert response.json["errors"]["json"][field]
    assert snapshot() == before


def test_patch_changes_owner_and_tags_together_or_not_at_all(api, world, cases):
    caller = api.as_(world.owner)
    ada = cases["ada"]
    before = snapshot()
    response = caller.patch(url(ada), json={"owner_id": world.admin.id, "tags": ["gremlins"]})
    assert response.status_code == 422
    assert snapshot() == before
    response = caller.patch(url(ada), json={"owner_id": world.admin.id, "tags": ["billing"]})
    assert response.status_code == 200
    assert (response.json["owner_id"], response.json["tags"]) == (world.admin.id, ["billing"])


def test_assigning_to_a_reader_is_refused(api, world, cases):
    response = api.as_(world.owner).patch(url(cases["ada"]), json={"owner_id": world.viewer.id})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["owner_id"]


def test_telling_twice_or_someone_unreachable_is_409(api, world, cases):
    caller = api.as_(world.owner)
    assert caller.post(url(cases["ada"], "/tell"), json={"message": "Fixed."}).status_code == 200
    before = snapshot()
    again = caller.post(url(cases["ada"], "/tell"), json={"message": "Fixed again."})
    assert again.status_code == 409
    world.ada.opted_out = True
    db.session.flush()
    opted_out = caller.post(url(cases["ada_text"], "/tell"), json={"message": "Fixed."})
    assert opted_out.status_code == 409
    assert "opted out" in opted_out.json["message"]
    assert snapshot() == before
    count = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert count == 1


def test_the_cases_api_is_documented(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/transitions",
        "/api/v1/cases/{case_id}/activities",
        "/api/v1/cases/{case_id}/tell",
    ):
        assert path in spec["paths"]


def test_an_admin_may_work_any_case(api, world, cases):
    caller = api.as_(world.admin)
    response = caller.post(url(cases["bob"], "/activities"), json={"kind": "meeting"})
    assert response.status_code == 201
    assert caller.get(url(cases["bob"])).json["status"] == "contacted"
    member = f.UserFactory(role=world.owner.role)
    assert api.as_(member).get(url(cases["bob"])).status_code == 404
