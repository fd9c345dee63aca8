"""The stakeholder map SVG (relhealth.accounts.map), read back as XML."""

import datetime as dt
import itertools
import random
import xml.etree.ElementTree as ET

import pytest

from relhealth.accounts import graph
from relhealth.accounts.graph import Edge, Node, Settings
from relhealth.accounts.map import (
    CARD_W,
    NO_SENTIMENT,
    fit,
    render_map,
    sentiment_colour,
    text_width,
)

TODAY = dt.date(2026, 11, 26)
LADDER = ("executive", "senior", "manager", "staff")
SVG = "{http://www.w3.org/2000/svg}"


def theirs(pid, level, *roles, name=None, title=None):
    return Node(pid, name or f"Their {pid}", "external", level, title or f"Title {pid}", roles)


def ours(pid, level, team_role="member", name=None):
    return Node(pid, name or f"Our {pid}", "internal", level, "Account team", team_role=team_role)


def draw(nodes, edges=(), **options):
    """The map of these people as parsed XML, with the SVG text itself."""
    stakeholders = graph.build_graph(nodes, edges)
    metrics = graph.account_metrics(stakeholders, Settings(ladder=LADDER, today=TODAY))
    svg = render_map(stakeholders, metrics, ladder=LADDER, **options)
    return ET.fromstring(svg), svg  # noqa: S314 -- our own output, not untrusted input


def classes(element) -> set[str]:
    return set(element.get("class", "").split())


def nodes_of(root) -> dict[int, ET.Element]:
    found = {}
    for element in root.iter(f"{SVG}g"):
        if "node" in classes(element):
            pid = int(element.get("data-id"))
            assert pid not in found, f"person {pid} drawn twice"
            found[pid] = element
    return found


def card(node) -> tuple[float, float, float, float]:
    rect = next(r for r in node.iter(f"{SVG}rect") if "node-card" in classes(r))
    return tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))


def edges_of(root) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}path") if "edge" in classes(p)]


@pytest.fixture
def account():
    """Their E1 (decision maker) <- S1 (champion) <- M1, and E2.

    Ours: O (owner) covers S1 and M1, and through them is our only way to E1, whom nobody of
    ours covers; X (executive sponsor) sponsors E2, whom O covers too.
    """
    nodes = [
        theirs(1, "executive", "decision_maker"),
        theirs(2, "executive"),
        theirs(3, "senior", "champion"),
        theirs(4, "manager"),
        ours(10, "manager", "owner"),
        ours(11, "executive", "executive_sponsor"),
    ]
    edges = [
        Edge(3, 1, "reports_to"),
        Edge(4, 3, "reports_to"),
        Edge(10, 3, "covers", 4, TODAY - dt.timedelta(days=5)),
        Edge(10, 4, "covers", 3, TODAY - dt.timedelta(days=200)),
        Edge(11, 2, "sponsors", 5, TODAY - dt.timedelta(days=10)),
        Edge(10, 2, "covers", 2, TODAY - dt.timedelta(days=30)),
        Edge(4, 10, "works_with", 2, TODAY - dt.timedelta(days=3)),
    ]
    return nodes, edges


def test_every_person_is_drawn_once_with_their_side_and_level(account):
    root, _svg = draw(*account)
    drawn = nodes_of(root)
    assert set(drawn) == {1, 2, 3, 4, 10, 11}
    assert drawn[1].get("data-side") == "external"
    assert drawn[10].get("data-side") == "internal"
    assert drawn[3].get("data-level") == "senior"
    assert drawn[3].get("data-name") == "Their 3"


def test_their_people_face_ours_across_the_gutter_with_executives_on_top(account):
    root, _svg = draw(*account)
    drawn = nodes_of(root)
    their_right = max(card(drawn[p])[0] + card(drawn[p])[2] for p in (1, 2, 3, 4))
    our_left = min(card(drawn[p])[0] for p in (10, 11))
    assert their_right < our_left
    assert card(drawn[1])[1] < card(drawn[3])[1] < card(drawn[4])[1]
    assert card(drawn[11])[1] < card(drawn[10])[1]
    levels = [g.get("data-level") for g in root.iter(f"{SVG}g") if "map-level" in classes(g)]
    assert levels == list(LADDER)


def test_the_svg_is_standalone_sized_and_scalable(account):
    root, svg = draw(*account)
    assert root.tag == f"{SVG}svg"
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {width:.0f} {height:.0f}"
    assert "<script" not in svg
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "href" not in svg.replace('url(#rhmap-arrow)"', "")  # no links without person_url
    for node in nodes_of(root).values():
        x, y, w, h = card(node)
        assert x >= 0
        assert x + w <= width
        assert y >= 0
        assert y + h <= height


