"""Charts of the analytics frames, drawn with matplotlib into standalone SVG strings, or for
the PDF reports into JPEG images of the same drawing.

Pure: metric frames (``trends.trend``, ``metrics.internal_external_gap``, the portfolio summary)
in, an SVG document out (with ``dpi``: the JPEG bytes of it at that resolution), so the web
pages inline the same chart the PDF reports print. Every chart shows its n; a point whose
status is not ``"ok"`` (too few respondents, or suppressed in a confidential program) is a
labelled gap, never a zero.

The reports print bitmaps because WeasyPrint draws an SVG node by node, every label a text
layout of its own, and embeds a JPEG in a fraction of that time. The trend, gap and heatmap
charts place their axes themselves, in inches, instead of using constrained layout, which
measured every text of the figure over again.

No pyplot: each chart is a ``matplotlib.figure.Figure`` of its own, so nothing is shared
between requests. The few settings matplotlib only reads from its global ``rcParams`` (the SVG
font type, the id salt) are applied around the drawing under a lock.

In the SVG documents text stays text (``svg.fonttype = "none"``): they are a fraction of the
size of glyph paths, the words can be selected and read by screen readers, and the layout is
measured with DejaVu Sans, which the server has (fonts-dejavu-core, also what WeasyPrint uses
for the PDFs). Browsers without DejaVu fall back to Verdana, whose metrics DejaVu was derived
from, then to any sans-serif. matplotlib escapes all text for XML; ``_plain`` also stops user
text (account names, dimension labels) from being read as mathtext. The output holds no script
and no external reference: ids are prefixed per chart so several charts can share one page.
"""

import hashlib
import io
import math
import re
import textwrap
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.textpath import text_to_path
from matplotlib.transforms import ScaledTranslation, Transform, blended_transform_factory
from PIL import Image

INK, INK_SOFT, LINE, GRID = "#1d2433", "#5b6475", "#c9ced8", "#eceef2"
THEIRS, OURS = "#6b4fbb", "#127a5b"
RED, AMBER, GREEN = "#c8372d", "#d69e2e", "#2f9e6b"
MUTED = "#9aa2b1"
PALETTE = (
    "#2457c5",
    "#d0453a",
    "#127a5b",
    "#6b4fbb",
    "#dd7a00",
    "#0e8a9e",
    "#8a5a00",
    "#c2185b",
    "#5b6475",
    "#16203a",
)
SIDE_COLOURS = {"external": THEIRS, "internal": OURS}
SIDE_LABELS = {"external": "Their side", "internal": "Our side"}
GAP_CLASS_COLOURS = {"aligned": GREEN, "misaligned": AMBER, "strongly_misaligned": RED}
GAP_CLASS_LABELS = {
    "aligned": "aligned",
    "misaligned": "misaligned",
    "strongly_misaligned": "strongly misaligned",
}
# The same red-amber-green as the stakeholder map's sentiment dots.
SCORE_COLOURS = LinearSegmentedColormap.from_list(
    "relhealth_score", ["#d0453a", "#e6b43c", "#2f9e6b"]
)

WIDTH = 7.2  # inches: the text width of an A4 report page; pages scale it with CSS
FONT_FAMILY = ["DejaVu Sans", "Verdana"]
_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "relhealth",
    "svg.image_inline": True,
    "font.family": "sans-serif",
    "font.sans-serif": FONT_FAMILY,
    "font.size": 9,
    "text.color": INK,
    "axes.edgecolor": LINE,
    "axes.labelcolor": INK_SOFT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "xtick.color": INK_SOFT,
    "ytick.color": INK_SOFT,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "axes.unicode_minus": True,
}
_MARGIN = 0.08  # inches: the blank edge of a chart with a fixed layout
_NOTE_LINE = 0.125  # inches: a line of the 7 pt notes under a chart
_LOCK = threading.Lock()
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_GLOBAL_STYLE = re.compile(r'\s*<style type="text/css">[^<]*</style>')
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_ID = re.compile(r'\bid="([^"]+)"')

OK, INSUFFICIENT, SUPPRESSED = "ok", "insufficient", "suppressed"
GAP_NOTE = (
    "\u00d7 n=2: too few respondents for a score (insufficient signal); "
    "\u00d7 suppressed (supp.): fewer than k respondents in a confidential program."
)


# Text ----------------------------------------------------------------------------------------


def _plain(text: object) -> str:
    """User text as matplotlib draws it literally: no mathtext, only characters XML allows."""
    return _NOT_XML.sub("", str(text)).replace("$", r"\$")


def label_of(value: object, labels: Mapping[str, str] | None = None) -> str:
    """How a series key reads in a chart: ``labels`` first, then a tidied key."""
    key = str(value)
    if labels and key in labels:
        return str(labels[key])
    if key in SIDE_LABELS:
        return SIDE_LABELS[key]
    return key.replace("_", " ").capitalize()


def _number(value: float) -> str:
    return f"{value:.0f}" if not math.isnan(value) else "\u2013"


