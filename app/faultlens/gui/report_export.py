"""File > Export Report… (Ctrl+E): write the fault report as a task, with progress and Cancel.

The file type follows the chosen name: .html or .pdf for a report, .csv or .json for the
event list. Everything the worker needs is frozen on the GUI thread first (the recording and
scan are not changed after a scan; the review is a detached snapshot), so the user can go on
reviewing while the report is written.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QProgressDialog, QWidget

from faultlens.core.checkpoint import TrainedModel
from faultlens.core.event_files import EVENT_SUFFIXES, write_events
from faultlens.core.progress import Progress, ShouldStop
from faultlens.core.recording import Recording
from faultlens.core.report import REPORT_SUFFIXES, write_report
from faultlens.core.review import Review
from faultlens.core.scan import ScanResult
from faultlens.gui import app as gui_app
from faultlens.gui import settings as gui_settings
from faultlens.gui.tasks import Task, TaskRunner

EXPORT_FILTER = (
    "HTML report (*.html);;PDF report (*.pdf);;Event list as CSV (*.csv);;"
    "Event list as JSON (*.json)"
)
SUFFIX_OF_FILTER = {"HTML": ".html", "PDF": ".pdf", "CSV": ".csv", "JSON": ".json"}
TASK_KIND = "report"


@dataclass(frozen=True)
class ExportInputs:
    """What a report is made of, captured on the GUI thread."""

    recording: Recording
    scan_result: ScanResult
    model: TrainedModel | None
    review: Review | None
    # The recording's name as the session shows it (``0.csv — run1/``), for the title.
    name: str = ""


def export_generator(
    path: Path, inputs: ExportInputs, should_stop: ShouldStop
) -> Generator[Progress, None, Path]:
    """The core work for ``path``: a report generator, or the event list written at once."""
    if path.suffix.lower() in EVENT_SUFFIXES:

        def events() -> Generator[Progress, None, Path]:
            yield Progress(0, 1, "Writing the event list")
            write_events(
                path,
                inputs.scan_result.events,
                inputs.review,
                recording=inputs.recording,
                scan_result=inputs.scan_result,
            )
            yield Progress(1, 1, "Done")
            return path

        return events()
    return write_report(
        path,
        inputs.recording,
        inputs.scan_result,
        inputs.model,
        inputs.review,
        title=f"Fault report: {inputs.name}" if inputs.name else None,
        should_stop=should_stop,
    )


# What the HTML and PDF renderers import lazily (the faultlens.core.report package).
RENDERER_MODULES = (
    "matplotlib.backends.backend_agg",
    "matplotlib.backends.backend_pdf",
    "matplotlib.textpath",
    "matplotlib.ticker",
    "PIL.Image",
    "faultlens.core.report.figures",
    "faultlens.core.report.html",
    "faultlens.core.report.pdf",
)


def import_renderers() -> None:
    """Import the report renderers (matplotlib and its Agg and PDF back ends) on the GUI
    thread, before the first export starts its worker.

    Otherwise the first export imports matplotlib on the worker thread. Once, in a test run,
    the interpreter aborted there ("Fatal Python error: Aborted") while the GUI thread
    garbage-collected during that import; hundreds of lines of module set-up on a second
    thread, next to PySide6's import hook and a collecting GUI thread, is a risk a user's
    first export should not carry. The cost moves to the GUI thread once (a fraction of a
    second, before the progress dialog shows); later calls are dictionary look-ups.
    """
    for name in RENDERER_MODULES:
        importlib.import_module(name)


class ReportExporter(QObject):
    """Owns the Export Report action; its run is the task "report" of ``tasks`` (the
    window's runner, or one of its own), so at most one export runs at a time."""

    exported = Signal(str)  # path written
    failed = Signal(str)

    def __init__(
        self,
        parent: QWidget,
        inputs: Callable[[], ExportInputs | None],
        tasks: TaskRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self._inputs = inputs
        self.tasks = tasks if tasks is not None else TaskRunner(self)
        self.tasks.changed.connect(self.update_enabled)
        self.task: Task | None = None  # the newest run (its answers outlive its release)
        self.progress_dialog: QProgressDialog | None = None
        self.last_error = ""
        self.action = QAction("Export &Report…", parent)
        self.action.setShortcut(QKeySequence("Ctrl+E"))
        self.action.setStatusTip("Write a fault report (HTML or PDF) or the event list (CSV/JSON)")
        self.action.triggered.connect(lambda: self.export())

    def is_running(self) -> bool:
        return self.tasks.is_running(TASK_KIND)

    def update_enabled(self) -> None:
        self.action.setEnabled(not self.is_running() and self._inputs() is not None)

    def ask_path(self, recording: Recording) -> Path | None:
        start = Path(gui_settings.last_directory("report") or recording.path.parent)
        suggested = str(start / f"{recording.path.stem}-report.html")
        name, chosen_filter = QFileDialog.getSaveFileName(
            self.parent_widget, "Export report", suggested, EXPORT_FILTER
        )
        if not name:
            return None
        path = Path(name)
        if path.suffix.lower() not in (*REPORT_SUFFIXES, *EVENT_SUFFIXES):
            kind = chosen_filter.split(" ", 1)[0]
            for word, suffix in SUFFIX_OF_FILTER.items():
                if word in chosen_filter or word == kind:
                    path = path.with_name(path.name + suffix)
                    break
        return path

    def export(self, path: str | Path | None = None) -> Task | None:
        """Export to ``path`` (asked for when None) in the background; None if not started."""
        if self.is_running():
            return None
        inputs = self._inputs()
        if inputs is None:
            self._fail("Open a recording and scan it before exporting a report.")
            return None
        target = self.ask_path(inputs.recording) if path is None else Path(path)
        if target is None:
            return None
        gui_settings.set_last_directory("report", target)
        if inputs.review is not None:
            inputs = replace(inputs, review=inputs.review.snapshot())
        frozen = inputs
        if target.suffix.lower() in REPORT_SUFFIXES:
            import_renderers()

        def factory(should_stop: ShouldStop) -> Generator[Progress, None, Path]:
            return export_generator(target, frozen, should_stop)

        dialog = QProgressDialog(f"Writing {target.name}…", "Cancel", 0, 1000, self.parent_widget)
        dialog.setObjectName("report_progress")
        dialog.setWindowTitle("Export report")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setValue(0)
        self.progress_dialog = dialog
        self.last_error = ""
        task = self.tasks.start(
            TASK_KIND,
            factory,
            f"Writing {target.name}",
            progress=self._on_progress,
            finished=self._on_finished,
            failed=self._fail,
            cancelled=self._on_cancelled,
            # Each run closes its own dialog: a late ``done`` of an earlier run must not
            # touch (and, by closing, cancel) a newer run's dialog.
            done=lambda: self._on_done(dialog),
        )
        assert task is not None  # none was running (checked above)
        dialog.canceled.connect(task.cancel)
        self.task = task
        return task

    def cancel(self) -> None:
        self.tasks.cancel(TASK_KIND)

    def _on_progress(self, report: Progress) -> None:
        dialog = self.progress_dialog
        if dialog is not None:
            dialog.setLabelText(report.message)
            # Last: a modal QProgressDialog's setValue processes events, in which this run's
            # ``done`` may arrive and clear self.progress_dialog.
            dialog.setValue(int(1000 * report.fraction))

    def _on_finished(self, path: Path) -> None:
        self.exported.emit(str(path))

    def _on_cancelled(self) -> None:
        self.last_error = "Export cancelled; no file was written."
        self.failed.emit(self.last_error)

    def _fail(self, message: str, details: str = "") -> None:
        self.last_error = message
        gui_app.show_error(self.parent_widget, "Export report", message, details)
        self.failed.emit(message)

    def _on_done(self, dialog: QProgressDialog) -> None:
        dialog.blockSignals(True)  # closing a QProgressDialog emits canceled
        dialog.close()
        dialog.deleteLater()
        if self.progress_dialog is dialog:
            self.progress_dialog = None
        self.update_enabled()
