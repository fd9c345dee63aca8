"""Users, passwords and API tokens (relhealth.auth.service)."""

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from relhealth.auth.models import ApiToken, Role, User
from relhealth.auth.service import (
    MIN_PASSWORD_LENGTH,
    TOKEN_PREFIX,
    authenticate,
    create_user,
    hash_password,
    issue_token,
    revoke_token,
    user_by_email,
    user_for_token,
)
from relhealth.core.errors import Conflict, InvalidInput, NotFound
from tests import factories as f

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
PASSWORD = "a long enough passphrase"


def test_passwords_are_stored_as_salted_scrypt_hashes_never_plain(session):
    user = create_user(
        session, email="ann@relhealth.test", name="Ann", role=Role.ADMIN, password=PASSWORD
    )
    stored = session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("scrypt:")
    assert PASSWORD not in stored
    assert hash_password(PASSWORD) != stored  # a fresh salt each time


def test_a_short_password_is_refused_with_a_field_message():
    with pytest.raises(InvalidInput) as error:
        hash_password("x" * (MIN_PASSWORD_LENGTH - 1))
    assert "password" in error.value.fields


def test_emails_are_lower_cased_and_unique_whatever_their_case(session):
    user = create_user(session, email="  Ann@RelHealth.test ", name="Ann", role="viewer")
    assert user.email == "ann@relhealth.test"
    assert user.password_hash is None
    assert user_by_email(session, "ANN@relhealth.test") is user
    with pytest.raises(Conflict):
        create_user(session, email="ann@relhealth.TEST", name="Other", role="viewer")
    with pytest.raises(NotFound):
        user_by_email(session, "bob@relhealth.test")


def test_the_right_password_signs_in_and_records_the_time(session):
    user = f.UserFactory(email="ann@relhealth.test")
    assert authenticate(session, "ANN@relhealth.test", f.PASSWORD, now=NOW) is user
    assert user.last_login_at == NOW


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ann@relhealth.test", "wrong password!"),
        ("ann@relhealth.test", ""),
        ("nobody@relhealth.test", f.PASSWORD),
    ],
)
def test_a_wrong_password_or_unknown_email_is_refused(session, email, password):
    user = f.UserFactory(email="ann@relhealth.test")
    assert authenticate(session, email, password, now=NOW) is None
    assert user.last_login_at is None


def test_a_disabled_user_cannot_sign_in_even_with_the_right_password(session):
    f.UserFactory(email="ann@relhealth.test", is_enabled=False)
    assert authenticate(session, "ann@relhealth.test", f.PASSWORD) is None


def test_a_user_without_a_password_cannot_sign_in(session):
    f.UserFactory(email="ann@relhealth.test", password_hash=None)
    assert authenticate(session, "ann@relhealth.test", f.PASSWORD) is None


def test_tokens_are_stored_only_as_a_sha256_hash_so_they_are_shown_once(session):
    user = f.UserFactory()
    token, plain = issue_token(session, user, "ci")
    _other, other_plain = issue_token(session, user, "ci")
    assert plain.startswith(TOKEN_PREFIX)
    assert plain != other_plain
    row = session.execute(select(*ApiToken.__table__.columns).where(ApiToken.id == token.id)).one()
    assert row.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain.startswith(row.prefix)
    assert len(row.prefix) < len(plain) // 2
    # No stored value anywhere gives the plain token back.
    stored = [
        str(value)
        for model in (ApiToken, User)
        for stored_row in session.execute(select(*model.__table__.columns))
        for value in stored_row
    ]
    assert not any(plain in value or other_plain in value for value in stored)


def test_a_live_token_finds_its_user_and_records_its_use(session):
    user = f.UserFactory()
    token, plain = issue_token(session, user, "ci", expires_at=NOW + dt.timedelta(days=1))
    assert user_for_token(session, plain, now=NOW) is user
    assert token.last_used_at == NOW


def test_revoked_expired_unknown_and_disabled_tokens_find_nobody(session):
    user = f.UserFactory()
    revoked, revoked_plain = issue_token(session, user, "old")
    revoke_token(session, revoked, now=NOW)
    _expired, expired_plain = issue_token(session, user, "x", expires_at=NOW)
    disabled_user = f.UserFactory(is_enabled=False)
    _token, disabled_plain = issue_token(session, disabled_user, "x")
    _token, live = issue_token(session, user, "live")

    assert revoked.revoked_at == NOW
    for plain in (revoked_plain, expired_plain, disabled_plain, live + "x", live[3:], ""):
        assert user_for_token(session, plain, now=NOW) is None
    assert user_for_token(session, live, now=NOW) is user


@pytest.mark.parametrize("state", ["revoked", "expired", "disabled"])
def test_the_api_answers_401_to_a_dead_token(api, session, state):
    user = f.UserFactory(role=Role.ADMIN)
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    token, plain = issue_token(session, user, "x", expires_at=past if state == "expired" else None)
    if state == "revoked":
        revoke_token(session, token)
    if state == "disabled":
        user.is_enabled = False
        session.flush()
    response = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_api_accepts_a_live_token_whatever_the_scheme_case(api, session):
    user = f.UserFactory()
    _token, plain = issue_token(session, user, "x")
    response = api.client.get("/api/v1/me", headers={"Authorization": f"bearer {plain}"})
    assert response.status_code == 200
    assert response.get_json()["id"] == user.id
