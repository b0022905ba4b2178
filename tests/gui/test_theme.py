"""View > Theme: light and dark, applied at once to the palette and every plot, remembered."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from faultlens.core.recording import Recording
from faultlens.gui import settings as gui_settings
from faultlens.gui import theme
from faultlens.gui.app import configure_pyqtgraph
from faultlens.gui.signal_view import SignalView


@pytest.fixture(autouse=True)
def back_to_system() -> Iterator[None]:
    """The theme is the application's: every test leaves it as the others expect it."""
    yield
    theme.set_theme("system")
    configure_pyqtgraph()


def _lightness(colour: QColor) -> float:
    return colour.lightnessF()


def _plot_pixel(view: SignalView, name: str) -> QColor:
    """A pixel of ``name``'s plot area away from its trace and its name box."""
    plot = view.plots[name]
    rect = plot.vb.sceneBoundingRect()
    point = view.graphics.mapFromScene(rect.right() - 3, rect.bottom() - 2)
    return view.graphics.grab().toImage().pixelColor(point)


def test_dark_theme_recolours_the_open_view_at_once(qtbot: QtBot) -> None:
    configure_pyqtgraph()
    # A flat trace at the bottom edge of its range leaves the top right corner empty.
    data = np.zeros((200, 2), dtype=np.float32)
    data[:, 1] = np.linspace(0, 1, 200)
    view = SignalView()
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.set_recording(Recording.from_arrays(data, ["flat", "ramp"], labels=None))
    view.show()
    qtbot.waitExposed(view)
    view.plots["flat"].setYRange(0, 1, padding=0)
    assert _lightness(_plot_pixel(view, "flat")) > 0.9

    theme.set_theme("dark")
    dark = theme.DARK
    assert theme.current() is dark and theme.choice() == "dark"
    # The Qt palette, and each plot's background, axes, curves and name boxes.
    palette = QApplication.instance().palette()  # type: ignore[union-attr]
    assert _lightness(palette.color(QPalette.ColorRole.Window)) < 0.3
    assert _lightness(palette.color(QPalette.ColorRole.Text)) > 0.8
    assert _lightness(_plot_pixel(view, "flat")) < 0.2
    axis = view.plots["ramp"].getAxis("left")
    assert axis.pen().color() == QColor(dark.foreground)
    assert axis.textPen().color() == QColor(dark.foreground)
    assert view.curves["ramp"].opts["pen"].color() == QColor(dark.curve)
    label = view.plots["ramp"].channel_name
    assert label.opts["color"] == dark.name_text and label.fill.color() == dark.name_fill
    assert "#22252b" in view.cursors.readout.styleSheet()
    # Marks and new recordings come in the theme in use.
    view.set_recording(Recording.from_arrays(data, ["a", "b"]))
    assert view.curves["a"].opts["pen"].color() == QColor(dark.curve)
    assert view.plots["a"].channel_name.mark_colour == dark.mark

    theme.set_theme("light")
    assert _lightness(_plot_pixel(view, "a")) > 0.9
    assert view.curves["a"].opts["pen"].color() == QColor(theme.LIGHT.curve)
    assert view.plots["a"].getAxis("left").pen().color() == QColor(theme.LIGHT.foreground)


def test_the_theme_menu_applies_and_remembers_the_choice(qtbot: QtBot) -> None:
    from faultlens.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    assert win.actions["theme_system"].isChecked()
    win.actions["theme_dark"].trigger()
    assert theme.current() is theme.DARK and gui_settings.theme_choice() == "dark"
    assert win.actions["theme_dark"].isChecked() and not win.actions["theme_light"].isChecked()
    assert win.signal_view.graphics.backgroundBrush().color() == QColor(theme.DARK.background)
    # The next session opens in it.
    theme.set_theme("light")
    again = MainWindow()
    qtbot.addWidget(again)
    assert theme.current() is theme.DARK and again.actions["theme_dark"].isChecked()
    win.close()
    again.close()
