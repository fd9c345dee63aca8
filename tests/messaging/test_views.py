"""The unsubscribe page, its CSRF-protected button and the mail clients' one-click POST."""

import re

from relhealth.messaging.service import unsubscribe_token
from tests.factories import PersonFactory


def _csrf(html: bytes) -> str:
    return re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', html).group(1).decode()


def test_the_page_says_what_unsubscribing_does_and_changes_nothing_yet(client, session):
    person = PersonFactory(email="ada@customer.test")
    response = client.get(f"/unsubscribe/{unsubscribe_token(person.id)}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "stop sending relationship surveys" in page
    assert "a•••@customer.test" in page
    assert "<button" in page
    session.refresh(person)
    assert not person.opted_out


def test_the_button_needs_the_csrf_token_and_then_opts_out(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    person = PersonFactory()
    url = f"/unsubscribe/{unsubscribe_token(person.id)}"
    forged = client.post(url)
    assert forged.status_code == 400
    assert "expired" in forged.get_data(as_text=True)
    session.refresh(person)
    assert not person.opted_out

    response = client.post(url, data={"csrf_token": _csrf(client.get(url).data)})

    assert response.status_code == 200
    assert "You will not receive further surveys" in response.get_data(as_text=True)
    session.refresh(person)
    assert person.opted_out
    again = client.get(url)
    assert "You are unsubscribed" in again.get_data(as_text=True)


def test_a_mail_clients_one_click_post_opts_out_without_a_csrf_token(
    app, client, session, monkeypatch
):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    person = PersonFactory()
    response = client.post(
        f"/unsubscribe/{unsubscribe_token(person.id)}",
        data={"List-Unsubscribe": "One-Click"},
    )
    assert response.status_code == 200
    assert "You will not receive further surveys" in response.get_data(as_text=True)
    session.refresh(person)
    assert person.opted_out


def test_a_bad_token_gets_a_friendly_404_and_changes_nothing(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    person = PersonFactory()
    bad = unsubscribe_token(person.id)[:-3] + "xyz"
    page = client.get(f"/unsubscribe/{bad}")
    assert page.status_code == 404
    assert "This link is not valid" in page.get_data(as_text=True)
    one_click = client.post(f"/unsubscribe/{bad}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 404
    session.refresh(person)
    assert not person.opted_out
