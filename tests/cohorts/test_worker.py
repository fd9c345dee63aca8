"""The tick as a Celery task, run by a real `relhealth worker` on the local Redis."""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from relhealth.celery_app import TICK_TASK, beat_schedule, celery_for
from relhealth.cohorts.models import Wave, WaveStatus
from relhealth.db import utcnow
from tests import factories as f
from tests.conftest import make_app

BIN = Path(sys.executable).parent
BROKER = "redis://127.0.0.1:6379/15"


def test_without_a_broker_there_is_no_beat_schedule(app):
    assert beat_schedule(app) == {}


def test_with_a_broker_beat_queues_the_tick_every_tick_minutes(database_url):
    app = make_app(database_url, BROKER_URL=BROKER, TICK_MINUTES=2.5)
    entry = beat_schedule(app)["tick"]
    assert entry["task"] == TICK_TASK
    assert entry["schedule"] == dt.timedelta(minutes=2.5)


def test_the_worker_command_needs_a_broker(app):
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 1
    assert "RELHEALTH_BROKER_URL" in result.output


def _wait_for(check, process, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the worker exited with {process.returncode}")
        if check():
            return
        time.sleep(0.5)
    raise AssertionError("timed out waiting for the worker")


@pytest.mark.slow
def test_a_real_worker_runs_the_tick_from_beat_and_on_request(committed, tmp_path):
    try:
        redis.Redis.from_url(BROKER).ping()
    except redis.ConnectionError as error:
        raise RuntimeError(f"Redis at {BROKER} is not reachable") from error
    started = utcnow() - dt.timedelta(minutes=1)
    person = f.PersonFactory()
    program = f.ProgramFactory(
        cohort=f.CohortFactory(rule={"account_ids": [person.account_id]}), starts_at=started
    )
    committed.session.commit()
    program_id = program.id
    committed.session.close()

    def wave() -> Wave | None:
        with committed.sessions() as s:
            return s.scalars(select(Wave).where(Wave.program_id == program_id)).one_or_none()

    env = {
        **os.environ,
        "RELHEALTH_DATABASE_URL": committed.url,
        "RELHEALTH_INSTANCE_PATH": str(tmp_path / "instance"),
        "RELHEALTH_BROKER_URL": BROKER,
        "RELHEALTH_TICK_MINUTES": "0.02",  # beat queues a tick every 1.2 seconds
    }
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [BIN / "relhealth", "worker", "--concurrency", "1", "--loglevel", "info"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Beat queues the tick by itself: the program's first wave, due a minute ago, opens.
        _wait_for(lambda: wave() is not None, worker)
        assert wave().status == WaveStatus.OPEN

        # A tick sent by hand, for a moment after the wave's window: it closes the wave.
        sender = make_app(committed.url, BROKER_URL=BROKER)
        later = wave().closes_at + dt.timedelta(minutes=1)
        celery_for(sender).send_task(TICK_TASK, kwargs={"now": later.isoformat()})
        _wait_for(lambda: wave().status == WaveStatus.CLOSED, worker)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert "Waves opened: 1" in (tmp_path / "worker.log").read_text()
