"""Shell pages: the home redirect and the API docs' locally served assets."""

import swagger_ui_bundle
from flask import Blueprint, redirect, send_from_directory, url_for

bp = Blueprint("web", __name__)


@bp.route("/")
def home():
    return redirect(url_for("account_pages.index"))


@bp.route("/api/v1/docs/assets/<path:filename>")
def swagger_assets(filename: str):
    """Swagger UI files from the swagger-ui-bundle package: the docs page needs no CDN."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
