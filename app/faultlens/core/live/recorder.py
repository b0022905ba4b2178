"""The recording of a live session, written to a CSV as rows arrive.

Why a CSV the importer reads back: stopping a session must leave an ordinary recording
(review, report, retraining), and a crash must leave a file that opens. Rows are appended
and the file is flushed (and synced to disk) at least every ``flush_interval_s``, so a crash
loses at most that much. Columns: the time first (ISO-8601 in UTC, microseconds, for
date-time sources; seconds otherwise; none for sources without a clock, whose rows are
numbered), the channels, and, with a model, its predicted class per row in
``predicted_class`` (empty before the first full window or while not scored), which the
importer never takes as a channel or as labels (``core.io.columns.ANNOTATION_NAMES``).

Values are written as the shortest text that reads back as the same float32 (NaN as an
empty cell), so the re-imported recording holds exactly the rows the live scan saw.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from faultlens.core.atomic import atomic_open
from faultlens.core.live.source import SourceError
from faultlens.core.recording import ImportOptions, TimeKind

TIME_COLUMN = "time"
PREDICTED_COLUMN = "predicted_class"


def _free_name(name: str, taken: tuple[str, ...]) -> str:
    """``name``, or ``name_2``, ``name_3``, ... when a channel already has it."""
    out, i = name, 1
    while out in taken:
        i += 1
        out = f"{name}_{i}"
    return out


def _csv_cell(text: str) -> str:
    """One cell as csv writes it (quoted when it holds a separator, quote or line break)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([text])
    return buf.getvalue()


def format_times(time: np.ndarray, kind: TimeKind) -> np.ndarray | None:
    """The time cells of rows: ISO-8601 UTC with microseconds (``"datetime"``), the
    shortest round-trip text of the seconds (``"seconds"``), None (``"index"``: no column)."""
    if kind == "index":
        return None
    t = np.asarray(time, dtype=np.float64)
    if kind == "datetime":
        micro = np.round(t * 1e6)
        finite = np.isfinite(micro)
        stamps = np.where(finite, micro, 0).astype("datetime64[us]")
        return np.where(finite, np.datetime_as_string(stamps, unit="us"), "")
    return np.where(np.isfinite(t), t.astype(str), "")


def format_values(values: np.ndarray) -> np.ndarray:
    """(n, C) float32 -> (n, C) text: the shortest text that reads back as the same float32,
    empty for NaN (missing)."""
    v = np.asarray(values, dtype=np.float32)
    return np.where(np.isfinite(v), v.astype(str), "")


class CsvRecorder:
    """Appends rows to a new CSV at ``path`` (replacing a file there) and flushes on demand."""

    def __init__(
        self,
        path: str | Path,
        channels: tuple[str, ...],
        time_kind: TimeKind,
        class_names: tuple[str, ...] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time as _time

        self.path = Path(path)
        self.channels = tuple(channels)
        self.time_kind: TimeKind = time_kind
        self.class_names = class_names
        self.time_column = None if time_kind == "index" else _free_name(TIME_COLUMN, channels)
        self.predicted_column = (
            None if class_names is None else _free_name(PREDICTED_COLUMN, channels)
        )
        # Class index -> its cell; index -1 (the last entry) -> empty.
        self._class_cells = np.array(
            [_csv_cell(c) for c in (class_names or ())] + [""], dtype=object
        )
        self._clock = clock or _time.monotonic
        self.rows_written = 0
        self._dirty = False
        self.last_flush = self._clock()
        self._fh: IO[str] | None = None
        with self._writing("create"):
            self._fh = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._fh.write(self._header())
            self._sync()

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """An OSError (no such folder, no permission, disk full) as a ``SourceError`` that
        says which file and what to do; rows not written stay in the monitor's buffer."""
        try:
            yield
        except OSError as err:
            reason = err.strerror or str(err)
            raise SourceError(
                f"{self.path}: cannot {what} the recording ({reason}); free space or choose "
                "another file"
            ) from None

    def _header(self) -> str:
        names = [
            *([self.time_column] if self.time_column else []),
            *self.channels,
            *([self.predicted_column] if self.predicted_column else []),
        ]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(names)
        return buf.getvalue()

    def _lines(self, time: np.ndarray, values: np.ndarray, predicted: np.ndarray | None) -> str:
        n = int(values.shape[0])
        cells = format_values(values)  # (n, C)
        parts = [cells]
        times = format_times(time, self.time_kind)
        if times is not None:
            parts.insert(0, times[:, None])
        if self.predicted_column is not None:
            codes = np.full(n, -1, dtype=np.int64) if predicted is None else predicted
            parts.append(self._class_cells[np.asarray(codes, dtype=np.int64)][:, None])
        table = np.concatenate([p.astype(object) for p in parts], axis=1)
        # A line of one missing value would be blank, which readers skip: write it as NaN.
        return "".join((",".join(row) or "NaN") + "\n" for row in table.tolist())

    def write(self, time: np.ndarray, values: np.ndarray, predicted: np.ndarray | None) -> None:
        """Append rows (time (n,), values (n, C), predicted (n,) class index, -1 = none;
        None: none known yet). Reaches the disk at the next ``flush``."""
        if self._fh is None:
            raise ValueError(f"{self.path}: the recording is closed")
        if len(values):
            with self._writing("write"):
                self._fh.write(self._lines(time, values, predicted))
            self.rows_written += len(values)
            self._dirty = True

    def _sync(self) -> None:
        assert self._fh is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.last_flush = self._clock()
        self._dirty = False

    def flush(self) -> None:
        """Everything written so far to disk (flushed and synced)."""
        if self._fh is not None:
            with self._writing("write"):
                self._sync()

    def flush_due(self, interval_s: float) -> bool:
        """Flush when rows were written and ``interval_s`` has passed since the last flush;
        whether it did."""
        if self._fh is None or not self._dirty or self._clock() - self.last_flush < interval_s:
            return False
        with self._writing("write"):
            self._sync()
        return True

    def close(self) -> None:
        """Flush and close; idempotent."""
        if self._fh is not None:
            fh, self._fh = self._fh, None
            with self._writing("close"):
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()

    def rewrite(self, time: np.ndarray, values: np.ndarray, predicted: np.ndarray | None) -> None:
        """Replace the closed file's content with these rows at once (atomically), e.g. to
        fill in predictions that were not known when rows were first written."""
        self.close()
        with self._writing("rewrite"), atomic_open(self.path, "w", encoding="utf-8") as fh:
            fh.write(self._header())
            for i in range(0, len(values), 65536):
                part = slice(i, i + 65536)
                fh.write(
                    self._lines(
                        time[part], values[part], None if predicted is None else predicted[part]
                    )
                )
        self.rows_written = len(values)

    def import_options(self) -> ImportOptions:
        """How the importer reads this file back as the recording that was recorded."""
        return ImportOptions(
            encoding="utf-8",
            separator=",",
            header=True,
            decimal=".",
            time_column=self.time_column,
            no_time_column=self.time_column is None,
            time_unit="s" if self.time_kind == "seconds" else None,
            no_label_column=True,
            channels=self.channels,
        )
