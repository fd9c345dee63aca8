"""One place that turns errors into answers: JSON under /api/, pages elsewhere."""

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from relhealth.core.errors import DomainError
from relhealth.extensions import api, db


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _json(status: int, name: str, message: str, fields=None, headers=None, location="json"):
    body = {"code": status, "status": name, "message": message}
    if fields:
        body["errors"] = {location: fields}
    return jsonify(body), status, headers or {}


def _page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        name = HTTP_STATUS_CODES.get(error.status_code, "Unprocessable Entity")
        if _wants_json():
            return _json(
                error.status_code, name, error.message, error.fields, location=error.location
            )
        return _page(error.status_code, name, error.message)

    @app.errorhandler(IntegrityError)
    def integrity_error(error: IntegrityError):
        # A race past the service's own checks (two writers, one unique value): nothing written.
        db.session.rollback()
        message = "The change clashes with data that already exists; nothing was saved."
        if _wants_json():
            return _json(409, "Conflict", message)
        return _page(409, "Conflict", message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if _wants_json():
            body, status, headers = api.handle_http_exception(error)
            body.setdefault("message", error.description)
            return jsonify(body), status, headers
        return _page(error.code or 500, error.name, error.description)
