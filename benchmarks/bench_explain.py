"""Explaining one decision: what it costs, and which per-step contribution to show.

``faultlens.core.explain`` shows, per channel and window step, how much the channel drove
the fault probability. Two candidates, measured in the same run:

- occlusion per (channel, step): each channel at each step replaced by the reference
  window's value, C x T + 1 forward passes (the product's choice);
- integrated gradients from the reference window to the window (``IG_STEPS`` points on the
  straight path, one batched forward and backward pass);
- plain gradient x (input - reference) at the window (one backward pass of one window).

Cost: ms per explained window for T = 32 and C = 8, 20, 60 channels (a random-weight model
of the demo's architecture: hidden 64, 4 heads, relative inputs, feature scales 4/16), for
the whole ``explain`` (forward, occlusion by channel, gradients) and for each candidate
alone; the ratio occlusion / gradient.

Agreement: on the demo recording with the demo model, at the peak row of each event the
scan flags (reference: the rows before the event, as event attribution), both candidates
summed over the steps against occlusion by channel of the fault probability (what the
event table shows): how often their top channel is occlusion's, and Spearman's rank
correlation over the channels; and for integrated gradients how far the sum of all
contributions is from the change in fault probability (reference -> window), which it
should equal.

Measured (2-core box shared with other jobs, load 2-4; timings vary 2-5x between runs, and
under heavier load torch's two threads fight the other jobs and everything takes 5-20x):

====  ======  ========  ==========  (ms per window; the candidates alone)
C     IG      gradient  occl./step
====  ======  ========  ==========
8     7-49    3-13      20-220
20    11-32   4-13      122-881
60    18-52   4-11      1106-5124
====  ======  ========  ==========

The whole ``explain`` (forward pass, occlusion by channel and per step, hotspot gradients)
on the demo model (9 channels, hidden 64): 30-60 ms a window at light load.

Agreement, 29 events: occlusion per step 22/29, median Spearman 0.82; integrated gradients
20/29, 0.42 (sum off the change by a median 0.020, at worst 0.184); gradient 11/29, 0.25.

Example: ``.venv/bin/python benchmarks/bench_explain.py``
"""

from __future__ import annotations

import time

import numpy as np
import torch

from faultlens.core.checkpoint import TrainedModel, load_model
from faultlens.core.explain import explain, explain_rows
from faultlens.core.inference import forward
from faultlens.core.io import load_recording
from faultlens.core.model import ModelConfig, build_model
from faultlens.core.options import ScanOptions
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording
from faultlens.core.resources import resource_path
from faultlens.core.scan import scan

T = 32
IG_STEPS = 16


def random_model(n_ch: int) -> TrainedModel:
    torch.manual_seed(0)
    config = ModelConfig(
        n_channels=n_ch, n_classes=3, hidden=64, heads=4, relative_inputs=True,
        reference="start", feature_scales=(4, 16),
    )  # fmt: skip
    return TrainedModel(
        module=build_model(config).eval(), config=config,
        channels=tuple(f"ch{i}" for i in range(n_ch)), class_names=("normal", "x", "y"),
        norm_mean=np.zeros(config.input_size, np.float32),
        norm_std=np.ones(config.input_size, np.float32), window=T, stride=8,
    )  # fmt: skip


def windows(model: TrainedModel, rec: Recording, row: int, before: int) -> tuple[np.ndarray, ...]:
    data = model.select_channels(rec)
    medians = model.input_medians(data)
    x = model.model_input(data[row - T + 1 : row + 1], medians)
    ref = model.model_input(data[before - T : before], medians) if before >= T else np.zeros_like(x)
    return x, ref


