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

    @property
    def input_size(self) -> int:
        """Width of the model input per time step: C, or 2C with relative inputs."""
        return self.n_channels * (2 if self.relative_inputs else 1)

    def describe_inputs(self) -> str:
        """What the network reads per channel, in words (for model cards)."""
        if self.relative_inputs:
            return "the level of each channel and its deviation from the median of the recording"
        return "the level of each channel"

    def __post_init__(self) -> None:
        if self.n_channels < 1 or self.n_classes < 2:
            raise ValueError(f"need >= 1 channel and >= 2 classes, got {self}")
        if self.hidden < 1 or self.heads < 1 or self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not isinstance(self.relative_inputs, bool):
            raise ValueError(f"relative_inputs must be true or false, got {self.relative_inputs!r}")
        if self.classifier_hidden < 1:
            raise ValueError(f"classifier_hidden must be >= 1, got {self.classifier_hidden}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Build from a dict (e.g. model-file metadata); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown model config fields: {sorted(unknown)}")
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


class AttentionLSTM(nn.Module):
    """x (B, T, C) -> ModelOutput(logits (B, K), attention (B, heads, T, T), hotspots (B, H))."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        # Projects C -> H so that layer 1's input can be added to its output (residual).
        self.input_proj = nn.Linear(config.input_size, h)
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

    def forward(self, x: torch.Tensor) -> ModelOutput:
        z = self.input_proj(x)  # (B, T, H)
        h1 = self.lstm1(z)[0] + z  # (B, T, H): short-range dependencies + residual
        h2 = self.lstm2(h1)[0] + h1  # (B, T, H): longer-range dependencies + residual
        a, attention = self.attention(h2)  # (B, T, H), (B, heads, T, T)
        # Max over time: salient peaks (abrupt changes); its arg-max are the hotspots.
        p_max, hotspots = a.max(dim=1)  # (B, H), (B, H)
        p_avg = a.mean(dim=1)  # (B, H): the steady trend over the window
        logits = self.classifier(torch.cat([p_max, p_avg], dim=1))  # (B, 2H) -> (B, K)
        return ModelOutput(logits=logits, attention=attention, hotspots=hotspots)
