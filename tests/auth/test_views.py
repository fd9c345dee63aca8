"""Signing in and out of the web UI."""

import re

from tests.factories import PASSWORD, UserFactory


def _csrf(html: bytes) -> str:
    return re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', html).group(1).decode()


def test_sign_in_needs_the_csrf_token(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = UserFactory()
    forged = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert forged.status_code == 400
    token = _csrf(client.get("/login").data)
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts"


def test_sign_out_is_a_csrf_protected_post(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = UserFactory()
    token = _csrf(client.get("/login").data)
    client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    page = client.get("/accounts")
    assert client.post("/logout", data={"csrf_token": _csrf(page.data)}).status_code == 302
    assert client.get("/accounts").status_code == 302


def test_wrong_password_and_disabled_users_cannot_sign_in(client):
    user = UserFactory()
    response = client.post("/login", data={"email": user.email, "password": "wrong password"})
    assert response.status_code == 422
    assert b"do not match an active user" in response.data
    user.is_enabled = False
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 422


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(client):
    user = UserFactory()
    response = client.post(
        "/login?next=/people", data={"email": user.email.upper(), "password": PASSWORD}
    )
    assert response.headers["Location"] == "/people"
    client.post("/logout")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            f"/login?next={target}", data={"email": user.email, "password": PASSWORD}
        )
        assert response.headers["Location"] == "/accounts"
        client.post("/logout")


def test_a_nul_character_in_the_sign_in_form_is_refused_not_a_server_error(client):
    response = client.post("/login", data={"email": "a\x00@example.com", "password": "x\x00y"})
    assert response.status_code == 422
    assert b"NUL" in response.data
