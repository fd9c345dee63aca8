"""The metrics against hand computations, an independent plain-Python path, and properties."""

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from relhealth.analytics.metrics import (
    STATS_COLUMNS,
    AnalyticsSettings,
    analytics_settings,
    classify_gap,
    dimension_scores,
    group_stats,
    health_index,
    internal_external_gap,
    nps_category,
    quadrant,
    response_rates,
    scores,
    top_vs_line_gap,
    wave_key,
)
from relhealth.config import ConfigError, load_settings, parse_dimension_weights
from tests.analytics import reference
from tests.analytics.metrics_data import (
    answer,
    frame,
    invitation,
    invitations,
    random_portfolio,
)

T_975_5 = 2.5705818356363146  # scipy.stats.t.ppf(0.975, 5)


def six_external():
    """Six external people rate trust 4,4,3,3,4,3 (scaled 75,75,50,50,75,50) and value
    5,5,5,4,4,4 (scaled 100,100,100,75,75,75)."""
    records = []
    for person, (trust, value) in enumerate(
        zip([4, 4, 3, 3, 4, 3], [5, 5, 5, 4, 4, 4], strict=True), 1
    ):
        records.append(answer(person, trust, question_key="t", dimension="trust"))
        records.append(answer(person, value, question_key="v", dimension="value"))
    return records


def test_nps_category_boundaries():
    assert [nps_category(v) for v in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]
    assert nps_category(float("nan")) is None
    assert nps_category(6.5) == "detractor"


def test_group_stats_are_the_sufficient_statistics():
    stats = group_stats(frame(six_external()), ["dimension"])
    trust = stats.set_index("dimension").loc["trust"]
    # 75+75+50+50+75+50 = 375; 3*75^2 + 3*50^2 = 16875 + 7500 = 24375
    assert (trust["n"], trust["respondents"], trust["total"], trust["total_sq"]) == (
        6,
        6,
        375,
        24375,
    )
    assert list(stats.columns) == ["dimension", *STATS_COLUMNS]


def test_dimension_score_mean_and_t_interval_by_hand():
    table = dimension_scores(frame(six_external()), []).set_index("dimension")
    trust = table.loc["trust"]
    # mean 375/6 = 62.5; squares of deviations 6 * 12.5^2 = 937.5; variance 937.5/5 = 187.5;
    # half width t(0.975, 5) * sqrt(187.5) / sqrt(6)
    half = T_975_5 * math.sqrt(187.5) / math.sqrt(6)
    assert trust["mean"] == pytest.approx(62.5)
    assert trust["ci_low"] == pytest.approx(62.5 - half)
    assert trust["ci_high"] == pytest.approx(62.5 + half)
    assert trust["n"] == 6
    assert trust["status"] == "ok"
    # value: 100,100,100,75,75,75 -> 87.5
    assert table.loc["value", "mean"] == pytest.approx(87.5)


def test_nps_by_hand():
    # 10, 9 promoters; 8 passive; 6, 3 detractors: (2 - 2) / 5 = 0
    first = [answer(p, v, question_type="nps") for p, v in enumerate([10, 9, 8, 6, 3], 1)]
    # 10, 10, 9 promoters; 7 passive; 0 detractor: (3 - 1) / 5 = +40
    second = [
        answer(p, v, question_type="nps", account_id=2) for p, v in enumerate([10, 10, 9, 7, 0], 11)
    ]
    table = scores(group_stats(frame(first + second), ["account_id"])).set_index("account_id")
    assert table.loc[1, "nps"] == pytest.approx(0)
    assert table.loc[2, "nps"] == pytest.approx(40)
    # the NPS answers are scaled like any other: (10+9+8+6+3)*10/5 = 72
    assert table.loc[1, "mean"] == pytest.approx(72)


def test_too_few_respondents_is_insufficient_with_n_shown():
    records = [answer(1, 5), answer(1, 4, question_key="q2"), answer(2, 3)]
    row = scores(group_stats(frame(records), [])).iloc[0]
    assert row["status"] == "insufficient"
    assert row["n"] == 3
    assert row["respondents"] == 2
    assert math.isnan(row["mean"])
    assert math.isnan(row["ci_low"])
    assert pd.isna(row["total"])


