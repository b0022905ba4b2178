"""Scanning a recording with a model and turning per-row scores into fault events.

Scan (``scan``)
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

Events (``detect_events``)
    Runs of rows with ``fault_probability >= threshold``; runs separated by fewer than
    ``merge_gap_rows`` rows are merged, then events shorter than ``min_duration_rows`` are
    dropped. The event class is the fault class with the largest summed probability over
    the event. Attribution is channel occlusion: for up to ``ATTRIBUTION_WINDOWS`` evenly
    spaced windows whose last row lies in the event, each channel in turn is replaced by
    how it looked just before the event (the window ending on the row before it; at the
    very start of a recording, by its training mean, 0 after normalisation) and the drop in
    the event class's probability is measured; ``channel_scores`` are each top channel's
    share of the total positive drop. Why the window before, not a constant: with the
    feature front-end a channel frozen at its mean has no spread at all - a stuck sensor's
    signature - so a constant is no neutral stand-in.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import time as _time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faultlens.core.atomic import atomic_open
from faultlens.core.errors import ReportError
from faultlens.core.options import UNCALIBRATED_THRESHOLD, ScanOptions
from faultlens.core.progress import Cancelled, Progress, ShouldStop, never_stop
from faultlens.core.recording import Recording

# Occlusion windows per event: enough to average over the event's course, few enough that
# attribution of a typical event costs (C + 1) * 32 forward passes (well under a second).
ATTRIBUTION_WINDOWS = 32
# Forward passes a default scan may make before it strides: ~25 s on a GPU-less 8-core
# laptop at ~10k windows/s, minutes on a busy 2-core machine (measured ~300-15,000
# windows/s on CPUs, 150,000 on an H100). A 1M-row recording is then scanned every 4 rows.
AUTO_MAX_WINDOWS = 250_000
# Total occlusion windows per attribution run: with many events each gets fewer (at least
# 4), so attributing a long, fault-ridden recording stays bounded.
ATTRIBUTION_BUDGET = 2048
# Seconds between progress reports: smooth enough for a progress bar, cheap for the caller.
PROGRESS_INTERVAL_S = 0.2


@dataclass(frozen=True)
class FaultEvent:
    start_row: int
    end_row: int  # inclusive
    start_time: str  # Recording.format_time
    end_time: str
    duration_s: float  # in rows for recordings without a time axis (see duration_unit)
    class_name: str
    peak_probability: float
    mean_probability: float
    top_channels: tuple[str, ...]
    channel_scores: tuple[float, ...] = ()  # attribution share per top channel
    duration_unit: str = "s"  # "s" or "rows"

    @property
    def rows(self) -> int:
        return self.end_row - self.start_row + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as written by ``Recording.format_time``: ISO-8601 for
        date-time axes)."""
        return {
            "start_row": int(self.start_row),
            "end_row": int(self.end_row),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration": float(self.duration_s),
            "duration_unit": self.duration_unit,
            "class_name": self.class_name,
            "peak_probability": float(self.peak_probability),
            "mean_probability": float(self.mean_probability),
            "top_channels": list(self.top_channels),
            "channel_scores": [float(s) for s in self.channel_scores],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaultEvent:
        return cls(
            start_row=int(d["start_row"]),
            end_row=int(d["end_row"]),
            start_time=str(d["start_time"]),
            end_time=str(d["end_time"]),
            duration_s=float(d["duration"]),
            class_name=str(d["class_name"]),
            peak_probability=float(d["peak_probability"]),
            mean_probability=float(d["mean_probability"]),
            top_channels=tuple(str(c) for c in d.get("top_channels", ())),
            channel_scores=tuple(float(s) for s in d.get("channel_scores", ())),
            duration_unit=str(d.get("duration_unit", "s")),
        )


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
    model: Any = field(default=None, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return int(self.fault_probability.shape[0])

    @property
    def threshold(self) -> float:
        """The decision threshold of this result: the scan's (``scan`` always stores the one
        it used in ``options``), else the model's, else ``UNCALIBRATED_THRESHOLD``."""
        if self.options.threshold is not None:
            return float(self.options.threshold)
        return float(getattr(self.model, "threshold", UNCALIBRATED_THRESHOLD))


# ---------------------------------------------------------------- device helpers
@contextlib.contextmanager
def _module_on(module: Any, device: Any) -> Iterator[None]:
    """Run ``module`` in eval mode on ``device``; put it back where and as it was."""
    import torch

    params = list(module.parameters())
    home = params[0].device if params else torch.device("cpu")
    was_training = module.training
    module.to(device)
    module.eval()
    try:
        yield
    finally:
        module.to(home)
        module.train(was_training)


def _forward(module: Any, batch: Any, device: Any) -> Any:
    """One inference forward pass of a (b, T, C) float32 batch (numpy, or a tensor already on
    ``device``); autocast (float16) on CUDA."""
    import torch

    x = torch.from_numpy(batch).to(device) if isinstance(batch, np.ndarray) else batch
    if device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.float16):
            return module(x)
    return module(x)


def _scan_stride(requested: int | None, n_rows: int, window: int) -> int:
    if requested is not None:
        return int(requested)
    return max(1, math.ceil((n_rows - window + 1) / AUTO_MAX_WINDOWS))


def _auto_batch_size(device: Any) -> int:
    return 4096 if device.type == "cuda" else 256


def _fingerprint(model: Any) -> str:
    try:
        return str(model.fingerprint)
    except (AttributeError, NotImplementedError):
        return ""


# ---------------------------------------------------------------- scan
def scan(
    model: Any,
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
    if options.threshold is None:
        options = dataclasses.replace(options, threshold=float(model.threshold))
    batch_size = max(1, int(options.batch_size or _auto_batch_size(device)))

    x = model.normalised_input(recording)  # (N, input size) float32, NaN -> 0
    starts = window_starts(n, t_win, stride, include_last=True)
    n_windows = len(starts)

    win_probs = np.empty((n_windows, k), dtype=np.float32)  # per window, by window order
    head_sum = np.zeros((heads, n), dtype=np.float32)  # attention received, summed
    hot_sum = np.zeros(n, dtype=np.float32)
    cover = np.zeros(n, dtype=np.float32)  # windows covering each row
    offsets = np.arange(t_win, dtype=np.int64)

    yield Progress(0, n_windows, "Scanning")
    last_report = _time.monotonic()
    done = 0
    with _module_on(model.module, device), torch.inference_mode():
        # The recording goes to the device once; batches are cut there (N*C, not N*T*C,
        # floats cross the bus).
        for chunk, batch in iter_window_batches_on(x, t_win, stride, batch_size, device):
            if should_stop():
                raise Cancelled()
            out = _forward(model.module, batch, device)
            b = len(chunk)
            probs = torch.softmax(out.logits.float(), dim=1)  # (b, K)
            # Attention each key position receives: mean over queries (dim 2).
            received = out.attention.float().mean(dim=2)  # (b, heads, T)
            # One-hot count of arg-max positions: (b, H) indices -> (b, T) counts.
            hot = torch.zeros(b, t_win, device=out.hotspots.device)
            # An ensemble's hotspots hold every member's features: the mean count per member.
            ones = torch.full_like(out.hotspots, 1.0 / members, dtype=hot.dtype)
            hot.scatter_add_(1, out.hotspots, ones)
            win_probs[done : done + b] = probs.cpu().numpy()
            received_np = received.cpu().numpy()
            hot_np = hot.cpu().numpy()

            # Scatter window positions onto absolute rows, within this batch's span only
            # (bincount over the span keeps the cost O(b * T), not O(N), per batch).
            lo = int(chunk[0])
            span = int(chunk[-1]) + t_win - lo
            rel = ((chunk - lo)[:, None] + offsets[None, :]).ravel()  # (b*T,)
            for h in range(heads):
                head_sum[h, lo : lo + span] += np.bincount(
                    rel, weights=received_np[:, h, :].ravel(), minlength=span
                ).astype(np.float32)
            hot_sum[lo : lo + span] += np.bincount(
                rel, weights=hot_np.ravel(), minlength=span
            ).astype(np.float32)
            cover[lo : lo + span] += np.bincount(rel, minlength=span).astype(np.float32)
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
    with np.errstate(invalid="ignore", divide="ignore"):
        attention_heads = np.where(cover > 0, head_sum / cover, np.nan).astype(np.float32)
        hotspots = np.where(cover > 0, hot_sum / cover, np.nan).astype(np.float32)
    attention = (
        attention_heads.mean(axis=0) if heads else np.full(n, np.nan, dtype=np.float32)
    ).astype(np.float32)
    fault_probability = (1.0 - probabilities[:, 0]).astype(np.float32)
    predicted = decide(probabilities, fault_probability, float(options.threshold))

    result = ScanResult(
        class_names=tuple(model.class_names),
        probabilities=probabilities,
        predicted=predicted,
        fault_probability=fault_probability,
        attention=attention,
        attention_heads=attention_heads,
        hotspots=hotspots,
        options=options,
        model_fingerprint=_fingerprint(model),
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


# ---------------------------------------------------------------- events
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end inclusive) of every run of True in a 1-D boolean array."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def find_stretches(
    fault_probability: np.ndarray, threshold: float, min_duration_rows: int, merge_gap_rows: int
) -> list[tuple[int, int]]:
    """Row stretches (start, end inclusive) flagged as faults.

    Rows with ``fault_probability >= threshold`` (NaN never is) form runs; runs separated by
    fewer than ``merge_gap_rows`` unflagged rows are merged; merged stretches shorter than
    ``min_duration_rows`` rows are dropped.
    """
    fp = np.asarray(fault_probability, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        flagged = fp >= threshold
    merged: list[tuple[int, int]] = []
    for start, end in _runs(flagged):
        if merged and start - merged[-1][1] - 1 < merge_gap_rows:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [(s, e) for s, e in merged if e - s + 1 >= max(1, min_duration_rows)]


def _duration(recording: Recording, start: int, end: int) -> tuple[float, str]:
    """Span of rows start..end: seconds (one sampling interval per row) or rows."""
    if recording.time is None:
        return float(end - start + 1), "rows"
    t = recording.time
    if recording.n_rows > 1:
        dt = float(np.nanmedian(np.diff(t)))
        dt = dt if math.isfinite(dt) and dt > 0 else 0.0
    else:
        dt = 0.0
    return float(t[end] - t[start]) + dt, "s"


def detect_events(
    result: ScanResult,
    recording: Recording,
    options: ScanOptions = ScanOptions(),
    model: Any = None,
    should_stop: ShouldStop = never_stop,
) -> list[FaultEvent]:
    """Fault events from a scan's per-row outputs (see the module docstring for the rules).

    Attribution uses ``model`` or else ``result.model``; without either (or with
    ``options.attribute`` off) events carry no channels. Cheap enough to rerun when the user
    moves the threshold; ``should_stop`` is polled per event (raises ``Cancelled``).
    """
    if recording.n_rows != result.n_rows:
        raise ValueError(f"scan has {result.n_rows} rows but the recording {recording.n_rows}")
    threshold = result.threshold if options.threshold is None else options.threshold
    stretches = find_stretches(
        result.fault_probability,
        float(threshold),
        options.min_duration_rows,
        options.merge_gap_rows,
    )
    use_model = model if model is not None else result.model
    attributions: list[tuple[tuple[str, ...], tuple[float, ...]]] = []
    classes: list[int] = []
    for start, end in stretches:
        probs = np.nan_to_num(result.probabilities[start : end + 1, 1:], nan=0.0)
        classes.append(1 + int(np.argmax(probs.sum(axis=0))))
    if use_model is not None and options.attribute and stretches:
        attributions = attribute_events(
            use_model,
            recording,
            stretches,
            classes,
            options.top_channels,
            options.device,
            should_stop,
        )
    else:
        attributions = [((), ())] * len(stretches)

    events = []
    for (start, end), cls, (chans, scores) in zip(stretches, classes, attributions, strict=True):
        fp = result.fault_probability[start : end + 1]
        duration, unit = _duration(recording, start, end)
        events.append(
            FaultEvent(
                start_row=start,
                end_row=end,
                start_time=recording.format_time(start),
                end_time=recording.format_time(end),
                duration_s=duration,
                class_name=str(result.class_names[cls]),
                peak_probability=float(np.nanmax(fp)),
                mean_probability=float(np.nanmean(fp)),
                top_channels=chans,
                channel_scores=scores,
                duration_unit=unit,
            )
        )
    return events


def attribute_events(
    model: Any,
    recording: Recording,
    stretches: Sequence[tuple[int, int]],
    classes: Sequence[int],
    top: int = 3,
    device_name: str = "auto",
    should_stop: ShouldStop = never_stop,
) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
    """Channel occlusion per event: ``(top channels, their shares)`` for each stretch.

    For each stretch, up to ``ATTRIBUTION_WINDOWS`` evenly spaced windows ending inside it
    (fewer when there are many events: ``ATTRIBUTION_BUDGET`` in all, at least 4 each)
    are scored as they are and with each channel in turn replaced by its values in the
    window that ends on the row before the stretch (its training mean, 0 after
    normalisation, when the stretch starts within the first window). A channel's drop is
    the mean decrease of the event class's probability; only channels with a positive drop
    count, and a share is drop / sum of positive drops.
    """
    import torch

    from faultlens.core.device import resolve_device

    data = model.select_channels(recording)  # (N, C) in the model's channel order (checked)
    t_win = int(model.window)
    n_ch = data.shape[1]
    medians = model.input_medians(data)  # of the whole recording, not of a stretch
    # Input columns of each channel: its level, and with relative inputs its deviation too.
    input_columns = [[c] if model.config.input_size == n_ch else [c, n_ch + c] for c in range(n_ch)]
    device = resolve_device(device_name)
    per_event = max(4, min(ATTRIBUTION_WINDOWS, ATTRIBUTION_BUDGET // max(len(stretches), 1)))
    out: list[tuple[tuple[str, ...], tuple[float, ...]]] = []
    with _module_on(model.module, device), torch.inference_mode():
        for (start, end), cls in zip(stretches, classes, strict=True):
            if should_stop():
                raise Cancelled()
            first_end = max(start, t_win - 1)
            if end < first_end:
                out.append(((), ()))
                continue
            count = min(per_event, end - first_end + 1)
            ends = np.unique(np.linspace(first_end, end, count).round().astype(np.int64))
            # The reference: the window that ends on the row before the event (how each
            # channel looked before it), when the recording has one.
            ref_lo = start - t_win if start >= t_win else None
            lo = int(ends[0]) - t_win + 1 if ref_lo is None else ref_lo
            x = model.model_input(data[lo : int(ends[-1]) + 1], medians)  # (span, input size)
            win = np.lib.stride_tricks.sliding_window_view(x, t_win, axis=0).transpose(0, 2, 1)
            base = np.ascontiguousarray(win[ends - t_win + 1 - lo], dtype=np.float32)  # (w,T,I)
            reference = np.zeros_like(base[0]) if ref_lo is None else win[0]  # (T, I)
            # Variant 0 is the unchanged window, variant c+1 has channel c occluded (all its
            # input columns): (C+1, w, T, I) -> flattened into batches of the forward pass.
            variants = np.repeat(base[None], n_ch + 1, axis=0)
            for c in range(n_ch):
                for col in input_columns[c]:
                    variants[c + 1, :, :, col] = reference[:, col]  # (T,) over every window
            flat = variants.reshape(-1, t_win, base.shape[2])
            p = np.concatenate(
                [
                    torch.softmax(
                        _forward(model.module, flat[i : i + 512], device).logits.float(), dim=1
                    )[:, cls]
                    .cpu()
                    .numpy()
                    for i in range(0, len(flat), 512)
                ]
            ).reshape(n_ch + 1, -1)  # (C+1, w)
            drop = np.clip((p[0][None, :] - p[1:]).mean(axis=1), 0.0, None)  # (C,)
            total = float(drop.sum())
            order = [i for i in np.argsort(-drop, kind="stable")[:top] if drop[i] > 0]
            out.append(
                (
                    tuple(model.channels[i] for i in order),
                    tuple(float(drop[i] / total) for i in order),
                )
            )
    return out


# ---------------------------------------------------------------- event files
# One implementation for every event file: the scan engine's (the event's own columns) and
# the report's (faultlens.core.report adds an "event" number and the review's columns).
EVENTS_FORMAT = "faultlens-events"
EVENTS_VERSION = 1
# The event's own columns, in order. A file has these (plus any extra columns), then
# channel_1, score_1, channel_2, score_2 ... as many as the widest event needs.
EVENT_FIELDS = (
    "start_row",
    "end_row",
    "start_time",
    "end_time",
    "duration",
    "duration_unit",
    "class_name",
    "peak_probability",
    "mean_probability",
)


# Spreadsheet formula injection: a spreadsheet runs a cell that starts with one of these as a
# formula (a class name from a CSV label column or a note could be "=HYPERLINK(...)"). Such
# text cells are written with a leading apostrophe, which spreadsheets show as text and
# ``read_events_with`` removes again; a cell that itself starts with an apostrophe gets one
# more, so the round trip is exact. Numbers are written as numbers and never touched.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _defuse(cell: Any) -> Any:
    return "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_START) else cell


def _restore(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def events_to_csv(
    events: Sequence[FaultEvent],
    path: str | Path,
    extra: Sequence[dict[str, Any]] | None = None,
    columns: Sequence[str] = EVENT_FIELDS,
) -> None:
    """Write events as CSV (atomically): one row per event with the values of ``columns``
    (the event's own fields, ``EVENT_FIELDS``, and any keys of ``extra``: one dict per
    event); the top channels go in columns ``channel_1, score_1, channel_2, score_2, ...``
    so no cell needs a nested list. Text that a spreadsheet would run as a formula gets a
    leading apostrophe (``_FORMULA_START``)."""
    records = event_dicts(events, extra, columns)
    width = max([len(e.top_channels) for e in events] + [0])
    header = list(columns)
    for i in range(1, width + 1):
        header += [f"channel_{i}", f"score_{i}"]
    # Built in memory and written as bytes: no platform newline translation of the rows.
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for rec in records:
        # repr() of a float reads back to the same float (round trip).
        row = [repr(rec[k]) if isinstance(rec[k], float) else rec[k] for k in columns]
        names, scores = rec["top_channels"], rec["channel_scores"]
        for i in range(width):
            if i < len(names):
                row += [names[i], repr(scores[i]) if i < len(scores) else ""]
            else:
                row += ["", ""]
        writer.writerow([_defuse(cell) for cell in row])
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getvalue().encode("utf-8"))


def events_to_json(
    events: Sequence[FaultEvent],
    path: str | Path,
    meta: dict[str, Any] | None = None,
    extra: Sequence[dict[str, Any]] | None = None,
    columns: Sequence[str] = EVENT_FIELDS,
) -> None:
    """Write events as JSON (atomically): ``{"format", "version", ...meta, "events": [...]}``,
    each event a dict with the keys of ``columns`` (``extra`` as for ``events_to_csv``) and
    the ``top_channels`` and ``channel_scores`` lists."""
    doc = {"format": EVENTS_FORMAT, "version": EVENTS_VERSION, **(meta or {})}
    doc["events"] = event_dicts(events, extra, columns)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, ensure_ascii=False, allow_nan=False)
        fh.write("\n")


def event_dicts(
    events: Sequence[FaultEvent],
    extra: Sequence[dict[str, Any]] | None = None,
    columns: Sequence[str] = EVENT_FIELDS,
) -> list[dict[str, Any]]:
    """One dict per event with the keys of ``columns`` (from ``FaultEvent.to_dict()`` or
    from the event's dict of ``extra``) in that order, and the ``top_channels`` and
    ``channel_scores`` lists right after the event's own fields."""
    if extra is None:
        extra = [{} for _ in events]
    out = []
    for e, x in zip(events, extra, strict=True):
        d = e.to_dict()
        rec: dict[str, Any] = {}
        for k in columns:
            rec[k] = d[k] if k in d else x[k]
            if k == EVENT_FIELDS[-1]:
                rec["top_channels"] = d["top_channels"]
                rec["channel_scores"] = d["channel_scores"]
        out.append(rec)
    return out


def write_events(
    events: Sequence[FaultEvent],
    path: str | Path,
    meta: dict[str, Any] | None = None,
    extra: Sequence[dict[str, Any]] | None = None,
    columns: Sequence[str] = EVENT_FIELDS,
) -> None:
    """Write ``events`` as CSV or JSON, chosen by the file's suffix (.csv / .json); ``extra``
    and ``columns`` as for ``events_to_csv``, ``meta`` as for ``events_to_json``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        events_to_csv(events, path, extra, columns)
    elif suffix == ".json":
        events_to_json(events, path, meta, extra, columns)
    else:
        raise ReportError(f"{path}: unknown event file type {suffix!r}; name it .csv or .json")


def read_events(path: str | Path) -> list[FaultEvent]:
    """Read an event file written by ``write_events`` (or by the report's)."""
    return read_events_with(path)[0]


def read_events_with(
    path: str | Path, extra_columns: Sequence[str] = ()
) -> tuple[list[FaultEvent], list[dict[str, str]]]:
    """Read an event file: the events and, per event, the values of ``extra_columns`` as
    text (empty strings where the file has none)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(
            f"{path}: cannot be read ({exc.strerror or exc}); check the path"
        ) from None
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReportError(
                f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
                "export the events again"
            ) from None
        items = doc.get("events") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise ReportError(f"{path}: no 'events' list; this is not a FaultLens event file")
        try:
            events = [FaultEvent.from_dict(d) for d in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(
                f"{path}: an event is missing a field or has a bad one ({exc}); "
                "export the events again"
            ) from None
        return events, [{k: str(d.get(k, "")) for k in extra_columns} for d in items]
    # newline="" keeps line breaks inside quoted fields (a multi-line review note).
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    # duration_unit may be missing (seconds then); the other fields may not.
    missing = [c for c in EVENT_FIELDS if c != "duration_unit" and c not in header]
    if missing:
        raise ReportError(
            f"{path}: line 1: missing column(s) {', '.join(missing)}; this is not "
            "a FaultLens event list"
        )
    n_ch = sum(1 for h in header if h.startswith("channel_"))
    events, extras = [], []
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise ReportError(
                f"{path}: line {reader.line_num}: {len(row)} fields, expected {len(header)}; "
                "export the events again"
            )
        d: dict[str, Any] = dict(zip(header, map(_restore, row), strict=True))
        pairs = [(d.get(f"channel_{i}", ""), d.get(f"score_{i}", "")) for i in range(1, n_ch + 1)]
        d["top_channels"] = [c for c, _ in pairs if c != ""]
        d["channel_scores"] = [s for c, s in pairs if c != "" and s != ""]
        try:
            events.append(FaultEvent.from_dict(d))
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(
                f"{path}: line {reader.line_num}: bad value ({exc}); export the events again"
            ) from None
        extras.append({k: d.get(k, "") for k in extra_columns})
    return events, extras


# ---------------------------------------------------------------- per-row predictions
def _time_text(recording: Recording) -> Any:
    """The time axis as a pyarrow string array like ``Recording.format_time`` writes it
    (ISO-8601 for date-times; seconds at full precision), vectorised; None without one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if recording.time is None:
        return None
    t = recording.time
    if recording.time_kind != "datetime":
        # Full precision (shortest text that reads back to the same float), not the
        # 6 significant digits of format_time: long recordings need every digit.
        return pc.cast(pa.array(t, type=pa.float64()), pa.string())
    offset = recording.utc_offset_s or 0
    # Microseconds, rounded as datetime.fromtimestamp rounds (float64 keeps ~0.25 us here).
    us = np.round((t + offset) * 1e6).astype("int64")
    whole = bool(np.all(us % 1_000_000 == 0))
    # Arrow's %S prints the fraction for sub-second units ("05.500000"), none for seconds.
    if whole:
        stamps = pa.array(us // 1_000_000, type=pa.timestamp("s"))
    else:
        stamps = pa.array(us, type=pa.timestamp("us"))
    text = pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%S")
    if recording.utc_offset_s is not None:
        sign = "+" if offset >= 0 else "-"
        hh, mm = divmod(abs(offset) // 60, 60)
        text = pc.binary_join_element_wise(text, f"{sign}{hh:02d}:{mm:02d}", "")
    return text


def _prediction_columns(
    result: ScanResult, recording: Recording, for_spreadsheets: bool = False
) -> dict[str, Any]:
    """Column name -> pyarrow array, in the order of ``faultlens scan --predictions``;
    ``for_spreadsheets`` writes class names that look like formulas as text (``_defuse``)."""
    import pyarrow as pa

    def floats(values: np.ndarray) -> Any:
        v = np.asarray(values, dtype=np.float32)
        return pa.array(v, mask=np.isnan(v))  # NaN -> null -> empty cell

    n = result.n_rows
    cols: dict[str, Any] = {"row": pa.array(np.arange(n, dtype=np.int64))}
    times = _time_text(recording)
    if times is not None:
        cols["time"] = times
    pred = result.predicted.astype(np.int64)
    shown = [_defuse(c) if for_spreadsheets else c for c in result.class_names]
    names = pa.array(shown, type=pa.string())
    # -1 (no prediction) becomes null: an empty cell.
    cols["predicted_class"] = names.take(pa.array(np.where(pred >= 0, pred, 0), mask=pred < 0))
    cols["fault_probability"] = floats(result.fault_probability)
    for i, name in enumerate(result.class_names):
        cols[f"p_{name}"] = floats(result.probabilities[:, i])
    cols["attention"] = floats(result.attention)
    cols["hotspots"] = floats(result.hotspots)
    return cols


def predictions_frame(result: ScanResult, recording: Recording) -> Any:
    """Per-row predictions as a pandas DataFrame with the columns of ``faultlens scan
    --predictions``: row, time (if any), predicted_class ("" before the first window),
    fault_probability, p_<class>..., attention, hotspots."""
    import pyarrow as pa

    cols = _prediction_columns(result, recording)
    frame = pa.table(cols).to_pandas()
    frame["predicted_class"] = frame["predicted_class"].fillna("")
    return frame


def write_predictions_csv(result: ScanResult, recording: Recording, path: str | Path) -> None:
    """Write the per-row predictions to ``path`` atomically (pyarrow's C++ CSV writer: a
    million rows in about a second); empty cells where there is no prediction."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    table = pa.table(_prediction_columns(result, recording, for_spreadsheets=True))
    options = pa_csv.WriteOptions(include_header=True, quoting_style="needed")
    with atomic_open(path, "wb") as fh:
        pa_csv.write_csv(table, fh, write_options=options)
