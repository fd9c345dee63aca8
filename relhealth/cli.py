"""The ``relhealth`` command. Every command is also ``flask --app relhealth ...``."""

import contextvars
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from sqlalchemy.exc import IntegrityError

from relhealth.accounts import importer
from relhealth.analytics.alerts_cli import alerts_cli
from relhealth.auth.models import Role
from relhealth.auth.service import create_user, issue_token, user_by_email
from relhealth.cohorts.cli import review_command, tick_command, worker_command
from relhealth.core.errors import DomainError
from relhealth.core.time import today_utc
from relhealth.extensions import db
from relhealth.messaging.cli import send_mail
from relhealth.reports.cli import report_cli, write_demo_reports
from relhealth.surveys import importer as responses_importer
from relhealth.surveys.service import rescore_text_answers


def main() -> None:
    from relhealth import create_app

    cli = FlaskGroup(
        create_app=create_app,
        help="relhealth: relationship health for B2B accounts and partners.",
    )
    cli.main(prog_name="relhealth")


def fail(error: DomainError) -> None:
    messages = [error.message] + [f"{k}: {' '.join(v)}" for k, v in error.fields.items()]
    raise click.ClickException("\n".join(dict.fromkeys(messages)))


@click.group("users", help="Create users and API tokens.")
def users_cli() -> None:
    pass


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def users_create(email: str, name: str, role: str, password: str) -> None:
    """Create a user who can sign in to the web UI."""
    try:
        user = create_user(db.session, email=email, name=name, role=role, password=password)
    except DomainError as error:
        fail(error)
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@users_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@with_appcontext
def users_token(email: str, name: str) -> None:
    """Issue an API token for a user. It is printed once and stored only as a hash."""
    try:
        user = user_by_email(db.session, email)
    except DomainError as error:
        fail(error)
    _token, plain = issue_token(db.session, user, name)
    db.session.commit()
    click.echo(plain)
    click.echo("Keep it now: it is not shown again.", err=True)


def _run_gunicorn(app: Flask, bind: str, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    options = {"bind": bind, "workers": workers, "accesslog": "-"}

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    with app.app_context():
        db.engine.dispose()  # workers fork from here: none may inherit a pooled connection
    click.echo(f"relhealth on http://{bind}/ (Ctrl-C to stop)")
    # `flask` commands run inside an app context. A request handled while one is active joins
    # it and shares its `g` (and so the signed-in user) with every other request, so the
    # server runs in a fresh, empty context.
    contextvars.Context().run(Server().run)


def _cli_app() -> Flask:
    return click.get_current_context().ensure_object(ScriptInfo).load_app()


SERVE_OPTIONS = (
    click.option("--bind", help="host:port (default RELHEALTH_BIND, 127.0.0.1:5000)."),
    click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64)),
)


def serve_options(command):
    for option in reversed(SERVE_OPTIONS):
        command = option(command)
    return command


@click.command("serve")
@serve_options
def serve_command(bind: str | None, workers: int) -> None:
    """Serve the web UI and API with gunicorn."""
    app = _cli_app()
    _run_gunicorn(app, bind or app.config["BIND"], workers)


@click.command("demo")
@click.option("--seed", default=7, show_default=True, help="Same seed, same portfolio.")
@click.option(
    "--accounts",
    default=16,
    show_default=True,
    type=click.IntRange(2, 100_000),
    help="How many accounts (about one in four a partner).",
)
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) if data exists.")
@click.option("--serve/--no-serve", default=False, help="Serve the app when seeded.")
@serve_options
def demo(
    seed: int, accounts: int, if_empty: bool, serve: bool, bind: str | None, workers: int
) -> None:
    """Migrate the database, seed a realistic demo portfolio into it, and serve it."""
    app = _cli_app()
    with app.app_context():
        _seed_demo(seed, accounts, if_empty)
    if serve:
        _run_gunicorn(app, bind or app.config["BIND"], workers)


def _seed_demo(seed: int, accounts: int, if_empty: bool) -> None:
    from flask_migrate import upgrade

    from relhealth.demo import (
        DEMO_PASSWORD,
        generate_portfolio,
        is_empty,
        seed_database,
        seed_survey_history,
    )
    from relhealth.demo_followup import seed_followup

    today = today_utc()

    upgrade()
    if not is_empty(db.session):
        if not if_empty:
            raise click.ClickException(
                "The database already holds data; the demo seeds only an empty one. "
                "Point RELHEALTH_DATABASE_URL at a new database, or pass --if-empty."
            )
        click.echo("The database already holds data; leaving it as it is.")
    else:
        with click.progressbar(length=3, label="Seeding the demo portfolio") as bar:
            portfolio = generate_portfolio(seed=seed, accounts=accounts, today=today)
            bar.update(1)
            counts = seed_database(db.session, portfolio)
            db.session.commit()
            bar.update(1)
            counts.update(seed_survey_history(db.session, today, seed=seed))
            counts.update(seed_followup(db.session, today, seed=seed))
            bar.update(1)
        click.echo(", ".join(f"{n:,} {what}" for what, n in counts.items()))
        click.echo(
            f"Sign in as admin@relhealth.demo (or manager@, exec@, partners@, viewer@)"
            f" with the password {DEMO_PASSWORD}"
        )
        for path in write_demo_reports(db.session, Path("reports")):
            click.echo(f"Wrote the example report {path}")


