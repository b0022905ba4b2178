"""The options that steer training and scanning, importable without torch.

The CLI builds its ``--help`` and parses its arguments from these before it loads the
engine, so ``faultlens --help`` stays fast; ``faultlens.core.training`` and the scan use them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainOptions:
    """Everything that steers a training run; defaults are the product's defaults."""

    window: int = 32
    stride: int = 2
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    label_column: str | None = None  # None: each recording's own label column
    # Whole-file labels: recording path (str) -> class name. Overrides per-row labels.
    file_classes: tuple[tuple[str, str], ...] = ()
    hidden: int = 64
    heads: int = 4
    dropout: float = 0.3
    # Each channel also enters as its deviation from a reference level of its recording
    # (faultlens.core.windows.channel_reference): robust to recordings at other levels.
    # None (default): from the training data (``_choose_relative``): deviations from the
    # median of each recording's first rows when every training recording starts in normal
    # operation, else levels only. True/False force it. The whole-recording median
    # ("median", the earlier default) assumes faults cover less than half of every recording:
    # a fault that lasts to the end moves it (RESULTS.md, one-per-class: ~70 % of normal rows
    # flagged).
    relative_inputs: bool | None = None
    # Reference of forced relative inputs: "start" (median of the first rows) or "median".
    reference: str = "median"
    patience: int = 4  # early stopping, in epochs without validation improvement
    val_fraction: float = 0.2
    classifier_hidden: int = 64
    # Optional augmentation of training batches (normalised units): Gaussian jitter with this
    # standard deviation and per-channel scaling by 1 +- this; 0 turns each off. Both are
    # off by default: neither helped on SKAB validation folds (benchmarks/TUNING.md).
    jitter: float = 0.0
    scaling: float = 0.0
    # Channel dropout: each sensor channel of a training window (all its input columns) is
    # zeroed (its training mean) with this probability, so no single channel carries a
    # decision alone. 0 turns it off.
    channel_dropout: float = 0.0
    # Validation, early stopping and the saved model use an exponential moving average of the
    # weights whose horizon is this many epochs (decay 1 - 1 / (ema_epochs * batches per
    # epoch) per optimiser step, so it means the same on small and large data sets); 0 = off
    # (the raw weights). Off by default: see the module docstring.
    ema_epochs: float = 0.0
    grad_clip: float = 1.0
    # Loss weight of class k is (n / n_k) ** class_weight_power (module docstring): 0 = plain
    # cross-entropy, 1 = full inverse frequency.
    class_weight_power: float = 0.5
    # Early stopping and best-weights selection watch this: "val_loss" or "val_macro_f1".
    monitor: str = "val_macro_f1"
    # Causal feature front-end (faultlens.core.model.CausalFeatures): trailing scales in
    # rows; () = off (the network reads the normalised inputs directly).
    feature_scales: tuple[int, ...] = (4, 16)
    # Normalisation statistics from "all" training rows, or from the "normal" ones only
    # (when the normal class has training rows; else all, with a note).
    normalise_on: str = "all"
    # Augmentation for run-to-run variation, in normalised units: a level offset per window
    # and channel, uniform in +-augment_offset (with normal-referenced normalisation, 1 is
    # the normal spread); time warping, each window resampled at a speed in
    # [1/(1+time_warp), 1+time_warp] ending on its last row; mixing with a random normal
    # training window, x' = (1 - b) x + b x_normal with b uniform in [0, mix_normal]. 0 = off.
    augment_offset: float = 1.0
    time_warp: float = 0.3
    mix_normal: float = 0.0
    # Members of an ensemble in one model file (faultlens.core.model.EnsembleLSTM), each
    # trained from its own seed on the same split; 1 = a single model.
    ensemble: int = 1
    # False-alarm budget: the decision threshold is set so that at most this share of the
    # held-out normal validation windows (from other recordings when whole recordings are
    # held out) would alarm; never below 0.5. None: no calibration, threshold 0.5.
    alarm_budget: float | None = 0.01
    # Calibration against other runs: the held-out normal windows are also scored as another
    # run would record them, with a level offset per channel uniform in +-this (normalised
    # units) - ``calibration_copies`` copies of each - and the budget holds over all of
    # them, whichever the validation split. It matters most when the only normal data is one
    # recording (its held-out time block shares that run's calibration and operating levels,
    # so it cannot show a run-to-run false alarm). 0 = off.
    calibration_offset: float = 1.0
    calibration_copies: int = 4


# What the network reads per channel, by name (the CLI's --inputs, the Training panel's
# Inputs box): (TrainOptions.feature_scales, TrainOptions.relative_inputs); None: from the
# training data (``_choose_relative``).
INPUT_CHOICES: dict[str, tuple[tuple[int, ...], bool | None]] = {
    "auto": ((4, 16), None),
    "trailing": ((4, 16), False),
    "levels": ((), False),
    "relative": ((), True),
}


# The decision threshold of a model that was not calibrated (and of a bare ScanResult).
UNCALIBRATED_THRESHOLD = 0.5


@dataclass(frozen=True)
class ScanOptions:
    # Fault probability at which a row is a fault; None: the model's own (calibrated to its
    # false-alarm budget at training, ``TrainedModel.threshold``). The scan result's options
    # always hold the number used.
    threshold: float | None = None
    min_duration_rows: int = 5
    merge_gap_rows: int = 10
    # Windows per forward pass; None picks 256 on the CPU and 4096 on CUDA (measured on an
    # H100: 20k windows/s at 256, 150k at 2048; a CPU gains nothing beyond a few hundred).
    batch_size: int | None = None
    device: str = "auto"
    top_channels: int = 3
    # Rows between consecutive scanned windows, clamped to [1, model.stride]. None: 1 (every
    # row its own prediction) unless that means more than AUTO_MAX_WINDOWS forward passes,
    # then the smallest stride that stays under it (see the module docstring for the cost).
    stride: int | None = None
    # Channel attribution of events (occlusion); off makes detect_events model-free.
    attribute: bool = True
