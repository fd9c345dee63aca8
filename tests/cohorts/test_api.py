"""The REST API for cohorts, panels, programs, waves and invitations."""

import pytest
from sqlalchemy import select

from relhealth.auth.models import Role
from relhealth.cohorts.models import Wave
from relhealth.cohorts.tick import tick
from tests import factories as f
from tests.cohorts.conftest import NOW

V1 = "/api/v1"


@pytest.fixture
def admin(session):
    return f.UserFactory(role=Role.ADMIN)


@pytest.fixture
def manager(session, world):
    """Owns Initech only."""
    user = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    world.initech.owner_id = user.id
    session.flush()
    return user


def program_body(**changes):
    return {
        "name": "Quarterly health",
        "survey_id": f.builtin_survey().id,
        "cohort_id": f.CohortFactory().id,
        "starts_at": "2027-01-04T09:00:00Z",
        **changes,
    }


def test_an_admin_creates_a_cohort_and_a_bad_rule_is_a_422_naming_the_list(api, admin):
    created = api.as_(admin).post(
        f"{V1}/cohorts", json={"name": "Partners", "rule": {"kinds": ["partner"]}}
    )
    assert created.status_code == 201, created.json
    assert (created.json["mode"], created.json["rule"]) == ("dynamic", {"kinds": ["partner"]})
    bad = api.as_(admin).post(f"{V1}/cohorts", json={"name": "Bad", "rule": {"sides": ["us"]}})
    assert bad.status_code == 422
    assert "rule.sides" in bad.json["errors"]["json"]


def test_only_admins_change_cohorts_and_programs(api, manager):
    assert api.as_(manager).post(f"{V1}/cohorts", json={"name": "Mine"}).status_code == 403
    assert api.as_(manager).post(f"{V1}/programs", json=program_body()).status_code == 403


def test_managers_read_only_cohorts_touching_their_accounts(api, admin, manager, world):
    mine = f.CohortFactory(rule={"account_ids": [world.initech.id]})
    other = f.CohortFactory(rule={"account_ids": [world.acme.id]})
    names = {c["name"] for c in api.as_(manager).get(f"{V1}/cohorts").json}
    assert names == {mine.name}
    assert api.as_(manager).get(f"{V1}/cohorts/{other.id}").status_code == 404
    assert api.as_(manager).get(f"{V1}/cohorts/{mine.id}").status_code == 200
    assert len(api.as_(admin).get(f"{V1}/cohorts").json) == 2


def test_a_preview_shows_counts_flags_and_a_sample_within_what_you_may_read(
    api, admin, manager, world
):
    preview = api.as_(admin).post(f"{V1}/cohorts/preview", json={"rule": {}, "sample": 2})
    assert preview.status_code == 200
    assert preview.json["pairs"] == 15
    assert len(preview.json["sample"]) == 2
    assert preview.json["flagged"]["opted_out"] == 1
    narrowed = api.as_(manager).post(f"{V1}/cohorts/preview", json={"rule": {}}).json
    assert [a["account_name"] for a in narrowed["by_account"]] == ["Initech"]
    bad = api.as_(admin).post(f"{V1}/cohorts/preview", json={"rule": {"tiers": ["gold"]}})
    assert bad.status_code == 422


def test_panel_members_are_added_listed_and_ended(api, admin, world):
    panel = f.CohortFactory(mode="fixed")
    url = f"{V1}/cohorts/{panel.id}/members"
    added = api.as_(admin).post(
        url, json={"person_id": world.ceo.id, "account_id": world.acme.id, "on": "2027-01-04"}
    )
    assert added.status_code == 201, added.json
    assert (
        api.as_(admin)
        .post(url, json={"person_id": world.ceo.id, "account_id": world.acme.id})
        .status_code
        == 409
    )
    wrong = api.as_(admin).post(
        url, json={"person_id": world.ceo.id, "account_id": world.globex.id}
    )
    assert wrong.status_code == 422
    assert "account_id" in wrong.json["errors"]["json"]
    ended = api.as_(admin).post(f"{url}/{added.json['id']}/end", json={"on": "2027-02-01"})
    assert ended.json["removed_on"] == "2027-02-01"
    listed = api.as_(admin).get(url, query_string={"active": "false"})
    assert [m["person_id"] for m in listed.json] == [world.ceo.id]


def test_refreshing_a_panel_from_the_api(api, admin, world):
    panel = f.CohortFactory(mode="fixed", rule={"account_ids": [world.globex.id]})
    refreshed = api.as_(admin).post(f"{V1}/cohorts/{panel.id}/refresh")
    assert refreshed.json == {"added": 4}


