"""Qt fixtures for the GUI tests: isolated settings, no leftover threads or timers, small real
files."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The offscreen platform plugin warns "This plugin does not support
    # propagateSizeHints()" whenever a top-level window is shown; it is not our warning.
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.qt_log_ignore("does not support propagateSizeHints"))


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test reads and writes its own settings file, never the user's."""
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("FAULTLENS_SETTINGS", str(path))
    return path


class LeakCheck:
    """What a test leaves running: task threads, and active QTimers owned by windows that
    did not exist before it, at any depth (pyqtgraph's or ours: a timer firing into a closed
    widget after the test is a bug the test did not see). Windows, not every widget: what a
    test builds is a window (a widget without a parent), and wrapping the few top-level
    widgets costs far less than wrapping all of them after every test."""

    @staticmethod
    @contextlib.contextmanager
    def collector_held() -> Iterator[None]:
        """Hold Python's cyclic collector off while widget wrappers are in hand.

        ``QApplication.topLevelWidgets()`` wraps a copy of Qt's widget list; a collection during
        that (or while the wrappers are used) can delete a Python-owned widget caught in a
        reference cycle, leaving dangling pointers in the copy: a segfault, seen in about
        one run in three before the collector was held.
        """
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if was_enabled:
                gc.enable()

    @staticmethod
    def widget_keys() -> set[int]:
        """The live windows, by C++ address (wrappers come and go, the objects do not)."""
        with LeakCheck.collector_held():
            return {shiboken6.getCppPointer(w)[0] for w in QApplication.topLevelWidgets()}

    @staticmethod
    def active_timers(before: set[int]) -> list[QTimer]:
        """Active timers owned (at any depth) by windows created since ``before``; use them
        under ``collector_held``."""
        found: dict[int, QTimer] = {}
        with LeakCheck.collector_held():
            for widget in QApplication.topLevelWidgets():
                if shiboken6.getCppPointer(widget)[0] in before:
                    continue
                for timer in widget.findChildren(QTimer):
                    if timer.isActive():
                        found[shiboken6.getCppPointer(timer)[0]] = timer
        return list(found.values())

    @staticmethod
    def running_threads() -> list[QThread]:
        from faultlens.gui.tasks import running_threads

        return running_threads()


@pytest.fixture
def leak_check() -> LeakCheck:
    return LeakCheck()


@pytest.fixture(autouse=True)
def nothing_left_running(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves a task thread or a widget's QTimer running (after stopping
    them, so the next test starts clean)."""
    before = LeakCheck.widget_keys()
    yield
    threads = LeakCheck.running_threads()
    for thread in threads:
        thread.quit()
        thread.wait(10_000)
    with LeakCheck.collector_held():
        timers = LeakCheck.active_timers(before)
        described = [
            f"{t.objectName() or 'QTimer'} of {type(t.parent()).__name__} "
            f"({t.interval()} ms{', single shot' if t.isSingleShot() else ''})"
            for t in timers
        ]
        for timer in timers:
            timer.stop()
        del timers
    assert not threads, f"test left task threads running: {[t.objectName() for t in threads]}"
    assert not described, f"test left timers running: {described}"


def write_pump_csv(path: Path, rows: int = 480, seed: int = 0, with_gap: bool = True) -> Path:
    """A small pump-like CSV with ISO timestamps, 3 channels and a 0/1 label column.

    Faults are level shifts on "pressure" (a task the model learns in a couple of epochs).
    """
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-05-01T08:00:00")
    times = start + np.arange(rows).astype("timedelta64[s]")
    pressure = np.sin(np.arange(rows) / 15.0) + 0.1 * rng.standard_normal(rows)
    current = 0.5 * np.cos(np.arange(rows) / 30.0) + 0.1 * rng.standard_normal(rows)
    flow = 3.0 + 0.1 * rng.standard_normal(rows)
    label = np.zeros(rows, dtype=int)
    for s in range(rows // 6, rows, rows // 3):
        pressure[s : s + rows // 10] += 3.0
        flow[s : s + rows // 10] -= 1.0
        label[s : s + rows // 10] = 1
    lines = ["time,pressure,current,flow,label"]
    for i in range(rows):
        p = "" if with_gap and 40 <= i < 44 else f"{pressure[i]:.5f}"
        lines.append(f"{times[i]},{p},{current[i]:.5f},{flow[i]:.5f},{label[i]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def pump_csv(tmp_path: Path) -> Path:
    return write_pump_csv(tmp_path / "pump.csv")


@pytest.fixture(scope="session")
def trained_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained once (headless, through the real engine) on a pump CSV."""
    import torch

    from faultlens.core.checkpoint import save_model
    from faultlens.core.io import load_recording
    from faultlens.core.options import TrainOptions
    from faultlens.core.progress import run_to_end
    from faultlens.core.training import train

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("model")
    recording = load_recording(write_pump_csv(folder / "train.csv", rows=600, seed=1))
    options = TrainOptions(window=16, stride=4, epochs=3, hidden=16, classifier_hidden=16, seed=0)
    result = run_to_end(train([recording], options))
    path = folder / "tiny.flmodel"
    save_model(result.model, path)
    return path


@pytest.fixture
def error_boxes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Record (title, message, details) of every error dialog instead of showing it."""
    from faultlens.gui import app as gui_app

    calls: list[tuple[str, str, str]] = []

    def record(parent: object, title: str, message: str, details: str = "") -> None:
        calls.append((title, message, details))

    monkeypatch.setattr(gui_app, "show_error", record)
    return calls


@pytest.fixture
def make_pump_csv() -> Callable[..., Path]:
    """``make_pump_csv(path, rows=..., seed=...)`` writes a pump CSV like ``pump_csv``."""
    return write_pump_csv
