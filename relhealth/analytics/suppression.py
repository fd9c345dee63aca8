"""Small-group suppression for confidential programs, applied to every metric table.

A table's rows are groups (an account, wave, side, level, dimension …). In a confidential
program (``k`` > 1) a row with fewer than ``k`` respondents is **suppressed**: its status becomes
``"suppressed"`` and its values *and* its n are blanked. Blanking one cell is not enough when its
siblings and their total are published, because the total minus the siblings gives the cell back.
So **secondary suppression** follows: for each partition column, the rows equal on every other
key column form a partition; whenever a partition has exactly one suppressed row while at least
one sibling is published, the published sibling with the fewest respondents is suppressed too.
This repeats over all partition columns until nothing changes, so no partition of a suppressed
table has exactly one suppressed row beside published siblings.

Which columns are keys and which are values is known from the column names of the metric tables
(``VALUE_COLUMNS``); callers with other tables pass ``keys`` explicitly. Waves are time, not
parts of a total (no figure pools waves), so ``TIME_COLUMNS`` are keys but never partitions.
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from relhealth.analytics.metrics import AnalyticsSettings

# Every figure the metric tables carry. Blanked when a row is suppressed.
VALUE_COLUMNS = frozenset(
    {
        "n",
        "respondents",
        "total",
        "total_sq",
        "nps_n",
        "promoters",
        "detractors",
        "mean",
        "ci_low",
        "ci_high",
        "nps",
        "health",
        "dimensions",
        "internal",
        "external",
        "gap",
        "gap_class",
        "quadrant",
        "n_internal",
        "n_external",
        "respondents_internal",
        "respondents_external",
        "top",
        "line",
        "n_top",
        "n_line",
        "respondents_top",
        "respondents_line",
        "invited",
        "responded",
        "rate",
        "change",
        "nps_change",
        "p_value",
        "significant",
        "mean_before",
        "mean_after",
        "people",
    }
)
# Kept on a suppressed row: the program's k is a setting, the status says what happened.
KEPT_COLUMNS = frozenset({"k", "status"})
# Keys that order time; each wave is published on its own, so they never form a partition.
TIME_COLUMNS = frozenset(
    {
        "wave",
        "wave_id",
        "wave_at",
        "period",
        "wave_before",
        "wave_after",
        "wave_at_before",
        "wave_at_after",
        "previous_wave_id",
    }
)


def key_columns(table: pd.DataFrame) -> list[str]:
    """The columns that identify a row of a metric table: every column that is not a figure."""
    return [c for c in table.columns if c not in VALUE_COLUMNS and c not in KEPT_COLUMNS]


def default_partition(keys: Sequence[str]) -> list[str]:
    """Every key except time: any breakdown may be the part of a total published elsewhere."""
    return [c for c in keys if c not in TIME_COLUMNS]


def blank(table: pd.DataFrame, mask: pd.Series | np.ndarray, columns: Sequence[str]) -> None:
    """Set ``columns`` to missing where ``mask`` holds, in place (integers become Int64)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    for column in columns:
        series = table[column]
        if pd.api.types.is_bool_dtype(series.dtype):
            series = series.astype("boolean")
        elif pd.api.types.is_integer_dtype(series.dtype):
            series = series.astype("Int64")
        table[column] = series.mask(mask)


