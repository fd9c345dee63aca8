"""The app factory, configuration and the shell everything hangs off."""

from pathlib import Path

import pytest

from relhealth import create_app
from relhealth.config import ConfigError, load_settings, sqlalchemy_url


def test_settings_come_from_relhealth_environment_variables():
    settings = load_settings(
        {"RELHEALTH_SENIORITY_LADDER": "c-suite, vp ,director", "RELHEALTH_SECURE_COOKIES": "yes"}
    )
    assert settings["SENIORITY_LADDER"] == ("c-suite", "vp", "director")
    assert settings["SECURE_COOKIES"] is True
    assert settings["DATABASE_URL"] == ""


def test_a_malformed_setting_names_the_variable():
    with pytest.raises(ConfigError, match="RELHEALTH_SECURE_COOKIES"):
        load_settings({"RELHEALTH_SECURE_COOKIES": "perhaps"})


def test_embedded_default_is_sqlite_in_the_instance_folder_and_postgres_means_psycopg():
    assert sqlalchemy_url("", Path("/srv/rh")) == "sqlite:////srv/rh/relhealth.db"
    assert (
        sqlalchemy_url("postgresql://postgres@127.0.0.1:5432/x", Path("."))
        == "postgresql+psycopg://postgres@127.0.0.1:5432/x"
    )


def test_secret_key_is_generated_once_and_kept_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RELHEALTH_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("RELHEALTH_SECRET_KEY", raising=False)
    first = create_app({"DATABASE_URL": "sqlite://"})
    second = create_app({"DATABASE_URL": "sqlite://"})
    key_file = tmp_path / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text()
    assert len(first.config["SECRET_KEY"]) == 64
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_explicit_config_overrides_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RELHEALTH_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RELHEALTH_SENIORITY_LADDER", "a,b")
    app = create_app({"DATABASE_URL": "sqlite://", "SENIORITY_LADDER": ("x", "y", "z")})
    assert app.config["SENIORITY_LADDER"] == ("x", "y", "z")


def test_pages_ask_for_login_and_the_api_for_a_token(client):
    page = client.get("/accounts")
    assert page.status_code == 302
    assert "/login" in page.headers["Location"]
    api = client.get("/api/v1/accounts")
    assert api.status_code == 401
    assert api.headers["WWW-Authenticate"] == "Bearer"
    assert "token" in api.get_json()["message"]


def test_unknown_pages_are_html_and_unknown_api_paths_json(client):
    assert client.get("/nowhere").status_code == 404
    assert b"<html" in client.get("/nowhere").data
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.get_json()["code"] == 404
