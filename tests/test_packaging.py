"""The wheel: it carries templates, migrations and static files, and works outside the checkout.

Builds the wheel, installs it (without dependencies) into a fresh venv that borrows the
project venv's site-packages for its dependencies, then migrates and serves from there.
"""

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

SHIPPED = [
    "relhealth/templates/base.html",
    "relhealth/templates/accounts/index.html",
    "relhealth/migrations/env.py",
    "relhealth/migrations/alembic.ini",
    "relhealth/migrations/script.py.mako",
    "relhealth/web/static/relhealth.css",
]

# Run by the fresh venv's python: what an installed relhealth serves, as JSON.
SMOKE_SCRIPT = """
import contextlib
import json

import relhealth
from relhealth import create_app
from relhealth.paths import resource_dir

client = create_app().test_client()
login = client.get("/login")
css = client.get("/static/relhealth.css")
print(json.dumps({
    "module": relhealth.__file__,
    "migrations": str(resource_dir("migrations")),
    "login_status": login.status_code,
    "login_html": login.get_data(as_text=True),
    "css_status": css.status_code,
    "css": css.get_data(as_text=True),
}))
"""


# -- helpers: build, venv, pip ----------------------------------------------------------------


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; fail the test with its output if it fails."""
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False, **kwargs
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(outdir: Path) -> Path:
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", outdir], cwd=REPO)
    (wheel,) = outdir.glob("relhealth-*.whl")
    return wheel


def create_venv(path: Path) -> Path:
    # The project venv's interpreter, so the borrowed (compiled) dependencies match its version.
    run([sys.executable, "-m", "venv", path])
    return path


def venv_bin(venv: Path, name: str) -> Path:
    return venv / "bin" / name


def site_packages(venv: Path) -> Path:
    result = run(
        [venv_bin(venv, "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    )
    return Path(result.stdout.strip())


def pip_install_wheel(venv: Path, wheel: Path) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run(
        [venv_bin(venv, "python"), "-m", "pip", "install", "--no-deps", "--no-index", wheel],
        env=env,
    )


def borrow_dependencies(venv: Path) -> None:
    """Put the project venv's site-packages on the fresh venv's path through a .pth file.

    Paths in a .pth file are added as they are; the .pth files inside them are not read, so
    the editable install of relhealth there (itself a .pth file) stays out of the fresh venv.
    """
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site_packages(venv) / "relhealth_test_dependencies.pth").write_text("\n".join(ours) + "\n")


def outside_the_checkout(tmp_path: Path) -> dict[str, str]:
    """An environment that points relhealth at a temp instance folder and SQLite file."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELHEALTH_")}
    env.pop("PYTHONPATH", None)
    env["RELHEALTH_INSTANCE_PATH"] = str(tmp_path / "instance")
    env["RELHEALTH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'relhealth.db'}"
    return env


def sqlite_tables(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel) -> Path:
    """A fresh venv with the wheel installed and the project's dependencies importable."""
    venv = create_venv(tmp_path_factory.mktemp("fresh") / "venv")
    pip_install_wheel(venv, wheel)
    borrow_dependencies(venv)
    return venv


# -- tests --------------------------------------------------------------------------------------


def test_the_wheel_ships_templates_migrations_and_static_files(wheel):
    files = set(zipfile.ZipFile(wheel).namelist())
    for path in SHIPPED:
        assert path in files
    # Every template and every revision in the checkout, not just the ones named above.
    for folder in ("templates", "migrations/versions"):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert f"relhealth/{path.relative_to(REPO).as_posix()}" in files
    assert any(
        name.startswith("relhealth/migrations/versions/") and name.endswith(".py") for name in files
    )
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]


def test_the_installed_wheel_migrates_and_serves_pages_outside_the_checkout(installed, tmp_path):
    env = outside_the_checkout(tmp_path)

    run([venv_bin(installed, "relhealth"), "db", "upgrade"], cwd=tmp_path, env=env)
    result = run([venv_bin(installed, "python"), "-c", SMOKE_SCRIPT], cwd=tmp_path, env=env)
    served = json.loads(result.stdout.splitlines()[-1])

    # The wheel's relhealth, with its own migrations: not the checkout's editable install.
    package = site_packages(installed) / "relhealth"
    assert Path(served["module"]).parent == package
    assert Path(served["migrations"]) == package / "migrations"
    assert {"alembic_version", "accounts", "people"} <= sqlite_tables(tmp_path / "relhealth.db")

    assert served["login_status"] == 200
    assert "Sign in" in served["login_html"]
    links = re.findall(r"<link\b[^>]*>", served["login_html"])
    assert [link for link in links if "stylesheet" in link and "/static/relhealth.css" in link]
    assert served["css_status"] == 200
    assert served["css"] == (REPO / "relhealth/web/static/relhealth.css").read_text()
