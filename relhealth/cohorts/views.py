"""Pages of the listening program: the review of how each account is heard."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from relhealth.accounts.models import Account
from relhealth.accounts.seniority import ladder
from relhealth.accounts.service import account_query
from relhealth.cohorts.review import load_review
from relhealth.extensions import db

bp = Blueprint("listening_pages", __name__)


@bp.route("/listening/review")
@login_required
def review():
    """Does the way we listen fit each relationship? Neediest accounts first."""
    accounts = account_query(current_user, {"active": True}).with_only_columns(Account.id)
    return render_template(
        "cohorts/review.html", results=load_review(db.session, accounts, ladder()), levels=ladder()
    )
