"""Scanning (shapes, causality, striding, cancel), the one decision rule, and the per-row
predictions table."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import torch

from faultlens.core.checkpoint import TrainedModel
from faultlens.core.errors import ChannelMismatchError
from faultlens.core.model import AttentionLSTM, ModelConfig
from faultlens.core.options import ScanOptions
from faultlens.core.predictions import predictions_frame, write_predictions_csv
from faultlens.core.progress import Cancelled, Progress, run_to_end
from faultlens.core.recording import Recording
from faultlens.core.scan import ScanResult, scan

CPU = ScanOptions(device="cpu")


def random_model(
    channels: tuple[str, ...] = ("a", "b", "c"),
    classes: tuple[str, ...] = ("normal", "fault"),
    window: int = 12,
    stride: int = 4,
    seed: int = 0,
) -> TrainedModel:
    torch.manual_seed(seed)
    config = ModelConfig(n_channels=len(channels), n_classes=len(classes), hidden=8, heads=2)
    module = AttentionLSTM(config).eval()
    return TrainedModel(
        module=module,
        config=config,
        channels=channels,
        class_names=classes,
        norm_mean=np.zeros(len(channels), np.float32),
        norm_std=np.ones(len(channels), np.float32),
        window=window,
        stride=stride,
    )


def noise_recording(n: int, channels: tuple[str, ...] = ("a", "b", "c"), seed: int = 1):
    data = np.random.default_rng(seed).normal(size=(n, len(channels))).astype(np.float32)
    return Recording.from_arrays(data, channels)


def run_scan(model, rec, options=CPU) -> ScanResult:
    return run_to_end(scan(model, rec, options))


def test_per_row_outputs_shapes_and_no_prediction_before_first_window() -> None:
    model = random_model(classes=("normal", "x", "y"))
    rec = noise_recording(100)
    reports: list[Progress] = []
    result = run_to_end(scan(model, rec, CPU), reports.append)
    n, k, t = 100, 3, model.window
    assert result.probabilities.shape == (n, k)
    assert result.predicted.shape == (n,) and result.predicted.dtype == np.int16
    assert result.fault_probability.shape == (n,)
    assert result.attention.shape == (n,)
    assert result.attention_heads.shape == (model.config.heads, n)
    assert result.hotspots.shape == (n,)
    assert np.isnan(result.probabilities[: t - 1]).all()
    assert (result.predicted[: t - 1] == -1).all()
    assert np.isnan(result.fault_probability[: t - 1]).all()
    assert not np.isnan(result.probabilities[t - 1 :]).any()
    assert (result.predicted[t - 1 :] >= 0).all()
    np.testing.assert_allclose(result.probabilities[t - 1 :].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        result.fault_probability[t - 1 :], 1.0 - result.probabilities[t - 1 :, 0], rtol=1e-6
    )
    # Every row is covered by at least one window, so explanations exist everywhere.
    assert not np.isnan(result.attention).any() and (result.attention >= 0).all()
    np.testing.assert_allclose(result.attention, result.attention_heads.mean(axis=0), rtol=1e-6)
    assert result.windows == n - t + 1 and result.stride == 1
    assert reports[0].done == 0 and reports[-1].done == reports[-1].total == result.windows


def test_single_window_explanations_match_the_forward_pass() -> None:
    model = random_model()
    rec = noise_recording(model.window)
    result = run_scan(model, rec)
    with torch.inference_mode():
        out = model.module(torch.from_numpy(rec.data[None]))
    received = out.attention.mean(dim=2)[0].numpy()  # (heads, T)
    np.testing.assert_allclose(result.attention_heads, received, rtol=1e-5, atol=1e-7)
    # Each of the H feature dims took its max on exactly one row.
    assert result.hotspots.sum() == pytest.approx(model.config.hidden)
    expected = np.bincount(out.hotspots[0].numpy(), minlength=model.window)
    np.testing.assert_array_equal(result.hotspots, expected)
    probs = torch.softmax(out.logits, dim=1)[0].numpy()
    np.testing.assert_allclose(result.probabilities[-1], probs, rtol=1e-5)


def test_scan_is_causal_a_fault_cannot_act_before_it_happens() -> None:
    model = random_model(seed=3)
    clean = noise_recording(200)
    r = 120
    faulty_data = clean.data.copy()
    faulty_data[r:, 1] += 8.0  # a step fault from row r on
    faulty = Recording.from_arrays(faulty_data, clean.channels)
    a, b = run_scan(model, clean), run_scan(model, faulty)
    np.testing.assert_array_equal(a.probabilities[:r], b.probabilities[:r])
    np.testing.assert_array_equal(a.fault_probability[:r], b.fault_probability[:r])
    assert not np.allclose(a.fault_probability[r:], b.fault_probability[r:])


def test_batching_does_not_change_outputs() -> None:
    model = random_model()
    rec = noise_recording(90)
    big = run_scan(model, rec, ScanOptions(device="cpu", batch_size=256))
    small = run_scan(model, rec, ScanOptions(device="cpu", batch_size=7))
    for name in ("probabilities", "attention_heads", "hotspots"):
        np.testing.assert_allclose(getattr(small, name), getattr(big, name), rtol=1e-5, atol=1e-7)


def test_strided_scan_holds_the_last_output_and_reaches_the_end() -> None:
    model = random_model(window=10, stride=4)
    rec = noise_recording(47)
    # Asking for more than the model's stride is clamped to it.
    result = run_scan(model, rec, ScanOptions(device="cpu", stride=99))
    assert result.stride == 4
    ends = [9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 46]  # the last window ends on row 46
    assert result.windows == len(ends)
    full = run_scan(model, rec)
    for i, end in enumerate(ends):
        np.testing.assert_allclose(result.probabilities[end], full.probabilities[end], rtol=1e-5)
        held_until = ends[i + 1] if i + 1 < len(ends) else 47
        for row in range(end, held_until):
            np.testing.assert_array_equal(result.probabilities[row], result.probabilities[end])


def test_default_stride_grows_only_for_very_long_recordings(monkeypatch) -> None:
    import faultlens.core.scan as scan_mod

    model = random_model(window=12, stride=4)
    rec = noise_recording(100)  # 89 full windows
    assert run_scan(model, rec, ScanOptions(device="cpu")).stride == 1
    monkeypatch.setattr(scan_mod, "AUTO_MAX_WINDOWS", 30)
    assert run_scan(model, rec, ScanOptions(device="cpu")).stride == 3  # ceil(89 / 30)
    monkeypatch.setattr(scan_mod, "AUTO_MAX_WINDOWS", 5)
    assert run_scan(model, rec, ScanOptions(device="cpu")).stride == 4  # the model's stride
    assert run_scan(model, rec, ScanOptions(device="cpu", stride=1)).stride == 1


def test_channel_mismatch_names_missing_and_extra_before_scanning() -> None:
    model = random_model(channels=("a", "b", "c"))
    rec = noise_recording(40, channels=("a", "c", "z"))
    with pytest.raises(ChannelMismatchError) as info:
        next(scan(model, rec, CPU))
    assert info.value.missing == ["b"] and info.value.extra == ["z"]
    assert "b" in str(info.value) and "\n" not in str(info.value)


def test_channels_are_reordered_to_the_models_order() -> None:
    model = random_model(channels=("a", "b", "c"))
    rec = noise_recording(60)
    shuffled = Recording.from_arrays(rec.data[:, [2, 0, 1]], ["c", "a", "b"])
    np.testing.assert_array_equal(
        run_scan(model, rec).probabilities, run_scan(model, shuffled).probabilities
    )


def test_cancel_raises_and_leaves_the_model_as_it_was() -> None:
    model = random_model()
    rec = noise_recording(2000)
    model.module.train()
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        run_to_end(scan(model, rec, ScanOptions(device="cpu", batch_size=16), stop))
    assert len(calls) == 3
    assert model.module.training  # mode restored


def test_recording_shorter_than_a_window_has_no_predictions() -> None:
    model = random_model(window=12)
    result = run_scan(model, noise_recording(5))
    assert result.windows == 0 and result.events == []
    assert (result.predicted == -1).all() and np.isnan(result.fault_probability).all()
    assert np.isnan(result.attention).all()


# ---------------------------------------------------------------- per-row predictions
def test_predictions_frame_columns(tmp_path) -> None:
    model = random_model(window=12)
    time = 1_600_000_000.0 + np.arange(30, dtype=np.float64)
    data = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    rec = Recording.from_arrays(data, ["a", "b", "c"], time=time, time_kind="datetime")
    result = run_scan(model, rec)
    frame = predictions_frame(result, rec)
    assert list(frame.columns) == [
        "row", "time", "predicted_class", "fault_probability",
        "p_normal", "p_fault", "attention", "hotspots",
    ]  # fmt: skip
    assert frame["time"].iloc[5] == rec.format_time(5)
    assert (frame["predicted_class"].iloc[:11] == "").all()
    assert set(frame["predicted_class"].iloc[11:]) <= {"normal", "fault"}
    # Fractional times with a UTC offset: the same instants as format_time.
    rec.time = rec.time + 0.25
    rec.utc_offset_s = -5400
    frac = predictions_frame(result, rec)["time"]
    for row in (0, 17, 29):
        assert datetime.fromisoformat(frac.iloc[row]) == datetime.fromisoformat(
            rec.format_time(row)
        )
    write_predictions_csv(result, rec, tmp_path / "p.csv")
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert len(lines) == 31
    # No class and no probability before the first full window: empty cells.
    assert lines[1].split(",")[2:4] == ["", ""]
    assert pd.read_csv(tmp_path / "p.csv")["fault_probability"].iloc[11:].notna().all()


def test_predictions_csv_writes_formula_like_class_names_as_text(tmp_path) -> None:
    hostile = "=cmd|'/c calc'!A0"
    model = random_model(classes=("normal", hostile))
    with torch.no_grad():  # every window is the hostile class
        model.module.classifier[-1].bias.copy_(torch.tensor([-20.0, 20.0]))
    data = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    rec = Recording.from_arrays(data, ["a", "b", "c"])
    result = run_scan(model, rec)
    write_predictions_csv(result, rec, tmp_path / "p.csv")
    column = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)["predicted_class"]
    assert list(column.iloc[11:].unique()) == ["'" + hostile]  # text, not a formula
    # The in-memory frame (GUI, API) keeps the class name as it is.
    assert predictions_frame(result, rec)["predicted_class"].iloc[-1] == hostile


# ---------------------------------------------------------------- the one decision rule
def test_predicted_class_follows_the_models_threshold_everywhere(tmp_path) -> None:
    # A multi-class model whose stored threshold is not 0.5 (as a calibrated one is): a row's
    # predicted class is a fault exactly when its fault probability reaches the threshold
    # stored with the scan, in the scan result, the predictions file and the events.
    model = random_model(classes=("normal", "leak", "valve", "drift"), seed=3)
    rec = noise_recording(400, seed=5)
    fp = run_scan(model, rec).fault_probability
    model.threshold = float(np.nanquantile(fp, 0.6))  # between the rows' scores
    result = run_scan(model, rec)
    assert result.options.threshold == model.threshold == result.threshold
    has = result.predicted >= 0
    fault = result.predicted > 0
    assert fault[has].any() and (~fault[has]).any()  # both sides of the threshold occur
    assert np.array_equal(fault[has], result.fault_probability[has] >= model.threshold)
    # A fault row's class is its most probable fault class, not the plain arg-max.
    rows = np.flatnonzero(fault)
    best_fault = 1 + np.argmax(result.probabilities[rows, 1:], axis=1)
    assert np.array_equal(result.predicted[rows], best_fault)
    frame = predictions_frame(result, rec)
    flagged = frame["predicted_class"].isin(["leak", "valve", "drift"]).to_numpy()
    assert np.array_equal(flagged[has], fault[has])
    # Events are stretches of flagged rows: each starts and ends on a fault row.
    for e in result.events:
        assert fault[e.start_row] and fault[e.end_row]
    # An explicit threshold overrides the model's, and is what the result carries.
    explicit = run_scan(model, rec, ScanOptions(device="cpu", threshold=0.99))
    assert explicit.threshold == 0.99
    assert np.array_equal(explicit.predicted[has] > 0, explicit.fault_probability[has] >= 0.99)