def test_user_text_is_escaped_and_renders_as_text():
    nasty = '<script>alert("x")</script> & Co'
    root, svg = draw(
        [
            theirs(1, "executive", name=nasty, title="R&D <b>lead</b>\x01"),
            ours(2, "manager", name="O'Brien & Sons"),
        ],
        [Edge(2, 1, "covers")],
        title='Acme <Corp> & "friends"',
        person_url=lambda pid: f"/people/{pid}?a=1&b=2",
    )
    assert "<script>" not in svg
    assert "<b>" not in svg
    drawn = nodes_of(root)
    assert drawn[1].get("data-name") == nasty
    assert drawn[1].get("data-title") == "R&D <b>lead</b>"  # characters XML cannot hold dropped
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert 'Acme <Corp> & "friends"' in texts
    assert any(t.startswith("<script>") for t in texts)
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert "/people/1?a=1&b=2" in links


def test_people_are_links_only_when_a_person_url_is_given(account):
    root, _svg = draw(*account, person_url=lambda pid: f"/people/{pid}")
    links = {a.get("href") for a in root.iter(f"{SVG}a")}
    assert links == {f"/people/{pid}" for pid in (1, 2, 3, 4, 10, 11)}
    root, _svg = draw(*account)
    assert not list(root.iter(f"{SVG}a"))


def test_tooltips_say_who_someone_is_and_who_covers_them(account):
    root, _svg = draw(*account)
    drawn = nodes_of(root)
    tooltip = drawn[3].find(f"{SVG}title").text
    assert tooltip.splitlines()[:3] == ["Their 3", "Title 3", "Senior · their side"]
    assert "Roles: champion" in tooltip
    assert "Covered by Our 10" in tooltip
    assert "Not covered by us" in drawn[1].find(f"{SVG}title").text
    assert "Team: account owner" in drawn[10].find(f"{SVG}title").text


def test_edges_are_styled_by_kind_and_stale_links_are_dotted(account):
    root, _svg = draw(*account)
    edges = {(int(e.get("data-source")), int(e.get("data-target"))): e for e in edges_of(root)}
    assert len(edges) == 7
    reports, covers, stale = edges[3, 1], edges[10, 3], edges[10, 4]
    sponsors, works_with = edges[11, 2], edges[4, 10]
    assert reports.get("marker-end") == "url(#rhmap-arrow)"
    assert covers.get("stroke-dasharray") is None
    assert works_with.get("stroke-dasharray") == "5 4"
    assert float(sponsors.get("stroke-width")) > float(covers.get("stroke-width"))
    assert "edge-stale" in classes(stale)
    assert "edge-stale" not in classes(covers)
    assert float(reports.get("stroke-width")) < float(covers.get("stroke-width"))


def test_gaps_and_key_person_risks_are_highlighted(account):
    root, _svg = draw(*account)
    drawn = nodes_of(root)
    assert "gap-uncovered" in classes(drawn[1])  # an executive nobody of ours knows
    assert "gap-uncovered" not in classes(drawn[2])  # sponsored
    assert "gap-key-person" in classes(drawn[10])  # our only way to E1, S1 and M1
    assert "gap-key-person" not in classes(drawn[11])  # O covers E2 as well
    assert {p for p, node in drawn.items() if "gap-orphaned" in classes(node)} == {1, 3, 4}
    assert "Our 10" in drawn[3].get("data-flags")


def test_decision_makers_champions_and_team_roles_get_badges(account):
    root, _svg = draw(*account)
    drawn = nodes_of(root)

    def badges(pid):
        groups = [g for g in drawn[pid].iter(f"{SVG}g") if "badge" in classes(g)]
        return {next(iter(classes(g) - {"badge"})) for g in groups}

    assert badges(1) == {"badge-D"}
    assert badges(3) == {"badge-C"}
    assert badges(10) == {"badge-O"}
    assert badges(11) == {"badge-S"}
    assert badges(4) == set()


def test_nodes_are_coloured_by_sentiment_and_grey_without_one(account):
    root, _svg = draw(*account, sentiment={1: 1.0, 3: -1.0, 4: None})
    drawn = nodes_of(root)

    def dot(pid):
        return next(c for c in drawn[pid].iter(f"{SVG}circle") if "node-dot" in classes(c))

    assert dot(1).get("fill") == sentiment_colour(1.0) == "#2f9e6b"
    assert dot(3).get("fill") == sentiment_colour(-1.0) == "#d0453a"
    assert dot(4).get("fill") == NO_SENTIMENT
    assert dot(2).get("fill") == NO_SENTIMENT
    assert drawn[1].get("data-sentiment") == "+1.00"
    assert sentiment_colour(5) == sentiment_colour(1.0)  # clamped to the scale


def test_the_legend_explains_links_sentiment_roles_and_gaps(account):
    root, _svg = draw(*account)
    legend = next(g for g in root.iter(f"{SVG}g") if "map-legend" in classes(g))
    text = " ".join("".join(t.itertext()) for t in legend.iter(f"{SVG}text"))
    for words in (
        "covers",
        "works with",
        "sponsors",
        "reports to",
        "stale contact",
        "none yet",
        "decision maker",
        "champion",
        "executive sponsor",
        "uncovered executive",
        "key-person risk",
    ):
        assert words in text


