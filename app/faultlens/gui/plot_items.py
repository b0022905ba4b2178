"""Plot items of the SignalView that pyqtgraph has no cheap equivalent for.

- :class:`ShadedSpans`: every shaded x span of one plot (labelled stretches, or flagged
  events) painted by one item, not a LinearRegionItem per span: each of those (and its two
  InfiniteLines) recomputes its bounds from the view on every frame, which cost ~100 ms a
  frame with the demo's 580 regions.
- :class:`ChannelName`: a channel's name in its plot's corner, readable over the trace, on
  the plot :func:`channel_plot` makes (with :func:`time_axis_item` under it).
- :class:`LegendRow`: the shading legend in a layout row of its own, above the plots.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import HoverEvent, MouseClickEvent, MouseDragEvent
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QGraphicsSceneResizeEvent,
    QGraphicsSceneWheelEvent,
    QMenu,
    QStyleOptionGraphicsItem,
    QWidget,
)

from faultlens.core.recording import Recording
from faultlens.gui import theme

LEFT_AXIS_WIDTH = 64  # px of every plot's value axis: channel plots and tracks line up
GAP_FACTOR = 3.0  # a step in time over this many sampling intervals is a gap: no line over it


def gap_starts(x: np.ndarray, step: float) -> np.ndarray:
    """Indices of the points of ``x`` that follow a step longer than ``GAP_FACTOR × step``."""
    if len(x) < 2:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.diff(x) > GAP_FACTOR * step) + 1


def break_at_gaps(x: np.ndarray, y: np.ndarray, gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x, y`` with a NaN point inside every gap (``gap_starts``), so a curve drawn with
    ``connect="finite"`` leaves missing rows blank, as it does NaN cells. The same arrays
    when there is no gap. The one gap rule of every curve over time: signals and tracks."""
    if gaps.size == 0:
        return x, y
    mid = (x[gaps - 1] + x[gaps]) / 2
    return np.insert(x, gaps, mid), np.insert(y, gaps, np.nan)


def time_axis_item(recording: Recording | None) -> pg.AxisItem:
    """A bottom axis for the recording's time: clock time with dates, seconds, or rows."""
    axis: pg.AxisItem
    if recording is not None and recording.time_kind == "datetime":
        # DateAxisItem subtracts utcOffset; ours is east-positive, pyqtgraph's west-positive.
        offset = -(recording.utc_offset_s or 0)
        axis = ClockAxis(orientation="bottom", utcOffset=offset)
    elif recording is not None and recording.time_kind == "seconds":
        axis = SecondsAxis(orientation="bottom")
        axis.setLabel("time", units=None)
    else:
        axis = pg.AxisItem(orientation="bottom")
        if recording is not None:
            axis.setLabel("row", units=None)
    # Otherwise every pan re-renders each axis label's HTML to re-pick an SI prefix.
    axis.enableAutoSIPrefix(False)
    return axis


def fraction_digits(spacing: float) -> int:
    """Decimals that tell ticks ``spacing`` seconds apart from each other (0.25 -> 2)."""
    for digits in range(7):
        scaled = spacing * 10**digits
        if abs(scaled - round(scaled)) < 1e-6 * max(scaled, 1.0):
            return digits
    return 6


