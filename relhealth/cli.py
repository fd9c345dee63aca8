"""The ``relhealth`` command. Every command is also ``flask --app relhealth ...``."""

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from relhealth.auth.models import Role
from relhealth.auth.service import create_user, issue_token, user_by_email
from relhealth.core.errors import DomainError
from relhealth.extensions import db


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


@click.command("serve")
@click.option("--bind", help="host:port (default RELHEALTH_BIND, 127.0.0.1:5000).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@with_appcontext
def serve(bind: str | None, workers: int) -> None:
    """Serve the web UI and API with gunicorn."""
    from gunicorn.app.base import BaseApplication

    app = current_app._get_current_object()
    options = {"bind": bind or app.config["BIND"], "workers": workers, "accesslog": "-"}

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    click.echo(f"relhealth on http://{options['bind']}/ (Ctrl-C to stop)")
    Server().run()


def register(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(serve)
