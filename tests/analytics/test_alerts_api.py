"""The alerts API: readable accounts only, writers act, every input validated."""

import json

import pytest
from sqlalchemy import select

from relhealth.analytics.alerts_service import evaluate_alerts
from relhealth.analytics.models import Alert, AlertStatus
from relhealth.auth.models import Role
from relhealth.extensions import db
from tests import factories as f
from tests.analytics.alerts_world import NOW, build_world


@pytest.fixture
def world(session):
    world = build_world()
    evaluate_alerts(db.session, NOW)
    return world


def acme_alert(world, kind="executive_detractor") -> Alert:
    return db.session.scalar(
        select(Alert).where(Alert.account_id == world.acme.id, Alert.kind == kind)
    )


def test_the_owner_lists_the_alerts_of_their_accounts_only(api, world):
    response = api.as_(world.owner).get("/api/v1/alerts")
    assert response.status_code == 200
    assert {a["account_id"] for a in response.json} == {world.acme.id}
    assert len(response.json) == 6
    assert json.loads(response.headers["X-Pagination"])["total"] == 6
    detractor = next(a for a in response.json if a["kind"] == "executive_detractor")
    assert detractor["person_id"] == world.executive.id
    assert detractor["status"] == "open"
    assert detractor["evidence"]["value"] == 3
    assert "answered 3 out of 10" in detractor["message"]


def test_an_admin_sees_every_account_and_filters_narrow_the_list(api, world):
    admin = f.UserFactory(role=Role.ADMIN)
    caller = api.as_(admin)
    assert len(caller.get("/api/v1/alerts").json) == 7
    only = caller.get(f"/api/v1/alerts?account={world.globex.id}").json
    assert [a["id"] for a in only] == [world.foreign.id]
    declines = caller.get("/api/v1/alerts?kind=significant_decline&status=open").json
    assert len(declines) == 3
    assert caller.get("/api/v1/alerts?status=resolved").json == []
    paged = caller.get("/api/v1/alerts?page_size=2&page=2&sort=kind")
    assert len(paged.json) == 2
    assert json.loads(paged.headers["X-Pagination"])["total_pages"] == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=bogus", "kind"),
        ("status=closed", "status"),
        ("severity=urgent", "severity"),
        ("account=abc", "account"),
        ("account=0", "account"),
        ("sort=name", "sort"),
    ],
)
def test_bad_list_arguments_are_refused_with_a_message(api, world, query, field):
    response = api.as_(world.owner).get(f"/api/v1/alerts?{query}")
    assert response.status_code == 422
    assert response.json["errors"]["query"][field]


def test_a_foreign_accounts_alert_is_not_found(api, world):
    caller = api.as_(world.owner)
    assert caller.get(f"/api/v1/alerts/{world.foreign.id}").status_code == 404
    response = caller.post(f"/api/v1/alerts/{world.foreign.id}/acknowledge", json={})
    assert response.status_code == 404
    assert caller.post(f"/api/v1/alerts/{world.foreign.id}/resolve", json={}).status_code == 404
    db.session.refresh(world.foreign)
    assert world.foreign.status == AlertStatus.OPEN


def test_the_owner_acknowledges_then_resolves(api, world):
    alert = acme_alert(world)
    caller = api.as_(world.owner)
    response = caller.post(f"/api/v1/alerts/{alert.id}/acknowledge")
    assert response.status_code == 200
    assert response.json["status"] == "acknowledged"
    assert response.json["acknowledged_by_id"] == world.owner.id
    again = caller.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={})
    assert again.status_code == 200
    assert again.json["acknowledged_at"] == response.json["acknowledged_at"]

    resolved = caller.post(f"/api/v1/alerts/{alert.id}/resolve", json={})
    assert resolved.status_code == 200
    assert resolved.json["status"] == "resolved"
    assert resolved.json["resolved_by_id"] == world.owner.id
    late = caller.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={})
    assert late.status_code == 409
    assert caller.get("/api/v1/alerts?status=resolved").json[0]["id"] == alert.id


def test_resolving_an_open_alert_acknowledges_it_too(api, world):
    alert = acme_alert(world, "coverage_lost")
    response = api.as_(world.owner).post(f"/api/v1/alerts/{alert.id}/resolve", json={})
    assert response.status_code == 200
    assert response.json["acknowledged_at"] is not None


def test_a_reader_sees_alerts_but_may_not_act_on_them(api, world):
    alert = acme_alert(world)
    caller = api.as_(world.viewer)
    assert caller.get(f"/api/v1/alerts/{alert.id}").status_code == 200
    assert len(caller.get("/api/v1/alerts").json) == 6
    for action in ("acknowledge", "resolve"):
        response = caller.post(f"/api/v1/alerts/{alert.id}/{action}", json={})
        assert response.status_code == 403
    db.session.refresh(alert)
    assert alert.status == AlertStatus.OPEN


def test_an_action_refuses_fields_it_does_not_know(api, world):
    alert = acme_alert(world)
    response = api.as_(world.owner).post(
        f"/api/v1/alerts/{alert.id}/acknowledge", json={"status": "resolved"}
    )
    assert response.status_code == 422
    assert response.json["errors"]["json"]["status"]
    db.session.refresh(alert)
    assert alert.status == AlertStatus.OPEN


def test_the_api_needs_a_token(client, world):
    assert client.get("/api/v1/alerts").status_code == 401
