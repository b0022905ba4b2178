"""The review panel: the "Review" dock, a view of the current recording's ``Review``.

The panel owns no review state. Its event list is a second view of the shared
:class:`~faultlens.gui.event_model.EventsModel` (showing "#", start, class, review status and
note) on the same selection as the "Fault events" dock; every button calls the ``Review``,
whose change notifications update the model's rows and the panel's summary, regions and
undo/redo (so undo/redo, a reload, or an edit made elsewhere show up the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSignalBlocker,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QIcon, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from faultlens.core.errors import FaultLensError
from faultlens.core.recording import Recording
from faultlens.core.review import Review, ReviewChange
from faultlens.core.session import Session, SessionChange
from faultlens.gui import app as gui_app
from faultlens.gui.event_model import (
    CLASS,
    COLUMNS,
    NOTE,
    NUMBER,
    START,
    STATUS,
    STATUS_ROLE,
    EventsModel,
    SortedEvents,
    select_event,
    selected_event,
    status_text,
)
from faultlens.gui.subscriptions import Subscriptions

if TYPE_CHECKING:
    from faultlens.core.scan import ScanResult


STATUS_COLOURS = {
    "confirmed": QColor("#d4f4dd"),
    "dismissed": QColor("#e5e7eb"),
    "relabelled": QColor("#dbeafe"),
}  # unreviewed rows keep the table's own colours (light or dark theme)
DEFAULT_REGION_CLASS = "fault"
SHOWN_COLUMNS = (NUMBER, START, CLASS, STATUS, NOTE)  # in this order


class _StatusTint(QStyledItemDelegate):
    """Paints each row in its review status's colour (the Fault events dock does not)."""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        tint = STATUS_COLOURS.get(index.data(STATUS_ROLE))
        if tint is not None:
            option.backgroundBrush = QBrush(tint)
            # Dark text on the light tints, whatever the theme's text colour.
            option.palette.setColor(QPalette.ColorRole.Text, QColor("black"))
        # The class swatch belongs to the Fault events dock.
        option.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
        option.icon = QIcon()


