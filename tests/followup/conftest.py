"""Fixtures of the follow-up tests: a small portfolio, responses on demand, the settings.

``world``: Acme (owned by ``owner``; ``viewer`` assigned to read it; ``executive`` reads all)
with Ada, one of their people with an e-mail, in an identified program's wave; Globex belongs
to ``other``. ``respond(person, nps=..., rating=..., text=..., sentiment=...)`` stores a
response as a submission would (answers scaled), without opening cases; beside an NPS it
rates 5/5 four times unless ``ratings`` are given, so the NPS alone decides.
"""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from relhealth.accounts.models import Tier
from relhealth.auth.models import Role
from relhealth.cohorts.models import Confidentiality
from relhealth.extensions import db
from relhealth.followup import service
from relhealth.surveys.models import Answer, QuestionType, Response, ResponseSource
from tests import factories as f

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def settings(app):
    return service.settings_for(app.config)


@pytest.fixture
def world(session):
    owner = f.UserFactory(role=Role.ACCOUNT_MANAGER, name="Olivia Owner")
    other = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    acme = f.AccountFactory(
        name="Acme", owner_id=owner.id, annual_value=Decimal("100000"), lifetime_value=None
    )
    globex = f.AccountFactory(name="Globex", owner_id=other.id)
    viewer = f.AssignmentFactory(account_id=acme.id).user
    program = f.ProgramFactory()
    wave = f.WaveFactory(program=program)
    secret_program = f.ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL)
    secret_wave = f.WaveFactory(program=secret_program)
    return SimpleNamespace(
        owner=owner,
        other=other,
        admin=f.UserFactory(role=Role.ADMIN),
        executive=f.UserFactory(role=Role.EXECUTIVE),
        viewer=viewer,
        acme=acme,
        globex=globex,
        ada=f.PersonFactory(
            account=acme, first_name="Ada", last_name="Byron", email="ada@acme.test"
        ),
        bob=f.PersonFactory(account=globex, first_name="Bob", last_name="Stone"),
        wave=wave,
        secret_wave=secret_wave,
    )


def _answers(nps, ratings, text, sentiment) -> list[Answer]:
    answers = []
    if nps is not None:
        answers.append(
            Answer(
                question_key="nps",
                question_type=QuestionType.NPS,
                dimension="overall",
                value=nps,
                scaled=10.0 * nps,
            )
        )
    for index, rating in enumerate(ratings):
        answers.append(
            Answer(
                question_key=f"rating_{index}",
                question_type=QuestionType.RATING,
                dimension="trust",
                value=rating,
                scaled=25.0 * (rating - 1),
            )
        )
    if text is not None:
        answers.append(
            Answer(
                question_key="comment",
                question_type=QuestionType.TEXT,
                text=text,
                sentiment=sentiment,
            )
        )
    return answers


@pytest.fixture
def respond(world):
    """``respond(person, nps=3)``: a stored response (1-5 ratings, a text with its sentiment)."""

    def respond(
        person,
        *,
        nps=None,
        ratings=None,
        text=None,
        sentiment=None,
        wave=None,
        side=None,
        account=None,
        submitted_at=NOW,
    ) -> Response:
        wave = wave if wave is not None else world.wave
        if ratings is None:  # beside an NPS, good ratings: only the NPS gives a reason
            ratings = (5, 5, 5, 5) if nps is not None else ()
        response = Response(
            wave_id=wave.id if wave else None,
            survey_version_id=wave.survey_version_id if wave else None,
            person_id=person.id,
            account_id=account.id if account is not None else person.account_id,
            side=side or person.side,
            seniority=person.seniority,
            submitted_at=submitted_at,
            source=ResponseSource.API,
            answers=_answers(nps, ratings, text, sentiment),
        )
        db.session.add(response)
        db.session.flush()
        return response

    return respond


@pytest.fixture
def open_case(respond, settings):
    """``open_case(person, nps=2)``: a response and the one case it opens."""

    def open_case(person, now=NOW, **answers):
        response = respond(person, **answers)
        cases = service.open_cases_for_response(db.session, response.id, settings, now)
        assert len(cases) == 1
        return cases[0]

    return open_case


@pytest.fixture
def detractors(world, open_case):
    """``detractors(tier, n)``: ``n`` detractor cases in a new account of the owner's."""

    def detractors(tier=Tier.KEY, n=1):
        account = f.AccountFactory(tier=tier, owner_id=world.owner.id)
        return [
            open_case(f.PersonFactory(account=account), nps=2, ratings=(5, 5, 5)) for _ in range(n)
        ]

    return detractors