def _signed(value: float) -> str:
    if value is None or math.isnan(value):
        return ""
    return "\u00b10" if round(value) == 0 else f"{value:+.0f}"


def money(value: float) -> str:
    """A compact amount: 950, 12k, 1.2M."""
    if value is None or math.isnan(value):
        return "\u2013"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:,.0f}"


def _n(value: object) -> int | None:
    """A count from a frame cell, or None when it is blank (suppressed) or missing."""
    if value is None or pd.isna(value):
        return None
    return int(value)


def _status(row: Mapping) -> str:
    status = row.get("status", OK)
    return OK if status is None or pd.isna(status) else str(status)


def _text_width(text: str, size: float, weight: str = "normal") -> float:
    """How wide ``text`` is drawn in the charts' font, in inches (for the fixed layouts), with
    5% to spare: hinted glyphs at screen resolutions come out a little wider."""
    font = FontProperties(family=FONT_FAMILY[0], size=size, weight=weight)
    lines = str(text).split("\n")
    points = max(text_to_path.get_text_width_height_descent(s, font, False)[0] for s in lines)
    return 1.05 * points / 72


def _notes(fig: Figure, notes: Sequence[str]) -> None:
    """The notes under a chart with a fixed layout, in its bottom left corner."""
    width, height = fig.get_size_inches()
    fig.text(
        _MARGIN / width,
        _MARGIN / height,
        "\n".join(notes),
        fontsize=7,
        color=INK_SOFT,
        va="bottom",
    )


def gap_label(status: str, n: int | None) -> str:
    """What a chart writes where a point is missing."""
    if status == SUPPRESSED:
        return "suppressed"
    return f"n={n}" if n is not None else "no data"


# Rendering -----------------------------------------------------------------------------------


def _render(
    kind: str,
    title: str | None,
    size: tuple[float, float],
    build: Callable,
    *,
    dpi: int | None = None,
    layout: str | None = "constrained",
) -> str | bytes:
    """Draw ``build(fig)`` on a fresh figure: an inline-ready SVG document, or with ``dpi`` the
    JPEG bytes of the same drawing at that resolution.

    ``layout=None`` is for charts that place their axes themselves, in inches (the trend, gap
    and heatmap charts): constrained layout measures every text of the figure over again and
    was about a third of the drawing time.
    """
    with _LOCK, mpl.rc_context(_RC):
        figure = Figure(figsize=size, dpi=dpi, layout=layout, facecolor="#ffffff")
        if dpi is not None:
            canvas = FigureCanvasAgg(figure)
            build(figure)
            canvas.draw()
            return _jpeg(canvas)
        buffer = io.StringIO()
        FigureCanvasSVG(figure)
        build(figure)
        figure.savefig(
            buffer,
            format="svg",
            metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
        )
    return _tidy(buffer.getvalue(), kind, title)


def _jpeg(canvas: FigureCanvasAgg) -> bytes:
    """The drawn canvas as a JPEG, at quality 92 without chroma subsampling.

    JPEG because WeasyPrint embeds a JPEG's bytes as they are, where it decodes a PNG and
    compresses its pixels again for the PDF (~0.1 s a chart at 200 dpi); without subsampling
    and at this quality the coloured lines and 7 pt labels keep sharp edges. Opaque, as JPEG
    is: WeasyPrint would otherwise split an alpha channel into a second image (a soft mask).
    """
    image = Image.frombuffer(
        "RGBA", canvas.get_width_height(physical=True), canvas.buffer_rgba(), "raw", "RGBA", 0, 1
    ).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, subsampling=0)
    return buffer.getvalue()


def _tidy(svg: str, kind: str, title: str | None) -> str:
    """matplotlib's file made fit to inline: no prolog or DOCTYPE, no page-wide style rule,
    ids unique to this chart, and a title for assistive technology."""
    svg = _PROLOG.sub("", svg, count=1)
    svg = _METADATA.sub("", svg)
    svg = _GLOBAL_STYLE.sub("", svg, count=1)
    prefix = f"rh-{kind}-{hashlib.sha1(svg.encode()).hexdigest()[:8]}-"  # noqa: S324 -- ids
    for name in set(_ID.findall(svg)):
        svg = svg.replace(f'id="{name}"', f'id="{prefix}{name}"')
        svg = svg.replace(f'href="#{name}"', f'href="#{prefix}{name}"')
        svg = svg.replace(f"url(#{name})", f"url(#{prefix}{name})")
    label = _xml_attr(title or kind.replace("-", " ").capitalize() + " chart")
    head = (
        f'<svg class="chart chart-{kind}" role="img" aria-label="{label}" '
        'stroke-linejoin="round" stroke-linecap="butt" '
    )
    svg = svg.replace("<svg ", head, 1)
    return re.sub(r"(<svg\b[^>]*>)", rf"\1<title>{label}</title>", svg, count=1)


