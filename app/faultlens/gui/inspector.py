"""The Inspector dock: why the model decided what it did at one row.

The engineer picks a moment (a click on a signal or track, or an event: its peak row) and the
inspector shows the decision made there, from ONE :func:`faultlens.core.explain.explain` call
on the window of T rows that ends at that row:

- the window's channels as small stacked traces (the event's top channels first, the rest on
  request), each with the attention every step received as a heat band behind it, and above
  them the max-pool hotspots as markers (size: how many features took their maximum at that
  step; hover: which input channels those features responded to);
- under the traces, on the same time axis, the contribution of each channel at each step to
  the fault probability (signed: red pushed towards a fault, blue away from it), with the
  method named;
- the T × T attention matrix (mean over heads, or one head) with time on both axes;
- the class probabilities and the per-channel attribution of this window.

Left/Right step one row, Shift+Left/Right one window. :class:`InspectedMarker` shows the
inspected window and row on the signal view. Drawing is in :mod:`faultlens.gui.inspector_plots`.
"""

from __future__ import annotations

import html
import time
from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from faultlens.core.session import Session, SessionChange
from faultlens.gui.cursors import nearest_row
from faultlens.gui.inspector_plots import DecisionPlots, WindowPlots
from faultlens.gui.subscriptions import Subscriptions
from faultlens.gui.tasks import TaskRunner

if TYPE_CHECKING:
    from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent

    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.events import FaultEvent
    from faultlens.core.explain import Explanation
    from faultlens.core.recording import Recording
    from faultlens.gui.signal_view import SignalView

TASK_KIND = "inspect"
DEFAULT_CHANNELS = 3  # traces shown without "show all" when no event names its channels
HINT = (
    "Click a moment on the signals (or select an event) to see why the model decided what "
    "it did there. ←/→ one row, Shift+←/→ one window."
)
MARKER_BRUSH = (255, 193, 7, 50)  # amber: unlike the event classes' colours
MARKER_PEN = pg.mkPen((200, 120, 0), width=2)
MARKER_Z = 25  # over the shading, under the cursors


# What the explain job hands back: the recording's input reference (cached for the next
# row), the explanation, and the job's wall time in ms.
ExplainResult = tuple["np.ndarray | None", "Explanation", float]


def _explain_job(
    model: TrainedModel,
    recording: Recording,
    row: int,
    medians: np.ndarray | None,
    known: bool,
) -> Generator[None, None, ExplainResult]:
    """Runs on the task's thread: the input reference once per model and recording (a pass
    over the whole file), then one explain of ``row``'s window."""
    from faultlens.core.explain import explain

    started = time.perf_counter()
    if not known:
        medians = model.input_medians(model.select_channels(recording))
    explanation = explain(model, recording, row, medians=medians)
    return medians, explanation, (time.perf_counter() - started) * 1000
    yield  # unreachable: makes this a generator, as the task runner drives


def event_peak_row(fault_probability: np.ndarray, event: FaultEvent) -> int:
    """The row of the event's highest fault probability (its first row if none is finite)."""
    span = fault_probability[event.start_row : event.end_row + 1]
    finite = np.where(np.isfinite(span), span, -np.inf)
    return event.start_row + (int(np.argmax(finite)) if span.size else 0)


def channel_order(explanation: Explanation, first: tuple[str, ...] = ()) -> list[int]:
    """Model channel indices: ``first`` (an event's top channels) in their order, then the
    rest by this window's attribution, largest first."""
    names = explanation.channels
    head = [names.index(n) for n in first if n in names]
    share = np.nan_to_num(np.asarray(explanation.channel_attribution, dtype=np.float64))
    rest = [int(i) for i in np.argsort(-share, kind="stable") if int(i) not in head]
    return head + rest


