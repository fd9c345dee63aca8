"""The respondent form at /s/<token>: wording, validation, one submission, closed links, CSRF."""

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import Account
from relhealth.cohorts.models import InvitationStatus, WaveStatus
from relhealth.db import utcnow
from relhealth.surveys.models import Response, ResponseSource
from tests import factories as f
from tests.surveys.conftest import COMPANY, form_data


def responses(session) -> int:
    return session.scalar(select(func.count()).select_from(Response))


@pytest.fixture
def invitation(session):
    invitation = f.InvitationFactory(person=f.PersonFactory(first_name="Grace"))
    session.commit()  # a failed POST rolls the request's session back: keep the scene
    return invitation


def test_their_people_read_the_external_wording_with_our_name_and_no_app_navigation(
    client, invitation
):
    page = client.get(f"/s/{invitation.token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"How likely are you to recommend {COMPANY} to a friend or colleague?" in html
    assert "Hello Grace" in html
    assert "How likely do you think" not in html
    assert "mainnav" not in html
    assert "Sign out" not in html
    assert "<script" not in html
    assert "survey.css" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "same-origin"


def test_our_people_read_the_internal_wording_about_the_account(client, session, invitation):
    account = session.get(Account, invitation.account_id)
    ours = f.InvitationFactory(person=f.StaffFactory(), account_id=account.id, wave=invitation.wave)
    html = client.get(f"/s/{ours.token}").get_data(as_text=True)
    assert (
        f"How likely do you think {account.name} is to recommend {COMPANY} to a friend or"
        " colleague?"
    ) in html
    assert f"Who at {COMPANY} do you think has made the biggest difference for {account.name}?" in (
        html
    )
    assert f"Your view of {account.name}" in html
    assert "How likely are you to recommend" not in html


def test_the_form_is_accessible_markup_that_needs_no_script(client, invitation):
    html = client.get(f"/s/{invitation.token}").get_data(as_text=True)
    assert html.count("<fieldset") == 8  # nps and seven ratings
    assert html.count("<legend") == 8
    assert html.count('type="radio" name="nps"') == 11
    assert 'for="q-nps-0">0<span class="visually-hidden">, Not at all likely</span>' in html
    assert 'for="q-nps-10">10<span class="visually-hidden">, Extremely likely</span>' in html
    assert '<label class="legend" for="q-do_differently">' in html
    assert '<textarea id="q-do_differently" name="do_differently"' in html
    assert 'name="csrf_token"' in html
    assert 'method="post"' in html
    assert '<html lang="en">' in html


def test_sending_the_form_stores_the_response_and_thanks_the_respondent(
    client, session, invitation
):
    answer = client.post(f"/s/{invitation.token}", data=form_data(do_differently="Fewer handoffs"))
    assert answer.status_code == 303
    thanks = client.get(answer.headers["Location"])
    assert thanks.status_code == 200
    assert "Thank you" in thanks.get_data(as_text=True)
    response = session.scalars(select(Response)).one()
    assert response.source == ResponseSource.FORM
    assert {a.question_key: a.text for a in response.answers}["do_differently"] == (
        "Fewer handoffs"
    )
    session.refresh(invitation)
    assert invitation.status == InvitationStatus.RESPONDED


def test_missing_answers_show_an_error_summary_and_keep_what_was_given(client, session, invitation):
    data = form_data(do_differently="Keep this text")
    del data["trust"]
    data["value"] = "9"
    page = client.post(f"/s/{invitation.token}", data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "<title>Error: Relationship health" in html
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', html, re.S).group(0)
    assert 'href="#q-trust-1">Question 2: Choose a number from 1 to 5.' in summary
    assert 'href="#q-value-1">Question 5: Choose a whole number from 1 to 5.' in summary
    assert 'aria-describedby="q-trust-error"' in html
    assert 'id="q-trust-error"' in html
    assert html.count('aria-invalid="true"') == 10  # the radios of the two answers to fix
    assert 'id="q-nps-9" value="9" checked' in html
    assert 'id="q-communication-4" value="4" checked' in html
    assert "Keep this text</textarea>" in html
    assert responses(session) == 0


def test_a_second_visit_or_post_says_the_answers_were_already_received(client, session, invitation):
    assert client.post(f"/s/{invitation.token}", data=form_data()).status_code == 303
    visit = client.get(f"/s/{invitation.token}")
    assert visit.status_code == 200
    assert "We already have your answers" in visit.get_data(as_text=True)
    again = client.post(f"/s/{invitation.token}", data=form_data(nps="0"))
    assert again.status_code == 409
    assert "We already have your answers" in again.get_data(as_text=True)
    assert responses(session) == 1


def test_an_unknown_link_is_not_found_and_a_closed_one_gone(client, session, invitation):
    unknown = client.get("/s/not-a-real-token")
    assert unknown.status_code == 404
    assert "This link does not work" in unknown.get_data(as_text=True)
    assert client.post("/s/not-a-real-token", data=form_data()).status_code == 404
    assert client.get("/s/" + "x" * 500).status_code == 404

    invitation.wave.status = WaveStatus.CLOSED
    session.commit()
    closed = client.get(f"/s/{invitation.token}")
    assert closed.status_code == 410
    assert "This survey has closed" in closed.get_data(as_text=True)
    assert client.post(f"/s/{invitation.token}", data=form_data()).status_code == 410
    assert responses(session) == 0


def test_an_expired_invitation_is_gone(client, session, invitation):
    invitation.expires_at = utcnow() - dt.timedelta(hours=1)
    session.commit()
    assert client.get(f"/s/{invitation.token}").status_code == 410


def test_the_thank_you_page_sends_someone_who_has_not_answered_to_the_form(client, invitation):
    page = client.get(f"/s/{invitation.token}/thanks")
    assert page.status_code == 302
    assert page.headers["Location"].endswith(f"/s/{invitation.token}")
    assert client.get("/s/nope/thanks").status_code == 404


def test_a_post_without_the_csrf_token_stores_nothing_and_shows_the_form_again(
    app, client, session, invitation, monkeypatch
):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    forged = client.post(f"/s/{invitation.token}", data=form_data(do_differently="Forged?"))
    assert forged.status_code == 400
    html = forged.get_data(as_text=True)
    assert "please check your answers and send them again" in html
    assert "Forged?</textarea>" in html
    assert responses(session) == 0

    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    sent = client.post(f"/s/{invitation.token}", data={**form_data(), "csrf_token": token})
    assert sent.status_code == 303
    assert responses(session) == 1
