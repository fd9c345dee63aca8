"""The alert rules on small fixed frames: each fires when it should, and only then.

Confidential programs (``k`` > 1) never name a person: the person rules become group alerts
that need at least ``k`` people.
"""

import datetime as dt
import itertools

import pytest

from relhealth.analytics import alerts
from relhealth.analytics.alerts import AlertSettings
from relhealth.analytics.frames import answers_frame, invitations_frame

W1 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
W2 = dt.datetime(2026, 4, 6, tzinfo=dt.UTC)
W3 = dt.datetime(2026, 7, 6, tzinfo=dt.UTC)
WAVE_AT = {1: W1, 2: W2, 3: W3}
_ids = itertools.count(1)

ONLY_OVERALL = AlertSettings(decline_breakdowns=(None,))


def answer(person_id, wave_id, scaled, **changes):
    """A rating on the quality dimension (1..5 scale; ``scaled`` 0-100) of one of theirs."""
    row = {
        "response_id": next(_ids),
        "person_id": person_id,
        "account_id": 1,
        "program_id": 1,
        "wave_id": wave_id,
        "wave_at": WAVE_AT[wave_id],
        "side": "external",
        "seniority": "manager",
        "is_top": False,
        "question_key": "quality",
        "question_type": "rating",
        "dimension": "quality",
        "value": 1 + scaled / 25,
        "scaled": float(scaled),
        "text": None,
        "sentiment": float("nan"),
        "k": 1,
    }
    return {**row, **changes}


def nps(person_id, wave_id, value, **changes):
    """An NPS answer of one of their executives."""
    changes = {"seniority": "executive", "is_top": True, **changes}
    return answer(
        person_id,
        wave_id,
        10.0 * value,
        question_key="nps",
        question_type="nps",
        dimension="overall",
        value=float(value),
        **changes,
    )


def invitation(person_id, wave_id, responded, **changes):
    row = {
        "invitation_id": next(_ids),
        "person_id": person_id,
        "account_id": 1,
        "program_id": 1,
        "wave_id": wave_id,
        "wave_at": WAVE_AT[wave_id],
        "side": "external",
        "seniority": "manager",
        "is_top": False,
        "invited": True,
        "responded": responded,
        "k": 1,
    }
    return {**row, **changes}


def no_answers():
    return answers_frame([])


def no_invitations():
    return invitations_frame([])


# -- significant decline ---------------------------------------------------------------------

BEFORE = [75, 80, 85, 80, 78, 82]
AFTER_FALL = [50, 55, 45, 52, 48, 50]


def wave_pair(before, after, **changes):
    rows = [answer(100 + i, 1, s, **changes) for i, s in enumerate(before)]
    rows += [answer(100 + i, 2, s, **changes) for i, s in enumerate(after)]
    return answers_frame(rows)


def test_a_large_significant_fall_opens_a_decline_with_figures_and_n():
    [candidate] = alerts.significant_declines(wave_pair(BEFORE, AFTER_FALL), ONLY_OVERALL)
    assert candidate.kind == alerts.SIGNIFICANT_DECLINE
    assert (candidate.account_id, candidate.wave_id, candidate.person_id) == (1, 2, None)
    assert candidate.severity == alerts.HIGH  # 30 points, beyond decline_high_points
    assert candidate.dedupe_key == "significant_decline:1:2:overall"
    assert candidate.evidence["change"] == pytest.approx(-30.0)
    assert candidate.evidence["p_value"] < 0.05
    assert candidate.evidence["before"]["mean"] == pytest.approx(80.0)
    assert candidate.evidence["after"]["respondents"] == 6
    assert "fell 30.0 points" in candidate.message
    assert "n = 6 answers from 6 respondents" in candidate.message


def test_a_decline_is_reported_for_each_breakdown_series():
    keys = {
        c.dedupe_key
        for c in alerts.significant_declines(wave_pair(BEFORE, AFTER_FALL), AlertSettings())
    }
    assert keys == {
        "significant_decline:1:2:overall",
        "significant_decline:1:2:side=external",
        "significant_decline:1:2:dimension=quality",
    }


def test_a_small_fall_is_not_an_alert_however_certain():
    after = [s - 3 for s in BEFORE]  # 3 points: below decline_min_points (5)
    assert alerts.significant_declines(wave_pair(BEFORE, after), ONLY_OVERALL) == []


