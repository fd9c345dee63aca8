"""GET /api/v1/kpis/closed-loop and /api/v1/root-causes: arguments, permissions, JSON and CSV."""

import datetime as dt

import pytest

from relhealth.auth.models import Role
from relhealth.db import utcnow
from relhealth.followup.models import CaseStatus
from tests.factories import AccountFactory, AssignmentFactory, UserFactory
from tests.followup.test_kpis import days, hours, make_case

KPIS = "/api/v1/kpis/closed-loop"
CAUSES = "/api/v1/root-causes"


@pytest.fixture
def cases():
    """Two accounts of one manager's, one foreign; cases opened in the last weeks."""
    manager = UserFactory(role=Role.ACCOUNT_MANAGER, name="Mia Manager")
    mine = AccountFactory(name="Mine", owner=manager)
    foreign = AccountFactory(name="Foreign")
    now = utcnow()
    make_case(
        mine,
        now - days(20),
        status=CaseStatus.RESOLVED,
        contact_after=hours(5),
        ended_after=days(3),
        told=True,
        owner=manager,
        tags=("pricing_value",),
    )
    make_case(mine, now - days(3), owner=manager, tags=("delivery",))
    make_case(foreign, now - days(10), tags=("billing",))
    make_case(mine, now - days(400), tags=("billing",))  # before the default range
    return {"manager": manager, "mine": mine, "foreign": foreign}


def test_without_a_token_it_is_401(api):
    assert api.get(KPIS).status_code == 401
    assert api.get(CAUSES).status_code == 401


def test_admin_sees_every_account_over_the_last_365_days(api, cases):
    response = api.as_(UserFactory(role=Role.ADMIN)).get(KPIS)
    assert response.status_code == 200
    body = response.json
    assert body["overall"]["detractors"] == 3
    assert body["overall"]["resolved_pct"] == pytest.approx(33.3)
    assert body["groups"] == []
    assert body["by"] is None
    today = utcnow().date()
    assert body["end"] == today.isoformat()
    assert body["start"] == (today - dt.timedelta(days=364)).isoformat()


def test_a_manager_sees_only_their_accounts_by_owner(api, cases):
    body = api.as_(cases["manager"]).get(KPIS + "?by=owner").json
    assert body["overall"]["detractors"] == 2
    assert [(g["label"], g["detractors"]) for g in body["groups"]] == [("Mia Manager", 2)]
    assert body["groups"][0]["key"] == cases["manager"].id
    assert body["overall"]["told_pct"] == 50.0
    causes = api.as_(cases["manager"]).get(CAUSES).json["causes"]
    assert {c["tag"] for c in causes} == {"pricing_value", "delivery"}


def test_a_viewer_sees_only_assigned_accounts(api, cases):
    viewer = UserFactory(role=Role.VIEWER)
    assert api.as_(viewer).get(KPIS).json["overall"]["detractors"] == 0
    assert api.as_(viewer).get(CAUSES).json["causes"] == []
    AssignmentFactory(user=viewer, account_id=cases["foreign"].id)
    assert api.as_(viewer).get(KPIS).json["overall"]["detractors"] == 1
    assert [c["tag"] for c in api.as_(viewer).get(CAUSES).json["causes"]] == ["billing"]


def test_one_account_and_a_foreign_one_is_404(api, cases):
    manager = api.as_(cases["manager"])
    body = manager.get(f"{KPIS}?account={cases['mine'].id}&by=account").json
    assert [g["label"] for g in body["groups"]] == ["Mine"]
    assert manager.get(f"{KPIS}?account={cases['foreign'].id}").status_code == 404
    assert manager.get(f"{CAUSES}?account={cases['foreign'].id}").status_code == 404


def test_by_period_and_an_explicit_range(api, cases):
    admin = api.as_(UserFactory(role=Role.ADMIN))
    start = (utcnow() - days(500)).date().isoformat()
    body = admin.get(f"{KPIS}?by=period&period=quarter&start={start}").json
    assert sum(g["detractors"] for g in body["groups"]) == 4
    assert all(g["label"] == g["key"].replace("Q", " Q") for g in body["groups"])
    monthly = admin.get(f"{CAUSES}?period=month&start={start}").json
    assert all(len(c["period"]) == 7 for c in monthly["causes"])
    assert monthly["period"] == "month"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("by=tier", "by"),
        ("period=week", "period"),
        ("start=yesterday", "start"),
        ("end=2026-02-30", "end"),
        ("start=2026-03-01&end=2026-02-01", "end"),
        ("start=1900-01-01", "start"),
        ("account=0", "account"),
        ("account=x", "account"),
        ("format=xml", "format"),
    ],
)
def test_bad_arguments_are_422_with_field_messages(api, query, field):
    response = api.as_(UserFactory(role=Role.ADMIN)).get(f"{KPIS}?{query}")
    assert response.status_code == 422
    assert field in response.json["errors"]["query"]


def test_root_causes_refuse_bad_arguments_too(api):
    admin = api.as_(UserFactory(role=Role.ADMIN))
    for query, field in (
        ("period=year", "period"),
        ("start=2026-13-01", "start"),
        ("end=1", "end"),
    ):
        response = admin.get(f"{CAUSES}?{query}")
        assert response.status_code == 422
        assert field in response.json["errors"]["query"]


def test_csv_of_the_kpis_has_the_overall_row_first(api, client, cases):
    response = api.as_(UserFactory(role=Role.ADMIN)).get(KPIS + "?by=account&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    lines = response.text.splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["key", "label", "detractors", "resolved"]
    assert "resolved_value_pct" in header
    assert lines[1].startswith(",All,3,")
    assert len(lines) == 4  # header, overall, two accounts
    token = api.as_(UserFactory(role=Role.ADMIN))._headers()
    accept = client.get(KPIS, headers={**token, "Accept": "text/csv"})
    assert accept.mimetype == "text/csv"


def test_csv_of_the_root_causes(api, cases):
    response = api.as_(UserFactory(role=Role.ADMIN)).get(CAUSES + "?format=csv")
    assert response.mimetype == "text/csv"
    lines = response.text.splitlines()
    assert lines[0] == "period,tag,cases,open,accounts,value_at_stake"
    assert len(lines) == 4


def test_the_openapi_document_lists_both_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert KPIS in paths
    assert CAUSES in paths
