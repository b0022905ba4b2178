"""Hundreds of pan/zoom redraws of a long recording must not crash the interpreter.

PySide6 6.12.0 aborted with "Fatal Python error: none_dealloc" in AxisItem.drawPicture within
a few dozen redraws of a panned plot (it is excluded in pyproject.toml); this catches a
recurrence on whatever version is installed.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from faultlens.core.recording import Recording
from faultlens.gui.app import configure_pyqtgraph
from faultlens.gui.signal_view import SignalView

REDRAWS = 300


def test_pan_and_zoom_through_hundreds_of_redraws(qtbot: QtBot) -> None:
    configure_pyqtgraph()
    rows = 200_000
    rng = np.random.default_rng(0)
    data = np.cumsum(rng.standard_normal((rows, 4)), axis=0).astype(np.float32)
    data[5000:5100, 1] = np.nan
    time = 1.7e9 + np.arange(rows, dtype=np.float64)
    recording = Recording.from_arrays(
        data, ["a", "b", "c", "d"], time=time, time_kind="datetime", path="stress.csv"
    )
    view = SignalView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.set_recording(recording)
    view.show()
    qtbot.waitExposed(view)
    view.set_x_range(time[0], time[0] + 20_000)
    for i in range(REDRAWS):
        if i % 25 == 0:
            view.zoom(0.5 if (i // 25) % 2 == 0 else 2.0)
        else:
            view.scroll(0.05 if (i // 50) % 2 == 0 else -0.05)
        view.graphics.viewport().repaint()
        QApplication.processEvents()
    x0, x1 = view.x_range()
    assert time[0] - 1 <= x0 < x1 <= time[-1] + 1
    drawn_x, _ = view.curves["a"].getData()
    assert drawn_x is not None and len(drawn_x) > 0
