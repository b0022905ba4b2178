"""The min/max pyramid that keeps panning a long recording at O(pixels), not O(rows).

Peak downsampling alone still reads every visible row on every frame (10 M rows in view
= ~300 ms a frame), so each channel also gets a precomputed min/max pyramid (levels of 4,
8, 16, ... rows per block): when far more rows are in view than pixels, the curve is fed the
finest level with at most 2.5 blocks per pixel. Every pixel still gets at least one block's
min and max (a peak of peaks is the same peak), and pyqtgraph's own peak pass and clipping
then handle at most 5 points per pixel. The level changes only when zooming, so panning
costs O(pixels), not O(rows).
"""

from __future__ import annotations

import numpy as np

# Levels of 4, 8, 16, ... rows per block. No level of 2: up to 5 rows a pixel the raw rows are
# drawn, and from there the level of 4 already has >= 1.25 blocks a pixel. Starting at 4
# keeps the whole pyramid (two values per block) as large as the raw data, not twice.
LOD_FIRST_BLOCK = 4
LOD_BLOCK = 2
LOD_MIN_BLOCKS = 1024  # no level coarser than this many blocks
LOD_MAX_BLOCKS_PER_PIXEL = 2.5  # pyqtgraph draws up to 5 points (2.5 min/max pairs) a pixel

# One level: (rows per block, x (2B,), y (2B,) min, max, min, max, ...).
Level = tuple[int, np.ndarray, np.ndarray]


def peak_pyramid(
    x: np.ndarray,
    y: np.ndarray,
    min_blocks: int = LOD_MIN_BLOCKS,
    share_x: list[Level] | None = None,
) -> list[Level]:
    """Min/max levels of ``y`` for drawing: ``[(rows_per_block, x_level, y_level), ...]``.

    Each level holds two points per block, (block start x, min) and (block start x, max),
    NaN-ignoring (a block that is all NaN stays NaN, so long gaps stay gaps). Levels stop
    before fewer than ``min_blocks`` blocks would remain. ``share_x``: the pyramid of another
    channel on the same ``x``, whose level x arrays are reused (one copy for all channels).
    """
    levels: list[Level] = []
    cur_x, cur_min, cur_max = x, y, y
    rows_per_block = 1
    factor = LOD_FIRST_BLOCK
    while len(cur_min) // factor >= min_blocks:
        m = len(cur_min) // factor * factor
        new_min = np.fmin.reduce(cur_min[:m].reshape(-1, factor), axis=1)
        new_max = np.fmax.reduce(cur_max[:m].reshape(-1, factor), axis=1)
        new_x = cur_x[:m:factor]
        if m < len(cur_min):  # the short last block
            new_min = np.r_[new_min, np.fmin.reduce(cur_min[m:])]
            new_max = np.r_[new_max, np.fmax.reduce(cur_max[m:])]
            new_x = np.r_[new_x, cur_x[m]]
        rows_per_block *= factor
        factor = LOD_BLOCK
        level_y = np.empty(2 * len(new_min), dtype=np.float32)  # (2B,) min, max, min, ...
        level_y[0::2] = new_min
        level_y[1::2] = new_max
        levels.append((rows_per_block, np.repeat(new_x, 2), level_y))
        cur_x, cur_min, cur_max = new_x, new_min, new_max
    if share_x is not None:
        levels = [(r, sx, ly) for (r, _x, ly), (_r, sx, _y) in zip(levels, share_x, strict=True)]
    return levels


def level_for(levels: list[Level], visible_rows: int, pixels: int) -> int:
    """Rows per block of the level to draw ``visible_rows`` rows on ``pixels`` pixels
    (1: the raw rows): the finest that needs no further reduction, else the coarsest."""
    limit = LOD_MAX_BLOCKS_PER_PIXEL * pixels
    if not levels or visible_rows <= 2 * limit:
        return 1
    return next((rows for rows, _x, _y in levels if visible_rows / rows <= limit), levels[-1][0])
