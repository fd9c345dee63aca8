"""The stakeholder map: one account's graph drawn as a standalone SVG.

Pure: a graph from ``relhealth.accounts.graph.build_graph`` and its ``account_metrics`` in, an
SVG string out; no Flask, no database, no JavaScript and no external references, so the same
drawing serves the web page, the API and the PDF reports.

The layout is a grid, so labels cannot collide whatever the number of people: one horizontal
band per seniority level (most senior on top), their people on the left and ours on the right,
both filling outwards from a labelled gutter in the middle so the two sides face each other.
Every person is a fixed-size card; names and titles are cut with an ellipsis to fit it (the
full text is in the card's tooltip). A band is as tall as its fullest side needs.
"""

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import networkx as nx

from relhealth.accounts.graph import COVERAGE_KINDS, DECISION_ROLES, Settings

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
DEFAULT_WIDTH = 1120  # the widest the map grows; more people make it taller, not wider
MIN_WIDTH = 760  # room for the header and the legend on a small account

CARD_W, CARD_H = 178, 42
COL_GAP, ROW_GAP = 10, 10
PAD = 16
GUTTER = 104  # between the two sides, holding the level labels
BAND_PAD = 12
BAND_GAP = 6
MIN_BAND_H = 66
NAME_SIZE, TITLE_SIZE = 12.0, 10.5
DOT_R = 7
BADGE_R = 7

INK, INK_SOFT, LINE = "#1d2433", "#5b6475", "#d5dae3"
THEIRS, OURS = "#6b4fbb", "#127a5b"
THEIRS_SOFT, OURS_SOFT = "#d9d0f2", "#c4e4d7"
GAP_RED, RISK_ORANGE = "#c8372d", "#dd7a00"
NO_SENTIMENT = "#b9c0cc"
SENTIMENT_STOPS = ((-1.0, (0xD0, 0x45, 0x3A)), (0.0, (0xE6, 0xB4, 0x3C)), (1.0, (0x2F, 0x9E, 0x6B)))

EDGE_STYLES = {  # drawn in this order: the thick sponsor line underneath the rest
    "sponsors": {"stroke": "#2457c5", "stroke-width": "3.2", "stroke-opacity": "0.6"},
    "covers": {"stroke": "#3d4a63", "stroke-width": "1.4", "stroke-opacity": "0.6"},
    "works_with": {
        "stroke": "#5b6475",
        "stroke-width": "1.2",
        "stroke-dasharray": "5 4",
        "stroke-opacity": "0.55",
    },
    "reports_to": {"stroke": "#9aa3b2", "stroke-width": "1", "stroke-opacity": "0.7"},
}
# A coverage link nobody has used for the stale period: dotted, whatever its kind.
STALE_STYLE = {"stroke-dasharray": "1.5 3", "stroke-linecap": "round", "stroke-width": "1.8"}
EDGE_PHRASES = {
    "covers": "covers",
    "works_with": "works with",
    "reports_to": "reports to",
    "sponsors": "sponsors",
}
ROLE_LABELS = {
    "decision_maker": "decision maker",
    "economic_buyer": "economic buyer",
    "champion": "champion",
    "influencer": "influencer",
    "user": "user",
    "blocker": "blocker",
}
TEAM_ROLE_LABELS = {
    "owner": "account owner",
    "executive_sponsor": "executive sponsor",
    "member": "account team",
}
# Badge letter, fill, and what it stands for (the legend reads this too).
BADGES = (
    ("D", "#b07d00", "decision maker or economic buyer"),
    ("C", "#0f7a52", "champion"),
    ("B", GAP_RED, "blocker"),
    ("O", "#2457c5", "account owner"),
    ("S", "#16203a", "executive sponsor"),
)
_BADGE = {letter: (fill, meaning) for letter, fill, meaning in BADGES}

# Advance widths of DejaVu Sans (the widest of the fonts in FONT), per mille of the font size,
# for the printable ASCII characters; other characters are assumed wide. Overestimating only
# leaves a label some spare room; underestimating would let it spill out of its card.
_WIDTHS_REGULAR = tuple(
    int(w)
    for w in (
        "318 401 460 838 636 950 780 275 390 390 500 838 318 361 318 337 636 636 636 "
        "636 636 636 636 636 636 636 337 337 838 838 838 531 1000 684 686 698 770 632 "
        "575 775 752 295 295 656 557 863 748 787 603 787 695 635 611 732 684 989 685 "
        "611 685 390 337 390 838 500 500 613 635 550 635 615 352 635 634 278 278 579 "
        "278 974 634 612 635 635 411 521 392 634 592 818 592 592 525 636 337 636 838"
    ).split()
)
_WIDTHS_BOLD = tuple(
    int(w)
    for w in (
        "348 456 521 838 696 1002 872 306 457 457 523 838 380 415 380 365 696 696 696 "
        "696 696 696 696 696 696 696 400 400 838 838 838 580 1000 774 762 734 830 683 "
        "683 821 837 372 372 775 637 995 837 850 733 850 770 720 682 812 774 1103 771 "
        "724 725 457 365 457 838 500 500 675 716 593 716 678 435 716 712 343 343 665 "
        "343 1042 712 687 716 716 493 595 478 712 652 924 645 652 582 712 365 712 838"
    ).split()
)
_ELLIPSIS = "\u2026"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# Text ----------------------------------------------------------------------------------------


