"""Errors that services raise; the API and pages turn them into HTTP answers.

Services know nothing of HTTP. They raise one of these with messages keyed by the input field
they concern, and ``register_error_handlers`` answers with the same JSON shape flask-smorest
uses for schema errors: ``{"code": 422, "status": ..., "errors": {"json": {field: [msg]}}}``
(``"query"`` instead of ``"json"`` when the field is a query argument).
"""

from collections.abc import Mapping


class DomainError(Exception):
    """Base of the errors a service may raise on purpose."""

    status_code = 400

    def __init__(
        self,
        message: str,
        fields: Mapping[str, list[str]] | None = None,
        location: str = "json",
    ):
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        self.location = location  # where the fields came from: "json" (body) or "query"


class InvalidInput(DomainError):
    """The request is well-formed but breaks a rule (self-edge, cycle, wrong side...)."""

    status_code = 422

    @classmethod
    def on(cls, field: str, message: str, location: str = "json") -> "InvalidInput":
        return cls(message, {field: [message]}, location)


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does."""

    status_code = 404


class Forbidden(DomainError):
    """The caller may see the thing but not do this to it."""

    status_code = 403


class Conflict(DomainError):
    """The change clashes with existing data (a duplicate e-mail, CRM id or edge)."""

    status_code = 409
