"""The training panel: choose recordings and options, train in the background, watch the
loss curves, read the validation summary and save the model.

The recording table is a view of the session: one row per open recording (its id as item
data), showing and editing that recording's ``TrainingRole``; the panel keeps no list of its
own. The run is the task "training" around ``faultlens.core.training.train``. Its inputs are
one snapshot built on the GUI thread when Train is pressed (``Session.training_recordings``,
which training never mutates, and a frozen TrainOptions); the trained model becomes the
session's model, or, when a model is loaded, only if the user says so (it stays savable).
Stop ends the run keeping its best epoch so far; Cancel throws it away. The options are
kept in the settings between sessions.

Retraining with reviewed labels (``retrain_with_reviewed_labels``) extends the loaded model's
own training set (``faultlens.core.retrain``): its recordings are looked for off the GUI thread
(missing ones are named: locate them or go on without), the run uses the loaded model's
options, the new model is saved beside the loaded file under a new name, and the user picks
Replace (the reviewed recording is rescanned with the new model first, so its scan is never
cleared while the Review panel lists its events) or Keep Both.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from faultlens.core.checkpoint import TrainedModel, save_model
from faultlens.core.errors import FaultLensError
from faultlens.core.evaluation import alarm_rule_text
from faultlens.core.options import INPUT_CHOICES, ScanOptions, TrainOptions
from faultlens.core.progress import Progress, ShouldStop
from faultlens.core.recording import Recording
from faultlens.core.retrain import (
    Located,
    check_file,
    locate,
    retrain_options,
    retrained_model_path,
    retraining_set,
    training_files,
)
from faultlens.core.review_labels import recording_with_reviewed_labels
from faultlens.core.scan import ScanResult, scan
from faultlens.core.session import OpenRecording, Session, SessionChange
from faultlens.core.training import EpochReport, TrainResult, train
from faultlens.gui import app as gui_app
from faultlens.gui import settings as gui_settings
from faultlens.gui.tasks import Task, TaskRunner
from faultlens.gui.validation_summary import TABLE_MIN_HEIGHT, ValidationSummary

EACH_FILES_OWN = "__own__"
ONE_CLASS_PER_FILE = "__file__"
TASK_KIND = "training"
# The reviewed recording scanned with a retrained model before it replaces the loaded one.
RESCAN_TASK_KIND = "retrain-scan"
RECORDING_FILTER = "Recordings (*.csv *.tsv *.txt *.dat);;All files (*)"
R = TypeVar("R")


@dataclasses.dataclass
class RetrainRun:
    """A retrain with reviewed labels in progress: what it started from."""

    loaded: TrainedModel
    recording_id: int
    reviewed: Recording
    found: list[Located] = dataclasses.field(default_factory=list)
    saved_to: Path | None = None


ID_ROLE = Qt.ItemDataRole.UserRole
# The least height the plots keep (the tables: TABLE_MIN_HEIGHT); a short dock scrolls.
PLOT_MIN_HEIGHT = 120


def _fmt_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


# The Inputs box's words for faultlens.core.options.INPUT_CHOICES, in its order.
INPUT_LABELS = {
    "auto": "trailing statistics, + deviation from the start if runs start normal",
    "trailing": "level + trailing statistics (4 and 16 rows)",
    "levels": "level only",
    "relative": "level + deviation from each recording's median",
}


class TrainingPanel(QWidget):
    """Train a model on the session's recordings; the trained model becomes the session's
    model (``model_trained(TrainedModel)`` says so too), after asking when one is loaded."""

    model_trained = Signal(object)  # TrainedModel
    model_saved = Signal(str)

    def __init__(
        self, session: Session, tasks: TaskRunner | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("training_panel")
        self.session = session
        self.tasks = tasks if tasks is not None else TaskRunner(self)
        self.result: TrainResult | None = None
        self.reports: list[EpochReport] = []
        self.last_error = ""
        self.retrain: RetrainRun | None = None
        defaults = TrainOptions()

        self.recording_table = QTableWidget(0, 3)
        self.recording_table.setObjectName("training_recordings")
        self.recording_table.setHorizontalHeaderLabels(["Train on", "Labels", "Class (whole file)"])
        self.recording_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.recording_table.horizontalHeader().setStretchLastSection(True)
        self.recording_table.verticalHeader().setVisible(False)
        self.recording_table.setMinimumHeight(TABLE_MIN_HEIGHT)
        self.recording_table.setMaximumHeight(120)
        self.recording_table.setToolTip(
            "Tick the recordings to train on. In 'one class per file' mode, type each file's "
            "class (e.g. normal, leak)."
        )
        self.recording_table.itemChanged.connect(self._on_item_changed)
        self.label_source = QComboBox()
        self.label_source.currentIndexChanged.connect(self._on_label_source_changed)
        self.window_spin = self._spin(2, 4096, defaults.window, "rows per window (T)")
        self.stride_spin = self._spin(1, 4096, defaults.stride, "rows between window starts")
        self.epochs_spin = self._spin(1, 1000, defaults.epochs, "at most; stops early")
        self.seed_spin = self._spin(0, 2**31 - 1, defaults.seed, "for reproducible runs")
        self.device_combo = QComboBox()
        for name in ("auto", "cpu", "cuda"):
            self.device_combo.addItem(name)
        self.device_combo.setCurrentText(defaults.device)
        # What the network reads per channel (TrainOptions feature_scales / relative_inputs).
        self.inputs_combo = QComboBox()
        self.inputs_combo.setObjectName("training_inputs")
        self._input_choices = [(INPUT_LABELS[n], v) for n, v in INPUT_CHOICES.items()]
        default_inputs = (tuple(defaults.feature_scales), defaults.relative_inputs)
        if default_inputs not in [value for _, value in self._input_choices]:
            self._input_choices.append(("the engine's default", default_inputs))
        for text, value in self._input_choices:
            self.inputs_combo.addItem(text, _input_key(value))
        self.inputs_combo.setCurrentIndex(
            [value for _, value in self._input_choices].index(default_inputs)
        )
        self.inputs_combo.setToolTip(
            "Trailing statistics: each channel's level with its step-to-step difference and "
            "its trailing mean, spread, slope and range over 4 and 16 rows. The default adds "
            "each channel's deviation from the median of its recording's first rows when "
            "every training recording starts in normal operation (benchmarks/RESULTS.md). "
            "Deviation from the median: each recording's own median as reference (assumes "
            "faults cover less than half of every recording)."
        )

        # False-alarm budget in percent of held-out normal windows; 0 shows "off" (no
        # calibration: threshold 0.5).
        self.budget_spin = QDoubleSpinBox()
        self.budget_spin.setObjectName("alarm_budget")
        self.budget_spin.setRange(0.0, 50.0)
        self.budget_spin.setDecimals(1)
        self.budget_spin.setSingleStep(0.5)
        self.budget_spin.setSuffix(" %")
        self.budget_spin.setSpecialValueText("off (threshold 0.5)")
        self.budget_spin.setValue(100.0 * (defaults.alarm_budget or 0.0))
        self.budget_spin.setToolTip(
            "False-alarm budget: the alarm threshold is set so that at most this share of "
            "held-out normal windows (from recordings the model did not train on, where "
            "there are such) would alarm. Lower: fewer false alarms, later or missed faults."
        )

        # The share held out for validation (TrainOptions.val_fraction): whole recordings
        # where there are enough, else a block of each; the plan's errors advise lowering it.
        self.val_spin = self._spin(5, 50, round(100 * defaults.val_fraction), "")
        self.val_spin.setObjectName("validation_fraction")
        self.val_spin.setSuffix(" % held out")
        self.val_spin.setToolTip(
            "Validation fraction: the share of labelled recordings (or, with too few, of each "
            "recording's windows) held out to pick the best epoch and calibrate the alarm "
            "threshold. Lower it when too few faults are left to train on."
        )

        form = QFormLayout()
        form.addRow("Labels from", self.label_source)
        form.addRow("Window", self.window_spin)
        form.addRow("Stride", self.stride_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Inputs", self.inputs_combo)
        form.addRow("Alarm budget", self.budget_spin)
        form.addRow("Validation fraction", self.val_spin)

        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start_training)
        # Stop keeps a model (the best epoch so far, calibrated); Cancel throws the run away.
        self.stop_button = QPushButton("Stop, Keep Best")
        self.stop_button.setObjectName("training_stop")
        self.stop_button.setEnabled(False)
        self.stop_button.setToolTip(
            "End training after the batch in hand and keep the model from the best epoch so "
            "far, with its alarm threshold calibrated as usual"
        )
        self.stop_button.clicked.connect(self.finish_training)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("End training and throw the run away: no model is made")
        self.cancel_button.clicked.connect(self.cancel_training)
        self._finish = threading.Event()  # the running task's "stop and keep the best"
        self.save_button = QPushButton("Save Model…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._on_save_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status = QLabel("Not trained yet")
        self.status.setObjectName("training_status")
        self.status.setWordWrap(True)

        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.getAxis("left").enableAutoSIPrefix(False)
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.train_curve = self.loss_plot.plot(
            pen=pg.mkPen("#0072B2", width=2), name="train loss", symbol="o", symbolSize=5
        )
        self.val_curve = self.loss_plot.plot(
            pen=pg.mkPen("#D55E00", width=2), name="validation loss", symbol="o", symbolSize=5
        )
        self.acc_plot = pg.PlotWidget()
        self.acc_plot.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.acc_plot.setLabel("left", "validation")
        self.acc_plot.setLabel("bottom", "epoch")
        self.acc_plot.setYRange(0, 1)
        self.acc_plot.addLegend(offset=(-5, -5), labelTextSize="8pt")
        self.acc_curve = self.acc_plot.plot(
            pen=pg.mkPen("#009E73", width=2), name="accuracy", symbol="o", symbolSize=5
        )
        self.f1_curve = self.acc_plot.plot(
            pen=pg.mkPen("#CC79A7", width=2), name="macro F1", symbol="o", symbolSize=5
        )

        self.validation = ValidationSummary()

        layout = QVBoxLayout(self)
        layout.addWidget(self.recording_table)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.loss_plot, 1)
        layout.addWidget(self.acc_plot, 1)
        layout.addWidget(self.validation, 1)

        unsubscribe = session.subscribe(self._on_session_changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        self.tasks.changed.connect(self._show_running)
        reference = self.channel_reference()  # recordings opened before the panel was there
        for entry in session:
            if entry.training.use and reference and _channel_difference(entry, reference[1]):
                session.set_training_role(entry.id, dataclasses.replace(entry.training, use=False))
        self._refresh_recordings()
        self._restore_settings()

    def heightForWidth(self, width: int) -> int:
        """The least height that shows every part at ``width``, not the preferred one.

        A resizable QScrollArea (the Training dock) never makes a widget with a
        height-for-width layout (the word-wrapped labels) shorter than this; the layout's own
        answer is its preferred height (plots ~480 px each), which kept the panel ~1900 px tall
        in any dock. With the minimum the panel fills a tall dock and scrolls in a short one.
        """
        layout = self.layout()
        return layout.totalMinimumHeightForWidth(width) if layout is not None else -1

    def _restore_settings(self) -> None:
        """The options as last used (``gui.settings``), each saved again when it changes."""
        spins = {
            "window": self.window_spin,
            "stride": self.stride_spin,
            "epochs": self.epochs_spin,
            "seed": self.seed_spin,
            "val_percent": self.val_spin,
        }
        for name, spin in spins.items():
            spin.setValue(gui_settings.training_option(name, spin.value()))
            spin.valueChanged.connect(
                lambda value, name=name: gui_settings.set_training_option(name, value)
            )
        budget = self.budget_spin
        budget.setValue(gui_settings.training_option("alarm_budget_percent", budget.value()))
        budget.valueChanged.connect(
            lambda value: gui_settings.set_training_option("alarm_budget_percent", value)
        )
        combos = {"device": self.device_combo, "inputs": self.inputs_combo}
        for name, combo in combos.items():
            saved = gui_settings.training_option(name, "")
            index = combo.findData(saved)
            if index < 0:
                index = combo.findText(saved)
            if index >= 0:
                combo.setCurrentIndex(index)
            combo.currentIndexChanged.connect(
                lambda _i, name=name, combo=combo: gui_settings.set_training_option(
                    name, combo.currentData() or combo.currentText()
                )
            )

    @staticmethod
    def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(lo, hi)
        spin.setValue(value)
        spin.setToolTip(tip)
        return spin

    # ------------------------------------------------------------------ inputs
    def _on_session_changed(self, change: SessionChange) -> None:
        if change.kind == "recordings":
            if change.recording_id in self.session.ids:  # opened, not closed
                self._untick_other_channels(change.recording_id)
            self._refresh_recordings()
            self._apply_label_source()  # a recording opened in 'one class per file' mode
        elif change.kind in ("training", "model"):
            self._refresh_recordings()

    def channel_reference(self, exclude: int | None = None) -> tuple[str, tuple[str, ...]] | None:
        """What a recording's channels must match to train with the others: (its name,
        channels) of the first ticked recording (other than ``exclude``), else the loaded
        model's; None when there is neither."""
        for entry in self.session:
            if entry.id != exclude and entry.training.use:
                return entry.name, tuple(entry.recording.channels)
        model = self.session.model
        if model is not None:
            return "the loaded model", tuple(model.channels)
        return None

    def _untick_other_channels(self, recording_id: int) -> None:
        """A recording opened ticked (it has labels) stays ticked only if its channels
        match the first ticked one (or the loaded model's): training on both would fail."""
        entry = self.session.get(recording_id)
        reference = self.channel_reference(exclude=recording_id)
        if entry.training.use and reference and _channel_difference(entry, reference[1]):
            self.session.set_training_role(
                recording_id, dataclasses.replace(entry.training, use=False)
            )

    def _refresh_recordings(self) -> None:
        """One row per open recording: Train on (its role's ``use``), its labels, and the
        class typed for it in 'one class per file' mode.

        The items are updated in place: a tick arrives in the item's own ``itemChanged``,
        whose session change redraws the table while that item is still in use.
        """
        entries = list(self.session)
        table = self.recording_table
        reference = self.channel_reference()
        with QSignalBlocker(table):
            table.setRowCount(len(entries))
            for row, entry in enumerate(entries):
                role = entry.training
                use = _cell(table, row, 0, entry.name, editable=False)
                use.setData(ID_ROLE, entry.id)
                use.setFlags(use.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                use.setCheckState(Qt.CheckState.Checked if role.use else Qt.CheckState.Unchecked)
                labels = _labels_text(entry)
                differs = _channel_difference(entry, reference[1]) if reference else ""
                if reference and differs:
                    labels = f"other channels than {reference[0]} · {labels}"
                use.setToolTip(str(entry.recording.path))
                _cell(table, row, 1, labels, editable=False).setToolTip(
                    f"Not ticked by default: its channels differ from {reference[0]}'s "
                    f"({differs}); training needs the same channels in every recording"
                    if reference and differs
                    else ""
                )
                _cell(table, row, 2, role.file_class, editable=True)
        columns = sorted({e.recording.label_column for e in entries if e.recording.label_column})
        current = self.label_source.currentData()
        with QSignalBlocker(self.label_source):
            self.label_source.clear()
            self.label_source.addItem("label column of each file", EACH_FILES_OWN)
            for name in columns:
                self.label_source.addItem(f"label column '{name}'", name)
            self.label_source.addItem("one class per file", ONE_CLASS_PER_FILE)
            index = self.label_source.findData(current)
            self.label_source.setCurrentIndex(max(index, 0))
        self._show_class_column()

    def _per_file(self) -> bool:
        return self.label_source.currentData() == ONE_CLASS_PER_FILE

    def _show_class_column(self) -> None:
        self.recording_table.setColumnHidden(2, not self._per_file())

    def _on_label_source_changed(self, *_args: object) -> None:
        self._show_class_column()
        self._apply_label_source()

    def _apply_label_source(self) -> None:
        """'One class per file' gives every recording whose labels come from its file the
        class typed for it instead (and back); labels after review stay as they are."""
        mine, other = ("class", "file") if self._per_file() else ("file", "class")
        for entry in self.session:
            if entry.training.labels == other:
                self.session.set_training_role(
                    entry.id, dataclasses.replace(entry.training, labels=mine)
                )

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        """A tick or a typed class goes to the recording's role in the session."""
        id_item = self.recording_table.item(item.row(), 0)
        if id_item is None:
            return
        entry = self.session.get(int(id_item.data(ID_ROLE)))
        role = entry.training
        if item.column() == 0:
            use = item.checkState() == Qt.CheckState.Checked
            labels = role.labels
            if not use and labels == "reviewed":
                # Unticked, the recording leaves its reviewed labels (as the reviewed copy
                # once left the list); ticked again it trains on the labels of the mode.
                labels = "class" if self._per_file() else "file"
            role = dataclasses.replace(role, use=use, labels=labels)
        elif item.column() == 2:
            role = dataclasses.replace(role, file_class=item.text().strip())
        else:
            return
        self.session.set_training_role(entry.id, role)

    def row_of(self, recording_id: int) -> int:
        """The table row that shows recording ``recording_id``."""
        return self.session.ids.index(recording_id)

    def snapshot(self) -> tuple[tuple[Recording, ...], TrainOptions]:
        """The chosen recordings (with the labels their roles name) and the options, frozen;
        raises FaultLensError for bad choices."""
        recordings = tuple(self.session.training_recordings())
        source = self.label_source.currentData()
        label_column = None
        if source not in (EACH_FILES_OWN, ONE_CLASS_PER_FILE, None):
            label_column = str(source)
        options = TrainOptions(
            window=self.window_spin.value(),
            stride=self.stride_spin.value(),
            epochs=self.epochs_spin.value(),
            seed=self.seed_spin.value(),
            device=self.device_combo.currentText(),
            feature_scales=self.input_choice()[0],
            relative_inputs=self.input_choice()[1],
            alarm_budget=self.budget_spin.value() / 100.0 if self.budget_spin.value() else None,
            val_fraction=self.val_spin.value() / 100.0,
            label_column=label_column,
        )
        return recordings, options

    def input_choice(self) -> tuple[tuple[int, ...], bool | None]:
        """The chosen Inputs as (TrainOptions.feature_scales, TrainOptions.relative_inputs)."""
        return self._input_choices[self.inputs_combo.currentIndex()][1]

    # ------------------------------------------------------------------ running
    def is_running(self) -> bool:
        return self.tasks.is_running(TASK_KIND)

    def start_training(self) -> Task | None:
        """Start a run on the current choices; None (with the message shown) if they are bad
        or a run is going on."""
        if self.is_running():
            return None
        try:
            recordings, options = self.snapshot()
        except FaultLensError as err:
            self._fail(str(err), "")
            return None
        self.retrain = None
        return self._start_run(lambda: recordings, options, f"{len(recordings)} recording(s)")

    def _start_run(
        self, recordings: Callable[[], Sequence[Recording]], options: TrainOptions, what: str
    ) -> Task | None:
        """Train on what ``recordings()`` gives (called on the task's thread: it may read
        files) with ``options``."""
        finish = self._finish = threading.Event()  # one per run, read on its thread

        def factory(should_stop: ShouldStop) -> Generator[EpochReport, None, TrainResult]:
            return train(recordings(), options, should_stop, finish.is_set)

        self.result = None
        self.reports = []
        self.last_error = ""
        for curve in (self.train_curve, self.val_curve, self.acc_curve, self.f1_curve):
            curve.setData([], [])
        self.validation.clear()
        self.progress.setValue(0)
        self.status.setText(f"Starting on {what}…")
        return self.tasks.start(
            TASK_KIND,
            factory,
            "Training",
            progress=self._on_training_progress,
            finished=self._on_training_finished,
            failed=self._on_training_failed,
            cancelled=self._on_training_cancelled,
        )

    def cancel_training(self) -> None:
        if self.tasks.cancel(TASK_KIND):
            self.status.setText("Cancelling…")

    def finish_training(self) -> None:
        """Stop the run after the batch in hand and keep its best epoch so far."""
        if not self.is_running() or self._finish.is_set():
            return
        self._finish.set()
        self.stop_button.setEnabled(False)
        self.status.setText("Stopping after this batch; the best epoch so far will be kept…")

    def _show_running(self) -> None:
        running = self.is_running()
        self.train_button.setEnabled(not running)
        self.stop_button.setEnabled(running and not self._finish.is_set())
        self.cancel_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.result is not None)

    def _on_training_progress(self, report: EpochReport) -> None:
        self.progress.setValue(int(1000 * report.fraction))
        self.status.setText(
            f"Epoch {report.epoch}/{report.epochs} · batch {report.batch}/{report.batches} · "
            f"train loss {report.train_loss:.4f} · {_fmt_elapsed(report.elapsed_s)} elapsed · "
            f"{report.device}"
        )
        if report.end_of_epoch:
            self.reports.append(report)
            epochs = np.array([r.epoch for r in self.reports], dtype=float)
            self.train_curve.setData(epochs, [r.train_loss for r in self.reports])
            val = [(r.epoch, r.val_loss) for r in self.reports if r.val_loss is not None]
            if val:
                self.val_curve.setData(*zip(*val, strict=True))
            acc = [(r.epoch, r.val_accuracy) for r in self.reports if r.val_accuracy is not None]
            if acc:
                self.acc_curve.setData(*zip(*acc, strict=True))
            f1 = [(r.epoch, r.val_macro_f1) for r in self.reports if r.val_macro_f1 is not None]
            if f1:
                self.f1_curve.setData(*zip(*f1, strict=True))

    def _on_training_finished(self, result: TrainResult) -> None:
        self.result = result
        model: TrainedModel = result.model
        self.progress.setValue(1000)
        last = result.history[-1] if result.history else None
        took = f" in {_fmt_elapsed(last.elapsed_s)}" if last else ""
        early = " (stopped early)" if result.stopped_early else ""
        if result.finished_on_request:
            early = " (stopped on request)"
        trained = f"Trained{took}{early}; best epoch {result.best_epoch} · {model.device}."
        self.status.setText(f"{trained} Save the model to keep it.")
        self.validation.show_metrics(
            model.metrics, model.class_names, result.notes, alarm_rule_text(model)
        )
        if self.retrain is not None:
            self._on_retrained(self.retrain, model, trained)
            return
        loaded = self.session.model
        # A loaded model (and the scans and review made with it) is replaced only when the
        # user says so; the new model stays savable either way.
        if loaded is not None and not ask_use_new_model(self, loaded):
            self.status.setText(
                f"{trained} The loaded model is still in use; Save Model… keeps the new one."
            )
            self._show_running()
            return
        self.session.set_model(model)
        self.model_trained.emit(model)

    def _on_training_failed(self, message: str, details: str) -> None:
        self.retrain = None
        self.status.setText("Training failed")
        self._fail(message, details)

    # ------------------------------------------------------------------ retraining
    def retrain_with_reviewed_labels(self, recording_id: int) -> Task | None:
        """Retrain the loaded model on its own training recordings plus recording
        ``recording_id`` with its reviewed labels (module docstring). First finds the
        recordings, off the GUI thread; None (with the reason shown) when it cannot start."""
        loaded = self.session.model
        if loaded is None or self.is_running():
            return None
        entry = self.session.get(recording_id)
        try:
            review = entry.review or self.session.open_review(recording_id)[0]
            reviewed = recording_with_reviewed_labels(review, entry.recording)
            loaded.check_channels(entry.recording)
        except FaultLensError as err:
            self._fail(str(err), "")
            return None
        files = training_files(loaded)
        open_recordings = [e.recording for e in self.session]
        self.retrain = RetrainRun(loaded, recording_id, reviewed)
        self.result = None
        self.status.setText(
            f"Looking for the {len(files)} recording(s) the loaded model was trained on…"
        )
        located: list[list[Located]] = []

        def done() -> None:
            # The search counts as running until its done is handled: train after that.
            if located:
                QTimer.singleShot(0, self, lambda: self._on_located(located[0]))

        return self.tasks.start(
            TASK_KIND,
            _once(lambda: locate(files, open_recordings)),
            "Finding the model's training recordings",
            finished=located.append,
            failed=self._on_training_failed,
            done=done,
        )

    def _on_located(self, found: list[Located]) -> None:
        run = self.retrain
        if run is None or self.is_running():
            return
        while True:
            missing = [f for f in found if not f.found]
            if not missing:
                break
            choice = ask_about_missing(self, missing, len(found))
            if choice == "cancel":
                self.retrain = None
                self.status.setText("Retraining cancelled; nothing was trained")
                return
            if choice == "without":
                break
            # Those still missing afterwards are asked about again.
            found = [self._locate_by_hand(f) if not f.found else f for f in found]
        run.found = [f for f in found if f.found]
        options = retrain_options(run.loaded, device=self.device_combo.currentText())
        reviewed, kept = run.reviewed, run.found
        n = len(retraining_names(reviewed, kept))
        # Called when the training task starts: the files are read on its thread.
        self._start_run(
            lambda: retraining_set(reviewed, kept),
            options,
            f"{n} recording(s): the loaded model's and {reviewed.name} with its reviewed labels",
        )

    def _locate_by_hand(self, located: Located) -> Located:
        """Ask where a missing training file is; the file picked must hold the same data."""
        file = located.file
        start = str(file.path.parent) if file.path is not None else ""
        chosen, _ = QFileDialog.getOpenFileName(
            self,
            f"Where is {file.name}? (the loaded model was trained on it)",
            start,
            RECORDING_FILTER,
        )
        if not chosen:
            return located
        checked = check_file(file, Path(chosen))
        if not checked.found:
            self._fail(checked.problem, "")
        return checked

    def _on_retrained(self, run: RetrainRun, model: TrainedModel, trained: str) -> None:
        """Save the new model beside the loaded one, then Replace (rescan first) or Keep
        Both, as the user says."""
        self.retrain = None
        note = ""
        if run.loaded.path is not None:
            try:
                target = retrained_model_path(run.loaded.path)
                save_model(model, target)
                run.saved_to = target
                self.model_saved.emit(str(target))
            except (FaultLensError, OSError) as err:
                note = f" It could not be saved beside the loaded model ({err}): Save Model…"
        saved = f" Saved as {run.saved_to}." if run.saved_to is not None else note
        if self.session.model is not run.loaded:  # another model was loaded meanwhile
            self.status.setText(f"{trained}{saved} Another model is in use now; it stays.")
            self._show_running()
            return
        if not ask_replace_or_keep(self, run.loaded, run.saved_to):
            self.status.setText(
                f"{trained}{saved} The loaded model stays in use"
                + ("; both are model files." if run.saved_to is not None else ".")
            )
            self._show_running()
            return
        self._replace_after_rescan(run, model, f"{trained}{saved}")

    def _replace_after_rescan(self, run: RetrainRun, model: TrainedModel, done: str) -> None:
        """Scan the reviewed recording with ``model``, then make it the session's model and
        that scan the recording's, in one step: its events never vanish in between."""
        if run.recording_id not in self.session.ids:
            self._use(model)
            return
        recording = self.session.get(run.recording_id).recording
        self.status.setText(f"{done} Rescanning {recording.name} with the new model…")

        def factory(should_stop: ShouldStop) -> Generator[Progress, None, ScanResult]:
            return scan(model, recording, ScanOptions(), should_stop)

        def finished(result: ScanResult) -> None:
            if self.session.model is not run.loaded:
                return  # another model was loaded meanwhile: it stays
            try:
                self._use(model, {run.recording_id: result})
            except FaultLensError as err:  # the review could not take the events
                self._fail(str(err), "")
            n = len(result.events)
            self.status.setText(
                f"{done} The new model is in use; {recording.name} rescanned: {n} event(s)."
            )

        self.tasks.start(
            RESCAN_TASK_KIND,
            factory,
            f"Rescanning {recording.name}",
            finished=finished,
            failed=self._on_training_failed,
        )

    def _use(self, model: TrainedModel, scans: dict[int, ScanResult] | None = None) -> None:
        try:
            self.session.set_model(model, scans)
        finally:
            self.model_trained.emit(model)

    def _fail(self, message: str, details: str) -> None:
        self.last_error = message
        gui_app.show_error(self, "Training", message, details)

    def _on_training_cancelled(self) -> None:
        self.retrain = None
        self.progress.setValue(0)
        self.status.setText("Training cancelled; no model was made")

    # ------------------------------------------------------------------ saving
    def _on_save_clicked(self) -> None:
        if self.result is None:
            return
        start = Path(gui_settings.save_directory("model")) / "model.flmodel"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", str(start), "FaultLens model (*.flmodel);;All files (*)"
        )
        if path:
            self.save_model_to(path)

    def save_model_to(self, path: str | Path) -> bool:
        """Write the trained model to ``path`` (atomically); False with a dialog on error."""
        if self.result is None:
            return False
        try:
            save_model(self.result.model, path)
        except (FaultLensError, OSError) as err:
            self._fail(f"{path}: could not save the model: {err}", "")
            return False
        gui_settings.set_last_directory("model", path)
        self.status.setText(f"Saved {path}")
        self.model_saved.emit(str(path))
        return True


