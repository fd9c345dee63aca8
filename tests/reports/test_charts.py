"""The charts: valid standalone SVG, the expected series, honest gaps, nothing executable."""

import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from relhealth.reports import charts

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & $\\frac{1}{2}$ "quoted"'
WAVES = pd.date_range("2024-01-01", periods=4, freq="QS", tz="UTC")


def _trend(statuses=None) -> pd.DataFrame:
    statuses = statuses or {}
    rows = []
    for side in ("external", "internal"):
        for index, wave_at in enumerate(WAVES):
            status, n = statuses.get((side, index), ("ok", 12))
            mean = 60.0 + index + (10 if side == "internal" else 0)
            ok = status == "ok"
            rows.append(
                {
                    "wave_id": index + 1,
                    "wave_at": wave_at,
                    "side": side,
                    "mean": mean if ok else np.nan,
                    "ci_low": mean - 5 if ok else np.nan,
                    "ci_high": mean + 5 if ok else np.nan,
                    "respondents": n,
                    "n": n,
                    "status": status,
                    "significant": index == 3 and side == "external",
                }
            )
    return pd.DataFrame(rows)


def _gaps(label: str = "responsiveness") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "dimension": label,
                "internal": 82.0,
                "external": 61.0,
                "gap": 21.0,
                "n_internal": 8,
                "n_external": 14,
                "gap_class": "strongly_misaligned",
                "quadrant": "blind_spot",
                "status": "ok",
            },
            {
                "dimension": "pricing",
                "internal": np.nan,
                "external": np.nan,
                "gap": np.nan,
                "n_internal": 2,
                "n_external": 9,
                "gap_class": None,
                "quadrant": None,
                "status": "insufficient",
            },
        ]
    )


