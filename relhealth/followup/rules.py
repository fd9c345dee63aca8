"""The closed loop's rules as pure functions: what opens a case, its priority, its deadlines.

No Flask and no session here: the service gathers the inputs (the account's value, the
respondent's level, roles and PageRank influence from the latest graph snapshot) and these
functions decide. Each is documented in the README ("Closing the loop").
"""

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from relhealth.config import DEFAULT_KEY_ROLES, DEFAULT_SENIORITY_LADDER
from relhealth.followup.models import CaseReason
from relhealth.surveys.models import QuestionType

# An alert's severity weighs like this in its case's priority.
SEVERITY_WEIGHT = {"low": 1.0, "medium": 1.5, "high": 2.0}
KEY_ROLE_WEIGHT = 1.5  # the respondent holds one of the key roles
INFLUENCE_CAP = 4.0  # influence relative to the account's average person, capped


@dataclass(frozen=True)
class FollowupSettings:
    first_contact_hours: float = 48.0
    resolution_days: float = 14.0
    low_score: float = 40.0
    negative_sentiment: float = -0.5
    root_causes: tuple[str, ...] = ()
    key_roles: tuple[str, ...] = DEFAULT_KEY_ROLES
    ladder: tuple[str, ...] = DEFAULT_SENIORITY_LADDER

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "FollowupSettings":
        return cls(
            first_contact_hours=config["FOLLOWUP_FIRST_CONTACT_HOURS"],
            resolution_days=config["FOLLOWUP_RESOLUTION_DAYS"],
            low_score=config["FOLLOWUP_LOW_SCORE"],
            negative_sentiment=config["FOLLOWUP_NEGATIVE_SENTIMENT"],
            root_causes=tuple(config["FOLLOWUP_ROOT_CAUSES"]),
            key_roles=tuple(config["ALERT_KEY_ROLES"]),
            ladder=tuple(config["SENIORITY_LADDER"]),
        )


def due_dates(
    opened_at: dt.datetime, settings: FollowupSettings
) -> tuple[dt.datetime, dt.datetime]:
    """(first contact due, resolution due) for a case opened (or released) at ``opened_at``."""
    return (
        opened_at + dt.timedelta(hours=settings.first_contact_hours),
        opened_at + dt.timedelta(days=settings.resolution_days),
    )


@dataclass(frozen=True)
class ResponseSignal:
    """What one response said, reduced to what decides whether it opens cases."""

    nps: float | None  # the NPS answer, 0-10
    mean_scaled: float | None  # mean of its scaled (0-100) rated answers
    lowest_sentiment: float | None  # the most negative text answer's sentiment


def nps_answer(answers: Sequence[Any]) -> float | None:
    """A response's NPS answer (0-10), of its answers (rows with ``question_type`` and
    ``value``); should a survey ask it twice, the lower counts."""
    values = [
        a.value for a in answers if a.question_type == QuestionType.NPS and a.value is not None
    ]
    return min(values) if values else None


def mean_rating(answers: Sequence[Any]) -> float | None:
    """The mean of a response's rating answers on the 0-100 scale (``scaled``), unrounded.

    NPS is left out: it has its own rule (detractor), so it does not count twice."""
    scaled = [
        a.scaled for a in answers if a.question_type == QuestionType.RATING and a.scaled is not None
    ]
    return sum(scaled) / len(scaled) if scaled else None


def case_reasons(signal: ResponseSignal, settings: FollowupSettings) -> list[CaseReason]:
    """The reasons a response opens a case for, most telling first (one case per reason)."""
    reasons = []
    if signal.nps is not None and signal.nps <= 6:
        reasons.append(CaseReason.DETRACTOR)
    if signal.mean_scaled is not None and signal.mean_scaled < settings.low_score:
        reasons.append(CaseReason.LOW_SCORE)
    if (
        signal.lowest_sentiment is not None
        and signal.lowest_sentiment < settings.negative_sentiment
    ):
        reasons.append(CaseReason.NEGATIVE_TEXT)
    return reasons


def account_value(lifetime_value: Decimal | None, annual_value: Decimal | None) -> Decimal:
    """The value at stake: the account's lifetime value, else its annual value, else 0."""
    if lifetime_value is not None:
        return Decimal(lifetime_value)
    return Decimal(annual_value or 0)


def seniority_weight(seniority: str | None, ladder: Sequence[str]) -> float:
    """2.0 at the top of the ladder down to 1.0 at its foot; 1.0 when unknown."""
    if seniority not in ladder or len(ladder) < 2:
        return 1.0
    steps = len(ladder) - 1
    return 1.0 + (steps - ladder.index(seniority)) / steps


def influence_weight(pagerank: float | None, people: int | None) -> float:
    """1.0 for an average person of the account's graph, up to 2.0 for the most central.

    PageRank sums to 1 over the graph, so ``pagerank * people`` is 1 for the average node.
    """
    if not pagerank or not people:
        return 1.0
    relative = min(pagerank * people, INFLUENCE_CAP)
    return 1.0 + max(relative - 1.0, 0.0) / (INFLUENCE_CAP - 1.0)


def priority(
    value: Decimal,
    seniority: str | None = None,
    roles: Iterable[str] = (),
    pagerank: float | None = None,
    people: int | None = None,
    severity: str | None = None,
    settings: FollowupSettings = FollowupSettings(),
) -> tuple[float, dict[str, Any]]:
    """A case's priority and the parts it was made of (stored with the case, shown on it).

    priority = log10(10 + value) x seniority x role x influence x severity

    - value: the account's lifetime value, else annual value (log scale: a 100x more valuable
      account weighs 3x, not 100x, so a small account's executive is not drowned out);
    - seniority: 2.0 at the top of the ladder to 1.0 at its foot;
    - role: 1.5 when the person holds a key role (setting ALERT_KEY_ROLES), else 1.0;
    - influence: 1.0-2.0 from their PageRank in the account's stakeholder graph;
    - severity: an alert's severity (low 1, medium 1.5, high 2); 1.0 for a response.
    """
    parts = {
        "value": float(value),
        "value_points": round(math.log10(10 + float(value)), 4),
        "seniority": round(seniority_weight(seniority, settings.ladder), 4),
        "role": KEY_ROLE_WEIGHT if set(roles) & set(settings.key_roles) else 1.0,
        "influence": round(influence_weight(pagerank, people), 4),
        "severity": SEVERITY_WEIGHT.get(severity, 1.0) if severity else 1.0,
    }
    score = (
        parts["value_points"]
        * parts["seniority"]
        * parts["role"]
        * parts["influence"]
        * parts["severity"]
    )
    return round(score, 4), parts
