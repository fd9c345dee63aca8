"""The respondent form at ``/s/<token>``: no login, no script, one submission.

Respondents are not users: the personal token in the link is their only credential. The pages
use their own small layout (no app navigation), work without JavaScript, and are protected
against CSRF like every form (the token lives in the session cookie the form page sets).
"""

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from relhealth.cohorts.models import Invitation, InvitationStatus
from relhealth.core.errors import NotFound
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup.hooks import after_response
from relhealth.surveys import service
from relhealth.surveys.models import QuestionType, ResponseSource, SurveyVersion

bp = Blueprint("respondent", __name__)

SECONDS_PER_ANSWER = {"nps": 10, "rating": 8, "choice": 10, "multi_choice": 15, "text": 45}


@bp.after_request
def _private(response):
    # The link is personal: keep it out of caches, search engines and other sites' logs. The
    # referrer still goes to our own origin, which Flask-WTF checks on HTTPS form posts.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _company() -> str:
    return current_app.config["COMPANY_NAME"]


def _message(kind: str, status: int, **context):
    return (
        render_template("surveys/message.html", kind=kind, company=_company(), **context),
        status,
    )


def _minutes(questionnaire: service.Questionnaire) -> int:
    seconds = sum(SECONDS_PER_ANSWER[q.type] for q in questionnaire.questions)
    return max(1, round(seconds / 60))


def _form(invitation: Invitation, values=None, errors=None, status=200, notice=None):
    questionnaire = service.questionnaire(db.session, invitation, _company())
    return (
        render_template(
            "surveys/form.html",
            q=questionnaire,
            company=_company(),
            minutes=_minutes(questionnaire),
            values=values or {},
            errors=errors or {},
            notice=notice,
        ),
        status,
    )


def _answers_from_form(invitation: Invitation) -> dict:
    """The posted answers to this survey's questions; other form fields are ignored."""
    version = db.session.get(SurveyVersion, invitation.wave.survey_version_id)
    answers = {}
    for question in version.questions:
        if question.type == QuestionType.MULTI_CHOICE:
            answers[question.key] = request.form.getlist(question.key)
        else:
            answers[question.key] = request.form.get(question.key)
    return answers


def _refusal(invitation: Invitation, posted: bool):
    """The page for a link that cannot be answered now, or None if it can."""
    if invitation.status == InvitationStatus.RESPONDED:
        return _message("received", 409 if posted else 200, responded_at=invitation.responded_at)
    if service.is_closed(invitation, utcnow()):
        skipped = invitation.status == InvitationStatus.SKIPPED
        return _message(
            "inactive" if skipped else "closed", 410, closed_at=invitation.wave.closes_at
        )
    return None


@bp.route("/s/<token>", methods=["GET", "POST"])
def respond(token: str):
    """Show the questions, or take the answers (once)."""
    try:
        invitation = service.invitation_for_token(db.session, token)
    except NotFound:
        return _message("unknown", 404)
    posted = request.method == "POST"
    refusal = _refusal(invitation, posted)
    if refusal is not None:
        return refusal
    if not posted:
        return _form(invitation)
    answers = _answers_from_form(invitation)
    try:
        response = service.submit_response(
            db.session, invitation, answers, ResponseSource.FORM, utcnow()
        )
    except service.AnswersInvalid as error:
        db.session.rollback()
        return _form(invitation, answers, error.by_question, 422)
    except (service.AlreadyReceived, service.LinkClosed):
        db.session.rollback()
        db.session.refresh(invitation)
        return _refusal(invitation, posted) or _message("received", 409)
    after_response(db.session, response.id)  # cases and kudos; never fails the submission
    db.session.commit()
    return redirect(url_for(".thanks", token=token), 303)


@bp.route("/s/<token>/thanks")
def thanks(token: str):
    """After a submission: thank the respondent (a later visit to the form says "received")."""
    try:
        invitation = service.invitation_for_token(db.session, token)
    except NotFound:
        return _message("unknown", 404)
    if invitation.status != InvitationStatus.RESPONDED:
        return redirect(url_for(".respond", token=token))
    questionnaire = service.questionnaire(db.session, invitation, _company())
    return _message("thanks", 200, q=questionnaire)


@bp.errorhandler(CSRFError)
def _stale_form(error: CSRFError):
    """The form sat open too long (or lost its cookie): show it again with the answers kept."""
    token = (request.view_args or {}).get("token", "")
    try:
        invitation = service.invitation_for_token(db.session, token)
    except NotFound:
        return _message("unknown", 404)
    refusal = _refusal(invitation, posted=True)
    if refusal is not None:
        return refusal
    notice = "This page was open for a while, so please check your answers and send them again."
    return _form(invitation, _answers_from_form(invitation), status=400, notice=notice)
