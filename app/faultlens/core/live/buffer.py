"""The rows received so far, in arrays that grow while another thread reads them.

Why not a list of chunks: the view, the scan and the recorder want plain arrays of every
row so far. Appending into preallocated arrays whose capacity doubles when full keeps the
cost amortised O(rows); a read never copies.

Why it is safe to read from another thread without a lock: rows ``[0, n)`` never change
once appended, new rows are written past ``n`` before ``n`` moves, and the arrays and ``n``
are published together as one tuple in one attribute assignment (atomic in Python). A
reader takes that tuple once and slices ``[:n]``; when the arrays grow, the reader keeps the
old (still valid) ones.
"""

from __future__ import annotations

import numpy as np

# Rows a buffer holds before it first grows.
INITIAL_CAPACITY = 1024


def grown(array: np.ndarray, needed: int, axis: int = 0, fill: float = 0.0) -> np.ndarray:
    """``array`` itself when it holds ``needed`` entries along ``axis``, else a new array of
    at least double the size there, with the old entries copied and the rest ``fill``."""
    size = array.shape[axis]
    if needed <= size:
        return array
    shape = list(array.shape)
    shape[axis] = max(needed, 2 * size, INITIAL_CAPACITY)
    out = np.full(shape, fill, dtype=array.dtype)
    index = [slice(None)] * array.ndim
    index[axis] = slice(0, size)
    out[tuple(index)] = array
    return out


class RowBuffer:
    """Time (N,) float64 and values (N, C) float32 of the rows received, growing by doubling."""

    def __init__(self, n_channels: int) -> None:
        self._state: tuple[np.ndarray, np.ndarray, int] = (
            np.zeros(0, dtype=np.float64),
            np.zeros((0, n_channels), dtype=np.float32),
            0,
        )

    @property
    def n_channels(self) -> int:
        return int(self._state[1].shape[1])

    @property
    def n_rows(self) -> int:
        return self._state[2]

    def append(self, time: np.ndarray, values: np.ndarray) -> tuple[int, int]:
        """Append rows (time (k,), values (k, C)); returns the new rows' span ``(first, k)``.
        Only one thread may append."""
        times, data, n = self._state
        k = int(values.shape[0])
        if values.ndim != 2 or values.shape[1] != data.shape[1] or time.shape != (k,):
            raise ValueError(
                f"rows of shape {values.shape} / time {time.shape} do not fit "
                f"{data.shape[1]} channels"
            )
        if k == 0:
            return n, 0
        times = grown(times, n + k, fill=np.nan)
        data = grown(data, n + k, fill=np.nan)
        times[n : n + k] = time
        data[n : n + k] = values
        self._state = (times, data, n + k)  # publish arrays and count together
        return n, k

    def arrays(self) -> tuple[np.ndarray, np.ndarray, int]:
        """``(time[:n], data[:n], n)``: views, consistent with each other, safe to read from
        another thread while rows are appended (module docstring)."""
        times, data, n = self._state
        return times[:n], data[:n], n
