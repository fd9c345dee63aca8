"""A real server for browser tests: `relhealth demo` into a fresh database, then gunicorn."""

import subprocess

import pytest

from tests.databases import throwaway_database
from tests.live import BIN, live_env, served


@pytest.fixture(scope="session")
def live_database(tmp_path_factory):
    """The URL of the database the live server serves (tests may add rows to it, committed)."""
    tmp = tmp_path_factory.mktemp("live")
    with throwaway_database(tmp) as url:
        yield url


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, live_database):
    """Base URL of a served demo portfolio (seeded with the default seed)."""
    tmp = tmp_path_factory.mktemp("live-server")
    env = live_env(live_database, tmp)
    subprocess.run(
        [BIN / "relhealth", "demo", "--no-serve"], env=env, check=True, capture_output=True
    )
    with served(env, tmp) as base_url:
        yield base_url
