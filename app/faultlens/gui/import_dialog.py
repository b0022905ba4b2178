"""The import dialog: preview a CSV, adjust the detected settings, check quality, open.

Detection runs on the file's head (cheap, on the GUI thread); the full read runs as a task
(``import_recording``, a progress generator) with a progress bar in bytes of the file and a
"Cancel import" button, so a large file never freezes the window and can be stopped between
two byte ranges. A cancelled import leaves nothing behind and the dialog as it was before;
a failed one shows the importer's message here. Neither changes the main window.

Opened for the first of several files (``more_files``), it offers "Apply these settings to
the other files": the main window then imports those in order without asking again.
"""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from faultlens.core.errors import FaultLensError
from faultlens.core.io import Preview, import_recording, preview_file
from faultlens.core.progress import Progress
from faultlens.core.recording import ImportOptions, QualityReport, Recording
from faultlens.gui.tasks import GeneratorFactory, TaskRunner, unique_kind

AUTO = "__auto__"
NONE = "__none__"
SEPARATORS = ((",", "comma ,"), (";", "semicolon ;"), ("\t", "tab"), (r"\s+", "whitespace"))
# The progress bar counts thousandths of the file.
PROGRESS_STEPS = 1000


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1:
        return f"{value * 1000:.3g} ms"
    if value < 120:
        return f"{value:.3g} s"
    if value < 7200:
        return f"{value / 60:.3g} min"
    return f"{value / 3600:.3g} h"


def quality_summary_html(report: QualityReport) -> str:
    """The data-quality report as short HTML for the dialog and the recording tooltip."""
    lines = [f"<b>{report.rows:,} rows × {report.channels} channels</b>"]
    if report.time_span_s is not None:
        lines.append(f"Time span: {_fmt_seconds(report.time_span_s)}")
    if report.sampling_interval_median_s is not None:
        irregular = (
            f", {report.sampling_irregularity:.1%} of intervals irregular"
            if report.sampling_irregularity
            else ", regular"
        )
        lines.append(
            f"Sampling interval: {_fmt_seconds(report.sampling_interval_median_s)} (median)"
            f"{irregular}; longest gap {_fmt_seconds(report.max_gap_s)}"
        )
    missing = {k: v for k, v in report.missing_per_channel.items() if v}
    if missing:
        parts = ", ".join(
            f"{html.escape(k)}: {v:,} ({v / max(report.rows, 1):.1%})" for k, v in missing.items()
        )
        lines.append(f"<span style='color:#a15c00'>Missing values (kept as gaps): {parts}</span>")
    else:
        lines.append("No missing values")
    if report.duplicate_timestamps:
        lines.append(
            f"<span style='color:#a15c00'>{report.duplicate_timestamps:,} duplicate timestamps"
            "</span>"
        )
    if report.non_monotonic_timestamps:
        sorted_note = " (rows were sorted by time)" if report.sorted_by_time else ""
        lines.append(
            f"<span style='color:#a15c00'>{report.non_monotonic_timestamps:,} timestamps go "
            f"backwards{sorted_note}</span>"
        )
    flat_reasons = getattr(report, "flat_reasons", {}) or {}
    for name in report.flat_channels:
        why = flat_reasons.get(name, "")
        lines.append(
            f"<span style='color:#a15c00'>Flat-lined channel {html.escape(name)}"
            f"{': ' + html.escape(why) if why else ''}</span>"
        )
    for column, why in report.excluded_columns.items():
        lines.append(f"Not a channel: {html.escape(column)} ({html.escape(why)})")
    for warning in report.warnings:
        lines.append(f"<span style='color:#a15c00'>⚠ {html.escape(warning)}</span>")
    return "<br>".join(lines)


def _import_task(path: Path, options: ImportOptions) -> GeneratorFactory:
    """The import of ``path`` with ``options`` (a snapshot taken on the GUI thread)."""
    return lambda should_stop: import_recording(path, options, should_stop)