def clock_text(seconds: float, digits: int, with_hours: bool) -> str:
    """``seconds`` as [H:]MM:SS[.fff] (770.25 -> "12:50.25"; 3600 -> "1:00:00")."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    scale = 10**digits
    total = round(seconds * scale)  # whole units of the last digit, so 59.999 never shows 60
    whole, frac = divmod(total, scale)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if with_hours or hours else f"{minutes}:{secs:02d}"
    return sign + text + (f".{frac:0{digits}d}" if digits else "")


class ClockAxis(pg.DateAxisItem):
    """Date-time ticks that keep one's place: HH:MM:SS on every tick (HH:MM for minute ticks,
    with as many decimals as the tick spacing needs below a second, "06:32:50.250"), and the
    date under the first tick and under any tick where the date changes. Day and coarser
    spacings keep pyqtgraph's own date labels."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Room for the two-line labels: pyqtgraph measures text at 80 % of its height, which
        # cut off the date line.
        self.setHeight(2 * QFontMetrics(self.font()).height() + 12)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if spacing >= 86400 or not values:
            return super().tickStrings(values, scale, spacing)
        offset = self.utcOffset or 0
        digits = fraction_digits(spacing) if spacing < 1 else 0
        scale_ = 10**digits
        out = []
        previous = None
        for value in values:
            # Whole units of the last digit first, so 59.9999 never reads as :59.000.
            whole, frac = divmod(round((value - offset) * scale_), scale_)
            try:
                stamp = datetime.fromtimestamp(whole, timezone.utc)
            except (OverflowError, ValueError, OSError):
                return super().tickStrings(values, scale, spacing)
            if spacing >= 60 and stamp.second == 0:
                text = stamp.strftime("%H:%M")
            else:
                text = stamp.strftime("%H:%M:%S") + (f".{frac:0{digits}d}" if digits else "")
            if stamp.date() != previous:
                text += "\n" + stamp.strftime("%Y-%m-%d")
                previous = stamp.date()
            out.append(text)
        return out


