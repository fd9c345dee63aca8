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
    """
    settings = settings or AnalyticsSettings()
    keys = _series_keys(by)
    numeric = numeric_answers(answers)
    if "dimension" in keys:
        numeric = numeric[numeric["dimension"].notna().to_numpy(dtype=bool)]
    numeric = numeric.assign(wave=wave_key(numeric))

    table = scores(group_stats(numeric, [*keys, "wave"]), settings)
    table["wave"] = table["wave"].astype("string")
    waves = (
        numeric.groupby("wave", observed=True)
        .agg(wave_id=("wave_id", "first"), wave_at=("wave_at", "min"))
        .reset_index()
    )
    waves["wave"] = waves["wave"].astype("string")
    table = table.merge(waves, on="wave", how="left")

    # Respondent-level sufficient statistics for the test: one mean per person and wave.
    person = (
        numeric.groupby([*keys, "wave", "person_id"], dropna=False, observed=True)["scaled"]
        .mean()
        .rename("person_mean")
        .reset_index()
    )
    people = (
        person.groupby([*keys, "wave"], dropna=False, observed=True)["person_mean"]
        .agg(people="size", person_mean="mean", person_sd="std")
        .reset_index()
    )
    people["wave"] = people["wave"].astype("string")
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
