"""Users, passwords and API tokens. Functions take a session and flush; callers commit."""

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from relhealth.auth.models import AccountAssignment, ApiToken, Role, User
from relhealth.core.errors import Conflict, InvalidInput, NotFound
from relhealth.db import utcnow

TOKEN_PREFIX = "rh_"  # noqa: S105 -- a public prefix, not a secret
MIN_PASSWORD_LENGTH = 10
# Checked against when the e-mail is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password-" + secrets.token_hex(8))


def hash_password(password: str) -> str:
    """Hash with werkzeug's current default (scrypt), salted."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput.on(
            "password", f"Use at least {MIN_PASSWORD_LENGTH} characters for a password."
        )
    return generate_password_hash(password)


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str | None = None,
    person_id: int | None = None,
) -> User:
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with e-mail {email} already exists.", {"email": ["Taken."]})
    user = User(email=email, name=name, role=Role(role), person_id=person_id)
    if password is not None:
        user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user with e-mail {email}.")
    return user


def authenticate(session: Session, email: str, password: str, now: dt.datetime | None = None):
    """The enabled user with this e-mail and password, or None. Records the login time."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    if not check_password_hash(stored, password) or user is None or not user.is_enabled:
        return None
    user.last_login_at = now or utcnow()
    session.flush()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, user: User, name: str, expires_at: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the plain token, which is never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        token_hash=_digest(plain),
        prefix=plain[:10],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token, plain


def user_for_token(session: Session, plain: str, now: dt.datetime | None = None) -> User | None:
    """The enabled user a live token belongs to, or None; records when it was last used."""
    now = now or utcnow()
    if not plain.startswith(TOKEN_PREFIX):
        return None
    digest = _digest(plain)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if not token.user.is_enabled:
        return None
    token.last_used_at = now
    return token.user


def revoke_token(session: Session, token: ApiToken, now: dt.datetime | None = None) -> None:
    token.revoked_at = now or utcnow()
    session.flush()


def assign_account(session: Session, user: User, account_id: int) -> None:
    """Let ``user`` read an account (viewers see only what they are assigned)."""
    if session.get(AccountAssignment, (user.id, account_id)) is None:
        session.add(AccountAssignment(user_id=user.id, account_id=account_id))
        session.flush()
