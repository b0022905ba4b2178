"""Retraining with reviewed labels: what a model file records about its training recordings,
finding them again, and the training set and options of a retrain (tiny models)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from faultlens.core import review_file
from faultlens.core.checkpoint import load_model, save_model
from faultlens.core.io import load_recording
from faultlens.core.options import TrainOptions
from faultlens.core.progress import run_to_end
from faultlens.core.retrain import (
    locate,
    retrain_options,
    retrained_model_path,
    retraining_set,
    training_files,
)
from faultlens.core.review import Review
from faultlens.core.review_labels import recording_with_reviewed_labels
from faultlens.core.training import train

TINY = TrainOptions(
    window=8,
    stride=4,
    epochs=1,
    batch_size=64,
    hidden=8,
    heads=2,
    classifier_hidden=8,
    feature_scales=(),
    patience=1,
    device="cpu",
    alarm_budget=None,
    seed=3,
)


@pytest.fixture(autouse=True)
def _review_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(review_file.REVIEW_DIR_ENV, str(tmp_path / "user-data"))


def write_run(path: Path, seed: int, rows: int = 240) -> Path:
    """A CSV: time, two channels, a label column with a leak (level shift on b) mid-run."""
    rng = np.random.default_rng(seed)
    lines = ["time,a,b,label"]
    for i in range(rows):
        leak = 100 <= i < 140
        b = rng.normal() + (3.0 if leak else 0.0)
        lines.append(f"{i * 0.1:.1f},{rng.normal():.4f},{b:.4f},{'leak' if leak else 'normal'}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def trained(tmp_path: Path):
    """A tiny model trained on two files (one with one class for the whole file), saved."""
    torch.set_num_threads(1)
    runs = tmp_path / "runs"
    runs.mkdir()
    first = load_recording(write_run(runs / "run1.csv", 1))
    second = load_recording(write_run(runs / "run2.csv", 2)).with_file_class("normal")
    result = run_to_end(train([first, second], TINY))
    path = tmp_path / "models" / "pump.flmodel"
    path.parent.mkdir()
    save_model(result.model, path)
    return load_model(path), first, second


def test_the_model_file_records_its_training_recordings_and_options(trained) -> None:
    model, first, second = trained
    files = training_files(model)
    assert [f.name for f in files] == ["run1.csv", "run2.csv"]
    assert [f.path for f in files] == [first.path.resolve(), second.path.resolve()]
    assert [f.file_sha256 for f in files] == [first.content_hash, second.source_hash]
    assert [(f.labels, f.file_class) for f in files] == [("file", ""), ("class", "normal")]
    assert files[0].import_options == first.options
    options = retrain_options(model)
    assert options == dataclasses.replace(TINY, file_classes=())
    assert retrain_options(model, epochs=5, device="cpu").epochs == 5


def test_an_older_model_file_keeps_its_fingerprint_and_rebuilds_its_options(trained) -> None:
    model, _first, _second = trained
    old = dataclasses.replace(
        model,
        train_options={},
        training_data=[{"file": "run1.csv", "sha256": "ab" * 32, "rows": 240}],
    )
    assert "train_options" not in old.metadata()  # what an older file holds: same fingerprint
    options = retrain_options(old)
    assert (options.window, options.stride, options.hidden, options.seed) == (8, 4, 8, 3)
    assert options.feature_scales == () and options.epochs == TrainOptions().epochs
    (located,) = locate(training_files(old))
    assert not located.found and "does not record where it was" in located.problem


def test_training_files_are_found_by_content_and_missing_ones_named(trained, tmp_path) -> None:
    model, first, second = trained
    found = locate(training_files(model))
    assert [f.found for f in found] == [True, True] and found[0].path == first.path.resolve()
    # Open already: the open recording is used, nothing is read.
    assert locate(training_files(model), [first])[0].recording is first

    moved = tmp_path / "elsewhere.csv"
    os.rename(second.path, moved)
    write_run(first.path, 99)  # same name, other data
    found = locate(training_files(model))
    assert [f.found for f in found] == [False, False]
    assert "other data than the model was trained on" in found[0].problem
    assert found[1].problem == f"run2.csv: not found at {second.path.resolve()}"


def test_retraining_set_relabels_as_trained_and_puts_the_review_in_place(trained) -> None:
    model, first, second = trained
    review = Review.open(first)
    review.add_region(20, 39, "valve", "seen on site")
    reviewed = recording_with_reviewed_labels(review, first)
    recordings = retraining_set(reviewed, locate(training_files(model)))
    # run1 once (its reviewed copy, last), run2 with its one class as before.
    assert [r.name for r in recordings] == ["run2.csv", "run1.csv"]
    assert set(recordings[0].labels) == {"normal"}
    assert recordings[1] is reviewed and set(recordings[1].labels[20:40]) == {"valve"}

    result = run_to_end(train(recordings, retrain_options(model)))
    new = result.model
    assert set(new.class_names) == {"normal", "leak", "valve"}
    entries = {d["file"]: d for d in new.training_data}
    assert entries["run1.csv"]["labels"] == "reviewed"
    assert entries["run1.csv"]["file_sha256"] == first.content_hash
    # A model trained on reviewed labels is retrained on its review as it is now.
    again = retraining_set(second, locate(training_files(new)))
    assert [r.name for r in again] == ["run1.csv", "run2.csv"]
    assert set(again[0].labels[20:40]) == {"valve"} and again[0].label_origin == "reviewed"


def test_the_retrained_model_gets_a_free_name_beside_the_loaded_one(tmp_path: Path) -> None:
    loaded = tmp_path / "pump.flmodel"
    loaded.write_bytes(b"x")
    first = retrained_model_path(loaded)
    assert first == tmp_path / "pump-retrained.flmodel"
    first.write_bytes(b"y")
    assert retrained_model_path(loaded) == tmp_path / "pump-retrained-2.flmodel"
