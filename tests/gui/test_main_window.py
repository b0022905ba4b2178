"""The main window end to end on a small real file: open, train, cancel, scan, events, errors;
the window and its docks as views of the session; one shutdown path for every task."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMainWindow, QMessageBox
from pytestqt.qtbot import QtBot

from faultlens.core.checkpoint import load_model
from faultlens.core.io import load_recording
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording
from faultlens.core.scan import scan
from faultlens.gui import settings as gui_settings
from faultlens.gui.help_dialog import SHORTCUTS
from faultlens.gui.import_dialog import ImportDialog, quality_summary_html
from faultlens.gui.main_window import MainWindow
from faultlens.gui.tasks import Task

TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot: QtBot) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _open(qtbot: QtBot, win: MainWindow, path: Path) -> ImportDialog:
    dialog = win.open_file(path)
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT_MS):
        dialog.open_recording()
    return dialog


def _record(task: Task) -> list[str]:
    kinds: list[str] = []
    task.progress.connect(lambda _r: kinds.append("progress"))
    task.finished.connect(lambda _r: kinds.append("finished"))
    task.failed.connect(lambda m, _d: kinds.append(f"failed: {m}"))
    task.cancelled.connect(lambda: kinds.append("cancelled"))
    return kinds


@pytest.mark.slow
def test_open_train_cancel_scan_and_step_through_events(
    qtbot: QtBot, window: MainWindow, pump_csv: Path, tmp_path: Path, error_boxes: list
) -> None:
    win = window
    # --- open through the import dialog, as File > Open does after the file dialog
    dialog = win.open_file(pump_csv)
    assert dialog.isVisible()
    assert dialog.table.rowCount() > 0 and dialog.table.columnCount() == 5
    assert "time" in dialog.time_combo.currentText()
    assert "label" in dialog.label_combo.currentText()
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT_MS):
        dialog.open_recording()
    rec = win.current_recording
    assert rec is not None
    assert rec.name == "pump.csv" and rec.channels == ("pressure", "current", "flow")
    assert win.windowTitle() == "FaultLens — pump.csv"
    assert win.recording_list.count() == 1
    assert win.recording_list.recording_id(0) == win.session.current_id
    assert gui_settings.recent_files() == [pump_csv.resolve()]
    # What the dialog showed (it is gone once accepted): the quality report of the file.
    assert rec.quality is not None and "Missing values" in quality_summary_html(rec.quality)

    # --- train a tiny model as a task: progress..., finished, in that order
    panel = win.training_panel
    panel.window_spin.setValue(16)
    panel.stride_spin.setValue(4)
    panel.epochs_spin.setValue(2)
    with qtbot.waitSignal(panel.model_trained, timeout=TIMEOUT_MS) as trained:
        task = panel.start_training()
        assert task is not None
        kinds = _record(task)
        assert panel.start_training() is None  # one run at a time
        assert not win.actions["scan"].isEnabled()  # no model yet
    # The task counts as running until its outcome has arrived; then the runner lets it go.
    qtbot.waitUntil(lambda: not win.tasks.is_running("training"), timeout=TIMEOUT_MS)
    assert not task.is_running() and win.tasks.running() == []
    assert panel.train_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert kinds[-1] == "finished" and set(kinds[:-1]) == {"progress"}
    assert len(kinds) >= 3  # at least one report per epoch
    model = trained.args[0]
    assert win.session.model is model
    assert "pump.csv\nhas every channel the model needs" in win.model_info.browser.toPlainText()
    assert model.channels == rec.channels
    k = len(model.class_names)
    confusion = panel.validation.confusion
    assert confusion.rowCount() == k and confusion.columnCount() == k
    cm = np.array(model.metrics["confusion_matrix"])
    assert int(confusion.item(0, 0).text()) == cm[0, 0]
    assert len(panel.train_curve.getOriginalDataset()[1]) == 2
    saved = tmp_path / "out" / "trained.flmodel"
    saved.parent.mkdir()
    assert panel.save_model_to(saved)

    # --- a second run, cancelled after its first report: cancelled, no model, no file
    panel.epochs_spin.setValue(200)
    task2 = panel.start_training()
    assert task2 is not None
    kinds2 = _record(task2)
    task2.progress.connect(lambda _r: task2.cancel())
    with qtbot.waitSignal(task2.cancelled, timeout=TIMEOUT_MS):
        pass
    qtbot.waitUntil(lambda: not win.tasks.is_running("training"), timeout=TIMEOUT_MS)
    assert kinds2[-1] == "cancelled" and "finished" not in kinds2
    assert panel.result is None and not panel.save_button.isEnabled()
    assert win.session.model is model
    assert sorted(p.name for p in saved.parent.iterdir()) == ["trained.flmodel"]

    # --- scan in the background; the tracks show exactly the engine's output
    scan_task = win.scan_controller.start()
    assert scan_task is not None
    assert win.scan_controller.start() is None and win.actions["cancel_scan"].isEnabled()
    qtbot.waitUntil(lambda: not win.tasks.is_running("scan"), timeout=TIMEOUT_MS)
    result = win.current_scan
    assert result is not None and win.session.current.scan is result
    assert not win.scan_controller.progress.isVisible() and win.actions["scan"].isEnabled()
    reference = run_to_end(scan(model, rec, result.options))
    np.testing.assert_allclose(result.fault_probability, reference.fault_probability, atol=1e-6)
    assert [(e.start_row, e.end_row) for e in result.events] == [
        (e.start_row, e.end_row) for e in reference.events
    ]
    view = win.signal_view
    _, curve_y = view.fault_track.curve.getOriginalDataset()
    np.testing.assert_array_equal(curve_y, result.fault_probability)
    assert result.events, "the tiny model should flag the level shifts"
    table = win.event_table
    assert table.model().rowCount() == len(result.events)
    first = result.events[0]
    assert table.model().index(0, 0).data() == first.start_time
    assert table.model().index(0, 3).data() == first.class_name

    # --- clicking a row zooms to that event, with context
    full = view.full_x_range()
    last_row = table.model().rowCount() - 1
    event = result.events[table.event_index_at(last_row)]
    rect = table.visualRect(table.model().index(last_row, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    x0, x1 = view.x_range()
    ev0, ev1 = view.row_span_x(event.start_row, event.end_row)
    assert x0 < ev0 and x1 > ev1
    assert (x1 - x0) < (full[1] - full[0]) / 2  # zoomed in on one level shift of several

    # --- N / P go to the next / previous event in time order
    order = sorted(range(len(result.events)), key=lambda i: result.events[i].start_row)
    current = table.current_event_index()
    win.actions["next_event"].trigger()
    expected = order[(order.index(current) + 1) % len(order)]
    assert table.current_event_index() == expected
    nx0, nx1 = view.x_range()
    e = result.events[expected]
    assert nx0 < view.row_span_x(e.start_row, e.end_row)[0] < nx1
    win.actions["previous_event"].trigger()
    assert table.current_event_index() == current
    assert error_boxes == []

    # --- the model saved from the panel loads back as the same model
    assert load_model(saved).fingerprint == model.fingerprint


def test_bad_files_show_the_message_and_keep_what_was_open(
    qtbot: QtBot,
    window: MainWindow,
    pump_csv: Path,
    tmp_path: Path,
    error_boxes: list,
    make_pump_csv,
) -> None:
    win = window
    _open(qtbot, win, pump_csv)
    before = win.current_recording

    binary = tmp_path / "broken.csv"
    binary.write_bytes(b"\x00\x01\x02\x89PNG\x00" * 200)
    dialog = win.open_file(binary)
    assert "broken.csv" in dialog.error and dialog.error_label.isVisible()
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Open).isEnabled()
    dialog.reject()

    # A file whose head looks fine but fails on the full read: the error appears in the
    # dialog, which stays open; nothing in the window changes.
    late = make_pump_csv(tmp_path / "late.csv", rows=3000)
    lines = late.read_text().splitlines()
    lines[2500] = "garbage-time," + ",".join(lines[2500].split(",")[1:])
    late.write_text("\n".join(lines) + "\n")
    dialog = win.open_file(late)
    assert dialog.error == ""
    with qtbot.waitSignal(dialog.load_failed, timeout=TIMEOUT_MS) as failed:
        dialog.open_recording()
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=TIMEOUT_MS)
    assert "late.csv" in failed.args[0] and "line 2501" in failed.args[0]
    assert dialog.isVisible() and dialog.error_label.isVisible()
    assert dialog.recording is None
    dialog.reject()
    assert [entry.recording for entry in win.session] == [before]
    assert win.current_recording is before

    garbage = tmp_path / "garbage.flmodel"
    garbage.write_bytes(b"not a model at all")
    assert not win.load_model_file(garbage)
    assert len(error_boxes) == 1 and "garbage.flmodel" in error_boxes[0][1]
    assert win.session.model is None and win.isVisible()


def test_error_dialog_is_non_modal_and_names_the_problem(qtbot: QtBot, window: MainWindow) -> None:
    window.report_error("data.csv: line 3: bad value; fix it", details="trace")
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1
    assert boxes[0].text() == "data.csv: line 3: bad value; fix it"
    assert boxes[0].detailedText() == "trace"
    # open(): modal to its window only, so the event loop (and every task) runs on.
    assert boxes[0].windowModality() == Qt.WindowModality.WindowModal
    boxes[0].close()
    assert window.isVisible()


def test_channel_mismatch_names_the_missing_channels(
    qtbot: QtBot, window: MainWindow, trained_model_path: Path, error_boxes: list
) -> None:
    data = np.random.default_rng(0).standard_normal((300, 2)).astype(np.float32)
    window.add_recording(Recording.from_arrays(data, ["pressure", "speed"], path="other.csv"))
    assert window.load_model_file(trained_model_path)
    assert len(error_boxes) == 1
    title, message, _ = error_boxes[0]
    assert title == "Channels do not match"
    assert "current, flow" in message and "other.csv" in message and "speed" in message
    assert window.scan_controller.start() is None  # explained again, nothing started
    assert len(error_boxes) == 2 and error_boxes[1][0] == "Channels do not match"
    assert window.tasks.running() == [] and window.current_scan is None


def test_close_during_training_asks_then_cancels(
    qtbot: QtBot, pump_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.add_recording(load_recording(pump_csv))
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    asked: list[str] = []

    def question(parent: object, title: str, text: str, *args: object) -> object:
        asked.append(text)
        return answers[len(asked) - 1]

    monkeypatch.setattr(QMessageBox, "question", question)
    win.training_panel.window_spin.setValue(16)
    win.training_panel.epochs_spin.setValue(500)
    task = win.training_panel.start_training()
    assert task is not None
    with qtbot.waitSignal(task.progress, timeout=TIMEOUT_MS):
        pass
    assert not win.close()  # "No": the window stays, training goes on
    assert task.is_running() and win.isVisible()
    assert win.close()  # "Yes": cancel, wait for the thread, close
    assert len(asked) == 2 and not task.is_running()
    assert asked[0] == "Still running: Training. Stop and quit? An unsaved model is lost."
    assert win.training_panel.result is None


def test_window_geometry_and_recent_files_persist(qtbot: QtBot, pump_csv: Path) -> None:
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    # Narrower than the offscreen platform's 800x600 screen, which clamps restored geometry
    # (the height is held up by the docks' minimum sizes, so only the width is compared).
    first.resize(640, 480)
    first.add_recording(load_recording(pump_csv))
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.width() == 640
    second.recent_menu.aboutToShow.emit()
    texts = [a.text() for a in second.recent_menu.actions()]
    assert "pump.csv" in texts


def test_drop_opens_the_import_dialog(qtbot: QtBot, window: MainWindow, pump_csv: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(pump_csv))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert len(window.import_dialogs) == 1
    assert window.import_dialogs[0].path == pump_csv
    window.import_dialogs[0].reject()


def test_help_lists_every_bound_shortcut(window: MainWindow) -> None:
    documented = " ".join(keys for keys, _ in SHORTCUTS)
    for action in window.actions.values():
        for sequence in action.shortcuts():
            text = sequence.toString()
            if text == "=":  # the unshifted "+" key on US layouts, an alias of "+"
                continue
            assert text in documented, f"{action.text()} ({text}) is not in the help"
    dialog = window.show_help()
    assert dialog.isVisible()
    # Keys other modules bind on the window (the review's) are listed too.
    for action in QMainWindow.actions(window):
        for sequence in action.shortcuts():
            assert sequence.toString() in dialog.text
    dialog.close()
    about = window.show_about()
    assert "pyqtgraph" in about.info and "CUDA" in about.info
    about.close()
    assert window.device_label.text().startswith(("CPU", "CUDA"))
    QApplication.processEvents()


@pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")
def test_training_dock_scrolls_instead_of_squeezing(qtbot: QtBot, window: MainWindow) -> None:
    from PySide6.QtWidgets import QScrollArea

    from faultlens.gui.training_panel import PLOT_MIN_HEIGHT, TABLE_MIN_HEIGHT

    panel = window.training_panel
    dock = window.docks["Training"]
    scroll = dock.widget()
    assert isinstance(scroll, QScrollArea) and scroll.widget() is panel
    dock.setFloating(True)
    dock.show()
    mins = {
        panel.loss_plot: PLOT_MIN_HEIGHT,
        panel.acc_plot: PLOT_MIN_HEIGHT,
        panel.recording_table: TABLE_MIN_HEIGHT,
        panel.validation.confusion: TABLE_MIN_HEIGHT,
        panel.validation.per_class: TABLE_MIN_HEIGHT,
    }

    dock.resize(420, 600)  # a short dock: every part keeps its height, the panel scrolls
    qtbot.waitUntil(lambda: scroll.verticalScrollBar().isVisible())
    for widget, least in mins.items():
        assert widget.height() >= least, widget.objectName() or type(widget).__name__
    assert panel.height() > scroll.viewport().height()
    assert panel.loss_plot.height() < 2 * PLOT_MIN_HEIGHT  # no taller than it needs to be

    dock.resize(420, 1100)  # a tall one: the panel fills it, nothing to scroll
    qtbot.waitUntil(lambda: not scroll.verticalScrollBar().isVisible())
    assert panel.height() == scroll.viewport().height()


@pytest.fixture
def zero_csv(make_pump_csv: Callable[..., Path]) -> Callable[..., Path]:
    """``zero_csv(folder, seed=0)``: a small pump CSV named 0.csv in ``folder``."""

    def write(folder: Path, seed: int = 0) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        return make_pump_csv(folder / "0.csv", rows=120, seed=seed)

    return write


def _list_texts(win: MainWindow) -> list[str]:
    return [win.recording_list.item(i).text() for i in range(win.recording_list.count())]


def test_two_files_of_the_same_name_are_told_apart_everywhere(
    window: MainWindow, tmp_path: Path, trained_model_path: Path, zero_csv: Callable[..., Path]
) -> None:
    first, second = zero_csv(tmp_path / "run1"), zero_csv(tmp_path / "run2", seed=1)
    window.load_file(first)
    assert _list_texts(window) == ["0.csv"]
    window.load_file(second)
    assert _list_texts(window) == ["0.csv — run1/", "0.csv — run2/"]
    assert window.windowTitle() == "FaultLens — 0.csv — run2/"
    assert str(first) in window.recording_list.item(0).toolTip()
    assert str(second) in window.recording_list.item(1).toolTip()
    window.recent_menu.aboutToShow.emit()
    recent = [a.text() for a in window.recent_menu.actions()]
    assert recent[:2] == ["0.csv — run2/", "0.csv — run1/"]
    assert window.recent_menu.actions()[0].toolTip() == str(second)
    # The model panel names its training files as the session does.
    from dataclasses import replace

    model = load_model(trained_model_path)
    hashes = [entry.recording.content_hash for entry in window.session]
    model = replace(
        model,
        training_data=[{"file": "0.csv", "sha256": h, "rows": 120} for h in hashes]
        + [{"file": "0.csv", "sha256": "abcdef0123456789", "rows": 7}],
    )
    window.set_model(model)
    text = window.model_info.browser.toPlainText()
    assert "0.csv — run1/ (120 rows), 0.csv — run2/ (120 rows)" in text
    assert "0.csv (sha256 abcdef01) (7 rows)" in text
    assert "0.csv — run2/" in text.split("Created")[-1]  # the fit row of the current one


def test_close_recording_from_the_menu_and_the_list(
    window: MainWindow, tmp_path: Path, zero_csv: Callable[..., Path]
) -> None:
    first, second = zero_csv(tmp_path / "run1"), zero_csv(tmp_path / "run2", seed=1)
    window.load_file(first)
    window.load_file(second)
    assert window.actions["close_recording"].shortcuts()[0].toString() == "Ctrl+W"
    window.actions["close_recording"].trigger()
    assert [e.recording.path for e in window.session] == [first]
    assert _list_texts(window) == ["0.csv"]
    assert window.windowTitle() == "FaultLens — 0.csv"
    menu = window.recording_list.context_menu(0)
    assert menu is not None
    assert window.recording_list.context_menu(5) is None
    [close] = [a for a in menu.actions() if a.text() == "Close Recording"]
    close.trigger()
    menu.deleteLater()
    assert len(window.session) == 0
    assert window.windowTitle() == "FaultLens"
    assert not window.actions["close_recording"].isEnabled()


def test_several_files_one_import_step_in_the_order_chosen(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, zero_csv: Callable[..., Path]
) -> None:
    paths = [zero_csv(tmp_path / name, seed=i) for i, name in enumerate("cab")]
    dialog = window.open_files(paths)
    assert dialog is not None
    assert window.import_dialogs == [dialog]  # one dialog, not one per file
    assert dialog.apply_all_check.isVisibleTo(dialog) and dialog.apply_to_all
    assert "2 more files" in dialog.windowTitle()
    dialog.label_combo.setCurrentIndex(dialog.label_combo.findData("__none__"))
    dialog.open_recording()
    qtbot.waitUntil(lambda: len(window.session) == 3, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.import_dialogs, timeout=TIMEOUT_MS)
    assert [e.recording.path for e in window.session] == paths
    # The first file's settings (no label column) were applied to the others.
    assert all(e.recording.labels is None for e in window.session)
    assert _list_texts(window) == ["0.csv — c/", "0.csv — a/", "0.csv — b/"]


def test_several_files_without_apply_to_all_use_their_detected_settings(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, zero_csv: Callable[..., Path]
) -> None:
    paths = [zero_csv(tmp_path / name, seed=i) for i, name in enumerate("xy")]
    dialog = window.open_files(paths)
    assert dialog is not None
    dialog.label_combo.setCurrentIndex(dialog.label_combo.findData("__none__"))
    dialog.apply_all_check.setChecked(False)
    dialog.open_recording()
    qtbot.waitUntil(lambda: len(window.session) == 2, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.import_dialogs, timeout=TIMEOUT_MS)
    first, second = window.session
    assert first.recording.labels is None and second.recording.labels is not None


def test_reopening_an_open_file_selects_it(
    window: MainWindow,
    tmp_path: Path,
    make_pump_csv: Callable[..., Path],
    zero_csv: Callable[..., Path],
) -> None:
    first, second = zero_csv(tmp_path / "run1"), zero_csv(tmp_path / "run2", seed=1)
    window.load_file(first)
    window.load_file(second)
    assert window.open_file(first) is None
    assert len(window.session) == 2
    assert window.session.current is not None
    assert window.session.current.recording.path == first
    assert "already open" in window.statusBar().currentMessage()
    assert not window.import_dialogs
    # Changed on disk since: not the same recording, so it is imported again.
    make_pump_csv(first, rows=130, seed=5)
    dialog = window.open_file(first)
    assert dialog is not None
    dialog.reject()


def test_empty_window_says_how_to_open_a_recording(window: MainWindow, pump_csv: Path) -> None:
    assert window.centre.currentWidget() is window.empty_hint
    assert window.empty_hint.isVisible()
    assert "Open a recording (Ctrl+O) or drop a CSV here" in window.empty_hint.text()
    assert "demo" in window.empty_hint.text()
    window.load_file(pump_csv)
    assert window.centre.currentWidget() is window.signal_view
    assert not window.empty_hint.isVisible()
    window.close_recording()
    assert window.centre.currentWidget() is window.empty_hint


def test_report_title_uses_the_name_the_session_gives(
    qtbot: QtBot,
    window: MainWindow,
    tmp_path: Path,
    trained_model_path: Path,
    zero_csv: Callable[..., Path],
) -> None:
    window.load_file(zero_csv(tmp_path / "run1"))
    window.load_file(zero_csv(tmp_path / "run2", seed=1))
    window.set_model(load_model(trained_model_path))
    entry = window.session.current
    assert entry is not None and window.session.model is not None
    window.scan_controller.apply(entry.id, run_to_end(scan(window.session.model, entry.recording)))
    exporter = window.review_controller.exporter
    with qtbot.waitSignal(exporter.exported, timeout=TIMEOUT_MS):
        exporter.export(tmp_path / "report.html")
    assert "Fault report: 0.csv — run2/" in (tmp_path / "report.html").read_text("utf-8")
