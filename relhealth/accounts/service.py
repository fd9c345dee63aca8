"""Accounts, people, relationships and account teams: the rules and the writes.

Functions take the session, the acting user and validated data; they check permissions and
rules, flush, and leave the commit to the request or command. Reads go through
``relhealth.auth.permissions`` so nobody sees more than they may.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, case, insert, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from relhealth.accounts import graph
from relhealth.accounts.models import (
    Account,
    AccountTeamMember,
    GraphSnapshot,
    Person,
    PersonRole,
    Relationship,
    RelationshipKind,
    Side,
    SnapshotReason,
)
from relhealth.accounts.rules import End, closes_cycle, relationship_violation
from relhealth.accounts.seniority import ladder
from relhealth.auth.models import Role, User
from relhealth.auth.permissions import (
    account_access,
    may_create_account,
    may_manage_staff,
    readable_accounts,
    require,
)
from relhealth.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from relhealth.core.pagination import page_of, sorted_by
from relhealth.core.time import today_utc
from relhealth.db import utcnow


def active_clause(end_column, today: dt.date) -> ColumnElement[bool]:
    """Rows whose end date is unset or still ahead."""
    return or_(end_column.is_(None), end_column > today)


def _apply(obj: Any, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        setattr(obj, key, value)


def _clean_email(data: dict[str, Any]) -> None:
    if data.get("email"):
        data["email"] = data["email"].strip().lower()


# Accounts ------------------------------------------------------------------------------------

ACCOUNT_SORTS = {
    "name": Account.name,
    "kind": Account.kind,
    "tier": case({"strategic": 0, "key": 1, "standard": 2}, value=Account.tier),
    "annual_value": Account.annual_value,
    "lifetime_value": Account.lifetime_value,
    "renewal_date": Account.renewal_date,
    "created_at": Account.created_at,
}


def account_query(user: User, filters: Mapping[str, Any], today: dt.date | None = None) -> Select:
    """Accounts ``user`` may read, narrowed by list filters (kind, tier, owner, active, q)."""
    today = today or today_utc()
    stmt = select(Account).where(readable_accounts(user, today))
    for name in ("kind", "tier", "relationship_type"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Account, name) == filters[name])
    if filters.get("owner_id") is not None:
        stmt = stmt.where(Account.owner_id == filters["owner_id"])
    if filters.get("active") is not None:
        active = active_clause(Account.ended_on, today)
        stmt = stmt.where(active if filters["active"] else ~active)
    if filters.get("q"):
        stmt = stmt.where(Account.name.icontains(filters["q"], autoescape=True))
    return stmt


def list_accounts(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    sort: Sequence[str] = ("name",),
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Account], int]:
    stmt = sorted_by(account_query(user, filters), sort, ACCOUNT_SORTS, Account.id)
    return page_of(session, stmt, page, page_size)


def _check_owner(session: Session, user: User, owner_id: int | None) -> None:
    # Clearing the owner counts too: it would take the account out of its manager's reach.
    if user.role != Role.ADMIN and owner_id != user.id:
        raise Forbidden("Only an admin may make someone else the owner of an account.")
    if owner_id is None:
        return
    if session.get(User, owner_id) is None:
        raise InvalidInput.on("owner_id", "No user with this id.")


def _check_unique(session: Session, model, column: str, value, exclude_id=None) -> None:
    if value is None:
        return
    stmt = select(model.id).where(getattr(model, column) == value)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise Conflict(f"{column} {value!r} is already used.", {column: ["Already used."]})


def create_account(session: Session, user: User, data: dict[str, Any]) -> Account:
    require(may_create_account(user, data["kind"]), "You may not create accounts of this kind.")
    if user.role != Role.ADMIN and data.get("owner_id") is None:
        data["owner_id"] = user.id  # what a manager creates, they own
    _check_owner(session, user, data.get("owner_id"))
    _check_unique(session, Account, "name", data["name"])
    _check_unique(session, Account, "crm_id", data.get("crm_id"))
    account = Account(**data)
    session.add(account)
    session.flush()
    return account


def update_account(session: Session, user: User, account: Account, data: dict[str, Any]) -> Account:
    if "owner_id" in data and data["owner_id"] != account.owner_id:
        if user.role != Role.ADMIN and account.owner_id not in (None, user.id):
            raise Forbidden("Only the account's owner or an admin may hand it to someone else.")
        _check_owner(session, user, data["owner_id"])
    if "kind" in data and data["kind"] != account.kind:
        require(may_create_account(user, data["kind"]), "You may not manage this kind.")
    _check_unique(session, Account, "name", data.get("name"), account.id)
    _check_unique(session, Account, "crm_id", data.get("crm_id"), account.id)
    _apply(account, data)
    session.flush()
    return account


def end_account(session: Session, account: Account, on: dt.date) -> Account:
    """Mark the account ended (churned, partnership over); its history stays."""
    account.ended_on = on
    session.flush()
    return account


# People --------------------------------------------------------------------------------------


def seniority_rank() -> ColumnElement[int]:
    levels = ladder()
    return case(
        {level: index for index, level in enumerate(levels)},
        value=Person.seniority,
        else_=len(levels),
    )


def person_query(user: User, filters: Mapping[str, Any], today: dt.date | None = None) -> Select:
    """People ``user`` may read: external people of readable accounts and our own staff."""
    today = today or today_utc()
    readable = select(Account.id).where(readable_accounts(user, today))
    stmt = select(Person).where(or_(Person.side == Side.INTERNAL, Person.account_id.in_(readable)))
    for name in ("account_id", "side", "seniority"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Person, name) == filters[name])
    if filters.get("role") is not None:
        stmt = stmt.where(Person.role_rows.any(role=filters["role"]))
    if filters.get("active") is not None:
        active = active_clause(Person.left_on, today)
        stmt = stmt.where(active if filters["active"] else ~active)
    if filters.get("q"):
        stmt = stmt.where(
            or_(
                *(
                    column.icontains(filters["q"], autoescape=True)
                    for column in (Person.first_name, Person.last_name, Person.email, Person.title)
                )
            )
        )
    return stmt


def list_people(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    sort: Sequence[str] = ("last_name",),
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Person], int]:
    sorts = {
        "last_name": Person.last_name,
        "first_name": Person.first_name,
        "email": Person.email,
        "seniority": seniority_rank(),
        "created_at": Person.created_at,
    }
    stmt = sorted_by(person_query(user, filters), sort, sorts, Person.id)
    return page_of(session, stmt, page, page_size)


def get_person(session: Session, user: User, person_id: int, *, write: bool = False) -> Person:
    """A person ``user`` may read (and change, with ``write``); 404 otherwise."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("No such person.")
    if person.side == Side.INTERNAL:
        if write:
            require(may_manage_staff(user), "Only an admin may change our own staff records.")
    else:
        try:
            account_access(session, user, person.account_id, write=write)
        except NotFound:
            raise NotFound("No such person.") from None
    return person


