"""The Inspector dock: a click on the signals, an event or a key picks the row; what it shows
is the core's explain() of that row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from faultlens.core.checkpoint import TrainedModel, load_model
from faultlens.core.errors import FaultLensError
from faultlens.core.explain import explain
from faultlens.core.io import load_recording
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording
from faultlens.core.scan import scan
from faultlens.gui import inspector as inspector_module
from faultlens.gui.inspector import event_peak_row
from faultlens.gui.main_window import MainWindow


@pytest.fixture
def opened(
    qtbot: QtBot, pump_csv: Path, trained_model_path: Path
) -> tuple[MainWindow, Recording, TrainedModel]:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    recording = load_recording(pump_csv)
    model = load_model(trained_model_path)
    win.add_recording(recording)
    win.set_model(model)
    yield win, recording, model
    win.inspector.wait()


def _shown(qtbot: QtBot, win: MainWindow, row: int) -> None:
    qtbot.waitUntil(
        lambda: win.inspector.explanation is not None and win.inspector.explanation.row == row,
        timeout=10_000,
    )
    win.inspector.wait()


def _click_row(qtbot: QtBot, win: MainWindow, plot_name: str, row: int) -> None:
    """A real left click on the channel plot ``plot_name`` at ``row``'s time."""
    sv = win.signal_view
    plot = sv.plots[plot_name]
    y = float(np.mean(plot.vb.viewRange()[1]))
    scene = plot.vb.mapViewToScene(QPointF(float(sv.x[row]), y))
    pos = sv.graphics.mapFromScene(scene)
    qtbot.mouseClick(sv.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_a_click_on_a_plot_inspects_that_row(
    qtbot: QtBot, opened: tuple[MainWindow, Recording, TrainedModel]
) -> None:
    win, recording, model = opened
    sv = win.signal_view
    row = 300
    sv.zoom_to_rows(row - 20, row + 20, context=0.0)
    _click_row(qtbot, win, "pressure", row)
    _shown(qtbot, win, row)
    ex = win.inspector.explanation
    assert ex is not None
    expected = explain(model, recording, row)
    np.testing.assert_allclose(ex.probabilities, expected.probabilities, atol=1e-5)
    assert f"Row {row}" in win.inspector.title.text()
    assert recording.format_time(row) in win.inspector.title.text()
    assert win.docks["Inspector"].isVisible()
    # The signal view marks the window that decided.
    assert win.inspected_marker.rows == (row - model.window + 1, row)
    # The traces are the window's values, the heat band its attention relative to uniform.
    shown = win.inspector.shown_channels()
    _x, y = win.inspector.window_plots.curves[0].getData()
    np.testing.assert_allclose(y, ex.values[:, shown[0]], rtol=1e-6)
    band = win.inspector.window_plots.bands[0].image
    np.testing.assert_allclose(band[0], ex.attention_received * model.window, rtol=1e-5)


def test_keys_step_a_row_and_a_window(
    qtbot: QtBot, opened: tuple[MainWindow, Recording, TrainedModel]
) -> None:
    win, recording, model = opened
    win.inspect_row(200)
    _shown(qtbot, win, 200)
    inspector = win.inspector
    assert inspector.hasFocus()
    qtbot.keyClick(inspector, Qt.Key.Key_Right)
    _shown(qtbot, win, 201)
    qtbot.keyClick(inspector, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    _shown(qtbot, win, 201 - model.window)
    np.testing.assert_allclose(
        inspector.explanation.probabilities,  # type: ignore[union-attr]
        explain(model, recording, 201 - model.window).probabilities,
        atol=1e-5,
    )
    # Rows before the first full window have no decision: stepping stops at the first one.
    for _ in range(20):
        qtbot.keyClick(inspector, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    _shown(qtbot, win, model.window - 1)


def test_a_row_without_a_decision_says_why(
    qtbot: QtBot, opened: tuple[MainWindow, Recording, TrainedModel]
) -> None:
    win, _recording, model = opened
    win.inspect_row(3)
    assert win.inspector.explanation is None
    assert "Row 3 has no decision" in win.inspector.title.text()
    assert f"rows {model.window - 1} to" in win.inspector.title.text()
    assert win.inspected_marker.rows is None


def test_selecting_an_event_inspects_its_peak(
    qtbot: QtBot, opened: tuple[MainWindow, Recording, TrainedModel]
) -> None:
    win, recording, model = opened
    entry = win.session.current
    assert entry is not None
    result = run_to_end(scan(model, recording))
    assert result.events, "the tiny model flags the pump's level shifts"
    win.scan_controller.apply(entry.id, result)
    win.show_inspector()
    event = result.events[-1]
    win.event_table.select_event(len(result.events) - 1)
    peak = event_peak_row(result.fault_probability, event)
    _shown(qtbot, win, peak)
    assert result.fault_probability[peak] == pytest.approx(
        np.nanmax(result.fault_probability[event.start_row : event.end_row + 1])
    )
    # The event's top channels come first.
    shown = [model.channels[c] for c in win.inspector.shown_channels()]
    assert shown[: len(event.top_channels)] == list(event.top_channels)


def test_head_combo_and_all_channels(
    qtbot: QtBot,
    opened: tuple[MainWindow, Recording, TrainedModel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    win, _recording, _model = opened
    win.inspect_row(250)
    _shown(qtbot, win, 250)
    ex = win.inspector.explanation
    assert ex is not None
    plots = win.inspector.decision_plots
    mean = plots.matrix_image.image.copy()
    np.testing.assert_allclose(mean, ex.attention.mean(axis=0), rtol=1e-6)
    combo = win.inspector.head_combo
    assert combo.count() == ex.attention.shape[0] + 1
    combo.setCurrentIndex(2)
    assert plots.head == 1
    np.testing.assert_allclose(plots.matrix_image.image, ex.attention[1], rtol=1e-6)
    assert not np.allclose(plots.matrix_image.image, mean)
    # "Show all channels": every model channel as a trace, and as a heatmap row, in order.
    # (The pump has three channels, the default count: show one by default here.)
    monkeypatch.setattr(inspector_module, "DEFAULT_CHANNELS", 1)
    win.inspector._draw()
    assert len(win.inspector.window_plots.traces) == 1
    win.inspector.all_channels.setChecked(True)
    shown = win.inspector.shown_channels()
    assert sorted(shown) == list(range(len(ex.channels)))
    assert win.inspector.window_plots.channels == [ex.channels[c] for c in shown]
    image = win.inspector.window_plots.contribution_image.image
    np.testing.assert_allclose(image[::-1], ex.contribution[shown], rtol=1e-6)


@pytest.mark.slow
def test_cli_screenshot_with_the_inspector_open(
    qtbot: QtBot, tmp_path: Path, pump_csv: Path, trained_model_path: Path
) -> None:
    from faultlens.cli import gui as cli_gui

    png = tmp_path / "inspect.png"
    assert cli_gui.run_gui(pump_csv, trained_model_path, png, "2024-05-01T08:05:00") == 0
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1600, 1000)
    with pytest.raises(FaultLensError, match="--inspect yesterday"):
        cli_gui.run_gui(pump_csv, trained_model_path, tmp_path / "no.png", "yesterday")
    assert not (tmp_path / "no.png").exists()


def test_hotspot_density_is_relative_to_the_usual_count() -> None:
    from faultlens.gui.tracks import hotspot_density

    counts = np.full(200, 2.0, dtype=np.float32)
    np.testing.assert_allclose(hotspot_density(counts, 16), 1.0)
    counts[100] = 2.0 + 16 * 4.0  # one row where many more features peak
    counts[150] = np.nan
    density = hotspot_density(counts, 16)
    assert np.isnan(density[150])
    assert density[100] > 1.5 and abs(density[20] - density[180]) < 1e-6
    assert np.nanmean(density) == pytest.approx(1.0, abs=0.05)
