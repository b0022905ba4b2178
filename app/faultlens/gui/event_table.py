"""EventTable: the "Fault events" dock, one row per flagged event, sortable.

A view of the shared :class:`~faultlens.gui.event_model.EventsModel` (through its sorting
proxy) and the shared selection, which the Review dock uses too: what is selected here is
selected there. The review columns are hidden here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelectionModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from faultlens.core.recording import Recording
from faultlens.gui.event_model import (
    EVENT_ROLE,
    NOTE,
    NUMBER,
    START,
    STATUS,
    EventsModel,
    SortedEvents,
    index_of_event,
    select_event,
    selected_event,
)

if TYPE_CHECKING:
    from faultlens.core.scan import ScanResult


class EventTable(QTableView):
    """The events of the current scan; ``event_activated(event_index)`` when the user picks
    one (click, arrow keys, or a pick in any other view of the same selection).

    ``event_index`` is the position in the scan's ``events`` list, whatever the sort order.
    """

    event_activated = Signal(int)

    def __init__(
        self,
        model: QAbstractItemModel,
        selection: QItemSelectionModel,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("event_table")
        self.setModel(model)
        own = self.selectionModel()
        self.setSelectionModel(selection)
        own.deleteLater()  # setModel made one; the shared one replaces it
        self.selection = selection
        for column in (STATUS, NOTE, NUMBER):
            self.setColumnHidden(column, True)
        # Sorting is the proxy's job: a bare EventsModel stays in scan order.
        if isinstance(model, QSortFilterProxyModel):
            self.setSortingEnabled(True)
            self.sortByColumn(START, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self._programmatic = False
        self._changed_by_press = False
        self.clicked.connect(self._on_row_clicked)
        selection.currentRowChanged.connect(self._on_current_row_changed)

    def event_index_at(self, view_row: int) -> int:
        """The events-list index shown in table row ``view_row`` (after sorting)."""
        return int(self.model().index(view_row, 0).data(EVENT_ROLE))

    def view_row_of(self, event_index: int) -> int:
        return index_of_event(self.model(), event_index).row()

    def select_event(self, event_index: int) -> None:
        """Select the row of ``event_index`` (in every view of the selection) and emit
        ``event_activated`` for it once, even when it was already selected."""
        self._programmatic = True
        try:
            index = select_event(self.selection, event_index)
        finally:
            self._programmatic = False
        if index.isValid():
            self.scrollTo(index)
            self.event_activated.emit(event_index)

    def current_event_index(self) -> int | None:
        return selected_event(self.selection)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._changed_by_press = False
        super().mousePressEvent(event)  # may change the current row (reported at once)

    def _on_row_clicked(self, index: QModelIndex) -> None:
        # A click on the row that is already current zooms to it again; a click that made
        # it current was reported when the press changed the row.
        if not self._changed_by_press:
            self.event_activated.emit(int(index.data(EVENT_ROLE)))
        self._changed_by_press = False

    def _on_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        # Whichever view the user picked the row in (this one, the Review dock's, with the
        # mouse or the arrow keys). A re-sort moves the row, not the event: nothing to report.
        if self._programmatic or not current.isValid():
            return
        event = int(current.data(EVENT_ROLE))
        if previous.isValid() and int(previous.data(EVENT_ROLE)) == event:
            return
        self._changed_by_press = True
        self.event_activated.emit(event)


def _demo_widget(recording: Recording, _model: object, scan: ScanResult | None) -> EventTable:
    """The widget as ``python -m`` opens it on the demo data (also used by the smoke test)."""
    from faultlens.core.session import Session

    session = Session()
    entry = session.add(recording)
    session.set_scan(entry.id, scan)
    events = EventsModel(session)
    shown = SortedEvents(events)
    table = EventTable(shown, QItemSelectionModel(shown, shown))
    events.setParent(table)  # the table keeps the model (and its proxy) alive
    return table


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
