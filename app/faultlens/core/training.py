"""Training the attention-LSTM: a generator that yields one report per epoch (and throttled
batch reports), polls ``should_stop`` and returns a ``TrainResult``. It writes no files.

The data side (which windows, which labels, which split) is planned first in plain numpy
(``plan_training``), then the learning loop runs on it; the model lives in
``faultlens.core.model``.

Choices and why (evidence: benchmarks/RESULTS.md and benchmarks/TUNING.md):

- Validation split without leakage. With >= 2 labelled files whole files are held out,
  stratified so the validation files contain faults when the training files keep some too.
  Otherwise one contiguous block per file is held out, placed where its class mix is
  closest to the file's, and training windows keep a gap of one window on both sides of it,
  so no training window overlaps (or touches) a validation window.
- Class imbalance: cross-entropy weighted by tempered inverse class frequency
  (``(n / n_k) ** 0.5``). Balanced sampling would repeat the few, heavily overlapping fault
  windows many times per epoch and overfit them; full inverse weights push the model
  towards false alarms, which cost a reviewer the most time (on SKAB: same F1, twice the
  false alarm rate). The square root is the usual middle ground.
- Detection that carries over to recordings the model never saw (chosen on the validation
  regimes of benchmarks/bench_generalise.py, tables in RESULTS.md): a causal feature
  front-end (each channel's level, difference, and trailing mean, log-spread, slope and
  log-range over 4 and 16 rows); run-to-run augmentation (a level offset per window and
  channel within +-1 normalised unit, time warping by up to 30 %); and an alarm threshold
  calibrated to a false-alarm budget (1 % of held-out normal windows, also scored with +-1
  level offsets as another run would record them). Trained on one normal run
  and one fault-throughout run per class, the previous defaults (levels + deviation from
  the recording's median, threshold 0.5) flagged ~70 % of the normal rows of unseen runs;
  these flag ~2 %, about as few as a random forest on window statistics.
- Relative inputs from the data (``_choose_relative``): deviations from each recording's
  first rows join the inputs when every training recording starts in normal operation
  (SKAB needs that reference level: without it F1 fell to ~0.3 there), not when some
  recording holds a fault from its first row (its start is no normal reference).
- Overfitting: AdamW with weight decay (0.05), dropout (0.3), early stopping on validation
  macro-F1 (or loss, ``monitor``) with ``patience`` and the best weights restored.
- Weight averaging (``ema_epochs``, off by default): validation, early stopping and the
  saved model can use an exponential moving average of the weights over about the last
  epochs. On SKAB validation folds one epoch cut the seed-to-seed spread of F1 fourfold and
  raised mean F1 0.785 -> 0.808 (FAR +1.6 points), but on the demo rig's data early stopping
  then kept an epoch-1 average for one seed in three (false alarms 7 % -> 29 % on the unseen
  demo recording), so it is not the default (RESULTS.md).
- Gaussian jitter and per-channel gain are available but off by default: on SKAB the gain
  hurt clearly (faults show in absolute levels) and jitter slightly; on the one-per-class
  regime the gain did not help either. Mixing with normal windows raised false alarms.
  Channel dropout (``channel_dropout``) is available too; on SKAB it moved F1 by less than
  the seed noise.
- Stride 2 by default: overlapping windows are cheap extra samples, and with stride 8 a
  small data set gave too few optimiser steps per epoch to fit at all (TUNING.md).
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

import faultlens
from faultlens.core.checkpoint import TrainedModel
from faultlens.core.device import device_description, resolve_device
from faultlens.core.errors import TrainingError
from faultlens.core.evaluation import classification_metrics
from faultlens.core.model import AttentionLSTM, ModelConfig, build_model
from faultlens.core.options import TrainOptions
from faultlens.core.progress import Cancelled, ShouldStop, never_stop
from faultlens.core.recording import Recording, normal_label_of
from faultlens.core.scan import decide
from faultlens.core.windows import (
    channel_reference,
    encode_inputs,
    fit_normalisation,
    normalise,
    window_labels,
    window_starts,
)

# Within an epoch, batch reports are yielded at most this often (the GUI's progress bar).
REPORT_INTERVAL_S = 0.5


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "epochs": self.epochs,
            "batch": self.batch,
            "batches": self.batches,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "val_macro_f1": self.val_macro_f1,
            "elapsed_s": self.elapsed_s,
            "device": self.device,
        }


@dataclass
class TrainResult:
    model: TrainedModel
    history: list[EpochReport] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    # Things the user should know about the run (e.g. no label looked like "normal").
    notes: list[str] = field(default_factory=list)


@dataclass
class TrainingPlan:
    """Windows and labels chosen for a run, before any learning (numpy only).

    ``train``/``val`` are lists of ``(recording index, starts (n,), labels (n,))``.
    """

    class_names: tuple[str, ...]
    channels: tuple[str, ...]
    norm_mean: np.ndarray  # (I,): I = C, or 2C with relative inputs
    norm_std: np.ndarray  # (I,)
    data: list[np.ndarray]  # model input (N_i, I) per recording, normalised
    train: list[tuple[int, np.ndarray, np.ndarray]]
    val: list[tuple[int, np.ndarray, np.ndarray]]
    split: str  # "files" | "time blocks"
    notes: list[str] = field(default_factory=list)
    # Per ``val`` part, (n,) bool: the window's rows are all labelled normal (class 0). The
    # false-alarm budget is calibrated on these: a window that still holds fault rows is the
    # tail of a fault's alarm, not a false alarm on normal operation.
    val_clean: list[np.ndarray] = field(default_factory=list)
    # The inputs chosen (TrainOptions.relative_inputs None: from the data, _choose_relative).
    relative_inputs: bool = False
    reference: str = "median"

    def counts(self, part: str) -> np.ndarray:
        parts = self.train if part == "train" else self.val
        labels = np.concatenate([lab for _, _, lab in parts]) if parts else np.zeros(0, int)
        return np.bincount(labels, minlength=len(self.class_names))


def _class_order(names: set[str]) -> tuple[tuple[str, ...], list[str]]:
    """Normal class first (index 0), the rest sorted."""
    ordered = sorted(names)
    first = normal_label_of(ordered)
    if first is None:
        return tuple(ordered), [
            f"no class name means normal operation (0, normal, ok, ...); class "
            f"{ordered[0]!r} is used as class 0, and false/missed alarm rates treat it as normal"
        ]
    return (first, *[n for n in ordered if n != first]), []


# Fewer validation recordings than this and early stopping, the epoch kept and the
# validation figures rest on too little to trust (on the demo rig, with one validation
# recording of three, the same settings kept epoch 1 or epoch 7 depending on the seed).
FEW_VALIDATION_FILES = 3


def _validation_notes(
    recordings: Sequence[Recording],
    split: str,
    val: list[tuple[int, np.ndarray, np.ndarray]],
    n_labelled: int,
) -> list[str]:
    """Which recordings validation rests on, when they are few. (What a time-block split can
    and cannot tell is said by ``faultlens.core.evaluation.validation_caveat`` wherever the
    figures are shown.)"""
    if split == "time blocks":
        return []
    files = sorted({i for i, _, _ in val})
    if len(files) >= FEW_VALIDATION_FILES:
        return []
    names = ", ".join(recordings[i].path.name for i in files)
    return [
        f"validation rests on {len(files)} of {n_labelled} labelled recordings ({names}) "
        "alone, so its figures and the epoch kept are a rough guide; check the model on a "
        "recording it has not seen (faultlens evaluate)"
    ]


def _pick_block(labels: np.ndarray, n_classes: int, length: int, candidates: int = 9) -> int:
    """Start of the contiguous validation block of ``length`` rows whose class mix is closest
    to the whole file's (so validation sees faults when the file has them)."""
    n = len(labels)
    if length >= n:
        return 0
    valid = labels >= 0
    overall = np.bincount(labels[valid], minlength=n_classes) / max(int(valid.sum()), 1)
    best, best_score = n - length, np.inf
    # Candidates from the end backwards: ties go to the latest block (closest to "future").
    for start in np.linspace(n - length, 0, candidates).astype(int):
        block = labels[start : start + length]
        bvalid = block >= 0
        mix = np.bincount(block[bvalid], minlength=n_classes) / max(int(bvalid.sum()), 1)
        # Missing a class present in the file is worse than any mix difference.
        score = np.abs(mix - overall).sum() + 10.0 * float(((overall > 0) & (mix == 0)).sum())
        if score < best_score - 1e-9:
            best, best_score = int(start), score
    return best


