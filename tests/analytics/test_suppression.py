"""Suppression: small groups hidden in confidential programs, never recoverable by subtraction."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from relhealth.analytics.metrics import (
    AnalyticsSettings,
    dimension_scores,
    group_stats,
    health_index,
    internal_external_gap,
    response_rates,
    scores,
    top_vs_line_gap,
)
from relhealth.analytics.panel import panel_change
from relhealth.analytics.suppression import (
    TIME_COLUMNS,
    default_partition,
    key_columns,
    suppress,
)
from relhealth.analytics.trends import trend
from tests.analytics.metrics_data import answer, frame, invitation, invitations


def table(rows, k=3):
    """A metric table: keys side/level, figures respondents and mean."""
    return pd.DataFrame(
        [
            {"side": side, "level": level, "respondents": n, "mean": float(n), "k": k}
            for side, level, n in rows
        ]
    )


def test_a_group_below_k_is_suppressed_with_value_and_n_blanked():
    result = suppress(table([("internal", "top", 2)]), ["side"])
    row = result.iloc[0]
    assert row["status"] == "suppressed"
    assert pd.isna(row["respondents"])
    assert pd.isna(row["mean"])
    assert row["k"] == 3  # the program's k is not a figure


def test_nothing_is_suppressed_outside_confidential_programs():
    result = suppress(table([("internal", "top", 1), ("external", "top", 9)], k=1), ["side"])
    assert list(result["status"]) == ["ok", "ok"]


def test_a_lone_suppressed_sibling_takes_the_smallest_published_one_with_it():
    # top: 2 (< k) beside 5 and 10. The total (17) minus 5 and 10 would give the 2 back,
    # so the 5 (the smallest published sibling) is suppressed as well; 10 stays.
    rows = [("external", "top", 2), ("external", "middle", 5), ("external", "line", 10)]
    result = suppress(table(rows), ["level"])
    assert list(result["status"]) == ["suppressed", "suppressed", "ok"]
    assert result.loc[2, "respondents"] == 10


def test_secondary_suppression_runs_along_every_partition_until_nothing_changes():
    rows = [
        ("internal", "top", 1),
        ("internal", "line", 20),
        ("external", "top", 7),
        ("external", "line", 30),
    ]
    result = suppress(table(rows), ["side", "level"])
    # internal/top (1) -> internal/line by level, external/top by side, then external/line
    assert (result["status"] == "suppressed").all()


def test_time_is_never_a_partition():
    frame_ = pd.DataFrame(
        {"wave": ["w1", "w2"], "respondents": [2, 9], "mean": [1.0, 2.0], "k": [3, 3]}
    )
    result = suppress(frame_)
    assert list(result["status"]) == ["suppressed", "ok"]
    assert "wave" in TIME_COLUMNS
    assert default_partition(key_columns(frame_)) == []


def test_suppression_is_idempotent():
    rows = [("external", "top", 2), ("external", "middle", 5), ("internal", "line", 10)]
    once = suppress(table(rows), ["side", "level"])
    twice = suppress(once, ["side", "level"])
    pd.testing.assert_frame_equal(once, twice)


def test_a_partition_must_be_a_key():
    with pytest.raises(ValueError, match="not keys"):
        suppress(table([("external", "top", 2)]), ["mean"])


def test_response_rates_below_k_respondents_are_suppressed():
    records = [invitation(p, p <= 2, k=3) for p in range(1, 6)]
    records += [invitation(p, True, k=3, side="internal") for p in range(6, 12)]
    rates = response_rates(invitations(records), ["side"]).set_index("side")
    # external: 2 responded < k = 3; internal is the only sibling, so it goes too
    assert (rates["status"] == "suppressed").all()
    assert rates[["invited", "responded", "rate"]].isna().all().all()


# --- properties ------------------------------------------------------------------------------


def assert_no_lone_suppressed_cell(result, partition):
    keys = key_columns(result)
    suppressed = result["status"].eq("suppressed")
    for column in partition:
        others = [c for c in keys if c != column]
        grouped = suppressed.groupby(
            [result[c] for c in others] if others else [0] * len(result), dropna=False
        )
        counts = grouped.agg(["sum", "size"])
        lone = (counts["sum"] == 1) & (counts["size"] >= 2)
        assert not lone.any(), (column, result)


def assert_suppressed_rows_show_nothing(result):
    keys = key_columns(result)
    # "significant" is False whenever no test ran (suppressed included): not a figure.
    kept = ("k", "status", "significant")
    figures = [c for c in result.columns if c not in keys and c not in kept]
    hidden = result.loc[result["status"].eq("suppressed"), figures]
    assert hidden.isna().all().all(), hidden


cells = st.lists(
    st.tuples(st.sampled_from("abc"), st.sampled_from("xyz"), st.integers(0, 12)),
    min_size=1,
    max_size=9,
    unique_by=lambda cell: cell[:2],
)


@hypothesis_settings(max_examples=200, deadline=None)
@given(cells, st.integers(1, 5))
def test_suppressed_tables_keep_the_invariants(rows, k):
    source = table(rows, k=k)
    result = suppress(source, ["side", "level"])
    published = result["status"].ne("suppressed")
    if k > 1:
        assert (result.loc[published, "respondents"] >= k).all()
    # every primary cell is suppressed
    assert not (published & (source["respondents"] < k) & (k > 1)).any()
    assert_suppressed_rows_show_nothing(result)
    assert_no_lone_suppressed_cell(result, ["side", "level"])


answer_rows = st.lists(
    st.tuples(
        st.integers(1, 12),  # person
        st.sampled_from(["internal", "external"]),
        st.booleans(),  # is_top
        st.sampled_from(["trust", "value", "people"]),
        st.integers(1, 5),
        st.sampled_from([1, 2]),  # wave
    ),
    max_size=50,
)


def confidential_frame(rows, k):
    records = []
    for person, side, top, dimension, rating, wave in rows:
        common = {"side": side, "is_top": top, "k": k, "wave_id": wave}
        common["wave_at"] = f"2025-0{wave}-01"
        records.append(answer(person, rating, dimension=dimension, **common))
    return frame(records)


RESPONDENT_COLUMNS = ("respondents", "respondents_internal", "respondents_external")
RESPONDENT_COLUMNS += ("respondents_top", "respondents_line")


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_rows, st.integers(2, 4))
def test_no_metric_shows_a_group_below_k(rows, k):
    answers = confidential_frame(rows, k)
    settings = AnalyticsSettings(min_respondents=1)
    tables = {
        "scores": scores(group_stats(answers, ["side", "is_top"]), settings),
        "dimensions": dimension_scores(answers, ["side"], settings),
        "health": health_index(answers, ["side"], settings),
        "gap": internal_external_gap(answers, [], settings),
        "top": top_vs_line_gap(answers, [], settings, per_dimension=True),
        "trend": trend(answers, "side", settings),
        "panel": panel_change(answers, settings, by=["side"]),
    }
    for name, result in tables.items():
        published = result["status"].ne("suppressed")
        for column in (*RESPONDENT_COLUMNS, "n"):
            if column in result.columns:
                counts = result.loc[published, column].dropna()
                assert (counts >= k).all(), (name, column, result)
        assert_suppressed_rows_show_nothing(result)
    # Tables of groups keep the partition rule; a gap row is two such groups side by side and
    # is hidden exactly when one of its two groups is (those already follow the rule).
    for name, result in tables.items():
        if name not in ("gap", "top"):
            assert_no_lone_suppressed_cell(result, default_partition(key_columns(result)))
    cells = tables["dimensions"]
    hidden = set(cells.loc[cells["status"].eq("suppressed"), "dimension"])
    gap = tables["gap"]
    assert set(gap.loc[gap["status"].eq("suppressed"), "dimension"]) == hidden


def test_a_suppressed_side_cannot_be_recovered_from_the_total():
    # internal: 2 people (< k = 3); external: 6. The dimension's total over both sides is
    # published (8 people), so external must be hidden too or 8 - 6 = 2 gives internal away.
    internal = [answer(p, 5, side="internal", k=3) for p in (1, 2)]
    external = [answer(p, 3, k=3) for p in range(3, 9)]
    answers = frame(internal + external)
    total = dimension_scores(answers, [])
    assert total.loc[0, "status"] == "ok"
    assert total.loc[0, "respondents"] == 8
    by_side = dimension_scores(answers, ["side"])
    assert (by_side["status"] == "suppressed").all()
    assert by_side["respondents"].isna().all()