def create_person(session: Session, user: User, data: dict[str, Any]) -> Person:
    _clean_email(data)
    if data["side"] == Side.INTERNAL:
        if data.get("account_id") is not None:
            raise InvalidInput.on(
                "account_id", "Our own people belong to no account; add them to its team."
            )
        require(may_manage_staff(user), "Only an admin may add our own staff.")
    else:
        if data.get("account_id") is None:
            raise InvalidInput.on("account_id", "External people belong to an account.")
        try:
            account_access(session, user, data["account_id"], write=True)
        except NotFound:
            raise InvalidInput.on("account_id", "No such account.") from None
    _check_unique(session, Person, "email", data.get("email"))
    _check_unique(session, Person, "crm_id", data.get("crm_id"))
    roles = data.pop("roles", [])
    person = Person(**data)
    person.roles = roles
    session.add(person)
    session.flush()
    return person


def update_person(session: Session, person: Person, data: dict[str, Any]) -> Person:
    _clean_email(data)
    _check_unique(session, Person, "email", data.get("email"), person.id)
    _check_unique(session, Person, "crm_id", data.get("crm_id"), person.id)
    if "roles" in data:
        person.roles = data.pop("roles")
    left, joined = data.get("left_on", person.left_on), data.get("active_from", person.active_from)
    if left is not None and joined is not None and left < joined:
        raise InvalidInput.on("left_on", "A person cannot leave before they joined.")
    _apply(person, data)
    session.flush()
    return person