def _all_normal(row_labels: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """(n,) bool: every row of the window starting at each of ``starts`` is class 0."""
    not_normal = np.concatenate([[0], np.cumsum(row_labels != 0)])  # (N + 1,)
    return (not_normal[starts + window] - not_normal[starts]) == 0


def _choose_relative(
    options: TrainOptions, row_idx: list[np.ndarray], notes: list[str]
) -> tuple[bool, str]:
    """Whether the model gets relative inputs, and their reference (``TrainOptions``).

    ``relative_inputs=None`` (the default) decides from the training recordings: when every
    one of them starts in normal operation (its first window of labelled rows is normal),
    each channel also enters as its deviation from the median of its recording's first
    ``REFERENCE_ROWS`` rows (``reference="start"``): the recordings' own normal level, which
    carries over to recordings at other operating levels. When some recording holds a fault
    from its start (a whole-file fault recording, one state throughout), its start is no
    normal reference - and the recordings to scan may look the same - so levels only.
    """
    if options.relative_inputs is not None:
        return options.relative_inputs, options.reference

    def starts_normal(labels: np.ndarray) -> bool:
        first = labels[labels >= 0][: options.window]  # the first window's worth of labels
        return bool(len(first)) and bool(np.all(first == 0))

    every_start_normal = all(starts_normal(labels) for labels in row_idx if (labels >= 0).any())
    if not every_start_normal:
        notes.append(
            "inputs: levels and trailing statistics only - some training recordings hold a "
            "fault from their first rows, so a recording's start is no normal reference"
        )
    return every_start_normal, "start"


def plan_training(recordings: Sequence[Recording], options: TrainOptions) -> TrainingPlan:
    """Check the inputs, derive classes, fit normalisation on the training part, and choose
    training and validation windows. Raises TrainingError with a user message."""
    if not recordings:
        raise TrainingError("no recordings to train on; open at least one labelled recording")
    if options.window < 2 or options.stride < 1:
        raise TrainingError(
            f"window {options.window} / stride {options.stride}: window must be >= 2 and "
            "stride >= 1"
        )
    if not 0.0 < options.val_fraction < 1.0:
        raise TrainingError(f"val_fraction {options.val_fraction} must be between 0 and 1")
    if options.reference not in ("median", "start"):
        raise TrainingError(f"reference {options.reference!r} must be 'median' or 'start'")
    if options.normalise_on not in ("all", "normal"):
        raise TrainingError(f"normalise_on {options.normalise_on!r} must be 'all' or 'normal'")
    first = recordings[0]
    for rec in recordings[1:]:
        if rec.channels != first.channels:
            missing = [c for c in first.channels if c not in rec.channels]
            extra = [c for c in rec.channels if c not in first.channels]
            what = (
                f"lacks {', '.join(missing) or '-'}; has extra {', '.join(extra) or '-'}"
                if missing or extra
                else "has the same channels in another order"
            )
            raise TrainingError(
                f"{rec.path}: channels differ from {first.path} ({what}); train on recordings "
                "with the same channels (or re-import with the same channel selection)"
            )
    file_classes = dict(options.file_classes)
    known_paths = {str(r.path) for r in recordings}
    for path in file_classes:
        if path not in known_paths:
            raise TrainingError(
                f"{path}: a whole-file class is given for a file that is not "
                "among the recordings to train on; add it or remove the class"
            )
    if options.label_column is not None:
        for rec in recordings:
            if str(rec.path) in file_classes:
                continue
            if rec.label_column != options.label_column:
                got = rec.label_column or "no label column"
                raise TrainingError(
                    f"{rec.path}: training wants label column {options.label_column!r} but the "
                    f"file was imported with {got!r}; re-import it with label column "
                    f"{options.label_column!r}"
                )
    recordings = [
        rec.with_file_class(file_classes[str(rec.path)]) if str(rec.path) in file_classes else rec
        for rec in recordings
    ]

    names = {name for rec in recordings for name in rec.label_names}
    if not names:
        raise TrainingError(
            f"{first.path}: no labels at all; import with a label column or give each file a "
            "whole-file class"
        )
    for rec in recordings:
        if not rec.label_names:
            raise TrainingError(
                f"{rec.path}: has no labels; import it with a label column, give it a "
                "whole-file class, or leave it out of training"
            )
        if rec.n_rows < options.window:
            raise TrainingError(
                f"{rec.path}: {rec.n_rows} rows is shorter than the window ({options.window} "
                "rows); use a smaller window or leave this file out"
            )
    if len(names) < 2:
        only = next(iter(names))
        raise TrainingError(
            f"{first.path}: only one class ({only!r}) in the labels; training needs at least "
            "two (e.g. normal and a fault) - add recordings with other classes"
        )
    class_names, notes = _class_order(names)
    k = len(class_names)
    lookup = {name: i for i, name in enumerate(class_names)}

    row_idx: list[np.ndarray] = []
    all_starts: list[np.ndarray] = []
    all_labels: list[np.ndarray] = []
    for rec in recordings:
        # The recording's label codes mapped to class indices (-1, unlabelled, stays -1).
        to_class = np.array([*(lookup[n] for n in rec.label_names), -1], dtype=np.int64)
        idx = to_class[rec.label_codes]
        row_idx.append(idx)
        starts = window_starts(rec.n_rows, options.window, options.stride)
        lab = window_labels(idx, starts, options.window)
        all_starts.append(starts[lab >= 0])
        all_labels.append(lab[lab >= 0])

    rng = np.random.default_rng(options.seed)
    train: list[tuple[int, np.ndarray, np.ndarray]] = []
    val: list[tuple[int, np.ndarray, np.ndarray]] = []
    labelled_files = [i for i, lab in enumerate(all_labels) if len(lab)]
    has_fault = {i: bool((all_labels[i] > 0).any()) for i in labelled_files}
    split = "time blocks"
    if len(labelled_files) >= 2:
        fault_files = [i for i in labelled_files if has_fault[i]]
        clean_files = [i for i in labelled_files if not has_fault[i]]
        rng.shuffle(fault_files)
        rng.shuffle(clean_files)
        n_val = max(1, round(options.val_fraction * len(labelled_files)))
        n_val_fault = max(1, round(n_val * len(fault_files) / len(labelled_files)))
        n_val_fault = min(n_val_fault, len(fault_files) - 1)
        n_val_clean = min(n_val - max(n_val_fault, 0), len(clean_files) - (0 if fault_files else 1))
        val_files = set(fault_files[: max(n_val_fault, 0)] + clean_files[: max(n_val_clean, 0)])
        train_files = [i for i in labelled_files if i not in val_files]
        train_classes = set(np.concatenate([all_labels[i] for i in train_files]).tolist())
        val_classes = (
            set(np.concatenate([all_labels[i] for i in val_files]).tolist()) if val_files else set()
        )
        # File split only when both sides keep at least two classes and validation has no
        # class the training files lack; else time blocks.
        if len(train_classes) >= 2 and len(val_classes) >= 2 and val_classes <= train_classes:
            split = "files"
            for i in sorted(labelled_files):
                (val if i in val_files else train).append((i, all_starts[i], all_labels[i]))
    if split == "time blocks":
        for i in labelled_files:
            n = recordings[i].n_rows
            length = max(options.window, round(options.val_fraction * n))
            if length + options.window > n:
                # Too short for a held-out block plus a gap: the file trains only.
                train.append((i, all_starts[i], all_labels[i]))
                continue
            vs = _pick_block(row_idx[i], k, length)
            ve = vs + length  # validation rows [vs, ve)
            starts, lab = all_starts[i], all_labels[i]
            ends = starts + options.window  # exclusive
            in_val = (starts >= vs) & (ends <= ve)
            # A gap of one window on each side: no training window touches the block.
            in_train = (ends <= vs - options.window) | (starts >= ve + options.window)
            if in_val.any():
                val.append((i, starts[in_val], lab[in_val]))
            if in_train.any():
                train.append((i, starts[in_train], lab[in_train]))
    if not val or not train:
        raise TrainingError(
            f"{first.path}: too little labelled data to hold out a validation part "
            f"(window {options.window} rows); record longer, add files or use a smaller window"
        )
    notes += _validation_notes(recordings, split, val, len(labelled_files))

    relative, reference = _choose_relative(options, row_idx, notes)
    # Each recording's own reference (relative inputs) comes from that recording alone, as at
    # scan time; the normalisation from the training rows only (no validation rows leak).
    encoded = [
        encode_inputs(rec.data, channel_reference(rec.data, reference) if relative else None)
        for rec in recordings
    ]
    train_arrays: list[np.ndarray] = []
    normal_arrays: list[np.ndarray] = []
    for i, starts, _ in train:
        mask = np.zeros(recordings[i].n_rows, dtype=bool)
        for s in starts:
            mask[s : s + options.window] = True
        train_arrays.append(encoded[i][mask])
        normal_arrays.append(encoded[i][mask & (row_idx[i] == 0)])
    if options.normalise_on == "normal" and sum(len(a) for a in normal_arrays) >= options.window:
        # Referenced to normal operation: 0 is the normal level, 1 the normal spread.
        mean, std = fit_normalisation(normal_arrays)
    else:
        if options.normalise_on == "normal":
            notes.append(
                f"normalisation uses all training rows: the normal class {class_names[0]!r} "
                "has too few training rows to reference it"
            )
        mean, std = fit_normalisation(train_arrays)
    data = [normalise(x, mean, std) for x in encoded]
    del encoded
    plan = TrainingPlan(
        class_names=class_names,
        channels=tuple(first.channels),
        norm_mean=mean,
        norm_std=std,
        data=data,
        train=train,
        val=val,
        split=split,
        notes=notes,
        val_clean=[_all_normal(row_idx[i], starts, options.window) for i, starts, _ in val],
        relative_inputs=relative,
        reference=reference,
    )
    if (plan.counts("train") > 0).sum() < 2:
        raise TrainingError(
            f"{first.path}: after holding out validation data the training part has only one "
            "class; add recordings with more faults or lower the validation fraction"
        )
    return plan


def model_config(plan: TrainingPlan, options: TrainOptions) -> ModelConfig:
    """The model shape for a planned training run."""
    return ModelConfig(
        n_channels=len(plan.channels),
        n_classes=len(plan.class_names),
        hidden=options.hidden,
        heads=options.heads,
        dropout=options.dropout,
        classifier_hidden=options.classifier_hidden,
        relative_inputs=plan.relative_inputs,
        reference=plan.reference,
        feature_scales=tuple(int(v) for v in options.feature_scales),
        members=options.ensemble,
    )


def _window_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """The evaluation module's metrics over validation windows, plus the window count."""
    metrics = classification_metrics(y_true, y_pred, class_names)
    metrics["windows"] = metrics["n"]
    return metrics


def _seed_torch(seed: int) -> None:
    """Seed torch's generator (weight init, dropout; CUDA too). The window order, the split
    and augmentation use their own seeded generators, so Python's and numpy's global ones are
    left alone (the GUI process that runs training keeps its own)."""
    torch.manual_seed(seed)


def _autocast(device: torch.device) -> tuple[Any, torch.amp.GradScaler | None]:
    """Mixed precision on CUDA: bf16 where supported (no scaler needed), else fp16 with a
    GradScaler. CPU trains in float32 (CPU autocast is slower for LSTMs)."""
    if device.type != "cuda":
        return contextlib.nullcontext, None
    if torch.cuda.is_bf16_supported():
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16), None
    return lambda: torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")


