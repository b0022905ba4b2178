"""Generalisation harness: the product's training defaults (and any other configurations)
scored BY RECORDING in several regimes, beside a random-forest peer trained and scored on
exactly the same files and rows in the same run. The instrument for choosing defaults.

Protocol
- Regimes (each a list of folds = (training recordings, held-out test recordings); whole
  recordings are held out, never windows or time blocks, so nothing of a test recording
  is ever seen in training):

  ``skab-files``     SKAB, 5 folds by file exactly as benchmarks/bench_skab.py: the 34
                     labelled files sorted by path, file i in fold i % 5; anomaly-free.csv
                     joins every training set as normal data (a whole-file class), never
                     scored. Binary (normal / anomaly).
  ``skab-groups``    SKAB across groups: train on two of valve1 / valve2 / other (+
                     anomaly-free), test on the third; 3 folds. Binary.
  ``one-per-class``  the demo rig (``faultlens.core.demo.generate_run``), one recording per
                     class: train on one normal run and one run per fault type with the
                     fault throughout (1500 rows each); test on 3 groups of runs, each one
                     run per fault type (3000 rows, normal until row 600, the fault from
                     there to the end) plus one pure normal run (3000 rows). Multi-class.
  ``demo-seeds``     the demo recording (``generate_demo``, 8000 rows) on unseen seeds: train
                     on 3 seeds' recordings, test on 2 other seeds'. Multi-class.

- Seeds: each ``--seeds`` value s seeds the product's training (``TrainOptions.seed``) and
  the forest (``random_state``), and, in the demo regimes, the generated data too: every
  run gets its own data seed, a fixed function of (split, s, train/test, run number)
  (``data_seed``), so training and test runs never share a seed and ``--split validation``
  and ``--split test`` (the default) draw disjoint runs. Choose defaults on validation
  runs, report them on test runs. The SKAB regimes have no such variant (a fixed set of
  files): they are the same whatever ``--split``, so a choice made on them is not
  confirmed on unseen data by them.
- Demo recordings are written as CSV to a temporary folder and imported with
  ``load_recording`` (time column ``timestamp``, label column ``label``), as a user would.
- Product: for each configuration, ``train(training recordings, TrainOptions(**overrides,
  seed=s, device=--device))`` then ``scan(model, recording, ScanOptions(...))`` of every
  test recording (``ScanOptions`` defaults with device = --device and ``attribute=False``:
  channel attribution of events does not touch the per-row outputs; ``--scan`` to
  change). A row's class is the scan's ``predicted`` (the product's own decision rule),
  flagged as a fault when it is not the normal class.
- Forest peer: scikit-learn RandomForestClassifier(200 trees, random_state=s) on
  bench_skab's ``window_features`` (mean, std, min, max, last, slope per channel) over
  ``TrainOptions().window`` rows, trained on windows every ``TrainOptions().stride`` rows of
  the same training recordings with the label of each window's last row (unlabelled
  windows skipped, as the product does), predicting every window of the test recordings
  (arg-max class; a window's prediction belongs to its last row). It does not depend on
  the product's options: one forest per (regime, fold, seed), shared by all configurations.
- Scored rows: SKAB rows 400 to the end of each test file (the SKAB leaderboard's points);
  demo rows from the first full window of the longest window in the run (window - 1) to
  the end, so every method is scored on the same rows. All scored rows of all test
  recordings of a regime are pooled.

Columns (per regime; each mean over seeds with [min-max]):
- F1: F1 of the fault flag (any fault class vs normal) over the pooled scored rows.
- FAR %: share of normal rows flagged; MAR %: share of fault rows not flagged.
- class recall: mean over the classes present in the test rows (normal included) of the
  row-level recall (predicted class == true class); the per-class table lists each.
- delay: for every contiguous fault stretch of the scored rows (a stretch beginning before
  the first scored row counts from that row), rows from its first row to the first flagged
  row inside it, averaged over the detected stretches; "d/n" counts detected stretches of
  all seeds together.
- normal-run FAR %: FAR on the pure-normal test runs alone (one-per-class only).
- The training table: epochs run, best epoch, training seconds, the validation split the
  product chose, and the model's decision threshold where it stores one.

Run: ``.venv/bin/python benchmarks/bench_generalise.py`` (all regimes, seeds 0,1,2, the
product's defaults); e.g. ``--config defaults --config w64:window=64,stride=4`` to compare
configurations, ``--regimes demo-seeds --split validation``, ``--processes 2`` on a 2-core
machine, ``--device cuda`` on a GPU, ``--quick`` for a smoke run (2 epochs, stride >= 8,
at most 2 folds, a third of the SKAB files, shorter and fewer demo runs; not a result).
``--json PATH`` keeps the raw numbers, ``--markdown PATH`` the tables (always printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench_skab import (
    DEFAULT_DATA,
    SCORE_FROM_ROW,
    _git_commit,
    load_skab,
    make_folds,
    window_features,
)
from faultlens.core import demo
from faultlens.core.evaluation import classification_metrics, event_delays, label_indices
from faultlens.core.io import load_recording
from faultlens.core.options import ScanOptions, TrainOptions
from faultlens.core.progress import run_to_end
from faultlens.core.recording import ImportOptions, Recording, is_normal_label
from faultlens.core.scan import scan
from faultlens.core.training import train

REGIMES = ("skab-files", "skab-groups", "one-per-class", "demo-seeds")
SKAB_GROUPS = ("valve1", "valve2", "other")
SKAB_CLASSES = ("0", "1")  # label values in the files; shown as normal / anomaly
FOREST = "random forest"
# Settings the harness owns: a configuration may not set them.
RESERVED = frozenset({"seed", "device", "file_classes"})
# Data seeds: split base + 10_000 * seed + role offset + run number (data_seed).
SPLIT_BASE = {"validation": 1_000_000, "test": 2_000_000}
ROLE_OFFSET = {"train": 0, "test": 5_000}
DEMO_IMPORT = ImportOptions(time_column="timestamp", label_column="label")


@dataclass(frozen=True)
class Sizes:
    """How much demo data a run generates (smaller with --quick)."""

    opc_train_rows: int = 1500
    opc_test_rows: int = 3000
    opc_fault_start: int = 600
    opc_test_groups: int = 3
    demo_rows: int = 8000
    demo_train: int = 3
    demo_test: int = 2
    max_folds: int | None = None
    skab_every: int = 1  # use every n-th SKAB file


QUICK_SIZES = Sizes(
    opc_train_rows=800,
    opc_test_rows=1500,
    opc_test_groups=1,
    demo_rows=3000,
    demo_train=3,
    demo_test=1,
    max_folds=2,
    skab_every=3,
)


# ---------------------------------------------------------------- regimes
@dataclass
class TestRun:
    """A held-out recording: its true class per row (index into the regime's classes,
    -1 unlabelled) and the first scored row."""

    rec: Recording
    truth: np.ndarray
    score_from: int
    pure_normal: bool = False

    @property
    def name(self) -> str:
        return f"{self.rec.path.parent.name}/{self.rec.path.name}"


@dataclass
class Fold:
    name: str
    train: list[Recording]
    train_truth: list[np.ndarray]  # per training recording, class index per row (forest)
    file_classes: tuple[tuple[str, str], ...]  # whole-file classes for the product
    tests: list[TestRun]


@dataclass
class Regime:
    name: str
    description: str
    classes: tuple[str, ...]  # label values as in the files; index 0 = normal
    display: tuple[str, ...]  # names in the tables
    folds: list[Fold]
    has_normal_runs: bool = False


def data_seed(split: str, seed: int, role: str, run: int) -> int:
    """The generator seed of one demo run: disjoint for splits, bench seeds and roles."""
    if not 0 <= seed < 100 or not 0 <= run < 5_000:
        raise ValueError(f"seed {seed} must be in [0, 100) and run {run} in [0, 5000)")
    return SPLIT_BASE[split] + 10_000 * seed + ROLE_OFFSET[role] + run


def _skab_truth(rec: Recording) -> np.ndarray:
    return label_indices(rec, SKAB_CLASSES)


def _skab_regime(
    name: str,
    description: str,
    labelled: list[Recording],
    free: Recording,
    test_sets: list[tuple[str, list[int]]],
    first_row: int,
) -> Regime:
    normal = next(v for v in labelled[0].class_counts() if float(v) == 0.0)
    folds = []
    for fold_name, test_ids in test_sets:
        held_out = set(test_ids)
        train_recs = [r for i, r in enumerate(labelled) if i not in held_out]
        folds.append(
            Fold(
                name=fold_name,
                train=[*train_recs, free],
                train_truth=[*(_skab_truth(r) for r in train_recs), np.zeros(free.n_rows, int)],
                file_classes=((str(free.path), normal),),
                tests=[
                    TestRun(labelled[i], _skab_truth(labelled[i]), max(SCORE_FROM_ROW, first_row))
                    for i in test_ids
                ],
            )
        )
    return Regime(name, description, SKAB_CLASSES, ("normal", "anomaly"), folds)


def build_skab(data: Path, sizes: Sizes, first_row: int) -> list[Regime]:
    labelled, free = load_skab(data)
    labelled = labelled[:: sizes.skab_every]
    n = len(labelled)
    # bench_skab's own fold assignment (file i in fold i % 5).
    files = [(f"fold {k + 1}", ids.tolist()) for k, ids in enumerate(make_folds(n, 5)) if len(ids)]
    groups = [
        (f"test {g}", [i for i, r in enumerate(labelled) if r.path.parent.name == g])
        for g in SKAB_GROUPS
    ]
    cut = "" if sizes.max_folds is None else f", the first {sizes.max_folds} run"
    return [
        _skab_regime(
            "skab-files",
            f"SKAB, {len(files)} folds by file{cut} ({n} labelled files, file i in fold i % 5; "
            "anomaly-free.csv in every training set); scored rows 400 to the end",
            labelled,
            free,
            files[: sizes.max_folds],
            first_row,
        ),
        _skab_regime(
            "skab-groups",
            "SKAB across groups: train on two of valve1 / valve2 / other (+ anomaly-free), "
            f"test on the third ({len(groups)} folds{cut}); scored rows 400 to the end",
            labelled,
            free,
            groups[: sizes.max_folds],
            first_row,
        ),
    ]


class DemoWriter:
    """Writes generated runs as CSV into a folder and imports them as the product does."""

    def __init__(self, folder: Path, regime: str) -> None:
        self.folder = folder / regime
        self.folder.mkdir(parents=True, exist_ok=True)

    def load(self, frame: pd.DataFrame, name: str) -> Recording:
        path = self.folder / f"{name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n", na_rep="")
        return load_recording(path, DEMO_IMPORT)


def _demo_classes() -> tuple[str, ...]:
    return (demo.NORMAL, *demo.FAULT_TYPES)


def build_one_per_class(
    folder: Path, split: str, seed: int, sizes: Sizes, first_row: int
) -> Regime:
    gen: Callable[..., pd.DataFrame] = demo.generate_run  # type: ignore[attr-defined]
    classes = _demo_classes()
    out = DemoWriter(folder, f"one-per-class-{split}-{seed}")
    train_recs = []
    for j, fault in enumerate([None, *demo.FAULT_TYPES]):
        s = data_seed(split, seed, "train", j)
        frame = gen(rows=sizes.opc_train_rows, seed=s, fault=fault, fault_start=0)
        train_recs.append(out.load(frame, f"train-{fault or demo.NORMAL}-seed{s}"))
    tests = []
    for g in range(sizes.opc_test_groups):
        for j, fault in enumerate([None, *demo.FAULT_TYPES]):
            s = data_seed(split, seed, "test", 10 * g + j)
            start = 0 if fault is None else sizes.opc_fault_start
            frame = gen(rows=sizes.opc_test_rows, seed=s, fault=fault, fault_start=start)
            rec = out.load(frame, f"test-{fault or demo.NORMAL}-seed{s}")
            tests.append(TestRun(rec, label_indices(rec, classes), first_row, fault is None))
    fold = Fold(
        name="all",
        train=train_recs,
        train_truth=[label_indices(r, classes) for r in train_recs],
        file_classes=(),
        tests=tests,
    )
    return Regime(
        "one-per-class",
        f"demo rig runs, one per class for training ({sizes.opc_train_rows} rows, fault "
        f"throughout); tests: {sizes.opc_test_groups} x (one run per fault, "
        f"{sizes.opc_test_rows} rows, fault from row {sizes.opc_fault_start}, + one normal "
        f"run); {split} seeds; scored from row {first_row}",
        classes,
        classes,
        [fold],
        has_normal_runs=True,
    )


def build_demo_seeds(folder: Path, split: str, seed: int, sizes: Sizes, first_row: int) -> Regime:
    classes = _demo_classes()
    out = DemoWriter(folder, f"demo-seeds-{split}-{seed}")

    def load(role: str, j: int) -> Recording:
        s = data_seed(split, seed, role, j)
        return out.load(demo.generate_demo(rows=sizes.demo_rows, seed=s), f"{role}-seed{s}")

    train_recs = [load("train", j) for j in range(sizes.demo_train)]
    tests = [load("test", j) for j in range(sizes.demo_test)]
    fold = Fold(
        name="all",
        train=train_recs,
        train_truth=[label_indices(r, classes) for r in train_recs],
        file_classes=(),
        tests=[TestRun(r, label_indices(r, classes), first_row) for r in tests],
    )
    return Regime(
        "demo-seeds",
        f"demo recordings ({sizes.demo_rows} rows): train on {sizes.demo_train} seeds, test on "
        f"{sizes.demo_test} other seed(s) ({split} seeds); scored from row {first_row}",
        classes,
        classes,
        [fold],
    )


def check_disjoint(regime: Regime) -> None:
    """No test recording of a fold is (a copy of) one of its training recordings."""
    for fold in regime.folds:
        seen = {r.content_hash for r in fold.train} | {str(r.path) for r in fold.train}
        for test in fold.tests:
            if test.rec.content_hash in seen or str(test.rec.path) in seen:
                raise RuntimeError(f"{regime.name} {fold.name}: {test.name} is also trained on")


# ---------------------------------------------------------------- methods
# Regimes of this process, keyed by (regime name, seed): demo data depends on the seed.
_DATA: dict[tuple[str, int], Regime] = {}


def _init_worker(data: dict[tuple[str, int], Regime], threads: int) -> None:
    _DATA.update(data)
    torch.set_num_threads(threads)


def class_lut(model_classes: tuple[str, ...], classes: tuple[str, ...]) -> np.ndarray:
    """Index into ``classes`` of every model class (by name, by number, normal -> 0)."""

    def num(s: str) -> float | None:
        try:
            return float(s)
        except ValueError:
            return None

    lut = []
    for m in model_classes:
        if m in classes:
            lut.append(classes.index(m))
        elif num(m) is not None and any(num(c) == num(m) for c in classes):
            lut.append(next(i for i, c in enumerate(classes) if num(c) == num(m)))
        elif is_normal_label(m):
            lut.append(0)
        else:
            raise ValueError(f"model class {m!r} is none of the regime's classes {classes}")
    return np.asarray(lut, dtype=np.int64)


@dataclass(frozen=True)
class Task:
    regime: str
    fold: int
    seed: int
    method: str  # FOREST or a configuration name
    overrides: tuple[tuple[str, Any], ...] = ()  # TrainOptions fields (product)
    scan: tuple[tuple[str, Any], ...] = ()  # ScanOptions fields (product)
    device: str = "auto"
    window: int = 32  # forest
    stride: int = 2  # forest
    threads: int = 1  # forest


def run_task(task: Task) -> tuple[Task, list[np.ndarray], dict[str, Any]]:
    """One method on one fold with one seed: per test recording, the class per row
    (index into the regime's classes, -1 where there is no prediction)."""
    regime = _DATA[(task.regime, task.seed)]
    fold = regime.folds[task.fold]
    t0 = time.perf_counter()
    if task.method == FOREST:
        preds, info = _forest(fold, task)
    else:
        preds, info = _product(fold, regime.classes, task)
    info["wall_s"] = time.perf_counter() - t0
    m = _fold_score(fold, preds)
    extra = (
        "" if task.method == FOREST else f" | {info['epochs']} epochs, best {info['best_epoch']}"
    )
    print(
        f"[{task.regime}] {fold.name} ({task.fold + 1}/{len(regime.folds)}) seed {task.seed} "
        f"{task.method}: F1 {m['f1']:.3f} FAR {100 * m['far']:.1f}% MAR {100 * m['mar']:.1f}%"
        f"{extra} | train {info['train_s']:.0f} s, total {info['wall_s']:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return task, preds, info


def _product(
    fold: Fold, classes: tuple[str, ...], task: Task
) -> tuple[list[np.ndarray], dict[str, Any]]:
    opts = TrainOptions(
        **dict(task.overrides), seed=task.seed, device=task.device, file_classes=fold.file_classes
    )
    scan_opts = ScanOptions(**dict(task.scan))
    t0 = time.perf_counter()
    result = run_to_end(train(fold.train, opts))
    t_train = time.perf_counter() - t0
    model = result.model
    lut = class_lut(tuple(model.class_names), classes)
    preds = []
    t0 = time.perf_counter()
    for test in fold.tests:
        res = run_to_end(scan(model, test.rec, scan_opts))
        p = np.asarray(res.predicted, dtype=np.int64)
        preds.append(np.where(p >= 0, lut[np.clip(p, 0, None)], -1).astype(np.int8))
    metrics = model.metrics or {}
    info = {
        "train_s": t_train,
        "scan_s": time.perf_counter() - t0,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "model_classes": list(model.class_names),
        "split": metrics.get("split"),
        "threshold": getattr(model, "threshold", metrics.get("threshold")),
        "alarm_budget": getattr(model, "alarm_budget", None),
        "val_macro_f1": metrics.get("macro_f1"),
        "notes": list(result.notes),
        "metrics": {k: v for k, v in metrics.items() if k not in ("confusion_matrix",)},
    }
    return preds, info


def _forest(fold: Fold, task: Task) -> tuple[list[np.ndarray], dict[str, Any]]:
    from sklearn.ensemble import RandomForestClassifier

    w, stride = task.window, task.stride
    xs, ys = [], []
    for rec, y in zip(fold.train, fold.train_truth, strict=True):
        ends = np.arange(w - 1, rec.n_rows)[::stride]
        feats = window_features(rec.data, w)[::stride]
        keep = y[ends] >= 0
        xs.append(feats[keep])
        ys.append(y[ends][keep])
    t0 = time.perf_counter()
    forest = RandomForestClassifier(n_estimators=200, n_jobs=task.threads, random_state=task.seed)
    forest.fit(np.concatenate(xs), np.concatenate(ys))
    t_train = time.perf_counter() - t0
    preds = []
    for test in fold.tests:
        p = np.full(test.rec.n_rows, -1, dtype=np.int8)
        p[w - 1 :] = forest.predict(window_features(test.rec.data, w))
        preds.append(p)
    return preds, {"train_s": t_train, "train_windows": int(sum(len(y) for y in ys))}


# ---------------------------------------------------------------- scoring
def _scored(test: TestRun, pred: np.ndarray) -> np.ndarray:
    mask = (np.arange(len(test.truth)) >= test.score_from) & (test.truth >= 0)
    if (pred[mask] < 0).any():
        raise RuntimeError(f"{test.name}: scored rows without a prediction")
    return mask


def _fold_score(fold: Fold, preds: list[np.ndarray]) -> dict[str, float]:
    t = np.concatenate([x.truth[_scored(x, p)] for x, p in zip(fold.tests, preds, strict=True)])
    p = np.concatenate([p[_scored(x, p)] for x, p in zip(fold.tests, preds, strict=True)])
    tp, fp = int(((t > 0) & (p > 0)).sum()), int(((t == 0) & (p > 0)).sum())
    fn, tn = int(((t > 0) & (p == 0)).sum()), int(((t == 0) & (p == 0)).sum())
    return {
        "f1": 2 * tp / max(2 * tp + fp + fn, 1),
        "far": fp / max(fp + tn, 1),
        "mar": fn / max(fn + tp, 1),
    }


def score(regime: Regime, preds: list[list[np.ndarray]]) -> dict[str, Any]:
    """Pooled metrics of one method and seed over all scored rows of all test recordings
    (``preds[fold][test]``)."""
    ts, ps, normal_t, normal_p, delays = [], [], [], [], []
    for fold, fold_preds in zip(regime.folds, preds, strict=True):
        for test, p in zip(fold.tests, fold_preds, strict=True):
            mask = _scored(test, p)
            ts.append(test.truth[mask])
            ps.append(p[mask].astype(np.int64))
            # Stretches of scored fault rows; rows before the first scored row are normal.
            delays += event_delays(np.where(mask, test.truth, 0), np.where(mask, p, 0))
            if test.pure_normal:
                normal_t.append(ts[-1])
                normal_p.append(ps[-1])
    t, p = np.concatenate(ts), np.concatenate(ps)
    m = classification_metrics(t, p, regime.display)
    recall = {
        name: m["per_class"][name]["recall"]
        for name in regime.display
        if m["per_class"][name]["support"] > 0
    }
    got = [d.delay for d in delays if d.delay is not None]
    out = {
        "f1": m["detection"]["f1"],
        "far": m["false_alarm_rate"],
        "mar": m["missed_alarm_rate"],
        "class_recall": float(np.mean(list(recall.values()))),
        "recall": recall,
        "delay": float(np.mean(got)) if got else None,
        "stretches": len(delays),
        "detected": len(got),
        "rows": m["n"],
        "confusion_matrix": m["confusion_matrix"],
        "delays": [d.delay for d in delays],
    }
    if normal_t:
        nt, np_ = np.concatenate(normal_t), np.concatenate(normal_p)
        out["normal_run_far"] = float((np_[nt == 0] > 0).mean()) if (nt == 0).any() else 0.0
    return out


def _stats(values: list[float | None]) -> dict[str, float] | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"mean": float(np.mean(vals)), "min": float(np.min(vals)), "max": float(np.max(vals))}


def _cell(values: list[float | None], scale: float = 1.0, digits: int = 3) -> str:
    s = _stats(values)
    if s is None:
        return "-"
    if len([v for v in values if v is not None]) == 1:
        return f"{scale * s['mean']:.{digits}f}"
    return (
        f"{scale * s['mean']:.{digits}f} [{scale * s['min']:.{digits}f}-"
        f"{scale * s['max']:.{digits}f}]"
    )


def regime_tables(regime: Regime, per_seed: dict[str, list[dict]], infos: dict) -> list[str]:
    """Markdown: the main table, per-class recall and the product's training runs."""
    normal_col = regime.has_normal_runs
    head = "| method | F1 | FAR % | MAR % | class recall | delay rows (detected) |"
    head += " normal-run FAR % |" if normal_col else ""
    lines = [
        f"### {regime.name}",
        "",
        regime.description + ".",
        "",
        head,
        "|---" * (6 + normal_col) + "|",
    ]
    for method, runs in per_seed.items():
        det = f"{sum(r['detected'] for r in runs)}/{sum(r['stretches'] for r in runs)}"
        row = (
            f"| {method} | {_cell([r['f1'] for r in runs])} | "
            f"{_cell([r['far'] for r in runs], 100, 1)} | "
            f"{_cell([r['mar'] for r in runs], 100, 1)} | "
            f"{_cell([r['class_recall'] for r in runs])} | "
            f"{_cell([r['delay'] for r in runs], 1, 0)} ({det}) |"
        )
        if normal_col:
            row += f" {_cell([r.get('normal_run_far') for r in runs], 100, 1)} |"
        lines.append(row)
    lines += [
        "",
        "Recall per class (rows of that class predicted as that class):",
        "",
        "| method | " + " | ".join(regime.display) + " |",
        "|---" * (1 + len(regime.display)) + "|",
    ]
    for method, runs in per_seed.items():
        cells = [_cell([r["recall"].get(c) for r in runs]) for c in regime.display]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Training (product; per fold and seed, mean [min-max]):",
        "",
        "| config | epochs | best epoch | train s | split | threshold |",
        "|---|---|---|---|---|---|",
    ]
    for method, runs in infos.items():
        if method == FOREST:
            continue
        splits = sorted({str(i["split"]) for i in runs})
        thresholds = [i["threshold"] for i in runs if isinstance(i["threshold"], (int, float))]
        lines.append(
            f"| {method} | {_cell([i['epochs'] for i in runs], 1, 1)} | "
            f"{_cell([i['best_epoch'] for i in runs], 1, 1)} | "
            f"{_cell([i['train_s'] for i in runs], 1, 0)} | {', '.join(splits)} | "
            f"{_cell(list(thresholds), 1, 3) if thresholds else '-'} |"
        )
    return lines


