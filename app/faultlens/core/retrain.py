"""Retraining with reviewed labels: the loaded model's own training set, plus the reviews.

A model file records each recording it was trained on (``TrainedModel.training_data``: the
file's path and sha256, the import options, where the labels came from) and the run's
options. Retraining finds those files again - open already, or at their recorded path with
the same content - re-reads and labels each as it was labelled (a recording trained with
reviewed labels gets its review's labels as they are now), adds the recording under review
with its reviewed labels (in place of its earlier copy when it was one of them) and trains
with the loaded model's options. What cannot be found is said by name, so the user can
locate it or go on without it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from faultlens.core.checkpoint import TrainedModel
from faultlens.core.errors import FaultLensError
from faultlens.core.options import TrainOptions
from faultlens.core.recording import ImportOptions, Recording


@dataclass(frozen=True)
class TrainingFile:
    """One recording a model was trained on, as its model file describes it."""

    name: str
    path: Path | None  # None: the model file does not say (older models, in-memory data)
    file_sha256: str  # the file's own content hash ("" when unknown)
    rows: int
    labels: str = "file"  # "file", "reviewed", "class" ("labels": other relabelled copies)
    file_class: str = ""  # the class of every row, for labels == "class"
    import_options: ImportOptions | None = None


@dataclass(frozen=True)
class Located:
    """A training file and where it was found: ``recording`` (open already), ``path`` (to
    read), or neither with ``problem`` saying why, in words for the user."""

    file: TrainingFile
    path: Path | None = None
    recording: Recording | None = None
    problem: str = ""

    @property
    def found(self) -> bool:
        return not self.problem


def training_files(model: TrainedModel) -> list[TrainingFile]:
    """The recordings ``model`` was trained on, from its metadata (entries it cannot read
    are kept with what they say, and will not be found)."""
    out = []
    for entry in model.training_data:
        if not isinstance(entry, dict):
            continue
        raw_path = entry.get("path")
        options = entry.get("import_options")
        out.append(
            TrainingFile(
                name=str(entry.get("file", "?")),
                path=Path(raw_path) if isinstance(raw_path, str) and raw_path else None,
                # Before file hashes were recorded, "sha256" was the file's (file labels).
                file_sha256=str(entry.get("file_sha256") or entry.get("sha256") or ""),
                rows=int(entry.get("rows") or 0),
                labels=str(entry.get("labels") or "file"),
                file_class=str(entry.get("file_class") or ""),
                import_options=import_options_from(options) if isinstance(options, dict) else None,
            )
        )
    return out


def import_options_from(raw: dict[str, Any]) -> ImportOptions:
    """ImportOptions from ``training.import_options_dict``'s JSON (unknown keys ignored)."""
    names = {f.name for f in fields(ImportOptions)}
    kept = {k: v for k, v in raw.items() if k in names}
    if kept.get("channels") is not None:
        kept["channels"] = tuple(str(c) for c in kept["channels"])
    return ImportOptions(**kept)


def retrain_options(model: TrainedModel, **overrides: Any) -> TrainOptions:
    """The options ``model`` was trained with: as recorded in its file, else rebuilt from its
    config and metadata (window, stride, seed, network size, inputs, alarm budget); the rest
    are today's defaults. ``overrides`` win (the device of this machine, say)."""
    names = {f.name for f in fields(TrainOptions)}
    values: dict[str, Any] = {}
    if model.train_options:
        values = {k: v for k, v in model.train_options.items() if k in names}
    else:
        config = model.config
        values = {
            "window": model.window,
            "stride": model.stride,
            "seed": model.seed,
            "hidden": config.hidden,
            "heads": config.heads,
            "dropout": config.dropout,
            "classifier_hidden": config.classifier_hidden,
            "feature_scales": tuple(config.feature_scales),
            "relative_inputs": config.relative_inputs,
            "reference": config.reference,
            "ensemble": config.members,
            "alarm_budget": model.alarm_budget,
            "label_column": model.label_column,
        }
    if "feature_scales" in values:
        values["feature_scales"] = tuple(int(v) for v in values["feature_scales"])
    values.update(overrides)
    return TrainOptions(**values)


def file_sha256(path: Path) -> str:
    """The sha256 of a whole file, as the importer computes ``Recording.content_hash``."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(file: TrainingFile, path: Path) -> Located:
    """``file`` looked for at ``path``: found when it is there with the same content."""
    if not path.is_file():
        return Located(file, problem=f"{file.name}: not found at {path}")
    try:
        digest = file_sha256(path)
    except OSError as err:
        return Located(file, problem=f"{file.name}: {path} cannot be read ({err.strerror or err})")
    if file.file_sha256 and digest != file.file_sha256:
        return Located(
            file,
            problem=f"{file.name}: {path} holds other data than the model was trained on "
            "(its content changed since)",
        )
    return Located(file, path=path)


def locate(
    files: Iterable[TrainingFile], open_recordings: Sequence[Recording] = ()
) -> list[Located]:
    """Find each training file: an open recording with the same file content first (no
    reading), else the file at its recorded path if its content is unchanged."""
    by_hash = {r.source_hash: r for r in open_recordings if r.source_hash}
    out = []
    for file in files:
        if file.file_sha256 in by_hash:
            out.append(Located(file, recording=by_hash[file.file_sha256]))
        elif file.path is None:
            out.append(
                Located(
                    file,
                    problem=f"{file.name}: the model file does not record where it was "
                    "(trained before FaultLens recorded paths, or not from a file)",
                )
            )
        else:
            out.append(check_file(file, file.path))
    return out


def load_training_recording(found: Located) -> Recording:
    """The found file read and labelled as it was for training. Raises FaultLensError."""
    from faultlens.core.io import load_recording

    file = found.file
    if found.recording is not None:
        recording = found.recording
    elif found.path is not None:
        recording = load_recording(found.path, file.import_options or ImportOptions())
    else:
        raise FaultLensError(found.problem or f"{file.name}: not found")
    if file.labels == "class" and file.file_class:
        return recording.with_file_class(file.file_class)
    if file.labels == "reviewed":
        from faultlens.core.review import Review
        from faultlens.core.review_labels import recording_with_reviewed_labels

        review = Review.open(recording, read_only=True)
        return recording_with_reviewed_labels(review, recording)
    return recording


def retraining_set(reviewed: Recording, found: Iterable[Located]) -> list[Recording]:
    """The recordings to retrain on: every found training file read and labelled (on the
    calling thread: run it off the GUI thread), then ``reviewed`` (a recording with its
    reviewed labels), which replaces its own earlier copy rather than being added twice."""
    chosen = [
        load_training_recording(f)
        for f in found
        if f.found and f.file.file_sha256 != reviewed.source_hash
    ]
    return [*chosen, reviewed]


def retrained_model_path(loaded: Path) -> Path:
    """A free file name beside ``loaded`` for the retrained model: ``pump-retrained.flmodel``,
    then ``pump-retrained-2.flmodel``, ... (the loaded file is never overwritten)."""
    stem = loaded.stem
    for n in range(1, 10000):
        name = f"{stem}-retrained{'' if n == 1 else f'-{n}'}{loaded.suffix or '.flmodel'}"
        candidate = loaded.with_name(name)
        if not candidate.exists():
            return candidate
    raise FaultLensError(f"{loaded.parent}: no free name for the retrained model; use Save Model…")
