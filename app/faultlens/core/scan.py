"""Scanning a recording with a model: per-row fault probabilities and the model's evidence.

The model slides over the recording with a scan stride of 1 row by default (never more
than the model's training stride; a recording so long that this would take more than
``AUTO_MAX_WINDOWS`` forward passes gets the smallest stride that stays under it), so
every row from the first full window on gets its own causal prediction: a window's
output belongs to its LAST row, and what a row shows was computed from that row and the
``T - 1`` rows before it, never from later rows. Detection delay is therefore honest.
Cost: one forward pass per row (``N - T + 1`` windows); ``ScanOptions.stride`` trades
resolution for speed (k x fewer windows), and rows between strided window ends hold the
last output (still causal, up to k - 1 rows more delay). Windows stream in batches
(``faultlens.core.windows.iter_window_batches_on``), so memory stays at ``batch * T * C``
floats plus the per-row outputs (and one copy of the recording), however long it is.

Explanations per row: ``attention`` is the attention a row received (mean over heads and
queries of its key column in each covering window), averaged over all windows covering
the row; ``hotspots`` is how many of the ``H`` feature dimensions took their max-pool
arg-max on the row, averaged over covering windows (so it is on a 0..H scale).

Per-row classes follow one rule (``decide``); the fault events on top of the per-row
outputs are ``faultlens.core.events``'.
"""

from __future__ import annotations

import dataclasses
import math
import time as _time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from faultlens.core.events import FaultEvent, detect_events
from faultlens.core.inference import forward, module_on
from faultlens.core.options import UNCALIBRATED_THRESHOLD, ScanOptions
from faultlens.core.progress import Cancelled, Progress, ShouldStop, never_stop
from faultlens.core.recording import Recording

if TYPE_CHECKING:
    import torch

    from faultlens.core.checkpoint import TrainedModel

# Forward passes a default scan may make before it strides: ~25 s on a GPU-less 8-core
# laptop at ~10k windows/s, minutes on a busy 2-core machine (measured ~300-15,000
# windows/s on CPUs, 150,000 on an H100). A 1M-row recording is then scanned every 4 rows.
AUTO_MAX_WINDOWS = 250_000
# Seconds between progress reports: smooth enough for a progress bar, cheap for the caller.
PROGRESS_INTERVAL_S = 0.2


