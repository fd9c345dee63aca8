"""The closed loop's pure rules: reasons for a case, its priority and its deadlines."""

import datetime as dt
import math
from decimal import Decimal
from types import SimpleNamespace

import pytest

from relhealth.followup import rules
from relhealth.followup.models import CaseReason
from relhealth.followup.rules import FollowupSettings, ResponseSignal
from relhealth.surveys.models import QuestionType

SETTINGS = FollowupSettings(low_score=40.0, negative_sentiment=-0.5)


@pytest.mark.parametrize("nps", [0, 3, 6])
def test_an_nps_of_six_or_less_is_a_detractor(nps):
    assert rules.case_reasons(ResponseSignal(nps, None, None), SETTINGS) == [CaseReason.DETRACTOR]


@pytest.mark.parametrize("nps", [7, 8, 10])
def test_passives_and_promoters_open_nothing(nps):
    assert rules.case_reasons(ResponseSignal(nps, 90.0, 0.4), SETTINGS) == []


def _answer(kind: QuestionType, value=None, scaled=None):
    return SimpleNamespace(question_type=kind, value=value, scaled=scaled)


def test_a_response_s_nps_is_its_lower_nps_answer_and_ratings_leave_it_alone():
    answers = [
        _answer(QuestionType.RATING, 5, 100.0),
        _answer(QuestionType.NPS, 9, 90.0),
        _answer(QuestionType.NPS, None),  # skipped
        _answer(QuestionType.NPS, 4, 40.0),
    ]
    assert rules.nps_answer(answers) == 4
    assert rules.nps_answer(answers[:1]) is None


def test_the_mean_rating_counts_rating_answers_only():
    answers = [
        _answer(QuestionType.NPS, 0, 0.0),  # NPS has its own rule: not in the mean
        _answer(QuestionType.RATING, 2, 25.0),
        _answer(QuestionType.RATING, 4, 75.0),
        _answer(QuestionType.RATING, 3, 50.0),
        _answer(QuestionType.RATING),  # skipped
        _answer(QuestionType.TEXT),
    ]
    assert rules.mean_rating(answers) == pytest.approx(50.0)
    assert rules.mean_rating(answers[:1]) is None


def test_a_mean_score_below_the_threshold_opens_a_low_score_case():
    assert rules.case_reasons(ResponseSignal(None, 39.9, None), SETTINGS) == [CaseReason.LOW_SCORE]
    assert rules.case_reasons(ResponseSignal(None, 40.0, None), SETTINGS) == []


def test_a_comment_more_negative_than_the_threshold_opens_a_negative_text_case():
    signal = ResponseSignal(None, None, -0.51)
    assert rules.case_reasons(signal, SETTINGS) == [CaseReason.NEGATIVE_TEXT]
    assert rules.case_reasons(ResponseSignal(None, None, -0.5), SETTINGS) == []


def test_every_reason_at_once_most_telling_first():
    reasons = rules.case_reasons(ResponseSignal(2, 10.0, -0.9), SETTINGS)
    assert reasons == [CaseReason.DETRACTOR, CaseReason.LOW_SCORE, CaseReason.NEGATIVE_TEXT]


def test_the_thresholds_are_settings():
    strict = FollowupSettings(low_score=80.0, negative_sentiment=0.0)
    assert rules.case_reasons(ResponseSignal(9, 70.0, -0.1), strict) == [
        CaseReason.LOW_SCORE,
        CaseReason.NEGATIVE_TEXT,
    ]


def test_due_dates_follow_the_settings():
    opened = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    contact, resolution = rules.due_dates(
        opened, FollowupSettings(first_contact_hours=24, resolution_days=10)
    )
    assert contact - opened == dt.timedelta(hours=24)
    assert resolution - opened == dt.timedelta(days=10)