# ---------------------------------------------------------------- CLI
def _parse_value(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return tuple(value) if isinstance(value, list) else value


def _parse_pairs(
    text: str, defaults: dict[str, Any], what: str, reserved: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``key=value,key=value`` for the fields of a dataclass (``defaults``: field -> default;
    a comma inside a JSON list stays in its value)."""
    fields = set(defaults)
    out: dict[str, Any] = {}
    if not text.strip():
        return out
    for part in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", text):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep:
            raise SystemExit(f"{what}: {part!r} is not key=value")
        if key in reserved:
            raise SystemExit(
                f"{what}: {key} is set by the harness (--seeds, --device, the regime's "
                "files), not here"
            )
        if key not in fields:
            known = ", ".join(sorted(fields - reserved))
            raise SystemExit(f"{what}: unknown key {key!r}; known: {known}")
        out[key] = _parse_value(value.strip())
        default = defaults.get(key)
        if not _same_kind(out[key], default):
            raise SystemExit(
                f"{what}: {key}={value.strip()!r} is not a {type(default).__name__} "
                f"like its default {default!r}"
            )
    return out


def _same_kind(value: Any, default: Any) -> bool:
    """Whether ``value`` can stand for ``default`` (None defaults take anything; None is
    left to TrainOptions' own checks, as for fields that may be None)."""
    if default is None or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}


def parse_configs(specs: list[str]) -> dict[str, dict[str, Any]]:
    fields = _defaults(TrainOptions)
    configs: dict[str, dict[str, Any]] = {}
    for spec in specs or ["defaults"]:
        name, _, rest = spec.partition(":")
        name = name.strip()
        if not name or name == FOREST or name in configs:
            raise SystemExit(f"--config {spec!r}: needs a new name (not {FOREST!r}) before ':'")
        overrides = _parse_pairs(rest, fields, f"--config {name}", RESERVED)
        try:
            TrainOptions(**overrides)
        except TypeError as err:
            raise SystemExit(f"--config {name}: {err}") from err
        configs[name] = overrides
    return configs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--regimes", default=",".join(REGIMES), help=f"comma-separated: {REGIMES}")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SKAB folder")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--split", choices=("test", "validation"), default="test")
    ap.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="NAME[:key=value,...]",
        help="a product configuration: TrainOptions overrides (values as JSON where they "
        "parse, else text); repeatable; default: one, 'defaults', with none",
    )
    ap.add_argument("--scan", default="", metavar="key=value,...", help="ScanOptions overrides")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads in all")
    ap.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes (threads / processes torch threads each)",
    )
    ap.add_argument("--quick", action="store_true", help="smoke run, not a result")
    ap.add_argument("--json", type=Path, help="write the raw numbers here")
    ap.add_argument("--markdown", type=Path, help="write the tables here too")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    commit = _git_commit()
    regimes = [r.strip() for r in args.regimes.split(",") if r.strip()]
    unknown = [r for r in regimes if r not in REGIMES]
    if unknown:
        ap.error(f"unknown regime(s) {unknown}; known: {', '.join(REGIMES)}")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    configs = parse_configs(args.config)
    scan_fields = _defaults(ScanOptions)
    scan_over = {"device": args.device, "attribute": False}
    scan_over.update(_parse_pairs(args.scan, scan_fields, "--scan"))
    sizes = QUICK_SIZES if args.quick else Sizes()
    base = TrainOptions()
    quick_base: dict[str, Any] = {"epochs": 2, "stride": max(base.stride, 8)} if args.quick else {}
    configs = {name: {**quick_base, **over} for name, over in configs.items()}
    forest_window = base.window
    forest_stride = quick_base.get("stride", base.stride)
    # Every method is scored on the same rows: from the longest window's first full one.
    windows = [forest_window, *(c.get("window", base.window) for c in configs.values())]
    first_row = max(windows) - 1
    processes = max(1, args.processes)
    threads_each = max(1, args.threads // processes)
    notes: list[str] = []

    data: dict[tuple[str, int], Regime] = {}
    with tempfile.TemporaryDirectory(prefix="bench_generalise_") as tmp:
        folder = Path(tmp)
        wanted_skab = [r for r in regimes if r.startswith("skab")]
        if wanted_skab:
            if not (args.data / "anomaly-free" / "anomaly-free.csv").is_file():
                notes.append(f"{', '.join(wanted_skab)}: skipped, no SKAB data under {args.data}")
                print(notes[-1], file=sys.stderr)
            else:
                for reg in build_skab(args.data, sizes, first_row):
                    if reg.name in wanted_skab:
                        for s in seeds:
                            data[(reg.name, s)] = reg
                if args.split == "validation":
                    notes.append(
                        "the SKAB regimes are the same files for --split validation and test"
                    )
        if "one-per-class" in regimes:
            if not hasattr(demo, "generate_run"):
                notes.append("one-per-class: skipped, faultlens.core.demo has no generate_run")
                print(notes[-1], file=sys.stderr)
            else:
                for s in seeds:
                    data[("one-per-class", s)] = build_one_per_class(
                        folder, args.split, s, sizes, first_row
                    )
        if "demo-seeds" in regimes:
            for s in seeds:
                data[("demo-seeds", s)] = build_demo_seeds(folder, args.split, s, sizes, first_row)
    for regime in data.values():
        check_disjoint(regime)
    names = [r for r in regimes if any(key[0] == r for key in data)]
    print(
        f"data ready in {time.perf_counter() - started:.0f} s: {', '.join(names) or 'nothing'}",
        file=sys.stderr,
    )

    tasks: list[Task] = []
    for reg in names:
        for s in seeds:
            for k in range(len(data[(reg, s)].folds)):
                for cname, over in configs.items():
                    tasks.append(
                        Task(
                            reg,
                            k,
                            s,
                            cname,
                            tuple(sorted(over.items())),
                            tuple(sorted(scan_over.items())),
                            args.device,
                        )
                    )
                tasks.append(
                    Task(
                        reg,
                        k,
                        s,
                        FOREST,
                        window=forest_window,
                        stride=forest_stride,
                        threads=threads_each,
                    )
                )
    # (regime, fold, seed, method) -> (class per row of each test recording, info)
    results: dict[tuple[str, int, int, str], tuple[list[np.ndarray], dict]] = {}
    if processes == 1:
        _init_worker(data, args.threads)
        done = map(run_task, tasks)
    else:
        ctx = mp.get_context("spawn")
        pool = ctx.Pool(processes, initializer=_init_worker, initargs=(data, threads_each))
        done = pool.imap_unordered(run_task, tasks)
    for task, preds, info in done:
        results[(task.regime, task.fold, task.seed, task.method)] = (preds, info)
    if processes > 1:
        pool.close()
        pool.join()

    methods = [FOREST, *configs]
    report: dict[str, Any] = {}
    lines = [
        f"# Generalisation by recording ({'--quick smoke run, not a result' if args.quick else 'full run'})",  # noqa: E501
        "",
        f"`benchmarks/bench_generalise.py`, code at commit {commit}; split `{args.split}`, "
        f"seeds {', '.join(map(str, seeds))}; device `{args.device}` (CUDA available: "
        f"{torch.cuda.is_available()}); {args.threads} threads, {processes} process(es); "
        f"torch {torch.__version__}.",
        "",
        "Configurations (TrainOptions overrides of the product's defaults): "
        + "; ".join(f"`{n}` {over or '{}'}" for n, over in configs.items())
        + f". Scan: {scan_over}. Forest: 200 trees on window statistics, window "
        f"{forest_window}, training stride {forest_stride}.",
        "",
        "Cells: mean over seeds [min-max]. Delay: mean rows from a fault stretch's first "
        "(scored) row to its first flagged row, over detected stretches; (detected/stretches, "
        "all seeds).",
        *(["", *(f"Note: {n}." for n in notes)] if notes else []),
    ]
    for reg in names:
        per_seed: dict[str, list[dict]] = {m: [] for m in methods}
        infos: dict[str, list[dict]] = {m: [] for m in methods}
        per_fold: dict[str, list[dict]] = {m: [] for m in methods}
        for s in seeds:
            regime = data[(reg, s)]
            for m in methods:
                fold_preds = []
                for k, fold in enumerate(regime.folds):
                    preds, info = results[(reg, k, s, m)]
                    fold_preds.append(preds)
                    infos[m].append({"seed": s, "fold": fold.name, **info})
                    per_fold[m].append({"seed": s, "fold": fold.name, **_fold_score(fold, preds)})
                per_seed[m].append({"seed": s, **score(regime, fold_preds)})
        regime = data[(reg, seeds[0])]
        lines += ["", *regime_tables(regime, per_seed, infos)]
        report[reg] = {
            "description": regime.description,
            "classes": list(regime.display),
            "folds": {
                s: [
                    {
                        "name": f.name,
                        "train": [f"{r.path.parent.name}/{r.path.name}" for r in f.train],
                        "test": [x.name for x in f.tests],
                    }
                    for f in data[(reg, s)].folds
                ]
                for s in seeds
            },
            "per_seed": per_seed,
            "per_fold": per_fold,
            "info": infos,
            "summary": {
                m: {
                    k: _stats([r.get(k) for r in runs])
                    for k in ("f1", "far", "mar", "class_recall", "delay", "normal_run_far")
                }
                for m, runs in per_seed.items()
            },
        }
    elapsed = time.perf_counter() - started
    lines += ["", f"{elapsed:.0f} s in total."]
    table = "\n".join(lines)
    print()
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    if args.json:
        run = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "commit": commit,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda_available": torch.cuda.is_available(),
            "configs": configs,
            "scan": scan_over,
            "forest": {"window": forest_window, "stride": forest_stride, "trees": 200},
            "first_scored_row_demo": first_row,
            "notes": notes,
            "elapsed_s": elapsed,
            "regimes": report,
        }
        args.json.write_text(json.dumps(run, indent=1, default=_json_default), encoding="utf-8")
    return 0


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


if __name__ == "__main__":
    sys.exit(main())