def test_a_single_answer_has_no_interval_even_when_one_respondent_is_enough():
    row = scores(group_stats(frame([answer(1, 4)]), []), AnalyticsSettings(min_respondents=1))
    row = row.iloc[0]
    assert row["status"] == "insufficient"
    assert math.isnan(row["ci_low"])
    assert math.isnan(row["ci_high"])


def test_interval_is_clipped_to_the_scale():
    # 100, 100, 75 -> the t interval reaches past 100
    records = [answer(p, v) for p, v in enumerate([5, 5, 4], 1)]
    row = dimension_scores(frame(records), []).iloc[0]
    assert row["ci_high"] == 100
    assert 0 <= row["ci_low"] < row["mean"]


def test_health_index_weighted_mean_of_dimension_scores():
    answers = frame(six_external())
    # equal weights: (62.5 + 87.5) / 2 = 75
    equal = health_index(answers, []).iloc[0]
    assert equal["health"] == pytest.approx(75)
    assert (equal["respondents"], equal["dimensions"], equal["status"]) == (6, 2, "ok")
    # trust 3, value 1: (3 * 62.5 + 87.5) / 4 = 68.75
    weighted = health_index(answers, [], AnalyticsSettings(dimension_weights={"trust": 3}))
    assert weighted.iloc[0]["health"] == pytest.approx(68.75)


def test_health_index_from_group_stats_equals_from_answers():
    answers, _ = random_portfolio(seed=3, accounts=3)
    answers = frame(answers)
    from_answers = health_index(answers, ["account_id", "wave_id"])
    stats = group_stats(answers, ["account_id", "wave_id", "dimension"])
    from_stats = health_index(stats, ["account_id", "wave_id"])
    pd.testing.assert_series_equal(from_answers["health"], from_stats["health"])


def test_health_index_leaves_out_insufficient_dimensions():
    # trust from 6 people (62.5); "value" from 2 people only -> insufficient, not in the index
    records = [r for r in six_external() if r["dimension"] == "trust" or r["person_id"] <= 2]
    row = health_index(frame(records), []).iloc[0]
    assert row["health"] == pytest.approx(62.5)
    assert row["dimensions"] == 1


def test_internal_external_gap_by_hand():
    internal = [answer(p, v, side="internal") for p, v in [(11, 5), (12, 5), (13, 4)]]
    records = [r for r in six_external() if r["dimension"] == "trust"] + internal
    row = internal_external_gap(frame(records), []).iloc[0]
    # internal (100 + 100 + 75) / 3 = 91.667; external 62.5; gap 29.167 >= 20
    assert row["internal"] == pytest.approx(275 / 3)
    assert row["external"] == pytest.approx(62.5)
    assert row["gap"] == pytest.approx(275 / 3 - 62.5)
    assert row["gap_class"] == "strongly_misaligned"
    assert row["quadrant"] == "blind_spot"  # we rate it high (>= 70), they rate it low
    assert (row["n_internal"], row["n_external"], row["status"]) == (3, 6, "ok")


def test_gap_class_thresholds():
    gaps = pd.Series([0.0, 9.99, -9.99, 10.0, -15.0, 19.99, 20.0, -35.0])
    assert list(classify_gap(gaps, AnalyticsSettings())) == [
        "aligned",
        "aligned",
        "aligned",
        "misaligned",
        "misaligned",
        "misaligned",
        "strongly_misaligned",
        "strongly_misaligned",
    ]


def test_quadrants_against_the_high_line():
    internal = pd.Series([70.0, 50.0, 80.0, 69.9])
    external = pd.Series([90.0, 60.0, 40.0, 70.0])
    assert list(quadrant(internal, external, AnalyticsSettings())) == [
        "agreed_strength",
        "agreed_weakness",
        "blind_spot",
        "undervalued_strength",
    ]


def test_top_vs_line_gap_by_hand():
    tops = [answer(p, v, is_top=True, seniority="executive") for p, v in [(1, 2), (2, 2), (3, 3)]]
    line = [answer(p, v) for p, v in [(4, 4), (5, 4), (6, 5), (7, 5)]]
    row = top_vs_line_gap(frame(tops + line), []).iloc[0]
    # top (25 + 25 + 50) / 3 = 33.333; line (75 + 75 + 100 + 100) / 4 = 87.5
    assert row["side"] == "external"
    assert row["top"] == pytest.approx(100 / 3)
    assert row["line"] == pytest.approx(87.5)
    assert row["gap"] == pytest.approx(100 / 3 - 87.5)
    assert (row["n_top"], row["n_line"]) == (3, 4)
    per_dimension = top_vs_line_gap(frame(tops + line), [], per_dimension=True)
    assert list(per_dimension["dimension"]) == ["trust"]