def end_person(session: Session, person: Person, on: dt.date) -> Person:
    """Record that a person left on ``on``: their links and team places end that day too.

    Nothing is deleted, so past answers and graphs keep the person.
    """
    if person.active_from is not None and on < person.active_from:
        raise InvalidInput.on("on", "A person cannot leave before they joined.")
    person.left_on = on
    # Links and team places still open on that day (no end, or a later one) end with them.
    for row in session.scalars(
        select(Relationship).where(
            or_(Relationship.source_id == person.id, Relationship.target_id == person.id),
            active_clause(Relationship.ended_on, on),
        )
    ):
        row.ended_on = on
    for member in session.scalars(
        select(AccountTeamMember).where(
            AccountTeamMember.person_id == person.id,
            active_clause(AccountTeamMember.ended_on, on),
        )
    ):
        member.ended_on = on
    session.flush()
    return person


# Relationships -------------------------------------------------------------------------------


def relationship_query(
    user: User, filters: Mapping[str, Any], today: dt.date | None = None
) -> Select:
    """Relationships whose both ends ``user`` may read."""
    today = today or today_utc()
    visible = person_query(user, {}, today).with_only_columns(Person.id)
    stmt = select(Relationship).where(
        Relationship.source_id.in_(visible), Relationship.target_id.in_(visible)
    )
    if filters.get("kind") is not None:
        stmt = stmt.where(Relationship.kind == filters["kind"])
    if filters.get("person_id") is not None:
        pid = filters["person_id"]
        stmt = stmt.where(or_(Relationship.source_id == pid, Relationship.target_id == pid))
    if filters.get("account_id") is not None:
        on_account = select(Person.id).where(Person.account_id == filters["account_id"])
        stmt = stmt.where(
            or_(Relationship.source_id.in_(on_account), Relationship.target_id.in_(on_account))
        )
    if filters.get("active") is not None:
        active = active_clause(Relationship.ended_on, today)
        stmt = stmt.where(active if filters["active"] else ~active)
    return stmt


def list_relationships(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    sort: Sequence[str] = ("id",),
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Relationship], int]:
    sorts = {
        "id": Relationship.id,
        "kind": Relationship.kind,
        "strength": Relationship.strength,
        "last_contact_on": Relationship.last_contact_on,
    }
    stmt = sorted_by(relationship_query(user, filters), sort, sorts, Relationship.id)
    return page_of(session, stmt, page, page_size)


def _check_may_link(session: Session, user: User, people: Sequence[Person]) -> None:
    """Changing an edge needs write access to each external end's account (staff: admin)."""
    accounts = {p.account_id for p in people if p.side == Side.EXTERNAL}
    if not accounts:
        require(may_manage_staff(user), "Only an admin may link our own people to each other.")
    for account_id in accounts:
        account_access(session, user, account_id, write=True)


def get_relationship(
    session: Session, user: User, relationship_id: int, *, write: bool = False
) -> Relationship:
    edge = session.get(Relationship, relationship_id)
    if edge is None:
        raise NotFound("No such relationship.")
    try:
        for person_id in (edge.source_id, edge.target_id):
            get_person(session, user, person_id)
    except NotFound:
        raise NotFound("No such relationship.") from None
    if write:
        _check_may_link(session, user, [edge.source, edge.target])
    return edge


def _end(person: Person) -> End:
    return End(person.id, person.side, person.account_id)