def _xml_attr(text: str) -> str:
    text = _NOT_XML.sub("", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\\", "&#92;")
    )


def empty_chart(
    message: str, *, title: str | None = None, hint: str = "", dpi: int | None = None
) -> str | bytes:
    """A small chart that says why there is nothing to draw (for reports; pages say it in HTML).

    As for every chart, ``title`` is the drawing's accessible name; the visible heading is
    the page's or the report's."""

    def build(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.6, _plain(message), ha="center", va="center", fontsize=11, weight="bold")
        if hint:
            ax.text(0.5, 0.3, _plain(hint), ha="center", va="center", color=INK_SOFT)

    return _render("empty", title or message, (WIDTH, 1.4), build, dpi=dpi)


# Trends --------------------------------------------------------------------------------------


def _period_labels(frame: pd.DataFrame, compact: bool = False) -> tuple[list, list[str]]:
    """The waves in order (by when they opened) and how the axis names them (on two lines
    when ``compact``)."""
    if "wave_at" not in frame:
        raise ValueError("a trend frame needs a wave_at column")
    stamps = sorted(pd.to_datetime(frame["wave_at"], utc=True).dropna().unique())
    if "period" in frame:
        named = frame.drop_duplicates("wave_at").set_index("wave_at")["period"]
        return stamps, [_plain(named.get(stamp, "")) for stamp in stamps]
    pattern = "%b\n%Y" if compact else "%b %Y"
    labels = [pd.Timestamp(s).strftime(pattern) for s in stamps]
    if len(set(labels)) < len(labels):
        labels = [pd.Timestamp(s).strftime("%d " + pattern) for s in stamps]
    return stamps, labels


def _ordered_keys(values: pd.Series, order: Sequence | None) -> list:
    present = list(pd.unique(values.dropna()))
    if order is None:
        return sorted(present, key=str)
    known = [v for v in order if v in set(present)]
    return known + sorted((v for v in present if v not in set(known)), key=str)


def _colours(series: str | None, keys: Sequence) -> dict:
    if series == "side":
        return {k: SIDE_COLOURS.get(str(k), PALETTE[i % len(PALETTE)]) for i, k in enumerate(keys)}
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}


def _value_limits(frame: pd.DataFrame, columns: Sequence[str], floor: float, ceiling: float):
    """A y range that holds every value and CI, snapped to tens, at least 30 points tall."""
    values = pd.concat([frame[c] for c in columns if c in frame], ignore_index=True).dropna()
    if values.empty:
        return floor, ceiling
    low = max(floor, math.floor(values.min() / 10) * 10)
    high = min(ceiling, math.ceil(values.max() / 10) * 10)
    while high - low < 30:
        low, high = max(floor, low - 10), min(ceiling, high + 10)
        if (low, high) == (floor, ceiling):
            break
    return low, high


def _trend_panel(
    ax,
    table_row: Callable[[float], Transform],
    frame: pd.DataFrame,
    stamps: list,
    *,
    series: str | None,
    keys: list,
    colours: Mapping,
    value: str,
    labels: Mapping[str, str] | None,
    limits: tuple[float, float],
) -> tuple[list, bool, bool]:
    """One panel: a line (and CI band) per series, gaps labelled, the n table underneath.

    The n table is text of the panel's own axes, placed below it by ``table_row`` (a row
    number to a transform: x in data, y under the tick labels) rather than axes of its own,
    which cost as much to create as the panel.
    """
    xs = np.arange(len(stamps))
    position = {pd.Timestamp(s): i for i, s in enumerate(stamps)}
    bottom = blended_transform_factory(ax.transData, ax.transAxes)
    handles, any_gap, any_significant = [], False, False
    for row_index, key in enumerate(keys):
        rows = frame if series is None else frame[frame[series] == key]
        colour = colours[key]
        y = np.full(len(xs), np.nan)
        low = np.full(len(xs), np.nan)
        high = np.full(len(xs), np.nan)
        cells: list[tuple[str, str, str]] = [("\u2013", MUTED, "normal")] * len(xs)
        significant = []
        scored = bool(rows["status"].eq(OK).any()) if "status" in rows else True
        for record in rows.to_dict("records"):
            index = position[pd.Timestamp(record["wave_at"])]
            status = _status(record)
            n = _n(record.get("respondents", record.get("n")))
            if status == OK and not pd.isna(record.get(value)):
                y[index] = record[value]
                low[index] = record.get("ci_low", np.nan)
                high[index] = record.get("ci_high", np.nan)
                cells[index] = (str(n) if n is not None else "?", INK, "normal")
                if bool(record.get("significant") is True):
                    significant.append(index)
            else:
                any_gap = True
                # Why there is no score is said once, in the n table under the panel.
                short = "supp." if status == SUPPRESSED else gap_label(status, n)
                cells[index] = (short, RED if status == SUPPRESSED else INK_SOFT, "italic")
                if scored:
                    ax.plot(
                        index,
                        0.05 + 0.075 * row_index,
                        marker="x",
                        color=colour,
                        markersize=5,
                        transform=bottom,
                        clip_on=False,
                    )
        with np.errstate(invalid="ignore"):
            ax.fill_between(xs, low, high, color=colour, alpha=0.13, linewidth=0)
        ax.plot(xs, y, color=colour, linewidth=1.9, marker="o", markersize=3.8)
        if significant:
            any_significant = True
            ax.plot(
                significant,
                y[significant],
                linestyle="none",
                marker="o",
                markersize=8,
                markerfacecolor="none",
                markeredgecolor=colour,
                markeredgewidth=1.4,
            )
        name = _plain(label_of(key, labels)) if series is not None else "All answers"
        handles.append(Line2D([], [], color=colour, linewidth=1.9, marker="o", markersize=4))
        handles[-1].set_label(name)
        row_at = table_row(row_index)
        ax.text(
            -0.5,
            0,
            name,
            transform=row_at,
            ha="right",
            va="center",
            color=colour,
            fontsize=7.5,
            weight="bold",
        )
        for index, (text, colour_cell, style) in enumerate(cells):
            ax.text(
                index,
                0,
                text,
                transform=row_at,
                ha="center",
                va="center",
                fontsize=7.5,
                color=colour_cell,
                style=style,
            )
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(*limits)
    ax.set_xticks(xs)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.text(
        -0.5,
        0,
        "n (respondents)",
        transform=table_row(-0.95),
        ha="right",
        va="center",
        fontsize=7,
        color=INK_SOFT,
    )
    return handles, any_gap, any_significant


