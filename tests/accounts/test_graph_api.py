"""Graph, snapshot and portfolio-coverage endpoints."""

import datetime as dt
import io
import xml.etree.ElementTree as ET

import networkx as nx

from relhealth.accounts.models import RelationshipKind, TeamRole
from relhealth.auth.models import Role
from relhealth.cohorts.models import Confidentiality
from tests.analytics.test_views import answer
from tests.factories import (
    AccountFactory,
    PersonFactory,
    ProgramFactory,
    RelationshipFactory,
    StaffFactory,
    TeamMemberFactory,
    UserFactory,
    WaveFactory,
)


def _account_with_map(owner=None):
    """Two of theirs (boss and report), one of ours covering the report."""
    account = AccountFactory(owner_id=owner.id if owner else None)
    boss = PersonFactory(account=account, seniority="executive")
    report = PersonFactory(account=account, seniority="staff")
    ours = TeamMemberFactory(account=account, person=StaffFactory(), role=TeamRole.OWNER).person
    RelationshipFactory(source=report, target=boss, kind=RelationshipKind.REPORTS_TO)
    RelationshipFactory(source=ours, target=report, kind=RelationshipKind.COVERS)
    return account, boss, report, ours


def test_graph_endpoint_returns_node_link_json_with_metrics(api):
    account, boss, report, ours = _account_with_map()
    body = (
        api.as_(UserFactory(role=Role.EXECUTIVE))
        .get(f"/api/v1/accounts/{account.id}/graph")
        .get_json()
    )
    assert {n["id"] for n in body["graph"]["nodes"]} == {boss.id, report.id, ours.id}
    assert {(link["source"], link["kind"]) for link in body["graph"]["links"]} == {
        (report.id, "reports_to"),
        (ours.id, "covers"),
    }
    assert body["metrics"]["coverage"]["overall"] == {"covered": 1, "total": 2, "share": 0.5}
    assert body["metrics"]["key_person_risks"] == [
        {"person": ours.id, "orphaned": sorted([boss.id, report.id])}
    ]


def test_the_graph_says_whom_we_hear_from_not_counting_confidential_answers(api):
    account, boss, report, ours = _account_with_map()
    now = dt.datetime.now(dt.UTC)
    answer(boss, account, now - dt.timedelta(days=20), 80)  # heard
    answer(ours, account, now - dt.timedelta(days=400), 60)  # too long ago
    secret = WaveFactory(
        program=ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL, min_group_size=3)
    )
    answer(report, account, now - dt.timedelta(days=10), 40, wave=secret)  # not attributed
    heard = (
        api.as_(UserFactory(role=Role.ADMIN))
        .get(f"/api/v1/accounts/{account.id}/graph")
        .get_json()["metrics"]["heard_from"]
    )
    assert heard["since"] == (dt.date.today() - dt.timedelta(days=365)).isoformat()
    assert heard["external"]["overall"] == {"heard": 1, "total": 2, "share": 0.5}
    assert heard["external"]["by_level"]["executive"] == {"heard": 1, "total": 1, "share": 1.0}
    assert heard["external"]["by_level"]["staff"] == {"heard": 0, "total": 1, "share": 0.0}
    assert heard["internal"]["overall"] == {"heard": 0, "total": 1, "share": 0.0}


def test_graphml_export_opens_in_networkx(api):
    account, *_ = _account_with_map()
    response = api.as_(UserFactory(role=Role.ADMIN)).get(
        f"/api/v1/accounts/{account.id}/graph?format=graphml"
    )
    assert response.status_code == 200
    assert response.mimetype == "application/graphml+xml"
    assert "attachment" in response.headers["Content-Disposition"]
    assert nx.read_graphml(io.BytesIO(response.data)).number_of_nodes() == 3


def test_an_account_with_nobody_gives_figures_not_errors(api):
    account = AccountFactory()
    body = (
        api.as_(UserFactory(role=Role.ADMIN)).get(f"/api/v1/accounts/{account.id}/graph").get_json()
    )
    assert body["graph"]["nodes"] == []
    assert body["metrics"]["threading"]["status"] == "no stakeholders"
    assert body["metrics"]["coverage"]["overall"]["share"] is None


def test_graph_of_someone_elses_account_is_not_found_and_bad_format_is_422(api):
    account, *_ = _account_with_map()
    manager = UserFactory(role=Role.ACCOUNT_MANAGER)
    assert api.as_(manager).get(f"/api/v1/accounts/{account.id}/graph").status_code == 404
    admin = api.as_(UserFactory(role=Role.ADMIN))
    response = admin.get(f"/api/v1/accounts/{account.id}/graph?format=png")
    assert response.status_code == 422
    assert "format" in response.get_json()["errors"]["query"]


