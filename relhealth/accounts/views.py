"""Pages: the accounts list, an account with both sides by seniority, its map, people."""

from collections import Counter

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from marshmallow import ValidationError
from sqlalchemy import func, select

from relhealth.accounts import graph, schemas, service
from relhealth.accounts.map import map_levels, render_map
from relhealth.accounts.models import (
    Account,
    AccountKind,
    Person,
    Relationship,
    RelationshipType,
    Side,
    Tier,
)
from relhealth.accounts.seniority import ladder
from relhealth.analytics import service as analytics_service
from relhealth.analytics.people import map_scores, whom_we_hear_from
from relhealth.auth.models import User
from relhealth.auth.permissions import account_access, readable_accounts, writable_accounts
from relhealth.core.errors import InvalidInput
from relhealth.core.schemas import sort_keys
from relhealth.core.time import today_utc
from relhealth.extensions import db
from relhealth.web.paging import page_number, pager

bp = Blueprint("account_pages", __name__)
PAGE_SIZE = 25
MAP_WIDTH = 900  # the map at its natural size beside the side panel on a 1280px screen


def _filters(schema) -> tuple[dict, list[str]]:
    """Parse list filters from the query string; bad values are dropped and reported."""
    raw = {k: v for k, v in request.args.items() if v != "" and k != "page"}
    try:
        return schema.load(raw), []
    except ValidationError as error:
        problems = [f"{field}: {' '.join(msgs)}" for field, msgs in error.messages.items()]
        good = {k: v for k, v in raw.items() if k not in error.messages}
        return schema.load(good), problems


def _sort_link(key: str, current: list[str]) -> str:
    """The URL that sorts by ``key``, flipping direction when it is already the sort."""
    args = {k: v for k, v in request.args.items() if k not in ("sort", "page")}
    target = f"-{key}" if current and current[0] == key else key
    return url_for(request.endpoint, sort=target, **args)


def _listing(schema, default_sort, lister):
    filters, problems = _filters(schema)
    sort = sort_keys(filters, default_sort)
    page = page_number()
    try:
        items, total = lister(db.session, current_user, filters, sort, page, PAGE_SIZE)
    except InvalidInput as error:
        problems.append(error.message)
        sort = list(default_sort)
        items, total = lister(db.session, current_user, filters, sort, page, PAGE_SIZE)
    return items, total, sort, page, problems


@bp.route("/accounts")
@login_required
def index():
    accounts, total, sort, page, problems = _listing(
        schemas.AccountListArgs(), ("name",), service.list_accounts
    )
    ids = [a.id for a in accounts]
    people_counts = dict(
        db.session.execute(
            select(Person.account_id, func.count())
            .where(Person.account_id.in_(ids), service.active_clause(Person.left_on, today_utc()))
            .group_by(Person.account_id)
        ).all()
    )
    owners = db.session.scalars(
        select(User).where(User.id.in_({a.owner_id for a in accounts if a.owner_id}))
    )
    return render_template(
        "accounts/index.html",
        accounts=accounts,
        people_counts=people_counts,
        owners={u.id: u for u in owners},
        owner_choices=_owner_choices(),
        kinds=list(AccountKind),
        tiers=list(Tier),
        relationship_types=list(RelationshipType),
        sort=sort,
        sort_link=lambda key: _sort_link(key, sort),
        pager=pager(page, total, PAGE_SIZE),
        problems=problems,
        args=request.args,
    )


def _owner_choices() -> list[User]:
    """Users who own an account the current user can see (for the owner filter)."""
    visible_owners = select(Account.owner_id).where(readable_accounts(current_user))
    return list(
        db.session.scalars(select(User).where(User.id.in_(visible_owners)).order_by(User.name))
    )


@bp.route("/accounts/<id:account_id>")
@login_required
def detail(account_id: int):
    account = account_access(db.session, current_user, account_id)
    grouped = service.people_by_side_and_level(db.session, account)
    team = service.team_of(db.session, account, active=True)
    can_edit = _can_edit(account)
    return render_template(
        "accounts/detail.html",
        account=account,
        levels=ladder(),
        grouped=grouped,
        team_roles={m.person_id: m.role for m in team},
        can_edit=bool(can_edit),
    )


