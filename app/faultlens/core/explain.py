"""Explain one decision: everything the model did for the window that ends on one row.

A scan (``faultlens.core.scan``) keeps recording-wide summaries: per row, the attention it
received and its max-pool hotspot count, each averaged over every window covering it. An
engineer asking *why* row ``r`` was flagged needs the one window the decision came from
(rows ``r - T + 1 .. r``): its class probabilities, the full attention of each head
(T x T), the steps that won the max-pool features and which sensor channels those features
responded to, and which channel at which step pushed the fault probability up or down.
``explain`` returns that as plain arrays (``Explanation``); the inspector view, ``faultlens
explain`` and the reports draw it.

How each piece is computed (one forward pass as the scan runs it, plus a few cheap extras):

- probabilities, attention, hotspots: the scan's own forward pass of that window
  (``faultlens.core.inference.forward``), so they equal the scan's per-window values.
- ``channel_attribution``: occlusion as for events (``faultlens.core.attribution``): each
  channel in turn replaced by how it looked before (the reference window, below), the drop
  of the decision class's probability as a share of all positive drops. C + 1 windows.
- ``contribution`` (C, T): occlusion per (channel, step): channel c at step t alone set to
  its value in the reference window, and the fault probability's drop (positive: the
  value there pushed the fault probability up). C x T + 1 windows, batched.
  Why occlusion, measured on the demo's 29 events (``benchmarks/bench_explain.py``):
  summed over the steps it ranks the channels as occlusion by channel (what the event
  table shows) does: same top channel 22/29, median Spearman 0.82, against 20/29 and 0.42
  for integrated gradients and 11/29 and 0.25 for gradient x (input - reference). The
  gradients fail here for a reason in the model: the feature front-end takes the logarithm
  of trailing ranges and spreads, whose gradient spikes wherever a range crosses 0 on the
  way from the reference to the window, and a confident decision saturates the softmax.
  The cost: 4-30x integrated gradients, 0.02-0.2 s a window for 8 channels and 1-5 s for
  60 on a shared 2-core CPU (a few batches on a GPU), fine for one window at a time;
  reports draw it for their first events only (``faultlens.core.report.inspector``).
- ``hotspot_channels``: for each max-pool feature, the gradient of its pooled value (its
  value at its winning step) with respect to the window's inputs, times the inputs' change
  from the reference window, in absolute value and summed per sensor channel over the
  window; each feature's vector is made to sum to 1 and the features that won step t are
  averaged. One batched backward pass over H copies of the window. Why the change, not the
  input itself (relative to the training mean): a channel that sits away from its training
  mean all along (the demo's motor speed) took most of every feature that way, whatever
  the fault; against the reference the demo's first cavitation hotspots go to suction
  pressure and vibration, the channels a cavitation moves.

The reference window ("how the channels looked before"): the ``T`` rows before ``before``
(default: before the window itself; an event's start for an event, as event attribution
does), or the training mean (0 after normalisation) when the recording has no such rows.

Model inputs with relative encoding hold two columns per sensor channel (level and
deviation from the reference median); every per-channel figure sums both.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import numpy as np

from faultlens.core.inference import forward, module_on
from faultlens.core.recording import Recording

if TYPE_CHECKING:
    import torch

    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.model import AttentionLSTM, EnsembleLSTM

CONTRIBUTION_METHOD = "occlusion per channel and step"
# Windows per forward pass of the occluded variants.
OCCLUSION_BATCH = 1024


@dataclass(frozen=True)
class Explanation:
    """The decision at ``row``: the window of ``T`` rows that ends there, and why.

    Shapes: T window steps, C the model's sensor channels, K classes, H hidden size."""

    row: int  # the inspected row = the window's last row
    rows: np.ndarray  # (T,) int64 absolute row indices of the window
    times: np.ndarray  # (T,) float64, Recording.time_axis() at those rows
    channels: tuple[str, ...]  # the model's sensor channels, model order
    values: np.ndarray  # (T, C) float32 raw values of those channels in the window
    class_names: tuple[str, ...]
    probabilities: np.ndarray  # (K,) float32 class probabilities of this window
    fault_probability: float  # 1 - P(normal)
    predicted: str  # by scan.decide with the model's threshold
    attention: np.ndarray  # (heads, T, T) float32; each query row sums to 1
    attention_received: np.ndarray  # (T,) mean over heads and queries (what the scan averages)
    hotspot_counts: np.ndarray  # (T,) float32 features whose max-pool arg-max is at step t;
    # sums to H (the per-member mean for an ensemble)
    hotspot_features: tuple[tuple[int, ...], ...]  # per step, the feature indices that won
    # there (an ensemble's member m, feature j is m * H + j)
    hotspot_channels: np.ndarray  # (T, C) float32 share of each channel behind the features
    # won at step t (rows sum to 1 where count > 0, else 0)
    channel_attribution: np.ndarray  # (C,) float32 occlusion share for this window
    contribution: np.ndarray  # (C, T) float32 signed push of channel c at step t on the
    # fault probability (CONTRIBUTION_METHOD)
    contribution_method: str
    # Occlusion's reference: the T rows before this row (its values stand in for a
    # channel's); below T, the training mean. An event's start for an event.
    before: int = -1

    @property
    def window(self) -> int:
        return int(self.rows.shape[0])

    def reference_text(self, recording: Recording | None = None) -> str:
        """What occlusion compares with, in words."""
        t = self.window
        if self.before < t:
            return "occluded values: the training mean of each channel (no earlier rows)"
        first = self.before - t
        where = (
            f"{recording.format_time(first)} – {recording.format_time(self.before - 1)}"
            if recording is not None
            else f"rows {first}–{self.before - 1}"
        )
        return f"occluded values: the {t} rows before row {self.before} ({where})"

    def top_channels(self, n: int = 3) -> list[int]:
        """Indices of the ``n`` channels that drove the decision most: by occlusion share,
        then by the positive contribution summed over the window (ties and all-zero
        attribution, e.g. a normal window, fall back to it)."""
        push = np.clip(self.contribution, 0.0, None).sum(axis=1).tolist()
        share = self.channel_attribution.tolist()
        return sorted(range(len(share)), key=lambda i: (-share[i], -push[i]))[:n]

    def to_dict(self) -> dict[str, object]:
        """Plain lists and numbers (JSON)."""
        return {
            "row": self.row,
            "rows": self.rows.tolist(),
            "times": self.times.tolist(),
            "channels": list(self.channels),
            "values": _rounded(self.values),
            "class_names": list(self.class_names),
            "probabilities": _rounded(self.probabilities),
            "fault_probability": round(float(self.fault_probability), 6),
            "predicted": self.predicted,
            "attention": _rounded(self.attention),
            "attention_received": _rounded(self.attention_received),
            "hotspot_counts": _rounded(self.hotspot_counts),
            "hotspot_features": [list(f) for f in self.hotspot_features],
            "hotspot_channels": _rounded(self.hotspot_channels),
            "channel_attribution": _rounded(self.channel_attribution),
            "contribution": _rounded(self.contribution),
            "contribution_method": self.contribution_method,
            "before": self.before,
        }


