"""The model file: safetensors weights + JSON metadata in one file. Never unpickles.

Layout (extension ``.flmodel``): a standard safetensors file. Its header's ``__metadata__``
(a str -> str map) holds one key, ``"faultlens"``, whose value is a JSON object with
``format_version`` and everything needed to reuse the model (see ``TrainedModel.metadata``).
Loading parses that header and the tensors with ``safetensors`` only, so a file can never
run code, and validates every field before building the model.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from safetensors import SafetensorError

from faultlens.core.atomic import atomic_write_bytes
from faultlens.core.errors import ChannelMismatchError, ModelFileError
from faultlens.core.model import AttentionLSTM, EnsembleLSTM, ModelConfig, build_model
from faultlens.core.recording import Recording
from faultlens.core.windows import channel_reference, model_input

FORMAT_VERSION = 1
MODEL_EXTENSION = ".flmodel"
METADATA_KEY = "faultlens"
# A safetensors header is JSON of a few KB; refuse absurd sizes before reading them.
MAX_HEADER_BYTES = 64 * 1024 * 1024


@dataclass
class TrainedModel:
    """A model plus everything needed to reuse it on another recording."""

    module: AttentionLSTM | EnsembleLSTM  # in eval mode
    config: ModelConfig
    channels: tuple[str, ...]
    class_names: tuple[str, ...]  # index 0 is the normal class
    norm_mean: np.ndarray  # (config.input_size,) float32
    norm_std: np.ndarray  # (config.input_size,) float32
    window: int
    stride: int
    label_column: str | None = None
    seed: int = 0
    # [{"file": name, "sha256": hash, "rows": n}, ...]; since retraining with reviewed labels
    # also "path", "file_sha256", "labels", "file_class", "import_options"
    # (``faultlens.core.training.training_file_entry``)
    training_data: list[dict[str, Any]] = field(default_factory=list)
    # The run's TrainOptions as JSON ({} in files written before they were recorded).
    train_options: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    history: list[dict[str, Any]] = field(default_factory=list)
    # {"accuracy", "macro_f1", "per_class": {name: {precision, recall, f1, support}},
    #  "confusion_matrix": [[...]], "false_alarm_rate", "missed_alarm_rate"}
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""  # ISO-8601 UTC
    # The decision rule (one everywhere: scan, events, predictions, evaluation, reports): a
    # row is a fault when its fault probability (1 - P(normal)) reaches ``threshold``, and
    # then of its most probable fault class. Training calibrates it to ``alarm_budget``, the
    # share of held-out normal windows allowed to alarm (None: not calibrated, 0.5).
    threshold: float = 0.5
    alarm_budget: float | None = None
    # The file it was loaded from or last saved to (None: not on disk). Not part of the
    # model's content: a review remembers it to offer the same model again.
    path: Path | None = field(default=None, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """sha256 of the weights + metadata, stable across save/load."""
        digest = hashlib.sha256()
        for name, tensor in sorted(_state_tensors(self.module).items()):
            digest.update(name.encode())
            digest.update(str(tensor.dtype).encode())
            digest.update(str(tuple(tensor.shape)).encode())
            digest.update(tensor.numpy().tobytes())
        digest.update(_metadata_json(self.metadata()).encode())
        return digest.hexdigest()

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def metadata(self) -> dict[str, Any]:
        """The JSON-serialisable description stored beside the weights."""
        return {
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "channels": list(self.channels),
            "class_names": list(self.class_names),
            "norm_mean": [float(v) for v in np.asarray(self.norm_mean, dtype=np.float32)],
            "norm_std": [float(v) for v in np.asarray(self.norm_std, dtype=np.float32)],
            "window": int(self.window),
            "stride": int(self.stride),
            "label_column": self.label_column,
            "seed": int(self.seed),
            "training_data": list(self.training_data),
            "versions": dict(self.versions),
            "device": self.device,
            "history": list(self.history),
            "metrics": dict(self.metrics),
            "created": self.created,
            "threshold": float(self.threshold),
            "alarm_budget": None if self.alarm_budget is None else float(self.alarm_budget),
            # Only when known: an older file's metadata, and so its fingerprint, is unchanged.
            **({"train_options": dict(self.train_options)} if self.train_options else {}),
        }

    def check_channels(self, recording: Recording) -> None:
        """Raise ChannelMismatchError if ``recording`` lacks any of the model's channels.

        Extra channels are fine (ignored); the error lists them too, so the user sees the
        whole picture.
        """
        present = set(recording.channels)
        missing = [c for c in self.channels if c not in present]
        if not missing:
            return
        wanted = set(self.channels)
        extra = [c for c in recording.channels if c not in wanted]
        extra_text = f"; channels the model does not use: {', '.join(extra)}" if extra else ""
        raise ChannelMismatchError(
            f"{recording.path}: the model needs channel(s) {', '.join(missing)} that the "
            f"recording lacks{extra_text}; open a recording with these columns or use a "
            "model trained on this recording's channels",
            missing=missing,
            extra=extra,
        )

    def select_channels(self, recording: Recording) -> np.ndarray:
        """The recording's data reordered into the model's channel order: (N, C_model)
        float32 with NaN kept. Calls ``check_channels`` first."""
        self.check_channels(recording)
        index = {name: i for i, name in enumerate(recording.channels)}
        columns = [index[name] for name in self.channels]
        if columns == list(range(len(recording.channels))):
            return recording.data
        return np.ascontiguousarray(recording.data[:, columns])

    def input_medians(self, data: np.ndarray) -> np.ndarray | None:
        """The medians ``model_input`` needs for ``data`` (a whole recording's selected
        channels, (N, C)), or None for a model without relative inputs."""
        if not self.config.relative_inputs:
            return None
        return channel_reference(data, self.config.reference)

    def model_input(self, data: np.ndarray, medians: np.ndarray | None) -> np.ndarray:
        """Rows of selected channels (n, C) -> model input (n, config.input_size), encoded
        and normalised with the training statistics, NaN filled (faultlens.core.windows).
        ``medians`` come from ``input_medians`` over the WHOLE recording, also when ``data``
        is only a stretch of it."""
        return model_input(data, self.norm_mean, self.norm_std, medians)

    def normalised_input(self, recording: Recording) -> np.ndarray:
        """Model input for a whole recording: (N, config.input_size)."""
        data = self.select_channels(recording)
        return self.model_input(data, self.input_medians(data))


def _state_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def _metadata_json(meta: dict[str, Any]) -> str:
    # allow_nan=False: NaN is not JSON; metric code must write None instead.
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=False)


def save_model(model: TrainedModel, path: str | Path) -> None:
    """Write exactly ``path``, atomically (a reader never sees a half-written file)."""
    blob = safetensors.torch.save(
        _state_tensors(model.module), metadata={METADATA_KEY: _metadata_json(model.metadata())}
    )
    atomic_write_bytes(path, blob)
    model.path = Path(path)


def _fail(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: {what}")


def _read_header(path: Path, blob: bytes) -> dict[str, Any]:
    """Parse the safetensors header ourselves, to give precise messages for bad files."""
    if blob[:2] == b"PK":
        raise _fail(
            path,
            "is a PyTorch (torch.save zip) checkpoint, not a FaultLens model; FaultLens never "
            "loads pickled files because they can run code - open a .flmodel file",
        )
    # A pickle starts with PROTO (0x80) and a protocol byte; a safetensors file with its
    # 8-byte header length, whose low byte may be 0x80 too, so the JSON must not follow.
    if (
        blob[:1] == b"\x80"
        and blob[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
        and (blob[8:9] != b"{")
    ):
        raise _fail(
            path,
            "is a Python pickle, not a FaultLens model; FaultLens never loads pickled files "
            "because they can run code - open a .flmodel file",
        )
    if len(blob) < 8:
        raise _fail(
            path,
            f"is too short ({len(blob)} bytes) to be a model file; it is not a "
            "FaultLens model or was cut off while copying - copy it again",
        )
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > MAX_HEADER_BYTES or header_len < 2:
        raise _fail(
            path,
            "is not a FaultLens model file (no valid safetensors header); open a .flmodel file",
        )
    if 8 + header_len > len(blob):
        raise _fail(
            path,
            "is truncated (the header runs past the end of the file); it was cut "
            "off while copying or saving - copy it again",
        )
    try:
        header = json.loads(blob[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _fail(
            path,
            "is not a FaultLens model file (its header is not valid JSON); open a .flmodel file",
        ) from None
    if not isinstance(header, dict):
        raise _fail(path, "is not a FaultLens model file (unexpected header); open a .flmodel file")
    data_len = len(blob) - 8 - header_len
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
        ):
            raise _fail(
                path, f"is corrupt: tensor {name!r} has no valid data offsets; copy the file again"
            )
        if offsets[1] > data_len:
            raise _fail(
                path,
                f"is truncated: tensor {name!r} runs past the end of the file "
                f"({offsets[1]} > {data_len} bytes); copy the file again",
            )
    return header


def _require(meta: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    if key not in meta:
        raise _fail(
            path,
            f"metadata field {key!r} is missing; the file is damaged or was not "
            "written by FaultLens - retrain or ask for the original file",
        )
    value = meta[key]
    # bool is an int subclass: a true/false where a number belongs is still wrong.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, float))):
        raise _fail(
            path,
            f"metadata field {key!r} has the wrong type "
            f"({type(value).__name__}); the file is damaged - retrain or ask for "
            "the original file",
        )
    return value


def load_model(path: str | Path) -> TrainedModel:
    """Read and validate a model file; raises ModelFileError with a user message.

    Uses safetensors only (never ``torch.load`` / pickle): a file cannot run code.
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise _fail(path, "not found; check the path") from None
    except IsADirectoryError:
        raise _fail(path, "is a folder, not a model file; pick a .flmodel file") from None
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc}); check permissions") from None

    header = _read_header(path, blob)
    raw_meta = header.get("__metadata__") or {}
    if not isinstance(raw_meta, dict) or METADATA_KEY not in raw_meta:
        raise _fail(
            path,
            "is a safetensors file but not a FaultLens model (no FaultLens "
            "metadata); open a model trained with FaultLens",
        )
    try:
        meta = json.loads(raw_meta[METADATA_KEY])
    except (TypeError, json.JSONDecodeError):
        raise _fail(
            path,
            "has damaged FaultLens metadata (not valid JSON); retrain or ask for the original file",
        ) from None
    if not isinstance(meta, dict):
        raise _fail(path, "has damaged FaultLens metadata; retrain or ask for the original file")

    version = _require(meta, "format_version", int, path)
    if version > FORMAT_VERSION:
        raise _fail(
            path,
            f"was made by a newer FaultLens (model format {version}, this version "
            f"reads up to {FORMAT_VERSION}); update FaultLens to open it",
        )
    if version < 1:
        raise _fail(path, f"has an invalid model format version {version}; the file is damaged")

    config_dict = _require(meta, "config", dict, path)
    try:
        config = ModelConfig.from_dict(config_dict)
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"has an invalid model config ({exc}); the file is damaged") from None
    channels = _require(meta, "channels", list, path)
    class_names = _require(meta, "class_names", list, path)
    norm_mean = _require(meta, "norm_mean", list, path)
    norm_std = _require(meta, "norm_std", list, path)
    window = _require(meta, "window", int, path)
    stride = _require(meta, "stride", int, path)
    if not all(isinstance(c, str) for c in channels) or len(set(channels)) != len(channels):
        raise _fail(path, "metadata 'channels' must be distinct names; the file is damaged")
    if not all(isinstance(c, str) for c in class_names):
        raise _fail(path, "metadata 'class_names' must be names; the file is damaged")
    if len(channels) != config.n_channels or len(class_names) != config.n_classes:
        raise _fail(
            path,
            f"metadata lists {len(channels)} channels / {len(class_names)} classes "
            f"but the model has {config.n_channels} / {config.n_classes}; the file is "
            "damaged",
        )
    for key, values in (("norm_mean", norm_mean), ("norm_std", norm_std)):
        if len(values) != config.input_size or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise _fail(
                path, f"metadata {key!r} must be {config.input_size} numbers; the file is damaged"
            )
    if any(v <= 0 for v in norm_std):
        raise _fail(path, "metadata 'norm_std' has a value <= 0; the file is damaged")
    if window < 1 or stride < 1:
        raise _fail(
            path, f"metadata window {window} / stride {stride} must be >= 1; the file is damaged"
        )
    label_column = meta.get("label_column")
    if label_column is not None and not isinstance(label_column, str):
        raise _fail(path, "metadata 'label_column' must be text; the file is damaged")

    try:
        tensors = safetensors.torch.load(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise _fail(
            path,
            f"has unreadable weights ({str(exc).splitlines()[0]}); the file is "
            "damaged or truncated - copy it again",
        ) from None
    module = build_model(config)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise _fail(
            path,
            f"weights do not match the model config (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}); the file is damaged",
        )
    for name, tensor in expected.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(tensor.shape) or got.dtype != tensor.dtype:
            raise _fail(
                path,
                f"weight {name!r} has shape {tuple(got.shape)} {got.dtype}, "
                f"expected {tuple(tensor.shape)} {tensor.dtype}; the file is damaged",
            )
        if not torch.isfinite(got).all():
            raise _fail(
                path, f"weight {name!r} contains NaN or infinity; the model is broken - retrain it"
            )
    module.load_state_dict(tensors, strict=True)
    module.eval()

    def _opt(key: str, kind: type, default: Any) -> Any:
        value = meta.get(key, default)
        if not isinstance(value, kind):
            raise _fail(
                path,
                f"metadata field {key!r} has the wrong type "
                f"({type(value).__name__}); the file is damaged",
            )
        return value

    threshold = meta.get("threshold", 0.5)
    if (
        not isinstance(threshold, (int, float))
        or isinstance(threshold, bool)
        or not 0.0 < threshold <= 1.0
    ):
        raise _fail(path, "metadata 'threshold' must be a number in (0, 1]; the file is damaged")
    alarm_budget = meta.get("alarm_budget")
    if alarm_budget is not None and (
        not isinstance(alarm_budget, (int, float))
        or isinstance(alarm_budget, bool)
        or not 0.0 <= alarm_budget < 1.0
    ):
        raise _fail(path, "metadata 'alarm_budget' must be a number in [0, 1); the file is damaged")

    return TrainedModel(
        module=module,
        config=config,
        channels=tuple(channels),
        class_names=tuple(class_names),
        norm_mean=np.asarray(norm_mean, dtype=np.float32),
        norm_std=np.asarray(norm_std, dtype=np.float32),
        window=window,
        stride=stride,
        label_column=label_column,
        seed=_opt("seed", int, 0),
        training_data=_opt("training_data", list, []),
        train_options=_opt("train_options", dict, {}),
        versions=_opt("versions", dict, {}),
        device=_opt("device", str, "cpu"),
        history=_opt("history", list, []),
        metrics=_opt("metrics", dict, {}),
        created=_opt("created", str, ""),
        threshold=float(threshold),
        alarm_budget=None if alarm_budget is None else float(alarm_budget),
        path=path,
    )
