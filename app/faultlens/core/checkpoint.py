"""The model file: safetensors weights + JSON metadata in one file. Never unpickles.

CONTRACT STUB — the engine implementation replaces the bodies; names and fields are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class TrainedModel:
    """A model plus everything needed to reuse it on another recording."""

    module: Any  # faultlens.core.model.AttentionLSTM (eval mode)
    config: Any  # faultlens.core.model.ModelConfig
    channels: tuple[str, ...]
    class_names: tuple[str, ...]  # index 0 is the normal class
    norm_mean: np.ndarray  # (C,) float32
    norm_std: np.ndarray  # (C,) float32
    window: int
    stride: int
    label_column: str | None = None
    seed: int = 0
    # [{"file": name, "sha256": hash, "rows": n}, ...]
    training_data: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    history: list[dict[str, Any]] = field(default_factory=list)
    # {"accuracy", "macro_f1", "per_class": {name: {precision, recall, f1, support}},
    #  "confusion_matrix": [[...]], "false_alarm_rate", "missed_alarm_rate"}
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""  # ISO-8601 UTC

    @property
    def fingerprint(self) -> str:
        """sha256 of the weights + metadata, stable across save/load."""
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        raise NotImplementedError


def save_model(model: TrainedModel, path: str | Path) -> None:
    """Write exactly ``path``, atomically."""
    raise NotImplementedError


def load_model(path: str | Path) -> TrainedModel:
    """Read and validate a model file; raises ModelFileError with a user message."""
    raise NotImplementedError
