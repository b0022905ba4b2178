"""The quality report: gaps, flat or stuck channels, time order, sampling regularity.

The per-channel counts are accumulated while the matrix is filled (``matrix.MatrixBuilder``);
only a channel with enough repeated values to hold a stuck run gets a second look here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from faultlens.core.io.layout import Layout
from faultlens.core.io.locate import data_line_of_row
from faultlens.core.recording import QualityReport

# A channel is "stuck" when one value repeats for at least this many consecutive rows and
# at least this fraction of the file: long enough that sensor noise would have moved it.
STUCK_MIN_ROWS = 100
STUCK_MIN_FRACTION = 0.05
# Sampling intervals further than this from the median count as irregular.
IRREGULAR_TOLERANCE = 0.10


class ChannelStats(NamedTuple):
    """What the quality report needs of one channel."""

    missing: int  # NaN values
    flat: str | None  # why the channel is flat, or None


def flat_stats(
    data: np.ndarray, j: int, missing: int, lo: float, hi: float, repeats: int
) -> ChannelStats:
    """Channel ``j``'s stats from its accumulated missing count, min, max and number of
    values equal to their predecessor.

    Flat means: no values at all, one constant value over the whole file, or one value
    repeated for a run of at least ``STUCK_MIN_ROWS`` rows and ``STUCK_MIN_FRACTION`` of
    the file (a stuck sensor: noise would have moved a live reading).
    """
    n = data.shape[0]
    if missing == n:
        return ChannelStats(missing, "no values at all (every row is missing)")
    if n - missing >= 2 and lo == hi:
        return ChannelStats(missing, f"constant {lo:g} over the whole file")
    min_run = max(STUCK_MIN_ROWS, STUCK_MIN_FRACTION * n)
    # A run of k rows needs k-1 repeats: with fewer repeats in total, no run is long enough.
    if repeats + 1 < min_run:
        return ChannelStats(missing, None)
    column = np.ascontiguousarray(data[:, j])
    run, start = _longest_true_run(column[1:] == column[:-1])
    if run >= min_run:
        return ChannelStats(
            missing,
            f"stuck at {float(column[start]):g} for {run} consecutive rows (from row {start + 1})",
        )
    return ChannelStats(missing, None)


def channel_stats(data: np.ndarray, j: int) -> ChannelStats:
    """``flat_stats`` of channel ``j`` computed from scratch (after the rows were sorted)."""
    column = data[:, j]
    return flat_stats(
        data,
        j,
        int(np.count_nonzero(np.isnan(column))),
        float(np.fmin.reduce(column)),
        float(np.fmax.reduce(column)),
        int(np.count_nonzero(column[1:] == column[:-1])),
    )


def check_time_order(
    layout: Layout,
    time: np.ndarray,
    data: np.ndarray,
    labels: np.ndarray | None,
    report: QualityReport,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Count backward and repeated timestamps; rows out of time order are sorted (stable),
    with a warning naming the first line that goes back."""
    steps = np.diff(time)
    backwards = int(np.count_nonzero(steps < 0))
    report.non_monotonic_timestamps = backwards
    if backwards:
        first = int(np.flatnonzero(steps < 0)[0]) + 1
        line = data_line_of_row(layout, first)
        order = np.argsort(time, kind="stable")
        time = time[order]
        data = data[order]
        labels = None if labels is None else labels[order]
        report.sorted_by_time = True
        report.warnings.append(
            f"{backwards} timestamp(s) go backwards (first at line {line}); "
            "rows were sorted by time"
        )
        steps = np.diff(time)
    dups = int(np.count_nonzero(steps == 0))
    report.duplicate_timestamps = dups
    if dups:
        report.warnings.append(f"{dups} row(s) repeat the previous row's timestamp")
    return time, data, labels


def fill_quality(
    report: QualityReport,
    channels: list[str],
    stats: tuple[ChannelStats, ...],
    time: np.ndarray | None,
) -> None:
    """Missing values, flat channels and the sampling of ``time`` into ``report``."""
    n = report.rows
    for name, (missing, flat) in zip(channels, stats, strict=True):
        report.missing_per_channel[name] = missing
        if flat is not None:
            report.flat_channels.append(name)
            report.flat_reasons[name] = flat
    for name in report.flat_channels:
        report.warnings.append(f"channel {name!r} is flat: {report.flat_reasons[name]}")
    total_missing = sum(report.missing_per_channel.values())
    if total_missing:
        worst = max(report.missing_per_channel, key=report.missing_per_channel.__getitem__)
        report.warnings.append(
            f"{total_missing} missing value(s) kept as gaps (most in {worst!r}: "
            f"{report.missing_per_channel[worst]})"
        )
    if time is None or n < 2:
        if time is not None:
            report.time_span_s = 0.0
        return
    steps = np.diff(time)
    report.time_span_s = float(time[-1] - time[0])
    positive = steps[steps > 0]
    if positive.size:
        median = float(np.median(positive))
        report.sampling_interval_median_s = median
        report.sampling_irregularity = float(
            np.count_nonzero(np.abs(steps - median) > IRREGULAR_TOLERANCE * median) / steps.size
        )
        report.max_gap_s = float(steps.max())
        if report.max_gap_s > 10 * median:
            k = int(np.argmax(steps))
            report.warnings.append(
                f"longest gap {report.max_gap_s:g} s (after row {k + 1}) is "
                f"{report.max_gap_s / median:.0f}x the median interval {median:g} s"
            )


def _longest_true_run(same: np.ndarray) -> tuple[int, int]:
    """(rows, start row) of the longest run of equal neighbours, from ``same`` (N-1,)."""
    breaks = np.flatnonzero(~same)
    # Runs of "same" lie between consecutive breaks; a run of k equal steps is k+1 rows.
    edges = np.concatenate(([-1], breaks, [same.size]))
    lengths = np.diff(edges) - 1
    k = int(np.argmax(lengths))
    return int(lengths[k]) + 1, int(edges[k]) + 1
