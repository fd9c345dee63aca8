"""``relhealth report account|partner|portfolio ... -o FILE.pdf``: a report from the command line.

The command line is trusted like a task: it reads every account (an admin-level view).
"""

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from relhealth.accounts.models import Account, AccountKind, Tier
from relhealth.auth.models import Role, User
from relhealth.core.errors import DomainError
from relhealth.extensions import db
from relhealth.reports import service

OUTPUT = click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the PDF.",
)


def find_account(session, key: str) -> Account:
    """An account by its id or its exact name (case-insensitive); ClickException otherwise."""
    account = session.get(Account, int(key)) if key.isdigit() and len(key) < 10 else None
    if account is None:
        account = session.scalar(select(Account).where(Account.name.ilike(key, escape="\\")))
    if account is None:
        raise click.ClickException(f"No account with the id or name {key!r}.")
    return account


def _write(path: Path, pdf: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf)
    click.echo(f"Wrote {path} ({len(pdf) / 1024:,.0f} KiB).")


@click.group("report", help="Render a PDF relationship report.")
def report_cli() -> None:
    pass


@report_cli.command("account")
@click.argument("account")
@OUTPUT
@with_appcontext
def account_report(account: str, output: Path) -> None:
    """The relationship report of ACCOUNT (an id or a name)."""
    _write(output, service.render_account_report(db.session, find_account(db.session, account)))


@report_cli.command("partner")
@click.argument("account")
@OUTPUT
@with_appcontext
def partner_report(account: str, output: Path) -> None:
    """The two-way report of the partner ACCOUNT (an id or a name)."""
    found = find_account(db.session, account)
    if found.kind != AccountKind.PARTNER:
        raise click.ClickException(
            f"{found.name} is a customer: the two-way report is for partners; "
            "use `relhealth report account`."
        )
    try:
        _write(output, service.render_partner_report(db.session, found))
    except DomainError as error:
        raise click.ClickException(error.message) from error


@report_cli.command("portfolio")
@click.option("--kind", type=click.Choice([k.value for k in AccountKind]))
@click.option("--tier", type=click.Choice([t.value for t in Tier]))
@click.option("--owner", help="Only the accounts of this owner (e-mail or user id).")
@OUTPUT
@with_appcontext
def portfolio_report(kind: str | None, tier: str | None, owner: str | None, output: Path) -> None:
    """Every active account ranked by health and value at risk, and the biggest movers."""
    filters: dict = {}
    if kind:
        filters["kind"] = AccountKind(kind)
    if tier:
        filters["tier"] = Tier(tier)
    if owner:
        user = db.session.scalar(
            select(User).where(
                User.id == int(owner) if owner.isdigit() else User.email.ilike(owner)
            )
        )
        if user is None:
            raise click.ClickException(f"No user {owner!r}.")
        filters["owner_id"] = user.id
    # Not added to the session: a stand-in for "everything", as a task would read.
    reader = User(role=Role.ADMIN, name="relhealth report", email="cli@relhealth.invalid")
    _write(output, service.render_portfolio_report(db.session, reader, filters=filters))


def write_demo_reports(session, folder: Path) -> list[Path]:
    """The demo's example reports in ``folder``: its largest customer, a partner, the portfolio."""
    from sqlalchemy import func

    from relhealth.surveys.models import Response

    written = []
    largest = session.scalar(
        select(Account)
        .join(Response, Response.account_id == Account.id)
        .where(Account.kind == AccountKind.CUSTOMER)
        .group_by(Account.id)
        .order_by(func.count(Response.id).desc(), Account.id)
        .limit(1)
    )
    partner = session.scalar(
        select(Account).where(Account.kind == AccountKind.PARTNER).order_by(Account.id).limit(1)
    )
    folder.mkdir(parents=True, exist_ok=True)
    if largest is not None:
        path = folder / "account-report.pdf"
        path.write_bytes(service.render_account_report(session, largest))
        written.append(path)
    if partner is not None:
        path = folder / "partner-report.pdf"
        path.write_bytes(service.render_partner_report(session, partner))
        written.append(path)
    path = folder / "portfolio-report.pdf"
    reader = User(role=Role.ADMIN, name="relhealth demo", email="demo@relhealth.invalid")
    path.write_bytes(service.render_portfolio_report(session, reader))
    written.append(path)
    return written
