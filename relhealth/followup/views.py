"""Pages of the closed loop for account managers: the case inbox and the case page.

Thin: the inbox asks ``service.case_query`` for the cases the user may see, the case page asks
``service.get_case``, and every form calls one service function (``transition``,
``log_activity``, ``set_tags``, ``assign``, ``tell_respondent``) and commits. A form the service
refuses (an illegal transition, an activity on an ended case, a respondent already told) is shown
again with the service's message beside it, and nothing is changed.
"""

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import (
    DateTimeLocalField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
    ValidationError,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from relhealth.accounts.models import Account, AccountTeamMember, Person
from relhealth.analytics.models import Alert
from relhealth.auth.models import Role, User
from relhealth.auth.permissions import readable_accounts, writable_accounts
from relhealth.cohorts.models import Confidentiality, Program, Wave
from relhealth.core.errors import Conflict, InvalidInput
from relhealth.core.time import today_utc
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup import service
from relhealth.followup.models import (
    ENDED,
    TRANSITIONS,
    ActivityKind,
    Case,
    CaseReason,
    CaseStatus,
)
from relhealth.followup.rules import FollowupSettings
from relhealth.surveys.models import Answer, Question, QuestionType, Response
from relhealth.surveys.service import wording as survey_wording
from relhealth.web.paging import page_number, pager

bp = Blueprint("followup_pages", __name__)
PAGE_SIZE = 25
BODY_MAX = 5000

# The inbox's status filter: "live" (every status still being worked) is the default.
STATUS_CHOICES = (
    ("live", "All open"),
    (CaseStatus.OPEN.value, "Open, no contact yet"),
    (CaseStatus.CONTACTED.value, "Contacted"),
    (CaseStatus.ACTION_PLANNED.value, "Action planned"),
    (CaseStatus.RESOLVED.value, "Resolved"),
    (CaseStatus.CLOSED_UNRESOLVED.value, "Closed unresolved"),
    ("all", "Any status"),
)
# The inbox's orders: key in the query string -> (label, the service's sort keys).
SORTS = {
    "": ("Overdue first, then priority", service.DEFAULT_SORT),
    "priority": ("Priority", ("-priority",)),
    "value": ("Value at stake", ("-value_at_stake", "-priority")),
    "oldest": ("Oldest first", ("opened_at",)),
    "newest": ("Newest first", ("-opened_at",)),
}
STATUS_LABELS = {
    CaseStatus.OPEN: "Open",
    CaseStatus.CONTACTED: "Contacted",
    CaseStatus.ACTION_PLANNED: "Action planned",
    CaseStatus.RESOLVED: "Resolved",
    CaseStatus.CLOSED_UNRESOLVED: "Closed unresolved",
}
REASON_LABELS = {
    CaseReason.DETRACTOR: "Detractor",
    CaseReason.LOW_SCORE: "Low score",
    CaseReason.NEGATIVE_TEXT: "Negative comment",
    CaseReason.ALERT: "Alert",
}
# The kinds a person logs, in the order the form offers them.
LOGGED_KIND_ORDER = (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING, ActivityKind.NOTE)
ACTIVITY_LABELS = {
    ActivityKind.CALL: "Call",
    ActivityKind.EMAIL: "E-mail",
    ActivityKind.MEETING: "Meeting",
    ActivityKind.NOTE: "Note",
    ActivityKind.STATUS: "Status",
    ActivityKind.ASSIGNED: "Reassigned",
    ActivityKind.TOLD_RESPONDENT: "Told the respondent",
    ActivityKind.TAGGED: "Root causes",
}


def settings() -> FollowupSettings:
    return service.settings_for()


def _no_nul(form, field) -> None:
    # PostgreSQL text cannot hold NUL; such input can only be a probe.
    if "\x00" in (field.data or ""):
        raise ValidationError("Must not contain NUL characters.")


def _a_status(form, field) -> None:
    if field.data not in {s.value for s in CaseStatus}:
        raise ValidationError("Choose a status.")


class StatusForm(FlaskForm):
    # Only the allowed next statuses are offered; whether a posted one is allowed is the
    # service's call (a stale page gets its 409 and its message).
    to = SelectField("Move to", validators=[DataRequired(), _a_status], validate_choice=False)
    resolution = TextAreaField(
        "Resolution",
        description="What was done, in a sentence (needed to resolve the case).",
        validators=[Optional(), Length(max=BODY_MAX), _no_nul],
    )
    note = TextAreaField("Note", validators=[Optional(), Length(max=BODY_MAX), _no_nul])


class ActivityForm(FlaskForm):
    kind = SelectField(
        "Kind", choices=[SelectChoice(k.value, ACTIVITY_LABELS[k]) for k in LOGGED_KIND_ORDER]
    )
    body = TextAreaField(
        "What happened", validators=[DataRequired(), Length(max=BODY_MAX), _no_nul]
    )
    occurred_at = DateTimeLocalField(
        "When (UTC)",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
        description="Leave empty for now.",
    )


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class TagsForm(FlaskForm):
    tags = CheckboxesField("Root causes", validate_choice=True)


class OwnerForm(FlaskForm):
    owner = SelectField("Owner", coerce=int, validators=[DataRequired()])


class TellForm(FlaskForm):
    message = TextAreaField(
        "What we are doing about it",
        validators=[DataRequired(), Length(max=BODY_MAX), _no_nul],
    )


# -- the inbox ---------------------------------------------------------------------------------


def _span(delta: dt.timedelta) -> str:
    """A duration as a person says it: 40 min, 5 h, 3 d."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def due_state(case: Case, now: dt.datetime) -> dict[str, Any]:
    """The case's next deadline: what is due (first contact, then resolution), when, and late?"""
    if case.status in ENDED:
        return {"what": None}
    if case.first_contact_at is None and case.resolution_due >= now:
        what, due = "Contact", case.first_contact_due
    else:
        what, due = "Resolution", case.resolution_due
    late = due < now  # the same as service.is_overdue
    soon = not late and due - now < dt.timedelta(hours=12)
    return {"what": what, "due": due, "late": late, "soon": soon, "span": _span(due - now)}


def _inbox_filters(args) -> tuple[dict[str, Any], dict[str, str]]:
    """The inbox's filters from the query string: (for the service, as shown in the form)."""
    shown = {
        "status": args.get("status", "live"),
        "account": args.get("account", ""),
        "owner": args.get("owner", ""),
        "reason": args.get("reason", ""),
        "overdue": "1" if args.get("overdue") in ("1", "on", "true") else "",
        "sort": args.get("sort", ""),
    }
    filters: dict[str, Any] = {}
    status = shown["status"]
    if status in {s.value for s in CaseStatus}:
        filters["status"] = [CaseStatus(status)]
    elif status != "all":
        shown["status"] = "live"
        filters["live"] = True
    if shown["account"].isdigit() and len(shown["account"]) < 10:
        filters["account_id"] = int(shown["account"])
    else:
        shown["account"] = ""
    if shown["owner"] == "mine":
        filters["owner_id"] = current_user.id
    else:
        shown["owner"] = ""
    if shown["reason"] in {r.value for r in CaseReason}:
        filters["reason"] = CaseReason(shown["reason"])
    else:
        shown["reason"] = ""
    if shown["overdue"]:
        filters["overdue"] = True
    if shown["sort"] not in SORTS:
        shown["sort"] = ""
    return filters, shown


def _by_id(model, ids) -> dict[int, Any]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


@bp.route("/cases")
@login_required
def inbox():
    """The cases an account manager can see: overdue first, then by priority."""
    now = utcnow()
    filters, shown = _inbox_filters(request.args)
    sort = SORTS[shown["sort"]][1]
    page = page_number()
    cases, total = service.list_cases(
        db.session, current_user, filters, sort, page, PAGE_SIZE, now=now
    )
    accounts = _by_id(Account, (c.account_id for c in cases))
    people = _by_id(Person, (c.person_id for c in cases))
    owners = _by_id(User, (c.owner_id for c in cases))
    account_choices = db.session.execute(
        select(Account.id, Account.name)
        .where(readable_accounts(current_user), Account.id.in_(select(Case.account_id)))
        .order_by(Account.name)
    ).all()
    return render_template(
        "followup/inbox.html",
        cases=cases,
        accounts=accounts,
        people=people,
        owners=owners,
        due={c.id: due_state(c, now) for c in cases},
        now=now,
        shown=shown,
        sorts=SORTS,
        filtered=any(shown[k] for k in ("account", "owner", "reason", "overdue"))
        or shown["status"] != "live",
        pager=pager(page, total, PAGE_SIZE),
        status_choices=STATUS_CHOICES,
        account_choices=account_choices,
        reasons=REASON_LABELS,
        status_labels=STATUS_LABELS,
    )


# -- the case page -----------------------------------------------------------------------------


def _may_write(case: Case) -> bool:
    return (
        db.session.scalar(
            select(Account.id).where(Account.id == case.account_id, writable_accounts(current_user))
        )
        is not None
    )


def _confidential(case: Case) -> bool:
    """Is the case's wave from a confidential program? Then nobody is named on the page."""
    if case.wave_id is None:
        return False
    level = db.session.scalar(
        select(Program.confidentiality)
        .join(Wave, Wave.program_id == Program.id)
        .where(Wave.id == case.wave_id)
    )
    return level == Confidentiality.CONFIDENTIAL


def _owner_choices(account: Account) -> list[User]:
    """Enabled users who may change the account: the only ones a case can be given to."""
    today = today_utc()
    team = select(AccountTeamMember.person_id).where(
        AccountTeamMember.account_id == account.id,
        or_(AccountTeamMember.ended_on.is_(None), AccountTeamMember.ended_on > today),
    )
    candidates = db.session.scalars(
        select(User)
        .where(
            User.is_enabled,
            or_(User.role == Role.ADMIN, User.id == account.owner_id, User.person_id.in_(team)),
        )
        .order_by(User.name)
    )
    return [
        user
        for user in candidates
        if db.session.scalar(
            select(Account.id).where(Account.id == account.id, writable_accounts(user, today))
        )
        is not None
    ]


def _what_they_said(case: Case, confidential: bool) -> dict[str, Any] | None:
    """The response's answers for the page: NPS, rated answers lowest first, text answers."""
    if case.response_id is None or confidential:
        return None
    response = db.session.get(Response, case.response_id)
    if response is None:
        return None
    wording = {}
    if response.survey_version_id is not None:
        company = current_app.config["COMPANY_NAME"]
        account = db.session.get(Account, case.account_id)
        wording = {
            question.key: survey_wording(question, response.side, company, account.name)
            for question in db.session.scalars(
                select(Question).where(Question.version_id == response.survey_version_id)
            )
        }
    answers: list[Answer] = list(response.answers)
    nps = next(
        (a.value for a in answers if a.question_type == QuestionType.NPS and a.value is not None),
        None,
    )
    rated = sorted(
        (
            a
            for a in answers
            if a.question_type != QuestionType.NPS and a.scaled is not None and not a.text
        ),
        key=lambda a: (a.scaled, a.question_key),
    )
    low_line = settings().low_score
    return {
        "response": response,
        "nps": nps,
        "rated": [
            {
                "label": a.dimension or a.question_key,
                "question": wording.get(a.question_key),
                "scaled": a.scaled,
                "low": a.scaled < low_line,
            }
            for a in rated
        ],
        "texts": [
            {
                "question": wording.get(a.question_key) or a.question_key,
                "text": a.text,
                "negative": a.sentiment is not None and a.sentiment < settings().negative_sentiment,
            }
            for a in answers
            if a.text
        ],
        "choices": [
            {"question": wording.get(a.question_key) or a.question_key, "choices": a.choices}
            for a in answers
            if a.choices
        ],
        "low_line": low_line,
    }


def _forms(case: Case, account: Account, submitted: str | None = None) -> dict[str, FlaskForm]:
    """The case page's forms; only the ``submitted`` one reads the posted data."""

    def make(name: str, form_class):
        if name == submitted:
            return form_class(prefix=name)
        return form_class(prefix=name, formdata=None)

    status = make("status", StatusForm)
    status.to.choices = [
        SelectChoice(s.value, STATUS_LABELS[s]) for s in CaseStatus if s in TRANSITIONS[case.status]
    ]
    activity = make("activity", ActivityForm)
    tags = make("tags", TagsForm)
    tags.tags.choices = [
        SelectChoice(tag, tag.replace("_", " ").capitalize()) for tag in settings().root_causes
    ]
    if submitted != "tags":
        tags.tags.data = [t.tag for t in case.tags]
    owner = make("owner", OwnerForm)
    owner.owner.choices = [SelectChoice(u.id, u.name) for u in _owner_choices(account)]
    if submitted != "owner":
        owner.owner.data = case.owner_id
    tell = make("tell", TellForm)
    return {"status": status, "activity": activity, "tags": tags, "owner": owner, "tell": tell}


def _tell_blocker(case: Case, person: Person | None) -> str | None:
    """Why the respondent cannot be told, in words (the service refuses these too)."""
    if case.told_respondent_at is not None:
        return None
    if person is None:
        return "This case names nobody, so there is no one to tell."
    if not person.email:
        return f"{person.name} has no e-mail address on file."
    if person.opted_out:
        return f"{person.name} asked not to receive our messages."
    return None


def _render_case(case: Case, forms: dict[str, FlaskForm] | None = None, status: int = 200):
    now = utcnow()
    account = db.session.get(Account, case.account_id)
    confidential = _confidential(case)
    person = (
        db.session.get(Person, case.person_id)
        if case.person_id is not None and not confidential
        else None
    )
    alert = db.session.get(Alert, case.alert_id) if case.alert_id is not None else None
    activities = list(case.activities)
    users = _by_id(User, [a.author_id for a in activities] + [case.owner_id])
    can_write = _may_write(case)
    if can_write:
        forms = forms or _forms(case, account)
    told = next((a for a in reversed(activities) if a.kind == ActivityKind.TOLD_RESPONDENT), None)
    html = render_template(
        "followup/case.html",
        case=case,
        account=account,
        person=person,
        confidential=confidential,
        alert=alert,
        said=_what_they_said(case, confidential),
        activities=activities,
        users=users,
        owner=users.get(case.owner_id),
        can_write=can_write,
        forms=forms or {},
        told=told,
        tell_blocker=_tell_blocker(case, person),
        now=now,
        due=due_state(case, now),
        status_labels=STATUS_LABELS,
        reasons=REASON_LABELS,
        activity_labels=ACTIVITY_LABELS,
        ended=case.status in ENDED,
        settings=settings(),
    )
    return html, status


@bp.route("/cases/<id:case_id>")
@login_required
def case_page(case_id: int):
    """One case: who said what, its priority and deadlines, its timeline and what to do next."""
    case = service.get_case(db.session, current_user, case_id)
    return _render_case(case)


def _act(case_id: int, form_name: str, done: str, act) -> Any:
    """Validate the named form and hand it to ``act(case, form, now)``; commit, or show why not.

    A refusal from the service (422, 409) is shown beside the form with nothing changed.
    """
    case = service.get_case(db.session, current_user, case_id, write=True)
    forms = _forms(case, db.session.get(Account, case.account_id), submitted=form_name)
    form = forms[form_name]
    if not form.validate_on_submit():
        return _render_case(case, forms, 422)
    try:
        act(case, form, utcnow())
    except (InvalidInput, Conflict) as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        for messages in error.fields.values():
            for message in messages:
                if message != error.message:
                    form.form_errors.append(message)
        case = service.get_case(db.session, current_user, case_id)
        return _render_case(case, forms, error.status_code)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("followup_pages.case_page", case_id=case_id))


