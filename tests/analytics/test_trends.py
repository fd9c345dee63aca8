"""Trends per wave: change against the previous wave and Welch's test on respondent means."""

import math
import statistics

import pandas as pd
import pytest
from scipy import stats as sps

from relhealth.analytics.metrics import AnalyticsSettings, group_stats, numeric_answers, wave_key
from relhealth.analytics.trends import PERSON_COLUMNS, person_stats, trend, trend_from_stats
from tests.analytics import reference
from tests.analytics.metrics_data import answer, frame, random_portfolio

P_SQRT6_DF6 = 0.04982526278057676  # 2 * scipy.stats.t.sf(sqrt(6), 6)


def wave(number, scores, **fields):
    """One rating per person; ratings 3, 4, 5 scale to 50, 75, 100."""
    values = {50: 3, 75: 4, 100: 5, 25: 2, 0: 1}
    at = f"2025-0{number}-01"
    return [
        answer(person, values[score], wave_id=number, wave_at=at, **fields)
        for person, score in enumerate(scores, 1)
    ]


def test_change_and_welch_test_by_hand():
    records = wave(1, [50, 50, 75, 75]) + wave(2, [75, 75, 100, 100])
    table = trend(frame(records), None)
    assert list(table["wave"]) == ["wave-1", "wave-2"]
    first, second = table.iloc[0], table.iloc[1]
    assert math.isnan(first["change"])
    assert not first["significant"]
    # 87.5 - 62.5 = 25. Both variances 4 * 12.5^2 / 3 = 208.33; standard error
    # sqrt(2 * 208.33 / 4) = sqrt(104.17) = 10.206; t = 25 / 10.206 = sqrt(6);
    # Welch df = 104.17^2 / (2 * 52.08^2 / 3) = 6
    assert second["change"] == pytest.approx(25)
    assert second["p_value"] == pytest.approx(P_SQRT6_DF6)
    assert second["significant"]  # 0.0498 < 0.05
    assert not trend(frame(records), None, AnalyticsSettings(alpha=0.01)).iloc[1]["significant"]


def test_the_test_counts_respondents_not_answers():
    # Person 1 answers three questions in wave 2; the test sees one mean per person.
    records = wave(1, [50, 50, 75, 75]) + wave(2, [75, 75, 100, 100])
    extra = [answer(1, 5, wave_id=2, wave_at="2025-02-01", question_key=f"x{i}") for i in range(2)]
    table = trend(frame(records + extra), None)
    person_means = [(75 + 100 + 100) / 3, 75, 100, 100]
    expected = sps.ttest_ind(person_means, [50, 50, 75, 75], equal_var=False).pvalue
    assert table.iloc[1]["p_value"] == pytest.approx(expected)
    # while the shown mean is the mean of the answers: (75*2 + 100*4) / 6
    assert table.iloc[1]["mean"] == pytest.approx(550 / 6)
    assert table.iloc[1]["n"] == 6
    assert table.iloc[1]["respondents"] == 4


def test_each_series_changes_against_its_own_previous_wave():
    internal = wave(1, [50, 50, 50], side="internal") + wave(2, [75, 75, 50], side="internal")
    external = [dict(r, person_id=r["person_id"] + 10) for r in wave(1, [100, 100, 75])]
    external += [dict(r, person_id=r["person_id"] + 10) for r in wave(3, [50, 50, 50])]
    table = trend(frame(internal + external), "side").set_index(["side", "wave"])
    assert table.loc[("internal", "wave-2"), "change"] == pytest.approx(200 / 3 - 50)
    # the external series has no wave 2: wave 3 is compared with wave 1
    assert table.loc[("external", "wave-3"), "change"] == pytest.approx(50 - 275 / 3)


def test_no_change_next_to_an_insufficient_wave():
    records = wave(1, [50, 75]) + wave(2, [75, 75, 100])
    table = trend(frame(records), None)
    assert list(table["status"]) == ["insufficient", "ok"]
    assert math.isnan(table.iloc[1]["change"])
    assert math.isnan(table.iloc[1]["p_value"])
    assert table.iloc[0]["n"] == 2


