"""The live scan: each window scored as soon as its last row has arrived, equal to offline.

Why it can equal the offline ``faultlens.core.scan.scan`` (stride 1) row for row: the scan
is causal (a window's output belongs to its last row) and the model input is normalised
per row, so scoring the windows that end on new rows, from the input of those rows and the
``T - 1`` before them, gives what the offline scan gives. The forward pass and the
accumulation of explanations onto rows are the offline scan's own functions
(``score_windows``, ``add_window_rows``, ``row_explanations``), so there is one definition.

Relative-input models need their reference level (``windows.channel_reference``):
``"start"`` (the median of the first ``REFERENCE_ROWS`` rows) is known once those rows have
arrived, so the scanner waits for them and then scores them all: exact. ``"median"`` (of
the whole recording) cannot be known while rows arrive; the scanner uses the first rows'
median and marks its outputs ``provisional`` (the monitor rescans at stop).

Cost per call: at most ``max_windows`` forward passes in batches, the model input of the
rows those windows read, and the explanations of the rows they cover: never O(all rows), so
a poll stays short and a scanner that fell behind catches up over several calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from faultlens.core.live.buffer import grown
from faultlens.core.options import ScanOptions
from faultlens.core.recording import Recording
from faultlens.core.scan import _auto_batch_size, add_window_rows, decide, row_explanations
from faultlens.core.windows import REFERENCE_ROWS, channel_reference

if TYPE_CHECKING:
    import torch

    from faultlens.core.checkpoint import TrainedModel


@dataclass(frozen=True)
class LiveOutputs:
    """Per-row outputs of the rows received so far (length ``n_rows``), as in a
    ``ScanResult``. Rows ``[0, scored_rows)`` hold their outputs (NaN / -1 before the first
    full window), later rows NaN / -1 until scored. Probabilities, ``fault_probability`` and
    ``predicted`` of a scored row never change (unless ``provisional``); ``attention``,
    ``attention_heads`` and ``hotspots`` of the last ``T - 1`` scored rows still change as
    later windows cover them. The arrays are views the scanner keeps writing past
    ``scored_rows``: read, do not keep for long, never write."""

    class_names: tuple[str, ...]
    probabilities: np.ndarray  # (n, K) float32
    predicted: np.ndarray  # (n,) int16
    fault_probability: np.ndarray  # (n,) float32
    attention: np.ndarray  # (n,) float32
    attention_heads: np.ndarray  # (heads, n) float32
    hotspots: np.ndarray  # (n,) float32
    scored_rows: int
    threshold: float
    # True when a scored row's outputs may still change at stop (a model whose reference is
    # the whole recording's median: live uses the first rows' median instead).
    provisional: bool = False


@dataclass
class _Arrays:
    """The scanner's per-row arrays (capacity >= rows received), swapped whole on growth."""

    probabilities: np.ndarray  # (cap, K)
    predicted: np.ndarray  # (cap,)
    fault_probability: np.ndarray  # (cap,)
    attention_heads: np.ndarray  # (heads, cap)
    attention: np.ndarray  # (cap,)
    hotspots: np.ndarray  # (cap,)
    head_sum: np.ndarray  # (heads, cap) attention received, summed over covering windows
    hot_sum: np.ndarray  # (cap,)
    cover: np.ndarray  # (cap,) windows covering each row


