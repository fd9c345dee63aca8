"""Users, their roles, API tokens and explicit account assignments."""

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from relhealth.db import TimestampMixin, int_pk, str_enum, utcnow
from relhealth.extensions import db


class Role(enum.StrEnum):
    ADMIN = "admin"
    EXECUTIVE = "executive"
    ACCOUNT_MANAGER = "account_manager"
    PARTNER_MANAGER = "partner_manager"
    VIEWER = "viewer"


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int_pk]
    email: Mapped[str] = mapped_column(String(254), unique=True, comment="lower-cased")
    name: Mapped[str]
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    is_enabled: Mapped[bool] = mapped_column(default=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"),
        unique=True,
        comment="our own staff record, which joins account teams",
    )
    last_login_at: Mapped[dt.datetime | None]

    person: Mapped["Person | None"] = relationship()  # noqa: F821
    assignments: Mapped[list["AccountAssignment"]] = relationship(
        cascade="all, delete-orphan", back_populates="user"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login: disabled users cannot log in
        return self.is_enabled

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class AccountAssignment(db.Model):
    """An account a user was given to read (how viewers see anything)."""

    __tablename__ = "account_assignments"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    user: Mapped[User] = relationship(back_populates="assignments")


class ApiToken(db.Model):
    """A bearer token for the API. Only a SHA-256 hash is kept; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int_pk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12), comment="first characters, to recognise it")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()
