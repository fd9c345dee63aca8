"""Who may see and change what. The one place these rules live.

- admin: everything.
- executive: reads every account; changes nothing.
- account_manager: reads and changes the accounts they own or whose team they are on
  (through their staff record); creates customer accounts, which they then own.
- partner_manager: the same, but only for partner accounts.
- viewer: reads the accounts they are assigned; changes nothing.
Any role may also read accounts an admin assigned to them. Our own staff (internal people) are
a directory every signed-in user may read; only admins change it.

A user who may not read an account is answered 404 (as if it did not exist), so ids cannot be
probed; one who may read but not change it is answered 403.
"""

import datetime as dt

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from relhealth.accounts.models import Account, AccountKind, AccountTeamMember
from relhealth.auth.models import AccountAssignment, Role, User
from relhealth.core.errors import Forbidden, NotFound
from relhealth.core.time import today_utc

_MANAGED_KIND = {
    Role.ACCOUNT_MANAGER: None,  # any kind they own or are on the team of
    Role.PARTNER_MANAGER: AccountKind.PARTNER,
}
_CREATED_KIND = {
    Role.ACCOUNT_MANAGER: AccountKind.CUSTOMER,
    Role.PARTNER_MANAGER: AccountKind.PARTNER,
}


def _on_team(user: User, today: dt.date) -> ColumnElement[bool]:
    if user.person_id is None:
        return false()
    return Account.id.in_(
        select(AccountTeamMember.account_id).where(
            AccountTeamMember.person_id == user.person_id,
            or_(AccountTeamMember.ended_on.is_(None), AccountTeamMember.ended_on > today),
        )
    )


def _assigned(user: User) -> ColumnElement[bool]:
    return Account.id.in_(
        select(AccountAssignment.account_id).where(AccountAssignment.user_id == user.id)
    )


def _managed(user: User, today: dt.date) -> ColumnElement[bool]:
    clause = or_(Account.owner_id == user.id, _on_team(user, today))
    kind = _MANAGED_KIND[user.role]
    return and_(Account.kind == kind, clause) if kind is not None else clause


def readable_accounts(user: User, today: dt.date | None = None) -> ColumnElement[bool]:
    """A WHERE clause on ``Account`` selecting the accounts ``user`` may read."""
    today = today or today_utc()
    if user.role in (Role.ADMIN, Role.EXECUTIVE):
        return true()
    if user.role in _MANAGED_KIND:
        return or_(_managed(user, today), _assigned(user))
    return _assigned(user)


def writable_accounts(user: User, today: dt.date | None = None) -> ColumnElement[bool]:
    """A WHERE clause on ``Account`` selecting the accounts ``user`` may change."""
    today = today or today_utc()
    if user.role == Role.ADMIN:
        return true()
    if user.role in _MANAGED_KIND:
        return _managed(user, today)
    return false()


def may_create_account(user: User, kind: AccountKind | str) -> bool:
    """Admins create any account; account managers customers, partner managers partners."""
    if user.role == Role.ADMIN:
        return True
    return _CREATED_KIND.get(user.role) == AccountKind(kind)


def may_manage_staff(user: User) -> bool:
    """Create and change our own people and the relationships among them."""
    return user.role == Role.ADMIN


def may_import(user: User) -> bool:
    return user.role == Role.ADMIN


def may_manage_surveys(user: User) -> bool:
    """Create survey templates and edit their questions."""
    return user.role == Role.ADMIN


def may_manage_listening(user: User) -> bool:
    """Create and change cohorts, panels and survey programs."""
    return user.role == Role.ADMIN


def require(allowed: bool, message: str = "You may not do this.") -> None:
    if not allowed:
        raise Forbidden(message)


def account_access(session, user: User, account_id: int, *, write: bool = False) -> Account:
    """The account, if ``user`` may read it (and change it, with ``write``).

    Raises NotFound when it is not readable (or does not exist), Forbidden when it is readable
    but ``write`` was asked and is not allowed.
    """
    account = session.scalar(
        select(Account).where(Account.id == account_id, readable_accounts(user))
    )
    if account is None:
        raise NotFound("No such account.")
    if write:
        may_write = session.scalar(
            select(Account.id).where(Account.id == account_id, writable_accounts(user))
        )
        require(may_write is not None, "You may read this account but not change it.")
    return account
