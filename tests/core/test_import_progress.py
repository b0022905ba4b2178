"""The import as a progress generator: byte fractions while the fast path reads its ranges,
throttled, never going back, ending at 1; ``Cancelled`` between ranges, with nothing left
running; ``load_recording`` is the same import run to the end."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Generator
from pathlib import Path

import numpy as np
import pytest

from faultlens.core.io import import_recording, load_recording
from faultlens.core.io import pipeline as io_pipeline
from faultlens.core.io import ranges as io_ranges
from faultlens.core.progress import Cancelled, Progress, run_to_end

RANGE_BYTES = 256 << 10


def write_big_csv(path: Path, rows: int = 60_000, stray_row: int | None = None) -> Path:
    """A ~3 MB recording: ISO times, 4 channels, 0/1 labels; optionally stray text in one
    channel far down (which sends the read to the careful path half-way)."""
    t = np.arange(rows)
    stamps = (np.datetime64("2024-01-01T00:00:00", "s") + t).astype(str)
    values = np.round(np.sin(t[:, None] / np.array([50.0, 70.0, 90.0, 110.0])), 5)
    lines = ["time,a,b,c,d,label"]
    for i in range(rows):
        a = "ERR" if i == stray_row else f"{values[i, 0]}"
        rest = ",".join(str(v) for v in values[i, 1:])
        lines.append(f"{stamps[i]},{a},{rest},{i // 1000 % 2}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranges of 256 KB and every report passed on, so a 3 MB file reports a dozen times."""
    monkeypatch.setattr(io_ranges, "RANGE_BYTES", RANGE_BYTES)
    monkeypatch.setattr(io_pipeline, "PROGRESS_INTERVAL_S", 0.0)


def fractions(reports: list[Progress]) -> list[float]:
    return [r.fraction for r in reports]


def test_a_multi_mb_file_reports_monotone_fractions_ending_at_1(
    tmp_path: Path, small_ranges: None, careful_calls: list[set[str]]
) -> None:
    path = write_big_csv(tmp_path / "big.csv")
    size = path.stat().st_size
    assert size > 2 * 1024 * 1024
    reports: list[Progress] = []
    recording = run_to_end(import_recording(path), reports.append)

    assert careful_calls == []  # the fast path read it, range by range
    assert len(reports) >= size // RANGE_BYTES  # 0, one per range but the last, then 1
    assert all(r.total == size and r.message == "Reading big.csv" for r in reports)
    values = fractions(reports)
    assert values[0] == 0.0 and values[-1] == 1.0
    assert all(a < b for a, b in itertools.pairwise(values))
    assert sum(0 < v < 1 for v in values) >= 5
    np.testing.assert_array_equal(recording.data, load_recording(path).data)


def test_reports_are_throttled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(io_ranges, "RANGE_BYTES", RANGE_BYTES)
    monkeypatch.setattr(io_pipeline, "PROGRESS_INTERVAL_S", 3600.0)
    path = write_big_csv(tmp_path / "big.csv")
    reports: list[Progress] = []
    run_to_end(import_recording(path), reports.append)
    # The first range's report passes (nothing was reported yet), then none for an hour.
    assert fractions(reports)[0] == 0.0 and fractions(reports)[-1] == 1.0
    assert len(reports) == 3


def test_the_throttle_passes_at_most_one_report_per_interval() -> None:
    ticks = iter(np.arange(0.0, 100.0, 0.0625))  # a count every 1/16 s of a fake clock

    def counts() -> Generator[int, None, str]:
        yield from range(1, 100)
        return "result"

    gen = io_pipeline._throttled(counts(), 100, "m", interval_s=0.25, clock=lambda: next(ticks))
    reports = []
    while True:
        try:
            reports.append(next(gen))
        except StopIteration as stop:
            assert stop.value == "result"
            break
    assert [r.done for r in reports] == list(range(1, 100, 4))  # 4 a second


def test_progress_never_goes_back_when_the_careful_path_takes_over(
    tmp_path: Path, small_ranges: None, careful_calls: list[set[str]]
) -> None:
    path = write_big_csv(tmp_path / "stray.csv", stray_row=50_000)
    reports: list[Progress] = []
    recording = run_to_end(import_recording(path), reports.append)
    assert careful_calls == [{"a"}]  # the fast path gave up near the end
    values = fractions(reports)
    assert values[0] == 0.0 and values[-1] == 1.0 and sum(0 < v < 1 for v in values) >= 5
    assert all(a < b for a, b in itertools.pairwise(values))
    assert np.isnan(recording.data[50_000, 0])


def test_cancelling_after_the_first_report_raises_cancelled(
    tmp_path: Path, small_ranges: None
) -> None:
    path = write_big_csv(tmp_path / "big.csv")
    threads_before = threading.active_count()
    reports: list[Progress] = []
    with pytest.raises(Cancelled):
        run_to_end(import_recording(path, should_stop=lambda: bool(reports)), reports.append)
    assert fractions(reports) == [0.0]
    assert threading.active_count() == threads_before  # the parser pool has shut down


def test_cancelling_between_ranges_stops_the_read_half_way(
    tmp_path: Path, small_ranges: None
) -> None:
    path = write_big_csv(tmp_path / "big.csv")
    threads_before = threading.active_count()
    reports: list[Progress] = []

    def stop_after_a_range() -> bool:
        return any(r.done > 0 for r in reports)

    with pytest.raises(Cancelled):
        run_to_end(import_recording(path, should_stop=stop_after_a_range), reports.append)
    assert len(reports) == 2 and 0 < reports[-1].fraction < 0.5
    assert threading.active_count() == threads_before


def test_closing_the_generator_half_way_leaves_no_thread(
    tmp_path: Path, small_ranges: None
) -> None:
    path = write_big_csv(tmp_path / "big.csv")
    threads_before = threading.active_count()
    gen = import_recording(path)
    assert next(gen).done == 0
    assert 0 < next(gen).fraction < 1
    gen.close()
    assert threading.active_count() == threads_before


def test_a_whitespace_file_can_be_cancelled_before_its_one_call_read(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_text("a b\n" + "".join(f"{i} {i * 2}\n" for i in range(100)), encoding="utf-8")
    reports: list[Progress] = []
    with pytest.raises(Cancelled):
        run_to_end(import_recording(path, should_stop=lambda: bool(reports)), reports.append)
    reports.clear()
    recording = run_to_end(import_recording(path), reports.append)
    assert fractions(reports) == [0.0, 1.0] and recording.n_rows == 100
