"""The panel: people who answered two consecutive waves of the same program.

Waves of a program are ordered by ``wave_at``; consecutive means next in that order among the
waves present in the frame (history imported without a program forms one series, its calendar
quarters standing for waves). A person's score in a wave is the mean of their scaled answers.

- ``panel_change``: per program and consecutive wave pair, the mean within-person change, its
  n (people), a t-based CI and a **paired t-test** (the one-sample t-test on the differences,
  which is what ``scipy.stats.ttest_rel`` computes, here vectorised over all pairs at once).
- ``migration_matrix``: people by (NPS category before, after), all nine cells per pair.
- ``drop_outs``: who answered the previous wave and was invited and silent in this one.
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from relhealth.analytics.metrics import (
    NPS_CATEGORIES,
    AnalyticsSettings,
    aggregate,
    nps_categories,
    numeric_answers,
    wave_key,
)
from relhealth.analytics.suppression import blank, suppress

PAIR_KEYS = ["program_id", "wave_before", "wave_after", "wave_at_before", "wave_at_after"]
# History without a program is one series; pandas groups and merges better on a number.
_NO_PROGRAM = -1


def _person_waves(answers: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """One row per program, wave and person: ``score`` (mean scaled), ``nps`` (mean raw NPS
    value), ``k``, the wave's position ``order`` in its program, and ``by`` as answered."""
    numeric = numeric_answers(answers)
    is_nps = numeric["question_type"].eq("nps").fillna(False).to_numpy(dtype=bool)
    work = numeric[["person_id", "wave_at", "k", *by]].assign(
        program_id=numeric["program_id"].fillna(_NO_PROGRAM).to_numpy(dtype="int64"),
        wave=wave_key(numeric).astype("string"),
        score=numeric["scaled"].to_numpy(dtype=float),
        nps=np.where(is_nps, numeric["value"].to_numpy(dtype=float), np.nan),
    )
    waves = aggregate(work, ["program_id", "wave"], wave_at=("wave_at", "min"))
    waves = waves.sort_values(["program_id", "wave_at", "wave"], kind="stable")
    waves["order"] = waves.groupby("program_id").cumcount()
    named = {"score": ("score", "mean"), "nps": ("nps", "mean"), "k": ("k", "max")}
    named |= {column: (column, "first") for column in by}
    people = aggregate(work, ["program_id", "wave", "person_id"], **named)
    return people.merge(waves, on=["program_id", "wave"], how="left")


