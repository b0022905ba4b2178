"""Figures of fault events for reports: matplotlib with the Agg/PDF backends, no display.

One event figure shows the event's top channels (one panel each) and a model-evidence panel
(fault probability, attention received, max-pool hotspots), over the event with context on
both sides; the event is shaded. Figures are built once per layout and then only their data
changes (``set_data``), because creating axes costs far more than drawing them; what
changes per event is drawn over a kept background, the texts stamped from cached glyph
bitmaps (``faultlens.core.report.mpl_compat.TextStamps``). An event figure takes about 5 ms.

Every string from a file (channel and class names, notes) is drawn with mathtext off, so a
name such as ``$x$`` is shown as written.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.colors import to_rgb

# Figures are plain ``Figure`` objects, never pyplot: no global backend is chosen, no GUI
# toolkit is loaded, and savefig picks Agg (PNG) or the PDF backend by itself.
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import (
    Bbox,
    IdentityTransform,
    TransformedBbox,
    blended_transform_factory,
)

from faultlens.core.events import FaultEvent
from faultlens.core.recording import Recording
from faultlens.core.report.mpl_compat import TextStamps, png_bytes

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

    from faultlens.core.scan import ScanResult


MAX_POINTS = 2000  # per plotted line: min/max pairs of 1000 bins
MAX_CHANNEL_PANELS = 3
MIN_CONTEXT_ROWS = 60
HOTSPOT_MARKERS = 8  # rows with the most max-pool hits shown per event
EVENT_COLOUR = "#d62728"
SIGNAL_COLOUR = "#1f4e79"
PROB_COLOUR = "#d62728"
ATTN_COLOUR = "#ff9f1c"
HOT_COLOUR = "#6a3d9a"
LABEL_COLOUR = "#555555"  # the file's own fault labels: a bar along the evidence panel's top
TICK_FONT_PT = 6.5
NAME_FONT_PT = 7
NAME_COLOUR = "#222222"
SHADE_ALPHA = 0.12
# The shade as a lookup table per channel, (3, 256): value under it -> value with it.
SHADE_LUT = np.round(
    np.arange(256.0)[None, :] * (1 - SHADE_ALPHA)
    + 255 * np.asarray(to_rgb(EVENT_COLOUR))[:, None] * SHADE_ALPHA
).astype(np.uint8)

RC: dict[RcKeyType, Any] = {
    # Strings from files must never be parsed as TeX/mathtext.
    "text.parse_math": False,
    "text.usetex": False,
    "font.size": 7.5,
    "axes.titlesize": 8,
    "axes.labelsize": 7.5,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "legend.fontsize": 6.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.compression": 6,
}


@contextlib.contextmanager
def report_style() -> Iterator[None]:
    """Matplotlib settings for report figures; fonts lacking a glyph only warn."""
    with matplotlib.rc_context(RC), warnings.catch_warnings():
        # A channel name in a script the font lacks must not abort the report.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        warnings.filterwarnings("ignore", message=r".*missing from font", category=UserWarning)
        yield


def peak_decimate(
    x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points that keep every bin's min and max (spikes survive).

    NaN gaps stay gaps: a bin that is all NaN yields NaN.
    """
    n = y.shape[0]
    if n <= max_points:
        return x, y
    bins = max_points // 2
    edges = np.linspace(0, n, bins + 1).astype(np.int64)
    # Pad every bin to the same width with NaN so min/max run as one (bins, width) reduce.
    width = int(np.max(np.diff(edges)))
    idx = edges[:-1, None] + np.arange(width)[None, :]  # (bins, width)
    valid = idx < edges[1:, None]
    idx = np.minimum(idx, n - 1)
    vals = np.where(valid, y[idx], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins
        lo = np.nanmin(vals, axis=1)
        hi = np.nanmax(vals, axis=1)
    xs = np.empty(bins * 2)
    xs[0::2] = x[edges[:-1]]
    xs[1::2] = x[np.maximum(edges[1:] - 1, edges[:-1])]
    ys = np.empty(bins * 2)
    ys[0::2] = lo
    ys[1::2] = hi
    return xs, ys


def _limits(y: np.ndarray) -> tuple[float, float]:
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.05, 0.5)
    return lo - pad, hi + pad


@dataclass(frozen=True)
class EventView:
    """What one event figure shows: rows ``lo..hi`` (exclusive) around the event."""

    index: int  # 1-based event number in the report
    event: FaultEvent
    channels: tuple[str, ...]
    lo: int
    hi: int