def reporting_edges(session: Session, person: Person, today: dt.date) -> list[tuple[int, int]]:
    """Active ``reports_to`` edges inside ``person``'s organisation (their account, or ours)."""
    org = (
        Person.account_id == person.account_id
        if person.side == Side.EXTERNAL
        else Person.side == Side.INTERNAL
    )
    members = select(Person.id).where(org)
    rows = session.execute(
        select(Relationship.source_id, Relationship.target_id).where(
            Relationship.kind == RelationshipKind.REPORTS_TO,
            Relationship.source_id.in_(members),
            active_clause(Relationship.ended_on, today),
        )
    )
    return [tuple(row) for row in rows]


def create_relationship(
    session: Session, user: User, data: dict[str, Any], today: dt.date | None = None
) -> Relationship:
    today = today or today_utc()
    ends = []
    for field in ("source_id", "target_id"):
        try:
            ends.append(get_person(session, user, data[field]))
        except NotFound:
            raise InvalidInput.on(field, "No such person.") from None
    source, target = ends
    kind = RelationshipKind(data["kind"])
    _check_may_link(session, user, ends)
    violation = relationship_violation(_end(source), _end(target), kind)
    if violation:
        raise InvalidInput.on(*violation)
    for person, field in ((source, "source_id"), (target, "target_id")):
        if person.left_on is not None and person.left_on <= today:
            raise InvalidInput.on(field, "This person has left; their links are history.")
    if kind == RelationshipKind.REPORTS_TO and closes_cycle(
        reporting_edges(session, source, today), source.id, target.id
    ):
        raise InvalidInput.on("target_id", "This reporting line would make a cycle.")
    edge = session.scalar(
        select(Relationship).where(
            Relationship.source_id == source.id,
            Relationship.target_id == target.id,
            Relationship.kind == kind,
        )
    )
    if edge is not None and edge.ended_on is None:
        raise Conflict("This relationship already exists.", {"kind": ["Already exists."]})
    if edge is None:
        edge = Relationship(source_id=source.id, target_id=target.id, kind=kind)
        session.add(edge)
    edge.ended_on = None  # re-creating an ended relationship reopens it
    _apply(edge, {k: v for k, v in data.items() if k not in ("source_id", "target_id", "kind")})
    session.flush()
    return edge


def update_relationship(session: Session, edge: Relationship, data: dict[str, Any]):
    _apply(edge, data)
    session.flush()
    return edge


def end_relationship(session: Session, edge: Relationship, on: dt.date) -> Relationship:
    edge.ended_on = on
    session.flush()
    return edge


# Account teams -------------------------------------------------------------------------------


def team_of(
    session: Session, account: Account, active: bool | None = None, today: dt.date | None = None
) -> list[AccountTeamMember]:
    stmt = (
        select(AccountTeamMember)
        .where(AccountTeamMember.account_id == account.id)
        .options(selectinload(AccountTeamMember.person))
        .order_by(AccountTeamMember.role, AccountTeamMember.id)
    )
    if active is not None:
        clause = active_clause(AccountTeamMember.ended_on, today or today_utc())
        stmt = stmt.where(clause if active else ~clause)
    return list(session.scalars(stmt))


def add_team_member(
    session: Session, account: Account, data: dict[str, Any], today: dt.date | None = None
) -> AccountTeamMember:
    today = today or today_utc()
    person = session.get(Person, data["person_id"])
    if person is None:
        raise InvalidInput.on("person_id", "No such person.")
    if person.side != Side.INTERNAL:
        raise InvalidInput.on("person_id", "Only our own people join an account team.")
    if person.left_on is not None and person.left_on <= today:
        raise InvalidInput.on("person_id", "This person has left.")
    member = session.scalar(
        select(AccountTeamMember).where(
            AccountTeamMember.account_id == account.id,
            AccountTeamMember.person_id == person.id,
        )
    )
    if member is not None and member.ended_on is None:
        raise Conflict("Already on this account's team.", {"person_id": ["Already on the team."]})
    if member is None:
        member = AccountTeamMember(account=account, person=person)
        session.add(member)
    member.ended_on = None  # rejoining reopens the membership
    member.role = data["role"]
    member.started_on = data.get("started_on") or today
    session.flush()
    return member


