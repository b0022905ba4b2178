"""A live session: a source's rows buffered, scored, recorded and turned into events.

``LiveMonitor`` is what the GUI's live worker and ``faultlens monitor`` drive: one thread
calls ``poll()`` over and over (each call reads what arrived, appends it to the buffer,
scores at most ``max_windows_per_poll`` windows (and batches for at most ``POLL_SCORING_S``
seconds), writes the recording and reports the
events that opened or closed), other threads read ``arrays()`` / ``outputs()`` for the view.
A poll stays short however much arrived at once: a backlog is scored over several polls
(``LiveUpdate.behind_rows``) in batched forward passes, so the scan catches up instead of
lagging for ever.

Which channels drove an event (occlusion: ``(channels + 1) x 32`` forward passes, ~1 s at 20
channels on a busy CPU) is worked out off the scoring path, on one background thread: an
event that ends is in ``events()`` at once (its ``top_channels`` empty), and is reported in
``LiveUpdate.closed`` by the first poll after its channels are known, with them (usually the
next poll; events are reported in the order they closed). Rows keep being scored meanwhile,
so an event's end no longer delays the rows that arrive after it.

``stop()`` turns the session into an ordinary recording: the recorded file read back by the
importer, with a ``ScanResult`` equal to an offline ``scan(model, recording,
ScanOptions(stride=1, ...))`` of that file and its ``detect_events``. The live outputs are
used as they are when they are exact; when they cannot be (a model whose reference is the
whole recording's median; rows whose time went backwards, which the importer sorts; values
that did not survive the file) the recording is rescanned offline. The file's predicted
column is rewritten then if it differs from the final scan (e.g. rows written before they
were scored, to keep the one-second flush promise while catching up).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import threading
import time as _time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from faultlens.core.events import FaultEvent, build_events, detect_events
from faultlens.core.live.buffer import RowBuffer
from faultlens.core.live.live_events import LiveEventTracker, Stretch
from faultlens.core.live.recorder import CsvRecorder
from faultlens.core.live.scanner import LiveOutputs, LiveScanner
from faultlens.core.live.source import Source, SourceError, SourceHealth
from faultlens.core.options import ScanOptions
from faultlens.core.recording import Recording, TimeKind
from faultlens.core.scan import ScanResult

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel

# Seconds of forward passes a poll makes at most (whole batches, at least one) besides the
# window cap: on a busy CPU 2048 windows of the default model can take seconds, and the view
# and the alarms should not wait that long for the rows that arrived meanwhile.
POLL_SCORING_S = 0.5

__all__ = [
    "LiveMonitor",
    "LiveOptions",
    "LiveOutputs",
    "LiveResult",
    "LiveUpdate",
]


@dataclass(frozen=True)
class LiveOptions:
    """How a live session scans and records. ``scan`` as for an offline scan, but the
    stride is always 1 (each row its own prediction, as soon as it arrives)."""

    scan: ScanOptions = ScanOptions()  # threshold, min duration, merge gap (as offline)
    # Windows scored per poll at most, so one poll stays short; a backlog catches up over
    # several polls (2048 windows: ~0.1-1 s on a CPU for the default model size).
    max_windows_per_poll: int = 2048
    flush_interval_s: float = 1.0  # the recording file is flushed at least this often


@dataclass(frozen=True)
class LiveUpdate:
    first_row: int  # rows appended by this poll: [first_row, first_row + new_rows)
    new_rows: int
    scored_rows: int  # rows [0, scored_rows) have their final per-row outputs
    opened: tuple[FaultEvent, ...]  # events that opened during this poll (still running)
    closed: tuple[FaultEvent, ...]  # events that ended during this poll (final)
    health: SourceHealth  # copy of the source's counters + the monitor's own
    behind_rows: int  # received but not yet scored (catching up)


@dataclass
class LiveResult:
    """What a stopped session leaves: the recording (the recorded file read back when there
    is one), its scan (None without a model) and the scan's events."""

    recording: Recording
    scan: ScanResult | None
    events: list[FaultEvent] = field(default_factory=list)
    record_path: Path | None = None