@bp.route("/accounts/<id:account_id>/map")
@login_required
def stakeholder_map(account_id: int):
    """The stakeholder map with its coverage figures, filters and details on hover."""
    account = account_access(db.session, current_user, account_id)
    settings = service.graph_settings()
    stakeholders = service.account_graph(db.session, account, settings.today)
    metrics = graph.account_metrics(stakeholders, settings)
    answers = analytics_service.load_answers(
        db.session, user=current_user, account_ids=[account.id]
    )
    scores, sentiment = map_scores(answers)
    heard = whom_we_hear_from(stakeholders, answers, settings)
    svg = render_map(
        stakeholders,
        metrics,
        title=account.name,
        scores=scores,
        sentiment=sentiment,
        ladder=settings.ladder,
        person_url=lambda person_id: url_for("account_pages.person", person_id=person_id),
        max_width=MAP_WIDTH,
    )
    people = dict(stakeholders.nodes(data=True))
    counts = Counter((p["seniority"], p["side"]) for p in people.values())
    snapshots = service.snapshots_of(db.session, account)
    since = request.args.get("since", "")
    compared, change = None, None
    if since.isdigit() and len(since) < 10:
        compared = next((snap for snap in snapshots if snap.id == int(since)), None)
    if compared is not None:
        change = graph.diff(
            {"graph": compared.graph, "metrics": compared.metrics},
            {"graph": graph.node_link(stakeholders), "metrics": metrics},
        )
    return render_template(
        "accounts/map.html",
        snapshots=snapshots,
        compared=compared,
        change=change,
        can_edit=_can_edit(account),
        account=account,
        svg=Markup(svg),  # noqa: S704 -- render_map escapes every piece of user text itself
        metrics=metrics,
        heard=heard,
        heard_since=settings.heard_since,
        people=people,
        levels=map_levels(stakeholders, settings.ladder),
        counts=counts,
        stale_days=settings.stale_days,
    )


def _can_edit(account: Account) -> bool:
    return bool(
        db.session.scalar(
            select(func.count()).where(Account.id == account.id, writable_accounts(current_user))
        )
    )


@bp.route("/accounts/<id:account_id>/snapshots", methods=["POST"])
@login_required
def take_snapshot(account_id: int):
    """Freeze today's map so later changes can be compared with it."""
    account = account_access(db.session, current_user, account_id, write=True)
    snapshot = service.take_snapshot(db.session, account)
    db.session.commit()
    flash("Snapshot taken. Changes from now on can be compared with it.", "info")
    return redirect(
        url_for("account_pages.stakeholder_map", account_id=account.id, since=snapshot.id)
    )


COVERAGE_COLUMNS = (
    ("name", "Account", False),
    ("coverage", "Coverage", True),
    ("annual_value", "Annual value", True),
    ("key_person_risks", "Key-person risks", True),
    ("uncovered_executives", "Uncovered executives", True),
    ("stale_links", "Stale links", True),
)


@bp.route("/portfolio/coverage")
@login_required
def coverage():
    """Coverage of every account the user may see, worst covered first."""
    filters, problems = _filters(schemas.PortfolioCoverageArgs())
    sort = filters.pop("sort")
    rows = service.portfolio_coverage(db.session, current_user, filters, sort)
    args = {k: v for k, v in request.args.items() if k != "sort"}

    def sort_link(key: str) -> str:
        return url_for(request.endpoint, sort=f"-{key}" if sort == key else key, **args)

    return render_template(
        "accounts/coverage.html",
        rows=rows,
        sort=sort,
        sort_link=sort_link,
        columns=COVERAGE_COLUMNS,
        levels=ladder(),
        kinds=list(AccountKind),
        tiers=list(Tier),
        owner_choices=_owner_choices(),
        stale_days=service.graph_settings().stale_days,
        problems=problems,
        args=request.args,
    )


@bp.route("/people")
@login_required
def people():
    people, total, sort, page, problems = _listing(
        schemas.PersonListArgs(), ("last_name",), service.list_people
    )
    return render_template(
        "accounts/people.html",
        people=people,
        levels=ladder(),
        sides=list(Side),
        sort=sort,
        sort_link=lambda key: _sort_link(key, sort),
        pager=pager(page, total, PAGE_SIZE),
        problems=problems,
        args=request.args,
    )


@bp.route("/people/<id:person_id>")
@login_required
def person(person_id: int):
    person = service.get_person(db.session, current_user, person_id)
    edges, _total = service.list_relationships(
        db.session, current_user, {"person_id": person.id}, ["kind"], 1, 500
    )
    links = []
    for edge in edges:
        outgoing = edge.source_id == person.id
        links.append(
            {
                "edge": edge,
                "other": edge.target if outgoing else edge.source,
                "phrase": _phrase(edge, outgoing),
            }
        )
    return render_template("accounts/person.html", person=person, links=links)


_PHRASES = {
    "reports_to": ("reports to", "manages"),
    "works_with": ("works with", "works with"),
    "covers": ("covers", "is covered by"),
    "sponsors": ("sponsors", "is sponsored by"),
}


def _phrase(edge: Relationship, outgoing: bool) -> str:
    forward, backward = _PHRASES[edge.kind.value]
    return forward if outgoing else backward
