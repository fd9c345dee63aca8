"""The panel: within-person change, NPS migration and drop-outs."""

import math

import pytest
from scipy import stats as sps

from relhealth.analytics.metrics import AnalyticsSettings
from relhealth.analytics.panel import drop_outs, migration_matrix, panel_change
from tests.analytics import reference
from tests.analytics.metrics_data import (
    answer,
    frame,
    invitation,
    invitations,
    random_portfolio,
)

T_975_3 = 3.1824463052837078  # scipy.stats.t.ppf(0.975, 3)
P_T3_DF3 = 0.0576688856224373  # 2 * scipy.stats.t.sf(3, 3)
RATING = {0: 1, 25: 2, 50: 3, 75: 4, 100: 5}


def in_wave(number, scores, **fields):
    at = f"2025-0{number}-01"
    return [
        answer(person, RATING[score], wave_id=number, wave_at=at, **fields)
        for person, score in scores.items()
    ]


def test_within_person_change_and_paired_test_by_hand():
    before = in_wave(1, {1: 50, 2: 50, 3: 75, 4: 25, 5: 100})  # person 5 drops out
    after = in_wave(2, {1: 75, 2: 50, 3: 100, 4: 50, 6: 0})  # person 6 is new
    row = panel_change(frame(before + after)).iloc[0]
    # changes 25, 0, 25, 25: mean 18.75; deviations 6.25 x3 and -18.75:
    # variance (3 * 39.0625 + 351.5625) / 3 = 156.25, sd 12.5, standard error 6.25, t = 3
    assert (row["wave_before"], row["wave_after"], row["n"]) == ("wave-1", "wave-2", 4)
    assert row["change"] == pytest.approx(18.75)
    assert row["mean_before"] == pytest.approx(50)
    assert row["mean_after"] == pytest.approx(68.75)
    assert row["ci_low"] == pytest.approx(18.75 - T_975_3 * 6.25)
    assert row["ci_high"] == pytest.approx(18.75 + T_975_3 * 6.25)
    assert row["p_value"] == pytest.approx(P_T3_DF3)
    assert row["p_value"] == pytest.approx(
        sps.ttest_rel([75, 50, 100, 50], [50, 50, 75, 25]).pvalue
    )
    assert not row["significant"]
    assert row["status"] == "ok"


def test_a_person_score_is_the_mean_of_their_answers():
    before = in_wave(1, {1: 50, 2: 50, 3: 50})
    before += [answer(1, 5, wave_id=1, wave_at="2025-01-01", question_key="q2")]  # 1: 75
    after = in_wave(2, {1: 75, 2: 75, 3: 75})
    row = panel_change(frame(before + after)).iloc[0]
    # changes 0, 25, 25
    assert row["change"] == pytest.approx(50 / 3)


def test_only_consecutive_waves_pair_up():
    records = in_wave(1, {1: 50, 2: 50, 3: 50})
    records += in_wave(2, {4: 50, 5: 50, 6: 50})
    records += in_wave(3, {1: 75, 2: 75, 3: 75, 4: 25, 5: 25, 6: 25})
    table = panel_change(frame(records)).set_index(["wave_before", "wave_after"])
    # nobody answered both waves 1 and 2, and waves 1 and 3 are not consecutive
    assert list(table.index) == [("wave-2", "wave-3")]
    assert table.loc[("wave-2", "wave-3"), "n"] == 3
    assert table.loc[("wave-2", "wave-3"), "change"] == pytest.approx(-25)


def test_programs_are_separate_panels():
    one = in_wave(1, {1: 50, 2: 50, 3: 50}) + in_wave(2, {1: 75, 2: 75, 3: 75})
    other = in_wave(3, {1: 0, 2: 0, 3: 0}, program_id=2)
    table = panel_change(frame(one + other))
    assert list(table["program_id"]) == [1]


def test_too_few_people_in_the_panel_is_insufficient():
    records = in_wave(1, {1: 50, 2: 50}) + in_wave(2, {1: 75, 2: 75})
    row = panel_change(frame(records)).iloc[0]
    assert row["status"] == "insufficient"
    assert row["n"] == 2
    assert math.isnan(row["change"])
    assert math.isnan(row["p_value"])


def test_a_confidential_panel_below_k_is_suppressed():
    records = in_wave(1, {1: 50, 2: 50, 3: 50}, k=4) + in_wave(2, {1: 75, 2: 75, 3: 75}, k=4)
    row = panel_change(frame(records)).iloc[0]
    assert row["status"] == "suppressed"
    assert row[["n", "change", "mean_before", "p_value"]].isna().all()


