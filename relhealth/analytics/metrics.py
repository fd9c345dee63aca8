"""The metrics, each defined once (README "Analytics > Metrics"): pure functions of frames.

Every table carries its n. A group with fewer than ``min_respondents`` respondents has status
``"insufficient"`` and no value; in a confidential program a group with fewer than ``k``
respondents is ``"suppressed"`` (``suppression.suppress``), values and n blanked. The figures
are built from per-group sufficient statistics (``group_stats``), which the SQL loader can also
return for large scopes, so the portfolio path and the per-account path share one definition.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from relhealth.analytics.suppression import (
    blank,
    default_partition,
    key_columns,
    suppress,
    suppress_rates,
)

NUMERIC_TYPES = ("nps", "rating")
STATS_COLUMNS = ["n", "respondents", "total", "total_sq", "nps_n", "promoters", "detractors", "k"]
SCORE_COLUMNS = ["mean", "ci_low", "ci_high", "nps", "status"]
# Figures hidden on an "insufficient" row: the value and everything it can be computed from.
_INSUFFICIENT_HIDDEN = ["total", "total_sq", "promoters", "detractors", "mean", "ci_low"]
_INSUFFICIENT_HIDDEN += ["ci_high", "nps"]
NPS_CATEGORIES = ("detractor", "passive", "promoter")
GAP_CLASSES = ("aligned", "misaligned", "strongly_misaligned")
QUADRANTS = ("agreed_strength", "agreed_weakness", "blind_spot", "undervalued_strength")


@dataclass(frozen=True)
class AnalyticsSettings:
    """Thresholds of the metrics; ``analytics_settings`` builds one from the app config."""

    min_respondents: int = 3
    gap_aligned: float = 10
    gap_strong: float = 20
    high_line: float = 70
    dimension_weights: Mapping[str, float] | None = None
    confidence: float = 0.95
    alpha: float = 0.05


def analytics_settings(config: Mapping[str, Any]) -> AnalyticsSettings:
    """Settings from a plain config mapping (``MIN_RESPONDENTS``, ``GAP_ALIGNED`` …)."""
    from relhealth.config import parse_dimension_weights

    defaults = AnalyticsSettings()
    weights = config.get("DIMENSION_WEIGHTS")
    if isinstance(weights, str):
        weights = parse_dimension_weights(weights) if weights.strip() else None
    return AnalyticsSettings(
        min_respondents=int(config.get("MIN_RESPONDENTS", defaults.min_respondents)),
        gap_aligned=float(config.get("GAP_ALIGNED", defaults.gap_aligned)),
        gap_strong=float(config.get("GAP_STRONG", defaults.gap_strong)),
        high_line=float(config.get("HIGH_LINE", defaults.high_line)),
        dimension_weights=dict(weights) if weights else None,
    )


def nps_category(value: float | None) -> str | None:
    """0-6 detractor, 7-8 passive, 9-10 promoter (a mean between steps falls to the lower one)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value < 7:
        return "detractor"
    if value < 9:
        return "passive"
    return "promoter"


def nps_categories(values: pd.Series) -> pd.Series:
    """``nps_category`` of every value of a Series, vectorised; missing stays missing."""
    values = pd.to_numeric(values).astype("float64")
    codes = np.select([values < 7, values < 9, values >= 9], list(NPS_CATEGORIES), default="")
    return pd.Series(codes, index=values.index, dtype="string").replace("", pd.NA)


def wave_key(frame: pd.DataFrame) -> pd.Series:
    """The time key of each row, a categorical: ``wave-<id>``, or the calendar quarter
    (``2024Q3``) of history imported without a wave. Labels are made once per distinct wave."""
    has_wave = frame["wave_id"].notna().to_numpy(dtype=bool)
    codes = np.full(len(frame), -1, dtype="int64")
    wave_codes, waves = pd.factorize(frame["wave_id"][has_wave])
    codes[has_wave] = wave_codes
    at = frame["wave_at"][~has_wave]
    quarters = (at.dt.year * 10 + at.dt.quarter).to_numpy(dtype="int64")
    quarter_codes, quarter_values = pd.factorize(quarters)
    codes[~has_wave] = quarter_codes + len(waves)
    labels = [f"wave-{w}" for w in waves] + [f"{q // 10}Q{q % 10}" for q in quarter_values]
    key = pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype="string"))
    return pd.Series(key, index=frame.index, name="wave")


