"""Alert rules: pure functions over the answers and invitations frames and graph snapshots.

Each rule returns ``Candidate`` alerts; ``alerts_service.evaluate_alerts`` stores the ones not
stored yet (the ``dedupe_key`` names the cause, so evaluating twice opens nothing new). The
rules (README, "Alerts"):

- **significant decline**: an account's score fell wave over wave, overall or in a breakdown
  (side, dimension), by at least ``decline_min_points`` and more than noise (the trend test of
  ``trends.trend``: Welch's t, p < alpha);
- **new executive detractor**: one of their executives (``is_top``, external) answered NPS 0-6
  and was not a detractor in their previous answer, or had never answered;
- **gap widened**: the internal-vs-external gap on a dimension (``metrics.internal_external_gap``)
  became strongly misaligned, or grew by ``gap_widening_points`` or more since the last wave;
- **key person silent**: one of their decision makers, economic buyers, champions (``key_roles``)
  or executives was invited in two consecutive waves of a program, answered neither, and had
  answered before;
- **coverage lost**: between two snapshots of the stakeholder graph a seniority level that was
  covered no longer is, or the account became single-threaded or uncovered.

Confidential programs (``k`` > 1 in the frames): an alert never names a person. The person
rules then become one group alert per account and wave, opened only when at least ``k`` people
are in it (and the group they come from has at least ``k`` respondents); score rules need ``k``
respondents on both sides of the comparison.
"""

import itertools
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from relhealth.analytics.metrics import AnalyticsSettings, internal_external_gap, nps_category
from relhealth.analytics.trends import trend
from relhealth.config import DEFAULT_KEY_ROLES

SIGNIFICANT_DECLINE = "significant_decline"
EXECUTIVE_DETRACTOR = "executive_detractor"
GAP_WIDENED = "gap_widened"
KEY_PERSON_SILENT = "key_person_silent"
COVERAGE_LOST = "coverage_lost"

LOW, MEDIUM, HIGH = "low", "medium", "high"


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of the rules; ``analytics`` carries alpha, the gap classes and the minimum n."""

    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    decline_min_points: float = 5.0  # a smaller fall is not worth an alert, however certain
    decline_high_points: float = 15.0  # a fall this large is severity "high"
    decline_breakdowns: tuple[str | None, ...] = (None, "side", "dimension")
    gap_widening_points: float = 10.0  # growth of |gap| since the last wave that opens an alert
    key_roles: tuple[str, ...] = DEFAULT_KEY_ROLES


@dataclass(frozen=True)
class Candidate:
    """An alert a rule would open; ``dedupe_key`` is unique per cause."""

    kind: str
    account_id: int
    severity: str
    message: str
    evidence: dict
    dedupe_key: str
    wave_id: int | None = None
    person_id: int | None = None
    dimension: str | None = None
    confidential: bool = False

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


# -- helpers ---------------------------------------------------------------------------------


def _points(value: float) -> str:
    return f"{value:.1f}"


def _number(value: Any) -> Any:
    """A JSON-ready scalar: numpy and pandas values become Python ones, NaN/NA None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _wanted(wave_id: Any, waves: Collection[int] | None) -> bool:
    """Whether ``wave_id`` is one the caller asked about (a closed wave; None: every wave)."""
    if wave_id is None or wave_id is pd.NA or pd.isna(wave_id):
        return False
    return waves is None or int(wave_id) in waves


def _words(name: Any) -> str:
    """A key like ``ease_of_business`` as words."""
    return str(name).replace("_", " ")


