"""What detection found out about a file, shared by every step of the import.

``Layout`` is made by ``sniff.detect`` from the head of the file and completed by the column
policy (``columns.resolve_columns``); the readers, the conversions and the error location
all read it. It stays mutable on purpose: the readers add warnings to it, and a file that
stops being UTF-8 past its head is re-read with ``encoding`` switched to Latin-1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pyarrow as pa

from faultlens.core.errors import RecordingError
from faultlens.core.recording import ImportOptions

# ImportOptions is frozen, so one shared default instance is safe.
DEFAULT_OPTIONS = ImportOptions()

# The separator of files whose columns are split by runs of spaces and tabs.
WHITESPACE = r"\s+"

# One column as a parser hands it over: pyarrow's, or a numpy array from pandas (the
# whitespace reader) or from a coercion.
RawColumn: TypeAlias = pa.ChunkedArray | np.ndarray


@dataclass
class Layout:
    """Everything detection found out about a file, from its head only."""

    path: Path
    encoding: str
    separator: str
    decimal: str
    header: bool
    skip_lines: int  # physical lines before the first data row (blank lines + header)
    names: list[str]
    sample_rows: list[list[str]]
    sample_line_numbers: list[int]  # 1-based file line of each sample row
    kinds: dict[str, str]  # column -> "numeric" | "datetime" | "text" | "empty"
    bytes_per_line: float = 64.0  # in the sample, to size the matrix before parsing
    time_column: str | None = None
    time_kind: str = "index"  # "datetime" | "numeric" | "index"
    time_unit: str | None = None
    time_offsets: str = "none"  # "none" | "all" | "mixed": zone offsets in the sample
    time_format: str | None = None  # strptime format of non-ISO date text, None for ISO
    utc_offset_s: int | None = None
    label_column: str | None = None
    channels: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def needed(self) -> list[str]:
        """The columns the full read parses: the channels, then time and label if any."""
        cols = list(self.channels)
        for extra in (self.time_column, self.label_column):
            if extra is not None:
                cols.append(extra)
        return cols

    def resolved_options(self) -> ImportOptions:
        """The options that re-read the file exactly this way, nothing left to detect."""
        return ImportOptions(
            encoding=self.encoding,
            separator=self.separator,
            header=self.header,
            decimal=self.decimal,
            time_column=self.time_column,
            no_time_column=self.time_column is None,
            time_unit=self.time_unit,
            label_column=self.label_column,
            no_label_column=self.label_column is None,
            channels=tuple(self.channels),
        )


def fail(path: Path, where: str, what: str) -> RecordingError:
    """The one-line error every import failure raises: "file: where: what to do"."""
    where = f" {where}:" if where else ""
    return RecordingError(f"{path}:{where} {what}")
