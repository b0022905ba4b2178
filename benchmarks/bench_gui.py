"""GUI responsiveness: heartbeat gaps while training/scanning run as tasks, and the
frame time of panning a 10 M-point view.

Run by hand (not by CI):  .venv/bin/python benchmarks/bench_gui.py [--quick]

1. A 10 ms QTimer "heartbeat" on the GUI thread records when it fires. The longest gap
   between beats is how long the window would freeze. Measured idle (the reference: timer
   and event-loop jitter alone), then while a real training run and a real scan run as
   tasks (faultlens.gui.tasks) on the demo recording (20 000 rows x 9 channels; default options).
   Target: longest gap < 50 ms.
2. Panning a SignalView of 1 M rows x 10 channels (10 M points) at 1600 x 1000: the time to
   move the view by 5 % and repaint it synchronously. Reference: the same pan with plain
   PlotDataItems (no downsampling, no clip-to-view), i.e. what pyqtgraph does by default.
   Target: <= 16 ms per frame.
3. Panning the demo recording with its labelled stretches and a scan by the demo model shown
   (shaded events on every plot, the three scan tracks), at 1600 x 1000, 5 % of the view a
   frame. Reference: the same view with neither labels nor a scan, in the same run.
   ``--profile`` prints where one such frame's time goes (cProfile, top functions).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from faultlens.core.checkpoint import load_model
from faultlens.core.io import load_recording
from faultlens.core.options import ScanOptions, TrainOptions
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording
from faultlens.core.resources import demo_model_path, demo_recording_path
from faultlens.core.scan import scan
from faultlens.core.training import train
from faultlens.gui.app import ensure_app, warm_up_torch
from faultlens.gui.signal_view import SignalView
from faultlens.gui.tasks import TaskRunner


class Heartbeat:
    """Timestamps of a 10 ms timer on the GUI thread."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.beats: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._beat)

    def _beat(self) -> None:
        self.beats.append(self.clock.nsecsElapsed() / 1e6)

    def start(self) -> None:
        self.beats = []
        self.clock.start()
        self.timer.start()

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        gaps = np.diff(self.beats) if len(self.beats) > 1 else np.array([0.0])
        return {
            "beats": len(self.beats),
            "max_gap_ms": float(gaps.max()),
            "p99_gap_ms": float(np.percentile(gaps, 99)),
            "median_gap_ms": float(np.median(gaps)),
        }


def run_idle(app: QApplication, seconds: float) -> dict[str, float]:
    beat = Heartbeat()
    beat.start()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    return beat.stop()


def run_task(app: QApplication, factory: Callable, limit_s: float) -> dict[str, float]:
    """Heartbeat while ``factory``'s generator runs as a task (cancelled after limit_s)."""
    beat = Heartbeat()
    runner = TaskRunner()
    reports = [0]
    loop = QEventLoop()
    started = time.perf_counter()
    beat.start()
    task = runner.start(
        "bench",
        factory,
        progress=lambda _r: reports.__setitem__(0, reports[0] + 1),
        done=loop.quit,
    )
    assert task is not None
    QTimer.singleShot(int(limit_s * 1000), task.cancel)
    loop.exec()
    stats = beat.stop()
    task.wait()
    stats["seconds"] = time.perf_counter() - started
    stats["reports"] = reports[0]
    return stats


def pan_frames(
    set_range: Callable[[float, float], None], x0: float, width: float, frames: int
) -> tuple[list[float], list[float]]:
    """(wall ms, GUI-thread CPU ms) per frame: move the view by 5 % of its width, then let
    the event loop paint it (one paint per frame, as when dragging with the mouse). CPU time
    is reported too because on a shared machine wall time includes waiting for a core."""
    wall, cpu = [], []
    for i in range(frames):
        start = x0 + (i % 20) * 0.05 * width
        t, c = time.perf_counter(), time.thread_time()
        set_range(start, start + width)
        QApplication.processEvents()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    return wall, cpu


def bench_pan(rows: int, channels: int, frames: int, reference_frames: int) -> None:
    rng = np.random.default_rng(0)
    data = np.cumsum(rng.standard_normal((rows, channels), dtype=np.float32), axis=0)
    time_axis = 1.7e9 + np.arange(rows, dtype=np.float64)
    rec = Recording.from_arrays(
        data, [f"ch{i}" for i in range(channels)], time=time_axis, time_kind="datetime"
    )
    view = SignalView()
    view.resize(1600, 1000)
    view.set_recording(rec)
    view.show()
    QApplication.processEvents()
    width = rows * 0.5  # half the recording in view: 5 M of the 10 M points visible
    ours, ours_cpu = pan_frames(view.set_x_range, time_axis[0], width, frames)
    note = view.compute_downsample_note()
    view.close()

    # Reference: plain pyqtgraph defaults (every point drawn), same layout and data.
    plain = pg.GraphicsLayoutWidget()
    plain.resize(1600, 1000)
    plots = []
    for i in range(channels):
        plot = plain.addPlot(row=i, col=0)
        plot.plot(time_axis, data[:, i], pen=pg.mkPen("#1f3b73"))
        if plots:
            plot.setXLink(plots[0])
        plots.append(plot)
    plain.show()
    QApplication.processEvents()
    ref, ref_cpu = pan_frames(
        lambda a, b: plots[0].setXRange(a, b, padding=0), time_axis[0], width, reference_frames
    )
    plain.close()
    med, p95 = statistics.median(ours), float(np.percentile(ours, 95))
    cpu_med = statistics.median(ours_cpu)
    ref_med, ref_cpu_med = statistics.median(ref), statistics.median(ref_cpu)
    print(
        f"pan {rows:,} rows x {channels} ch ({rows * channels / 1e6:.0f} M points), half in view, "
        f"1600x1000, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:\n"
        f"  SignalView (pyramid + peak ds + clip): wall median {med:6.1f} ms p95 {p95:6.1f} ms, "
        f"CPU median {cpu_med:6.1f} ms over {frames} frames  [{note}]\n"
        f"  plain PlotDataItem reference:          wall median {ref_med:6.1f} ms, CPU median "
        f"{ref_cpu_med:6.1f} ms over {reference_frames} frames\n"
        f"  ratio reference/ours (CPU): {ref_cpu_med / cpu_med:.0f}x   target <= 16 ms per frame: "
        f"{'met' if cpu_med <= 16 else 'NOT met'} (CPU median), "
        f"{'met' if med <= 16 else 'NOT met'} (wall median)"
    )


