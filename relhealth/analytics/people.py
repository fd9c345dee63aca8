"""Per-person figures for the stakeholder map: each person's latest score and its trend.

Pure, like the metric modules: an answers frame in, plain dicts out.
"""

import pandas as pd

from relhealth.analytics import metrics


def map_scores(answers: pd.DataFrame) -> tuple[dict[int, dict], dict[int, float]]:
    """What the stakeholder map writes on each person: their latest score and its change
    since their previous answer (the mean scaled score of each response), and the sentiment
    of their latest free-text answer. Answers in confidential programs (k > 1) are left out
    entirely, so nobody is scored there."""
    identified = answers[answers["k"].le(1).to_numpy(dtype=bool)]
    numeric = metrics.numeric_answers(identified)
    scores: dict[int, dict] = {}
    if not numeric.empty:
        per_response = (
            numeric.groupby(["person_id", "response_id"], observed=True)
            .agg(score=("scaled", "mean"), at=("wave_at", "max"))
            .reset_index()
            .sort_values(["person_id", "at", "response_id"])
        )
        for person_id, rows in per_response.groupby("person_id"):
            values = rows["score"].to_list()
            scores[int(person_id)] = {
                "score": float(values[-1]),
                "change": float(values[-1] - values[-2]) if len(values) > 1 else None,
            }
    texts = identified[identified["sentiment"].notna().to_numpy(dtype=bool)]
    latest_text = texts.sort_values(["wave_at", "response_id"]).groupby("person_id").last()
    sentiment = {int(pid): float(value) for pid, value in latest_text["sentiment"].items()}
    return scores, sentiment
