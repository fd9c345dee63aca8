"""The tidy frames every metric reads, defined once.

An **answers frame** has one row per answer that carries a number (nps or rating) or a text,
with what was true when it was given. An **invitations frame** has one row per invitation, for
response rates and drop-outs. ``service.load_answers`` / ``service.load_invitations`` fill them
from the database; tests build them with ``answers_frame`` / ``invitations_frame`` from plain
records, so the metrics never see where the rows came from.
"""

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

# column -> pandas dtype. ``wave_at`` is when the wave opened (the submission time for history
# imported without a wave): it orders waves and makes the ``period`` label of trends.
ANSWER_COLUMNS: dict[str, str] = {
    "response_id": "int64",
    "person_id": "int64",
    "account_id": "int64",
    "program_id": "Int64",  # <NA> for imported history without a program
    "wave_id": "Int64",  # <NA> for imported history without a wave
    "wave_at": "datetime64[us, UTC]",
    "side": "string",  # "external" (their people) or "internal" (ours), at answer time
    "seniority": "string",  # the level at answer time
    "is_top": "bool",  # seniority is the top of the ladder (executives by default)
    "question_key": "string",
    "question_type": "string",  # "nps", "rating" or "text"
    "dimension": "string",  # <NA> for questions outside every dimension (free text)
    "value": "float64",  # as answered (0-10 for nps, on the scale for ratings); NaN for text
    "scaled": "float64",  # 0-100 on the question's scale; NaN for text
    "text": "string",  # free text; <NA> for numbers
    "sentiment": "float64",  # VADER compound of the text, -1..1; NaN for numbers
    "k": "int64",  # the program's minimum group size when confidential, else 1
}

INVITATION_COLUMNS: dict[str, str] = {
    "invitation_id": "int64",
    "person_id": "int64",
    "account_id": "int64",
    "program_id": "int64",
    "wave_id": "int64",
    "wave_at": "datetime64[us, UTC]",
    "side": "string",
    "seniority": "string",
    "is_top": "bool",
    "invited": "bool",  # an invitation went out (not skipped)
    "responded": "bool",
    "k": "int64",
}


def _frame(records: Iterable[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(records), columns=list(columns))
    for column, dtype in columns.items():
        if dtype.startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], utc=True).astype(dtype)
        else:
            frame[column] = frame[column].astype(dtype)
    return frame


def answers_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """An answers frame from records holding every column of ``ANSWER_COLUMNS``."""
    return _frame(records, ANSWER_COLUMNS)


def invitations_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """An invitations frame from records holding every column of ``INVITATION_COLUMNS``."""
    return _frame(records, INVITATION_COLUMNS)
