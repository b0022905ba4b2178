"""The model's evidence as plot tracks under the signals, sharing their time axis.

- :class:`FaultProbabilityTrack`: 1 - P(normal) per row, with the detection threshold.
- :class:`AttentionStrip`: how much attention each row received relative to uniform, as a
  one-row heatmap on a log scale centred on "as much as any row" (white).
- :class:`HotspotTrack`: how often the hidden features peak (max-pool maximum) at each row
  relative to an ordinary row, with markers on the strongest hotspots (hover: time and
  channels involved).

The attention strip shows ONE row (the mean over heads and queries), not one row per head:
an engineer asks "where did the model look", not "what did head 3 do"; per-head rows split
the same evidence four ways and invite reading meaning into head numbering. The value is
shown relative to uniform attention (value × window length): 1 means "an ordinary row",
3 means "three times the attention of an ordinary row", which reads the same for any window.

Why this drawing (screenshots of the demo at the zoom of one event and of the whole recording,
issue 13): per row, attention is spiky (demo: median 0.6×, 99th percentile 6×) and event rows
get about as much as others on average (1.03× vs 1.00× over a window), so what there is to see
is WHERE the spikes are. The strip used to colour the raw values scaled to their 2..99.5th
percentile and let Qt shrink 16k columns into a few hundred pixels by picking one: a uniform
purple barcode. Now the values are × uniform on a fixed diverging scale (0× blue, 1× white,
2× and more red: saturated, so one spike cannot wash out the rest), and zoomed out the image
is averaged per pixel (``autoDownsample``: the mean of the rows under a pixel), so a stretch
that draws more than its share shows warm and an ordinary one pale. (A log scale was tried:
the geometric mean of spiky rows is below 1×, and the whole recording turned blue.) Zoomed in
to an event, each row is its own column and single spikes show as red lines. The hotspot
track likewise shows a density, the features peaking per row over the usual H/T, smoothed
over one window and mean-downsampled, as a line around a dashed 1× (usual).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor

from faultlens.core.events import FaultEvent
from faultlens.core.recording import Recording
from faultlens.gui import theme
from faultlens.gui.plot_items import LEFT_AXIS_WIDTH, break_at_gaps, gap_starts

if TYPE_CHECKING:
    from faultlens.core.scan import ScanResult

# Distinct, colour-blind-friendly fault colours (Okabe-Ito), class 1, 2, ... in order.
FAULT_COLOURS = ("#D55E00", "#0072B2", "#CC79A7", "#009E73", "#E69F00", "#56B4E9", "#F0E442")
# Image columns of the attention strip at most; more rows than this are peak-binned.
MAX_STRIP_BINS = 16384
# The attention strip's scale: × uniform, white at 1×, saturating at 0× and 2×.
ATTENTION_LEVELS = (0.0, 2.0)
ATTENTION_TICKS = [(0.0, "0×"), (0.5, "½×"), (1.0, "1×"), (1.5, "1½×"), (2.0, "≥2×")]


def class_colour(class_names: tuple[str, ...], name: str) -> QColor:
    """The colour of a fault class (class 0, normal, is grey)."""
    try:
        index = class_names.index(name)
    except ValueError:
        index = len(class_names)
    if index == 0:
        return QColor("#888888")
    return QColor(FAULT_COLOURS[(index - 1) % len(FAULT_COLOURS)])


def plain_tooltip(text: str) -> str:
    """``text`` as a tooltip that shows it literally: Qt renders a tooltip that looks like
    HTML as HTML, so a channel named ``<b>x</b>`` would turn bold (``<script>`` vanish)."""
    return QtGui.Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)


def bin_peak(x: np.ndarray, values: np.ndarray, n_bins: int) -> tuple[float, float, np.ndarray]:
    """Peak (NaN-ignoring max) of ``values`` in ``n_bins`` equal-width bins along ``x``.

    Bin ``i`` is centred on ``x0 + i * dx`` with ``dx = (x1 - x0) / (n_bins - 1)``; returns
    ``(left, right, binned)`` where ``[left, right]`` is the extent an image of ``binned``
    must cover so every value sits at its real time, even when sampling is irregular. Empty
    bins (time gaps) are NaN. With ``n_bins == len(x)`` and regular sampling every row gets
    its own bin. ``x`` must be sorted.
    """
    x = np.asarray(x, dtype=np.float64)
    values = np.asarray(values, dtype=np.float32)
    x0, x1 = float(x[0]), float(x[-1])
    if x1 <= x0 or n_bins < 2:
        return x0 - 0.5, x0 + 0.5, np.array([np.nanmax(values)], dtype=np.float32)
    dx = (x1 - x0) / (n_bins - 1)
    idx = np.rint((x - x0) / dx).astype(np.int64)  # (N,) sorted bin of each row
    binned = np.full(n_bins, np.nan, dtype=np.float32)
    # idx is sorted, so each bin is one contiguous run: reduce runs with fmax (skips NaN).
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    with np.errstate(invalid="ignore"):
        binned[idx[starts]] = np.fmax.reduceat(values, starts)
    return x0 - dx / 2, x1 + dx / 2, binned


def _track_plot(item: pg.PlotItem, title: str, axis_items: dict | None = None) -> None:
    item.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
    item.setMouseEnabled(x=True, y=False)
    item.hideButtons()
    item.setMenuEnabled(False)
    label = pg.LabelItem(title, justify="left", size="8pt", color=theme.current().track_text)
    label.setParentItem(item.vb)
    label.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(4, 0))
    item.title_label = label  # type: ignore[attr-defined]


class FaultProbabilityTrack(pg.PlotItem):
    """Fault probability (1 - P(normal)) per row, with the detection threshold line."""

    def __init__(self, axis_items: dict | None = None) -> None:
        super().__init__(axisItems=axis_items)
        _track_plot(self, "fault probability")
        self.setYRange(0.0, 1.0, padding=0.05)
        self.getAxis("left").setTicks([[(0.0, "0"), (0.5, ".5"), (1.0, "1")]])
        self.curve = pg.PlotDataItem(pen=pg.mkPen(theme.current().track_curve, width=1))
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.addItem(self.curve)
        self.threshold_line = pg.InfiniteLine(
            pos=0.5,
            angle=0,
            movable=False,
            pen=pg.mkPen("#D55E00", style=Qt.PenStyle.DashLine),
            label="threshold {value:.2f}",
            labelOpts={"position": 0.98, "color": "#D55E00", "anchors": [(1, 1), (1, 1)]},
        )
        self.addItem(self.threshold_line)

    def set_scan(self, x: np.ndarray, result: ScanResult | None, step: float = 1.0) -> None:
        """Show ``result`` over ``x``; ``step`` is the sampling interval (x units per row):
        the line breaks at time gaps as the signals' do (``gap_starts``)."""
        if result is None:
            self.curve.setData([], [])
            return
        gaps = gap_starts(x, step)
        self.curve.setData(*break_at_gaps(x, result.fault_probability, gaps), connect="finite")
        self.threshold_line.setPos(result.threshold)


