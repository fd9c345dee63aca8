"""Plumbing of the browser tests: a served database, Debian's chromium, signing in, screenshots.

A module seeds a throwaway database its own way, then serves it::

    with throwaway_database(tmp) as url:
        migrate(url, seed)
        with served(live_env(url, tmp), tmp) as base_url:
            yield base_url

Set RELHEALTH_SHOTS=/tmp/shots to keep the screenshots the tests take.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask_migrate import upgrade

from relhealth.extensions import db

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
DEMO_PASSWORD = "relhealth-demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
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


def live_env(url: str, tmp: Path) -> dict[str, str]:
    """The environment of a `relhealth` command over the database at ``url``."""
    return {
        **os.environ,
        "RELHEALTH_DATABASE_URL": url,
        "RELHEALTH_INSTANCE_PATH": str(tmp / "instance"),
    }


def migrate(url: str, seed: Callable[[], None] | None = None) -> None:
    """Migrate the database at ``url``, run ``seed()`` in an app over it, let go of it."""
    from tests.conftest import make_app

    app = make_app(url)
    with app.app_context():
        upgrade()
        if seed is not None:
            seed()
        db.session.remove()
        db.engine.dispose()


@contextlib.contextmanager
def served(env: dict[str, str], tmp: Path, *, workers: int = 2) -> Iterator[str]:
    """`relhealth serve` (gunicorn) on a free port, logging to ``tmp``: its base URL."""
    port = free_port()
    with (tmp / "server.log").open("w") as log:
        server = subprocess.Popen(
            [BIN / "relhealth", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(port, server)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=20)


@contextlib.contextmanager
def chromium():
    """Debian's chromium, driven through Playwright (the test is skipped without Playwright)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser, **context_options):
    """A page in a context of its own (desktop size unless told), closed afterwards."""
    context = browser.new_context(**{"viewport": DESKTOP, **context_options})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()


def shot(page, name: str) -> None:
    """Keep a full-page screenshot as $RELHEALTH_SHOTS/<name>.png when that is set."""
    shots = os.environ.get("RELHEALTH_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)


def sign_in(page, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    # The form posts and the server answers with a page (or a redirect to one): wait for it,
    # so callers never read the sign-in page they are leaving.
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
