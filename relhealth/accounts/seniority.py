"""The seniority ladder and the rules that infer a level from a job title.

The ladder is ordered, most senior first, and configurable (``RELHEALTH_SENIORITY_LADDER``);
the default is executive > senior > manager > staff. Title inference knows the default levels;
on a custom ladder a level it infers is used only if the ladder has that level.
"""

import re
from collections.abc import Sequence

from flask import current_app

from relhealth.config import DEFAULT_SENIORITY_LADDER


def ladder() -> tuple[str, ...]:
    """The configured ladder, most senior first."""
    return tuple(current_app.config.get("SENIORITY_LADDER", DEFAULT_SENIORITY_LADDER))


def rank(level: str, levels: Sequence[str]) -> int:
    """0 for the most senior level; raises ValueError for a level not on the ladder."""
    return list(levels).index(level)


# Checked in order; the first pattern found anywhere in the title (case-insensitive, on word
# boundaries) decides. Assistants to executives are staff, whatever the title names.
TITLE_RULES: tuple[tuple[str, str], ...] = (
    ("staff", r"assistant to|executive assistant|intern|trainee"),
    (
        "executive",
        r"chief|c[efiomrt]o|ciso|cpo|cro|president|vp|svp|evp|vice[- ]president|head of"
        r"|founder|managing director|managing partner|general manager|board member",
    ),
    ("senior", r"director|principal|senior manager|fellow|distinguished"),
    ("manager", r"manager|lead|supervisor|team leader|head"),
)
_COMPILED = tuple(
    (level, re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE)) for level, pattern in TITLE_RULES
)


def infer_seniority(title: str | None) -> str:
    """The default-ladder level a job title suggests; ``staff`` when nothing matches."""
    for level, pattern in _COMPILED:
        if title and pattern.search(title):
            return level
    return "staff"