def event_view(index: int, event: FaultEvent, recording: Recording) -> EventView:
    """Choose the channels and the stretch of rows to plot for ``event``."""
    known = [c for c in event.top_channels if c in recording.channels]
    # An event without attribution still shows something: the first channels.
    for c in recording.channels:
        if len(known) >= MAX_CHANNEL_PANELS:
            break
        if c not in known and not event.top_channels:
            known.append(c)
    channels = tuple(known[:MAX_CHANNEL_PANELS]) or recording.channels[:1]
    length = event.end_row - event.start_row + 1
    context = max(length, MIN_CONTEXT_ROWS)
    lo = max(0, event.start_row - context)
    hi = min(recording.n_rows, event.end_row + 1 + context)
    return EventView(index, event, channels, lo, hi)


def _range_text(y: np.ndarray) -> str:
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        return "no values"
    return f"{finite.min():.4g} … {finite.max():.4g}"


class EventFigure:
    """Draws event figures again and again, fast: one figure per channel count, whose static
    parts (frames, fixed ticks, labels) are drawn once and kept as a pixel background;
    per event only the data artists are drawn over it (blitting). Matplotlib's own tick
    machinery (locators, formatters, text layout of every tick label) cost most of a full
    redraw, so x ticks are computed here; the texts that change per event (tick labels,
    channel names with their value range) are stamped into the pixels by ``TextStamps``.

    ``png(view)`` gives PNG bytes; ``rgba(view)`` the (H, W, 4) uint8 pixels.
    """

    N_XTICK_LABELS = 9

    def __init__(
        self,
        recording: Recording,
        result: ScanResult,
        threshold: float,
        width_in: float = 7.4,
        height_in: float = 3.4,
        dpi: int = 90,
    ) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.recording = recording
        self.result = result
        self.threshold = threshold
        self.width_in, self.height_in, self.dpi = width_in, height_in, dpi
        self._layouts: dict[int, tuple[Figure, FigureCanvasAgg, _Layout, Any]] = {}
        self._canvas_type = FigureCanvasAgg
        self._tick_text = TextStamps(TICK_FONT_PT, dpi, "black")
        self._name_text = TextStamps(NAME_FONT_PT, dpi, NAME_COLOUR)

    def _layout(self, n: int) -> tuple[Any, _Layout]:
        if n not in self._layouts:
            fig = Figure(figsize=(self.width_in, self.height_in), dpi=self.dpi)
            canvas = self._canvas_type(fig)
            xlabel = (
                "time from event start (s)"
                if self.recording.time is not None
                else "rows from event start"
            )
            layout = _Layout(fig, n, xlabel, self.threshold, self.N_XTICK_LABELS)
            for artist in layout.dynamic:
                artist.set_animated(True)
            canvas.draw()
            background = canvas.copy_from_bbox(fig.bbox)
            self._layouts[n] = (fig, canvas, layout, background)
        fig, canvas, layout, background = self._layouts[n]
        canvas.restore_region(background)
        return canvas, layout

    def _draw(self, view: EventView) -> np.ndarray:
        """Draw the event's figure; the canvas pixels as (H, W, 4), valid until the next."""
        canvas, layout = self._layout(len(view.channels))
        layout.update(view, self.recording, self.result)
        fig = layout.fig
        rgba = np.asarray(canvas.buffer_rgba())  # (H, W, 4), a view of the canvas
        layout.shade_pixels(rgba)  # under the lines, as a patch would be
        for artist in layout.dynamic:
            if artist.get_visible():
                fig.draw_artist(artist)
        height = rgba.shape[0]
        for x, y, text in layout.tick_labels:
            self._tick_text.draw(rgba, x, height - y, (text,), "center")
        for x, y, name_and_range in layout.names:
            self._name_text.draw(rgba, x, height - y, name_and_range, "left", box_pt=1.0)
        return rgba

    def rgba(self, view: EventView) -> np.ndarray:
        """The event's figure as (H, W, 4) uint8 pixels, opaque (what imshow takes as is)."""
        return self._draw(view).copy()

    def png(self, view: EventView) -> bytes:
        """The event's figure as PNG bytes."""
        return png_bytes(self._draw(view)[..., :3])