def nps(wave, values, **fields):
    at = f"2025-0{wave}-01"
    return [
        answer(p, v, question_type="nps", question_key="nps", wave_id=wave, wave_at=at, **fields)
        for p, v in values.items()
    ]


def test_migration_matrix_by_hand():
    before = nps(1, {1: 10, 2: 9, 3: 7, 4: 3, 5: 0})
    after = nps(2, {1: 6, 2: 10, 3: 9, 4: 8, 6: 10})
    table = migration_matrix(frame(before + after))
    assert len(table) == 9
    counts = {(r["before"], r["after"]): r["people"] for r in table.to_dict("records")}
    # 1: promoter -> detractor, 2: promoter -> promoter, 3: passive -> promoter,
    # 4: detractor -> passive; 5 and 6 answered once only
    assert counts == {
        ("detractor", "detractor"): 0,
        ("detractor", "passive"): 1,
        ("detractor", "promoter"): 0,
        ("passive", "detractor"): 0,
        ("passive", "passive"): 0,
        ("passive", "promoter"): 1,
        ("promoter", "detractor"): 1,
        ("promoter", "passive"): 0,
        ("promoter", "promoter"): 1,
    }
    assert set(table["status"]) == {"ok"}


def test_a_confidential_migration_below_k_is_suppressed_whole():
    records = nps(1, {1: 10, 2: 3}, k=3) + nps(2, {1: 3, 2: 3}, k=3)
    table = migration_matrix(frame(records))
    assert (table["status"] == "suppressed").all()
    assert table["people"].isna().all()


def test_drop_outs_answered_before_and_are_silent_now():
    answers = frame(in_wave(1, {1: 50, 2: 50, 3: 75}) + in_wave(2, {1: 50}))
    sent = [
        invitation(p, True, invitation_id=p, wave_id=1, wave_at="2025-01-01") for p in (1, 2, 3)
    ]
    sent += [
        invitation(1, True, invitation_id=11, wave_id=2, wave_at="2025-02-01"),
        invitation(2, False, invitation_id=12, wave_id=2, wave_at="2025-02-01"),
        invitation(4, False, invitation_id=14, wave_id=2, wave_at="2025-02-01"),  # new, silent
    ]
    # person 3 was not invited to wave 2 (skipped): not a drop-out
    sent.append(
        invitation(3, False, invitation_id=13, wave_id=2, wave_at="2025-02-01", invited=False)
    )
    table = drop_outs(answers, invitations(sent))
    assert list(table["person_id"]) == [2]
    assert (table.iloc[0]["wave_id"], table.iloc[0]["previous_wave_id"]) == (2, 1)


def test_empty_frames_give_empty_panel_tables_with_their_columns():
    assert {"change", "n", "p_value", "status"} <= set(panel_change(frame([])).columns)
    assert {"before", "after", "people"} <= set(migration_matrix(frame([])).columns)
    outs = drop_outs(frame([]), invitations([]))
    assert outs.empty
    assert {"person_id", "wave_id", "previous_wave_id"} <= set(outs.columns)


def test_panel_change_agrees_with_plain_python_and_scipy():
    records, _ = random_portfolio(seed=21, accounts=6, people=24, waves=4)
    table = panel_change(frame(records))
    expected = reference.panel_change(records)
    assert len(table) == len(expected)
    for row in table.to_dict("records"):
        want = expected[(row["program_id"], row["wave_before"], row["wave_after"])]
        assert row["n"] == want["n"]
        for column in ("change", "p_value"):
            assert math.isclose(row[column], want[column], rel_tol=1e-9, abs_tol=1e-9)
    assert (table["status"] == "ok").all()


def test_paired_test_equals_scipy_ttest_rel():
    records, _ = random_portfolio(seed=8, accounts=1, people=30, waves=2)
    answers = frame(records)
    row = panel_change(answers, AnalyticsSettings()).iloc[0]
    numeric = answers[answers["scaled"].notna()]
    means = numeric.groupby(["wave_id", "person_id"])["scaled"].mean().unstack(0).dropna()
    result = sps.ttest_rel(means.iloc[:, 1], means.iloc[:, 0])
    assert row["n"] == len(means)
    assert row["p_value"] == pytest.approx(result.pvalue, rel=1e-9)
