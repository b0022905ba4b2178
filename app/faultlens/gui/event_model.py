"""EventsModel: the current recording's flagged events, with their review, as one table model.

Both the "Fault events" dock (:class:`~faultlens.gui.event_table.EventTable`) and the "Review"
dock (:class:`~faultlens.gui.review_panel.ReviewPanel`) are views of this one model and share
one ``QItemSelectionModel``, so selecting an event in either selects it in the other without
any signal passed between them. Each view hides the columns it does not show.

The model keeps no state of its own: it reads the session's current recording (its scan's
events, its review) and redraws when the session or the review says something changed. A
review action touches only the rows of the events it changed (``dataChanged``); a new scan,
model or current recording resets the model.

The wiring, as the main window does it (sorting goes through a proxy, and the selection is
over what the views show, so both docks show the same order)::

    events = EventsModel(session, window)
    shown = SortedEvents(events)
    selection = QItemSelectionModel(shown, shown)
    table = EventTable(shown, selection)
    panel = ReviewPanel(session, shown, selection)

``Qt.ItemDataRole.UserRole`` on any cell, through any proxy, is the event's index in the
scan's ``events`` list; :func:`index_of_event` goes the other way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

from faultlens.core.review import EventDecision, Review, ReviewChange, event_key
from faultlens.core.session import LiveState, Session, SessionChange
from faultlens.gui.subscriptions import Subscriptions
from faultlens.gui.tracks import class_colour

if TYPE_CHECKING:
    from faultlens.core.events import FaultEvent

Index = QModelIndex | QPersistentModelIndex
# The Fault events dock shows the first six, in this order; the Review dock shows "#",
# Start, Class, Review and Note (it moves "#" to the front).
COLUMNS = ("Start", "End", "Duration", "Class", "Peak p", "Top channels", "Review", "Note", "#")
START, END, DURATION, CLASS, PEAK, CHANNELS, STATUS, NOTE, NUMBER = range(len(COLUMNS))
EVENT_ROLE = Qt.ItemDataRole.UserRole  # the event's index in the scan's events
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the value a column sorts by (rows, not text)
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2  # the review status: "unreviewed", "confirmed", ...
LIVE_COLOURS = {"alarm": QColor(255, 190, 190), "running": QColor(255, 232, 170)}
LIVE_ROLES = (
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.FontRole,
    Qt.ItemDataRole.ForegroundRole,
)


def status_text(decision: EventDecision) -> str:
    if decision.status == "relabelled":
        return f"relabelled → {decision.relabel}"
    return decision.status


class EventsModel(QAbstractTableModel):
    """The current recording's scan events (row i = ``events[i]``) and their review."""

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._events: tuple[FaultEvent, ...] = ()
        self._class_names: tuple[str, ...] = ()
        self._row_of_key: dict[str, int] = {}
        self._marks: tuple[str, ...] = ()  # live highlight per row as last shown
        self._review: Review | None = None
        self._subscriptions = Subscriptions(self)
        self._subscriptions.set("session", session.subscribe(self._on_session_changed))
        self._reload()

    # ------------------------------------------------------------------ what is shown
    @property
    def events(self) -> tuple[FaultEvent, ...]:
        return self._events

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def review(self) -> Review | None:
        return self._review

    def decision(self, row: int) -> EventDecision | None:
        """The review's decision on event ``row``; None when the recording has no review."""
        if self._review is None:
            return None
        return self._review.decision(self._events[row])

    # ------------------------------------------------------------------ following
    def _on_session_changed(self, change: SessionChange) -> None:
        current = self.session.current_id
        if change.kind in ("current", "model"):
            self._reload()
        elif change.kind == "scan" and change.recording_id == current:
            if not self._grow():
                self._reload()
        elif change.kind == "review" and change.recording_id == current:
            entry = self.session.current
            self._follow_review(entry.review if entry is not None else None)
            self._rows_changed(range(len(self._events)))
        elif change.kind == "live" and change.recording_id == current:
            self._remark()
        elif change.kind == "rows" and change.recording_id == current:
            self._follow_running()

    def _follow_running(self) -> None:
        """A live recording grew: a running event's end, duration and peak grow with it. Only
        those rows change (events opening or closing come as "scan" and reset the model)."""
        entry = self.session.current
        scan = entry.scan if entry is not None else None
        if scan is None or len(scan.events) != len(self._events):
            return
        changed = [
            (row, old.start_row == new.start_row)
            for row, (old, new) in enumerate(zip(self._events, scan.events, strict=True))
            if old != new
        ]
        grown = [row for row, same_start in changed if same_start]
        if grown and len(grown) == len(changed):
            self._set_events(tuple(scan.events))
            self._rows_changed(grown)

    def _grow(self) -> bool:
        """A live recording's events opened or closed: while the events shown keep their
        places (same start rows, same classes of the model), change those rows and append the
        new ones, instead of a reset, which makes both views and the sorting proxy ask for
        every cell again (tens of thousands of calls per event: the live window's slowest
        beats). False when a reset is needed (not live, or the events moved)."""
        entry = self.session.current
        scan = entry.scan if entry is not None else None
        old = self._events
        if entry is None or entry.live is None or scan is None or not old:
            return False
        new = tuple(scan.events)
        if tuple(scan.class_names) != self._class_names or len(new) < len(old):
            return False
        kept = new[: len(old)]
        if any(o.start_row != n.start_row for o, n in zip(old, kept, strict=True)):
            return False
        changed = [row for row, (o, n) in enumerate(zip(old, kept, strict=True)) if o != n]
        if len(new) > len(old):
            self.beginInsertRows(QModelIndex(), len(old), len(new) - 1)
            self._set_events(new)
            self._marks += tuple(self.live_mark(row) for row in range(len(old), len(new)))
            self.endInsertRows()
        else:
            self._set_events(new)
        self._rows_changed(changed)
        return True

    def _remark(self) -> None:
        """A live recording's running events or alarms changed: repaint the rows whose
        highlight changed, not every row."""
        marks = tuple(self.live_mark(row) for row in range(len(self._events)))
        previous = (self._marks + ("",) * len(marks))[: len(marks)]
        self._marks = marks
        self._rows_changed(
            row for row, (a, b) in enumerate(zip(previous, marks, strict=True)) if a != b
        )

    def _set_events(self, events: tuple[FaultEvent, ...]) -> None:
        self._events = events
        self._row_of_key = {event_key(e): row for row, e in enumerate(events)}

    def _live(self) -> LiveState | None:
        entry = self.session.current
        return entry.live if entry is not None else None

    def live_mark(self, row: int) -> str:
        """ "alarm" (opened, not yet acknowledged), "running" (still open) or "" for event
        ``row`` of a live recording; "" for every event of an ordinary one."""
        live = self._live()
        if live is None:
            return ""
        start = self._events[row].start_row
        if start in live.alarms:
            return "alarm"
        return "running" if start in live.running else ""

    def _reload(self) -> None:
        entry = self.session.current
        scan = entry.scan if entry is not None else None
        self.beginResetModel()
        self._set_events(tuple(scan.events) if scan is not None else ())
        self._class_names = tuple(scan.class_names) if scan is not None else ()
        self._marks = tuple(self.live_mark(row) for row in range(len(self._events)))
        self._follow_review(entry.review if entry is not None else None)
        self.endResetModel()

    def _follow_review(self, review: Review | None) -> None:
        if review is self._review:
            return
        self._review = review
        self._subscriptions.set(
            "review", review.subscribe(self._on_review_changed) if review is not None else None
        )

    def _on_review_changed(self, change: ReviewChange) -> None:
        self._rows_changed(
            self._row_of_key[key] for key in change.event_keys if key in self._row_of_key
        )

    def _rows_changed(self, rows: Iterable[int]) -> None:
        """``dataChanged`` for each run of consecutive ``rows`` (every column: the status
        tints the whole row in the review's view)."""
        ordered = sorted(set(rows))
        last = len(COLUMNS) - 1
        start = 0
        for i in range(1, len(ordered) + 1):
            if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
                self.dataChanged.emit(
                    self.index(ordered[start], 0), self.index(ordered[i - 1], last)
                )
                start = i

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self._events)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if orientation == Qt.Orientation.Horizontal:
                return COLUMNS[section]
            return str(section + 1)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        event = self._events[row]
        if role == EVENT_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col, event)
        if role == SORT_ROLE:
            return self._sort_key(row, col, event)
        if role == STATUS_ROLE:
            decision = self.decision(row)
            return decision.status if decision is not None else "unreviewed"
        if role == Qt.ItemDataRole.DecorationRole and col == CLASS:
            return class_colour(self._class_names, event.class_name)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == CHANNELS and event.channel_scores:
                return "\n".join(
                    f"{name}: {score:.0%} of the attribution"
                    for name, score in zip(event.top_channels, event.channel_scores, strict=False)
                )
            if col == NOTE:
                decision = self.decision(row)
                return decision.note if decision is not None else ""
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (DURATION, PEAK):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role in LIVE_ROLES:
            mark = self.live_mark(row)
            if mark and role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(True)
                return font
            if mark and role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor("black"))  # on the light tint, in the dark theme too
            if mark:  # the whole row: an alarm red until acknowledged, a running event amber
                return QBrush(LIVE_COLOURS[mark])
        if role == Qt.ItemDataRole.ForegroundRole and col == PEAK:
            return QBrush(QColor("black"))  # on its light tint, in the dark theme too
        if role == Qt.ItemDataRole.BackgroundRole and col == PEAK:
            # Redder for more confident events: the eye finds the sure ones first.
            level = int(255 - 90 * max(0.0, min(1.0, event.peak_probability)))
            return QBrush(QColor(255, level, level))
        return None

    def _display(self, row: int, col: int, event: FaultEvent) -> str:
        if col == START:
            return event.start_time
        if col == END:
            live = self._live()
            if live is not None and event.start_row in live.running:
                return f"{event.end_time} (running)"
            return event.end_time
        if col == DURATION:
            return event.duration_text
        if col == CLASS:
            return event.class_name
        if col == PEAK:
            return f"{event.peak_probability:.3f}"
        if col == CHANNELS:
            return ", ".join(event.top_channels)
        if col == NUMBER:
            return str(row + 1)
        decision = self.decision(row)
        if col == STATUS:
            return status_text(decision) if decision is not None else "unreviewed"
        # One line in the cell; the tooltip holds the note as typed.
        return " ".join(decision.note.split()) if decision is not None else ""

    def _sort_key(self, row: int, col: int, event: FaultEvent) -> int | float | str:
        if col in (START, NUMBER):
            return event.start_row if col == START else row
        if col == END:
            return event.end_row
        if col == DURATION:
            return event.duration_s
        if col == PEAK:
            return event.peak_probability
        return self._display(row, col, event)


class SortedEvents(QSortFilterProxyModel):
    """The events sorted by what a column means (rows, seconds, probability), not its text."""

    def __init__(self, events: EventsModel, parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else events)
        self.setSourceModel(events)
        self.setSortRole(SORT_ROLE)


def index_of_event(model: QAbstractItemModel, event: int, column: int = 0) -> QModelIndex:
    """The index in ``model`` (an EventsModel or a proxy over one) of scan event ``event``."""
    if isinstance(model, QAbstractProxyModel):
        return model.mapFromSource(index_of_event(model.sourceModel(), event, column))
    return model.index(event, column)


def selected_event(selection: QItemSelectionModel) -> int | None:
    """The event selected in ``selection`` (a row of an EventsModel, or of a proxy over one)."""
    rows = selection.selectedRows()
    return int(rows[0].data(EVENT_ROLE)) if rows else None


def select_event(selection: QItemSelectionModel, event: int) -> QModelIndex:
    """Make ``event`` the selected and current row of ``selection``; returns its index."""
    index = index_of_event(selection.model(), event)
    if index.isValid():
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        selection.setCurrentIndex(index, flags)
    return index
