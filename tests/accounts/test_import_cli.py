"""``relhealth import accounts|people|relationships FILE [--dry-run]``."""

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import Account, Person
from tests import factories as f

ACCOUNTS = "crm_id,name,kind\nACC-1,Acme,customer\nACC-2,Globex,partner\n"


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def write(tmp_path):
    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def account_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Account))


def test_import_writes_the_file_and_says_what_it_did(runner, write, session):
    result = runner.invoke(args=["import", "accounts", write("accounts.csv", ACCOUNTS)])
    assert result.exit_code == 0, result.output
    assert "Imported accounts: 2 created, 0 updated, 0 unchanged." in result.stdout
    assert account_count(session) == 2
    again = runner.invoke(args=["import", "accounts", write("accounts.csv", ACCOUNTS)])
    assert "Imported accounts: 0 created, 0 updated, 2 unchanged." in again.stdout


def test_a_dry_run_prints_what_would_change_and_writes_nothing(runner, write, session):
    result = runner.invoke(
        args=["import", "accounts", "--dry-run", write("accounts.csv", ACCOUNTS)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Line 2: create account 'ACC-1'",
        "Line 3: create account 'ACC-2'",
        "Dry run, nothing written: accounts would be 2 created, 0 updated, 0 unchanged.",
    ]
    assert account_count(session) == 0


def test_a_bad_file_exits_non_zero_with_every_bad_line(runner, write, session):
    f.AccountFactory(name="Acme", crm_id="ACC-1")
    text = (
        "account_crm_id,first_name,last_name,email\n"
        "ACC-1,Ada,Lovelace,ada@acme.example\n"
        "ACC-9,Alan,Turing,alan@acme.example\n"
        "ACC-1,Grace,Hopper,grace@\n"
    )
    result = runner.invoke(args=["import", "people", write("people.csv", text)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: Nothing was imported: the file has 2 problems.",
        "Line 3: account_crm_id: no account has the crm_id 'ACC-9'.",
        "Line 4: email: 'grace@' is not an e-mail address.",
    ]
    assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_warnings_go_to_stderr(runner, write):
    text = "crm_id,name,kind,Industry\nACC-1,Acme,customer,Retail\n"
    result = runner.invoke(args=["import", "accounts", write("accounts.csv", text)])
    assert result.exit_code == 0
    assert "Warning: Ignored columns the accounts import does not use: Industry." in result.stderr


def test_a_large_file_shows_progress(runner, write, session):
    f.AccountFactory(crm_id="ACC-1")
    lines = ["crm_id,account_crm_id,first_name,last_name,email,seniority"]
    lines += [f"C-{n},ACC-1,Ada,Lovelace,ada{n}@acme.example,staff" for n in range(1500)]
    result = runner.invoke(args=["import", "people", write("people.csv", "\n".join(lines))])
    assert result.exit_code == 0, result.output
    assert "Checking lines" in result.stderr
    assert "Writing rows" in result.stderr
    assert "1,500 created" in result.stdout


def test_relationships_and_an_empty_file(runner, write):
    result = runner.invoke(args=["import", "relationships", write("empty.csv", "")])
    assert result.exit_code == 1
    assert "The file is empty" in result.stderr


def test_a_missing_file_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(args=["import", "people", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
