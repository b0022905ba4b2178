"""The attention-LSTM fault classifier (MODEL.md): two residual LSTM layers, multi-head
self-attention, parallel global max + average pooling, and a small classifier head.

One forward pass returns the class logits and the two explanations the views need: the
per-head attention weights and the max-pool hotspots (arg-max time step per feature).

Shapes: B batch, T time steps in a window, C input channels (``ModelConfig.input_size``:
the sensor channels, twice over with recording-relative inputs), H hidden size, K classes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild an ``AttentionLSTM`` (weights aside)."""

    n_channels: int
    n_classes: int
    hidden: int = 64
    heads: int = 4
    dropout: float = 0.2
    classifier_hidden: int = 64
    # Each channel enters twice, as its level and as its deviation from the recording's
    # median (faultlens.core.windows.encode_inputs). False for models made before it existed.
    relative_inputs: bool = False
    # Where the deviation is measured from (faultlens.core.windows.channel_reference):
    # "median" of the whole recording (models made before "start" existed), or the median of
    # its first REFERENCE_ROWS rows, "start".
    reference: str = "median"
    # Trailing scales (rows) of the causal feature front-end (``CausalFeatures``); () = off.
    feature_scales: tuple[int, ...] = ()
    # Members of an ensemble (``EnsembleLSTM``); 1 = a single AttentionLSTM.
    members: int = 1

    @property
    def input_size(self) -> int:
        """Width of the model input per time step (what is normalised and stored with the
        model): C, or 2C with relative inputs. The feature front-end works inside the module
        on these columns."""
        return self.n_channels * (2 if self.relative_inputs else 1)

    @property
    def lstm_input_size(self) -> int:
        """Width after the feature front-end: what the input projection reads."""
        return self.input_size * CausalFeatures.features_per_column(self.feature_scales)

    def describe_inputs(self) -> str:
        """What the network reads per channel, in words (for model cards)."""
        text = "the level of each channel"
        if self.relative_inputs:
            where = "its first rows" if self.reference == "start" else "the recording"
            text += f" and its deviation from the median of {where}"
        if self.feature_scales:
            scales = "/".join(str(s) for s in self.feature_scales)
            text += (
                f", with its step-to-step difference and its trailing mean, spread, slope and "
                f"range over {scales} rows"
            )
        return text

    def __post_init__(self) -> None:
        if self.n_channels < 1 or self.n_classes < 2:
            raise ValueError(f"need >= 1 channel and >= 2 classes, got {self}")
        if self.hidden < 1 or self.heads < 1 or self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not isinstance(self.relative_inputs, bool):
            raise ValueError(f"relative_inputs must be true or false, got {self.relative_inputs!r}")
        if self.reference not in ("median", "start"):
            raise ValueError(f"reference must be 'median' or 'start', got {self.reference!r}")
        if self.classifier_hidden < 1:
            raise ValueError(f"classifier_hidden must be >= 1, got {self.classifier_hidden}")
        if not all(isinstance(s, int) and not isinstance(s, bool) and 2 <= s <= 4096
                   for s in self.feature_scales):  # fmt: skip
            raise ValueError(
                f"feature_scales must be whole numbers 2..4096, got {self.feature_scales}"
            )
        if not isinstance(self.members, int) or not 1 <= self.members <= 32:
            raise ValueError(f"members must be 1..32, got {self.members!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["feature_scales"] = list(self.feature_scales)
        return d

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Build from a dict (e.g. model-file metadata); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown model config fields: {sorted(unknown)}")
        values = dict(values)
        scales = values.get("feature_scales", ())
        if not isinstance(scales, (list, tuple)):
            raise ValueError(f"feature_scales must be a list, got {scales!r}")
        values["feature_scales"] = tuple(scales)
        return cls(**values)


class ModelOutput(NamedTuple):
    logits: torch.Tensor  # (B, K)
    attention: torch.Tensor  # (B, heads, T, T), rows sum to 1 (query -> keys)
    hotspots: torch.Tensor  # (B, H) long, time index of the global max pool per feature


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention that also returns its weights.

    Written out by hand (not ``F.scaled_dot_product_attention``) because the weights are
    part of the product's output: the attention heatmap.
    """

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, hid = h.shape
        q, k, v = self.qkv(h).split(hid, dim=2)  # each (B, T, H)
        # (B, T, H) -> (B, heads, T, head_dim)
        q = q.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = k.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = v.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # (B, heads, T, T)
        # Softmax in float32 even under autocast: the weights are shown to the user and
        # must sum to 1.
        weights = F.softmax(scores.float(), dim=-1)  # (B, heads, T, T)
        mixed = weights.to(v.dtype) @ v  # (B, heads, T, head_dim)
        mixed = mixed.transpose(1, 2).reshape(b, t, hid)  # (B, T, H)
        return self.dropout(self.proj(mixed)), weights


# Floor of the spread and range features (normalised units) before their logarithm.
SPREAD_FLOOR = 1e-3


class CausalFeatures(nn.Module):
    """The task-specific feature front-end (MODEL.md "Around the core"): per input column,
    the value itself, its step-to-step difference, and over each trailing ``scale`` its mean,
    spread (log of the standard deviation), slope (least-squares, as the change over the
    scale) and range (log of max - min). (B, T, I) -> (B, T, I * (2 + 4 * len(scales))).

    Causal and inside the window: step t only sees steps <= t of the same window; before a
    full scale has passed, the window's first value stands in for the steps before it. No
    parameters (it is a fixed transform, so attention and hotspots still come from the seed
    architecture's forward pass). Why: these are the statistics that make a random forest on
    window summaries robust to another run's noise and levels; the LSTM starts from them
    instead of having to learn them from 32 noisy steps.
    """

    def __init__(self, scales: tuple[int, ...]) -> None:
        super().__init__()
        self.scales = tuple(int(s) for s in scales)

    @staticmethod
    def features_per_column(scales: tuple[int, ...]) -> int:
        return 2 + 4 * len(scales) if scales else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.scales:
            return x
        b, t, i = x.shape
        diff = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)
        parts = [x, diff]
        # Pooling over time as 1-D signals: (B, T, I) -> (B * I, 1, T), one per column.
        series = x.transpose(1, 2).reshape(b * i, 1, t)
        for s in self.scales:
            padded = torch.cat([series[:, :, :1].expand(b * i, 1, s - 1), series], dim=2)
            mean = F.avg_pool1d(padded, s, stride=1)  # (B*I, 1, T)
            square = F.avg_pool1d(padded * padded, s, stride=1)
            # Spread and range enter as logarithms: a frozen sensor (0) and sensor noise
            # (a few % of a normalised unit) differ by orders of magnitude, which a linear
            # input would squeeze next to 0.
            spread = (square - mean * mean).clamp_min(0.0).add(SPREAD_FLOOR**2).log().mul(0.5)
            centred = torch.arange(s, device=x.device, dtype=x.dtype) - (s - 1) / 2.0  # (s,)
            weights = (centred * (s - 1) / (centred * centred).sum()).view(1, 1, s)
            slope = F.conv1d(padded, weights)  # least-squares slope x (s - 1)
            span = F.max_pool1d(padded, s, stride=1) + F.max_pool1d(-padded, s, stride=1)
            span = span.add(SPREAD_FLOOR).log()
            parts += [
                v.view(b, i, t).transpose(1, 2) for v in (mean, spread, slope, span)
            ]  # each (B, T, I)
        return torch.cat(parts, dim=2)  # (B, T, I * F)


class AttentionLSTM(nn.Module):
    """x (B, T, C) -> ModelOutput(logits (B, K), attention (B, heads, T, T), hotspots (B, H))."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.features = CausalFeatures(config.feature_scales)
        # Projects the inputs to H so that layer 1's input can be added to its output.
        self.input_proj = nn.Linear(config.lstm_input_size, h)
        self.lstm1 = nn.LSTM(h, h, batch_first=True)
        self.lstm2 = nn.LSTM(h, h, batch_first=True)
        self.attention = SelfAttention(h, config.heads, config.dropout)
        self.classifier = nn.Sequential(
            nn.Linear(2 * h, config.classifier_hidden),
            nn.LayerNorm(config.classifier_hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.classifier_hidden, config.n_classes),
        )

    def sequence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, C) -> the attended sequence (B, T, H) before pooling, and the attention
        (B, heads, T, T). Its own method so faultlens.core.explain can take the gradient of
        one pooled feature at its winning step."""
        z = self.input_proj(self.features(x))  # (B, T, H)
        h1 = self.lstm1(z)[0] + z  # (B, T, H): short-range dependencies + residual
        h2 = self.lstm2(h1)[0] + h1  # (B, T, H): longer-range dependencies + residual
        a, attention = self.attention(h2)  # (B, T, H), (B, heads, T, T)
        return a, attention

    def forward(self, x: torch.Tensor) -> ModelOutput:
        a, attention = self.sequence(x)  # (B, T, H), (B, heads, T, T)
        # Max over time: salient peaks (abrupt changes); its arg-max are the hotspots.
        p_max, hotspots = a.max(dim=1)  # (B, H), (B, H)
        p_avg = a.mean(dim=1)  # (B, H): the steady trend over the window
        logits = self.classifier(torch.cat([p_max, p_avg], dim=1))  # (B, 2H) -> (B, K)
        return ModelOutput(logits=logits, attention=attention, hotspots=hotspots)


class EnsembleLSTM(nn.Module):
    """``config.members`` AttentionLSTMs trained from different seeds, read as one model.

    x (B, T, C) -> ModelOutput with
    - logits: log of the members' mean class probabilities (so a softmax gives the mean),
    - attention: the members' mean attention (B, heads, T, T) (a mean of row-stochastic
      matrices, so rows still sum to 1): each head shows what the members agree on,
    - hotspots: every member's max-pool arg-max per feature, side by side (B, members * H);
      the scan divides its per-step counts by the members, so the hotspot track keeps its
      0..H scale and reads as the members' mean count.
    Every member is the seed architecture and the explanations come from their forward pass.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(AttentionLSTM(config) for _ in range(config.members))

    def forward(self, x: torch.Tensor) -> ModelOutput:
        outs = [m(x) for m in self.members]
        probs = torch.stack([F.softmax(o.logits.float(), dim=1) for o in outs]).mean(dim=0)
        return ModelOutput(
            logits=torch.log(probs.clamp_min(1e-12)),  # (B, K)
            attention=torch.stack([o.attention for o in outs]).mean(dim=0),  # (B, heads, T, T)
            hotspots=torch.cat([o.hotspots for o in outs], dim=1),  # (B, members * H)
        )


def build_model(config: ModelConfig) -> AttentionLSTM | EnsembleLSTM:
    """The module for ``config``: one AttentionLSTM, or an EnsembleLSTM of ``members``."""
    return AttentionLSTM(config) if config.members == 1 else EnsembleLSTM(config)