class _Layout:
    """Axes and artists of one event figure with ``n`` channel panels."""

    def __init__(self, fig: Figure, n: int, xlabel: str, threshold: float, n_xticks: int) -> None:
        left, width = 0.06, 0.925
        bottom, top = 0.13, 0.985
        gap = 0.012
        # The evidence panel gets 1.25 shares of height, each channel panel 1.
        unit = (top - bottom - gap * n) / (n + 1.25)
        self.fig = fig
        self.dynamic: list[Any] = []
        self.channel_axes: list[Any] = []
        # Texts that change per event, stamped by EventFigure: (x, y, text), display px.
        self.names: list[tuple[float, float, tuple[str, str]]] = []  # text: (name, range)
        self.tick_labels: list[tuple[float, float, str]] = []
        self.n_xticks = n_xticks
        y = top
        for _ in range(n):
            y -= unit
            ax = fig.add_axes((left, y, width, unit))
            y -= gap
            ax.set_xticks([])
            ax.set_yticks([])
            self.channel_axes.append(ax)
        ev_h = unit * 1.25
        ax = fig.add_axes((left, bottom, width, ev_h))
        self.evidence_axes = ax
        ax.set_ylim(0, 1.1)
        ax.set_yticks([0, 0.5, 1])
        ax.set_xticks([])
        ax.tick_params(length=2)
        ax.set_xlabel(xlabel, labelpad=11)
        ax.axhline(threshold, color="#555555", lw=0.6, ls="--")
        # The grid, the signals and their hotspot circles of all panels are one line each,
        # in display pixels (update transforms the data): a Line2D costs more in its own
        # set-up per draw than in its points.
        pixels = IdentityTransform()
        panels = TransformedBbox(
            Bbox.from_extents(left, bottom, left + width, top), fig.transFigure
        )
        self.grid = Line2D([], [], color="#dddddd", lw=0.6, transform=pixels)
        self.signals = Line2D([], [], color=SIGNAL_COLOUR, lw=0.8, transform=pixels)
        self.hot_circles = Line2D(
            [], [], ls="none", marker="o", ms=3, mfc="none", mec=HOT_COLOUR, mew=0.8,
            transform=pixels,
        )  # fmt: skip
        for line in (self.grid, self.signals, self.hot_circles):
            fig.add_artist(line)
            line.set_clip_box(panels)
        (self.prob_line,) = ax.plot([], [], color=PROB_COLOUR, lw=1.3)
        (self.attn_line,) = ax.plot([], [], color=ATTN_COLOUR, lw=0.8, alpha=0.85)
        (self.hot_marks,) = ax.plot(
            [], [], ls="none", marker="v", ms=4, color=HOT_COLOUR, transform=_xdata_yaxes(ax)
        )
        # The file's own labels (ground truth, when it has them): a bar on the panel's top edge
        # over the rows labelled with a fault class, so a reader sees flag and label together.
        (self.label_bar,) = ax.plot(
            [],
            [],
            color=LABEL_COLOUR,
            lw=3,
            solid_capstyle="butt",
            transform=_xdata_yaxes(ax),
            clip_on=False,
        )
        (self.tick_marks,) = ax.plot(
            [],
            [],
            ls="none",
            marker="|",
            ms=3,
            color="black",
            mew=0.6,
            transform=_xdata_yaxes(ax),
            clip_on=False,
        )
        self.all_axes = [*self.channel_axes, ax]
        self.shade = (0.0, 0.0)  # the event's x span, shaded by shade_pixels
        self.dynamic = [
            self.grid,
            self.signals,
            self.hot_circles,
            # Attention first: the fault probability is drawn over it.
            self.attn_line,
            self.prob_line,
            self.hot_marks,
            self.label_bar,
            self.tick_marks,
        ]

    def shade_pixels(self, rgba: np.ndarray) -> None:
        """Tint the event's span in every panel of ``rgba`` (H, W, 3+), the canvas pixels.

        Four translucent rectangles cost Agg more than all the signal lines; pixel-aligned,
        as Agg snaps them, they are a few array operations.
        """
        height = rgba.shape[0]
        (x0, _), (x1, _) = self.evidence_axes.transData.transform([(s, 0.0) for s in self.shade])
        for ax in self.all_axes:  # all panels share their x-axis placement and limits
            box = ax.bbox
            c0, c1 = max(round(x0), round(box.x0)), min(round(x1), round(box.x1))
            if c0 < c1:
                region = rgba[height - round(box.y1) : height - round(box.y0), c0:c1]
                for k in range(3):  # a table look-up per channel: no float temporaries
                    np.take(SHADE_LUT[k], region[..., k], out=region[..., k])

    def update(self, view: EventView, recording: Recording, result: ScanResult) -> None:
        """Point every dynamic artist at ``view``'s data (no axes are created)."""
        ev = view.event
        lo, hi = view.lo, view.hi
        if recording.time is not None:
            origin = recording.time[ev.start_row]
            x = recording.time[lo:hi] - origin
            x_end = float(recording.time[ev.end_row] - origin)
        else:
            x = np.arange(lo - ev.start_row, hi - ev.start_row, dtype=np.float64)
            x_end = float(ev.end_row - ev.start_row)
        # The shaded span covers the event's last row too: extend it by one sampling step.
        step = recording.sampling_interval
        x_lo, x_hi = float(x[0]), float(x[-1]) if x.size > 1 else float(x[0]) + 1.0
        for ax in self.all_axes:
            # In place: set_xlim's validation, unit handling and callbacks cost more than
            # the drawing of a line, and nothing here listens to them.
            ax.viewLim.intervalx = (x_lo, x_hi)

        hot = np.nan_to_num(result.hotspots[lo:hi].astype(np.float64), nan=0.0)
        top = np.argsort(hot)[::-1][:HOTSPOT_MARKERS]
        top = top[hot[top] > 0]
        col_of = {c: i for i, c in enumerate(recording.channels)}
        self.names = []
        signals, circles = [], []  # per panel, (N, 2) display px
        for i, name in enumerate(view.channels):
            y = recording.data[lo:hi, col_of[name]]
            ax = self.channel_axes[i]
            ax.viewLim.intervaly = _limits(y)
            to_pixels = ax.transData.transform
            signals += [to_pixels(np.column_stack(peak_decimate(x, y))), _BREAK]
            circles.append(to_pixels(np.column_stack([x[top], y[top]])))
            anchor = ax.transAxes.transform((0.004, 0.96))
            self.names.append((anchor[0], anchor[1], (f"{name}   ", f"[{_range_text(y)}]")))
        self.signals.set_data(*np.concatenate(signals).T)
        self.hot_circles.set_data(*np.concatenate(circles).T)
        self.prob_line.set_data(*peak_decimate(x, result.fault_probability[lo:hi]))
        attn = result.attention[lo:hi].astype(np.float64)
        peak = float(np.nanmax(attn)) if np.isfinite(attn).any() else 0.0
        # Attention relative to the strongest row in view: its absolute size depends on the
        # window length; its shape is what the reader compares.
        self.attn_line.set_data(*peak_decimate(x, attn / peak if peak > 0 else attn))
        self.hot_marks.set_data(x[top], np.full(top.shape, 0.97))
        self.label_bar.set_data(*_label_bar(recording, lo, hi, x))
        self.shade = (0.0, x_end + (step if step > 0 else 1.0))

        ticks = [t for t in _nice_ticks(x_lo, x_hi) if x_lo <= t <= x_hi]
        ticks = ticks[: self.n_xticks]
        self.tick_marks.set_data(ticks, np.zeros(len(ticks)))
        label_xy = _xdata_yaxes(self.evidence_axes).transform(
            np.column_stack([ticks, np.full(len(ticks), -0.04)]).reshape(-1, 2)
        )  # (n_ticks, 2) display px
        self.tick_labels = [(px, py, f"{t:g}") for (px, py), t in zip(label_xy, ticks, strict=True)]
        # Grid: per tick and panel a vertical segment, a pixel short of the panel's frame.
        spans = np.array([(ax.bbox.y0 + 1, ax.bbox.y1 - 1) for ax in self.all_axes])  # (P, 2)
        gx = np.repeat(label_xy[:, 0], len(spans) * 3)  # (T * P * 3,)
        gy = np.tile(np.column_stack([spans, np.full(len(spans), np.nan)]).ravel(), len(ticks))
        gx[2::3] = np.nan
        self.grid.set_data(gx, gy)