def test_a_fall_within_the_noise_is_not_an_alert():
    before = [20, 100, 60, 95, 25, 90]
    after = [10, 95, 50, 85, 20, 80]  # 8.3 points down, far inside the spread
    assert alerts.significant_declines(wave_pair(before, after), ONLY_OVERALL) == []


def test_a_rise_is_not_a_decline():
    assert alerts.significant_declines(wave_pair(AFTER_FALL, BEFORE), ONLY_OVERALL) == []


def test_only_the_waves_asked_about_are_looked_at():
    frame = wave_pair(BEFORE, AFTER_FALL)
    assert alerts.significant_declines(frame, ONLY_OVERALL, waves={1}) == []
    assert len(alerts.significant_declines(frame, ONLY_OVERALL, waves={2})) == 1


def test_a_confidential_decline_needs_k_respondents_and_names_nobody():
    [candidate] = alerts.significant_declines(wave_pair(BEFORE, AFTER_FALL, k=5), ONLY_OVERALL)
    assert candidate.confidential
    assert candidate.person_id is None
    assert alerts.significant_declines(wave_pair(BEFORE, AFTER_FALL, k=7), ONLY_OVERALL) == []


# -- new executive detractor -----------------------------------------------------------------


def test_an_executive_who_turns_detractor_is_an_alert_naming_them():
    frame = answers_frame([nps(10, 1, 9), nps(10, 2, 4)])
    [candidate] = alerts.executive_detractors(frame)
    assert candidate.kind == alerts.EXECUTIVE_DETRACTOR
    assert (candidate.person_id, candidate.wave_id) == (10, 2)
    assert candidate.dedupe_key == "executive_detractor:1:2:10"
    assert candidate.evidence["previous_category"] == "promoter"
    assert "answered 4 out of 10" in candidate.message
    assert "a promoter last time (9)" in candidate.message


def test_an_executive_answering_for_the_first_time_as_a_detractor_is_new():
    [candidate] = alerts.executive_detractors(answers_frame([nps(12, 2, 6)]))
    assert candidate.person_id == 12
    assert "first time" in candidate.message


def test_no_alert_for_a_detractor_who_already_was_one_nor_for_others():
    frame = answers_frame(
        [
            nps(11, 1, 3),
            nps(11, 2, 5),  # was a detractor already
            nps(13, 2, 2, seniority="manager", is_top=False),  # not an executive
            nps(14, 2, 2, side="internal"),  # one of ours
            nps(15, 2, 7),  # a passive
        ]
    )
    assert alerts.executive_detractors(frame, waves={2}) == []


def test_a_confidential_program_opens_one_group_alert_with_at_least_k_new_detractors():
    rows = [nps(p, 1, 9, k=3) for p in (20, 21, 22, 23)]
    rows += [nps(20, 2, 3, k=3), nps(21, 2, 5, k=3), nps(22, 2, 6, k=3), nps(23, 2, 10, k=3)]
    [candidate] = alerts.executive_detractors(answers_frame(rows))
    assert candidate.confidential
    assert candidate.person_id is None
    assert candidate.dedupe_key == "executive_detractor:1:2:group"
    assert candidate.evidence == {
        "new_detractors": 3,
        "executive_respondents": 4,
        "detractors": 3,
        "k": 3,
    }
    assert "3 of the 4 executives" in candidate.message
    for person_id in (20, 21, 22, 23):
        assert str(person_id) not in candidate.message + candidate.dedupe_key


def test_a_confidential_program_with_fewer_than_k_new_detractors_opens_nothing():
    rows = [nps(p, 1, 9, k=3) for p in (20, 21, 22)]
    rows += [nps(20, 2, 3, k=3), nps(21, 2, 5, k=3), nps(22, 2, 9, k=3)]
    assert alerts.executive_detractors(answers_frame(rows)) == []


# -- internal-vs-external gap ----------------------------------------------------------------


def sides(wave_id, internal, external):
    rows = [
        answer(200 + i, wave_id, s, side="internal", account_id=1) for i, s in enumerate(internal)
    ]
    rows += [answer(300 + i, wave_id, s) for i, s in enumerate(external)]
    return rows