def bench_pan_scan(frames: int, profile: bool) -> None:
    """Pan the demo recording with labels and a scan shown, against it with neither."""
    recording = load_recording(demo_recording_path())
    model = load_model(demo_model_path())
    result = run_to_end(scan(model, recording, ScanOptions(device="cpu")))
    labelled = 0 if recording.labels is None else len(recording.fault_label_runs)
    width = recording.n_rows * 0.25  # a quarter of the recording in view
    x = recording.time_axis()
    step = float(x[1] - x[0])

    def measure(with_shading: bool) -> tuple[list[float], list[float], SignalView]:
        view = SignalView()
        view.resize(1600, 1000)
        view.set_show_labels(with_shading)
        view.set_recording(recording)
        if with_shading:
            view.set_scan(result, model.window)
        view.show()
        QApplication.processEvents()
        return (*pan_frames(view.set_x_range, float(x[0]), width * step, frames), view)

    plain, plain_cpu, view = measure(False)
    view.close()
    shaded, shaded_cpu, view = measure(True)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        pan_frames(view.set_x_range, float(x[0]), width * step, 20)
        profiler.disable()
        print("profile of 20 frames of the pan with labels and a scan (top 25, cumulative):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    view.close()
    med, cpu = statistics.median(shaded), statistics.median(shaded_cpu)
    ref, ref_cpu = statistics.median(plain), statistics.median(plain_cpu)
    print(
        f"pan with labels and a scan shown: demo recording ({recording.n_rows:,} rows x "
        f"{len(recording.channels)} ch, {len(result.events)} events, {labelled} labelled "
        f"stretches), quarter in view, 1600x1000:\n"
        f"  labels + scan shown: wall median {med:6.1f} ms, CPU median {cpu:6.1f} ms over "
        f"{frames} frames\n"
        f"  neither (reference): wall median {ref:6.1f} ms, CPU median {ref_cpu:6.1f} ms\n"
        f"  ratio shown/reference (CPU): {cpu / ref_cpu:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument(
        "--only-scan-pan", action="store_true", help="only the pan with labels and a scan"
    )
    parser.add_argument(
        "--only-pan", action="store_true", help="only the two pans (no training or scan task)"
    )
    parser.add_argument("--profile", action="store_true", help="profile that pan's frames")
    args = parser.parse_args()
    app = ensure_app()
    if args.only_scan_pan:
        bench_pan_scan(frames=30 if args.quick else 60, profile=args.profile)
        return
    if args.only_pan:
        bench_pan(rows=1_000_000, channels=10, frames=60, reference_frames=3)
        bench_pan_scan(frames=60, profile=args.profile)
        return
    # As the application does (faultlens.cli.gui): leave one core to the GUI thread, and import
    # torch's lazily loaded training modules before any worker runs.
    threads = max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)
    warm_up_torch()
    limit = 8.0 if args.quick else 20.0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    recording = load_recording(demo_recording_path())
    print(
        f"torch threads {threads} of {os.cpu_count()} cores; device {device}; recording "
        f"{recording.n_rows:,} rows x {len(recording.channels)} channels"
    )

    idle = run_idle(app, 3.0)
    options = TrainOptions(epochs=100, device=device)
    training = run_task(app, lambda stop: train([recording], options, stop), limit)

    # Scan with a model trained briefly on the same recording (scan cost does not depend on
    # how well the model is trained).
    model = run_to_end(train([recording], TrainOptions(epochs=1, device=device))).model
    scanning = run_task(
        app, lambda stop: scan(model, recording, ScanOptions(device=device), stop), limit
    )
    print("heartbeat every 10 ms on the GUI thread (longest gap = longest freeze):")
    for name, stats in (("idle (reference)", idle), ("training", training), ("scan", scanning)):
        extra = (
            f"  ({stats['seconds']:.1f} s, {stats['reports']} progress reports)"
            if "seconds" in stats
            else ""
        )
        print(
            f"  {name:17s} max {stats['max_gap_ms']:6.1f} ms  p99 {stats['p99_gap_ms']:6.1f} ms  "
            f"median {stats['median_gap_ms']:5.1f} ms{extra}"
        )
    worst = max(training["max_gap_ms"], scanning["max_gap_ms"])
    print(
        f"  worst gap under load / idle worst gap: {worst / idle['max_gap_ms']:.1f}x   "
        f"target < 50 ms: {'met' if worst < 50 else 'NOT met'}"
    )

    bench_pan(
        rows=1_000_000 if not args.quick else 200_000,
        channels=10,
        frames=60,
        reference_frames=3,
    )
    bench_pan_scan(frames=30 if args.quick else 60, profile=args.profile)


if __name__ == "__main__":
    main()
