"""A real server for browser tests: `relhealth demo` into a fresh database, then gunicorn."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.databases import throwaway_database

BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start listening")


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
    env = {
        **os.environ,
        "RELHEALTH_DATABASE_URL": live_database,
        "RELHEALTH_INSTANCE_PATH": str(tmp / "instance"),
    }
    subprocess.run(
        [BIN / "relhealth", "demo", "--no-serve"], env=env, check=True, capture_output=True
    )
    port = _free_port()
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [BIN / "relhealth", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def sign_in(page, base_url: str, email: str, password: str = "relhealth-demo") -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    # The form posts and the server answers with a page (or a redirect to one): wait for it,
    # so callers never read the sign-in page they are leaving.
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
