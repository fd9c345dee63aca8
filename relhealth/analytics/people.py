"""Per-person figures for the stakeholder map: each person's latest score and its trend, and
when we last heard from them.

Pure, like the metric modules: an answers frame in, plain dicts out.
"""

import datetime as dt

import networkx as nx
import pandas as pd

from relhealth.accounts import graph
from relhealth.analytics import metrics


def last_answered(answers: pd.DataFrame) -> dict[int, dt.date]:
    """Each person's latest answer (the date of its wave), for "whom we hear from". As on the
    map, answers in confidential programs (k > 1) are not attributed to anyone."""
    identified = answers[answers["k"].le(1).to_numpy(dtype=bool)]
    latest = identified.groupby("person_id")["wave_at"].max()
    return {int(person_id): at.date() for person_id, at in latest.items()}


def whom_we_hear_from(
    stakeholders: nx.MultiDiGraph, answers: pd.DataFrame, settings: graph.Settings
) -> dict:
    """``graph.heard_from`` of the account's map: who answered since ``settings.heard_since``."""
    return graph.heard_from(
        stakeholders, last_answered(answers), settings.ladder, settings.heard_since
    )


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