@dataclass(frozen=True)
class _TrendLayout:
    """Where a trend chart's panels and n tables go, worked out in inches from what they hold
    (no constrained layout): a legend on top, per row a title, the panel, its tick labels and
    its n table, and the notes at the bottom. The n tables' row names hang left of their
    panel, so the left margin and the gutter between columns are as wide as the widest."""

    columns: int
    rows: int
    series_rows: int
    compact_ticks: bool
    titled: bool
    legend: bool
    table_label_width: float
    tick_width: float

    @property
    def panel_h(self) -> float:
        return 2.9 if self.columns == 1 else 2.1

    @property
    def table_h(self) -> float:
        return 0.17 * (self.series_rows + 1.3)

    @property
    def title_h(self) -> float:
        return 0.25 if self.titled else 0.08

    @property
    def ticks_h(self) -> float:
        return 0.4 if self.compact_ticks else 0.24

    @property
    def row_h(self) -> float:
        return self.title_h + self.panel_h + self.ticks_h + self.table_h + 0.12

    @property
    def top(self) -> float:
        return 0.3 if self.legend else 0.0

    def size(self, notes: int) -> tuple[float, float]:
        bottom = _MARGIN + notes * _NOTE_LINE + 0.05
        return WIDTH, self.top + self.rows * self.row_h + bottom

    def table_row(self, ax, row: float) -> Transform:
        """Where row ``row`` of a panel's n table goes (-0.95 its heading, 0 the first
        series): x in the panel's data, y that far under the panel's tick labels."""
        rows_span = self.series_rows + 0.8  # from -1.3 to the last row's lower edge
        depth = self.ticks_h + (row + 1.3) * self.table_h / rows_span
        below = ScaledTranslation(0, -depth, ax.get_figure().dpi_scale_trans)
        return blended_transform_factory(ax.transData, ax.transAxes) + below

    def place(self, fig: Figure, placed: list, notes: int) -> None:
        """Size ``fig`` for ``notes`` lines of notes and move each (row, column, panel)
        into place."""
        width, height = self.size(notes)
        fig.set_size_inches(width, height)
        ticks = self.tick_width + 0.12  # tick labels, tick and pad
        left = max(ticks + 0.2, self.table_label_width) + 0.12  # + y label on the first
        gutter = max(ticks, self.table_label_width) + 0.3
        panel_w = (width - left - _MARGIN - gutter * (self.columns - 1)) / self.columns
        for row, column, ax in placed:
            x = left + column * (panel_w + gutter)
            top = self.top + row * self.row_h + self.title_h
            panel_bottom = height - top - self.panel_h
            ax.set_position(
                (x / width, panel_bottom / height, panel_w / width, self.panel_h / height)
            )


