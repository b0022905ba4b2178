"""The inspector figure: one decision (``faultlens.core.explain.Explanation``) as an engineer
reads it. ``faultlens explain --png`` saves it; each event section of a report shows it at
the event's peak row.

Left, on one time axis (seconds before the decision, or rows without a time column):
- the window's top channels, one panel each, the attention each step received as an orange
  heat band behind the trace, and the max-pool hotspots as circles on the trace (area: how
  many features peaked at that step; filled on the channel those features responded to
  most);
- the contribution of every channel at every step (channels x steps, red: pushed the fault
  probability up, blue: down), so a reader goes from a hot cell straight up to its trace.
Right: the mean attention matrix (query step x key step, with a colour bar), and the class
probabilities and the occlusion share per channel as bars.

Plain ``Figure`` objects with mathtext off (names from files are drawn as written).

In reports (``InspectorStrip``, ``explain_events``): what it costs, measured on the 2-core
box shared with other jobs (``benchmarks/bench_report.py``'s 200 events, which times each
report with and without the strips in the same run): a strip about 2 ms (its two
backgrounds from one figure drawn once, 0.2 s a report; band, heatmap and matrix painted
as uint32 pixels) plus its PNG 2-3 ms (on the HTML's encoding thread); explaining the 200
peaks 0.2-0.3 s (torch, the first 10 with the contribution). Best of 3, load average 3:
HTML 1.37 s without the strips, 2.56 s with (ratio 1.87; the strips' PNGs, 6.4 MB, are
as much deflating as drawing them), PDF 2.65 s and 3.86 s (ratio 1.46: one event a page,
so twice the pages and their text, and images 1.7 times the pixels); the files 10 -> 19
MB and 9 -> 17 MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import IdentityTransform

from faultlens.core.progress import ShouldStop, never_stop
from faultlens.core.report.figures import report_style

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.events import FaultEvent
    from faultlens.core.explain import Explanation
    from faultlens.core.recording import Recording
    from faultlens.core.scan import ScanResult

INSPECTOR_CHANNELS = 4  # channel panels: the decision's top channels
CONTRIBUTION_ROWS = 12  # channels in the contribution heatmap (most contributing first)
BAND_COLOUR = "Oranges"
TRACE_COLOUR = "#1f4e79"
HOT_COLOUR = "#6a3d9a"
FAULT_COLOUR = "#d62728"


def _time_axis(exp: Explanation, recording: Recording | None) -> tuple[np.ndarray, str]:
    """x per window step: seconds (or rows) relative to the decision row, and its label."""
    if recording is not None and recording.time is None:
        return (exp.rows - exp.row).astype(np.float64), "rows before the decision"
    return exp.times - exp.times[-1], "seconds before the decision"


def _edges(x: np.ndarray) -> np.ndarray:
    """Cell edges around the step centres ``x`` (for images on an irregular time axis)."""
    if x.size == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = (x[1:] + x[:-1]) / 2
    return np.concatenate([[2 * x[0] - mid[0]], mid, [2 * x[-1] - mid[-1]]])


def draw_inspector(
    fig: Figure,
    exp: Explanation,
    recording: Recording | None = None,
    *,
    title: str | None = None,
    threshold: float | None = None,
) -> None:
    """Draw the inspector view of ``exp`` on ``fig`` (module docstring)."""
    x, xlabel = _time_axis(exp, recording)
    edges = _edges(x)
    top = exp.top_channels(INSPECTOR_CHANNELS)
    strength = np.abs(exp.contribution).sum(axis=1)
    heat_rows = [int(i) for i in np.argsort(-strength, kind="stable")[:CONTRIBUTION_ROWS]]
    when = recording.format_time(exp.row) if recording is not None else f"{exp.times[-1]:g}"
    p_text = f"fault probability {exp.fault_probability:.3f}"
    if threshold is not None:
        p_text += f" (threshold {threshold:.3f})"
    fig.suptitle(
        title or f"Row {exp.row} · {when} · decision: {exp.predicted} · {p_text}",
        x=0.01, ha="left", fontsize=10, weight="bold",
    )  # fmt: skip

    left, right_edge = 0.125, 0.62
    n = len(top)
    heat_h = 0.035 * len(heat_rows) + 0.03
    bottom = 0.08
    heat_y = bottom
    traces_top, gap = 0.9, 0.012
    traces_bottom = heat_y + heat_h + 0.05
    unit = (traces_top - traces_bottom - gap * (n - 1)) / max(n, 1)

    band_norm = float(exp.attention_received.max()) or 1.0
    hot = exp.hotspot_counts
    hot_steps = np.flatnonzero(hot > 0)
    dominant = np.argmax(exp.hotspot_channels, axis=1)  # per step, the channel most behind it
    axes = []
    for k, c in enumerate(top):
        y0 = traces_top - (k + 1) * unit - k * gap
        ax = fig.add_axes((left, y0, right_edge - left, unit))
        axes.append(ax)
        v = exp.values[:, c].astype(np.float64)
        finite = v[np.isfinite(v)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        pad = (hi - lo) * 0.15 or max(abs(hi) * 0.05, 0.5)
        lo, hi = lo - pad, hi + pad
        ax.pcolormesh(
            edges, [lo, hi], (exp.attention_received / band_norm)[None, :], cmap=BAND_COLOUR,
            vmin=0.0, vmax=1.6, alpha=0.8, shading="flat", zorder=0, rasterized=True,
        )  # fmt: skip
        ax.plot(x, v, color=TRACE_COLOUR, lw=1.3, zorder=3)
        if hot_steps.size:
            size = 14.0 + 260.0 * hot[hot_steps] / max(float(hot.max()), 1.0)
            mine = dominant[hot_steps] == c
            yv = np.where(np.isfinite(v[hot_steps]), v[hot_steps], (lo + hi) / 2)
            ax.scatter(x[hot_steps][~mine], yv[~mine], s=size[~mine], facecolors="none",
                       edgecolors=HOT_COLOUR, linewidths=1.0, zorder=4)  # fmt: skip
            ax.scatter(x[hot_steps][mine], yv[mine], s=size[mine], color=HOT_COLOUR,
                       alpha=0.8, edgecolors=HOT_COLOUR, zorder=4)  # fmt: skip
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(lo, hi)
        share = exp.channel_attribution[c]
        ax.text(0.005, 0.95, f"{exp.channels[c]}  (occlusion share {share:.0%})",
                transform=ax.transAxes, va="top", fontsize=8, weight="bold", zorder=5,
                bbox={"facecolor": "white", "alpha": 0.75, "lw": 0, "pad": 1})  # fmt: skip
        ax.tick_params(labelbottom=False, labelsize=7, length=2)
        ax.locator_params(axis="y", nbins=3)

    hax = fig.add_axes((left, heat_y, right_edge - left, heat_h), sharex=axes[0] if axes else None)
    grid = exp.contribution[heat_rows]  # (rows, T)
    limit = float(np.abs(grid).max()) or 1.0
    mesh = hax.pcolormesh(
        edges, np.arange(len(heat_rows) + 1), grid, cmap="RdBu_r", vmin=-limit, vmax=limit,
        shading="flat", rasterized=True,
    )  # fmt: skip
    hax.set_yticks(np.arange(len(heat_rows)) + 0.5)
    hax.set_yticklabels([exp.channels[i] for i in heat_rows], fontsize=7)
    hax.invert_yaxis()
    hax.set_xlim(edges[0], edges[-1])
    hax.tick_params(labelsize=7, length=2)
    hax.set_xlabel(xlabel, fontsize=8)
    hax.set_title(
        f"How each channel at each step moved the fault probability ({exp.contribution_method})"
        ": red up, blue down",
        fontsize=8, loc="left",
    )  # fmt: skip
    fig.text(0.01, 0.01, exp.reference_text(recording), fontsize=7, color="#555555")
    cax = fig.add_axes((right_edge + 0.005, heat_y, 0.008, heat_h))
    fig.colorbar(mesh, cax=cax).ax.tick_params(labelsize=6, length=2)
    if axes:
        axes[0].set_title(
            "Top channels: orange band = attention each step received; circles = max-pool "
            "hotspots (area: features peaking there; filled: on this channel most)",
            fontsize=8, loc="left",
        )  # fmt: skip

    # Right: attention matrix, probabilities, occlusion shares.
    mx0, mw = 0.70, 0.25
    max_ = fig.add_axes((mx0, 0.50, mw, 0.38))
    mean = exp.attention.mean(axis=0)  # (T, T) query x key
    img = max_.pcolormesh(edges, edges, mean, cmap="viridis", shading="flat", rasterized=True)
    max_.set_xlim(edges[0], edges[-1])
    max_.set_ylim(edges[-1], edges[0])
    max_.set_xlabel(f"key: attended step ({xlabel.split()[0]})", fontsize=7)
    max_.set_ylabel(f"query step ({xlabel.split()[0]})", fontsize=7)
    max_.set_title("Attention (mean of heads)", fontsize=8, loc="left")
    max_.tick_params(labelsize=6.5, length=2)
    cax2 = fig.add_axes((mx0 + mw + 0.008, 0.50, 0.008, 0.38))
    fig.colorbar(img, cax=cax2).ax.tick_params(labelsize=6, length=2)

    pax = fig.add_axes((mx0 + 0.06, 0.28, mw - 0.06, 0.14))
    k = len(exp.class_names)
    colours = [
        FAULT_COLOUR if exp.class_names[i] == exp.predicted and i > 0 else "#7f7f7f"
        for i in range(k)
    ]
    pax.barh(np.arange(k), exp.probabilities, color=colours)
    pax.set_yticks(np.arange(k))
    pax.set_yticklabels(exp.class_names, fontsize=7)
    pax.invert_yaxis()
    pax.set_xlim(0, 1)
    pax.tick_params(labelsize=6.5, length=2)
    pax.set_title("Class probabilities", fontsize=8, loc="left")

    order = [int(i) for i in np.argsort(-exp.channel_attribution, kind="stable")[:5]]
    order = [i for i in order if exp.channel_attribution[i] > 0] or order[:1]
    aax = fig.add_axes((mx0 + 0.06, bottom, mw - 0.06, 0.022 * len(order) + 0.01))
    aax.barh(np.arange(len(order)), exp.channel_attribution[order], color=TRACE_COLOUR)
    aax.set_yticks(np.arange(len(order)))
    aax.set_yticklabels([exp.channels[i] for i in order], fontsize=7)
    aax.invert_yaxis()
    aax.set_xlim(0, 1)
    aax.tick_params(labelsize=6.5, length=2)
    aax.set_title("Occlusion share per channel", fontsize=8, loc="left")


def inspector_png(
    exp: Explanation,
    recording: Recording | None = None,
    *,
    threshold: float | None = None,
    width_in: float = 13.0,
    height_in: float = 7.5,
    dpi: int = 110,
) -> bytes:
    """The inspector view of ``exp`` as PNG bytes."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with report_style():
        fig = Figure(figsize=(width_in, height_in), dpi=dpi)
        FigureCanvasAgg(fig)
        draw_inspector(fig, exp, recording, threshold=threshold)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# ---------------------------------------------------------------- the report's strip
