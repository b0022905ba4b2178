"""Model > Scan Recording: scan the current recording with the session's model as a task,
with its progress and a Cancel button in the window's status bar.

The scan is made for one recording id and one model, captured when it starts; its result
goes to that recording in the session (whichever recording is current by then), unless the
recording was closed or the model replaced meanwhile (a scan belongs to the model that made
it). The views (signal view, events, review) follow the session from there.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QProgressBar, QPushButton

from faultlens.core.errors import FaultLensError
from faultlens.core.options import ScanOptions
from faultlens.core.progress import Progress, ShouldStop
from faultlens.core.scan import ScanResult, scan
from faultlens.core.session import Session
from faultlens.gui.tasks import Task, TaskRunner

if TYPE_CHECKING:
    from faultlens.gui.main_window import MainWindow

TASK_KIND = "scan"


class ScanController(QObject):
    """Starts, shows, cancels and applies scans for the window."""

    def __init__(self, window: MainWindow, session: Session, tasks: TaskRunner) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.tasks = tasks
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel scan")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel)
        window.statusBar().addWidget(self.progress)
        window.statusBar().addWidget(self.cancel_button)

    def is_running(self) -> bool:
        return self.tasks.is_running(TASK_KIND)

    def start(self) -> Task | None:
        """Scan the current recording with the current model, in the background."""
        if self.is_running():
            return None
        window = self.window
        entry, model = self.session.current, self.session.model
        if entry is None or model is None:
            window.report_error("Open a recording and load or train a model before scanning.")
            return None
        if window.explain_mismatch():
            return None
        recording, recording_id, options = entry.recording, entry.id, ScanOptions()

        def factory(should_stop: ShouldStop) -> Generator[Progress, None, ScanResult]:
            return scan(model, recording, options, should_stop)

        def finished(result: ScanResult) -> None:
            # The recording may have been closed, or the model replaced, meanwhile.
            if recording_id in self.session.ids and self.session.model is model:
                self.apply(recording_id, result)

        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        window.statusBar().showMessage(f"Scanning {recording.name}…")
        return self.tasks.start(
            TASK_KIND,
            factory,
            f"Scanning {recording.name}",
            progress=self._on_progress,
            finished=finished,
            failed=window.report_error,
            cancelled=lambda: window.statusBar().showMessage("Scan cancelled", 5000),
            done=self._on_done,
        )

    def cancel(self) -> None:
        self.tasks.cancel(TASK_KIND)

    def apply(self, recording_id: int, result: ScanResult) -> None:
        """Keep ``result`` as the scan of recording ``recording_id`` (the views follow)."""
        try:
            self.session.set_scan(recording_id, result)
        except FaultLensError as err:  # the review could not take the events
            self.window.report_error(str(err), title="Review file")
        if recording_id == self.session.current_id:
            n = len(result.events)
            review = self.session.get(recording_id).review
            # A scan by another model than the review's says what became of its decisions.
            note = review.rescan_note() if review is not None else ""
            self.window.statusBar().showMessage(
                f"Scan of {self.session.get(recording_id).name}: "
                f"{n} fault event{'s' if n != 1 else ''}" + (f"; {note}" if note else ""),
                20000 if note else 10000,
            )

    def _on_progress(self, report: Progress) -> None:
        self.progress.setValue(int(1000 * report.fraction))
        self.progress.setFormat(f"{report.message} %p%")

    def _on_done(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
