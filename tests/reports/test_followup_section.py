"""The reports' "Closing the loop" chapter: the closed-loop KPIs, root causes and the stories."""

import datetime as dt
import subprocess

import pytest
from sqlalchemy import select

from relhealth.accounts.models import Account, AccountKind
from relhealth.auth.models import Role, User
from relhealth.demo import generate_portfolio, seed_database, seed_survey_history
from relhealth.demo_followup import seed_followup
from relhealth.followup import kpis, stories
from relhealth.reports import service
from relhealth.surveys.models import Answer, QuestionType, Response, ResponseSource
from tests import factories as f
from tests.reports.test_content import _largest

TODAY = dt.date(2026, 11, 26)
NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def worked(session):
    """A small demo portfolio with two years of answers and of follow-up work on them."""
    seed_database(session, generate_portfolio(seed=3, accounts=4, today=TODAY))
    session.commit()
    seed_survey_history(session, TODAY, seed=3)
    seed_followup(session, TODAY, seed=3)
    return session


def pdf_text(pdf: bytes) -> str:
    """The PDF's text in reading order, whitespace collapsed (side-by-side boxes stay whole)."""
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def test_the_account_report_says_how_its_detractors_were_followed_up_with_stories(worked):
    account = _largest(worked, AccountKind.CUSTOMER)
    loop = kpis.closed_loop_summary(worked, None, account.id, now=NOW)
    told = stories.detractor_stories(worked, account.id, NOW)
    assert loop["has_cases"]
    assert told

    text = pdf_text(service.render_account_report(worked, account, now=NOW))

    assert "Closing the loop" in text
    overall = loop["overall"]
    assert f"{overall['resolved']} of {overall['detractors']}" in text
    assert (
        f"{overall['first_contact_breaches']} first contact, {overall['resolution_breaches']}"
        " resolution"
    ) in text
    assert "What they said, what we did, where they stand now" in text
    for story in told:
        assert story.person in text
        assert " ".join(story.resolution.split()) in text
    assert "Root causes" in text


def test_an_account_whose_people_were_never_detractors_says_so(session):
    account = f.AccountFactory(name="Quiet Quarry")
    for _ in range(3):
        person = f.PersonFactory(account=account)
        session.add(
            Response(
                person_id=person.id,
                account_id=account.id,
                side=person.side,
                seniority=person.seniority,
                submitted_at=NOW - dt.timedelta(days=30),
                source=ResponseSource.IMPORT,
                answers=[
                    Answer(
                        question_key="nps",
                        question_type=QuestionType.NPS,
                        dimension="overall",
                        value=9,
                        scaled=90.0,
                    )
                ],
            )
        )
    session.flush()

    text = pdf_text(service.render_account_report(session, account, now=NOW))

    assert "Closing the loop" in text
    assert (
        "No detractor since 1 Jan 2026: nobody answered 0\N{EN DASH}6, so no case was opened."
        in text
    )


def test_the_portfolio_report_has_the_closed_loop_kpis_of_the_accounts_it_covers(worked):
    reader = User(role=Role.ADMIN, name="reader", email="r@example.com")
    everything = kpis.closed_loop_summary(worked, reader, now=NOW)["overall"]
    customers = worked.scalars(select(Account.id).where(Account.kind == AccountKind.CUSTOMER))
    theirs = kpis.closed_loop_summary(worked, reader, now=NOW, within=list(customers))["overall"]
    assert 0 < theirs["detractors"] < everything["detractors"]

    text = pdf_text(service.render_portfolio_report(worked, reader, now=NOW))
    filtered = pdf_text(
        service.render_portfolio_report(
            worked, reader, filters={"kind": AccountKind.CUSTOMER}, now=NOW
        )
    )

    assert "Closing the loop" in text
    assert "By owner" in text
    assert "Per quarter" in text
    assert f"{everything['resolved']} of {everything['detractors']}" in text
    assert f"{theirs['resolved']} of {theirs['detractors']}" in filtered
