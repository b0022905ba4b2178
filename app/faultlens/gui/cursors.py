"""Cursors over the SignalView's plots: a crosshair readout and two measurement cursors.

- The crosshair (:meth:`Cursors.set_crosshair_enabled`) follows the mouse: one vertical line
  across every plot and, in the readout, the time under the mouse as the time axis writes it
  and each visible channel's value at that row (as PlotJuggler's and asammdf's cursors do).
- The measurement cursors (:meth:`Cursors.set_measure_enabled`, View > Measure, key M) are two
  draggable vertical lines across every plot; the readout gives t1, t2, Δt (in the
  recording's unit: rows without a time axis) and, per visible channel, the values at t1 and
  t2 and their difference.

Both read the row nearest to a cursor, so the times and values shown are a row's own. Off,
neither has an item in any plot nor a connection to the mouse: a pan does no work for them.

The readout is a strip under the plots, never over them (a box in a corner hid the first
plots' data): one paragraph per cursor, its items ("flow 48.15") flowing across the width and
wrapping between items only. It lists the channels whose plots are in sight (with many, the
plots scroll) and says how many are scrolled away, so 200 channels never fill the window.
It stays while a cursor is on, so the plots do not jump as the mouse comes and goes; it only
grows while the same channels are shown.
"""

from __future__ import annotations

import weakref
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtWidgets import QLabel

from faultlens.core.recording import Recording
from faultlens.gui import theme
from faultlens.gui.plot_items import clock_text, fraction_digits

if TYPE_CHECKING:
    from faultlens.gui.signal_view import SignalView

MEASURE_PENS = (pg.mkPen("#c0392b", width=2), pg.mkPen("#1e8449", width=2))
CURSOR_Z = 30  # over the curves and the shading
NBSP = "\u00a0"  # inside one readout item: the strip wraps between items, never inside one
ITEM_GAP = "    "
CROSSHAIR_HINT = "Crosshair: point at the plots to read the time and every channel's value"


def time_digits(recording: Recording) -> int:
    """Decimals of a second that tell one row's time from the next (0 for rows)."""
    if recording.time is None:
        return 0
    step = recording.sampling_interval
    return min(fraction_digits(step), 6) if step < 1 else 0


def time_text(recording: Recording, t: float) -> str:
    """``t`` (an x of the plots) as the time axis writes it: clock time with the date,
    seconds ([H:]MM:SS.ff past a minute), or "row N"."""
    digits = time_digits(recording)
    if recording.time is None:
        return f"row {round(t)}"
    if recording.time_kind == "datetime":
        scale = 10**digits
        whole, frac = divmod(round(t * scale), scale)
        tz = timezone(timedelta(seconds=recording.utc_offset_s or 0))
        stamp = datetime.fromtimestamp(whole, tz)
        return stamp.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac:0{digits}d}" if digits else "")
    if abs(t) < 60:
        return f"{t:.{digits}f} s"
    return clock_text(t, digits, abs(t) >= 3600)


def delta_text(recording: Recording, dt: float) -> str:
    """A time difference in the recording's unit: seconds (with [H:]MM:SS past a minute), or
    rows without a time axis."""
    if recording.time is None:
        return f"{round(dt)} rows"
    digits = time_digits(recording)
    seconds = f"{dt:.{digits}f} s"
    return seconds if abs(dt) < 60 else f"{clock_text(dt, digits, abs(dt) >= 3600)} ({seconds})"


def value_text(value: float) -> str:
    """Six significant digits (a float32 reading has about seven), "–" for a missing one;
    a change is taken between these texts, so 398.8 → 399.5 reads Δ 0.7, not 0.700012."""
    return "–" if not np.isfinite(value) else f"{value:.6g}"


def nearest_row(x: np.ndarray, t: float) -> int:
    """The row whose x is nearest to ``t`` (x sorted ascending, not empty)."""
    i = int(np.searchsorted(x, t))
    if i <= 0:
        return 0
    if i >= len(x):
        return len(x) - 1
    return i if x[i] - t < t - x[i - 1] else i - 1


