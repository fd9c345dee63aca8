"""Where the package finds the files that live at the repository root.

In a checkout (editable install) ``templates/`` and ``migrations/`` sit beside the package;
in a wheel they are shipped inside it. Look inside the package first, then beside it.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the directory ``name`` (``templates``, ``migrations``) for this installation."""
    packaged = PACKAGE_DIR / name
    if packaged.is_dir():
        return packaged
    return PACKAGE_DIR.parent / name