def trend_chart(
    trend: pd.DataFrame,
    *,
    series: str | None = None,
    facet: str | None = None,
    value: str = "mean",
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    series_order: Sequence | None = None,
    facet_order: Sequence | None = None,
    y_label: str | None = None,
    dpi: int | None = None,
) -> str | bytes:
    """Lines over the waves of a ``trends.trend`` frame, one per ``series`` value, with the
    95% CI as a band; one small panel per ``facet`` value (e.g. a dimension) when given.

    Reads ``wave_at`` (and ``period`` when present), ``value`` (``mean`` 0-100 or ``nps``),
    ``ci_low``/``ci_high``, ``respondents`` (or ``n``), ``status`` and ``significant``. Under
    every panel a table gives each point's n; points that are not ``ok`` are gaps in the line,
    marked with a cross on the panel (where the series has a score elsewhere) and in the table
    by their n ("n=2") or "supp.".
    """
    if trend.empty:
        return empty_chart("No answers yet", title=title, dpi=dpi)
    frame = trend.reset_index(drop=True)
    panels = _ordered_keys(frame[facet], facet_order) if facet else [None]
    columns = 1 if len(panels) == 1 else 2
    stamps, period_names = _period_labels(
        frame, compact=columns > 1 or frame["wave_at"].nunique() > 8
    )
    keys = _ordered_keys(frame[series], series_order) if series else [None]
    colours = _colours(series, keys) if series else {None: PALETTE[0]}
    floor, ceiling = (-100.0, 100.0) if value == "nps" else (0.0, 100.0)
    limits = _value_limits(frame, [value, "ci_low", "ci_high"], floor, ceiling)
    grid_rows = math.ceil(len(panels) / columns)
    axis_label = y_label or ("NPS (\u2212100 to 100)" if value == "nps" else "Score (0\u2013100)")
    names = [_plain(label_of(k, labels)) if series is not None else "All answers" for k in keys]
    layout = _TrendLayout(
        columns=columns,
        rows=grid_rows,
        series_rows=len(keys),
        compact_ticks=columns > 1 or len(period_names) > 8,
        titled=facet is not None,
        legend=series is not None,
        table_label_width=max(
            [_text_width(name, 7.5, "bold") for name in names] + [_text_width("n (respondents)", 7)]
        ),
        tick_width=_text_width("\u2212100" if floor < 0 else "100", 9),
    )

    def build(fig: Figure) -> None:
        flags = []
        handles: list = []
        placed = []
        for index, panel in enumerate(panels):
            ax = fig.add_axes((0, 0, 1, 1))
            placed.append((*divmod(index, columns), ax))
            column = index % columns
            rows = frame if facet is None else frame[frame[facet] == panel]
            handles, gap, significant = _trend_panel(
                ax,
                partial(layout.table_row, ax),
                rows,
                stamps,
                series=series,
                keys=keys,
                colours=colours,
                value=value,
                labels=labels,
                limits=limits,
            )
            flags.append((gap, significant))
            ax.set_xticklabels(period_names, fontsize=7.5 if columns > 1 else 8)
            if facet is not None:
                ax.set_title(_plain(label_of(panel, labels)), fontsize=9)
            if column == 0:
                ax.set_ylabel(axis_label, fontsize=8)
        if series is not None:
            fig.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(0.0, 1.0),
                ncols=min(len(handles), 5),
                handlelength=1.8,
            )
        notes = []
        if any(significant for _gap, significant in flags):
            notes.append("\u25ef ringed point: change from the previous wave beyond noise.")
        if any(gap for gap, _significant in flags):
            notes.append(GAP_NOTE)
        if value == "mean":
            notes.append("Shaded band: 95% confidence interval.")
        layout.place(fig, placed, len(notes))
        _notes(fig, notes)

    # Sized for three lines of notes until ``layout.place`` knows how many there are.
    return _render("trend", title, layout.size(3), build, dpi=dpi, layout=None)


# The internal-vs-external gap ----------------------------------------------------------------


def _spread(
    positions: Sequence[float],
    gap: float,
    low: float,
    high: float,
    ties: Sequence[float] | None = None,
) -> list[float]:
    """Label positions nudged apart so that neighbours are at least ``gap`` apart, within
    ``low``..``high``: climbing from the lowest in the positions' order, ``ties`` (ascending)
    from lower to upper among equal ones; where the climb runs out of room at ``high``, the
    same downwards from the highest, ``ties`` from upper to lower; where neither fits, the
    climb moved down until it does (or, with too many labels for the room, down to ``low``)."""
    up = _climb(positions, gap, low, ties)
    if max(up, default=low) <= high:
        return up
    down = [-p for p in _climb([-p for p in positions], gap, -high, ties)]
    if min(down, default=high) >= low:
        return down
    overflow = max(up) - high
    return [max(low, p - overflow) for p in up]


def _climb(
    positions: Sequence[float], gap: float, floor: float, ties: Sequence[float] | None
) -> list[float]:
    """Each position at least ``floor`` and ``gap`` above the one before it in order."""
    order = sorted(range(len(positions)), key=lambda i: (positions[i], ties[i] if ties else 0))
    placed = [0.0] * len(positions)
    last = -math.inf
    for i in order:
        placed[i] = max(positions[i], floor, last + gap)
        last = placed[i]
    return placed


