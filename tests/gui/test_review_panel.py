"""The review panel, the region overlay and the report exporter, on real core objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from faultlens.core import review as review_mod
from faultlens.core.checkpoint import TrainedModel
from faultlens.core.detection import FaultEvent, ScanOptions, scan
from faultlens.core.io import load_recording
from faultlens.core.model import AttentionLSTM, ModelConfig
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording
from faultlens.core.report import read_events
from faultlens.core.review import Review
from faultlens.gui.app import configure_pyqtgraph
from faultlens.gui.main_window import MainWindow
from faultlens.gui.report_export import ExportInputs, ReportExporter
from faultlens.gui.review_controller import ReviewIntegration
from faultlens.gui.review_panel import RegionOverlay, ReviewPanel
from faultlens.gui.signal_view import SignalView


@pytest.fixture(autouse=True)
def _review_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(review_mod.REVIEW_DIR_ENV, str(tmp_path / "user-data"))


def events_for(rec: Recording, spans: list[tuple[int, int]]) -> list[FaultEvent]:
    return [
        FaultEvent(
            s, e, rec.format_time(s), rec.format_time(e), float(e - s), "1", 0.9, 0.7, ("flow",)
        )
        for s, e in spans
    ]


@pytest.fixture
def recording(pump_csv: Path) -> Recording:
    return load_recording(pump_csv)


@pytest.fixture
def review(recording: Recording) -> Review:
    review = Review.open(recording)
    review.set_events(events_for(recording, [(80, 120), (240, 280), (400, 430)]),
                      class_names=("0", "1"))  # fmt: skip
    return review


def win_review(win: MainWindow) -> ReviewIntegration:
    """The review integration the main window installs."""
    assert isinstance(win.review_integration, ReviewIntegration)
    return win.review_integration


def panel_for(qtbot: QtBot, review: Review, recording: Recording) -> ReviewPanel:
    panel = ReviewPanel()
    qtbot.addWidget(panel)
    panel.set_review(review, recording)
    return panel


def cell(panel: ReviewPanel, row: int, col: int) -> str:
    item = panel.event_list.item(row, col)
    assert item is not None
    return item.text()


def test_panel_acts_on_the_review_and_follows_it(
    qtbot: QtBot, review: Review, recording: Recording
) -> None:
    panel = panel_for(qtbot, review, recording)
    assert panel.event_list.rowCount() == 3
    assert not panel.confirm_button.isEnabled()  # nothing selected yet

    with qtbot.waitSignal(panel.event_selected) as picked:
        panel.event_list.selectRow(1)
    assert picked.args == [1]
    panel.note_edit.setPlainText("valve stuck, see log")
    panel.confirm_button.click()  # the typed note is saved first, then the status
    assert review.status(1) == "confirmed"
    assert review.decision(1).note == "valve stuck, see log"
    assert cell(panel, 1, 3) == "confirmed" and cell(panel, 1, 4) == "valve stuck, see log"

    assert panel.relabel_current("FC-9 cavitation")
    assert cell(panel, 1, 3) == "relabelled → FC-9 cavitation"
    panel.undo_button.click()
    assert review.status(1) == "confirmed" and cell(panel, 1, 3) == "confirmed"
    assert panel.redo_button.isEnabled()
    panel.redo_button.click()
    assert review.status(1) == "relabelled"

    # A change made on the core object (e.g. by the main window's Ctrl+Z) shows up too.
    review.dismiss(0)
    assert cell(panel, 0, 3) == "dismissed"
    assert "1 dismissed" in panel.summary_label.text()
    assert "1 relabelled" in panel.summary_label.text()
    assert str(review.sidecar_path) in panel.summary_label.text()

    # A note typed for one event is kept when the user picks another row.
    panel.event_list.selectRow(0)
    panel.note_edit.setPlainText("pump noisy here")
    panel.event_list.selectRow(2)
    assert review.decision(0).note == "pump noisy here"
    assert panel.note_edit.toPlainText() == ""

    # Following the main event table selects without echoing the selection back.
    with qtbot.assertNotEmitted(panel.event_selected):
        panel.select_event(0)
    assert panel.current_event_index() == 0
    assert panel.note_edit.toPlainText() == "pump noisy here"


def test_regions_and_errors(
    qtbot: QtBot, review: Review, recording: Recording, error_boxes: list
) -> None:
    panel = panel_for(qtbot, review, recording)
    rid = panel.add_region(300, 320)
    assert rid is not None and review.region(rid).class_name == "1"  # first fault class
    assert panel.region_list.rowCount() == 1
    panel.region_list.item(0, 1).setText("imbalance")
    panel.region_list.item(0, 2).setText("drawn by hand")
    assert review.region(rid).class_name == "imbalance"
    assert review.region(rid).note == "drawn by hand"
    panel.region_list.item(0, 1).setText("   ")  # refused, and the cell shows the stored class
    assert error_boxes and "class name or a fault code" in error_boxes[-1][1]
    assert panel.region_list.item(0, 1).text() == "imbalance"
    panel.region_list.selectRow(0)
    panel.delete_region_button.click()
    assert review.regions == () and panel.region_list.rowCount() == 0

    panel.event_list.selectRow(0)
    assert not panel.relabel_current("")
    assert "type one" in panel.last_error


def test_train_with_reviewed_labels(qtbot: QtBot, review: Review, recording: Recording) -> None:
    panel = panel_for(qtbot, review, recording)
    review.confirm(0)
    review.dismiss(1)
    with qtbot.waitSignal(panel.train_requested) as sent:
        panel.train_button.click()
    reviewed = sent.args[0]
    assert isinstance(reviewed, Recording)
    assert reviewed.name.endswith("(reviewed labels)")
    assert set(reviewed.labels[80:121]) == {"1"}
    assert set(reviewed.labels[240:281]) == {"0"}
    assert reviewed.data is recording.data


def test_region_overlay_on_the_signal_view(
    qtbot: QtBot, review: Review, recording: Recording
) -> None:
    configure_pyqtgraph()
    view = SignalView()
    qtbot.addWidget(view)
    view.set_recording(recording)
    overlay = RegionOverlay(view)
    overlay.set_review(review)
    rid = review.add_region(100, 150, "leak")
    assert len(overlay.items) == len(view.plots)
    _plot, item, item_rid = overlay.items[0]
    assert item_rid == rid and item.movable
    x0, x1 = view.row_span_x(100, 150)
    assert item.getRegion() == pytest.approx((x0, x1))

    # Dragging the edges (as the mouse does) moves the region in the review.
    item.setRegion((recording.time_axis()[110], recording.time_axis()[170]))
    item.sigRegionChangeFinished.emit(item)
    assert (review.region(rid).start_row, review.region(rid).end_row) == (110, 170)
    # ... and every plot's item follows the review.
    for _plot, other, _ in overlay.items:
        assert other.getRegion() == pytest.approx(view.row_span_x(110, 170))
    review.undo()
    assert overlay.items[0][1].getRegion() == pytest.approx((x0, x1))
    lo, hi = overlay.view_rows()
    assert 0 <= lo < hi < recording.n_rows
    overlay.set_review(None)
    assert overlay.items == []


@pytest.fixture
def scanned(recording: Recording):
    torch.manual_seed(0)
    config = ModelConfig(n_channels=3, n_classes=2, hidden=8, heads=2, classifier_hidden=8)
    model = TrainedModel(
        module=AttentionLSTM(config).eval(), config=config, channels=recording.channels,
        class_names=("0", "1"), norm_mean=np.zeros(3, np.float32),
        norm_std=np.ones(3, np.float32), window=16, stride=4,
    )  # fmt: skip
    result = run_to_end(scan(model, recording, ScanOptions(device="cpu", stride=4)))
    result.events = events_for(recording, [(40, 60), (100, 130), (200, 220), (300, 340)])
    return model, result


def test_export_report_and_events_in_a_worker(
    qtbot: QtBot, tmp_path: Path, recording: Recording, review: Review, scanned, error_boxes
) -> None:
    model, result = scanned
    review.set_events(result.events)
    review.confirm(0)
    host = ReviewPanel()  # any widget can host the action
    qtbot.addWidget(host)
    exporter = ReportExporter(host, lambda: ExportInputs(recording, result, model, review))
    assert exporter.action.shortcut().toString() == "Ctrl+E"

    out = tmp_path / "r.html"
    with qtbot.waitSignal(exporter.exported, timeout=60_000) as done:
        assert exporter.export(out) is not None
        review.dismiss(1)  # reviewing goes on while the report is written (snapshot)
    assert done.args == [str(out)]
    text = out.read_text(encoding="utf-8")
    assert text.count("<img") == 4 and "st st-confirmed" in text and "st st-dismissed" not in text
    qtbot.waitUntil(lambda: not exporter.worker.is_running())

    events_out = tmp_path / "e.csv"
    with qtbot.waitSignal(exporter.exported, timeout=60_000):
        assert exporter.export(events_out) is not None
    events, reviews = read_events(events_out)
    assert events == result.events and reviews[1]["review_status"] == "dismissed"
    qtbot.waitUntil(lambda: not exporter.worker.is_running())

    # A failing export shows its one-line reason and leaves nothing.
    with qtbot.waitSignal(exporter.failed, timeout=60_000):
        exporter.export(tmp_path / "missing" / "r.pdf")
    assert "does not exist" in error_boxes[-1][1]
    qtbot.waitUntil(lambda: not exporter.worker.is_running())

    # Cancel from the progress dialog: no file.
    target = tmp_path / "c.pdf"
    with qtbot.waitSignal(exporter.failed, timeout=60_000):
        worker = exporter.export(target)
        dialog = exporter.progress_dialog
        cancel_button = dialog.findChild(QPushButton)
        assert cancel_button is not None and cancel_button.text() == "Cancel"
        # The user presses Cancel as soon as the first progress report shows.
        worker.progress.connect(lambda _report: cancel_button.click())
    qtbot.waitUntil(lambda: not worker.is_running())
    assert "cancelled" in exporter.last_error and not target.exists()

    none = ReportExporter(host, lambda: None)
    assert none.export(out) is None and "scan it" in none.last_error


def test_main_window_review_integration(
    qtbot: QtBot, recording: Recording, scanned, tmp_path: Path, error_boxes: list
) -> None:
    from faultlens.core.review import primary_sidecar_path

    model, result = scanned
    win = MainWindow()
    qtbot.addWidget(win)
    integration = win_review(win)
    win.add_recording(recording)
    win.set_model(model)
    win.apply_scan(recording, result)
    review = integration.review
    assert review is not None and len(review.events) == 4
    assert integration.panel.event_list.rowCount() == 4
    assert "Review" in win.docks and "Review" in win.menus

    # Picking an event in the main table selects it in the panel; C confirms it.
    win.event_table.select_event(2)
    assert integration.panel.current_event_index() == 2
    integration.actions["confirm"].trigger()
    assert review.status(2) == "confirmed"
    integration.actions["undo"].trigger()
    assert review.status(2) == "unreviewed"
    integration.actions["redo"].trigger()
    assert review.status(2) == "confirmed"
    assert [s.toString() for s in integration.actions["undo"].shortcuts()] == ["Ctrl+Z"]
    assert integration.exporter.action.shortcut().toString() == "Ctrl+E"
    assert integration.exporter.action in win.menus["File"].actions()

    rid = integration.draw_region()
    assert rid is not None and len(integration.overlay.items) == len(win.signal_view.plots)

    # Shift + drag across a channel plot draws a region from where the drag began to its end.
    win.show()
    qtbot.waitExposed(win)
    graphics = win.signal_view.graphics
    plot = next(iter(win.signal_view.plots.values()))
    box = plot.vb.sceneBoundingRect()
    y = box.center().y()
    a = graphics.mapFromScene(QPointF(box.left() + 0.2 * box.width(), y))
    b = graphics.mapFromScene(QPointF(box.left() + 0.6 * box.width(), y))
    shift = Qt.KeyboardModifier.ShiftModifier
    view_range = win.signal_view.x_range()
    qtbot.mousePress(graphics.viewport(), Qt.MouseButton.LeftButton, shift, a)
    qtbot.mouseMove(graphics.viewport(), b)
    qtbot.mouseRelease(graphics.viewport(), Qt.MouseButton.LeftButton, shift, b)
    assert len(review.regions) == 2
    drawn = review.regions[-1]
    xs = recording.time_axis()
    expected = integration.shift_drag.x_at(QPointF(a)), integration.shift_drag.x_at(QPointF(b))
    assert xs[drawn.start_row] == pytest.approx(expected[0], abs=2.0)
    assert xs[drawn.end_row] == pytest.approx(expected[1], abs=2.0)
    assert win.signal_view.x_range() == pytest.approx(view_range)  # the drag did not pan

    # Train with reviewed labels puts the relabelled copy, ticked, in the training panel.
    integration.actions["train"].trigger()
    panel = win.training_panel
    assert panel.recordings[-1].name.endswith("(reviewed labels)")
    chosen, _options = panel.snapshot()
    assert [r.name for r in chosen] == [panel.recordings[-1].name]

    # The review is on disk; a new window restores it for the same file.
    sidecar = primary_sidecar_path(recording.path)
    assert sidecar.is_file()
    win.close()
    again = MainWindow()
    qtbot.addWidget(again)
    integration2 = win_review(again)
    rec2 = load_recording(recording.path)
    again.add_recording(rec2)
    again.set_model(model)
    again.apply_scan(rec2, result)
    assert integration2.review.status(2) == "confirmed"
    assert len(integration2.review.regions) == 2
    assert not error_boxes


def test_module_opens_on_its_own(qtbot: QtBot, recording: Recording, scanned) -> None:
    from faultlens.gui import review_panel

    _model, result = scanned
    widget = review_panel._demo_widget(recording, _model, result)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    assert widget.event_list.rowCount() == len(result.events)
    assert widget.review is not None and widget.review.sidecar_path is None


def test_main_window_reports_a_corrupt_review_file(
    qtbot: QtBot, recording: Recording, error_boxes: list
) -> None:
    from faultlens.core.review import primary_sidecar_path

    sidecar = primary_sidecar_path(recording.path)
    sidecar.write_text("{broken")
    win = MainWindow()
    qtbot.addWidget(win)
    integration = win_review(win)
    assert not integration.exporter.action.isEnabled()  # nothing scanned yet
    win.add_recording(recording)
    assert error_boxes and "kept as" in error_boxes[-1][1]
    assert integration.panel.warning_label.isVisibleTo(integration.panel)
    assert not sidecar.exists() and list(recording.path.parent.glob("*.corrupt-*.json"))


def test_export_imports_the_renderers_on_the_gui_thread_first(
    qtbot: QtBot,
    tmp_path: Path,
    recording: Recording,
    review: Review,
    scanned,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An HTML/PDF export imports matplotlib on the GUI thread before its worker starts
    (report_export.import_renderers), so the worker only looks up loaded modules; an events
    file needs none of it."""
    import sys
    import threading

    from faultlens.gui import report_export

    model, result = scanned
    host = ReviewPanel()
    qtbot.addWidget(host)
    exporter = ReportExporter(host, lambda: ExportInputs(recording, result, model, review))
    # (module, on the GUI thread, the exporter's newest worker, already loaded)
    calls: list[tuple[str, bool, object, bool]] = []
    real_import = report_export.importlib.import_module

    def spy(name: str) -> object:
        on_gui = threading.current_thread() is threading.main_thread()
        calls.append((name, on_gui, exporter.worker, name in sys.modules))
        return real_import(name)

    monkeypatch.setattr(report_export.importlib, "import_module", spy)
    with qtbot.waitSignal(exporter.exported, timeout=60_000):
        exporter.export(tmp_path / "e.csv")
    qtbot.waitUntil(lambda: not exporter.worker.is_running())
    assert calls == []
    csv_worker = exporter.worker

    with qtbot.waitSignal(exporter.exported, timeout=60_000):
        exporter.export(tmp_path / "r.pdf")
    qtbot.waitUntil(lambda: not exporter.worker.is_running())
    # On the GUI thread while the newest worker was still the CSV run's: before the PDF
    # run's worker existed.
    up_front = {name for name, on_gui, worker, _ in calls if on_gui and worker is csv_worker}
    assert set(report_export.RENDERER_MODULES) <= up_front
    # matplotlib looks its back end up again while it renders: only modules already loaded.
    assert all(loaded for _, on_gui, _, loaded in calls if not on_gui)
