"""The one place FaultLens reads and writes its persistent GUI settings.

Everything goes through :func:`settings`, so tests can isolate it: when the environment
variable ``FAULTLENS_SETTINGS`` names a file, settings are kept there (INI format) instead of
the user's profile.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QSettings, QStandardPaths

import faultlens

SETTINGS_ENV = "FAULTLENS_SETTINGS"
MAX_RECENT = 10
T = TypeVar("T", int, float, str)


def settings() -> QSettings:
    """A QSettings for FaultLens: the file named by ``$FAULTLENS_SETTINGS`` if set."""
    override = os.environ.get(SETTINGS_ENV)
    if override:
        return QSettings(override, QSettings.Format.IniFormat)
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, "FaultLens", "FaultLens"
    )


def _as_list(value: object) -> list[str]:
    # INI storage gives back a plain str for a one-element list and None for an empty one.
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]  # type: ignore[union-attr]


def recent_files() -> list[Path]:
    """Recently opened recordings, newest first, only those that still exist."""
    return [Path(p) for p in _as_list(settings().value("recent_files")) if Path(p).exists()]


def add_recent_file(path: str | Path) -> None:
    path = str(Path(path).resolve())
    kept = [p for p in _as_list(settings().value("recent_files")) if p != path]
    settings().setValue("recent_files", [path, *kept][:MAX_RECENT])


def clear_recent_files() -> None:
    settings().remove("recent_files")


def last_directory(kind: str) -> str:
    """The folder last used for ``kind`` ("recording", "model", ...), or the home folder."""
    value = settings().value(f"last_dir/{kind}")
    if value and Path(str(value)).is_dir():
        return str(value)
    return str(Path.home())


def _install_folders() -> list[Path]:
    """Where FaultLens itself lives: the folder holding the package (a checkout's app/,
    site-packages, a bundle), its shipped resources (the demo model), the Python
    installation and a frozen app's own folder."""
    folders = [
        Path(faultlens.__file__).resolve().parent.parent,
        Path(str(resources.files("faultlens.resources"))).resolve(),
        Path(sys.prefix).resolve(),
    ]
    if getattr(sys, "frozen", False):
        folders.append(Path(sys.executable).resolve().parent)
    return folders


def _is_install_folder(path: Path) -> bool:
    path = path.resolve()
    return any(path == f or f in path.parents for f in _install_folders())


def documents_directory() -> str:
    """The user's documents folder where there is one, else the home folder."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return docs if docs and Path(docs).is_dir() else str(Path.home())


def save_directory(kind: str) -> str:
    """Where a Save dialog for ``kind`` opens: the folder last used for it, unless that is
    inside FaultLens's own installation (the demo model's folder), else the documents
    folder. A user's file is never offered a place among the program's files."""
    value = settings().value(f"last_dir/{kind}")
    if value and Path(str(value)).is_dir() and not _is_install_folder(Path(str(value))):
        return str(value)
    return documents_directory()


def set_last_directory(kind: str, path: str | Path) -> None:
    path = Path(path)
    settings().setValue(f"last_dir/{kind}", str(path if path.is_dir() else path.parent))


def view_option(name: str, default: bool) -> bool:
    value = settings().value(f"view/{name}", default)
    # INI gives back "true"/"false" strings for booleans.
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def set_view_option(name: str, value: bool) -> None:
    settings().setValue(f"view/{name}", bool(value))


def theme_choice() -> str:
    """View > Theme as last chosen: "system", "light" or "dark" ("system" when unset)."""
    value = str(settings().value("view/theme", "system"))
    return value if value in ("system", "light", "dark") else "system"


def set_theme_choice(name: str) -> None:
    settings().setValue("view/theme", name)


def training_option(name: str, default: T) -> T:
    """The training panel's setting ``name`` as last used, or ``default`` (also for a value
    that no longer reads as ``default``'s type)."""
    value = settings().value(f"training/{name}")
    if value is None:
        return default
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        return default


def set_training_option(name: str, value: int | float | str) -> None:
    settings().setValue(f"training/{name}", value)