def test_response_rates_by_hand():
    records = [invitation(p, p <= 3, invitation_id=p) for p in range(1, 6)]
    records += [invitation(p, True, invitation_id=p, side="internal") for p in (6, 7)]
    records.append(invitation(8, False, invitation_id=8, invited=False))
    table = response_rates(invitations(records), ["side"]).set_index("side")
    # external: 3 of 5 invited responded (the skipped invitation does not count)
    assert (table.loc["external", "invited"], table.loc["external", "responded"]) == (5, 3)
    assert table.loc["external", "rate"] == pytest.approx(0.6)
    # internal: 2 invited are too few for a rate
    assert table.loc["internal", "status"] == "insufficient"
    assert math.isnan(table.loc["internal", "rate"])


def test_wave_key_uses_the_quarter_for_history_without_a_wave():
    records = [answer(1, 4, wave_id=7), answer(2, 4, wave_id=None, wave_at="2024-08-15")]
    assert list(wave_key(frame(records)).astype(str)) == ["wave-7", "2024Q3"]


@pytest.mark.parametrize(
    ("function", "columns"),
    [
        (lambda a: dimension_scores(a, ["account_id"]), ["account_id", "dimension", "mean"]),
        (lambda a: health_index(a, ["account_id"]), ["account_id", "health", "status"]),
        (lambda a: internal_external_gap(a, ["account_id"]), ["gap", "gap_class", "quadrant"]),
        (lambda a: top_vs_line_gap(a, ["account_id"]), ["side", "top", "line", "gap"]),
        (lambda a: scores(group_stats(a, []), None), ["n", "mean", "ci_low", "nps", "status"]),
    ],
)
def test_empty_answers_give_empty_tables_with_their_columns(function, columns):
    table = function(frame([]))
    assert table.empty
    assert set(columns) <= set(table.columns)


def test_empty_invitations_give_an_empty_rate_table():
    table = response_rates(invitations([]), ["side"])
    assert table.empty
    assert list(table.columns) == ["side", "invited", "responded", "rate", "k", "status"]


def test_confidential_gap_hides_both_sides_of_a_small_group():
    internal = [answer(p, 5, side="internal", k=3) for p in (11, 12)]
    external = [answer(p, 3, k=3) for p in range(1, 7)]
    row = internal_external_gap(frame(internal + external), []).iloc[0]
    assert row["status"] == "suppressed"
    assert row[["internal", "external", "gap"]].isna().all()
    assert row[["n_internal", "n_external", "respondents_internal"]].isna().all()


def test_analytics_settings_from_a_plain_mapping():
    config = load_settings(
        {
            "RELHEALTH_MIN_RESPONDENTS": "5",
            "RELHEALTH_GAP_ALIGNED": "8",
            "RELHEALTH_HIGH_LINE": "75",
            "RELHEALTH_DIMENSION_WEIGHTS": "trust=2, value=0.5",
        }
    )
    settings = analytics_settings(config)
    assert settings.min_respondents == 5
    assert settings.gap_aligned == 8
    assert settings.gap_strong == 20
    assert settings.high_line == 75
    assert settings.dimension_weights == {"trust": 2.0, "value": 0.5}
    assert analytics_settings({}) == AnalyticsSettings()
    assert analytics_settings({"DIMENSION_WEIGHTS": "a=1"}).dimension_weights == {"a": 1.0}


def test_bad_dimension_weights_are_refused():
    with pytest.raises(ValueError, match="dimension=weight"):
        parse_dimension_weights("trust")
    with pytest.raises(ConfigError):
        load_settings({"RELHEALTH_DIMENSION_WEIGHTS": "trust=-1"})


# --- the independent plain-Python computation agrees to 1e-9 ---------------------------------


def close(a, b):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or pd.isna(b)
    return not pd.isna(b) and math.isclose(a, float(b), rel_tol=1e-9, abs_tol=1e-9)


