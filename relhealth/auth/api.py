"""API authentication (bearer tokens) and the ``/api/v1/me`` resource."""

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from relhealth.auth.models import User
from relhealth.auth.service import user_for_token
from relhealth.extensions import db


def authenticate_api_request() -> None:
    """Before every API request: find the user of the ``Authorization: Bearer`` token.

    The API takes tokens only (no session cookies), which is why it needs no CSRF token.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = user_for_token(db.session, token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        abort(
            401,
            message="Send a valid API token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    db.session.commit()  # keeps the token's last-used time even if the request fails later
    g.api_user = user


def api_user() -> User:
    """The user of the current API request (set by ``authenticate_api_request``)."""
    return g.api_user


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A flask-smorest blueprint under /api/v1 that requires a bearer token."""
    blp = Blueprint(name, import_name, url_prefix="/api/v1" + url_prefix, description=description)
    blp.before_request(authenticate_api_request)
    return blp


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    person_id = fields.Integer(allow_none=True)


blp = api_blueprint("me", __name__, "/me", "The user behind the token.")


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self):
        """Who the token belongs to"""
        return api_user()
