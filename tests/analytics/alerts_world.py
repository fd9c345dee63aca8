"""A small database world for the alert tests: one account that shows every kind of alert.

Acme (owned by ``owner``, readable by ``viewer``) in an identified quarterly program with three
closed waves (the first one before the look-back window of ``NOW``):

- six of their people rate the account about 80 in waves 1 and 2 and about 50 in wave 3
  (a significant decline at wave 3, overall, for their side and per dimension);
- their executive, a promoter (9) in wave 2, answers 3 in wave 3 (a new executive detractor);
- their decision maker answered in wave 1 and is silent in waves 2 and 3 (key person silent);
- two snapshots of the graph: their executive level covered, then not (coverage lost).

``Globex`` belongs to someone else and has an alert of its own (foreign to ``owner``).
"""

import datetime as dt
from types import SimpleNamespace

from relhealth.accounts.models import GraphSnapshot, SnapshotReason
from relhealth.analytics.models import Alert, AlertKind, AlertSeverity
from relhealth.auth.models import Role
from relhealth.cohorts.models import InvitationStatus, WaveStatus
from relhealth.extensions import db
from relhealth.surveys.models import Answer, QuestionType, Response, ResponseSource
from tests import factories as f

NOW = dt.datetime(2026, 7, 25, 9, 0, tzinfo=dt.UTC)
OPENS = (
    dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),  # closes 2026-01-19: outside 180 days
    dt.datetime(2026, 4, 6, 9, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 7, 6, 9, 0, tzinfo=dt.UTC),
)


def closed_wave(program, opens_at, occurrence):
    return f.WaveFactory(
        program=program,
        occurrence=occurrence,
        opens_at=opens_at,
        closes_at=opens_at + dt.timedelta(days=14),
        status=WaveStatus.CLOSED,
    )


def respond(person, wave, *, nps=None, rating=None, account=None):
    """``person`` answers ``wave`` (an invitation marked responded): NPS 0-10, a 1-5 rating."""
    account_id = account.id if account is not None else person.account_id
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
    if rating is not None:
        answers.append(
            Answer(
                question_key="quality",
                question_type=QuestionType.RATING,
                dimension="quality",
                value=rating,
                scaled=25.0 * (rating - 1),
            )
        )
    invitation = f.InvitationFactory(
        wave=wave, person=person, account_id=account_id, status=InvitationStatus.RESPONDED
    )
    db.session.add(
        Response(
            invitation_id=invitation.id,
            wave_id=wave.id,
            survey_version_id=wave.survey_version_id,
            person_id=person.id,
            account_id=account_id,
            side=person.side,
            seniority=person.seniority,
            submitted_at=wave.opens_at + dt.timedelta(days=2),
            source=ResponseSource.API,
            answers=answers,
        )
    )


def silent(person, wave):
    f.InvitationFactory(wave=wave, person=person, status=InvitationStatus.EXPIRED)


def snapshot(account, taken_at, executives_covered, wave=None):
    by_level = {
        "executive": {"covered": executives_covered, "total": 1, "share": executives_covered},
        "manager": {"covered": 2, "total": 6, "share": 0.3333},
    }
    covered = executives_covered + 2
    db.session.add(
        GraphSnapshot(
            account_id=account.id,
            taken_at=taken_at,
            reason=SnapshotReason.WAVE,
            wave_id=wave.id if wave is not None else None,
            graph={"nodes": [], "links": []},
            metrics={
                "coverage": {
                    "overall": {"covered": covered, "total": 7, "share": covered / 7},
                    "by_level": by_level,
                },
                "threading": {"status": "multi-threaded", "our_people": 2, "their_people": 3},
            },
        )
    )


def build_world():
    owner = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    other = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    acme = f.AccountFactory(name="Acme", owner_id=owner.id)
    globex = f.AccountFactory(name="Globex", owner_id=other.id)
    viewer = f.UserFactory(role=Role.VIEWER)
    f.AssignmentFactory(user=viewer, account_id=acme.id)
    program = f.ProgramFactory(name="Acme listening")
    waves = [closed_wave(program, at, f"2026-{at.month:02d}") for at in OPENS]

    crowd = [f.PersonFactory(account=acme, seniority="manager") for _ in range(6)]
    ratings_by_wave = ([4, 4, 5, 4, 4, 5], [4, 4, 5, 4, 4, 5], [3, 2, 3, 2, 3, 2])
    for wave, ratings in zip(waves, ratings_by_wave, strict=True):
        for person, rating in zip(crowd, ratings, strict=True):
            respond(person, wave, rating=rating)
    executive = f.PersonFactory(account=acme, seniority="executive")
    respond(executive, waves[1], nps=9)
    respond(executive, waves[2], nps=3)
    decider = f.PersonFactory(account=acme, seniority="senior", roles=["decision_maker"])
    respond(decider, waves[0], rating=4)
    silent(decider, waves[1])
    silent(decider, waves[2])

    snapshot(acme, OPENS[1], executives_covered=1, wave=waves[1])
    snapshot(acme, OPENS[2], executives_covered=0, wave=waves[2])

    foreign = Alert(
        kind=AlertKind.COVERAGE_LOST,
        account_id=globex.id,
        severity=AlertSeverity.MEDIUM,
        message="Globex went single-threaded.",
        evidence={},
        dedupe_key=f"coverage_lost:{globex.id}:0:threading",
        opened_at=NOW,
    )
    db.session.add(foreign)
    db.session.flush()
    return SimpleNamespace(
        owner=owner,
        other=other,
        viewer=viewer,
        acme=acme,
        globex=globex,
        program=program,
        waves=waves,
        crowd=crowd,
        executive=executive,
        decider=decider,
        foreign=foreign,
    )
