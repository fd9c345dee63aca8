"""Settings: defaults for embedded use, overridden by ``RELHEALTH_*`` environment variables.

Every setting is named here once. ``load_settings`` reads the environment; ``create_app`` merges
an explicit ``config`` mapping on top, which is how tests and tools configure an app.
"""

import os
import secrets
from pathlib import Path
from typing import Any

DEFAULT_SENIORITY_LADDER = ("executive", "senior", "manager", "staff")
# The stakeholder roles that make someone a key person (alerts, case priority).
DEFAULT_KEY_ROLES = ("decision_maker", "economic_buyer", "champion")

# name -> (default, parser). Parsers turn the environment's strings into Python values.
_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False}


def parse_bool(value: str) -> bool:
    """A setting's true/false (also the ?starttls and ?verify options of the SMTP URL)."""
    try:
        return _BOOL[value.strip().lower()]
    except KeyError:
        raise ValueError(f"expected a boolean (true/false), got {value!r}") from None


def _parse_list(value: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in value.split(",") if item.strip())
    if not items:
        raise ValueError("expected a comma-separated list")
    return items


def _parse_themes_file(value: str) -> str:
    # Read and checked at start-up, so a bad file fails loudly then, not on a page later.
    from relhealth.analytics.text import load_taxonomy

    load_taxonomy(value)
    return value


def parse_dimension_weights(value: str) -> dict[str, float]:
    """``"trust=2,responsiveness=1.5"`` -> ``{"trust": 2.0, "responsiveness": 1.5}``."""
    weights = {}
    for item in _parse_list(value):
        name, sep, weight = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected dimension=weight, got {item!r}")
        weights[name.strip()] = float(weight)
        if weights[name.strip()] < 0:
            raise ValueError(f"a dimension weight cannot be negative: {item!r}")
    return weights


SETTINGS: dict[str, tuple[Any, Any]] = {
    # Database URL; empty means the embedded SQLite file under the instance folder.
    "DATABASE_URL": ("", str),
    # Cryptographic key for sessions and CSRF; empty means generate once into the instance folder.
    "SECRET_KEY": ("", str),
    # The ordered seniority ladder, most senior first.
    "SENIORITY_LADDER": (DEFAULT_SENIORITY_LADDER, _parse_list),
    # A relationship with no contact for this many days is stale (stakeholder maps).
    "STALE_CONTACT_DAYS": (90, int),
    "HEARD_FROM_DAYS": (365, int),
    # Mark session cookies Secure (behind HTTPS in production).
    "SECURE_COOKIES": (False, parse_bool),
    # Where `relhealth serve` binds.
    "BIND": ("127.0.0.1:5000", str),
    # Where people reach this app: links in e-mails start with it (README: E-mail).
    "BASE_URL": ("http://127.0.0.1:5000", str),
    # Our company's name as respondents know it, in e-mails and survey wording.
    "COMPANY_NAME": ("Our company", str),
    # The From of every e-mail.
    "MAIL_FROM": ("relhealth <relhealth@localhost>", str),
    # smtp://user:pass@host:port[?starttls=true] or smtps://...; empty: files in instance/outbox/.
    # ?verify=false accepts a relay's self-signed certificate (README: E-mail).
    "SMTP_URL": ("", str),
    # Seconds to wait on the SMTP server before calling it unreachable.
    "SMTP_TIMEOUT": (30.0, float),
    # Give up on a message the server keeps refusing after this many attempts.
    "SMTP_MAX_ATTEMPTS": (8, int),
    # SMTP connections one sender sends on at once (README: E-mail).
    "SMTP_CONNECTIONS": (4, int),
    # Celery broker (redis://127.0.0.1:6379/0); empty: no workers, run `relhealth tick` by cron.
    "BROKER_URL": ("", str),
    # With a broker, Celery beat runs the scheduler tick every this many minutes.
    "TICK_MINUTES": (5.0, float),
    # Alerts (README: Alerts): a significant wave-over-wave fall opens one from this many points;
    "ALERT_DECLINE_MIN_POINTS": (5.0, float),
    # an internal-vs-external gap that grows by this many points since the last wave opens one;
    "ALERT_GAP_WIDENING_POINTS": (10.0, float),
    # their people with these roles (or at the top of the ladder) are key people;
    "ALERT_KEY_ROLES": (DEFAULT_KEY_ROLES, _parse_list),
    # waves closed (and graph snapshots taken) this many days back are evaluated.
    "ALERT_LOOKBACK_DAYS": (180, int),
    # Analytics (README: Analytics > Metrics). Fewer respondents: "insufficient signal".
    "MIN_RESPONDENTS": (3, int),
    # Internal-vs-external gap classes: |gap| below this is aligned ...
    "GAP_ALIGNED": (10.0, float),
    # ... below this misaligned, from here on strongly misaligned (points on 0-100).
    "GAP_STRONG": (20.0, float),
    # A dimension score at or above this is "high" for the gap quadrants.
    "HIGH_LINE": (70.0, float),
    # Health index weights "dimension=weight,..."; unlisted dimensions weigh 1; empty: all equal.
    "DIMENSION_WEIGHTS": (None, parse_dimension_weights),
    # JSON file of text-answer themes -> keywords (README: Text answers); empty: the default.
    "THEMES_FILE": ("", _parse_themes_file),
    # Closing the loop (README: Closing the loop). First contact with a case is due within ...
    "FOLLOWUP_FIRST_CONTACT_HOURS": (48.0, float),
    # ... and its resolution within this many days of opening.
    "FOLLOWUP_RESOLUTION_DAYS": (14.0, float),
    # A response whose mean scaled score (0-100) is below this opens a case (NPS 0-6 always does).
    "FOLLOWUP_LOW_SCORE": (40.0, float),
    # A text answer with sentiment (-1..1) below this opens a case.
    "FOLLOWUP_NEGATIVE_SENTIMENT": (-0.5, float),
    # Root-cause tags cases may carry, comma-separated.
    "FOLLOWUP_ROOT_CAUSES": (
        (
            "product_quality",
            "support_responsiveness",
            "pricing_value",
            "communication",
            "account_management",
            "onboarding",
            "delivery",
            "billing",
            "strategic_fit",
            "staff_turnover",
        ),
        _parse_list,
    ),
}

ENV_PREFIX = "RELHEALTH_"


class ConfigError(ValueError):
    """A setting in the environment could not be understood."""


def load_settings(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return every setting: its default unless ``RELHEALTH_<NAME>`` is set in ``environ``."""
    environ = os.environ if environ is None else environ
    settings = {}
    for name, (default, parse) in SETTINGS.items():
        raw = environ.get(ENV_PREFIX + name)
        if raw is None or raw == "":
            settings[name] = default
            continue
        try:
            settings[name] = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}{name}: {exc}") from exc
    return settings


def sqlalchemy_url(url: str, instance_path: Path) -> str:
    """Normalise a database URL; empty means ``sqlite:///<instance>/relhealth.db``.

    ``postgresql://`` is taken to mean psycopg 3, the driver relhealth ships with.
    """
    if not url:
        return f"sqlite:///{instance_path / 'relhealth.db'}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def instance_secret_key(instance_path: Path) -> str:
    """Read the instance's secret key, generating and keeping it on first use."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Created with owner-only permissions: the key signs sessions.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
