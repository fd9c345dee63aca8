"""The stakeholder graph of one account, and the coverage and risk figures read off it.

Pure functions: plain data in, a networkx graph or plain figures out; no database, no Flask.
``relhealth.accounts.service.account_graph`` loads the data. Every metric is defined here once
(and in the README):

- coverage: the share of the account's external stakeholders with at least one coverage link
  (``covers``, ``works_with`` or ``sponsors``, either direction) to one of our people, overall
  and per seniority level;
- single-threaded: at most one of our people carries the relationship, or at most one of
  theirs is covered (an account nobody covers is "uncovered", which is worse);
- executive coverage: whether an executive sponsor is on our team, and which of our executives
  are linked to which of theirs;
- key-person risk: our people whose loss would cut external stakeholders off from every other
  one of ours (articulation points between our side and theirs), with those who would be
  orphaned;
- uncovered decision makers (decision makers, economic buyers) and uncovered executives;
- stale relationships: coverage links with no contact for ``stale_days`` days (or never);
- influence: PageRank over reporting lines (towards the manager) and ``works_with`` links
  (both ways), so follow-up can weigh who matters.
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

from relhealth.config import DEFAULT_SENIORITY_LADDER

COVERAGE_KINDS = frozenset({"covers", "works_with", "sponsors"})
DECISION_ROLES = frozenset({"decision_maker", "economic_buyer"})
_US = ("us",)  # a node standing for the whole of our side in key-person analysis


@dataclass(frozen=True)
class Node:
    """One person as the graph sees them."""

    id: int
    name: str
    side: str  # "external" | "internal"
    seniority: str
    title: str | None = None
    roles: tuple[str, ...] = ()
    team_role: str | None = None  # owner | executive_sponsor | member, for our people
    active: bool = True


@dataclass(frozen=True)
class Edge:
    source: int
    target: int
    kind: str
    strength: int = 3
    last_contact_on: dt.date | None = None


@dataclass(frozen=True)
class Settings:
    ladder: Sequence[str] = DEFAULT_SENIORITY_LADDER
    stale_days: int = 90
    today: dt.date = field(default_factory=dt.date.today)
    heard_days: int = 365

    @property
    def heard_since(self) -> dt.date:
        """The first day an answer counts towards "whom we hear from"."""
        return self.today - dt.timedelta(days=self.heard_days)


def build_graph(nodes: Iterable[Node], edges: Iterable[Edge]) -> nx.MultiDiGraph:
    """A directed multigraph: people are nodes, each relationship an edge keyed by its kind.

    Edges whose ends are not among ``nodes`` are left out (a link to someone of another
    account, or to someone who left).
    """
    graph = nx.MultiDiGraph()
    for node in nodes:
        graph.add_node(
            node.id,
            name=node.name,
            side=node.side,
            seniority=node.seniority,
            title=node.title or "",
            roles=list(node.roles),
            team_role=node.team_role or "",
            active=node.active,
        )
    for edge in edges:
        if edge.source in graph and edge.target in graph:
            graph.add_edge(
                edge.source,
                edge.target,
                key=edge.kind,
                kind=edge.kind,
                strength=edge.strength,
                last_contact_on=edge.last_contact_on.isoformat() if edge.last_contact_on else "",
            )
    return graph


def _people(graph: nx.MultiDiGraph, side: str) -> list[int]:
    return [n for n, d in graph.nodes(data=True) if d["side"] == side and d["active"]]


def _coverage_links(graph: nx.MultiDiGraph):
    """(ours, theirs, edge data) for every coverage link between the two sides."""
    for source, target, data in graph.edges(data=True):
        if data["kind"] not in COVERAGE_KINDS:
            continue
        sides = graph.nodes[source]["side"], graph.nodes[target]["side"]
        active = graph.nodes[source]["active"] and graph.nodes[target]["active"]
        if active and sides == ("internal", "external"):
            yield source, target, data
        elif active and sides == ("external", "internal"):
            yield target, source, data


def _share(part: int, total: int, name: str = "covered") -> dict:
    return {
        name: part,
        "total": total,
        "share": round(part / total, 4) if total else None,
    }


def coverage(graph: nx.MultiDiGraph, ladder: Sequence[str]) -> dict:
    """Covered external stakeholders, overall and per level (share is None with nobody)."""
    covered = {theirs for _ours, theirs, _data in _coverage_links(graph)}
    theirs = _people(graph, "external")
    by_level = {
        level: _share(
            sum(1 for n in theirs if graph.nodes[n]["seniority"] == level and n in covered),
            sum(1 for n in theirs if graph.nodes[n]["seniority"] == level),
        )
        for level in ladder
    }
    return {"overall": _share(len(covered), len(theirs)), "by_level": by_level}


def heard_from(
    graph: nx.MultiDiGraph,
    last_answered: Mapping[int, dt.date],
    ladder: Sequence[str],
    since: dt.date,
) -> dict:
    """Whom we hear from: of each side's active people, those whose latest answer
    (``last_answered``: person id -> its date) is on or after ``since``, overall and per
    level (share None with nobody)."""
    result: dict = {"since": since.isoformat()}
    for side in ("external", "internal"):
        people = _people(graph, side)
        heard = {n for n in people if n in last_answered and last_answered[n] >= since}
        levels = {
            level: [n for n in people if graph.nodes[n]["seniority"] == level] for level in ladder
        }
        result[side] = {
            "overall": _share(len(heard), len(people), "heard"),
            "by_level": {
                level: _share(len(heard.intersection(members)), len(members), "heard")
                for level, members in levels.items()
            },
        }
    return result


def threading(graph: nx.MultiDiGraph) -> dict:
    """How many people on each side carry the relationship, and whether that is too few."""
    links = list(_coverage_links(graph))
    ours = {o for o, _t, _d in links}
    theirs = {t for _o, t, _d in links}
    if not links:
        status = "uncovered" if _people(graph, "external") else "no stakeholders"
    elif len(ours) == 1 or len(theirs) == 1:
        status = "single-threaded"
    else:
        status = "multi-threaded"
    return {
        "our_people": len(ours),
        "their_people": len(theirs),
        "single_threaded": status in ("single-threaded", "uncovered"),
        "status": status,
    }


def executive_coverage(graph: nx.MultiDiGraph, ladder: Sequence[str]) -> dict:
    top = ladder[0]
    sponsors = [
        n for n in _people(graph, "internal") if graph.nodes[n]["team_role"] == "executive_sponsor"
    ]
    pairs = sorted(
        {
            (ours, theirs)
            for ours, theirs, _d in _coverage_links(graph)
            if graph.nodes[ours]["seniority"] == top and graph.nodes[theirs]["seniority"] == top
        }
    )
    their_executives = [n for n in _people(graph, "external") if graph.nodes[n]["seniority"] == top]
    return {
        "executive_sponsor": bool(sponsors),
        "sponsors": sorted(sponsors),
        "executive_links": [{"ours": o, "theirs": t} for o, t in pairs],
        "their_executives": len(their_executives),
        "covered_executives": len({t for _o, t in pairs}),
    }


def key_person_risks(graph: nx.MultiDiGraph) -> list[dict]:
    """Our people whose loss would cut some of their people off from all the rest of ours.

    Our side is merged into one node (we can reach each other), every link counts in both
    directions, and a person is a risk when removing them leaves external stakeholders who
    were connected to us no longer connected. Sorted by how many would be orphaned.
    """
    undirected = nx.Graph()
    ours = set(_people(graph, "internal"))
    theirs = set(_people(graph, "external"))
    undirected.add_nodes_from(theirs | ours)
    undirected.add_node(_US)
    undirected.add_edges_from((_US, person) for person in ours)
    undirected.add_edges_from(
        (s, t) for s, t in graph.edges() if s in undirected and t in undirected and s != t
    )
    reachable = nx.node_connected_component(undirected, _US) & theirs
    risks = []
    for person in set(nx.articulation_points(undirected)) & ours:
        without = undirected.subgraph(n for n in undirected if n != person)
        still = nx.node_connected_component(without, _US)
        orphaned = sorted(n for n in reachable if n not in still)
        if orphaned:
            risks.append({"person": person, "orphaned": orphaned})
    return sorted(risks, key=lambda r: (-len(r["orphaned"]), r["person"]))


def uncovered(graph: nx.MultiDiGraph, ladder: Sequence[str]) -> dict:
    covered = {theirs for _ours, theirs, _data in _coverage_links(graph)}
    theirs = [n for n in _people(graph, "external") if n not in covered]
    return {
        "decision_makers": sorted(
            n for n in theirs if DECISION_ROLES & set(graph.nodes[n]["roles"])
        ),
        "executives": sorted(n for n in theirs if graph.nodes[n]["seniority"] == ladder[0]),
    }


def stale_links(graph: nx.MultiDiGraph, today: dt.date, stale_days: int) -> list[dict]:
    """Coverage links last used ``stale_days`` or more days before ``today``, or never."""
    stale = []
    for ours, theirs, data in _coverage_links(graph):
        last = data["last_contact_on"]
        days = (today - dt.date.fromisoformat(last)).days if last else None
        if days is None or days >= stale_days:
            stale.append({"ours": ours, "theirs": theirs, "kind": data["kind"], "days": days})
    return sorted(stale, key=lambda s: (s["days"] is not None, -(s["days"] or 0), s["theirs"]))


def influence(graph: nx.MultiDiGraph) -> dict[int, float]:
    """PageRank of every person: reporting lines point at the manager, peers both ways.

    Values sum to 1 over the graph; people without links share the baseline.
    """
    directed = nx.DiGraph()
    directed.add_nodes_from(n for n, d in graph.nodes(data=True) if d["active"])
    for source, target, data in graph.edges(data=True):
        if source not in directed or target not in directed:
            continue
        if data["kind"] == "reports_to":
            directed.add_edge(source, target)
        elif data["kind"] == "works_with":
            directed.add_edge(source, target)
            directed.add_edge(target, source)
    if directed.number_of_nodes() == 0:
        return {}
    return {node: round(score, 6) for node, score in nx.pagerank(directed).items()}


def account_metrics(graph: nx.MultiDiGraph, settings: Settings) -> dict:
    """Every figure of the stakeholder map, JSON-ready."""
    return {
        "people": {
            "external": len(_people(graph, "external")),
            "internal": len(_people(graph, "internal")),
        },
        "coverage": coverage(graph, settings.ladder),
        "threading": threading(graph),
        "executive_coverage": executive_coverage(graph, settings.ladder),
        "key_person_risks": key_person_risks(graph),
        "uncovered": uncovered(graph, settings.ladder),
        "stale_links": stale_links(graph, settings.today, settings.stale_days),
        "influence": {str(k): v for k, v in influence(graph).items()},
    }


def node_link(graph: nx.MultiDiGraph) -> dict:
    """The graph as node-link JSON (Cytoscape, d3 and networkx read it back)."""
    return nx.node_link_data(graph, edges="links")


def graphml(graph: nx.MultiDiGraph) -> str:
    """The graph as GraphML (Gephi, yEd); lists become ';'-joined strings."""
    flat = graph.copy()
    for _node, data in flat.nodes(data=True):
        data["roles"] = ";".join(data["roles"])
    return "\n".join(nx.generate_graphml(flat))


def diff(before: Mapping, after: Mapping) -> dict:
    """What changed between two node-link snapshots: people, links and coverage."""

    def people(snapshot):
        return {n["id"]: n for n in snapshot["graph"]["nodes"]}

    def links(snapshot):
        return {(e["source"], e["target"], e["kind"]) for e in snapshot["graph"]["links"]}

    old, new = people(before), people(after)
    old_links, new_links = links(before), links(after)

    def describe(ids, side_of):
        return [{"id": i, "name": side_of[i]["name"], "side": side_of[i]["side"]} for i in ids]

    def as_dicts(keys):
        return [{"source": s, "target": t, "kind": k} for s, t, k in sorted(keys)]

    def share(snapshot):
        return snapshot["metrics"]["coverage"]["overall"]["share"]

    return {
        "joined": describe(sorted(new.keys() - old.keys()), new),
        "left": describe(sorted(old.keys() - new.keys()), old),
        "links_added": as_dicts(new_links - old_links),
        "links_removed": as_dicts(old_links - new_links),
        "coverage": {
            "before": share(before),
            "after": share(after),
            "change": None
            if share(before) is None or share(after) is None
            else round(share(after) - share(before), 4),
        },
    }
