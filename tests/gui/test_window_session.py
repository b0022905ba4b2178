"""The main window as views of one session: recordings by id, scans applied to the recording
they were made for, the review dock and Train with Reviewed Labels through the session, and
one shutdown path for every running task."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from faultlens.core.checkpoint import TrainedModel, load_model
from faultlens.core.io import load_recording
from faultlens.core.progress import Cancelled, Progress, ShouldStop, run_to_end
from faultlens.core.recording import Recording
from faultlens.core.review_file import primary_sidecar_path
from faultlens.core.scan import ScanResult, scan
from faultlens.core.session import TrainingRole
from faultlens.gui.main_window import MainWindow

TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot: QtBot) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def scanned(pump_csv: Path, trained_model_path: Path) -> tuple[Recording, TrainedModel, ScanResult]:
    recording = load_recording(pump_csv)
    model = load_model(trained_model_path)
    result = run_to_end(scan(model, recording))
    assert len(result.events) >= 2, "the tiny model flags the level shifts"
    return recording, model, result


def test_recordings_are_listed_by_id_and_picking_one_makes_it_current(
    window: MainWindow, pump_csv: Path
) -> None:
    recording = load_recording(pump_csv)
    first = window.add_recording(recording)
    second = window.add_recording(recording)  # the same file twice: two entries
    rows = window.recording_list
    assert [rows.recording_id(r) for r in range(rows.count())] == [first.id, second.id]
    assert rows.currentRow() == 1 and window.session.current_id == second.id
    rows.setCurrentRow(0)
    assert window.session.current_id == first.id
    assert window.training_panel.recording_table.rowCount() == 2
    window.session.remove(first.id)
    assert rows.count() == 1 and rows.currentRow() == 0
    assert window.session.current_id == second.id
    assert window.windowTitle() == "FaultLens — pump.csv"


def test_a_scan_lands_on_the_recording_it_was_started_for(
    qtbot: QtBot, window: MainWindow, scanned, make_pump_csv, tmp_path: Path
) -> None:
    recording, model, result = scanned
    scanned_entry = window.add_recording(recording)
    window.set_model(model)
    assert window.scan_controller.start() is not None
    other = window.add_recording(load_recording(make_pump_csv(tmp_path / "b.csv", seed=3)))
    assert window.session.current_id == other.id  # the user moved on while it ran
    qtbot.waitUntil(lambda: not window.tasks.running(), timeout=TIMEOUT_MS)
    done = window.session.get(scanned_entry.id).scan
    assert done is not None and [e.start_row for e in done.events] == [
        e.start_row for e in result.events
    ]
    assert window.current_scan is None and window.event_table.model().rowCount() == 0
    window.session.set_current(scanned_entry.id)
    assert window.event_table.model().rowCount() == len(result.events)
    window.set_model(model)  # a model (even the same one, reloaded) drops every scan
    assert window.session.get(scanned_entry.id).scan is None
    assert window.event_table.model().rowCount() == 0


def test_review_dock_menu_and_reviewed_labels_through_the_session(
    qtbot: QtBot, window: MainWindow, scanned, make_pump_csv, tmp_path: Path, error_boxes: list
) -> None:
    recording, model, result = scanned
    other = window.add_recording(load_recording(make_pump_csv(tmp_path / "b.csv", seed=3)))
    entry = window.add_recording(recording)
    window.set_model(model)
    window.scan_controller.apply(entry.id, result)
    controller = window.review_controller
    review = controller.review
    assert review is not None and review is window.session.get(entry.id).review
    assert len(review.events) == len(result.events)
    assert controller.panel.event_list.model().rowCount() == len(result.events)
    assert "Review" in window.docks and "Review" in window.menus

    # Picking an event in the Fault events dock selects it in the review; C confirms it.
    window.event_table.select_event(1)
    assert controller.panel.current_event_index() == 1
    controller.actions["confirm"].trigger()
    assert review.status(1) == "confirmed"
    controller.actions["undo"].trigger()
    assert review.status(1) == "unreviewed"
    controller.actions["redo"].trigger()
    assert review.status(1) == "confirmed"
    assert [s.toString() for s in controller.actions["undo"].shortcuts()] == ["Ctrl+Z"]
    exporter = controller.exporter
    assert exporter.action.isEnabled() and exporter.action.shortcut().toString() == "Ctrl+E"
    assert exporter.action in window.menus["File"].actions()
    rid = controller.draw_region()
    assert rid is not None and len(controller.overlay.items) == len(window.signal_view.plots)

    # Train with Reviewed Labels without a loaded model: this recording alone, its role
    # names the reviewed labels (with one loaded it retrains that model: test_training_panel).
    window.set_model(None)
    controller.actions["train"].trigger()
    assert window.session.get(entry.id).training == TrainingRole(True, "reviewed", "")
    assert not window.session.get(other.id).training.use
    assert window.docks["Training"].isVisibleTo(window)
    assert "pump.csv (reviewed labels) is ready" in window.statusBar().currentMessage()
    chosen, options = window.training_panel.snapshot()
    event = result.events[1]
    assert len(chosen) == 1 and chosen[0].path == recording.path  # no made-up path
    assert set(chosen[0].labels[event.start_row : event.end_row + 1]) == {event.class_name}
    assert options.file_classes == ()

    # The review is on disk; a new window restores it for the same file.
    assert primary_sidecar_path(recording.path).is_file()
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    again.add_recording(load_recording(recording.path))
    # Its model is where it was: loaded and the recording rescanned, without a click.
    qtbot.waitUntil(lambda: again.current_scan is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not again.tasks.running(), timeout=TIMEOUT_MS)
    restored = again.review_controller.review
    assert restored is not None and restored.status(1) == "confirmed"
    assert len(restored.regions) == 1
    assert error_boxes == []


def test_a_corrupt_review_file_is_reported_and_kept_aside(
    qtbot: QtBot, window: MainWindow, pump_csv: Path, error_boxes: list
) -> None:
    recording = load_recording(pump_csv)
    sidecar = primary_sidecar_path(recording.path)
    sidecar.write_text("{broken")
    assert not window.review_controller.exporter.action.isEnabled()  # nothing scanned yet
    window.add_recording(recording)
    assert error_boxes and error_boxes[-1][0] == "Review file"
    assert "kept as" in error_boxes[-1][1]
    panel = window.review_controller.panel
    assert panel.warning_label.isVisibleTo(panel)
    assert not sidecar.exists() and list(recording.path.parent.glob("*.corrupt-*.json"))


def _until_stopped(started: threading.Event):
    def work(should_stop: ShouldStop) -> Generator[Progress, None, None]:
        started.set()
        yield Progress(0, 1, "importing")
        while not should_stop():
            threading.Event().wait(0.005)
        raise Cancelled()

    return work


@pytest.mark.slow
def test_closing_asks_once_whatever_runs_and_stops_every_task(
    qtbot: QtBot, pump_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.add_recording(load_recording(pump_csv))
    asked: list[str] = []

    def question(parent: object, title: str, text: str, *args: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    win.training_panel.window_spin.setValue(16)
    win.training_panel.epochs_spin.setValue(500)
    training = win.training_panel.start_training()
    assert training is not None
    started = threading.Event()
    outcomes: list[str] = []
    other = win.tasks.start(
        "import 1",
        _until_stopped(started),
        "Importing big.csv",
        cancelled=lambda: outcomes.append("import cancelled"),
    )
    assert other is not None and started.wait(10)
    with qtbot.waitSignal(training.progress, timeout=TIMEOUT_MS):
        pass
    assert win.close()
    assert asked == [
        "Still running: Training, Importing big.csv. Stop and quit? An unsaved model is lost."
    ]
    assert not training.is_running() and not other.is_running()
    qtbot.waitUntil(lambda: outcomes == ["import cancelled"])
    qtbot.waitUntil(lambda: win.training_panel.status.text().startswith("Training cancelled"))


# ---------------------------------------------------------------- review continuity (issue 14)
def _scan_with(qtbot: QtBot, window: MainWindow) -> ScanResult:
    """Scan the current recording through Model > Scan Recording; wait for the result."""
    assert window.scan_controller.start() is not None
    qtbot.waitUntil(lambda: window.current_scan is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.tasks.running(), timeout=TIMEOUT_MS)
    result = window.current_scan
    assert result is not None
    return result


def _new_window(qtbot: QtBot) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_reopening_a_reviewed_recording_reloads_its_model_and_rescans(
    qtbot: QtBot,
    window: MainWindow,
    pump_csv: Path,
    trained_model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error_boxes: list,
) -> None:
    monkeypatch.setenv("FAULTLENS_REVIEW_DIR", str(tmp_path / "reviews"))
    window.add_recording(load_recording(pump_csv))
    assert window.load_model_file(trained_model_path)
    first = _scan_with(qtbot, window)
    review = window.review_controller.review
    assert review is not None and len(first.events) >= 2
    review.confirm(1)
    review.set_note(0, "pump noise")
    window.close()

    # Reopen (a new window, a new session): the model is found where it was and the
    # recording rescanned, so the events and their decisions are back without a click.
    again = _new_window(qtbot)
    again.add_recording(load_recording(pump_csv))
    qtbot.waitUntil(lambda: again.current_scan is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not again.tasks.running(), timeout=TIMEOUT_MS)
    model = again.session.model
    assert model is not None and model.path == trained_model_path
    assert model.fingerprint == first.model_fingerprint
    restored = again.review_controller.review
    assert restored is not None and len(restored.events) == len(first.events)
    assert restored.status(1) == "confirmed" and restored.decision(0).note == "pump noise"
    panel = again.review_controller.panel
    assert panel.event_list.model().rowCount() == len(first.events)
    assert not panel.model_box.isVisibleTo(panel)
    assert not panel.earlier_box.isVisibleTo(panel)
    assert "1 confirmed" in panel.summary_label.text()
    assert error_boxes == []


def test_a_moved_model_is_named_and_offered_with_one_click(
    qtbot: QtBot,
    window: MainWindow,
    pump_csv: Path,
    trained_model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error_boxes: list,
) -> None:
    monkeypatch.setenv("FAULTLENS_REVIEW_DIR", str(tmp_path / "reviews"))
    moved = tmp_path / "moved.flmodel"
    moved.write_bytes(trained_model_path.read_bytes())
    window.add_recording(load_recording(pump_csv))
    assert window.load_model_file(moved)
    first = _scan_with(qtbot, window)
    window.review_controller.review.dismiss(0)
    window.close()
    moved.unlink()

    again = _new_window(qtbot)
    again.add_recording(load_recording(pump_csv))
    panel = again.review_controller.panel
    # Nothing to rescan with: the panel says which model the review was made with, where it
    # was, and lists the decision (never "0 events: none flagged" alone).
    assert again.session.model is None and not again.tasks.running()
    assert panel.model_box.isVisibleTo(panel)
    text = panel.model_label.text()
    assert "moved.flmodel" in text and first.model_fingerprint[:12] in text
    assert "no longer at" in text
    assert panel.earlier_list.rowCount() == 1
    assert panel.earlier_list.item(0, 2).text() == "dismissed"
    assert "moved.flmodel" in again.statusBar().currentMessage()

    # Load model…: the file is gone, so the user is asked where it is; then the rescan.
    from PySide6.QtWidgets import QFileDialog

    asked: list[str] = []

    def pick(*args: object) -> tuple[str, str]:
        asked.append(str(args[1]))
        return str(trained_model_path), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(pick))
    qtbot.mouseClick(panel.load_model_button, Qt.MouseButton.LeftButton)
    assert asked and "moved.flmodel" in asked[0]
    qtbot.waitUntil(lambda: again.current_scan is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not again.tasks.running(), timeout=TIMEOUT_MS)
    restored = again.review_controller.review
    assert restored is not None and restored.status(0) == "dismissed"
    assert not panel.model_box.isVisibleTo(panel) and not panel.earlier_box.isVisibleTo(panel)
    assert error_boxes == []


def test_a_rescan_with_another_model_keeps_every_decision_visible_and_says_so(
    qtbot: QtBot,
    window: MainWindow,
    pump_csv: Path,
    trained_model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error_boxes: list,
) -> None:
    monkeypatch.setenv("FAULTLENS_REVIEW_DIR", str(tmp_path / "reviews"))
    recording = load_recording(pump_csv)
    entry = window.add_recording(recording)
    model = load_model(trained_model_path)
    window.set_model(model)
    result = run_to_end(scan(model, recording))
    assert len(result.events) >= 3
    window.scan_controller.apply(entry.id, result)
    review = window.review_controller.review
    review.confirm(0)
    review.dismiss(1)
    review.relabel(2, "seal")
    before = dict(review.state.decisions)

    # Another model (a lower threshold): its events overlap the reviewed ones but are not
    # them; before the fix the dismissal moved onto one and the others vanished.
    other = load_model(trained_model_path)
    other.threshold = 0.45
    assert other.fingerprint != model.fingerprint
    window.set_model(other)
    other_result = run_to_end(scan(other, recording))
    window.scan_controller.apply(entry.id, other_result)

    # Nothing moved or dropped: no event of the new scan took a decision, and all three are
    # listed as decisions from an earlier scan, with their status.
    assert review.state.decisions == before
    assert [review.status(e) for e in other_result.events] == ["unreviewed"] * len(
        other_result.events
    )
    panel = window.review_controller.panel
    earlier = panel.earlier_list
    listed = {earlier.item(r, 2).text() for r in range(earlier.rowCount())}
    assert earlier.rowCount() == len(review.orphan_decisions()) == 3
    assert listed == {"confirmed", "dismissed", "relabelled → seal"}
    assert panel.earlier_box.isVisibleTo(panel)
    assert "Scanned with another model" in panel.summary_label.text()
    assert panel.model_box.isVisibleTo(panel)
    assert "another model" in window.statusBar().currentMessage()
    raw = json.loads(primary_sidecar_path(recording.path).read_text())
    assert raw["model"]["fingerprint"] == model.fingerprint  # not silently overwritten
    assert raw["scan"]["model_fingerprint"] == other.fingerprint
    assert error_boxes == []