class SecondsAxis(pg.AxisItem):
    """Seconds that keep one's place: past a minute, or below a second per tick, the ticks
    read as a clock ([H:]MM:SS.ff: 770.25 s -> "12:50.25"), with the decimals the spacing
    needs; short whole-second spans keep plain numbers."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if not values:
            return []
        biggest = max(abs(v) for v in values)
        digits = fraction_digits(spacing) if spacing < 1 else 0
        if biggest < 60:
            return [f"{v:.{digits}f}" for v in values]
        with_hours = biggest >= 3600
        return [clock_text(v, digits, with_hours) for v in values]


Y_AXIS_TIP = (
    "Wheel: zoom this channel's values; drag: move them. Double-click, or right-click > "
    "Fit y to view: back to following the view"
)


class ValueAxis(pg.AxisItem):
    """A left axis whose labels never overlap on a narrow plot: no more ticks than labels fit
    its height (pyqtgraph always draws its coarsest level, two or more labels, even on a
    plot 15 px high), and none that would spill over the plot's edge onto its neighbour's.

    It is also the plot's own y control (as in PlotJuggler and asammdf, where the wheel over
    a channel's axis zooms that channel alone): the wheel zooms this plot's y range around the
    pointer and a drag moves it, although the plot area's own mouse stays x-only (a wheel
    there zooms time for every plot). ``y_zoomed`` says the user set the range by hand;
    a double-click or the context menu's "Fit y to view" emit ``y_fit_requested``.
    """

    y_zoomed = Signal()
    y_fit_requested = Signal()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.setStyle(hideOverlappingLabels=True)
        self.setToolTip(Y_AXIS_TIP)

    def wheelEvent(self, event: QGraphicsSceneWheelEvent) -> None:
        view = self.linkedView()
        if view is None or view.sceneBoundingRect().contains(event.scenePos()):
            event.ignore()
            return
        # ViewBox's own rule (1.02 per eighth of a degree, wheel up zooms in).
        factor = 1.02 ** (event.delta() * view.state["wheelScaleFactor"])
        centre = view.mapSceneToView(event.scenePos())
        view.scaleBy(y=factor, center=QPointF(0.0, centre.y()))
        event.accept()
        self.y_zoomed.emit()

    def mouseDragEvent(self, event: MouseDragEvent) -> None:
        view = self.linkedView()
        if view is None or event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        event.accept()
        now = view.mapSceneToView(event.scenePos()).y()
        before = view.mapSceneToView(event.lastScenePos()).y()
        view.translateBy(y=before - now)  # the trace follows the pointer
        self.y_zoomed.emit()

    def mouseClickEvent(self, event: MouseClickEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and event.double():
            event.accept()
            self.y_fit_requested.emit()
        elif event.button() == Qt.MouseButton.RightButton:
            event.accept()
            self.context_menu().popup(event.screenPos().toPoint())
        else:
            event.ignore()

    def context_menu(self) -> QMenu:
        """The axis's menu (made on each right-click; it deletes itself once closed)."""
        menu = QMenu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        fit = menu.addAction("Fit y to view")
        fit.setToolTip("Fit this channel's values to what is in view, and follow the view again")
        fit.triggered.connect(self.y_fit_requested.emit)
        return menu

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        levels = super().tickSpacing(minVal, maxVal, size)
        span = abs(maxVal - minVal)
        if span <= 0 or not levels:
            return levels
        line = QFontMetrics(self.style["tickFont"] or self.font()).height()
        room = max(1, int(size // (1.5 * line)))  # labels that fit, with a little air
        fitting = [(sp, off) for sp, off in levels if span / sp <= room]
        if fitting:
            return fitting
        # Coarser than pyqtgraph goes: the smallest 1-2-5 step with at most ``room`` ticks.
        want = span / room
        power = 10 ** np.floor(np.log10(want))
        steps = [m * power for m in (0.5, 1, 2, 5, 10)]
        k = next(i for i, st in enumerate(steps) if st >= want)
        # Two labels give a scale, one only a value: where two fit, take the finer step
        # when this one leaves a single tick in view.
        lo, hi = min(minVal, maxVal), max(minVal, maxVal)
        if room >= 2 and k > 0 and np.floor(hi / steps[k]) - np.ceil(lo / steps[k]) < 1:
            finer = steps[k - 1]
            if np.floor(hi / finer) - np.ceil(lo / finer) + 1 <= room:
                k -= 1
        return [(float(steps[k]), 0.0)]


def channel_plot(name: str, bottom_axis: pg.AxisItem) -> tuple[pg.PlotItem, pg.PlotDataItem]:
    """An empty plot for one channel (x pans and zooms, y stays put; its name in the corner)
    and its curve, which draws only what is in view, peak-downsampled."""
    plot = pg.PlotItem(axisItems={"bottom": bottom_axis, "left": ValueAxis(orientation="left")})
    plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
    # The y range follows the view: without a label there is no prefix to pick, yet every
    # change re-rendered the (hidden) label's HTML.
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.setMouseEnabled(x=True, y=False)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.setClipToView(True)
    label = ChannelName(name)
    label.setParentItem(plot.vb)
    label.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(4, 0))
    plot.channel_name = label  # type: ignore[attr-defined]
    curve = plot.plot(pen=pg.mkPen(theme.current().curve, width=1))
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)
    return plot, curve


