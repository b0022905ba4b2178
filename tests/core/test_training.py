"""The training generator on a tiny synthetic task: learning, reports, cancel, determinism,
augmentation and the loop's options, the saved model. (The data plan, the validation split
and its user-facing errors: test_training_plan.py.)"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from faultlens.core.checkpoint import load_model, save_model
from faultlens.core.errors import TrainingError
from faultlens.core.options import TrainOptions
from faultlens.core.progress import Cancelled, run_to_end
from faultlens.core.recording import Recording
from faultlens.core.training import EpochReport, TrainResult, train
from faultlens.core.windows import iter_window_batches

FAST = TrainOptions(
    window=16,
    stride=4,
    epochs=6,
    batch_size=32,
    hidden=16,
    heads=2,
    classifier_hidden=16,
    learning_rate=3e-3,
    patience=3,
    device="cpu",
)


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


@pytest.fixture(scope="module")
def trained() -> tuple[TrainResult, list[EpochReport]]:
    torch.set_num_threads(1)
    recordings = [_recording(i) for i in range(5)]
    reports: list[EpochReport] = []
    result = run_to_end(train(recordings, FAST), reports.append)
    return result, reports


def _window_predictions(model, rec: Recording, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Per window of ``rec`` every ``stride`` rows: (last-row label is "leak", predicted class)."""
    x = model.normalised_input(rec)
    truth, pred = [], []
    with torch.no_grad():
        for starts, batch in iter_window_batches(x, model.window, stride, 256):
            pred.append(model.module(torch.from_numpy(batch)).logits.argmax(1).numpy())
            truth.append((rec.labels[starts + model.window - 1] == "leak").astype(int))
    return np.concatenate(truth), np.concatenate(pred)


def test_learns_a_level_shift(trained: tuple[TrainResult, list[EpochReport]]) -> None:
    result, _ = trained
    model = result.model
    assert model.class_names == ("normal", "leak")
    losses = [r.train_loss for r in result.history]
    assert losses[-1] < 0.6 * losses[0]
    assert model.metrics["split"] == "files"
    # Validation metrics follow the calibrated threshold (1 % budget), which trades a little
    # recall for few false alarms.
    assert model.metrics["accuracy"] > 0.8
    assert model.metrics["false_alarm_rate"] <= 0.05
    assert model.metrics["per_class"]["leak"]["recall"] > 0.6
    # A recording the model never saw: per-window predictions match the last-row labels.
    truth, pred = _window_predictions(model, _recording(99), stride=4)
    assert float((pred == truth).mean()) > 0.85


def test_reports_are_ordered_and_sane(trained: tuple[TrainResult, list[EpochReport]]) -> None:
    result, reports = trained
    ends = [r for r in reports if r.end_of_epoch]
    assert ends == result.history
    assert [r.epoch for r in ends] == list(range(1, len(ends) + 1))
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 1
    elapsed = [r.elapsed_s for r in reports]
    assert elapsed == sorted(elapsed)
    for r in ends:
        assert r.val_loss is not None and r.val_loss >= 0
        assert r.val_accuracy is not None and 0 <= r.val_accuracy <= 1
        assert r.val_macro_f1 is not None and 0 <= r.val_macro_f1 <= 1
        assert r.device.startswith("CPU")
    assert 1 <= result.best_epoch <= len(ends)
    # The model holds the weights of the best epoch: its metrics are that epoch's.
    best = ends[result.best_epoch - 1]
    assert best.val_macro_f1 == max(r.val_macro_f1 or 0.0 for r in ends)
    assert result.model.metrics["val_loss"] == pytest.approx(best.val_loss, rel=1e-5)


def test_model_file_carries_the_run(
    trained: tuple[TrainResult, list[EpochReport]], tmp_path: Path
) -> None:
    model = trained[0].model
    path = tmp_path / "run.flmodel"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.fingerprint == model.fingerprint
    assert [d["file"] for d in loaded.training_data] == [f"r{i}.csv" for i in range(5)]
    assert len(loaded.history) == len(trained[0].history)
    assert loaded.metrics["confusion_matrix"] == model.metrics["confusion_matrix"]
    # Normalisation removed the +100 offset of channel a.
    assert loaded.norm_mean[0] == pytest.approx(100.0, abs=0.5)