def suppress(
    table: pd.DataFrame,
    partition: Sequence[str] | None = None,
    settings: "AnalyticsSettings | None" = None,
    *,
    keys: Sequence[str] | None = None,
    count: str = "respondents",
) -> pd.DataFrame:
    """Suppress rows with fewer than ``k`` respondents, then their lone siblings (module doc).

    ``partition``: the key columns along which rows add up to a total (default: every key but
    time). ``count``: the column holding the respondents of a row. ``settings`` is accepted for
    symmetry with the metrics; the rule needs only each row's ``k``. Idempotent: suppressing an
    already suppressed table again (with the same or more partitions) only adds suppressions.
    """
    table = table.copy()
    keys = key_columns(table) if keys is None else list(keys)
    partition = default_partition(keys) if partition is None else list(partition)
    unknown = [c for c in partition if c not in keys]
    if unknown:
        raise ValueError(f"partition columns {unknown} are not keys of the table")
    if "status" not in table.columns:
        table["status"] = "ok"
    if table.empty:
        return table

    counts = pd.to_numeric(table[count]).astype("Float64")
    k = table["k"].to_numpy(dtype="int64") if "k" in table.columns else np.ones(len(table), int)
    primary = ((counts < k) & (k > 1)).fillna(False).to_numpy(dtype=bool)
    suppressed = table["status"].eq("suppressed").fillna(False).to_numpy(dtype=bool) | primary
    order = counts.fillna(np.inf).to_numpy(dtype=float)

    changed = suppressed.any()
    while changed:
        changed = False
        for column in partition:
            others = [c for c in keys if c != column]
            if others:
                group = table.groupby(others, dropna=False, sort=False).ngroup().to_numpy()
            else:
                group = np.zeros(len(table), dtype=int)
            size = np.bincount(group)
            lone = np.bincount(group, weights=suppressed).astype(int) == 1
            candidates = lone[group] & (size[group] >= 2) & ~suppressed
            if not candidates.any():
                continue
            # Per partition, the published sibling with the fewest respondents goes too.
            picks = (
                pd.DataFrame({"group": group, "order": order, "row": np.arange(len(table))})[
                    candidates
                ]
                .sort_values(["group", "order", "row"])
                .drop_duplicates("group")["row"]
                .to_numpy()
            )
            suppressed[picks] = True
            changed = True

    values = [c for c in table.columns if c not in keys and c not in KEPT_COLUMNS]
    blank(table, suppressed, values)
    table["status"] = table["status"].mask(suppressed, "suppressed")
    return table


def suppress_rates(
    counts: pd.DataFrame,
    partition: Sequence[str] | None = None,
    *,
    keys: Sequence[str] | None = None,
    min_invited: int = 1,
) -> pd.DataFrame:
    """Response rates of a table of counts, suppressed: the one rule for every response rate.

    ``counts`` has key columns, ``invited``, ``responded`` and ``k`` (1 outside confidential
    programs). Adds ``rate`` = responded / invited (0-1) and ``status``: "insufficient" (rate
    blanked, counts shown) below ``min_invited`` invited (or none), then ``suppress`` on the
    respondents of the groups anyone was invited to
    (``responded`` < k, plus secondary suppression along ``partition``, default every non-time
    key): a group is hidden when fewer than k answered, and a lone hidden group takes its
    smallest published sibling with it so the total cannot give it back.
    """
    table = counts.copy()
    keys = key_columns(table) if keys is None else list(keys)
    invited = pd.to_numeric(table["invited"]).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["rate"] = pd.to_numeric(table["responded"]).to_numpy(dtype=float) / invited
    insufficient = invited < max(min_invited, 1)
    table["status"] = np.where(insufficient, "insufficient", "ok")
    blank(table, insufficient, ["rate"])
    table = table[[*keys, "invited", "responded", "rate", "k", "status"]]
    # A group no one was invited to (all skipped) has no rate and no one to hide.
    asked = (invited > 0).astype(bool)
    if asked.all():
        return suppress(table, partition, keys=keys, count="responded")
    kept = suppress(table[asked], partition, keys=keys, count="responded")
    return pd.concat([kept, table[~asked]]).sort_index()


def rate_figures(row: Mapping[str, Any]) -> dict[str, Any]:
    """The published figures of one row of ``suppress_rates``, as the API and pages show them:
    ``suppressed`` and, unless it is, ``invited``, ``responded`` and ``response_rate`` (0-1,
    four places; missing when insufficient)."""
    if row["status"] == "suppressed":
        return {"suppressed": True, "invited": None, "responded": None, "response_rate": None}
    rate = row["rate"]
    return {
        "suppressed": False,
        "invited": int(row["invited"]),
        "responded": int(row["responded"]),
        "response_rate": None if pd.isna(rate) else round(float(rate), 4),
    }
