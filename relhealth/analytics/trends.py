"""Trends: scores per wave, wave-over-wave change, and whether the change is larger than noise.

The figure shown per wave is the score of ``metrics.scores`` (mean of the scaled answers, n,
CI, NPS). The test of a change is **Welch's t-test on respondent-level means**: each person's
mean scaled answer in the wave is one observation, because the several answers of one person are
correlated and counting them as independent would make noise look significant. It runs from
sufficient statistics (``scipy.stats.ttest_ind_from_stats`` with ``equal_var=False``), vectorised
over every series at once. The waves are independent samples (partly the same people; the panel
in ``panel.py`` tests those pairs with a paired test).
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from relhealth.analytics.metrics import (
    STATS_COLUMNS,
    AnalyticsSettings,
    group_stats,
    numeric_answers,
    scores,
    wave_key,
)

TREND_COLUMNS = ["change", "nps_change", "p_value", "significant"]


def _series_keys(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


# Respondent-level sums ``trend_from_stats`` needs beside ``metrics.STATS_COLUMNS``.
PERSON_COLUMNS = ["people", "person_total", "person_total_sq"]
WAVE_COLUMNS = ["wave", "wave_id", "wave_at"]


def person_stats(numeric: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per group of ``by``: ``people`` (persons), ``person_total`` (the sum of each person's
    mean scaled answer in the group) and ``person_total_sq`` (the sum of its square)."""
    by = list(by)
    person = (
        numeric.groupby([*by, "person_id"], dropna=False, observed=True)["scaled"]
        .mean()
        .rename("person_mean")
        .reset_index()
    )
    person["person_mean_sq"] = person["person_mean"] * person["person_mean"]
    return (
        person.groupby(by, dropna=False, observed=True)
        .agg(
            people=("person_mean", "size"),
            person_total=("person_mean", "sum"),
            person_total_sq=("person_mean_sq", "sum"),
        )
        .reset_index()
    )


def trend(
    answers: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    settings: AnalyticsSettings | None = None,
) -> pd.DataFrame:
    """Per series (``by``: e.g. "side", "seniority", "dimension", or several) and wave:
    ``wave``, ``wave_id``, ``wave_at``, the scores columns, ``change`` (mean minus the previous
    wave's of the same series), ``nps_change``, ``p_value`` (Welch, respondent level) and
    ``significant`` (p < alpha). Rows sorted by series then ``wave_at``.

    A change needs both waves "ok"; suppressed or insufficient waves have no change and no test.
    The answers are added up per series and wave here, then ``trend_from_stats`` does the rest
    (the portfolio's trend hands it sums the database made).
    """
    keys = _series_keys(by)
    numeric = numeric_answers(answers)
    if "dimension" in keys:
        numeric = numeric[numeric["dimension"].notna().to_numpy(dtype=bool)]
    numeric = numeric.assign(wave=wave_key(numeric))

    stats = group_stats(numeric, [*keys, "wave"])
    stats["wave"] = stats["wave"].astype("string")
    waves = (
        numeric.groupby("wave", observed=True)
        .agg(wave_id=("wave_id", "first"), wave_at=("wave_at", "min"))
        .reset_index()
    )
    waves["wave"] = waves["wave"].astype("string")
    people = person_stats(numeric, [*keys, "wave"])
    people["wave"] = people["wave"].astype("string")
    stats = stats.merge(waves, on="wave", how="left").merge(people, on=[*keys, "wave"], how="left")
    return trend_from_stats(stats, keys, settings)


def _person_sd(people: np.ndarray, total: np.ndarray, total_sq: np.ndarray) -> np.ndarray:
    """The sample standard deviation of the person means from their sums (NaN below 2 people).

    A spread within the rounding error of the sums (``total_sq`` x a few ulps) is taken as 0,
    so equal person means stay exactly equal (as a two-pass ``std`` has them)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        deviations = total_sq - total * (total / people)
        deviations = np.where(deviations <= 8 * np.finfo(float).eps * total_sq, 0.0, deviations)
        return np.where(people > 1, np.sqrt(deviations / (people - 1)), np.nan)


def trend_from_stats(
    stats: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    settings: AnalyticsSettings | None = None,
) -> pd.DataFrame:
    """``trend`` from sums per series and wave instead of answers: one row per (``by``,
    ``wave``) with ``wave_id``, ``wave_at`` (the same for every series of a wave), the
    ``metrics.STATS_COLUMNS`` (``metrics.group_stats``) and ``PERSON_COLUMNS``
    (``person_stats``: the observations of the Welch test). Returns ``trend``'s table.
    """
    settings = settings or AnalyticsSettings()
    keys = _series_keys(by)
    stats = stats.assign(wave=stats["wave"].astype("string"))
    table = scores(stats[[*keys, "wave", *STATS_COLUMNS]], settings)
    people = stats[[*keys, *WAVE_COLUMNS]].assign(
        people=stats["people"].to_numpy(dtype=float),
        person_mean=stats["person_total"].to_numpy(dtype=float)
        / stats["people"].to_numpy(dtype=float),
        person_sd=_person_sd(
            stats["people"].to_numpy(dtype=float),
            stats["person_total"].to_numpy(dtype=float),
            stats["person_total_sq"].to_numpy(dtype=float),
        ),
    )
    table = table.merge(people, on=[*keys, "wave"], how="left")

    table = table.sort_values([*keys, "wave_at", "wave"], kind="stable").reset_index(drop=True)
    series = table.groupby(keys, dropna=False, sort=False) if keys else None
    previous = series.shift(1) if series is not None else table.shift(1)
    both_ok = (table["status"].eq("ok") & previous["status"].eq("ok")).fillna(False)
    both_ok = both_ok.to_numpy(dtype=bool)
    mean = table["mean"].to_numpy(dtype=float)
    table["change"] = np.where(both_ok, mean - previous["mean"].to_numpy(dtype=float), np.nan)
    nps = table["nps"].to_numpy(dtype=float)
    table["nps_change"] = np.where(both_ok, nps - previous["nps"].to_numpy(dtype=float), np.nan)

    n1 = table["people"].to_numpy(dtype=float)
    n0 = previous["people"].to_numpy(dtype=float)
    testable = both_ok & (n1 >= 2) & (n0 >= 2)
    p_value = np.full(len(table), np.nan)
    if testable.any():
        with np.errstate(invalid="ignore", divide="ignore"):
            result = sps.ttest_ind_from_stats(
                table["person_mean"].to_numpy(dtype=float)[testable],
                table["person_sd"].to_numpy(dtype=float)[testable],
                n1[testable],
                previous["person_mean"].to_numpy(dtype=float)[testable],
                previous["person_sd"].to_numpy(dtype=float)[testable],
                n0[testable],
                equal_var=False,
            )
        p_value[testable] = np.asarray(result.pvalue, dtype=float)
    table["p_value"] = p_value
    table["significant"] = np.nan_to_num(p_value, nan=1.0) < settings.alpha

    figures = [c for c in table.columns if c not in (*keys, "wave", "wave_id", "wave_at")]
    figures = [c for c in figures if c not in ("people", "person_mean", "person_sd")]
    figures = [c for c in figures if c not in TREND_COLUMNS]
    return table[[*keys, "wave", "wave_id", "wave_at", *figures, *TREND_COLUMNS]]