STRIP_PANELS = 3  # channel panels (and contribution rows) per event in a report
NAME_FONT_PT = 6.5


def _lut(cmap_name: str, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """(256, 3) uint8 colours of ``cmap_name`` between ``low`` and ``high`` of its range."""
    from matplotlib import colormaps

    rgb = colormaps[cmap_name](np.linspace(low, high, 256))[:, :3]
    return np.round(rgb * 255).astype(np.uint8)


_BREAK = np.full((1, 2), np.nan)  # a gap between the panels' parts of one line
BAND_LUT = _lut(BAND_COLOUR, 0.0, 0.62)  # attention band: white to orange, never dark
HEAT_LUT = _lut("RdBu_r")
MATRIX_LUT = _lut("viridis")


def _lut32(lut: np.ndarray) -> np.ndarray:
    """(256,) uint32: the colours of ``lut`` (256, 3) as opaque RGBA pixels in memory order."""
    rgba = np.concatenate([lut, np.full((len(lut), 1), 255, dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(rgba).view(np.uint32).reshape(len(lut))


BAND_LUT32 = _lut32(BAND_LUT)
HEAT_LUT32 = _lut32(HEAT_LUT)
MATRIX_LUT32 = _lut32(MATRIX_LUT)


def _levels(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Indices 0..255 into a LUT for ``values`` scaled from ``low..high``."""
    span = (high - low) or 1.0
    scaled = np.nan_to_num((values - low) / span, nan=0.5)
    return np.clip(np.round(scaled * 255), 0, 255).astype(np.intp)


class InspectorStrip:
    """The inspector view for reports, fast: for each event, its peak row's decision
    (``Explanation``) as the window's top channels with the attention band and hotspot
    circles, the contribution rows of those channels, and the mean attention matrix.

    Drawn as ``EventFigure`` draws (``faultlens.core.report.figures``): the static parts
    (frames, ticks, axis labels, colour bars) once per layout, kept as pixels; per event the
    band, heatmap and matrix are painted into the pixels from colour tables (an AxesImage
    resamples and converts on every draw), then only the traces and hotspot circles are
    drawn by matplotlib, and the texts stamped. ``rgba(exp)`` gives (H, W, 4) uint8.

    Events without a contribution (``Explanation.contribution`` all zero, the report
    computes it for its first events only) get a layout whose heatmap says so.
    """

    def __init__(
        self,
        recording: Recording,
        window: int,
        *,
        contribution_note: str = "",
        width_in: float = 7.4,
        height_in: float = 2.4,
        dpi: int = 90,
    ) -> None:
        from faultlens.core.report.mpl_compat import TextStamps

        self.recording = recording
        self.window = int(window)
        self.width_in, self.height_in, self.dpi = width_in, height_in, dpi
        self.contribution_note = contribution_note
        if recording.time is None:
            self.step, self.xlabel = 1.0, "rows before the decision"
        else:
            self.step, self.xlabel = float(recording.sampling_interval), "s before the decision"
        self._layouts: dict[bool, tuple[Any, _StripLayout, Any]] = {}
        self._names = TextStamps(NAME_FONT_PT, dpi, "#222222")
        self._title = TextStamps(7.5, dpi, "#222222")

    def _layout(self, with_contribution: bool) -> tuple[Any, _StripLayout]:
        """The strip's canvas with the static background for events with or without a
        contribution restored. Both backgrounds come from one figure drawn once: the one
        without differs only by the note in the heatmap, drawn over a copy of the other."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        if not self._layouts:
            fig = Figure(figsize=(self.width_in, self.height_in), dpi=self.dpi)
            canvas = FigureCanvasAgg(fig)
            layout = _StripLayout(fig, self.window, self.step, self.xlabel, self.contribution_note)
            for artist in [*layout.dynamic, *layout.note_artists]:
                artist.set_animated(True)
            canvas.draw()
            layout.measure()
            self._layouts[True] = (canvas, layout, canvas.copy_from_bbox(fig.bbox))
            for artist in layout.note_artists:
                fig.draw_artist(artist)
            self._layouts[False] = (canvas, layout, canvas.copy_from_bbox(fig.bbox))
        canvas, layout, background = self._layouts[with_contribution]
        canvas.restore_region(background)
        return canvas, layout

    def pixel_shape(self) -> tuple[int, int]:
        """(H, W) of the strip's pixels, as ``rgba`` gives them."""
        canvas, _ = self._layout(True)
        height, width = np.asarray(canvas.buffer_rgba()).shape[:2]
        return int(height), int(width)

    def rgba(self, exp: Explanation, title: str = "", out: np.ndarray | None = None) -> np.ndarray:
        """The strip for ``exp`` as (H, W, 4) uint8 pixels: a copy, or written into ``out``
        (H, W, 4) and returned (the PDF stacks it under the event figure without a copy)."""
        has = bool(np.any(exp.contribution))
        canvas, layout = self._layout(has)
        rgba = np.asarray(canvas.buffer_rgba())
        top = exp.top_channels(STRIP_PANELS)
        layout.paint(rgba, exp, top, has)
        layout.update(exp, top)
        for artist in layout.dynamic:
            layout.fig.draw_artist(artist)
        height = rgba.shape[0]
        # Names and shares only: value ranges differ per event, and each new string costs a
        # FreeType rendering (the event figure above gives the ranges).
        for (x, y), c in zip(layout.name_anchors, top, strict=False):
            share = f"  occlusion {exp.channel_attribution[c]:.0%}"
            self._names.draw(rgba, x, height - y, (exp.channels[c], share), "left", 1.0)
        if has:
            for (x, y), c in zip(layout.heat_anchors, top, strict=False):
                self._names.draw(rgba, x, height - y, (exp.channels[c],), "left", 1.0)
            lim = float(np.abs(exp.contribution[top]).max())
            x, y = layout.heat_scale_anchor
            self._names.draw(rgba, x, height - y, (f"±{lim:.2g}",), "left", 1.0)
        x, y = layout.matrix_scale_anchor
        self._names.draw(rgba, x, height - y, (f"{float(exp.attention.mean(axis=0).max()):.2f}",),
                         "left")  # fmt: skip
        if title:
            self._title.draw(rgba, 4, 3, (title,), "left")
        if out is None:
            return rgba.copy()
        out[...] = rgba
        return out


class _StripLayout:
    """Axes and artists of the report's inspector strip (``InspectorStrip``)."""

    def __init__(self, fig: Figure, window: int, step: float, xlabel: str, note: str) -> None:
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        self.fig, self.window = fig, window
        x = (np.arange(window) - (window - 1)) * step  # step centres
        self.x = x
        self.x0, self.x1 = float(x[0] - step / 2), float(x[-1] + step / 2)
        left, right = 0.12, 0.6
        panel_top, panel_bottom, gap = 0.88, 0.50, 0.012
        unit = (panel_top - panel_bottom - gap * (STRIP_PANELS - 1)) / STRIP_PANELS
        self.panels = []
        for k in range(STRIP_PANELS):
            y0 = panel_top - (k + 1) * unit - k * gap
            ax = fig.add_axes((left, y0, right - left, unit))
            ax.set_xlim(self.x0, self.x1)
            ax.set_ylim(0, 1)
            ax.set_xticks([])
            ax.set_yticks([])
            self.panels.append(ax)
        self.heat = fig.add_axes((left, 0.2, right - left, 0.24))
        self.heat.set_xlim(self.x0, self.x1)
        self.heat.set_ylim(STRIP_PANELS, 0)
        self.heat.set_yticks([])
        self.heat.tick_params(labelsize=6.5, length=2)
        self.heat.set_xlabel(xlabel, fontsize=7, labelpad=1)
        hb = self.heat.get_position()
        self.heat_title = fig.text(
            hb.x0, hb.y1 + 0.015, "contribution to the fault probability, per channel and "
            "step (occlusion): red up, blue down", fontsize=6.5, va="bottom",
        )  # fmt: skip
        self.note = note
        # Drawn only on the background of events without a contribution (InspectorStrip).
        self.note_artists: list[Any] = []
        if note:
            self.note_artists.append(
                self.heat.text(0.5, 0.5, note, transform=self.heat.transAxes, ha="center",
                               va="center", fontsize=6.5, color="#555555", wrap=True)
            )  # fmt: skip
        self.panels[0].set_title(
            "band: attention received · circles: max-pool hotspots (filled: on this channel)",
            fontsize=6.5, loc="left", pad=2,
        )  # fmt: skip
        side = 0.68 * fig.get_figheight() / fig.get_figwidth()  # a square matrix
        mx = fig.add_axes((0.69, 0.2, side, 0.68))
        mx.set_xlim(self.x0, self.x1)
        mx.set_ylim(self.x1, self.x0)
        mx.tick_params(labelsize=6, length=2)
        mx.set_xlabel("key (" + xlabel.split(" ")[0] + ")", fontsize=6.5, labelpad=1)
        mx.set_ylabel("query", fontsize=6.5, labelpad=1)
        mx.set_title("attention (mean of heads)", fontsize=6.5, pad=2)
        self.matrix = mx
        box = mx.get_position()
        cax = fig.add_axes((box.x1 + 0.01, box.y0, 0.01, box.height))
        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), colormaps["viridis"]), cax=cax)
        bar.set_ticks([0, 1], labels=["0", ""])
        bar.ax.tick_params(labelsize=6, length=2)
        self.cax = cax
        # The traces and circles of all panels are one artist each, in display pixels
        # (update transforms the data): an artist costs more in its set-up than its points.
        pixels = IdentityTransform()
        self.line = Line2D([], [], color=TRACE_COLOUR, lw=0.9, transform=pixels)
        fig.add_artist(self.line)
        self.hollow = self.panels[0].scatter(
            [], [], s=[], facecolors="none", edgecolors=HOT_COLOUR, linewidths=0.7, clip_on=False
        )
        self.filled = self.panels[0].scatter([], [], s=[], color=HOT_COLOUR, alpha=0.8,
                                             clip_on=False)  # fmt: skip
        for circles in (self.hollow, self.filled):
            circles.set_offset_transform(pixels)
        self.dynamic: list[Any] = [self.line, self.hollow, self.filled]
        self.name_anchors: list[tuple[float, float]] = []
        self.heat_anchors: list[tuple[float, float]] = []
        self.heat_scale_anchor = (0.0, 0.0)
        self.matrix_scale_anchor = (0.0, 0.0)
        self.cells: dict[int, tuple[slice, slice, np.ndarray]] = {}
        self.heat_which = np.zeros(0, dtype=np.intp)
        self.matrix_index = np.zeros((0, 0), dtype=np.intp)

    def measure(self) -> None:
        """Pixel anchors of the stamped texts (after the first draw)."""

        def px(transform: Any, xy: tuple[float, float]) -> tuple[float, float]:
            x, y = transform.transform(xy)
            return float(x), float(y)

        self.name_anchors = [px(ax.transAxes, (0.005, 0.97)) for ax in self.panels]
        self.heat_anchors = [
            (x + 3, y)
            for x, y in (px(self.heat.transData, (self.x0, k + 0.08)) for k in range(STRIP_PANELS))
        ]
        self.heat_scale_anchor = px(self.heat.transAxes, (0.9, 0.97))
        bar = self.cax.get_window_extent()
        self.matrix_scale_anchor = (bar.x1 + 2, bar.y1 + 4)
        self.cells = {id(ax): self._cells(ax) for ax in [*self.panels, self.heat, self.matrix]}
        rows, _, _ = self.cells[id(self.heat)]
        n_rows = rows.stop - rows.start
        self.heat_which = np.minimum(
            np.arange(n_rows) * STRIP_PANELS // max(n_rows, 1), STRIP_PANELS - 1
        )  # the heatmap's pixel rows -> its channel row
        rows, _, steps = self.cells[id(self.matrix)]
        n_rows = rows.stop - rows.start
        query = np.minimum(np.arange(n_rows) * self.window // max(n_rows, 1), self.window - 1)
        self.matrix_index = query[:, None] * self.window + steps[None, :]  # into (T * T)

    def _cells(self, ax: Any) -> tuple[slice, slice, np.ndarray]:
        """Rows and columns of ``ax``'s inside in the pixel buffer, and the window step of
        each column."""
        height = self.fig.bbox.height
        b = ax.bbox
        r0, r1 = round(height - b.y1) + 1, round(height - b.y0) - 1
        c0, c1 = round(b.x0) + 1, round(b.x1) - 1
        cols = np.arange(c0, c1) + 0.5
        xs = ax.transData.inverted().transform(np.column_stack([cols, np.zeros_like(cols)]))[:, 0]
        steps = np.clip(np.floor((xs - self.x0) / (self.x1 - self.x0) * self.window), 0,
                        self.window - 1).astype(np.intp)  # fmt: skip
        return slice(r0, r1), slice(c0, c1), steps

    def paint(self, rgba: np.ndarray, exp: Explanation, top: list[int], has: bool) -> None:
        """The attention band, the contribution heatmap and the attention matrix, painted.

        Whole pixels at once (RGBA as one uint32, opaque) from colour tables, gathered
        through the column-to-step maps ``measure`` kept: a quarter of the element writes
        of painting the three colour bytes."""
        pixels = rgba.view(np.uint32)[:, :, 0]  # (H, W), the canvas's own buffer
        att = exp.attention_received
        band = BAND_LUT32[_levels(att, 0.0, float(att.max()) or 1.0)]  # (T,)
        for ax in self.panels:
            rows, cols, steps = self.cells[id(ax)]
            pixels[rows, cols] = band[steps]  # one row, broadcast down the panel
        t_win = self.window
        if has:
            rows, cols, steps = self.cells[id(self.heat)]
            grid = exp.contribution[top]  # (n, T)
            lim = float(np.abs(grid).max()) or 1.0
            colours = HEAT_LUT32[_levels(grid, -lim, lim)]  # (n, T)
            which = np.minimum(self.heat_which, len(top) - 1)  # pixel row -> channel row
            pixels[rows, cols] = colours[which][:, steps]
        rows, cols, _ = self.cells[id(self.matrix)]
        mean = exp.attention.mean(axis=0)  # (T, T)
        colours = MATRIX_LUT32[_levels(mean, 0.0, float(mean.max()) or 1.0)]  # (T, T)
        pixels[rows, cols] = colours.reshape(t_win * t_win).take(self.matrix_index)

    def update(self, exp: Explanation, top: list[int]) -> None:
        """Traces and hotspot circles of ``exp``'s top channels."""
        hot = exp.hotspot_counts
        steps = np.flatnonzero(hot > 0)
        size = 6.0 + 90.0 * hot[steps] / max(float(hot.max()), 1.0)
        # Without hotspot channels (not computed) no circle is filled.
        dominant = np.where(
            exp.hotspot_channels.any(axis=1), np.argmax(exp.hotspot_channels, axis=1), -1
        )[steps]
        lines, hollow, filled, hollow_size, filled_size = [], [], [], [], []
        for k, c in enumerate(top[:STRIP_PANELS]):
            v = exp.values[:, c].astype(np.float64)
            finite = v[np.isfinite(v)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            y = 0.12 + 0.62 * (v - lo) / ((hi - lo) or 1.0)  # room above for the name
            to_pixels = self.panels[k].transData.transform
            lines += [to_pixels(np.column_stack([self.x, y])), _BREAK]
            mine = dominant == c
            points = to_pixels(np.column_stack([self.x[steps], np.nan_to_num(y[steps], nan=0.5)]))
            hollow.append(points[~mine])
            hollow_size.append(size[~mine])
            filled.append(points[mine])
            filled_size.append(size[mine])
        self.line.set_data(*np.concatenate(lines or [_BREAK]).T)
        self.hollow.set_offsets(np.concatenate(hollow or [np.empty((0, 2))]))
        self.hollow.set_sizes(np.concatenate(hollow_size or [np.empty(0)]))
        self.filled.set_offsets(np.concatenate(filled or [np.empty((0, 2))]))
        self.filled.set_sizes(np.concatenate(filled_size or [np.empty(0)]))


# Events whose strip shows the contribution per channel and step: it costs C x T + 1 forward
# passes an event (290 for the demo's 9 channels), the rest of the strip C + 2; with 200
# events the contribution for all would take a report from seconds to most of a minute.
REPORT_DETAILED_EVENTS = 10
CONTRIBUTION_NOTE = (
    f"contribution per channel and step: drawn for the first {REPORT_DETAILED_EVENTS} events"
)
EXPLAIN_CHUNK = 50  # events explained per batch between cancel checks


def peak_row(result: ScanResult, event: FaultEvent, window: int) -> int:
    """The event's row of highest fault probability (its first on ties), at least
    ``window - 1`` (the first row with a decision)."""
    fp = result.fault_probability[event.start_row : event.end_row + 1]
    offset = int(np.nanargmax(fp)) if np.isfinite(fp).any() else 0
    return max(event.start_row + offset, window - 1)


def explain_events(
    model: TrainedModel | None,
    recording: Recording,
    result: ScanResult,
    events: Sequence[FaultEvent],
    should_stop: ShouldStop = never_stop,
) -> list[Explanation | None]:
    """Each event's decision at its peak row, compared with the rows before the event (as its
    channel attribution is); the contribution for the first ``REPORT_DETAILED_EVENTS`` only.
    All None without a model or when the model cannot read the recording (the report still
    has everything else). Raises ``Cancelled`` when ``should_stop()`` turns True."""
    from faultlens.core.errors import FaultLensError
    from faultlens.core.explain import explain_rows
    from faultlens.core.progress import Cancelled

    out: list[Explanation | None] = [None] * len(events)
    if model is None or not events or recording.n_rows < model.window:
        return out
    try:
        medians = model.input_medians(model.select_channels(recording))
    except FaultLensError:
        return out
    rows = [peak_row(result, e, model.window) for e in events]
    befores = [e.start_row for e in events]
    device = "auto"  # not the scan's: a result may come from another machine
    n, first = len(events), min(REPORT_DETAILED_EVENTS, len(events))
    spans = [(lo, min(lo + EXPLAIN_CHUNK, first), True) for lo in range(0, first, EXPLAIN_CHUNK)]
    spans += [(lo, min(lo + EXPLAIN_CHUNK, n), False) for lo in range(first, n, EXPLAIN_CHUNK)]
    for lo, hi, detail in spans:
        if should_stop():
            raise Cancelled()
        out[lo:hi] = explain_rows(
            model, recording, rows[lo:hi], device=device, medians=medians,
            befores=befores[lo:hi], detail=detail,
        )  # fmt: skip
    return out


def stack_inspector(
    figure: np.ndarray, strip: InspectorStrip | None, exp: Explanation | None
) -> np.ndarray:
    """An event figure's pixels (H, W, 4) with the strip for ``exp`` under it (the PDF's event
    image); white where there is no explanation, so every event image has one shape."""
    if strip is None:
        return figure
    height, width = strip.pixel_shape()
    stacked = np.empty((figure.shape[0] + height, figure.shape[1], 4), dtype=np.uint8)
    stacked[: figure.shape[0]] = figure
    below = stacked[figure.shape[0] :]
    if exp is None:
        below.fill(255)
    elif width == figure.shape[1]:
        strip.rgba(exp, out=below)  # drawn straight into its place
    else:  # different dpi: take the strip at the figure's width
        cols = np.linspace(0, width - 1, figure.shape[1]).round().astype(np.intp)
        below[...] = strip.rgba(exp)[:, cols]
    return stacked
