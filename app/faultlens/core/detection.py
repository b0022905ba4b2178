"""Scanning a recording with a model and turning per-row scores into fault events.

CONTRACT STUB — the engine implementation replaces the bodies; names and fields are fixed.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faultlens.core.progress import Progress, ShouldStop, never_stop
from faultlens.core.recording import Recording


@dataclass(frozen=True)
class ScanOptions:
    threshold: float = 0.5
    min_duration_rows: int = 5
    merge_gap_rows: int = 10
    batch_size: int = 256
    device: str = "auto"
    top_channels: int = 3


@dataclass(frozen=True)
class FaultEvent:
    start_row: int
    end_row: int  # inclusive
    start_time: str  # Recording.format_time
    end_time: str
    duration_s: float  # in rows for recordings without a time axis
    class_name: str
    peak_probability: float
    mean_probability: float
    top_channels: tuple[str, ...]
    channel_scores: tuple[float, ...] = ()  # attribution share per top channel

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


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


def scan(
    model: Any,
    recording: Recording,
    options: ScanOptions = ScanOptions(),
    should_stop: ShouldStop = never_stop,
) -> Generator[Progress, None, ScanResult]:
    raise NotImplementedError
    yield  # pragma: no cover


def detect_events(
    result: ScanResult, recording: Recording, options: ScanOptions = ScanOptions()
) -> list[FaultEvent]:
    raise NotImplementedError
