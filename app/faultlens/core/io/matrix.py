"""The (N, C) float32 channel matrix, filled block by block in row order.

``MatrixBuilder`` is what every reader fills: the fast path one byte range at a time, the
careful paths from whole parsed columns (``assemble_matrix``). On the way it accumulates
each channel's missing count, min, max and repeats, so the quality report needs no second
pass over the data.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from faultlens.core.io.cells import NA_SET
from faultlens.core.io.convert import as_text_array, text_numbers
from faultlens.core.io.layout import Layout, RawColumn
from faultlens.core.io.locate import data_line_of_row
from faultlens.core.io.quality import ChannelStats, flat_stats

# Rows per block when the careful path cuts numpy columns into blocks for the matrix.
# Arrow columns use their own chunks (~5k rows per MB of CSV) as blocks.
_ASSEMBLY_BLOCK_ROWS = 16384


class MatrixBuilder:
    """The (N, C) float32 matrix, filled block by block in row order, and per channel the
    missing count, min, max and number of equal neighbours, accumulated on the way so that
    only a channel with enough repeats to hold a stuck run gets a second look."""

    def __init__(self, channels: int, capacity: int) -> None:
        self.data = np.empty((capacity, channels), dtype=np.float32)
        self.rows = 0
        self.missing = np.zeros(channels, dtype=np.int64)
        self.repeats = np.zeros(channels, dtype=np.int64)
        self.lo = np.full(channels, np.nan, dtype=np.float32)
        self.hi = np.full(channels, np.nan, dtype=np.float32)

    def append(self, pieces: list[np.ndarray]) -> None:
        """Add the next rows: one (b,) array per channel."""
        b, n = len(pieces[0]), self.rows
        if b == 0:
            return
        if n + b > len(self.data):
            capacity = max(int(len(self.data) * 1.5), n + b)
            grown = np.empty((capacity, self.data.shape[1]), dtype=np.float32)
            grown[:n] = self.data[:n]
            self.data = grown
        # Channels as contiguous rows, so the reductions run along memory, then one
        # transposing copy into the (b, C) block.
        block = np.stack(pieces).astype(np.float32, copy=False)  # (C, b)
        self.missing += np.count_nonzero(np.isnan(block), axis=1)
        # fmin/fmax skip NaN; NaN != NaN, so gaps break runs of repeats.
        self.lo = np.fmin(self.lo, np.fmin.reduce(block, axis=1))
        self.hi = np.fmax(self.hi, np.fmax.reduce(block, axis=1))
        self.repeats += np.count_nonzero(block[:, 1:] == block[:, :-1], axis=1)
        if n:
            self.repeats += self.data[n - 1] == block[:, 0]
        self.data[n : n + b] = block.T
        self.rows = n + b

    def finish(self) -> tuple[np.ndarray, tuple[ChannelStats, ...]]:
        """The (N, C) matrix (unused capacity given back in place) and each channel's stats."""
        data, self.data = self.data, np.empty((0, 0), dtype=np.float32)
        # Nothing else views ``data``, so it shrinks without a copy.
        data.resize((self.rows, data.shape[1]), refcheck=False)
        return data, tuple(
            flat_stats(
                data,
                j,
                int(self.missing[j]),
                float(self.lo[j]),
                float(self.hi[j]),
                int(self.repeats[j]),
            )
            for j in range(data.shape[1])
        )


def assemble_matrix(
    layout: Layout, columns: dict[str, RawColumn], n: int
) -> tuple[np.ndarray, tuple[ChannelStats, ...]]:
    """The (N, C) float32 matrix and each channel's stats from whole parsed columns (the
    careful paths). Takes the channels out of ``columns`` as it goes, so a text column is
    freed once coerced. Peak memory: the columns + the matrix (~2x)."""
    sources: list[RawColumn] = []
    for name in layout.channels:
        values = columns.pop(name)
        if isinstance(values, pa.ChunkedArray) and pa.types.is_floating(values.type):
            sources.append(values)
        elif isinstance(values, pa.ChunkedArray) or values.dtype == object:
            sources.append(_coerce_channel(layout, name, values))
        else:
            sources.append(np.asarray(values, dtype=np.float32))
        del values
    matrix = MatrixBuilder(len(sources), n)
    for pieces in _row_blocks(sources, n):
        matrix.append(pieces)
    del sources
    return matrix.finish()


def _row_blocks(sources: list[RawColumn], n: int) -> Iterator[list[np.ndarray]]:
    """Yield [(b,) float32 piece per source] for consecutive blocks of rows, in order.

    Arrow columns from one table share their chunking, so chunk k of every column covers
    the same rows and converts without copying when it has no nulls.
    """
    chunked = [src for src in sources if isinstance(src, pa.ChunkedArray)]
    lengths = [len(c) for c in chunked[0].chunks] if chunked else []
    aligned = bool(chunked) and all([len(c) for c in src.chunks] == lengths for src in chunked)
    if aligned:
        bounds = np.concatenate(([0], np.cumsum(lengths))).astype(int).tolist()
    else:
        bounds = [*range(0, n, _ASSEMBLY_BLOCK_ROWS), n]
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if hi == lo:
            continue
        pieces = []
        for src in sources:
            if isinstance(src, np.ndarray):
                pieces.append(src[lo:hi])
            elif aligned:
                pieces.append(src.chunk(k).to_numpy(zero_copy_only=False))
            else:
                pieces.append(src.slice(lo, hi - lo).to_numpy())
        yield pieces


def _coerce_channel(layout: Layout, name: str, values: RawColumn) -> np.ndarray:
    """Float32 values of a channel with stray text; the text becomes NaN with a warning."""
    text = as_text_array(values)
    numeric = text_numbers(text, layout.decimal)
    stray = np.flatnonzero(np.isnan(numeric) & pd.notna(text))
    stray = stray[[str(text[i]) not in NA_SET for i in stray]] if stray.size else stray
    if stray.size:
        line = data_line_of_row(layout, int(stray[0]))
        layout.warnings.append(
            f"column {name!r}: {stray.size} non-numeric value(s) read as missing "
            f"(first {text[stray[0]]!r} at line {line})"
        )
    with np.errstate(over="ignore"):  # beyond float32's range -> +-inf
        return numeric.astype(np.float32)