def _rounded(a: np.ndarray) -> list[object]:
    """Nested lists of 6-decimal floats; missing values (NaN) as None, which JSON has."""
    values = np.round(a.astype(np.float64), 6)
    boxed = values.astype(object)
    boxed[~np.isfinite(values)] = None
    out: list[object] = boxed.tolist()
    return out


def explain(
    model: TrainedModel,
    recording: Recording,
    row: int,
    *,
    device: str = "cpu",
    medians: np.ndarray | None = None,
    before: int | None = None,
) -> Explanation:
    """The model's decision at ``row`` and its evidence (module docstring).

    ``medians``: the recording's input reference (``model.input_medians`` of its selected
    channels) when the caller has it, so stepping row by row does not recompute it.
    ``before``: the first row of the stretch being explained (an event's start); channels
    are compared with the ``T`` rows before it (default: the rows before the window).
    Raises ``ChannelMismatchError`` as the scan does, ``ValueError`` for a row without a
    full window.
    """
    return explain_rows(
        model, recording, [row], device=device, medians=medians,
        befores=None if before is None else [before],
    )[0]  # fmt: skip


def explain_rows(
    model: TrainedModel,
    recording: Recording,
    rows: Sequence[int],
    *,
    device: str = "cpu",
    medians: np.ndarray | None = None,
    befores: Sequence[int] | None = None,
    detail: bool = True,
) -> list[Explanation]:
    """``explain`` for many rows at once, batched (reports explain every event's peak).

    ``detail=False`` skips the contribution and the hotspot channels (C x T + 1 and H
    extra windows per row; their arrays are then all zeros) for callers that draw only the
    forward pass's values and the occlusion by channel. Same errors as ``explain``.
    """
    import torch

    from faultlens.core.device import resolve_device
    from faultlens.core.scan import decide

    model.check_channels(recording)
    n = recording.n_rows
    t_win = int(model.window)
    rows_arr = np.asarray([_check_row(r, t_win, n) for r in rows], dtype=np.int64)
    if befores is None:
        befores_arr = rows_arr - t_win + 1
    else:
        befores_arr = np.asarray(befores, dtype=np.int64)
        if befores_arr.shape != rows_arr.shape:
            raise ValueError(f"{len(befores_arr)} 'before' rows for {len(rows_arr)} rows")
        for r, b in zip(rows_arr, befores_arr, strict=True):
            if not 0 <= b <= r:
                raise ValueError(
                    f"before={b}: the stretch explained at row {r} must start at a row from 0 "
                    f"to {r} (the channels are compared with the rows before it)"
                )
    if len(rows_arr) == 0:
        return []
    index = {name: i for i, name in enumerate(recording.channels)}
    columns = [index[name] for name in model.channels]
    if medians is None:
        medians = model.input_medians(model.select_channels(recording))
    n_ch = len(columns)
    width = int(model.config.input_size)
    from faultlens.core.windows import input_channels

    cols_of = input_channels(width, n_ch)  # input column -> its sensor channel

    def window_values(end: int) -> np.ndarray:
        return np.ascontiguousarray(recording.data[end - t_win + 1 : end + 1][:, columns])

    values = np.stack([window_values(int(r)) for r in rows_arr])  # (B, T, C) raw
    x = np.stack([model.model_input(v, medians) for v in values])  # (B, T, I)
    reference = np.stack(
        [
            model.model_input(window_values(int(b) - 1), medians)
            if b >= t_win
            else np.zeros((t_win, width), dtype=np.float32)
            for b in befores_arr
        ]
    )  # (B, T, I)
    b_n = len(rows_arr)
    torch_device = resolve_device(device)
    members = _members(model.module)
    with module_on(model.module, torch_device):
        # The scan's forward pass, as the scan runs it (autocast on CUDA).
        with torch.inference_mode():
            out = forward(model.module, x, torch_device)
            probs = torch.softmax(out.logits.float(), dim=1).cpu().numpy()  # (B, K)
            attention = out.attention.float().cpu().numpy()  # (B, heads, T, T)
            hotspots = out.hotspots.cpu().numpy()  # (B, members * H)
        fault_p = (1.0 - probs[:, 0]).astype(np.float32)
        predicted = decide(probs, fault_p, float(model.threshold))
        # The class each window's occlusion follows: its decision, else the fault class
        # it leans to (a normal window: what would make it a fault).
        target = np.where(predicted > 0, predicted, 1 + np.argmax(probs[:, 1:], axis=1))
        attribution = _occlusion(model.module, x, reference, target, n_ch, torch_device)
        contribution = (
            _contribution(model.module, x, reference, n_ch, torch_device)
            if detail
            else np.zeros((b_n, n_ch, t_win), dtype=np.float32)
        )
        if detail:
            with _gradients():
                feature_channels = np.concatenate(
                    [
                        _feature_channels(m, x, x - reference, cols_of, n_ch, torch_device)
                        for m in members
                    ],
                    axis=1,
                )  # (B, members * H, C)
    out_list = []
    times_all = recording.time_axis()
    for i in range(b_n):
        r = int(rows_arr[i])
        win_rows = np.arange(r - t_win + 1, r + 1, dtype=np.int64)
        hot = hotspots[i]
        counts = np.bincount(hot, minlength=t_win).astype(np.float32) / len(members)
        features = tuple(tuple(int(f) for f in np.flatnonzero(hot == t)) for t in range(t_win))
        hot_ch = np.zeros((t_win, n_ch), dtype=np.float32)
        if detail:
            for t, feats in enumerate(features):
                if feats:
                    hot_ch[t] = feature_channels[i, list(feats)].mean(axis=0)
        out_list.append(
            Explanation(
                row=r,
                rows=win_rows,
                times=np.asarray(times_all[win_rows], dtype=np.float64),
                channels=tuple(model.channels),
                values=values[i].astype(np.float32),
                class_names=tuple(model.class_names),
                probabilities=probs[i].astype(np.float32),
                fault_probability=float(fault_p[i]),
                predicted=model.class_names[int(predicted[i])],
                attention=attention[i].astype(np.float32),
                attention_received=attention[i].mean(axis=1).mean(axis=0).astype(np.float32),
                hotspot_counts=counts,
                hotspot_features=features,
                hotspot_channels=hot_ch,
                channel_attribution=attribution[i],
                contribution=contribution[i],
                contribution_method=CONTRIBUTION_METHOD,
                before=int(befores_arr[i]),
            )
        )
    return out_list