class Inspector(QWidget):
    """One decision of the session's model on its current recording, explained."""

    inspected = Signal(int)  # the row shown (-1: nothing)

    def __init__(
        self, session: Session, tasks: TaskRunner | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        # Its own runner by default: the window's asks before closing while a task runs.
        self.tasks = tasks if tasks is not None else TaskRunner(self)
        self._job: tuple[TrainedModel | None, Recording] | None = None
        self.setObjectName("inspector")
        self.session = session
        self.explanation: Explanation | None = None
        self.row: int | None = None  # the row asked for (shown once visible)
        self.last_explain_ms = 0.0  # the wall time of the last explain() call
        self.message = ""
        self._medians: tuple[object, object, np.ndarray | None] | None = None
        self._first_channels: tuple[str, ...] = ()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.title = QLabel(HINT)
        self.title.setObjectName("inspector_title")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.back_button = QToolButton(text="◀")
        self.back_button.setToolTip("One row back (←; Shift+←: one window)")
        self.back_button.clicked.connect(lambda: self.step(-1))
        self.forward_button = QToolButton(text="▶")
        self.forward_button.setToolTip("One row forward (→; Shift+→: one window)")
        self.forward_button.clicked.connect(lambda: self.step(1))
        self.all_channels = QCheckBox("Show all channels")
        self.all_channels.setToolTip(
            "Off: the event's top channels (or this window's three most attributed); "
            "on: every channel the model reads, most attributed first"
        )
        self.all_channels.toggled.connect(lambda _on: self._draw())
        self.head_combo = QComboBox()
        self.head_combo.setToolTip("Attention matrix: the mean over the heads, or one head")
        self.head_combo.currentIndexChanged.connect(lambda _i: self._draw_matrix())
        # Sized to "head 4", not to "mean of 4 heads": the dock stays narrow enough to share
        # a 1280-px screen with the signals (the popup still shows whole entries).
        self.head_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.head_combo.setMinimumContentsLength(7)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.back_button)
        controls.addWidget(self.forward_button)
        controls.addWidget(self.all_channels)
        controls.addStretch(1)
        controls.addWidget(QLabel("Attention:"))
        controls.addWidget(self.head_combo)

        self.window_plots = WindowPlots()
        self.decision_plots = DecisionPlots()
        splitter = QSplitter(Qt.Orientation.Vertical)
        # "Show all channels" can need more height than the dock has: it scrolls.
        self.window_scroll = QScrollArea()
        self.window_scroll.setWidgetResizable(True)
        self.window_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.window_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.window_scroll.setWidget(self.window_plots.widget)
        splitter.addWidget(self.window_scroll)
        splitter.addWidget(self.decision_plots.widget)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.splitter = splitter

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(controls)
        layout.addWidget(splitter, 1)
        self._subscriptions = Subscriptions(self)
        self._subscriptions.set("session", session.subscribe(self._on_session_changed))
        self._update_controls()

    # ------------------------------------------------------------------ what is inspected
    def inspect(self, row: int) -> None:
        """Show the decision at ``row`` of the current recording (now if the inspector is
        visible, else when it is next shown: a hidden inspector computes nothing)."""
        self.row = int(row)
        if self.isVisible():
            self._explain()

    def inspect_event(self, event: FaultEvent) -> None:
        """Inspect the peak row of ``event`` of the current scan."""
        entry = self.session.current
        if entry is None or entry.scan is None:
            return
        self.inspect(event_peak_row(entry.scan.fault_probability, event))

    def step(self, rows: int) -> None:
        """Move the inspected row by ``rows``, kept inside the rows that have a decision."""
        entry, model = self.session.current, self.session.model
        if self.row is None or entry is None or model is None:
            return
        first, last = int(model.window) - 1, entry.recording.n_rows - 1
        row = min(max(self.row + rows, first), last)
        if row != self.row or self.explanation is None:
            self.inspect(row)

    def clear(self) -> None:
        self.row = None
        self.explanation = None
        self.message = ""
        self._draw()

    def _explain(self) -> None:
        """Start the explain of ``self.row`` off the GUI thread (about 40 ms on the demo
        model); while one runs, the latest row asked for waits and runs next."""
        entry, model = self.session.current, self.session.model
        if self.row is None or entry is None:
            self.clear()
            return
        problem = self._problem(model, entry.recording.n_rows)
        if problem or model is None:
            self.explanation = None
            self.message = problem
            self._draw()
            return
        if self.tasks.is_running(TASK_KIND):
            return  # _on_explain_done starts the row asked for last
        recording, row = entry.recording, self.row
        cached = self._medians
        known = cached is not None and cached[0] is model and cached[1] is recording
        medians = cached[2] if cached is not None and known else None

        def factory(_should_stop: object) -> Generator[None, None, ExplainResult]:
            return _explain_job(model, recording, row, medians, known)

        self._job = (model, recording)
        self.tasks.start(
            TASK_KIND,
            factory,
            "Inspecting a decision",
            finished=self._on_explained,
            failed=self._on_explain_failed,
            done=self._on_explain_done,
        )

    def _problem(self, model: TrainedModel | None, n_rows: int) -> str:
        """Why ``self.row`` cannot be inspected ("" when it can)."""
        if model is None:
            return "Load a model (Model > Load Model) to inspect its decisions."
        assert self.row is not None
        first = int(model.window) - 1
        if not first <= self.row < n_rows:
            return (
                f"Row {self.row} has no decision: the model decides at rows {first} to "
                f"{n_rows - 1} (each decision reads the {model.window} rows up to its row)."
            )
        return ""

    def _current_job(self) -> bool:
        """Whether the session still shows what the running job was started for."""
        entry = self.session.current
        return (
            self._job is not None
            and entry is not None
            and self._job == (self.session.model, entry.recording)
        )

    def _on_explained(self, result: ExplainResult) -> None:
        if not self._current_job():
            return  # the recording or model changed while it ran
        medians, explanation, elapsed_ms = result
        assert self._job is not None
        self._medians = (*self._job, medians)
        self.last_explain_ms = elapsed_ms
        self.explanation = explanation
        self.message = ""
        self._first_channels = self._event_channels(explanation.row)
        self._draw()

    def _on_explain_failed(self, message: str, _details: str) -> None:
        if self._current_job():
            self.explanation = None
            self.message = message
            self._draw()

    def _on_explain_done(self) -> None:
        # The runner lets the task go after this handler: start the next one after that.
        QTimer.singleShot(0, self, self._explain_next)

    def _explain_next(self) -> None:
        if self.row is None or not self.isVisible():
            return
        shown = self.explanation.row if self.explanation is not None else None
        if self.row != shown and not self.message and self._current_job():
            self._explain()  # the row moved on while the last one was explained
        elif not self._current_job() and self.session.current is not None:
            self._explain()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the explain in progress (and any row asked for since) is shown; for
        automation (``faultlens gui --inspect``) and tests. True if it finished in time."""
        deadline = time.monotonic() + timeout_ms / 1000
        while (task := self.tasks.task(TASK_KIND)) is not None:
            left = int((deadline - time.monotonic()) * 1000)
            if left <= 0 or not task.wait(left):
                return False
            # The next row's explain starts from the event loop (_on_explain_done).
            QCoreApplication.sendPostedEvents()
            QCoreApplication.processEvents()
        return True

    def _event_channels(self, row: int) -> tuple[str, ...]:
        entry = self.session.current
        scan = entry.scan if entry is not None else None
        if scan is None:
            return ()
        event = next((e for e in scan.events if e.start_row <= row <= e.end_row), None)
        return event.top_channels if event is not None else ()

    def _on_session_changed(self, change: SessionChange) -> None:
        if change.kind in ("current", "model", "recordings"):
            self._medians = None
            self.clear()
        elif (
            change.kind == "scan"
            and change.recording_id == self.session.current_id
            and self.explanation is not None
        ):
            # The events (and so the top channels) may have changed.
            self._first_channels = self._event_channels(self.explanation.row)
            self._draw()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        shown = self.explanation.row if self.explanation is not None else None
        if self.row is not None and self.row != shown:
            self._explain()  # asked for while hidden

    # ------------------------------------------------------------------ keys
    def event(self, event: QEvent) -> bool:
        # The window's Left/Right scroll the signals; while the inspector has the focus
        # they step the inspected row instead.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            sign = -1 if event.key() == Qt.Key.Key_Left else 1
            model = self.session.model
            window = int(model.window) if model is not None else 1
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.step(sign * (window if shift else 1))
            event.accept()
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ drawing
    def shown_channels(self) -> list[int]:
        """Model channel indices drawn as traces, top to bottom."""
        ex = self.explanation
        if ex is None:
            return []
        order = channel_order(ex, self._first_channels)
        if self.all_channels.isChecked():
            return order
        count = len([n for n in self._first_channels if n in ex.channels]) or DEFAULT_CHANNELS
        return order[: min(count, len(order))]

    def _draw(self) -> None:
        ex = self.explanation
        entry = self.session.current
        self._update_controls()
        if ex is None or entry is None:
            self.title.setText(html.escape(self.message) if self.message else HINT)
            self.window_plots.clear()
            self.decision_plots.clear()
            self.inspected.emit(-1 if self.row is None or self.message else self.row)
            return
        self.title.setText(title_html(ex, entry.recording))
        self.window_plots.show(ex, entry.recording, self.shown_channels())
        self._draw_matrix()
        self.decision_plots.show_bars(ex)
        self.inspected.emit(ex.row)

    def _draw_matrix(self) -> None:
        ex = self.explanation
        entry = self.session.current
        if ex is None or entry is None:
            return
        head = self.head_combo.currentIndex() - 1  # item 0: the mean
        self.decision_plots.show_matrix(ex, entry.recording, head if head >= 0 else None)

    def _update_controls(self) -> None:
        ex = self.explanation
        heads = int(ex.attention.shape[0]) if ex is not None else 0
        if self.head_combo.count() != heads + 1:
            self.head_combo.blockSignals(True)
            current = self.head_combo.currentIndex()
            self.head_combo.clear()
            self.head_combo.addItem(f"mean of {heads} heads" if heads else "mean of the heads")
            self.head_combo.addItems([f"head {h + 1}" for h in range(heads)])
            self.head_combo.setCurrentIndex(current if 0 <= current <= heads else 0)
            self.head_combo.blockSignals(False)
        has = ex is not None
        for widget in (self.back_button, self.forward_button, self.head_combo):
            widget.setEnabled(has)


def title_html(ex: Explanation, recording: Recording) -> str:
    """The header: row, time, the window's span, and what was decided with what confidence."""
    escape = html.escape
    first, last = int(ex.rows[0]), int(ex.rows[-1])
    span = f"{escape(recording.format_time(first))} – {escape(recording.format_time(last))}"
    verdict = escape(ex.predicted)
    colour = "#b03a00" if ex.predicted != ex.class_names[0] else "#333"
    return (
        f"<b>Row {ex.row}</b> · {escape(recording.format_time(ex.row))} &nbsp; "
        f"decided <b style='color:{colour}'>{verdict}</b>, "
        f"fault probability {ex.fault_probability:.2f}<br>"
        f"<span style='color:#555'>from the window of {len(ex.rows)} rows {span}</span>"
    )


