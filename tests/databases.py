"""Throwaway databases for tests: a temp SQLite file, or a fresh PostgreSQL database.

The suite runs against ``RELHEALTH_TEST_DATABASE_URL`` (default: SQLite). CI runs it twice,
once on SQLite and once on a PostgreSQL database it creates for the run.
"""

import contextlib
import os
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from relhealth.config import sqlalchemy_url


def base_url() -> str:
    return os.environ.get("RELHEALTH_TEST_DATABASE_URL", "")


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres"))


@contextlib.contextmanager
def throwaway_database(tmp_dir: Path, url: str | None = None):
    """Yield the URL of a new, empty database on the backend of ``url`` (default: the suite's)."""
    url = base_url() if url is None else url
    name = f"rh_{uuid.uuid4().hex[:12]}"
    if not is_postgres(url):
        path = tmp_dir / f"{name}.db"
        yield f"sqlite:///{path}"
        return
    server = make_url(sqlalchemy_url(url, tmp_dir)).set(database="postgres")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def require_server(url: str) -> None:
    """Fail loudly when the configured PostgreSQL cannot be reached (never skip)."""
    if not is_postgres(url):
        return
    engine = sa.create_engine(sqlalchemy_url(url, Path(".")))
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:
        raise RuntimeError(f"PostgreSQL at {url} is not reachable: {error}") from error
    finally:
        engine.dispose()
