"""Stakeholder-graph metrics on small graphs whose answers are worked out by hand."""

import datetime as dt
import io

import networkx as nx
import pytest

from relhealth.accounts import graph
from relhealth.accounts.graph import Edge, Node, Settings

TODAY = dt.date(2026, 11, 26)
LADDER = ("executive", "senior", "manager", "staff")


def days_ago(n):
    return TODAY - dt.timedelta(days=n)


def theirs(pid, level, *roles):
    return Node(pid, f"Their {pid}", "external", level, f"Title {pid}", tuple(roles))


def ours(pid, level, team_role="member"):
    return Node(pid, f"Our {pid}", "internal", level, team_role=team_role)


@pytest.fixture
def account():
    """Their org: E1 <- S1 <- M1 <- T1 and S1 <- M2; E2 stands apart.

    Ours: O (owner) covers S1 and M1, X (executive sponsor) covers E1, N covers T1.
    """
    nodes = [
        theirs(1, "executive", "decision_maker"),  # E1
        theirs(2, "executive", "decision_maker"),  # E2
        theirs(3, "senior", "champion"),  # S1
        theirs(4, "manager"),  # M1
        theirs(5, "manager"),  # M2
        theirs(6, "staff"),  # T1
        ours(10, "manager", "owner"),  # O
        ours(11, "executive", "executive_sponsor"),  # X
        ours(12, "staff"),  # N
    ]
    edges = [
        Edge(3, 1, "reports_to"),
        Edge(4, 3, "reports_to"),
        Edge(5, 3, "reports_to"),
        Edge(6, 4, "reports_to"),
        Edge(10, 3, "covers", 4, days_ago(10)),
        Edge(10, 4, "covers", 3, days_ago(100)),
        Edge(11, 1, "covers", 5, None),
        Edge(12, 6, "covers", 2, days_ago(90)),
    ]
    return graph.build_graph(nodes, edges)


def test_coverage_counts_covered_stakeholders_overall_and_per_level(account):
    result = graph.coverage(account, LADDER)
    assert result["overall"] == {"covered": 4, "total": 6, "share": 0.6667}
    assert result["by_level"] == {
        "executive": {"covered": 1, "total": 2, "share": 0.5},
        "senior": {"covered": 1, "total": 1, "share": 1.0},
        "manager": {"covered": 1, "total": 2, "share": 0.5},
        "staff": {"covered": 1, "total": 1, "share": 1.0},
    }


def test_a_relationship_carried_by_several_people_on_each_side_is_multi_threaded(account):
    assert graph.threading(account) == {
        "our_people": 3,
        "their_people": 4,
        "single_threaded": False,
        "status": "multi-threaded",
    }


def test_one_of_ours_covering_everyone_is_single_threaded():
    g = graph.build_graph(
        [theirs(1, "staff"), theirs(2, "staff"), ours(9, "manager")],
        [Edge(9, 1, "covers"), Edge(2, 9, "works_with")],
    )
    result = graph.threading(g)
    assert result["status"] == "single-threaded"
    assert result["our_people"] == 1
    assert result["their_people"] == 2


def test_executive_coverage_finds_the_sponsor_and_executive_to_executive_links(account):
    assert graph.executive_coverage(account, LADDER) == {
        "executive_sponsor": True,
        "sponsors": [11],
        "executive_links": [{"ours": 11, "theirs": 1}],
        "their_executives": 2,
        "covered_executives": 1,
    }


def test_uncovered_decision_makers_and_executives(account):
    assert graph.uncovered(account, LADDER) == {"decision_makers": [2], "executives": [2]}


def test_no_key_person_risk_where_their_people_reach_us_several_ways(account):
    assert graph.key_person_risks(account) == []


def test_key_person_risks_are_our_articulation_points_with_who_they_would_orphan():
    # A <- B report to each other; only O covers A. Only P covers C. D is covered twice.
    g = graph.build_graph(
        [
            theirs(1, "staff"),  # A
            theirs(2, "staff"),  # B
            theirs(3, "manager"),  # C
            theirs(4, "senior"),  # D
            theirs(5, "staff"),  # E: nobody covers E, so nobody can orphan E
            ours(10, "manager"),  # O
            ours(11, "manager"),  # P
            ours(12, "staff"),  # Q
        ],
        [
            Edge(2, 1, "reports_to"),
            Edge(10, 1, "covers"),
            Edge(11, 3, "covers"),
            Edge(11, 4, "covers"),
            Edge(12, 4, "works_with"),
        ],
    )
    assert graph.key_person_risks(g) == [
        {"person": 10, "orphaned": [1, 2]},
        {"person": 11, "orphaned": [3]},
    ]


def test_stale_links_are_those_unused_for_the_threshold_or_never(account):
    stale = graph.stale_links(account, TODAY, 90)
    assert stale == [
        {"ours": 11, "theirs": 1, "kind": "covers", "days": None},
        {"ours": 10, "theirs": 4, "kind": "covers", "days": 100},
        {"ours": 12, "theirs": 6, "kind": "covers", "days": 90},
    ]