def _clean(text: object) -> str:
    """Text safe to put in XML: characters XML 1.0 cannot carry are dropped."""
    return _NOT_XML.sub("", str(text))


def _text(text: object) -> str:
    return escape(_clean(text))


def _attr(text: object) -> str:
    return escape(_clean(text).replace("\n", " "), {'"': "&quot;"})


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width ``text`` takes at ``size`` px (an upper estimate, see _WIDTHS_REGULAR)."""
    table = _WIDTHS_BOLD if bold else _WIDTHS_REGULAR
    total = 0
    for char in text:
        code = ord(char)
        if 32 <= code < 127:
            total += table[code - 32]
        elif char == _ELLIPSIS or code >= 0x2E80:  # CJK and other full-width scripts
            total += 1000
        else:
            total += 800 if bold else 760
    return total * size / 1000


def fit(text: str, size: float, max_width: float, bold: bool = False) -> str:
    """``text`` itself if it fits in ``max_width``, else as much as fits followed by '…'."""
    text = " ".join(_clean(text).split())
    if text_width(text, size, bold) <= max_width:
        return text
    room = max_width - text_width(_ELLIPSIS, size, bold)
    cut = 0
    used = 0.0
    for char in text:
        used += text_width(char, size, bold)
        if used > room:
            break
        cut += 1
    return text[:cut].rstrip(" ,.;:-") + _ELLIPSIS


def _svg_text(x, y, text, *, size, fill=INK, weight=None, anchor=None, css=None, extra=""):
    attrs = [f'x="{x:.1f}"', f'y="{y:.1f}"', f'font-size="{size:g}"', f'fill="{fill}"']
    if weight:
        attrs.append(f'font-weight="{weight}"')
    if anchor:
        attrs.append(f'text-anchor="{anchor}"')
    if css:
        attrs.append(f'class="{css}"')
    if extra:
        attrs.append(extra)
    return f"<text {' '.join(attrs)}>{_text(text)}</text>"


# Colours -------------------------------------------------------------------------------------


def sentiment_colour(score: float | None) -> str:
    """Red (-1) through amber (0) to green (+1); neutral grey when there is no sentiment yet."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return NO_SENTIMENT
    score = max(-1.0, min(1.0, float(score)))
    for (lo, lo_rgb), (hi, hi_rgb) in itertools.pairwise(SENTIMENT_STOPS):
        if score <= hi:
            t = (score - lo) / (hi - lo)
            rgb = (round(a + (b - a) * t) for a, b in zip(lo_rgb, hi_rgb, strict=True))
            return "#" + "".join(f"{c:02x}" for c in rgb)
    return "#{:02x}{:02x}{:02x}".format(*SENTIMENT_STOPS[-1][1])


# What the map shows about each person --------------------------------------------------------


@dataclass
class _Person:
    id: int
    name: str
    side: str
    level: str
    title: str
    roles: list[str]
    team_role: str
    active: bool
    flags: list[str]
    coverage: str
    sentiment: float | None
    badges: list[str]
    score: float | None = None  # latest mean scaled score 0-100 (identified programs only)
    score_change: float | None = None  # since the person's previous answer


def _ids(values) -> set[int]:
    result = set()
    for value in values or ():
        try:
            result.add(int(value))
        except (TypeError, ValueError):
            continue
    return result


