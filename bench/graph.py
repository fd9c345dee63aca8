"""Stakeholder-graph benchmarks: print how long the map and the metrics take; assert nothing.

Run from the repository root: ``.venv/bin/python bench/graph.py``. Each measurement is a small
function returning a line of text; ``main`` runs them all. Graphs are synthetic but shaped like
real accounts (a reporting tree on each side, coverage links from our team, peers working
together) and seeded, so every run measures the same graph.
"""

import datetime as dt
import itertools
import random
import statistics
import time
from collections.abc import Callable

from relhealth.accounts import graph
from relhealth.accounts.graph import Edge, Node, Settings
from relhealth.accounts.map import render_map
from relhealth.demo import EXTERNAL_TITLES, FIRST_NAMES, LAST_NAMES

TODAY = dt.date(2026, 11, 26)
LADDER = ("executive", "senior", "manager", "staff")
LEVEL_SHARES = {"executive": 0.05, "senior": 0.12, "manager": 0.23, "staff": 0.60}
OUR_SHARE = 0.12  # of an account's people, how many are ours


def synthetic_account(
    people: int, relationships: int, seed: int = 42
) -> tuple[list[Node], list[Edge]]:
    """An account of ``people`` people (ours and theirs) and ``relationships`` edges.

    Each side is a reporting tree (everyone reports to someone one level up); our executive
    sponsor covers some of their executives; the rest of our team covers people at their own
    level or one either side, leaving some uncovered; the remaining edges are ``works_with``
    between peers of nearby levels. Fewer edges than the trees need are not possible.
    """
    rng = random.Random(seed)  # noqa: S311 -- reproducible benchmark data, not secrets
    ours_count = max(2, round(people * OUR_SHARE))
    nodes: list[Node] = []
    by_side_level: dict[tuple[str, str], list[int]] = {}
    for side, count in (("external", people - ours_count), ("internal", ours_count)):
        for level, share in LEVEL_SHARES.items():
            size = max(1, round(count * share))
            ids = [len(nodes) + i + 1 for i in range(size)]
            by_side_level[side, level] = ids
            for pid in ids:
                roles: tuple[str, ...] = ()
                if side == "external":
                    draw = rng.random()
                    if level in ("executive", "senior") and draw < 0.35:
                        roles = ("decision_maker",)
                    elif level in ("senior", "manager") and draw < 0.55:
                        roles = ("champion",)
                    elif level == "staff" and draw < 0.4:
                        roles = ("user",)
                nodes.append(
                    Node(
                        pid,
                        f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                        side,
                        level,
                        rng.choice(EXTERNAL_TITLES[level]),
                        roles,
                        team_role="member" if side == "internal" else None,
                    )
                )
    ours = by_side_level["internal", "executive"][0]
    owner = by_side_level["internal", "manager"][0]
    nodes = [
        n
        if n.id not in (ours, owner)
        else Node(**{**n.__dict__, "team_role": "executive_sponsor" if n.id == ours else "owner"})
        for n in nodes
    ]

    edges: dict[tuple[int, int, str], Edge] = {}

    def add(source: int, target: int, kind: str) -> None:
        if source == target or (source, target, kind) in edges:
            return
        recency = rng.random()
        days = rng.randint(1, 80) if recency < 0.8 else rng.randint(90, 400)
        contact = None if recency > 0.95 else TODAY - dt.timedelta(days=days)
        edges[source, target, kind] = Edge(source, target, kind, rng.randint(1, 5), contact)

    for side in ("external", "internal"):
        top = by_side_level[side, "executive"][0]
        for pid in by_side_level[side, "executive"][1:]:
            add(pid, top, "reports_to")
        for upper, lower in itertools.pairwise(LADDER):
            for pid in by_side_level[side, lower]:
                add(pid, rng.choice(by_side_level[side, upper]), "reports_to")
    their_executives = by_side_level["external", "executive"]
    for pid in rng.sample(their_executives, k=max(1, len(their_executives) * 2 // 3)):
        add(ours, pid, "covers")
    our_team = [n.id for n in nodes if n.side == "internal" and n.id != ours]
    level_of = {n.id: n.seniority for n in nodes}
    coverage_target = len(edges) + (relationships - len(edges)) // 2
    while len(edges) < min(relationships, coverage_target):
        mine = rng.choice(our_team)
        rank = LADDER.index(level_of[mine]) + rng.choice((-1, 0, 0, 1))
        level = LADDER[max(0, min(len(LADDER) - 1, rank))]
        add(mine, rng.choice(by_side_level["external", level]), "covers")
    everyone = [n.id for n in nodes]
    while len(edges) < relationships:
        a = rng.choice(everyone)
        rank = LADDER.index(level_of[a]) + rng.choice((-1, 0, 0, 1))
        level = LADDER[max(0, min(len(LADDER) - 1, rank))]
        side = rng.choice(("external", "external", "internal"))
        add(a, rng.choice(by_side_level[side, level]), "works_with")
    return nodes, list(edges.values())


def median_seconds(work: Callable[[], object], runs: int) -> float:
    """The median wall time of ``runs`` calls of ``work`` (after one warm-up call)."""
    work()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def map_of_200_people(runs: int = 9) -> str:
    """``render_map`` for an account of 200 people and 1,000 relationships (budget 0.3 s)."""
    nodes, edges = synthetic_account(200, 1_000)
    stakeholders = graph.build_graph(nodes, edges)
    metrics = graph.account_metrics(stakeholders, Settings(ladder=LADDER, today=TODAY))
    svg: list[str] = []

    def draw():
        svg.append(
            render_map(
                stakeholders,
                metrics,
                title="Synthetic account",
                ladder=LADDER,
                person_url=lambda pid: f"/people/{pid}",
            )
        )

    seconds = median_seconds(draw, runs)
    return (
        f"SVG map, 200 people, {len(edges):,} relationships: median {seconds:.3f} s "
        f"over {runs} runs ({len(svg[-1]) / 1024:.0f} KiB; budget 0.3 s)"
    )


def metrics_of_2000_people(runs: int = 5) -> str:
    """``graph.account_metrics`` for one account of 2,000 people and 10,000 relationships."""
    nodes, edges = synthetic_account(2_000, 10_000)
    settings = Settings(ladder=LADDER, today=TODAY)
    stakeholders = graph.build_graph(nodes, edges)
    build = median_seconds(lambda: graph.build_graph(nodes, edges), runs)
    seconds = median_seconds(lambda: graph.account_metrics(stakeholders, settings), runs)
    return (
        f"account_metrics, 2,000 people, {len(edges):,} relationships: median {seconds:.3f} s "
        f"over {runs} runs (build_graph: {build:.3f} s)"
    )


def portfolio_coverage_of_2000_accounts(runs: int = 3) -> str:
    """``portfolio_coverage`` over a 2,000-account demo portfolio on PostgreSQL (budget 10 s).

    Seeds a fresh database (dropped afterwards) with the demo generator, then times the
    coverage table an admin sees: four queries and a graph per account.
    """
    import uuid

    import sqlalchemy as sa
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from relhealth import create_app
    from relhealth.accounts.models import Person
    from relhealth.accounts.service import portfolio_coverage
    from relhealth.auth.models import Role, User
    from relhealth.demo import generate_portfolio, seed_database
    from relhealth.extensions import db

    server = "postgresql+psycopg://postgres@127.0.0.1:5432"
    name = f"rh_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        app = create_app({"DATABASE_URL": f"{server}/{name}"})
        with app.app_context():
            upgrade()
            seed_database(db.session, generate_portfolio(seed=11, accounts=2_000, today=TODAY))
            db.session.commit()
            people = db.session.scalar(select(func.count()).select_from(Person))
            admin = db.session.scalar(select(User).where(User.role == Role.ADMIN))
            rows: list[list[dict]] = []
            seconds = median_seconds(
                lambda: rows.append(portfolio_coverage(db.session, admin, {}, today=TODAY)),
                runs,
            )
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_engine.dispose()
    return (
        f"portfolio coverage on PostgreSQL, {len(rows[-1]):,} accounts, {people:,} people: "
        f"median {seconds:.2f} s over {runs} runs (budget 10 s)"
    )


MEASUREMENTS = (map_of_200_people, metrics_of_2000_people, portfolio_coverage_of_2000_accounts)


def main() -> None:
    for measure in MEASUREMENTS:
        print(measure(), flush=True)


if __name__ == "__main__":
    main()
