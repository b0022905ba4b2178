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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from faultlens.core.report.figures import report_style

if TYPE_CHECKING:
    from faultlens.core.explain import Explanation
    from faultlens.core.recording import Recording

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
    p_text = f"fault probability {exp.fault_probability:.2f}"
    if threshold is not None:
        p_text += f" (threshold {threshold:.2f})"
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
