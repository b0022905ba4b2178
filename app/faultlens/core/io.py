"""CSV -> Recording: detection of encoding, separator, header, decimal, time and label columns.

CONTRACT STUB — the importer implementation replaces the bodies; names and fields are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from faultlens.core.recording import ImportOptions, Recording


@dataclass
class Preview:
    """What the import dialog shows before loading: the resolved options and the first rows."""

    path: Path
    options: ImportOptions  # every field resolved (no None left where detection applies)
    columns: list[str]
    rows: list[list[str]]  # first rows as text, for a preview table
    channel_candidates: list[str] = field(default_factory=list)
    label_candidates: list[str] = field(default_factory=list)
    time_candidates: list[str] = field(default_factory=list)


def preview_file(path: str | Path, options: ImportOptions = ImportOptions(), rows: int = 50) -> Preview:
    raise NotImplementedError


def load_recording(path: str | Path, options: ImportOptions = ImportOptions()) -> Recording:
    raise NotImplementedError
