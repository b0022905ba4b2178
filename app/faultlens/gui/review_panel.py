"""The review panel: a view of one core ``Review`` (event decisions, notes, hand-drawn regions).

The panel owns no review state: every button calls the ``Review``, and the panel redraws
from the ``Review`` when its change callback fires (so undo/redo, a reload, or an edit made
elsewhere show up the same way). ``RegionOverlay`` shows the hand-drawn regions on a
``SignalView`` as movable ``LinearRegionItem``s whose dragged edges update the review.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from faultlens.core.errors import FaultLensError
from faultlens.core.recording import Recording
from faultlens.core.review import Review, ReviewChange, recording_with_reviewed_labels
from faultlens.gui import app as gui_app

STATUS_COLOURS = {
    "confirmed": QColor("#d4f4dd"),
    "dismissed": QColor("#e5e7eb"),
    "relabelled": QColor("#dbeafe"),
    "unreviewed": QColor("#ffffff"),
}
REGION_BRUSH = (0, 150, 136, 55)  # teal: unlike any class colour of the event shading
REGION_PEN = (0, 121, 107, 230)
DEFAULT_REGION_CLASS = "fault"


def _item(text: str, editable: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if not editable:
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


class ReviewPanel(QWidget):
    """Confirm / dismiss / relabel flagged events, keep notes, manage hand-drawn regions."""

    event_selected = Signal(int)  # index into review.events, when the user picks a row
    train_requested = Signal(object)  # Recording with the reviewed labels
    draw_region_requested = Signal()  # "Draw Region" pressed: the owner adds one in view

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("review_panel")
        self.review: Review | None = None
        self.recording: Recording | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._filling = False
        self._note_event: int | None = None  # the event whose note the editor holds
        self.last_error = ""

        self.warning_label = QLabel()
        self.warning_label.setObjectName("review_warning")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("background:#fff3cd;color:#664d03;padding:4px;")
        self.warning_label.hide()
        self.summary_label = QLabel("No recording")
        self.summary_label.setObjectName("review_summary")
        self.summary_label.setWordWrap(True)

        self.event_list = QTableWidget(0, 5)
        self.event_list.setObjectName("review_events")
        self.event_list.setHorizontalHeaderLabels(["#", "Start", "Class", "Review", "Note"])
        self.event_list.verticalHeader().setVisible(False)
        self.event_list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.event_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.event_list.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.event_list.itemSelectionChanged.connect(self._on_event_selection_changed)

        self.confirm_button = QPushButton("Confirm")
        self.confirm_button.setToolTip("The model is right: this is the flagged fault")
        self.confirm_button.clicked.connect(lambda: self._act(lambda r, i: r.confirm(i)))
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setToolTip("A false alarm: these rows are normal")
        self.dismiss_button.clicked.connect(lambda: self._act(lambda r, i: r.dismiss(i)))
        self.relabel_button = QPushButton("Relabel…")
        self.relabel_button.setToolTip("A fault, but of another class or fault code")
        self.relabel_button.clicked.connect(lambda: self.relabel_current())
        self.reset_button = QPushButton("Unreview")
        self.reset_button.setToolTip("Forget the decision on this event")
        self.reset_button.clicked.connect(lambda: self._act(lambda r, i: r.reset(i)))
        decide = QHBoxLayout()
        for b in (self.confirm_button, self.dismiss_button, self.relabel_button, self.reset_button):
            decide.addWidget(b)

        self.note_edit = QPlainTextEdit()
        self.note_edit.setObjectName("review_note")
        self.note_edit.setPlaceholderText("Note on the selected event (what you saw, why)")
        self.note_edit.setMaximumHeight(80)
        self.save_note_button = QPushButton("Save Note")
        self.save_note_button.clicked.connect(self.commit_note)

        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo)
        self.redo_button = QPushButton("Redo")
        self.redo_button.clicked.connect(self.redo)
        history = QHBoxLayout()
        history.addWidget(self.save_note_button)
        history.addStretch(1)
        history.addWidget(self.undo_button)
        history.addWidget(self.redo_button)

        self.region_list = QTableWidget(0, 3)
        self.region_list.setObjectName("review_regions")
        self.region_list.setHorizontalHeaderLabels(["Rows", "Class", "Note"])
        self.region_list.verticalHeader().setVisible(False)
        self.region_list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.region_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        rheader = self.region_list.horizontalHeader()
        rheader.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        rheader.setStretchLastSection(True)
        self.region_list.setToolTip("Double-click a class or note to edit it")
        self.region_list.itemChanged.connect(self._on_region_item_changed)
        self.region_list.itemSelectionChanged.connect(
            lambda: self.delete_region_button.setEnabled(self.current_region_id() is not None)
        )
        self.draw_button = QPushButton("Draw Region")
        self.draw_button.setToolTip(
            "Add a region over the middle of the view; drag its edges on the signal plot"
        )
        self.draw_button.clicked.connect(self.draw_region_requested)
        self.delete_region_button = QPushButton("Delete Region")
        self.delete_region_button.clicked.connect(self.delete_selected_region)
        region_buttons = QHBoxLayout()
        region_buttons.addWidget(self.draw_button)
        region_buttons.addWidget(self.delete_region_button)
        region_buttons.addStretch(1)
        regions = QGroupBox("Regions marked by hand")
        rlayout = QVBoxLayout(regions)
        rlayout.addWidget(self.region_list)
        rlayout.addLayout(region_buttons)

        self.train_button = QPushButton("Train with Reviewed Labels…")
        self.train_button.setToolTip(
            "Open the training panel with this recording, labelled as reviewed: confirmed and "
            "relabelled events and drawn regions get their class, dismissed events are normal"
        )
        self.train_button.clicked.connect(self.request_training)

        layout = QVBoxLayout(self)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.event_list, 3)
        layout.addLayout(decide)
        layout.addWidget(self.note_edit)
        layout.addLayout(history)
        layout.addWidget(regions, 2)
        layout.addWidget(self.train_button)
        self._refresh()

    # ------------------------------------------------------------------ the model
    def set_review(self, review: Review | None, recording: Recording | None = None) -> None:
        """Show ``review`` (of ``recording``); ``None`` shows nothing."""
        self.commit_note()
        self._note_event = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.review = review
        self.recording = recording
        if review is not None:
            self._unsubscribe = review.subscribe(self._on_review_changed)
        warnings = review.warnings if review is not None else []
        self.warning_label.setText("\n".join(w.message for w in warnings))
        self.warning_label.setVisible(bool(warnings))
        self._refresh()

    def _on_review_changed(self, change: ReviewChange) -> None:
        self._refresh()

    def _refresh(self) -> None:
        review = self.review
        self._filling = True
        try:
            self._fill_events()
            self._fill_regions()
        finally:
            self._filling = False
        has = review is not None
        selected = self.current_event_index() is not None
        for b in (self.confirm_button, self.dismiss_button, self.relabel_button, self.reset_button):
            b.setEnabled(selected)
        self.note_edit.setEnabled(selected)
        self.save_note_button.setEnabled(selected)
        self.draw_button.setEnabled(has)
        self.delete_region_button.setEnabled(self.current_region_id() is not None)
        self.train_button.setEnabled(has and self.recording is not None)
        self.undo_button.setEnabled(has and review.can_undo)
        self.redo_button.setEnabled(has and review.can_redo)
        self.undo_button.setToolTip(f"Undo: {review.undo_text}" if has and review.can_undo else "")
        self.redo_button.setToolTip(f"Redo: {review.redo_text}" if has and review.can_redo else "")
        if review is None:
            self.summary_label.setText("Open a recording and scan it to review its events.")
            return
        counts = review.counts()
        parts = [f"{n} {status}" for status, n in counts.items() if n]
        where = (
            f"saved to {review.sidecar_path}" if review.sidecar_path is not None else "not saved"
        )
        self.summary_label.setText(
            f"{len(review.events)} event(s): {', '.join(parts) or 'none flagged'}; "
            f"{len(review.regions)} region(s) by hand; {where}"
        )
        self.summary_label.setToolTip(where)

    def _fill_events(self) -> None:
        review = self.review
        table = self.event_list
        keep = self.current_event_index()
        with QSignalBlocker(table):
            events = review.events if review is not None else ()
            table.setRowCount(len(events))
            for row, event in enumerate(events):
                dec = review.decision(row) if review is not None else None
                status = dec.status if dec is not None else "unreviewed"
                text = f"{status} → {dec.relabel}" if dec and status == "relabelled" else status
                cells = [
                    _item(str(row + 1)),
                    _item(event.start_time),
                    _item(event.class_name),
                    _item(text),
                    _item(" ".join((dec.note if dec else "").split())),
                ]
                for col, cell in enumerate(cells):
                    cell.setBackground(STATUS_COLOURS[status])
                    table.setItem(row, col, cell)
                cells[4].setToolTip(dec.note if dec else "")
            if keep is not None and keep < len(events):
                table.selectRow(keep)
        self._show_note()

    def _fill_regions(self) -> None:
        review = self.review
        table = self.region_list
        keep = self.current_region_id()
        with QSignalBlocker(table):
            regions = review.regions if review is not None else ()
            table.setRowCount(len(regions))
            for row, region in enumerate(regions):
                rows = _item(f"{region.start_row} – {region.end_row}")
                rows.setData(Qt.ItemDataRole.UserRole, region.region_id)
                if self.recording is not None:
                    rows.setToolTip(
                        f"{self.recording.format_time(region.start_row)} – "
                        f"{self.recording.format_time(region.end_row)}"
                    )
                table.setItem(row, 0, rows)
                table.setItem(row, 1, _item(region.class_name, editable=True))
                table.setItem(row, 2, _item(region.note, editable=True))
                if region.region_id == keep:
                    table.selectRow(row)

    def _show_note(self) -> None:
        index = self.current_event_index()
        text = ""
        if self.review is not None and index is not None:
            text = self.review.decision(index).note
        # The editor now holds the note of this event; commit_note writes it back there.
        self._note_event = index
        if self.note_edit.toPlainText() != text:
            self.note_edit.setPlainText(text)

    # ------------------------------------------------------------------ selection
    def current_event_index(self) -> int | None:
        rows = self.event_list.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def select_event(self, index: int) -> None:
        """Select event ``index`` (e.g. to follow the main event table); no signal back."""
        if self.review is None or not 0 <= index < len(self.review.events):
            return
        self.commit_note()
        with QSignalBlocker(self.event_list):
            self.event_list.selectRow(index)
        self._show_note()
        self._refresh_buttons_only()

    def _refresh_buttons_only(self) -> None:
        selected = self.current_event_index() is not None
        for b in (self.confirm_button, self.dismiss_button, self.relabel_button, self.reset_button):
            b.setEnabled(selected)
        self.note_edit.setEnabled(selected)
        self.save_note_button.setEnabled(selected)

    def _on_event_selection_changed(self) -> None:
        # A note typed for the previously selected event is kept, not lost on the switch.
        self.commit_note()
        self._show_note()
        self._refresh_buttons_only()
        index = self.current_event_index()
        if index is not None:
            self.event_selected.emit(index)

    def current_region_id(self) -> int | None:
        rows = self.region_list.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.region_list.item(rows[0].row(), 0)
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    # ------------------------------------------------------------------ actions
    def _act(self, action: Callable[[Review, int], None]) -> bool:
        """Run ``action(review, selected index)``; a user error is shown, not raised."""
        index = self.current_event_index()
        if self.review is None or index is None:
            return False
        # A note typed but not saved goes in first, so the redraw after the action keeps it.
        self.commit_note()
        return self._guarded(lambda: action(self.review, index))

    def _guarded(self, action: Callable[[], Any]) -> bool:
        try:
            action()
        except FaultLensError as err:
            self.last_error = str(err)
            gui_app.show_error(self, "Review", str(err))
            return False
        return True

    def relabel_current(self, class_name: str | None = None) -> bool:
        """Relabel the selected event; asks for the class (or a typed fault code) if not given."""
        index = self.current_event_index()
        if self.review is None or index is None:
            return False
        if class_name is None:
            choices = [c for c in self.review.class_names[1:] if c]
            current = self.review.decision(index).relabel or (choices[0] if choices else "")
            text, ok = QInputDialog.getItem(
                self,
                "Relabel event",
                "Class or fault code:",
                choices or [current],
                max(choices.index(current), 0) if current in choices else 0,
                True,
            )
            if not ok:
                return False
            class_name = text
        return self._act(lambda r, i: r.relabel(i, class_name))

    def commit_note(self) -> None:
        """Store the note editor's text on the event it was opened for (no-op when unchanged)."""
        index = self._note_event
        if self.review is None or index is None or not 0 <= index < len(self.review.events):
            return
        text = self.note_edit.toPlainText()
        if text != self.review.decision(index).note:
            self._guarded(lambda: self.review.set_note(index, text))

    def undo(self) -> None:
        if self.review is not None:
            self.commit_note()
            self._guarded(self.review.undo)

    def redo(self) -> None:
        if self.review is not None:
            self._guarded(self.review.redo)

    def add_region(self, start_row: int, end_row: int, class_name: str | None = None) -> int | None:
        """Add a hand-drawn region; its class defaults to the model's first fault class."""
        if self.review is None:
            return None
        if class_name is None:
            faults = [c for c in self.review.class_names[1:] if c]
            class_name = faults[0] if faults else DEFAULT_REGION_CLASS
        ids: list[int] = []
        self._guarded(lambda: ids.append(self.review.add_region(start_row, end_row, class_name)))
        return ids[0] if ids else None

    def delete_selected_region(self) -> None:
        rid = self.current_region_id()
        if self.review is not None and rid is not None:
            self._guarded(lambda: self.review.delete_region(rid))

    def _on_region_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or self.review is None:
            return
        id_item = self.region_list.item(item.row(), 0)
        if id_item is None:
            return
        rid = int(id_item.data(Qt.ItemDataRole.UserRole))
        if item.column() == 1:
            ok = self._guarded(lambda: self.review.set_region_class(rid, item.text()))
        elif item.column() == 2:
            ok = self._guarded(lambda: self.review.set_region_note(rid, item.text()))
        else:
            return
        if not ok:
            self._refresh()  # put the stored value back in the cell

    def request_training(self) -> Recording | None:
        """Emit ``train_requested`` with a copy of the recording labelled as reviewed."""
        if self.review is None or self.recording is None:
            return None
        self.commit_note()
        try:
            reviewed = recording_with_reviewed_labels(self.review, self.recording)
        except FaultLensError as err:
            self.last_error = str(err)
            gui_app.show_error(self, "Review", str(err))
            return None
        # Its own name, so the training list shows it beside the original.
        path = reviewed.path.with_name(f"{reviewed.path.name} (reviewed labels)")
        reviewed = dataclasses.replace(reviewed, path=path)
        self.train_requested.emit(reviewed)
        return reviewed


