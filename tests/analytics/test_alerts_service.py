"""Evaluating the alert rules against the database: what opens, idempotence, the tick, the CLI."""

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from relhealth.analytics.alerts_service import evaluate_alerts
from relhealth.analytics.models import Alert, AlertStatus
from relhealth.cohorts.models import Confidentiality, WaveStatus
from relhealth.cohorts.tick import tick
from relhealth.extensions import db
from tests import factories as f
from tests.analytics.alerts_world import NOW, build_world, closed_wave, respond


@pytest.fixture
def world(session):
    return build_world()


def keys(world) -> set[str]:
    return set(
        db.session.scalars(select(Alert.dedupe_key).where(Alert.account_id == world.acme.id))
    )


def test_evaluation_opens_one_alert_per_cause_in_the_waves_it_looks_at(world):
    report = evaluate_alerts(db.session, NOW)
    acme, w3 = world.acme.id, world.waves[2].id
    snapshot = max(
        db.session.scalars(
            sa.text("SELECT id FROM graph_snapshots WHERE account_id = :a"), {"a": acme}
        )
    )
    assert keys(world) == {
        f"significant_decline:{acme}:{w3}:overall",
        f"significant_decline:{acme}:{w3}:side=external",
        f"significant_decline:{acme}:{w3}:dimension=quality",
        f"executive_detractor:{acme}:{w3}:{world.executive.id}",
        f"key_person_silent:{acme}:{w3}:{world.decider.id}",
        f"coverage_lost:{acme}:{snapshot}:level=executive",
    }
    assert report.opened == 6
    alert = db.session.scalar(select(Alert).where(Alert.person_id == world.executive.id))
    assert alert.status == AlertStatus.OPEN
    assert alert.opened_at == NOW
    assert alert.wave_id == w3
    assert alert.evidence["previous_category"] == "promoter"
    assert "answered 3 out of 10" in alert.message


def test_evaluating_again_opens_nothing_new_and_keeps_what_people_did(world):
    evaluate_alerts(db.session, NOW)
    first = keys(world)
    alert = db.session.scalar(select(Alert).where(Alert.person_id == world.decider.id))
    alert.status, alert.acknowledged_at = AlertStatus.ACKNOWLEDGED, NOW
    db.session.flush()

    again = evaluate_alerts(db.session, NOW)
    assert again.opened == 0
    assert again.candidates == 6
    assert keys(world) == first
    assert db.session.scalar(select(sa.func.count()).select_from(Alert)) == len(first) + 1
    db.session.refresh(alert)
    assert alert.status == AlertStatus.ACKNOWLEDGED


def test_evaluation_can_be_limited_to_some_accounts(world):
    assert evaluate_alerts(db.session, NOW, [world.globex.id]).opened == 0
    assert keys(world) == set()
    assert evaluate_alerts(db.session, NOW, [world.acme.id]).opened == 6


def test_waves_closed_before_the_look_back_window_are_left_alone(world):
    # The executive's first answer (NPS 3 in wave 1) would be a new detractor in wave 1.
    respond(f.PersonFactory(account=world.acme, seniority="executive"), world.waves[0], nps=3)
    evaluate_alerts(db.session, NOW)
    waves = set(db.session.scalars(select(Alert.wave_id).where(Alert.account_id == world.acme.id)))
    assert waves == {world.waves[2].id}


def test_a_confidential_program_opens_alerts_that_name_nobody(session):
    account = f.AccountFactory()
    program = f.ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL, min_group_size=3)
    w1 = closed_wave(program, NOW.replace(month=3), "c-1")
    w2 = closed_wave(program, NOW.replace(month=6), "c-2")
    executives = [f.PersonFactory(account=account, seniority="executive") for _ in range(4)]
    for person, before, after in zip(executives, (9, 9, 10, 8), (3, 4, 6, 9), strict=True):
        respond(person, w1, nps=before)
        respond(person, w2, nps=after)
    evaluate_alerts(db.session, NOW, [account.id])
    alerts = db.session.scalars(select(Alert).where(Alert.account_id == account.id)).all()
    detractors = [a for a in alerts if a.kind == "executive_detractor"]
    assert [(a.person_id, a.confidential) for a in detractors] == [(None, True)]
    assert detractors[0].evidence["new_detractors"] == 3
    assert all(a.person_id is None and a.confidential for a in alerts)
    for alert in alerts:
        for person in executives:
            assert person.last_name not in alert.message


def test_the_database_refuses_a_confidential_alert_naming_someone(world):
    alert = Alert(
        kind="executive_detractor",
        account_id=world.acme.id,
        person_id=world.executive.id,
        severity="high",
        confidential=True,
        message="x",
        evidence={},
        dedupe_key="x",
        opened_at=NOW,
    )
    db.session.add(alert)
    with (
        pytest.raises(IntegrityError, match="ck_alerts_confidential_names_nobody"),
        db.session.begin_nested(),
    ):
        db.session.flush()


def test_the_tick_evaluates_alerts_for_the_waves_it_closes(world):
    world.waves[2].status = WaveStatus.OPEN
    db.session.flush()
    report = tick(db.session, NOW)
    assert report.closed == 1
    assert report.alerts == 6
    assert "Alerts opened: 6" in report.lines()
    assert tick(db.session, NOW).alerts == 0


def test_the_cli_evaluates_and_says_what_it_did(app, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["alerts", "evaluate", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert "6 newly opened" in result.output
    result = runner.invoke(
        args=["alerts", "evaluate", "--now", NOW.isoformat(), "--account", str(world.acme.id)]
    )
    assert result.exit_code == 0, result.output
    assert "1 accounts evaluated, 6 found, 0 newly opened" in result.output
