"""What a reader hands back: the channel matrix with its stats, and the raw time and label
columns, which ``convert`` turns into what a Recording holds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faultlens.core.io.layout import RawColumn
from faultlens.core.io.quality import ChannelStats


@dataclass(frozen=True)
class ParsedColumns:
    """The needed columns of the whole file, as parsed."""

    data: np.ndarray  # (N, C) float32, C-contiguous, channels in ``Layout.channels`` order
    stats: tuple[ChannelStats, ...]  # (C,) accumulated while the matrix was filled
    time: RawColumn | None  # (N,) the time column as parsed, None without one
    labels: RawColumn | None  # (N,) the label column as parsed, None without one

    @property
    def rows(self) -> int:
        return int(self.data.shape[0])


@dataclass(frozen=True)
class ParsedFile:
    """The parsed columns and the sha256 of the file's bytes (computed during the read), with
    how many bytes it covers: a file that grows later starts with these bytes (a review of it
    checks that prefix)."""

    columns: ParsedColumns
    content_hash: str
    content_bytes: int | None = None