def _people(
    graph: nx.MultiDiGraph,
    metrics: Mapping,
    sentiment: Mapping | None,
    scores: Mapping | None = None,
) -> dict:
    uncovered = metrics.get("uncovered") or {}
    uncovered_executives = _ids(uncovered.get("executives"))
    uncovered_deciders = _ids(uncovered.get("decision_makers"))
    risks = {
        int(r["person"]): _ids(r.get("orphaned")) for r in metrics.get("key_person_risks") or ()
    }
    orphaned_by = defaultdict(list)
    for person, orphans in risks.items():
        for orphan in orphans:
            orphaned_by[orphan].append(person)

    links = defaultdict(list)  # person -> [(other side's person, kind)]
    for source, target, data in graph.edges(data=True):
        if data.get("kind") not in COVERAGE_KINDS or source == target:
            continue
        sides = graph.nodes[source]["side"], graph.nodes[target]["side"]
        if sides[0] != sides[1]:
            links[source].append((target, data["kind"]))
            links[target].append((source, data["kind"]))

    def name_of(pid):
        return graph.nodes[pid].get("name") or f"#{pid}"

    people = {}
    for pid, data in graph.nodes(data=True):
        side = data.get("side", "external")
        roles = list(data.get("roles") or ())
        team_role = data.get("team_role") or ""
        others = sorted({name_of(o) for o, _kind in links[pid]})
        if side == "external":
            coverage = ("Covered by " + ", ".join(others)) if others else "Not covered by us"
        else:
            coverage = (
                f"Covers {len(others)} of theirs: " + ", ".join(others)
                if others
                else "Covers no one of theirs"
            )
        flags = []
        if pid in uncovered_executives:
            flags.append("uncovered executive")
        if pid in uncovered_deciders:
            flags.append("uncovered decision maker")
        if pid in risks:
            flags.append(f"key-person risk: {len(risks[pid])} of theirs depend on them alone")
        if pid in orphaned_by:
            names = ", ".join(sorted(name_of(p) for p in orphaned_by[pid]))
            flags.append(f"reached only through {names}")
        if not data.get("active", True):
            flags.append("no longer active")
        badges = []
        if DECISION_ROLES & set(roles):
            badges.append("D")
        if "champion" in roles:
            badges.append("C")
        if "blocker" in roles:
            badges.append("B")
        if team_role == "owner":
            badges.append("O")
        if team_role == "executive_sponsor":
            badges.append("S")
        score = (sentiment or {}).get(pid)
        latest = (scores or {}).get(pid) or {}
        people[pid] = _Person(
            id=pid,
            name=data.get("name") or f"#{pid}",
            side=side if side in ("external", "internal") else "external",
            level=data.get("seniority") or "",
            title=data.get("title") or "",
            roles=roles,
            team_role=team_role,
            active=data.get("active", True),
            flags=flags,
            coverage=coverage,
            sentiment=score,
            badges=badges,
            score=latest.get("score"),
            score_change=latest.get("change"),
        )
    return people


# Layout --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


@dataclass
class _Band:
    level: str
    y: float
    h: float


@dataclass
class _Layout:
    width: float
    height: float
    theirs_x: tuple[float, float]  # the left half, from its outer edge to the gutter
    gutter_x: tuple[float, float]
    ours_x: tuple[float, float]
    bands: list[_Band]
    boxes: dict[int, Box]
    legend_y: float


def map_levels(graph: nx.MultiDiGraph, ladder: Sequence[str]) -> list[str]:
    """The map's bands: the ladder, most senior first, then levels people have off the ladder."""
    levels = list(ladder)
    extra = sorted({d.get("seniority") or "" for _n, d in graph.nodes(data=True)} - set(levels))
    return levels + extra


def _ordered(graph: nx.MultiDiGraph, people: dict, levels: list[str]) -> dict:
    """People per (level, side), placed so that each sits near the person they report to."""
    managers = defaultdict(list)
    reports = defaultdict(int)
    for source, target, data in graph.edges(data=True):
        if data.get("kind") == "reports_to" and source != target:
            managers[source].append(target)
            reports[target] += 1
    team_order = {"executive_sponsor": 0, "owner": 1, "member": 2}
    rank: dict[int, int] = {}
    cells = {}
    for level in levels:
        for side in ("external", "internal"):
            here = [p for p in people.values() if p.level == level and p.side == side]

            def key(p, _rank=rank):
                placed = [_rank[m] for m in managers[p.id] if m in _rank]
                return (
                    min(placed) if placed else math.inf,
                    -reports[p.id],
                    team_order.get(p.team_role, 3),
                    "D" not in p.badges,
                    p.name.casefold(),
                    p.id,
                )

            here.sort(key=key)
            for person in here:
                rank[person.id] = len(rank)
            cells[level, side] = [p.id for p in here]
    return cells