def test_a_program_is_created_with_defaults(api, admin):
    created = api.as_(admin).post(f"{V1}/programs", json=program_body())
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["rrule"], body["reminder_days"], body["fatigue_days"]) == (
        "FREQ=MONTHLY;INTERVAL=3",
        [7],
        90,
    )
    assert body["next_wave_at"] is not None
    assert body["starts_at"] == "2027-01-04T09:00:00+00:00"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"rrule": "FREQ=HOURLY"}, "rrule"),
        ({"reminder_days": [20]}, "reminder_days"),
        ({"reminder_days": [0]}, "reminder_days"),
        ({"reminder_days": ["7"]}, "reminder_days"),
        ({"trigger": "before_renewal"}, "trigger_days"),
        ({"trigger": "on_a_whim"}, "trigger"),
        ({"open_days": 0}, "open_days"),
        ({"survey_id": 999_999}, "survey_id"),
        ({"starts_at": "next week"}, "starts_at"),
        ({"confidentiality": "secret"}, "confidentiality"),
    ],
)
def test_an_invalid_program_is_a_422_naming_the_field(api, admin, changes, field):
    answer = api.as_(admin).post(f"{V1}/programs", json=program_body(**changes))
    assert answer.status_code == 422, answer.json
    assert field in answer.json["errors"]["json"]


def test_a_program_is_changed_and_checked_as_a_whole(api, admin):
    program = api.as_(admin).post(f"{V1}/programs", json=program_body()).json
    url = f"{V1}/programs/{program['id']}"
    too_short = api.as_(admin).patch(url, json={"open_days": 5})
    assert too_short.status_code == 422
    assert "reminder_days" in too_short.json["errors"]["json"]
    changed = api.as_(admin).patch(url, json={"rrule": "FREQ=MONTHLY", "active": False})
    assert changed.status_code == 200
    assert (changed.json["rrule"], changed.json["next_wave_at"]) == ("FREQ=MONTHLY", None)
    assert api.as_(admin).delete(url).status_code == 204


@pytest.fixture
def opened(session, world):
    """A program over every account whose first wave has opened."""
    program = f.ProgramFactory(cohort=f.CohortFactory(rule={}), starts_at=NOW)
    tick(session, NOW)
    return program


def test_a_programs_waves_and_a_waves_counts(api, admin, opened):
    waves = api.as_(admin).get(f"{V1}/programs/{opened.id}/waves").json
    assert [w["occurrence"] for w in waves] == ["2027-01-04T09:00:00+00:00"]
    wave = api.as_(admin).get(f"{V1}/waves/{waves[0]['id']}").json
    counts = wave["counts"]
    assert (counts["invited"], counts["responded"], counts["skipped"]) == (11, 0, 4)
    assert counts["by_side"]["internal"]["invited"] == 4


def test_invitations_are_listed_without_tokens(api, admin, opened, world):
    wave_id = api.as_(admin).get(f"{V1}/programs/{opened.id}/waves").json[0]["id"]
    listed = api.as_(admin).get(
        f"{V1}/waves/{wave_id}/invitations", query_string={"status": "skipped"}
    )
    assert listed.status_code == 200
    assert listed.headers["X-Pagination"]
    assert {i["skip_reason"] for i in listed.json} == {"left", "opted_out", "no_email", "inactive"}
    every = api.as_(admin).get(f"{V1}/waves/{wave_id}/invitations").json
    assert len(every) == 15
    assert not any("token" in key for row in every for key in row)


def test_managers_see_waves_and_invitations_of_their_accounts_only(api, manager, opened, world):
    programs = api.as_(manager).get(f"{V1}/programs").json
    assert [p["id"] for p in programs] == [opened.id]
    wave_id = api.as_(manager).get(f"{V1}/programs/{opened.id}/waves").json[0]["id"]
    invitations = api.as_(manager).get(f"{V1}/waves/{wave_id}/invitations").json
    assert {i["account_id"] for i in invitations} == {world.initech.id}
    counts = api.as_(manager).get(f"{V1}/waves/{wave_id}").json["counts"]
    assert counts["invited"] == 1


def test_a_wave_without_your_accounts_is_not_found(api, manager, world, session):
    program = f.ProgramFactory(
        cohort=f.CohortFactory(rule={"account_ids": [world.acme.id]}), starts_at=NOW
    )
    tick(session, NOW)
    wave_id = session.scalars(select(Wave.id)).one()
    assert api.as_(manager).get(f"{V1}/waves/{wave_id}").status_code == 404
    assert api.as_(manager).get(f"{V1}/programs/{program.id}").status_code == 404


def test_who_was_asked_in_a_confidential_program_is_for_admins(api, admin, manager, world, session):
    program = f.ProgramFactory(
        cohort=f.CohortFactory(rule={}), starts_at=NOW, confidentiality="confidential"
    )
    tick(session, NOW)
    wave_id = api.as_(admin).get(f"{V1}/programs/{program.id}/waves").json[0]["id"]
    assert api.as_(manager).get(f"{V1}/waves/{wave_id}/invitations").status_code == 403
    assert api.as_(admin).get(f"{V1}/waves/{wave_id}/invitations").status_code == 200
    counts = api.as_(manager).get(f"{V1}/waves/{wave_id}").json["counts"]
    assert counts["suppressed"] is True  # no one at Initech answered: below k = 3