def test_a_gap_that_becomes_strongly_misaligned_is_an_alert():
    frame = answers_frame(
        sides(1, [80, 80, 80], [75, 75, 75]) + sides(2, [85, 85, 85], [55, 55, 55])
    )
    [candidate] = alerts.widened_gaps(frame, AlertSettings())
    assert candidate.kind == alerts.GAP_WIDENED
    assert (candidate.wave_id, candidate.dimension) == (2, "quality")
    assert candidate.dedupe_key == "gap_widened:1:2:quality"
    assert candidate.evidence["gap"] == pytest.approx(30.0)
    assert candidate.evidence["crossed_into_strongly_misaligned"]
    assert candidate.evidence["previous"]["gap"] == pytest.approx(5.0)
    assert candidate.severity == alerts.HIGH  # a blind spot: we 85 (high), they 55 (low)
    assert "30.0 points (we rate it higher than they do), from 5.0" in candidate.message
    assert "(n = 3)" in candidate.message


def test_a_gap_that_grows_by_the_threshold_is_an_alert_below_strong_too():
    frame = answers_frame(
        sides(1, [80, 80, 80], [78, 78, 78]) + sides(2, [80, 80, 80], [66, 66, 66])
    )
    [candidate] = alerts.widened_gaps(frame, AlertSettings(gap_widening_points=10))
    assert candidate.evidence["gap_class"] == "misaligned"
    assert candidate.evidence["widened_by"] == pytest.approx(12.0)
    assert alerts.widened_gaps(frame, AlertSettings(gap_widening_points=15)) == []


def test_a_gap_that_stays_strongly_misaligned_is_not_a_new_alert():
    frame = answers_frame(
        sides(1, [85, 85, 85], [60, 60, 60]) + sides(2, [85, 85, 85], [58, 58, 58])
    )
    assert [c.wave_id for c in alerts.widened_gaps(frame, AlertSettings())] == [1]
    assert alerts.widened_gaps(frame, AlertSettings(), waves={2}) == []


def test_a_confidential_gap_below_k_respondents_is_no_alert():
    rows = sides(1, [80, 80, 80], [75, 75, 75]) + sides(2, [85, 85, 85], [55, 55, 55])
    assert alerts.widened_gaps(answers_frame([{**r, "k": 4} for r in rows]), AlertSettings()) == []
    [candidate] = alerts.widened_gaps(answers_frame([{**r, "k": 3} for r in rows]), AlertSettings())
    assert candidate.confidential
    assert candidate.person_id is None


# -- key person silent -----------------------------------------------------------------------

ROLES = {20: ["decision_maker"], 21: ["champion"], 22: ["user"], 24: ["decision_maker"]}


def test_a_key_person_silent_two_consecutive_waves_after_answering_before_is_an_alert():
    frame = invitations_frame(
        [
            invitation(20, 1, True),
            invitation(20, 2, False),
            invitation(20, 3, False),
        ]
    )
    [candidate] = alerts.silent_key_people(frame, no_answers(), ROLES, AlertSettings())
    assert candidate.kind == alerts.KEY_PERSON_SILENT
    assert (candidate.person_id, candidate.wave_id) == (20, 3)
    assert candidate.evidence["waves"] == [2, 3]
    assert candidate.evidence["roles"] == ["decision_maker"]
    assert "decision maker" in candidate.message


def test_an_executive_without_a_key_role_counts_as_key():
    frame = invitations_frame(
        [invitation(23, w, w == 1, is_top=True, seniority="executive") for w in (1, 2, 3)]
    )
    [candidate] = alerts.silent_key_people(frame, no_answers(), {}, AlertSettings())
    assert candidate.person_id == 23
    assert candidate.evidence["is_top"]


def test_no_alert_for_who_never_answered_is_not_key_or_was_not_invited_twice_in_a_row():
    rows = [invitation(21, w, False) for w in (1, 2, 3)]  # a champion who never answered
    rows += [invitation(22, w, w == 1) for w in (1, 2, 3)]  # a user: not a key person
    # A decision maker skipped in wave 2 (not invited): waves 1 and 3 are not consecutive.
    rows += [
        invitation(24, 1, True),
        invitation(24, 2, False, invited=False),
        invitation(24, 3, False),
    ]
    rows += [invitation(20, 1, True), invitation(20, 2, False)]  # silent once only
    frame = invitations_frame(rows)
    assert alerts.silent_key_people(frame, no_answers(), ROLES, AlertSettings()) == []


def test_an_answer_before_without_an_invitation_counts_as_having_answered():
    history = answers_frame([answer(20, 1, 80)])  # e.g. imported, or answered another way
    frame = invitations_frame([invitation(20, 2, False), invitation(20, 3, False)])
    assert len(alerts.silent_key_people(frame, history, ROLES, AlertSettings())) == 1