def get_team_member(session: Session, account: Account, member_id: int) -> AccountTeamMember:
    member = session.get(AccountTeamMember, member_id)
    if member is None or member.account_id != account.id:
        raise NotFound("No such team member.")
    return member


def update_team_member(session: Session, member: AccountTeamMember, data: dict[str, Any]):
    _apply(member, data)
    session.flush()
    return member


def end_team_member(session: Session, member: AccountTeamMember, on: dt.date):
    member.ended_on = on
    session.flush()
    return member


def people_by_side_and_level(
    session: Session, account: Account, today: dt.date | None = None
) -> dict[str, dict[str, list[Person]]]:
    """The account's active external people and its active team, grouped side -> level.

    Levels come in ladder order; empty levels are kept so a page can show the gap.
    """
    today = today or today_utc()
    levels = ladder()
    grouped = {side: {level: [] for level in levels} for side in ("external", "internal")}
    externals = session.scalars(
        select(Person)
        .where(Person.account_id == account.id, active_clause(Person.left_on, today))
        .order_by(Person.last_name, Person.first_name)
    )
    for person in externals:
        grouped["external"].setdefault(person.seniority, []).append(person)
    for member in team_of(session, account, active=True, today=today):
        grouped["internal"].setdefault(member.person.seniority, []).append(member.person)
    return grouped


# Stakeholder graphs -----------------------------------------------------------------------


def graph_settings(today: dt.date | None = None) -> graph.Settings:
    return graph.Settings(
        ladder=ladder(),
        stale_days=current_app.config["STALE_CONTACT_DAYS"],
        heard_days=current_app.config["HEARD_FROM_DAYS"],
        today=today or today_utc(),
    )


def _graph_nodes_and_edges(session: Session, account_ids: Select, today: dt.date):
    """Nodes and edges of the graphs of the accounts ``account_ids`` selects, per account.

    Their active people; our active team members and whoever of ours has an active link to
    them; the active links among all of these. Four queries, whatever the number of accounts.
    """
    externals = session.execute(
        select(
            Person.id,
            Person.account_id,
            Person.first_name,
            Person.last_name,
            Person.seniority,
            Person.title,
        ).where(Person.account_id.in_(account_ids), active_clause(Person.left_on, today))
    ).all()
    account_of = {row.id: row.account_id for row in externals}
    team = session.execute(
        select(
            AccountTeamMember.account_id,
            AccountTeamMember.role,
            Person.id,
            Person.first_name,
            Person.last_name,
            Person.seniority,
            Person.title,
        )
        .join(Person, Person.id == AccountTeamMember.person_id)
        .where(
            AccountTeamMember.account_id.in_(account_ids),
            active_clause(AccountTeamMember.ended_on, today),
            active_clause(Person.left_on, today),
        )
    ).all()
    external_ids = select(Person.id).where(
        Person.account_id.in_(account_ids), active_clause(Person.left_on, today)
    )
    internal_people = aliased(Person)
    edge_rows = (
        session.execute(
            select(Relationship).where(
                active_clause(Relationship.ended_on, today),
                or_(
                    Relationship.source_id.in_(external_ids),
                    Relationship.target_id.in_(external_ids),
                    and_(
                        Relationship.source_id.in_(
                            select(internal_people.id).where(internal_people.side == Side.INTERNAL)
                        ),
                        Relationship.kind == RelationshipKind.REPORTS_TO,
                    ),
                ),
            )
        )
        .scalars()
        .all()
    )
    roles = defaultdict(list)
    for person_id, role in session.execute(
        select(PersonRole.person_id, PersonRole.role)
        .join(Person, Person.id == PersonRole.person_id)
        .where(Person.account_id.in_(account_ids))
    ):
        roles[person_id].append(role.value)

    nodes = defaultdict(dict)
    for row in externals:
        nodes[row.account_id][row.id] = graph.Node(
            row.id,
            f"{row.first_name} {row.last_name}",
            "external",
            row.seniority,
            row.title,
            tuple(sorted(roles[row.id])),
        )
    for row in team:
        nodes[row.account_id][row.id] = graph.Node(
            row.id,
            f"{row.first_name} {row.last_name}",
            "internal",
            row.seniority,
            row.title,
            team_role=row.role.value,
        )
    # Our people who deal with their people without being on the team still belong on the map.
    missing = {
        (account_of[external], ours)
        for edge in edge_rows
        for external, ours in ((edge.target_id, edge.source_id), (edge.source_id, edge.target_id))
        if external in account_of
        and ours not in account_of
        and ours not in nodes[account_of[external]]
    }
    if missing:
        extra = {
            p.id: p
            for p in session.scalars(
                select(Person).where(
                    Person.id.in_({ours for _a, ours in missing}),
                    active_clause(Person.left_on, today),
                )
            )
        }
        for account_id, ours in missing:
            if ours in extra:
                p = extra[ours]
                nodes[account_id][ours] = graph.Node(
                    p.id, p.name, p.side.value, p.seniority, p.title
                )
    edges = [
        graph.Edge(e.source_id, e.target_id, e.kind.value, e.strength, e.last_contact_on)
        for e in edge_rows
    ]
    return nodes, edges


