"""Cutting recordings into model windows, labelling windows, and normalising channels.

Windows are never materialised all at once: ``sliding_windows`` is a strided view of the
recording and ``iter_window_batches`` copies one batch at a time, so memory stays at
``batch * T * C`` floats however long the recording is.

Model input: each channel is normalised with statistics fitted on the training data. With
**recording-relative inputs** (an option, ``ModelConfig.relative_inputs``; the default
until the one-per-class evidence in benchmarks/RESULTS.md) the model sees every channel
twice: its level, and its deviation from the recording's own
median (``encode_inputs``). Why: recordings of the same machine sit at different operating
levels (another day, another load, another plant), and a model that sees levels only learns
"this level means fault" and raises long false alarms on a recording whose normal level it
has not seen; the deviation from the recording's own typical value carries over. The level
stays in, so a recording that is in one state throughout (a whole-file class) is still
recognised. On SKAB validation folds this took the false-alarm rate from ~21 % to ~8 % at
better F1 (benchmarks/TUNING.md). It assumes faults cover less than about half of a
recording (the median is then a normal value); a fault that lasts to the end of a recording
breaks that, which is why new models measure deviations from a recording's first rows
instead, and only when their training recordings start normal (``channel_reference``,
``faultlens.core.training_plan._choose_relative``).

Window label rule: **a window takes the label of its last row**; a window whose last row is
unlabelled is skipped. Why: the scan is causal (a window's output belongs to its last row,
see ``faultlens.core.scan.ScanResult``), so training the model to say "is the newest
row faulty, given the ``T`` rows up to it" makes training, validation metrics and the
per-row scan track measure the same thing. Rows before the last one only give context.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

# Normalised values are clipped to this many standard deviations. A fault can push a sensor
# far out of its training range (and another plant's sensor can have another scale); a
# bounded input keeps the LSTM out of deep saturation and float16 (CUDA autocast) far from
# overflow, while 50 sigma is still an unmistakable signal.
CLIP_SIGMAS = 50.0


def fit_normalisation(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over the rows of all ``arrays`` (each (N, C)),
    ignoring NaN. Fit this on the training recordings only and store it with the model.

    The standard deviation has a floor (1e-3 of the channel's magnitude, at least 1e-6) so a
    flat-lined channel does not blow up tiny deviations at scan time. A channel that is NaN
    everywhere gets mean 0 and std 1. Returns ``(mean, std)``, each (C,) float32.
    """
    if not arrays:
        raise ValueError("fit_normalisation needs at least one array")
    n_channels = arrays[0].shape[1]
    total = np.zeros(n_channels, dtype=np.float64)
    count = np.zeros(n_channels, dtype=np.float64)
    for data in arrays:
        finite = np.isfinite(data)
        total += np.where(finite, data, 0.0).sum(axis=0, dtype=np.float64)
        count += finite.sum(axis=0)
    mean = np.divide(total, count, out=np.zeros(n_channels), where=count > 0)
    # Second pass for the variance (numerically safer than E[x^2] - E[x]^2 on raw sensor
    # values with large offsets, e.g. pressure in Pa).
    sq = np.zeros(n_channels, dtype=np.float64)
    for data in arrays:
        dev = data.astype(np.float64) - mean
        sq += np.where(np.isfinite(dev), dev * dev, 0.0).sum(axis=0)
    std = np.sqrt(np.divide(sq, count, out=np.ones(n_channels), where=count > 0))
    std = np.maximum(std, np.maximum(1e-3 * np.abs(mean), 1e-6))
    return mean.astype(np.float32), std.astype(np.float32)


# Medians of recordings longer than this are taken over this many evenly spaced rows: the
# median of 200,000 rows is as good as exact for an operating level, and 5x cheaper on 1 M.
MEDIAN_ROWS = 200_000