class ShadedSpans(pg.GraphicsObject):
    """Full-height shaded x spans of one plot, all painted by this one item.

    Each span is ``(x0, x1, colour, tooltip)``, drawn as a filled rect without outline from the
    view's bottom to its top, in the order given (overlaps blend, as separate items would).
    Only spans that meet the visible x range are painted. The rects are cached and rebuilt
    only when the spans or the view's y range change, so a pan costs one view lookup and a
    few drawRect calls. Hovering sets the tooltip to the span under the cursor (the last one
    given, as it is painted on top); elsewhere the tooltip is empty, so Qt shows that of an
    item below, as it did with one item per span. Mouse buttons pass through to the plot.
    """

    def __init__(self, z: float, band: float | None = None) -> None:
        super().__init__()
        self.setZValue(z)
        self.band = band  # None: full height; else this share of the height, at the top
        self.spans: list[tuple[float, float, QColor | QBrush, str]] = []
        self._x0 = np.zeros(0)
        self._x1 = np.zeros(0)
        self._brushes: list[QBrush] = []
        self._rects: list[QRectF] = []
        self._y: tuple[float, float] = (0.0, 1.0)  # the view's y range, bottom to top
        self._view_x: tuple[float, float] | None = None  # its x range, kept for paint
        self._bounds = QRectF()

    def set_spans(self, spans: list[tuple[float, float, QColor | QBrush, str]]) -> None:
        """``(x0, x1, colour or brush, tooltip)`` per span (a brush: e.g. hatched)."""
        self.spans = list(spans)
        self._x0 = np.array([s[0] for s in spans], dtype=np.float64)
        self._x1 = np.array([s[1] for s in spans], dtype=np.float64)
        self._brushes = [
            QBrush(s[2]) if isinstance(s[2], QBrush) else QBrush(QColor(s[2])) for s in spans
        ]
        self._rebuild()

    def _rebuild(self) -> None:
        self.prepareGeometryChange()
        y0, y1 = self._y
        if self.band is not None:  # the band at the top (the larger y) of the view
            top = max(y0, y1)
            y0, y1 = top - self.band * abs(y1 - y0), top
        self._rects = [QRectF(x0, y0, x1 - x0, y1 - y0) for x0, x1, _c, _t in self.spans]
        if self.spans:
            left, right = float(self._x0.min()), float(self._x1.max())
            self._bounds = QRectF(left, y0, right - left, y1 - y0)
        else:
            self._bounds = QRectF()
        self.update()

    def viewTransformChanged(self) -> None:
        # Not viewRangeChanged: that comes before the ViewBox updates its transform, while
        # viewRect() still holds the previous frame's range.
        super().viewTransformChanged()
        view = self.viewRect()
        if view is None:
            return
        self._view_x = (float(view.left()), float(view.right()))
        y = (float(view.top()), float(view.bottom()))
        if y != self._y:  # a pan leaves y alone: nothing to rebuild
            self._y = y
            self._rebuild()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def visible_spans(self) -> list[int]:
        """Indices of the spans that meet the view's x range (those ``paint`` draws)."""
        if self._view_x is None or not self.spans:
            return []
        left, right = self._view_x
        hit = (self._x1 >= left) & (self._x0 <= right)
        return np.flatnonzero(hit).tolist()

    def paint(
        self, p: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        for i in self.visible_spans():
            p.setBrush(self._brushes[i])
            p.drawRect(self._rects[i])

    def span_at(self, x: float) -> int | None:
        """Index of the topmost (last given) span holding ``x``, if any."""
        hit = np.flatnonzero((self._x0 <= x) & (x <= self._x1))
        return int(hit[-1]) if hit.size else None

    def hoverEvent(self, ev: HoverEvent) -> None:
        index = None if ev.isExit() else self.span_at(ev.pos().x())
        self.setToolTip("" if index is None else self.spans[index][3])


class ChannelName(pg.LabelItem):
    """A channel's name in its plot's top-left corner, on a semi-opaque white box.

    A child of the ViewBox itself (not of its view range), so it stays put when panning or
    zooming and plays no part in auto-range; it takes no mouse events (drags pan the plot).
    """

    def __init__(self, name: str) -> None:
        # LabelItem renders HTML: a column named "<b>x</b>" must read as that text.
        colours = theme.current()
        super().__init__(
            html.escape(name), justify="left", size="8pt", color=colours.name_text, bold=True
        )
        self.name = name
        self.mark = ""  # e.g. "41 %": the channel's share of the selected event's evidence
        self.mark_colour = colours.mark  # no class or curve colour: it reads as a mark
        # The theme's background at 75-80 %: names over the trace, which shows through.
        self.fill = QBrush(colours.name_fill)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setAcceptHoverEvents(False)

    def set_mark(self, mark: str, colour: str | None = None) -> None:
        """Show ``mark`` after the name in ``colour`` (``""``: the name alone)."""
        colour = colour or self.mark_colour
        if (mark, colour) == (self.mark, self.mark_colour):
            return  # stepping through events re-marks only the channels that change
        self.mark, self.mark_colour = mark, colour
        self._render()

    def set_colours(self, text: str, fill: QColor) -> None:
        """The name's colour and its box's (the theme's)."""
        self.opts["color"] = text
        self.fill = QBrush(fill)
        self._render()

    def _render(self) -> None:
        text = html.escape(self.name)
        if self.mark:
            mark = html.escape(self.mark).replace(" ", "&nbsp;")
            text += f"&nbsp;&nbsp;<span style='color: {self.mark_colour}'>{mark}</span>"
        self.setText(text)
        self.update()

    def paint(self, p: QPainter, *args: object) -> None:
        p.fillRect(self.boundingRect(), self.fill)  # the text (a child) is drawn over it


class _StaticSample(pg.ItemSample):
    """A legend swatch that ignores clicks: ours stand for shading, not for curves to toggle."""

    def mouseClickEvent(self, event: MouseClickEvent) -> None:
        event.ignore()


class _StaticLegend(pg.LegendItem):
    """A LegendItem that stays where its row puts it (no dragging) and sizes from its layout."""

    def __init__(self) -> None:
        super().__init__(labelTextSize="8pt", verSpacing=-6, frame=False, sampleType=_StaticSample)
        self.layout.setContentsMargins(0, 2, 0, 2)

    def hoverEvent(self, ev: HoverEvent) -> None:
        pass  # LegendItem accepts drags here; in a layout row it must not move

    def mouseDragEvent(self, ev: MouseDragEvent) -> None:
        ev.ignore()

    def updateSize(self) -> None:
        # LegendItem measures its entries' previous geometry (stale right after a change) and
        # moves itself to (0, 0); the layout's own hint is current and keeps the position.
        self.resize(self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize))

    def width_for(self, columns: int) -> float:
        """Width the entries need in ``columns`` columns (filled row by row, as LegendItem does)."""
        widths = [
            (
                sample.effectiveSizeHint(Qt.SizeHint.PreferredSize).width(),
                label.effectiveSizeHint(Qt.SizeHint.PreferredSize).width(),
            )
            for sample, label in self.items
        ]
        left, _top, right, _bottom = self.layout.getContentsMargins()
        total = left + right + self.layout.horizontalSpacing() * (2 * columns - 1)
        for col in range(columns):
            in_col = widths[col::columns]
            total += max((w for w, _ in in_col), default=0) + max((w for _, w in in_col), default=0)
        return total


