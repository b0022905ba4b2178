"""Live monitoring in the window (issue 15): a writer thread appends to a CSV while the window
follows it through the real source, monitor, task runner, session and views."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from broker import Broker
from faultlens.core.events import FaultEvent
from faultlens.core.io import load_recording
from faultlens.core.live.csv_source import CsvFollower
from faultlens.core.options import ScanOptions
from faultlens.core.progress import run_to_end
from faultlens.core.scan import ScanResult, scan
from faultlens.core.session import OpenRecording
from faultlens.gui import settings as gui_settings
from faultlens.gui.cursors import delta_text, value_text
from faultlens.gui.event_model import END
from faultlens.gui.live_controller import LiveController
from faultlens.gui.live_dialog import LiveDialog
from faultlens.gui.main_window import MainWindow

TIMEOUT_MS = 30_000


class Writer:
    """Appends a pump CSV's lines to ``path`` from a thread, ``per_write`` lines every
    ``pause_s`` (what a data logger does); ``bad_every`` puts a malformed line in now and
    then. The header and ``head`` rows are written before the thread starts."""

    def __init__(
        self,
        make_csv: Callable[..., Path],
        path: Path,
        rows: int,
        *,
        head: int = 40,
        per_write: int = 5,
        pause_s: float = 0.01,
        bad_every: int = 0,
        seed: int = 2,
    ) -> None:
        source = make_csv(path.with_name(f"source_{path.name}"), rows=rows, seed=seed)
        lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
        self.source = source
        self.header, self.rows = lines[0], lines[1:]
        self.path, self.per_write, self.pause_s, self.bad_every = (
            path,
            per_write,
            pause_s,
            bad_every,
        )
        self.written = head
        self.bad = 0
        path.write_text(self.header + "".join(self.rows[:head]), encoding="utf-8")
        self._stop = threading.Event()
        self._hold = threading.Event()  # set: write nothing for now
        self.hold_when: Callable[[], bool] | None = None  # hold by itself once this is True
        self.slow_after = len(self.rows)  # from this row on, one row a write
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Writer:
        self._thread.start()
        return self

    def _run(self) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            while self.written < len(self.rows) and not self._stop.is_set():
                if self._hold.is_set():
                    self._stop.wait(self.pause_s)
                    continue
                per_write = 1 if self.written >= self.slow_after else self.per_write
                part = self.rows[self.written : self.written + per_write]
                if self.bad_every and (self.written // self.per_write) % self.bad_every == 0:
                    handle.write("this line,is not,a row,of numbers,at all,really\n")
                    self.bad += 1
                handle.write("".join(part))
                handle.flush()
                self.written += len(part)
                if self.hold_when is not None and self.hold_when():
                    self.hold_when = None
                    self._hold.set()
                self._stop.wait(self.pause_s)

    def hold(self, held: bool) -> None:
        (self._hold.set if held else self._hold.clear)()

    @property
    def held(self) -> bool:
        return self._hold.is_set()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def window(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    # A test that fails while live leaves the session running: closing the window then asks
    # (a modal question nobody answers offscreen); answer it, so the close stops it.
    monkeypatch.setattr(QMessageBox, "question", lambda *_args: QMessageBox.StandardButton.Yes)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _live_entry(win: MainWindow) -> OpenRecording | None:
    entry = win.session.current
    return entry if entry is not None and entry.live is not None else None


def _stop(qtbot: QtBot, live: LiveController) -> None:
    with qtbot.waitSignal(live.stopped, timeout=TIMEOUT_MS):
        live.stop()


@pytest.mark.slow
def test_follow_pause_resume_and_stop(
    qtbot: QtBot, make_pump_csv: Callable[..., Path], window: MainWindow, tmp_path: Path
) -> None:
    writer = Writer(make_pump_csv, tmp_path / "logger.csv", rows=1200, per_write=4, pause_s=0.01)
    record = tmp_path / "recorded.csv"
    live, view = window.live_controller, window.signal_view
    # The time window: 60 s of a 1 s-sampled logger, so the view scrolls within the test.
    task = live.start(CsvFollower(writer.path, from_start=True), record_to=record, window_s=60)
    assert task is not None and live.start(CsvFollower(writer.path)) is None  # one at a time
    writer.start()
    try:
        qtbot.waitUntil(lambda: _live_entry(window) is not None, timeout=TIMEOUT_MS)
        entry = _live_entry(window)
        assert window.session.display_name(entry.id) == "● recorded.csv (live)"
        assert window.recording_list.item(0).text() == "● recorded.csv (live)"
        assert not window.actions["close_recording"].isEnabled()
        assert live.toolbar.isVisibleTo(window) and live.status.isVisibleTo(window)

        # Following: the newest row is at the right edge; only the rows in view are drawn.
        qtbot.waitUntil(lambda: window.session.current.recording.n_rows > 150, timeout=TIMEOUT_MS)
        first_range = view.x_range()

        def follows() -> None:
            x = view.x
            x0, x1 = view.x_range()
            assert x1 - x0 == pytest.approx(60.0)
            assert x[-1] <= x1 <= x[-1] + 1.0
            drawn_x, drawn_y = view.curves["flow"].xData, view.curves["flow"].yData
            assert len(drawn_x) <= 63  # 60 s in view and a row either side
            assert drawn_x[-1] == x[-1]
            np.testing.assert_array_equal(drawn_y, view.recording.data[-len(drawn_y) :, 2])

        qtbot.waitUntil(follows, timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: view.x_range()[0] > first_range[0], timeout=TIMEOUT_MS)
        follows()  # it scrolled, following
        assert "following" in live.status.mode_label.text()

        # Pause: the range stays while rows keep arriving, and the counter says how many.
        live.actions["live_pause"].trigger()
        assert not view.following and live.actions["live_pause"].text() == "&Resume"
        paused_range = view.x_range()
        paused_rows = window.session.current.recording.n_rows
        qtbot.waitUntil(
            lambda: window.session.current.recording.n_rows > paused_rows + 100,
            timeout=TIMEOUT_MS,
        )
        assert view.x_range() == paused_range
        # The cursors keep working while rows arrive: measure between two rows in view.
        view.cursors.set_measure_enabled(True)
        r1, r2 = paused_rows - 40, paused_rows - 5
        view.cursors.set_measure_positions(float(view.x[r1]), float(view.x[r2]))
        v1, v2 = (value_text(float(view.recording.data[r, 2])) for r in (r1, r2))
        assert f"flow  {v1} → {v2}" in view.cursors.readout_text()
        assert f"Δt {delta_text(view.recording, 35.0)}" in view.cursors.readout_text()
        view.cursors.set_measure_enabled(False)
        arrived = live.rows - live.paused_at_rows
        qtbot.waitUntil(lambda: "PAUSED" in live.status.mode_label.text(), timeout=TIMEOUT_MS)
        shown = int(
            re.search(r"([\d,]+) new rows", live.status.mode_label.text())[1].replace(",", "")
        )
        assert shown >= 100 and arrived >= 100
        # Zooming out while paused shows the rows of the new range (not only the old slice).
        view.set_x_range(float(view.x[0]), float(view.x[-1]))
        assert not view.following
        assert len(view.curves["flow"].xData) >= paused_rows
        view.set_x_range(*paused_range)

        # Resume: back to now.
        live.actions["live_pause"].trigger()
        assert view.following
        assert view.x_range()[1] >= view.x[-1]
        assert view.x_range()[0] > paused_range[0]

        # A user pan stops following by itself.
        view.scroll(-0.5)
        assert not view.following
        view.set_following(True)

        qtbot.waitUntil(lambda: writer.done, timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: live.rows == len(writer.rows), timeout=TIMEOUT_MS)
    finally:
        writer.stop()
    _stop(qtbot, live)

    # Stopped: an ordinary recording, read back from the recorded file, every row in it.
    entry = window.session.current
    assert entry.live is None and entry.scan is None
    assert window.session.display_name(entry.id) == "recorded.csv"
    assert entry.recording.path == record and entry.recording.n_rows == len(writer.rows)
    assert entry.recording.channels == ("pressure", "current", "flow")
    expected = load_recording(writer.path)
    np.testing.assert_array_equal(entry.recording.data, expected.data)
    assert not view.is_live and len(window.session) == 1
    assert window.actions["close_recording"].isEnabled()
    assert not live.toolbar.isVisibleTo(window) and not live.status.isVisibleTo(window)
    assert "Monitoring stopped: 1,200 rows" in window.statusBar().currentMessage()


@pytest.mark.slow
def test_events_open_raise_an_alarm_and_the_final_scan_is_the_offline_one(
    qtbot: QtBot,
    make_pump_csv: Callable[..., Path],
    window: MainWindow,
    tmp_path: Path,
    trained_model_path: Path,
) -> None:
    assert window.load_model_file(trained_model_path)
    model = window.session.model
    writer = Writer(make_pump_csv, tmp_path / "logger.csv", rows=480, per_write=8, pause_s=0.01)
    live = window.live_controller
    # The writer stops while an event is running: from row 256 on (the model scores once its
    # reference rows are in) one row at a time, holding as soon as the monitor has one open.
    writer.slow_after = 256
    writer.hold_when = lambda: live.monitor is not None and bool(live.monitor.open_events())
    record = tmp_path / "recorded.csv"
    beeps: list[int] = []
    live.start(CsvFollower(writer.path, from_start=True), model=model, record_to=record, beep=True)
    from PySide6.QtWidgets import QApplication

    original_beep = QApplication.beep
    QApplication.beep = staticmethod(lambda: beeps.append(1))  # type: ignore[method-assign]
    writer.start()
    try:
        # The first fault opens an event: a table row, the alarm, a beep; it is running.
        qtbot.waitUntil(lambda: bool(live.alarms), timeout=TIMEOUT_MS)

        def caught_up() -> None:
            assert writer.held and live.rows == writer.written and live.behind_rows == 0
            live.refresh()
            assert window.events.rowCount() >= len(live.alarms)

        qtbot.waitUntil(caught_up, timeout=TIMEOUT_MS)
        latest = max(live.alarms.values(), key=lambda e: e.start_row)
        assert latest.class_name in model.class_names[1:]
        assert "ALARM" in live.status.alarm_text and latest.start_time in live.status.alarm_text
        marks = [window.events.live_mark(r) for r in range(window.events.rowCount())]
        assert marks.count("alarm") == len(live.alarms)
        # A running event's row follows it as it grows (its end, duration).
        assert writer.held and len(live.monitor.open_events()) == 1
        for event in live.monitor.open_events():
            row = [e.start_row for e in window.events.events].index(event.start_row)
            end = window.events.index(row, END).data()
            assert end == f"{event.end_time} (running)"
        assert beeps and live.actions["live_acknowledge"].isEnabled()
        # The tracks grow with the signals.
        assert window.signal_view.scan is not None
        assert np.isfinite(window.signal_view.fault_track.curve.yData).any()

        live.actions["live_acknowledge"].trigger()
        assert not live.alarms and live.status.alarm_text == ""
        marks = [window.events.live_mark(r) for r in range(window.events.rowCount())]
        assert "alarm" not in marks
        assert not live.actions["live_acknowledge"].isEnabled()
        writer.hold(False)
        qtbot.waitUntil(lambda: writer.done, timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: live.rows == len(writer.rows), timeout=TIMEOUT_MS)
    finally:
        writer.stop()
        QApplication.beep = original_beep  # type: ignore[method-assign]
    _stop(qtbot, live)

    entry = window.session.current
    assert entry.live is None and entry.scan is not None
    recorded = load_recording(record)
    assert recorded.n_rows == 480 and entry.recording.n_rows == 480
    offline = run_to_end(
        scan(model, recorded, ScanOptions(stride=1, threshold=entry.scan.threshold))
    )
    np.testing.assert_allclose(
        entry.scan.fault_probability, offline.fault_probability, atol=1e-5, equal_nan=True
    )
    assert [(e.start_row, e.end_row, e.class_name) for e in entry.scan.events] == [
        (e.start_row, e.end_row, e.class_name) for e in offline.events
    ]
    assert len(entry.scan.events) >= 2  # every fault stretch after the first too
    # Review and report as for any recording: the review holds the final events.
    assert entry.review is not None and list(entry.review.events) == entry.scan.events
    assert window.review_controller.exporter.action.isEnabled()
    # The table holds the final events, none marked running any more.
    assert window.events.rowCount() == len(offline.events)
    for row in range(window.events.rowCount()):
        assert window.events.live_mark(row) == ""
        assert "running" not in window.events.index(row, END).data()


@pytest.mark.slow
def test_window_stays_responsive_and_counts_malformed_lines(
    qtbot: QtBot, make_pump_csv: Callable[..., Path], window: MainWindow, tmp_path: Path
) -> None:
    writer = Writer(
        make_pump_csv, tmp_path / "logger.csv", rows=6000, per_write=50, pause_s=0.005, bad_every=7
    )
    live = window.live_controller
    live.start(
        CsvFollower(writer.path, from_start=True), record_to=tmp_path / "rec.csv", window_s=600
    )
    gaps: list[int] = []
    clock = QElapsedTimer()
    heartbeat = QTimer()
    heartbeat.setInterval(10)

    def beat() -> None:
        gaps.append(clock.restart())

    heartbeat.timeout.connect(beat)
    # The heartbeat covers the streaming: the plots are built once when the first rows show
    # (as for any recording opened), before it starts.
    qtbot.waitUntil(lambda: _live_entry(window) is not None, timeout=TIMEOUT_MS)
    clock.start()
    heartbeat.start()
    writer.start()
    try:
        qtbot.waitUntil(lambda: writer.done, timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: live.rows == len(writer.rows), timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: live.last_health.malformed >= writer.bad, timeout=TIMEOUT_MS)
        live.refresh()
    finally:
        heartbeat.stop()
        writer.stop()
    assert writer.bad >= 10
    assert max(gaps[1:]) < 250, f"the GUI thread stalled {max(gaps)} ms"
    health = live.status.health_label.text()
    assert f"{writer.bad:,} problems" in health and "6,000 rows" in health
    assert "line" in live.status.error_label.toolTip()  # the last problem, in words
    _stop(qtbot, live)
    assert window.session.current.recording.n_rows == 6000


def test_dialog_checks_settings_keeps_them_and_says_why_a_source_cannot_start(
    qtbot: QtBot,
    make_pump_csv: Callable[..., Path],
    window: MainWindow,
    tmp_path: Path,
    isolated_settings: Path,
) -> None:
    dialog = window.live_controller.show_dialog()
    assert isinstance(dialog, LiveDialog)
    qtbot.addWidget(dialog)
    assert dialog.window_min.value() == 10.0 and not dialog.scan.isEnabled()
    assert not dialog.start()
    assert "Choose the CSV file" in dialog.message.text()
    dialog.csv_path.setText(str(tmp_path / "missing.csv"))
    assert not dialog.start() and "no such file" in dialog.message.text()
    # The recording goes next to the followed file by default, timestamped.
    assert Path(dialog.record_to.text()).parent == tmp_path
    assert Path(dialog.record_to.text()).name.startswith("missing_live_")

    # A file that is no CSV: the source itself refuses, the dialog says why and stays.
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 64)
    dialog.csv_path.setText(str(binary))
    dialog.window_min.setValue(2.5)
    dialog.tabs.setCurrentIndex(1)
    dialog.password.setText("s3cret-password")
    dialog.tabs.setCurrentIndex(0)
    assert dialog.start()
    qtbot.waitUntil(lambda: "Could not start" in dialog.message.text(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.live_controller.is_running(), timeout=TIMEOUT_MS)
    assert dialog.isVisible() and dialog.start_button.isEnabled()
    assert window.session.current is None  # nothing was opened

    # The settings are kept for next time, the password never.
    dialog.reject()
    again = window.live_controller.show_dialog()
    qtbot.addWidget(again)
    assert again.csv_path.text() == str(binary) and again.window_min.value() == 2.5
    assert again.password.text() == ""
    gui_settings.settings().sync()
    assert "s3cret" not in isolated_settings.read_text(encoding="utf-8")
    again.reject()


def test_dialog_starts_a_csv_source_and_closes(
    qtbot: QtBot, make_pump_csv: Callable[..., Path], window: MainWindow, tmp_path: Path
) -> None:
    writer = Writer(make_pump_csv, tmp_path / "logger.csv", rows=100, head=100)
    dialog = window.live_controller.show_dialog()
    qtbot.addWidget(dialog)
    dialog.csv_path.setText(str(writer.path))
    dialog.from_start.setChecked(True)
    record = tmp_path / "out.csv"
    dialog.record_to.setText(str(record))
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT_MS):
        assert dialog.start()
    live = window.live_controller
    qtbot.waitUntil(lambda: live.rows == 100, timeout=TIMEOUT_MS)
    assert view_window(window) == pytest.approx(600.0)
    # The file exists now: a second start must pick a new name.
    _stop(qtbot, live)
    second = window.live_controller.show_dialog()
    qtbot.addWidget(second)
    second.record_to.setText(str(record))
    assert not second.start() and "exists already" in second.message.text()
    second.reject()


def view_window(win: MainWindow) -> float:
    return win.signal_view.live_window


def test_closing_the_window_while_live_asks_stops_and_keeps_every_row(
    qtbot: QtBot,
    make_pump_csv: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    writer = Writer(make_pump_csv, tmp_path / "logger.csv", rows=300, head=300)
    record = tmp_path / "rec.csv"
    asked: list[str] = []

    def question(parent: object, title: str, text: str, *args: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    live = win.live_controller
    live.start(CsvFollower(writer.path, from_start=True), record_to=record)
    qtbot.waitUntil(lambda: live.rows == 300, timeout=TIMEOUT_MS)
    assert win.close()
    assert len(asked) == 1 and "Live monitoring of logger.csv" in asked[0]
    assert "saved to its recording file" in asked[0]
    assert not live.is_running()
    assert load_recording(record).n_rows == 300


def test_mqtt_topic_monitored_from_the_dialog(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, mqtt_broker: Broker
) -> None:
    from paho.mqtt.client import Client
    from paho.mqtt.enums import CallbackAPIVersion

    dialog = window.live_controller.show_dialog()
    qtbot.addWidget(dialog)
    dialog.tabs.setCurrentIndex(1)
    dialog.host.setText(mqtt_broker.host)
    dialog.port.setValue(mqtt_broker.port)
    dialog.topics.setText("plant/+/values")
    assert dialog.channels_from.currentData() is False  # no model: the first message's keys
    assert Path(dialog.record_to.text()).name.startswith("mqtt_127_0_0_1_")
    record = tmp_path / "mqtt.csv"
    dialog.record_to.setText(str(record))
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT_MS):
        assert dialog.start()
    live = window.live_controller
    publisher = Client(CallbackAPIVersion.VERSION2, client_id="test-live-gui-publisher")
    publisher.connect(mqtt_broker.host, mqtt_broker.port)
    publisher.loop_start()
    try:
        for i in range(60):
            payload = {"time": f"2024-05-01T08:{i // 60:02d}:{i % 60:02d}Z", "p": i, "q": -i}
            publisher.publish("plant/pump1/values", json.dumps(payload), qos=1).wait_for_publish(5)
            if i % 20 == 0:
                publisher.publish("plant/pump1/values", "{not json", qos=1).wait_for_publish(5)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    qtbot.waitUntil(lambda: live.rows == 60, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: live.last_health.malformed == 3, timeout=TIMEOUT_MS)
    live.refresh()
    entry = window.session.current
    assert entry.live is not None and entry.recording.channels == ("p", "q")
    assert "connected" in live.status.health_label.text()
    assert "3 problems" in live.status.health_label.text()
    _stop(qtbot, live)
    entry = window.session.current
    assert entry.live is None and entry.recording.n_rows == 60
    np.testing.assert_array_equal(entry.recording.data[:, 0], np.arange(60, dtype=np.float32))


def test_a_long_window_is_drawn_as_block_extremes_kept_while_scrolling(qtbot: QtBot) -> None:
    from faultlens.core.session import LiveState, Session
    from faultlens.gui.live_controller import snapshot
    from faultlens.gui.signal_view import SignalView

    session = Session()
    view = SignalView(session)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    rows, channels = 60_000, ("a", "b")
    times = 1.7e9 + np.arange(rows) * 0.01  # 100 Hz
    data = np.random.default_rng(3).standard_normal((rows, 2)).astype(np.float32)
    data[1234, 0] = np.nan
    data[20_000:20_400, 1] = np.nan  # a whole block of NaN stays NaN (a break in the line)
    path = Path("live.csv")
    entry = session.add(snapshot(path, channels, "datetime", times, data, 1000), live=LiveState())
    view.set_live_window(300.0)  # 30,000 rows in view: blocks of rows, not every row
    for n in range(20_000, rows + 1, 2_500):  # scrolling: the blocks kept are reused
        session.update_live(entry.id, snapshot(path, channels, "datetime", times, data, n), None)
        assert view.following and view.lod_rows_per_block > 1
        k = view.lod_rows_per_block
        x0, x1 = view.x_range()
        i0 = max(int(np.searchsorted(times[:n], x0)) - 1, 0)
        i1 = min(int(np.searchsorted(times[:n], x1, side="right")) + 1, n)
        first, last = i0 // k, i1 // k
        expected_lo = np.fmin.reduce(data[first * k : last * k, 1].reshape(-1, k), axis=1)
        expected_hi = np.fmax.reduce(data[first * k : last * k, 1].reshape(-1, k), axis=1)
        drawn_x, drawn_y = view.curves["b"].xData, view.curves["b"].yData
        finite = np.isfinite(drawn_x)  # a NaN point breaks the line at the NaN block
        drawn_x, drawn_y = drawn_x[finite], drawn_y[finite]
        blocks = len(expected_lo)
        np.testing.assert_array_equal(drawn_y[0 : 2 * blocks : 2], expected_lo)
        np.testing.assert_array_equal(drawn_y[1 : 2 * blocks : 2], expected_hi)
        np.testing.assert_array_equal(drawn_x[0 : 2 * blocks : 2], times[first * k : last * k : k])
        assert drawn_x[-1] == times[last * k] or last * k == i1  # the block still filling
    assert "Downsampled" in view.compute_downsample_note()


def test_a_model_without_the_files_channels_is_refused_before_anything_opens(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, trained_model_path: Path
) -> None:
    assert window.load_model_file(trained_model_path)
    logger = tmp_path / "other.csv"
    logger.write_text(
        "time,speed,torque\n"
        + "".join(f"2024-05-01T08:00:{i:02d},{i},{2 * i}\n" for i in range(30)),
        encoding="utf-8",
    )
    dialog = window.live_controller.show_dialog()
    qtbot.addWidget(dialog)
    dialog.tabs.setCurrentIndex(0)
    dialog.csv_path.setText(str(logger))
    dialog.from_start.setChecked(True)
    assert dialog.scan.isChecked()
    assert dialog.start()
    qtbot.waitUntil(lambda: "Could not start" in dialog.message.text(), timeout=TIMEOUT_MS)
    assert "pressure" in dialog.message.text()  # the channels the model needs are named
    qtbot.waitUntil(lambda: not window.live_controller.is_running(), timeout=TIMEOUT_MS)
    assert window.session.current is None and dialog.isVisible()
    dialog.reject()


def _events_scan(rows: int, events: list[tuple[int, int]]) -> ScanResult:
    """A scan of ``rows`` rows holding just ``events`` (start, end): what the event table reads."""

    def event(start: int, end: int) -> FaultEvent:
        return FaultEvent(
            start,
            end,
            str(start),
            str(end),
            float(end - start + 1),
            "leak",
            0.9,
            0.8,
            ("a",),
            (1.0,),
            "rows",
        )

    return ScanResult(
        class_names=("normal", "leak"),
        probabilities=np.zeros((rows, 2), dtype=np.float32),
        predicted=np.zeros(rows, dtype=np.int16),
        fault_probability=np.zeros(rows, dtype=np.float32),
        attention=np.zeros(rows, dtype=np.float32),
        attention_heads=np.zeros((1, rows), dtype=np.float32),
        hotspots=np.zeros(rows, dtype=np.float32),
        events=[event(s, e) for s, e in events],
    )


def test_live_events_grow_the_table_without_resetting_it(qtbot: QtBot) -> None:
    """Events opening and closing on a live recording insert and update rows; a reset would
    make both views ask for every cell again on each event (the live window's slowest beats)."""
    from faultlens.core.recording import Recording
    from faultlens.core.session import LiveState, Session
    from faultlens.gui.event_model import EventsModel

    session = Session()
    recording = Recording.from_arrays(np.zeros((100, 1)), ["a"])
    entry = session.add(recording, live=LiveState(source="test"))
    model = EventsModel(session)
    resets: list[int] = []
    inserted: list[tuple[int, int]] = []
    changed: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    model.dataChanged.connect(lambda a, b, _r=(): changed.append((a.row(), b.row())))

    session.update_live(entry.id, recording, _events_scan(100, [(10, 20)]), events_changed=True)
    assert resets == [1] and model.rowCount() == 1  # the first events: one reset
    session.set_live_state(
        entry.id, LiveState("test", running=frozenset({40}), alarms=frozenset({40}))
    )
    changed.clear()
    session.update_live(
        entry.id, recording, _events_scan(100, [(10, 20), (40, 45)]), events_changed=True
    )
    assert resets == [1] and inserted == [(1, 1)] and model.rowCount() == 2
    assert model.live_mark(1) == "alarm"
    session.update_live(
        entry.id, recording, _events_scan(100, [(10, 20), (40, 60)]), events_changed=True
    )
    assert resets == [1] and (1, 1) in changed  # the running event grew in place
    assert model.index(1, END).data() == "60 (running)"
    changed.clear()
    session.set_live_state(entry.id, LiveState("test"))  # closed and acknowledged
    assert changed == [(1, 1)]  # only the row whose highlight changed is repainted
    session.update_live(entry.id, recording, _events_scan(100, [(12, 20)]), events_changed=True)
    assert resets == [1, 1] and model.rowCount() == 1  # events moved: a reset
