"""The live engine: buffer, incremental scan, live events, recorder and ``LiveMonitor``.

The central claim (issue 15's exactness): a session fed in uneven chunks gives the per-row
outputs and events of an offline ``scan(..., ScanOptions(stride=1))`` of the recorded file
read back by the importer. Models are small random networks (as in test_scan), so the
tests run in well under a second each.
"""

from __future__ import annotations

import csv
import dataclasses
import threading
import time as time_module
from collections import deque
from pathlib import Path

import numpy as np
import pytest
import torch

from faultlens.core.checkpoint import TrainedModel
from faultlens.core.errors import ChannelMismatchError
from faultlens.core.events import detect_events, find_stretches
from faultlens.core.io import load_recording
from faultlens.core.live.buffer import RowBuffer
from faultlens.core.live.live_events import LiveEventTracker
from faultlens.core.live.monitor import LiveMonitor, LiveOptions, LiveUpdate
from faultlens.core.live.source import Source, SourceChunk, SourceError, SourceHealth
from faultlens.core.model import AttentionLSTM, ModelConfig
from faultlens.core.options import ScanOptions
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording, TimeKind
from faultlens.core.scan import ScanResult, scan
from faultlens.core.windows import REFERENCE_ROWS

CHANNELS = ("a", "b", "c")


class ListSource:
    """An in-memory ``Source``: the test pushes chunks, each ``read`` hands over one."""

    def __init__(
        self,
        channels: tuple[str, ...] | None = CHANNELS,
        time_kind: TimeKind = "seconds",
    ) -> None:
        self._channels = channels
        self._time_kind: TimeKind = time_kind
        self.chunks: deque[SourceChunk] = deque()
        self.started = False
        self.closed = False
        self._rows = 0

    @property
    def description(self) -> str:
        return "test source"

    @property
    def channels(self) -> tuple[str, ...] | None:
        return self._channels

    @property
    def time_kind(self) -> TimeKind:
        return self._time_kind

    def push(self, time: np.ndarray, values: np.ndarray) -> None:
        self.chunks.append(
            SourceChunk(np.asarray(time, np.float64), np.asarray(values, np.float32))
        )

    def start(self) -> None:
        self.started = True

    def read(self) -> SourceChunk | None:
        if not self.chunks:
            return None
        chunk = self.chunks.popleft()
        self._rows += chunk.n_rows
        return chunk

    def health(self) -> SourceHealth:
        return SourceHealth(connection="connected", rows=self._rows)

    def close(self) -> None:
        self.closed = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def random_model(
    window: int = 12,
    relative: bool = False,
    reference: str = "start",
    classes: tuple[str, ...] = ("normal", "x", "y"),
    feature_scales: tuple[int, ...] = (),
    seed: int = 0,
) -> TrainedModel:
    torch.manual_seed(seed)
    config = ModelConfig(
        n_channels=len(CHANNELS),
        n_classes=len(classes),
        hidden=8,
        heads=2,
        relative_inputs=relative,
        reference=reference,
        feature_scales=feature_scales,
    )
    module = AttentionLSTM(config).eval()
    size = config.input_size
    return TrainedModel(
        module=module,
        config=config,
        channels=CHANNELS,
        class_names=classes,
        norm_mean=np.zeros(size, np.float32),
        norm_std=np.ones(size, np.float32),
        window=window,
        stride=4,
    )


def signal(n: int, seed: int = 1) -> np.ndarray:
    """(n, 3) float32 with a level shift in the middle, so a model's outputs move."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n, len(CHANNELS))).astype(np.float32)
    data[n // 3 : n // 2] += 3.0
    data[rng.random(n) < 0.01, 1] = np.nan  # missing values go through the file as gaps
    return data


def threshold_for_events(model: TrainedModel, data: np.ndarray) -> float:
    """A threshold at the 70th percentile of the model's fault probability on ``data``, so
    the random model flags stretches (events) to compare."""
    rec = Recording.from_arrays(data, CHANNELS)
    result = run_to_end(scan(model, rec, ScanOptions(stride=1, device="cpu", attribute=False)))
    return float(np.nanpercentile(result.fault_probability, 70))


def feed(
    monitor: LiveMonitor,
    source: ListSource,
    time: np.ndarray,
    data: np.ndarray,
    sizes: list[int],
    seen: list[set[int]] | None = None,
) -> list[LiveUpdate]:
    """Push ``data`` in chunks of ``sizes`` (cycled), polling after each (``seen``: the start
    rows of ``monitor.events()`` after each poll)."""
    updates = []
    i = 0
    k = 0
    while i < len(data):
        size = sizes[k % len(sizes)]
        source.push(time[i : i + size], data[i : i + size])
        updates.append(monitor.poll())
        if seen is not None:
            seen.append({e.start_row for e in monitor.events()})
        i += size
        k += 1
    return updates


def settle(monitor: LiveMonitor, timeout: float = 30.0) -> list[LiveUpdate]:
    """Poll (no new rows) until every closed event's channels are known and reported."""
    updates = []
    deadline = time_module.monotonic() + timeout
    while monitor.pending_channels:
        assert time_module.monotonic() < deadline, "the channels of a closed event never came"
        updates.append(monitor.poll())
        time_module.sleep(0.005)  # the attribution thread works meanwhile
    return updates


