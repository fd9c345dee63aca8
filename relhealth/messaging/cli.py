"""``relhealth send-mail``: deliver the outbox, once (cron) or continuously; requeue failures."""

import datetime as dt
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError

from relhealth.config import ConfigError
from relhealth.extensions import db
from relhealth.messaging.delivery import DeliveryReport, deliver_due
from relhealth.messaging.service import requeue_failed
from relhealth.messaging.transports import Transport, transport_from_config


class ISODateTime(click.ParamType):
    """An ISO 8601 date and time; UTC unless it carries an offset."""

    name = "ISO datetime"

    def convert(self, value, param, ctx) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO date and time (2026-11-26T09:00)", param, ctx)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)


def deliver_all_due(
    transport: Transport, now: dt.datetime | None = None, batch: int = 100
) -> DeliveryReport:
    """Run ``deliver_due`` batch after batch until nothing is due or the server is away."""
    total = DeliveryReport()
    while True:
        report = deliver_due(db.session, now=now, batch=batch, transport=transport)
        total.sent += report.sent
        total.retrying += report.retrying
        total.failed += report.failed
        total.unsubscribed += report.unsubscribed
        total.unavailable = report.unavailable
        if report.unavailable or report.attempted < batch:
            return total


def _requeue(ids: tuple[int, ...], now: dt.datetime | None) -> None:
    requeued = requeue_failed(db.session, ids or None, now=now)
    db.session.commit()
    noun = "message" if len(requeued) == 1 else "messages"
    click.echo(f"Requeued {len(requeued)} failed {noun}.")
    left = sorted(set(ids) - set(requeued))
    if left:
        listed = ", ".join(map(str, left))
        click.echo(f"Not requeued (no such message, not failed, or withdrawn): {listed}.")


def _summary(report: DeliveryReport, transport: Transport) -> str:
    return f"{report} ({transport})."


@click.command("send-mail")
@click.option("--once", is_flag=True, help="Deliver what is due, then exit (for cron).")
@click.option("--now", type=ISODateTime(), help="With --once: deliver what is due at this time.")
@click.option(
    "--interval",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="Seconds between rounds when running continuously.",
)
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--requeue-failed",
    "requeue",
    is_flag=True,
    help="Put failed messages back in the queue (attempts from zero), then exit; "
    "with --once, then deliver.",
)
@click.option(
    "--id",
    "ids",
    type=int,
    multiple=True,
    help="With --requeue-failed: only this message (repeat for more).",
)
@with_appcontext
def send_mail(
    once: bool,
    now: dt.datetime | None,
    interval: int,
    batch: int,
    requeue: bool,
    ids: tuple[int, ...],
) -> None:
    """Deliver queued e-mails over SMTP (RELHEALTH_SMTP_URL), else into instance/outbox/.

    Failed messages are tried again later; an unreachable server leaves them queued.
    """
    if now is not None and not once:
        raise click.UsageError("--now needs --once")
    if ids and not requeue:
        raise click.UsageError("--id needs --requeue-failed")
    if requeue:
        _requeue(ids, now)
        if not once:
            return
    try:
        transport = transport_from_config(current_app.config, current_app.instance_path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if once:
        report = deliver_all_due(transport, now=now, batch=batch)
        click.echo(_summary(report, transport))
        if report.unavailable:
            raise click.ClickException(f"Stopped early, the rest stay queued: {report.unavailable}")
        return
    click.echo(f"Delivering e-mail {transport} every {interval} s (Ctrl-C to stop).")
    try:
        while True:
            try:
                report = deliver_all_due(transport, batch=batch)
            except OperationalError as error:  # the database restarts: wait, then go on
                db.session.remove()
                click.echo(f"Database unavailable, trying again: {error.orig}", err=True)
            else:
                if report.attempted:
                    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
                    click.echo(f"{stamp} {_summary(report, transport)}")
                if report.unavailable:
                    click.echo(f"Stopped early, the rest stay queued: {report.unavailable}")
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("Stopped.")
