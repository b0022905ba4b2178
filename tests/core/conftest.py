"""Fixtures shared by the core tests."""

from __future__ import annotations

from typing import Any

import pytest

from faultlens.core.io import readers


@pytest.fixture
def careful_calls(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """Records each hand-over to the careful path (with the columns it reads as text)."""
    calls: list[set[str]] = []
    real = readers.read_arrow_table

    def spy(layout: Any, as_text: set[str]) -> Any:
        calls.append(set(as_text))
        return real(layout, as_text)

    monkeypatch.setattr(readers, "read_arrow_table", spy)
    return calls
