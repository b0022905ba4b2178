"""Light and dark themes: the Qt palette and every plot's colours, switched at once.

View > Theme offers System / Light / Dark (persisted by the main window). "System" follows
the desktop's colour scheme where Qt can read it (Qt 6.5+ ``QStyleHints.colorScheme``),
else light. :func:`set_theme` sets the application palette (Fusion for an explicit choice:
the native Windows style ignores palettes), pyqtgraph's defaults for plots made later, and
restyles every plot already open (background, axes, untinted labels and legends); views
with colours of their own (the signal view's curves, names and shading) follow
``notifier().changed``.

The colours were picked to read on both: the fault classes' Okabe-Ito colours and the
threshold orange stay, the trace blue, the label band grey and the name boxes change.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

CHOICES = ("system", "light", "dark")


@dataclass(frozen=True)
class Theme:
    """The colours of one theme (CSS names or ``#rrggbb``; ``*_rgba`` as 4-tuples)."""

    name: str  # "light" or "dark"
    background: str  # plot background
    foreground: str  # axes, tick labels, plain plot text
    curve: str  # the channels' traces
    name_text: str  # a channel's name in its plot's corner
    name_fill_rgba: tuple[int, int, int, int]  # the box under it (the trace shows through)
    mark: str  # an event's share on a channel's name and in the channel list
    track_text: str  # the tracks' titles
    track_curve: str  # the fault probability line
    label_rgba: tuple[int, int, int, int]  # the file's labelled stretches (the band on top)
    crosshair: str
    readout_css: str  # the cursor readout strip's style sheet

    @property
    def name_fill(self) -> QColor:
        return QColor(*self.name_fill_rgba)

    @property
    def label_colour(self) -> QColor:
        return QColor(*self.label_rgba)


LIGHT = Theme(
    name="light",
    background="#ffffff",
    foreground="#000000",
    curve="#1f3b73",
    name_text="#111111",
    name_fill_rgba=(255, 255, 255, 191),
    mark="#C2185B",
    track_text="#333333",
    track_curve="#222222",
    label_rgba=(120, 120, 120, 45),
    crosshair="#5a5a5a",
    readout_css="background: #f4f4f4; color: #111; border-top: 1px solid #bbb;",
)
DARK = Theme(
    name="dark",
    background="#16181d",
    foreground="#c8ccd4",
    curve="#7fb2ff",
    name_text="#e8e8e8",
    name_fill_rgba=(22, 24, 29, 200),
    mark="#ff79b0",
    track_text="#c8ccd4",
    track_curve="#e0e0e0",
    label_rgba=(200, 200, 200, 60),
    crosshair="#a0a0a0",
    readout_css="background: #22252b; color: #e0e0e0; border-top: 1px solid #444;",
)


class _Notifier(QObject):
    changed = Signal(object)  # the Theme now in use


_notifier: _Notifier | None = None
_current = LIGHT
_choice = "system"
_original: tuple[str, QPalette] | None = None  # the style and palette before any choice


def notifier() -> _Notifier:
    """The object whose ``changed(theme)`` tells views with colours of their own."""
    global _notifier
    if _notifier is None:
        _notifier = _Notifier()
    return _notifier


def current() -> Theme:
    """The theme in use (light until :func:`set_theme` says otherwise)."""
    return _current


def choice() -> str:
    """What the user chose: "system", "light" or "dark"."""
    return _choice


def system_is_dark() -> bool:
    """Whether the desktop asks for dark colours (False where Qt cannot tell)."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)  # Qt 6.5+
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def resolve(name: str) -> Theme:
    """The theme a choice stands for (an unknown name: "system")."""
    if name == "dark" or (name not in CHOICES[1:] and system_is_dark()):
        return DARK
    return LIGHT


def dark_palette() -> QPalette:
    """A dark Fusion palette with readable disabled text, links and selections."""
    p = QPalette()
    window, base, text = QColor(37, 40, 46), QColor(26, 28, 33), QColor(224, 224, 224)
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    for r, colour in (
        (role.Window, window),
        (role.WindowText, text),
        (role.Base, base),
        (role.AlternateBase, QColor(44, 48, 55)),
        (role.ToolTipBase, QColor(50, 54, 62)),
        (role.ToolTipText, text),
        (role.PlaceholderText, QColor(140, 140, 140)),
        (role.Text, text),
        (role.Button, QColor(48, 52, 60)),
        (role.ButtonText, text),
        (role.BrightText, QColor(255, 110, 110)),
        (role.Light, QColor(70, 74, 82)),
        (role.Midlight, QColor(58, 62, 70)),
        (role.Mid, QColor(40, 43, 49)),
        (role.Dark, QColor(20, 22, 26)),
        (role.Shadow, QColor(0, 0, 0)),
        (role.Link, QColor(110, 170, 255)),
        (role.LinkVisited, QColor(180, 140, 255)),
        (role.Highlight, QColor(42, 110, 200)),
        (role.HighlightedText, QColor(255, 255, 255)),
    ):
        p.setColor(r, colour)
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(120, 120, 120))
    return p


def set_theme(name: str) -> Theme:
    """Use the theme ``name`` ("system", "light", "dark") from now on, everywhere at once."""
    global _current, _choice, _original
    _choice = name if name in CHOICES else "system"
    theme = resolve(_choice)
    app = QApplication.instance()
    if isinstance(app, QApplication):
        if _original is None:
            _original = (app.style().name(), QPalette(app.palette()))
        if _choice == "system":
            app.setStyle(QStyleFactory.create(_original[0]) or app.style())
            app.setPalette(dark_palette() if theme is DARK else _original[1])
        else:
            app.setStyle("Fusion")
            app.setPalette(dark_palette() if theme is DARK else app.style().standardPalette())
    pg.setConfigOptions(background=theme.background, foreground=theme.foreground)
    _current = theme
    restyle_plots(theme)
    notifier().changed.emit(theme)
    return theme


def restyle_plots(theme: Theme) -> None:
    """Every open pyqtgraph view in ``theme``'s background, axes and plain labels."""
    if QApplication.instance() is None:
        return
    for widget in QApplication.allWidgets():
        if not isinstance(widget, pg.GraphicsView):
            continue
        widget.setBackground(theme.background)
        scene = widget.scene()
        if scene is None:
            continue
        for item in scene.items():
            if isinstance(item, pg.AxisItem):
                item.setPen(theme.foreground)
                item.setTextPen(theme.foreground)
            elif isinstance(item, pg.LegendItem):
                item.setLabelTextColor(theme.foreground)
            elif isinstance(item, pg.LabelItem) and item.opts.get("color") is None:
                item.setText(item.text)  # picks up the new default foreground
