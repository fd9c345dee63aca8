"""The unsubscribe page: people opt out of surveys from a signed link in any survey e-mail."""

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm

from relhealth.core.errors import NotFound
from relhealth.extensions import csrf, db
from relhealth.messaging.service import opt_out, person_for_unsubscribe

bp = Blueprint("messaging", __name__)

ONE_CLICK = "One-Click"  # RFC 8058: mail clients POST List-Unsubscribe=One-Click


class UnsubscribeForm(FlaskForm):
    """Only the CSRF token: the signed link says who is opting out."""


def _masked(email: str | None) -> str | None:
    """a•••@example.com: enough to recognise one's address, not to read someone else's."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.partition("@")
    return f"{local[0]}•••@{domain}"


def _page(state: str, person=None, form=None, status: int = 200):
    html = render_template(
        "messaging/unsubscribe.html",
        state=state,
        email=_masked(person.email) if person else None,
        form=form,
    )
    return html, status


@bp.route("/unsubscribe/<token>", methods=["GET"])
def unsubscribe(token: str):
    """Say what unsubscribing does and ask to confirm: link scanners follow GETs, so no change."""
    try:
        person = person_for_unsubscribe(db.session, token)
    except NotFound:
        return _page("invalid", status=404)
    if person.opted_out:
        return _page("done", person)
    return _page("confirm", person, UnsubscribeForm())


# The one-click POST comes from a mail client with no CSRF token; the signed token in the URL
# is what authorises it, so the global CSRF check is off here and the browser form's token is
# checked below.
@bp.route("/unsubscribe/<token>", methods=["POST"])
@csrf.exempt
def confirm_unsubscribe(token: str):
    """Opt the person out: the page's confirm button, or a mail client's one-click POST."""
    try:
        person = person_for_unsubscribe(db.session, token)
    except NotFound:
        return _page("invalid", status=404)
    if request.form.get("List-Unsubscribe") == ONE_CLICK:
        opt_out(db.session, person)
        db.session.commit()
        return "You will not receive further surveys.\n", 200, {"Content-Type": "text/plain"}
    form = UnsubscribeForm()
    if not form.validate_on_submit():
        return _page("expired", person, UnsubscribeForm(), status=400)
    opt_out(db.session, person)
    db.session.commit()
    return _page("done", person)
