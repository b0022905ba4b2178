"""Training the attention-LSTM: a generator that yields one report per epoch (and throttled
batch reports), polls ``should_stop`` and returns a ``TrainResult``.

CONTRACT STUB — the engine implementation replaces the bodies; names and fields are fixed.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from faultlens.core.progress import ShouldStop, never_stop
from faultlens.core.recording import Recording


@dataclass(frozen=True)
class TrainOptions:
    """Everything that steers a training run; defaults are the product's defaults."""

    window: int = 64
    stride: int = 8
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    label_column: str | None = None  # None: each recording's own label column
    # Whole-file labels: recording path (str) -> class name. Overrides per-row labels.
    file_classes: tuple[tuple[str, str], ...] = ()
    hidden: int = 64
    heads: int = 4
    dropout: float = 0.2
    patience: int = 6  # early stopping, in epochs without validation improvement
    val_fraction: float = 0.2


@dataclass(frozen=True)
class EpochReport:
    """One progress report. ``batch``/``batches`` describe the position within the epoch;
    an end-of-epoch report has ``batch == batches`` and the validation fields set."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    val_macro_f1: float | None
    elapsed_s: float
    device: str

    @property
    def end_of_epoch(self) -> bool:
        return self.batch == self.batches

    @property
    def fraction(self) -> float:
        return ((self.epoch - 1) + self.batch / max(self.batches, 1)) / max(self.epochs, 1)


@dataclass
class TrainResult:
    model: Any  # faultlens.core.checkpoint.TrainedModel
    history: list[EpochReport] = field(default_factory=list)


def train(
    recordings: Sequence[Recording],
    options: TrainOptions = TrainOptions(),
    should_stop: ShouldStop = never_stop,
) -> Generator[EpochReport, None, TrainResult]:
    raise NotImplementedError
    yield  # pragma: no cover