def period_key(wave_at: pd.Series) -> pd.Series:
    """The period of each row: the calendar quarter (UTC) in which its wave opened, ``2026Q4``.

    Gaps compare the two sides of one period, not of one wave: our people and theirs may be
    asked in different programs whose waves open at about the same time.
    """
    quarters = (wave_at.dt.year * 10 + wave_at.dt.quarter).to_numpy(dtype="int64")
    return pd.Series([f"{q // 10}Q{q % 10}" for q in quarters], index=wave_at.index, dtype="string")


def with_wave(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Add the ``wave`` column (``wave_key``) when ``by`` asks for it and the frame lacks it."""
    if "wave" in by and "wave" not in frame.columns:
        return frame.assign(wave=wave_key(frame))
    return frame


def numeric_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """The answers that carry a number (nps and ratings with a scaled value)."""
    mask = answers["question_type"].isin(NUMERIC_TYPES).fillna(False) & answers["scaled"].notna()
    return answers[mask.to_numpy(dtype=bool)]


def aggregate(frame: pd.DataFrame, by: Sequence[str], **named: Any) -> pd.DataFrame:
    """``groupby(by).agg(**named)`` with the keys as columns; ``by=[]`` makes one overall row."""
    by = list(by)
    if by:
        result = frame.groupby(by, dropna=False, sort=True, observed=True).agg(**named)
        return result.reset_index()
    if frame.empty:
        return frame.groupby(np.zeros(0, dtype=int)).agg(**named).reset_index(drop=True)
    return frame.groupby(np.zeros(len(frame), dtype=int)).agg(**named).reset_index(drop=True)


def group_stats(answers: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Sufficient statistics of the numeric answers per group of ``by`` (module doc).

    The groups are found once (``ngroup``) and the sums are ``numpy.bincount`` over the group
    codes: this runs on millions of answers for the portfolio.
    """
    by = list(by)
    numeric = numeric_answers(with_wave(answers, by))
    if by:
        grouped = numeric.groupby(by, dropna=False, sort=True, observed=True)
        codes = grouped.ngroup().to_numpy(dtype="int64")
        stats = grouped.size().reset_index()[by]
    else:
        codes = np.zeros(len(numeric), dtype="int64")
        stats = pd.DataFrame(index=range(1 if len(numeric) else 0))
    groups = len(stats)
    is_nps = numeric["question_type"].eq("nps").fillna(False).to_numpy(dtype=bool)
    value = numeric["value"].to_numpy(dtype=float)
    scaled = numeric["scaled"].to_numpy(dtype=float)

    def count(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(codes, weights=weights, minlength=groups)

    person_codes, people = pd.factorize(numeric["person_id"])
    pairs = pd.unique(codes * max(len(people), 1) + person_codes)
    stats["n"] = count().astype("int64")
    stats["respondents"] = np.bincount(pairs // max(len(people), 1), minlength=groups)
    stats["total"] = count(scaled)
    stats["total_sq"] = count(scaled * scaled)
    stats["nps_n"] = count(is_nps.astype(float)).astype("int64")
    stats["promoters"] = count((is_nps & (value >= 9)).astype(float)).astype("int64")
    stats["detractors"] = count((is_nps & (value < 7)).astype(float)).astype("int64")
    k = pd.Series(numeric["k"].to_numpy(dtype="int64")).groupby(codes).max()
    stats["k"] = k.reindex(range(groups), fill_value=1).to_numpy(dtype="int64")
    return stats.astype({c: "int64" for c in STATS_COLUMNS if c not in ("total", "total_sq")})


def _t_half_width(n: np.ndarray, sd: np.ndarray, confidence: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = sps.t.ppf((1 + confidence) / 2, np.where(n > 1, n - 1, np.nan))
        return quantile * sd / np.sqrt(n)


def scores(
    stats: pd.DataFrame,
    settings: AnalyticsSettings | None = None,
    partition: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Add ``mean``, ``ci_low``/``ci_high`` (t-based, clipped to 0-100), ``nps`` and ``status``.

    Rows with fewer respondents than ``min_respondents`` (or a single answer) are
    "insufficient": n shown, values NaN. Then ``suppress`` (primary and secondary, along
    ``partition``, default every non-time key) so no caller can forget it.
    """
    settings = settings or AnalyticsSettings()
    table = stats.copy()
    n = table["n"].to_numpy(dtype=float)
    total = table["total"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        variance = np.where(
            n > 1, (table["total_sq"].to_numpy(float) - total * mean) / (n - 1), np.nan
        )
        half = _t_half_width(n, np.sqrt(np.clip(variance, 0, None)), settings.confidence)
        nps_n = table["nps_n"].to_numpy(dtype=float)
        net = (table["promoters"] - table["detractors"]).to_numpy(dtype=float)
        nps = np.where(nps_n > 0, 100 * net / nps_n, np.nan)
    table["mean"] = np.clip(mean, 0, 100)
    table["ci_low"] = np.clip(mean - half, 0, 100)
    table["ci_high"] = np.clip(mean + half, 0, 100)
    table["nps"] = np.clip(nps, -100, 100)
    respondents = table["respondents"].to_numpy(dtype=float)
    insufficient = (respondents < max(settings.min_respondents, 1)) | (n < 2)
    table["status"] = np.where(insufficient, "insufficient", "ok")
    blank(table, insufficient, _INSUFFICIENT_HIDDEN)
    return suppress(table, partition, settings)


def dimension_scores(
    answers: pd.DataFrame, by: Sequence[str], settings: AnalyticsSettings | None = None
) -> pd.DataFrame:
    """Scores per ``by`` + ``dimension`` (answers outside every dimension left out)."""
    answers = answers[answers["dimension"].notna().to_numpy(dtype=bool)]
    return scores(group_stats(answers, [*by, "dimension"]), settings)


def _weights(dimensions: pd.Series, settings: AnalyticsSettings) -> np.ndarray:
    if not settings.dimension_weights:
        return np.ones(len(dimensions))
    mapped = dimensions.astype("object").map(dict(settings.dimension_weights))
    return mapped.fillna(1.0).to_numpy(dtype=float)


def health_index(
    data: pd.DataFrame, by: Sequence[str], settings: AnalyticsSettings | None = None
) -> pd.DataFrame:
    """Weighted mean of a group's published dimension scores: ``health``, ``respondents``,
    ``dimensions`` (how many fed it), ``k``, ``status``.

    ``data`` is an answers frame, or group stats by ``by`` + ``dimension`` (the SQL loader's);
    from stats the respondents of a group are the most of any of its dimensions (a lower bound,
    exact when everyone answers every dimension, and on the safe side for suppression).
    Dimensions weigh ``dimension_weights`` (unlisted: 1; default all equal). Only dimension
    scores with status "ok" count, so a hidden dimension cannot be computed back from it.
    """
    settings = settings or AnalyticsSettings()
    by = list(by)
    if "scaled" in data.columns:
        dimensioned = data[data["dimension"].notna().to_numpy(dtype=bool)]
        dims = dimension_scores(dimensioned, by, settings)
        groups = group_stats(dimensioned, by)[[*by, "respondents", "k"]]
    else:
        stats = data[data["dimension"].notna().to_numpy(dtype=bool)]
        dims = scores(stats, settings)
        groups = aggregate(stats, by, respondents=("respondents", "max"), k=("k", "max"))
    weight = _weights(dims["dimension"], settings)
    ok = dims["status"].eq("ok").fillna(False).to_numpy(dtype=bool) & (weight > 0)
    mean = dims["mean"].to_numpy(dtype=float)
    parts = dims[by].assign(
        weighted=np.where(ok, mean * weight, 0.0),
        weight=np.where(ok, weight, 0.0),
        used=ok.astype("int64"),
    )
    sums = aggregate(parts, by, weighted=("weighted", "sum"), weight=("weight", "sum"))
    sums["dimensions"] = aggregate(parts, by, used=("used", "sum"))["used"].to_numpy()
    table = groups.merge(sums, on=by, how="left") if by else pd.concat([groups, sums], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        health = table["weighted"].to_numpy(float) / table["weight"].to_numpy(float)
    table["health"] = np.clip(health, 0, 100)
    table["dimensions"] = table["dimensions"].fillna(0).astype("int64")
    respondents = table["respondents"].to_numpy(dtype=float)
    insufficient = (respondents < max(settings.min_respondents, 1)) | (table["dimensions"] == 0)
    table["status"] = np.where(insufficient, "insufficient", "ok")
    blank(table, insufficient, ["health"])
    table = table[[*by, "health", "respondents", "dimensions", "k", "status"]]
    return suppress(table, None, settings)


def classify_gap(gap: pd.Series, settings: AnalyticsSettings) -> pd.Series:
    """aligned (|gap| < gap_aligned), misaligned (< gap_strong), else strongly_misaligned."""
    size = gap.abs()
    classes = np.select(
        [size < settings.gap_aligned, size < settings.gap_strong, size >= settings.gap_strong],
        list(GAP_CLASSES),
        default="",
    )
    return pd.Series(classes, index=gap.index, dtype="string").replace("", pd.NA)


def quadrant(internal: pd.Series, external: pd.Series, settings: AnalyticsSettings) -> pd.Series:
    """Where (internal, external) falls against the high line (a score at the line is high)."""
    high_in = internal >= settings.high_line
    high_ex = external >= settings.high_line
    both = internal.notna() & external.notna()
    names = np.select(
        [high_in & high_ex, ~high_in & ~high_ex, high_in & ~high_ex, ~high_in & high_ex],
        list(QUADRANTS),
        default="",
    )
    return pd.Series(names, index=internal.index, dtype="string").where(both, pd.NA)


def _pair(
    table: pd.DataFrame, keys: list[str], column: str, first: Any, second: Any, names: tuple
) -> pd.DataFrame:
    """Put the two sub-groups ``column == first`` / ``== second`` of a scores table side by side.

    A row is suppressed when either side is (both sides then blanked: a published side next to
    a hidden one would give the hidden one away through the group total), insufficient when
    either side is insufficient or missing (a side with enough respondents still shows its
    score; the gap needs both).
    """
    a, b = names
    columns = ["mean", "n", "respondents", "status", "k"]
    left = table[table[column].eq(first).fillna(False).to_numpy(bool)][[*keys, *columns]]
    right = table[table[column].eq(second).fillna(False).to_numpy(bool)][[*keys, *columns]]
    rename_a = {"mean": a, "n": f"n_{a}", "respondents": f"respondents_{a}"}
    rename_b = {"mean": b, "n": f"n_{b}", "respondents": f"respondents_{b}"}
    left = left.rename(columns=rename_a | {"status": "status_a", "k": "k_a"})
    right = right.rename(columns=rename_b | {"status": "status_b", "k": "k_b"})
    if keys:
        paired = left.merge(right, on=keys, how="outer", sort=True)
    else:
        paired = pd.concat([left.reset_index(drop=True), right.reset_index(drop=True)], axis=1)
        if paired.empty:
            paired = pd.DataFrame(columns=[*left.columns, *right.columns])
    status_a = paired["status_a"].astype("object")
    status_b = paired["status_b"].astype("object")
    suppressed = (status_a.eq("suppressed") | status_b.eq("suppressed")).to_numpy(dtype=bool)
    ok = (status_a.eq("ok") & status_b.eq("ok")).to_numpy(dtype=bool)
    paired["status"] = np.where(suppressed, "suppressed", np.where(ok, "ok", "insufficient"))
    paired["k"] = paired[["k_a", "k_b"]].max(axis=1).fillna(1).astype("int64")
    for name in (f"n_{a}", f"n_{b}", f"respondents_{a}", f"respondents_{b}"):
        paired[name] = paired[name].astype("Int64")
    for name in (a, b):
        paired[name] = paired[name].astype("float64")
    blank(paired, suppressed, [a, b, f"n_{a}", f"n_{b}", f"respondents_{a}", f"respondents_{b}"])
    paired["gap"] = (paired[a] - paired[b]).where(ok)
    return paired.drop(columns=["status_a", "status_b", "k_a", "k_b"])


def internal_external_gap(
    answers: pd.DataFrame, by: Sequence[str], settings: AnalyticsSettings | None = None
) -> pd.DataFrame:
    """Per ``by`` + dimension: ``internal``, ``external``, ``gap`` = internal - external,
    ``n_internal``, ``n_external`` (answers), ``respondents_internal``,
    ``respondents_external``, ``gap_class``, ``quadrant``, ``k``, ``status``."""
    settings = settings or AnalyticsSettings()
    keys = [*by, "dimension"]
    sides = dimension_scores(answers, [*by, "side"], settings)
    table = _pair(sides, keys, "side", "internal", "external", ("internal", "external"))
    table["gap_class"] = classify_gap(table["gap"], settings)
    table["quadrant"] = quadrant(table["internal"], table["external"], settings).where(
        table["gap"].notna(), pd.NA
    )
    columns = ["internal", "external", "gap", "n_internal", "n_external"]
    columns += ["respondents_internal", "respondents_external", "gap_class", "quadrant"]
    return table[[*keys, *columns, "k", "status"]].reset_index(drop=True)


def top_vs_line_gap(
    answers: pd.DataFrame,
    by: Sequence[str],
    settings: AnalyticsSettings | None = None,
    per_dimension: bool = False,
) -> pd.DataFrame:
    """Per ``by`` + side (+ dimension): executives' (``is_top``) mean scaled answer ``top``
    minus everyone else's on the same side ``line``: ``gap``, ``n_top``, ``n_line``,
    ``respondents_top``, ``respondents_line``, ``k``, ``status``."""
    settings = settings or AnalyticsSettings()
    keys = [*by, "side", *(["dimension"] if per_dimension else [])]
    if per_dimension:
        answers = answers[answers["dimension"].notna().to_numpy(dtype=bool)]
    levels = scores(group_stats(answers, [*keys, "is_top"]), settings)
    table = _pair(levels, keys, "is_top", True, False, ("top", "line"))
    columns = ["top", "line", "gap", "n_top", "n_line", "respondents_top", "respondents_line"]
    return table[[*keys, *columns, "k", "status"]].reset_index(drop=True)


def response_rates(
    invitations: pd.DataFrame, by: Sequence[str], settings: AnalyticsSettings | None = None
) -> pd.DataFrame:
    """Per ``by``: ``invited`` (invitations sent), ``responded``, ``rate`` = responded /
    invited (0-1), ``k``, ``status``: insufficient below ``min_respondents`` invited,
    suppressed below ``k`` responded (``responded`` is the n of the group's scores)."""
    settings = settings or AnalyticsSettings()
    by = list(by)
    sent = with_wave(invitations, by)
    sent = sent[sent["invited"].fillna(False).to_numpy(dtype=bool)]
    work = sent[[*by, "k"]].assign(responded=sent["responded"].fillna(False).astype("int64"))
    table = aggregate(
        work, by, invited=("k", "size"), responded=("responded", "sum"), k=("k", "max")
    )
    table = table.astype({"invited": "int64", "responded": "int64", "k": "int64"})
    return suppress_rates(table, keys=by, min_invited=settings.min_respondents)


__all__ = [
    "GAP_CLASSES",
    "NPS_CATEGORIES",
    "QUADRANTS",
    "SCORE_COLUMNS",
    "STATS_COLUMNS",
    "AnalyticsSettings",
    "aggregate",
    "analytics_settings",
    "default_partition",
    "dimension_scores",
    "group_stats",
    "health_index",
    "internal_external_gap",
    "key_columns",
    "nps_categories",
    "nps_category",
    "numeric_answers",
    "response_rates",
    "scores",
    "top_vs_line_gap",
    "wave_key",
    "with_wave",
]


def health_per_wave(answers: pd.DataFrame, settings: AnalyticsSettings) -> pd.DataFrame:
    """``health_index`` of each wave of ``answers``, oldest first, with ``wave_at``."""
    numeric = numeric_answers(answers)
    if numeric.empty:
        return pd.DataFrame(columns=["wave", "wave_at", "health", "respondents", "status"])
    keyed = numeric.assign(wave=wave_key(numeric))
    health = health_index(keyed, ["wave"], settings)
    opened = keyed.groupby("wave", observed=True)["wave_at"].min().rename("wave_at")
    return health.merge(opened, left_on="wave", right_index=True).sort_values("wave_at")
