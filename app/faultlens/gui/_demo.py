"""Open one widget on the demo recording by itself (``python -m faultlens.gui.<module>``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from faultlens.core.recording import Recording

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.scan import ScanResult


def demo_recording() -> Recording:
    """The bundled demo recording; a small synthetic one if it is not installed yet."""
    from faultlens.core.resources import demo_recording_path

    try:
        path = demo_recording_path()
    except FileNotFoundError:
        return synthetic_recording()
    from faultlens.core.io import load_recording

    return load_recording(path)


def synthetic_recording(rows: int = 3000, seed: int = 0) -> Recording:
    """A pump-like recording with two labelled fault stretches (for when no demo is shipped)."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows, dtype=np.float64)
    labels = np.array(["0"] * rows, dtype=object)
    data = np.stack(
        [
            np.sin(t / 40.0) + 0.1 * rng.standard_normal(rows),
            np.cos(t / 90.0) + 0.1 * rng.standard_normal(rows),
            0.5 * rng.standard_normal(rows),
        ],
        axis=1,
    )
    for start in (rows // 3, 2 * rows // 3):
        data[start : start + rows // 20, 0] += 2.5
        labels[start : start + rows // 20] = "1"
    return Recording.from_arrays(
        data,
        ["Pressure", "Current", "Vibration"],
        labels=labels,
        time=1.5e9 + t,
        time_kind="datetime",
        path="synthetic_pump.csv",
    )


def demo_model() -> TrainedModel | None:
    """The bundled demo model, or None if it is not installed."""
    from faultlens.core.resources import demo_model_path

    try:
        path = demo_model_path()
    except FileNotFoundError:
        return None
    from faultlens.core.checkpoint import load_model

    return load_model(path)


def demo_scan(recording: Recording, model: TrainedModel) -> ScanResult:
    from faultlens.core.progress import run_to_end
    from faultlens.core.scan import scan

    return run_to_end(scan(model, recording))


def demo_main(
    build: Callable[[Recording, TrainedModel | None, ScanResult | None], QWidget],
) -> None:
    """Build a widget with ``build(recording, model, scan)``, show it and run the app."""
    from PySide6.QtCore import QTimer

    from faultlens.gui.app import ensure_app

    app = ensure_app(sys.argv)
    recording = demo_recording()
    model = demo_model()
    scan = demo_scan(recording, model) if model is not None else None
    widget = build(recording, model, scan)
    widget.resize(1200, 800)
    widget.show()
    if os.environ.get("FAULTLENS_DEMO_QUIT"):
        # Smoke tests: prove the module opens, then leave the event loop at once.
        QTimer.singleShot(0, app.quit)
    code = app.exec()
    # What a main window's close does for its runner: a task still running (the Inspector's
    # explain) is stopped before its QThread is destroyed at exit (Qt aborts otherwise).
    from faultlens.gui.tasks import TaskRunner

    for runner in widget.findChildren(TaskRunner):
        runner.shutdown()
    sys.exit(code)
