"""The FaultLens main window: recordings, signals with the model's evidence, events,
training and models, all views of one :class:`~faultlens.core.session.Session`.

The window owns the session (what is open, current, scanned, reviewed, and the model) and
the task runner (every long job: import, training, scan, report export; closing the window
is their one shutdown path). Its docks are views of the session. Two controllers are handed
the window and the session: :class:`~faultlens.gui.scan_controller.ScanController` (Model >
Scan Recording, its progress in the status bar) and :class:`~faultlens.gui.review_controller.
ReviewController` (the review dock, the Review menu, File > Export Report). Other modules add
to the window through ``menu(name)`` and ``add_dock(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QItemSelectionModel, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QWidget,
)

from faultlens.core.checkpoint import TrainedModel, load_model
from faultlens.core.errors import FaultLensError
from faultlens.core.recording import ImportOptions, Recording
from faultlens.core.scan import ScanResult
from faultlens.core.session import (
    OpenRecording,
    Session,
    SessionChange,
    distinguishing_names,
)
from faultlens.gui import app as gui_app
from faultlens.gui import settings as gui_settings
from faultlens.gui.about import AboutDialog
from faultlens.gui.event_model import EventsModel, SortedEvents
from faultlens.gui.event_table import EventTable
from faultlens.gui.help_dialog import HelpDialog
from faultlens.gui.import_dialog import ImportDialog
from faultlens.gui.inspector import InspectedMarker, Inspector
from faultlens.gui.model_info import ModelInfo, channel_mismatch
from faultlens.gui.recording_list import RecordingList
from faultlens.gui.scan_controller import ScanController
from faultlens.gui.signal_view import SignalView
from faultlens.gui.tasks import Task, TaskRunner
from faultlens.gui.training_panel import TASK_KIND as TRAINING_TASK
from faultlens.gui.training_panel import TrainingPanel

APP_TITLE = "FaultLens"
RECORDING_FILTER = "Sensor recordings (*.csv *.tsv *.txt *.dat);;All files (*)"
MODEL_FILTER = "FaultLens models (*.flmodel);;All files (*)"
MENU_ORDER = ("File", "View", "Model", "Review", "Help")
EMPTY_TEXT = (
    "<p style='font-size:15pt'>Open a recording (Ctrl+O) or drop a CSV here</p>"
    "<p style='color:#666'>To look around first: <code>faultlens demo</code> opens a demo pump "
    "recording with a trained model.</p>"
)


def device_text() -> str:
    """The compute device the engine will use, for the status bar."""
    from faultlens.core.device import device_description, resolve_device

    return device_description(resolve_device("auto"))


class MainWindow(QMainWindow):
    """Open recordings, look at them, train or load a model, scan, and step through events."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("main_window")
        self.setWindowIcon(gui_app.app_icon())
        self.session = Session()
        self.tasks = TaskRunner(self)
        self.import_dialogs: list[ImportDialog] = []
        self.last_error = ""
        self.actions: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        self.docks: dict[str, QDockWidget] = {}

        self.signal_view = SignalView(self.session)
        # With nothing open the centre says how to open something; the signals replace it.
        self.empty_hint = QLabel(EMPTY_TEXT)
        self.empty_hint.setObjectName("empty_hint")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.centre = QStackedWidget()
        self.centre.addWidget(self.empty_hint)
        self.centre.addWidget(self.signal_view)
        self.setCentralWidget(self.centre)
        self.recording_list = RecordingList(self.session)
        # One events model, sorted once, one selection: both event docks are views of them.
        self.events = EventsModel(self.session, self)
        self.sorted_events = SortedEvents(self.events, self)
        self.event_selection = QItemSelectionModel(self.sorted_events, self)
        self.event_table = EventTable(self.sorted_events, self.event_selection)
        self.event_table.event_activated.connect(self.show_event)
        # No event selected any more: the channels go back to the file's order.
        self.event_selection.selectionChanged.connect(
            lambda *_: self.event_selection.hasSelection() or self.signal_view.show_file_order()
        )
        self.training_panel = TrainingPanel(self.session, self.tasks)
        self.model_info = ModelInfo(self.session)

        self.add_dock(self.recording_list, "Recordings", Qt.DockWidgetArea.LeftDockWidgetArea)
        self.add_dock(self.event_table, "Fault events", Qt.DockWidgetArea.BottomDockWidgetArea)
        # Scrollable: the panel is tall, and a dock must not dictate the window's minimum height.
        training_scroll = QScrollArea()
        training_scroll.setWidgetResizable(True)
        training_scroll.setWidget(self.training_panel)
        self.add_dock(training_scroll, "Training", Qt.DockWidgetArea.RightDockWidgetArea)
        self.add_dock(
            self.model_info, "Model", Qt.DockWidgetArea.RightDockWidgetArea, tabify_with="Training"
        )
        # The decision at one row, explained: a click on the signals or an event's peak.
        # Its own task runner: an explain (~40 ms) is nothing to ask about when closing.
        self.inspector = Inspector(self.session)
        self.inspected_marker = InspectedMarker(self.signal_view)
        self.inspected_marker.row_clicked.connect(self.inspect_row)
        self.inspector.inspected.connect(self._on_inspected)
        self.add_dock(
            self.inspector, "Inspector", Qt.DockWidgetArea.RightDockWidgetArea, "Training"
        )
        self._inspector_sized = False
        self.docks["Model"].raise_()
        self._sized_docks = False
        self._restored_state = False

        self._build_status_bar()
        self.scan_controller = ScanController(self, self.session, self.tasks)
        self._build_actions()
        self._build_menus()
        unsubscribe = self.session.subscribe(self._on_session_changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        self.tasks.changed.connect(self._update_actions)
        # The review dock, Review menu and File > Export Report. Installed before the saved
        # window state is restored, so the Review dock gets its saved place too.
        from faultlens.gui.review_controller import ReviewController

        self.review_controller = ReviewController(self, self.session)
        # File > Monitor Live Source, the Live menu and toolbar, the live status (issue 15).
        from faultlens.gui.live_controller import LiveController

        self.live_controller = LiveController(self, self.session, self.tasks)
        self.signal_view.downsample_note_changed.connect(self.downsample_label.setText)
        self.setAcceptDrops(True)
        self.resize(1600, 1000)
        self._restore_settings()
        self._update_title()
        self._update_actions()

    # ------------------------------------------------------------------ what is shown
    @property
    def current_recording(self) -> Recording | None:
        entry = self.session.current
        return entry.recording if entry is not None else None

    @property
    def current_scan(self) -> ScanResult | None:
        entry = self.session.current
        return entry.scan if entry is not None else None

    def menu(self, name: str) -> QMenu:
        """The menu called ``name``, created (in MENU_ORDER position) if it does not exist."""
        if name in self.menus:
            return self.menus[name]
        menu = QMenu(f"&{name}", self)
        later = (
            [self.menus[n] for n in MENU_ORDER[MENU_ORDER.index(name) + 1 :] if n in self.menus]
            if name in MENU_ORDER
            else []
        )
        if later:
            self.menuBar().insertMenu(later[0].menuAction(), menu)
        else:
            self.menuBar().addMenu(menu)
        self.menus[name] = menu
        return menu

    def add_dock(
        self,
        widget: QWidget,
        title: str,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
        tabify_with: str | None = None,
    ) -> QDockWidget:
        """Put ``widget`` in a dock (listed in View > Panels), optionally as a tab of another."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if tabify_with is not None and tabify_with in self.docks:
            self.tabifyDockWidget(self.docks[tabify_with], dock)
        self.docks[title] = dock
        if "View" in self.menus:
            self._panels_menu.addAction(dock.toggleViewAction())
        return dock

    # ------------------------------------------------------------------ building
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.downsample_label = QLabel()
        self.downsample_label.setObjectName("downsample_note")
        self.device_label = QLabel(device_text())
        self.device_label.setStyleSheet("padding: 0 6px; border-left: 1px solid #bbb;")
        self.device_label.setObjectName("device_label")
        self.device_label.setToolTip("Compute device for training and scanning")
        bar.addPermanentWidget(self.downsample_label)
        bar.addPermanentWidget(self.device_label)

    def _action(
        self,
        key: str,
        text: str,
        slot: Callable[[], object],
        shortcuts: tuple[str, ...] = (),
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)  # active even when its menu is hidden
        self.actions[key] = action
        return action

    def _build_actions(self) -> None:
        sv = self.signal_view
        self._action("open", "&Open…", self._on_open_triggered, ("Ctrl+O",))
        self._action(
            "close_recording",
            "&Close Recording",
            self.close_recording,
            ("Ctrl+W",),
            "Close the current recording (its review is already saved)",
        )
        self._action(
            "reload",
            "&Reload Recording",
            lambda: self.reload_recording(),
            ("F5",),
            "Read the current recording's file again (it grew on disk); its review is kept",
        )
        self._action("quit", "&Quit", self.close, ("Ctrl+Q",))
        self._action("scroll_left", "Scroll back", lambda: sv.scroll(-0.25), ("Left",))
        self._action("scroll_right", "Scroll forward", lambda: sv.scroll(0.25), ("Right",))
        self._action("zoom_in", "Zoom in", lambda: sv.zoom(0.5), ("+", "="))
        self._action("zoom_out", "Zoom out", lambda: sv.zoom(2.0), ("-",))
        self._action("home", "Go to start", sv.go_home, ("Home",))
        self._action("end", "Go to end", sv.go_end, ("End",))
        self._action("show_all", "Show whole recording", sv.show_all, ("Ctrl+0",))
        self._action("fit_y", "Fit Y to view", sv.fit_y_to_view, ("Y",))
        labels = self._action("show_labels", "Show file labels (ground truth)", self._on_labels)
        labels.setCheckable(True)
        labels.setChecked(gui_settings.view_option("show_labels", True))
        sv.set_show_labels(labels.isChecked())
        measure = self._action(
            "measure",
            "&Measure",
            lambda: sv.cursors.set_measure_enabled(measure.isChecked()),
            ("M",),
            "Two cursors to drag: the time between them and each channel's change",
        )
        measure.setCheckable(True)
        crosshair = self._action(
            "crosshair",
            "&Crosshair Readout",
            lambda: sv.cursors.set_crosshair_enabled(crosshair.isChecked()),
            tip="The time and each channel's value under the mouse",
        )
        crosshair.setCheckable(True)
        crosshair.setChecked(True)
        sv.cursors.set_crosshair_enabled(True)
        self._action(
            "inspector",
            "&Inspect Decision",
            self.show_inspector,
            ("I",),
            "Why the model decided what it did at a row: click a moment on the signals",
        )
        self._action(
            "file_order",
            "Channels in &File Order",
            sv.show_file_order,
            tip="Put the channels back in the file's order (an event puts its own first)",
        )
        self._action("next_event", "Next event", self.next_event, ("N",))
        self._action("previous_event", "Previous event", self.previous_event, ("P",))
        self._action("load_model", "&Load Model…", self._on_load_model_triggered, ("Ctrl+L",))
        scans = self.scan_controller
        self._action("scan", "&Scan Recording", scans.start, ("Ctrl+R",))
        self._action("cancel_scan", "Cancel Scan", scans.cancel)
        self._action("train", "&Training Panel", self._on_show_training, ("Ctrl+T",))
        self._action("help", "&Keyboard and Mouse…", self.show_help, ("F1", "?"))
        self._action("about", "&About FaultLens", self.show_about)

    def _build_menus(self) -> None:
        """The menu bar, built in one place (other modules add theirs via ``menu(name)``)."""
        a = self.actions
        file_menu = self.menu("File")
        file_menu.addAction(a["open"])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addAction(a["close_recording"])
        file_menu.addAction(a["reload"])
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])
        view = self.menu("View")
        for key in ("scroll_left", "scroll_right", "zoom_in", "zoom_out", "home", "end"):
            view.addAction(a[key])
        view.addAction(a["show_all"])
        view.addAction(a["fit_y"])
        view.addSeparator()
        view.addAction(a["next_event"])
        view.addAction(a["previous_event"])
        view.addAction(a["file_order"])
        view.addAction(a["inspector"])
        view.addSeparator()
        view.addAction(a["crosshair"])
        view.addAction(a["measure"])
        view.addAction(a["show_labels"])
        self._build_theme_menu(view.addMenu("&Theme"))
        self._panels_menu = view.addMenu("Panels")
        for dock in self.docks.values():
            self._panels_menu.addAction(dock.toggleViewAction())
        model = self.menu("Model")
        model.addAction(a["load_model"])
        model.addAction(a["train"])
        model.addSeparator()
        model.addAction(a["scan"])
        model.addAction(a["cancel_scan"])
        help_menu = self.menu("Help")
        help_menu.addAction(a["help"])
        help_menu.addAction(a["about"])

    def _build_theme_menu(self, menu: QMenu) -> None:
        """View > Theme: System / Light / Dark, applied at once and remembered."""
        from PySide6.QtGui import QActionGroup

        from faultlens.gui import theme

        group = QActionGroup(self)
        chosen = gui_settings.theme_choice()
        for name in theme.CHOICES:
            action = menu.addAction(name.capitalize())
            action.setCheckable(True)
            action.setChecked(name == chosen)
            action.triggered.connect(lambda _checked=False, n=name: self.set_theme(n))
            group.addAction(action)
            self.actions[f"theme_{name}"] = action
        if theme.choice() != chosen or theme.current() is not theme.resolve(chosen):
            theme.set_theme(chosen)

    def set_theme(self, name: str) -> None:
        """Use the theme ``name`` ("system", "light", "dark") now and in later sessions."""
        from faultlens.gui import theme

        theme.set_theme(name)
        gui_settings.set_theme_choice(name)
        self.actions[f"theme_{name}"].setChecked(True)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = gui_settings.recent_files()
        for path, name in zip(recent, distinguishing_names(recent), strict=True):
            action = self.recent_menu.addAction(name)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self.open_file(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", gui_settings.clear_recent_files)

    # ------------------------------------------------------------------ settings
    def _restore_settings(self) -> None:
        s = gui_settings.settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        self._restored_state = isinstance(state, QByteArray | bytes) and self.restoreState(state)

    def _save_settings(self) -> None:
        s = gui_settings.settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())

    # ------------------------------------------------------------------ recordings
    def _on_open_triggered(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open recording", gui_settings.last_directory("recording"), RECORDING_FILTER
        )
        if paths:
            self.open_files(paths)

    def open_file(self, path: str | Path) -> ImportDialog | None:
        """Show the import dialog for ``path`` (non-blocking); its Open adds the recording.

        This is what File > Open, Open Recent and drag-and-drop call after choosing a file.
        A file already open with the same content is selected instead (None is returned).
        """
        return self.open_files([path])

    def open_files(self, paths: Sequence[str | Path]) -> ImportDialog | None:
        """One import dialog for the first file; the others follow in the order given, with
        its settings when "apply to all" is ticked (else their detected settings), each
        shown in its own dialog only when those settings do not fit it."""
        queue = [Path(p) for p in paths]
        while queue:
            path = queue.pop(0)
            gui_settings.set_last_directory("recording", path)
            if self._select_if_open(path):
                continue
            dialog = ImportDialog(path, self, self.tasks, more_files=len(queue))
            self._watch_dialog(dialog, queue)
            dialog.open()
            return dialog
        return None

    def _watch_dialog(self, dialog: ImportDialog, queue: list[Path]) -> None:
        dialog.accepted.connect(lambda: self._on_import_accepted(dialog, queue))
        dialog.load_failed.connect(lambda _message: self._on_queued_failed(dialog))
        dialog.finished.connect(lambda _result: self._forget_dialog(dialog))
        self.import_dialogs.append(dialog)

    def _on_import_accepted(self, dialog: ImportDialog, queue: list[Path]) -> None:
        if dialog.recording is not None:
            self.add_recording(dialog.recording)
        if queue:
            options = dialog.options() if dialog.apply_to_all else None
            self._import_next(queue, options)

    def _import_next(self, queue: list[Path], options: ImportOptions | None) -> None:
        """Import the next queued file without asking; show its dialog if it needs one."""
        while queue:
            path = queue.pop(0)
            if self._select_if_open(path):
                continue
            dialog = ImportDialog(path, self, self.tasks, more_files=len(queue))
            dialog.set_apply_to_all(options is not None)
            self._watch_dialog(dialog, queue)
            # Cancelling a queued file's dialog skips that file, not the ones after it.
            dialog.rejected.connect(lambda: self._import_next(queue, options))
            if options is not None and not dialog.refresh_preview(options):
                dialog.refresh_preview(ImportOptions())  # the shared settings do not fit
                dialog.open()
            elif dialog.preview is None:
                dialog.open()  # not readable: its dialog says why
            else:
                dialog.open_recording()  # in the background; accepted imports the next
            return

    def _on_queued_failed(self, dialog: ImportDialog) -> None:
        if not dialog.isVisible():
            dialog.open()  # a queued import failed: its dialog shows the message

    def _select_if_open(self, path: Path) -> bool:
        """Select the open recording of ``path`` when the file has not changed since; reload
        it when the file grew (it starts with the bytes read), rather than open it twice. A
        file changed otherwise is imported as another recording."""
        candidates = [e for e in self.session if e.recording.path.resolve() == path.resolve()]
        if not candidates or not path.is_file():
            return False
        from faultlens.core.retrain import file_sha256

        entry = self.session.find_open(path, file_sha256(path))
        if entry is None:
            grown = [e for e in candidates if e.live is None and _grown_from(path, e.recording)]
            if not grown:
                return False
            current = self.session.current
            chosen = current if current in grown else grown[0]
            self.session.set_current(chosen.id)
            return self.reload_recording(chosen.id) is not None
        self.session.set_current(entry.id)
        self.statusBar().showMessage(
            f"{self.session.display_name(entry.id)} is already open: selected it", 8000
        )
        return True

    def _forget_dialog(self, dialog: ImportDialog) -> None:
        if dialog in self.import_dialogs:
            self.import_dialogs.remove(dialog)
        dialog.deleteLater()

    def load_file(self, path: str | Path) -> Recording | None:
        """Import ``path`` with detected settings, synchronously (automation, --screenshot)."""
        from faultlens.core.io import load_recording

        try:
            recording = load_recording(path)
        except FaultLensError as err:
            self.report_error(str(err))
            return None
        self.add_recording(recording)
        return recording

    def add_recording(self, recording: Recording) -> OpenRecording:
        """Open an imported recording in the session (under a new id) and show it."""
        if recording.path.exists():
            gui_settings.add_recent_file(recording.path)
        return self.session.add(recording)

    def reload_recording(self, recording_id: int | None = None) -> Task | None:
        """File > Reload (F5): read the recording's file again, the same way, in the
        background, and put it in place of the one open (same entry, review kept while the
        reviewed rows are unchanged; the model rescans it). None when it cannot start."""
        from faultlens.core.io import import_recording

        entry = self.session.current if recording_id is None else self.session.get(recording_id)
        if entry is None or entry.live is not None or self.tasks.is_running(RELOAD_TASK):
            return None
        path, options, entry_id = entry.recording.path, entry.recording.options, entry.id
        if not path.is_file():
            self.report_error(f"{path}: the file is gone; it cannot be read again")
            return None
        before = entry.recording.n_rows

        def finished(recording: Recording) -> None:
            if entry_id not in self.session.ids:
                return  # closed meanwhile
            self.session.replace_recording(entry_id, recording)
            grown = recording.n_rows - before
            change = f"{grown:+d} rows" if grown else "same number of rows"
            self.statusBar().showMessage(
                f"Reloaded {self.session.display_name(entry_id)}: {recording.n_rows} rows "
                f"({change})",
                10000,
            )
            if self.session.model is not None and self.session.current_id == entry_id:
                self.scan_controller.start()

        self.statusBar().showMessage(f"Reloading {path.name}…")
        return self.tasks.start(
            RELOAD_TASK,
            lambda should_stop: import_recording(path, options, should_stop),
            f"Reloading {path.name}",
            finished=finished,
            failed=self.report_error,
        )

    def close_recording(self) -> None:
        """Close the current recording (File > Close Recording, Ctrl+W)."""
        entry = self.session.current
        if entry is None or self.scan_controller.is_running():
            return
        name = self.session.display_name(entry.id)
        self.session.remove(entry.id)
        self.statusBar().showMessage(f"Closed {name}", 5000)

    def _on_session_changed(self, change: SessionChange) -> None:
        if change.kind in ("current", "recordings", "model"):
            self._update_title()
            self._update_actions()

    def _update_title(self) -> None:
        entry = self.session.current
        name = self.session.display_name(entry.id) if entry is not None else ""
        self.setWindowTitle(f"{APP_TITLE} — {name}" if name else APP_TITLE)
        self.centre.setCurrentWidget(self.signal_view if len(self.session) else self.empty_hint)

    def _update_actions(self, *_args: object) -> None:
        scanning = self.scan_controller.is_running()
        # A live recording is scanned as it arrives; Stop Monitoring ends (and closes) it.
        live = self.session.current is not None and self.session.current.live is not None
        self.actions["scan"].setEnabled(
            self.session.current is not None
            and self.session.model is not None
            and not scanning
            and not live
        )
        self.actions["cancel_scan"].setEnabled(scanning)
        current = self.session.current
        self.actions["reload"].setEnabled(current is not None and current.live is None)
        # A scan's result goes to the recording it was started for: keep them all open.
        self.actions["close_recording"].setEnabled(
            self.session.current is not None and not scanning and not live
        )
        self.recording_list.closing_allowed = not scanning

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        for path in paths:
            if path.endswith(".flmodel"):
                self.load_model_file(path)
        recordings = [path for path in paths if not path.endswith(".flmodel")]
        if recordings:
            self.open_files(recordings)
        event.acceptProposedAction()

    # ------------------------------------------------------------------ models
    def _on_load_model_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load model", gui_settings.last_directory("model"), MODEL_FILTER
        )
        if path:
            self.load_model_file(path)

    def load_model_file(self, path: str | Path) -> bool:
        """Load a model file (never runs code from it); explain a channel mismatch."""
        try:
            model = load_model(path)
        except FaultLensError as err:
            self.report_error(str(err))
            return False
        gui_settings.set_last_directory("model", path)
        self.set_model(model)
        self.docks["Model"].raise_()
        self.explain_mismatch()
        return True

    def set_model(self, model: TrainedModel | None) -> None:
        """Use ``model`` for scanning; scans made with another model are dropped."""
        self.session.set_model(model)

    def explain_mismatch(self) -> bool:
        """Dialog naming the channels the model needs but the recording lacks; True if any."""
        model, entry = self.session.model, self.session.current
        if model is None or entry is None:
            return False
        missing, extra = channel_mismatch(model, entry.recording)
        if not missing:
            return False
        extra_text = (
            f" It has channels the model does not use: {', '.join(extra)}." if extra else ""
        )
        self.report_error(
            f"The model needs channel(s) {', '.join(missing)}, which "
            f"{self.session.display_name(entry.id)} "
            f"does not have.{extra_text} Open a recording with these channels, or train a "
            "model on this recording's channels.",
            title="Channels do not match",
        )
        return True

    def _on_show_training(self) -> None:
        dock = self.docks["Training"]
        dock.show()
        dock.raise_()

    # ------------------------------------------------------------------ events
    def show_event(self, index: int) -> None:
        """Zoom the signals to event ``index`` of the current scan, with context."""
        result = self.current_scan
        if result is None or not 0 <= index < len(result.events):
            return
        event = result.events[index]
        # Zoomed with context, y fitted, its top channels first with their shares marked.
        self.signal_view.show_event_evidence(event, context=1.0)
        self.inspector.inspect_event(event)
        self.statusBar().showMessage(
            f"Event {index + 1}/{len(result.events)}: {event.class_name}, "
            f"{event.start_time} – {event.end_time}, peak p={event.peak_probability:.2f}",
            8000,
        )

    def show_inspector(self) -> None:
        """Show and raise the Inspector dock (wider the first time: it needs the room)."""
        dock = self.docks["Inspector"]
        dock.show()
        dock.raise_()
        # Its plots need about 600 px; once per session (a restored layout may be narrower),
        # after that the user's width stands.
        if not self._inspector_sized:
            self._inspector_sized = True
            width = max(dock.width(), min(640, self.width() // 2))
            self.resizeDocks([dock], [width], Qt.Orientation.Horizontal)

    def inspect_row(self, row: int) -> None:
        """Explain the decision at ``row`` in the Inspector (a click on the signals);
        Left/Right then step it."""
        if self.session.model is None or self.session.current is None:
            self.statusBar().showMessage("Load a model to inspect its decisions", 5000)
            return
        self.show_inspector()
        self.inspector.inspect(row)
        self.inspector.setFocus()

    def _on_inspected(self, _row: int) -> None:
        """Mark the inspected window on the signals, and keep its row in view."""
        ex = self.inspector.explanation
        if ex is None:
            self.inspected_marker.set_window(None, None)
            return
        self.inspected_marker.set_window(int(ex.rows[0]), int(ex.rows[-1]))
        sv = self.signal_view
        x, (x0, x1) = float(sv.x[ex.row]), sv.x_range()
        if not x0 <= x <= x1:
            sv.set_x_range(x - (x1 - x0) / 2, x + (x1 - x0) / 2)

    def _step_event(self, step: int) -> None:
        result = self.current_scan
        if result is None or not result.events:
            return
        # Step through events in time order, whatever the table's sort.
        order = sorted(range(len(result.events)), key=lambda i: result.events[i].start_row)
        current = self.event_table.current_event_index()
        if current is None or current not in order:
            position = 0 if step > 0 else len(order) - 1
        else:
            position = (order.index(current) + step) % len(order)
        self.event_table.select_event(order[position])

    def next_event(self) -> None:
        self._step_event(1)

    def previous_event(self) -> None:
        self._step_event(-1)

    # ------------------------------------------------------------------ misc
    def _on_labels(self, checked: bool) -> None:
        self.signal_view.set_show_labels(checked)
        gui_settings.set_view_option("show_labels", checked)

    def show_help(self) -> HelpDialog:
        # Keys bound by other modules (the review's C/D/L, ...) are listed from the actions.
        mine = set(self.actions.values())
        more = tuple(
            (
                " / ".join(q.toString() for q in action.shortcuts()),
                action.text().replace("&", "").rstrip("…"),
            )
            # QWidget.actions(): ``self.actions`` is our dict of named actions.
            for action in QMainWindow.actions(self)
            if action not in mine and action.shortcuts()
        )
        dialog = HelpDialog(self, more)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def report_error(self, message: str, details: str = "", title: str = APP_TITLE) -> None:
        """Show an error without blocking; nothing the user has open is changed."""
        self.last_error = message
        self.statusBar().showMessage(message.splitlines()[0], 10000)
        gui_app.show_error(self, title, message, details)

    def closeEvent(self, event: QCloseEvent) -> None:
        # The one shutdown path of every long job: ask once, cancel them all, wait.
        running = self.tasks.running()
        if running:
            answer = QMessageBox.question(self, APP_TITLE, stop_question(running))
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.tasks.shutdown()
        self.inspector.tasks.shutdown()
        self.statusBar().clearMessage()  # and its timer: a closed window shows no message
        for dialog in list(self.import_dialogs):
            dialog.reject()
        self._save_settings()
        super().closeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized_docks and not self._restored_state:
            # Only now are the dock sizes honoured; give the signals most of the width.
            self._sized_docks = True
            self.resizeDocks(
                [self.docks["Recordings"], self.docks["Training"]],
                [150, 340],
                Qt.Orientation.Horizontal,
            )
            self.resizeDocks([self.docks["Fault events"]], [190], Qt.Orientation.Vertical)

    def save_screenshot(self, path: str | Path, width: int = 1600, height: int = 1000) -> None:
        """Render the window at ``width`` × ``height`` into a PNG (works offscreen)."""
        from PySide6.QtWidgets import QApplication

        self.resize(width, height)
        QApplication.processEvents()
        self.signal_view._update_downsample_note()
        QApplication.processEvents()
        if not self.grab().save(str(path)):
            raise FaultLensError(f"{path}: could not write the screenshot; check the folder")


RELOAD_TASK = "reload"


def _grown_from(path: Path, recording: Recording) -> bool:
    """Whether the file at ``path`` starts with the bytes ``recording`` was read from."""
    from faultlens.core.review_file import file_prefix_sha256

    n_bytes = recording.content_bytes
    try:
        return n_bytes is not None and file_prefix_sha256(path, n_bytes) == recording.content_hash
    except OSError:
        return False


def stop_question(running: list[Task]) -> str:
    """What closing the window asks while tasks run (once, whatever runs)."""
    what = ", ".join(task.label for task in running)
    training = any(task.kind == TRAINING_TASK for task in running)
    lost = " An unsaved model is lost." if training else ""
    if any(task.kind == "live" for task in running):
        lost += " Monitoring stops; everything received is saved to its recording file."
    return f"Still running: {what}. Stop and quit?{lost}"


def _demo_widget(
    recording: Recording, model: TrainedModel | None, scan_result: ScanResult | None
) -> MainWindow:
    """The widget as ``python -m`` opens it on the demo data (also used by the smoke test)."""
    window = MainWindow()
    entry = window.add_recording(recording)
    if model is not None:
        window.set_model(model)
    if scan_result is not None:
        window.scan_controller.apply(entry.id, scan_result)
    return window


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
