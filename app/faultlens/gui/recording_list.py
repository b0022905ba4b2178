"""RecordingList: the session's open recordings, one row each, the current one selected.

A view of the session: each item carries its recording's id as item data (never the
recording object or its path), the list is rebuilt when recordings are opened or closed, and
picking a row makes that recording the session's current one. Names are the session's
display names (two ``0.csv`` from different folders read ``0.csv — run1/`` and ``0.csv —
run2/``), the tooltip gives the full path; the context menu closes a recording.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QPoint, QSignalBlocker, Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu, QWidget

from faultlens.core.recording import Recording
from faultlens.core.session import Session, SessionChange
from faultlens.gui.import_dialog import quality_summary_html

ID_ROLE = Qt.ItemDataRole.UserRole


class RecordingList(QListWidget):
    """The open recordings; selecting one makes it current."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recording_list")
        self.session = session
        # False while a scan runs: its result goes to a recording id that must stay open.
        self.closing_allowed = True
        unsubscribe = session.subscribe(self._on_session_changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        self.currentRowChanged.connect(self._on_row_changed)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_context_menu_requested)
        self._rebuild()

    def recording_id(self, row: int) -> int | None:
        item = self.item(row)
        return None if item is None else int(item.data(ID_ROLE))

    def _on_session_changed(self, change: SessionChange) -> None:
        if change.kind == "recordings":
            self._rebuild()
        elif change.kind == "current":
            self._select_current()

    def _rebuild(self) -> None:
        with QSignalBlocker(self):
            self.clear()
            for entry in self.session:
                item = QListWidgetItem(self.session.display_name(entry.id))
                item.setData(ID_ROLE, entry.id)
                tip = html.escape(str(entry.recording.path))
                quality = entry.recording.quality
                if quality is not None:
                    tip += f"<br>{quality_summary_html(quality)}"
                item.setToolTip(tip)
                self.addItem(item)
        self._select_current()

    def _select_current(self) -> None:
        ids = self.session.ids
        current = self.session.current_id
        row = ids.index(current) if current in ids else -1
        if self.currentRow() != row:
            with QSignalBlocker(self):
                self.setCurrentRow(row)

    def context_menu(self, row: int) -> QMenu | None:
        """The menu for ``row``'s recording (Close Recording), or None off the rows."""
        recording_id = self.recording_id(row)
        if recording_id is None:
            return None
        menu = QMenu(self)
        close = menu.addAction("Close Recording")
        close.setStatusTip("Close it (its review is already saved)")
        close.setEnabled(self.closing_allowed)
        close.triggered.connect(lambda: self.session.remove(recording_id))
        return menu

    def _on_context_menu_requested(self, position: QPoint) -> None:
        menu = self.context_menu(self.indexAt(position).row())
        if menu is not None:
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self.viewport().mapToGlobal(position))

    def _on_row_changed(self, row: int) -> None:
        recording_id = self.recording_id(row)
        if recording_id is not None:
            self.session.set_current(recording_id)


def _demo_widget(recording: Recording, _model: object, _scan: object) -> RecordingList:
    """The list as ``python -m`` opens it: the demo recording, opened twice (two ids)."""
    session = Session()
    session.add(recording)
    session.add(recording)
    return RecordingList(session)


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
