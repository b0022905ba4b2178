"""The import dialog's read: a progress bar in bytes of the file, and Cancel, which stops the
import, loads nothing and leaves the dialog usable."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Generator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from faultlens.core.io import pipeline as io_pipeline
from faultlens.core.io import ranges as io_ranges
from faultlens.core.progress import Progress, ShouldStop
from faultlens.core.recording import ImportOptions, Recording
from faultlens.gui import import_dialog
from faultlens.gui.import_dialog import PROGRESS_STEPS, ImportDialog

TIMEOUT_MS = 20_000


def write_csv(path: Path, rows: int = 40_000) -> Path:
    """A ~2 MB recording (ISO times, 3 channels, 0/1 labels)."""
    lines = ["time,a,b,c,label"]
    for i in range(rows):
        lines.append(
            f"2024-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d},"
            f"{i * 0.001:.4f},{(i % 97) * 0.5:.4f},{(i % 13) * 1.5:.4f},{i // 500 % 2}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def dialog(qtbot: QtBot, tmp_path: Path) -> ImportDialog:
    dialog = ImportDialog(write_csv(tmp_path / "big.csv"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


@pytest.fixture
def held_after_first_report(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The dialog's first import reports once, then holds until it is asked to stop, so a
    test can press Cancel in the middle of a read whatever the machine's speed; the event
    is set once the import is holding. Later imports run as they are."""
    holding = threading.Event()
    real = import_dialog.import_recording
    calls = itertools.count()

    def held(
        path: Path, options: ImportOptions, should_stop: ShouldStop
    ) -> Generator[Progress, None, Recording]:
        gen = real(path, options, should_stop)
        if next(calls):
            return (yield from gen)
        yield next(gen)
        holding.set()
        while not should_stop():
            threading.Event().wait(0.005)
        return (yield from gen)

    monkeypatch.setattr(import_dialog, "import_recording", held)
    return holding


def settings_enabled(dialog: ImportDialog) -> bool:
    return all(w.isEnabled() for w in (*dialog._setting_combos, dialog.channel_list))


def test_the_progress_bar_follows_the_read_to_the_end(
    qtbot: QtBot, dialog: ImportDialog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io_ranges, "RANGE_BYTES", 128 << 10)
    monkeypatch.setattr(io_pipeline, "PROGRESS_INTERVAL_S", 0.0)
    values: list[int] = []
    dialog.busy.valueChanged.connect(values.append)
    with qtbot.waitSignal(dialog.recording_loaded, timeout=TIMEOUT_MS):
        dialog.check_quality()
        assert dialog.busy.isVisible() and dialog.cancel_load_button.isVisible()
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=TIMEOUT_MS)
    assert dialog.recording is not None and dialog.recording.n_rows == 40_000
    assert values[-1] == PROGRESS_STEPS
    assert sum(0 < v < PROGRESS_STEPS for v in values) >= 3
    assert all(a <= b for a, b in itertools.pairwise(values))
    assert "40,000 rows" in dialog.quality.toPlainText()
    assert not dialog.busy.isVisible() and not dialog.cancel_load_button.isVisible()


def test_cancel_stops_the_import_and_leaves_the_dialog_usable(
    qtbot: QtBot, dialog: ImportDialog, held_after_first_report: threading.Event
) -> None:
    loaded: list[Recording] = []
    dialog.recording_loaded.connect(loaded.append)
    dialog.check_quality()
    qtbot.waitUntil(held_after_first_report.is_set, timeout=TIMEOUT_MS)
    assert dialog.is_loading() and not settings_enabled(dialog)
    assert not dialog.check_button.isEnabled()

    qtbot.mouseClick(dialog.cancel_load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=TIMEOUT_MS)

    assert dialog.recording is None and loaded == [] and dialog.error == ""
    assert dialog.isVisible() and dialog.result() == 0  # still open, neither accepted nor not
    assert dialog.busy_label.text() == "Import cancelled; nothing was loaded."
    assert not dialog.busy.isVisible() and not dialog.cancel_load_button.isVisible()
    assert settings_enabled(dialog) and dialog.check_button.isEnabled()
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Open).isEnabled()
    assert dialog.quality.toPlainText() == ""

    # Usable: Open reads the file again (not held this time) and accepts.
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT_MS):
        dialog.open_recording()
    assert dialog.recording is not None and dialog.recording.n_rows == 40_000
    assert loaded == [dialog.recording]


def test_closing_the_dialog_during_an_import_stops_it(
    qtbot: QtBot, dialog: ImportDialog, held_after_first_report: threading.Event
) -> None:
    dialog.check_quality()
    qtbot.waitUntil(held_after_first_report.is_set, timeout=TIMEOUT_MS)
    dialog.reject()  # cancels the import and waits for it: no thread outlives the dialog
    assert not dialog.is_loading() and dialog.tasks.running() == []
    assert dialog.recording is None and not dialog.isVisible()


def test_apply_to_all_is_offered_only_when_more_files_follow(qtbot: QtBot, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "small.csv", rows=50)
    single = ImportDialog(path)
    qtbot.addWidget(single)
    assert single.apply_all_check.isHidden() and not single.apply_to_all
    assert single.windowTitle() == "Import small.csv"
    several = ImportDialog(path, more_files=2)
    qtbot.addWidget(several)
    assert not several.apply_all_check.isHidden() and several.apply_to_all
    assert several.apply_all_check.text() == "Apply these settings to the other 2 files"
    assert several.windowTitle() == "Import small.csv (and 2 more files)"
    several.set_apply_to_all(False)
    assert not several.apply_to_all