def ask_use_new_model(parent: QWidget, loaded: TrainedModel) -> bool:
    """Ask whether the model just trained replaces the loaded one; True: use the new one."""
    files = ", ".join(str(d.get("file", "?")) for d in loaded.training_data) or "unknown data"
    return _ask_yes_or_keep(
        parent,
        "Training finished",
        "Use the new model instead of the loaded one?",
        f"The loaded model was trained on {files}. Using the new model clears the scans "
        "made with the loaded one: scan again to see its events. Either way, Save Model… "
        "keeps the new one.",
        yes="Use the New Model",
        keep="Keep the Loaded One",
    )


def _ask_yes_or_keep(
    parent: QWidget, title: str, text: str, informative: str, *, yes: str, keep: str
) -> bool:
    """A question whose safe answer (default and Escape) keeps things as they are; True when
    the user chose ``yes``."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(text)
    box.setInformativeText(informative)
    yes_button = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    keep_button = box.addButton(keep, QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep_button)
    box.setEscapeButton(keep_button)
    box.exec()
    return box.clickedButton() is yes_button


def ask_about_missing(
    parent: QWidget, missing: list[Located], total: int
) -> Literal["locate", "without", "cancel"]:
    """Some of the loaded model's training recordings were not found: locate them, train
    without them, or cancel."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Retrain with Reviewed Labels")
    box.setText(
        f"{len(missing)} of the {total} recording(s) the loaded model was trained on "
        "could not be found."
    )
    box.setInformativeText(
        "\n".join(f"• {m.problem}" for m in missing)
        + "\n\nLocate them, or retrain without them (on the others and the reviewed recording)."
    )
    locate_button = box.addButton("Locate…", QMessageBox.ButtonRole.ActionRole)
    without = box.addButton("Train Without Them", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(locate_button)
    box.setEscapeButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    if clicked is locate_button:
        return "locate"
    return "without" if clicked is without else "cancel"


def ask_replace_or_keep(parent: QWidget, loaded: TrainedModel, saved_to: Path | None) -> bool:
    """Ask whether the retrained model replaces the loaded one; True: Replace."""
    old = loaded.path.name if loaded.path is not None else "the loaded model (not saved)"
    where = (
        f"The retrained model is saved as {saved_to.name} beside {old}, which stays as it is."
        if saved_to is not None
        else "The retrained model is not saved yet: Save Model… keeps it."
    )
    return _ask_yes_or_keep(
        parent,
        "Retraining finished",
        "Replace the loaded model with the retrained one?",
        f"{where}\n\nReplace: the recording under review is rescanned with the new model "
        "(its decisions are kept). Keep Both: the loaded model stays in use; Model > Load "
        "Model… switches later.",
        yes="Replace",
        keep="Keep Both",
    )


def retraining_names(reviewed: Recording, found: Sequence[Located]) -> list[str]:
    """The names of what a retrain trains on, in order (without reading anything)."""
    names = [f.file.name for f in found if f.file.file_sha256 != reviewed.source_hash]
    return [*names, reviewed.name]


def _once(fn: Callable[[], R]) -> Callable[[ShouldStop], Generator[None, None, R]]:
    """A task factory for one call without progress (the task runner runs generators)."""

    def factory(_should_stop: ShouldStop) -> Generator[None, None, R]:
        return fn()
        yield  # makes this a generator: the call runs on the task's thread

    return factory


def _input_key(value: tuple[tuple[int, ...], bool | None]) -> str:
    """A stable name of an Inputs choice for the settings file."""
    for name, choice in INPUT_CHOICES.items():
        if choice == value:
            return name
    return "engine_default"


def _cell(
    table: QTableWidget, row: int, column: int, text: str, editable: bool
) -> QTableWidgetItem:
    """The item at (row, column), created if missing, showing ``text``."""
    item = table.item(row, column)
    if item is None:
        item = QTableWidgetItem()
        if not editable:
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        table.setItem(row, column, item)
    if item.text() != text:
        item.setText(text)
    return item


def _channel_difference(entry: OpenRecording, channels: tuple[str, ...]) -> str:
    """How the recording's channels differ from ``channels`` in words ("" if they match)."""
    own = tuple(entry.recording.channels)
    if own == channels:
        return ""
    missing = [c for c in channels if c not in own]
    extra = [c for c in own if c not in channels]
    if not missing and not extra:
        return "same channels in another order"
    parts = [f"lacks {', '.join(missing)}"] if missing else []
    parts += [f"has extra {', '.join(extra)}"] if extra else []
    return "; ".join(parts)


def _labels_text(entry: OpenRecording) -> str:
    """What the Labels column says about a recording's training labels."""
    if entry.training.labels == "reviewed":
        return "labels after review (confirmed, dismissed, relabelled, regions)"
    rec = entry.recording
    counts = rec.class_counts()
    if not counts:
        return "no labels"
    return f"{rec.label_column}: " + ", ".join(f"{k}×{v}" for k, v in counts.items())


def _demo_widget(recording: Recording, _model: object, _scan: object) -> TrainingPanel:
    """The widget as ``python -m`` opens it on the demo data (also used by the smoke test)."""
    session = Session()
    session.add(recording)
    return TrainingPanel(session)


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
