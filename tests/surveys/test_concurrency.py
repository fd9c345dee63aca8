"""Two submissions of one link at the same moment store one response (PostgreSQL).

The requests both see the invitation unanswered, then both insert: the unique key on
``responses.invitation_id`` lets one through and the other is told "already received".
Runs in a database of its own, since the submissions need real commits across connections.
"""

import datetime as dt
import threading
from collections import Counter

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relhealth.accounts.models import Account, AccountKind, Person, Side
from relhealth.cohorts.models import (
    Cohort,
    CohortMode,
    Invitation,
    InvitationStatus,
    Program,
    Wave,
    WaveStatus,
)
from relhealth.config import sqlalchemy_url
from relhealth.core.tokens import new_token
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.surveys import service
from relhealth.surveys.builtin import install_builtin_surveys
from relhealth.surveys.models import Answer, Response, Survey
from tests.conftest import make_app
from tests.databases import base_url, is_postgres, throwaway_database
from tests.surveys.conftest import full_answers

pytestmark = pytest.mark.skipif(
    not is_postgres(base_url()), reason="the race is PostgreSQL's (SQLite has one writer)"
)
SUBMITTERS = 4


@pytest.fixture
def link(tmp_path):
    """An engine on a fresh, migrated database, and the token of one open invitation."""
    with throwaway_database(tmp_path) as url:
        app = make_app(url)
        with app.app_context():
            upgrade()
            db.engine.dispose()
        engine = sa.create_engine(sqlalchemy_url(url, tmp_path), pool_size=SUBMITTERS + 1)
        plain, hashed = new_token()
        now = utcnow()
        with Session(engine) as session:
            install_builtin_surveys(session)
            survey = session.scalar(select(Survey).where(Survey.key == "relationship-health"))
            version = service.latest_version(session, survey)
            account = Account(name="Contoso", kind=AccountKind.CUSTOMER)
            person = Person(
                account=account,
                side=Side.EXTERNAL,
                first_name="Ada",
                last_name="Lovelace",
                seniority="manager",
            )
            program = Program(
                name="Quarterly",
                survey_id=survey.id,
                cohort=Cohort(name="Everyone", mode=CohortMode.DYNAMIC, rule={}),
                starts_at=now,
            )
            session.add_all([account, person, program])
            session.flush()
            service.freeze_version(session, version, now)
            wave = Wave(
                program_id=program.id,
                occurrence="now",
                survey_version_id=version.id,
                opens_at=now,
                closes_at=now + dt.timedelta(days=14),
                status=WaveStatus.OPEN,
            )
            session.add(wave)
            session.flush()
            session.add(
                Invitation(
                    wave_id=wave.id,
                    person_id=person.id,
                    account_id=account.id,
                    side=Side.EXTERNAL,
                    seniority="manager",
                    status=InvitationStatus.INVITED,
                    token_hash=hashed,
                    expires_at=wave.closes_at,
                )
            )
            session.commit()
        try:
            yield engine, plain
        finally:
            engine.dispose()


def test_simultaneous_submissions_of_one_link_store_one_response(link):
    engine, token = link
    ready = threading.Barrier(SUBMITTERS)
    outcomes, errors = [], []

    def submit() -> None:
        with Session(engine) as session:
            try:
                invitation = service.invitation_for_token(session, token)
                assert invitation.wave.status == WaveStatus.OPEN  # loaded before the race
                ready.wait()
                service.submit_response(session, invitation, full_answers())
                session.commit()
                outcomes.append("stored")
            except service.AlreadyReceived:
                session.rollback()
                outcomes.append("already received")
            except Exception as error:  # reported below: a thread cannot fail the test itself
                errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(SUBMITTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert Counter(outcomes) == {"stored": 1, "already received": SUBMITTERS - 1}
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 1
        assert session.scalar(select(func.count()).select_from(Answer)) == 8
        invitation = session.scalars(select(Invitation)).one()
        assert invitation.status == InvitationStatus.RESPONDED