class InspectedMarker(QObject):
    """The inspector's hold on the signal view: the inspected window (a light band) and row
    (a line) across its plots, and ``row_clicked`` for a plain left click on any plot."""

    row_clicked = Signal(int)

    def __init__(self, view: SignalView) -> None:
        super().__init__(view)
        self.view = view
        self.rows: tuple[int, int] | None = None  # first and last row of the window
        self._items: dict[pg.PlotItem, tuple[pg.LinearRegionItem, pg.InfiniteLine]] = {}
        view.plots_rebuilt.connect(self._on_plots_rebuilt)
        view.channel_visibility_changed.connect(lambda *_: self._redraw())
        view.graphics.scene().sigMouseClicked.connect(self._on_scene_clicked)

    def _on_scene_clicked(self, event: MouseClickEvent) -> None:
        view = self.view
        plain = event.modifiers() == Qt.KeyboardModifier.NoModifier
        if event.button() != Qt.MouseButton.LeftButton or not plain or not len(view.x):
            return
        pos = event.scenePos()
        for plot in view._all_plots():
            if plot.isVisible() and plot.vb.sceneBoundingRect().contains(pos):
                self.row_clicked.emit(nearest_row(view.x, plot.vb.mapSceneToView(pos).x()))
                return

    def set_window(self, first: int | None, last: int | None) -> None:
        self.rows = None if first is None or last is None else (int(first), int(last))
        self._redraw()

    def _on_plots_rebuilt(self) -> None:
        self._items = {}  # the plots (and the items in them) are gone
        self.rows = None  # another recording: its rows are not the inspected ones
        self._redraw()

    def _redraw(self) -> None:
        view = self.view
        plots = view._all_plots() if self.rows is not None and view.recording is not None else []
        for plot in [p for p in self._items if p not in plots]:
            for item in self._items.pop(plot):
                plot.removeItem(item)
        if not plots or self.rows is None or self.rows[1] >= len(view.x):
            return
        first, last = self.rows
        x0, x1 = view.row_span_x(first, last)
        for plot in plots:
            if plot not in self._items:
                band = pg.LinearRegionItem(
                    (x0, x1), movable=False, brush=pg.mkBrush(*MARKER_BRUSH), pen=pg.mkPen(None)
                )
                line = pg.InfiniteLine(0.0, angle=90, movable=False, pen=MARKER_PEN)
                for item in (band, line):
                    item.setZValue(MARKER_Z)
                    plot.addItem(item, ignoreBounds=True)
                self._items[plot] = (band, line)
            band, line = self._items[plot]
            band.setRegion((x0, x1))
            line.setPos(float(view.x[last]))


def _demo_widget(recording: Recording, model: TrainedModel | None, scan: object) -> Inspector:
    """The inspector alone on the demo, at the first event's peak (also for ``python -m``)."""
    from faultlens.core.scan import ScanResult

    session = Session()
    entry = session.add(recording)
    session.set_model(model)
    result = scan if isinstance(scan, ScanResult) else None
    if result is not None:
        session.set_scan(entry.id, result)
    inspector = Inspector(session)
    inspector.resize(640, 760)
    if result is not None and result.events:
        inspector.inspect(event_peak_row(result.fault_probability, result.events[0]))
    elif model is not None:
        inspector.inspect(recording.n_rows - 1)
    return inspector


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