class _WindowSource:
    """All normalised rows of the plan as one (rows, C) tensor on the training device, and
    every window as a global start row into it.

    Batches are gathered on the device by index arithmetic, so only the recordings (rows x
    C) ever sit on the device, never windows x T x C, and nothing is copied from the host
    per batch.
    """

    def __init__(self, plan: TrainingPlan, window: int, device: torch.device) -> None:
        offsets = np.cumsum([0] + [len(d) for d in plan.data[:-1]])
        self.rows = torch.from_numpy(np.concatenate(plan.data)).to(device)  # (rows, C)
        self.steps = torch.arange(window, device=device)  # (T,)

        def index(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, ...]:
            starts = np.concatenate([offsets[i] + s for i, s, _ in parts])
            labels = np.concatenate([lab for _, _, lab in parts])
            return torch.from_numpy(starts).to(device), torch.from_numpy(labels).to(device)

        self.train_starts, self.train_labels = index(plan.train)
        self.val_starts, self.val_labels = index(plan.val)
        self.val_clean = np.concatenate(plan.val_clean) if plan.val_clean else None
        # Normal training windows (for mixing augmentation).
        self.normal_starts = self.train_starts[self.train_labels == 0]

    def windows(self, starts: torch.Tensor) -> torch.Tensor:
        """(b,) global start rows -> (b, T, C) windows."""
        return self.rows[starts[:, None] + self.steps]  # (b, T) index -> (b, T, C)