def _columns(cells: dict, levels: list[str], max_width: float) -> tuple[int, int]:
    """How many card columns each side gets, within ``max_width``."""
    widest = {
        side: max([len(cells[level, side]) for level in levels] + [1])
        for side in ("external", "internal")
    }
    total = {
        side: sum(len(cells[level, side]) for level in levels) or 1
        for side in ("external", "internal")
    }
    room = max(2, int((max_width - 2 * PAD - GUTTER + COL_GAP) // (CARD_W + COL_GAP)))
    theirs, ours = widest["external"], widest["internal"]
    if theirs + ours <= room:
        return theirs, ours
    ours = min(
        ours, max(1, round(room * total["internal"] / (total["internal"] + total["external"])))
    )
    ours = min(ours, room - 1)
    theirs = min(theirs, room - ours)
    ours = min(widest["internal"], room - theirs)
    return theirs, ours


def _layout(cells: dict, levels: list[str], top: float, max_width: float) -> _Layout:
    theirs_cols, ours_cols = _columns(cells, levels, max_width)
    step_x, step_y = CARD_W + COL_GAP, CARD_H + ROW_GAP
    natural = 2 * PAD + (theirs_cols + ours_cols) * step_x - 2 * COL_GAP + GUTTER
    width = max(MIN_WIDTH, natural)
    left = PAD + (width - natural) / 2
    gutter_left = left + theirs_cols * step_x - COL_GAP
    gutter_right = gutter_left + GUTTER
    right = gutter_right + ours_cols * step_x - COL_GAP

    boxes, bands, y = {}, [], top
    for level in levels:
        rows = max(
            math.ceil(len(cells[level, "external"]) / theirs_cols),
            math.ceil(len(cells[level, "internal"]) / ours_cols),
            1,
        )
        height = max(MIN_BAND_H, 2 * BAND_PAD + rows * step_y - ROW_GAP)
        inner_top = y + (height - (rows * step_y - ROW_GAP)) / 2
        for index, pid in enumerate(cells[level, "external"]):
            row, col = divmod(index, theirs_cols)  # column 0 is the one next to the gutter
            x = gutter_left - (col + 1) * step_x + COL_GAP
            boxes[pid] = Box(x, inner_top + row * step_y, CARD_W, CARD_H)
        for index, pid in enumerate(cells[level, "internal"]):
            row, col = divmod(index, ours_cols)
            boxes[pid] = Box(gutter_right + col * step_x, inner_top + row * step_y, CARD_W, CARD_H)
        bands.append(_Band(level, y, height))
        y += height + BAND_GAP
    return _Layout(
        width=width,
        height=y,
        theirs_x=(left, gutter_left),
        gutter_x=(gutter_left, gutter_right),
        ours_x=(gutter_right, right),
        bands=bands,
        boxes=boxes,
        legend_y=y + 8,
    )


# Drawing -------------------------------------------------------------------------------------


def _edge_path(a: Box, b: Box, side_a: str, side_b: str) -> str:
    """A smooth curve between two cards, leaving each from the side facing the other."""
    if side_a != side_b:
        # Across the gutter: from the inner edge of each card.
        x1 = a.x + a.w if side_a == "external" else a.x
        x2 = b.x + b.w if side_b == "external" else b.x
        y1, y2 = a.y + a.h / 2, b.y + b.h / 2
        dx = max(36.0, abs(x2 - x1) * 0.45)
        c1 = x1 + (dx if x2 > x1 else -dx)
        c2 = x2 - (dx if x2 > x1 else -dx)
        return f"M{x1:.1f},{y1:.1f} C{c1:.1f},{y1:.1f} {c2:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    if abs(a.y - b.y) < 1:
        # Same row: a shallow arc below the cards in between.
        x1, x2, y = a.x + a.w / 2, b.x + b.w / 2, a.y + a.h
        drop = 10 + min(14.0, abs(x2 - x1) * 0.05)
        return (
            f"M{x1:.1f},{y:.1f} C{x1:.1f},{y + drop:.1f} {x2:.1f},{y + drop:.1f} {x2:.1f},{y:.1f}"
        )
    # Up or down a level: from the bottom of the upper card to the top of the lower one.
    x1 = a.x + a.w / 2
    x2 = b.x + b.w / 2
    y1 = a.y if a.y > b.y else a.y + a.h
    y2 = b.y + b.h if a.y > b.y else b.y
    dy = max(18.0, abs(y2 - y1) * 0.4) * (1 if y2 > y1 else -1)
    return f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + dy:.1f} {x2:.1f},{y2 - dy:.1f} {x2:.1f},{y2:.1f}"


def _edges(graph: nx.MultiDiGraph, layout: _Layout, metrics: Mapping) -> list[str]:
    stale = {
        (int(s["ours"]), int(s["theirs"]), s.get("kind"))
        for s in metrics.get("stale_links") or ()
        if "ours" in s and "theirs" in s
    }
    by_kind = defaultdict(list)
    for source, target, data in graph.edges(data=True):
        if source == target or source not in layout.boxes or target not in layout.boxes:
            continue
        by_kind[data.get("kind", "")].append((source, target, data))
    parts = ['<g class="edges" fill="none">']
    for kind in [*EDGE_STYLES, *sorted(set(by_kind) - set(EDGE_STYLES))]:
        for source, target, data in sorted(by_kind.get(kind, ()), key=lambda e: e[:2]):
            s, t = graph.nodes[source], graph.nodes[target]
            style = dict(EDGE_STYLES.get(kind, EDGE_STYLES["works_with"]))
            is_stale = (source, target, kind) in stale or (target, source, kind) in stale
            if is_stale:
                style.update(STALE_STYLE)
            css = f"edge edge-{kind}" + (" edge-stale" if is_stale else "")
            attrs = " ".join(f'{k}="{v}"' for k, v in style.items())
            if kind == "reports_to":
                attrs += ' marker-end="url(#rhmap-arrow)"'
            path = _edge_path(layout.boxes[source], layout.boxes[target], s["side"], t["side"])
            tip = f"{s.get('name', source)} {EDGE_PHRASES.get(kind, kind)} {t.get('name', target)}"
            if kind != "reports_to":
                tip += f" · strength {data.get('strength', '?')}"
                last = data.get("last_contact_on")
                tip += f" · last contact {last}" if last else " · no contact recorded"
            parts.append(
                f'<path class="{css}" data-source="{source}" data-target="{target}" '
                f'data-kind="{_attr(kind)}" d="{path}" {attrs}><title>{_text(tip)}</title></path>'
            )
    parts.append("</g>")
    return parts


def _node(person: _Person, box: Box, person_url: Callable[[int], str] | None) -> str:
    pad_left = 2 * DOT_R + 14
    text_x = box.x + pad_left
    text_room = box.w - pad_left - 8
    name_room = text_room - len(person.badges) * (2 * BADGE_R + 2)
    roles = ", ".join(ROLE_LABELS.get(r, r.replace("_", " ")) for r in person.roles)
    team_role = TEAM_ROLE_LABELS.get(person.team_role, person.team_role.replace("_", " "))
    side_label = "their side" if person.side == "external" else "our side"
    tooltip = [person.name]
    if person.title:
        tooltip.append(person.title)
    tooltip.append(f"{person.level.capitalize() or 'No level'} · {side_label}")
    if roles:
        tooltip.append(f"Roles: {roles}")
    if team_role:
        tooltip.append(f"Team: {team_role}")
    tooltip.append(person.coverage)
    tooltip.extend(flag[0].upper() + flag[1:] for flag in person.flags)
    if person.score is not None:
        tooltip.append(f"Latest score: {_score_text(person)}")
    if person.sentiment is not None:
        tooltip.append(f"Latest sentiment: {person.sentiment:+.2f}")

    is_gap = any(f.startswith("uncovered") for f in person.flags)
    is_risk = any(f.startswith("key-person") for f in person.flags)
    is_orphan = any(f.startswith("reached only") for f in person.flags)
    card = {
        "fill": "#ffffff",
        "stroke": THEIRS_SOFT if person.side == "external" else OURS_SOFT,
        "stroke-width": "1.2",
    }
    css = ["node", f"side-{person.side}"]
    if is_gap:
        card.update({"stroke": GAP_RED, "stroke-width": "1.8", "stroke-dasharray": "5 3"})
        css.append("gap-uncovered")
    elif is_risk:
        card.update({"stroke": RISK_ORANGE, "stroke-width": "2.4"})
        css.append("gap-key-person")
    if is_orphan:
        css.append("gap-orphaned")
    if not person.active:
        css.append("inactive")
    data = {
        "id": person.id,
        "side": person.side,
        "level": person.level,
        "name": person.name,
        "title": person.title,
        "roles": roles,
        "team-role": team_role,
        "coverage": person.coverage,
        "flags": "; ".join(person.flags),
        "sentiment": "" if person.sentiment is None else f"{person.sentiment:+.2f}",
        "score": "" if person.score is None else _score_text(person),
    }
    data_attrs = " ".join(f'data-{k}="{_attr(v)}"' for k, v in data.items())
    card_attrs = " ".join(f'{k}="{v}"' for k, v in card.items())
    stripe = THEIRS if person.side == "external" else OURS
    cy = box.y + box.h / 2
    parts = [
        f'<g class="{" ".join(css)}" {data_attrs}'
        + (' opacity="0.55"' if not person.active else "")
        + ">",
        f"<title>{_text(chr(10).join(tooltip))}</title>",
        f'<rect class="node-card" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" '
        f'height="{box.h:.1f}" rx="6" {card_attrs}/>',
        # A thin stripe on the card's edge in the side's colour.
        f'<rect x="{box.x + 3:.1f}" y="{box.y + 6:.1f}" width="3" height="{box.h - 12:.1f}" '
        f'rx="1.5" fill="{stripe}" opacity="0.7"/>',
        f'<circle class="node-dot" cx="{box.x + 8 + DOT_R + 3:.1f}" cy="{cy:.1f}" r="{DOT_R}" '
        f'fill="{sentiment_colour(person.sentiment)}" stroke="#ffffff" stroke-width="1.5"/>',
        _svg_text(
            text_x,
            box.y + 17,
            fit(person.name, NAME_SIZE, name_room, bold=True),
            size=NAME_SIZE,
            weight="600",
            css="node-name",
        ),
    ]
    subtitle = person.title or (team_role.capitalize() if team_role else "")
    subtitle_room = text_room
    if person.score is not None:
        mark = _score_mark(person)
        subtitle_room -= text_width(mark, TITLE_SIZE, bold=True) + (15 if is_orphan else 6)
        parts.append(
            _svg_text(
                box.x + box.w - (16 if is_orphan else 7),  # clear of the corner fold
                box.y + 32,
                mark,
                size=TITLE_SIZE,
                weight="700",
                anchor="end",
                fill=sentiment_colour((person.score - 50) / 50),
                css="node-score",
            )
        )
    if subtitle:
        parts.append(
            _svg_text(
                text_x,
                box.y + 32,
                fit(subtitle, TITLE_SIZE, subtitle_room),
                size=TITLE_SIZE,
                fill=INK_SOFT,
                css="node-title",
            )
        )
    if is_orphan:
        # A small corner fold rather than a border: on a single-threaded account it is
        # nearly everyone, and the border stays free for the gaps that need action.
        parts.append(_orphan_mark(box.x + box.w, box.y + box.h))
    for index, letter in enumerate(reversed(person.badges)):
        bx = box.x + box.w - 6 - BADGE_R - index * (2 * BADGE_R + 2)
        parts.append(_badge(bx, box.y + 12, letter))
    parts.append("</g>")
    node = "".join(parts)
    if person_url is None:
        return node
    return f'<a class="node-link" href="{_attr(person_url(person.id))}">{node}</a>'


def _score_mark(person: _Person) -> str:
    """The score on a card: '72', with an arrow when it moved since the previous answer."""
    mark = f"{person.score:.0f}"
    if person.score_change is not None and round(person.score_change) != 0:
        mark += (
            "\u25b2" if person.score_change > 0 else "\u25bc"
        ) + f"{abs(person.score_change):.0f}"
    return mark


def _score_text(person: _Person) -> str:
    text = f"{person.score:.0f}/100"
    if person.score_change is not None:
        text += f" ({person.score_change:+.0f} since their previous answer)"
    return text


def _orphan_mark(right: float, bottom: float) -> str:
    return (
        f'<path class="orphan-mark" d="M{right - 13:.1f},{bottom - 2:.1f} '
        f"L{right - 2:.1f},{bottom - 13:.1f} L{right - 2:.1f},{bottom - 6:.1f} "
        f'Q{right - 2:.1f},{bottom - 2:.1f} {right - 6:.1f},{bottom - 2:.1f} Z" '
        f'fill="{RISK_ORANGE}"/>'
    )


def _badge(cx: float, cy: float, letter: str) -> str:
    fill, meaning = _BADGE[letter]
    return (
        f'<g class="badge badge-{letter}"><title>{_text(meaning)}</title>'
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{BADGE_R}" fill="{fill}"/>'
        + _svg_text(cx, cy + 3.3, letter, size=9, fill="#ffffff", weight="700", anchor="middle")
        + "</g>"
    )


def _header(graph, metrics, title, layout_width, notices) -> list[str]:
    parts, y = [], PAD
    if title:
        y += 18
        parts.append(
            _svg_text(
                PAD,
                y,
                fit(title, 17, layout_width - 2 * PAD, bold=True),
                size=17,
                weight="700",
                css="map-title",
            )
        )
    theirs = sum(1 for _n, d in graph.nodes(data=True) if d.get("side") == "external")
    ours = graph.number_of_nodes() - theirs
    summary = [f"{theirs} of theirs", f"{ours} of ours"]
    overall = ((metrics.get("coverage") or {}).get("overall")) or {}
    if overall.get("share") is not None:
        summary.append(
            f"{overall['share']:.0%} of theirs covered ({overall['covered']}/{overall['total']})"
        )
    status = (metrics.get("threading") or {}).get("status")
    if status:
        summary.append(status)
    y += 20
    parts.append(_svg_text(PAD, y, " · ".join(summary), size=12, fill=INK_SOFT, css="map-summary"))
    for notice, colour in notices:
        y += 18
        parts.append(
            _svg_text(PAD, y, notice, size=12, fill=colour, weight="600", css="map-notice")
        )
    return parts


def _column_heads(layout: _Layout, y: float) -> list[str]:
    (_t0, t1), (g0, g1), (o0, _o1) = layout.theirs_x, layout.gutter_x, layout.ours_x
    return [
        _svg_text(t1, y, "THEIR PEOPLE", size=11, fill=THEIRS, weight="700", anchor="end"),
        _svg_text((g0 + g1) / 2, y, "LEVEL", size=10, fill=INK_SOFT, anchor="middle"),
        _svg_text(o0, y, "OUR PEOPLE", size=11, fill=OURS, weight="700"),
    ]


def _bands(layout: _Layout, cells: dict, metrics: Mapping) -> tuple[list[str], list[str]]:
    """Band backgrounds (under the edges) and the gutter labels (over them)."""
    by_level = (metrics.get("coverage") or {}).get("by_level") or {}
    (t0, t1), (g0, g1), (o0, o1) = layout.theirs_x, layout.gutter_x, layout.ours_x
    under, over = [], []
    for index, band in enumerate(layout.bands):
        fill = "#f4f6f9" if index % 2 == 0 else "#fafbfc"
        under.append(
            f'<rect class="band" data-level="{_attr(band.level)}" x="{PAD / 2:.1f}" '
            f'y="{band.y:.1f}" width="{layout.width - PAD:.1f}" height="{band.h:.1f}" rx="8" '
            f'fill="{fill}"/>'
        )
        for side, (x0, x1) in (("external", (t0, t1)), ("internal", (o0, o1))):
            if cells[band.level, side]:
                continue
            message = "No one known here" if side == "external" else "No one of ours here"
            anchor = "end" if side == "external" else None
            under.append(
                _svg_text(
                    x1 - 6 if side == "external" else x0 + 6,
                    band.y + band.h / 2 + 4,
                    fit(message, 11, CARD_W),
                    size=11,
                    fill="#98a0ae",
                    anchor=anchor,
                    css="map-empty-cell",
                    extra='font-style="italic"',
                )
            )
        # Near the top of a tall band, so the label is in view where the band starts.
        mid, cy = (g0 + g1) / 2, band.y + min(band.h / 2, 44)
        share = by_level.get(band.level) or {}
        covered = (
            f"{share['covered']}/{share['total']} covered" if share.get("total") else "none known"
        )
        over.append(
            f'<g class="map-level" data-level="{_attr(band.level)}">'
            f'<rect x="{g0 + 6:.1f}" y="{cy - 20:.1f}" width="{GUTTER - 12:.1f}" height="40" '
            f'rx="8" fill="#ffffff" stroke="{LINE}"/>'
            + _svg_text(
                mid,
                cy - 3,
                fit(band.level.capitalize() or "No level", 12, GUTTER - 20, bold=True),
                size=12,
                weight="700",
                anchor="middle",
            )
            + _svg_text(mid, cy + 12, covered, size=10, fill=INK_SOFT, anchor="middle")
            + "</g>"
        )
    return under, over


def _legend(y: float, width: float) -> tuple[list[str], float]:
    """The key to the drawing, as rows of swatches flowing within ``width``."""

    def line(style: Mapping[str, str], marker=False):
        attrs = " ".join(f'{k}="{v}"' for k, v in style.items())
        end = ' marker-end="url(#rhmap-arrow)"' if marker else ""

        def draw(x, cy):
            return f'<path d="M{x:.1f},{cy:.1f} h26" fill="none" {attrs}{end}/>'

        return draw

    def dot(colour):
        return lambda x, cy: f'<circle cx="{x + 8:.1f}" cy="{cy:.1f}" r="{DOT_R}" fill="{colour}"/>'

    def card(**style):
        attrs = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in style.items())
        return lambda x, cy: (
            f'<rect x="{x:.1f}" y="{cy - 8:.1f}" width="26" height="16" rx="4" fill="#ffffff" '
            f"{attrs}/>"
        )

    def badge(letter):
        return lambda x, cy: _badge(x + 8, cy, letter)

    def orphan(x, cy):
        return (
            f'<rect x="{x:.1f}" y="{cy - 8:.1f}" width="26" height="16" rx="4" fill="#ffffff" '
            f'stroke="{LINE}"/>' + _orphan_mark(x + 26, cy + 8)
        )

    def gradient(x, cy):
        stops = "".join(
            f'<rect x="{x + i * 6:.1f}" y="{cy - 5:.1f}" width="6" height="10" '
            f'fill="{sentiment_colour(-1 + i / 3)}"/>'
            for i in range(7)
        )
        return f"<g>{stops}</g>"

    sections = [
        (
            "Links",
            [
                (line(EDGE_STYLES["covers"]), "covers"),
                (line(EDGE_STYLES["works_with"]), "works with"),
                (line(EDGE_STYLES["sponsors"]), "sponsors"),
                (line(EDGE_STYLES["reports_to"], marker=True), "reports to (arrow to manager)"),
                (line({**EDGE_STYLES["covers"], **STALE_STYLE}), "stale contact"),
            ],
        ),
        (
            "Sentiment",
            [
                (gradient, "negative to positive (latest)"),
                (dot(NO_SENTIMENT), "none yet"),
            ],
        ),
        ("Roles", [(badge(letter), meaning) for letter, _fill, meaning in BADGES]),
        (
            "Gaps",
            [
                (
                    card(stroke=GAP_RED, stroke_width="1.8", stroke_dasharray="5 3"),
                    "uncovered executive or decision maker",
                ),
                (card(stroke=RISK_ORANGE, stroke_width="2.4"), "key-person risk (ours)"),
                (orphan, "reached through one of ours only"),
            ],
        ),
    ]
    label_w, swatch_w, row_h = 78, 34, 22
    parts = [f'<g class="map-legend" transform="translate(0 {y:.1f})">']
    parts.append(f'<line x1="{PAD}" y1="0" x2="{width - PAD:.1f}" y2="0" stroke="{LINE}"/>')
    cy = row_h - 4
    for heading, items in sections:
        parts.append(_svg_text(PAD, cy + 4, heading, size=11, weight="700", fill=INK_SOFT))
        x = PAD + label_w
        for draw, text in items:
            swatch = swatch_w + (16 if draw is gradient else 0)
            item_w = swatch + text_width(text, 11) + 18
            if x + item_w > width - PAD and x > PAD + label_w:
                x, cy = PAD + label_w, cy + row_h
            parts.append(draw(x, cy))
            parts.append(_svg_text(x + swatch, cy + 4, text, size=11, fill=INK))
            x += item_w
        cy += row_h
    parts.append("</g>")
    return parts, y + cy + 4


