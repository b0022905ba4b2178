"""The demo recording: deterministic, plausible, every fault several times, learnable; runs
of the rig (generate_run): labels, determinism, run-to-run differences, faults that stand
out."""

from __future__ import annotations

import hashlib
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
    generate_run,
    main,
    plan_episodes,
    write_demo_csv,
    write_run_csv,
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


@pytest.mark.slow
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


# ---------------------------------------------------------------- generate_demo is frozen
# sha256 of generate_demo(2000, seed=0) as CSV text, computed before generate_run was added:
# the bundled recording and every model trained on demo data depend on these exact values.
DEMO_2000_0_SHA256 = "8b843084757cf03a61f6a4f7ba0067e8b708c25617cb38886925354032335ca9"


def _csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n", na_rep="")


def test_generate_demo_output_is_unchanged() -> None:
    text = _csv_text(generate_demo(2000, seed=0))
    assert hashlib.sha256(text.encode()).hexdigest() == DEMO_2000_0_SHA256


# ---------------------------------------------------------------- runs
def test_run_labels_normal_before_the_fault_and_the_fault_to_the_end() -> None:
    run = generate_run(700, seed=5, fault="cavitation", fault_start=250)
    assert list(run.columns) == ["timestamp", *CHANNELS, "label"]
    labels = run["label"].to_numpy()
    assert (labels[:250] == NORMAL).all()
    assert (labels[250:] == "cavitation").all()
    stamps = pd.to_datetime(run["timestamp"])
    assert (stamps.diff().dropna() == pd.Timedelta(seconds=1)).all()
    assert (generate_run(300, seed=5)["label"] == NORMAL).all()
    for kind in FAULT_TYPES:
        assert (generate_run(300, seed=6, fault=kind)["label"] == kind).all(), kind


def test_run_is_deterministic_per_seed() -> None:
    a = generate_run(500, seed=11, fault="sensor_drift", fault_start=100)
    b = generate_run(500, seed=11, fault="sensor_drift", fault_start=100)
    pd.testing.assert_frame_equal(a, b)
    c = generate_run(500, seed=12, fault="sensor_drift", fault_start=100)
    assert not np.allclose(a["flow_rate_m3h"], c["flow_rate_m3h"], equal_nan=True)
    assert a["timestamp"].iloc[0] != c["timestamp"].iloc[0]  # another day


def test_bad_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        generate_run(500, seed=0, fault="gremlins")
    for start in (-1, 500, 900):
        with pytest.raises(ValueError, match="fault_start"):
            generate_run(500, seed=0, fault="cavitation", fault_start=start)
    with pytest.raises(ValueError, match="at least"):
        generate_run(50, seed=0)


def test_runs_differ_more_than_the_halves_of_one_run() -> None:
    """Calibration and the grid move a run's readings as a whole: across runs the ratio of
    the two accelerometers (their sensitivities) and the median supply voltage spread
    clearly wider than between the two halves of one run (with seeds that differ only in
    noise and schedule, as in generate_demo, both ratios below come out under 1)."""
    stats = {
        "nde_per_de": lambda d: d["vibration_nde_mm_s"].median() / d["vibration_de_mm_s"].median(),
        "voltage": lambda d: d["supply_voltage_V"].median(),
    }
    minimum = {"nde_per_de": 3.0, "voltage": 1.4}
    runs = [generate_run(1200, seed=s) for s in range(10)]
    for name, stat in stats.items():
        whole = np.array([stat(r) for r in runs])
        halves = np.array([stat(r.iloc[:600]) - stat(r.iloc[600:]) for r in runs])
        within = halves.std() / np.sqrt(2)  # spread of one half's value about its run's
        assert whole.std() > minimum[name] * within, name


def test_normal_levels_stay_plausible_across_runs() -> None:
    for seed in range(6):
        run = generate_run(600, seed=seed).dropna()
        assert run["motor_speed_rpm"].between(2700, 3050).all()
        assert run["supply_voltage_V"].between(380, 410).all()
        assert run["bearing_temp_C"].between(30, 60).all()
        assert run["flow_rate_m3h"].between(35, 75).all()
        assert (run["suction_pressure_bar"] > 0.5).all()