def _item(text: str, editable: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if not editable:
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


class ReviewPanel(QWidget):
    """Confirm / dismiss / relabel flagged events, keep notes, manage hand-drawn regions."""

    train_requested = Signal()  # "Train with Reviewed Labels" for the current recording
    draw_region_requested = Signal()  # "Draw Region" pressed: the owner adds one in view
    load_model_requested = Signal()  # "Load model…": the owner loads the review's model

    def __init__(
        self,
        session: Session,
        model: QAbstractItemModel,
        selection: QItemSelectionModel,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("review_panel")
        self.session = session
        self.selection = selection
        self._review: Review | None = None  # the review followed (the session's current one)
        self._subscriptions = Subscriptions(self)
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

        # The model the review was made with, offered when its events are not the ones shown.
        self.model_label = QLabel()
        self.model_label.setObjectName("review_model")
        self.model_label.setWordWrap(True)
        self.model_label.setTextFormat(Qt.TextFormat.PlainText)
        self.load_model_button = QPushButton("Load model…")
        self.load_model_button.setObjectName("review_load_model")
        self.load_model_button.clicked.connect(self.load_model_requested)
        self.model_box = QWidget()
        model_row = QHBoxLayout(self.model_box)
        model_row.setContentsMargins(0, 0, 0, 0)
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(self.load_model_button, 0, Qt.AlignmentFlag.AlignTop)
        self.model_box.hide()

        self.event_list = self._event_view(model, selection)

        # Decisions whose event is not among the events shown (before the rescan of a
        # reopened review, or after a scan by another model): listed, never hidden.
        self.earlier_list = QTableWidget(0, 4)
        self.earlier_list.setObjectName("review_earlier")
        self.earlier_list.setHorizontalHeaderLabels(["Start", "Class", "Decision", "Note"])
        self.earlier_list.setMinimumHeight(130)  # three rows at least: never a sliver
        self.earlier_list.verticalHeader().setVisible(False)
        self.earlier_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.earlier_list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        eheader = self.earlier_list.horizontalHeader()
        eheader.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        eheader.setStretchLastSection(True)
        self.earlier_box = QGroupBox("Decisions from an earlier scan")
        self.earlier_box.setObjectName("review_earlier_box")
        self.earlier_box.setToolTip(
            "Decisions taken on events that the scan shown did not flag: kept as they were, "
            "and used for training with reviewed labels"
        )
        elayout = QVBoxLayout(self.earlier_box)
        elayout.addWidget(self.earlier_list)
        self.earlier_box.hide()

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
        for b in self._event_buttons():
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
        self.region_list.setHorizontalHeaderLabels(["Time", "Class", "Note"])
        self.region_list.verticalHeader().setVisible(False)
        self.region_list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.region_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        rheader = self.region_list.horizontalHeader()
        rheader.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        rheader.setStretchLastSection(True)
        self.region_list.setToolTip(
            "Each region's start and end time (its rows in the cell's tooltip). "
            "Double-click a class or note to edit it"
        )
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
        layout.addWidget(self.model_box)
        layout.addWidget(self.event_list, 3)
        layout.addWidget(self.earlier_box, 2)
        layout.addLayout(decide)
        layout.addWidget(self.note_edit)
        layout.addLayout(history)
        layout.addWidget(regions, 2)
        layout.addWidget(self.train_button)

        selection.selectionChanged.connect(self._on_event_selection_changed)
        # A new scan or recording resets the rows (and clears the selection without a
        # signal): the note typed for the event going away is saved first.
        model.modelAboutToBeReset.connect(self.commit_note)
        model.modelReset.connect(self._on_rows_reset)
        self._subscriptions.set("session", session.subscribe(self._on_session_changed))
        self._follow_current()

    def _event_view(self, model: QAbstractItemModel, selection: QItemSelectionModel) -> QTableView:
        """The events: a view of the shared model and selection, showing the review columns."""
        view = QTableView()
        view.setObjectName("review_events")
        view.setModel(model)
        own = view.selectionModel()
        view.setSelectionModel(selection)
        own.deleteLater()
        for column in range(len(COLUMNS)):
            view.setColumnHidden(column, column not in SHOWN_COLUMNS)
        header = view.horizontalHeader()
        for position, column in enumerate(SHOWN_COLUMNS):
            header.moveSection(header.visualIndex(column), position)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        view.verticalHeader().setVisible(False)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setItemDelegate(_StatusTint(view))
        return view

    def _event_buttons(self) -> tuple[QPushButton, ...]:
        return (self.confirm_button, self.dismiss_button, self.relabel_button, self.reset_button)

    # ------------------------------------------------------------------ following
    @property
    def review(self) -> Review | None:
        """The current recording's review (None before one is opened)."""
        return self._review

    @property
    def recording(self) -> Recording | None:
        entry = self.session.current
        return entry.recording if entry is not None else None

    def _on_session_changed(self, change: SessionChange) -> None:
        if change.kind in ("current", "review", "recordings"):
            self._follow_current()
        elif change.kind == "model":
            self._show_model()

    def _follow_current(self) -> None:
        entry = self.session.current
        review = entry.review if entry is not None else None
        if review is self._review:
            return
        self.commit_note()  # a note typed for the previous review's event goes there
        self._note_event = None
        self._review = review
        self._subscriptions.set(
            "review", review.subscribe(self._on_review_changed) if review is not None else None
        )
        warnings = review.warnings if review is not None else []
        self.warning_label.setText("\n".join(w.message for w in warnings))
        self.warning_label.setVisible(bool(warnings))
        self._refresh()

    def _on_review_changed(self, change: ReviewChange) -> None:
        # The event rows are the model's to update; here the rest of the panel.
        self._refresh()

    def _refresh(self) -> None:
        review = self.review
        self._filling = True
        try:
            self._fill_regions()
        finally:
            self._filling = False
        self._fill_earlier()
        self._show_model()
        self._show_note()
        self._refresh_event_buttons()
        has = review is not None
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
        earlier = len(review.orphan_decisions())
        if review.scanned_with_other_model:
            kept = (
                f" Scanned with another model than the review's: {earlier} earlier "
                "decision(s) match none of its events; they are kept, listed below."
            )
        elif earlier:
            kept = f" {earlier} decision(s) from an earlier scan, listed below."
        else:
            kept = ""
        self.summary_label.setText(
            f"{len(review.events)} event(s): {', '.join(parts) or 'none flagged'}; "
            f"{len(review.regions)} region(s) by hand; {where}.{kept}"
        )
        self.summary_label.setToolTip(where)

    def _fill_regions(self) -> None:
        review = self.review
        table = self.region_list
        keep = self.current_region_id()
        recording = self.recording
        with QSignalBlocker(table):
            regions = review.regions if review is not None else ()
            # By time as the recording writes it; by rows only where it has no time axis.
            timed = recording is not None and recording.time is not None
            header = table.horizontalHeaderItem(0)
            if header is not None:
                header.setText("Time" if timed else "Rows")
            table.setRowCount(len(regions))
            for row, region in enumerate(regions):
                rows_text = f"{region.start_row} – {region.end_row}"
                if timed and recording is not None and region.end_row < recording.n_rows:
                    span = _item(
                        f"{recording.format_time(region.start_row)} – "
                        f"{recording.format_time(region.end_row)}"
                    )
                    span.setToolTip(f"rows {rows_text}")
                else:
                    span = _item(rows_text)
                span.setData(Qt.ItemDataRole.UserRole, region.region_id)
                table.setItem(row, 0, span)
                table.setItem(row, 1, _item(region.class_name, editable=True))
                table.setItem(row, 2, _item(region.note, editable=True))
                if region.region_id == keep:
                    table.selectRow(row)

    def _fill_earlier(self) -> None:
        review = self.review
        decisions = review.orphan_decisions() if review is not None else []
        decisions.sort(key=lambda d: d.start_row)
        recording = self.recording
        table = self.earlier_list
        table.setRowCount(len(decisions))
        for row, dec in enumerate(decisions):
            if recording is not None and dec.end_row < recording.n_rows:
                start = recording.format_time(dec.start_row)
                span = f"{start} – {recording.format_time(dec.end_row)}"
            else:
                start = span = f"rows {dec.start_row} – {dec.end_row}"
            cells = (start, dec.class_name, status_text(dec), dec.note)
            for column, text in enumerate(cells):
                item = _item(text)
                tint = STATUS_COLOURS.get(dec.status)
                if tint is not None:
                    item.setBackground(QBrush(tint))
                    item.setForeground(QBrush(QColor("black")))
                item.setToolTip(f"{span} (rows {dec.start_row} – {dec.end_row}), {dec.reviewer}")
                table.setItem(row, column, item)
        self.earlier_box.setTitle(f"Decisions from an earlier scan ({len(decisions)})")
        self.earlier_box.setVisible(bool(decisions))

    def _show_model(self) -> None:
        """Name the model the review was made with while its events are not the ones shown
        (a reopened review before its rescan, or a scan by another model), with Load model…"""
        review = self.review
        offer = (
            review is not None
            and bool(review.model_fingerprint)
            and bool(review.state.decisions)
            and review.scan_model_fingerprint != review.model_fingerprint
        )
        self.model_box.setVisible(offer)
        if not offer or review is None:
            return
        path = review.model_path
        if path is None:
            where = "Its file is not known: load it with Load model…"
        elif path.is_file():
            where = f"Its file: {path}"
        else:
            where = f"Its file is no longer at {path}: find it with Load model…"
        if review.scan_model_fingerprint:
            shown = (
                f"The events shown are another model's (fingerprint "
                f"{review.scan_model_fingerprint[:12]})."
            )
        else:
            shown = "Its events come back when it scans this recording again."
        self.model_label.setText(
            f"This review was made with model {review.model_name}. {shown} {where}"
        )
        self.load_model_button.setToolTip(
            str(path) if path is not None else "Pick the model file this review was made with"
        )

    @property
    def offered_model_path(self) -> Path | None:
        """Where the review's model was (None when no review or unknown)."""
        return self.review.model_path if self.review is not None else None

    def _show_note(self) -> None:
        index = self.current_event_index()
        text = ""
        review = self.review
        if review is not None and index is not None and index < len(review.events):
            text = review.decision(index).note
        # The editor now holds the note of this event; commit_note writes it back there.
        self._note_event = index
        if self.note_edit.toPlainText() != text:
            self.note_edit.setPlainText(text)

    def _refresh_event_buttons(self) -> None:
        selected = self.review is not None and self.current_event_index() is not None
        for b in self._event_buttons():
            b.setEnabled(selected)
        self.note_edit.setEnabled(selected)
        self.save_note_button.setEnabled(selected)

    # ------------------------------------------------------------------ selection
    def current_event_index(self) -> int | None:
        return selected_event(self.selection)

    def select_event(self, index: int) -> None:
        """Select event ``index`` here and in every other view of the selection."""
        select_event(self.selection, index)

    def _on_event_selection_changed(self) -> None:
        # A note typed for the previously selected event is kept, not lost on the switch.
        self.commit_note()
        self._show_note()
        self._refresh_event_buttons()

    def _on_rows_reset(self) -> None:
        self._note_event = None
        self._show_note()
        self._refresh_event_buttons()

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
        review = self.review
        if review is None or index is None:
            return False
        # A note typed but not saved goes in first, so the redraw after the action keeps it.
        self.commit_note()
        return self._guarded(lambda: action(review, index))

    def _guarded(self, action: Callable[[], object]) -> bool:
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
        review = self.review
        if review is None or index is None:
            return False
        if class_name is None:
            choices = [c for c in review.class_names[1:] if c]
            current = review.decision(index).relabel or (choices[0] if choices else "")
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
        chosen = class_name
        return self._act(lambda r, i: r.relabel(i, chosen))

    def commit_note(self) -> None:
        """Store the note editor's text on the event it was opened for (no-op when unchanged)."""
        index = self._note_event
        review = self.review
        if review is None or index is None or not 0 <= index < len(review.events):
            return
        text = self.note_edit.toPlainText()
        if text != review.decision(index).note:
            self._guarded(lambda: review.set_note(index, text))

    def undo(self) -> None:
        if self.review is not None:
            self.commit_note()
            self._guarded(self.review.undo)

    def redo(self) -> None:
        if self.review is not None:
            self._guarded(self.review.redo)

    def add_region(self, start_row: int, end_row: int, class_name: str | None = None) -> int | None:
        """Add a hand-drawn region; its class defaults to the model's first fault class."""
        review = self.review
        if review is None:
            return None
        if class_name is None:
            faults = [c for c in review.class_names[1:] if c]
            class_name = faults[0] if faults else DEFAULT_REGION_CLASS
        chosen = class_name
        ids: list[int] = []
        self._guarded(lambda: ids.append(review.add_region(start_row, end_row, chosen)))
        return ids[0] if ids else None

    def delete_selected_region(self) -> None:
        rid = self.current_region_id()
        review = self.review
        if review is not None and rid is not None:
            self._guarded(lambda: review.delete_region(rid))

    def _on_region_item_changed(self, item: QTableWidgetItem) -> None:
        review = self.review
        if self._filling or review is None:
            return
        id_item = self.region_list.item(item.row(), 0)
        if id_item is None:
            return
        rid = int(id_item.data(Qt.ItemDataRole.UserRole))
        if item.column() == 1:
            ok = self._guarded(lambda: review.set_region_class(rid, item.text()))
        elif item.column() == 2:
            ok = self._guarded(lambda: review.set_region_note(rid, item.text()))
        else:
            return
        if not ok:
            self._refresh()  # put the stored value back in the cell

    def request_training(self) -> bool:
        """Ask to train with this recording's reviewed labels (the note being typed is saved
        first); the owner sets the recording's training role and shows the training panel."""
        if self.review is None or self.recording is None:
            return False
        self.commit_note()
        self.train_requested.emit()
        return True


def _demo_widget(recording: Recording, _model: object, scan: ScanResult | None) -> ReviewPanel:
    """The panel as ``python -m`` opens it: the demo's events, reviewed in memory only (the
    demo must not write a sidecar next to the installed demo file)."""
    session = Session()
    entry = session.add(recording)
    session.set_review(entry.id, Review(recording.name, recording.content_hash, recording.n_rows))
    session.set_scan(entry.id, scan)  # attaches the events to the review
    events = EventsModel(session)
    shown = SortedEvents(events)
    panel = ReviewPanel(session, shown, QItemSelectionModel(shown, shown))
    events.setParent(panel)  # the panel keeps the model (and its proxy) alive
    return panel


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
