"""The PDF reports: gather (``content``), lay out (``templates/reports``), print (``render``).

Each function returns the PDF's bytes; archiving, scheduling and e-mailing them is
``reports.tasks``' business. Callers pass the session; nothing here writes to the database.

A report is drawn with the cyclic garbage collector paused (``core.memory``): charts, map and
layout allocate about a million objects, which set off full collections over the whole
process's heap, ~15% of a report's time (bench/RESULTS.md, "Reports").
"""

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from flask import current_app, render_template

from relhealth.accounts.models import Account
from relhealth.analytics import service as analytics_service
from relhealth.analytics.metrics import AnalyticsSettings
from relhealth.auth.models import User
from relhealth.core import memory
from relhealth.reports import content, render


def _day(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return f"{value.day} {value:%b %Y}"


STATUS_LABELS = {
    "ok": "ok",
    "insufficient": "too few answers",
    "suppressed": "suppressed",
    "no_answers": "no answers",
    "empty": "no answers",
}


def _helpers() -> dict[str, Any]:
    return {
        "day": _day,
        "quarter": content.quarter,
        "pct": content._pct,
        "dim": content.dimension_label,
        "sides": content.SIDES,
        "status_label": lambda s: STATUS_LABELS.get(s or "", s or "\u2013"),
        "stale_days": current_app.config.get("STALE_CONTACT_DAYS", 90),
    }


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def _pdf(template: str, context: Mapping[str, Any]) -> bytes:
    return render.pdf_bytes(
        render_template(template, **_helpers(), **context), images=context["images"]
    )


@memory.paused_gc()
def render_account_report(
    session,
    account: Account,
    *,
    settings: AnalyticsSettings | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """The account relationship report of ``account`` as PDF bytes."""
    settings = settings or analytics_service.analytics_settings()
    context = content.account_content(session, account, settings, _now(now))
    context.update(content.account_sentences(context))
    return _pdf("reports/account.html", context)


@memory.paused_gc()
def render_partner_report(
    session,
    account: Account,
    *,
    settings: AnalyticsSettings | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """The two-way report of a partner account (InvalidInput for a customer) as PDF bytes."""
    settings = settings or analytics_service.analytics_settings()
    context = content.partner_content(session, account, settings, _now(now))
    if context["has_answers"]:
        context["summary_sentence"] = content.partner_sentence(context)
    return _pdf("reports/partner.html", context)


@memory.paused_gc()
def render_portfolio_report(
    session,
    user: User,
    *,
    filters: Mapping[str, Any] | None = None,
    settings: AnalyticsSettings | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """The portfolio report over the accounts ``user`` may read (``filters``: kind, tier,
    owner_id) as PDF bytes."""
    settings = settings or analytics_service.analytics_settings()
    context = content.portfolio_content(session, user, filters or {}, settings, _now(now))
    context["summary_sentence"] = content.portfolio_sentence(context)
    return _pdf("reports/portfolio.html", context)
