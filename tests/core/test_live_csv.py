"""CsvFollower: a CSV followed as another process appends to it, read as the importer reads it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from faultlens.core.io import load_recording
from faultlens.core.live.csv_source import CsvFollower
from faultlens.core.live.open_source import open_source
from faultlens.core.live.source import Source, SourceChunk, SourceError

# Appends rows "t,a,b" (+ argv[4]) to argv[1], each written in two halves with a flush
# between (so the follower meets lines still being written), a flush after each row.
WRITER = r"""
import sys, time
path, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
suffix = sys.argv[4] if len(sys.argv) > 4 else ""
with open(path, "a", newline="") as fh:
    for i in range(first, first + n):
        line = f"{i * 0.5},{i * 1.25},{-i}{suffix}\n"
        fh.write(line[:4]); fh.flush()
        fh.write(line[4:]); fh.flush()
        if i % 50 == 0:
            time.sleep(0.002)
"""


class Collected:
    """Every chunk a source handed over, concatenated."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.times: list[np.ndarray] = []
        self.values: list[np.ndarray] = []

    def poll(self) -> SourceChunk | None:
        chunk = self.source.read()
        if chunk is not None:
            self.times.append(chunk.time)
            self.values.append(chunk.values)
        return chunk

    def until(self, done: Callable[[Collected], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not done(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out with {self.rows} rows, {self.source.health()}")
            if self.poll() is None:
                time.sleep(0.002)

    @property
    def rows(self) -> int:
        return sum(len(t) for t in self.times)

    @property
    def time(self) -> np.ndarray:
        return np.concatenate(self.times) if self.times else np.empty(0)

    @property
    def data(self) -> np.ndarray:
        return np.concatenate(self.values) if self.values else np.empty((0, 0), np.float32)


@pytest.fixture
def follow() -> Iterator[Callable[..., CsvFollower]]:
    """CsvFollower(...) closed after the test."""
    made: list[CsvFollower] = []

    def make(*args: object, **kwargs: object) -> CsvFollower:
        made.append(CsvFollower(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for src in made:
        src.close()


def _write(path: Path, text: str, mode: str = "w") -> None:
    with path.open(mode, newline="") as fh:
        fh.write(text)


def _rows(first: int, n: int) -> str:
    return "".join(f"{i * 0.5},{i * 1.25},{-i}\n" for i in range(first, first + n))


def _writer(path: Path, first: int, n: int, suffix: str = "") -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(first), str(n), suffix])


def test_follows_a_writer_process_exactly_as_the_file_imports(
    tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    path = tmp_path / "logger.csv"
    _write(
        path,
        "time,flow,pressure,label\n"
        + "".join(f"{i * 0.5},{i * 1.25},{-i},normal\n" for i in range(30)),
    )
    src = follow(path)
    assert isinstance(src, Source)
    src.start()
    assert src.channels == ("flow", "pressure")  # the label column is no channel
    assert src.time_kind == "seconds"
    got = Collected(src)
    got.until(lambda c: c.rows == 30)
    proc = _writer(path, 30, 400, ",leak")
    try:
        got.until(lambda c: c.rows == 430 or proc.poll() not in (None, 0))
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == 0
    got.until(lambda c: c.rows == 430)
    offline = load_recording(path)
    assert offline.time is not None
    np.testing.assert_array_equal(got.time, offline.time)
    np.testing.assert_array_equal(got.data, offline.data)
    health = src.health()
    assert (health.rows, health.malformed, health.problems) == (430, 0, 0)
    assert health.connection == "connected"
    src.close()
    assert src.health().connection == "closed"


def test_partial_line_waits_for_its_newline(
    tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    path = tmp_path / "p.csv"
    _write(path, "t,a,b\n" + _rows(0, 25) + "12.5,3")
    src = follow(path)
    src.start()
    got = Collected(src)
    got.until(lambda c: c.rows == 25)
    assert src.read() is None  # "12.5,3" has no line break yet
    _write(path, "1.25,-25\n", "a")
    chunk = src.read()
    assert chunk is not None
    np.testing.assert_array_equal(chunk.values, [[31.25, -25]])
    assert chunk.time.tolist() == [12.5]


def test_writer_process_with_split_lines(
    tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    path = tmp_path / "w.csv"
    _write(path, "t,a,b\n" + _rows(0, 25))
    src = follow(path)
    src.start()
    got = Collected(src)
    proc = _writer(path, 25, 300)
    got.until(lambda c: c.rows == 325, timeout=10)
    assert proc.wait(timeout=10) == 0
    expected = np.arange(325)
    np.testing.assert_array_equal(got.time, expected * 0.5)
    np.testing.assert_array_equal(got.data[:, 1], -expected)
    assert src.health().problems == 0


def test_from_end_hands_over_only_new_rows(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    path = tmp_path / "e.csv"
    _write(path, "t,a,b\n" + _rows(0, 40) + "20,2")  # an unfinished row at the end
    src = open_source(str(path), from_start=False)
    assert isinstance(src, CsvFollower)
    request.addfinalizer(src.close)
    src.start()
    assert src.channels == ("a", "b")
    assert "from the end" in src.description
    _write(path, "5,-40\n" + _rows(41, 2), "a")
    got = Collected(src)
    got.until(lambda c: c.rows == 3)
    # The row being written at start() is new data: it is handed over whole.
    assert got.time.tolist() == [20.0, 20.5, 21.0]
    assert got.data[0].tolist() == [25.0, -40.0]
    _write(path, "21.5\n", "a")
    assert src.read() is None
    assert "e.csv line 45: has 1 fields" in src.health().last_error  # a true file line


def test_bad_lines_are_counted_with_their_line_numbers(
    tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    path = tmp_path / "bad.csv"
    _write(path, "t,a,b\n" + _rows(0, 25))
    src = follow(path)
    src.start()
    got = Collected(src)
    got.until(lambda c: c.rows == 25)
    _write(path, "12.5,1,2,3\n", "a")  # line 27: a field too many
    got.poll()
    health = src.health()
    assert health.malformed == 1
    assert "line 27" in health.last_error and "4 fields, expected 3" in health.last_error
    _write(path, "13,oops,2\n13.5,NA,3\n5,1,1\n", "a")  # lines 28-30
    got.until(lambda c: c.rows == 28)
    health = src.health()
    assert health.bad_values == 1  # "NA" is missing, not bad
    assert "line 28" in health.last_error and "'oops'" in health.last_error
    assert health.time_backwards == 1  # 5 after 13.5, kept
    assert got.time[-3:].tolist() == [13.0, 13.5, 5.0]
    assert np.isnan(got.data[-3:, 0]).tolist() == [True, True, False]
    _write(path, "later,1,1\n", "a")  # line 31: a time that is no time
    got.poll()
    health = src.health()
    assert health.malformed == 2 and "line 31" in health.last_error
    assert health.rows == got.rows == 28


def test_truncation_is_followed_from_the_start(
    tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    path = tmp_path / "t.csv"
    _write(path, "t,a,b\n" + _rows(0, 30))
    src = follow(path)
    src.start()
    got = Collected(src)
    got.until(lambda c: c.rows == 30)
    with path.open("r+") as fh:  # the logger starts over in the same file
        fh.truncate(0)
    _write(path, "t,a,b\n" + _rows(100, 3), "a")
    got.until(lambda c: c.rows == 33)
    assert got.time[-3:].tolist() == [50.0, 50.5, 51.0]
    health = src.health()
    assert any("truncated" in note for note in health.notes)
    assert health.malformed == 0  # the new header was skipped, not counted


def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(
    tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    path = tmp_path / "r.csv"
    _write(path, "t,a,b\n" + _rows(0, 30))
    src = follow(path)
    src.start()
    got = Collected(src)
    got.until(lambda c: c.rows == 30)
    _write(path, _rows(30, 2), "a")  # not read yet when the file is replaced
    fresh = tmp_path / "r.new"
    _write(fresh, "t,a,b\n" + _rows(32, 2))
    os.replace(fresh, path)
    got.until(lambda c: c.rows == 34)
    np.testing.assert_array_equal(got.time, np.arange(34) * 0.5)
    assert any("replaced" in note for note in src.health().notes)


def test_vanished_file_disconnects_and_recovers(
    tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    path = tmp_path / "v.csv"
    _write(path, "t,a,b\n" + _rows(0, 30))
    src = follow(path)
    src.start()
    got = Collected(src)
    got.until(lambda c: c.rows == 30)
    path.unlink()
    assert src.read() is None
    health = src.health()
    assert health.connection == "disconnected" and "gone" in health.last_error
    _write(path, "t,a,b\n" + _rows(30, 5))
    got.until(lambda c: c.rows == 35)
    health = src.health()
    assert health.connection == "connected"
    assert any("back" in note for note in health.notes)


def test_header_only_file_waits_for_rows(
    tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    path = tmp_path / "h.csv"
    _write(path, "timestamp;temp\n")
    src = follow(path)
    src.start()
    assert src.channels is None and src.health().connection == "connecting"
    assert src.read() is None
    _write(
        path,
        "".join(f"2024-03-01T10:00:{i:02d}+01:00;{i},5\n" for i in range(25)),
        "a",
    )
    got = Collected(src)
    got.until(lambda c: c.rows == 25)
    assert src.channels == ("temp",) and src.time_kind == "datetime"
    assert got.data[3, 0] == pytest.approx(3.5)
    assert got.time[0] == pytest.approx(1709283600.0)  # 09:00:00 UTC
    assert src.options is not None and src.options.decimal == ","


def test_missing_file_or_unreadable_head_raises(
    tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    with pytest.raises(SourceError, match="file not found"):
        follow(tmp_path / "nope.csv").start()
    with pytest.raises(SourceError, match="file not found"):
        open_source(tmp_path / "nope.csv").start()
    with pytest.raises(SourceError, match="does not apply to a CSV file"):
        open_source(tmp_path / "nope.csv", topics=("#",))
    binary = tmp_path / "bin.csv"
    binary.write_bytes(bytes(range(256)) * 400)
    with pytest.raises(SourceError, match="binary"):
        follow(binary).start()


def test_follows_a_skab_file_as_it_is_written(
    skab_dir: Path, tmp_path: Path, follow: Callable[..., CsvFollower]
) -> None:
    """A real SKAB file (";"-separated, date-time index, label columns) written in pieces
    of whole and cut lines reads as its import does."""
    source = skab_dir / "valve1" / "0.csv"
    blob = source.read_bytes()
    path = tmp_path / source.name
    path.write_bytes(blob[:3000])
    src = follow(path)
    src.start()
    got = Collected(src)
    for cut in range(3000, len(blob), 7919):  # a prime step: pieces end mid-line
        with path.open("ab") as fh:
            fh.write(blob[cut : cut + 7919])
        got.poll()
    offline = load_recording(source)
    got.until(lambda c: c.rows == offline.n_rows)
    assert src.channels == offline.channels
    assert src.time_kind == offline.time_kind
    assert offline.time is not None
    np.testing.assert_array_equal(got.time, offline.time)
    np.testing.assert_array_equal(got.data, offline.data)
    assert src.health().problems == 0
