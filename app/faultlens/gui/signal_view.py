"""SignalView: the recording's channels as stacked plots on one time axis, with the model's
evidence tracks (fault probability, attention, hotspots) underneath.

Given a session, the view follows it: the current recording, its scan, and the model's
window for the attention strip. Without one (benchmarks, ``python -m``) it shows what
``set_recording`` and ``set_scan`` give it.

Long recordings stay fluid because every curve uses peak downsampling and clip-to-view:
only the visible stretch is drawn, reduced to a few points per pixel while keeping spikes,
and zoomed out each curve is fed a level of its min/max pyramid (see
:mod:`faultlens.gui.peak_pyramid`). Whenever the time range changes (zoom to an event, pan,
keys, Ctrl+0), each channel's y range follows the envelope of its data in view, read from
the pyramid level with at most a few thousand blocks in view (O(pixels), never all rows);
with the whole recording in view it is the whole recording's robust range. "Fit Y" fits
tighter on request: to the bulk of the raw rows in view, letting a rare spike run off the
plot. The shading (labelled stretches, flagged events) is one
:class:`~faultlens.gui.plot_items.ShadedSpans` item per plot and kind.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from faultlens.core.events import FaultEvent
from faultlens.core.recording import Recording
from faultlens.core.session import Session, SessionChange
from faultlens.gui import theme
from faultlens.gui.channel_list import ChannelList
from faultlens.gui.cursors import Cursors
from faultlens.gui.peak_pyramid import Level, level_for, peak_pyramid
from faultlens.gui.plot_items import (
    LEFT_AXIS_WIDTH,
    LegendRow,
    ShadedSpans,
    break_at_gaps,
    channel_plot,
    gap_starts,
    time_axis_item,
)
from faultlens.gui.subscriptions import Subscriptions
from faultlens.gui.tracks import (
    AttentionStrip,
    FaultProbabilityTrack,
    HotspotTrack,
    class_colour,
    plain_tooltip,
    set_track_colours,
)

if TYPE_CHECKING:
    from faultlens.core.review import Review
    from faultlens.core.scan import ScanResult


EVENT_ALPHA = 70
DISMISSED_ALPHA = 150  # of the hatch lines only: lighter than a filled event
LABEL_BAND = 0.14  # the file's labels: a band this share of the plot's height, at its top
LABEL_Z, EVENT_Z = -20, -10  # behind the curves; events over the labelled stretches
TRACK_HEIGHTS = {"fault": 80, "attention": 46, "hotspots": 80}
MIN_PLOT_HEIGHT = 45  # px a channel plot keeps: with many channels the plots scroll instead


def _finite_sample(values: np.ndarray) -> np.ndarray:
    """The finite ``values``, evenly subsampled to about 200k: percentiles of 200k points are
    as good as of 20 M and 100x cheaper."""
    finite = values[np.isfinite(values)]
    if finite.size > 200_000:
        finite = finite[:: finite.size // 200_000]
    return finite


def robust_range(values: np.ndarray) -> tuple[float, float]:
    """A y range holding the data without letting a single outlier flatten the trace."""
    finite = _finite_sample(values)
    if finite.size == 0:
        return -1.0, 1.0
    lo, hi = np.percentile(finite, [0.05, 99.95])
    lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    if hi - lo < 1e-12:
        return float(lo) - 1.0, float(hi) + 1.0
    pad = 0.05 * (hi - lo)
    return float(lo - pad), float(hi + pad)


def bulk_range(values: np.ndarray) -> tuple[float, float]:
    """0.5th..99.5th percentile of the finite ``values`` (subsampled to 200k), with a margin."""
    finite = _finite_sample(values)
    if finite.size == 0:
        return -1.0, 1.0
    lo, hi = (float(v) for v in np.percentile(finite, [0.5, 99.5]))
    if hi - lo < 1e-12:
        return lo - 1.0, hi + 1.0
    pad = Y_MARGIN * (hi - lo)
    return lo - pad, hi + pad


# The y range in view is read from the finest pyramid level with at most this many blocks in
# view (raw rows below twice that): a min/max over a few thousand values per channel a frame.
Y_FOLLOW_MAX_BLOCKS = 2048
Y_MARGIN = 0.1  # of the data's span, above and below: room to pan before a refit
Y_MIN_FILL = 0.5  # refit when the data in view fills less of the y range than this


def envelope_range(values: np.ndarray) -> tuple[float, float] | None:
    """min..max of ``values`` (NaN-ignoring) with a margin; None when none is finite."""
    if values.size == 0:
        return None
    # fmin/fmax skip NaN (all-NaN gives NaN) at a fraction of nanmin's cost per call.
    lo, hi = np.fmin.reduce(values), np.fmax.reduce(values)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    lo, hi = float(lo), float(hi)
    if hi - lo < 1e-12:
        return lo - 1.0, hi + 1.0
    pad = Y_MARGIN * (hi - lo)
    return lo - pad, hi + pad


def evidence_marks(event: FaultEvent) -> dict[str, str]:
    """``{channel: mark}`` for the event's top channels, in the order of their contribution:
    each one's share of the evidence ("41 %"), or its rank where the scan gave no shares."""
    names = list(dict.fromkeys(event.top_channels))
    scores = list(event.channel_scores)
    if len(scores) >= len(names):
        pairs = sorted(zip(names, scores, strict=False), key=lambda p: -p[1])
        return {name: f"{100 * score:.0f} %" for name, score in pairs}
    return {name: f"top {rank}" for rank, name in enumerate(names, start=1)}


# A live view draws the raw rows in view up to this many a pixel, else blocks' min and max.
LIVE_RAW_PER_PIXEL = 3


