"""``relhealth tick`` (open, remind, close; for cron), ``relhealth worker`` (Celery) and
``relhealth review`` (does the listening fit each relationship?)."""

import contextvars
import datetime as dt

import click
from flask.cli import ScriptInfo, with_appcontext
from sqlalchemy import select

from relhealth.accounts.models import Account
from relhealth.accounts.seniority import ladder
from relhealth.accounts.service import active_clause
from relhealth.cohorts.review import load_review
from relhealth.cohorts.tick import tick
from relhealth.core.time import today_utc
from relhealth.extensions import db
from relhealth.messaging.cli import ISODateTime


@click.command("tick")
@click.option("--now", type=ISODateTime(), help="Act as if it were this time (default: now).")
@with_appcontext
def tick_command(now: dt.datetime | None) -> None:
    """Open due survey waves, send reminders, close waves that are over.

    Safe to run as often as you like and from several places at once: nothing is sent twice.
    """
    report = tick(db.session, now)
    for line in report.lines():
        click.echo(line)


@click.command("worker")
@click.option(
    "--beat/--no-beat",
    default=True,
    show_default=True,
    help="Also run Celery beat, which queues the tick every RELHEALTH_TICK_MINUTES.",
)
@click.option("--concurrency", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--loglevel", default="info", show_default=True)
def worker_command(beat: bool, concurrency: int, loglevel: str) -> None:
    """Run a Celery worker on RELHEALTH_BROKER_URL for background jobs (the tick, e-mail).

    Several workers may run; a second beat only queues extra ticks, which are harmless.
    """
    from relhealth.celery_app import celery_for

    app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    if not app.config["BROKER_URL"]:
        raise click.ClickException(
            "Set RELHEALTH_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a worker; "
            "without a broker, run `relhealth tick` from cron."
        )
    celery = celery_for(app)
    with app.app_context():
        db.engine.dispose()  # pool processes fork from here: none may inherit a connection
    argv = ["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}"]
    if beat:
        argv.append("--beat")
    # Like `relhealth serve`: tasks push their own app context, so start from an empty one.
    contextvars.Context().run(celery.worker_main, argv)


@click.command("review")
@click.option("--account", "account_ids", type=int, multiple=True, help="Only these accounts.")
@with_appcontext
def review_command(account_ids: tuple[int, ...]) -> None:
    """Review the listening program: does the way we listen fit each relationship?"""
    accounts = select(Account.id).where(active_clause(Account.ended_on, today_utc()))
    if account_ids:
        accounts = accounts.where(Account.id.in_(account_ids))
    for result in load_review(db.session, accounts, ladder()):
        click.echo(f"\n{result.name}")
        click.echo(f"  programs: {', '.join(result.programs) or 'none'}; waves: {result.waves}")
        click.echo(
            f"  heard in the last waves: levels {', '.join(result.levels_heard) or 'none'};"
            f" sides {', '.join(result.sides_heard) or 'none'}"
        )
        if result.panel_continuity is not None:
            click.echo(f"  panel continuity: {result.panel_continuity:.0%}")
        for advice in result.recommendations or ["Listening fits this relationship."]:
            click.echo(f"  - {advice}")