class RegionOverlay:
    """The review's hand-drawn regions on a SignalView: one movable LinearRegionItem per
    region and channel plot. Dragging an edge moves the region in the review; the items are
    rebuilt from the review after every change (the review is the only state)."""

    def __init__(self, signal_view: Any) -> None:
        self.signal_view = signal_view
        self.review: Review | None = None
        self.items: list[tuple[Any, pg.LinearRegionItem, int]] = []
        self._unsubscribe: Callable[[], None] | None = None

    def set_review(self, review: Review | None) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.review = review
        if review is not None:
            self._unsubscribe = review.subscribe(lambda _change: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the items (also after the SignalView rebuilt its plots)."""
        for plot, item, _rid in self.items:
            # The SignalView may have rebuilt (and deleted) its plots for another recording.
            with contextlib.suppress(RuntimeError):
                plot.removeItem(item)
        self.items.clear()
        view = self.signal_view
        review = self.review
        if review is None or view.recording is None or len(view.x) != review.n_rows:
            return
        for region in review.regions:
            x0, x1 = view.row_span_x(region.start_row, region.end_row)
            for plot in view.plots.values():
                item = pg.LinearRegionItem(
                    values=(x0, x1),
                    movable=True,
                    brush=pg.mkBrush(*REGION_BRUSH),
                    pen=pg.mkPen(REGION_PEN, width=2),
                )
                item.setZValue(5)
                item.setToolTip(
                    f"Marked by hand: {region.class_name}. Drag the edges to adjust. "
                    f"{region.note}".strip()
                )
                rid = region.region_id
                item.sigRegionChangeFinished.connect(
                    lambda it, rid=rid: self._on_item_moved(rid, it)
                )
                plot.addItem(item, ignoreBounds=True)
                self.items.append((plot, item, rid))

    def x_to_row(self, x: float) -> int:
        """The row whose sample is nearest to ``x`` on the view's time axis."""
        xs = self.signal_view.x
        i = int(np.clip(np.searchsorted(xs, x), 1, len(xs) - 1))
        return i - 1 if abs(x - xs[i - 1]) <= abs(xs[i] - x) else i

    def rows_of(self, item: pg.LinearRegionItem) -> tuple[int, int]:
        x0, x1 = item.getRegion()
        return self.x_to_row(x0), self.x_to_row(x1)

    def _on_item_moved(self, region_id: int, item: pg.LinearRegionItem) -> None:
        if self.review is None:
            return
        start, end = self.rows_of(item)
        try:
            self.review.move_region(region_id, start, end)
        except FaultLensError as err:
            gui_app.show_error(self.signal_view, "Review", str(err))
            self.refresh()

    def view_rows(self) -> tuple[int, int]:
        """The middle third of the visible x range, as rows (where Draw Region puts one)."""
        x0, x1 = self.signal_view.x_range()
        third = (x1 - x0) / 3
        return self.x_to_row(x0 + third), self.x_to_row(x1 - third)


class ShiftDragDrawer(QObject):
    """Shift + left-drag across a channel plot of a SignalView draws a region by hand.

    Without Shift the plots pan and zoom as usual; with it, the press and release x positions
    go to ``on_drawn(x0, x1)`` (in the view's x units) and the ViewBox never sees the drag.
    """

    def __init__(self, signal_view: Any, on_drawn: Callable[[float, float], None]) -> None:
        super().__init__(signal_view)
        self.signal_view = signal_view
        self.on_drawn = on_drawn
        self._start: float | None = None
        signal_view.graphics.viewport().installEventFilter(self)

    def x_at(self, pos: Any) -> float | None:
        """The x value under widget position ``pos``, if it is over a channel plot."""
        graphics = self.signal_view.graphics
        scene_pos = graphics.mapToScene(pos.toPoint())
        for plot in self.signal_view.plots.values():
            if plot.isVisible() and plot.sceneBoundingRect().contains(scene_pos):
                return float(plot.vb.mapSceneToView(scene_pos).x())
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            if shift and event.button() == Qt.MouseButton.LeftButton:
                self._start = self.x_at(event.position())
                return self._start is not None
        elif kind == QEvent.Type.MouseMove and self._start is not None:
            return True
        elif kind == QEvent.Type.MouseButtonRelease and self._start is not None:
            start, self._start = self._start, None
            end = self.x_at(event.position())
            if end is not None:
                self.on_drawn(min(start, end), max(start, end))
            return True
        return False


def _demo_widget(recording: Recording, model: object, scan: Any) -> ReviewPanel:
    """The panel as ``python -m`` opens it: the demo's events, reviewed in memory only (the
    demo must not write a sidecar next to the installed demo file)."""
    review = Review(recording.name, recording.content_hash, recording.n_rows)
    if scan is not None:
        review.set_events(scan.events, class_names=scan.class_names)
    panel = ReviewPanel()
    panel.set_review(review, recording)
    return panel


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