def gap_chart(
    gaps: pd.DataFrame,
    *,
    high_line: float = 70.0,
    aligned: float = 10.0,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    dpi: int | None = None,
) -> str | bytes:
    """How we rate each dimension (internal, y) against how they do (external, x).

    Reads one ``metrics.internal_external_gap`` row per dimension: ``dimension``,
    ``internal``, ``external``, ``gap``, ``n_internal``, ``n_external``, ``gap_class``,
    ``status``. The "high" lines split the plane into the four quadrants (blind spot top
    left: we rate it high, they do not); the diagonal band is where the gap counts as aligned.
    Dimensions that cannot be shown are listed with their n underneath.
    """
    if gaps.empty:
        return empty_chart("No answers from both sides yet", title=title, dpi=dpi)
    records = gaps.to_dict("records")
    shown = [
        r
        for r in records
        if _status(r) == OK and not pd.isna(r.get("internal")) and not pd.isna(r.get("external"))
    ]
    hidden = [r for r in records if r not in shown]
    values = [v for r in shown for v in (r["internal"], r["external"])]
    low = max(0.0, min(math.floor((min(values, default=high_line) - 5) / 10) * 10, 40.0))
    low = min(low, high_line - 20)
    high = 100.0

    notes = [
        f"Lines at {high_line:g}: the 'high' line.  Dashed diagonal: both sides agree; "
        f"the pale band is within \u00b1{aligned:g} points (aligned)."
    ]
    if hidden:
        hidden_text = "; ".join(
            f"{_plain(label_of(r['dimension'], labels))} ({_hidden_reason(r)})" for r in hidden
        )
        notes.extend(textwrap.wrap("Not shown: " + hidden_text, 105))
    # A fixed layout, in inches: the legend on top, the square plot, its tick labels and
    # axis label, then the notes.
    width, left, right, top = WIDTH * 0.8, 0.72, 0.22, 0.4
    side = width - left - right
    bottom = 0.62 + len(notes) * _NOTE_LINE
    height = top + side + bottom

    def build(fig: Figure) -> None:
        ax = fig.add_axes((left / width, bottom / height, side / width, side / height))
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_aspect("equal")
        quadrants = (
            (
                low,
                high_line,
                high_line,
                high,
                "#fbe9e7",
                "Blind spot",
                "we rate it high, they don't",
            ),
            (high_line, high, high_line, high, "#e6f4ef", "Agreed strength", ""),
            (low, high_line, low, high_line, "#f2f3f6", "Agreed weakness", ""),
            (
                high_line,
                high,
                low,
                high_line,
                "#e8eefb",
                "Undervalued strength",
                "they rate it high, we don't",
            ),
        )
        for x0, x1, y0, y1, fill, name, hint in quadrants:
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, color=fill, zorder=0, lw=0))
            top = y1 > high_line
            ax.text(
                x0 + 1.2 if x0 < high_line else x1 - 1.2,
                y1 - 1.2 if top else y0 + 1.2,
                name + (f"\n{hint}" if hint else ""),
                ha="left" if x0 < high_line else "right",
                va="top" if top else "bottom",
                fontsize=7.5,
                color=INK_SOFT,
                weight="bold",
                linespacing=1.25,
            )
        diagonal = np.array([low, high])
        ax.fill_between(
            diagonal, diagonal - aligned, diagonal + aligned, color="#ffffff", alpha=0.55, lw=0
        )
        ax.plot(diagonal, diagonal, color=MUTED, linewidth=0.9, linestyle="--")
        ax.axvline(high_line, color=INK_SOFT, linewidth=0.9)
        ax.axhline(high_line, color=INK_SOFT, linewidth=0.9)
        for record in shown:
            colour = GAP_CLASS_COLOURS.get(str(record.get("gap_class")), INK)
            ax.plot(
                record["external"],
                record["internal"],
                marker="o",
                markersize=7,
                color=colour,
                markeredgecolor="#ffffff",
                zorder=3,
            )
        # Labels stand in two columns, right of the points in the left part of the plot and
        # left of the others, each column clear of its own points and spread apart
        # vertically in the points' order, so no label covers a point and leaders seldom cross.
        sides = [bool(r["external"] < low + (high - low) * 0.62) for r in shown]
        text_x, placed = [0.0] * len(shown), [0.0] * len(shown)
        for right in (True, False):
            group = [i for i, side in enumerate(sides) if side is right]
            if not group:
                continue
            xs = [shown[i]["external"] for i in group]
            column = max(xs) + 2.5 if right else min(xs) - 2.5
            spread = _spread(
                [shown[i]["internal"] for i in group],
                (high - low) * 0.075,
                low + 2,
                high - 2,
                # Of points at one height the farther one takes the upper label: the labels
                # climb from their points, so that way their leaders do not cross.
                ties=[abs(column - x) for x in xs],
            )
            for i, y in zip(group, spread, strict=True):
                text_x[i], placed[i] = column, y
        for record, x, y, right in zip(shown, text_x, placed, sides, strict=True):
            n_ext, n_int = _respondents(record, "external"), _respondents(record, "internal")
            ax.annotate(
                f"{_plain(label_of(record['dimension'], labels))}  "
                f"{_signed(record.get('gap', np.nan))}\n"
                f"n {n_ext if n_ext is not None else '?'} theirs / "
                f"{n_int if n_int is not None else '?'} ours",
                xy=(record["external"], record["internal"]),
                xytext=(x, y),
                ha="left" if right else "right",
                va="center",
                fontsize=7.5,
                linespacing=1.2,
                arrowprops={"arrowstyle": "-", "color": MUTED, "linewidth": 0.6},
                zorder=4,
            )
        ax.set_xlabel("Their side (external), 0\u2013100")
        ax.set_ylabel("Our side (internal), 0\u2013100")
        handles = [
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                color=colour,
                markersize=6,
                label=GAP_CLASS_LABELS[name],
            )
            for name, colour in GAP_CLASS_COLOURS.items()
        ]
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 1.0), ncols=3)
        _notes(fig, notes)

    return _render("gap", title, (width, height), build, dpi=dpi, layout=None)


