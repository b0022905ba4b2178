"""The Inspector's plots of one :class:`~faultlens.core.explain.Explanation` (no state of
their own beyond the items drawn).

- :class:`WindowPlots`: the window on its time axis: hotspot markers, one trace per channel
  shown with the attention each step received as a heat band behind it, and the channels ×
  steps contribution heatmap underneath, all x-linked.
- :class:`DecisionPlots`: the T × T attention matrix, the class probabilities and the
  per-channel attribution of the window.

Attention is drawn relative to uniform (weight × T): 1 is what every step would get if the
model looked everywhere alike, so "3×" reads the same for any window length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QFont

from faultlens.gui.plot_items import ChannelName, ValueAxis, time_axis_item
from faultlens.gui.tracks import class_colour, plain_tooltip

if TYPE_CHECKING:
    from faultlens.core.explain import Explanation
    from faultlens.core.recording import Recording

AXIS_WIDTH = 128  # left axes: room for a channel name in the heatmap, same for every plot
TRACE_HEIGHT = 36  # px a trace keeps at least (fixed with more than four channels)
HOTSPOT_HEIGHT = 30
HEATMAP_ROW = 20  # px per channel in the contribution heatmap (a name label fits)
TRACE_PEN = pg.mkPen("#1f3b73", width=1.5)
# Attention behind the traces: white (no attention) to deep orange, light enough for the
# trace to stay readable on top.
BAND_MAP = pg.ColorMap(
    pos=np.array([0.0, 0.35, 0.7, 1.0]),
    color=np.array(
        [(255, 255, 255), (255, 236, 200), (253, 174, 97), (217, 95, 14)], dtype=np.ubyte
    ),
)
CONTRIBUTION_MAP = pg.colormap.get("CET-D1")  # blue (away from a fault) - white - red (towards)
MATRIX_MAP = pg.colormap.get("viridis")
HOTSPOT_BRUSH = pg.mkBrush("#F0E442")


def step_width(ex: Explanation) -> float:
    """x units per step of the window (1 when the window has one row)."""
    if len(ex.times) < 2:
        return 1.0
    return float(np.median(np.diff(ex.times)))


def window_extent(ex: Explanation) -> tuple[float, float]:
    """x from half a step before the window's first row to half a step after its last."""
    dt = step_width(ex)
    return float(ex.times[0]) - dt / 2, float(ex.times[-1]) + dt / 2


def relative_attention(ex: Explanation) -> np.ndarray:
    """Attention received per step × T: 1 = uniform."""
    return np.asarray(ex.attention_received, dtype=np.float32) * len(ex.rows)


def hotspot_text(ex: Explanation, recording: Recording, step: int, top: int = 3) -> str:
    """What the hotspot at ``step`` means: when, how many features, which input channels."""
    count = float(ex.hotspot_counts[step])
    total = float(np.sum(ex.hotspot_counts))
    shares = np.nan_to_num(np.asarray(ex.hotspot_channels[step], dtype=np.float64))
    order = [int(i) for i in np.argsort(-shares) if shares[i] > 0.005][:top]
    channels = ", ".join(f"{ex.channels[i]} {shares[i]:.0%}" for i in order) or "none measurable"
    row = int(ex.rows[step])
    counted = f"{count:g}" if float(count).is_integer() else f"{count:.1f}"
    return (
        f"{recording.format_time(row)} (row {row}, step {step + 1} of {len(ex.rows)})\n"
        f"{counted} of {total:g} features took their maximum here\n"
        f"they responded to: {channels}"
    )


def _fixed_plot(axis_items: dict | None = None, title: str = "") -> pg.PlotItem:
    plot = pg.PlotItem(axisItems=axis_items)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.getAxis("left").setWidth(AXIS_WIDTH)
    if title:
        plot.setTitle(title, size="8pt", color="#333")
    return plot


