"""A small hand-built portfolio for cohort and tick tests, and databases with real commits."""

import datetime as dt
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session, sessionmaker

from relhealth.accounts.models import (
    AccountKind,
    RelationshipType,
    StakeholderRole,
    TeamRole,
    Tier,
)
from relhealth.extensions import db
from tests import factories as f
from tests.conftest import make_app
from tests.databases import throwaway_database

TODAY = dt.date(2027, 1, 4)
NOW = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(session):
    """Three accounts, their people on every level, and two of ours on two teams.

    Acme (strategic customer): an executive decision maker, a senior, a manager champion, a
    staff member; and four who cannot be asked: one who left, one opted out, one without an
    e-mail address, one who only starts next month. Globex (key partner): an executive and a
    manager. Initech (standard, transactional customer): one staff member.
    Ours: Olivia (executive) is Acme's executive sponsor and on Globex's team; Sam (manager)
    owns both; Eve was on Acme's team until last year.
    """
    acme = f.AccountFactory(
        name="Acme",
        kind=AccountKind.CUSTOMER,
        tier=Tier.STRATEGIC,
        relationship_type=RelationshipType.RELATIONSHIP,
    )
    globex = f.AccountFactory(
        name="Globex",
        kind=AccountKind.PARTNER,
        tier=Tier.KEY,
        relationship_type=RelationshipType.RELATIONSHIP,
    )
    initech = f.AccountFactory(
        name="Initech",
        kind=AccountKind.CUSTOMER,
        tier=Tier.STANDARD,
        relationship_type=RelationshipType.TRANSACTIONAL,
    )
    w = SimpleNamespace(acme=acme, globex=globex, initech=initech)
    w.ceo = f.PersonFactory(account=acme, seniority="executive", first_name="Cora")
    w.ceo.roles = [StakeholderRole.DECISION_MAKER]
    w.director = f.PersonFactory(account=acme, seniority="senior", first_name="Dan")
    w.lead = f.PersonFactory(account=acme, seniority="manager", first_name="Lena")
    w.lead.roles = [StakeholderRole.CHAMPION]
    w.engineer = f.PersonFactory(account=acme, seniority="staff", first_name="Enzo")
    w.gone = f.PersonFactory(account=acme, seniority="staff", left_on=TODAY - dt.timedelta(days=30))
    w.quiet = f.PersonFactory(account=acme, seniority="manager", opted_out=True)
    w.no_email = f.PersonFactory(account=acme, seniority="staff", email=None)
    w.newcomer = f.PersonFactory(
        account=acme, seniority="staff", active_from=TODAY + dt.timedelta(days=30)
    )
    w.globex_ceo = f.PersonFactory(account=globex, seniority="executive", first_name="Gia")
    w.globex_lead = f.PersonFactory(account=globex, seniority="manager", first_name="Gus")
    w.initech_staff = f.PersonFactory(account=initech, seniority="staff", first_name="Ivy")
    w.olivia = f.StaffFactory(seniority="executive", first_name="Olivia")
    w.sam = f.StaffFactory(seniority="manager", first_name="Sam")
    w.eve = f.StaffFactory(seniority="staff", first_name="Eve")
    f.TeamMemberFactory(account=acme, person=w.olivia, role=TeamRole.EXECUTIVE_SPONSOR)
    f.TeamMemberFactory(account=globex, person=w.olivia, role=TeamRole.MEMBER)
    f.TeamMemberFactory(account=acme, person=w.sam, role=TeamRole.OWNER)
    f.TeamMemberFactory(account=globex, person=w.sam, role=TeamRole.OWNER)
    f.TeamMemberFactory(
        account=acme, person=w.eve, role=TeamRole.MEMBER, ended_on=TODAY - dt.timedelta(days=200)
    )
    session.flush()
    return w


def pairs(members) -> set[tuple[int, int]]:
    return {(m.person_id, m.account_id) for m in members}


@pytest.fixture
def committed(tmp_path, monkeypatch, app):
    """A fresh migrated database (the suite's backend) whose commits are real.

    ``db.session`` and so the factories write to it for the test's duration; yields an object
    with ``app`` (bound to it), ``url`` and ``sessions`` (a session factory).
    """
    with throwaway_database(tmp_path) as url:
        other = make_app(url)
        with other.app_context():
            upgrade()
            engine = db.engine
            sessions = sessionmaker(bind=engine)
            scoped = scoped_session(sessions)
            monkeypatch.setattr(db, "session", scoped)
            try:
                yield SimpleNamespace(app=other, url=url, sessions=sessions, session=scoped)
            finally:
                scoped.remove()
                engine.dispose()


def count(session, model, *where) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