def _evaluate(
    module: torch.nn.Module,
    source: _WindowSource,
    batch_size: int,
    weights: torch.Tensor,
    autocast: Any,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted validation loss, true labels (n,), class probabilities (n, K)."""
    was_training = module.training
    module.eval()
    loss_sum = torch.zeros((), device=source.rows.device)
    probs = []
    step = batch_size * 4  # no gradients kept: larger batches are free
    with torch.inference_mode():
        for j in range(0, len(source.val_starts), step):
            yb = source.val_labels[j : j + step]
            with autocast():
                logits = module(source.windows(source.val_starts[j : j + step])).logits.float()
            loss_sum += F.cross_entropy(logits, yb, weight=weights, reduction="sum")
            probs.append(torch.softmax(logits, dim=1))
    module.train(was_training)
    # Sum of weighted losses / sum of weights (what the mean-reduced training loss means).
    weight_total = float(weights[source.val_labels].sum())
    return (
        float(loss_sum) / max(weight_total, 1e-12),
        source.val_labels.cpu().numpy(),
        torch.cat(probs).cpu().numpy().astype(np.float64),
    )


def _level_offsets(
    xb: torch.Tensor, n_sensors: int, size: float, gen: torch.Generator
) -> torch.Tensor:
    """Another run's calibration / operating level for windows xb (b, T, I): a level offset
    per window and sensor channel, uniform in +-``size``, as a (b, 1, I) tensor to add. Only
    the level columns move; deviations from the recording's own reference (relative inputs,
    the columns after the first C) do not."""
    b, _, n_inputs = xb.shape
    u = torch.rand(b, 1, n_sensors, generator=gen, device=xb.device)
    pad = torch.zeros(b, 1, n_inputs - n_sensors, device=xb.device, dtype=xb.dtype)
    return torch.cat([size * (2.0 * u - 1.0), pad], dim=2)


def _augment(
    xb: torch.Tensor,
    options: TrainOptions,
    source: _WindowSource,
    n_sensors: int,
    gen: torch.Generator,
) -> torch.Tensor:
    """Training-batch augmentation (TrainOptions: by default level offsets and time
    warping, the rest off), on the device.

    xb (b, T, I) normalised windows, I = C (levels) or 2C (levels, then deviations)."""
    b, t, n_inputs = xb.shape
    device = xb.device
    if options.time_warp > 0:
        # Speed r in [1/(1+w), 1+w] (log-uniform); the last step stays the window's newest
        # row (the scan is causal), earlier steps are read from (T-1) - (T-1-j) * r.
        log_w = torch.log1p(torch.tensor(options.time_warp, device=device))
        r = torch.exp((2.0 * torch.rand(b, 1, generator=gen, device=device) - 1.0) * log_w)
        j = torch.arange(t, device=device, dtype=xb.dtype)[None, :]  # (1, T)
        pos = ((t - 1) - (t - 1 - j) * r).clamp(0, t - 1)  # (b, T)
        lo = pos.floor().long()
        hi = (lo + 1).clamp(max=t - 1)
        frac = (pos - lo.to(pos.dtype))[:, :, None]  # (b, T, 1)
        take = lambda idx: torch.gather(xb, 1, idx[:, :, None].expand(b, t, n_inputs))  # noqa: E731
        xb = take(lo) * (1.0 - frac) + take(hi) * frac
    if options.mix_normal > 0 and len(source.normal_starts):
        pick = torch.randint(len(source.normal_starts), (b,), generator=gen, device=device)
        other = source.windows(source.normal_starts[pick])  # (b, T, I)
        beta = options.mix_normal * torch.rand(b, 1, 1, generator=gen, device=device)
        xb = (1.0 - beta) * xb + beta * other
    if options.augment_offset > 0:
        xb = xb + _level_offsets(xb, n_sensors, options.augment_offset, gen)
    if options.scaling > 0:
        # Per window and channel gain 1 +- scaling: robustness to sensor calibration.
        u = torch.rand(b, 1, n_inputs, generator=gen, device=device)
        xb = xb * (1.0 + options.scaling * (2.0 * u - 1.0))
    if options.channel_dropout > 0:
        keep = torch.rand(b, 1, n_sensors, generator=gen, device=device)
        keep = (keep >= options.channel_dropout).to(xb.dtype)
        xb = xb * keep.repeat(1, 1, n_inputs // n_sensors)  # level and deviation alike
    if options.jitter > 0:
        noise = torch.randn(xb.shape, generator=gen, device=device)
        xb = xb + options.jitter * noise
    return xb


@dataclass
class _MemberFit:
    state: dict[str, torch.Tensor]
    history: list[EpochReport]
    best_epoch: int
    stopped_early: bool


def _fit_member(
    plan: TrainingPlan,
    options: TrainOptions,
    config: ModelConfig,
    source: _WindowSource,
    class_weights: torch.Tensor,
    member: int,
    device: torch.device,
    device_text: str,
    started: float,
    should_stop: ShouldStop,
) -> Generator[EpochReport, None, _MemberFit]:
    """Train one AttentionLSTM (ensemble member ``member``, 0-based) and keep its best
    weights. Reports count epochs over all members (member m's epoch e is m * epochs + e)."""
    seed = options.seed + 1000 * member
    _seed_torch(seed)
    module = AttentionLSTM(config).to(device)
    module.train()
    optimiser = torch.optim.AdamW(
        module.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    autocast, scaler = _autocast(device)
    n_windows = len(source.train_labels)
    batches = max(1, -(-n_windows // options.batch_size))
    rng = np.random.default_rng(seed)
    # Augmentation noise is drawn on the training device, from its own seeded generator.
    aug_gen = torch.Generator(device=device).manual_seed(seed)
    n_sensors = config.n_channels
    total_epochs = options.epochs * options.ensemble
    offset = member * options.epochs

    ema = None
    if options.ema_epochs > 0:
        decay = 1.0 - 1.0 / max(options.ema_epochs * batches, 1.0)
        ema = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(decay))
    judged = module if ema is None else ema.module  # what validation sees and what is kept
    history: list[EpochReport] = []
    best_score: tuple[float, ...] = (np.inf, np.inf)  # lower is better
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch = 0
    since_best = 0
    stopped_early = False
    for epoch in range(1, options.epochs + 1):
        order = torch.from_numpy(rng.permutation(n_windows)).to(device)
        # Summed on the device: reading a loss back every batch would stall a GPU.
        running = torch.zeros((), device=device)
        seen = 0
        last_report = time.perf_counter()
        for b in range(batches):
            if should_stop():
                raise Cancelled()
            idx = order[b * options.batch_size : (b + 1) * options.batch_size]
            xb = source.windows(source.train_starts[idx])  # (b, T, I), only this batch
            yb = source.train_labels[idx]  # (b,)
            xb = _augment(xb, options, source, n_sensors, aug_gen)
            with autocast():
                logits = module(xb).logits  # (b, K)
            loss = F.cross_entropy(logits.float(), yb, weight=class_weights)
            optimiser.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimiser)
                torch.nn.utils.clip_grad_norm_(module.parameters(), options.grad_clip)
                scaler.step(optimiser)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(module.parameters(), options.grad_clip)
                optimiser.step()
            if ema is not None:
                ema.update_parameters(module)
            running += loss.detach() * len(idx)
            seen += len(idx)
            now = time.perf_counter()
            if b + 1 < batches and now - last_report >= REPORT_INTERVAL_S:
                last_report = now
                yield EpochReport(
                    epoch=offset + epoch,
                    epochs=total_epochs,
                    batch=b + 1,
                    batches=batches,
                    train_loss=float(running) / seen,
                    val_loss=None,
                    val_accuracy=None,
                    val_macro_f1=None,
                    elapsed_s=now - started,
                    device=device_text,
                )
        if should_stop():
            raise Cancelled()
        val_loss, y_true, val_probs = _evaluate(
            judged, source, options.batch_size, class_weights, autocast
        )
        # Epoch selection reads the arg-max class (the threshold is calibrated afterwards).
        metrics = _window_metrics(y_true, val_probs.argmax(axis=1), plan.class_names)
        report = EpochReport(
            epoch=offset + epoch,
            epochs=total_epochs,
            batch=batches,
            batches=batches,
            train_loss=float(running) / max(seen, 1),
            val_loss=val_loss,
            val_accuracy=metrics["accuracy"],
            val_macro_f1=metrics["macro_f1"],
            elapsed_s=time.perf_counter() - started,
            device=device_text,
        )
        history.append(report)
        # Lexicographic: lower loss, or higher macro-F1 with lower loss breaking ties.
        score = (
            (val_loss,)
            if options.monitor == "val_loss"
            else (-round(metrics["macro_f1"], 9), val_loss)
        )
        if score < best_score:
            best_score, best_epoch, since_best = score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in judged.state_dict().items()}
        else:
            since_best += 1
        yield report
        if since_best >= options.patience:
            stopped_early = True
            break
    assert best_state is not None
    return _MemberFit(best_state, history, best_epoch, stopped_early)


def _shifted_normal_scores(
    module: torch.nn.Module,
    source: _WindowSource,
    normal: np.ndarray,
    options: TrainOptions,
    n_sensors: int,
    autocast: Any,
) -> np.ndarray:
    """Fault probabilities of the held-out normal windows (``normal``: (n_val,) bool) as
    other runs would record them: ``calibration_copies`` copies of each with a level offset
    per sensor channel uniform in +-``calibration_offset`` (TrainOptions)."""
    device = source.rows.device
    gen = torch.Generator(device=device).manual_seed(options.seed + 7)
    starts = source.val_starts[torch.from_numpy(np.flatnonzero(normal)).to(device)]
    out = []
    module.eval()
    with torch.inference_mode():
        for _ in range(options.calibration_copies):
            for j in range(0, len(starts), options.batch_size * 4):
                xb = source.windows(starts[j : j + options.batch_size * 4])  # (b, T, I)
                shifted = xb + _level_offsets(xb, n_sensors, options.calibration_offset, gen)
                with autocast():
                    logits = module(shifted).logits.float()
                out.append(1.0 - torch.softmax(logits, dim=1)[:, 0])
    if not out:
        return np.zeros(0)
    return torch.cat(out).cpu().numpy().astype(np.float64)


def calibrate_threshold(normal_fault_probability: np.ndarray, budget: float) -> tuple[float, float]:
    """The decision threshold for a false-alarm budget: the lowest threshold >= 0.5 at which
    at most ``budget`` of these held-out normal windows' fault probabilities reach it
    (``fault_probability >= threshold`` alarms). Returns ``(threshold, share that alarms)``;
    the share can exceed the budget only when even 1.0 does (the model is certain of a
    fault on too many normal windows)."""
    fp = np.sort(np.asarray(normal_fault_probability, dtype=np.float64))[::-1]  # descending
    n = len(fp)
    if n == 0:
        return 0.5, 0.0
    allowed = int(np.floor(budget * n + 1e-9))  # windows that may alarm
    threshold = 0.5
    if allowed < n:
        # Just above the (allowed+1)-th largest: it and everything below stay quiet.
        threshold = max(0.5, float(np.nextafter(fp[allowed], np.inf)))
    threshold = min(threshold, 1.0)
    return threshold, float((fp >= threshold).mean())


def train(
    recordings: Sequence[Recording],
    options: TrainOptions = TrainOptions(),
    should_stop: ShouldStop = never_stop,
) -> Generator[EpochReport, None, TrainResult]:
    """Train a model on ``recordings`` (see the module docstring for the method).

    Yields an EpochReport at the end of each epoch and, within long epochs, at most every
    ``REPORT_INTERVAL_S``. ``should_stop`` is polled between batches; when it returns True
    ``Cancelled`` is raised (nothing is written: this function never writes files).
    Returns a TrainResult whose ``model`` holds the best-validation weights (of every
    ensemble member), in eval mode on the CPU, with its threshold calibrated to
    ``options.alarm_budget`` and validation metrics under that rule. Raises TrainingError
    for unusable inputs.
    """
    started = time.perf_counter()
    if options.monitor not in ("val_loss", "val_macro_f1"):
        raise TrainingError(f"monitor {options.monitor!r} must be val_loss or val_macro_f1")
    if not options.ema_epochs >= 0.0:
        raise TrainingError(f"ema_epochs {options.ema_epochs} must be 0 (off) or more")
    if not 0.0 <= options.channel_dropout < 1.0:
        raise TrainingError(
            f"channel_dropout {options.channel_dropout} must be at least 0 and below 1"
        )
    if not 1 <= options.ensemble <= 32:
        raise TrainingError(f"ensemble {options.ensemble} must be 1 to 32 members")
    if options.alarm_budget is not None and not 0.0 <= options.alarm_budget < 1.0:
        raise TrainingError(
            f"alarm budget {options.alarm_budget} must be a share from 0 to below 1 "
            "(e.g. 0.01 for 1 % of normal windows)"
        )
    if options.calibration_copies < 1:
        raise TrainingError(f"calibration_copies {options.calibration_copies} must be 1 or more")
    for name in (
        "augment_offset",
        "time_warp",
        "mix_normal",
        "scaling",
        "jitter",
        "calibration_offset",
    ):
        if not getattr(options, name) >= 0.0:
            raise TrainingError(f"{name} {getattr(options, name)} must be 0 (off) or more")
    device = resolve_device(options.device)
    device_text = device_description(device)
    plan = plan_training(recordings, options)
    try:
        config = model_config(plan, options)
    except ValueError as exc:
        raise TrainingError(f"model settings: {exc}") from None

    counts = plan.counts("train").astype(np.float64)
    # Tempered inverse frequency, normalised to mean 1 over present classes; an absent class
    # gets weight 0 (it cannot be learned from this data anyway).
    present = counts > 0
    weights_np = np.zeros_like(counts)
    weights_np[present] = (counts[present].sum() / counts[present]) ** options.class_weight_power
    weights_np[present] /= weights_np[present].mean()
    class_weights = torch.tensor(weights_np, dtype=torch.float32, device=device)
    source = _WindowSource(plan, options.window, device)

    fits: list[_MemberFit] = []
    for member in range(options.ensemble):
        fit = yield from _fit_member(
            plan, options, config, source, class_weights, member, device, device_text,
            started, should_stop,
        )  # fmt: skip
        fits.append(fit)
    module = build_model(config).to(device)
    if isinstance(module, AttentionLSTM):
        module.load_state_dict(fits[0].state)
    else:
        for member_module, fit in zip(module.members, fits, strict=True):
            member_module.load_state_dict(fit.state)
    autocast, _ = _autocast(device)
    best_loss, y_true, val_probs = _evaluate(
        module, source, options.batch_size, class_weights, autocast
    )
    fault_probability = 1.0 - val_probs[:, 0]
    normal = (y_true == 0) if source.val_clean is None else source.val_clean
    notes = list(plan.notes)
    calibration: dict[str, Any] = {
        "budget": options.alarm_budget,
        "normal_windows": int(normal.sum()),
        "source": "held-out recordings" if plan.split == "files" else "held-out time blocks",
    }
    threshold = 0.5
    if options.alarm_budget is not None:
        if normal.sum() >= 20:
            scores = fault_probability[normal]
            if options.calibration_offset > 0:
                shifted = _shifted_normal_scores(
                    module, source, normal, options, config.n_channels, autocast
                )
                calibration["shifted_windows"] = len(shifted)
                scores = np.concatenate([scores, shifted])
            threshold, share = calibrate_threshold(scores, options.alarm_budget)
            calibration["validation_alarm_share"] = share
            if share > options.alarm_budget:
                notes.append(
                    f"the false-alarm budget of {100 * options.alarm_budget:g} % cannot be met: "
                    f"{100 * share:.1f} % of held-out normal windows alarm even at threshold "
                    "1.0; the model is sure of a fault on normal data it has not seen - add "
                    "normal recordings or check the labels"
                )
        else:
            notes.append(
                f"threshold left at 0.5: only {int(normal.sum())} held-out windows of normal "
                "operation, too few to calibrate the false-alarm budget on"
            )
    calibration["threshold"] = threshold
    y_pred = decide(val_probs, fault_probability, threshold).astype(np.int64)
    metrics = _window_metrics(y_true, y_pred, plan.class_names)
    history = [r for fit in fits for r in fit.history]
    best_epoch = fits[0].best_epoch
    metrics.update(
        {
            "split": plan.split,
            "validation_recordings": len({i for i, _, _ in plan.val}),
            "best_epoch": best_epoch,
            "best_epochs": [fit.best_epoch for fit in fits],
            "val_loss": float(best_loss),
            "train_windows": len(source.train_labels),
            "class_weights": [float(w) for w in weights_np],
            "calibration": calibration,
            "notes": notes,
        }
    )
    module = module.to("cpu").eval()
    trained = TrainedModel(
        module=module,
        config=config,
        channels=plan.channels,
        class_names=plan.class_names,
        norm_mean=plan.norm_mean,
        norm_std=plan.norm_std,
        window=options.window,
        stride=options.stride,
        label_column=options.label_column or recordings[0].label_column,
        seed=options.seed,
        training_data=[
            {"file": r.path.name, "sha256": r.content_hash, "rows": r.n_rows} for r in recordings
        ],
        versions={
            "faultlens": faultlens.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        device=device_text,
        history=[r.to_dict() for r in history],
        metrics=metrics,
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        threshold=threshold,
        alarm_budget=options.alarm_budget,
    )
    return TrainResult(
        model=trained,
        history=history,
        best_epoch=best_epoch,
        stopped_early=any(fit.stopped_early for fit in fits),
        notes=notes,
    )
