"""The metric modules are pure: importing them loads neither Flask nor SQLAlchemy.

The ``relhealth`` package itself builds the Flask app, so the check stands a bare package
module in for it (its ``__init__`` not run) and imports the analytics modules under it in a
fresh interpreter: whatever they pull in, directly or through other relhealth modules, counts.
"""

import json
import subprocess
import sys
from pathlib import Path

import relhealth

# The pure modules of the analytics package (docs/decisions.md).
PURE_MODULES = [
    "relhealth.analytics.frames",
    "relhealth.analytics.metrics",
    "relhealth.analytics.suppression",
    "relhealth.analytics.trends",
    "relhealth.analytics.panel",
    "relhealth.analytics.text",
    "relhealth.analytics.alerts",
]

PROBE = """
import importlib, json, sys, types
package = types.ModuleType("relhealth")
package.__path__ = [{package_dir!r}]
sys.modules["relhealth"] = package
for module in {modules!r}:
    importlib.import_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(*modules: str) -> list[str]:
    package_dir = str(Path(relhealth.__file__).parent)
    probe = PROBE.format(package_dir=package_dir, modules=list(modules))
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(result.stdout)


def test_metric_modules_import_neither_flask_nor_sqlalchemy():
    modules = loaded_by(*PURE_MODULES)
    assert set(PURE_MODULES) <= set(modules)
    impure = [m for m in modules if m.split(".")[0] in ("flask", "sqlalchemy", "flask_sqlalchemy")]
    assert impure == []


def test_the_probe_would_notice_flask():
    # relhealth.extensions creates the Flask-SQLAlchemy object: the probe must see it.
    modules = loaded_by("relhealth.extensions")
    assert "flask_sqlalchemy" in modules or "sqlalchemy" in modules
