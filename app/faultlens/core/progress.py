"""Cancellation and progress for long-running core functions.

Long work is a generator that yields progress reports and returns its result; it polls a
``should_stop`` callable and raises ``Cancelled`` when asked to stop. The GUI wraps such a
generator in a worker thread; the CLI drains it with ``run_to_end``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

ShouldStop = Callable[[], bool]
R = TypeVar("R")


class Cancelled(Exception):
    """Raised inside a long-running core function when ``should_stop()`` returned True."""


def never_stop() -> bool:
    return False


@dataclass(frozen=True)
class Progress:
    """A generic progress report: ``done`` of ``total`` units, with a short message."""

    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def run_to_end(gen: Generator[Any, None, R], on_report: Callable[[Any], None] | None = None) -> R:
    """Drain a progress generator, passing each report to ``on_report``; return its result."""
    while True:
        try:
            report = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_report is not None:
            on_report(report)