def test_history_without_waves_is_grouped_by_quarter_in_time_order():
    records = [
        answer(p, 4, wave_id=None, wave_at=at)
        for p, at in [(1, "2024-11-02"), (2, "2024-12-20"), (3, "2024-10-05"), (4, "2025-01-15")]
    ]
    records += [answer(p, 3, wave_id=None, wave_at="2025-02-01") for p in (5, 6)]
    table = trend(frame(records), None)
    assert list(table["wave"]) == ["2024Q4", "2025Q1"]
    assert table["wave_id"].isna().all()


def test_by_dimension_leaves_out_answers_outside_dimensions():
    records = wave(1, [50, 50, 75]) + [
        answer(p, 10, question_type="nps", question_key="nps") for p in (1, 2, 3)
    ]
    table = trend(frame(records), "dimension")
    assert list(table["dimension"]) == ["trust"]
    assert table.iloc[0]["n"] == 3


def test_empty_answers_give_an_empty_trend_with_its_columns():
    table = trend(frame([]), "seniority")
    assert table.empty
    expected = ["seniority", "wave", "wave_id", "wave_at", "mean", "change", "p_value"]
    assert set(expected) <= set(table.columns)


def test_trends_agree_with_plain_python():
    records, _ = random_portfolio(seed=5, accounts=8, people=20, waves=4)
    by = ["account_id", "side"]
    table = trend(frame(records), by)
    expected = reference.trend(records, by)
    scores = reference.scores(records, [*by, "wave_id"])
    assert len(table) == len(expected)
    tested = 0
    for row in table.to_dict("records"):
        key = (row["account_id"], row["side"], row["wave_id"])
        want = expected[key] | scores[key]
        for column in ("mean", "ci_low", "ci_high", "change", "p_value"):
            if math.isnan(want[column]):
                assert math.isnan(row[column]), (key, column)
            else:
                assert math.isclose(row[column], want[column], rel_tol=1e-9, abs_tol=1e-9)
        tested += not math.isnan(want["p_value"])
    assert tested > 20


def test_welch_reference_matches_scipy():
    a, b = [1.0, 2.5, 3.0, 7.0], [2.0, 2.0, 9.0, 4.5, 6.0]
    assert reference.welch_p(a, b) == pytest.approx(
        sps.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-12
    )
    assert statistics.fmean(a) == pytest.approx(3.375)


def test_trend_from_stats_added_up_over_disjoint_parts_is_the_trend_of_the_whole():
    # The portfolio adds per-wave sums of disjoint groups of people (accounts) together.
    records, _ = random_portfolio(seed=11, accounts=6, people=15, waves=3)
    whole = frame(records)
    parts = []
    for account in sorted({r["account_id"] for r in records}):
        part = whole[whole["account_id"].eq(account).to_numpy(dtype=bool)]
        numeric = numeric_answers(part).assign(wave=lambda f: wave_key(f).astype("string"))
        stats = group_stats(numeric, ["side", "wave"]).merge(
            person_stats(numeric, ["side", "wave"]), on=["side", "wave"]
        )
        parts.append(stats)
    summed = (
        pd.concat(parts)
        .groupby(["side", "wave"], as_index=False)
        .agg(
            {
                **dict.fromkeys(["n", "respondents", "total", "total_sq", "nps_n"], "sum"),
                **dict.fromkeys(["promoters", "detractors", *PERSON_COLUMNS], "sum"),
                "k": "max",
            }
        )
    )
    expected = trend(whole, "side")
    waves = expected[["wave", "wave_id", "wave_at"]].drop_duplicates()
    table = trend_from_stats(summed.merge(waves, on="wave"), "side")

    assert expected["p_value"].notna().sum() > 2
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-9, atol=1e-9)


def test_equal_person_means_have_no_spurious_spread():
    # Three people, each (75 + 75 + 50) / 3 in both waves: from sums their spread comes out a
    # few ulps off zero (3 m^2 - (3 m)^2 / 3 = 1.8e-12); it must stay zero, as a two-pass std
    # has it, so the test is 0 / 0 (no p-value) rather than p = 1.
    records = []
    for number in (1, 2):
        for person in (1, 2, 3):
            records += [
                answer(person, value, wave_id=number, wave_at=f"2025-0{number}-01", question_key=q)
                for q, value in (("a", 4), ("b", 4), ("c", 3))
            ]
    table = trend(frame(records), None)
    assert table.iloc[1]["change"] == 0
    assert math.isnan(table.iloc[1]["p_value"])