def account_graph(session: Session, account: Account, today: dt.date | None = None):
    """The stakeholder graph of one account as of ``today``."""
    today = today or today_utc()
    nodes, edges = _graph_nodes_and_edges(
        session, select(Account.id).where(Account.id == account.id), today
    )
    return graph.build_graph(nodes[account.id].values(), edges)


def account_map(session: Session, account: Account, today: dt.date | None = None):
    """The account's graph and its metrics, as of ``today``."""
    settings = graph_settings(today)
    stakeholders = account_graph(session, account, settings.today)
    return stakeholders, graph.account_metrics(stakeholders, settings)


def take_snapshot(
    session: Session,
    account: Account,
    reason: SnapshotReason = SnapshotReason.MANUAL,
    wave_id: int | None = None,
    now: dt.datetime | None = None,
) -> GraphSnapshot:
    """Freeze the account's stakeholder graph and metrics (when a wave opens, or on demand)."""
    now = now or utcnow()
    stakeholders, metrics = account_map(session, account, today_utc(now))
    snapshot = GraphSnapshot(
        account_id=account.id,
        taken_at=now,
        reason=reason,
        wave_id=wave_id,
        graph=graph.node_link(stakeholders),
        metrics=metrics,
    )
    session.add(snapshot)
    session.flush()
    return snapshot


