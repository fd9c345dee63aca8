"""A report asked for through the API is rendered by a real `relhealth worker` on local Redis."""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from relhealth.auth.models import Role
from relhealth.auth.service import issue_token
from tests import factories as f
from tests.cohorts.conftest import committed  # noqa: F401 -- a database whose commits are real
from tests.conftest import make_app

BIN = Path(sys.executable).parent
BROKER = "redis://127.0.0.1:6379/13"  # the tick's worker test uses 15


def _wait_for(check, process, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the worker exited with {process.returncode}")
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError("timed out waiting for the worker")


@pytest.mark.slow
def test_a_real_worker_renders_a_report_job_that_the_api_then_serves(
    committed,  # noqa: F811 -- the fixture imported above
    tmp_path,
    monkeypatch,
):
    try:
        redis.Redis.from_url(BROKER).ping()
    except redis.ConnectionError as error:
        raise RuntimeError(f"Redis at {BROKER} is not reachable") from error
    redis.Redis.from_url(BROKER).flushdb()  # no task left over from an earlier run
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    account = f.AccountFactory(owner_id=manager.id)
    _row, token = issue_token(committed.session, manager, "worker test")
    committed.session.commit()
    account_id = account.id
    committed.session.close()

    instance = tmp_path / "instance"
    monkeypatch.setenv("RELHEALTH_INSTANCE_PATH", str(instance))
    env = {
        **os.environ,
        "RELHEALTH_DATABASE_URL": committed.url,
        "RELHEALTH_BROKER_URL": BROKER,
    }
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [BIN / "relhealth", "worker", "--no-beat", "--concurrency", "1", "--loglevel", "info"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        client = make_app(committed.url, BROKER_URL=BROKER).test_client()
        headers = {"Authorization": f"Bearer {token}"}
        asked = client.post(
            "/api/v1/reports", json={"kind": "account", "account_id": account_id}, headers=headers
        )
        assert asked.status_code == 202
        assert asked.json["status"] == "queued"
        url = f"/api/v1/reports/{asked.json['id']}"

        def finished():
            job = client.get(url, headers=headers).json
            return job if job["status"] in ("done", "failed") else None

        job = _wait_for(finished, worker)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert job["status"] == "done", job
    pdf = client.get(url + "/pdf", headers=headers).data
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == job["sha256"]
    assert (instance / "reports" / f"{job['sha256']}.pdf").is_file()
    assert "relhealth.reports.render" in (tmp_path / "worker.log").read_text()
