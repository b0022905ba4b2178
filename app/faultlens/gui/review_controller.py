"""The review's controller: wires the review panel, the region overlay and report export
into the main window (the review dock, the Review menu, File > Export Report)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from faultlens.core.errors import FaultLensError
from faultlens.core.recording import Recording
from faultlens.core.review import Review
from faultlens.gui.review_panel import RegionOverlay, ReviewPanel, ShiftDragDrawer


class ReviewIntegration(QObject):
    """Wires review and reports into the main window (the window calls this once).

    Adds a "Review" dock (ReviewPanel), the hand-drawn regions on the signal view (Shift +
    drag draws one, dragging an edge adjusts it), a Review
    menu (Confirm C, Dismiss D, Relabel… L, Draw Region Shift+R, Undo Ctrl+Z, Redo
    Ctrl+Shift+Z / Ctrl+Y, Train with Reviewed Labels) and File > Export Report… (Ctrl+E).
    One ``Review`` per open recording, restored from its sidecar when the recording is
    first shown; a scan attaches its events to it.
    """

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        from faultlens.gui.report_export import ReportExporter

        self.window = window
        self.reviews: dict[Recording, Review] = {}  # recordings hash by identity
        self.panel = ReviewPanel()
        self.overlay = RegionOverlay(window.signal_view)
        self.exporter = ReportExporter(window, self.export_inputs)
        self.exporter.exported.connect(
            lambda path: window.statusBar().showMessage(f"Report written to {path}", 10000)
        )
        window.add_dock(
            self.panel, "Review", Qt.DockWidgetArea.RightDockWidgetArea, tabify_with="Training"
        )

        self.actions: dict[str, QAction] = {}
        p = self.panel
        self._action("confirm", "&Confirm Event", p.confirm_button.click, ("C",))
        self._action("dismiss", "&Dismiss Event", p.dismiss_button.click, ("D",))
        self._action("relabel", "&Relabel Event…", lambda: p.relabel_current(), ("L",))
        self._action("draw_region", "Draw &Region", self.draw_region, ("Shift+R",))
        self._action("undo", "&Undo", p.undo, ("Ctrl+Z",))
        self._action("redo", "&Redo", p.redo, ("Ctrl+Shift+Z", "Ctrl+Y"))
        self._action("train", "&Train with Reviewed Labels…", p.request_training)
        menu = window.menu("Review")
        for key in ("confirm", "dismiss", "relabel"):
            menu.addAction(self.actions[key])
        menu.addSeparator()
        menu.addAction(self.actions["draw_region"])
        menu.addSeparator()
        menu.addAction(self.actions["undo"])
        menu.addAction(self.actions["redo"])
        menu.addSeparator()
        menu.addAction(self.actions["train"])
        file_menu = window.menu("File")
        quit_action = window.actions.get("quit")
        file_menu.insertAction(quit_action, self.exporter.action)
        file_menu.insertSeparator(quit_action)
        window.addAction(self.exporter.action)

        window.recording_changed.connect(self._on_recording_changed)
        window.scan_finished.connect(self._on_scan_finished)
        # A new model drops the scans: nothing to report until the next scan.
        window.model_changed.connect(lambda _model: self.exporter.update_enabled())
        window.event_table.event_activated.connect(p.select_event)
        p.event_selected.connect(self._on_panel_event_selected)
        p.train_requested.connect(self._on_train_requested)
        p.draw_region_requested.connect(self.draw_region)
        window.installEventFilter(self)
        self.shift_drag = ShiftDragDrawer(window.signal_view, self._add_dragged_region)
        self._on_recording_changed(window.current_recording)

    def _action(self, key: str, text: str, slot: Any, shortcuts: tuple[str, ...] = ()) -> None:
        action = QAction(text, self.window)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(action)
        self.actions[key] = action

    # ------------------------------------------------------------------ state
    @property
    def review(self) -> Review | None:
        rec = self.window.current_recording
        return None if rec is None else self.reviews.get(rec)

    def review_of(self, recording: Recording) -> Review:
        """The recording's review, opened (restored from its sidecar) on first use."""
        review = self.reviews.get(recording)
        if review is None:
            review = Review.open(recording)
            self.reviews[recording] = review
            if review.warnings:
                self.window.report_error(
                    "\n".join(w.message for w in review.warnings), title="Review file"
                )
        return review

    def export_inputs(self) -> Any:
        from faultlens.gui.report_export import ExportInputs

        rec, result = self.window.current_recording, self.window.current_scan
        if rec is None or result is None:
            return None
        return ExportInputs(rec, result, self.window.current_model, self.review)

    def _on_recording_changed(self, recording: Recording | None) -> None:
        review = None
        if recording is not None:
            try:
                review = self.review_of(recording)
            except FaultLensError as err:
                self.window.report_error(str(err), title="Review file")
        result = self.window.current_scan
        if review is not None and result is not None:
            self._attach(review, result)
        self.panel.set_review(review, recording)
        self.overlay.set_review(review)
        self.exporter.update_enabled()

    def _on_scan_finished(self, result: Any) -> None:
        review = self.review
        if review is not None:
            self._attach(review, result)
            self.panel.set_review(review, self.window.current_recording)
        self.exporter.update_enabled()

    def _attach(self, review: Review, result: Any) -> None:
        try:
            review.set_events(
                result.events,
                model_fingerprint=result.model_fingerprint,
                class_names=result.class_names,
                scan_options=result.options,
            )
        except FaultLensError as err:
            self.window.report_error(str(err), title="Review file")

    def _on_panel_event_selected(self, index: int) -> None:
        table = self.window.event_table
        if table.current_event_index() != index:
            table.select_event(index)

    def draw_region(self) -> int | None:
        """Add a region over the middle third of the view (then drag its edges)."""
        if self.review is None or self.window.current_recording is None:
            return None
        start, end = self.overlay.view_rows()
        return self.panel.add_region(start, end)

    def _add_dragged_region(self, x0: float, x1: float) -> None:
        if self.review is None:
            return
        start, end = self.overlay.x_to_row(x0), self.overlay.x_to_row(x1)
        if start != end:
            self.panel.add_region(start, end)

    def _on_train_requested(self, reviewed: Recording) -> None:
        window = self.window
        panel = window.training_panel
        panel.set_recordings([*window.recordings, reviewed])
        for rec in window.recordings:
            panel.set_checked(rec, False)
        panel.set_checked(reviewed, True)
        dock = window.docks["Training"]
        dock.show()
        dock.raise_()
        window.statusBar().showMessage(
            f"{reviewed.name} is ready to train on: press Train in the training panel", 10000
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # A report being written when the window closes is cancelled and waited for, so no
        # thread outlives the window (the half-written file is removed by the core).
        if watched is self.window and event.type() == QEvent.Type.Close:
            worker = self.exporter.worker
            if worker is not None and worker.is_running():
                worker.cancel()
                worker.wait()
        return False