def test_cancel_raises_promptly() -> None:
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3

    gen = train([_recording(i) for i in range(3)], replace(FAST, epochs=50), stop)
    with pytest.raises(Cancelled):
        run_to_end(gen)
    assert calls == 4  # raised at the first poll that said stop


def test_finish_on_request_keeps_the_best_epoch_so_far_calibrated() -> None:
    """ "Stop and keep the best so far": the epoch under way ends at the next batch, is
    validated, and the run returns a calibrated model from the best epoch it saw."""
    recordings = [_recording(i) for i in range(3)]
    reports: list[EpochReport] = []
    gen = train(
        recordings,
        replace(FAST, epochs=50, patience=50, alarm_budget=0.05),
        should_finish=lambda: sum(r.end_of_epoch for r in reports) >= 2,
    )
    result = run_to_end(gen, reports.append)
    assert result.finished_on_request and not result.stopped_early
    assert len(result.history) == 2 and 1 <= result.best_epoch <= 2
    assert result.model.metrics["calibration"]["budget"] == 0.05
    assert 0.5 <= result.model.threshold <= 1.0

    # Asked before the first epoch ends: one batch is trained and validated, a model comes.
    polls = 0

    def finish_now() -> bool:
        nonlocal polls
        polls += 1
        return True

    first = run_to_end(
        train(recordings, replace(FAST, epochs=50, ensemble=2), should_finish=finish_now)
    )
    assert first.finished_on_request and len(first.history) == 1
    assert first.history[0].end_of_epoch and first.best_epoch == 1
    assert first.model.config.members == 1  # the second member never started
    assert polls >= 1


def test_same_seed_same_result() -> None:
    recordings = [_recording(i, n=300) for i in range(3)]
    options = replace(FAST, epochs=2)
    a = run_to_end(train(recordings, options))
    b = run_to_end(train(recordings, options))
    c = run_to_end(train(recordings, replace(options, seed=1)))
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]
    for (name, pa), pb in zip(
        a.model.module.state_dict().items(), b.model.module.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), name
    assert [r.train_loss for r in a.history] != [r.train_loss for r in c.history]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_cuda_with_mixed_precision_and_returns_a_cpu_model() -> None:
    result = run_to_end(train([_recording(i) for i in range(5)], replace(FAST, device="cuda")))
    model = result.model
    assert model.device.startswith("CUDA")
    assert next(model.module.parameters()).device.type == "cpu"
    assert model.metrics["accuracy"] > 0.85
    assert all(np.isfinite(r.train_loss) for r in result.history)


def test_augmentation_options_change_training_and_stay_seeded() -> None:
    recordings = [_recording(i, n=300) for i in range(3)]
    plain = replace(FAST, epochs=1)
    augmented = replace(plain, jitter=0.2, scaling=0.2)
    base = run_to_end(train(recordings, plain)).history[0].train_loss
    first = run_to_end(train(recordings, augmented)).history[0].train_loss
    again = run_to_end(train(recordings, augmented)).history[0].train_loss
    assert first == again
    assert first != base


def _at_level(seed: int, level: float, path: str) -> Recording:
    """Like ``_recording``, with channel b's normal operating level moved to ``level``."""
    rec = _recording(seed, path=path)
    data = rec.data.copy()
    data[:, 1] += level
    return Recording.from_arrays(data, ["a", "b"], labels=rec.labels, path=path)


def _false_alarm_and_recall(model, rec: Recording) -> tuple[float, float]:
    t, p = _window_predictions(model, rec, stride=2)
    return float(p[t == 0].mean()), float(p[t == 1].mean())


@pytest.mark.slow
def test_relative_inputs_carry_over_to_an_unseen_operating_level() -> None:
    """Training recordings run at levels 0, 2 and 4 (a +3 fault at level 0 looks like normal
    at level 4); a recording at level 8 was never seen. The deviation from the recording's
    median still separates the classes there (faults are short here), so the relative model
    must not flag the whole recording; the levels-only model has nothing that carries over."""
    torch.set_num_threads(1)
    training = [_at_level(i, 2.0 * (i % 3), f"l{i}.csv") for i in range(6)]
    unseen = _at_level(42, 8.0, "unseen.csv")
    options = replace(FAST, epochs=10, patience=4, relative_inputs=True, feature_scales=())
    relative = run_to_end(train(training, options)).model
    far, recall = _false_alarm_and_recall(relative, unseen)
    assert relative.config.relative_inputs and relative.norm_mean.shape == (4,)
    assert far < 0.25 and recall > 0.7  # the levels-only model: ~1.0 and 1.0 (seeds 0-2)
    levels_only = run_to_end(train(training, replace(options, relative_inputs=False))).model
    far_levels, recall_levels = _false_alarm_and_recall(levels_only, unseen)
    assert far_levels > far + 0.2 or recall_levels < recall - 0.2