def channel_medians(data: np.ndarray) -> np.ndarray:
    """Per-channel median of ``data`` (N, C), ignoring NaN: (C,) float32, NaN for a channel
    with no value at all. Long recordings use ``MEDIAN_ROWS`` evenly spaced rows."""
    step = max(1, -(-len(data) // MEDIAN_ROWS))
    sample = np.asarray(data[::step], dtype=np.float32)
    out = np.full(sample.shape[1], np.nan, dtype=np.float32)
    has_value = np.isfinite(sample).any(axis=0)
    if has_value.any():
        finite = np.where(np.isfinite(sample[:, has_value]), sample[:, has_value], np.nan)
        out[has_value] = np.nanmedian(finite, axis=0)
    return out


# Rows of a recording's start whose median is the "start" reference: about the first minutes
# of a recording at 1 s; long enough for a steady median, short enough to lie before a fault
# in a recording that starts in normal operation.
REFERENCE_ROWS = 256


def channel_reference(data: np.ndarray, how: str) -> np.ndarray:
    """The per-channel level that relative inputs measure deviations from: the median of the
    whole recording (``how="median"``), or of its first ``REFERENCE_ROWS`` rows
    (``"start"``). Why "start": a fault that lasts to the end of a recording - the common
    case - moves the whole-recording median into the fault, so normal rows would deviate;
    a recording's first rows are normal operation when it starts normal, and a recording in
    one state throughout deviates by about 0 either way. (C,) float32, NaN where a channel
    has no value there. Causality: a scan's first ``REFERENCE_ROWS`` rows see a reference
    that includes rows after them (the whole-recording median looks at every row); from row
    ``REFERENCE_ROWS`` on, "start" uses only earlier rows, as a live scan must."""
    if how == "start":
        return channel_medians(data[:REFERENCE_ROWS])
    return channel_medians(data)


def encode_inputs(data: np.ndarray, medians: np.ndarray | None) -> np.ndarray:
    """The model's input channels before normalisation (module docstring): ``data`` (N, C)
    itself when ``medians`` is None, else ``[data, data - medians]`` (N, 2C) float32, with
    ``medians`` the recording's own (``channel_medians``; NaN there gives NaN deviations,
    which normalisation fills)."""
    if medians is None:
        return np.asarray(data, dtype=np.float32)
    n, c = data.shape
    out = np.empty((n, 2 * c), dtype=np.float32)
    out[:, :c] = data
    np.subtract(out[:, :c], medians.astype(np.float32), out=out[:, c:])
    return out


def input_channels(width: int, n_channels: int) -> np.ndarray:
    """The sensor channel of each of the model's ``width`` input columns: ``encode_inputs``
    writes the levels, then the deviations, each in channel order, so column j belongs to
    channel ``j % n_channels``. Occlusion and attribution replace or sum a channel's columns
    by this rule. (width,) int64."""
    return np.arange(width, dtype=np.int64) % n_channels


def occluded_variants(windows: np.ndarray, reference: np.ndarray, n_channels: int) -> np.ndarray:
    """``windows`` (w, T, I) as they are and with each sensor channel in turn occluded: its
    input columns (``input_channels``) replaced by ``reference``'s ((T, I), or (w, T, I): one
    per window). (C + 1, w, T, I): variant 0 unchanged, variant c + 1 without channel c."""
    variants = np.repeat(windows[None], n_channels + 1, axis=0)
    channel_of = input_channels(windows.shape[-1], n_channels)
    ref = np.broadcast_to(reference, windows.shape)
    for c in range(n_channels):
        cols = channel_of == c
        variants[c + 1][..., cols] = ref[..., cols]
    return variants


def model_input(
    data: np.ndarray, mean: np.ndarray, std: np.ndarray, medians: np.ndarray | None
) -> np.ndarray:
    """``normalise(encode_inputs(data, medians), mean, std)``: what the model reads."""
    return normalise(encode_inputs(data, medians), mean, std)


def normalise(data: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(data - mean) / std`` per channel as (N, C) float32, clipped to +-CLIP_SIGMAS, with
    missing values (NaN/inf) set to 0.

    Why 0: after normalisation 0 is the channel's training mean, the least informative value
    the model can see, so a gap neither looks like a spike nor breaks the LSTM (NaN would
    poison the whole window). The plot still shows the gap: only the model input is filled.
    """
    out = (np.asarray(data, dtype=np.float32) - mean.astype(np.float32)) / std.astype(np.float32)
    out = np.nan_to_num(out, nan=0.0, posinf=CLIP_SIGMAS, neginf=-CLIP_SIGMAS)
    np.clip(out, -CLIP_SIGMAS, CLIP_SIGMAS, out=out)
    return out.astype(np.float32, copy=False)


def window_starts(n_rows: int, window: int, stride: int, include_last: bool = False) -> np.ndarray:
    """First rows of the windows ``[s, s + window)`` that fit in ``n_rows``, every ``stride``.

    With ``include_last`` the window ending on the last row is added when the stride skips
    it, so a scan covers the recording to its end. Returns (n,) int64 (empty if too short).
    """
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1, got {window}, {stride}")
    if n_rows < window:
        return np.zeros(0, dtype=np.int64)
    starts = np.arange(0, n_rows - window + 1, stride, dtype=np.int64)
    if include_last and starts[-1] != n_rows - window:
        starts = np.append(starts, np.int64(n_rows - window))
    return starts


def sliding_windows(data: np.ndarray, window: int) -> np.ndarray:
    """Read-only strided view (N - window + 1, window, C) of ``data`` (N, C): no copy."""
    # sliding_window_view puts the window axis last: (N-T+1, C, T) -> view as (N-T+1, T, C).
    return np.lib.stride_tricks.sliding_window_view(data, window, axis=0).transpose(0, 2, 1)


def gather_windows(data: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Copy the windows starting at ``starts`` (b,) out of ``data`` (N, C): (b, T, C) float32,
    C-contiguous (ready for ``torch.from_numpy``)."""
    view = sliding_windows(data, window)
    return np.ascontiguousarray(view[starts], dtype=np.float32)


def iter_window_batches(
    data_normalised: np.ndarray,
    window: int,
    stride: int,
    batch_size: int,
    include_last: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stream a normalised recording (N, C) as model batches.

    Yields ``(start_rows (b,) int64, batch (b, T, C) float32)`` with ``b <= batch_size``;
    only one batch is in memory at a time. ``include_last`` adds the window ending on the
    last row (see ``window_starts``).
    """
    starts = window_starts(data_normalised.shape[0], window, stride, include_last=include_last)
    for i in range(0, len(starts), batch_size):
        chunk = starts[i : i + batch_size]
        yield chunk, gather_windows(data_normalised, chunk, window)


def iter_window_batches_on(
    data_normalised: np.ndarray,
    window: int,
    stride: int,
    batch_size: int,
    device: torch.device,
    include_last: bool = True,
) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Like ``iter_window_batches``, but the batches are tensors gathered on ``device``.

    The recording (N, C) is copied to the device once and each batch is cut there by index
    arithmetic, so a GPU scan moves N x C floats to the device instead of N x T x C (T times
    less traffic). Yields ``(start_rows (b,) int64 numpy, batch (b, T, C) float32 tensor)``.
    """
    starts = window_starts(data_normalised.shape[0], window, stride, include_last=include_last)
    if not len(starts):
        return
    rows = torch.from_numpy(np.ascontiguousarray(data_normalised, dtype=np.float32)).to(device)
    steps = torch.arange(window, device=device)  # (T,)
    starts_dev = torch.from_numpy(starts).to(device)
    for i in range(0, len(starts), batch_size):
        chunk = starts_dev[i : i + batch_size]
        yield starts[i : i + batch_size], rows[chunk[:, None] + steps]  # (b, T) -> (b, T, C)


def window_labels(row_labels: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Label of each window under the last-row rule (module docstring).

    ``row_labels`` is (N,) int class index per row, -1 where unlabelled; returns (n,) int64,
    -1 for windows to skip.
    """
    return np.asarray(row_labels, dtype=np.int64)[np.asarray(starts, dtype=np.int64) + window - 1]