def _colour_bar(colour_map: pg.ColorMap, label: str) -> pg.ColorBarItem:
    bar = pg.ColorBarItem(
        values=(0.0, 1.0),
        label=label,
        colorMap=colour_map,
        interactive=False,
        width=10,
        colorMapMenu=False,
    )
    return bar


class WindowPlots:
    """Hotspots, traces with attention bands, and the contribution heatmap of one window."""

    def __init__(self) -> None:
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setObjectName("inspector_window_plots")
        self.widget.ci.setSpacing(0)
        self.widget.ci.setContentsMargins(2, 2, 2, 2)
        self.widget.setMinimumHeight(220)
        self._recording: Recording | None = None
        self.traces: list[pg.PlotItem] = []
        self.curves: list[pg.PlotDataItem] = []
        self.bands: list[pg.ImageItem] = []
        self.hotspot_plot: pg.PlotItem | None = None
        self.markers: pg.ScatterPlotItem | None = None
        self.contribution_plot: pg.PlotItem | None = None
        self.contribution_image = pg.ImageItem(axisOrder="row-major")
        self.band_bar = _colour_bar(BAND_MAP, "attention × uniform")
        self.contribution_bar = _colour_bar(CONTRIBUTION_MAP, "→ fault")
        self.channels: list[str] = []  # the traces' channels, top to bottom
        self.hotspot_tips: dict[int, str] = {}  # step -> tooltip

    def clear(self) -> None:
        self.widget.ci.clear()
        self._recording = None
        self.traces, self.curves, self.bands, self.channels = [], [], [], []
        self.hotspot_plot = self.markers = self.contribution_plot = None
        self.hotspot_tips = {}

    def show(self, ex: Explanation, recording: Recording, shown: list[int]) -> None:
        """Draw ``ex`` with the model channels ``shown`` (indices, top to bottom)."""
        if recording is not self._recording or len(shown) != len(self.traces):
            self._build(recording, len(shown))
        x0, x1 = window_extent(ex)
        relative = relative_attention(ex)
        self.channels = [ex.channels[c] for c in shown]
        band_top = max(2.0, float(np.nanmax(relative)) if relative.size else 2.0)
        for plot, curve, band, c in zip(self.traces, self.curves, self.bands, shown, strict=True):
            values = np.asarray(ex.values[:, c], dtype=np.float64)
            curve.setData(ex.times, values, connect="finite")
            lo, hi = _value_range(values)
            plot.setYRange(lo, hi, padding=0)
            band.setImage(relative[np.newaxis, :], autoLevels=False, levels=(0.0, band_top))
            band.setRect(QRectF(x0, lo, x1 - x0, hi - lo))
            plot.name_label.setText(ex.channels[c])  # type: ignore[attr-defined]
        self.band_bar.setLevels((0.0, band_top))
        self._show_hotspots(ex, recording)
        self._show_contribution(ex, shown, x0, x1)
        for plot in self._plots():
            plot.setXRange(x0, x1, padding=0)

    def _plots(self) -> list[pg.PlotItem]:
        extra = [p for p in (self.hotspot_plot, self.contribution_plot) if p is not None]
        return [*self.traces, *extra]

    def _build(self, recording: Recording, n: int) -> None:
        self.clear()
        self._recording = recording
        layout = self.widget.ci
        hot = _fixed_plot()
        hot.setFixedHeight(HOTSPOT_HEIGHT)
        hot.hideAxis("bottom")
        hot.setYRange(0.0, 1.0, padding=0)
        hot.getAxis("left").setTicks([[(0.5, "hotspots")]])
        hot.getAxis("left").setToolTip(
            "Steps where hidden features took their maximum (the max-pool the classifier "
            "reads); bigger = more features. Hover one: which input channels they responded to"
        )
        self.markers = pg.ScatterPlotItem(
            pen=pg.mkPen("#000"), brush=HOTSPOT_BRUSH, hoverable=True, tip=self._tip
        )
        hot.addItem(self.markers)
        layout.addItem(hot, row=0, col=0)
        self.hotspot_plot = hot
        for i in range(n):
            # ValueAxis: no more value labels than fit a short trace (never overlapping).
            plot = _fixed_plot({"left": ValueAxis(orientation="left")})
            plot.setFixedHeight(TRACE_HEIGHT) if n > 4 else plot.setMinimumHeight(TRACE_HEIGHT)
            plot.hideAxis("bottom")
            band = pg.ImageItem(axisOrder="row-major")
            band.setColorMap(BAND_MAP)
            band.setZValue(-10)
            plot.addItem(band)
            curve = plot.plot(pen=TRACE_PEN)
            name = ChannelName("")
            name.setParentItem(plot.vb)
            name.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(4, 0))
            plot.name_label = name  # type: ignore[attr-defined]
            plot.setXLink(hot)
            layout.addItem(plot, row=1 + i, col=0)
            self.traces.append(plot)
            self.curves.append(curve)
            self.bands.append(band)
        self.band_bar = _colour_bar(BAND_MAP, "attention × uniform")
        self.band_bar.setImageItem(self.bands)
        if n:
            layout.addItem(self.band_bar, row=1, col=1, rowspan=n)
        contribution = _fixed_plot({"bottom": time_axis_item(recording)})
        # Channel names in a smaller font: a label wider than the axis is not drawn at all.
        small = QFont()
        small.setPointSize(8)
        contribution.getAxis("left").setStyle(hideOverlappingLabels=False, tickFont=small)
        contribution.setFixedHeight(max(n, 1) * HEATMAP_ROW + 62)
        self.contribution_image = pg.ImageItem(axisOrder="row-major")
        contribution.addItem(self.contribution_image)
        contribution.setXLink(hot)
        layout.addItem(contribution, row=1 + n, col=0)
        self.contribution_plot = contribution
        self.contribution_bar = _colour_bar(CONTRIBUTION_MAP, "→ fault")
        self.contribution_bar.setImageItem(self.contribution_image)
        layout.addItem(self.contribution_bar, row=1 + n, col=1)
        # Every channel at once does not fit a dock: the inspector scrolls instead.
        needed = HOTSPOT_HEIGHT + n * TRACE_HEIGHT + max(n, 1) * HEATMAP_ROW + 62 + 8
        self.widget.setMinimumHeight(max(220, needed))

    @staticmethod
    def _tip(x: float, y: float, data: object) -> str:
        return plain_tooltip(str(data))

    def _show_hotspots(self, ex: Explanation, recording: Recording) -> None:
        assert self.markers is not None
        counts = np.nan_to_num(np.asarray(ex.hotspot_counts, dtype=np.float64))
        steps = np.flatnonzero(counts > 0)
        self.hotspot_tips = {int(s): hotspot_text(ex, recording, int(s)) for s in steps}
        biggest = float(counts.max()) if counts.size and counts.max() > 0 else 1.0
        sizes = 5.0 + 17.0 * np.sqrt(counts[steps] / biggest)  # area ~ count
        self.markers.setData(
            x=np.asarray(ex.times)[steps],
            y=np.full(len(steps), 0.5),
            size=sizes,
            data=[self.hotspot_tips[int(s)] for s in steps],
        )

    def _show_contribution(self, ex: Explanation, shown: list[int], x0: float, x1: float) -> None:
        assert self.contribution_plot is not None
        contribution = np.nan_to_num(np.asarray(ex.contribution, dtype=np.float32))  # (C, T)
        n = len(shown)
        # Image row 0 is drawn at the bottom: the first channel shown goes on top.
        image = contribution[shown[::-1], :] if n else np.zeros((1, len(ex.rows)), np.float32)
        # One scale for all channels, whichever are shown: a hidden channel cannot make the
        # shown ones look stronger.
        # Saturate at the 97th percentile of |contribution|: one extreme cell (often the
        # window's first step) would otherwise leave every other cell white.
        magnitude = np.abs(contribution[np.isfinite(contribution)])
        top = float(np.percentile(magnitude, 97)) if magnitude.size else 0.0
        top = top if top > 0 else 1.0
        self.contribution_image.setImage(image, autoLevels=False, levels=(-top, top))
        self.contribution_image.setColorMap(CONTRIBUTION_MAP)
        self.contribution_image.setRect(QRectF(x0, 0.0, x1 - x0, max(n, 1)))
        self.contribution_bar.setLevels((-top, top))
        plot = self.contribution_plot
        plot.setYRange(0.0, max(n, 1), padding=0)
        plot.getAxis("left").setTicks(
            [[(n - 1 - i + 0.5, ex.channels[c]) for i, c in enumerate(shown)]]
        )
        plot.setTitle("contribution (red: towards a fault)", size="8pt", color="#333")
        plot.getAxis("left").setToolTip(
            "How much each channel at each step pushed the fault probability of this "
            f"window, by {ex.contribution_method}"
        )


