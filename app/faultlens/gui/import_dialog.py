"""The import dialog: preview a CSV, adjust the detected settings, check quality, open.

Detection runs on the file's head (cheap, on the GUI thread); the full read runs in a
GeneratorWorker with a busy indicator so a large file never freezes the window. A failed
import shows the importer's message here and changes nothing in the main window.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
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
from faultlens.core.io import Preview, load_recording, preview_file
from faultlens.core.progress import Progress, ShouldStop
from faultlens.core.recording import ImportOptions, QualityReport, Recording
from faultlens.gui.workers import GeneratorWorker

AUTO = "__auto__"
NONE = "__none__"
SEPARATORS = ((",", "comma ,"), (";", "semicolon ;"), ("\t", "tab"), (r"\s+", "whitespace"))


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


def _load_generator(
    path: Path, options: ImportOptions
) -> Callable[[ShouldStop], Generator[Progress, None, Recording]]:
    def run(_should_stop: ShouldStop) -> Generator[Progress, None, Recording]:
        # The reader is one call into pyarrow; it cannot stop half-way, so Cancel discards
        # the result instead (see ImportDialog.reject).
        yield Progress(0, 1, f"Reading {path.name}")
        return load_recording(path, options)

    return run


class ImportDialog(QDialog):
    """Preview and import one file. After ``accepted``, ``recording`` holds the result."""

    recording_loaded = Signal(object)  # Recording, after a successful background read
    load_failed = Signal(str)

    def __init__(self, path: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.setWindowTitle(f"Import {self.path.name}")
        self.setObjectName("import_dialog")
        self.preview: Preview | None = None
        self.recording: Recording | None = None
        self.error = ""
        self._worker: GeneratorWorker | None = None
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
        self.busy.setRange(0, 0)  # indeterminate: the reader reports no progress
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.busy_label = QLabel()
        self.busy_label.hide()

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
        layout = QVBoxLayout(self)
        path_label = QLabel(str(self.path))
        path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(path_label)
        layout.addWidget(split, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(busy_row)
        layout.addWidget(self.buttons)
        self.resize(1100, 650)
        self.refresh_preview(ImportOptions())

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
        return self._worker is not None and self._worker.is_running()

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

    def _start_load(self) -> None:
        if self.is_loading():
            return
        options = self.options()
        self._clear_error()
        self.recording = None
        self._loaded_options = options
        worker = GeneratorWorker(_load_generator(self.path, options), "import", self)
        worker.finished.connect(self._on_load_finished)
        worker.failed.connect(self._on_load_failed)
        worker.progress.connect(self._on_load_progress)
        worker.done.connect(self._on_load_done)
        self._worker = worker
        self._set_busy(True)
        worker.start()

    def _on_load_progress(self, report: Progress) -> None:
        self.busy_label.setText(report.message)

    def _on_load_finished(self, recording: Recording) -> None:
        if self._worker is not None and self._worker.cancel_requested:
            return
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

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.busy_label.setVisible(busy)
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

    def reject(self) -> None:
        # The read cannot be interrupted; wait for it so no thread outlives the dialog.
        if self._worker is not None and self._worker.is_running():
            self._worker.cancel()
            self._worker.wait()
        self.recording = None
        super().reject()

    def done(self, result: int) -> None:
        if self._worker is not None and self._worker.is_running():
            self._worker.cancel()
            self._worker.wait()
        super().done(result)


def _demo_widget(recording: Recording, _model: object, _scan: object) -> ImportDialog:
    """The dialog on the demo recording's file (also used by the smoke test)."""
    return ImportDialog(recording.path)


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
