"""The review's controller: puts the review dock, the hand-drawn regions and report export into
the main window, and opens each recording's review when it becomes current.

A reopened review brings back its model: when the model file the review was made with is still
where it was, with the same fingerprint, and no other model is loaded, it is loaded and the
recording rescanned at once; otherwise the Review panel names that model and offers
"Load model…" (loads it from its place, or asks where it went), then rescans.

It is handed the window and the session; it keeps no review of its own (the session holds
one per open recording, restored from its sidecar the first time the recording is current,
and a scan attaches its events to it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from faultlens.core.checkpoint import load_model
from faultlens.core.errors import FaultLensError
from faultlens.core.review import Review
from faultlens.core.session import Session, SessionChange
from faultlens.gui.region_overlay import RegionOverlay, ShiftDragDrawer
from faultlens.gui.report_export import ExportInputs, ReportExporter
from faultlens.gui.review_panel import ReviewPanel

if TYPE_CHECKING:
    from faultlens.gui.main_window import MainWindow


class ReviewController(QObject):
    """Adds to the window: a "Review" dock (ReviewPanel over the window's events model and
    selection), the hand-drawn regions on the signal view (Shift + drag draws one, dragging
    an edge adjusts it), a Review menu (Confirm C, Dismiss D, Relabel… L, Draw Region
    Shift+R, Undo Ctrl+Z, Redo Ctrl+Shift+Z / Ctrl+Y, Train with Reviewed Labels) and
    File > Export Report… (Ctrl+E), whose run is one of the window's tasks.
    """

    def __init__(self, window: MainWindow, session: Session) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.panel = ReviewPanel(session, window.sorted_events, window.event_selection)
        self.overlay = RegionOverlay(window.signal_view)
        self.exporter = ReportExporter(window, self.export_inputs, window.tasks)
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
        self._action("relabel", "&Relabel Event…", p.relabel_current, ("L",))
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

        p.train_requested.connect(self._on_train_requested)
        p.draw_region_requested.connect(self.draw_region)
        p.load_model_requested.connect(self.load_review_model)
        self.shift_drag = ShiftDragDrawer(window.signal_view, self._add_dragged_region)
        unsubscribe = session.subscribe(self._on_session_changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        self._open_current_review()
        self.exporter.update_enabled()

    def _action(
        self, key: str, text: str, slot: Callable[[], object], shortcuts: tuple[str, ...] = ()
    ) -> None:
        action = QAction(text, self.window)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(action)
        self.actions[key] = action

    # ------------------------------------------------------------------ following the session
    @property
    def review(self) -> Review | None:
        """The current recording's review (None before one is opened)."""
        entry = self.session.current
        return entry.review if entry is not None else None

    def _on_session_changed(self, change: SessionChange) -> None:
        if change.kind in ("current", "recordings"):
            self._open_current_review()
        # A new model drops the scans: nothing to report until the next scan.
        self.exporter.update_enabled()

    def _open_current_review(self) -> None:
        """Open (restore from its sidecar) the current recording's review, once; its
        warnings (a sidecar kept aside as corrupt, ...) and errors go to a dialog."""
        entry = self.session.current
        if entry is None or entry.review is not None:
            return
        try:
            _review, warnings = self.session.open_review(entry.id)
        except FaultLensError as err:
            self.window.report_error(str(err), title="Review file")
            return
        if warnings:
            self.window.report_error("\n".join(w.message for w in warnings), title="Review file")
        self._bring_back_model()

    def _bring_back_model(self) -> None:
        """A reopened review with decisions but no events: rescan with its model when that is
        loaded already, or load it first when its file is unchanged and no other model is in
        use (replacing one would drop every recording's scan); else the panel offers it."""
        entry = self.session.current
        review = entry.review if entry is not None else None
        if entry is None or review is None or review.events or not review.state.decisions:
            return
        if not review.model_fingerprint:
            return
        bar = self.window.statusBar()
        model = self.session.model
        if model is not None and model.fingerprint == review.model_fingerprint:
            bar.showMessage(f"Rescanning {entry.name} with the model it was reviewed with…")
            self.window.scan_controller.start()
            return
        path = review.model_path
        if model is None and path is not None and path.is_file():
            try:
                found = load_model(path)
            except FaultLensError:
                found = None
            if found is not None and found.fingerprint == review.model_fingerprint:
                self.window.set_model(found)
                self.window.scan_controller.start()
                bar.showMessage(
                    f"{entry.name} was reviewed with model {path.name}: loaded it from {path} "
                    "and rescanning",
                    10000,
                )
                return
        bar.showMessage(
            f"{entry.name} was reviewed with model {review.model_name}: Load model… in the "
            "Review panel brings its events back",
            15000,
        )

    def load_review_model(self) -> bool:
        """ "Load model…" in the Review panel: the review's model from where it was, or from a
        file the user picks when it is gone; then rescan. True when a model was loaded."""
        review = self.review
        if review is None:
            return False
        from faultlens.gui.main_window import MODEL_FILTER

        path = review.model_path
        if path is None or not path.is_file():
            start = str(path.parent) if path is not None and path.parent.is_dir() else ""
            chosen, _ = QFileDialog.getOpenFileName(
                self.window,
                f"Load the model this review was made with ({review.model_name})",
                start,
                MODEL_FILTER,
            )
            if not chosen:
                return False
            path = Path(chosen)
        if not self.window.load_model_file(path):
            return False
        self.window.scan_controller.start()
        return True

    def export_inputs(self) -> ExportInputs | None:
        entry = self.session.current
        if entry is None or entry.scan is None:
            return None
        return ExportInputs(
            entry.recording,
            entry.scan,
            self.session.model,
            entry.review,
            self.session.display_name(entry.id),
        )

    # ------------------------------------------------------------------ regions
    def draw_region(self) -> int | None:
        """Add a region over the middle third of the view (then drag its edges)."""
        if self.review is None:
            return None
        start, end = self.overlay.view_rows()
        return self.panel.add_region(start, end)

    def _add_dragged_region(self, x0: float, x1: float) -> None:
        if self.review is None:
            return
        start, end = self.overlay.x_to_row(x0), self.overlay.x_to_row(x1)
        if start != end:
            self.panel.add_region(start, end)

    # ------------------------------------------------------------------ training
    def _on_train_requested(self) -> None:
        """With a model loaded: retrain it on its own training recordings plus this one with
        its reviewed labels (the training panel asks what it must). Without: train on this
        recording alone, with its reviewed labels: its role says so in the session (the
        training panel shows it), and the Training dock comes up."""
        entry = self.session.current
        if entry is None:
            return
        if self.session.model is not None:
            dock = self.window.docks["Training"]
            dock.show()
            dock.raise_()
            self.window.training_panel.retrain_with_reviewed_labels(entry.id)
            return
        for other in self.session:
            if other.id != entry.id and other.training.use:
                role = other.training
                labels = "file" if role.labels == "reviewed" else role.labels
                self.session.set_training_role(
                    other.id, dataclasses.replace(role, use=False, labels=labels)
                )
        reviewed = dataclasses.replace(entry.training, use=True, labels="reviewed")
        self.session.set_training_role(entry.id, reviewed)
        dock = self.window.docks["Training"]
        dock.show()
        dock.raise_()
        self.window.statusBar().showMessage(
            f"{entry.name} (reviewed labels) is ready to train on: press Train in the "
            "training panel",
            10000,
        )