def _portfolio(name: str = "Acme") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"name": name, "health": 64.0, "respondents": 20, "status": "ok", "value_at_risk": 2e5},
            {
                "name": "Beta",
                "health": np.nan,
                "respondents": 2,
                "status": "insufficient",
                "value_at_risk": 0.0,
            },
        ]
    )


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # noqa: S314 -- our own output
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def _assert_standalone(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 -- our own output; raises unless well-formed
    assert root.tag == f"{SVG}svg"
    assert "<script" not in svg.lower()
    assert "<?xml" not in svg
    assert "<!DOCTYPE" not in svg
    without_namespaces = re.sub(r'xmlns(:\w+)?="[^"]*"', "", svg)
    assert "http" not in without_namespaces
    assert "<style" not in svg  # no page-wide CSS when inlined into HTML
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert len(ids) == len(set(ids))
    assert all(i.startswith("rh-") for i in ids)
    return root


@pytest.mark.parametrize(
    "draw",
    [
        lambda: charts.trend_chart(_trend(), series="side"),
        lambda: charts.trend_chart(
            _trend().assign(dimension="quality"), series="side", facet="dimension"
        ),
        lambda: charts.gap_chart(_gaps()),
        lambda: charts.heatmap_chart(_trend().rename(columns={"side": "seniority"})),
        lambda: charts.portfolio_chart(_portfolio()),
        lambda: charts.empty_chart("No answers yet"),
    ],
    ids=["trend", "trend-facets", "gap", "heatmap", "portfolio", "empty"],
)
def test_every_chart_is_a_standalone_svg_without_script_or_external_reference(draw):
    _assert_standalone(draw())


def test_trend_chart_has_a_line_per_side_and_the_n_of_every_point():
    texts = _texts(charts.trend_chart(_trend(), series="side"))
    assert "Their side" in texts
    assert "Our side" in texts
    assert "n (respondents)" in texts
    assert texts.count("12") >= 8  # each side's n under each of the four waves


def test_trend_gaps_are_labelled_not_drawn_as_zero():
    frame = _trend({("external", 1): ("insufficient", 2), ("internal", 2): ("suppressed", None)})
    svg = charts.trend_chart(frame, series="side")
    texts = _texts(svg)
    assert "n=2" in texts  # the insufficient point's n, in the table under the panel
    assert "supp." in texts
    assert any("insufficient signal" in t and "suppressed" in t for t in texts)  # the key
    cross = 'd="M -2.5 2.5 \nL 2.5 -2.5 \nM -2.5 -2.5 \nL 2.5 2.5 \n"'  # matplotlib's "x"
    assert cross in svg  # the missing point is marked on the panel
    assert cross not in charts.trend_chart(_trend(), series="side")
    # The y axis never reaches down to 0: no gap was drawn as a zero score.
    ticks = [float(t.replace("\u2212", "-")) for t in texts if re.fullmatch(r"\u2212?\d+", t)]
    assert min(ticks) > 0


def test_trend_chart_of_nps_uses_the_nps_axis():
    frame = _trend().assign(nps=lambda f: f["mean"] - 50)
    texts = _texts(charts.trend_chart(frame, series="side", value="nps"))
    assert any(t.startswith("NPS") for t in texts)


def test_gap_chart_names_the_quadrants_and_lists_what_it_cannot_show():
    texts = " ".join(_texts(charts.gap_chart(_gaps())))
    for quadrant in ("Blind spot", "Agreed strength", "Agreed weakness", "Undervalued strength"):
        assert quadrant in texts
    assert "Responsiveness" in texts
    assert "n 14 theirs / 8 ours" in texts
    assert "Pricing (insufficient signal: n=9 theirs, n=2 ours)" in texts


def test_a_hostile_label_is_escaped_text_not_markup_or_math():
    svg = charts.gap_chart(_gaps(HOSTILE))
    _assert_standalone(svg)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    texts = " ".join(_texts(svg))
    assert '<script>alert("x")</script> & $\\frac{1}{2}$ "quoted"' in texts
    portfolio = charts.portfolio_chart(_portfolio(HOSTILE))
    _assert_standalone(portfolio)
    assert any(HOSTILE in t for t in _texts(portfolio))
    trend = charts.trend_chart(_trend(), series="side", labels={"external": HOSTILE})
    _assert_standalone(trend)
    assert HOSTILE in _texts(trend)


def test_heatmap_cells_carry_score_and_n_and_grey_cells_say_why():
    frame = _trend({("external", 0): ("suppressed", None)}).rename(columns={"side": "seniority"})
    texts = _texts(charts.heatmap_chart(frame, row_order=["internal", "external"]))
    assert "n=12" in texts
    assert "suppressed" in texts
    assert texts.count("\u2013") == 1  # the suppressed cell shows a dash, not a score
    assert "61" in texts


def test_a_heatmap_cell_nobody_answered_says_n_0():
    frame = _trend().rename(columns={"side": "seniority"})
    frame = frame[~(frame["seniority"].eq("internal") & frame["wave_id"].eq(2))]
    texts = _texts(charts.heatmap_chart(frame, row_order=["internal", "external"]))
    assert texts.count("n=0") == 1
    assert texts.count("\u2013") == 1
    assert not any("insufficient signal" in text for text in texts)  # no such cell to explain


def test_portfolio_ranks_worst_first_and_says_why_an_account_has_no_score():
    svg = charts.portfolio_chart(_portfolio())
    texts = _texts(svg)
    assert "no score: n=2" in texts
    assert any(t.startswith("64") and "n=20" in t for t in texts)
    assert texts.index("Acme") < texts.index("Beta")


def test_text_is_kept_as_text_in_dejavu_sans_with_fallbacks():
    svg = charts.trend_chart(_trend(), series="side")
    assert "<text" in svg
    assert "font-family: 'DejaVu Sans', 'Verdana', sans-serif" in svg


def test_charts_can_share_a_page_without_id_clashes():
    one = charts.trend_chart(_trend(), series="side")
    two = charts.trend_chart(_trend().assign(side="external"), series="side")
    ids_one = set(re.findall(r'\bid="([^"]+)"', one))
    ids_two = set(re.findall(r'\bid="([^"]+)"', two))
    assert not ids_one & ids_two


def test_an_empty_frame_gives_a_chart_that_says_so():
    empty = _trend().iloc[0:0]
    assert "No answers yet" in _texts(charts.trend_chart(empty, series="side"))


def _bitmap(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return image


@pytest.mark.parametrize(
    "draw",
    [
        lambda dpi: charts.trend_chart(_trend(), series="side", dpi=dpi),
        lambda dpi: charts.heatmap_chart(_trend().rename(columns={"side": "seniority"}), dpi=dpi),
        lambda dpi: charts.portfolio_chart(_portfolio(), dpi=dpi),
    ],
    ids=["trend", "heatmap", "portfolio"],
)
def test_a_chart_for_print_is_an_opaque_jpeg_at_the_asked_resolution(draw):
    image = _bitmap(draw(150))
    assert image.mode == "RGB"  # no alpha: WeasyPrint would add a soft mask
    assert image.width == round(charts.WIDTH * 150)


def test_the_fixed_layouts_make_room_for_long_labels():
    long_name = "Chief executive officers and the board"
    frame = _trend().rename(columns={"side": "seniority"}).replace({"external": long_name})
    for jpeg in (
        charts.heatmap_chart(frame, dpi=100),
        charts.trend_chart(frame, series="seniority", dpi=100),
    ):
        ink = np.asarray(_bitmap(jpeg).convert("L")) < 200
        columns = np.flatnonzero(ink.any(axis=0))
        assert columns[0] > 0  # the row names start inside the picture, not cut off at its edge


def test_crowded_gap_labels_stand_apart_in_their_points_order():
    # Three points at one height and one below: the labels climb from their points, the
    # farther point of a tie taking the upper label (its leader then crosses no other).
    placed = charts._spread([50, 50, 50, 40], gap=5, low=30, high=100, ties=[3, 1, 2, 0])
    assert placed == [60, 50, 55, 40]
    # No room left above: the stack hangs down from the top instead, ties reversed.
    placed = charts._spread([98, 98, 98], gap=5, low=30, high=98, ties=[3, 1, 2])
    assert placed == [88, 98, 93]
    assert charts._spread([10], gap=5, low=30, high=98) == [30]  # kept inside the plot
    # Room neither above nor below the points: the climbing stack moves down until it fits.
    assert charts._spread([70] * 8, gap=5, low=42, high=98) == [63, 68, 73, 78, 83, 88, 93, 98]
    placed = charts._spread([60, 62, 64, 66, 68, 70, 72, 74, 95], gap=5, low=42, high=98)
    assert min(placed) >= 42
    assert max(placed) <= 98
