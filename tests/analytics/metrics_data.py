"""Answers and invitations for the metric tests: small fixed frames and a random portfolio.

The random portfolio is built with the ``random`` module as plain records, so the independent
implementation in ``reference.py`` reads the very same rows without pandas.
"""

import random
from datetime import UTC, datetime, timedelta

import pandas as pd

from relhealth.analytics.frames import answers_frame, invitations_frame

START = datetime(2025, 1, 6, tzinfo=UTC)


def scaled(value: float, question_type: str, low: int = 1, high: int = 5) -> float:
    if question_type == "nps":
        return 100 * value / 10
    return 100 * (value - low) / (high - low)


def answer(person: int, value: float, **fields) -> dict:
    """One answer record; ratings are on 1..5 unless ``question_type="nps"`` (0..10)."""
    record = {
        "response_id": fields.pop("response_id", person),
        "person_id": person,
        "account_id": 1,
        "program_id": 1,
        "wave_id": 1,
        "wave_at": START,
        "side": "external",
        "seniority": "staff",
        "is_top": False,
        "question_key": "q1",
        "question_type": "rating",
        "dimension": "trust",
        "value": float(value),
        "text": None,
        "sentiment": float("nan"),
        "k": 1,
    }
    if fields.get("question_type") == "nps":
        record["dimension"] = None
    record |= fields
    record["scaled"] = scaled(record["value"], record["question_type"])
    return record


def frame(records: list[dict]) -> pd.DataFrame:
    return answers_frame(records)


def invitation(person: int, responded: bool, **fields) -> dict:
    record = {
        "invitation_id": fields.pop("invitation_id", person),
        "person_id": person,
        "account_id": 1,
        "program_id": 1,
        "wave_id": 1,
        "wave_at": START,
        "side": "external",
        "seniority": "staff",
        "is_top": False,
        "invited": True,
        "responded": responded,
        "k": 1,
    }
    return record | fields


def invitations(records: list[dict]) -> pd.DataFrame:
    return invitations_frame(records)


QUESTIONS = [
    ("nps", "nps", None),
    ("q_trust_1", "rating", "trust"),
    ("q_trust_2", "rating", "trust"),
    ("q_resp_1", "rating", "responsiveness"),
    ("q_value_1", "rating", "value"),
    ("q_value_2", "rating", "value"),
]


def random_portfolio(seed: int, accounts: int = 6, people: int = 18, waves: int = 3, k: int = 1):
    """Answer and invitation records of a small portfolio: some people skip waves or questions.

    Each account is its own program; ``k`` applies to every program.
    """
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, no secrets)
    answers: list[dict] = []
    invited: list[dict] = []
    response = 0
    for account in range(1, accounts + 1):
        program = account
        staff = []
        for index in range(people):
            person = account * 1000 + index
            side = "internal" if index < people // 3 else "external"
            top = index % 6 == 0
            staff.append((person, side, top))
        for wave_index in range(waves):
            wave = program * 100 + wave_index
            wave_at = START + timedelta(days=91 * wave_index + account)
            bias = rng.uniform(-1, 1)
            for person, side, top in staff:
                responded = rng.random() < 0.8
                common = {
                    "person_id": person,
                    "account_id": account,
                    "program_id": program,
                    "wave_id": wave,
                    "wave_at": wave_at,
                    "side": side,
                    "seniority": "executive" if top else rng.choice(["manager", "staff"]),
                    "is_top": top,
                    "k": k,
                }
                invited.append(
                    {"invitation_id": len(invited) + 1, "invited": True, "responded": responded}
                    | common
                )
                if not responded:
                    continue
                response += 1
                for key, question_type, dimension in QUESTIONS:
                    if rng.random() < 0.1:
                        continue
                    if question_type == "nps":
                        value = min(10, max(0, round(rng.gauss(7 + bias, 2.5))))
                    else:
                        value = min(5, max(1, round(rng.gauss(3.5 + bias, 1))))
                    answers.append(
                        {
                            "response_id": response,
                            "question_key": key,
                            "question_type": question_type,
                            "dimension": dimension,
                            "value": float(value),
                            "scaled": scaled(value, question_type),
                            "text": None,
                            "sentiment": float("nan"),
                        }
                        | common
                    )
                answers.append(
                    {
                        "response_id": response,
                        "question_key": "comment",
                        "question_type": "text",
                        "dimension": None,
                        "value": float("nan"),
                        "scaled": float("nan"),
                        "text": "fine",
                        "sentiment": 0.2,
                    }
                    | common
                )
    return answers, invited
