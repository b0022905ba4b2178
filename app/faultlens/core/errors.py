"""Errors that carry a one-line message meant for the user.

Everything the user can cause (a bad file, a model that does not fit) raises a subclass of
``FaultLensError``; its ``str()`` names the file, the line or column and what to do. The CLI
prints it and exits 2; the GUI shows it in a dialog. Anything else is a bug (exit 1).
"""

from __future__ import annotations


class FaultLensError(Exception):
    """Base class: ``str(err)`` is a complete one-line message for the user."""


class RecordingError(FaultLensError):
    """A recording could not be imported."""


class ModelFileError(FaultLensError):
    """A model file could not be read, or is not a FaultLens model."""


class ChannelMismatchError(FaultLensError):
    """A recording lacks channels that a model needs."""

    def __init__(self, message: str, missing: list[str], extra: list[str]) -> None:
        super().__init__(message)
        self.missing = missing
        self.extra = extra


class TrainingError(FaultLensError):
    """Training cannot start or go on with these inputs (e.g. no labels, one class only)."""


class ReviewError(FaultLensError):
    """A review sidecar could not be read or written."""


class ReportError(FaultLensError):
    """A report could not be written."""