@dataclass
class ScanResult:
    """Per-row outputs on the recording's own rows (N). Causal: a window's output belongs to
    its last row; rows before the first full window are NaN / -1."""

    class_names: tuple[str, ...]
    probabilities: np.ndarray  # (N, K) float32, NaN before the first window
    predicted: np.ndarray  # (N,) int16 class index, -1 where no prediction
    fault_probability: np.ndarray  # (N,) float32 = 1 - P(normal)
    attention: np.ndarray  # (N,) float32, attention received (mean over heads & queries)
    attention_heads: np.ndarray  # (heads, N) float32, per head, for the heatmap
    hotspots: np.ndarray  # (N,) float32, feature dims whose max-pool arg-max fell on the row
    events: list[FaultEvent] = field(default_factory=list)
    options: ScanOptions = field(default_factory=ScanOptions)
    model_fingerprint: str = ""
    device: str = "cpu"
    window: int = 0  # the model's window T: rows before row T-1 have no prediction
    stride: int = 1  # the scan stride actually used
    windows: int = 0  # forward passes made
    # The model that produced this result, so detect_events can attribute re-thresholded
    # events without the caller passing it again.
    model: TrainedModel | None = field(default=None, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return int(self.fault_probability.shape[0])

    @property
    def threshold(self) -> float:
        """The decision threshold of this result: the scan's (``scan`` always stores the one
        it used in ``options``), else the model's, else ``UNCALIBRATED_THRESHOLD``."""
        if self.options.threshold is not None:
            return float(self.options.threshold)
        if self.model is None:
            return UNCALIBRATED_THRESHOLD
        return float(self.model.threshold)


def _scan_stride(requested: int | None, n_rows: int, window: int) -> int:
    if requested is not None:
        return int(requested)
    return max(1, math.ceil((n_rows - window + 1) / AUTO_MAX_WINDOWS))


def _auto_batch_size(device: torch.device) -> int:
    return 4096 if device.type == "cuda" else 256


def scan(
    model: TrainedModel,
    recording: Recording,
    options: ScanOptions = ScanOptions(),
    should_stop: ShouldStop = never_stop,
) -> Generator[Progress, None, ScanResult]:
    """Run ``model`` (a ``TrainedModel``) over ``recording``; return per-row outputs and events.

    Raises ``ChannelMismatchError`` before any work when the recording lacks a channel the
    model needs, and ``Cancelled`` soon after ``should_stop()`` turns True. Yields
    ``Progress`` in windows at most every 0.2 s (plus the first and last report).
    """
    import torch

    from faultlens.core.device import resolve_device
    from faultlens.core.windows import iter_window_batches_on, window_starts

    model.check_channels(recording)
    device = resolve_device(options.device)
    n = recording.n_rows
    k = len(model.class_names)
    t_win = int(model.window)
    stride = max(1, min(_scan_stride(options.stride, n, t_win), int(model.stride)))
    heads = int(model.config.heads)
    members = int(getattr(model.config, "members", 1))
    threshold = float(model.threshold if options.threshold is None else options.threshold)
    options = dataclasses.replace(options, threshold=threshold)
    batch_size = max(1, int(options.batch_size or _auto_batch_size(device)))

    x = model.normalised_input(recording)  # (N, input size) float32, NaN -> 0
    starts = window_starts(n, t_win, stride, include_last=True)
    n_windows = len(starts)

    win_probs = np.empty((n_windows, k), dtype=np.float32)  # per window, by window order
    head_sum = np.zeros((heads, n), dtype=np.float32)  # attention received, summed
    hot_sum = np.zeros(n, dtype=np.float32)
    cover = np.zeros(n, dtype=np.float32)  # windows covering each row

    yield Progress(0, n_windows, "Scanning")
    last_report = _time.monotonic()
    done = 0
    with module_on(model.module, device), torch.inference_mode():
        # The recording goes to the device once; batches are cut there (N*C, not N*T*C,
        # floats cross the bus).
        for chunk, batch in iter_window_batches_on(x, t_win, stride, batch_size, device):
            if should_stop():
                raise Cancelled()
            probs_np, received_np, hot_np = score_windows(model.module, batch, device, members)
            b = len(chunk)
            win_probs[done : done + b] = probs_np
            add_window_rows(chunk, t_win, received_np, hot_np, head_sum, hot_sum, cover)
            done += b

            now = _time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL_S:
                last_report = now
                yield Progress(done, n_windows, "Scanning")

    # Causal mapping: row r shows the output of the latest window ending at or before r.
    probabilities = np.full((n, k), np.nan, dtype=np.float32)
    if n_windows:
        ends = starts + t_win - 1
        rows = np.arange(n)
        which = np.searchsorted(ends, rows, side="right") - 1  # (N,), -1 before first end
        has = which >= 0
        probabilities[has] = win_probs[which[has]]
    attention_heads, attention, hotspots = row_explanations(head_sum, hot_sum, cover)
    fault_probability = (1.0 - probabilities[:, 0]).astype(np.float32)
    predicted = decide(probabilities, fault_probability, threshold)

    result = ScanResult(
        class_names=tuple(model.class_names),
        probabilities=probabilities,
        predicted=predicted,
        fault_probability=fault_probability,
        attention=attention,
        attention_heads=attention_heads,
        hotspots=hotspots,
        options=options,
        model_fingerprint=model.fingerprint,
        device=str(device),
        window=t_win,
        stride=stride,
        windows=n_windows,
        model=model,
    )
    if should_stop():
        raise Cancelled()
    yield Progress(n_windows, n_windows, "Finding fault events")
    result.events = detect_events(result, recording, options, should_stop=should_stop)
    yield Progress(n_windows, n_windows, "Scanned")
    return result


# Forward passes run on whole blocks of this many windows (a batch is padded with copies of
# its last window): a CPU matrix kernel computes rows in blocks of a few, and a row in a
# partial block can come out different in the last bit (measured: batches of 1-3 or 7 windows
# differed from a batch of 256 by up to 2.4e-7, multiples of 4 not at all). So every window
# gives the same bits whichever batch it is in: the live scanner, which scores whatever
# windows just arrived, equals the offline scan exactly on a CPU. Costs nothing measurable.
BATCH_BLOCK = 16


def score_windows(
    module: torch.nn.Module, batch: np.ndarray | torch.Tensor, device: torch.device, members: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One forward pass over a batch of windows (b, T, input size), as numpy float32:
    class probabilities (b, K), the attention each position received (b, heads, T; mean over
    heads' queries) and hotspot counts per position (b, T; an ensemble's as the mean count
    per member). The offline scan and the live scanner score windows with this, in whole
    ``BATCH_BLOCK``s."""
    import torch

    b = int(batch.shape[0])
    pad = -b % BATCH_BLOCK
    if pad:
        x = torch.from_numpy(batch) if isinstance(batch, np.ndarray) else batch
        batch = torch.cat([x, x[-1:].expand(pad, *x.shape[1:])])  # (b + pad, T, I)
    out = forward(module, batch, device)
    probs = torch.softmax(out.logits.float()[:b], dim=1)  # (b, K)
    # Attention each key position receives: mean over queries (dim 2).
    received = out.attention[:b].float().mean(dim=2)  # (b, heads, T)
    # One-hot count of arg-max positions: (b, H) indices -> (b, T) counts.
    hotspots = out.hotspots[:b]
    hot = torch.zeros(b, out.attention.shape[-1], device=hotspots.device)
    ones = torch.full_like(hotspots, 1.0 / members, dtype=hot.dtype)
    hot.scatter_add_(1, hotspots, ones)
    return probs.cpu().numpy(), received.cpu().numpy(), hot.cpu().numpy()


def add_window_rows(
    starts: np.ndarray,
    window: int,
    received: np.ndarray,
    hot: np.ndarray,
    head_sum: np.ndarray,
    hot_sum: np.ndarray,
    cover: np.ndarray,
) -> None:
    """Add a batch's per-position explanations onto absolute rows: windows starting at
    ``starts`` (b,) ascending, ``received`` (b, heads, T), ``hot`` (b, T) into the running
    sums ``head_sum`` (heads, >= N), ``hot_sum`` and ``cover`` (>= N,). Only the batch's
    span is touched (bincount over it: O(b * T), not O(N), per batch)."""
    lo = int(starts[0])
    span = int(starts[-1]) + window - lo
    offsets = np.arange(window, dtype=np.int64)
    rel = ((starts - lo)[:, None] + offsets[None, :]).ravel()  # (b*T,)
    for h in range(head_sum.shape[0]):
        head_sum[h, lo : lo + span] += np.bincount(
            rel, weights=received[:, h, :].ravel(), minlength=span
        ).astype(np.float32)
    hot_sum[lo : lo + span] += np.bincount(rel, weights=hot.ravel(), minlength=span).astype(
        np.float32
    )
    cover[lo : lo + span] += np.bincount(rel, minlength=span).astype(np.float32)


def row_explanations(
    head_sum: np.ndarray, hot_sum: np.ndarray, cover: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row explanations from the running sums of a span of rows (``head_sum`` (heads,
    n), ``hot_sum`` and ``cover`` (n,)): ``attention_heads`` (heads, n), ``attention`` (n,)
    and ``hotspots`` (n,) float32, each the mean over the windows covering the row, NaN
    where none does."""
    heads, n = head_sum.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        attention_heads = np.where(cover > 0, head_sum / cover, np.nan).astype(np.float32)
        hotspots = np.where(cover > 0, hot_sum / cover, np.nan).astype(np.float32)
    attention = (
        attention_heads.mean(axis=0) if heads else np.full(n, np.nan, dtype=np.float32)
    ).astype(np.float32)
    return attention_heads, attention, hotspots


def decide(
    probabilities: np.ndarray, fault_probability: np.ndarray, threshold: float
) -> np.ndarray:
    """The product's one decision rule: per row, normal (0) unless the fault probability
    reaches ``threshold``, then the most probable fault class; -1 where there is no
    prediction (NaN). ``probabilities`` (N, K), ``fault_probability`` (N,) -> (N,) int16.
    Scan, events, the predictions file, evaluation and reports all use it."""
    probs = np.asarray(probabilities)
    fp = np.asarray(fault_probability, dtype=np.float32)
    out = np.full(len(fp), -1, dtype=np.int16)
    valid = ~np.isnan(fp)
    with np.errstate(invalid="ignore"):
        fault = valid & (fp >= threshold)
    out[valid] = 0
    if probs.shape[1] > 1 and fault.any():
        out[fault] = 1 + np.argmax(probs[fault, 1:], axis=1).astype(np.int16)
    return out
