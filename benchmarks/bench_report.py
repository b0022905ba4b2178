"""Report speed: a 200-event report, and the event figures against plain matplotlib.

Measured in the same run on the same synthetic recording (40,000 rows, 4 channels, a
random-weight model scanned for real) and the same 200 events:

- figures: ms per event figure of ``EventFigure.png`` (layouts built once, static parts
  blitted, only data artists redrawn, per-event texts stamped from cached glyph bitmaps)
  against a plain reference that builds a fresh matplotlib Figure with the same panels per
  event and saves it as PNG (the obvious way);
- end to end: seconds for the whole HTML and the whole PDF report of 200 events, each run
  ``--repeat`` times (the best and all runs are printed: the CPU may be shared).

Each report is timed with and without the inspector strips of issue 13 (without: no event
explained, as before the strips; the PDF then holds two events a page), and the ratio of
the best runs printed. Measured (best of 3, load average 3): HTML 1.21 s -> 2.17 s, of the
1 s the strips add: 0.26 s drawing them, 0.45 s their PNGs (6.4 MB; other row filters and
zlib strategies tried: none smaller or faster), the rest explaining the peaks and the
captions; PDF 2.65 s -> 3.86 s (one event a page: twice the pages and their text).

Prints the product/plain ratio for the figures (lower is better) and the report times.
Example: ``.venv/bin/python benchmarks/bench_report.py``

Figures (2-core box shared with other jobs, load average 4-5; best of 2 x 3, range of all
runs in brackets; "before" is commit 0e71647 measured in the same session, best of 2 x 2):

==========================  ======================  ======================
200 events                  before                  after
==========================  ======================  ======================
HTML report                 4.28 s (4.28-4.52)      1.59 s (1.59-1.98)
PDF report                  10.06 s (10.06-10.74)   2.54 s (2.54-2.84)
event figure (PNG)          23 ms, ratio 0.21       7.5 ms, ratio 0.07
==========================  ======================  ======================

Where the time went and what took it out (cProfile, then A/B runs):

- per-event texts (tick labels, channel name + value range) were matplotlib Texts, half of
  an event figure: now FreeType bitmaps per string, kept, alpha-blended;
- Pillow's PNG encoder (adaptive row filters) cost more than drawing: unfiltered rows at
  zlib level 1 (smaller files than before); HTML deflates on a second thread (zlib
  releases the GIL) while the next figure is drawn;
- the event tint (4 translucent rectangles) and 13 small Line2Ds per figure: a lookup-table
  tint of the pixels and 6 lines in display pixels; axes limits set in place;
- PDF text in embedded DejaVu Sans went through matplotlib one glyph at a time (a third of
  the PDF): pages whose text Windows-1252 covers use the built-in Helvetica;
- PDF images: matplotlib re-encoded every figure with Pillow at level 6 in ``close`` (as
  long as drawing them): its encoder method is swapped for the unfiltered level-1 one;
  figures go onto the page as finished pixels (``PageImage``), not through imshow.

What is left of a PDF (about 2.5 s): drawing the 200 figures ~1 s, matplotlib writing the
images in ``close`` ~0.9 s (copies + deflate), 100 event pages of text ~0.4 s, the rest
imports and the summary pages. Tried and dropped: a process pool (two cores, and spawning
a worker that imports matplotlib costs ~0.9 s each), deflating PDF images ahead on a
thread (more CPU than it saves when the other core is busy).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from faultlens.core.checkpoint import TrainedModel
from faultlens.core.events import FaultEvent
from faultlens.core.model import AttentionLSTM, ModelConfig
from faultlens.core.options import ScanOptions
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording
from faultlens.core.report import export_report
from faultlens.core.report.figures import (
    EventFigure,
    EventView,
    event_view,
    peak_decimate,
    report_style,
)
from faultlens.core.scan import ScanResult, scan


def build(
    n_rows: int, n_events: int
) -> tuple[Recording, TrainedModel, ScanResult, list[FaultEvent]]:
    rng = np.random.default_rng(0)
    channels = ["Pressure", "Flow", "Current", "Temperature"]
    data = np.cumsum(rng.normal(size=(n_rows, 4)), axis=0)
    rec = Recording.from_arrays(
        data, channels, time=1.7e9 + np.arange(n_rows, dtype=np.float64), time_kind="datetime",
        path="bench.csv",
    )  # fmt: skip
    torch.manual_seed(0)
    config = ModelConfig(n_channels=4, n_classes=2, hidden=16, heads=2, classifier_hidden=16)
    model = TrainedModel(
        module=AttentionLSTM(config).eval(), config=config, channels=tuple(channels),
        class_names=("normal", "fault"), norm_mean=np.zeros(4, np.float32),
        norm_std=np.ones(4, np.float32), window=32, stride=8,
    )  # fmt: skip
    result = run_to_end(scan(model, rec, ScanOptions(device="cpu", stride=8)))
    events = []
    step = (n_rows - 200) // n_events
    for i in range(n_events):
        s = 100 + i * step
        e = s + 10 + int(rng.integers(0, 80))
        events.append(
            FaultEvent(
                s,
                e,
                rec.format_time(s),
                rec.format_time(e),
                float(e - s),
                "fault",
                0.9,
                0.7,
                tuple(channels[: 1 + i % 3]),
                (0.5, 0.3, 0.2)[: 1 + i % 3],
            )
        )
    return rec, model, result, events


def plain_png(view: EventView, rec: Recording, result: ScanResult) -> bytes:
    """The obvious way: a new figure with the same panels per event, saved as PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.4, 3.4), dpi=90)
    axes = fig.subplots(len(view.channels) + 1, 1, sharex=True)
    lo, hi = view.lo, view.hi
    x = rec.time[lo:hi] - rec.time[view.event.start_row]
    col = {c: i for i, c in enumerate(rec.channels)}
    for ax, name in zip(axes, view.channels, strict=False):
        ax.plot(*peak_decimate(x, rec.data[lo:hi, col[name]]), lw=0.8)
        ax.set_title(name, loc="left", fontsize=7)
        ax.axvspan(0, x[view.event.end_row - lo], color="red", alpha=0.12)
    axes[-1].plot(*peak_decimate(x, result.fault_probability[lo:hi]), color="red")
    axes[-1].plot(*peak_decimate(x, result.attention[lo:hi]), color="orange")
    axes[-1].axvspan(0, x[view.event.end_row - lo], color="red", alpha=0.12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each report (CPU shared)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rec, model, result, events = build(args.rows, args.events)
    views = [event_view(i + 1, e, rec) for i, e in enumerate(events)]
    with report_style():
        painter = EventFigure(rec, result, 0.5)
        painter.png(views[0])  # warm-up: layouts, fonts
        plain_png(views[0], rec, result)
        t0 = time.perf_counter()
        for v in views:
            painter.png(v)
        ours = (time.perf_counter() - t0) / len(views)
        t0 = time.perf_counter()
        for v in views:
            plain_png(v, rec, result)
        plain = (time.perf_counter() - t0) / len(views)
    print(f"event figure: {1000 * ours:.1f} ms (product) vs {1000 * plain:.1f} ms (plain "
          f"matplotlib), ratio {ours / plain:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".html", ".pdf"):
            path = Path(tmp) / f"report{suffix}"
            best = {}
            for strips in (False, True):
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    with _inspector_strips(strips):
                        export_report(path, rec, result, model, None, events=events)
                    times.append(time.perf_counter() - t0)
                best[strips] = min(times)
                size = path.stat().st_size / 1e6
                print(
                    f"{suffix[1:].upper()} report, {len(events)} events, "
                    f"{'with' if strips else 'without'} inspector strips: best "
                    f"{min(times):.2f} s of {len(times)} (all: "
                    f"{', '.join(f'{t:.2f}' for t in times)}), {size:.1f} MB"
                )
            print(f"{suffix[1:].upper()} with/without strips: ratio {best[True] / best[False]:.2f}")


@contextlib.contextmanager
def _inspector_strips(on: bool) -> Iterator[None]:
    """Reports with each event's inspector strip (as shipped), or without: no event
    explained, as the reports were before the strips (the PDF then holds two events a page)."""
    from faultlens.core.report import html, pdf

    if on:
        yield
        return
    saved = html.explain_events, pdf.explain_events

    def none(model, recording, result, events, should_stop=None):  # type: ignore[no-untyped-def]
        return [None] * len(events)

    html.explain_events = pdf.explain_events = none
    try:
        yield
    finally:
        html.explain_events, pdf.explain_events = saved


if __name__ == "__main__":
    main()
