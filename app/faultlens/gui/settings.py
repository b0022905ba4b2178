"""The one place FaultLens reads and writes its persistent GUI settings.

Everything goes through :func:`settings`, so tests can isolate it: when the environment
variable ``FAULTLENS_SETTINGS`` names a file, settings are kept there (INI format) instead of
the user's profile.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

SETTINGS_ENV = "FAULTLENS_SETTINGS"
MAX_RECENT = 10


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