def _respondents(record: Mapping, side: str) -> int | None:
    """A side's n in a gap row: its respondents when the frame has them, else its answers."""
    if f"respondents_{side}" in record:
        return _n(record[f"respondents_{side}"])
    return _n(record.get(f"n_{side}"))


def _hidden_reason(record: Mapping) -> str:
    status = _status(record)
    if status == SUPPRESSED:
        return "suppressed"
    n_ext, n_int = _respondents(record, "external"), _respondents(record, "internal")
    parts = [f"n={n_ext or 0} theirs", f"n={n_int or 0} ours"]
    return "insufficient signal: " + ", ".join(parts)


# Seniority x wave ----------------------------------------------------------------------------


def heatmap_chart(
    frame: pd.DataFrame,
    *,
    row: str = "seniority",
    value: str = "mean",
    row_order: Sequence | None = None,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    dpi: int | None = None,
) -> str | bytes:
    """A grid of scores, one row per ``row`` value (seniority by default), one column per wave,
    each cell with its score and n; cells that are not ``ok`` are grey and say why."""
    if frame.empty:
        return empty_chart("No answers yet", title=title, dpi=dpi)
    stamps, period_names = _period_labels(frame)
    rows = _ordered_keys(frame[row], row_order)
    position = {pd.Timestamp(s): i for i, s in enumerate(stamps)}
    grid = np.full((len(rows), len(stamps)), np.nan)
    notes: dict[tuple[int, int], tuple[str, str]] = {}
    for record in frame.to_dict("records"):
        r, c = rows.index(record[row]), position[pd.Timestamp(record["wave_at"])]
        n = _n(record.get("respondents", record.get("n")))
        status = _status(record)
        if status == OK and not pd.isna(record.get(value)):
            grid[r, c] = record[value]
            notes[r, c] = (f"{record[value]:.0f}", f"n={n}" if n is not None else "")
        else:
            notes[r, c] = ("\u2013", gap_label(status, n))
    hidden = any(math.isnan(grid[key]) for key in notes)  # not ok: the key below explains
    for r, c in np.ndindex(grid.shape):
        notes.setdefault((r, c), ("\u2013", "n=0"))  # nobody at that level answered that wave
    vmin, vmax = (-50, 70) if value == "nps" else (40, 90)
    row_names = [_plain(label_of(k, labels)) for k in rows]
    footnotes = ["Each cell: score and n (respondents)."]
    if hidden:
        footnotes.append(GAP_NOTE)
    # A fixed layout, in inches: row names, the grid, the colour bar with its ticks and label;
    # under the grid its wave labels, then the notes.
    left = max(_text_width(name, 9) for name in row_names) + 0.2
    bar_w, bar_pad, right = 0.14, 0.1, 0.5
    grid_w = WIDTH - left - bar_pad - bar_w - right
    grid_h = 0.6 * len(rows)
    top, bottom = 0.1, 0.36 + len(footnotes) * _NOTE_LINE
    height = top + grid_h + bottom

    def build(fig: Figure) -> None:
        ax = fig.add_axes((left / WIDTH, bottom / height, grid_w / WIDTH, grid_h / height))
        bar_h = grid_h * 0.85
        bar_ax = fig.add_axes(
            (
                (left + grid_w + bar_pad) / WIDTH,
                (bottom + (grid_h - bar_h) / 2) / height,
                bar_w / WIDTH,
                bar_h / height,
            )
        )
        image = ax.imshow(
            np.ma.masked_invalid(grid),
            cmap=SCORE_COLOURS,
            vmin=vmin,
            vmax=vmax,
            aspect="auto",
        )
        ax.set_facecolor("#f2f3f6")
        for (r, c), (big, small) in notes.items():
            score = grid[r, c]
            dark = not math.isnan(score) and (score - vmin) / (vmax - vmin) < 0.18
            colour = "#ffffff" if dark else (INK if not math.isnan(score) else INK_SOFT)
            ax.text(
                c, r - 0.12, big, ha="center", va="center", fontsize=9, color=colour, weight="bold"
            )
            ax.text(
                c,
                r + 0.22,
                small,
                ha="center",
                va="center",
                fontsize=6.5,
                color=colour,
                style="normal" if not math.isnan(score) else "italic",
            )
        ax.set_xticks(range(len(stamps)), period_names, fontsize=7.5)
        ax.set_yticks(range(len(rows)), row_names)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xticks(np.arange(-0.5, len(stamps)), minor=True)
        ax.set_yticks(np.arange(-0.5, len(rows)), minor=True)
        ax.grid(which="minor", color="#ffffff", linewidth=2)
        ax.tick_params(which="minor", length=0)
        bar = fig.colorbar(image, cax=bar_ax)
        bar.outline.set_visible(False)
        bar.ax.tick_params(labelsize=7)
        bar.set_label("NPS" if value == "nps" else "Score (0\u2013100)", fontsize=7.5)
        _notes(fig, footnotes)

    return _render("heatmap", title, (WIDTH, height), build, dpi=dpi, layout=None)


