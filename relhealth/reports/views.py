"""The Reports page: ask for a PDF report, download it, subscribe to one by e-mail.

The same services as the API (jobs, subscriptions, tasks), behind the session login and
CSRF-protected forms. Schedules are offered as a few plain choices; any RFC 5545 rule can still
be set through the API, and such a subscription is listed here with its rule.
"""

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, send_file, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from relhealth.accounts.models import Account, AccountKind
from relhealth.auth.permissions import readable_accounts
from relhealth.core.errors import DomainError
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.reports import jobs, subscriptions, tasks
from relhealth.reports.models import ReportKind, ReportStatus

bp = Blueprint("report_pages", __name__)

KIND_LABELS = {
    ReportKind.ACCOUNT: "Account relationship report",
    ReportKind.PARTNER: "Partner two-way report",
    ReportKind.PORTFOLIO: "Portfolio report",
}
# The schedules offered on the page: label and RFC 5545 rule (DTSTART: the next 07:00 UTC).
SCHEDULES = {
    "weekly": ("Every Monday", "FREQ=WEEKLY;BYDAY=MO"),
    "monthly": ("On the 1st of every month", "FREQ=MONTHLY;BYMONTHDAY=1"),
    "quarterly": ("Every quarter (1 Jan, Apr, Jul, Oct)", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1"),
}
SEND_HOUR = 7  # reports are delivered at 07:00 UTC, before the working day in Europe
RECENT = 20  # reports listed on the page


class ReportForm(FlaskForm):
    # The portfolio report by default: with no account picked yet, the one that needs none.
    kind = SelectField(
        "Report",
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        default=ReportKind.PORTFOLIO.value,
    )
    account_id = SelectField("Account", coerce=int, default=0)


class SubscribeForm(ReportForm):
    schedule = SelectField(
        "Schedule",
        choices=[SelectChoice(key, label) for key, (label, _) in SCHEDULES.items()],
        validators=[DataRequired()],
    )


def _accounts() -> list[SelectChoice]:
    rows = db.session.execute(
        select(Account.id, Account.name, Account.kind)
        .where(readable_accounts(current_user), Account.ended_on.is_(None))
        .order_by(Account.name)
    ).all()
    return [SelectChoice(0, "— none: the portfolio report —")] + [
        SelectChoice(
            row.id, f"{row.name} (partner)" if row.kind == AccountKind.PARTNER else row.name
        )
        for row in rows
    ]


def _forms() -> tuple[ReportForm, SubscribeForm]:
    ask, subscribe = ReportForm(prefix="ask"), SubscribeForm(prefix="sub")
    choices = _accounts()
    ask.account_id.choices = subscribe.account_id.choices = choices
    return ask, subscribe


def _first_start(now: dt.datetime) -> dt.datetime:
    start = now.replace(hour=SEND_HOUR, minute=0, second=0, microsecond=0)
    return start if start > now else start + dt.timedelta(days=1)


def _schedule_label(rule: str) -> str:
    for label, known in SCHEDULES.values():
        if rule == known:
            return label
    return rule


def _page(ask: ReportForm, subscribe: SubscribeForm, status: int = 200):
    reports, _ = jobs.list_reports(db.session, current_user, 1, RECENT)
    subs, _ = subscriptions.list_subscriptions(db.session, current_user, 1, 200)
    # The names of the accounts these are about (an ended account's too, which the forms
    # no longer offer).
    ids = {row.account_id for row in (*reports, *subs)} - {None}
    names = (
        dict(db.session.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all())
        if ids
        else {}
    )
    return (
        render_template(
            "reports/pages/index.html",
            ask=ask,
            subscribe=subscribe,
            reports=reports,
            subscriptions=subs,
            names=names,
            labels=KIND_LABELS,
            schedule_label=_schedule_label,
            done=ReportStatus.DONE,
        ),
        status,
    )


def _scope(form: ReportForm) -> tuple[ReportKind, int | None]:
    kind = ReportKind(form.kind.data)
    return kind, (form.account_id.data or None)


@bp.route("/reports")
@login_required
def index():
    """Your reports, new ones on request, and the ones you receive by e-mail."""
    return _page(*_forms())


@bp.route("/reports", methods=["POST"])
@login_required
def ask():
    form, subscribe = _forms()
    if not form.validate_on_submit():
        return _page(form, subscribe, 422)
    kind, account_id = _scope(form)
    try:
        report = jobs.request_report(db.session, current_user, kind, account_id)
    except DomainError as error:
        db.session.rollback()
        form.account_id.errors.append(error.message)
        return _page(form, subscribe, error.status_code)
    db.session.commit()
    report = tasks.start_report(db.session, report)
    if report.status == ReportStatus.DONE:
        flash("Your report is ready: download it below.", "success")
    elif report.status == ReportStatus.FAILED:
        flash("The report could not be rendered; its error is listed below.", "error")
    else:
        flash("Your report is being rendered; refresh this page in a minute.", "info")
    return redirect(url_for(".index"), 303)


@bp.route("/reports/<int:report_id>.pdf")
@login_required
def download(report_id: int):
    report = jobs.get_report(db.session, current_user, report_id)
    return send_file(
        jobs.archived_path(report, jobs.archive_folder()),
        mimetype=jobs.PDF,
        as_attachment=True,
        download_name=jobs.report_filename(report),
        etag=report.sha256,
    )


@bp.route("/reports/subscriptions", methods=["POST"])
@login_required
def subscribe():
    ask, form = _forms()
    if not form.validate_on_submit():
        return _page(ask, form, 422)
    kind, account_id = _scope(form)
    now = utcnow()
    values = {
        "kind": kind,
        "account_id": account_id,
        "rrule": SCHEDULES[form.schedule.data][1],
        "starts_at": _first_start(now),
    }
    try:
        subscriptions.create_subscription(db.session, current_user, values, now)
    except DomainError as error:
        db.session.rollback()
        form.account_id.errors.append(error.message)
        return _page(ask, form, error.status_code)
    db.session.commit()
    flash(
        f"Subscribed: {KIND_LABELS[kind].lower()}, {SCHEDULES[form.schedule.data][0].lower()}.",
        "success",
    )
    return redirect(url_for(".index"), 303)


@bp.route(
    "/reports/subscriptions/<int:subscription_id>/<any(stop, resume):action>", methods=["POST"]
)
@login_required
def toggle(subscription_id: int, action: str):
    # An empty form still carries (and checks) the CSRF token.
    if not FlaskForm().validate_on_submit():
        flash("The form had expired; please try again.", "error")
        return redirect(url_for(".index"), 303)
    subscription = subscriptions.get_subscription(db.session, current_user, subscription_id)
    try:
        subscriptions.update_subscription(
            db.session, subscription, {"active": action == "resume"}, utcnow()
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".index"), 303)
    db.session.commit()
    flash("Subscription stopped." if action == "stop" else "Subscription resumed.", "success")
    return redirect(url_for(".index"), 303)