class Cursors(QObject):
    """The crosshair and the measurement cursors of one SignalView, and their readout."""

    def __init__(self, view: SignalView) -> None:
        super().__init__(view)
        # Weak: a strong reference back made a cycle that the collector broke at random
        # times, deleting a closed view's widgets while another view painted (segfaults).
        self._view = weakref.ref(view)
        self.crosshair_enabled = False
        self.measure_enabled = False
        self.crosshair_row: int | None = None  # the row under the mouse; None: not over a plot
        self._crosshair: dict[pg.PlotItem, pg.InfiniteLine] = {}
        # One line per plot for each cursor; every line of a cursor moves with the others.
        self._measure: tuple[dict[pg.PlotItem, pg.InfiniteLine], ...] = ({}, {})
        self.measure_x: list[float] = [0.0, 0.0]
        self._moving = False
        self._readout: QLabel | None = None  # made when the view asks for it
        self._readout_key: tuple[object, ...] = ()
        view.plots_rebuilt.connect(self._on_view_plots_rebuilt)
        view.channel_visibility_changed.connect(self._on_view_channel_visibility_changed)
        # Scrolling the plots changes which channels are in sight: the readout follows.
        view.plot_scroll.verticalScrollBar().valueChanged.connect(self._on_plots_scrolled)
        view.graphics.viewport().installEventFilter(self)
        view.plot_scroll.viewport().installEventFilter(self)  # its height: channels in sight

    @property
    def view(self) -> SignalView:
        view = self._view()
        assert view is not None  # the view owns this object: it lives as long
        return view

    # ------------------------------------------------------------------ switching
    def set_crosshair_enabled(self, enabled: bool) -> None:
        if enabled == self.crosshair_enabled:
            return
        self.crosshair_enabled = enabled
        scene = self.view.graphics.scene()
        if enabled:
            scene.sigMouseMoved.connect(self._on_scene_mouse_moved)
        else:
            scene.sigMouseMoved.disconnect(self._on_scene_mouse_moved)
            self._remove_lines(self._crosshair)
            self.crosshair_row = None
        self._update_readout()

    def set_measure_enabled(self, enabled: bool) -> None:
        if enabled == self.measure_enabled:
            return
        self.measure_enabled = enabled
        if enabled:
            x0, x1 = self.view.x_range()
            self.measure_x = [x0 + (x1 - x0) / 3, x0 + 2 * (x1 - x0) / 3]
            self._add_measure_lines()
        else:
            for lines in self._measure:
                self._remove_lines(lines)
        self._update_readout()

    def set_measure_positions(self, t1: float, t2: float) -> None:
        """Move the two measurement cursors to ``t1`` and ``t2`` (x of the plots)."""
        for index, t in enumerate((t1, t2)):
            lines = self._measure[index]
            if lines:
                next(iter(lines.values())).setValue(t)  # the others follow
            else:
                self.measure_x[index] = t
        self._update_readout()

    # ------------------------------------------------------------------ lines
    @staticmethod
    def _remove_lines(lines: dict[pg.PlotItem, pg.InfiniteLine]) -> None:
        for plot, line in lines.items():
            plot.removeItem(line)
        lines.clear()

    def _add_measure_lines(self) -> None:
        for index, lines in enumerate(self._measure):
            for plot in self.view._all_plots():
                line = pg.InfiniteLine(
                    self.measure_x[index], angle=90, movable=True, pen=MEASURE_PENS[index]
                )
                line.setHoverPen(pg.mkPen(MEASURE_PENS[index].color(), width=4))
                line.setZValue(CURSOR_Z + 1)
                line.setToolTip(f"Measurement cursor {index + 1}: drag it")
                line.sigPositionChanged.connect(self._on_measure_line_moved)
                plot.addItem(line, ignoreBounds=True)
                lines[plot] = line

    def _on_measure_line_moved(self, moved: pg.InfiniteLine) -> None:
        if self._moving:
            return
        index = 0 if moved in self._measure[0].values() else 1
        self.measure_x[index] = float(moved.value())
        self._moving = True
        try:
            for line in self._measure[index].values():
                if line is not moved:
                    line.setValue(self.measure_x[index])
        finally:
            self._moving = False
        self._update_readout()

    def _on_view_plots_rebuilt(self) -> None:
        # set_recording cleared the layout: the old plots, and the lines in them, are gone.
        self._crosshair.clear()
        self.crosshair_row = None
        for lines in self._measure:
            lines.clear()
        if self.measure_enabled and self.view.recording is not None:
            x0, x1 = self.view.x_range()
            self.measure_x = [x0 + (x1 - x0) / 3, x0 + 2 * (x1 - x0) / 3]
            self._add_measure_lines()
        self._update_readout()

    def _on_view_channel_visibility_changed(self, _name: str, _visible: bool) -> None:
        self._update_readout()

    def _on_plots_scrolled(self, _value: int) -> None:
        if self.crosshair_enabled or self.measure_enabled:
            self._update_readout()

    # ------------------------------------------------------------------ the mouse
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Resize
            and watched is self.view.plot_scroll.viewport()
            and (self.crosshair_enabled or self.measure_enabled)
        ):
            self._update_readout()
        elif event.type() == QEvent.Type.Leave and self.crosshair_enabled:
            self._show_crosshair(None)
        return False

    def _on_scene_mouse_moved(self, pos: QPointF) -> None:
        view = self.view
        if view.recording is None or len(view.x) == 0:
            return
        for plot in view._all_plots():
            visible = plot.isVisible() and plot.scene() is not None
            if visible and plot.vb.sceneBoundingRect().contains(pos):
                self._show_crosshair(float(plot.vb.mapSceneToView(pos).x()))
                return
        self._show_crosshair(None)

    def _show_crosshair(self, t: float | None) -> None:
        if t is None:
            for line in self._crosshair.values():
                line.hide()
            self.crosshair_row = None
            self._update_readout()
            return
        row = nearest_row(self.view.x, t)
        x = float(self.view.x[row])
        for plot in self.view._all_plots():
            line = self._crosshair.get(plot)
            if line is None:
                pen = pg.mkPen(theme.current().crosshair, width=1, style=Qt.PenStyle.DashLine)
                line = pg.InfiniteLine(x, angle=90, movable=False, pen=pen)
                line.setZValue(CURSOR_Z)
                plot.addItem(line, ignoreBounds=True)
                self._crosshair[plot] = line
            line.setValue(x)
            line.show()
        self.crosshair_row = row
        self._update_readout()

    # ------------------------------------------------------------------ the readout
    def readout_items(self) -> list[list[str]]:
        """What the readout shows: per cursor on, its items (the time, then each visible
        channel top to bottom); empty with no cursor on."""
        rec = self.view.recording
        if rec is None or len(self.view.x) == 0:
            return []
        channels = self.view.channels_in_sight()
        index = {name: i for i, name in enumerate(rec.channels)}
        parts: list[list[str]] = []  # one per cursor on
        if self.crosshair_enabled and self.crosshair_row is None:
            parts.append([CROSSHAIR_HINT])
        elif self.crosshair_enabled and self.crosshair_row is not None:
            parts.append(self._crosshair_items(self.crosshair_row))
        if self.measure_enabled:
            r1, r2 = (nearest_row(self.view.x, t) for t in self.measure_x)
            t1, t2 = float(self.view.x[r1]), float(self.view.x[r2])
            items = [
                f"t1 {time_text(rec, t1)}",
                f"t2 {time_text(rec, t2)}",
                f"Δt {delta_text(rec, t2 - t1)}",
            ]
            for name in channels:
                v1, v2 = (value_text(float(rec.data[r, index[name]])) for r in (r1, r2))
                change = value_text(float(v2) - float(v1)) if "–" not in (v1, v2) else "–"
                items.append(f"{name}  {v1} → {v2}  Δ {change}")
            parts.append(items + self._out_of_sight(channels))
        return parts

    def _crosshair_items(self, row: int) -> list[str]:
        view = self.view
        rec = view.recording
        assert rec is not None
        index = {name: i for i, name in enumerate(rec.channels)}
        items = [f"{time_text(rec, float(view.x[row]))}  (row {row})"]
        channels = view.channels_in_sight()
        items += [f"{name}  {value_text(float(rec.data[row, index[name]]))}" for name in channels]
        return items + self._out_of_sight(channels)

    def _out_of_sight(self, listed: list[str]) -> list[str]:
        """An item saying how many shown channels are scrolled out of the plot area (the
        readout lists those in sight: 200 channels would fill the window)."""
        hidden = len(self.view.visible_channels()) - len(listed)
        return [f"(+{hidden} channels scrolled out of sight)"] if hidden > 0 else []

    def readout_text(self) -> str:
        """The readout's text: one line per cursor on, its items apart (empty: none on)."""
        return "\n".join(ITEM_GAP.join(items) for items in self.readout_items())

    @property
    def readout(self) -> QLabel:
        """The readout: a strip under the plots (the view puts it in its layout)."""
        if self._readout is None:
            self._readout = QLabel()
            self._readout.setObjectName("cursor_readout")
            self._readout.setTextFormat(Qt.TextFormat.PlainText)
            self._readout.setWordWrap(True)
            self._readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.set_style(theme.current())
            self._readout.hide()
        return self._readout

    def set_style(self, colours: theme.Theme) -> None:
        """The strip's colours (the theme's), and the crosshair's."""
        self.readout.setStyleSheet(
            f"QLabel#cursor_readout {{ {colours.readout_css} padding: 2px 6px;"
            " font-family: monospace; }"
        )
        pen = pg.mkPen(colours.crosshair, width=1, style=Qt.PenStyle.DashLine)
        for line in self._crosshair.values():
            line.setPen(pen)

    def _update_readout(self) -> None:
        parts = self.readout_items()
        if not parts:
            if self._readout is not None:
                self._readout.hide()
                self._readout.setMinimumHeight(0)
            return
        # Grow, never shrink, while the same channels show: the plots above do not jump. The
        # hint (the mouse off the plots) is sized as the values will be, at the first row.
        sizing = parts
        if self.crosshair_enabled and self.crosshair_row is None:
            sizing = [self._crosshair_items(0), *parts[1:]]
        # Not the channels in sight: the strip's height sets how many are, and a key that
        # followed them could make the two chase each other; growing only, they settle.
        shown = len(self.view.visible_channels())
        key = (self.crosshair_enabled, self.measure_enabled, shown, self.readout.width())
        if key != self._readout_key:
            self._readout_key = key
            self.readout.setMinimumHeight(0)
        width = max(self.readout.width(), 1)
        self.readout.setText(_flowing(sizing))
        height = self.readout.heightForWidth(width)
        self.readout.setText(_flowing(parts))
        self.readout.setMinimumHeight(max(self.readout.minimumHeight(), height))
        self.readout.show()


def _flowing(parts: list[list[str]]) -> str:
    """One line per cursor, its items kept whole: a wrap falls between items (NBSP inside)."""
    return "\n".join(ITEM_GAP.join(i.replace(" ", NBSP) for i in items) for items in parts)