def test_an_account_with_no_people_says_so():
    root, svg = draw([], title="Empty Ltd")
    assert not nodes_of(root)
    assert "No stakeholders recorded yet" in svg
    assert float(root.get("width")) > 0


def test_only_our_side_draws_our_people_and_says_theirs_are_missing():
    root, svg = draw([ours(1, "executive", "executive_sponsor"), ours(2, "staff")])
    assert set(nodes_of(root)) == {1, 2}
    assert "None of their people recorded yet" in svg
    assert "No one known here" in svg


def test_people_without_links_are_still_drawn():
    root, svg = draw([theirs(1, "executive"), theirs(2, "staff"), ours(3, "manager")])
    assert set(nodes_of(root)) == {1, 2, 3}
    assert not edges_of(root)
    assert "No relationships recorded yet" in svg


def test_a_level_off_the_ladder_gets_its_own_band():
    root, _svg = draw([theirs(1, "board"), theirs(2, "executive")])
    drawn = nodes_of(root)
    assert card(drawn[2])[1] < card(drawn[1])[1]
    levels = [g.get("data-level") for g in root.iter(f"{SVG}g") if "map-level" in classes(g)]
    assert levels == [*LADDER, "board"]


def test_long_names_and_titles_are_cut_to_fit_and_kept_whole_in_the_tooltip():
    name = "Maximiliana Alexandrova-Featherstonehaugh"
    title = "Senior Vice President, Global Strategic Procurement and Supplier Relations"
    root, _svg = draw([theirs(1, "executive", name=name, title=title)])
    node = nodes_of(root)[1]
    shown = ["".join(t.itertext()) for t in node.iter(f"{SVG}text")]
    assert shown[0].endswith("…")
    assert name.startswith(shown[0][:-1])
    assert shown[1].endswith("…")
    assert title.startswith(shown[1][:-1])
    assert name in node.find(f"{SVG}title").text
    assert fit("Ada", 12, 100) == "Ada"
    assert text_width(fit(name, 12, 90, bold=True), 12, bold=True) <= 90


def synthetic(people: int, seed: int = 3) -> tuple[list[Node], list[Edge]]:
    """A reporting tree on each side, coverage and peer links, names of every length."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible test data
    shares = (("executive", 0.06), ("senior", 0.14), ("manager", 0.25), ("staff", 0.55))
    nodes, by_level = [], {}
    for side, count in (("external", people * 85 // 100), ("internal", people * 15 // 100)):
        for level, share in shares:
            ids = [len(nodes) + i + 1 for i in range(max(1, round(count * share)))]
            by_level[side, level] = ids
            for pid in ids:
                name = " ".join(
                    rng.choice(("Ada", "Wolfgang", "Li", "Maximiliana", "Bartholomew", "Öznur"))
                    for _ in range(rng.randint(2, 3))
                )
                roles = rng.choice(((), ("decision_maker",), ("champion",), ("blocker",)))
                node = Node(pid, name, side, level, "Director " * rng.randint(1, 6), roles)
                nodes.append(node if side == "external" else Node(**{**node.__dict__, "roles": ()}))
    edges = []
    for (side, level), ids in by_level.items():
        upper = LADDER.index(level) - 1
        for pid in ids:
            if upper >= 0:
                edges.append(Edge(pid, rng.choice(by_level[side, LADDER[upper]]), "reports_to"))
    ours_ids = [n.id for n in nodes if n.side == "internal"]
    theirs_ids = [n.id for n in nodes if n.side == "external"]
    for _ in range(people):
        edges.append(Edge(rng.choice(ours_ids), rng.choice(theirs_ids), "covers"))
        edges.append(Edge(rng.choice(theirs_ids), rng.choice(theirs_ids), "works_with"))
    return nodes, edges


def overlaps(a, b) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


@pytest.mark.parametrize("max_width", [900, 1120, 700])
def test_cards_and_labels_of_200_people_never_overlap(max_width):
    nodes, edges = synthetic(200)
    root, _svg = draw(nodes, edges, max_width=max_width)
    drawn = nodes_of(root)
    assert len(drawn) == len(nodes)
    cards = {pid: card(node) for pid, node in drawn.items()}
    for (p, a), (q, b) in itertools.combinations(cards.items(), 2):
        assert not overlaps(a, b), (p, q)
    for pid, node in drawn.items():
        x, _y, w, _h = cards[pid]
        badges = [c for c in node.iter(f"{SVG}circle") if "node-dot" not in classes(c)]
        for text in node.iter(f"{SVG}text"):
            if "node-name" in classes(text):
                right = x + w - 6 - len(badges) * 16
                used = text_width(text.text, 12, bold=True)
            elif "node-title" in classes(text):
                right = x + w - 6
                used = text_width(text.text, 10.5)
            else:
                continue
            assert float(text.get("x")) + used <= right, (pid, text.text)
    assert max(x + w for x, _y, w, _h in cards.values()) <= max(float(root.get("width")), CARD_W)
