"""File > Monitor Live Source: a live session in the window, from start to an ordinary recording.

One task of kind "live" on the window's task runner (so closing the window is its one
shutdown path too) runs :func:`live_loop` on its own thread: it polls the
:class:`~faultlens.core.live.monitor.LiveMonitor` (source -> rows -> live scan -> recording
file -> events), waits on a stop event when nothing arrives, and hands over what happened
(merged, at most every ``REPORT_INTERVAL_S``, at once when an event opens or closes).

The GUI thread redraws at most every ``REFRESH_MS`` from the monitor's thread-safe views
(``arrays()``, ``outputs()``, ``events()``): a snapshot of the rows so far (views, no copy)
and a live scan go to the session as one recording marked live; the signal view draws only
the rows in view. Events opening raise an alarm (status bar, highlighted table row,
optional beep) until acknowledged. Stop Monitoring drains, scores, flushes and closes on the
worker; the recording then becomes an ordinary one, read back from the recorded file, with
the monitor's final scan.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gc
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QToolBar

from faultlens.core.errors import FaultLensError
from faultlens.core.live.source import Source, SourceError, SourceHealth
from faultlens.core.recording import Recording, TimeKind, median_interval
from faultlens.core.session import LiveState, Session, SessionChange
from faultlens.gui.live_status import (
    FOLLOWING_COLOUR,
    PAUSED_COLOUR,
    STOPPING_COLOUR,
    LiveStatus,
)
from faultlens.gui.tasks import Task, TaskRunner

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.events import FaultEvent
    from faultlens.core.live.monitor import LiveMonitor, LiveOutputs, LiveResult, LiveUpdate
    from faultlens.core.progress import ShouldStop
    from faultlens.core.scan import ScanResult
    from faultlens.gui.main_window import MainWindow

TASK_KIND = "live"
STARTED = "started"  # the loop's first report: the source started
REFRESH_MS = 100  # the view redraws at most this often
REPORT_INTERVAL_S = 0.1  # the loop reports at most this often (at once for events)
POLL_INTERVAL_S = 0.02  # pause between polls that leave nothing to catch up on
IDLE_WAIT_S = 0.05  # pause after a poll that found nothing
RATE_SPAN_S = 5.0  # the rate shown is over this many seconds
INTERVAL_ROWS = 4096  # the sampling interval of a live recording: median over its last rows


def merged(earlier: LiveUpdate, later: LiveUpdate) -> LiveUpdate:
    """Two consecutive polls' updates as one (rows added up, events in order, state of the
    later)."""
    return dataclasses.replace(
        later,
        first_row=earlier.first_row,
        new_rows=earlier.new_rows + later.new_rows,
        opened=earlier.opened + later.opened,
        closed=earlier.closed + later.closed,
    )


def live_loop(
    monitor: LiveMonitor, stop: threading.Event, should_stop: ShouldStop
) -> Generator[object, None, LiveResult]:
    """Start ``monitor`` and poll it until ``stop`` is set, then stop it and return its result
    (the recorded file read back, with its final scan).

    Yields ``STARTED`` once the source has started, then merged ``LiveUpdate``s. A cancel
    (the window closing) still stops the monitor: what was received is flushed to its file.
    """
    try:
        monitor.start()
    except BaseException as err:
        # The source may have opened (the file, the connection) before the monitor refused
        # it (channels the model does not have): release it, nothing else was made.
        with contextlib.suppress(Exception):
            monitor.source.close()
        if isinstance(err, SourceError):
            raise FaultLensError(str(err)) from None
        raise
    try:
        yield STARTED
        pending: LiveUpdate | None = None
        last_report = time.monotonic()
        while not (stop.is_set() or should_stop()):
            update = monitor.poll()
            pending = update if pending is None else merged(pending, update)
            now = time.monotonic()
            if update.opened or update.closed or now - last_report >= REPORT_INTERVAL_S:
                yield pending
                pending, last_report = None, now
            if update.behind_rows == 0:  # caught up: let rows gather
                stop.wait(POLL_INTERVAL_S if update.new_rows else IDLE_WAIT_S)
    except BaseException:
        with contextlib.suppress(Exception):  # the error (or the cancel) is what to report
            monitor.stop()
        raise
    return monitor.stop()


def snapshot(
    path: Path,
    channels: tuple[str, ...],
    time_kind: TimeKind,
    times: np.ndarray,
    data: np.ndarray,
    n: int,
) -> Recording:
    """The rows received so far as a Recording of views (no copy, O(1) but the interval)."""
    recording = Recording(
        path=path,
        data=data[:n],
        channels=channels,
        # Without a time column the axis is the row number (time None), as in the file.
        time=None if time_kind == "index" else times[:n],
        time_kind=time_kind,
    )
    # The sampling interval from the newest rows: the whole recording's median every refresh
    # would cost O(rows) (Recording caches it per object, and every refresh is a new one).
    recent = times[max(n - INTERVAL_ROWS, 0) : n]
    recording.__dict__["sampling_interval"] = median_interval(recent) or 1.0
    return recording


def live_scan(
    model: TrainedModel, outputs: LiveOutputs, events: list[FaultEvent], n: int
) -> ScanResult:
    """The live outputs of the first ``n`` rows as a ScanResult (views, no copy)."""
    from faultlens.core.options import ScanOptions
    from faultlens.core.scan import ScanResult

    return ScanResult(
        class_names=outputs.class_names,
        probabilities=outputs.probabilities[:n],
        predicted=outputs.predicted[:n],
        fault_probability=outputs.fault_probability[:n],
        attention=outputs.attention[:n],
        attention_heads=outputs.attention_heads[:, :n],
        hotspots=outputs.hotspots[:n],
        events=events,
        options=ScanOptions(stride=1, threshold=outputs.threshold),
        model_fingerprint=model.fingerprint,
        window=int(model.window),
        model=model,
    )


class LiveController(QObject):
    """Starts, shows, pauses, acknowledges and stops the window's live session."""

    started = Signal()  # the source started: the dialog can close
    start_failed = Signal(str)  # the source could not start: why
    stopped = Signal()  # the session ended (stopped, failed or cancelled)

    def __init__(self, window: MainWindow, session: Session, tasks: TaskRunner) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.tasks = tasks
        self.monitor: LiveMonitor | None = None
        self.source: Source | None = None
        self.model: TrainedModel | None = None
        self.record_to: Path | None = None
        self.entry_id: int | None = None
        self.beep = False
        self.last_health = SourceHealth()
        self.behind_rows = 0
        self.paused_at_rows = 0  # rows received when following stopped
        self.alarms: dict[int, FaultEvent] = {}  # unacknowledged, by start row
        self._stop = threading.Event()
        self._has_started = False
        self._stopping = False
        self._frozen = False  # gc.freeze() while live (see _show_rows)
        self._events_seen: set[int] = set()  # start rows of every event shown so far
        # Closed count, closed with their channels, running starts.
        self._events_key: tuple[int, int, tuple[int, ...]] = (0, 0, ())
        self._rates: collections.deque[tuple[float, int]] = collections.deque()

        self.status = LiveStatus()
        self.status.acknowledge_requested.connect(self.acknowledge)
        self.status.hide()
        window.statusBar().addPermanentWidget(self.status)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._build_actions()
        window.signal_view.following_changed.connect(self._on_following_changed)
        unsubscribe = session.subscribe(self._on_session_changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        self._update_actions()

    # ------------------------------------------------------------------ actions
    def _build_actions(self) -> None:
        window = self.window
        self.actions: dict[str, QAction] = {}

        def action(key: str, text: str, slot: object, shortcut: str = "", tip: str = "") -> QAction:
            act = QAction(text, window)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            if tip:
                act.setStatusTip(tip)
                act.setToolTip(
                    f"{text.replace('&', '').rstrip('…')} ({shortcut})" if shortcut else tip
                )
            act.triggered.connect(slot)
            window.addAction(act)  # active with the menu closed; Help lists it from there
            self.actions[key] = act
            return act

        self.monitor_action = action(
            "monitor_live",
            "&Monitor Live Source…",
            self.show_dialog,
            "Ctrl+Shift+M",
            "Follow a growing CSV or an MQTT topic, scanning as rows arrive",
        )
        self.pause_action = action(
            "live_pause", "&Pause", self.toggle_pause, "Space", "Stop following the newest rows"
        )
        self.acknowledge_action = action(
            "live_acknowledge",
            "&Acknowledge Alarm",
            self.acknowledge,
            "Ctrl+K",
            "Acknowledge the fault alarm",
        )
        self.stop_action = action(
            "live_stop",
            "&Stop Monitoring",
            self.stop,
            "Ctrl+Shift+X",
            "Stop receiving; keep the recording with its scan and events",
        )
        file_menu = window.menu("File")
        file_menu.insertAction(window.actions["close_recording"], self.monitor_action)
        live = window.menu("Live")
        if "Help" in window.menus:  # Help stays last
            bar = window.menuBar()
            bar.removeAction(live.menuAction())
            bar.insertMenu(window.menus["Help"].menuAction(), live)
        for act in (self.pause_action, self.acknowledge_action, self.stop_action):
            live.addAction(act)
        self.toolbar = QToolBar("Live", window)
        self.toolbar.setObjectName("toolbar_live")
        for act in (self.pause_action, self.acknowledge_action, self.stop_action):
            self.toolbar.addAction(act)
        window.addToolBar(self.toolbar)
        self.toolbar.hide()

    def _update_actions(self) -> None:
        running = self.is_running()
        self.monitor_action.setEnabled(not running)
        live = running and self._has_started and not self._stopping
        self.pause_action.setEnabled(live)
        self.stop_action.setEnabled(live)
        self.acknowledge_action.setEnabled(live and bool(self.alarms))
        following = self.window.signal_view.following
        self.pause_action.setText("&Pause" if following else "&Resume")
        self.pause_action.setStatusTip(
            "Stop following the newest rows" if following else "Jump back to the newest rows"
        )

    # ------------------------------------------------------------------ starting
    def is_running(self) -> bool:
        return self.tasks.is_running(TASK_KIND)

    def show_dialog(self) -> object:
        """File > Monitor Live Source: the dialog that starts a session (non-blocking)."""
        from faultlens.gui.live_dialog import LiveDialog

        dialog = LiveDialog(self.window, self)
        dialog.open()
        return dialog

    def start(
        self,
        source: Source,
        *,
        model: TrainedModel | None = None,
        record_to: Path | None = None,
        window_s: float = 600.0,
        beep: bool = False,
    ) -> Task | None:
        """Monitor ``source`` (scanning with ``model`` when given, writing ``record_to``).

        ``started`` or ``start_failed(message)`` follows once the source has started or
        could not. None when a live session runs already.
        """
        from faultlens.core.live.monitor import LiveMonitor

        if self.is_running():
            return None
        self.monitor = LiveMonitor(source, model=model, record_to=record_to)
        self.source, self.model, self.record_to, self.beep = source, model, record_to, beep
        self.entry_id = None
        self.alarms = {}
        self.last_health = SourceHealth()
        self.behind_rows = 0
        self._has_started = self._stopping = False
        self._events_seen = set()
        self._events_key = (0, 0, ())
        self._rates.clear()
        self._stop = threading.Event()
        self.window.signal_view.live_window = float(window_s)
        self.window.signal_view.following = True
        monitor, stop = self.monitor, self._stop

        def factory(should_stop: ShouldStop) -> Generator[object, None, LiveResult]:
            return live_loop(monitor, stop, should_stop)

        task = self.tasks.start(
            TASK_KIND,
            factory,
            f"Live monitoring of {source.description}",
            progress=self._on_progress,
            finished=self._on_finished,
            failed=self._on_failed,
            cancelled=self._on_cancelled,
            done=self._on_done,
        )
        self.status.set_mode("● LIVE  connecting…", STOPPING_COLOUR)
        self.status.set_alarm("")
        self.status.show()
        self._update_actions()
        return task

    # ------------------------------------------------------------------ while running
    def _on_progress(self, report: object) -> None:
        if report == STARTED:
            self._has_started = True
            self.toolbar.show()
            self._show_mode()
            self._update_actions()
            self.started.emit()
            return
        # Events are read from the monitor at the refresh (the same state as the rows shown),
        # not from the reports, which may arrive later than the rows they describe.
        update: LiveUpdate = report  # type: ignore[assignment]
        self.last_health = update.health
        self.behind_rows = update.behind_rows
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def refresh(self) -> None:
        """Hand the session the rows and live scan so far, and update the status bar."""
        monitor, source = self.monitor, self.source
        if monitor is None or source is None:
            return
        times, data, n = monitor.arrays()
        channels = monitor.channels
        now = time.monotonic()
        self._rates.append((now, n))
        while self._rates and now - self._rates[0][0] > RATE_SPAN_S:
            self._rates.popleft()
        outputs = monitor.outputs()
        if outputs is not None:  # as of now: the last report may be older than a long poll
            self.behind_rows = max(n - outputs.scored_rows, 0)
        if channels is not None and n >= 2:
            self._show_rows(monitor, source, channels, times, data, n)
        self.status.set_health(self.last_health, n, self.rate(), self.behind_rows)
        self._show_mode()
        self._update_actions()

    def _show_rows(
        self,
        monitor: LiveMonitor,
        source: Source,
        channels: tuple[str, ...],
        times: np.ndarray,
        data: np.ndarray,
        n: int,
    ) -> None:
        path = self.record_to if self.record_to is not None else Path(source.description)
        running, closed = monitor.open_events(), monitor.events()
        scan = None
        outputs = monitor.outputs()
        if self.model is not None and outputs is not None:
            # Rows the scanner has seen (a poll appends, then scores): one poll behind at most.
            n = min(n, len(outputs.fault_probability))
            events = sorted([*closed, *running], key=lambda e: e.start_row)
            scan = live_scan(self.model, outputs, events, n)
            self._raise_alarms(events)
        if n < 2:
            return
        recording = snapshot(path, channels, monitor.time_kind, times, data, n)
        state = LiveState(
            source.description,
            frozenset(e.start_row for e in running),
            frozenset(self.alarms),
        )
        # A closed event's channels arrive a poll or so after it closed (monitor.py).
        attributed = sum(1 for e in closed if e.top_channels)
        key = (len(closed), attributed, tuple(e.start_row for e in running))
        # Only a new or ending event scrolls the table (scrollTo costs ~10 ms a call).
        new_event = (key[0], key[2]) != (self._events_key[0], self._events_key[2])
        changed, self._events_key = key != self._events_key, key
        if self.entry_id is None:
            self.entry_id = self.session.add(recording, live=state).id
            changed = True
            if not self._frozen:
                # A live session allocates all the time, and each full collection walked every
                # object of the app (Qt wrappers, pyqtgraph items, torch modules): ~150 ms on
                # a busy 2-core machine, a stall about every second while a backlog was read.
                # What exists now (the window, the new plots) is left out of collections while
                # live (gc.freeze); _on_done hands it back.
                gc.freeze()
                self._frozen = True
        elif self.entry_id not in self.session.ids:
            return  # closed by the user: stopping
        self.session.update_live(self.entry_id, recording, scan, events_changed=changed)
        self.session.set_live_state(self.entry_id, state)
        self._show_alarm()
        if new_event and scan is not None and self.session.current_id == self.entry_id:
            self._reveal_newest(scan)

    def _reveal_newest(self, scan: ScanResult) -> None:
        """Scroll the event table to the newest event (without selecting it: a selection
        zooms the view to the event, which would stop following)."""
        from faultlens.gui.event_model import index_of_event

        if scan.events:
            newest = max(range(len(scan.events)), key=lambda i: scan.events[i].start_row)
            index = index_of_event(self.window.sorted_events, newest)
            if index.isValid():
                self.window.event_table.scrollTo(index)

    def _raise_alarms(self, events: list[FaultEvent]) -> None:
        """An alarm for every event not seen before (running or already closed: a short one
        may open and close between two refreshes); kept current until acknowledged."""
        new = [e for e in events if e.start_row not in self._events_seen]
        for event in events:
            if event.start_row in self.alarms or event in new:
                self.alarms[event.start_row] = event
        self._events_seen.update(e.start_row for e in new)
        if new and self.beep:
            QApplication.beep()

    def rate(self) -> float:
        """Rows per second over the last few seconds."""
        if len(self._rates) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._rates[0], self._rates[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def rows(self) -> int:
        return self.monitor.n_rows if self.monitor is not None else 0

    def _show_mode(self) -> None:
        if self._stopping:
            self.status.set_mode("● STOPPING  saving…", STOPPING_COLOUR)
        elif not self._has_started:
            self.status.set_mode("● LIVE  connecting…", STOPPING_COLOUR)
        elif self.window.signal_view.following:
            self.status.set_mode("● LIVE  following", FOLLOWING_COLOUR)
        else:
            since = max(self.rows - self.paused_at_rows, 0)
            self.status.set_mode(f"❚❚ PAUSED  {since:,} new rows", PAUSED_COLOUR)

    def _show_alarm(self) -> None:
        if not self.alarms:
            self.status.set_alarm("")
            return
        latest = max(self.alarms.values(), key=lambda e: e.start_row)
        more = f" (+{len(self.alarms) - 1} more)" if len(self.alarms) > 1 else ""
        self.status.set_alarm(f"⚠ ALARM  {latest.class_name} at {latest.start_time}{more}")

    def toggle_pause(self) -> None:
        """Pause following the newest rows, or resume (jump back to now)."""
        view = self.window.signal_view
        view.set_following(not view.following)

    def _on_following_changed(self, following: bool) -> None:
        if not following:
            self.paused_at_rows = self.rows
        if self.is_running():
            self._show_mode()
            self._update_actions()

    def acknowledge(self) -> None:
        """The engineer has seen the alarms: clear them (events stay in the table)."""
        if not self.alarms:
            return
        self.alarms = {}
        self._show_alarm()
        if self.entry_id is not None and self.entry_id in self.session.ids:
            entry = self.session.get(self.entry_id)
            if entry.live is not None:
                self.session.set_live_state(
                    self.entry_id, dataclasses.replace(entry.live, alarms=frozenset())
                )
        self._update_actions()

    def _on_session_changed(self, change: SessionChange) -> None:
        if (
            change.kind == "recordings"
            and self.entry_id is not None
            and self.entry_id not in self.session.ids
            and self.is_running()
        ):
            self.stop()  # the live recording was closed: stop receiving (the file is kept)

    # ------------------------------------------------------------------ stopping
    def stop(self) -> None:
        """Stop Monitoring: drain, score, flush and close on the worker; the recording then
        becomes an ordinary one."""
        if not self.is_running() or self._stopping:
            return
        self._stopping = True
        self._stop.set()
        self._show_mode()
        self._update_actions()

    def _on_finished(self, result: LiveResult) -> None:
        self._refresh_timer.stop()
        recording, scan = result.recording, result.scan
        entry_id = self.entry_id
        if entry_id is not None and entry_id in self.session.ids:
            try:
                self.session.finish_live(entry_id, recording, scan)
            except FaultLensError as err:  # the review could not take the events
                self.window.report_error(str(err), title="Review file")
        elif entry_id is None and recording.n_rows >= 1:
            entry_id = self.session.add(recording).id
            if scan is not None:
                self.session.set_scan(entry_id, scan)
        events = len(result.events)
        saved = f"; saved to {result.record_path}" if result.record_path is not None else ""
        found = f", {events} fault event{'s' if events != 1 else ''}" if scan is not None else ""
        self.window.statusBar().showMessage(
            f"Monitoring stopped: {recording.n_rows:,} rows{found}{saved}", 15000
        )

    def _on_failed(self, message: str, details: str) -> None:
        if not self._has_started:
            self.start_failed.emit(message)
        else:
            self.window.report_error(f"Live monitoring stopped: {message}", details)

    def _on_cancelled(self) -> None:
        self.window.statusBar().showMessage("Live monitoring stopped; the recording is saved", 8000)

    def _on_done(self) -> None:
        self._refresh_timer.stop()
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
        if self.entry_id is not None and self.entry_id in self.session.ids:
            entry = self.session.get(self.entry_id)
            if entry.live is not None:  # failed or cancelled: keep what arrived, as received
                self.session.finish_live(self.entry_id, entry.recording, entry.scan)
        self.monitor = self.source = None
        self._stopping = False
        self._has_started = False
        self.alarms = {}
        self.status.set_alarm("")
        self.status.hide()
        self.toolbar.hide()
        self._update_actions()
        self.stopped.emit()