def _pairs(answers: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Each person's two consecutive waves side by side; ``by`` as answered in the later one."""
    people = _person_waves(answers, by)
    before = people.drop(columns=list(by)).rename(
        columns={
            "wave": "wave_before",
            "wave_at": "wave_at_before",
            "score": "score_before",
            "nps": "nps_before",
            "k": "k_before",
        }
    )
    before["order"] = before["order"] + 1
    after = people.rename(
        columns={"wave": "wave_after", "wave_at": "wave_at_after", "score": "score_after"}
    ).rename(columns={"nps": "nps_after"})
    pairs = before.merge(after, on=["program_id", "person_id", "order"], how="inner")
    pairs["k"] = np.maximum(pairs["k"].to_numpy(dtype="int64"), pairs.pop("k_before"))
    return pairs


def _restore_program(table: pd.DataFrame) -> pd.DataFrame:
    program = table["program_id"].astype("Int64")
    table["program_id"] = program.mask(program.eq(_NO_PROGRAM))
    return table


def panel_change(
    answers: pd.DataFrame,
    settings: AnalyticsSettings | None = None,
    by: Sequence[str] = (),
) -> pd.DataFrame:
    """Per program, consecutive wave pair (and ``by``): ``n`` (people in both waves),
    ``mean_before``, ``mean_after``, ``change`` (mean within-person change), ``ci_low``,
    ``ci_high``, ``p_value`` (paired t), ``significant``, ``k``, ``status``."""
    settings = settings or AnalyticsSettings()
    by = list(by)
    pairs = _pairs(answers, by)
    pairs["difference"] = pairs["score_after"] - pairs["score_before"]
    table = aggregate(
        pairs,
        [*PAIR_KEYS, *by],
        n=("person_id", "size"),
        mean_before=("score_before", "mean"),
        mean_after=("score_after", "mean"),
        change=("difference", "mean"),
        sd=("difference", "std"),
        k=("k", "max"),
    )
    n = table["n"].to_numpy(dtype=float)
    change = table["change"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = table.pop("sd").to_numpy(dtype=float) / np.sqrt(n)
        df = np.where(n > 1, n - 1, np.nan)
        half = sps.t.ppf((1 + settings.confidence) / 2, df) * error
        t = change / error
        p_value = 2 * sps.t.sf(np.abs(t), df)
    table["ci_low"] = np.clip(change - half, -100, 100)
    table["ci_high"] = np.clip(change + half, -100, 100)
    table["p_value"] = p_value
    insufficient = (n < max(settings.min_respondents, 1)) | (n < 2)
    table["significant"] = (np.nan_to_num(p_value, nan=1.0) < settings.alpha) & ~insufficient
    table["status"] = np.where(insufficient, "insufficient", "ok")
    blank(table, insufficient, ["mean_before", "mean_after", "change", "ci_low", "ci_high"])
    blank(table, insufficient, ["p_value"])
    table = table.astype({"n": "int64", "k": "int64"})
    table = suppress(_restore_program(table), None, settings, count="n")
    # Untested (suppressed) pairs are not significant, as in trends; keeps the column boolean.
    table["significant"] = table["significant"].fillna(False).astype(bool)
    columns = ["n", "mean_before", "mean_after", "change", "ci_low", "ci_high", "p_value"]
    return table[[*PAIR_KEYS, *by, *columns, "significant", "k", "status"]]


def migration_matrix(
    answers: pd.DataFrame, settings: AnalyticsSettings | None = None
) -> pd.DataFrame:
    """Per program and consecutive wave pair, ``people`` by NPS category ``before`` and
    ``after`` (all nine cells, zeros included). A pair with fewer than ``k`` such people in a
    confidential program is suppressed whole."""
    pairs = _pairs(answers)
    pairs = pairs[pairs["nps_before"].notna() & pairs["nps_after"].notna()]
    pairs = pairs.assign(
        before=nps_categories(pairs["nps_before"]), after=nps_categories(pairs["nps_after"])
    )
    keys = ["program_id", "wave_before", "wave_after"]
    totals = aggregate(pairs, keys, total=("person_id", "size"), k=("k", "max"))
    cells = pd.DataFrame(
        [(b, a) for b in NPS_CATEGORIES for a in NPS_CATEGORIES], columns=["before", "after"]
    ).astype("string")
    grid = totals.merge(cells, how="cross")
    counts = aggregate(pairs, [*keys, "before", "after"], people=("person_id", "size"))
    table = grid.merge(counts, on=[*keys, "before", "after"], how="left")
    table["people"] = table["people"].fillna(0).astype("int64")
    k = table["k"].to_numpy(dtype="int64")
    suppressed = (table["total"].to_numpy(dtype="int64") < k) & (k > 1)
    table["status"] = np.where(suppressed, "suppressed", "ok")
    blank(table, suppressed, ["people"])
    table = _restore_program(table)
    return table[[*keys, "before", "after", "people", "k", "status"]].reset_index(drop=True)


def drop_outs(answers: pd.DataFrame, invitations: pd.DataFrame) -> pd.DataFrame:
    """People invited to a wave who did not respond, having answered the program's previous
    wave (waves ordered by ``wave_at`` among the program's invited waves): ``program_id``,
    ``wave_id``, ``wave_at``, ``previous_wave_id``, ``person_id``, ``account_id``, ``side``,
    ``seniority``, ``is_top``."""
    sent = invitations[invitations["invited"].fillna(False).to_numpy(dtype=bool)]
    waves = aggregate(sent, ["program_id", "wave_id"], wave_at=("wave_at", "min"))
    waves = waves.sort_values(["program_id", "wave_at", "wave_id"], kind="stable")
    waves["previous_wave_id"] = waves.groupby("program_id")["wave_id"].shift(1).astype("Int64")
    silent = sent[~sent["responded"].fillna(False).to_numpy(dtype=bool)]
    silent = silent.drop(columns=["wave_at"]).merge(
        waves, on=["program_id", "wave_id"], how="inner"
    )
    answered = answers[(answers["wave_id"].notna() & answers["program_id"].notna()).to_numpy(bool)]
    answered = (
        answered[["program_id", "wave_id", "person_id"]]
        .drop_duplicates()
        .rename(columns={"wave_id": "previous_wave_id"})
        .astype({"program_id": "int64", "previous_wave_id": "Int64", "person_id": "int64"})
    )
    silent = silent[silent["previous_wave_id"].notna().to_numpy(dtype=bool)]
    found = silent.merge(answered, on=["program_id", "previous_wave_id", "person_id"])
    columns = ["program_id", "wave_id", "wave_at", "previous_wave_id", "person_id"]
    columns += ["account_id", "side", "seniority", "is_top"]
    found = found.sort_values(["program_id", "wave_at", "person_id"], kind="stable")
    return found[columns].reset_index(drop=True)