def peak_blocks(
    x: np.ndarray, values: np.ndarray, i0: int, i1: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``[i0, i1)`` of ``x`` and ``values`` ((N,) or (N, C)) as drawn: as they are for
    ``k <= 1``, else the min and max (NaN-ignoring) of each block of ``k`` rows, blocks
    starting at multiples of ``k`` (the last one may be partial), each at its first row's x
    twice (min, max). O(rows in view), a few reductions."""
    if k <= 1:
        return x[i0:i1], values[i0:i1]
    a = i0 - i0 % k
    blocks = (i1 - a) // k
    end = a + blocks * k
    shaped = values[a:end].reshape((blocks, k, *values.shape[1:]))
    lo, hi = np.fmin.reduce(shaped, axis=1), np.fmax.reduce(shaped, axis=1)
    starts = x[a:end:k]
    if end < i1:  # the newest rows: a block still filling
        lo = np.concatenate([lo, np.fmin.reduce(values[end:i1], axis=0)[np.newaxis]])
        hi = np.concatenate([hi, np.fmax.reduce(values[end:i1], axis=0)[np.newaxis]])
        starts = np.append(starts, x[end])
    drawn = np.empty((2 * len(lo), *lo.shape[1:]), dtype=values.dtype)
    drawn[0::2], drawn[1::2] = lo, hi
    return np.repeat(starts, 2), drawn


def block_extremes(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """NaN-ignoring min and max of each block of ``k`` rows of ``rows`` ((B*k, C)): each
    (B, C). The channels go innermost-contiguous first: a reduction over the middle axis of
    (B, k, C) is several times slower than over a contiguous last axis."""
    blocks = len(rows) // k
    shaped = np.ascontiguousarray(rows[: blocks * k].reshape(blocks, k, -1).transpose(0, 2, 1))
    return np.fmin.reduce(shaped, axis=2), np.fmax.reduce(shaped, axis=2)


class SignalView(QWidget):
    """Stacked channel plots of one Recording plus the scan tracks, on a shared time axis;
    with a ``session``, those of its current recording."""

    x_range_changed = Signal(float, float)
    downsample_note_changed = Signal(str)  # "" when drawn at full resolution
    channel_visibility_changed = Signal(str, bool)
    plots_rebuilt = Signal()  # set_recording made new plots (items added to the old are gone)

    def __init__(self, session: Session | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.recording: Recording | None = None
        self.scan: ScanResult | None = None
        self.window: int | None = None
        self.x = np.zeros(0)
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        # Shading, one item per plot: flagged events (channel plots and the probability
        # track) and the file's labelled stretches (channel plots).
        self.event_shading: dict[pg.PlotItem, ShadedSpans] = {}
        self.label_shading: dict[pg.PlotItem, ShadedSpans] = {}
        self.fault_track: FaultProbabilityTrack | None = None
        self.attention_strip: AttentionStrip | None = None
        self.hotspot_track: HotspotTrack | None = None
        self.legend_row: LegendRow | None = None
        self.legend: pg.LegendItem | None = None  # legend_row.legend
        self._hidden: set[str] = set()
        self._user_y: set[str] = set()  # channels whose y range the user set on their axis
        # The plots' order, top to bottom (file order, or an event's evidence first), and the
        # marks on the names ("41 %": each top channel's share of the selected event).
        self._order: list[str] = []
        self.evidence_event: FaultEvent | None = None
        self._review: Review | None = None  # the session's review of the recording shown
        self._show_labels = True
        self._syncing = False
        self.downsample_note = ""
        self._lod: dict[str, list[Level]] = {}
        self._full_y: dict[str, tuple[float, float]] = {}  # whole-recording robust ranges
        self._gaps: dict[int, np.ndarray] = {}  # rows per block -> gap_starts of that x
        self._pending_y: dict[str, tuple[float, float]] = {}  # tighter y once a pan settles
        self._followed_width = 0.0  # the x width _follow_y saw last: a change is a zoom
        self.lod_rows_per_block = 1  # 1: curves hold the raw rows

        self.channel_list = ChannelList()
        self.channel_list.visibility_requested.connect(self._on_channels_requested)
        self.channel_list.file_order_requested.connect(self.show_file_order)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setSpacing(0)
        self.graphics.ci.setContentsMargins(2, 2, 8, 2)
        self.graphics.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.channel_list)
        splitter.addWidget(left)
        # Many channels keep MIN_PLOT_HEIGHT each (see _relayout): the plots scroll vertically.
        self.plot_scroll = QScrollArea()
        self.plot_scroll.setWidgetResizable(True)
        self.plot_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.plot_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.plot_scroll.setWidget(self.graphics)
        # The plots, and under them the cursors' readout strip (never over the data).
        plots_box = QWidget()
        self._plots_layout = QVBoxLayout(plots_box)
        self._plots_layout.setContentsMargins(0, 0, 0, 0)
        self._plots_layout.setSpacing(0)
        self._plots_layout.addWidget(self.plot_scroll, 1)
        splitter.addWidget(plots_box)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([200, 1000])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        # Recompute the "Downsampled N×" note, and tighten y ranges, once panning settles.
        self._note_timer = QTimer(self)
        self._note_timer.setSingleShot(True)
        self._note_timer.setInterval(120)
        self._note_timer.timeout.connect(self._update_downsample_note)
        self._note_timer.timeout.connect(self._apply_pending_y)
        # The crosshair readout and the measurement cursors (both off until switched on).
        self.cursors = Cursors(self)
        self._plots_layout.addWidget(self.cursors.readout)
        # View > Theme: the colours of our own (curves, names, shading) follow at once.
        theme.notifier().changed.connect(self._on_theme_changed)

        if session is not None:
            self._subscriptions = Subscriptions(self)
            self._subscriptions.set("session", session.subscribe(self._on_session_changed))
            self._show_current()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._note_timer.start()  # the range may have changed while the view was hidden

    def hideEvent(self, event: QHideEvent) -> None:
        # A hidden view (closed, or inside a window that closed) has no note to update.
        self._note_timer.stop()
        super().hideEvent(event)

    # ------------------------------------------------------------------ following a session
    def _on_session_changed(self, change: SessionChange) -> None:
        assert self.session is not None
        if change.kind == "current":
            self._show_current()
        elif change.kind == "review" and change.recording_id == self.session.current_id:
            self._follow_review()
        elif change.kind == "rows" and change.recording_id == self.session.current_id:
            self._follow_rows()
        elif change.kind == "model" or (
            change.kind == "scan" and change.recording_id == self.session.current_id
        ):
            entry = self.session.current
            if entry is not None and entry.scan is not self.scan:
                self.set_scan(entry.scan, self._window_of(entry.scan))

    def _show_current(self) -> None:
        assert self.session is not None
        entry = self.session.current
        recording = entry.recording if entry is not None else None
        if recording is not self.recording:
            self.set_recording(recording)
        if entry is not None and (entry.scan is not None or self.scan is not None):
            self.set_scan(entry.scan, self._window_of(entry.scan))
        self._follow_review()

    def _follow_review(self) -> None:
        """Shade the current recording's dismissed events apart: follow its review."""
        assert self.session is not None
        entry = self.session.current
        review = entry.review if entry is not None else None
        if review is self._review:
            return
        self._review = review
        self._subscriptions.set(
            "review", review.subscribe(self._on_review_changed) if review else None
        )
        self._on_review_changed(None)

    def _on_review_changed(self, _change: object) -> None:
        self._shade_events()
        self._fill_legend()

    def _window_of(self, result: ScanResult | None) -> int | None:
        """The attention strip's window: the scan's own, else the session model's."""
        if result is not None and result.window:
            return int(result.window)
        model = self.session.model if self.session is not None else None
        return int(model.window) if model is not None else None

    # ------------------------------------------------------------------ building
    def set_recording(self, recording: Recording | None) -> None:
        """Show ``recording`` (or nothing); any scan shown before is dropped."""
        self._note_timer.stop()
        self.recording = recording
        self.scan = None
        self.graphics.ci.clear()
        self.plots.clear()
        self.curves.clear()
        self.event_shading.clear()
        self.label_shading.clear()
        self._lod.clear()
        self._full_y.clear()
        self._gaps.clear()
        self.lod_rows_per_block = 1
        self.channel_list.set_channels([], set())
        self.fault_track = self.attention_strip = self.hotspot_track = None
        self.legend_row = self.legend = None
        if recording is None:
            self.x = np.zeros(0)
            self.plots_rebuilt.emit()
            return
        self.x = recording.time_axis()
        self._hidden &= set(recording.channels)
        self._user_y.clear()
        self._order = list(recording.channels)
        self.evidence_event = None
        for index, name in enumerate(recording.channels):
            plot, curve = channel_plot(name, time_axis_item(recording))
            curve.setData(*self._drawn(self.x, recording.data[:, index], 1), connect="finite")
            # Every channel shares the time axis: one copy of each level's x.
            first = next(iter(self._lod.values()), None)
            self._lod[name] = peak_pyramid(self.x, recording.data[:, index], share_x=first)
            self._full_y[name] = robust_range(recording.data[:, index])
            plot.setYRange(*self._full_y[name], padding=0)
            plot.vb.sigXRangeChanged.connect(self._on_plot_x_range_changed)
            # Bound methods, not lambdas over self: an item's connection must not keep the
            # view alive. PySide marks the layout's top item Python-owned (pyqtgraph asks it
            # for its parentItem), so at exit it deletes that item first; a lambda released
            # there could free the last reference to this view, whose scene then cleared
            # the half-destroyed item (a segfault at exit).
            axis = plot.getAxis("left")
            axis.y_zoomed.connect(self._on_axis_y_zoomed)
            axis.y_fit_requested.connect(self._on_axis_y_fit_requested)
            self.plots[name] = plot
            self.curves[name] = curve
        self.channel_list.set_channels(list(recording.channels), self._hidden)
        self.fault_track = FaultProbabilityTrack({"bottom": time_axis_item(recording)})
        self.attention_strip = AttentionStrip({"bottom": time_axis_item(recording)})
        self.hotspot_track = HotspotTrack({"bottom": time_axis_item(recording)})
        for key, track in self._tracks().items():
            track.setFixedHeight(TRACK_HEIGHTS[key])
            track.vb.sigXRangeChanged.connect(self._on_plot_x_range_changed)
        for plot in [*self.plots.values(), self.fault_track]:
            self.event_shading[plot] = self._add_shading(plot, EVENT_Z)
        for plot in self.plots.values():
            # A band at the top, under the flagged events' full-height fill: the two never
            # blend into one muddy colour.
            self.label_shading[plot] = self._add_shading(plot, LABEL_Z, band=LABEL_BAND)
            self.label_shading[plot].setVisible(self._show_labels)
        self._draw_label_regions()
        # One legend for the shading, in a row above the plots: ground truth and the event
        # classes of a scan (filled in by set_scan).
        self.legend_row = LegendRow(inset=LEFT_AXIS_WIDTH)
        self.legend = self.legend_row.legend
        self._fill_legend()
        self._relayout()
        self.show_all()
        self.plots_rebuilt.emit()

    def _tracks(self) -> dict[str, pg.PlotItem]:
        if self.fault_track is None or self.attention_strip is None or self.hotspot_track is None:
            return {}
        return {
            "fault": self.fault_track,
            "attention": self.attention_strip,
            "hotspots": self.hotspot_track,
        }

    def _relayout(self) -> None:
        """Lay out the legend row, the visible channel plots, then the tracks (with a scan)."""
        layout = self.graphics.ci
        layout.clear()
        if self.legend_row is not None:
            layout.addItem(self.legend_row, row=0, col=0)  # fixed height: no stretch
        first = 1  # the plots' first row
        items: list[pg.PlotItem] = [
            self.plots[name] for name in self.channel_order() if name not in self._hidden
        ]
        if self.scan is not None:
            items += list(self._tracks().values())
        for row, item in enumerate(items, start=first):
            layout.addItem(item, row=row, col=0)
            item.showAxis("bottom", item is items[-1])
        if self.scan is not None and self.attention_strip is not None:
            row = first + items.index(self.attention_strip)
            layout.addItem(self.attention_strip.colour_bar, row=row, col=1)
        if items:
            # Share the stretch between the channels; tracks keep their fixed height.
            for row, item in enumerate(items, start=first):
                layout.layout.setRowStretchFactor(row, 0 if item in self._tracks().values() else 1)
        # pyqtgraph activates the layout on every addItem, and Qt then bounds its size by its
        # maximum: with only fixed-height rows in it (the legend row first, or just the scan
        # tracks when every channel is hidden) it shrank to them, and the view gives its
        # layout a size only on resize, so the plots stayed squeezed to ~2 px. Give it back.
        layout.setGeometry(self.graphics.range)
        # Below MIN_PLOT_HEIGHT a channel plot is unreadable: the plot area scrolls instead.
        channels = sum(1 for item in items if item in self.plots.values())
        fixed = sum(TRACK_HEIGHTS.values()) if self.scan is not None else 0
        legend = self.legend_row.height() if self.legend_row is not None else 0
        self.graphics.setMinimumHeight(int(channels * MIN_PLOT_HEIGHT + fixed + legend + 40))

    # ------------------------------------------------------------------ scan
    def set_scan(self, result: ScanResult | None, window: int | None = None) -> None:
        """Show a scan's tracks and shade its events on every plot (``None`` removes them)."""
        if self.recording is None:
            return
        self.scan = result
        if self.evidence_event is not None and (
            result is None or self.evidence_event not in result.events
        ):
            self._set_evidence(None)  # the event is gone: file order, no marks
        self.window = window
        assert self.fault_track and self.attention_strip and self.hotspot_track
        self.fault_track.set_scan(self.x, result, self._row_step())
        self.attention_strip.set_scan(self.x, result, window)
        self.hotspot_track.set_scan(self.x, result, self.recording)
        self._shade_events()
        self._fill_legend()
        self._relayout()

    def _shade_events(self) -> None:
        result = self.scan
        spans = [] if result is None else [self._event_span(e, result) for e in result.events]
        for shading in self.event_shading.values():
            shading.set_spans(spans)

    def _fill_legend(self) -> None:
        if self.legend is None:
            return
        self.legend.clear()
        if self._show_labels and any(s.spans for s in self.label_shading.values()):
            sample = pg.PlotDataItem([], [], pen=None, fillLevel=0, brush=QColor(120, 120, 120, 90))
            self.legend.addItem(sample, "labelled in file")
        if self.scan is not None:
            for name in sorted({e.class_name for e in self.scan.events}):
                colour = class_colour(self.scan.class_names, name)
                colour.setAlpha(140)
                sample = pg.PlotDataItem([], [], pen=None, fillLevel=0, brush=colour)
                self.legend.addItem(sample, f"flagged: {name}")
            if self._review is not None and any(
                self._review.status(e) == "dismissed" for e in self.scan.events
            ):
                ink = QColor(theme.current().foreground)  # grey on either background
                ink.setAlpha(DISMISSED_ALPHA)
                hatch = QBrush(ink, Qt.BrushStyle.BDiagPattern)
                sample = pg.PlotDataItem([], [], pen=None, fillLevel=0, brush=hatch)
                self.legend.addItem(sample, "dismissed in review")
        if self.legend_row is not None:
            self.legend_row.refit()  # height 0 when there is nothing to explain

    @staticmethod
    def _add_shading(plot: pg.PlotItem, z: float, band: float | None = None) -> ShadedSpans:
        shading = ShadedSpans(z, band)
        plot.addItem(shading, ignoreBounds=True)  # shading never widens the auto range
        return shading

    def _event_span(
        self, event: FaultEvent, result: ScanResult
    ) -> tuple[float, float, QColor | QBrush, str]:
        colour = class_colour(result.class_names, event.class_name)
        colour.setAlpha(EVENT_ALPHA)
        x0, x1 = self.row_span_x(event.start_row, event.end_row)
        dismissed = self._review is not None and self._review.status(event) == "dismissed"
        if dismissed:
            # Lighter and hatched: still where it was, plainly not a fault any more.
            colour.setAlpha(DISMISSED_ALPHA)
            brush: QColor | QBrush = QBrush(colour, Qt.BrushStyle.BDiagPattern)
        else:
            brush = colour
        # Qt renders a tooltip that looks like HTML as HTML: names stay plain text.
        tip = plain_tooltip(
            ("dismissed in review: " if dismissed else "")
            + f"{event.class_name}: {event.start_time} – {event.end_time}, "
            f"peak p={event.peak_probability:.2f}; channels: {', '.join(event.top_channels)}"
        )
        return x0, x1, brush, tip

    def row_span_x(self, start_row: int, end_row: int) -> tuple[float, float]:
        """x extent of rows ``start_row..end_row`` (inclusive), half a sample either side."""
        x = self.x
        step = self._row_step()
        return float(x[start_row]) - step / 2, float(x[min(end_row, len(x) - 1)]) + step / 2

    def _row_step(self) -> float:
        """x units per row: the recording's sampling interval (one row without a time axis)."""
        return self.recording.sampling_interval if self.recording is not None else 1.0

    # ------------------------------------------------------------------ ground truth
    def set_show_labels(self, show: bool) -> None:
        self._show_labels = show
        for shading in self.label_shading.values():
            shading.setVisible(show)
        self._fill_legend()

    def _draw_label_regions(self) -> None:
        rec = self.recording
        if rec is None or rec.labels is None:
            return
        spans = [
            (
                *self.row_span_x(start, end),
                theme.current().label_colour,
                plain_tooltip(f"labelled '{label}' in the file (ground truth)"),
            )
            for start, end, label in rec.fault_label_runs
        ]
        for shading in self.label_shading.values():
            shading.set_spans(spans)

    # ------------------------------------------------------------------ theme
    def _on_theme_changed(self, colours: theme.Theme) -> None:
        """Recolour what the view made in the theme before (pyqtgraph's own background and
        axes were recoloured by ``theme.set_theme``)."""
        self.graphics.setBackground(colours.background)
        pen = pg.mkPen(colours.curve, width=1)
        for name, plot in self.plots.items():
            self.curves[name].setPen(pen)
            label = plot.channel_name  # type: ignore[attr-defined]
            label.mark_colour = colours.mark
            label.set_colours(colours.name_text, colours.name_fill)
        for track in self._tracks().values():
            set_track_colours(track, colours)
        self._draw_label_regions()
        self._fill_legend()
        if self.channel_list.marks:
            self.channel_list.set_marks(self.channel_list.marks, colours.mark)
        self.cursors.set_style(colours)

    # ------------------------------------------------------------------ channels
    def set_channel_visible(self, name: str, visible: bool) -> None:
        if name not in self.plots:
            raise KeyError(name)
        was_hidden = name in self._hidden
        if visible == (not was_hidden):
            return
        if visible:
            self._hidden.discard(name)
        else:
            self._hidden.add(name)
        self.channel_list.set_visible(name, visible)
        self._relayout()
        self.channel_visibility_changed.emit(name, visible)

    def set_channels_visible(self, visible: dict[str, bool]) -> None:
        """Show or hide several channels with one relayout (the list's All/None/groups)."""
        changed = [
            (name, show)
            for name, show in visible.items()
            if name in self.plots and show == (name in self._hidden)
        ]
        if not changed:
            return
        for name, show in changed:
            if show:
                self._hidden.discard(name)
            else:
                self._hidden.add(name)
            self.channel_list.set_visible(name, show)
        self._relayout()
        for name, show in changed:
            self.channel_visibility_changed.emit(name, show)

    def visible_channels(self) -> list[str]:
        """The shown channels, top to bottom."""
        return [name for name in self.channel_order() if name not in self._hidden]

    def channels_in_sight(self) -> list[str]:
        """The shown channels whose plots the scroll area shows now (all of them when the
        plots fit), top to bottom: what the cursors' readout lists."""
        shown = self.visible_channels()
        viewport = self.plot_scroll.viewport()
        if self.graphics.height() <= viewport.height():
            return shown
        top = -self.graphics.y()  # the graphics widget scrolls up as the area scrolls down
        bottom = top + viewport.height()
        in_sight = []
        for name in shown:
            rect = self.graphics.mapFromScene(self.plots[name].sceneBoundingRect()).boundingRect()
            if rect.bottom() > top and rect.top() < bottom:
                in_sight.append(name)
        return in_sight

    def channel_order(self) -> list[str]:
        """Every channel, in the order the plots stand (hidden ones where they would be)."""
        return [name for name in self._order if name in self.plots]

    # ------------------------------------------------------------------ an event's evidence
    def show_event_evidence(self, event: FaultEvent, context: float = 1.0) -> None:
        """Put the evidence for ``event`` where the eye is: zoom to it with ``context`` × its
        width either side, fit every channel's y range to what is in view (a hand-set range
        too: this is a fresh look), and stand its top channels first, in the order of their
        contribution, each marked with its share ("41 %"); the rest follow in file order.
        Hidden channels stay hidden (the channel list marks them too)."""
        self._set_evidence(event)
        self._user_y.clear()
        self.zoom_to_rows(event.start_row, event.end_row, context)
        self._follow_y(self.x_range(), force=True)

    def show_file_order(self) -> None:
        """The channels in the file's order again, without the event's marks."""
        self._set_evidence(None)

    def _set_evidence(self, event: FaultEvent | None) -> None:
        self.evidence_event = event
        marks = evidence_marks(event) if event is not None else {}
        marks = {name: mark for name, mark in marks.items() if name in self.plots}
        first = list(marks)
        before = self._order
        if self.recording is not None:
            self._order = first + [c for c in self.recording.channels if c not in marks]
        colour = theme.current().mark
        for name, plot in self.plots.items():
            plot.channel_name.set_mark(marks.get(name, ""), colour)  # type: ignore[attr-defined]
        self.channel_list.set_marks(marks, colour)
        if self._order != before:  # a relayout of 200 plots takes half a second
            self._relayout()

    def _on_channels_requested(self, visible: dict[str, bool]) -> None:
        self.set_channels_visible(visible)

    # ------------------------------------------------------------------ x range
    def _all_plots(self) -> list[pg.PlotItem]:
        return list(self.plots.values()) + list(self._tracks().values())

    def _on_plot_x_range_changed(self, vb: pg.ViewBox, x_range: tuple[float, float]) -> None:
        # One shared time axis: replicate the range to every plot (visible or not). All plots
        # sit in the same layout column, so a plain copy keeps them aligned pixel for pixel.
        if self._syncing:
            return
        self._syncing = True
        try:
            for plot in self._all_plots():
                if plot.vb is not vb:
                    plot.vb.setXRange(x_range[0], x_range[1], padding=0)
        finally:
            self._syncing = False
        self._apply_lod(x_range)
        self._follow_y(x_range)
        self.x_range_changed.emit(float(x_range[0]), float(x_range[1]))
        if self.isVisible():  # a hidden view has no note to show; showEvent updates it
            self._note_timer.start()

    def _apply_lod(self, x_range: tuple[float, float]) -> None:
        """Feed the curves the pyramid level that suits the rows now in view."""
        if self.recording is None or not self._lod:
            return
        i0, i1 = np.searchsorted(self.x, x_range)
        visible = max(int(i1 - i0), 1)
        pixels = max(
            (int(p.vb.width()) for p in self.plots.values() if p.vb.width() > 0), default=1000
        )
        chosen = level_for(next(iter(self._lod.values())), visible, pixels)
        if chosen == self.lod_rows_per_block:
            return
        self.lod_rows_per_block = chosen
        for index, name in enumerate(self.recording.channels):
            if chosen == 1:
                drawn = self._drawn(self.x, self.recording.data[:, index], 1)
            else:
                _, level_x, level_y = next(lv for lv in self._lod[name] if lv[0] == chosen)
                drawn = self._drawn(level_x, level_y, chosen)
            self.curves[name].setData(*drawn, connect="finite")

    def _follow_y(
        self, x_range: tuple[float, float], force: bool = False, names: set[str] | None = None
    ) -> None:
        """Fit each channel's y range to the envelope of its data in ``x_range`` (``force``:
        even one that holds it well enough; ``names``: only these). A channel whose range
        the user set on its axis keeps it."""
        width = x_range[1] - x_range[0]
        zoomed = force or not np.isclose(width, self._followed_width)
        self._followed_width = width
        if names is None:
            self._pending_y = {}
        skip = self._user_y if names is None else set(self.plots) - (names - self._user_y)
        if self.recording is None or not self._lod:
            return
        x = self.x
        i0 = int(np.searchsorted(x, x_range[0], side="left"))
        i1 = int(np.searchsorted(x, x_range[1], side="right"))
        if i0 <= 0 and i1 >= len(x):  # the whole recording: its own (robust) ranges
            for name, plot in self.plots.items():
                if name not in skip:
                    self._set_y(plot, self._full_y[name])
            return
        # A row either side: the line into the view from just outside it is drawn too.
        i0, i1 = max(i0 - 1, 0), min(i1 + 1, len(x))
        rows = i1 - i0
        levels = next(iter(self._lod.values()))
        chosen = next(
            (r for r, _x, _y in levels if rows / r <= Y_FOLLOW_MAX_BLOCKS),
            levels[-1][0] if levels else 1,
        )
        if rows <= 2 * Y_FOLLOW_MAX_BLOCKS or not levels:
            chosen = 1
        if chosen > 1:
            level_x = next(lx for r, lx, _y in levels if r == chosen)
            # Blocks start at level_x; the block holding row i0 starts at or before x[i0].
            j0 = max(int(np.searchsorted(level_x, x[i0], side="right")) - 2, 0)
            j1 = int(np.searchsorted(level_x, x[i1 - 1], side="right"))
        for index, name in enumerate(self.recording.channels):
            if name in skip:
                continue
            if chosen == 1:
                values = self.recording.data[i0:i1, index]
            else:
                _r, _lx, level_y = next(lv for lv in self._lod[name] if lv[0] == chosen)
                values = level_y[j0 // 2 * 2 : j1]
            fitted = envelope_range(values)
            if fitted is None:
                continue
            plot = self.plots[name]
            lo, hi = plot.vb.state["viewRange"][1]
            if force or fitted[0] < lo or fitted[1] > hi or self._too_loose(plot, fitted):
                if zoomed:
                    self._set_y(plot, fitted)
                else:
                    # A pan: fit once it settles (the note timer), not on every frame of a
                    # drag, where each refit re-renders an axis (+2 ms a frame in bench_gui).
                    self._pending_y[name] = fitted

    @staticmethod
    def _too_loose(plot: pg.PlotItem, fitted: tuple[float, float]) -> bool:
        """Whether the envelope in view fills too little of the plot's y range. Between that
        and leaving the range, the range stays: a pan does not make the traces jitter."""
        lo, hi = plot.vb.state["viewRange"][1]
        return (fitted[1] - fitted[0]) < Y_MIN_FILL * (hi - lo)

    def _apply_pending_y(self) -> None:
        pending, self._pending_y = self._pending_y, {}
        for name, fitted in pending.items():
            if name in self.plots and name not in self._user_y:
                self._set_y(self.plots[name], fitted)

    def _channel_of_axis(self, axis: object) -> str | None:
        return next((n for n, p in self.plots.items() if p.getAxis("left") is axis), None)

    def _on_axis_y_zoomed(self) -> None:
        name = self._channel_of_axis(self.sender())
        if name is not None:
            self._user_y.add(name)

    def _on_axis_y_fit_requested(self) -> None:
        name = self._channel_of_axis(self.sender())
        if name is not None:
            self.fit_channel_y(name)

    def fit_channel_y(self, name: str) -> None:
        """Give ``name`` back to the automatic y range, fitted to what is in view now (its
        axis's double-click or "Fit y to view")."""
        self._user_y.discard(name)
        self._pending_y.pop(name, None)
        self._follow_y(self.x_range(), force=True, names={name})

    def user_zoomed_channels(self) -> set[str]:
        """The channels whose y range the user set by hand (the view leaves them alone)."""
        return set(self._user_y)

    @staticmethod
    def _set_y(plot: pg.PlotItem, y: tuple[float, float]) -> None:
        if tuple(plot.vb.state["viewRange"][1]) != y:  # unchanged: no redraw
            plot.vb.setYRange(y[0], y[1], padding=0)

    def _drawn(
        self, x: np.ndarray, y: np.ndarray, rows_per_block: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """What a curve is fed: ``x, y`` broken at time gaps (a level's blocks start
        ``rows_per_block`` rows apart, so its gap threshold is that many intervals)."""
        gaps = self._gaps.get(rows_per_block)
        if gaps is None:  # one search per level: every channel shares the level's x
            gaps = self._gaps[rows_per_block] = gap_starts(x, self._row_step() * rows_per_block)
        return break_at_gaps(x, y, gaps)

    def x_range(self) -> tuple[float, float]:
        plots = self._all_plots()
        if not plots:
            return 0.0, 1.0
        x0, x1 = plots[0].vb.viewRange()[0]
        return float(x0), float(x1)

    def set_x_range(self, x0: float, x1: float) -> None:
        plots = self._all_plots()
        if plots:
            plots[0].vb.setXRange(x0, x1, padding=0)

    def full_x_range(self) -> tuple[float, float]:
        if len(self.x) == 0:
            return 0.0, 1.0
        x0, x1 = float(self.x[0]), float(self.x[-1])
        return (x0, x1) if x1 > x0 else (x0 - 0.5, x0 + 0.5)

    def show_all(self) -> None:
        self.set_x_range(*self.full_x_range())

    def scroll(self, fraction: float) -> None:
        """Move the view by ``fraction`` of its width (negative: back in time)."""
        x0, x1 = self.x_range()
        lo, hi = self.full_x_range()
        shift = fraction * (x1 - x0)
        shift = max(lo - x0, min(shift, hi - x1)) if (x1 - x0) < (hi - lo) else 0.0
        self.set_x_range(x0 + shift, x1 + shift)

    def zoom(self, factor: float) -> None:
        """Zoom around the view centre; ``factor`` < 1 zooms in."""
        x0, x1 = self.x_range()
        lo, hi = self.full_x_range()
        centre = (x0 + x1) / 2
        half = max((x1 - x0) * factor / 2, self._min_half_width())
        half = min(half, (hi - lo) / 2 * 1.05)
        self.set_x_range(centre - half, centre + half)

    def _min_half_width(self) -> float:
        # Never zoom in beyond ~10 samples in view.
        if len(self.x) < 2:
            return 0.5
        return 5 * self._row_step()

    def go_home(self) -> None:
        x0, x1 = self.x_range()
        lo, _hi = self.full_x_range()
        self.set_x_range(lo, lo + (x1 - x0))

    def go_end(self) -> None:
        x0, x1 = self.x_range()
        _lo, hi = self.full_x_range()
        self.set_x_range(hi - (x1 - x0), hi)

    def zoom_to_rows(self, start_row: int, end_row: int, context: float = 1.0) -> None:
        """Show rows ``start_row..end_row`` with ``context`` × their width either side."""
        x0, x1 = self.row_span_x(start_row, end_row)
        pad = max((x1 - x0) * context, self._min_half_width())
        self.set_x_range(x0 - pad, x1 + pad)

    def fit_y_to_view(self) -> None:
        """Fit each visible channel's y axis to the bulk of the raw rows in view (0.5th to
        99.5th percentile): tighter than the envelope the view follows, a rare spike runs off
        the plot. The next change of the time range follows the envelope again."""
        if self.recording is None:
            return
        x0, x1 = self.x_range()
        i0, i1 = np.searchsorted(self.x, [x0, x1])
        i1 = max(i1, i0 + 1)
        self._user_y -= set(self.visible_channels())  # the key asks for every shown channel
        for index, name in enumerate(self.recording.channels):
            if name not in self._hidden:
                lo, hi = bulk_range(self.recording.data[i0:i1, index])
                self.plots[name].setYRange(lo, hi, padding=0)

    # ------------------------------------------------------------------ live recordings
    # A live recording grows: its snapshot is replaced many times a second. Only the rows in
    # view are handed to the curves and tracks (O(rows in view) a refresh, never all rows; no
    # pyramid is kept for it), and while following, the view scrolls with the newest row.
    following_changed = Signal(bool)  # follow mode of a live recording: True following
    live_window = 600.0  # x units in view while following (seconds; rows without time)
    following = True
    _live: Recording | None = None  # the live snapshot shown last
    _live_moving = False  # the view itself is scrolling to the newest row
    _live_hooked = False
    _live_range = (0.0, 0.0)  # the range the view scrolled to last
    # (rows per block, first block, min, max (blocks, C)) of whole blocks of the live rows:
    # rows never change once received, so a scroll reduces only the blocks new in view.
    _live_blocks: tuple[int, int, np.ndarray, np.ndarray] | None = None

    @property
    def is_live(self) -> bool:
        """Whether the recording shown is a live one (its snapshot came by ``extend_rows``)."""
        return self.recording is not None and self.recording is self._live

    def _follow_rows(self) -> None:
        """The current recording's rows changed: a live one grew, or it ended and the session
        holds the complete recording now (shown in its place, at the same time range)."""
        assert self.session is not None
        entry = self.session.current
        if entry is None:
            return
        if entry.live is not None:
            self.extend_rows(entry.recording, entry.scan)
        elif entry.recording is not self.recording:
            x_range = self.x_range()
            self._live = None
            self._show_current()
            self.set_x_range(*x_range)

    def extend_rows(self, recording: Recording, scan: ScanResult | None) -> None:
        """Show ``recording``, a longer snapshot of the live recording shown (same channels),
        with its live ``scan``; only the rows in view are drawn."""
        if not self._live_hooked:
            self._live_hooked = True
            self.x_range_changed.connect(self._on_live_range_changed)
        shown = self.recording
        if shown is None or (shown.path, shown.channels) != (recording.path, recording.channels):
            self.set_recording(recording)  # another live recording (each records a new file)
            self.following = True
            self._live_blocks = None
        self.recording = recording
        self.x = recording.time_axis()
        self._live = recording
        self._lod.clear()  # no pyramid of a growing recording: curves hold the rows in view
        self._gaps.clear()
        self.lod_rows_per_block = 1
        before = self.scan
        self.scan = scan
        if scan is not None:
            self.window = self._window_of(scan)
            if self.fault_track is not None:
                self.fault_track.threshold_line.setPos(scan.threshold)
        if (before is None) != (scan is None):
            self._relayout()  # the tracks come (or go) with the scan
        if (before.events if before is not None else []) != (scan.events if scan else []):
            self._shade_events()
            self._fill_legend()
        if self.following:
            self._scroll_to_newest()
        self._draw_live()
        self._update_downsample_note()  # the settle timer restarts at every scroll

    def set_following(self, follow: bool) -> None:
        """Follow the newest rows of a live recording (scrolling) or stay where the view is."""
        if follow == self.following:
            return
        self.following = follow
        if follow and self.is_live:
            self._scroll_to_newest()
            self._draw_live()
        self.following_changed.emit(follow)

    def set_live_window(self, width: float) -> None:
        """The width of the time range shown while following (x units)."""
        self.live_window = max(float(width), 1e-9)
        if self.following and self.is_live:
            self._scroll_to_newest()
            self._draw_live()

    def _scroll_to_newest(self) -> None:
        if len(self.x) == 0:
            return
        first, last = float(self.x[0]), float(self.x[-1])
        # Until the window is full the rows start at its left edge and grow to the right.
        x1 = max(last + self._row_step() / 2, first + self.live_window)
        x0 = x1 - self.live_window
        self._live_moving = True
        try:
            self.set_x_range(x0, x1)
        finally:
            self._live_moving = False
        self._live_range = self.x_range()

    def _on_live_range_changed(self, x0: float, x1: float) -> None:
        if not self.is_live or self._live_moving:
            return  # extend_rows draws once the view has moved
        r0, r1 = self._live_range
        tolerance = 1e-6 * max(r1 - r0, 1e-12)  # times since 1970 are large: compare to width
        if self.following and max(abs(x0 - r0), abs(x1 - r1)) > tolerance:
            # The user moved the view (pan, zoom, keys, an event): stay there.
            self.following = False
            self.following_changed.emit(False)
        self._draw_live()

    def _draw_live(self) -> None:
        """Hand the curves and tracks the rows in view (and one either side): raw while they
        fit the plot's pixels, else the min and max of blocks of rows (about one block a
        pixel, aligned to whole blocks so the picture does not shimmer as it scrolls)."""
        recording, x = self.recording, self.x
        if recording is None or len(x) == 0 or not self.curves:
            return
        x0, x1 = self.x_range()
        i0 = max(int(np.searchsorted(x, x0, side="left")) - 1, 0)
        i1 = min(int(np.searchsorted(x, x1, side="right")) + 1, len(x))
        pixels = max(
            (int(p.vb.width()) for p in self.plots.values() if p.vb.width() > 0), default=1000
        )
        # Rows per block: a power of two, so it stays put while the window fills or scrolls
        # (the blocks kept are reused) and changes only when the rows in view double.
        k = 1
        if i1 - i0 > LIVE_RAW_PER_PIXEL * pixels:
            k = 1 << math.ceil(math.log2((i1 - i0) / pixels))
        self.lod_rows_per_block = max(k, 1)
        xs, values = self._live_data_blocks(i0, i1, k)
        gaps = gap_starts(xs, self._row_step() * max(k, 1))
        for index, name in enumerate(recording.channels):
            ys = values[:, index]
            self.curves[name].setData(*break_at_gaps(xs, ys, gaps), connect="finite")
            fitted = envelope_range(ys)
            plot = self.plots[name]
            if fitted is not None and name not in self._user_y:  # a hand-zoomed y stays
                lo, hi = plot.vb.state["viewRange"][1]
                if fitted[0] < lo or fitted[1] > hi or self._too_loose(plot, fitted):
                    self._set_y(plot, fitted)
        scan = self.scan
        if scan is None or self.fault_track is None:
            return
        assert self.attention_strip is not None and self.hotspot_track is not None
        j1 = min(i1, scan.n_rows)
        if j1 - i0 < 2:
            return
        xs, fault = peak_blocks(x, scan.fault_probability, i0, j1, k)
        self.fault_track.curve.setData(xs, fault, connect="finite")
        _xs, hot = peak_blocks(x, scan.hotspots, i0, j1, k)
        self.hotspot_track.curve.setData(xs, hot, connect="finite")
        self.hotspot_track.markers.clear()  # the strongest are chosen once the scan is final
        # The strip shows the peak attention per bin: the blocks' maxima, once per block.
        in_view = dataclasses.replace(scan, attention=peak_blocks(x, scan.attention, i0, j1, k)[1])
        step = 2 if k > 1 else 1
        self.attention_strip.set_scan(
            xs[::step],
            dataclasses.replace(in_view, attention=in_view.attention[step - 1 :: step]),
            self.window,
        )

    def _live_data_blocks(self, i0: int, i1: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``peak_blocks`` of the live rows ``[i0, i1)``, whole blocks kept between calls."""
        assert self.recording is not None
        data, x = self.recording.data, self.x
        if k <= 1:
            return peak_blocks(x, data, i0, i1, k)
        first, last = i0 // k, i1 // k  # whole blocks in view: [first, last)
        cached = self._live_blocks
        if cached is None or cached[0] != k or not cached[1] <= first <= cached[1] + len(cached[2]):
            lo, hi = block_extremes(data[first * k : last * k], k)
            cached = (k, first, lo, hi)
        else:
            have = cached[1] + len(cached[2])
            lo, hi = cached[2][first - cached[1] :], cached[3][first - cached[1] :]
            if last > have:
                more_lo, more_hi = block_extremes(data[have * k : last * k], k)
                lo, hi = np.concatenate([lo, more_lo]), np.concatenate([hi, more_hi])
            cached = (k, first, lo, hi)
        self._live_blocks = cached
        lo, hi = lo[: last - first], hi[: last - first]
        starts = x[first * k : last * k : k]
        if last * k < i1:  # the newest rows: a block still filling
            tail = data[last * k : i1]
            lo = np.concatenate([lo, np.fmin.reduce(tail, axis=0)[np.newaxis]])
            hi = np.concatenate([hi, np.fmax.reduce(tail, axis=0)[np.newaxis]])
            starts = np.append(starts, x[last * k])
        drawn = np.empty((2 * len(lo), data.shape[1]), dtype=data.dtype)
        drawn[0::2], drawn[1::2] = lo, hi
        return np.repeat(starts, 2), drawn

    # ------------------------------------------------------------------ downsampling note
    def _update_downsample_note(self) -> None:
        note = self.compute_downsample_note()
        if note != self.downsample_note:
            self.downsample_note = note
            self.downsample_note_changed.emit(note)

    def compute_downsample_note(self) -> str:
        """ "Downsampled N×, peak" when fewer points are drawn than rows are in view."""
        visible = self.visible_channels()
        if not visible or len(self.x) == 0:
            return ""
        x0, x1 = self.x_range()
        i0, i1 = np.searchsorted(self.x, [x0, x1])
        in_view = int(i1 - i0)
        drawn_x, _ = self.curves[visible[0]].getData()
        drawn = 0 if drawn_x is None else len(drawn_x)
        if drawn == 0 or in_view <= drawn:
            return ""
        # Peak downsampling draws a min and a max per block, so blocks = drawn / 2.
        factor = in_view / max(drawn / 2, 1)
        return f"Downsampled {factor:.0f}×, peak" if factor >= 1.5 else ""


def _demo_widget(recording: Recording, model: object, scan: ScanResult | None) -> SignalView:
    """The widget as ``python -m`` opens it on the demo data (also used by the smoke test)."""
    view = SignalView()
    view.set_recording(recording)
    if scan is not None:
        view.set_scan(scan, getattr(model, "window", None))
    return view


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
