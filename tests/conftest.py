"""Fixtures: one migrated database per run, one rolled-back transaction per test."""

import os

import pytest
from flask import g
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession

from relhealth import create_app
from relhealth.extensions import db
from tests import factories, live
from tests.databases import base_url, is_postgres, require_server, throwaway_database


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("instance")
    os.environ["RELHEALTH_INSTANCE_PATH"] = str(path)
    return path


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, instance_dir):
    """RELHEALTH_TEST_DATABASE_URL (a database CI made for this run), else a temp SQLite file."""
    if is_postgres(base_url()):
        require_server(base_url())
        yield base_url()
        return
    with throwaway_database(tmp_path_factory.mktemp("db")) as url:
        yield url


def make_app(database_url, **config):
    return create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            **config,
        }
    )


@pytest.fixture(scope="session")
def app(database_url):
    app = make_app(database_url)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


class _BoundSession(FlaskSession):
    """Use the test's connection even where Flask-SQLAlchemy would pick its engine."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture(autouse=True)
def session(app):
    """Each test runs in a transaction that is rolled back; commits become savepoints."""
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "class_": _BoundSession,
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
            }
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client):
    """Call the API as a user: ``api.as_(user).get("/api/v1/accounts")``."""
    return factories.ApiCaller(client)


@pytest.fixture
def signed_in(app):
    """``signed_in(user)``: a test client of its own, signed in as ``user``."""

    def sign_in(user):
        # Requests share the test's app context, and Flask-Login keeps its user in ``g``.
        g.pop("_login_user", None)
        client = app.test_client()
        client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
        return client

    return sign_in


@pytest.fixture(scope="session")
def browser():
    """One chromium for the run: Playwright's sync API allows one of it at a time."""
    with live.chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    with live.new_page(browser) as page:
        yield page
