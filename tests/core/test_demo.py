"""The demo recording: deterministic, plausible, every fault several times, learnable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultlens.core.demo import (
    CHANNELS,
    DEFAULT_ROWS,
    FAULT_TYPES,
    NORMAL,
    generate_demo,
    plan_episodes,
    write_demo_csv,
)
from faultlens.core.io import load_recording
from faultlens.core.resources import demo_recording_path


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return generate_demo(DEFAULT_ROWS, seed=0)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b = generate_demo(3000, seed=3), generate_demo(3000, seed=3)
    pd.testing.assert_frame_equal(a, b)
    c = generate_demo(3000, seed=4)
    assert not np.allclose(a["flow_rate_m3h"], c["flow_rate_m3h"], equal_nan=True)


def test_columns_timestamps_and_gaps(demo: pd.DataFrame) -> None:
    assert list(demo.columns) == ["timestamp", *CHANNELS, "label"]
    stamps = pd.to_datetime(demo["timestamp"])
    assert (stamps.diff().dropna() == pd.Timedelta(seconds=1)).all()
    values = demo[list(CHANNELS)].to_numpy()
    gaps = np.isnan(values)
    assert 0 < gaps.sum() < 0.01 * values.size
    assert not (values[~gaps] == 0).any()  # nothing zero-filled


def test_every_fault_type_occurs_several_times_in_both_halves(demo: pd.DataFrame) -> None:
    labels = demo["label"].to_numpy()
    assert set(labels) == {NORMAL, *FAULT_TYPES}
    fault_fraction = np.mean(labels != NORMAL)
    assert 0.07 < fault_fraction < 0.13
    half = len(labels) // 2
    for kind in FAULT_TYPES:
        is_kind = (labels == kind).astype(np.int8)
        starts = np.flatnonzero(np.diff(is_kind) == 1) + 1
        assert len(starts) >= 3, kind
        assert (starts < half).any() and (starts >= half).any(), kind


def test_episodes_match_labels(demo: pd.DataFrame) -> None:
    labels = demo["label"].to_numpy()
    for ep in plan_episodes(DEFAULT_ROWS, seed=0):
        assert (labels[ep.start : ep.end] == ep.kind).all()
        assert labels[ep.start - 1] == NORMAL and labels[ep.end] == NORMAL


def test_physics_couples_the_channels(demo: pd.DataFrame) -> None:
    normal = demo[demo["label"] == NORMAL].dropna()
    corr = normal[list(CHANNELS)].corr()
    # Affinity laws: pressure and vibration grow with speed; current with hydraulic power.
    assert corr.loc["motor_speed_rpm", "discharge_pressure_bar"] > 0.5
    assert corr.loc["motor_speed_rpm", "vibration_de_mm_s"] > 0.5
    assert corr.loc["flow_rate_m3h", "motor_current_A"] > 0.5
    assert corr.loc["motor_current_A", "supply_voltage_V"] < 0


def test_stuck_sensor_is_frozen_and_drift_moves_away(demo: pd.DataFrame) -> None:
    for ep in plan_episodes(DEFAULT_ROWS, seed=0):
        if ep.kind == "stuck_sensor":
            frozen = demo[ep.channel].iloc[ep.start : ep.end].dropna()
            assert frozen.nunique() == 1
        if ep.kind == "sensor_drift":
            col = demo[ep.channel]
            before = col.iloc[ep.start - 30 : ep.start].mean()
            late = col.iloc[ep.end - 20 : ep.end].mean()
            assert abs(late - before) > 0.1 * abs(before)


def _best_threshold_balanced_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~np.isnan(x)
    x, y = x[ok], y[ok]
    best = 0.0
    for thr in np.quantile(x, np.linspace(0.01, 0.99, 99)):
        for pred in (x > thr, x < thr):
            tpr = np.mean(pred[y])
            tnr = np.mean(~pred[~y])
            best = max(best, 0.5 * (tpr + tnr))
    return best


def test_no_single_threshold_finds_the_faults(demo: pd.DataFrame) -> None:
    y = (demo["label"] != NORMAL).to_numpy()
    for name in CHANNELS:
        assert _best_threshold_balanced_accuracy(demo[name].to_numpy(), y) < 0.7, name


def test_faults_are_learnable_from_windows_on_a_time_split(demo: pd.DataFrame) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import f1_score

    values = demo[list(CHANNELS)].to_numpy()
    values = np.where(np.isnan(values), np.nanmedian(values, axis=0), values)
    labels = demo["label"].to_numpy()
    window, stride = 30, 5
    starts = np.arange(0, len(values) - window, stride)
    wins = np.stack([values[s : s + window] for s in starts])  # (W, T, C)
    feats = np.concatenate(
        [
            wins.mean(1),
            wins.std(1),
            wins[:, -1] - wins[:, 0],
            np.abs(np.diff(wins, axis=1)).mean(1),
        ],
        axis=1,
    )
    y = labels[starts + window - 1]
    half = len(y) // 2
    clf = RandomForestClassifier(n_estimators=60, random_state=0, n_jobs=1)
    clf.fit(feats[:half], y[:half])
    pred = clf.predict(feats[half:])
    f1 = f1_score(y[half:], pred, labels=list(FAULT_TYPES), average="macro", zero_division=0)
    # Chance level is ~0.02; a plain forest on window statistics gets well above it.
    assert f1 > 0.35


def test_written_csv_imports_as_a_recording(tmp_path: Path) -> None:
    path = write_demo_csv(tmp_path / "demo.csv", rows=2000, seed=1)
    rec = load_recording(path)
    assert rec.channels == CHANNELS
    assert rec.time_kind == "datetime" and rec.time_column == "timestamp"
    assert rec.label_column == "label"
    assert set(rec.class_counts()) == {NORMAL, *FAULT_TYPES}
    assert rec.quality.sampling_interval_median_s == 1.0
    expected = generate_demo(2000, seed=1)[list(CHANNELS)].to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(rec.data, expected)


def test_module_entry_point_and_shipped_file_are_reproducible(tmp_path: Path) -> None:
    out = tmp_path / "demo_pump.csv"
    subprocess.run([sys.executable, "-m", "faultlens.core.demo", str(out)], check=True)
    shipped = demo_recording_path()
    assert out.read_bytes() == shipped.read_bytes(), "run `make demo-data` to refresh it"
    assert shipped.stat().st_size < 2_500_000
    rec = load_recording(shipped)
    assert rec.n_rows == DEFAULT_ROWS
