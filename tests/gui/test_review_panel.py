"""The review panel, the shared event model, the region overlay and the report exporter, on
real core objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QItemSelectionModel, QPointF, Qt
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from faultlens.core import review_file as review_mod
from faultlens.core.checkpoint import TrainedModel
from faultlens.core.event_files import read_events
from faultlens.core.events import FaultEvent
from faultlens.core.io import load_recording
from faultlens.core.model import AttentionLSTM, ModelConfig
from faultlens.core.options import ScanOptions
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording
from faultlens.core.review import Review
from faultlens.core.scan import ScanResult, scan
from faultlens.core.session import Session
from faultlens.gui.app import configure_pyqtgraph
from faultlens.gui.event_model import (
    CLASS,
    NOTE,
    NUMBER,
    PEAK,
    START,
    STATUS,
    EventsModel,
    SortedEvents,
    index_of_event,
)
from faultlens.gui.event_table import EventTable
from faultlens.gui.region_overlay import RegionOverlay, ShiftDragDrawer
from faultlens.gui.review_panel import ReviewPanel
from faultlens.gui.signal_view import SignalView


@pytest.fixture(autouse=True)
def _review_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(review_mod.REVIEW_DIR_ENV, str(tmp_path / "user-data"))


def events_for(
    rec: Recording, spans: list[tuple[int, int]], peaks: tuple[float, ...] = ()
) -> list[FaultEvent]:
    peaks = peaks or (0.9,) * len(spans)
    return [
        FaultEvent(
            s, e, rec.format_time(s), rec.format_time(e), float(e - s), "1", p, 0.7, ("flow",)
        )
        for (s, e), p in zip(spans, peaks, strict=True)
    ]


def scan_of(rec: Recording, events: list[FaultEvent]) -> ScanResult:
    """A ScanResult holding just ``events`` (what the event model and the panel read)."""
    n = rec.n_rows
    zeros = np.zeros(n, dtype=np.float32)
    return ScanResult(
        class_names=("0", "1"),
        probabilities=np.zeros((n, 2), dtype=np.float32),
        predicted=np.zeros(n, dtype=np.int16),
        fault_probability=zeros,
        attention=zeros,
        attention_heads=np.zeros((1, n), dtype=np.float32),
        hotspots=zeros,
        events=events,
        window=16,
    )


@pytest.fixture
def recording(pump_csv: Path) -> Recording:
    return load_recording(pump_csv)


@pytest.fixture
def review(recording: Recording) -> Review:
    return Review.open(recording)


class Docks:
    """The two docks as the main window wires them: one model, one selection."""

    def __init__(self, qtbot: QtBot, session: Session) -> None:
        self.session = session
        self.host = QWidget()  # owns the model, as the window does
        qtbot.addWidget(self.host)
        self.model = EventsModel(session, self.host)
        self.shown = SortedEvents(self.model)
        self.selection = QItemSelectionModel(self.shown, self.shown)
        self.table = EventTable(self.shown, self.selection)
        self.panel = ReviewPanel(session, self.shown, self.selection)
        qtbot.addWidget(self.table)
        qtbot.addWidget(self.panel)

    def cell(self, event: int, column: int) -> str:
        """What both docks show for ``event`` in ``column`` (they share the model)."""
        return str(index_of_event(self.shown, event, column).data())

    def panel_row_of(self, event: int) -> int:
        return index_of_event(self.panel.event_list.model(), event).row()


@pytest.fixture
def docks(qtbot: QtBot, recording: Recording, review: Review) -> Docks:
    session = Session()
    entry = session.add(recording)
    session.set_review(entry.id, review)
    spans = [(80, 120), (240, 280), (400, 430)]
    session.set_scan(entry.id, scan_of(recording, events_for(recording, spans)))
    return Docks(qtbot, session)


def test_panel_acts_on_the_review_and_follows_it(docks: Docks, review: Review) -> None:
    panel = docks.panel
    assert panel.event_list.model().rowCount() == 3 and len(review.events) == 3
    assert not panel.confirm_button.isEnabled()  # nothing selected yet

    panel.event_list.selectRow(1)
    assert panel.current_event_index() == 1
    assert panel.confirm_button.isEnabled()
    panel.note_edit.setPlainText("valve stuck, see log")
    panel.confirm_button.click()  # the typed note is saved first, then the status
    assert review.status(1) == "confirmed"
    assert review.decision(1).note == "valve stuck, see log"
    assert docks.cell(1, STATUS) == "confirmed" and docks.cell(1, NOTE) == "valve stuck, see log"

    assert panel.relabel_current("FC-9 cavitation")
    assert docks.cell(1, STATUS) == "relabelled → FC-9 cavitation"
    panel.undo_button.click()
    assert review.status(1) == "confirmed" and docks.cell(1, STATUS) == "confirmed"
    assert panel.redo_button.isEnabled()
    panel.redo_button.click()
    assert review.status(1) == "relabelled"

    # A change made on the core object (e.g. by the main window's Ctrl+Z) shows up too.
    review.dismiss(0)
    assert docks.cell(0, STATUS) == "dismissed"
    assert "1 dismissed" in panel.summary_label.text()
    assert "1 relabelled" in panel.summary_label.text()
    assert str(review.sidecar_path) in panel.summary_label.text()

    # A note typed for one event is kept when the user picks another row.
    panel.event_list.selectRow(0)
    panel.note_edit.setPlainText("pump noisy\nhere")
    panel.event_list.selectRow(2)
    assert review.decision(0).note == "pump noisy\nhere"
    assert docks.cell(0, NOTE) == "pump noisy here"  # one line in the cell
    assert panel.note_edit.toPlainText() == ""

    # ... also when the other event is picked in the Fault events dock.
    panel.note_edit.setPlainText("second look")
    docks.table.select_event(0)
    assert review.decision(2).note == "second look"
    assert panel.current_event_index() == 0
    assert panel.note_edit.toPlainText() == "pump noisy\nhere"


def test_selecting_in_either_dock_selects_in_the_other(qtbot: QtBot, docks: Docks) -> None:
    table, panel = docks.table, docks.panel
    assert table.selectionModel() is panel.event_list.selectionModel() is docks.selection
    # The Fault events dock sorts (here by peak probability); the Review dock shows the same
    # order, and the event is what both agree on.
    docks.model.session.set_scan(
        docks.session.current_id,
        scan_of(
            docks.session.current.recording,
            events_for(docks.session.current.recording, [(80, 120), (240, 280)], (0.6, 0.95)),
        ),
    )
    table.sortByColumn(PEAK, Qt.SortOrder.DescendingOrder)
    assert [table.event_index_at(r) for r in range(2)] == [1, 0]
    for view in (table, panel.event_list):
        view.show()
        qtbot.waitExposed(view)

    # A click in the Review dock selects the event in the Fault events dock, which says so
    # (the main window zooms the signals to it).
    rect = panel.event_list.visualRect(panel.event_list.model().index(1, START))
    with qtbot.waitSignal(table.event_activated) as activated:
        qtbot.mouseClick(panel.event_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert activated.args == [0]
    assert table.current_event_index() == panel.current_event_index() == 0
    assert [i.row() for i in table.selectionModel().selectedRows()] == [1]

    # A click in the Fault events dock selects it in the Review dock.
    rect = table.visualRect(table.model().index(0, START))
    with qtbot.waitSignal(table.event_activated) as activated:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert activated.args == [1]
    assert panel.current_event_index() == 1
    # Clicking the selected row again zooms to it again (once).
    with qtbot.waitSignal(table.event_activated) as again:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert again.args == [1]

    # The Review dock shows #, Start, Class, Review and Note, in that order; the Fault events
    # dock the event columns only.
    header = panel.event_list.horizontalHeader()
    shown = sorted(
        (header.visualIndex(c), c) for c in range(header.count()) if not header.isSectionHidden(c)
    )
    assert [c for _, c in shown] == [NUMBER, START, CLASS, STATUS, NOTE]
    assert all(table.isColumnHidden(c) for c in (STATUS, NOTE, NUMBER))
    assert not any(table.isColumnHidden(c) for c in range(STATUS))


def test_a_review_action_updates_the_row_in_both_docks_without_a_rebuild(
    qtbot: QtBot, docks: Docks, review: Review
) -> None:
    docks.panel.select_event(2)
    resets: list[object] = []
    changed: list[tuple[int, int]] = []
    docks.model.modelReset.connect(lambda: resets.append(None))
    docks.model.layoutChanged.connect(lambda *_: resets.append(None))
    docks.model.dataChanged.connect(lambda a, b, _roles: changed.append((a.row(), b.row())))
    docks.panel.confirm_button.click()
    assert review.status(2) == "confirmed"
    assert changed == [(2, 2)] and resets == []
    table_row = docks.table.view_row_of(2)
    assert docks.table.model().index(table_row, STATUS).data() == "confirmed"
    panel_model = docks.panel.event_list.model()
    assert panel_model.index(docks.panel_row_of(2), STATUS).data() == "confirmed"
    # The selection survives: the panel still acts on the same event.
    assert docks.panel.current_event_index() == docks.table.current_event_index() == 2


def test_panel_follows_the_session(qtbot: QtBot, docks: Docks, recording: Recording) -> None:
    session, panel = docks.session, docks.panel
    first = session.current_id
    panel.select_event(1)
    panel.note_edit.setPlainText("typed, not saved")
    # Another recording: its own (empty) review, no scan, no rows; the typed note went to
    # the first recording's event before the switch.
    other = session.add(load_recording(recording.path))
    assert session.get(first).review.decision(1).note == "typed, not saved"
    assert panel.review is None and panel.event_list.model().rowCount() == 0
    assert not panel.confirm_button.isEnabled() and not panel.draw_button.isEnabled()
    session.open_review(other.id)
    assert panel.review is session.get(other.id).review
    session.set_current(first)
    assert panel.review is session.get(first).review
    assert panel.event_list.model().rowCount() == 3
    # A new model drops the scans: no rows, no selection, the note editor empty.
    session.set_model(None)
    assert panel.event_list.model().rowCount() == 0
    assert panel.current_event_index() is None and panel.note_edit.toPlainText() == ""


def test_regions_and_errors(docks: Docks, review: Review, error_boxes: list) -> None:
    panel = docks.panel
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


def test_regions_are_listed_by_time_with_their_rows_in_the_tooltip(
    qtbot: QtBot, docks: Docks, recording: Recording
) -> None:
    assert recording.time is not None  # the pump CSV has a time column
    panel = docks.panel
    panel.add_region(300, 320)
    header = panel.region_list.horizontalHeaderItem(0)
    assert header is not None and header.text() == "Time"
    cell = panel.region_list.item(0, 0)
    assert cell.text() == f"{recording.format_time(300)} – {recording.format_time(320)}"
    assert cell.toolTip() == "rows 300 – 320"

    # A recording without a time axis: its regions by rows.
    bare = Recording.from_arrays(recording.data, recording.channels, path="bare.csv")
    assert bare.time is None
    entry = docks.session.add(bare)
    docks.session.set_review(entry.id, Review(bare.name, bare.content_hash, bare.n_rows))
    panel.add_region(10, 40)
    header = panel.region_list.horizontalHeaderItem(0)
    assert header is not None and header.text() == "Rows"
    assert panel.region_list.item(0, 0).text() == "10 – 40"


def test_train_with_reviewed_labels_is_asked_for(
    qtbot: QtBot, docks: Docks, review: Review
) -> None:
    panel = docks.panel
    panel.select_event(0)
    panel.note_edit.setPlainText("the reason")
    with qtbot.waitSignal(panel.train_requested):
        panel.train_button.click()
    assert review.decision(0).note == "the reason"  # saved before training is asked for
    docks.session.set_current(None)
    assert not panel.train_button.isEnabled()
    with qtbot.assertNotEmitted(panel.train_requested):
        assert not panel.request_training()


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
    # The view rebuilds its plots for a recording: the regions are drawn on the new ones.
    view.set_recording(recording)
    assert {plot for plot, _, _ in overlay.items} == set(view.plots.values())
    overlay.set_review(None)
    assert overlay.items == []


def test_earlier_decisions_are_drawn_as_dashed_spans_that_follow_the_review(
    qtbot: QtBot, recording: Recording, review: Review
) -> None:
    configure_pyqtgraph()
    session = Session()
    entry = session.add(recording)
    session.set_review(entry.id, review)
    session.set_scan(entry.id, scan_of(recording, events_for(recording, [(80, 120), (240, 280)])))
    view = SignalView(session)
    qtbot.addWidget(view)
    overlay = RegionOverlay(view)
    review.confirm(0)
    review.add_region(400, 420, "leak")
    assert overlay.earlier_items == []  # every decision is on an event shown

    # Another scan flags other events: the confirmation is drawn as its own dashed span.
    session.set_scan(entry.id, scan_of(recording, events_for(recording, [(300, 330)])))
    assert len(overlay.earlier_items) == len(view.plots)
    assert len(overlay.items) == len(view.plots)  # the hand-drawn region stays as it was
    plot, item, key = overlay.earlier_items[0]
    assert key == review.orphan_decisions()[0].key and not item.movable
    assert item.getRegion() == pytest.approx(view.row_span_x(80, 120))
    assert item.toolTip() == "Decision from an earlier scan: confirmed 1"
    assert all(line.pen.style() == Qt.PenStyle.DashLine for line in item.lines)
    hand = overlay.items[0][1]
    assert all(line.pen.style() != Qt.PenStyle.DashLine for line in hand.lines)
    assert item in plot.items

    # Review changes are followed: a region undone leaves the earlier decision drawn ...
    review.add_region(200, 220, "leak")
    review.undo()
    assert len(overlay.earlier_items) == len(view.plots) and len(overlay.items) == len(view.plots)
    # ... and the first scan again puts the confirmation back on its event: no dashed span.
    session.set_scan(entry.id, scan_of(recording, events_for(recording, [(80, 120), (240, 280)])))
    assert overlay.earlier_items == [] and item not in plot.items
    assert review.status(0) == "confirmed"


def test_region_overlay_follows_the_session(
    qtbot: QtBot, review: Review, recording: Recording
) -> None:
    configure_pyqtgraph()
    session = Session()
    first = session.add(recording)
    session.set_review(first.id, review)
    review.add_region(100, 150, "leak")
    view = SignalView(session)
    qtbot.addWidget(view)
    overlay = RegionOverlay(view)
    assert overlay.review is review and len(overlay.items) == len(view.plots)
    other = session.add(load_recording(recording.path))  # current now, no review yet
    assert overlay.review is None and overlay.items == []
    opened, _warnings = session.open_review(other.id)
    assert overlay.review is opened
    session.set_current(first.id)
    assert overlay.review is review and len(overlay.items) == len(view.plots)
    assert {plot for plot, _, _ in overlay.items} == set(view.plots.values())


def test_shift_drag_draws_a_region_and_does_not_pan(qtbot: QtBot, recording: Recording) -> None:
    configure_pyqtgraph()
    view = SignalView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.set_recording(recording)
    drawn: list[tuple[float, float]] = []
    drawer = ShiftDragDrawer(view, lambda x0, x1: drawn.append((x0, x1)))
    view.show()
    qtbot.waitExposed(view)
    graphics = view.graphics
    plot = next(iter(view.plots.values()))
    box = plot.vb.sceneBoundingRect()
    y = box.center().y()
    # From right to left: the region runs from the smaller x to the larger.
    a = graphics.mapFromScene(QPointF(box.left() + 0.6 * box.width(), y))
    b = graphics.mapFromScene(QPointF(box.left() + 0.2 * box.width(), y))
    shift = Qt.KeyboardModifier.ShiftModifier
    view_range = view.x_range()
    qtbot.mousePress(graphics.viewport(), Qt.MouseButton.LeftButton, shift, a)
    qtbot.mouseMove(graphics.viewport(), b)
    qtbot.mouseRelease(graphics.viewport(), Qt.MouseButton.LeftButton, shift, b)
    expected = drawer.x_at(QPointF(b)), drawer.x_at(QPointF(a))
    assert expected[0] is not None and expected[0] < expected[1]
    assert drawn == [pytest.approx(expected)]
    assert view.x_range() == pytest.approx(view_range)  # the drag did not pan
    # Without Shift the drag is the plot's (it pans), and nothing is drawn.
    qtbot.mousePress(graphics.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseRelease(graphics.viewport(), Qt.MouseButton.LeftButton, pos=b)
    assert len(drawn) == 1


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
    from faultlens.gui.report_export import ExportInputs, ReportExporter

    model, result = scanned
    review.set_events(result.events)
    review.confirm(0)
    host = QWidget()  # any widget can host the action
    qtbot.addWidget(host)
    exporter = ReportExporter(host, lambda: ExportInputs(recording, result, model, review))
    assert exporter.action.shortcut().toString() == "Ctrl+E"

    out = tmp_path / "r.html"
    with qtbot.waitSignal(exporter.exported, timeout=60_000) as done:
        assert exporter.export(out) is not None
        review.dismiss(1)  # reviewing goes on while the report is written (snapshot)
    assert done.args == [str(out)]
    text = out.read_text(encoding="utf-8")
    assert text.count('<img alt="Event ') == 4 and text.count('<img class="timeline"') == 1
    assert "st st-confirmed" in text and "st st-dismissed" not in text
    qtbot.waitUntil(lambda: not exporter.is_running())

    events_out = tmp_path / "e.csv"
    with qtbot.waitSignal(exporter.exported, timeout=60_000):
        assert exporter.export(events_out) is not None
    events, reviews = read_events(events_out)
    assert events == result.events and reviews[1]["review_status"] == "dismissed"
    qtbot.waitUntil(lambda: not exporter.is_running())

    # A failing export shows its one-line reason and leaves nothing.
    with qtbot.waitSignal(exporter.failed, timeout=60_000):
        exporter.export(tmp_path / "missing" / "r.pdf")
    assert "does not exist" in error_boxes[-1][1]
    qtbot.waitUntil(lambda: not exporter.is_running())

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


def test_module_opens_on_its_own(qtbot: QtBot, recording: Recording, scanned) -> None:
    from faultlens.gui import review_panel

    _model, result = scanned
    widget = review_panel._demo_widget(recording, _model, result)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    assert widget.event_list.model().rowCount() == len(result.events)
    assert widget.review is not None and widget.review.sidecar_path is None
    assert len(widget.review.events) == len(result.events)


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
    from faultlens.gui.report_export import ExportInputs, ReportExporter

    model, result = scanned
    host = QWidget()
    qtbot.addWidget(host)
    exporter = ReportExporter(host, lambda: ExportInputs(recording, result, model, review))
    # (module, on the GUI thread, the exporter's newest worker, already loaded)
    calls: list[tuple[str, bool, object, bool]] = []
    real_import = report_export.importlib.import_module

    def spy(name: str) -> object:
        on_gui = threading.current_thread() is threading.main_thread()
        calls.append((name, on_gui, exporter.task, name in sys.modules))
        return real_import(name)

    monkeypatch.setattr(report_export.importlib, "import_module", spy)
    with qtbot.waitSignal(exporter.exported, timeout=60_000):
        exporter.export(tmp_path / "e.csv")
    qtbot.waitUntil(lambda: not exporter.is_running())
    assert calls == []
    csv_worker = exporter.task

    with qtbot.waitSignal(exporter.exported, timeout=60_000):
        exporter.export(tmp_path / "r.pdf")
    qtbot.waitUntil(lambda: not exporter.is_running())
    # On the GUI thread while the newest worker was still the CSV run's: before the PDF
    # run's worker existed.
    up_front = {name for name, on_gui, worker, _ in calls if on_gui and worker is csv_worker}
    assert set(report_export.RENDERER_MODULES) <= up_front
    # matplotlib looks its back end up again while it renders: only modules already loaded.
    assert all(loaded for _, on_gui, _, loaded in calls if not on_gui)


def test_views_stop_listening_when_deleted(review: Review, recording: Recording) -> None:
    """The session and its reviews outlive the widgets: once deleted, a view is not called."""
    from PySide6.QtCore import QCoreApplication, QEvent

    session = Session()
    entry = session.add(recording)
    session.set_review(entry.id, review)
    session.set_scan(entry.id, scan_of(recording, events_for(recording, [(80, 120)])))
    host = QWidget()
    model = EventsModel(session, host)
    selection = QItemSelectionModel(model, host)
    widgets = [EventTable(model, selection), ReviewPanel(session, model, selection)]
    view = SignalView(session)
    overlay = RegionOverlay(view)
    assert overlay.review is review and widgets[1].review is review
    for widget in (*widgets, host, view):
        widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    review.confirm(0)  # the model, panel and overlay listened to this review
    review.add_region(10, 20, "leak")
    session.add(load_recording(recording.path))  # ... and to the session
    assert review.status(0) == "confirmed"


def test_decisions_of_another_models_scan_stay_listed_with_the_review_model_offered(
    qtbot: QtBot, docks: Docks, recording: Recording, review: Review
) -> None:
    session, panel = docks.session, docks.panel
    entry_id = session.current_id
    assert entry_id is not None
    spans = [(80, 120), (240, 280), (400, 430)]
    mine = scan_of(recording, events_for(recording, spans))
    mine.model_fingerprint = "a" * 64
    session.set_scan(entry_id, mine)
    review.confirm(0)
    review.dismiss(2)
    assert not panel.earlier_box.isVisibleTo(panel) and not panel.model_box.isVisibleTo(panel)

    theirs = scan_of(recording, events_for(recording, [(85, 125), (300, 330)]))
    theirs.model_fingerprint = "b" * 64
    session.set_scan(entry_id, theirs)
    assert panel.earlier_box.isVisibleTo(panel) and panel.earlier_list.rowCount() == 2
    assert panel.earlier_list.item(0, 2).text() == "confirmed"
    assert panel.earlier_list.item(1, 2).text() == "dismissed"
    assert panel.earlier_list.item(0, 0).text().startswith(recording.format_time(80))
    assert "Scanned with another model" in panel.summary_label.text()
    assert panel.model_box.isVisibleTo(panel) and "a" * 12 in panel.model_label.text()
    assert "b" * 12 in panel.model_label.text()
    with qtbot.waitSignal(panel.load_model_requested, timeout=1000):
        qtbot.mouseClick(panel.load_model_button, Qt.MouseButton.LeftButton)

    session.set_scan(entry_id, mine)  # the review's model again: all back on its events
    assert review.status(0) == "confirmed" and review.status(2) == "dismissed"
    assert not panel.earlier_box.isVisibleTo(panel) and not panel.model_box.isVisibleTo(panel)