class AttentionStrip(pg.PlotItem):
    """Attention received per row (mean over heads and queries), × uniform, as a heatmap."""

    def __init__(self, axis_items: dict | None = None) -> None:
        super().__init__(axisItems=axis_items)
        _track_plot(self, "")
        # The title sits in the axis: over the dark heatmap a label would be unreadable.
        self.getAxis("left").setTicks([[(0.5, "attention")]])
        self.getAxis("left").setToolTip(
            "Attention each row received from the model (mean over heads and queries), "
            "relative to uniform: 1 = an ordinary row, 3 = three times as much"
        )
        self.setYRange(0.0, 1.0, padding=0)
        # Zoomed out, each pixel shows the mean of its rows (not one row picked by Qt).
        self.image = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
        self.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(
            values=ATTENTION_LEVELS,
            label="× uniform",
            colorMap=pg.colormap.get("CET-D1A"),
            interactive=False,
            width=10,
            colorMapMenu=False,
        )
        self.colour_bar.setImageItem(self.image)
        self.colour_bar.getAxis("right").setStyle(tickFont=None)
        self.colour_bar.getAxis("right").setTicks([ATTENTION_TICKS])
        self.relative: np.ndarray | None = None  # (N,) attention × window, for tests/tooltips

    def set_scan(self, x: np.ndarray, result: ScanResult | None, window: int | None) -> None:
        if result is None or not np.isfinite(result.attention).any():
            self.image.clear()
            self.relative = None
            return
        attention = result.attention.astype(np.float32)
        # A window's attention sums to 1 over its T rows, so × T gives "× uniform".
        relative = attention * float(window) if window else attention / np.nanmean(attention)
        self.relative = relative
        n_bins = min(len(x), MAX_STRIP_BINS)
        left, right, binned = bin_peak(x, relative, n_bins)
        self.image.setImage(binned[np.newaxis, :], autoLevels=False)  # (1, bins)
        self.image.setRect(QRectF(left, 0.0, right - left, 1.0))
        self.colour_bar.setLevels(ATTENTION_LEVELS)


