"""Shared fixtures: where the SKAB data lives, small synthetic recordings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SKAB = REPO.parent / "shared" / "data" / "skab"


@pytest.fixture(scope="session")
def skab_dir() -> Path:
    if not SKAB.is_dir():
        pytest.skip("SKAB data not found at ../shared/data/skab")
    return SKAB
