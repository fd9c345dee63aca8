"""Migrations: one linear history that builds, checks, tears down and enforces the schema.

Runs on the suite's backend (SQLite, or PostgreSQL through RELHEALTH_TEST_DATABASE_URL).
The ``relhealth db`` commands run as the real console script, in a subprocess.
"""

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from relhealth import models  # noqa: F401 -- registers every table on the metadata
from relhealth.extensions import db
from relhealth.paths import resource_dir
from tests.databases import throwaway_database

RELHEALTH = Path(sys.executable).parent / "relhealth"
MIGRATIONS = resource_dir("migrations")
REVISION_FILE = re.compile(r"^(?P<stamp>\d{8}_\d{4})_[0-9a-f]+_\w+\.py$")
DRIFT = "New upgrade operations detected"


def relhealth_db(database_url: str, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``relhealth db ARGS`` against ``database_url``, from ``workdir``, and return it."""
    env = {
        **os.environ,
        "RELHEALTH_DATABASE_URL": database_url,
        "RELHEALTH_INSTANCE_PATH": str(workdir / "instance"),
    }
    return subprocess.run(
        [str(RELHEALTH), "db", *args],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess) -> bool:
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n")
    return result.returncode == 0


def tables(database_url: str) -> set[str]:
    engine = sa.create_engine(database_url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def query(database_url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def script() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


MODEL_TABLES = set(db.metadata.tables)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A database upgraded to head by ``relhealth db upgrade``; tests here only read it."""
    workdir = tmp_path_factory.mktemp("migrated")
    with throwaway_database(workdir) as url:
        assert succeeded(relhealth_db(url, workdir, "upgrade"))
        yield url, workdir


@pytest.fixture
def fresh(tmp_path):
    """A new, empty database on the suite's backend, for tests that change it."""
    with throwaway_database(tmp_path) as url:
        yield url


# -- the revision history ------------------------------------------------------------------


def test_there_is_exactly_one_head_and_one_base():
    revisions = script()
    assert len(revisions.get_heads()) == 1
    assert len(revisions.get_bases()) == 1


def test_revision_files_are_date_prefixed_and_sort_in_history_order():
    revisions = list(script().walk_revisions())
    assert revisions
    names = {revision.revision: Path(revision.path).name for revision in revisions}
    for name in names.values():
        match = REVISION_FILE.match(name)
        assert match, f"{name} is not named YYYYMMDD_HHMM_<rev>_<slug>.py"
        dt.datetime.strptime(match["stamp"], "%Y%m%d_%H%M")  # a real date and time
    # Listing the folder lists the history: every revision sorts after the ones it revises.
    for revision in revisions:
        parents = revision.down_revision or ()
        for parent in (parents,) if isinstance(parents, str) else parents:
            assert names[parent] < names[revision.revision]
    # And every file in versions/ is a revision the history knows about.
    assert {path.name for path in (MIGRATIONS / "versions").glob("*.py")} == set(names.values())


# -- upgrade, check, downgrade with the real command ----------------------------------------


def test_upgrade_on_an_empty_database_creates_every_model_table(migrated):
    url, _workdir = migrated
    assert tables(url) == MODEL_TABLES | {"alembic_version"}
    assert query(url, "SELECT version_num FROM alembic_version") == [(script().get_current_head(),)]


def test_models_and_migrations_agree(migrated):
    url, workdir = migrated
    result = relhealth_db(url, workdir, "check")
    assert succeeded(result)
    assert DRIFT not in result.stdout + result.stderr


def test_check_notices_a_schema_that_drifted_from_the_models(fresh, tmp_path):
    """The check above is not vacuous: a missing index is reported as drift."""
    assert succeeded(relhealth_db(fresh, tmp_path, "upgrade"))
    query(fresh, "DROP INDEX ix_relationships_target_id")
    result = relhealth_db(fresh, tmp_path, "check")
    assert result.returncode != 0
    assert DRIFT in result.stdout + result.stderr
    assert "ix_relationships_target_id" in result.stdout + result.stderr


def test_downgrade_to_base_drops_every_table_and_upgrade_rebuilds_them(fresh, tmp_path):
    assert succeeded(relhealth_db(fresh, tmp_path, "upgrade"))
    assert succeeded(relhealth_db(fresh, tmp_path, "downgrade", "base"))
    assert tables(fresh) <= {"alembic_version"}
    if "alembic_version" in tables(fresh):
        assert query(fresh, "SELECT version_num FROM alembic_version") == []
    if fresh.startswith("postgresql"):
        assert query(fresh, "SELECT sequence_name FROM information_schema.sequences") == []

    assert succeeded(relhealth_db(fresh, tmp_path, "upgrade"))
    assert tables(fresh) == MODEL_TABLES | {"alembic_version"}


def test_the_alerts_revision_downgrades_and_upgrades_on_its_own(fresh, tmp_path):
    """The alerts revision comes off and goes back; the tables before it stay."""
    [alerts] = [r for r in script().walk_revisions() if r.path.endswith("_analytics_rules.py")]
    assert succeeded(relhealth_db(fresh, tmp_path, "upgrade"))
    assert succeeded(relhealth_db(fresh, tmp_path, "downgrade", alerts.down_revision))
    assert "alerts" not in tables(fresh)
    assert {"accounts", "waves", "answers", "graph_snapshots"} <= tables(fresh)
    assert succeeded(relhealth_db(fresh, tmp_path, "upgrade"))
    assert "alerts" in tables(fresh)
    result = relhealth_db(fresh, tmp_path, "check")
    assert succeeded(result)
    assert DRIFT not in result.stdout + result.stderr


def test_the_reports_revision_downgrades_and_upgrades_on_its_own(fresh, tmp_path):
    """The reports revision comes off (with the outbox's attachments) and goes back."""
    [reports] = [
        r
        for r in script().walk_revisions()
        if r.path.endswith("_archive_subscriptions_deliveries.py")
    ]
    assert succeeded(relhealth_db(fresh, tmp_path, "upgrade"))
    assert succeeded(relhealth_db(fresh, tmp_path, "downgrade", reports.down_revision))
    assert not {"reports", "report_subscriptions", "report_deliveries"} & tables(fresh)
    assert "outbox_messages" in tables(fresh)
    assert succeeded(relhealth_db(fresh, tmp_path, "upgrade"))
    assert {"reports", "report_subscriptions", "report_deliveries"} <= tables(fresh)
    result = relhealth_db(fresh, tmp_path, "check")
    assert succeeded(result)
    assert DRIFT not in result.stdout + result.stderr


# -- constraints hold in the database itself, not only in Python ----------------------------


def insert(table: str, row: dict) -> tuple[str, dict]:
    """Plain SQL text, so no Python-side type or enum validation gets in the way."""
    columns = ", ".join(row)
    values = ", ".join(f":{column}" for column in row)
    return f"INSERT INTO {table} ({columns}) VALUES ({values})", row


def account_row(**changes) -> dict:
    return {
        "name": "Analytical Engines Ltd",
        "kind": "customer",
        "relationship_type": "regular",
        "tier": "standard",
        "annual_value": 1000,
        **changes,
    }


def person_row(rows: "Rows", **changes) -> dict:
    return {
        "account_id": rows.account,
        "side": "external",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@theirs.test",
        "seniority": "executive",
        "opted_out": False,
        **changes,
    }


def relationship_row(rows: "Rows", **changes) -> dict:
    return {
        "source_id": rows.internal,
        "target_id": rows.external,
        "kind": "covers",
        "strength": 3,
        **changes,
    }


def execute(session, statement: tuple[str, dict]):
    sql, params = statement
    return session.execute(sa.text(sql), params)


def count(session, table: str) -> int:
    return session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


class Rows:
    """Ids of a valid account, one of its people (external) and one of ours (internal)."""

    def __init__(self, session):
        def insert_returning_id(table, row):
            sql, params = insert(table, row)
            return execute(session, (sql + " RETURNING id", params)).scalar_one()

        self.account = insert_returning_id("accounts", account_row())
        self.external = insert_returning_id("people", person_row(self))
        self.internal = insert_returning_id(
            "people", person_row(self, side="internal", account_id=None, email="grace@ours.test")
        )
        self.missing = self.internal + 1000


@pytest.fixture
def rows(session):
    return Rows(session)


def test_the_valid_rows_the_rejections_start_from_are_accepted(session, rows):
    """Each rejection below changes one thing in one of these rows."""
    execute(session, insert("relationships", relationship_row(rows)))
    execute(session, insert("accounts", account_row(name="Difference Engines")))
    execute(
        session,
        insert(
            "people",
            person_row(
                rows, email="charles@theirs.test", active_from="2025-01-01", left_on="2025-06-01"
            ),
        ),
    )
    assert (count(session, "accounts"), count(session, "people")) == (2, 3)
    assert count(session, "relationships") == 1


def foreign_key(name: str) -> str:
    """PostgreSQL names the foreign key that failed; SQLite does not."""
    return f"{name}|FOREIGN KEY constraint failed"


# (statement, the constraint that must reject it: its name, as both backends report it)
REJECTED = [
    pytest.param(
        lambda r: insert("relationships", relationship_row(r, target_id=r.internal)),
        "ck_relationships_no_self_edge",
        id="relationship-to-oneself",
    ),
    pytest.param(
        lambda r: insert("relationships", relationship_row(r, strength=9)),
        "ck_relationships_strength_1_to_5",
        id="strength-9",
    ),
    pytest.param(
        lambda r: insert("relationships", relationship_row(r, strength=0)),
        "ck_relationships_strength_1_to_5",
        id="strength-0",
    ),
    pytest.param(
        lambda r: insert("relationships", relationship_row(r, kind="friend")),
        "ck_relationships_kind",
        id="unknown-relationship-kind",
    ),
    pytest.param(
        lambda r: insert("relationships", relationship_row(r, target_id=r.missing)),
        foreign_key("fk_relationships_target_id_people"),
        id="relationship-to-missing-person",
    ),
    pytest.param(
        lambda r: insert("people", person_row(r, email="x@theirs.test", account_id=None)),
        "ck_people_external_people_have_an_account",
        id="external-person-without-account",
    ),
    pytest.param(
        lambda r: insert("people", person_row(r, email="x@ours.test", side="internal")),
        "ck_people_external_people_have_an_account",
        id="internal-person-on-an-account",
    ),
    pytest.param(
        lambda r: insert("people", person_row(r, email="x@theirs.test", account_id=r.missing)),
        foreign_key("fk_people_account_id_accounts"),
        id="person-on-missing-account",
    ),
    pytest.param(
        lambda r: insert("people", person_row(r)),
        "uq_people_email|people.email",
        id="duplicate-person-email",
    ),
    pytest.param(
        lambda r: insert(
            "people",
            person_row(r, email="x@theirs.test", active_from="2025-06-01", left_on="2025-01-01"),
        ),
        "ck_people_left_after_joining",
        id="left-before-joining",
    ),
    pytest.param(
        lambda r: insert("accounts", account_row(name="Other", annual_value=-1)),
        "ck_accounts_annual_value_not_negative",
        id="negative-annual-value",
    ),
    pytest.param(
        lambda r: insert("accounts", account_row(name="Other", tier="gold")),
        "ck_accounts_tier",
        id="unknown-tier",
    ),
    pytest.param(
        lambda r: ("DELETE FROM accounts WHERE id = :id", {"id": r.account}),
        foreign_key("fk_people_account_id_accounts"),
        id="deleting-an-account-that-has-people",
    ),
    pytest.param(
        lambda r: insert("reports", report_row(status="done")),
        "ck_reports_done_is_archived",
        id="report-done-without-its-pdf",
    ),
    pytest.param(
        lambda r: insert("reports", report_row(kind="account")),
        "ck_reports_account_given",
        id="account-report-without-an-account",
    ),
    pytest.param(
        lambda r: insert("reports", report_row(status="lost")),
        "ck_reports_status",
        id="unknown-report-status",
    ),
]


def report_row(**changes) -> dict:
    return {
        "kind": "portfolio",
        "parameters": "{}",
        "status": "queued",
        "created_at": "2026-11-27 00:00:00+00:00",
        **changes,
    }


@pytest.mark.parametrize(("statement", "constraint"), REJECTED)
def test_the_database_rejects(session, rows, statement, constraint):
    with pytest.raises(IntegrityError, match=constraint), session.begin_nested():
        execute(session, statement(rows))
    # Only the savepoint was rolled back: the test's transaction and its rows are intact.
    assert (count(session, "accounts"), count(session, "people")) == (1, 2)


def test_deletes_cascade_or_unlink_as_the_foreign_keys_declare(session, rows):
    """ON DELETE CASCADE / SET NULL, including the owner key the migration adds to accounts last."""
    user_row = {"email": "u@ours.test", "name": "U", "role": "admin", "is_enabled": True}
    sql, params = insert("users", {**user_row, "person_id": rows.internal})
    user = execute(session, (sql + " RETURNING id", params)).scalar_one()
    execute(session, ("UPDATE accounts SET owner_id = :user", {"user": user}))
    execute(session, insert("account_assignments", {"user_id": user, "account_id": rows.account}))
    token = {"name": "cli", "token_hash": "0" * 64, "prefix": "rh_0000"}
    created_at = "2025-01-01 00:00:00+00:00"
    execute(session, insert("api_tokens", {**token, "user_id": user, "created_at": created_at}))
    execute(session, insert("person_roles", {"person_id": rows.external, "role": "champion"}))

    execute(session, ("DELETE FROM people WHERE id = :id", {"id": rows.internal}))
    assert session.execute(sa.text("SELECT person_id FROM users")).scalar_one() is None
    execute(session, ("DELETE FROM users WHERE id = :id", {"id": user}))
    assert session.execute(sa.text("SELECT owner_id FROM accounts")).scalar_one() is None
    assert (count(session, "account_assignments"), count(session, "api_tokens")) == (0, 0)
    execute(session, ("DELETE FROM people WHERE id = :id", {"id": rows.external}))
    assert count(session, "person_roles") == 0