def take_snapshots(
    session: Session,
    account_ids: Sequence[int],
    reason: SnapshotReason,
    wave_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """``take_snapshot`` for many accounts at once (a survey wave's), in four queries.

    The same graphs and metrics as one by one, loaded as ``portfolio_coverage`` loads them and
    written in one bulk insert. Returns how many snapshots were taken.
    """
    if not account_ids:
        return 0
    now = now or utcnow()
    settings = graph_settings(today_utc(now))
    nodes, edges = _graph_nodes_and_edges(
        session, select(Account.id).where(Account.id.in_(account_ids)), settings.today
    )
    edges_by_node = defaultdict(list)
    for edge in edges:
        edges_by_node[edge.source].append(edge)
        edges_by_node[edge.target].append(edge)
    rows = []
    for account_id in account_ids:
        people = nodes.get(account_id, {})
        stakeholders = graph.build_graph(
            people.values(), {e for pid in people for e in edges_by_node[pid]}
        )
        rows.append(
            {
                "account_id": account_id,
                "taken_at": now,
                "reason": reason,
                "wave_id": wave_id,
                "graph": graph.node_link(stakeholders),
                "metrics": graph.account_metrics(stakeholders, settings),
            }
        )
    session.execute(insert(GraphSnapshot), rows)
    return len(rows)


def snapshots_of(session: Session, account: Account) -> list[GraphSnapshot]:
    return list(
        session.scalars(
            select(GraphSnapshot)
            .where(GraphSnapshot.account_id == account.id)
            .order_by(GraphSnapshot.taken_at.desc(), GraphSnapshot.id.desc())
        )
    )


def get_snapshot(session: Session, account: Account, snapshot_id: int) -> GraphSnapshot:
    snapshot = session.get(GraphSnapshot, snapshot_id)
    if snapshot is None or snapshot.account_id != account.id:
        raise NotFound("No such snapshot.")
    return snapshot


def snapshot_diff(before: GraphSnapshot, after: GraphSnapshot) -> dict:
    return graph.diff(
        {"graph": before.graph, "metrics": before.metrics},
        {"graph": after.graph, "metrics": after.metrics},
    )


def diff_with_today(session: Session, account: Account, before: GraphSnapshot) -> dict:
    """What changed between a snapshot and the account's map as it is today."""
    stakeholders, metrics = account_map(session, account)
    return graph.diff(
        {"graph": before.graph, "metrics": before.metrics},
        {"graph": graph.node_link(stakeholders), "metrics": metrics},
    )


def portfolio_coverage(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    sort: str = "coverage",
    today: dt.date | None = None,
) -> list[dict]:
    """Coverage of every active account ``user`` may read, worst first by default.

    One pass over the whole portfolio: the people, teams and links of all the accounts are
    loaded in four queries, then each account's graph is measured in memory.
    """
    settings = graph_settings(today)
    accounts = session.scalars(account_query(user, {**filters, "active": True}, settings.today))
    accounts = {a.id: a for a in accounts}
    nodes, edges = _graph_nodes_and_edges(
        session,
        account_query(user, {**filters, "active": True}, settings.today).with_only_columns(
            Account.id
        ),
        settings.today,
    )
    edges_by_node = defaultdict(list)
    for edge in edges:
        edges_by_node[edge.source].append(edge)
        edges_by_node[edge.target].append(edge)
    rows = []
    for account_id, account in accounts.items():
        people = nodes.get(account_id, {})
        own_edges = {e for pid in people for e in edges_by_node[pid]}
        stakeholders = graph.build_graph(people.values(), own_edges)
        cover = graph.coverage(stakeholders, settings.ladder)
        executives = graph.executive_coverage(stakeholders, settings.ladder)
        rows.append(
            {
                "account_id": account_id,
                "name": account.name,
                "kind": account.kind.value,
                "tier": account.tier.value,
                "owner_id": account.owner_id,
                "annual_value": account.annual_value,
                "external_people": cover["overall"]["total"],
                "covered_people": cover["overall"]["covered"],
                "coverage": cover["overall"]["share"],
                "coverage_by_level": {k: v["share"] for k, v in cover["by_level"].items()},
                "threading": graph.threading(stakeholders)["status"],
                "executive_sponsor": executives["executive_sponsor"],
                "uncovered_executives": executives["their_executives"]
                - executives["covered_executives"],
                "key_person_risks": len(graph.key_person_risks(stakeholders)),
                "stale_links": len(
                    graph.stale_links(stakeholders, settings.today, settings.stale_days)
                ),
            }
        )
    return sorted_rows(rows, sort)


def sorted_rows(rows: list[dict], sort: str) -> list[dict]:
    """Rows sorted by one key (``-`` for descending), ties by name; missing values last.

    The default portfolio sort, ``coverage``, puts the worst-covered accounts first.
    """
    key = sort.removeprefix("-")
    present = sorted(
        (r for r in rows if r[key] is not None),
        key=lambda r: (r[key], r["name"]),
        reverse=sort.startswith("-"),
    )
    return present + [r for r in rows if r[key] is None]