class HotspotTrack(pg.PlotItem):
    """How often the hidden features peak at each row relative to an ordinary row (a
    density: H features over T steps make H/T per row usual), with markers at the
    strongest hotspots."""

    MARKERS_PER_EVENT = 1
    MARKERS_WITHOUT_EVENTS = 10

    def __init__(self, axis_items: dict | None = None) -> None:
        super().__init__(axisItems=axis_items)
        _track_plot(self, "hotspots: hidden features peaking here, × usual")
        self.getAxis("left").setToolTip(
            "Where the model's hidden features reach their maximum in the windows covering "
            "a row (what its max-pool reads), relative to an ordinary row: 2 = twice as many "
            "as usual peak here. Smoothed over one window"
        )
        self.curve = pg.PlotDataItem(pen=pg.mkPen("#0072B2", width=1))
        # Mean, not peak: zoomed out a density, not the envelope of row-to-row noise.
        self.curve.setDownsampling(auto=True, method="mean")
        self.curve.setClipToView(True)
        self.addItem(self.curve)
        self.usual_line = pg.InfiniteLine(
            pos=1.0, angle=0, movable=False, pen=pg.mkPen("#666", style=Qt.PenStyle.DashLine)
        )
        self.addItem(self.usual_line, ignoreBounds=True)
        self.density: np.ndarray | None = None  # (N,) × usual, as drawn
        self.markers = pg.ScatterPlotItem(
            size=11,
            symbol="t",
            pen=pg.mkPen("#000"),
            brush=pg.mkBrush("#F0E442"),
            hoverable=True,
            hoverSize=15,
            tip=self._tip,
        )
        self.addItem(self.markers)
        self.marker_rows: list[int] = []
        self._tips: dict[int, str] = {}

    @staticmethod
    def _tip(x: float, y: float, data: object) -> str:
        return plain_tooltip(str(data))

    def set_scan(
        self, x: np.ndarray, result: ScanResult | None, recording: Recording | None
    ) -> None:
        self.markers.clear()
        self.marker_rows = []
        if result is None or recording is None:
            self.curve.setData([], [])
            return
        hot = result.hotspots.astype(np.float32)
        gaps = gap_starts(x, recording.sampling_interval)  # the signals' gap rule
        density = hotspot_density(hot, result.window)
        self.density = density
        self.curve.setData(*break_at_gaps(x, density, gaps), connect="finite")
        finite = density[np.isfinite(density)]
        top = float(np.percentile(finite, 99.9)) if finite.size else 2.0
        self.setYRange(0.0, max(top, 2.0), padding=0.05)
        rows = strongest_hotspots(hot, result.events, recording)
        self.marker_rows = rows
        if not rows:
            return
        levels = (
            _usual_levels(recording)
            if any(not any(e.start_row <= r <= e.end_row for e in result.events) for r in rows)
            else None
        )
        tips = [hotspot_tip(recording, result, row, levels) for row in rows]
        self.markers.setData(x=x[rows], y=density[rows], data=tips)