_BREAK = np.full((1, 2), np.nan)  # a gap between the panels' parts of one line


def _label_bar(recording: Recording, lo: int, hi: int, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """x and y (axes fraction 1.0: the panel's top edge) of one line whose segments span the
    rows ``lo:hi`` the file labels with a fault class (the last row's sampling interval
    included, as the event's band does), NaN between segments; empty without."""
    runs = [(max(a, lo), min(b, hi - 1)) for a, b, _ in recording.fault_label_runs]
    runs = [(a - lo, b - lo) for a, b in runs if a <= b]  # inclusive offsets into x
    if not runs or x.size == 0:
        return np.zeros(0), np.zeros(0)
    starts, ends = np.array(runs).T
    step = recording.sampling_interval
    xs = np.column_stack([x[starts], x[ends] + step, np.full(starts.size, np.nan)]).ravel()
    return xs, np.where(np.isnan(xs), np.nan, 1.0)


def _nice_ticks(lo: float, hi: float) -> list[float]:
    from matplotlib.ticker import MaxNLocator

    return [float(t) for t in MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)]


def _xdata_yaxes(ax: Any) -> Any:
    return blended_transform_factory(ax.transData, ax.transAxes)


# The whole-recording timeline: every flagged event on one strip, coloured by class.
TIMELINE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def timeline_unit(recording: Recording) -> tuple[float, str]:
    """Divisor and axis label of the timeline's x (time from the recording's start)."""
    if recording.time is None:
        return 1.0, "rows from the recording's start"
    span = float(recording.time[-1] - recording.time[0]) if recording.n_rows else 0.0
    if span >= 2 * 3600:
        return 3600.0, "hours from the recording's start"
    if span >= 120:
        return 60.0, "minutes from the recording's start"
    return 1.0, "seconds from the recording's start"


