"""CSV -> Recording, start to end: detect, read, convert, check quality.

``import_recording`` is the import as a progress generator (the GUI runs it on a worker
and can cancel it between byte ranges); ``load_recording`` drains it for callers that
just want the recording.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TypeVar

from faultlens.core.errors import RecordingError
from faultlens.core.io.convert import convert_labels, convert_time
from faultlens.core.io.layout import DEFAULT_OPTIONS, Layout, fail
from faultlens.core.io.parsed import ParsedFile
from faultlens.core.io.quality import channel_stats, check_time_order, fill_quality
from faultlens.core.io.readers import read_file
from faultlens.core.io.sniff import detect
from faultlens.core.progress import Cancelled, Progress, ShouldStop, never_stop, run_to_end
from faultlens.core.recording import ImportOptions, QualityReport, Recording

R = TypeVar("R")

# Progress reports while reading are at most this often: a progress bar needs no more, and
# a 2 GB file has ~500 ranges.
PROGRESS_INTERVAL_S = 0.2


def import_recording(
    path: str | Path, options: ImportOptions = DEFAULT_OPTIONS, should_stop: ShouldStop = never_stop
) -> Generator[Progress, None, Recording]:
    """Read a sensor CSV into a validated ``Recording``, as a progress generator.

    Yields ``Progress`` in bytes of the file: 0 once the head is understood, then as the
    fast reader gets through its byte ranges (at most one report per
    ``PROGRESS_INTERVAL_S``, never going back), and the whole size once the file is read
    (the time conversion and the quality report follow). Raises ``Cancelled`` when
    ``should_stop()`` turns true between two ranges or two steps; nothing is left
    running and nothing was changed then.

    Every field of ``options`` left as ``None`` is detected from the head of the file; the
    fully resolved options are stored on the result (``Recording.options``) so the same
    file can be re-read the same way. Missing values stay NaN; rows with unsorted
    timestamps are sorted (with a warning in the quality report).

    Raises ``RecordingError`` (one-line message: file, line/column, what to do) for every
    problem the file can cause.
    """
    path = Path(path)
    layout = detect(path, options)
    size = path.stat().st_size
    message = f"Reading {path.name}"
    yield Progress(0, size, message)
    parsed = yield from _throttled(_read(layout, options, should_stop), size, message)
    yield Progress(size, size, message)
    if should_stop():
        raise Cancelled()
    return _recording(layout, parsed)


def load_recording(path: str | Path, options: ImportOptions = DEFAULT_OPTIONS) -> Recording:
    """``import_recording`` run to the end: the Recording, without progress or cancel."""
    return run_to_end(import_recording(path, options))


def _read(
    layout: Layout, options: ImportOptions, should_stop: ShouldStop
) -> Generator[int, None, ParsedFile]:
    """``read_file``, once more as Latin-1 when a detected UTF-8 turns out wrong."""
    try:
        return (yield from read_file(layout, should_stop))
    except RecordingError as err:
        # An ASCII head says nothing about bytes further down; Latin-1 reads anything.
        if options.encoding is not None or layout.encoding != "utf-8" or "UTF-8" not in str(err):
            raise
    layout.encoding = "latin-1"
    layout.warnings.append("file is not valid UTF-8 past its first 64 KB; read as Latin-1")
    return (yield from read_file(layout, should_stop))


def _throttled(
    counts: Generator[int, None, R],
    total: int,
    message: str,
    interval_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Generator[Progress, None, R]:
    """Bytes-done counts as ``Progress`` reports short of ``total``: never backwards (a
    re-read after a fallback counts from 0 again), at most one per ``interval_s``
    (``PROGRESS_INTERVAL_S`` when None). Returns what ``counts`` returns."""
    interval = PROGRESS_INTERVAL_S if interval_s is None else interval_s
    best, last = 0, -math.inf
    try:
        while True:
            try:
                done = next(counts)
            except StopIteration as stop:
                return stop.value
            now = clock()
            if best < done < total and now - last >= interval:
                best, last = done, now
                yield Progress(done, total, message)
    finally:
        counts.close()  # a cancelled import stops its reader now, not when collected


def _recording(layout: Layout, parsed: ParsedFile) -> Recording:
    """The Recording from the parsed columns: time and labels converted, rows sorted by
    time if they were not, the quality report filled."""
    path = layout.path
    columns = parsed.columns
    n_rows = columns.rows
    if n_rows == 0:
        raise fail(
            path,
            f"line {layout.skip_lines}",
            "the file has a header but no data rows; add data rows or pick another file",
        )
    time_s = convert_time(layout, columns.time)
    labels = convert_labels(columns.labels)
    data, stats = columns.data, columns.stats
    del columns  # (the raw time and label columns go with ``parsed`` when this returns)

    report = QualityReport(rows=n_rows, channels=len(layout.channels))
    report.excluded_columns = dict(layout.excluded)
    report.warnings = list(layout.warnings)
    if time_s is not None:
        time_s, data, labels = check_time_order(layout, time_s, data, labels, report)
        if report.sorted_by_time:
            # Runs of stuck values are about the sorted order.
            stats = tuple(channel_stats(data, j) for j in range(data.shape[1]))
    fill_quality(report, layout.channels, stats, time_s)

    return Recording(
        path=path,
        data=data,
        channels=tuple(layout.channels),
        time=time_s,
        time_kind="index"
        if time_s is None
        else ("datetime" if layout.time_kind == "datetime" else "seconds"),
        time_column=layout.time_column,
        utc_offset_s=layout.utc_offset_s,
        labels=labels,
        label_column=layout.label_column,
        content_hash=parsed.content_hash,
        content_bytes=parsed.content_bytes,
        options=layout.resolved_options(),
        quality=report,
    )