def hotspot_density(hotspots: np.ndarray, window: int) -> np.ndarray:
    """Hotspot counts per row over their usual value (their mean: H features over T steps),
    smoothed by a centred mean over one window; NaN rows stay NaN."""
    finite = np.isfinite(hotspots)
    usual = float(np.mean(hotspots[finite])) if finite.any() else 0.0
    if usual <= 0:
        return np.full(hotspots.shape, np.nan, dtype=np.float32)
    kernel = np.ones(max(int(window), 1))
    sums = np.convolve(np.where(finite, hotspots, 0.0), kernel, mode="same")
    counts = np.convolve(finite.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = sums / counts / usual
    return np.where(finite, smoothed, np.nan).astype(np.float32)


def set_track_colours(track: pg.PlotItem, colours: theme.Theme) -> None:
    """A track's title (and the fault probability's line) in the theme's colours."""
    label = track.title_label  # type: ignore[attr-defined]
    label.setText(label.text, color=colours.track_text)
    if isinstance(track, FaultProbabilityTrack):
        track.curve.setPen(pg.mkPen(colours.track_curve, width=1))


def strongest_hotspots(
    hotspots: np.ndarray, events: list[FaultEvent], recording: Recording
) -> list[int]:
    """Rows to mark: the strongest hotspot inside each event, or the top rows overall."""
    finite = np.where(np.isfinite(hotspots), hotspots, -np.inf)
    rows: list[int] = []
    for event in events:
        span = finite[event.start_row : event.end_row + 1]
        if span.size and np.isfinite(span.max()) and span.max() > 0:
            rows.append(event.start_row + int(np.argmax(span)))
    if not events:
        order = np.argsort(finite)[::-1][: HotspotTrack.MARKERS_WITHOUT_EVENTS]
        rows = [int(r) for r in order if np.isfinite(finite[r]) and finite[r] > 0]
    return sorted(set(rows))


def _usual_levels(recording: Recording) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel median and interquartile range, (C,) each."""
    data = recording.data
    q25, median, q75 = np.nanpercentile(data, [25, 50, 75], axis=0)
    spread = q75 - q25
    return median, np.where(spread > 0, spread, 1.0)


def hotspot_tip(
    recording: Recording,
    result: ScanResult,
    row: int,
    levels: tuple[np.ndarray, np.ndarray] | None = None,
) -> str:
    """Hover text: time, hotspot count and the channels involved at ``row``."""
    event = next((e for e in result.events if e.start_row <= row <= e.end_row), None)
    if event is not None and event.top_channels:
        channels = ", ".join(event.top_channels)
        source = f"{event.class_name} event; channels that drove it: {channels}"
    else:
        # No event here: name the channels furthest from their usual level at this row.
        median, spread = levels if levels is not None else _usual_levels(recording)
        z = np.abs(recording.data[row] - median) / spread  # (C,)
        top = [recording.channels[i] for i in np.argsort(np.nan_to_num(z, nan=-1.0))[::-1][:3]]
        source = "furthest from usual level: " + ", ".join(top)
    usual = float(np.nanmean(result.hotspots)) if np.isfinite(result.hotspots).any() else 0.0
    return (
        f"{recording.format_time(row)} (row {row})\n"
        f"{result.hotspots[row]:.0f} of the model's hidden features peak at this row "
        f"(usual: {usual:.1f}); click it to see which inputs they responded to\n{source}"
    )


def _demo_widget(
    recording: Recording, model: object, scan: ScanResult | None
) -> pg.GraphicsLayoutWidget:
    """The three tracks alone on the demo scan (also used by the smoke test)."""
    widget = pg.GraphicsLayoutWidget()
    x = recording.time_axis()
    fault, attention, hotspots = FaultProbabilityTrack(), AttentionStrip(), HotspotTrack()
    for row, track in enumerate((fault, attention, hotspots)):
        widget.addItem(track, row=row, col=0)
        if track is not fault:
            track.setXLink(fault)
    widget.addItem(attention.colour_bar, row=1, col=1)
    fault.set_scan(x, scan, recording.sampling_interval)
    attention.set_scan(x, scan, getattr(model, "window", None))
    hotspots.set_scan(x, scan, recording)
    return widget


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