def test_influence_flows_up_reporting_lines_to_the_top(account):
    scores = graph.influence(account)
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)
    externals = {n: scores[n] for n in (1, 3, 4, 5, 6)}
    assert max(externals, key=externals.get) == 1  # E1 heads the reporting tree
    assert scores[3] > scores[4] > scores[6]


@pytest.mark.parametrize(
    ("nodes", "status", "external"),
    [
        ([], "no stakeholders", 0),
        ([ours(10, "manager"), ours(11, "staff")], "no stakeholders", 0),
        ([theirs(1, "staff"), theirs(2, "executive")], "uncovered", 2),
    ],
    ids=["empty", "only-our-side", "isolated-people"],
)
def test_degenerate_accounts_give_meaningful_figures_not_errors(nodes, status, external):
    metrics = graph.account_metrics(graph.build_graph(nodes, []), Settings(LADDER, 90, TODAY))
    assert metrics["threading"]["status"] == status
    assert metrics["people"]["external"] == external
    assert metrics["coverage"]["overall"]["covered"] == 0
    assert metrics["key_person_risks"] == []
    if external == 0:
        assert metrics["coverage"]["overall"]["share"] is None


def test_whom_we_hear_from_counts_each_side_s_people_who_answered_since_the_cut_off(account):
    since = days_ago(365)
    answered = {
        1: days_ago(30),  # E1: heard
        2: days_ago(400),  # E2: not since the cut-off
        3: since,  # S1: on the day counts
        6: days_ago(2),  # T1
        10: days_ago(5),  # ours: O
        99: days_ago(1),  # someone not on this map
    }
    result = graph.heard_from(account, answered, LADDER, since)
    assert result["since"] == "2025-11-26"
    assert result["external"]["overall"] == {"heard": 3, "total": 6, "share": 0.5}
    assert result["external"]["by_level"] == {
        "executive": {"heard": 1, "total": 2, "share": 0.5},
        "senior": {"heard": 1, "total": 1, "share": 1.0},
        "manager": {"heard": 0, "total": 2, "share": 0.0},
        "staff": {"heard": 1, "total": 1, "share": 1.0},
    }
    assert result["internal"]["overall"] == {"heard": 1, "total": 3, "share": 0.3333}
    assert result["internal"]["by_level"]["senior"] == {"heard": 0, "total": 0, "share": None}
    assert Settings(today=TODAY).heard_since == since


def test_whom_we_hear_from_on_an_empty_map_is_nobody_of_nobody():
    result = graph.heard_from(graph.build_graph([], []), {}, LADDER, TODAY)
    assert result["external"]["overall"] == {"heard": 0, "total": 0, "share": None}


def test_people_who_left_are_not_counted():
    left = Node(3, "Gone", "external", "staff", active=False)
    g = graph.build_graph([theirs(1, "staff"), left, ours(9, "manager")], [Edge(9, 3, "covers")])
    assert graph.coverage(g, LADDER)["overall"] == {"covered": 0, "total": 1, "share": 0.0}


def test_edges_to_people_outside_the_graph_are_left_out():
    g = graph.build_graph([theirs(1, "staff")], [Edge(99, 1, "covers")])
    assert g.number_of_edges() == 0


def test_exports_round_trip_through_networkx(account):
    data = graph.node_link(account)
    back = nx.node_link_graph(data, edges="links")
    assert set(back.nodes) == set(account.nodes)
    assert back.number_of_edges() == account.number_of_edges()
    parsed = nx.read_graphml(io.BytesIO(graph.graphml(account).encode()))
    assert parsed.number_of_nodes() == 9
    assert parsed.nodes["1"]["roles"] == "decision_maker"


def test_diff_lists_who_joined_and_left_links_and_the_coverage_move(account):
    settings = Settings(LADDER, 90, TODAY)
    before = {
        "graph": graph.node_link(account),
        "metrics": graph.account_metrics(account, settings),
    }
    later = account.copy()
    later.remove_node(5)
    later.add_node(
        7,
        name="New",
        side="external",
        seniority="staff",
        title="",
        roles=[],
        team_role="",
        active=True,
    )
    later.add_edge(12, 7, key="covers", kind="covers", strength=3, last_contact_on="")
    after = {"graph": graph.node_link(later), "metrics": graph.account_metrics(later, settings)}
    change = graph.diff(before, after)
    assert change["joined"] == [{"id": 7, "name": "New", "side": "external"}]
    assert change["left"] == [{"id": 5, "name": "Their 5", "side": "external"}]
    assert change["links_added"] == [{"source": 12, "target": 7, "kind": "covers"}]
    assert change["links_removed"] == [{"source": 5, "target": 3, "kind": "reports_to"}]
    assert change["coverage"] == {"before": 0.6667, "after": 0.8333, "change": 0.1666}
