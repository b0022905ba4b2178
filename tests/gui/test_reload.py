"""File > Reload (F5) and opening a file that is open already and has grown on disk: the
recording is read again into its own entry (no duplicate), its review is kept (the reviewed
rows are unchanged) and the loaded model rescans it (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from faultlens.core import review_file
from faultlens.core.checkpoint import load_model
from faultlens.gui.main_window import MainWindow

TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def _review_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(review_file.REVIEW_DIR_ENV, str(tmp_path / "user-data"))


@pytest.fixture
def window(qtbot: QtBot) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _logger(tmp_path: Path, make_pump_csv) -> tuple[Path, list[str]]:
    """A logger's CSV holding its first 301 lines (header + 300 rows) of 601; the rest are
    appended by the test."""
    full = make_pump_csv(tmp_path / "full.csv", rows=600, seed=4).read_text().splitlines()
    path = tmp_path / "logger.csv"
    path.write_text("\n".join(full[:301]) + "\n")
    return path, full


def _append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def test_reopening_a_grown_file_reloads_it_in_place_and_keeps_its_review(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, error_boxes: list, make_pump_csv
) -> None:
    path, full = _logger(tmp_path, make_pump_csv)
    assert window.load_file(path) is not None
    entry = window.session.current
    review = window.review_controller.review
    assert review is not None
    region = review.add_region(100, 140, "1", "pressure step")
    x_range = window.signal_view.x_range()

    _append(path, full[301:451])  # 150 more rows
    assert window.open_file(path) is None  # no import dialog: reloaded
    qtbot.waitUntil(lambda: window.session.current.recording.n_rows == 450, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.tasks.running(), timeout=TIMEOUT_MS)
    assert window.session.ids == [entry.id]  # the same entry, no duplicate
    assert window.signal_view.recording is window.session.current.recording
    assert window.signal_view.x_range() == pytest.approx(x_range)
    kept = window.review_controller.review
    assert kept is not None and kept is not review
    assert [(r.region_id, r.start_row, r.end_row) for r in kept.regions] == [(region, 100, 140)]
    assert "450 rows (+150 rows)" in window.statusBar().currentMessage()
    assert error_boxes == []  # no "belongs to a different content"


@pytest.mark.slow
def test_f5_reloads_and_the_loaded_model_rescans(
    qtbot: QtBot,
    window: MainWindow,
    tmp_path: Path,
    trained_model_path: Path,
    error_boxes: list,
    make_pump_csv,
) -> None:
    path, full = _logger(tmp_path, make_pump_csv)
    window.load_file(path)
    entry = window.session.current
    window.set_model(load_model(trained_model_path))
    window.scan_controller.start()
    qtbot.waitUntil(lambda: window.current_scan is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.tasks.running(), timeout=TIMEOUT_MS)
    assert len(window.current_scan.fault_probability) == 300

    _append(path, full[301:])
    reload = window.actions["reload"]
    assert reload.isEnabled() and [s.toString() for s in reload.shortcuts()] == ["F5"]
    reload.trigger()
    qtbot.waitUntil(
        lambda: (
            window.current_scan is not None and len(window.current_scan.fault_probability) == 600
        ),
        timeout=TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: not window.tasks.running(), timeout=TIMEOUT_MS)
    assert window.session.ids == [entry.id] and window.session.current.recording.n_rows == 600
    assert error_boxes == []

    path.unlink()  # a file that is gone says so, and nothing changes
    assert window.reload_recording() is None
    assert error_boxes and "the file is gone" in error_boxes[-1][1]
    assert window.session.current.recording.n_rows == 600