class LiveMonitor:
    """One live session over ``source`` (see the module docstring). ``poll`` and ``stop``
    belong to one thread; ``arrays``, ``outputs``, ``n_rows``, ``channels`` are safe from
    others. ``clock`` (monotonic seconds) times the flushes; tests pass their own."""

    def __init__(
        self,
        source: Source,
        model: TrainedModel | None = None,
        record_to: Path | None = None,
        options: LiveOptions = LiveOptions(),
        *,
        clock: Callable[[], float] = _time.monotonic,
    ) -> None:
        self.source = source
        self.model = model
        self.record_to = None if record_to is None else Path(record_to)
        self.options = options
        self._clock = clock
        self._buffer: RowBuffer | None = None
        self._channels: tuple[str, ...] | None = None
        self._time_kind: TimeKind = "index"
        self._scanner: LiveScanner | None = None
        self._tracker: LiveEventTracker | None = None
        self._recorder: CsvRecorder | None = None
        self._written = 0  # rows [0, _written) are in the file
        # (end row, clock) of each chunk not yet written whole: when its rows arrived.
        self._arrivals: deque[tuple[int, float]] = deque()
        self._unscored_written = False  # rows went to the file before they were scored
        self._last_time = np.nan  # time of the last row received
        self._time_backwards = 0
        self._missing_times = 0  # rows that came without a time (given the previous one)
        self._events: list[FaultEvent] = []
        self._open: tuple[FaultEvent, ...] = ()
        self._open_rows: Stretch | None = None  # the rows self._open was built from
        # Closed events whose channels are being worked out: (index in _events, future).
        self._attributing: deque[tuple[int, Future[list[FaultEvent]]]] = deque()
        self._attributor: ThreadPoolExecutor | None = None
        # The attribution thread's own copy of the model: moving a module (``module_on``)
        # rebuilds an LSTM's flat weights, which a forward pass on another thread may be
        # reading at that moment.
        self._attribution_model: TrainedModel | None = None
        self._cancel = threading.Event()  # set at stop: pending attributions are not needed
        self._notes: list[str] = []
        self._interval: float | None = None  # sampling interval for live events' durations
        self._interval_rows = 0  # rows it was measured on
        self._started = False
        self._result: LiveResult | None = None

    # --- reading from other threads

    @property
    def channels(self) -> tuple[str, ...] | None:
        return self._channels

    @property
    def n_rows(self) -> int:
        buffer = self._buffer
        return 0 if buffer is None else buffer.n_rows

    @property
    def time_kind(self) -> TimeKind:
        """How ``arrays()``' time is to be read (the source's, once its channels are known)."""
        return self._time_kind

    def arrays(self) -> tuple[np.ndarray, np.ndarray, int]:
        """``(time, data, n)``: views of the rows received so far (time (n,) float64, data
        (n, C) float32 in ``channels`` order), consistent with each other and safe to read
        from another thread while ``poll`` appends (``buffer.RowBuffer``)."""
        buffer = self._buffer
        if buffer is None:
            return np.zeros(0), np.zeros((0, 0), dtype=np.float32), 0
        return buffer.arrays()

    def outputs(self) -> LiveOutputs | None:
        """Per-row outputs so far (``scanner.LiveOutputs``); None without a model or before
        the source's channels are known."""
        scanner = self._scanner
        return None if scanner is None else scanner.outputs()

    def open_events(self) -> tuple[FaultEvent, ...]:
        """The event running now (at most one: a later one opens after it closed)."""
        return self._open

    def events(self) -> tuple[FaultEvent, ...]:
        """The events closed so far, in order (the latest ones' ``top_channels`` may still
        be empty: being worked out, see the module docstring); after ``stop`` the final
        scan's events."""
        return tuple(self._events)

    @property
    def pending_channels(self) -> int:
        """Closed events whose channels are still being worked out (not reported yet)."""
        return len(self._attributing)

    def recording(self) -> Recording:
        """Everything received so far as a Recording (views of the buffer; rows received
        later are not in it). Its ``content_hash`` is of these rows' values."""
        time, data, _ = self.arrays()
        return self._snapshot(time, data)

    def _snapshot(self, time: np.ndarray, data: np.ndarray, hashed: bool = True) -> Recording:
        channels = self._channels or ()
        if data.shape[1] != len(channels):  # no rows yet (no buffer before the channels)
            time, data = np.zeros(0), np.zeros((0, len(channels)), dtype=np.float32)
        digest = hashlib.sha256(np.ascontiguousarray(data).tobytes()) if hashed else None
        return Recording(
            path=self.record_to or Path(self.source.description),
            data=data,
            channels=channels,
            time=None if self._time_kind == "index" else time,
            time_kind=self._time_kind,
            content_hash="" if digest is None else digest.hexdigest(),
        )

    # --- driving (one thread)

    def start(self) -> None:
        """Start the source (raises ``SourceError`` when it cannot be used) and, when it
        knows its channels already, check them against the model (``ChannelMismatchError``)
        and create the recording file."""
        if self._started:
            return
        self.source.start()
        self._started = True
        self._setup()

    def _setup(self) -> None:
        """Buffer, scanner, events and recorder, once the source's channels are known."""
        if self._buffer is not None:
            return
        channels = self.source.channels
        if channels is None:
            return
        self._channels = tuple(channels)
        self._time_kind = self.source.time_kind
        if self.model is not None:
            self._scanner = LiveScanner(
                self.model, self._channels, self.options.scan, self.source.description
            )
            scan = self.options.scan
            self._tracker = LiveEventTracker(
                self._scanner.threshold, scan.min_duration_rows, scan.merge_gap_rows
            )
            if self._scanner.provisional:
                self._notes.append(
                    "the model measures deviations from the whole recording's median, which "
                    "is known only at stop: live outputs use the first rows' median and are "
                    "provisional; the saved scan is exact"
                )
        if self.record_to is not None:
            self._recorder = CsvRecorder(
                self.record_to,
                self._channels,
                self._time_kind,
                None if self.model is None else tuple(self.model.class_names),
                clock=self._clock,
            )
        self._buffer = RowBuffer(len(self._channels))

    def poll(self) -> LiveUpdate:
        """Read what arrived, append it, score at most ``max_windows_per_poll`` windows,
        write the recording (flushed when ``flush_interval_s`` has passed) and report the
        events that opened or closed."""
        if not self._started:
            raise SourceError("the live session was not started; call start() first")
        if self._result is not None:
            raise SourceError("the live session has stopped")
        first, new = self._read()
        return self._work(first, new, self.options.max_windows_per_poll)

    def _read(self) -> tuple[int, int]:
        chunk = self.source.read()
        self._setup()
        buffer = self._buffer
        if chunk is None or chunk.n_rows == 0:
            return self.n_rows, 0
        if buffer is None:
            raise SourceError(
                f"{self.source.description}: rows arrived before the source named its channels"
            )
        values = np.asarray(chunk.values, dtype=np.float32)
        if not np.isfinite(values).all():
            # inf is no measurement: the file holds an empty cell, so the buffer holds NaN.
            values = np.where(np.isfinite(values), values, np.float32(np.nan))
        time = np.asarray(chunk.time, dtype=np.float64)
        if self._time_kind != "index" and not np.isfinite(time).all():
            time = self._fill_times(time)
        steps = np.diff(np.concatenate([[self._last_time], time]))
        self._time_backwards += int(np.count_nonzero(steps < 0))
        self._last_time = float(time[-1])
        first, new = buffer.append(time, values)
        self._arrivals.append((first + new, self._clock()))
        return first, new

    def _fill_times(self, time: np.ndarray) -> np.ndarray:
        """Rows without a time take the previous row's (the first rows the first time
        there is): the file must have a time in every row to read back."""
        ok = np.isfinite(time)
        if np.isfinite(self._last_time):
            start = self._last_time
        elif ok.any():
            start = float(time[ok][0])
        else:
            start = _time.time() if self._time_kind == "datetime" else 0.0
        index = np.maximum.accumulate(np.where(ok, np.arange(len(time)), -1))
        filled = np.where(index >= 0, time[np.maximum(index, 0)], start)
        missing = int(np.count_nonzero(~ok))
        if not self._missing_times:
            self._notes.append(
                "rows without a time take the previous row's time (counted as bad values)"
            )
        self._missing_times += missing
        return filled

    def _work(self, first: int, new: int, max_windows: int | None) -> LiveUpdate:
        """Score (at most ``max_windows``; None: everything, at stop), find events, write."""
        time, data, n = self.arrays()
        scanner, tracker = self._scanner, self._tracker
        opened: list[FaultEvent] = []
        closed: list[FaultEvent] = []
        scored = n
        if scanner is not None and tracker is not None and n:
            if max_windows is None:
                scanner.finish(data)
            else:
                scanner.advance(data, max_windows, POLL_SCORING_S)
            scored = scanner.scored_rows
            opened_rows, closed_rows = tracker.update(scanner.outputs(n).fault_probability, scored)
            if max_windows is None:
                more_opened, more_closed = tracker.finish()
                opened_rows += more_opened
                closed_rows += more_closed
            # At stop the final events (with their channels) come from the final scan.
            attribute = max_windows is not None
            opened, closed = self._make_events(time, data, opened_rows, closed_rows, attribute)
            closed += self._attributed()
        self._write(time, data, scored)
        return LiveUpdate(
            first_row=first,
            new_rows=new,
            scored_rows=scored,
            opened=tuple(opened),
            closed=tuple(closed),
            health=self.health(),
            behind_rows=n - scored,
        )

    def _make_events(
        self,
        time: np.ndarray,
        data: np.ndarray,
        opened_rows: list[Stretch],
        closed_rows: list[Stretch],
        attribute: bool = True,
    ) -> tuple[list[FaultEvent], list[FaultEvent]]:
        scanner, tracker = self._scanner, self._tracker
        assert scanner is not None and tracker is not None
        opened: list[FaultEvent] = []
        closed: list[FaultEvent] = []
        running = tracker.current
        if opened_rows or closed_rows or self._refresh_running(running):
            outputs = scanner.outputs(len(data))
            recording = self._snapshot(time, data, hashed=False)
            # Event durations count one sampling interval: the median step of the rows so
            # far, recomputed when they have doubled (amortised O(1) per row, not O(N) per
            # poll while an event is open; stop's events use the whole recording's).
            if self._interval_rows * 2 <= len(data) or self._interval is None:
                self._interval = recording.sampling_interval
                self._interval_rows = len(data)
            recording.__dict__["sampling_interval"] = self._interval  # the cached_property
            scan = self.options.scan

            def make(
                stretches: list[Stretch], attribute: bool, model: TrainedModel | None = self.model
            ) -> list[FaultEvent]:
                return build_events(
                    recording,
                    outputs.class_names,
                    outputs.probabilities,
                    outputs.fault_probability,
                    stretches,
                    dataclasses.replace(scan, attribute=attribute and scan.attribute),
                    model,
                    self._cancel.is_set,
                )

            # An open event's channels wait for its end (occlusion over its whole course),
            # and a closed one's are worked out on the attribution thread: the rows they
            # read (the buffer's and the scanner's up to now) never change, so it may.
            opened = make(opened_rows, attribute=False)
            closed = make(closed_rows, attribute=False)
            if attribute and scan.attribute and self.model is not None and closed:
                if self._attributor is None:
                    module = copy.deepcopy(self.model.module)
                    self._attribution_model = dataclasses.replace(self.model, module=module)
                    self._attributor = ThreadPoolExecutor(1, "faultlens-attribution")
                for i, stretch in enumerate(closed_rows):
                    job = self._attributor.submit(make, [stretch], True, self._attribution_model)
                    self._attributing.append((len(self._events) + i, job))
                self._events.extend(closed)
                closed = []  # reported once their channels are known
            self._open = tuple(make([running], attribute=False)) if running else ()
            self._open_rows = running
        self._events.extend(closed)
        return opened, closed

    def _attributed(self) -> list[FaultEvent]:
        """Closed events whose channels are known now (in the order they closed): replaced
        in ``events()`` and returned to be reported. One whose attribution failed is reported
        without channels, with a note."""
        done: list[FaultEvent] = []
        while self._attributing and self._attributing[0][1].done():
            index, job = self._attributing.popleft()
            try:
                (event,) = job.result()
            except Exception as err:  # the event stands without its channels
                event = self._events[index]
                note = f"the channels of an event could not be worked out: {err}"
                if note not in self._notes:
                    self._notes.append(note)
            self._events[index] = event
            done.append(event)
        return done

    def _end_attribution(self) -> None:
        """Drop the attributions still pending (the final scan attributes its own events)
        and end the thread (waits for the one running: it stops at its next stretch)."""
        self._cancel.set()
        if self._attributor is not None:
            self._attributor.shutdown(wait=True, cancel_futures=True)
            self._attributor = None
        self._attributing.clear()

    def _refresh_running(self, running: Stretch | None) -> bool:
        """Whether the running event's ``FaultEvent`` needs building again: when it grew,
        but for a long one only once it grew by 1 % (building reads all its rows, so this
        keeps a poll O(new rows) during an event of hours)."""
        if running is None or running == self._open_rows:
            return running is None and self._open_rows is not None
        if self._open_rows is None or self._open_rows[0] != running[0]:
            return True
        built, length = self._open_rows[1] - running[0] + 1, running[1] - running[0] + 1
        return length <= 10_000 or length - built >= built // 100

    def _write(self, time: np.ndarray, data: np.ndarray, scored: int) -> None:
        """Rows scored since the last write go to the file with their predicted class; rows
        still waiting for their score go too (without it) once they have waited
        ``flush_interval_s``, so the file is never more than that behind."""
        recorder = self._recorder
        n = len(data)
        if recorder is None:
            self._written = n
            self._arrivals.clear()
            return
        interval = self.options.flush_interval_s
        upto = max(self._written, min(scored, n))
        if self._arrivals and self._clock() - self._arrivals[0][1] >= interval:
            upto = n  # the oldest unwritten row has waited long enough
        if upto > self._written:
            part = slice(self._written, upto)
            outputs = self.outputs()
            predicted = None
            if outputs is not None:
                predicted = outputs.predicted[part].copy()
                unscored = np.arange(self._written, upto) >= scored
                predicted[unscored] = -1
                self._unscored_written |= bool(unscored.any())
            recorder.write(time[part], data[part], predicted)
            self._written = upto
            while self._arrivals and self._arrivals[0][0] <= upto:
                self._arrivals.popleft()
        recorder.flush_due(interval)

    def health(self) -> SourceHealth:
        """The source's counters and notes plus the monitor's own: rows whose time went
        backwards as the monitor saw them (the larger of the two counts, so a source that
        does not count them is covered), rows without a time (as bad values) and the
        monitor's notes."""
        health = self.source.health()
        health.time_backwards = max(health.time_backwards, self._time_backwards)
        health.bad_values += self._missing_times
        health.notes = [*health.notes, *self._notes]
        return health

    # --- the end

    def stop(self) -> LiveResult:
        """Drain the source, score everything, close the open event, flush and close the
        file, close the source; the session as an ordinary recording (module docstring).
        Idempotent: a second call returns the same result."""
        if self._result is not None:
            return self._result
        try:
            if self._started and self._channels is None:
                self._setup()  # channels never seen yet: the last chance to check them
            # A setup that failed (the model did not fit) raised at a poll: no rows, no file.
            if self._started and self._buffer is not None:
                # Drain: what the source still holds (bounded, in case it never runs dry).
                for _ in range(1000):
                    _, new = self._read()
                    if not new:
                        break
                self._work(self.n_rows, 0, None)
        finally:
            self._end_attribution()
            self.source.close()
        self._open = ()
        if self._recorder is not None:
            self._recorder.close()
        try:
            self._result = self._final()
        finally:
            if self._scanner is not None:
                self._scanner.release()
        if self._result.scan is not None:
            self._events = list(self._result.events)  # the final events, channels included
        return self._result

    def _final(self) -> LiveResult:
        time, data, n = self.arrays()
        recorder = self._recorder
        live_recording = self._snapshot(time, data)
        if recorder is None or n == 0:
            scan = self._final_scan(live_recording, live_recording)
            events = [] if scan is None else list(scan.events)
            record_path = None if recorder is None else recorder.path
            return LiveResult(live_recording, scan, events, record_path)

        from faultlens.core.io import load_recording

        recording = load_recording(recorder.path, recorder.import_options())
        scan = self._final_scan(recording, live_recording)
        if scan is not None:
            # The file's predicted column as the final scan has it (in the file's row order).
            final = scan.predicted
            if recording.quality is not None and recording.quality.sorted_by_time:
                order = np.argsort(time, kind="stable")
                in_file_order = np.empty_like(final)
                in_file_order[order] = final
                final = in_file_order
            outputs = self.outputs()
            assert outputs is not None
            if self._unscored_written or not np.array_equal(outputs.predicted[:n], final):
                recorder.rewrite(time, data, final)
                # Same rows and times (only the predicted column changed): same events.
                recording = load_recording(recorder.path, recorder.import_options())
        events = [] if scan is None else list(scan.events)
        return LiveResult(recording, scan, events, recorder.path)

    def _final_scan(self, recording: Recording, live: Recording) -> ScanResult | None:
        """The final scan of ``recording`` (the file read back, or the live rows): the live
        outputs when they equal the offline scan's, else an offline scan."""
        scanner, model = self._scanner, self.model
        if model is None or scanner is None:
            return None
        options = dataclasses.replace(self.options.scan, stride=1, threshold=scanner.threshold)
        exact = (
            not scanner.provisional
            and recording.n_rows == live.n_rows
            and np.array_equal(recording.data, live.data, equal_nan=True)
        )
        if not exact:
            from faultlens.core.progress import run_to_end
            from faultlens.core.scan import scan

            return run_to_end(scan(model, recording, options))
        out = scanner.outputs(live.n_rows)
        result = ScanResult(
            class_names=out.class_names,
            probabilities=out.probabilities.copy(),
            predicted=out.predicted.copy(),
            fault_probability=out.fault_probability.copy(),
            attention=out.attention.copy(),
            attention_heads=out.attention_heads.copy(),
            hotspots=out.hotspots.copy(),
            options=options,
            model_fingerprint=model.fingerprint,
            device=str(scanner.device),
            window=scanner.window,
            stride=1,
            windows=scanner.windows,
            model=model,
        )
        result.events = detect_events(result, recording, options)
        return result
