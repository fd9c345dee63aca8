"""The closed loop reacting to a submission and to the tick: cases and kudos, never in the way."""

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import Account
from relhealth.analytics.models import Alert, AlertKind, AlertSeverity
from relhealth.cohorts.tick import tick
from relhealth.db import utcnow
from relhealth.followup import service
from relhealth.followup.models import Case, CaseReason, CaseStatus, Praise
from relhealth.messaging.models import OutboxMessage
from relhealth.surveys.models import Response
from tests import factories as f
from tests.surveys.conftest import form_data, full_answers


@pytest.fixture
def owner(session):
    return f.UserFactory()


@pytest.fixture
def invitation(session, owner):
    account = f.AccountFactory(owner_id=owner.id, name="Contoso")
    person = f.PersonFactory(account=account, first_name="Grace", last_name="Hopper")
    invitation = f.InvitationFactory(person=person)
    session.commit()
    return invitation


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_detractor_answering_the_form_opens_a_case_for_the_account_owner(
    client, session, invitation, owner
):
    answer = client.post(f"/s/{invitation.token}", data=form_data(nps="3"))

    assert answer.status_code == 303
    case = session.scalars(select(Case).where(Case.reason == CaseReason.DETRACTOR)).one()
    response = session.scalars(select(Response)).one()
    assert case.response_id == response.id
    assert case.person_id == invitation.person_id
    assert case.owner_id == owner.id
    assert case.status == CaseStatus.OPEN
    assert case.score == 3


def test_a_detractor_answering_through_the_api_opens_a_case_too(client, session, invitation):
    answer = client.post(
        f"/api/v1/responses/submit/{invitation.token}", json={"answers": full_answers(nps=0)}
    )

    assert answer.status_code == 201, answer.json
    assert session.scalars(select(Case.reason)).all() == [CaseReason.DETRACTOR]


def test_a_promoter_opens_no_case_and_their_praise_reaches_the_person_named(
    client, session, invitation
):
    staff = f.StaffFactory(first_name="Dana", last_name="Whitfield", email="dana@ours.example")

    answer = client.post(
        f"/s/{invitation.token}",
        data=form_data(nps="10", made_a_difference="Dana Whitfeld sorted our migration."),
    )

    assert answer.status_code == 303
    assert count(session, Case) == 0
    praise = session.scalars(select(Praise)).one()
    assert praise.employee_id == staff.id
    assert "dana@ours.example" in session.scalars(select(OutboxMessage.to_address)).all()


def test_a_failing_follow_up_never_fails_the_submission_and_the_tick_catches_up(
    client, session, invitation, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("the follow-up broke")

    monkeypatch.setattr(service, "open_cases_for_response", broken)
    answer = client.post(f"/s/{invitation.token}", data=form_data(nps="2"))

    assert answer.status_code == 303
    assert count(session, Response) == 1
    assert count(session, Case) == 0

    monkeypatch.undo()
    report = tick(session, utcnow())

    assert report.cases == 1
    assert "Follow-up cases opened: 1" in report.lines()
    assert session.scalars(select(Case.reason)).all() == [CaseReason.DETRACTOR]
    assert tick(session, utcnow()).cases == 0  # the sweep opens nothing twice


def test_the_tick_opens_a_case_for_a_new_alert(session, owner):
    account = f.AccountFactory(owner_id=owner.id)
    session.add(
        Alert(
            kind=AlertKind.SIGNIFICANT_DECLINE,
            account_id=account.id,
            severity=AlertSeverity.HIGH,
            message="Health fell 12 points (n = 9).",
            evidence={},
            dedupe_key=f"decline:{account.id}",
        )
    )
    session.commit()

    report = tick(session, utcnow())

    assert report.cases == 1
    case = session.scalars(select(Case)).one()
    assert (case.reason, case.account_id, case.owner_id) == (CaseReason.ALERT, account.id, owner.id)
    assert session.get(Account, account.id) is not None
