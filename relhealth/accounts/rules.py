"""Relationship rules, as pure functions shared by the API services and the CSV importer."""

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from relhealth.accounts.models import RelationshipKind, Side


@dataclass(frozen=True)
class End:
    """What the rules need to know of one end of a relationship."""

    id: object  # a database id, or a CSV key before the person exists
    side: Side
    account_id: object


def relationship_violation(
    source: End, target: End, kind: RelationshipKind
) -> tuple[str, str] | None:
    """The (field, message) of the first rule the edge ``source -kind-> target`` breaks."""
    if source.id == target.id:
        return "target_id", "A person cannot have a relationship with themselves."
    if (
        source.side == Side.EXTERNAL
        and target.side == Side.EXTERNAL
        and source.account_id != target.account_id
    ):
        return "target_id", "People of two different accounts cannot be linked."
    if kind == RelationshipKind.COVERS and not (
        source.side == Side.INTERNAL and target.side == Side.EXTERNAL
    ):
        return "kind", "'covers' goes from one of our people to one of theirs."
    if kind == RelationshipKind.REPORTS_TO and source.side != target.side:
        return "kind", "'reports_to' links two people of the same organisation."
    return None


def reporting_cycle(edges: Iterable[tuple[object, object]]) -> list[object] | None:
    """The people on a cycle of ``reports_to`` edges, or None when the lines are acyclic."""
    graph = nx.DiGraph(edges)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return [source for source, _target in cycle]


def closes_cycle(edges: Iterable[tuple[object, object]], source: object, target: object) -> bool:
    """Whether adding ``source reports_to target`` to acyclic ``edges`` makes a cycle."""
    graph = nx.DiGraph(edges)
    return graph.has_node(target) and graph.has_node(source) and nx.has_path(graph, target, source)