def _same_run_with_and_without(kind: str, seed: int, start: int) -> tuple[pd.DataFrame, ...]:
    return generate_run(1200, seed=seed), generate_run(1200, seed, fault=kind, fault_start=start)


def test_sensor_faults_act_on_one_channel_of_the_same_run() -> None:
    for seed in (1, 2, 3):
        normal, drift = _same_run_with_and_without("sensor_drift", seed, 400)
        diff = (drift[list(CHANNELS)] - normal[list(CHANNELS)]).abs()
        changed = [c for c in CHANNELS if diff[c].iloc[400:].max() > 0]
        assert len(changed) == 1 and changed[0] in ("discharge_pressure_bar", "flow_rate_m3h")
        col = changed[0]
        assert diff[col].iloc[:400].max() == 0  # untouched before the fault
        late = diff[col].iloc[700:].median() / normal[col].iloc[700:].abs().median()
        assert 0.2 < late < 0.45  # full size well before the end
        _, stuck = _same_run_with_and_without("stuck_sensor", seed, 400)
        frozen = [c for c in CHANNELS if stuck[c].iloc[400:].dropna().nunique() == 1]
        assert len(frozen) == 1 and stuck[frozen[0]].iloc[:400].nunique() > 10


def test_process_faults_reach_full_size_soon_after_the_onset() -> None:
    normal, wear = _same_run_with_and_without("bearing_wear", 4, 300)
    ratio = wear["vibration_de_mm_s"] / normal["vibration_de_mm_s"]
    assert ratio.iloc[:300].max() == pytest.approx(1.0, abs=0.01)
    assert ratio.iloc[600:].median() > 1.6  # the demo's 0.8 rise, reached within 240 rows
    normal, block = _same_run_with_and_without("valve_blockage", 4, 300)
    late = {
        name: block[name].iloc[500:].median() / normal[name].iloc[500:].median()
        for name in CHANNELS
    }
    # The choke: less flow, more pressure, and the current holds up (a normal valve closing
    # that took 20 % of the flow would also take ~15 % of the current).
    assert late["flow_rate_m3h"] < 0.8
    assert late["discharge_pressure_bar"] > 1.05
    assert late["motor_current_A"] > 0.95
    # Already there when a whole-file fault recording starts.
    whole = generate_run(600, seed=4, fault="bearing_wear")
    early = (
        whole["vibration_de_mm_s"].iloc[:50].median()
        / normal["vibration_de_mm_s"].iloc[:50].median()
    )
    assert early > 1.6


def test_run_csv_and_command_line(tmp_path: Path) -> None:
    path = write_run_csv(tmp_path / "run.csv", 400, seed=9, fault="stuck_sensor", fault_start=120)
    rec = load_recording(path)
    assert rec.channels == CHANNELS and rec.label_column == "label"
    assert rec.class_counts() == {NORMAL: 120, "stuck_sensor": 280}
    expected = generate_run(400, 9, "stuck_sensor", 120)[list(CHANNELS)].to_numpy(np.float32)
    np.testing.assert_array_equal(rec.data, expected)

    cli = tmp_path / "cli.csv"
    args = ["--rows", "400", "--seed", "9", "--fault", "stuck_sensor", "--fault-start", "120"]
    assert main([str(cli), *args]) == 0
    assert cli.read_bytes() == path.read_bytes()
    assert main([str(cli), "--rows", "400", "--seed", "9", "--run"]) == 0
    assert cli.read_text() == _csv_text(generate_run(400, 9))
    assert main([str(cli), "--rows", "600", "--seed", "9"]) == 0  # still the demo recording
    assert cli.read_text() == _csv_text(generate_demo(600, 9))
    with pytest.raises(SystemExit):
        main([str(cli), "--rows", "400", "--fault-start", "10", "--run"])
    with pytest.raises(SystemExit):
        main([str(cli), "--rows", "400", "--fault", "cavitation", "--fault-start", "400"])
