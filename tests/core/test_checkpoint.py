"""The model file: round trip, refusal of pickles and damaged files, channel checks."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from faultlens.core.checkpoint import TrainedModel, load_model, save_model
from faultlens.core.errors import ChannelMismatchError, ModelFileError
from faultlens.core.model import AttentionLSTM, EnsembleLSTM, ModelConfig, build_model
from faultlens.core.recording import Recording

CHANNELS = ("pressure", "flow", "temp")


# The config of ``_trained``'s model, as a model file stores it.
SMALL_CONFIG = {"n_channels": 3, "n_classes": 2, "hidden": 8, "heads": 2, "classifier_hidden": 8}


def _trained(seed: int = 0) -> TrainedModel:
    torch.manual_seed(seed)
    config = ModelConfig(**SMALL_CONFIG)
    return TrainedModel(
        module=AttentionLSTM(config).eval(),
        config=config,
        channels=CHANNELS,
        class_names=("normal", "leak"),
        norm_mean=np.array([1.5, -2.0, 30.25], dtype=np.float32),
        norm_std=np.array([0.1, 3.0, 1.0 / 3.0], dtype=np.float32),
        window=16,
        stride=4,
        label_column="label",
        seed=seed,
        training_data=[{"file": "a.csv", "sha256": "ab" * 32, "rows": 100}],
        versions={"faultlens": "0.1.0", "torch": torch.__version__},
        history=[{"epoch": 1, "train_loss": 0.5, "val_loss": 0.4}],
        metrics={"accuracy": 0.9, "confusion_matrix": [[9, 1], [0, 5]]},
        created="2026-11-22T20:00:00+00:00",
    )


def _rewrite_metadata(src: Path, dst: Path, change: dict, remove: tuple[str, ...] = ()) -> None:
    """Write a copy of a model file with its FaultLens metadata updated by ``change`` and the
    keys ``remove`` taken out."""
    blob = src.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["faultlens"])
    meta.update(change)
    for key in remove:
        del meta[key]
    header["__metadata__"]["faultlens"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    dst.write_bytes(struct.pack("<Q", len(raw)) + raw + blob[8 + n :])


def test_round_trip_gives_identical_predictions_and_fingerprint(tmp_path: Path) -> None:
    model = _trained()
    path = tmp_path / "m.flmodel"
    save_model(model, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.flmodel"]  # no temp files left
    loaded = load_model(path)
    x = torch.randn(5, 16, 3)
    with torch.no_grad():
        a, b = model.module(x), loaded.module(x)
    assert torch.equal(a.logits, b.logits)
    assert torch.equal(a.attention, b.attention)
    assert torch.equal(a.hotspots, b.hotspots)
    assert loaded.fingerprint == model.fingerprint
    assert loaded.metadata() == model.metadata()
    assert loaded.channels == CHANNELS and loaded.class_names == ("normal", "leak")
    np.testing.assert_array_equal(loaded.norm_std, model.norm_std)
    assert not loaded.module.training


def test_fingerprint_changes_with_weights_and_metadata() -> None:
    a, b = _trained(0), _trained(1)
    assert a.fingerprint != b.fingerprint
    c = _trained(0)
    c.window = 32
    assert c.fingerprint != a.fingerprint


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (marker.touch, ())

    for name, write in (
        ("evil.pkl", lambda p: p.write_bytes(pickle.dumps(Evil()))),
        ("evil.pt", lambda p: torch.save({"w": Evil()}, p)),
    ):
        path = tmp_path / name
        write(path)
        with pytest.raises(ModelFileError, match="never loads pickled files") as err:
            load_model(path)
        assert "\n" not in str(err.value) and name in str(err.value)
        assert not marker.exists()


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.flmodel"
    save_model(_trained(), good)
    blob = good.read_bytes()
    for cut in (4, 20, len(blob) // 2, len(blob) - 1):
        bad = tmp_path / f"cut{cut}.flmodel"
        bad.write_bytes(blob[:cut])
        with pytest.raises(ModelFileError) as err:
            load_model(bad)
        message = str(err.value)
        assert bad.name in message and "\n" not in message
        assert "truncated" in message or "too short" in message or "not a FaultLens" in message


def test_random_bytes_missing_file_and_folder_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.flmodel"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelFileError, match=r"junk\.flmodel"):
        load_model(junk)
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "absent.flmodel")
    with pytest.raises(ModelFileError, match="folder"):
        load_model(tmp_path)


def test_future_format_version_asks_to_update(tmp_path: Path) -> None:
    good = tmp_path / "good.flmodel"
    save_model(_trained(), good)
    future = tmp_path / "future.flmodel"
    _rewrite_metadata(good, future, {"format_version": 2})
    with pytest.raises(ModelFileError, match=r"newer FaultLens.*update"):
        load_model(future)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"channels": ["a", "b"]}, "channels"),
        ({"norm_std": [1.0, 0.0, 1.0]}, "norm_std"),
        ({"window": "16"}, "window"),
        ({"config": {"n_channels": 3, "n_classes": 2, "hidden": 16, "heads": 2}}, "shape"),
        # Relative inputs double the input width: the stored statistics no longer fit.
        ({"config": {**SMALL_CONFIG, "relative_inputs": True}}, "norm_mean"),
        ({"config": {**SMALL_CONFIG, "relative_inputs": "yes"}}, "relative_inputs"),
        # An ensemble or a feature front-end has other weights than the file holds.
        ({"config": {**SMALL_CONFIG, "members": 2}}, "weights do not match"),
        ({"config": {**SMALL_CONFIG, "feature_scales": [4]}}, "shape"),
        ({"config": {**SMALL_CONFIG, "feature_scales": [1]}}, "feature_scales"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"alarm_budget": "1%"}, "alarm_budget"),
    ],
)
def test_inconsistent_metadata_is_refused(tmp_path: Path, change: dict, needle: str) -> None:
    good = tmp_path / "good.flmodel"
    save_model(_trained(), good)
    bad = tmp_path / "bad.flmodel"
    _rewrite_metadata(good, bad, change)
    with pytest.raises(ModelFileError, match=needle):
        load_model(bad)


def test_safetensors_without_faultlens_metadata_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ModelFileError, match="not a FaultLens model"):
        load_model(path)


def test_save_failure_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "m.flmodel"
    save_model(_trained(0), path)
    before = path.read_bytes()
    broken = _trained(1)
    broken.metrics = {"bad": float("nan")}  # not JSON: saving must fail before replacing
    with pytest.raises(ValueError):
        save_model(broken, path)
    assert path.read_bytes() == before


def test_channel_check_names_missing_and_extra() -> None:
    model = _trained()
    rec = Recording.from_arrays(
        np.zeros((20, 3), dtype=np.float32), ["flow", "vibration", "pressure"], path="r.csv"
    )
    with pytest.raises(ChannelMismatchError) as err:
        model.check_channels(rec)
    assert err.value.missing == ["temp"]
    assert err.value.extra == ["vibration"]
    message = str(err.value)
    assert "temp" in message and "vibration" in message and "r.csv" in message
    assert "\n" not in message


def test_select_channels_reorders_into_model_order() -> None:
    model = _trained()
    data = np.arange(40, dtype=np.float32).reshape(10, 4)
    rec = Recording.from_arrays(data, ["temp", "extra", "pressure", "flow"])
    model.check_channels(rec)  # extra channel is fine
    selected = model.select_channels(rec)
    np.testing.assert_array_equal(selected, data[:, [2, 3, 0]])
    normalised = model.normalised_input(rec)
    np.testing.assert_allclose(
        normalised,
        np.clip((data[:, [2, 3, 0]] - model.norm_mean) / model.norm_std, -50, 50),
        rtol=1e-5,
    )


def test_header_length_with_low_byte_0x80_is_not_taken_for_a_pickle(tmp_path):
    """The first byte of a safetensors file is the low byte of its header length: 0x80 in
    about 1 file of 256. Such a file must load like any other."""
    import json
    import struct

    from faultlens.core.checkpoint import _read_header

    header = {"__metadata__": {"k": "v"}}
    text = json.dumps(header).encode()
    text += b" " * ((0x180 - len(text)) % 256 or 256)  # pad so the length ends in 0x80
    assert len(text) % 256 == 0x80
    blob = struct.pack("<Q", len(text)) + text
    assert blob[0] == 0x80
    assert _read_header(tmp_path / "m.flmodel", blob)["__metadata__"] == {"k": "v"}


def test_relative_model_round_trips_and_a_stretch_sees_the_whole_recording(tmp_path) -> None:
    torch.manual_seed(3)
    config = ModelConfig(**SMALL_CONFIG, relative_inputs=True)
    model = TrainedModel(
        module=AttentionLSTM(config).eval(), config=config, channels=CHANNELS,
        class_names=("normal", "leak"), norm_mean=np.zeros(6, np.float32),
        norm_std=np.full(6, 2.0, np.float32), window=8, stride=2,
    )  # fmt: skip
    path = tmp_path / "rel.flmodel"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.config.relative_inputs and loaded.config.input_size == 6
    data = np.random.default_rng(1).normal(10.0, 1.0, size=(60, 3)).astype(np.float32)
    rec = Recording.from_arrays(data, list(CHANNELS))
    whole = loaded.normalised_input(rec)
    assert whole.shape == (60, 6)
    np.testing.assert_allclose(whole[:, 3:] * 2.0, data - np.median(data, axis=0), atol=1e-5)
    # Attribution re-encodes stretches: with the whole recording's medians it must see
    # exactly what the scan saw.
    stretch = loaded.model_input(data[20:30], loaded.input_medians(data))
    np.testing.assert_array_equal(stretch, whole[20:30])
    x = torch.from_numpy(whole[None, :8])
    torch.testing.assert_close(loaded.module(x).logits, model.module(x).logits)


def test_ensemble_with_features_and_threshold_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = ModelConfig(**SMALL_CONFIG, feature_scales=(4, 8), members=3)
    model = _trained()
    model.config, model.module = config, build_model(config).eval()
    model.threshold, model.alarm_budget = 0.8125, 0.02
    path = tmp_path / "e.flmodel"
    save_model(model, path)
    loaded = load_model(path)
    assert isinstance(loaded.module, EnsembleLSTM) and len(loaded.module.members) == 3
    assert loaded.config == config and loaded.fingerprint == model.fingerprint
    assert (loaded.threshold, loaded.alarm_budget) == (0.8125, 0.02)
    x = torch.randn(5, 16, 3)
    with torch.no_grad():
        a, b = model.module(x), loaded.module(x)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.hotspots, b.hotspots)
    # The ensemble reads as one model: mean probabilities, row-stochastic mean attention,
    # every member's hotspots side by side.
    with torch.no_grad():
        members = [m(x) for m in loaded.module.members]
    mean = torch.stack([torch.softmax(o.logits, 1) for o in members]).mean(0)
    torch.testing.assert_close(torch.softmax(b.logits, 1), mean)
    torch.testing.assert_close(b.attention.sum(-1), torch.ones(5, 2, 16))
    assert b.hotspots.shape == (5, 3 * SMALL_CONFIG["hidden"])


def test_a_model_file_from_before_calibration_keeps_threshold_one_half(tmp_path: Path) -> None:
    path = tmp_path / "old.flmodel"
    save_model(_trained(), path)
    old = tmp_path / "older.flmodel"
    _rewrite_metadata(path, old, {}, remove=("threshold", "alarm_budget"))
    loaded = load_model(old)
    assert loaded.threshold == 0.5 and loaded.alarm_budget is None
