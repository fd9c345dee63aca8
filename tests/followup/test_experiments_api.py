"""The praise and experiments API: who may see and do what, and bad input refused cleanly."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import Tier
from relhealth.extensions import db
from relhealth.followup import praise
from relhealth.followup.models import (
    Case,
    Experiment,
    ExperimentAssignment,
    ExperimentEvent,
    Praise,
    PraiseMatch,
)
from relhealth.surveys.models import Answer, QuestionType
from tests import factories as f
from tests.followup.conftest import NOW

TODAY = dt.date.today()
BODY = {
    "name": "Call detractors",
    "period_start": (TODAY - dt.timedelta(days=400)).isoformat(),
    "period_end": TODAY.isoformat(),
    "seed": 11,
    "outreach_share": 0.5,
}


def rows_in(model):
    return db.session.scalar(select(func.count()).select_from(model))


# Praise ----------------------------------------------------------------------------------


@pytest.fixture
def praised(world, respond, settings):
    """Ada (Acme) named John Smith; Bob (Globex, not the owner's) named him too."""
    john = f.StaffFactory(first_name="John", last_name="Smith", email="js@us.test")
    for person in (world.ada, world.bob):
        response = respond(person, nps=10, ratings=())
        response.answers.append(
            Answer(
                question_key="made_a_difference",
                question_type=QuestionType.TEXT,
                text=f"John Smith <b>rocks</b> ({person.first_name})",
            )
        )
        db.session.flush()
        praise.route_praise(db.session, response.id, settings, NOW)
    return john


def test_praise_is_listed_for_the_accounts_you_may_read(api, world, praised):
    response = api.as_(world.owner).get("/api/v1/praise")
    assert response.status_code == 200
    (row,) = response.json
    assert row["account_name"] == "Acme"
    assert row["employee_name"] == "John Smith"
    assert row["employee_id"] == praised.id
    assert row["said"] == "John Smith <b>rocks</b> (Ada)"
    assert row["matched_by"] == PraiseMatch.NAME.value
    assert row["kudos_sent_at"] is not None
    assert response.headers["X-Pagination"]
    everything = api.as_(world.executive).get("/api/v1/praise").json
    assert len(everything) == 2
    assert api.as_(world.viewer).get("/api/v1/praise").json[0]["account_id"] == world.acme.id


def test_praise_filters_and_bad_filters(api, world, praised):
    admin = api.as_(world.admin)
    assert len(admin.get(f"/api/v1/praise?account={world.globex.id}").json) == 1
    assert len(admin.get(f"/api/v1/praise?employee={praised.id}").json) == 2
    assert admin.get("/api/v1/praise?employee=999999").json == []
    assert admin.get("/api/v1/praise?account=abc").status_code == 422
    bad_sort = admin.get("/api/v1/praise?sort=said")
    assert bad_sort.status_code == 422
    assert "sort" in bad_sort.json["errors"]["query"]


def test_the_api_wants_a_token(client):
    assert client.get("/api/v1/praise").status_code == 401
    assert client.get("/api/v1/experiments").status_code == 401


# Experiments -----------------------------------------------------------------------------


def test_an_admin_runs_an_experiment_through_the_api(api, world, detractors):
    detractors(Tier.STRATEGIC, 2)
    detractors(Tier.KEY, 4)
    admin = api.as_(world.admin)
    created = admin.post("/api/v1/experiments", json=BODY)
    assert created.status_code == 201
    experiment = created.json
    assert experiment["status"] == "draft"
    assert [e["kind"] for e in experiment["events"]] == ["created"]
    assert experiment["audit"]["recorded"] is None
    url = f"/api/v1/experiments/{experiment['id']}"

    started = admin.post(f"{url}/start", json={})
    assert started.status_code == 200
    assert started.json["status"] == "running"
    strata = {row["stratum"]: row for row in started.json["strata"]}
    assert strata["strategic"] == {"stratum": "strategic", "outreach": 1, "control": 1, "total": 2}
    assert strata["key"]["outreach"] == strata["key"]["control"] == 2
    assert started.json["audit"]["intact"] is True
    assert len(started.json["audit"]["recorded"]) == 64

    assignments = admin.get(f"{url}/assignments?arm=control")
    assert assignments.status_code == 200
    assert len(assignments.json) == 3
    assert {a["arm"] for a in assignments.json} == {"control"}
    held = {a["response_id"] for a in assignments.json}
    listed = api.as_(world.owner).get("/api/v1/cases").json
    assert held.isdisjoint({c["response_id"] for c in listed})  # control cases are held

    interim = admin.get(f"{url}/results")
    assert interim.status_code == 200
    assert interim.json["final"] is False
    assert {o["outcome"] for o in interim.json["outcomes"]} == {
        "score_change",
        "renewal",
        "value_change",
    }

    finished = admin.post(f"{url}/finish", json={})
    assert finished.status_code == 200
    assert [e["kind"] for e in finished.json["events"]] == ["created", "started", "finished"]
    assert finished.json["events"][-1]["detail"]["released"] == 3
    listed = api.as_(world.owner).get("/api/v1/cases").json
    assert held <= {c["response_id"] for c in listed}
    assert admin.get(f"{url}/results").json["final"] is True
    assert admin.get("/api/v1/experiments?status=finished").json[0]["id"] == experiment["id"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period_end": "2020-01-01", "period_start": "2020-02-01"}, "period_end"),
        ({"outreach_share": 0}, "outreach_share"),
        ({"outreach_share": 1}, "outreach_share"),
        ({"outreach_share": 1.5}, "outreach_share"),
        ({"seed": "12"}, "seed"),
        ({"seed": -3}, "seed"),
        ({"name": ""}, "name"),
        ({"period_start": "yesterday"}, "period_start"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_definition_is_answered_422_and_nothing_is_stored(api, world, changes, field):
    response = api.as_(world.admin).post("/api/v1/experiments", json={**BODY, **changes})
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    assert rows_in(Experiment) == 0
    assert rows_in(ExperimentEvent) == 0


def test_a_missing_field_is_named(api, world):
    body = {k: v for k, v in BODY.items() if k != "period_start"}
    response = api.as_(world.admin).post("/api/v1/experiments", json=body)
    assert response.status_code == 422
    assert "period_start" in response.json["errors"]["json"]


def test_a_duplicate_name_is_a_conflict(api, world):
    admin = api.as_(world.admin)
    assert admin.post("/api/v1/experiments", json=BODY).status_code == 201
    again = admin.post("/api/v1/experiments", json=BODY)
    assert again.status_code == 409
    assert rows_in(Experiment) == 1


def test_only_admins_and_executives_run_and_read_experiments(api, world, detractors):
    detractors(Tier.KEY, 2)
    created = api.as_(world.executive).post("/api/v1/experiments", json=BODY)
    assert created.status_code == 201
    url = f"/api/v1/experiments/{created.json['id']}"
    for user in (world.owner, world.viewer):
        caller = api.as_(user)
        assert caller.get("/api/v1/experiments").status_code == 403
        assert caller.post("/api/v1/experiments", json={**BODY, "name": "x"}).status_code == 403
        assert caller.get(url).status_code == 403
        assert caller.get(f"{url}/results").status_code == 403
        assert caller.post(f"{url}/start", json={}).status_code == 403
        assert caller.patch(url, json={"seed": 3}).status_code == 403
    assert rows_in(ExperimentAssignment) == 0
    assert api.as_(world.executive).post(f"{url}/start", json={}).status_code == 200


def test_illegal_moves_are_conflicts_and_change_nothing(api, world, detractors):
    detractors(Tier.KEY, 3)
    admin = api.as_(world.admin)
    experiment = admin.post("/api/v1/experiments", json=BODY).json
    url = f"/api/v1/experiments/{experiment['id']}"

    draft_finish = admin.post(f"{url}/finish", json={})
    assert draft_finish.status_code == 409
    assert "not started" in draft_finish.json["message"]
    assert admin.patch(url, json={"seed": 12}).json["seed"] == 12  # a draft may change

    assert admin.post(f"{url}/start", json={}).status_code == 200
    before = (
        admin.get(f"{url}/assignments").json,
        admin.get(url).json["events"],
        rows_in(Case),
    )
    again = admin.post(f"{url}/start", json={})
    assert again.status_code == 409
    assert "started already" in again.json["message"]
    changed = admin.patch(url, json={"seed": 13, "outreach_share": 0.9})
    assert changed.status_code == 409
    assert "running" in changed.json["message"]
    assignment = before[0][0]
    moved = admin.patch(f"{url}/assignments/{assignment['id']}", json={"arm": "outreach"})
    assert moved.status_code == 409
    assert "never changed" in moved.json["message"]
    assert admin.delete(f"{url}/assignments/{assignment['id']}").status_code == 409
    assert admin.get(f"{url}/assignments/{assignment['id']}").json == assignment
    assert (
        admin.get(f"{url}/assignments").json,
        admin.get(url).json["events"],
        rows_in(Case),
    ) == before
    assert admin.get(url).json["seed"] == 12

    assert admin.post(f"{url}/finish", json={}).status_code == 200
    twice = admin.post(f"{url}/finish", json={})
    assert twice.status_code == 409
    assert admin.post(f"{url}/start", json={}).status_code == 409


def test_actions_take_no_body_fields_and_unknown_ids_are_not_found(api, world):
    admin = api.as_(world.admin)
    experiment = admin.post("/api/v1/experiments", json=BODY).json
    url = f"/api/v1/experiments/{experiment['id']}"
    assert admin.post(f"{url}/start", json={"force": True}).status_code == 422
    assert admin.get("/api/v1/experiments/999999").status_code == 404
    assert admin.get(f"{url}/assignments/999999").status_code == 404
    assert admin.get("/api/v1/experiments?status=paused").status_code == 422


def test_starting_a_period_that_is_over_without_detractors_is_a_conflict(api, world):
    admin = api.as_(world.admin)
    over = {**BODY, "period_end": (TODAY - dt.timedelta(days=1)).isoformat()}
    experiment = admin.post("/api/v1/experiments", json=over).json
    response = admin.post(f"/api/v1/experiments/{experiment['id']}/start", json={})
    assert response.status_code == 409
    assert "nobody to assign" in response.json["message"]
    assert admin.get(f"/api/v1/experiments/{experiment['id']}").json["status"] == "draft"


def test_praise_rows_do_not_leak_between_accounts(api, world, praised):
    other = f.UserFactory()
    assert api.as_(other).get("/api/v1/praise").json == []
    assert rows_in(Praise) == 2