def _check_row(row: int, window: int, n_rows: int) -> int:
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)):
        raise ValueError(f"row must be a whole number, got {row!r}")
    if not window - 1 <= row < n_rows:
        if n_rows < window:
            raise ValueError(
                f"the recording has {n_rows} rows, fewer than the model's window of {window}: "
                "no row has a decision to explain"
            )
        raise ValueError(
            f"row {row} has no decision to explain: the model decides from a window of "
            f"{window} rows, so choose a row from {window - 1} to {n_rows - 1}"
        )
    return int(row)


def _members(module: AttentionLSTM | EnsembleLSTM) -> list[AttentionLSTM]:
    """The AttentionLSTMs of a model: itself, or an ensemble's members."""
    from faultlens.core.model import AttentionLSTM, EnsembleLSTM

    if isinstance(module, EnsembleLSTM):
        return [m for m in module.members if isinstance(m, AttentionLSTM)]
    return [module]


@contextlib.contextmanager
def _gradients() -> Iterator[None]:
    """Gradients through an eval-mode model: cuDNN's LSTM has no backward outside training
    mode, so it is switched off here (the native kernels have one)."""
    import torch

    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
        yield


def _occlusion(
    module: torch.nn.Module,
    x: np.ndarray,
    reference: np.ndarray,
    target: np.ndarray,
    n_ch: int,
    device: torch.device,
) -> np.ndarray:
    """(B, C) occlusion shares: per window, each channel's input columns replaced by the
    reference's, the drop of the ``target`` class's probability over all positive drops."""
    import torch

    from faultlens.core.windows import occluded_variants

    b_n = x.shape[0]
    flat = occluded_variants(x, reference, n_ch).reshape(-1, *x.shape[1:])  # (C+1)*B windows
    with torch.inference_mode():
        p = torch.softmax(forward(module, flat, device).logits.float(), dim=1).cpu().numpy()
    p = p.reshape(n_ch + 1, b_n, -1).transpose(1, 0, 2)[np.arange(b_n), :, target]  # (B, C+1)
    drop = np.clip(p[:, :1] - p[:, 1:], 0.0, None)  # (B, C)
    total = drop.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, drop / total, 0.0).astype(np.float32)