class ImportDialog(QDialog):
    """Preview and import one file. After ``accepted``, ``recording`` holds the result."""

    recording_loaded = Signal(object)  # Recording, after a successful background read
    load_failed = Signal(str)

    def __init__(
        self,
        path: str | Path,
        parent: QWidget | None = None,
        tasks: TaskRunner | None = None,
        more_files: int = 0,
    ) -> None:
        super().__init__(parent)
        self.path = Path(path)
        more = (
            f" (and {more_files} more file{'s' if more_files != 1 else ''})" if more_files else ""
        )
        self.setWindowTitle(f"Import {self.path.name}{more}")
        self.setObjectName("import_dialog")
        self.preview: Preview | None = None
        self.recording: Recording | None = None
        self.error = ""
        # The window's task runner when given (its shutdown then stops this import too).
        self.tasks = tasks if tasks is not None else TaskRunner(self)
        self._task_kind = unique_kind("import")
        self._cancel_requested = False
        self._loaded_options: ImportOptions | None = None
        self._accept_after_load = False
        self._updating = False

        self.separator_combo = QComboBox()
        self.header_combo = QComboBox()
        self.decimal_combo = QComboBox()
        self.time_combo = QComboBox()
        self.label_combo = QComboBox()
        self.channel_list = QListWidget()
        self.channel_list.setToolTip("Input channels: untick a column to leave it out")
        self._setting_combos = (
            self.separator_combo,
            self.header_combo,
            self.decimal_combo,
            self.time_combo,
            self.label_combo,
        )
        for combo in self._setting_combos:
            combo.currentIndexChanged.connect(self._on_setting_changed)
        self.channel_list.itemChanged.connect(self._on_setting_changed)

        form = QFormLayout()
        form.addRow("Separator", self.separator_combo)
        form.addRow("Header row", self.header_combo)
        form.addRow("Decimal mark", self.decimal_combo)
        form.addRow("Time column", self.time_combo)
        form.addRow("Label column", self.label_combo)
        form.addRow("Channels", self.channel_list)
        settings_box = QGroupBox("Detected settings (change to override)")
        settings_box.setLayout(form)

        self.table = QTableWidget()
        self.table.setObjectName("preview_table")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.quality = QTextBrowser()
        self.quality.setObjectName("quality_summary")
        self.quality.setPlaceholderText(
            "Press “Check data quality” to read the whole file and see its quality report."
        )
        self.error_label = QLabel()
        self.error_label.setObjectName("import_error")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.error_label.hide()
        self.busy = QProgressBar()
        self.busy.setObjectName("import_progress")
        self.busy.setRange(0, PROGRESS_STEPS)
        self.busy.hide()
        self.busy_label = QLabel()
        self.busy_label.setObjectName("import_status")
        self.busy_label.hide()
        self.cancel_load_button = QPushButton("Cancel import")
        self.cancel_load_button.setObjectName("cancel_import")
        self.cancel_load_button.setToolTip(
            "Stop reading the file; nothing is loaded and the dialog stays open"
        )
        self.cancel_load_button.clicked.connect(self.cancel_load)
        self.cancel_load_button.hide()

        self.apply_all_check = QCheckBox(
            f"Apply these settings to the other {more_files} file{'s' if more_files != 1 else ''}"
        )
        self.apply_all_check.setObjectName("apply_to_all")
        self.apply_all_check.setToolTip(
            "Open the other chosen files in the order chosen with these settings, without "
            "asking again (a file they do not fit gets its own dialog). Unticked, the others "
            "open with their detected settings."
        )
        self.apply_all_check.setChecked(True)
        self.apply_all_check.setVisible(more_files > 0)

        self.check_button = QPushButton("Check data quality")
        self.check_button.clicked.connect(self.check_quality)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.addButton(self.check_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.accepted.connect(self.open_recording)
        self.buttons.rejected.connect(self.reject)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.table)
        quality_box = QGroupBox("Data quality")
        quality_layout = QVBoxLayout(quality_box)
        quality_layout.addWidget(self.quality)
        right.addWidget(quality_box)
        right.setSizes([400, 200])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(settings_box)
        split.addWidget(right)
        split.setSizes([300, 700])
        busy_row = QHBoxLayout()
        busy_row.addWidget(self.busy_label)
        busy_row.addWidget(self.busy, 1)
        busy_row.addWidget(self.cancel_load_button)
        layout = QVBoxLayout(self)
        path_label = QLabel(str(self.path))
        path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(path_label)
        layout.addWidget(split, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(busy_row)
        layout.addWidget(self.apply_all_check)
        layout.addWidget(self.buttons)
        self.resize(1100, 650)
        self.refresh_preview(ImportOptions())

    @property
    def apply_to_all(self) -> bool:
        """Whether the other chosen files are to be opened with this dialog's settings."""
        return self.apply_all_check.isChecked() and not self.apply_all_check.isHidden()

    def set_apply_to_all(self, apply: bool) -> None:
        self.apply_all_check.setChecked(apply)

    # ------------------------------------------------------------------ preview
    def refresh_preview(self, options: ImportOptions) -> bool:
        """Re-detect with ``options`` and refresh the table; False (and the message) on error."""
        try:
            preview = preview_file(self.path, options)
        except FaultLensError as err:
            self._show_error(str(err))
            self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(False)
            self.check_button.setEnabled(False)
            return False
        self._clear_error()
        self.preview = preview
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(True)
        self.check_button.setEnabled(True)
        self._fill_settings(preview, options)
        self._fill_table(preview)
        return True

    def _fill_table(self, preview: Preview) -> None:
        self.table.clear()
        self.table.setColumnCount(len(preview.columns))
        self.table.setRowCount(len(preview.rows))
        self.table.setHorizontalHeaderLabels(preview.columns)
        for r, row in enumerate(preview.rows):
            for c, cell in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(cell))
        self.table.resizeColumnsToContents()

    def _fill_settings(self, preview: Preview, asked: ImportOptions) -> None:
        resolved = preview.options
        self._updating = True
        try:
            sep_name = dict(SEPARATORS).get(resolved.separator or "", repr(resolved.separator))
            self._set_items(
                self.separator_combo,
                [(AUTO, f"detected: {sep_name}"), *SEPARATORS],
                asked.separator or AUTO,
            )
            self._set_items(
                self.header_combo,
                [
                    (AUTO, f"detected: {'yes' if resolved.header else 'no'}"),
                    (True, "yes"),
                    (False, "no"),
                ],
                AUTO if asked.header is None else asked.header,
            )
            self._set_items(
                self.decimal_combo,
                [(AUTO, f"detected: {resolved.decimal}"), (".", "point ."), (",", "comma ,")],
                asked.decimal or AUTO,
            )
            time_detected = resolved.time_column or "row index"
            time_choices = [c for c in preview.columns if c in preview.time_candidates] or []
            time_choices += [c for c in preview.columns if c not in time_choices]
            self._set_items(
                self.time_combo,
                [(AUTO, f"detected: {time_detected}"), (NONE, "none (use row index)")]
                + [(c, c) for c in time_choices],
                NONE if asked.no_time_column else (asked.time_column or AUTO),
            )
            label_detected = resolved.label_column or "none"
            label_choices = list(preview.label_candidates)
            label_choices += [c for c in preview.columns if c not in label_choices]
            self._set_items(
                self.label_combo,
                [(AUTO, f"detected: {label_detected}"), (NONE, "none (no labels)")]
                + [(c, c) for c in label_choices],
                NONE if asked.no_label_column else (asked.label_column or AUTO),
            )
            self.channel_list.clear()
            chosen = set(resolved.channels or ())
            used = {resolved.time_column, resolved.label_column}
            for name in preview.channel_candidates:
                if name in used:
                    continue
                item = QListWidgetItem(name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(
                    Qt.CheckState.Checked if name in chosen else Qt.CheckState.Unchecked
                )
                why = preview.excluded_columns.get(name)
                if why:
                    item.setToolTip(why)
                self.channel_list.addItem(item)
        finally:
            self._updating = False

    @staticmethod
    def _set_items(combo: QComboBox, items: list[tuple[object, str]], current: object) -> None:
        combo.clear()
        for data, text in items:
            combo.addItem(text, data)
        index = next((i for i, (d, _t) in enumerate(items) if d == current), 0)
        combo.setCurrentIndex(index)

    def options(self) -> ImportOptions:
        """The ImportOptions the widgets describe (detected fields stay None)."""
        sep = self.separator_combo.currentData()
        header = self.header_combo.currentData()
        dec = self.decimal_combo.currentData()
        time = self.time_combo.currentData()
        label = self.label_combo.currentData()
        options = ImportOptions(
            separator=None if sep in (AUTO, None) else sep,
            header=None if header in (AUTO, None) else bool(header),
            decimal=None if dec in (AUTO, None) else dec,
            time_column=None if time in (AUTO, NONE, None) else time,
            no_time_column=time == NONE,
            label_column=None if label in (AUTO, NONE, None) else label,
            no_label_column=label == NONE,
        )
        if self.preview is not None:
            checked = [
                self.channel_list.item(i).text()
                for i in range(self.channel_list.count())
                if self.channel_list.item(i).checkState() == Qt.CheckState.Checked
            ]
            detected = list(self.preview.options.channels or ())
            if checked != detected:
                options = replace(options, channels=tuple(checked))
        return options

    def _on_setting_changed(self, *_args: object) -> None:
        if self._updating:
            return
        self.recording = None
        self.quality.clear()
        self.refresh_preview(self.options())

    # ------------------------------------------------------------------ loading
    def is_loading(self) -> bool:
        return self.tasks.is_running(self._task_kind)

    def check_quality(self) -> None:
        """Read the whole file in the background and show its quality report."""
        self._accept_after_load = False
        self._start_load()

    def open_recording(self) -> None:
        """Open: read the file (unless already read with these settings), then accept."""
        if self.recording is not None and self._loaded_options == self.options():
            self.accept()
            return
        self._accept_after_load = True
        self._start_load()

    def cancel_load(self) -> None:
        """Stop the running import at its next byte range; the dialog stays usable."""
        if self.tasks.cancel(self._task_kind):
            self._cancel_requested = True
            self.cancel_load_button.setEnabled(False)
            self.busy_label.setText("Cancelling…")

    def _start_load(self) -> None:
        if self.is_loading():
            return
        options = self.options()
        self._clear_error()
        self.recording = None
        self._loaded_options = options
        self._cancel_requested = False
        self.busy.setValue(0)
        self.busy_label.setText(f"Reading {self.path.name}")
        self._set_busy(True)
        self.tasks.start(
            self._task_kind,
            _import_task(self.path, options),
            f"Import {self.path.name}",
            progress=self._on_load_progress,
            finished=self._on_load_finished,
            failed=self._on_load_failed,
            done=self._on_load_done,
        )

    def _on_load_progress(self, report: Progress) -> None:
        if self._cancel_requested:
            return
        self.busy.setValue(round(report.fraction * PROGRESS_STEPS))
        self.busy_label.setText(report.message)

    def _on_load_finished(self, recording: Recording) -> None:
        if self._cancel_requested:
            return  # finished just before the cancel arrived: it was not wanted
        self.recording = recording
        assert recording.quality is not None
        self.quality.setHtml(quality_summary_html(recording.quality))
        self.recording_loaded.emit(recording)
        if self._accept_after_load:
            self.accept()

    def _on_load_failed(self, message: str, details: str) -> None:
        self._show_error(message + (f"\n{details}" if details else ""))
        self.load_failed.emit(message)

    def _on_load_done(self) -> None:
        self._set_busy(False)
        if self._cancel_requested and self.recording is None:
            self._loaded_options = None
            self.busy_label.setText("Import cancelled; nothing was loaded.")
            self.busy_label.show()

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.busy_label.setVisible(busy)
        self.cancel_load_button.setVisible(busy)
        self.cancel_load_button.setEnabled(busy)
        self.check_button.setEnabled(not busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(not busy)
        for widget in (*self._setting_combos, self.channel_list):
            widget.setEnabled(not busy)

    def _show_error(self, message: str) -> None:
        self.error = message
        self.error_label.setText(message)
        self.error_label.show()

    def _clear_error(self) -> None:
        self.error = ""
        self.error_label.clear()
        self.error_label.hide()

    def _stop_load(self) -> None:
        """Cancel a running import and wait for it (one byte range at most), so that no
        thread outlives the dialog; a result still on its way is then ignored."""
        task = self.tasks.task(self._task_kind)
        if task is not None:
            self._cancel_requested = True
            task.cancel()
            task.wait()

    def reject(self) -> None:
        self._stop_load()
        self.recording = None
        super().reject()

    def done(self, result: int) -> None:
        self._stop_load()
        super().done(result)


def _demo_widget(recording: Recording, _model: object, _scan: object) -> ImportDialog:
    """The dialog on the demo recording's file (also used by the smoke test)."""
    return ImportDialog(recording.path)


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