def offline(
    model: TrainedModel, path: Path, options: ScanOptions = ScanOptions()
) -> tuple[Recording, ScanResult]:
    """The recorded file read back by the importer and scanned offline (stride 1)."""
    rec = load_recording(path)
    options = dataclasses.replace(options, stride=1, device="cpu")
    return rec, run_to_end(scan(model, rec, options))


def assert_outputs_equal(live, result: ScanResult, rows: int | None = None) -> None:
    n = result.n_rows if rows is None else rows
    np.testing.assert_allclose(
        live.probabilities[:n], result.probabilities[:n], atol=1e-5, equal_nan=True
    )
    np.testing.assert_allclose(
        live.fault_probability[:n], result.fault_probability[:n], atol=1e-5, equal_nan=True
    )
    np.testing.assert_array_equal(live.predicted[:n], result.predicted[:n])


def assert_explanations_equal(live, result: ScanResult) -> None:
    np.testing.assert_allclose(live.attention, result.attention, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(
        live.attention_heads, result.attention_heads, atol=1e-5, equal_nan=True
    )
    np.testing.assert_allclose(live.hotspots, result.hotspots, atol=1e-5, equal_nan=True)


def assert_events_equal(live, expected) -> None:
    """Equal events: rows, times, class and channels exactly; the probabilities up to float32
    rounding (the live scan's forward passes batch other windows together)."""
    assert len(live) == len(expected)
    for a, b in zip(live, expected, strict=True):
        close = {"peak_probability", "mean_probability", "channel_scores"}
        assert dataclasses.replace(a, **{k: getattr(b, k) for k in close}) == b
        assert a.peak_probability == pytest.approx(b.peak_probability, abs=1e-5)
        assert a.mean_probability == pytest.approx(b.mean_probability, abs=1e-5)
        np.testing.assert_allclose(a.channel_scores, b.channel_scores, atol=1e-4)


def event_rows(events) -> list[tuple[int, int]]:
    return [(e.start_row, e.end_row) for e in events]


# --- buffer


def test_buffer_grows_by_doubling_and_keeps_rows() -> None:
    buffer = RowBuffer(2)
    arrays_seen = set()
    for i in range(5000):
        first, k = buffer.append(np.array([float(i)]), np.array([[i, -i]], np.float32))
        assert (first, k) == (i, 1)
        arrays_seen.add(id(buffer._state[1]))
    time, data, n = buffer.arrays()
    assert n == 5000 and time.shape == (5000,) and data.shape == (5000, 2)
    np.testing.assert_array_equal(data[:, 0], np.arange(5000))
    np.testing.assert_array_equal(time, np.arange(5000))
    # 1024 -> 2048 -> 4096 -> 8192: a handful of reallocations, not one per append.
    assert len(arrays_seen) <= 5
    with pytest.raises(ValueError, match="channels"):
        buffer.append(np.zeros(1), np.zeros((1, 3), np.float32))


def test_buffer_reader_thread_sees_consistent_rows() -> None:
    """A reader on another thread always sees time and data of the same rows, of the
    announced count, while the writer appends and the arrays grow."""
    buffer = RowBuffer(1)
    done = threading.Event()
    problems: list[str] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not done.is_set():
            time, data, n = buffer.arrays()
            reads += 1
            if len(time) != n or len(data) != n:
                problems.append(f"lengths {len(time)}, {len(data)} != {n}")
            elif n and not (time[-1] == n - 1 and data[-1, 0] == n - 1):
                problems.append(f"last row {time[-1]}, {data[-1, 0]} at n={n}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for start in range(0, 30_000, 7):
            rows = np.arange(start, start + 7, dtype=np.float64)
            buffer.append(rows, rows[:, None].astype(np.float32))
    finally:
        done.set()
        thread.join()
    assert not problems, problems[:3]
    assert reads > 0


# --- live events


@pytest.mark.parametrize("min_rows,gap", [(1, 0), (3, 2), (5, 10), (2, 1)])
def test_event_tracker_equals_find_stretches_and_opens_and_closes_on_time(
    min_rows: int, gap: int
) -> None:
    rng = np.random.default_rng(min_rows * 10 + gap)
    # Runs of faults of random lengths with random gaps, and NaN rows at the start.
    fp = np.where(rng.random(3000) < 0.5, 0.2, 0.9).astype(np.float32)
    fp = np.repeat(fp[:300], rng.integers(1, 15, 300))[:3000].astype(np.float32)
    fp[:11] = np.nan
    expected = find_stretches(fp, 0.5, min_rows, gap)
    assert len(expected) > 5
    tracker = LiveEventTracker(0.5, min_rows, gap)
    opened_at: dict[int, int] = {}  # start row -> rows scored when it opened
    closed: list[tuple[int, int]] = []
    closed_at: dict[int, int] = {}
    scored = 0
    while scored < len(fp):
        scored = min(len(fp), scored + int(rng.integers(1, 40)))
        opened_now, closed_now = tracker.update(fp, scored)
        for s, e in opened_now:
            opened_at[s] = scored
            assert e - s + 1 >= min_rows and e < scored
        for s, _ in closed_now:
            closed_at[s] = scored
        closed += closed_now
    _, last = tracker.finish()
    assert closed + last == expected
    flagged = fp >= 0.5
    for s, e in expected:
        # It opened in the update that scored the row where its stretch reached min_rows
        # rows (the first flagged row from which the stretch, merged so far, is long enough).
        reach = next(r for r in range(s, e + 1) if flagged[r] and r - s + 1 >= min_rows)
        assert opened_at[s] > reach
        assert opened_at[s] - reach <= 40
        if (s, e) in closed:
            # Closed once max(gap, 1) unflagged rows after its end were scored.
            assert closed_at[s] >= e + 1 + max(gap, 1)
            assert closed_at[s] - (e + 1 + max(gap, 1)) < 40


# --- the monitor, exactness


def test_live_equals_offline_in_uneven_chunks(tmp_path: Path) -> None:
    model = random_model(feature_scales=(4,))
    data = signal(900)
    time = np.arange(900) * 0.5
    threshold = threshold_for_events(model, data)
    options = LiveOptions(ScanOptions(threshold=threshold, device="cpu", min_duration_rows=3))
    source = ListSource()
    assert isinstance(source, Source)
    path = tmp_path / "live.csv"
    monitor = LiveMonitor(source, model, path, options)
    monitor.start()
    assert source.started
    seen: list[set[int]] = []
    updates = feed(monitor, source, time, data, [1, 7, 300, 2, 45, 11], seen)
    # Each poll appends exactly the pushed rows and scores every full window up to them.
    assert [u.first_row for u in updates[:4]] == [0, 1, 8, 308]
    assert all(u.behind_rows == 0 for u in updates)
    assert updates[-1].scored_rows == 900
    live_outputs = monitor.outputs()
    assert live_outputs is not None and live_outputs.scored_rows == 900
    still_open = monitor.open_events()
    reported = [*updates, *settle(monitor)]  # closed events come with their channels
    live_closed = [e for u in reported for e in u.closed]
    live_opened = [e for u in updates for e in u.opened]
    assert monitor.events() == tuple(live_closed)

    result = monitor.stop()
    assert source.closed
    rec, expected = offline(model, path, options.scan)
    assert rec.channels == CHANNELS  # the predicted column is neither a channel nor labels
    assert rec.labels is None
    np.testing.assert_array_equal(rec.data, data)
    np.testing.assert_array_equal(rec.time, time)
    assert_outputs_equal(live_outputs, expected)
    assert np.isnan(live_outputs.fault_probability[: model.window - 1]).all()
    assert_explanations_equal(monitor.outputs(), expected)

    scan_result = result.scan
    assert scan_result is not None
    assert scan_result.stride == 1 and scan_result.window == model.window
    assert scan_result.model is model and scan_result.model_fingerprint == model.fingerprint
    assert scan_result.options.threshold == threshold
    assert_outputs_equal(scan_result, expected)
    assert_explanations_equal(scan_result, expected)
    assert result.record_path == path and result.recording.path == path
    assert result.recording.content_hash == rec.content_hash

    offline_events = detect_events(expected, rec, expected.options)
    assert len(offline_events) >= 3, "the threshold should give events to compare"
    assert_events_equal(result.events, offline_events)
    assert scan_result.events == result.events
    # Live: every event opened once, closed ones are final (channels included), and the
    # one running at stop (if any) is the last.
    assert [e.start_row for e in live_opened] == [e.start_row for e in offline_events]
    assert_events_equal(live_closed, offline_events[: len(live_closed)])
    assert len(live_closed) + len(still_open) == len(offline_events)
    # Each event opened in the poll that scored the row where its stretch reached the
    # minimum duration, and closed (in ``events()``, its channels a poll or more later) in
    # the poll that scored the merge gap's last row after it.
    flagged = expected.fault_probability >= threshold
    gap = max(options.scan.merge_gap_rows, 1)
    spans = [
        (0 if i == 0 else updates[i - 1].scored_rows, u.scored_rows) for i, u in enumerate(updates)
    ]
    for event in offline_events:
        s, e = event.start_row, event.end_row
        reach = next(r for r in range(s, e + 1) if flagged[r] and r - s + 1 >= 3)
        (opened_in,) = [i for i, u in enumerate(updates) for x in u.opened if x.start_row == s]
        assert spans[opened_in][0] <= reach < spans[opened_in][1]
        closed_in = [i for i, rows in enumerate(seen) if s in rows]
        if closed_in:
            assert spans[closed_in[0]][0] < e + 1 + gap <= spans[closed_in[0]][1]
        else:
            assert 900 - (e + 1) < gap  # still running at the end: too few rows after it
    # The predicted column holds each row's class name (empty before the first window).
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time", *CHANNELS, "predicted_class"]
    names = np.array([*expected.class_names, ""], dtype=object)
    np.testing.assert_array_equal(
        [r[-1] for r in rows[1:]], names[np.asarray(expected.predicted, dtype=np.int64)]
    )


def test_start_reference_model_waits_for_its_rows_then_is_exact(tmp_path: Path) -> None:
    model = random_model(relative=True, reference="start", window=16)
    n = REFERENCE_ROWS + 200
    data = signal(n, seed=3) + 10.0  # deviations from the start's median matter
    time = np.arange(n, dtype=np.float64)
    source = ListSource()
    monitor = LiveMonitor(source, model, tmp_path / "s.csv", LiveOptions(ScanOptions(device="cpu")))
    monitor.start()
    updates = feed(monitor, source, time, data, [50])
    waiting = [u for u in updates if u.first_row + u.new_rows < REFERENCE_ROWS]
    assert waiting and all(u.scored_rows == 0 for u in waiting)
    assert all(u.behind_rows == u.first_row + u.new_rows for u in waiting)
    assert updates[-1].scored_rows == n and updates[-1].behind_rows == 0
    live = monitor.outputs()
    assert live is not None and not live.provisional
    monitor.stop()
    _, expected = offline(model, tmp_path / "s.csv")
    assert_outputs_equal(live, expected)


def test_start_reference_model_stopped_before_its_reference_rows(tmp_path: Path) -> None:
    """Stopped with fewer than 256 rows, the reference is the median of the rows there are,
    as the offline scan of so short a file takes it."""
    model = random_model(relative=True, reference="start")
    data = signal(100, seed=14) + 5.0
    source = ListSource()
    monitor = LiveMonitor(source, model, tmp_path / "e.csv", LiveOptions(ScanOptions(device="cpu")))
    monitor.start()
    assert feed(monitor, source, np.arange(100.0), data, [40])[-1].scored_rows == 0
    result = monitor.stop()
    _, expected = offline(model, tmp_path / "e.csv")
    assert result.scan is not None
    assert_outputs_equal(result.scan, expected)
    assert_outputs_equal(monitor.outputs(), expected)  # scored live at stop, not rescanned


def test_median_reference_model_is_provisional_live_and_exact_at_stop(tmp_path: Path) -> None:
    model = random_model(relative=True, reference="median")
    n = REFERENCE_ROWS + 300
    data = signal(n, seed=4)
    data[REFERENCE_ROWS:] += 2.0  # the whole-recording median differs from the start's
    source = ListSource()
    monitor = LiveMonitor(source, model, tmp_path / "m.csv", LiveOptions(ScanOptions(device="cpu")))
    monitor.start()
    updates = feed(monitor, source, np.arange(n, dtype=np.float64), data, [100])
    assert updates[-1].scored_rows == n
    live = monitor.outputs()
    assert live is not None and live.provisional
    assert any("provisional" in note for note in updates[-1].health.notes)
    result = monitor.stop()
    rec, expected = offline(model, tmp_path / "m.csv")
    assert result.scan is not None
    assert_outputs_equal(result.scan, expected)
    assert_explanations_equal(result.scan, expected)
    assert_events_equal(result.events, detect_events(expected, rec, expected.options))
    # The file's predicted column was rewritten to the final scan's classes.
    assert result.recording.content_hash == rec.content_hash
    with open(tmp_path / "m.csv", newline="") as fh:
        cells = [r[-1] for r in list(csv.reader(fh))[1:]]
    names = np.array([*expected.class_names, ""], dtype=object)
    np.testing.assert_array_equal(cells, names[np.asarray(expected.predicted, dtype=np.int64)])


def test_catch_up_scores_a_backlog_over_several_capped_polls(tmp_path: Path) -> None:
    model = random_model()
    n = 5000
    data = signal(n, seed=5)
    source = ListSource()
    options = LiveOptions(ScanOptions(device="cpu"), max_windows_per_poll=700)
    monitor = LiveMonitor(source, model, tmp_path / "c.csv", options)
    monitor.start()
    source.push(np.arange(n, dtype=np.float64), data)
    updates = [monitor.poll()]
    while updates[-1].behind_rows:
        before = monitor._scanner.windows  # type: ignore[union-attr]
        updates.append(monitor.poll())
        assert monitor._scanner.windows - before <= 700  # type: ignore[union-attr]
        assert len(updates) < 200
    assert updates[0].new_rows == n
    assert model.window - 1 < updates[0].scored_rows <= 700 + model.window - 1
    behind = [u.behind_rows for u in updates]
    assert behind == sorted(behind, reverse=True) and behind[-1] == 0
    # 700 windows a poll, fewer when the poll's scoring time ran out first (busy machine).
    assert len(updates) >= -(-(n - model.window + 1) // 700)
    live = monitor.outputs()
    monitor.stop()
    _, expected = offline(model, tmp_path / "c.csv")
    assert_outputs_equal(live, expected)
    assert_explanations_equal(monitor.outputs(), expected)


# --- the recording file


def test_recorder_flushes_after_the_interval_with_an_injected_clock(tmp_path: Path) -> None:
    model = random_model()
    clock = FakeClock()
    path = tmp_path / "f.csv"
    source = ListSource()
    options = LiveOptions(ScanOptions(device="cpu"), flush_interval_s=1.0)
    monitor = LiveMonitor(source, model, path, options, clock=clock)
    monitor.start()
    assert path.read_text() == "time,a,b,c,predicted_class\n"
    data = signal(40, seed=6)
    source.push(np.arange(20, dtype=np.float64), data[:20])
    monitor.poll()
    clock.now += 0.5
    monitor.poll()
    assert path.read_text().count("\n") == 1  # not flushed yet: the interval has not passed
    clock.now += 0.6
    monitor.poll()
    rec = load_recording(path)  # readable while the session runs
    assert rec.n_rows == 20
    np.testing.assert_array_equal(rec.data, data[:20])
    source.push(np.arange(20, 40, dtype=np.float64), data[20:])
    monitor.poll()
    assert load_recording(path).n_rows == 20
    clock.now += 1.0
    monitor.poll()
    assert load_recording(path).n_rows == 40
    monitor.stop()


def test_rows_waiting_for_their_score_are_written_within_the_interval(tmp_path: Path) -> None:
    """A start-reference model scores nothing before 256 rows; the rows still reach the
    file within the flush interval (without a class), and stop fills the classes in."""
    model = random_model(relative=True, reference="start")
    clock = FakeClock()
    path = tmp_path / "w.csv"
    source = ListSource()
    monitor = LiveMonitor(source, model, path, LiveOptions(ScanOptions(device="cpu")), clock=clock)
    monitor.start()
    data = signal(300, seed=7)
    source.push(np.arange(100, dtype=np.float64), data[:100])
    assert monitor.poll().scored_rows == 0
    clock.now += 1.0
    monitor.poll()
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    assert len(rows) == 100 and all(r[-1] == "" for r in rows)
    source.push(np.arange(100, 300, dtype=np.float64), data[100:])
    monitor.poll()
    result = monitor.stop()
    _, expected = offline(model, path)
    assert result.scan is not None
    assert_outputs_equal(result.scan, expected)
    with open(path, newline="") as fh:
        cells = [r[-1] for r in list(csv.reader(fh))[1:]]
    assert cells[: model.window - 1] == [""] * (model.window - 1)
    assert all(c in expected.class_names for c in cells[model.window - 1 :])


def test_time_going_backwards_is_kept_counted_and_sorted_at_stop(tmp_path: Path) -> None:
    model = random_model()
    n = 200
    data = signal(n, seed=8)
    time = np.arange(n, dtype=np.float64)
    time[100] = 50.5  # one row goes back in time
    source = ListSource()
    monitor = LiveMonitor(source, model, tmp_path / "t.csv", LiveOptions(ScanOptions(device="cpu")))
    monitor.start()
    updates = feed(monitor, source, time, data, [30, 70, 1, 99])
    assert updates[-1].health.time_backwards == 1
    np.testing.assert_array_equal(monitor.arrays()[0], time)  # kept as received
    result = monitor.stop()
    rec, expected = offline(model, tmp_path / "t.csv")
    assert rec.quality is not None and rec.quality.sorted_by_time
    assert result.scan is not None
    assert_outputs_equal(result.scan, expected)
    assert result.recording.content_hash == rec.content_hash
    np.testing.assert_array_equal(result.recording.time, np.sort(time))


def test_datetime_source_writes_iso_times_that_read_back(tmp_path: Path) -> None:
    model = random_model()
    n = 120
    data = signal(n, seed=9)
    time = 1_765_000_000.0 + np.arange(n) * 0.25
    source = ListSource(time_kind="datetime")
    monitor = LiveMonitor(
        source,
        model,
        tmp_path / "d.csv",
        LiveOptions(ScanOptions(device="cpu", threshold=0.0, min_duration_rows=1)),
    )
    monitor.start()
    updates = feed(monitor, source, time, data, [13])
    opened = [e for u in updates for e in u.opened]
    # The running event follows the rows as they are scored.
    (running,) = monitor.open_events()
    assert (running.start_row, running.end_row) == (model.window - 1, n - 1)
    assert running.end_time == monitor.recording().format_time(n - 1)
    result = monitor.stop()
    assert monitor.open_events() == ()
    with open(tmp_path / "d.csv", newline="") as fh:
        first = list(csv.reader(fh))[1]
    assert first[0] == "2025-12-06T05:46:40.000000"
    rec = load_recording(tmp_path / "d.csv")
    assert rec.time_kind == "datetime"
    np.testing.assert_allclose(rec.time, time, atol=1e-6)
    # Threshold 0 flags every scored row: one event from the first full window to the end,
    # its times written as offline writes them.
    assert [(e.start_row, e.start_time) for e in opened] == [
        (model.window - 1, rec.format_time(model.window - 1))
    ]
    assert event_rows(result.events) == [(model.window - 1, n - 1)]
    assert result.events[0].end_time == rec.format_time(n - 1)


def test_index_source_writes_no_time_column(tmp_path: Path) -> None:
    source = ListSource(time_kind="index")
    model = random_model()
    monitor = LiveMonitor(source, model, tmp_path / "i.csv", LiveOptions(ScanOptions(device="cpu")))
    monitor.start()
    data = signal(60, seed=10)
    feed(monitor, source, np.arange(60, dtype=np.float64), data, [25])
    result = monitor.stop()
    assert (tmp_path / "i.csv").read_text().splitlines()[0] == "a,b,c,predicted_class"
    rec, expected = offline(model, tmp_path / "i.csv")
    assert rec.time is None and result.recording.time_kind == "index"
    assert result.scan is not None
    assert_outputs_equal(result.scan, expected)


def test_no_model_records_without_a_predicted_column(tmp_path: Path) -> None:
    source = ListSource()
    path = tmp_path / "n.csv"
    monitor = LiveMonitor(source, None, path)
    monitor.start()
    data = signal(50, seed=11)
    updates = feed(monitor, source, np.arange(50, dtype=np.float64), data, [20])
    assert monitor.outputs() is None
    assert all(not u.opened and not u.closed for u in updates)
    assert updates[-1].scored_rows == 50 and updates[-1].behind_rows == 0
    assert monitor.n_rows == 50 and monitor.channels == CHANNELS
    snapshot = monitor.recording()
    assert snapshot.n_rows == 50 and snapshot.channels == CHANNELS
    result = monitor.stop()
    assert result.scan is None and result.events == []
    assert path.read_text().splitlines()[0] == "time,a,b,c"
    np.testing.assert_array_equal(result.recording.data, data)
    assert result.recording.content_hash == load_recording(path).content_hash


def test_without_a_file_the_result_is_the_live_recording() -> None:
    model = random_model()
    source = ListSource()
    monitor = LiveMonitor(source, model, None, LiveOptions(ScanOptions(device="cpu")))
    monitor.start()
    data = signal(80, seed=12)
    feed(monitor, source, np.arange(80, dtype=np.float64), data, [33])
    result = monitor.stop()
    assert result.record_path is None and result.scan is not None
    expected = run_to_end(
        scan(model, Recording.from_arrays(data, CHANNELS), ScanOptions(stride=1, device="cpu"))
    )
    assert_outputs_equal(result.scan, expected)
    np.testing.assert_array_equal(result.recording.data, data)


def test_a_missing_model_channel_is_refused_at_start(tmp_path: Path) -> None:
    source = ListSource(channels=("a", "b", "z"))
    monitor = LiveMonitor(source, random_model(), tmp_path / "x.csv")
    with pytest.raises(ChannelMismatchError, match="c"):
        monitor.start()


def test_source_channels_in_another_order_and_channels_learned_late(tmp_path: Path) -> None:
    """The model picks its channels from the source's (another order, one extra); a source
    that names its channels only with its first rows is set up then."""
    model = random_model()
    source = ListSource(channels=None)
    monitor = LiveMonitor(source, model, tmp_path / "o.csv", LiveOptions(ScanOptions(device="cpu")))
    monitor.start()
    assert monitor.channels is None and monitor.poll().new_rows == 0
    source._channels = ("c", "extra", "a", "b")
    data = signal(70, seed=13)
    mixed = np.column_stack([data[:, 2], np.zeros(70), data[:, 0], data[:, 1]])
    feed(monitor, source, np.arange(70, dtype=np.float64), mixed, [9])
    assert monitor.channels == ("c", "extra", "a", "b")
    live = monitor.outputs()
    monitor.stop()
    expected = run_to_end(
        scan(model, Recording.from_arrays(data, CHANNELS), ScanOptions(stride=1, device="cpu"))
    )
    assert_outputs_equal(live, expected)


def test_recorded_values_read_back_as_the_same_float32(tmp_path: Path) -> None:
    """The shortest text of each float32 reads back bit for bit (the exactness of a
    session rests on it); NaN and inf become empty cells (missing)."""
    values = np.array(
        [
            [1e-30, 123456.79, -0.0],
            [3.4e38, -1.17549435e-38, 0.1],
            [np.nan, np.inf, 7.0],
            [np.float32(1) / 3, 2.5e-7, -98765.4321],
        ],
        dtype=np.float32,
    )
    source = ListSource()
    monitor = LiveMonitor(source, None, tmp_path / "v.csv")
    monitor.start()
    feed(monitor, source, np.arange(4, dtype=np.float64) * 0.1, values, [4])
    result = monitor.stop()
    expected = values.copy()
    expected[2, 1] = np.nan  # inf is no measurement
    np.testing.assert_array_equal(result.recording.data, expected)
    np.testing.assert_array_equal(monitor.arrays()[1], expected)  # the buffer agrees
    assert (tmp_path / "v.csv").read_text().splitlines()[3] == "0.2,,,7.0"


def test_importer_never_takes_a_predicted_class_column_as_a_channel(tmp_path: Path) -> None:
    """Class names that are numbers would otherwise make ``predicted_class`` a channel."""
    path = tmp_path / "p.csv"
    path.write_text("time,a,b,predicted_class\n0,1.5,2,\n1,1.6,2,0\n2,1.7,2,1\n")
    rec = load_recording(path)
    assert rec.channels == ("a", "b") and rec.label_column is None
    assert rec.quality is not None and "predicted_class" in rec.quality.excluded_columns


def test_stop_without_rows_or_after_a_channel_mismatch(tmp_path: Path) -> None:
    """A session that received nothing stops into an empty recording (the file holds its
    header); one whose model did not fit the channels stops without a file."""
    source = ListSource()
    monitor = LiveMonitor(source, random_model(), tmp_path / "empty.csv")
    monitor.start()
    assert monitor.poll().new_rows == 0
    result = monitor.stop()
    assert result.recording.n_rows == 0 and result.events == []
    assert result.scan is not None and result.scan.n_rows == 0
    assert (tmp_path / "empty.csv").read_text() == "time,a,b,c,predicted_class\n"
    assert monitor.stop() is result  # idempotent

    late = ListSource(channels=None)
    monitor = LiveMonitor(late, random_model(), tmp_path / "never.csv")
    monitor.start()
    late._channels = ("a", "z")
    with pytest.raises(ChannelMismatchError):
        monitor.poll()
    result = monitor.stop()
    assert late.closed and result.record_path is None and result.recording.n_rows == 0
    assert not (tmp_path / "never.csv").exists()


@pytest.mark.slow
def test_outputs_and_arrays_read_from_another_thread_while_polling() -> None:
    """What a view thread reads is consistent: rows counted as scored hold their outputs
    (the arrays grow while it reads), and arrays() covers at least the rows outputs has."""
    model = random_model()
    source = ListSource()
    monitor = LiveMonitor(source, model, None, LiveOptions(ScanOptions(device="cpu")))
    monitor.start()
    data = signal(1500, seed=15)  # the arrays grow at 1024 rows
    done = threading.Event()
    problems: list[str] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        # Paced like a view's refresh: a loop that never lets go of the GIL would make each
        # of the poll's forward passes wait for it (the test would take a minute).
        while not done.wait(0.0005):
            out = monitor.outputs()
            time, values, n = monitor.arrays()
            if out is None:
                continue
            reads += 1
            scored = out.scored_rows
            fp = out.fault_probability[model.window - 1 : scored]
            if np.isnan(fp).any():
                problems.append(f"NaN among {scored} scored rows")
            if len(out.fault_probability) > n or len(time) != n or len(values) != n:
                problems.append(f"{len(out.fault_probability)} outputs, {n} rows")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        feed(monitor, source, np.arange(1500, dtype=np.float64), data, [1, 5, 230, 17])
    finally:
        done.set()
        thread.join()
    monitor.stop()
    assert not problems, problems[:3]
    assert reads > 0


@pytest.mark.slow
def test_an_ensemble_with_features_and_a_start_reference_live_equals_offline(
    tmp_path: Path,
) -> None:
    """A model shaped as training makes them by default (feature front-end, deviations from
    the start's median, two ensemble members whose hotspots are averaged) on a recording fed
    unevenly: outputs, explanations and events as offline. (Training one here would take
    half a minute on a busy 2-core machine; the weights do not matter for exactness.)"""
    from faultlens.core.model import EnsembleLSTM

    torch.manual_seed(18)
    config = ModelConfig(
        n_channels=3,
        n_classes=3,
        hidden=8,
        heads=2,
        relative_inputs=True,
        reference="start",
        feature_scales=(4, 16),
        members=2,
    )
    model = TrainedModel(
        module=EnsembleLSTM(config).eval(),
        config=config,
        channels=CHANNELS,
        class_names=("normal", "leak", "stuck"),
        norm_mean=np.full(config.input_size, 0.1, np.float32),
        norm_std=np.full(config.input_size, 1.5, np.float32),
        window=16,
        stride=4,
        threshold=0.7,
    )
    n = REFERENCE_ROWS + 150
    data = signal(n, seed=17)
    source = ListSource()
    # (Channel attribution of events is covered above; here it would only add time.)
    threshold = threshold_for_events(model, data)
    scan_options = ScanOptions(device="cpu", threshold=threshold, attribute=False)
    monitor = LiveMonitor(source, model, tmp_path / "ensemble.csv", LiveOptions(scan_options))
    monitor.start()
    feed(monitor, source, np.arange(n, dtype=np.float64), data, [1, 7, 250, 2, 45])
    live = monitor.outputs()
    result = monitor.stop()
    rec, expected = offline(model, tmp_path / "ensemble.csv", scan_options)
    assert_outputs_equal(live, expected)
    assert result.scan is not None
    assert_explanations_equal(result.scan, expected)
    offline_events = detect_events(expected, rec, expected.options)
    assert offline_events
    assert_events_equal(result.events, offline_events)


def test_a_recording_that_cannot_be_written_is_a_clear_source_error(tmp_path: Path) -> None:
    source = ListSource()
    target = tmp_path / "no such folder" / "rec.csv"
    monitor = LiveMonitor(source, None, target)
    with pytest.raises(SourceError, match=r"no such folder.*cannot create the recording"):
        monitor.start()
    result = monitor.stop()
    assert source.closed and result.record_path is None and not target.exists()


def test_rows_without_a_time_take_the_previous_one_so_the_file_reads_back(
    tmp_path: Path,
) -> None:
    source = ListSource()
    monitor = LiveMonitor(source, None, tmp_path / "nt.csv")
    monitor.start()
    time = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.inf])
    updates = feed(monitor, source, time, signal(6, seed=19), [2, 4])
    assert updates[-1].health.bad_values == 4
    assert any("without a time" in note for note in updates[-1].health.notes)
    expected = [1.0, 1.0, 1.0, 1.0, 4.0, 4.0]
    np.testing.assert_array_equal(monitor.arrays()[0], expected)
    result = monitor.stop()
    np.testing.assert_array_equal(result.recording.time, expected)


def test_a_single_channel_without_time_keeps_rows_of_missing_values(tmp_path: Path) -> None:
    """One channel, no clock, no model: a missing value is written as NaN, not as a blank
    line the importer would skip."""
    source = ListSource(channels=("only",), time_kind="index")
    monitor = LiveMonitor(source, None, tmp_path / "one.csv")
    monitor.start()
    values = np.array([[1.5], [np.nan], [2.5]], dtype=np.float32)
    feed(monitor, source, np.arange(3.0), values, [3])
    result = monitor.stop()
    assert (tmp_path / "one.csv").read_text() == "only\n1.5\nNaN\n2.5\n"
    np.testing.assert_array_equal(result.recording.data, values)


@pytest.mark.slow
def test_an_event_closing_does_not_hold_up_the_scoring_of_later_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The occlusion of a closed event runs off the polling thread: here it is held at a gate
    until later rows have been scored, which could not happen if a poll waited for it."""
    import faultlens.core.events as events_module

    model = random_model()
    data = signal(900)
    time = np.arange(900) * 0.5
    threshold = threshold_for_events(model, data)
    options = LiveOptions(ScanOptions(threshold=threshold, device="cpu", min_duration_rows=3))
    gate = threading.Event()
    polling_thread = threading.get_ident()
    calls: list[int] = []
    modules: list[object] = []
    real = events_module.attribute_events

    def gated(*args, **kwargs):
        calls.append(threading.get_ident())
        modules.append(args[0].module)
        assert gate.wait(30), "the test never opened the gate"
        return real(*args, **kwargs)

    monkeypatch.setattr(events_module, "attribute_events", gated)
    source = ListSource()
    monitor = LiveMonitor(source, model, tmp_path / "live.csv", options)
    monitor.start()
    i = 0
    while not monitor.events():  # rows until an event has closed
        assert i < 900, "the threshold should close an event"
        source.push(time[i : i + 10], data[i : i + 10])
        update = monitor.poll()
        assert not update.closed  # not reported before its channels are known
        i += 10
    first = monitor.events()[0]
    assert first.top_channels == () and monitor.pending_channels >= 1
    scored_at_close = update.scored_rows
    source.push(time[i : i + 200], data[i : i + 200])
    later = monitor.poll()  # the attribution is still held at the gate
    assert later.scored_rows == scored_at_close + 200
    assert monitor.pending_channels >= 1 and not later.closed
    assert calls and polling_thread not in calls
    # Its own copy of the module: moving one (module_on) rebuilds an LSTM's flat weights,
    # which the scoring on the polling thread may be reading.
    assert all(m is not model.module for m in modules)
    gate.set()
    reported = [e for u in settle(monitor) for e in u.closed]
    assert reported[0].start_row == first.start_row and reported[0].top_channels
    assert monitor.events()[0] == reported[0]
    feed(monitor, source, time[i + 200 :], data[i + 200 :], [50])
    result = monitor.stop()
    assert monitor.pending_channels == 0
    rec, expected = offline(model, tmp_path / "live.csv", options.scan)
    offline_events = detect_events(expected, rec, expected.options)
    assert_events_equal(result.events, offline_events)
    assert_events_equal(reported[:1], offline_events[:1])  # live channels = offline's


def test_the_scanner_scores_with_its_own_copy_of_the_network(tmp_path: Path) -> None:
    """The shared model object is never moved or set to eval by the live scan (the GUI may scan
    other recordings with it meanwhile: moving an LSTM rebuilds its flat weights under a
    running forward pass), and what someone does to it meanwhile changes nothing live."""
    model = random_model()
    module = model.module
    module.train()  # as a caller might hand it over, and leave it
    before = {k: v.clone() for k, v in module.state_dict().items()}
    data = signal(400)
    time = np.arange(400) * 0.5
    options = LiveOptions(ScanOptions(device="cpu", attribute=False))
    source = ListSource()
    monitor = LiveMonitor(source, model, tmp_path / "live.csv", options)
    monitor.start()
    feed(monitor, source, time[:200], data[:200], [7, 13])
    assert module.training  # untouched: the scan runs on its own copy in eval mode
    feed(monitor, source, time[200:], data[200:], [9, 31])
    live_outputs = monitor.outputs()
    assert live_outputs is not None
    monitor.stop()
    assert module.training
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())
    module.eval()
    _, expected = offline(model, tmp_path / "live.csv", options.scan)
    assert_outputs_equal(live_outputs, expected)
