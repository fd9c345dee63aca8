"""``relhealth alerts evaluate``: run the alert rules now (the tick runs them as waves close)."""

import datetime as dt

import click
from flask.cli import with_appcontext

from relhealth.analytics.alerts_service import evaluate_alerts
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.messaging.cli import ISODateTime


@click.group("alerts", help="Alerts: significant declines, new detractors, gaps, silence.")
def alerts_cli() -> None:
    pass


@alerts_cli.command("evaluate")
@click.option("--account", "account_ids", type=int, multiple=True, help="Only these accounts.")
@click.option("--now", type=ISODateTime(), help="Act as if it were this time (default: now).")
@with_appcontext
def evaluate_command(account_ids: tuple[int, ...], now: dt.datetime | None) -> None:
    """Open the alerts the rules find in recently closed waves and graph snapshots.

    Safe to run again: an alert already opened (or acknowledged, or resolved) is not reopened.
    """
    report = evaluate_alerts(db.session, now or utcnow(), account_ids or None)
    db.session.commit()
    click.echo(
        f"Alerts: {report.accounts:,} accounts evaluated, {report.candidates:,} found,"
        f" {report.opened:,} newly opened."
    )