@click.group("import", help="Import accounts, people, relationships or responses from a CSV file.")
def import_cli() -> None:
    pass


DRY_RUN_LISTED = 50  # changes a dry run prints one by one before it summarises


IMPORT_STAGES = {"checking": "Checking lines", "writing": "Writing rows"}


class _ImportProgress:
    """A click progress bar per importer stage (checking, writing), on stderr, for big files."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total < importer.PROGRESS_EVERY:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = click.progressbar(
                length=total,
                label=IMPORT_STAGES.get(stage, stage),
                file=sys.stderr,
            )
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _run_import(kind: str, file, dry_run: bool, run=None) -> None:
    """Import one file; commit unless it is a dry run; on any bad line, exit 1 and say why.

    ``run(session, file, dry_run=..., progress=...)`` imports; default: ``importer.import_csv``.
    """
    progress = _ImportProgress()
    try:
        if run is None:
            result = importer.import_csv(db.session, kind, file, dry_run=dry_run, progress=progress)
        else:
            result = run(db.session, file, dry_run=dry_run, progress=progress)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except importer.ImportRejected as error:
        db.session.rollback()
        raise click.ClickException("\n".join([error.message, *error.problems])) from None
    except IntegrityError:
        # Another writer took an e-mail, name or crm_id meanwhile: nothing of this file is kept.
        db.session.rollback()
        raise click.ClickException(
            "The import clashed with data written meanwhile; nothing was imported. Try again."
        ) from None
    finally:
        progress.close()
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if dry_run:
        for change in result.changes[:DRY_RUN_LISTED]:
            click.echo(str(change))
        if len(result.changes) > DRY_RUN_LISTED:
            click.echo(f"... and {len(result.changes) - DRY_RUN_LISTED:,} more changes.")
        click.echo(
            f"Dry run, nothing written: {kind} would be {result.created:,} created,"
            f" {result.updated:,} updated, {result.unchanged:,} unchanged."
        )
    else:
        click.echo(
            f"Imported {kind}: {result.created:,} created, {result.updated:,} updated,"
            f" {result.unchanged:,} unchanged."
        )


FILE_ARGUMENT = click.argument("file", type=click.File("rb"))
DRY_RUN_OPTION = click.option(
    "--dry-run", is_flag=True, help="Check the file and print what would change; write nothing."
)


@import_cli.command("accounts")
@FILE_ARGUMENT
@DRY_RUN_OPTION
@with_appcontext
def import_accounts(file, dry_run: bool) -> None:
    """Create or update accounts from FILE (CSV; see the README)."""
    _run_import("accounts", file, dry_run)


@import_cli.command("people")
@FILE_ARGUMENT
@DRY_RUN_OPTION
@with_appcontext
def import_people(file, dry_run: bool) -> None:
    """Create or update people, theirs and ours, from FILE (CSV; see the README)."""
    _run_import("people", file, dry_run)


@import_cli.command("relationships")
@FILE_ARGUMENT
@DRY_RUN_OPTION
@with_appcontext
def import_relationships(file, dry_run: bool) -> None:
    """Create or update relationships between people from FILE (CSV; see the README)."""
    _run_import("relationships", file, dry_run)


@import_cli.command("responses")
@FILE_ARGUMENT
@DRY_RUN_OPTION
@with_appcontext
def import_responses(file, dry_run: bool) -> None:
    """Import historical survey responses from FILE (CSV; see the README)."""
    _run_import("responses", file, dry_run, responses_importer.import_responses)


@click.group("analytics", help="Maintain what the analytics read.")
def analytics_cli() -> None:
    pass


@analytics_cli.command("rescore-text")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@with_appcontext
def rescore_text(batch_size: int) -> None:
    """Score the sentiment of text answers stored before submissions scored it."""
    total = 0
    for scored in rescore_text_answers(db.session, batch_size):
        db.session.commit()  # batch by batch: an interrupted run keeps what it scored
        total += scored
        click.echo(f"... {total:,} scored", err=True)
    click.echo(f"Scored {total:,} text answers.")


def register(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(serve_command)
    app.cli.add_command(demo)
    app.cli.add_command(import_cli)
    app.cli.add_command(analytics_cli)
    app.cli.add_command(send_mail)
    app.cli.add_command(tick_command)
    app.cli.add_command(review_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(report_cli)
