"""Paths to the files shipped in ``resources/`` (works from a checkout, a wheel, a bundle)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_RECORDING = "demo_pump.csv"
DEMO_MODEL = "demo_pump.flmodel"
APP_ICON = "faultlens.svg"


def resource_path(name: str) -> Path:
    """Filesystem path of a shipped resource file (raises FileNotFoundError if absent)."""
    path = Path(str(resources.files("faultlens.resources").joinpath(name)))
    if not path.exists():
        raise FileNotFoundError(f"resource {name!r} is missing from the installation ({path})")
    return path


def demo_recording_path() -> Path:
    return resource_path(DEMO_RECORDING)


def demo_model_path() -> Path:
    return resource_path(DEMO_MODEL)