class LegendRow(pg.GraphicsWidget):
    """The shading legend in a layout row of its own, above the channel plots.

    A legend inside a plot covers its trace; here it never does. It takes as many columns as
    fit the row's width (wrapping the rest onto more lines), and the row's fixed height follows
    the legend's, so the plots share all of the remaining height. No axes, no mouse handling.
    """

    def __init__(self, inset: float = 0.0) -> None:
        super().__init__()
        self.inset = inset  # aligns the entries with the plots' data area
        self.legend = _StaticLegend()
        self.legend.setParentItem(self)
        self.legend.setPos(inset, 0)
        self.setFixedHeight(0)

    def refit(self) -> None:
        """Pick the column count for the current width and entries; resize the row to match."""
        legend = self.legend
        count = len(legend.items)
        available = self.width() - self.inset
        columns = next((c for c in range(count, 1, -1) if legend.width_for(c) <= available), 1)
        legend.setColumnCount(columns)  # no-op (and no relayout) when unchanged
        legend.updateSize()
        legend.setVisible(count > 0)
        height = legend.height() if count else 0.0
        if height != self.maximumHeight():  # the fixed height; geometry follows on layout
            self.setFixedHeight(height)

    def resizeEvent(self, ev: QGraphicsSceneResizeEvent) -> None:
        super().resizeEvent(ev)
        self.refit()