def _p(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


# -- significant decline ---------------------------------------------------------------------


def _series_label(by: str | None, value: Any) -> tuple[str, str, str | None]:
    """(dedupe part, words, dimension) of one trend series."""
    if by is None:
        return "overall", "The account's score", None
    if by == "dimension":
        return f"dimension={value}", f"The {_words(value)} score", str(value)
    if by == "side":
        words = "Their people's score" if value == "external" else "Our people's score"
        return f"side={value}", words, None
    return f"{by}={value}", f"The {value} {by} score", None


def significant_declines(
    answers: pd.DataFrame, settings: AlertSettings, waves: Collection[int] | None = None
) -> list[Candidate]:
    """Wave-over-wave falls of an account's score that are larger than noise.

    Per account and per series of ``settings.decline_breakdowns`` (None is the whole account),
    from ``trends.trend``: the change is significant (p < alpha), at least
    ``decline_min_points`` down, and both waves have enough respondents (``min_respondents``,
    and ``k`` in a confidential program). ``waves`` limits which later wave is looked at.
    """
    candidates = []
    for by in settings.decline_breakdowns:
        keys = ["account_id", *([by] if by else [])]
        table = trend(answers, keys, settings.analytics)  # every account's series at once
        if table.empty:
            continue
        previous = table.groupby(keys, dropna=False, sort=False).shift(1)
        falling = (
            table["significant"].fillna(False).to_numpy(dtype=bool)
            & (table["change"] <= -settings.decline_min_points).fillna(False).to_numpy(dtype=bool)
            & table["wave_id"].map(lambda w: _wanted(w, waves)).to_numpy(dtype=bool)
        )
        for i in falling.nonzero()[0]:
            row, before = table.iloc[i], previous.iloc[i]
            value = row[by] if by else None
            candidate = _decline(int(row["account_id"]), by, value, row, before, settings)
            if candidate is not None:
                candidates.append(candidate)
    return candidates


def _decline(account_id, by, value, row, before, settings) -> Candidate | None:
    if row["status"] != "ok" or before["status"] != "ok" or not bool(row["significant"]):
        return None
    k = int(max(row["k"], before["k"]))
    change = float(row["change"])
    if not change <= -settings.decline_min_points:
        return None
    if min(int(row["respondents"]), int(before["respondents"])) < k:
        return None  # confidential: a comparison needs k respondents on both sides
    part, words, dimension = _series_label(by, value)
    wave_id = int(row["wave_id"])
    message = (
        f"{words} fell {_points(-change)} points wave over wave, from {_points(before['mean'])}"
        f" to {_points(row['mean'])} ({_p(float(row['p_value']))}; now n = {int(row['n'])}"
        f" answers from {int(row['respondents'])} respondents, before n = {int(before['n'])}"
        f" from {int(before['respondents'])})."
    )
    evidence = {
        "series": part,
        "before": {
            "wave_id": _number(before["wave_id"]),
            "wave_at": _number(before["wave_at"]),
            "mean": _number(before["mean"]),
            "n": _number(before["n"]),
            "respondents": _number(before["respondents"]),
        },
        "after": {
            "wave_id": wave_id,
            "wave_at": _number(row["wave_at"]),
            "mean": _number(row["mean"]),
            "n": _number(row["n"]),
            "respondents": _number(row["respondents"]),
            "ci_low": _number(row.get("ci_low")),
            "ci_high": _number(row.get("ci_high")),
        },
        "change": change,
        "p_value": _number(row["p_value"]),
        "alpha": settings.analytics.alpha,
        "test": "Welch's t on respondent-level mean scores",
    }
    return Candidate(
        kind=SIGNIFICANT_DECLINE,
        account_id=account_id,
        wave_id=wave_id,
        dimension=dimension,
        severity=HIGH if -change >= settings.decline_high_points else MEDIUM,
        message=message,
        evidence=evidence,
        dedupe_key=f"{SIGNIFICANT_DECLINE}:{account_id}:{wave_id}:{part}",
        confidential=k > 1,
    )


# -- new executive detractor -----------------------------------------------------------------


def _nps_by_person_and_wave(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per external executive's response with an NPS answer: its lowest NPS value.

    A survey normally asks NPS once; with several, a detractor on any of them counts.
    """
    nps = answers[
        (answers["question_type"] == "nps")
        & (answers["side"] == "external")
        & answers["is_top"]
        & answers["value"].notna()
    ]
    return (
        nps.groupby(["account_id", "person_id", "response_id"], sort=False)
        .agg(
            value=("value", "min"),
            wave_id=("wave_id", "first"),
            wave_at=("wave_at", "first"),
            k=("k", "max"),
        )
        .reset_index()
        .sort_values(["account_id", "person_id", "wave_at", "response_id"])
    )


def executive_detractors(
    answers: pd.DataFrame, waves: Collection[int] | None = None
) -> list[Candidate]:
    """Their executives who answered NPS 0-6 and were not detractors in their previous answer.

    Someone answering for the first time counts as new. In a confidential program, one group
    alert per account and wave when at least ``k`` executives are new detractors and at least
    ``k`` executives answered.
    """
    rows = _nps_by_person_and_wave(answers)
    if rows.empty:
        return []
    rows["category"] = rows["value"].map(nps_category)
    rows["previous"] = rows.groupby(["account_id", "person_id"])["category"].shift(1)
    rows["previous_value"] = rows.groupby(["account_id", "person_id"])["value"].shift(1)
    current = rows[rows["wave_id"].map(lambda w: _wanted(w, waves))]
    new = current[(current["category"] == "detractor") & (current["previous"] != "detractor")]
    candidates = []
    for row in new[new["k"] <= 1].itertuples(index=False):
        account_id, person_id, wave_id = int(row.account_id), int(row.person_id), int(row.wave_id)
        was = (
            "answering for the first time"
            if pd.isna(row.previous)
            else f"a {row.previous} last time ({_number(row.previous_value):g})"
        )
        candidates.append(
            Candidate(
                kind=EXECUTIVE_DETRACTOR,
                account_id=account_id,
                person_id=person_id,
                wave_id=wave_id,
                severity=HIGH,
                message=(
                    f"One of their executives answered {_number(row.value):g} out of 10 on"
                    f" likelihood to recommend (a detractor), {was}; n = 1 response."
                ),
                evidence={
                    "value": _number(row.value),
                    "category": "detractor",
                    "previous_category": _number(row.previous),
                    "previous_value": _number(row.previous_value),
                    "wave_at": _number(row.wave_at),
                },
                dedupe_key=f"{EXECUTIVE_DETRACTOR}:{account_id}:{wave_id}:{person_id}",
            )
        )
    confidential = current[current["k"] > 1]
    for (account_id, wave_id), group in confidential.groupby(["account_id", "wave_id"]):
        k = int(group["k"].max())
        respondents = group["person_id"].nunique()
        fresh = group[(group["category"] == "detractor") & (group["previous"] != "detractor")]
        count = fresh["person_id"].nunique()
        if count < k or respondents < k:
            continue
        account_id, wave_id = int(account_id), int(wave_id)
        candidates.append(
            Candidate(
                kind=EXECUTIVE_DETRACTOR,
                account_id=account_id,
                wave_id=wave_id,
                severity=HIGH,
                message=(
                    f"{count} of the {respondents} executives of theirs who answered this wave"
                    f" are detractors (NPS 0-6) who were not before (confidential program:"
                    f" group figures only, k = {k})."
                ),
                evidence={
                    "new_detractors": count,
                    "executive_respondents": respondents,
                    "detractors": int((group["category"] == "detractor").sum()),
                    "k": k,
                },
                dedupe_key=f"{EXECUTIVE_DETRACTOR}:{account_id}:{wave_id}:group",
                confidential=True,
            )
        )
    return candidates


# -- internal-vs-external gap ----------------------------------------------------------------


def widened_gaps(
    answers: pd.DataFrame, settings: AlertSettings, waves: Collection[int] | None = None
) -> list[Candidate]:
    """Dimensions whose internal-vs-external gap became strongly misaligned or grew.

    Per account and dimension, wave by wave (``metrics.internal_external_gap``): an alert when
    the gap is strongly misaligned and was not at the previous measured wave (or there was
    none), or when |gap| grew by ``gap_widening_points`` or more. Only gaps with status "ok"
    (enough answers on both sides, ``k`` respondents in a confidential program) count.
    """
    with_wave = answers[answers["wave_id"].notna()]
    if with_wave.empty:
        return []
    gaps = internal_external_gap(with_wave, ["account_id", "wave_id"], settings.analytics)
    if gaps.empty:
        return []
    wave_at = with_wave.groupby("wave_id")["wave_at"].min()
    gaps = gaps[gaps["status"].eq("ok").fillna(False).to_numpy(dtype=bool)].copy()
    gaps["wave_at"] = gaps["wave_id"].map(wave_at)
    gaps = gaps.sort_values(["account_id", "dimension", "wave_at"]).reset_index(drop=True)
    previous = gaps.groupby(["account_id", "dimension"], sort=False)[
        ["wave_id", "gap", "gap_class"]
    ]
    gaps[["previous_wave_id", "previous_gap", "previous_class"]] = previous.shift(1).to_numpy()
    strong = gaps["gap_class"].eq("strongly_misaligned").fillna(False)
    was_strong = gaps["previous_class"].eq("strongly_misaligned").fillna(False)
    growth = gaps["gap"].abs() - pd.to_numeric(gaps["previous_gap"]).abs()
    widened = (growth >= settings.gap_widening_points).fillna(False)
    wanted = gaps["wave_id"].map(lambda w: _wanted(w, waves)).astype(bool)
    gaps["crossed"] = strong & ~was_strong
    gaps["widened_by"] = growth
    firing = gaps[((strong & ~was_strong) | widened) & wanted]
    return [_gap(row, settings) for row in firing.itertuples(index=False)]


def _gap(row, settings: AlertSettings) -> Candidate:
    account_id, wave_id, dimension = int(row.account_id), int(row.wave_id), str(row.dimension)
    gap = float(row.gap)
    first = pd.isna(row.previous_wave_id)
    who = "we rate it higher than they do" if gap > 0 else "they rate it higher than we do"
    since = (
        " at its first measured wave"
        if first
        else f", from {_points(row.previous_gap)} at the previous wave"
    )
    message = (
        f"The internal-vs-external gap on {_words(dimension)} is {_points(gap)} points"
        f" ({who}){since};"
        f" internal {_points(row.internal)} (n = {int(row.n_internal)}), external"
        f" {_points(row.external)} (n = {int(row.n_external)}): "
        + str(row.gap_class).replace("_", " ")
        + f", {str(row.quadrant).replace('_', ' ')}."
    )
    evidence = {
        "gap": gap,
        "internal": _number(row.internal),
        "external": _number(row.external),
        "n_internal": _number(row.n_internal),
        "n_external": _number(row.n_external),
        "gap_class": str(row.gap_class),
        "quadrant": _number(row.quadrant),
        "previous": None
        if first
        else {
            "wave_id": int(row.previous_wave_id),
            "gap": float(row.previous_gap),
            "gap_class": str(row.previous_class),
        },
        "crossed_into_strongly_misaligned": bool(row.crossed),
        "widened_by": None if first else float(row.widened_by),
        "thresholds": {
            "strong": settings.analytics.gap_strong,
            "widening": settings.gap_widening_points,
        },
    }
    strong = row.gap_class == "strongly_misaligned"
    return Candidate(
        kind=GAP_WIDENED,
        account_id=account_id,
        wave_id=wave_id,
        dimension=dimension,
        severity=HIGH if strong and row.quadrant == "blind_spot" else MEDIUM,
        message=message,
        evidence=evidence,
        dedupe_key=f"{GAP_WIDENED}:{account_id}:{wave_id}:{dimension}",
        confidential=int(row.k) > 1,
    )


# -- key person silent -----------------------------------------------------------------------


def silent_key_people(
    invitations: pd.DataFrame,
    answers: pd.DataFrame,
    key_roles: Mapping[int, Sequence[str]],
    settings: AlertSettings,
    waves: Collection[int] | None = None,
) -> list[Candidate]:
    """Their key people invited in two consecutive waves of a program who answered neither.

    Key: a role among ``settings.key_roles`` (``key_roles`` maps person id -> their roles) or
    the top of the ladder. Consecutive: adjacent among the program's waves for that account.
    They must have answered before (an earlier responded invitation or answer for the account).
    Confidential programs: one group alert per account and wave with at least ``k`` people.
    """
    invited = invitations[
        (invitations["invited"] & invitations["side"].eq("external")).fillna(False).to_numpy(bool)
    ]
    if invited.empty:
        return []
    series = ["program_id", "account_id"]
    order = (
        invited[[*series, "wave_id", "wave_at"]]
        .drop_duplicates()
        .sort_values([*series, "wave_at", "wave_id"])
    )
    order["previous_wave"] = order.groupby(series)["wave_id"].shift(1)
    order["previous_at"] = order.groupby(series)["wave_at"].shift(1)
    rows = invited.merge(order, on=[*series, "wave_id", "wave_at"])
    wanted = rows["wave_id"].map(lambda w: _wanted(w, waves)).astype(bool)
    rows = rows[~rows["responded"] & wanted & rows["previous_wave"].notna()]
    previous = invited[["account_id", "person_id", "wave_id", "responded"]].rename(
        columns={"wave_id": "previous_wave", "responded": "previous_responded"}
    )
    rows = rows.astype({"previous_wave": "int64"}).merge(
        previous, on=["account_id", "person_id", "previous_wave"]
    )
    rows = rows[~rows["previous_responded"]]
    rows = rows.merge(_first_answers(invitations, answers), on=["account_id", "person_id"])
    rows = rows[rows["first_answered"] < rows["previous_at"]]
    wanted_roles = set(settings.key_roles)
    rows = rows.assign(
        roles=rows["person_id"].map(lambda p: sorted(wanted_roles & set(key_roles.get(int(p), ()))))
    )
    rows = rows[rows["roles"].map(bool) | rows["is_top"]]
    silent = [(row, int(row.previous_wave), row.roles) for row in rows.itertuples(index=False)]
    candidates = [_silent(row, before, roles) for row, before, roles in silent if row.k <= 1]
    groups: dict[tuple[int, int], list] = {}
    for row, before, _roles in silent:
        if row.k > 1:
            groups.setdefault((int(row.account_id), int(row.wave_id)), []).append((row, before))
    for (account_id, wave_id), members in sorted(groups.items()):
        k = max(int(row.k) for row, _ in members)
        people = {int(row.person_id) for row, _ in members}
        if len(people) < k:
            continue
        candidates.append(
            Candidate(
                kind=KEY_PERSON_SILENT,
                account_id=account_id,
                wave_id=wave_id,
                severity=MEDIUM,
                message=(
                    f"{len(people)} of their key people (decision makers, champions or"
                    " executives) who answered before were invited in two consecutive waves"
                    f" and answered neither (confidential program: group figures only, k = {k})."
                ),
                evidence={"silent_people": len(people), "k": k},
                dedupe_key=f"{KEY_PERSON_SILENT}:{account_id}:{wave_id}:group",
                confidential=True,
            )
        )
    return candidates


def _first_answers(invitations: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """``account_id``, ``person_id``, ``first_answered``: their first responded invitation or
    answer about the account."""
    responded = invitations[invitations["responded"].fillna(False).to_numpy(bool)]
    columns = ["account_id", "person_id", "wave_at"]
    times = pd.concat([responded[columns], answers[columns]])
    first = times.groupby(["account_id", "person_id"], as_index=False)["wave_at"].min()
    return first.rename(columns={"wave_at": "first_answered"})


def _silent(row, before: int, roles: list[str]) -> Candidate:
    account_id, person_id, wave_id = int(row.account_id), int(row.person_id), int(row.wave_id)
    what = ", ".join(role.replace("_", " ") for role in roles) or "executive"
    if row.is_top and roles:
        what += ", executive"
    return Candidate(
        kind=KEY_PERSON_SILENT,
        account_id=account_id,
        person_id=person_id,
        wave_id=wave_id,
        severity=MEDIUM,
        message=(
            f"A key person of theirs ({what}) who answered before was invited in two"
            " consecutive waves and answered neither (n = 2 invitations)."
        ),
        evidence={
            "roles": roles,
            "is_top": bool(row.is_top),
            "waves": [before, wave_id],
            "program_id": int(row.program_id),
        },
        dedupe_key=f"{KEY_PERSON_SILENT}:{account_id}:{wave_id}:{person_id}",
    )


# -- coverage lost ---------------------------------------------------------------------------


def coverage_losses(
    snapshots: Iterable[Mapping[str, Any]],
    ladder: Sequence[str],
    after_ids: Collection[int] | None = None,
) -> list[Candidate]:
    """Coverage lost between consecutive stakeholder-graph snapshots of an account.

    ``snapshots``: mappings with ``id``, ``account_id``, ``taken_at``, ``wave_id`` and the
    ``metrics`` of ``accounts.graph.account_metrics``. An alert per seniority level that had
    covered people and has none, and one when the account went from multi-threaded to
    single-threaded, or to uncovered. ``after_ids`` limits which later snapshot is looked at.
    """
    by_account: dict[int, list[Mapping[str, Any]]] = {}
    for snapshot in snapshots:
        by_account.setdefault(int(snapshot["account_id"]), []).append(snapshot)
    candidates = []
    for account_id, history in sorted(by_account.items()):
        history = sorted(history, key=lambda s: (s["taken_at"], s["id"]))
        for before, after in itertools.pairwise(history):
            if after_ids is not None and after["id"] not in after_ids:
                continue
            candidates += _coverage_pair(account_id, before, after, ladder)
    return candidates


def _coverage_pair(account_id, before, after, ladder) -> list[Candidate]:
    old, new = before["metrics"], after["metrics"]
    common = {
        "kind": COVERAGE_LOST,
        "account_id": account_id,
        "wave_id": after.get("wave_id"),
    }
    snapshots = {"before_snapshot_id": before["id"], "after_snapshot_id": after["id"]}
    candidates = []
    for level in ladder:
        was = old.get("coverage", {}).get("by_level", {}).get(level) or {}
        now = new.get("coverage", {}).get("by_level", {}).get(level) or {}
        if (was.get("covered") or 0) > 0 and (now.get("covered") or 0) == 0:
            left = now.get("total") or 0
            message = (
                f"Nobody of theirs at {level} level is covered any more: {was['covered']} of"
                f" {was.get('total')} were, now 0 of {left}"
                + (" (none of them is in the map now)." if left == 0 else ".")
            )
            candidates.append(
                Candidate(
                    **common,
                    severity=HIGH if level == ladder[0] else MEDIUM,
                    message=message,
                    evidence={"level": level, "before": was, "after": now, **snapshots},
                    dedupe_key=f"{COVERAGE_LOST}:{account_id}:{after['id']}:level={level}",
                )
            )
    was = (old.get("threading") or {}).get("status")
    now = (new.get("threading") or {}).get("status")
    worse = {"multi-threaded": 0, "single-threaded": 1, "uncovered": 2}
    if was in worse and now in worse and worse[now] > worse[was]:
        threading = new["threading"]
        candidates.append(
            Candidate(
                **common,
                severity=HIGH if now == "uncovered" else MEDIUM,
                message=(
                    f"The account went from {was} to {now}: {threading.get('our_people', 0)} of"
                    f" our people now cover {threading.get('their_people', 0)} of theirs"
                    f" (overall coverage {_share(old)} -> {_share(new)})."
                ),
                evidence={
                    "before": old.get("threading"),
                    "after": threading,
                    "coverage_before": (old.get("coverage") or {}).get("overall"),
                    "coverage_after": (new.get("coverage") or {}).get("overall"),
                    **snapshots,
                },
                dedupe_key=f"{COVERAGE_LOST}:{account_id}:{after['id']}:threading",
            )
        )
    return candidates


def _share(metrics: Mapping) -> str:
    share = ((metrics.get("coverage") or {}).get("overall") or {}).get("share")
    return "n/a" if share is None else f"{share:.0%}"


# -- all rules -------------------------------------------------------------------------------


def evaluate(
    answers: pd.DataFrame,
    invitations: pd.DataFrame,
    snapshots: Iterable[Mapping[str, Any]],
    key_roles: Mapping[int, Sequence[str]],
    ladder: Sequence[str],
    settings: AlertSettings,
    waves: Collection[int] | None = None,
    snapshot_ids: Collection[int] | None = None,
) -> list[Candidate]:
    """Every rule's candidates, sorted by dedupe key (so a run is deterministic)."""
    candidates = [
        *significant_declines(answers, settings, waves),
        *executive_detractors(answers, waves),
        *widened_gaps(answers, settings, waves),
        *silent_key_people(invitations, answers, key_roles, settings, waves),
        *coverage_losses(snapshots, ladder, snapshot_ids),
    ]
    return sorted(candidates, key=lambda c: c.dedupe_key)