class LiveScanner:
    """Scores windows of a growing recording (a ``RowBuffer``'s arrays) with ``model``.

    ``channels`` are the source's, in its column order; the model's are picked from them
    (``ChannelMismatchError`` at construction when one is missing). Only one thread calls
    ``advance``/``finish``; ``outputs`` may be called from any."""

    def __init__(
        self,
        model: TrainedModel,
        channels: tuple[str, ...],
        options: ScanOptions = ScanOptions(),
        source_name: str = "<live>",
    ) -> None:

        from faultlens.core.device import resolve_device

        model.check_channels(
            Recording(
                path=Path(source_name),
                data=np.zeros((0, len(channels)), dtype=np.float32),
                channels=channels,
            )
        )
        self.model = model
        index = {name: i for i, name in enumerate(channels)}
        self._columns = [index[name] for name in model.channels]
        self._identity = self._columns == list(range(len(channels)))
        self.device: torch.device = resolve_device(options.device)
        self.batch_size = max(1, int(options.batch_size or _auto_batch_size(self.device)))
        self.threshold = float(model.threshold if options.threshold is None else options.threshold)
        self.window = int(model.window)
        self._members = int(getattr(model.config, "members", 1))
        self._relative = bool(model.config.relative_inputs)
        self.provisional = self._relative and model.config.reference != "start"
        self._medians: np.ndarray | None = None
        self._ready = not self._relative  # the reference is known (or not needed)
        self._next_end = self.window - 1  # the last row of the next window to score
        self._rows = 0  # rows received (as of the last advance)
        self.windows = 0  # forward passes made
        # The scanner's own copy of the network, on its device in eval mode, made at the
        # first scoring: the model object may be shared (the GUI scans other recordings with
        # it, moving it with ``module_on``, which rebuilds an LSTM's flat weights under a
        # forward pass running here), and moving or setting eval per call walked every
        # parameter on every poll. ``release`` drops it.
        self._module: torch.nn.Module | None = None
        k = len(model.class_names)
        heads = int(model.config.heads)
        self._arrays = _Arrays(
            probabilities=np.full((0, k), np.nan, dtype=np.float32),
            predicted=np.full(0, -1, dtype=np.int16),
            fault_probability=np.full(0, np.nan, dtype=np.float32),
            attention_heads=np.full((heads, 0), np.nan, dtype=np.float32),
            attention=np.full(0, np.nan, dtype=np.float32),
            hotspots=np.full(0, np.nan, dtype=np.float32),
            head_sum=np.zeros((heads, 0), dtype=np.float32),
            hot_sum=np.zeros(0, dtype=np.float32),
            cover=np.zeros(0, dtype=np.float32),
        )

    @property
    def scored_rows(self) -> int:
        """Rows ``[0, scored_rows)`` have their per-row outputs (see ``LiveOutputs``)."""
        if not self._ready:
            return 0
        return min(self._rows, self._next_end)

    @property
    def medians(self) -> np.ndarray | None:
        """The reference levels of relative inputs in use (None: none, or not yet known)."""
        return self._medians

    def _select(self, data: np.ndarray) -> np.ndarray:
        """Rows of the source's channels -> the model's channels, in its order."""
        return data if self._identity else data[:, self._columns]

    def _reserve(self, n: int) -> None:
        a = self._arrays
        if n <= a.predicted.shape[0]:
            return
        self._arrays = _Arrays(
            probabilities=grown(a.probabilities, n, fill=np.nan),
            predicted=grown(a.predicted, n, fill=-1),
            fault_probability=grown(a.fault_probability, n, fill=np.nan),
            attention_heads=grown(a.attention_heads, n, axis=1, fill=np.nan),
            attention=grown(a.attention, n, fill=np.nan),
            hotspots=grown(a.hotspots, n, fill=np.nan),
            head_sum=grown(a.head_sum, n, axis=1),
            hot_sum=grown(a.hot_sum, n),
            cover=grown(a.cover, n),
        )

    def advance(
        self, data: np.ndarray, max_windows: int | None, max_seconds: float | None = None
    ) -> int:
        """Score up to ``max_windows`` (None: all) windows that end on rows of ``data`` (the
        rows received so far, (n, C) in the source's channels) not scored yet, and no more
        batches once ``max_seconds`` have passed (at least one batch); returns how many.
        The reference of relative inputs is taken once its rows are there."""
        n = int(data.shape[0])
        self._rows = n
        self._reserve(n)
        if not self._ready:
            if n < REFERENCE_ROWS:
                return 0
            self._medians = channel_reference(self._select(data[:REFERENCE_ROWS]), "start")
            self._ready = True
        return self._score(data, max_windows, max_seconds)

    def finish(self, data: np.ndarray) -> int:
        """Score every remaining window (at stop). A relative model still waiting for its
        reference rows takes its reference from the rows there are, as the offline scan of
        so short a recording does."""
        n = int(data.shape[0])
        self._rows = n
        self._reserve(n)
        if not self._ready:
            how = "start" if not self.provisional else "median"
            self._medians = channel_reference(self._select(data), how)
            self._ready = True
        return self._score(data, None)

    def _hold(self) -> torch.nn.Module:
        """The scanner's own copy of the network (made on first use; see ``__init__``)."""
        import copy

        if self._module is None:
            module = copy.deepcopy(self.model.module)
            module.to(self.device)
            module.eval()
            self._module = module
        return self._module

    def release(self) -> None:
        """Drop the scanner's copy of the network (at stop); scoring again makes a new one."""
        self._module = None

    def _score(
        self, data: np.ndarray, max_windows: int | None, max_seconds: float | None = None
    ) -> int:
        import time

        import torch

        from faultlens.core.scan import score_windows

        n = int(data.shape[0])
        t_win = self.window
        first = self._next_end
        last = n - 1 if max_windows is None else min(n - 1, first + max(1, max_windows) - 1)
        if last < first:
            return 0
        lo = first - t_win + 1  # first row the new windows read
        x = self.model.model_input(self._select(data[lo : last + 1]), self._medians)
        ends = np.arange(first, last + 1, dtype=np.int64)
        a = self._arrays
        started = time.monotonic()
        done = 0
        module = self._hold()
        with torch.inference_mode():
            rows = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
            steps = torch.arange(t_win, device=self.device)  # (T,)
            for i in range(0, len(ends), self.batch_size):
                batch_ends = ends[i : i + self.batch_size]
                starts = batch_ends - t_win + 1  # absolute first rows (b,)
                rel = torch.from_numpy(starts - lo).to(self.device)
                batch = rows[rel[:, None] + steps]  # (b, T, input size)
                probs, received, hot = score_windows(module, batch, self.device, self._members)
                a.probabilities[batch_ends] = probs
                add_window_rows(starts, t_win, received, hot, a.head_sum, a.hot_sum, a.cover)
                done += len(batch_ends)
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
        last = first + done - 1
        span = slice(first, last + 1)
        a.fault_probability[span] = 1.0 - a.probabilities[span, 0]
        a.predicted[span] = decide(a.probabilities[span], a.fault_probability[span], self.threshold)
        touched = slice(lo, last + 1)
        heads, attention, hotspots = row_explanations(
            a.head_sum[:, touched], a.hot_sum[touched], a.cover[touched]
        )
        a.attention_heads[:, touched] = heads
        a.attention[touched] = attention
        a.hotspots[touched] = hotspots
        self._next_end = last + 1
        self.windows += done
        return done

    def outputs(self, n_rows: int | None = None) -> LiveOutputs:
        """The per-row outputs of the first ``n_rows`` rows (default: as of the last
        ``advance``), as views (``LiveOutputs``)."""
        # The count first, then the arrays: rows counted as scored were written into these
        # arrays or earlier ones that these were copied from (growth happens before scoring).
        scored = self.scored_rows
        a = self._arrays
        n = min(self._rows if n_rows is None else n_rows, a.predicted.shape[0])
        return LiveOutputs(
            class_names=tuple(self.model.class_names),
            probabilities=a.probabilities[:n],
            predicted=a.predicted[:n],
            fault_probability=a.fault_probability[:n],
            attention=a.attention[:n],
            attention_heads=a.attention_heads[:, :n],
            hotspots=a.hotspots[:n],
            scored_rows=min(n, scored),
            threshold=self.threshold,
            provisional=self.provisional,
        )