def draw_timeline(
    fig: Figure,
    rect: tuple[float, float, float, float],
    recording: Recording,
    result: ScanResult,
    events: list[FaultEvent],
) -> None:
    """The whole recording on one axes at ``rect`` (figure fraction): the fault probability,
    the threshold, every event as a band in its class's colour (numbered when there is room)
    and the file's own fault labels as a grey bar on top."""
    ax = fig.add_axes(rect)
    scale, xlabel = timeline_unit(recording)
    t = recording.time_axis()
    x = (t - t[0]) / scale if t.size else t
    ax.plot(*peak_decimate(x, result.fault_probability.astype(np.float64)), color=PROB_COLOUR,
            lw=0.7)  # fmt: skip
    ax.axhline(result.threshold, color="#555555", lw=0.6, ls="--")
    classes = sorted({e.class_name for e in events})
    colour = {c: TIMELINE_COLOURS[i % len(TIMELINE_COLOURS)] for i, c in enumerate(classes)}
    step = recording.sampling_interval / scale
    for i, e in enumerate(events, start=1):
        x0, x1 = float(x[e.start_row]), float(x[e.end_row]) + step
        ax.axvspan(x0, x1, color=colour[e.class_name], alpha=0.35, lw=0)
        if len(events) <= 40:
            ax.text((x0 + x1) / 2, 1.12, str(i), fontsize=5, ha="center", va="bottom",
                    color="#333333", parse_math=False)  # fmt: skip
    bar_x, bar_y = _label_bar(recording, 0, recording.n_rows, x * scale)
    if bar_x.size:
        ax.plot(bar_x / scale, bar_y, color=LABEL_COLOUR, lw=3, solid_capstyle="butt",
                transform=_xdata_yaxes(ax), clip_on=False)  # fmt: skip
    ax.set_xlim(float(x[0]) if x.size else 0.0, float(x[-1]) + step if x.size else 1.0)
    ax.set_ylim(0, 1.1)
    ax.set_yticks([0, 0.5, 1])
    ax.tick_params(labelsize=6, length=2)
    ax.set_xlabel(xlabel, fontsize=6.5, labelpad=2)
    ax.set_ylabel("fault p", fontsize=6.5, labelpad=2)
    handles = [Line2D([], [], color=colour[c], lw=5, alpha=0.6) for c in classes]
    if handles:
        ax.legend(handles, classes, fontsize=5.5, ncol=min(len(classes), 6), frameon=False,
                  loc="lower left", bbox_to_anchor=(0, 1.16), borderaxespad=0)  # fmt: skip


def timeline_png(
    recording: Recording, result: ScanResult, events: list[FaultEvent], dpi: int = 90
) -> bytes:
    """The timeline (``draw_timeline``) as a PNG for the HTML report."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(7.4, 1.9), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    draw_timeline(fig, (0.07, 0.24, 0.9, 0.5), recording, result, events)
    canvas.draw()
    return png_bytes(np.asarray(canvas.buffer_rgba())[..., :3])
