"""The permission rules themselves, checked without HTTP (relhealth.auth.permissions)."""

import datetime as dt

import pytest
from sqlalchemy import select

from relhealth.accounts.models import Account, AccountKind
from relhealth.auth.models import Role
from relhealth.auth.permissions import (
    account_access,
    may_create_account,
    may_import,
    may_manage_staff,
    readable_accounts,
    writable_accounts,
)
from relhealth.auth.service import assign_account
from relhealth.core.errors import Forbidden, NotFound
from tests import factories as f

TODAY = dt.date(2026, 6, 15)


def readable(session, user, today=TODAY) -> set[int]:
    return set(session.scalars(select(Account.id).where(readable_accounts(user, today))))


def writable(session, user, today=TODAY) -> set[int]:
    return set(session.scalars(select(Account.id).where(writable_accounts(user, today))))


@pytest.fixture
def accounts(session):
    return [f.AccountFactory(), f.AccountFactory(kind=AccountKind.PARTNER)]


def manager_with_staff_record(role=Role.ACCOUNT_MANAGER):
    staff = f.StaffFactory()
    return f.UserFactory(role=role, person_id=staff.id), staff


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EXECUTIVE])
def test_admins_and_executives_read_every_account(session, accounts, role):
    user = f.UserFactory(role=role)
    assert readable(session, user) == {a.id for a in accounts}


def test_only_admins_change_any_account(session, accounts):
    ids = {a.id for a in accounts}
    assert writable(session, f.UserFactory(role=Role.ADMIN)) == ids
    assert writable(session, f.UserFactory(role=Role.EXECUTIVE)) == set()
    assert writable(session, f.UserFactory(role=Role.VIEWER)) == set()


def test_account_manager_reads_and_changes_owned_and_team_accounts_only(session, accounts):
    user, staff = manager_with_staff_record()
    owned = f.AccountFactory(owner=user)
    on_team = f.AccountFactory(kind=AccountKind.PARTNER)
    f.TeamMemberFactory(account=on_team, person=staff)
    assert readable(session, user) == writable(session, user) == {owned.id, on_team.id}


def test_a_manager_without_a_staff_record_is_on_no_team(session):
    user = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    f.TeamMemberFactory()  # someone else's place on some team
    assert readable(session, user) == set()


def test_a_team_place_grants_access_until_its_end_date(session):
    user, staff = manager_with_staff_record()
    account = f.AccountFactory()
    member = f.TeamMemberFactory(account=account, person=staff, ended_on=TODAY)
    assert readable(session, user, today=TODAY - dt.timedelta(days=1)) == {account.id}
    assert readable(session, user, today=TODAY) == set()
    member.ended_on = None
    session.flush()
    assert readable(session, user, today=TODAY) == {account.id}


def test_partner_manager_manages_partner_accounts_but_never_customers(session):
    user, staff = manager_with_staff_record(Role.PARTNER_MANAGER)
    partner_owned = f.AccountFactory(kind=AccountKind.PARTNER, owner=user)
    partner_team = f.AccountFactory(kind=AccountKind.PARTNER)
    customer_owned = f.AccountFactory(owner=user)
    customer_team = f.AccountFactory()
    for account in (partner_team, customer_team):
        f.TeamMemberFactory(account=account, person=staff)
    assert readable(session, user) == writable(session, user) == {partner_owned.id, partner_team.id}
    assert customer_owned.id not in readable(session, user)
    assert customer_team.id not in readable(session, user)


@pytest.mark.parametrize(
    "role", [Role.EXECUTIVE, Role.ACCOUNT_MANAGER, Role.PARTNER_MANAGER, Role.VIEWER]
)
def test_an_assigned_account_is_readable_but_not_writable(session, accounts, role):
    user = f.UserFactory(role=role)
    assigned = accounts[0]
    assign_account(session, user, assigned.id)
    assign_account(session, user, assigned.id)  # assigning twice is harmless
    assert assigned.id in readable(session, user)
    assert assigned.id not in writable(session, user)
    assert account_access(session, user, assigned.id) is assigned
    with pytest.raises(Forbidden):
        account_access(session, user, assigned.id, write=True)


def test_a_viewer_sees_only_assigned_accounts(session, accounts):
    viewer = f.UserFactory(role=Role.VIEWER)
    f.AssignmentFactory(user=viewer, account_id=accounts[1].id)
    assert readable(session, viewer) == {accounts[1].id}
    with pytest.raises(NotFound):
        account_access(session, viewer, accounts[0].id)


def test_an_unreadable_account_is_reported_as_missing_even_when_writing(session, accounts):
    user = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    for account_id in (accounts[0].id, 2**31 - 1):
        with pytest.raises(NotFound, match="No such account"):
            account_access(session, user, account_id, write=True)


def test_account_access_returns_a_writable_account(session):
    user = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    owned = f.AccountFactory(owner=user)
    assert account_access(session, user, owned.id, write=True) is owned


@pytest.mark.parametrize(
    ("role", "customer", "partner"),
    [
        (Role.ADMIN, True, True),
        (Role.EXECUTIVE, False, False),
        (Role.ACCOUNT_MANAGER, True, False),
        (Role.PARTNER_MANAGER, False, True),
        (Role.VIEWER, False, False),
    ],
)
def test_who_may_create_which_kind_of_account(role, customer, partner):
    user = f.UserFactory.build(role=role)
    assert may_create_account(user, AccountKind.CUSTOMER) is customer
    assert may_create_account(user, "partner") is partner


@pytest.mark.parametrize("role", list(Role))
def test_only_admins_manage_our_staff_and_import(role):
    user = f.UserFactory.build(role=role)
    assert may_manage_staff(user) is (role == Role.ADMIN)
    assert may_import(user) is (role == Role.ADMIN)