def fault_probability(model: TrainedModel, batch: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        logits = forward(model.module, batch.astype(np.float32), torch.device("cpu")).logits
        return 1.0 - torch.softmax(logits.float(), dim=1)[:, 0].numpy()


def occlusion_per_step(model: TrainedModel, x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(C, T): fault-probability drop with channel c at step t set to the reference."""
    n_ch = len(model.channels)
    cols = [list(range(c, x.shape[1], n_ch)) for c in range(n_ch)]
    variants = np.repeat(x[None], n_ch * T + 1, axis=0)
    for c in range(n_ch):
        for t in range(T):
            variants[1 + c * T + t, t, cols[c]] = ref[t, cols[c]]
    p = fault_probability(model, variants)
    return (p[0] - p[1:]).reshape(n_ch, T)


def occlusion_per_channel(model: TrainedModel, x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    n_ch = len(model.channels)
    variants = np.repeat(x[None], n_ch + 1, axis=0)
    for c in range(n_ch):
        cols = list(range(c, x.shape[1], n_ch))
        variants[1 + c][:, cols] = ref[:, cols]
    p = fault_probability(model, variants)
    return p[0] - p[1:]


def plain_gradient(model: TrainedModel, x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(C, T): gradient of the fault probability at the window x (input - reference)."""
    xt = torch.from_numpy(x[None]).requires_grad_(True)
    fault = 1.0 - torch.softmax(model.module(xt).logits.float(), dim=1)[:, 0]
    (grad,) = torch.autograd.grad(fault.sum(), xt)
    gx = grad.numpy()[0] * (x - ref)
    return gx.reshape(T, -1, len(model.channels)).sum(axis=1).T


def best_ms(fn, repeat: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def integrated(model: TrainedModel, x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(C, T): integrated gradients of the fault probability, reference -> window
    (midpoint rule, IG_STEPS points, one batch)."""
    alphas = ((np.arange(IG_STEPS) + 0.5) / IG_STEPS).astype(np.float32)
    path = ref[None] + alphas[:, None, None] * (x - ref)[None]
    xt = torch.from_numpy(path.astype(np.float32)).requires_grad_(True)
    fault = 1.0 - torch.softmax(model.module(xt).logits.float(), dim=1)[:, 0]
    (grad,) = torch.autograd.grad(fault.sum(), xt)
    gx = grad.numpy().mean(axis=0) * (x - ref)
    return gx.reshape(T, -1, len(model.channels)).sum(axis=1).T


def cost() -> None:
    print(f"cost per explained window (T = {T}, best of 5, ms):")
    print(f"{'C':>4} {'explain()':>10} {'IG':>6} {'gradient':>9} {'occl./step':>11} "
          f"{'occl./IG':>9}")  # fmt: skip
    for n_ch in (8, 20, 60):
        model = random_model(n_ch)
        rng = np.random.default_rng(0)
        rec = Recording.from_arrays(rng.normal(size=(400, n_ch)), model.channels)
        medians = model.input_medians(model.select_channels(rec))
        x, ref = windows(model, rec, 300, 200)
        full = best_ms(lambda m=model, r=rec, md=medians: explain(m, r, 300, medians=md))
        ig_ms = best_ms(lambda m=model, x=x, ref=ref: integrated(m, x, ref))
        grad_ms = best_ms(lambda m=model, x=x, ref=ref: plain_gradient(m, x, ref))
        occ_ms = best_ms(lambda m=model, x=x, ref=ref: occlusion_per_step(m, x, ref), repeat=2)
        print(f"{n_ch:>4} {full:>10.1f} {ig_ms:>6.1f} {grad_ms:>9.1f} {occ_ms:>11.1f} "
              f"{occ_ms / ig_ms:>9.0f}")  # fmt: skip


def agreement() -> None:
    model = load_model(resource_path("demo_pump.flmodel"))
    rec = load_recording(resource_path("demo_pump.csv"))
    result = run_to_end(scan(model, rec, ScanOptions(device="cpu")))
    events = result.events
    peaks = [
        e.start_row + int(np.nanargmax(result.fault_probability[e.start_row : e.end_row + 1]))
        for e in events
    ]
    peaks = [max(p, T - 1) for p in peaks]
    exps = explain_rows(model, rec, peaks, befores=[e.start_row for e in events])
    names = ("occlusion per step", f"integrated gradients ({IG_STEPS})",
             "gradient x (input - ref)")  # fmt: skip
    top = dict.fromkeys(names, 0)
    rho: dict[str, list[float]] = {k: [] for k in names}
    gap = []
    for e, ex, row in zip(events, exps, peaks, strict=True):
        x, ref = windows(model, rec, row, e.start_row)
        channel = occlusion_per_channel(model, x, ref)
        change = float(np.diff(fault_probability(model, np.stack([ref, x])))[0])
        ig = integrated(model, x, ref)
        gap.append(abs(float(ig.sum()) - change))
        sums = (
            ex.contribution.sum(axis=1),
            ig.sum(axis=1),
            plain_gradient(model, x, ref).sum(axis=1),
        )
        for name, summed in zip(names, sums, strict=True):
            top[name] += int(np.argmax(summed) == np.argmax(channel))
            rho[name].append(spearman(summed, channel))
    n = len(events)
    print(f"\nagreement with occlusion by channel, demo model, {n} events (peak rows):")
    for name in names:
        print(f"  {name:<28} top channel {top[name]:>2}/{n}, "
              f"median Spearman {np.nanmedian(rho[name]):.2f}")  # fmt: skip
    print(f"  integrated gradients: |sum - change in fault probability| median "
          f"{np.median(gap):.3f}, max {np.max(gap):.3f}")  # fmt: skip


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    cost()
    agreement()
