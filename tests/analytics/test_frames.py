import datetime as dt

import pandas as pd
import pytest

from relhealth.analytics.frames import (
    ANSWER_COLUMNS,
    INVITATION_COLUMNS,
    answers_frame,
    invitations_frame,
)

OPENED = dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)


def answer(**overrides):
    record = {
        "response_id": 1,
        "person_id": 2,
        "account_id": 3,
        "program_id": None,
        "wave_id": None,
        "wave_at": OPENED,
        "side": "external",
        "seniority": "executive",
        "is_top": True,
        "question_key": "nps",
        "question_type": "nps",
        "dimension": "overall",
        "value": 9.0,
        "scaled": 90.0,
        "text": None,
        "sentiment": None,
        "k": 1,
    }
    return record | overrides


def test_answers_frame_has_every_column_with_its_declared_type():
    frame = answers_frame([answer(), answer(response_id=5, program_id=7, wave_id=8)])

    assert list(frame.columns) == list(ANSWER_COLUMNS)
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == ANSWER_COLUMNS
    assert frame["program_id"].isna().tolist() == [True, False]
    assert frame["wave_at"].iloc[0] == pd.Timestamp(OPENED)


def test_missing_numbers_and_texts_are_na_not_strings():
    frame = answers_frame(
        [
            answer(
                question_type="text",
                dimension=None,
                value=None,
                scaled=None,
                text="Faster answers, please",
                sentiment=0.3,
            )
        ]
    )

    assert frame["value"].isna().all()
    assert frame["scaled"].isna().all()
    assert frame["dimension"].isna().all()
    assert frame["text"].iloc[0] == "Faster answers, please"


@pytest.mark.parametrize(
    ("build", "columns"),
    [(answers_frame, ANSWER_COLUMNS), (invitations_frame, INVITATION_COLUMNS)],
)
def test_an_empty_scope_gives_an_empty_frame_with_the_same_columns_and_types(build, columns):
    frame = build([])

    assert frame.empty
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == columns


def test_a_naive_time_is_read_as_utc_as_the_database_stores_every_time():
    frame = answers_frame([answer(wave_at=dt.datetime(2026, 4, 1, 9))])

    assert frame["wave_at"].iloc[0] == pd.Timestamp(OPENED)
