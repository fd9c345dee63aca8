"""Per-person figures of the stakeholder map, from a hand-made answers frame."""

import datetime as dt

import pandas as pd

from relhealth.analytics.frames import answers_frame
from relhealth.analytics.people import last_answered, map_scores


def _row(response_id, person_id, when, scaled, *, k=1, text=None, sentiment=None):
    return {
        "response_id": response_id,
        "person_id": person_id,
        "account_id": 1,
        "program_id": 1,
        "wave_id": None,
        "wave_at": pd.Timestamp(when, tz="UTC"),
        "side": "external",
        "seniority": "staff",
        "is_top": False,
        "question_key": "q" if text is None else "t",
        "question_type": "rating" if text is None else "text",
        "dimension": "quality" if text is None else None,
        "value": None if scaled is None else scaled / 25 + 1,
        "scaled": scaled,
        "text": text,
        "sentiment": sentiment,
        "k": k,
    }


def test_latest_score_is_the_mean_of_the_latest_response_and_change_is_against_the_one_before():
    frame = answers_frame(
        [
            _row(1, 7, "2025-01-10", 50.0),
            _row(1, 7, "2025-01-10", 70.0),
            _row(2, 7, "2025-04-10", 80.0),
            _row(2, 7, "2025-04-10", None, text="Great team", sentiment=0.6),
            _row(3, 8, "2025-04-10", 40.0),
        ]
    )
    scores, sentiment = map_scores(frame)
    assert scores[7] == {"score": 80.0, "change": 20.0}
    assert scores[8] == {"score": 40.0, "change": None}
    assert sentiment == {7: 0.6}


def test_confidential_answers_give_nobody_a_score_or_a_sentiment():
    frame = answers_frame(
        [
            _row(1, 7, "2025-01-10", 50.0, k=3),
            _row(2, 7, "2025-04-10", None, k=3, text="Bad", sentiment=-0.7),
        ]
    )
    assert map_scores(frame) == ({}, {})


def test_we_last_heard_from_each_person_in_their_latest_identified_answer():
    frame = answers_frame(
        [
            _row(1, 7, "2025-01-10", 50.0),
            _row(2, 7, "2025-04-10", None, text="Fine", sentiment=0.1),
            _row(3, 8, "2025-02-01", 40.0),
            _row(4, 8, "2025-06-01", 40.0, k=3),  # confidential: not attributed
            _row(5, 9, "2025-06-01", 40.0, k=3),
        ]
    )
    assert last_answered(frame) == {7: dt.date(2025, 4, 10), 8: dt.date(2025, 2, 1)}
    assert last_answered(answers_frame([])) == {}
