"""The data side of training, planned in plain numpy before any learning (``plan_training``):
the inputs checked, labels turned into classes (the normal one first), training and
validation windows chosen, relative inputs decided, and the normalisation fitted on the
training part. The learning loop that runs on a ``TrainingPlan`` is
``faultlens.core.training``.

Choices and why (evidence: benchmarks/RESULTS.md and benchmarks/TUNING.md):

- Validation split without leakage. With >= 2 labelled files whole files are held out,
  stratified so the validation files contain faults when the training files keep some too.
  Otherwise one contiguous block per file is held out, placed where its class mix is
  closest to the file's, and training windows keep a gap of one window on both sides of it,
  so no training window overlaps (or touches) a validation window.
- Relative inputs from the data (``_choose_relative``): deviations from each recording's
  first rows join the inputs when every training recording starts in normal operation
  (SKAB needs that reference level: without it F1 fell to ~0.3 there), not when some
  recording holds a fault from its first row (its start is no normal reference).
- Stride 2 by default: overlapping windows are cheap extra samples, and with stride 8 a
  small data set gave too few optimiser steps per epoch to fit at all (TUNING.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from faultlens.core.errors import TrainingError
from faultlens.core.options import TrainOptions
from faultlens.core.recording import Recording, normal_label_of
from faultlens.core.windows import (
    channel_reference,
    encode_inputs,
    fit_normalisation,
    normalise,
    window_labels,
    window_starts,
)


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
