"""RecordingList: the session's open recordings, one row each, the current one selected.

A view of the session: each item carries its recording's id as item data (never the
recording object or its path), the list is rebuilt when recordings are opened or closed, and
picking a row makes that recording the session's current one.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

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
        unsubscribe = session.subscribe(self._on_session_changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        self.currentRowChanged.connect(self._on_row_changed)
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
                item = QListWidgetItem(entry.name)
                item.setData(ID_ROLE, entry.id)
                quality = entry.recording.quality
                if quality is not None:
                    item.setToolTip(f"{entry.recording.path}<br>{quality_summary_html(quality)}")
                self.addItem(item)
        self._select_current()

    def _select_current(self) -> None:
        ids = self.session.ids
        current = self.session.current_id
        row = ids.index(current) if current in ids else -1
        if self.currentRow() != row:
            with QSignalBlocker(self):
                self.setCurrentRow(row)

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
