"""The surveys, responses and response-rates API, and the JSON submit through a personal link."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import Account
from relhealth.auth.models import Role
from relhealth.cohorts.models import Confidentiality, InvitationStatus, Wave, WaveStatus
from relhealth.db import utcnow
from relhealth.surveys import service
from relhealth.surveys.models import Response, ResponseSource
from tests import factories as f
from tests.surveys.conftest import COMPANY, full_answers

V1 = "/api/v1"


def responses(session) -> int:
    return session.scalar(select(func.count()).select_from(Response))


# Submitting through a personal link -------------------------------------------------------------


@pytest.fixture
def invitation(session):
    invitation = f.InvitationFactory()
    session.commit()  # a refused request rolls its session back: keep the scene
    return invitation


def submit_url(invitation) -> str:
    return f"{V1}/responses/submit/{invitation.token}"


def test_the_json_submit_needs_no_api_token_and_answers_201_once(client, session, invitation):
    sent = client.post(submit_url(invitation), json={"answers": full_answers(nps=3)})
    assert sent.status_code == 201, sent.get_json()
    body = sent.get_json()
    assert body["message"].startswith("Thank you")
    response = session.get(Response, body["id"])
    assert response.source == ResponseSource.API
    assert {a.question_key: a.value for a in response.answers}["nps"] == 3
    assert sent.headers["Access-Control-Allow-Origin"] == "*"

    again = client.post(submit_url(invitation), json={"answers": full_answers()})
    assert again.status_code == 409
    assert "already received" in again.get_json()["message"]
    assert responses(session) == 1


def test_the_json_submit_answers_422_per_question_and_stores_nothing(client, session, invitation):
    answers = full_answers(nps=12, trust="high", color="blue")
    del answers["value"]
    refused = client.post(submit_url(invitation), json={"answers": answers})
    assert refused.status_code == 422
    errors = refused.get_json()["errors"]["json"]["answers"]
    assert set(errors) == {"nps", "trust", "value", "color"}
    assert errors["nps"] == ["Choose a whole number from 0 to 10."]
    assert responses(session) == 0
    assert client.post(submit_url(invitation), json={}).status_code == 422
    assert client.post(submit_url(invitation), json={"answers": [1, 2]}).status_code == 422


def test_the_json_submit_is_404_for_unknown_links_and_410_for_closed_ones(
    client, session, invitation
):
    unknown = client.post(f"{V1}/responses/submit/nope", json={"answers": full_answers()})
    assert unknown.status_code == 404
    invitation.expires_at = utcnow() - dt.timedelta(minutes=1)
    session.commit()
    gone = client.post(submit_url(invitation), json={"answers": full_answers()})
    assert gone.status_code == 410
    assert gone.get_json()["status"] == "Gone"
    assert client.get(submit_url(invitation)).status_code == 410
    assert responses(session) == 0


def test_the_questionnaire_behind_a_link_is_worded_for_its_respondent(client, session):
    external = f.InvitationFactory()
    ours = f.InvitationFactory(
        person=f.StaffFactory(), account_id=external.account_id, wave=external.wave
    )
    account_name = session.get(Account, external.account_id).name
    body = client.get(submit_url(ours)).get_json()
    assert body["side"] == "internal"
    assert body["company"] == COMPANY
    assert body["questions"][0] == {
        "key": "nps",
        "type": "nps",
        "text": f"How likely do you think {account_name} is to recommend {COMPANY} to a friend"
        " or colleague?",
        "required": True,
        "scale_min": 0,
        "scale_max": 10,
        "ends": ["Not at all likely", "Extremely likely"],
        "options": None,
    }


# Surveys ----------------------------------------------------------------------------------------

NEW_SURVEY = {
    "key": "partner-pulse",
    "name": "Partner pulse",
    "questions": [
        {
            "key": "trust",
            "type": "rating",
            "dimension": "trust",
            "text_external": "How much do you trust {company}?",
            "text_internal": "How much do you think {account} trusts us?",
            "scale_min": 1,
            "scale_max": 7,
        },
        {
            "key": "channel",
            "type": "choice",
            "text_external": "How do you reach {company}?",
            "text_internal": "How does {account} reach us?",
            "options": ["Email", "Phone"],
        },
    ],
}


@pytest.fixture
def admin(session):
    return f.UserFactory(role=Role.ADMIN)


def test_an_admin_creates_a_survey_and_managers_may_not(api, admin, session):
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    assert api.as_(manager).post(f"{V1}/surveys", json=NEW_SURVEY).status_code == 403
    created = api.as_(admin).post(f"{V1}/surveys", json=NEW_SURVEY)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["versions"] == [1]
    assert body["latest_version"]["frozen_at"] is None
    assert [q["key"] for q in body["latest_version"]["questions"]] == ["trust", "channel"]
    assert body["latest_version"]["questions"][1]["required"] is True
    listed = api.as_(manager).get(f"{V1}/surveys").get_json()
    assert [s["key"] for s in listed] == ["partner-pulse"]
    again = api.as_(admin).post(f"{V1}/surveys", json=NEW_SURVEY)
    assert again.status_code == 409


def test_bad_questions_are_422_with_the_question_and_field(api, admin):
    bad = {**NEW_SURVEY, "questions": [{**NEW_SURVEY["questions"][0], "scale_max": 1}]}
    refused = api.as_(admin).post(f"{V1}/surveys", json=bad)
    assert refused.status_code == 422
    assert "scale_max" in refused.get_json()["errors"]["json"]["questions"]["0"]


def test_changing_questions_of_a_frozen_version_makes_a_new_version(api, admin, session):
    survey_id = api.as_(admin).post(f"{V1}/surveys", json=NEW_SURVEY).get_json()["id"]
    version = service.latest_version(session, session.get(service.Survey, survey_id))
    service.freeze_version(session, version, utcnow())
    session.commit()
    questions = [NEW_SURVEY["questions"][0]]
    patched = api.as_(admin).patch(f"{V1}/surveys/{survey_id}", json={"questions": questions})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["versions"] == [1, 2]
    assert len(patched.get_json()["latest_version"]["questions"]) == 1
    first = api.as_(admin).get(f"{V1}/surveys/{survey_id}/versions/1").get_json()
    assert [q["key"] for q in first["questions"]] == ["trust", "channel"]
    assert api.as_(admin).get(f"{V1}/surveys/{survey_id}/versions/3").status_code == 404

    retyped = [{**NEW_SURVEY["questions"][1], "type": "multi_choice"}]
    refused = api.as_(admin).patch(f"{V1}/surveys/{survey_id}", json={"questions": retyped})
    assert refused.status_code == 422
    assert "keeps its type" in str(refused.get_json()["errors"])
    renamed = api.as_(admin).patch(f"{V1}/surveys/{survey_id}", json={"name": "Pulse"})
    assert renamed.get_json()["name"] == "Pulse"
    assert renamed.get_json()["versions"] == [1, 2]


# Responses --------------------------------------------------------------------------------------


@pytest.fixture
def two_accounts(session):
    """A manager's own account and someone else's, each with one response."""
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    mine = f.AccountFactory(owner=manager)
    other = f.AccountFactory()
    wave = f.WaveFactory()
    answered = {}
    for account in (mine, other):
        invitation = f.InvitationFactory(wave=wave, person=f.PersonFactory(account=account))
        answered[account.id] = service.submit_response(session, invitation, full_answers())
    return manager, mine, other, answered


def test_a_manager_lists_only_responses_about_their_accounts(api, session, two_accounts):
    manager, mine, other, answered = two_accounts
    listed = api.as_(manager).get(f"{V1}/responses")
    assert listed.status_code == 200
    assert [r["account_id"] for r in listed.get_json()] == [mine.id]
    assert listed.get_json()[0]["answers"][0]["question_key"] == "nps"
    assert api.as_(manager).get(f"{V1}/responses?account={other.id}").get_json() == []
    own = api.as_(manager).get(f"{V1}/responses/{answered[mine.id].id}")
    assert own.status_code == 200
    foreign = api.as_(manager).get(f"{V1}/responses/{answered[other.id].id}")
    assert foreign.status_code == 404
    admin = f.UserFactory(role=Role.ADMIN)
    assert len(api.as_(admin).get(f"{V1}/responses").get_json()) == 2


def test_responses_filter_by_side_wave_and_time(api, session, two_accounts):
    _manager, mine, _other, answered = two_accounts
    admin = api.as_(f.UserFactory(role=Role.ADMIN))
    wave_id = answered[mine.id].wave_id
    today = answered[mine.id].submitted_at.date()
    assert len(admin.get(f"{V1}/responses?wave={wave_id}&side=external").get_json()) == 2
    assert admin.get(f"{V1}/responses?side=internal").get_json() == []
    assert len(admin.get(f"{V1}/responses?submitted_to={today}").get_json()) == 2
    assert (
        admin.get(f"{V1}/responses?submitted_from={today + dt.timedelta(days=1)}").get_json() == []
    )
    assert len(admin.get(f"{V1}/responses?person={answered[mine.id].person_id}").get_json()) == 1
    bad = admin.get(f"{V1}/responses?submitted_from=yesterday")
    assert bad.status_code == 422
    assert admin.get(f"{V1}/responses?sort=colour").status_code == 422
    paged = admin.get(f"{V1}/responses?page_size=1")
    assert len(paged.get_json()) == 1
    assert '"total": 2' in paged.headers["X-Pagination"]


def test_responses_to_confidential_programs_are_listed_for_admins_only(api, session):
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    account = f.AccountFactory(owner=manager)
    wave = f.WaveFactory(program=f.ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL))
    invitation = f.InvitationFactory(wave=wave, person=f.PersonFactory(account=account))
    response = service.submit_response(session, invitation, full_answers())
    assert api.as_(manager).get(f"{V1}/responses").get_json() == []
    assert api.as_(manager).get(f"{V1}/responses/{response.id}").status_code == 404
    admin = f.UserFactory(role=Role.ADMIN)
    assert api.as_(admin).get(f"{V1}/responses/{response.id}").status_code == 200


def test_response_rates_count_what_the_caller_may_see(api, session, two_accounts):
    manager, mine, other, answered = two_accounts
    wave_id = answered[mine.id].wave_id
    f.InvitationFactory(wave=session.get(Wave, wave_id), person=f.PersonFactory(account=mine))
    rates = api.as_(manager).get(f"{V1}/response-rates?wave={wave_id}")
    assert rates.status_code == 200
    assert rates.get_json() == [
        {
            "wave_id": wave_id,
            "account_id": mine.id,
            "account_name": mine.name,
            "seniority": "staff",
            "side": "external",
            "suppressed": False,
            "invited": 2,
            "responded": 1,
            "response_rate": 0.5,
        }
    ]
    admin = api.as_(f.UserFactory(role=Role.ADMIN))
    both = admin.get(f"{V1}/response-rates?account={mine.id}&account={other.id}").get_json()
    assert {r["account_id"] for r in both} == {mine.id, other.id}


def test_closed_waves_and_skips_do_not_break_rates(api, session):
    wave = f.WaveFactory(status=WaveStatus.CLOSED)
    f.InvitationFactory(wave=wave, status=InvitationStatus.SKIPPED)
    admin = api.as_(f.UserFactory(role=Role.ADMIN))
    assert admin.get(f"{V1}/response-rates?wave={wave.id}").get_json() == []


def test_the_openapi_document_lists_the_survey_resources(client):
    spec = client.get(f"{V1}/openapi.json").get_json()
    assert {
        "/api/v1/surveys",
        "/api/v1/surveys/{survey_id}",
        "/api/v1/surveys/{survey_id}/versions/{number}",
        "/api/v1/responses",
        "/api/v1/responses/{response_id}",
        "/api/v1/response-rates",
        "/api/v1/responses/submit/{token}",
    } <= set(spec["paths"])
    submit = spec["paths"]["/api/v1/responses/submit/{token}"]["post"]
    assert submit["security"] == []
    assert "security" not in spec["paths"]["/api/v1/responses"]["get"]


def test_the_survey_api_still_wants_a_token(client):
    assert client.get(f"{V1}/surveys").status_code == 401
    assert client.get(f"{V1}/responses").status_code == 401
    assert client.get(f"{V1}/response-rates").status_code == 401