@bp.route("/cases/<id:case_id>/status", methods=["POST"])
@login_required
def change_status(case_id: int):
    def act(case, form, now):
        service.transition(
            db.session,
            case,
            CaseStatus(form.to.data),
            current_user,
            now,
            note=form.note.data or "",
            resolution=form.resolution.data or None,
        )

    return _act(case_id, "status", "Status changed.", act)


@bp.route("/cases/<id:case_id>/activities", methods=["POST"])
@login_required
def log_activity(case_id: int):
    def act(case, form, now):
        when = form.occurred_at.data
        when = when.replace(tzinfo=dt.UTC) if when is not None else now
        service.log_activity(
            db.session, case, ActivityKind(form.kind.data), form.body.data, current_user, when, now
        )

    return _act(case_id, "activity", "Activity logged.", act)


@bp.route("/cases/<id:case_id>/tags", methods=["POST"])
@login_required
def set_tags(case_id: int):
    def act(case, form, now):
        service.set_tags(db.session, case, list(form.tags.data or []), current_user, now)

    return _act(case_id, "tags", "Root causes saved.", act)


@bp.route("/cases/<id:case_id>/owner", methods=["POST"])
@login_required
def assign(case_id: int):
    def act(case, form, now):
        service.assign(db.session, case, form.owner.data, current_user, now)

    return _act(case_id, "owner", "Owner changed.", act)


@bp.route("/cases/<id:case_id>/tell", methods=["POST"])
@login_required
def tell(case_id: int):
    def act(case, form, now):
        service.tell_respondent(db.session, case, form.message.data, current_user, now)

    return _act(case_id, "tell", "Your message to the respondent is on its way.", act)


@bp.app_template_filter("case_span")
def case_span_filter(delta: dt.timedelta) -> str:
    return _span(delta)
