"""The data plan of training on tiny synthetic recordings: the validation split without
leakage, whole-file classes, class order, relative inputs from the data, what the plan
notes, and the user-facing errors. No learning: these run in numpy alone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from faultlens.core.errors import TrainingError
from faultlens.core.options import TrainOptions
from faultlens.core.recording import Recording
from faultlens.core.training_plan import plan_training

# The window settings of test_training.py's runs (the rest of TrainOptions shapes the
# model and the loop, not the plan).
FAST = TrainOptions(window=16, stride=4, device="cpu")


def _recording(seed: int, n: int = 600, path: str | None = None, faults: int = 3) -> Recording:
    """2 channels of noise; a fault is a level shift of +3 on channel b for 30 rows."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n, 2)).astype(np.float32)
    data[:, 0] += 100.0  # an offset the normalisation must remove
    labels = np.full(n, "normal", dtype=object)
    for start in rng.choice(np.arange(40, n - 60, 60), faults, replace=False):
        data[start : start + 30, 1] += 3.0
        labels[start : start + 30] = "leak"
    return Recording.from_arrays(data, ["a", "b"], labels=labels, path=path or f"r{seed}.csv")


def test_file_split_holds_out_whole_files_with_faults() -> None:
    recordings = [_recording(i, n=300) for i in range(5)]
    plan = plan_training(recordings, FAST)
    assert plan.split == "files"
    train_files = {i for i, _, _ in plan.train}
    val_files = {i for i, _, _ in plan.val}
    assert train_files.isdisjoint(val_files)
    assert plan.counts("val")[1] > 0 and plan.counts("train")[1] > 0


def test_plan_notes_how_much_the_validation_part_can_say() -> None:
    # One recording: time blocks of it (what they cannot tell is validation_caveat's job).
    plan = plan_training([_recording(0, n=1200, faults=6)], FAST)
    assert plan.split == "time blocks" and plan.notes == []
    # Three recordings: one is held out, and early stopping rests on it alone.
    plan = plan_training([_recording(i, n=300) for i in range(3)], FAST)
    (held_out,) = {i for i, _, _ in plan.val}
    (note,) = plan.notes
    assert f"1 of 3 labelled recordings (r{held_out}.csv) alone" in note
    # Enough recordings for a validation part of several: nothing to say.
    assert plan_training([_recording(i, n=300) for i in range(15)], FAST).notes == []


def test_single_file_uses_time_blocks_with_a_gap() -> None:
    rec = _recording(0, n=1200, faults=6)
    plan = plan_training([rec], FAST)
    assert plan.split == "time blocks"
    ((_, val_starts, val_labels),) = plan.val
    ((_, train_starts, _),) = plan.train
    w = FAST.window
    lo, hi = val_starts.min(), val_starts.max() + w  # validation rows [lo, hi)
    # No training window comes within one window of the validation block.
    train_ends = train_starts + w
    assert np.all((train_ends <= lo - w) | (train_starts >= hi + w))
    assert (val_labels == 1).any() and (val_labels == 0).any()
    # Normalisation comes from training rows only: a huge value in the validation block
    # must not move it.
    data = rec.data.copy()
    data[lo:hi, 0] += 1e4
    spiked = Recording.from_arrays(data, rec.channels, labels=rec.labels, path=rec.path)
    assert plan_training([spiked], FAST).norm_mean[0] == pytest.approx(plan.norm_mean[0])


def test_whole_file_classes() -> None:
    rng = np.random.default_rng(0)
    normal = Recording.from_arrays(rng.normal(size=(300, 2)), ["a", "b"], path="n.csv")
    faulty = Recording.from_arrays(rng.normal(size=(300, 2)) + 2, ["a", "b"], path="f.csv")
    options = replace(FAST, file_classes=(("n.csv", "ok"), ("f.csv", "cavitation")))
    plan = plan_training([normal, faulty], options)
    assert plan.class_names == ("ok", "cavitation")
    # One file per class: a file split would leave a class untrained, so time blocks.
    assert plan.split == "time blocks"
    assert plan.counts("val").all() and plan.counts("train").all()


def test_class_order_without_a_normal_label_is_noted() -> None:
    rng = np.random.default_rng(0)
    labels = np.array(["beta"] * 150 + ["alpha"] * 150, dtype=object)
    rec = Recording.from_arrays(rng.normal(size=(300, 2)), ["a", "b"], labels=labels)
    plan = plan_training([rec], FAST)
    assert plan.class_names == ("alpha", "beta")
    assert plan.notes and "normal" in plan.notes[0]


def _message(recordings: list[Recording], options: TrainOptions = FAST) -> str:
    with pytest.raises(TrainingError) as err:
        plan_training(recordings, options)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_user_errors_have_clear_messages() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    unlabelled = Recording.from_arrays(x, ["a", "b"], path="plain.csv")
    assert "no labels" in _message([unlabelled])
    one_class = Recording.from_arrays(x, ["a", "b"], labels=["0"] * 200, path="one.csv")
    assert "only one class" in _message([one_class])
    short = _recording(1, n=300)
    tiny = Recording.from_arrays(x[:10], ["a", "b"], labels=["0"] * 10, path="tiny.csv")
    message = _message([short, tiny])
    assert "tiny.csv" in message and "shorter than the window" in message
    other = Recording.from_arrays(x, ["a", "c"], labels=["0"] * 200, path="other.csv")
    message = _message([short, other])
    assert "other.csv" in message and "lacks b" in message and "extra c" in message
    message = _message([short], replace(FAST, label_column="anomaly"))
    assert "re-import" in message and "anomaly" in message
    assert "not among" in _message([short], replace(FAST, file_classes=(("x.csv", "ok"),)))
    assert "no labels" in _message([short, unlabelled])


def test_relative_inputs_follow_how_the_training_recordings_start() -> None:
    # Recordings that start in normal operation: deviations from their first rows join the
    # inputs. A whole-file fault recording (a fault from its first row) has no normal start:
    # levels (and trailing statistics) only, and the plan says why.
    starting_normal = [_recording(i, n=400) for i in range(3)]
    plan = plan_training(starting_normal, FAST)
    assert plan.relative_inputs and plan.reference == "start" and plan.norm_mean.shape == (4,)
    data = starting_normal[0].data.copy()
    faulty = Recording.from_arrays(
        data, ["a", "b"], labels=np.full(400, "leak", dtype=object), path="leak.csv"
    )
    plan = plan_training([*starting_normal, faulty], FAST)
    assert not plan.relative_inputs and plan.norm_mean.shape == (2,)
    assert any("first rows" in note for note in plan.notes)
    # An explicit choice wins.
    forced = plan_training([*starting_normal, faulty], replace(FAST, relative_inputs=True))
    assert forced.relative_inputs and forced.reference == "median"