def test_default_first_contact_is_due_within_48_hours():
    opened = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    contact, resolution = rules.due_dates(opened, FollowupSettings())
    assert contact - opened == dt.timedelta(hours=48)
    assert resolution > contact


def test_settings_come_from_the_app_config(app):
    settings = FollowupSettings.from_config(
        {
            **app.config,
            "FOLLOWUP_FIRST_CONTACT_HOURS": 12.0,
            "FOLLOWUP_ROOT_CAUSES": ["pricing", "support"],
        }
    )
    assert settings.first_contact_hours == 12.0
    assert settings.root_causes == ("pricing", "support")
    assert settings.ladder == tuple(app.config["SENIORITY_LADDER"])


def test_account_value_is_lifetime_value_else_annual_value_else_zero():
    assert rules.account_value(Decimal("500"), Decimal("100")) == Decimal("500")
    assert rules.account_value(None, Decimal("100")) == Decimal("100")
    assert rules.account_value(None, None) == Decimal(0)
    assert rules.account_value(Decimal("0"), Decimal("100")) == Decimal("0")


def test_seniority_weighs_two_at_the_top_and_one_at_the_foot():
    ladder = ("executive", "senior", "manager", "staff")
    assert rules.seniority_weight("executive", ladder) == 2.0
    assert rules.seniority_weight("staff", ladder) == 1.0
    assert rules.seniority_weight("senior", ladder) == pytest.approx(1 + 2 / 3)
    assert rules.seniority_weight("intern", ladder) == 1.0
    assert rules.seniority_weight(None, ladder) == 1.0
    assert rules.seniority_weight("executive", ("executive",)) == 1.0


def test_influence_is_one_for_the_average_person_and_capped_at_two():
    assert rules.influence_weight(0.1, 10) == 1.0  # exactly average
    assert rules.influence_weight(0.05, 10) == 1.0  # below average: no bonus, no penalty
    assert rules.influence_weight(0.25, 10) == pytest.approx(1.5)
    assert rules.influence_weight(0.9, 10) == 2.0  # capped
    assert rules.influence_weight(None, 10) == 1.0
    assert rules.influence_weight(0.3, None) == 1.0


def test_priority_multiplies_the_documented_parts():
    score, parts = rules.priority(
        Decimal("999990"),
        seniority="executive",
        roles=["decision_maker"],
        pagerank=0.25,
        people=10,
        severity="high",
    )
    assert parts == {
        "value": 999990.0,
        "value_points": 6.0,
        "seniority": 2.0,
        "role": 1.5,
        "influence": 1.5,
        "severity": 2.0,
    }
    assert score == pytest.approx(6.0 * 2.0 * 1.5 * 1.5 * 2.0)


def test_a_plain_response_from_an_unknown_small_account_weighs_one():
    score, parts = rules.priority(Decimal(0))
    assert score == 1.0
    assert parts["role"] == parts["seniority"] == parts["influence"] == parts["severity"] == 1.0


def test_value_counts_on_a_log_scale():
    small, _ = rules.priority(Decimal("990"))
    large, _ = rules.priority(Decimal("99990"))
    assert large / small == pytest.approx(math.log10(100000) / math.log10(1000))


def test_a_role_outside_the_key_roles_adds_nothing():
    _, parts = rules.priority(Decimal(0), roles=["user", "blocker"])
    assert parts["role"] == 1.0


def test_severity_weights_and_unknown_severity():
    assert rules.priority(Decimal(0), severity="medium")[1]["severity"] == 1.5
    assert rules.priority(Decimal(0), severity="low")[1]["severity"] == 1.0
    assert rules.priority(Decimal(0), severity="bogus")[1]["severity"] == 1.0


def test_an_executive_at_a_small_account_outranks_staff_at_a_large_one():
    executive, _ = rules.priority(Decimal("10000"), seniority="executive", roles=["economic_buyer"])
    staff, _ = rules.priority(Decimal("1000000"), seniority="staff")
    assert executive > staff
