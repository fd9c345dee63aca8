"""The `relhealth` command: users, tokens and the demo."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from relhealth.auth.models import Role
from relhealth.auth.service import user_by_email

RELHEALTH = Path(sys.executable).parent / "relhealth"


def test_users_create_makes_a_user_who_can_sign_in(app, session, client):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--email", "Ops@Example.com", "--name", "Ops", "--role", "viewer"],
        input="long enough password\nlong enough password\n",
    )
    assert result.exit_code == 0, result.output
    user = user_by_email(session, "ops@example.com")
    assert user.role == Role.VIEWER
    assert "long enough password" not in user.password_hash
    response = client.post(
        "/login", data={"email": "ops@example.com", "password": "long enough password"}
    )
    assert response.status_code == 302


def test_users_create_refuses_a_short_password_and_a_taken_email(app):
    runner = app.test_cli_runner()
    args = ["users", "create", "--email", "a@example.com", "--name", "A", "--role", "admin"]
    short = runner.invoke(args=args, input="short\nshort\n")
    assert short.exit_code != 0
    assert "at least 10 characters" in short.output
    assert runner.invoke(args=args, input="long enough password\n" * 2).exit_code == 0
    taken = runner.invoke(args=args, input="long enough password\n" * 2)
    assert taken.exit_code != 0
    assert "already exists" in taken.output


def test_users_token_prints_a_working_token_once(app, client):
    runner = app.test_cli_runner()
    runner.invoke(
        args=["users", "create", "--email", "t@example.com", "--name", "T", "--role", "admin"],
        input="long enough password\n" * 2,
    )
    result = runner.invoke(args=["users", "token", "t@example.com", "--name", "ci"])
    assert result.exit_code == 0
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("rh_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["email"] == "t@example.com"
    unknown = runner.invoke(args=["users", "token", "nobody@example.com"])
    assert unknown.exit_code != 0
    assert "No user" in unknown.output


@pytest.mark.slow
def test_demo_seeds_an_empty_database_once(tmp_path):
    from tests.databases import throwaway_database

    with throwaway_database(tmp_path) as url:
        env = {
            **os.environ,
            "RELHEALTH_DATABASE_URL": url,
            "RELHEALTH_INSTANCE_PATH": str(tmp_path / "instance"),
        }

        def demo(*args):
            return subprocess.run(
                [RELHEALTH, "demo", *args], env=env, capture_output=True, text=True, check=False
            )

        first = demo("--accounts", "4", "--seed", "1")
        assert first.returncode == 0, first.stderr
        assert "4 accounts" in first.stdout
        assert "relhealth-demo" in first.stdout
        again = demo()
        assert again.returncode != 0
        assert "already holds data" in again.stderr
        tolerant = demo("--if-empty")
        assert tolerant.returncode == 0
        assert "leaving it as it is" in tolerant.stdout