def assert_agrees(table, expected, keys, columns):
    assert len(table) == len(expected)
    for row in table.to_dict("records"):
        want = expected[tuple(row[k] for k in keys)]
        for column in columns:
            if isinstance(want[column], str):
                assert row[column] == want[column], (row, column)
            else:
                assert close(want[column], row[column]), (row, column, want[column])


@pytest.fixture(scope="module")
def portfolio():
    answers, invited = random_portfolio(seed=11, accounts=10, people=20)
    assert len(answers) > 2000
    return answers, invited


def test_scores_agree_with_the_plain_python_computation(portfolio):
    records, _ = portfolio
    by = ["account_id", "wave_id", "side"]
    table = scores(group_stats(frame(records), by))
    expected = reference.scores(records, by)
    columns = ["n", "respondents", "mean", "ci_low", "ci_high", "nps", "status"]
    assert_agrees(table, expected, by, columns)


def test_dimension_scores_and_health_agree_with_plain_python(portfolio):
    records, _ = portfolio
    by = ["account_id", "wave_id"]
    answers = frame(records)
    table = dimension_scores(answers, by)
    expected = reference.dimension_scores(records, by)
    assert_agrees(table, expected, [*by, "dimension"], ["n", "mean", "ci_low", "ci_high"])
    weights = {"trust": 2.0, "value": 0.5}
    table = health_index(answers, by, AnalyticsSettings(dimension_weights=weights))
    expected = reference.health_index(records, by, weights)
    assert_agrees(table, expected, by, ["health", "respondents", "dimensions", "status"])


def test_gaps_agree_with_plain_python(portfolio):
    records, _ = portfolio
    by = ["account_id", "wave_id"]
    answers = frame(records)
    table = internal_external_gap(answers, by)
    expected = reference.internal_external_gap(records, by)
    columns = ["internal", "external", "n_internal", "n_external", "gap", "gap_class"]
    assert_agrees(table, expected, [*by, "dimension"], [*columns, "quadrant"])
    assert table["gap"].notna().sum() > 10
    table = top_vs_line_gap(answers, by)
    expected = reference.top_vs_line_gap(records, by)
    assert_agrees(table, expected, [*by, "side"], ["top", "line", "gap", "n_top", "n_line"])
    assert table["gap"].notna().sum() > 5


def test_response_rates_agree_with_plain_python(portfolio):
    _, invited = portfolio
    by = ["account_id", "wave_id", "seniority"]
    table = response_rates(invitations(invited), by)
    expected = reference.response_rates(invited, by)
    assert_agrees(table, expected, by, ["invited", "responded", "rate"])


# --- properties ------------------------------------------------------------------------------

answer_rows = st.lists(
    st.tuples(
        st.integers(1, 9),  # person
        st.sampled_from(["internal", "external"]),
        st.sampled_from(["trust", "value"]),
        st.integers(1, 5),  # rating
        st.integers(0, 10),  # nps
    ),
    max_size=40,
)


def property_frame(rows):
    records = []
    for person, side, dimension, rating, nps in rows:
        records.append(answer(person, rating, side=side, dimension=dimension))
        records.append(answer(person, nps, side=side, question_type="nps", question_key="n"))
    return frame(records)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_rows, st.integers(1, 4))
def test_scores_stay_in_range_and_show_nothing_below_the_minimum(rows, minimum):
    settings = AnalyticsSettings(min_respondents=minimum)
    answers = property_frame(rows)
    for table in (
        scores(group_stats(answers, ["side"]), settings),
        dimension_scores(answers, ["side"], settings),
    ):
        shown = table["mean"].notna()
        assert (table.loc[shown, "respondents"] >= minimum).all()
        assert table["mean"].dropna().between(0, 100).all()
        assert table["ci_low"].dropna().between(0, 100).all()
        assert table["ci_high"].dropna().between(0, 100).all()
        assert ((table["ci_low"] <= table["mean"]) | table["mean"].isna()).all()
        assert table["nps"].dropna().between(-100, 100).all()
        assert table.loc[table["respondents"] < minimum, "nps"].isna().all()
    health = health_index(answers, ["side"], settings)
    assert health["health"].dropna().between(0, 100).all()
    assert (health.loc[health["health"].notna(), "respondents"] >= minimum).all()