def _defs() -> str:
    return (
        '<defs><marker id="rhmap-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto">'
        f'<path d="M0,1 L9,5 L0,9 z" fill="{EDGE_STYLES["reports_to"]["stroke"]}"/>'
        "</marker></defs>"
    )


def _document(
    width: float, height: float, body: list[str], title: str | None, interactive: bool = False
) -> str:
    label = f"Stakeholder map of {title}" if title else "Stakeholder map"
    # A picture to assistive technology, unless it holds links to people, which must stay
    # reachable.
    role = "group" if interactive else "img"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="stakeholder-map" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="{role}" aria-label="{_attr(label)}" font-family="{FONT}">'
        f"<title>{_text(label)}</title>" + "".join(body) + "</svg>"
    )


def _empty(title: str | None, message: str, hint: str) -> str:
    width, height = MIN_WIDTH, 180 if title else 150
    y = PAD
    body = [f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    if title:
        y += 18
        body.append(_svg_text(PAD, y, fit(title, 17, width - 2 * PAD, True), size=17, weight="700"))
    body.append(
        f'<rect x="{PAD}" y="{y + 14}" width="{width - 2 * PAD}" height="{height - y - 30}" '
        f'rx="10" fill="#f6f7f9" stroke="#cfd4de" stroke-dasharray="6 4"/>'
    )
    mid = y + 14 + (height - y - 30) / 2
    body.append(
        _svg_text(
            width / 2, mid - 4, message, size=15, weight="700", anchor="middle", css="map-empty"
        )
    )
    body.append(_svg_text(width / 2, mid + 16, hint, size=12, fill=INK_SOFT, anchor="middle"))
    return _document(width, height, body, title)


def render_map(
    graph: nx.MultiDiGraph,
    metrics: Mapping,
    *,
    title: str | None = None,
    sentiment: Mapping[int, float | None] | None = None,
    scores: Mapping[int, Mapping[str, float | None]] | None = None,
    ladder: Sequence[str] | None = None,
    person_url: Callable[[int], str] | None = None,
    max_width: float = DEFAULT_WIDTH,
) -> str:
    """The stakeholder map of one account as a standalone SVG document.

    ``metrics`` is ``graph.account_metrics`` of the same graph (it marks the gaps); ``sentiment``
    maps person ids to their latest score in [-1, 1] (grey without one); ``scores`` maps person
    ids to ``{"score": 0-100, "change": since their previous answer or None}``, written on the
    card (leave people out to show nothing, e.g. in confidential programs); ``ladder`` orders the
    bands (by default the levels of ``metrics``); ``person_url`` makes each person a link (leave
    it out for PDFs). All text is escaped; an empty graph gives a map that says so.
    """
    metrics = metrics or {}
    if graph.number_of_nodes() == 0:
        return _empty(
            title,
            "No stakeholders recorded yet",
            "Add their people and our account team to see the map.",
        )
    levels = map_levels(
        graph, ladder or (metrics.get("coverage") or {}).get("by_level") or Settings().ladder
    )
    people = _people(graph, metrics, sentiment, scores)
    cells = _ordered(graph, people, levels)

    notices = []
    if not any(p.side == "external" for p in people.values()):
        notices.append(("None of their people recorded yet", GAP_RED))
    if not any(p.side == "internal" for p in people.values()):
        notices.append(("No one of ours on this account yet", GAP_RED))
    elif metrics.get("executive_coverage") and not metrics["executive_coverage"].get(
        "executive_sponsor"
    ):
        notices.append(("No executive sponsor of ours", GAP_RED))
    if graph.number_of_edges() == 0:
        notices.append(("No relationships recorded yet", INK_SOFT))

    header_bottom = PAD + (18 if title else 0) + 20 + 18 * len(notices) + 10
    layout = _layout(cells, levels, header_bottom + 22, max_width)
    header = _header(graph, metrics, title, layout.width, notices)
    under, over = _bands(layout, cells, metrics)
    legend, height = _legend(layout.legend_y, layout.width)

    body = [
        _defs(),
        f'<rect class="map-background" width="{layout.width:.0f}" height="{height:.0f}" '
        'fill="#ffffff"/>',
        *header,
        *_column_heads(layout, header_bottom + 12),
        *under,
        *_edges(graph, layout, metrics),
        *over,
        '<g class="nodes">',
        *(
            _node(people[pid], layout.boxes[pid], person_url)
            for level in levels
            for side in ("external", "internal")
            for pid in cells[level, side]
        ),
        "</g>",
        *legend,
    ]
    return _document(layout.width, height, body, title, interactive=person_url is not None)
