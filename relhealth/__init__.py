"""relhealth: relationship health for B2B accounts and partners.

``create_app`` is the application factory; everything else hangs off the app it returns.
"""

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from relhealth.config import instance_secret_key, load_settings, sqlalchemy_url
from relhealth.core.schemas import MAX_ID
from relhealth.paths import resource_dir


class IdConverter(IntegerConverter):
    """``<id:name>`` in a URL: a positive id that fits the database column (else 404)."""

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from ``RELHEALTH_*`` variables, then ``config`` on top."""
    instance_path = os.environ.get("RELHEALTH_INSTANCE_PATH") or None
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(resource_dir("templates")),
        static_folder="web/static",
    )
    configure(app, config or {})
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def configure(app: Flask, config: dict[str, Any]) -> None:
    settings = {**load_settings(), **config}
    app.config.update(settings)
    instance = Path(app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(settings["DATABASE_URL"], instance)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        instance.mkdir(parents=True, exist_ok=True)
    app.config["SECRET_KEY"] = settings["SECRET_KEY"] or instance_secret_key(instance)
    app.config.update(
        # Uploads (CSV imports) above 64 MB are refused with 413 before anything is read.
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["SECURE_COOKIES"],
        REMEMBER_COOKIE_SECURE=settings["SECURE_COOKIES"],
        API_TITLE="relhealth",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs/assets/",
        # Swagger UI's default validator badge loads from validator.swagger.io: stay local.
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
    )
    app.url_map.converters["id"] = IdConverter


def register_extensions(app: Flask) -> None:
    from relhealth import models  # noqa: F401 -- every model registered before mappers configure
    from relhealth.extensions import api, csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(resource_dir("migrations")))
    csrf.init_app(app)
    login_manager.init_app(app)
    api.init_app(app)
    api.register_converter(
        IdConverter, lambda _converter: {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]


def register_blueprints(app: Flask) -> None:
    from relhealth.accounts import api as accounts_api
    from relhealth.accounts import views as accounts_views
    from relhealth.analytics import alerts_api
    from relhealth.analytics import api as analytics_api
    from relhealth.analytics import views as analytics_views
    from relhealth.auth import api as auth_api
    from relhealth.auth import views as auth_views
    from relhealth.cohorts import api as cohorts_api
    from relhealth.cohorts import views as cohorts_views
    from relhealth.extensions import api, csrf
    from relhealth.followup import api as followup_api
    from relhealth.followup import experiments_api, experiments_views
    from relhealth.followup import kpis_api as followup_kpis_api
    from relhealth.followup import kpis_views as followup_kpi_views
    from relhealth.followup import views as followup_views
    from relhealth.messaging import views as messaging_views
    from relhealth.reports import api as reports_api
    from relhealth.reports import views as report_views
    from relhealth.surveys import api as surveys_api
    from relhealth.surveys import views as surveys_views
    from relhealth.web import views as web_views

    # Token-authenticated API blueprints: no cookies, so no CSRF token.
    for blueprint in (
        auth_api.blp,
        *accounts_api.blueprints,
        *surveys_api.token_blueprints,
        *cohorts_api.blueprints,
        alerts_api.blp,
        *analytics_api.blueprints,
        reports_api.blp,
        reports_api.subscriptions_blp,
        followup_api.blp,
        *experiments_api.blueprints,
        *followup_kpis_api.blueprints,
    ):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    # Answering through a personal link: the link's token is the credential, no cookies either.
    api.register_blueprint(surveys_api.submit_blp)
    csrf.exempt(surveys_api.submit_blp)
    for blueprint in (
        web_views.bp,
        auth_views.bp,
        accounts_views.bp,
        analytics_views.bp,
        cohorts_views.bp,
        messaging_views.bp,
        report_views.bp,
        followup_views.bp,
        followup_kpi_views.bp,
        experiments_views.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(surveys_views.bp)  # the respondent form; CSRF-protected


def register_error_handlers(app: Flask) -> None:
    from relhealth.web.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from relhealth.cli import register

    register(app)