def _value_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return -1.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-12:
        return lo - 1.0, hi + 1.0
    pad = 0.12 * (hi - lo)
    return lo - pad, hi + pad


def _bar_plot(title: str, axis_width: int) -> pg.PlotItem:
    """Horizontal bars, names and values as the left axis's labels (no x axis: the values
    are in the labels)."""
    plot = _fixed_plot(title=title)
    axis = plot.getAxis("left")
    axis.setWidth(axis_width)
    font = QFont()
    font.setPointSize(7)
    axis.setStyle(tickFont=font, hideOverlappingLabels=False)
    plot.hideAxis("bottom")
    return plot


class DecisionPlots:
    """The attention matrix, the class probabilities and the channel attribution."""

    def __init__(self) -> None:
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setObjectName("inspector_decision_plots")
        self.widget.ci.setContentsMargins(2, 2, 2, 2)
        self.widget.setMinimumHeight(200)
        self._recording: Recording | None = None
        self.matrix_plot: pg.PlotItem | None = None
        self.matrix_image = pg.ImageItem(axisOrder="row-major")
        self.matrix_bar = _colour_bar(MATRIX_MAP, "weight")
        self.probability_plot = _bar_plot("probabilities", 110)
        self.probability_plot.setXRange(0.0, 1.0, padding=0.02)
        self.attribution_plot = _bar_plot("attribution", AXIS_WIDTH + 20)
        self.attribution_plot.getAxis("left").setToolTip(
            "Each channel's share of this window's fault probability, by occlusion (the "
            "channel replaced by its reference level), as for events"
        )
        self.probability_bars: pg.BarGraphItem | None = None
        self.attribution_bars: pg.BarGraphItem | None = None
        self.head: int | None = None  # the head in the matrix, None: the mean
        self.matrix: np.ndarray | None = None  # (T, T) shown

    def clear(self) -> None:
        self.widget.ci.clear()
        self._recording = None
        self.matrix_plot = None
        self.matrix = None
        for plot, bars in (
            (self.probability_plot, self.probability_bars),
            (self.attribution_plot, self.attribution_bars),
        ):
            if bars is not None:
                plot.removeItem(bars)
        self.probability_bars = self.attribution_bars = None

    def _build(self, recording: Recording) -> None:
        self.clear()
        self._recording = recording
        layout = self.widget.ci
        # Time relative to the decision's row ("-20" s): two clock axes of a 30-second window
        # would repeat the same hour and minute on every tick.
        unit = "rows" if recording.time is None else "s"
        plot = _fixed_plot()
        plot.getAxis("left").setWidth(44)
        plot.setLabel("bottom", f"attended step ({unit} before the decision)")
        plot.setLabel("left", "attending step")
        plot.invertY(True)  # the first query on top, as a matrix is read
        plot.setAspectLocked(False)
        self.matrix_image = pg.ImageItem(axisOrder="row-major")
        self.matrix_image.setColorMap(MATRIX_MAP)
        plot.addItem(self.matrix_image)
        self.matrix_plot = plot
        layout.addItem(plot, row=0, col=0, rowspan=2)
        self.matrix_bar = _colour_bar(MATRIX_MAP, "weight")
        self.matrix_bar.setImageItem(self.matrix_image)
        layout.addItem(self.matrix_bar, row=0, col=1, rowspan=2)
        layout.addItem(self.probability_plot, row=0, col=2)
        layout.addItem(self.attribution_plot, row=1, col=2)
        layout.layout.setColumnStretchFactor(0, 3)
        layout.layout.setColumnStretchFactor(2, 2)

    def show_matrix(self, ex: Explanation, recording: Recording, head: int | None) -> None:
        """The attention matrix: row = the attending step (query), column = the step it
        looked at (key); ``head`` None for the mean over heads."""
        if recording is not self._recording:
            self._build(recording)
        assert self.matrix_plot is not None
        attention = np.asarray(ex.attention, dtype=np.float32)  # (heads, T, T)
        matrix = attention.mean(axis=0) if head is None else attention[head]
        self.head, self.matrix = head, matrix
        x0, x1 = window_extent(ex)
        top = float(matrix.max()) if matrix.size else 1.0
        self.matrix_image.setImage(matrix, autoLevels=False, levels=(0.0, top or 1.0))
        origin = float(ex.times[-1])
        x0, x1 = x0 - origin, x1 - origin
        self.matrix_image.setRect(QRectF(x0, x0, x1 - x0, x1 - x0))
        self.matrix_bar.setLevels((0.0, top or 1.0))
        self.matrix_plot.setRange(xRange=(x0, x1), yRange=(x0, x1), padding=0)
        which = "mean" if head is None else f"head {head + 1}"
        self.matrix_plot.setTitle(f"attention ({which})", size="8pt", color="#333")

    def show_bars(self, ex: Explanation) -> None:
        probs = np.nan_to_num(np.asarray(ex.probabilities, dtype=np.float64))
        k = len(ex.class_names)
        y = np.arange(k)[::-1].astype(float)  # the first class on top
        brushes = [class_colour(ex.class_names, name) for name in ex.class_names]
        self._replace_bars("probability", y, probs, brushes)
        self.probability_plot.getAxis("left").setTicks(
            [[(float(y[i]), f"{ex.class_names[i]} {probs[i]:.2f}") for i in range(k)]]
        )
        self.probability_plot.setYRange(-0.6, k - 0.4, padding=0)
        share = np.nan_to_num(np.asarray(ex.channel_attribution, dtype=np.float64))
        order = [int(i) for i in np.argsort(-share, kind="stable")]
        c = len(order)
        yc = np.arange(c)[::-1].astype(float)
        self._replace_bars("attribution", yc, share[order], [QColor("#1f3b73")] * c)
        self.attribution_plot.getAxis("left").setTicks(
            [[(float(yc[j]), f"{ex.channels[i]} {share[i]:.0%}") for j, i in enumerate(order)]]
        )
        self.attribution_plot.setYRange(-0.6, c - 0.4, padding=0)
        self.attribution_plot.setXRange(0.0, max(float(share.max()) if c else 1.0, 0.05))

    def _replace_bars(
        self, which: str, y: np.ndarray, width: np.ndarray, brushes: list[QColor]
    ) -> None:
        plot = self.probability_plot if which == "probability" else self.attribution_plot
        old = self.probability_bars if which == "probability" else self.attribution_bars
        if old is not None:
            plot.removeItem(old)
        bars = pg.BarGraphItem(x0=0.0, y=y, height=0.7, width=width, brushes=brushes, pen=None)
        plot.addItem(bars)
        if which == "probability":
            self.probability_bars = bars
        else:
            self.attribution_bars = bars