@pytest.mark.parametrize(("option", "value"), [("channel_dropout", 0.5), ("ema_epochs", 1.0)])
def test_training_options_change_the_model_and_are_checked(option: str, value: float) -> None:
    torch.set_num_threads(1)
    recordings = [_recording(i) for i in range(3)]
    options = replace(FAST, epochs=1)
    default = run_to_end(train(recordings, options)).model
    changed = run_to_end(train(recordings, replace(options, **{option: value}))).model
    weights = default.module.input_proj.weight
    assert not torch.equal(weights, changed.module.input_proj.weight)
    bad = {"channel_dropout": 1.0, "ema_epochs": -1.0}[option]
    with pytest.raises(TrainingError, match=option):
        run_to_end(train(recordings, replace(options, **{option: bad})))


def test_training_leaves_pythons_and_numpys_global_random_state_alone() -> None:
    import random

    torch.set_num_threads(1)
    random.seed(123)
    np.random.seed(123)
    py_state, np_state = random.getstate(), np.random.get_state()[1].copy()
    run_to_end(train([_recording(i) for i in range(3)], replace(FAST, epochs=1)))
    assert random.getstate() == py_state
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)


def test_levers_train_into_one_usable_model(tmp_path: Path) -> None:
    # Every lever at once on the tiny task: an ensemble of two members with the feature
    # front-end, normal-referenced normalisation, run-to-run augmentation and calibration
    # against shifted normal windows; the result saves, loads and predicts like any model.
    torch.set_num_threads(1)
    recordings = [_recording(i, n=400) for i in range(4)]
    options = replace(
        FAST, epochs=2, ensemble=2, feature_scales=(4, 8), normalise_on="normal",
        augment_offset=0.5, time_warp=0.2, mix_normal=0.2, scaling=0.05, jitter=0.05,
        relative_inputs=False, calibration_offset=0.5, calibration_copies=2, alarm_budget=0.05,
    )  # fmt: skip
    reports: list[EpochReport] = []
    result = run_to_end(train(recordings, options), reports.append)
    model = result.model
    assert len(model.module.members) == 2 and model.config.feature_scales == (4, 8)
    # Reports count epochs over both members, in order.
    assert [r.epoch for r in reports if r.end_of_epoch] == list(range(1, len(result.history) + 1))
    calib = model.metrics["calibration"]
    assert calib["shifted_windows"] == 2 * calib["normal_windows"] > 0
    assert 0.5 <= model.threshold <= 1.0 and model.alarm_budget == 0.05
    # Normalisation referenced to the normal rows: they sit at 0 with spread 1.
    normal_rows = np.concatenate([r.data[r.labels == "normal"] for r in recordings])
    z = (normal_rows - model.norm_mean) / model.norm_std
    assert np.all(np.abs(z.mean(axis=0)) < 0.2) and np.all(np.abs(z.std(axis=0) - 1) < 0.2)
    save_model(model, tmp_path / "m.flmodel")
    loaded = load_model(tmp_path / "m.flmodel")
    truth, pred = _window_predictions(loaded, _recording(99), stride=4)
    assert len(pred) == len(truth) > 0 and loaded.threshold == model.threshold


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"alarm_budget": 1.0}, "alarm budget"),
        ({"ensemble": 0}, "ensemble"),
        ({"time_warp": -0.1}, "time_warp"),
        ({"normalise_on": "faults"}, "normalise_on"),
        ({"feature_scales": (1,)}, "feature_scales"),
    ],
)
def test_lever_settings_are_checked(change: dict, needle: str) -> None:
    with pytest.raises(TrainingError, match=needle):
        run_to_end(train([_recording(i, n=300) for i in range(3)], replace(FAST, **change)))
