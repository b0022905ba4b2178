"""The crosshair readout and the measurement cursors, on a real SignalView."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from faultlens.core.recording import Recording
from faultlens.gui.app import configure_pyqtgraph
from faultlens.gui.cursors import CROSSHAIR_HINT, Cursors, delta_text, time_text
from faultlens.gui.signal_view import SignalView


def _view(qtbot: QtBot, recording: Recording) -> SignalView:
    configure_pyqtgraph()
    view = SignalView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.set_recording(recording)
    view.show()
    qtbot.waitExposed(view)
    return view


def _seconds_recording(rows: int = 200) -> Recording:
    t = np.arange(rows) * 0.5  # 0.0, 0.5, ... seconds
    data = np.stack([np.arange(rows) * 10.0, -np.arange(rows) * 1.0], axis=1)
    return Recording.from_arrays(data, ["speed", "load"], time=t)


def _viewport_point(view: SignalView, plot: pg.PlotItem, x: float) -> QPoint:
    """The viewport pixel over ``plot`` at time ``x``, halfway up the plot."""
    y0, y1 = plot.vb.viewRange()[1]
    scene = plot.vb.mapViewToScene(QPointF(x, (y0 + y1) / 2))
    return view.graphics.mapFromScene(scene)


def _shown(cursors: Cursors) -> str:
    """The readout strip's text, its items' non-breaking spaces read as spaces."""
    return cursors.readout.text().replace("\u00a0", " ")


def _infinite_lines(view: SignalView) -> int:
    return sum(isinstance(i, pg.InfiniteLine) for p in view._all_plots() for i in p.items)


def test_crosshair_reads_the_row_under_the_mouse(qtbot: QtBot) -> None:
    view = _view(qtbot, _seconds_recording())
    cursors = view.cursors
    view.set_x_range(0, 99.5)
    # Off by default: no line in any plot, no readout, no connection to the mouse.
    assert not cursors.crosshair_enabled
    assert not cursors.readout.isVisible()
    before = _infinite_lines(view)  # the tracks' own (the threshold)
    cursors.set_crosshair_enabled(True)
    plot = view.plots["load"]
    QTest.mouseMove(view.graphics.viewport(), _viewport_point(view, plot, 30.2))
    qtbot.waitUntil(lambda: cursors.crosshair_row is not None)
    assert cursors.crosshair_row == 60  # 30.2 s is nearest to row 60 (30.0 s)
    text = _shown(cursors)
    assert cursors.readout.isVisible()
    assert "30.0 s  (row 60)" in text
    assert "speed  600    load  -60" in text  # in the plots' order, apart
    # The line sits on that row in every plot, the tracks' too.
    lines = cursors._crosshair
    assert set(lines) == set(view._all_plots())
    assert all(line.value() == 30.0 and line.isVisible() for line in lines.values())
    # A hidden channel leaves the readout.
    view.set_channel_visible("speed", False)
    assert "speed" not in _shown(cursors)
    # Switched off: the lines leave the plots and the readout hides.
    cursors.set_crosshair_enabled(False)
    assert not lines and not cursors.readout.isVisible()
    assert _infinite_lines(view) == before


def test_measurement_cursors_give_delta_t_and_changes(qtbot: QtBot) -> None:
    view = _view(qtbot, _seconds_recording())
    cursors = view.cursors
    cursors.set_measure_enabled(True)
    first = cursors._measure[0][view.plots["speed"]]
    # Dragging one line (setting its value, as a drag does) moves it in every plot.
    first.setValue(10.1)
    assert all(line.value() == 10.1 for line in cursors._measure[0].values())
    cursors._measure[1][view.plots["load"]].setValue(25.0)
    text = _shown(cursors)
    assert "t1 10.0 s" in text and "t2 25.0 s" in text
    assert "Δt 15.0 s" in text
    # Row 20 -> row 50: speed 200 -> 500, load -20 -> -50.
    assert "speed  200 → 500  Δ 300" in text
    assert "load  -20 → -50  Δ -30" in text
    # Off: gone from every plot.
    cursors.set_measure_enabled(False)
    assert not cursors._measure[0] and not cursors.readout.isVisible()


def test_a_real_drag_moves_a_cursor(qtbot: QtBot) -> None:
    view = _view(qtbot, _seconds_recording())
    cursors = view.cursors
    view.set_x_range(0, 99.5)
    cursors.set_measure_enabled(True)
    cursors.set_measure_positions(20.0, 70.0)
    plot = view.plots["speed"]
    viewport = view.graphics.viewport()
    start, end = _viewport_point(view, plot, 20.0), _viewport_point(view, plot, 40.0)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, 11):
        QTest.mouseMove(viewport, start + (end - start) * (i / 10))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    qtbot.waitUntil(lambda: abs(cursors.measure_x[0] - 40.0) < 0.5)
    assert "Δt 30.0 s" in _shown(cursors)


def test_rows_without_a_time_axis_and_datetimes() -> None:
    rows = Recording.from_arrays(np.zeros((5, 1)), ["a"])
    assert time_text(rows, 3.0) == "row 3"
    assert delta_text(rows, 3.0) == "3 rows"
    secs = Recording.from_arrays(np.zeros((5, 1)), ["a"], time=np.arange(5) * 0.25 + 770)
    assert time_text(secs, 770.25) == "12:50.25"
    assert delta_text(secs, 90.5) == "1:30.50 (90.50 s)"
    clock = Recording.from_arrays(
        np.zeros((5, 1)), ["a"], time=1.7e9 + np.arange(5) * 0.1, time_kind="datetime"
    )
    clock.utc_offset_s = 3600
    assert time_text(clock, 1.7e9 + 0.2) == "2023-11-14 23:13:20.2"


def test_measure_survives_a_new_recording(qtbot: QtBot) -> None:
    view = _view(qtbot, _seconds_recording())
    view.cursors.set_measure_enabled(True)
    view.set_recording(_seconds_recording(100))
    lines = view.cursors._measure[0]
    assert set(lines) == set(view._all_plots())
    assert all(line in plot.items for plot, line in lines.items())
    assert "Δt" in _shown(view.cursors)


def test_changes_read_as_the_values_do(qtbot: QtBot) -> None:
    # float32 398.8 and 399.5 differ by 0.70001221: the readout says 0.7, and "–" for a gap.
    data = np.array([[398.8, 1.0], [399.5, np.nan]], dtype=np.float32)
    view = _view(qtbot, Recording.from_arrays(data, ["volts", "gap"], time=np.array([0.0, 1.0])))
    view.cursors.set_measure_enabled(True)
    view.cursors.set_measure_positions(0.0, 1.0)
    text = _shown(view.cursors)
    assert "volts  398.8 → 399.5  Δ 0.7    " in text
    assert text.endswith("gap  1 → –  Δ –")


def test_the_readout_sits_under_the_plots_and_covers_no_data(qtbot: QtBot) -> None:
    """Issue 14, point 5: the readout box covered the top right of the first plots; now it
    is a strip under the plot area, steady while the mouse comes and goes, and its items
    wrap between items, never inside one."""
    names = [f"channel_{i:02d}" for i in range(12)]
    data = np.random.default_rng(0).standard_normal((300, 12)).astype(np.float32)
    view = _view(qtbot, Recording.from_arrays(data, names, time=np.arange(300) * 0.5))
    cursors = view.cursors
    cursors.set_crosshair_enabled(True)
    # On, with the mouse elsewhere: the strip says what to do (and keeps its place).
    assert cursors.readout.isVisible() and _shown(cursors) == CROSSHAIR_HINT
    plot = view.plots["channel_00"]
    # The strip took its height from the plots: let the layout settle before pointing.
    qtbot.waitUntil(lambda: view.plot_scroll.geometry().bottom() < cursors.readout.y())
    QApplication.processEvents()
    sized = cursors.readout.minimumHeight()  # already as tall as the values will need
    QTest.mouseMove(view.graphics.viewport(), _viewport_point(view, plot, 140.0))
    qtbot.waitUntil(lambda: cursors.crosshair_row == 280)
    qtbot.waitUntil(lambda: cursors.readout.height() >= cursors.readout.minimumHeight() > 0)
    strip = cursors.readout.geometry()
    scroll = view.plot_scroll.geometry()
    assert strip.top() >= scroll.bottom() and strip.width() >= 0.9 * scroll.width()
    # Nothing of it overlaps a plot: no widget lies over the plots' viewport.
    viewport = view.plot_scroll.viewport()
    top_left = viewport.mapTo(view, viewport.rect().topLeft())
    area = viewport.rect().translated(top_left)
    assert (
        not cursors.readout.geometry()
        .translated(cursors.readout.parentWidget().mapTo(view, pg.QtCore.QPoint(0, 0)))
        .intersects(area)
    )
    # Twelve channels at 900 px wrap over lines, each item whole on one line.
    lines = _shown(cursors).split("\n")
    assert len(lines) == 1  # one paragraph: the crosshair's
    metrics = cursors.readout.fontMetrics()
    assert cursors.readout.height() >= 2 * metrics.height()  # wrapped onto several lines
    assert "\u00a0" in cursors.readout.text() and "channel_05\u00a0\u00a0" in cursors.readout.text()
    height = cursors.readout.height()
    assert cursors.readout.minimumHeight() == sized  # entering the plots moved nothing
    QApplication.processEvents()
    QTest.mouseMove(view.graphics.viewport(), _viewport_point(view, plot, 20.0))
    qtbot.waitUntil(lambda: cursors.crosshair_row == 40)
    assert cursors.readout.height() == height  # the plots above do not jump


def test_with_many_channels_the_readout_lists_those_in_sight(qtbot: QtBot) -> None:
    """Hundreds of channels would make the strip taller than the window: it lists the channels whose
    plots are in sight, says how many are scrolled away, and follows the scrolling."""
    names = [f"c{i:03d}" for i in range(30)]
    data = np.tile(np.arange(30, dtype=np.float32), (100, 1))  # channel i reads i
    view = _view(qtbot, Recording.from_arrays(data, names))
    cursors = view.cursors
    cursors.set_measure_enabled(True)
    qtbot.waitUntil(lambda: view.graphics.height() > view.plot_scroll.viewport().height())
    in_sight = view.channels_in_sight()
    assert in_sight[0] == "c000" and 3 < len(in_sight) < 30
    text = _shown(cursors)
    assert f"(+{30 - len(in_sight)} channels scrolled out of sight)" in text
    assert "c000  0 → 0" in text and "c029" not in text
    # Scrolled to the bottom: the last channels are read instead.
    bar = view.plot_scroll.verticalScrollBar()
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: "c029  29 → 29" in _shown(cursors))
    assert "c000 " not in _shown(cursors)
    assert cursors.readout.height() < view.height() / 3