def test_snapshots_freeze_the_map_and_the_diff_shows_what_changed_since(api, session):
    account, _boss, report, ours = _account_with_map()
    admin = api.as_(UserFactory(role=Role.ADMIN))
    first = admin.post(f"/api/v1/accounts/{account.id}/snapshots")
    assert first.status_code == 201
    first_id = first.get_json()["id"]
    newcomer = PersonFactory(account=account, seniority="manager", first_name="Nia")
    RelationshipFactory(source=ours, target=newcomer, kind=RelationshipKind.COVERS)
    report.left_on = dt.date(2020, 1, 1)
    session.flush()

    response = admin.get(f"/api/v1/accounts/{account.id}/snapshots/diff?from={first_id}")
    assert response.status_code == 200, response.get_json()
    change = response.get_json()
    assert [p["id"] for p in change["joined"]] == [newcomer.id]
    assert [p["id"] for p in change["left"]] == [report.id]
    assert {"source": ours.id, "target": newcomer.id, "kind": "covers"} in change["links_added"]
    assert change["coverage"] == {"before": 0.5, "after": 0.5, "change": 0.0}

    second_id = admin.post(f"/api/v1/accounts/{account.id}/snapshots").get_json()["id"]
    listed = admin.get(f"/api/v1/accounts/{account.id}/snapshots").get_json()
    assert [s["id"] for s in listed] == [second_id, first_id]
    between = admin.get(
        f"/api/v1/accounts/{account.id}/snapshots/diff?from={first_id}&to={second_id}"
    ).get_json()
    assert between["joined"] == change["joined"]
    one = admin.get(f"/api/v1/accounts/{account.id}/snapshots/{first_id}").get_json()
    assert len(one["graph"]["nodes"]) == 3


def test_snapshots_belong_to_their_account_and_need_write_access_to_take(api):
    account, *_ = _account_with_map()
    other = AccountFactory()
    admin = api.as_(UserFactory(role=Role.ADMIN))
    snapshot_id = admin.post(f"/api/v1/accounts/{account.id}/snapshots").get_json()["id"]
    assert admin.get(f"/api/v1/accounts/{other.id}/snapshots/{snapshot_id}").status_code == 404
    executive = api.as_(UserFactory(role=Role.EXECUTIVE))
    assert executive.post(f"/api/v1/accounts/{account.id}/snapshots").status_code == 403
    assert executive.get(f"/api/v1/accounts/{account.id}/snapshots").status_code == 200


def test_portfolio_coverage_lists_visible_accounts_worst_first(api):
    manager = UserFactory(role=Role.ACCOUNT_MANAGER)
    covered, *_ = _account_with_map(owner=manager)  # 1 of 2 covered
    bare = AccountFactory(owner_id=manager.id, name="Nobody covered")
    PersonFactory(account=bare)  # 0 of 1 covered
    empty = AccountFactory(owner_id=manager.id)  # nobody recorded: last
    _account_with_map()  # someone else's

    rows = api.as_(manager).get("/api/v1/portfolio/coverage").get_json()
    assert [r["account_id"] for r in rows] == [bare.id, covered.id, empty.id]
    assert rows[0]["coverage"] == 0.0
    assert rows[0]["threading"] == "uncovered"
    assert rows[1]["coverage"] == 0.5
    assert rows[1]["key_person_risks"] == 1
    assert rows[2]["coverage"] is None

    best_first = api.as_(manager).get("/api/v1/portfolio/coverage?sort=-coverage").get_json()
    assert [r["account_id"] for r in best_first] == [covered.id, bare.id, empty.id]
    by_tier = api.as_(manager).get("/api/v1/portfolio/coverage?tier=strategic").get_json()
    assert by_tier == []


def test_portfolio_coverage_rejects_unknown_sorts_and_filters(api):
    admin = api.as_(UserFactory(role=Role.ADMIN))
    assert admin.get("/api/v1/portfolio/coverage?sort=mood").status_code == 422
    assert admin.get("/api/v1/portfolio/coverage?tier=gold").status_code == 422
    assert admin.get("/api/v1/portfolio/coverage?owner=0").status_code == 422


def test_map_svg_is_a_standalone_drawing_of_every_person(api):
    account, boss, report, ours = _account_with_map()
    response = api.as_(UserFactory(role=Role.EXECUTIVE)).get(
        f"/api/v1/accounts/{account.id}/map.svg"
    )
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)  # noqa: S314 -- our own output
    ids = {
        int(g.get("data-id"))
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if "node" in (g.get("class") or "").split()
    }
    assert ids == {boss.id, report.id, ours.id}
    assert b"<script" not in response.data
    assert b"/people/" not in response.data  # no app links: the PDF reports reuse it
    manager = api.as_(UserFactory(role=Role.ACCOUNT_MANAGER))
    assert manager.get(f"/api/v1/accounts/{account.id}/map.svg").status_code == 404