def _contribution(
    module: torch.nn.Module, x: np.ndarray, reference: np.ndarray, n_ch: int, device: torch.device
) -> np.ndarray:
    """(B, C, T): the fault probability's drop with channel c at step t alone set to the
    reference's value there. Each window is scored in the batch of its variants, so a cell
    whose value equals the reference's scores exactly 0; small windows' variants share a
    forward pass (under a busy CPU each pass costs more than its size)."""
    import torch

    b_n, t_win, _ = x.shape
    out = np.empty((b_n, n_ch, t_win), dtype=np.float32)
    cells = [(c, t) for c in range(n_ch) for t in range(t_win)]
    per_window = len(cells) + 1
    together = max(1, OCCLUSION_BATCH // per_window)  # windows whose variants share a pass
    for lo in range(0, b_n, together):
        group = range(lo, min(lo + together, b_n))
        variants = np.repeat(x[lo : group.stop], per_window, axis=0)  # (G * (1 + C * T), T, I)
        for g, i in enumerate(group):
            for k, (c, t) in enumerate(cells, start=g * per_window + 1):
                variants[k, t, c::n_ch] = reference[i, t, c::n_ch]
        fault = []
        with torch.inference_mode():
            for at in range(0, len(variants), OCCLUSION_BATCH):
                logits = forward(module, variants[at : at + OCCLUSION_BATCH], device).logits
                fault.append(1.0 - torch.softmax(logits.float(), dim=1)[:, 0].cpu().numpy())
        p = np.concatenate(fault).reshape(len(group), per_window)
        out[lo : group.stop] = (p[:, :1] - p[:, 1:]).reshape(len(group), n_ch, t_win)
    return out


def _feature_channels(
    member: AttentionLSTM,
    x: np.ndarray,
    delta: np.ndarray,
    cols_of: np.ndarray,
    n_ch: int,
    device: torch.device,
) -> np.ndarray:
    """(B, H, C): per window and max-pool feature, the share of each sensor channel in
    |d(pooled feature) / d(input) x input| over the window."""
    import torch

    b_n = x.shape[0]
    hidden = int(member.config.hidden)
    # H copies of each window, copy j answering for feature j: (B * H, T, I).
    xt = torch.from_numpy(np.repeat(x, hidden, axis=0)).to(device).requires_grad_(True)
    a, _ = member.sequence(xt)  # (B * H, T, H)
    feature = torch.arange(b_n * hidden, device=device) % hidden  # (B * H,)
    per_feature = a[torch.arange(b_n * hidden, device=device), :, feature]  # (B * H, T)
    pooled = per_feature.max(dim=1).values  # each copy's own feature at its winning step
    (grad,) = torch.autograd.grad(pooled.sum(), xt)
    gx = np.abs(grad.cpu().numpy() * np.repeat(delta, hidden, axis=0)).sum(axis=1)  # (B*H, I)
    per_channel = np.zeros((b_n * hidden, n_ch), dtype=np.float64)
    np.add.at(per_channel.T, cols_of, gx.T)
    total = per_channel.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(total > 0, per_channel / total, 0.0)
    return shares.reshape(b_n, hidden, n_ch).astype(np.float32)


# ---------------------------------------------------------------- rows from text
ROW_AT_FORMS = (
    "a row number (1234), a time offset from the recording's start (+90s, +1.5min, +2h; "
    "+40 rows without a time column), a time in the file's time column (12.5 or 12.5s for "
    "seconds), or a date and time (2020-03-09T10:15:02 or 2020-03-09 10:15:02)"
)
_OFFSET = re.compile(r"^\+\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|min|m|h)?$", re.IGNORECASE)
_NUMBER = re.compile(r"^[-+]?(\d+(?:\.\d*)?|\.\d+)(e[-+]?\d+)?\s*(s)?$", re.IGNORECASE)
_UNIT_S = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def row_at(recording: Recording, text: str) -> int:
    """The row ``text`` names (``ROW_AT_FORMS``): a row number as is, a time -> the last
    row at or before it. ``ValueError`` naming the accepted forms when it names none, or a
    time before the recording's start / a row past its end."""
    s = str(text).strip()
    n = recording.n_rows
    if n == 0:
        raise ValueError(f"{recording.name}: the recording has no rows")
    if re.fullmatch(r"\d+", s):
        row = int(s)
        if row >= n:
            raise ValueError(f"row {row} is past the recording's last row ({n - 1})")
        return row
    m = _OFFSET.match(s)
    if m:
        amount, unit = float(m.group(1)), (m.group(2) or "").lower()
        if recording.time is None:
            if unit:
                raise ValueError(
                    f"{s!r}: {recording.name} has no time column, so offsets are in rows "
                    f"(+{amount:g}); accepted: {ROW_AT_FORMS}"
                )
            return min(int(amount), n - 1)
        return _row_at_time(
            recording, float(recording.time[0]) + amount * _UNIT_S.get(unit, 1.0), s
        )
    m = _NUMBER.match(s)
    if m and recording.time is not None and recording.time_kind != "datetime":
        return _row_at_time(recording, float(s.rstrip("sS").strip()), s)
    if recording.time_kind == "datetime" and recording.time is not None:
        stamp = _parse_datetime(s, recording.utc_offset_s)
        if stamp is not None:
            return _row_at_time(recording, stamp, s)
    raise ValueError(f"{s!r} names no row of {recording.name}; accepted: {ROW_AT_FORMS}")


def _parse_datetime(text: str, utc_offset_s: int | None) -> float | None:
    """Seconds since the epoch for an ISO date-time; a time without an offset is read in the
    file's own offset (UTC when unknown), as ``Recording.format_time`` shows it."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(s)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone(timedelta(seconds=utc_offset_s or 0)))
    return when.timestamp()


def _row_at_time(recording: Recording, t: float, text: str) -> int:
    time = recording.time
    assert time is not None
    if t < float(np.nanmin(time)):
        raise ValueError(f"{text!r} is before the recording's start ({recording.format_time(0)})")
    if np.all(np.diff(time) >= 0):
        return int(np.searchsorted(time, t, side="right") - 1)
    # Out-of-order timestamps: the last row (in file order) at or before the time.
    return int(np.flatnonzero(time <= t)[-1])