# Portfolio -----------------------------------------------------------------------------------


def portfolio_chart(
    summary: pd.DataFrame,
    *,
    name: str = "name",
    health: str = "health",
    value: str | None = "value_at_risk",
    value_label: str = "Value at risk",
    change: str | None = "change",
    high_line: float = 70.0,
    limit: int = 20,
    title: str | None = None,
    dpi: int | None = None,
) -> str | bytes:
    """Accounts ranked by health, worst at the top, with each one's n and change, and beside
    it the money at stake (``value``). Accounts without a score say why instead of a bar."""
    if summary.empty:
        return empty_chart("No accounts to show", title=title, dpi=dpi)
    frame = summary.reset_index(drop=True).copy()
    frame["_rank"] = frame[health].where(frame.apply(_status, axis=1) == OK)
    frame = frame.sort_values(["_rank", name], na_position="last", kind="stable").head(limit)
    records = frame.to_dict("records")
    count = len(records)
    with_value = value is not None and value in frame

    def build(fig: Figure) -> None:
        if with_value:
            left, right = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
        else:
            left, right = fig.add_subplot(), None
        ys = np.arange(count)
        for y, record in zip(ys, records, strict=True):
            status = _status(record)
            n = _n(record.get("respondents", record.get("n")))
            score = record.get(health)
            if status == OK and not pd.isna(score):
                colour = GREEN if score >= high_line else AMBER if score >= 50 else RED
                left.barh(y, score, color=colour, height=0.62)
                delta = record.get(change) if change else None
                text = f"{score:.0f}  n={n}" + (
                    f"  {_signed(delta)}" if delta is not None and not pd.isna(delta) else ""
                )
                left.text(
                    score + 1,
                    y,
                    text,
                    va="center",
                    fontsize=7.5,
                    color=INK,
                    bbox={"facecolor": "#ffffff", "edgecolor": "none", "pad": 0.6, "alpha": 0.85},
                )
            else:
                left.text(
                    1,
                    y,
                    f"no score: {gap_label(status, n)}",
                    va="center",
                    fontsize=7.5,
                    color=INK_SOFT,
                    style="italic",
                )
        left.set_yticks(ys, [_plain(r[name]) for r in records], fontsize=8)
        left.set_ylim(count - 0.5, -0.5)
        left.set_xlim(0, 118)
        left.set_xticks([0, 25, 50, 75, 100])
        left.axvline(high_line, color=INK_SOFT, linewidth=0.8, linestyle="--")
        left.set_xlabel("Health index (0\u2013100), n = respondents, change vs previous wave")
        left.tick_params(axis="y", length=0)
        left.grid(axis="x", color=GRID, linewidth=0.8)
        left.set_axisbelow(True)
        if right is not None:
            raw = [r.get(value) for r in records]
            amounts = [0.0 if v is None or pd.isna(v) else float(v) for v in raw]
            right.barh(ys, amounts, color="#8fa6d8", height=0.62)
            top = max(amounts, default=0) or 1
            for y, amount, given in zip(ys, amounts, raw, strict=True):
                known = given is not None and not pd.isna(given)
                right.text(
                    amount + top * 0.02,
                    y,
                    money(amount) if known else "\u2013",
                    va="center",
                    fontsize=7.5,
                    color=INK if known else INK_SOFT,
                )
            right.set_xlim(0, top * 1.3)
            right.set_xlabel(_plain(value_label))
            right.tick_params(axis="y", length=0, labelleft=False)
            right.xaxis.set_major_formatter(lambda v, _pos: money(v))
            right.grid(axis="x", color=GRID, linewidth=0.8)
            right.set_axisbelow(True)
        handles = [
            Patch(color=GREEN, label=f"\u2265 {high_line:g}"),
            Patch(color=AMBER, label=f"50\u2013{high_line:g}"),
            Patch(color=RED, label="< 50"),
        ]
        fig.legend(handles=handles, loc="outside upper left", ncols=3)

    return _render("portfolio", title, (WIDTH, 0.27 * count + 1.2), build, dpi=dpi)
