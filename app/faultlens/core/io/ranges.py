"""The fast path: byte ranges of the file parsed in parallel, straight into the matrix.

The file is cut after line breaks into ranges of a few MB that a thread pool parses
(pyarrow releases the GIL); their rows are copied in file order into a preallocated
(N, C) float32 matrix while the file's sha256 is computed from the same bytes, so the peak
memory is about the matrix plus the ranges in flight. Between two ranges the reader
reports the bytes done and polls ``should_stop``: this is where an import shows progress
and can be cancelled.

Anything it cannot vouch for (a bad row, stray text in a numeric column, a range cut
inside a quoted field) raises for ``readers.read_file`` to hand the file to the careful
path, which reports every problem by its file line.
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import os
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from faultlens.core.io.arrow import arrow_options
from faultlens.core.io.layout import Layout
from faultlens.core.io.matrix import MatrixBuilder
from faultlens.core.io.parsed import ParsedColumns, ParsedFile
from faultlens.core.progress import Cancelled, ShouldStop

# Bytes of CSV per parse job of the fast path: large enough that the per-job overhead
# vanishes, small enough that a job's input and output stay in cache and the jobs in
# flight (about 2 per thread) cost little memory. 4 MB measured a little faster than 8.
RANGE_BYTES = 4 << 20
# Encodings in which a 0x0A byte is always a line break, so ranges can be cut at one
# (the ones detection picks; an encoding given explicitly may not be one of them).
_RANGE_ENCODINGS = frozenset({"utf-8", "utf-8-sig", "iso8859-1", "ascii", "cp1252"})


class StrayText(Exception):
    """A decimal-comma channel holds text that is not a number: the careful path reads it."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


class Unsplittable(Exception):
    """The file cannot be cut into ranges safely: the careful path reads it."""


def read_arrow_ranges(layout: Layout, should_stop: ShouldStop) -> Generator[int, None, ParsedFile]:
    """Parse the file range by range; yield the bytes done after each range, return the
    parsed columns and the file's sha256. Raises ``Cancelled`` when ``should_stop()``
    turns true between ranges; nothing is left running then.

    A range is cut after a line break, which is a row boundary unless a quoted field spans
    lines: a range that ends inside quotes then either has too few fields in its last row
    (a parse error) or ends in the last column, whose last value then runs to the cut and
    ends in the line break. Raises a pyarrow error, ``StrayText`` or ``Unsplittable`` for
    the caller to fall back on the careful path.
    """
    if codecs.lookup(layout.encoding).name not in _RANGE_ENCODINGS:
        raise Unsplittable
    first, parse_options, convert_options = arrow_options(layout, set(), ranges=True)
    # A range is parsed as one block, so its table has one chunk per column.
    first.block_size = RANGE_BYTES
    rest = copy.copy(first)
    rest.skip_rows = 0  # only the first range holds the header and preamble
    channel_idx = [convert_options.include_columns.index(c) for c in layout.channels]
    last = convert_options.include_columns.index(layout.names[-1])
    last_is_text = convert_options.column_types[layout.names[-1]] == pa.string()
    extras = {"time": layout.time_column, "labels": layout.label_column}
    pieces: dict[str, list[pa.Array]] = {k: [] for k, v in extras.items() if v is not None}
    matrix = MatrixBuilder(len(layout.channels), estimated_rows(layout))

    tail: list[str | None] = [None]  # the last value of the last column read so far

    def add(table: pa.Table) -> None:
        if last_is_text and table.num_rows:
            value = tail[0] = table.column(last)[-1].as_py()
            if value is not None and value.endswith(("\n", "\r")):
                raise Unsplittable
        for batch in table.to_batches():
            columns = [batch.column(i) for i in channel_idx]
            if layout.decimal == ",":
                columns = [
                    _comma_to_float32(c, name)
                    for c, name in zip(columns, layout.channels, strict=True)
                ]
            matrix.append([c.to_numpy(zero_copy_only=False) for c in columns])
        for key, chunks in pieces.items():
            chunks.extend(table.column(extras[key]).chunks)

    digest = hashlib.sha256()
    hashed = 0  # bytes in ``digest``
    threads = _parse_threads()
    done = 0  # bytes whose rows are in the matrix
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque[tuple[Future[pa.Table], int]] = deque()
        try:
            for i, piece in enumerate(_file_ranges(layout.path, RANGE_BYTES)):
                if should_stop():
                    raise Cancelled()
                job = pool.submit(
                    pacsv.read_csv,
                    pa.py_buffer(piece),
                    read_options=rest if i else first,
                    parse_options=parse_options,
                    convert_options=convert_options,
                )
                pending.append((job, len(piece)))
                digest.update(piece)  # releases the GIL, like the parser
                hashed += len(piece)
                if len(pending) > threads:
                    job, size = pending.popleft()
                    add(job.result())
                    done += size
                    yield done
            while pending:
                if should_stop():
                    raise Cancelled()
                job, size = pending.popleft()
                add(job.result())
                done += size
                yield done
        finally:
            for job, _size in pending:
                job.cancel()
    if tail[0] is not None and ("\n" in tail[0] or "\r" in tail[0]):
        raise Unsplittable  # perhaps a quote that never closes: the careful path checks
    data, stats = matrix.finish()
    # pyarrow's allocator keeps the freed range tables for reuse (~0.5x the matrix here);
    # hand them back before the time and quality passes allocate their own arrays.
    pa.default_memory_pool().release_unused()
    extra = {
        key: pa.chunked_array(chunks, type=convert_options.column_types[extras[key]])
        for key, chunks in pieces.items()
    }
    columns = ParsedColumns(
        data=data, stats=stats, time=extra.get("time"), labels=extra.get("labels")
    )
    return ParsedFile(columns=columns, content_hash=digest.hexdigest(), content_bytes=hashed)


def estimated_rows(layout: Layout) -> int:
    """Rows the file probably has, from its size and the sample's bytes per line, with
    headroom: unused capacity of ``np.empty`` is never touched, so it costs no memory."""
    size = layout.path.stat().st_size
    return int(size / max(layout.bytes_per_line, 1.0) * 1.2) + 1024


def _comma_to_float32(column: pa.Array, name: str) -> pa.Array:
    try:
        return pc.cast(pc.replace_substring(column, ",", "."), pa.float32())
    except pa.ArrowInvalid:
        raise StrayText(name) from None


def _file_ranges(path: Path, size: int) -> Iterator[memoryview]:
    """The file's bytes in consecutive pieces of at most ``size``, each but the last cut
    right after a line break (where a row ends, unless a quoted field spans lines)."""
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            if len(chunk) < size:
                yield memoryview(chunk)
                return
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                raise Unsplittable  # one line longer than a range: not worth a split
            fh.seek(cut - len(chunk), os.SEEK_CUR)
            yield memoryview(chunk)[:cut]


def _parse_threads() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, 8))
