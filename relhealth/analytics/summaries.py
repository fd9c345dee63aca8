"""Analytics results shaped for people to read: plain values, headline figures, phrase lists,
the latest NPS migration grid. Shared by the pages, the API and the PDF reports."""

import math
from typing import Any

import numpy as np
import pandas as pd

from relhealth.analytics import metrics


def plain(value: Any) -> Any:
    """A JSON-safe Python value: NaN, NA and NaT become None, numpy scalars Python ones."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of plain values (see ``plain``)."""
    columns = list(frame.columns)
    return [
        {column: plain(value) for column, value in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _figure(row: dict | None, value: str, n: str = "respondents") -> dict:
    """One headline figure: its value, n, status, and the change since the previous wave."""
    figure = {"value": None, "n": None, "status": "empty", "wave_at": None}
    figure.update(change=None, since=None)
    if row is not None:
        figure.update(
            value=plain(row.get(value)),
            n=plain(row.get(n)),
            status=row.get("status") or "ok",
            wave_at=plain(row.get("wave_at")),
        )
    return figure


def _with_change(latest: dict, previous: dict | None) -> dict:
    if previous and latest.get("value") is not None and previous.get("value") is not None:
        latest["change"] = latest["value"] - previous["value"]
        latest["since"] = previous.get("wave_at")
    return latest


def headline(health: pd.DataFrame, overall: pd.DataFrame) -> dict:
    """The health index and NPS of the latest wave, each with n, status and change."""
    health_rows = records(health)
    trend_rows = records(overall.sort_values("wave_at")) if not overall.empty else []
    result = {}
    result["health"] = _with_change(
        _figure(health_rows[-1] if health_rows else None, "health"),
        _figure(health_rows[-2], "health") if len(health_rows) > 1 else None,
    )
    nps_rows = [r for r in trend_rows if r.get("nps_n") or r.get("status") != "ok"]
    result["nps"] = _with_change(
        _figure(nps_rows[-1] if nps_rows else None, "nps", "nps_n"),
        _figure(nps_rows[-2], "nps", "nps_n") if len(nps_rows) > 1 else None,
    )
    latest = trend_rows[-1] if trend_rows else None
    result["score"] = latest and {
        "change": latest.get("change"),
        "p_value": latest.get("p_value"),
        "significant": latest.get("significant"),
    }
    return result


def telling_phrase_rows(phrases: pd.DataFrame, limit: int = 8) -> list[dict]:
    """Each telling phrase once, with every theme it was picked for, strongest first."""
    merged: dict[str, dict] = {}
    for row in records(phrases):
        entry = merged.setdefault(row["phrase"], {**row, "themes": []})
        entry["themes"].append(row["theme"])
    ranked = sorted(merged.values(), key=lambda r: -abs(r.get("sentiment") or 0))
    return ranked[:limit]


def latest_migration(migration: pd.DataFrame, change: pd.DataFrame) -> dict | None:
    """The NPS migration of the latest wave pair as a before x after grid of people."""
    if migration.empty:
        return None
    pair = ["program_id", "wave_before", "wave_after"]
    last = migration.iloc[-1]
    if not change.empty and "wave_at_after" in change:
        last = change.sort_values("wave_at_after", kind="stable").iloc[-1]
    same = migration[pair].astype("string").eq(last[pair].astype("string")).all(axis=1)
    latest = migration[same.to_numpy(dtype=bool)]
    if latest.empty:
        latest = migration.tail(len(metrics.NPS_CATEGORIES) ** 2)
    return {
        "categories": metrics.NPS_CATEGORIES,
        "cells": {(r["before"], r["after"]): r for r in records(latest)},
    }
