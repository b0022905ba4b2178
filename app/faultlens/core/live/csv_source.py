"""A growing CSV as a live source: what a data logger writes, followed as it grows.

The file is read the way the importer reads it, by the importer's own code: its import
options are detected once, from the file's first complete lines, by ``sniff.detect_head``
(separator, decimal mark, header, time column and its kind, channels; label and annotation
columns are not channels), and every new line's cells become numbers and times through the
importer's ``text_numbers`` and ``text_time_seconds``. There is no second CSV dialect here.

Following is ``tail -F``: only new bytes are read; a last line without its line break waits
for it; a file that shrinks below what was read (truncated) or is replaced by a new one
(rotated: another device or inode at the path) is followed from the new file's start, after
the rest of the old one is read, with a note; a file that goes away makes the source
"disconnected" until it is back. A poll that finds nothing new costs one ``stat``.

Lines end with ``\\n`` or ``\\r\\n`` (a lone ``\\r`` is no line break here). A quoted field
may hold line breaks: its row waits until the quote closes. The file stays open between
polls, which is what lets a rotated file be read to its end; on Windows, where an open file
cannot be replaced, a logger that rotates by renaming over it would fail while followed.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np

from faultlens.core.errors import RecordingError
from faultlens.core.io.cells import NA_SET
from faultlens.core.io.convert import text_numbers, text_time_seconds
from faultlens.core.io.layout import DEFAULT_OPTIONS, Layout
from faultlens.core.io.records import is_blank, records, split
from faultlens.core.io.sniff import SAMPLE_BYTES, detect_head
from faultlens.core.live.source import SourceChunk, SourceError, SourceHealth
from faultlens.core.recording import ImportOptions, TimeKind

# Detection waits for this many complete non-blank lines (the header and 20 rows type the
# columns as a file's import would), or for DETECT_WAIT_S with at least two of them, so a
# logger writing a row a minute is followed after a few seconds rather than 20 minutes.
DETECT_LINES = 21
DETECT_WAIT_S = 2.0
# One read() takes at most this many new bytes (~12k rows of ten channels, ~0.1 s here):
# following a large file from its start catches up over several polls, each of them short
# (8 MB per read was slower per row as well as 10x longer per poll).
READ_LIMIT_BYTES = 1 << 20


class CsvFollower:
    """A ``Source`` reading a CSV as another process appends to it.

    ``from_start``: hand over the rows already in the file first (True), or only what is
    appended after ``start()`` (False; the header is still read for the channels).
    ``options``: import options that override detection, as for ``import_recording``.

    ``time`` is what the file's time column holds, converted as the importer converts it
    (``time_kind`` "datetime" or "seconds"), or the running row number ("index") for a file
    without one. Rows are handed over in file order, never sorted: a time going backwards is
    counted in ``health`` and the row kept.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        from_start: bool = True,
        options: ImportOptions | None = None,
    ) -> None:
        self._path = Path(path)
        self._from_start = from_start
        self._options = options if options is not None else DEFAULT_OPTIONS
        self._layout: Layout | None = None
        self._columns: list[int] = []  # field index of each channel
        self._time_index: int | None = None
        self._fh: BinaryIO | None = None
        self._ident: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._read_pos = 0  # bytes of the open file read into memory
        self._tail = b""  # read bytes after the last complete row (a line still being written)
        self._line_no = 1  # file line number of the first line in ``_tail``
        self._at_file_start = False  # a new file's preamble and header still to be skipped
        self._start_size = 0  # the file's size at start(), where from_start=False begins
        self._started_at = 0.0
        self._failed_size = -1  # the size at which detection last failed: wait for a change
        self._last_time = -math.inf
        self._next_index = 0  # the running row number for files without a time column
        self._health = SourceHealth()
        self._lock = threading.Lock()  # guards _health: health() may be called from any thread
        self._started = False
        self._closed = False

    # ------------------------------------------------------------------ Source
    @property
    def description(self) -> str:
        where = "from the start" if self._from_start else "from the end"
        return f"{self._path.name} (following {where})"

    @property
    def channels(self) -> tuple[str, ...] | None:
        return None if self._layout is None else tuple(self._layout.channels)

    @property
    def time_kind(self) -> TimeKind:
        layout = self._layout
        if layout is None or layout.time_column is None:
            return "index"
        return "datetime" if layout.time_kind == "datetime" else "seconds"

    @property
    def options(self) -> ImportOptions | None:
        """The import options detected once (None until then): re-read the file with them."""
        return None if self._layout is None else self._layout.resolved_options()

    def start(self) -> None:
        """Open the file and detect how to read it. Raises ``SourceError`` when there is no
        such file or its first lines cannot be read as CSV; a file too short to tell (a
        header alone) is waited for: ``channels`` stays None until it has rows."""
        if self._started or self._closed:
            return
        self._started = True
        if self._path.is_dir():
            raise SourceError(f"{self._path}: is a folder, not a file; pick the logger's CSV file")
        try:
            self._open()
        except FileNotFoundError:
            raise SourceError(
                f"{self._path}: file not found; check the path (the logger must have created "
                "the file before it can be followed)"
            ) from None
        except OSError as err:
            raise SourceError(f"{self._path}: cannot be read ({err.strerror or err})") from None
        self._start_size = os.fstat(self._fileno()).st_size
        self._started_at = time.monotonic()
        try:
            self._detect()
        except RecordingError as err:
            self.close()
            raise SourceError(str(err)) from None

    def read(self) -> SourceChunk | None:
        if self._closed or not self._started:
            return None
        try:
            st = os.stat(self._path)
        except OSError as err:
            return self._vanished(err)
        rows: list[tuple[int, list[str]]] = []
        ident = (st.st_dev, st.st_ino)
        if self._fh is None:
            self._reopen("the file is back; following it from its start")
        elif ident != self._ident:
            # Rotated: what the old file got before it was replaced comes first.
            rows += self._drain_old()
            self._reopen("the file was replaced by a new one (rotated); following the new file")
        elif st.st_size < self._read_pos:
            self._note(
                f"the file was truncated ({st.st_size} bytes, {self._read_pos} read); "
                "following it from its start"
            )
            self._restart_at_zero()
        elif st.st_size == self._read_pos and self._layout is not None:
            return None  # nothing new: one stat
        if self._layout is None:
            if st.st_size == self._failed_size:
                return None
            try:
                if not self._detect():
                    return None
            except RecordingError as err:
                self._failed_size = st.st_size
                self._set_error(f"{err} (tried again when the file changes)")
                return None
        rows += self._new_rows(final=False)
        return self._chunk(rows)

    def health(self) -> SourceHealth:
        with self._lock:
            return dataclasses.replace(self._health, notes=list(self._health.notes))

    def close(self) -> None:
        self._closed = True
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with self._lock:
            self._health.connection = "closed"

    # ------------------------------------------------------------------ the file
    def _open(self) -> None:
        fh = self._path.open("rb")
        st = os.fstat(fh.fileno())
        self._fh, self._ident = fh, (st.st_dev, st.st_ino)
        self._read_pos, self._tail = 0, b""

    def _fileno(self) -> int:
        assert self._fh is not None
        return self._fh.fileno()

    def _reopen(self, note: str) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        try:
            self._open()
        except OSError as err:
            self._vanished(err)
            return
        self._restart_at_zero()
        with self._lock:
            self._health.connection = "connected" if self._layout is not None else "connecting"
            self._health.notes.append(note)

    def _restart_at_zero(self) -> None:
        self._read_pos, self._tail, self._line_no = 0, b"", 1
        self._at_file_start = self._layout is not None  # (detection skips its own header)

    def _drain_old(self) -> list[tuple[int, list[str]]]:
        """The rows of the old file not read yet; its unfinished last line counts as a line."""
        rows: list[tuple[int, list[str]]] = []
        if self._layout is None:
            return rows
        while True:
            before = self._read_pos
            rows += self._new_rows(final=True)
            if self._read_pos == before:
                return rows

    def _vanished(self, err: OSError) -> SourceChunk | None:
        rows = self._drain_old() if self._fh is not None else []
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._ident = None
        with self._lock:
            if self._health.connection != "disconnected":
                self._health.connection = "disconnected"
                why = "gone (deleted or moved)" if isinstance(err, FileNotFoundError) else err
                self._health.last_error = (
                    f"{self._path}: the file is {why}; waiting for it to reappear"
                )
        return self._chunk(rows)

    def _detect(self) -> bool:
        """Detect the layout from the file's first complete lines, once; False while the
        file is still too short to tell. Raises ``RecordingError`` when it can tell and the
        file is no CSV it can read."""
        fh = self._fh
        assert fh is not None
        fh.seek(0)
        head = fh.read(SAMPLE_BYTES + 1)
        truncated = len(head) > SAMPLE_BYTES
        head = head[:SAMPLE_BYTES] if truncated else head[: head.rfind(b"\n") + 1]
        lines = [ln for ln in head.split(b"\n") if ln.strip() and not ln.lstrip().startswith(b"#")]
        waited = time.monotonic() - self._started_at >= DETECT_WAIT_S
        if not truncated and len(lines) < DETECT_LINES and not (len(lines) >= 2 and waited):
            return False
        layout = detect_head(self._path, head, truncated, self._options)
        self._layout = layout
        self._columns = [layout.names.index(c) for c in layout.channels]
        self._time_index = (
            None if layout.time_column is None else layout.names.index(layout.time_column)
        )
        # The first data row starts after ``skip_lines`` physical lines.
        start, ends = 0, 0
        while ends < layout.skip_lines:
            nl = head.find(b"\n", start)
            if nl < 0:
                break
            start, ends = nl + 1, ends + 1
        self._line_no = layout.skip_lines + 1
        self._read_pos = start
        if not self._from_start:
            self._skip_to_end(max(start, self._start_size))
        self._tail = b""
        with self._lock:
            self._health.connection = "connected"
        return True

    def _skip_to_end(self, size: int) -> None:
        """Start after the last complete line below ``size`` (the rows already there are not
        handed over), counting the lines skipped so that messages name true file lines."""
        fh = self._fh
        assert fh is not None
        pos = size
        while pos > self._read_pos:
            lo = max(self._read_pos, pos - (1 << 16))
            fh.seek(lo)
            block = fh.read(pos - lo)
            nl = block.rfind(b"\n")
            if nl >= 0:
                skipped_to = lo + nl + 1
                fh.seek(self._read_pos)
                while self._read_pos < skipped_to:  # (counted in blocks: the file may be big)
                    block = fh.read(min(READ_LIMIT_BYTES, skipped_to - self._read_pos))
                    if not block:
                        break  # (shrunk meanwhile: the next read() sees the truncation)
                    self._line_no += block.count(b"\n")
                    self._read_pos += len(block)
                return
            pos = lo

    # ------------------------------------------------------------------ lines -> rows
    def _new_rows(self, final: bool) -> list[tuple[int, list[str]]]:
        """(file line, fields) of the complete rows appended since the last call, the header
        of a new file skipped and malformed lines counted. ``final``: the file will not grow
        any more, so its unfinished last line is taken as it is."""
        fh, layout = self._fh, self._layout
        assert fh is not None and layout is not None
        fh.seek(self._read_pos)
        data = fh.read(READ_LIMIT_BYTES)
        self._read_pos += len(data)
        buf = self._tail + data
        cut = len(buf) if final else buf.rfind(b"\n") + 1
        complete, self._tail = buf[:cut], buf[cut:]
        if not complete:
            return []
        text = complete.decode(layout.encoding, errors="replace")
        physical = text.split("\n")
        if physical[-1] == "":
            physical.pop()
        numbered = list(enumerate((ln.removesuffix("\r") for ln in physical), start=self._line_no))
        sep = layout.separator
        out: list[tuple[int, list[str]]] = []
        width = len(layout.names)
        for first, record, closed in records(numbered, sep):
            if not closed and not final:
                # A quoted field still open: its lines wait in the tail for the rest.
                waiting = "\n".join(ln for n, ln in numbered if n >= first) + "\n"
                self._tail = waiting.encode(layout.encoding, errors="replace") + self._tail
                self._line_no = first
                break
            self._line_no = first + record.count("\n") + 1
            if is_blank(record, sep):
                continue
            if self._at_file_start:
                if record.lstrip().startswith("#"):
                    continue
                self._at_file_start = False
                if layout.header:
                    self._check_header(first, record)
                    continue
            try:
                fields = split(record, sep)
            except Exception as err:  # csv.Error: a quote where none may be
                self._malformed(first, f"cannot be split into fields ({err})")
                continue
            if len(fields) != width:
                self._malformed(
                    first,
                    f"has {len(fields)} fields, expected {width} like the header; line skipped",
                )
                continue
            out.append((first, fields))
        return out

    def _check_header(self, line: int, record: str) -> None:
        layout = self._layout
        assert layout is not None
        try:
            names = split(record, layout.separator)
        except Exception:
            names = []
        if [n.strip() for n in names] != layout.names[: len(names)] or len(names) != len(
            layout.names
        ):
            self._note(
                f"line {line}: the new file's header differs from the first one's; its columns "
                "are read by position as before"
            )

    def _chunk(self, rows: list[tuple[int, list[str]]]) -> SourceChunk | None:
        """The rows' cells as numbers and times, by the importer's conversions."""
        layout = self._layout
        if not rows or layout is None:
            return None
        lines = np.fromiter((n for n, _ in rows), dtype=np.int64, count=len(rows))
        cells = np.array([fields for _, fields in rows], dtype=object)  # (n, width)
        values = np.empty((len(rows), len(self._columns)), dtype=np.float32)
        bad_values, first_bad = 0, ""
        for k, (name, j) in enumerate(zip(layout.channels, self._columns, strict=True)):
            text = cells[:, j]
            numbers = text_numbers(text, layout.decimal)
            with np.errstate(over="ignore"):  # beyond float32's range -> +-inf, as imported
                values[:, k] = numbers
            stray = [i for i in np.flatnonzero(np.isnan(numbers)) if text[i] not in NA_SET]
            if stray and not first_bad:
                i = stray[0]
                first_bad = (
                    f"{self._path.name} line {lines[i]}, column {name!r}: {text[i]!r} is not a "
                    "number (read as missing)"
                )
            bad_values += len(stray)

        malformed, first_malformed = 0, ""
        if self._time_index is None:
            t = np.arange(self._next_index, self._next_index + len(rows), dtype=np.float64)
        else:
            text = cells[:, self._time_index]
            t = text_time_seconds(layout, text)
            no_time = np.flatnonzero(~np.isfinite(t))
            if no_time.size:
                r = int(no_time[0])
                malformed = int(no_time.size)
                first_malformed = (
                    f"{self._path.name} line {lines[r]}, column {layout.time_column!r}: time "
                    f"value {text[r]!r} cannot be read as a time; line skipped"
                )
                keep = np.isfinite(t)
                t, values = t[keep], values[keep]
        self._next_index += len(t)
        backwards = 0
        if len(t):
            before = np.concatenate(([self._last_time], t[:-1]))
            backwards = int(np.count_nonzero(t < before))
            self._last_time = float(t[-1])
        with self._lock:
            h = self._health
            h.rows += len(t)
            h.bad_values += bad_values
            h.malformed += malformed
            h.time_backwards += backwards
            # The most recent problem is the one to show.
            for message in (first_bad, first_malformed):
                if message:
                    h.last_error = message
            if h.connection != "connected":
                h.connection = "connected"
        if not len(t):
            return None
        return SourceChunk(time=t, values=values)

    # ------------------------------------------------------------------ health
    def _malformed(self, line: int, what: str) -> None:
        with self._lock:
            self._health.malformed += 1
            self._health.last_error = f"{self._path.name} line {line}: {what}"

    def _note(self, note: str) -> None:
        with self._lock:
            self._health.notes.append(note)

    def _set_error(self, message: str) -> None:
        with self._lock:
            self._health.last_error = message