def test_key_people_silent_in_a_confidential_program_are_a_group_alert_of_at_least_k():
    def rows(k):
        return invitations_frame(
            [invitation(p, w, w == 1, k=k) for p in (20, 24) for w in (1, 2, 3)]
        )

    [candidate] = alerts.silent_key_people(rows(2), no_answers(), ROLES, AlertSettings())
    assert candidate.confidential
    assert candidate.person_id is None
    assert candidate.evidence == {"silent_people": 2, "k": 2}
    assert candidate.dedupe_key == "key_person_silent:1:3:group"
    assert alerts.silent_key_people(rows(3), no_answers(), ROLES, AlertSettings()) == []


# -- coverage lost ---------------------------------------------------------------------------

LADDER = ("executive", "senior", "manager", "staff")


def snapshot(snapshot_id, day, covered, threading="multi-threaded", wave_id=None):
    """A snapshot whose levels have ``covered[level]`` of 2 people covered."""
    by_level = {
        level: {"covered": covered.get(level, 0), "total": 2, "share": covered.get(level, 0) / 2}
        for level in LADDER
    }
    total = sum(covered.values())
    return {
        "id": snapshot_id,
        "account_id": 1,
        "taken_at": dt.datetime(2026, 1, day, tzinfo=dt.UTC),
        "wave_id": wave_id,
        "metrics": {
            "coverage": {
                "overall": {"covered": total, "total": 8, "share": total / 8},
                "by_level": by_level,
            },
            "threading": {"status": threading, "our_people": 1, "their_people": 1},
        },
    }


def test_a_level_that_was_covered_and_is_not_is_an_alert():
    history = [
        snapshot(1, 1, {"executive": 1, "manager": 2}),
        snapshot(2, 2, {"manager": 2}, wave_id=7),
    ]
    [candidate] = alerts.coverage_losses(history, LADDER)
    assert candidate.kind == alerts.COVERAGE_LOST
    assert (candidate.wave_id, candidate.person_id) == (7, None)
    assert candidate.severity == alerts.HIGH  # the top of the ladder
    assert candidate.dedupe_key == "coverage_lost:1:2:level=executive"
    assert candidate.evidence["before_snapshot_id"] == 1
    assert "executive level" in candidate.message
    assert "1 of 2 were, now 0 of 2" in candidate.message


def test_becoming_single_threaded_or_uncovered_is_an_alert():
    history = [
        snapshot(1, 1, {"manager": 2}),
        snapshot(2, 2, {"manager": 2}, threading="single-threaded"),
        snapshot(3, 3, {"manager": 2}, threading="single-threaded"),
        snapshot(4, 4, {"manager": 2}, threading="uncovered"),
    ]
    found = alerts.coverage_losses(history, LADDER)
    assert [(c.dedupe_key, c.severity) for c in found] == [
        ("coverage_lost:1:2:threading", alerts.MEDIUM),
        ("coverage_lost:1:4:threading", alerts.HIGH),
    ]
    assert "from multi-threaded to single-threaded" in found[0].message


def test_unchanged_or_better_coverage_is_no_alert_and_after_ids_limit_the_look():
    history = [
        snapshot(1, 1, {"manager": 1}, threading="single-threaded"),
        snapshot(2, 2, {"manager": 2, "senior": 1}),
        snapshot(3, 3, {"senior": 1}),
    ]
    assert [c.dedupe_key for c in alerts.coverage_losses(history, LADDER)] == [
        "coverage_lost:1:3:level=manager"
    ]
    assert alerts.coverage_losses(history, LADDER, after_ids={2}) == []


# -- all of them -----------------------------------------------------------------------------


def test_evaluate_runs_every_rule_in_a_stable_order():
    answers = answers_frame(
        [*wave_pair(BEFORE, AFTER_FALL).to_dict("records"), nps(10, 1, 9), nps(10, 2, 2)]
    )
    history = [snapshot(1, 1, {"executive": 1}), snapshot(2, 2, {})]
    found = alerts.evaluate(answers, no_invitations(), history, {}, LADDER, ONLY_OVERALL, waves={2})
    assert [c.kind for c in found] == [
        alerts.COVERAGE_LOST,
        alerts.EXECUTIVE_DETRACTOR,
        alerts.SIGNIFICANT_DECLINE,
    ]
    assert found == alerts.evaluate(
        answers, no_invitations(), history, {}, LADDER, ONLY_OVERALL, waves={2}
    )
