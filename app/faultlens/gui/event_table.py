"""EventTable: the flagged fault events of a scan, sortable, one row per event."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QApplication, QHeaderView, QTableView, QWidget

from faultlens.core.detection import FaultEvent, ScanResult
from faultlens.gui.tracks import class_colour

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Start", "End", "Duration", "Class", "Peak p", "Top channels")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


def format_duration(seconds: float, unit: str) -> str:
    if unit == "rows":
        return f"{seconds:g} rows"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


class EventTableModel(QAbstractTableModel):
    """A read-only table model over a list of FaultEvents (row i = events[i])."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.events: list[FaultEvent] = []
        self.class_names: tuple[str, ...] = ()
        self.duration_unit = "s"

    def set_events(
        self, events: list[FaultEvent], class_names: tuple[str, ...], duration_unit: str = "s"
    ) -> None:
        self.beginResetModel()
        self.events = list(events)
        self.class_names = class_names
        self.duration_unit = duration_unit
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self.events)

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
        event = self.events[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                event.start_time,
                event.end_time,
                format_duration(event.duration_s, self.duration_unit),
                event.class_name,
                f"{event.peak_probability:.3f}",
                ", ".join(event.top_channels),
            )[col]
        if role == SORT_ROLE:
            return (
                event.start_row,
                event.end_row,
                event.duration_s,
                event.class_name,
                event.peak_probability,
                ", ".join(event.top_channels),
            )[col]
        if role == Qt.ItemDataRole.DecorationRole and col == 3:
            return class_colour(self.class_names, event.class_name)
        if role == Qt.ItemDataRole.ToolTipRole and col == 5 and event.channel_scores:
            return "\n".join(
                f"{name}: {score:.0%} of the attribution"
                for name, score in zip(event.top_channels, event.channel_scores, strict=False)
            )
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and col == 4:
            # Redder for more confident events: the eye finds the sure ones first.
            level = int(255 - 90 * max(0.0, min(1.0, event.peak_probability)))
            return QBrush(QColor(255, level, level))
        return None


class EventTable(QTableView):
    """Sortable event list; ``event_activated(event_index)`` on click or keyboard selection.

    ``event_index`` is the position in the scan's ``events`` list, whatever the sort order.
    """

    event_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("event_table")
        self.table_model = EventTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.table_model)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.clicked.connect(self._on_row_clicked)
        self.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        self._programmatic = False

    def set_scan(self, result: ScanResult | None, duration_unit: str = "s") -> None:
        if result is None:
            self.table_model.set_events([], ())
        else:
            self.table_model.set_events(result.events, result.class_names, duration_unit)

    @property
    def events(self) -> list[FaultEvent]:
        return self.table_model.events

    def event_index_at(self, view_row: int) -> int:
        """The events-list index shown in table row ``view_row`` (after sorting)."""
        return self.proxy.mapToSource(self.proxy.index(view_row, 0)).row()

    def view_row_of(self, event_index: int) -> int:
        return self.proxy.mapFromSource(self.table_model.index(event_index, 0)).row()

    def select_event(self, event_index: int) -> None:
        """Select the row of ``event_index`` and emit ``event_activated`` for it."""
        row = self.view_row_of(event_index)
        self._programmatic = True
        try:
            self.setCurrentIndex(self.proxy.index(row, 0))
        finally:
            self._programmatic = False
        self.scrollTo(self.proxy.index(row, 0))
        self.event_activated.emit(event_index)

    def current_event_index(self) -> int | None:
        index = self.currentIndex()
        return self.event_index_at(index.row()) if index.isValid() else None

    def _on_row_clicked(self, index: QModelIndex) -> None:
        self.event_activated.emit(self.proxy.mapToSource(index).row())

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        # Arrow keys in the table move through the events like clicks do; a mouse press also
        # changes the current row, but the click handler reports that one.
        if self._programmatic or QApplication.mouseButtons() != Qt.MouseButton.NoButton:
            return
        if current.isValid() and self.hasFocus():
            self.event_activated.emit(self.proxy.mapToSource(current).row())


def _demo_widget(_recording: object, _model: object, scan: ScanResult | None) -> EventTable:
    """The widget as ``python -m`` opens it on the demo data (also used by the smoke test)."""
    table = EventTable()
    table.set_scan(scan)
    return table


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
