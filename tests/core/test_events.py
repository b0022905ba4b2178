"""Fault events from a scan's per-row outputs: stretches, fields, durations, attribution."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faultlens.core.checkpoint import TrainedModel
from faultlens.core.events import detect_events, find_stretches, format_duration
from faultlens.core.options import ScanOptions, TrainOptions
from faultlens.core.progress import Cancelled, run_to_end
from faultlens.core.recording import Recording
from faultlens.core.scan import ScanResult, scan
from faultlens.core.training import train


def synthetic_result(fault_probability: np.ndarray, classes=("normal", "leak", "valve")):
    n = len(fault_probability)
    fp = np.asarray(fault_probability, dtype=np.float32)
    probs = np.full((n, len(classes)), np.nan, np.float32)
    ok = ~np.isnan(fp)
    probs[ok, 0] = 1 - fp[ok]
    probs[ok, 1] = fp[ok] * 0.3
    probs[ok, 2] = fp[ok] * 0.7
    return ScanResult(
        class_names=tuple(classes),
        probabilities=probs,
        predicted=np.where(ok, np.nanargmax(np.nan_to_num(probs, nan=-1), axis=1), -1),
        fault_probability=fp,
        attention=np.zeros(n, np.float32),
        attention_heads=np.zeros((1, n), np.float32),
        hotspots=np.zeros(n, np.float32),
    )


def test_find_stretches_threshold_merge_and_min_duration() -> None:
    fp = np.zeros(60, np.float32)
    fp[:3] = np.nan
    fp[5:12] = 0.9  # 7 rows
    fp[14:16] = 0.8  # gap of 2 rows after the first: merged with merge gap 3
    fp[30:33] = 0.95  # 3 rows alone: dropped with min duration 4
    fp[40:50] = 0.5  # exactly at threshold counts
    assert find_stretches(fp, 0.5, 4, 3) == [(5, 15), (40, 49)]
    assert find_stretches(fp, 0.5, 1, 0) == [(5, 11), (14, 15), (30, 32), (40, 49)]
    assert find_stretches(fp, 0.85, 1, 0) == [(5, 11), (30, 32)]


def test_detect_events_fields_and_times() -> None:
    fp = np.zeros(40, np.float32)
    fp[10:20] = np.linspace(0.6, 0.9, 10)
    result = synthetic_result(fp)
    t0 = 1_600_000_000.0
    time = t0 + 2.0 * np.arange(40)
    rec = Recording.from_arrays(
        np.zeros((40, 1), np.float32), ["a"], time=time, time_kind="datetime"
    )
    (event,) = detect_events(result, rec, ScanOptions(min_duration_rows=3, merge_gap_rows=2))
    assert (event.start_row, event.end_row) == (10, 19)
    assert event.start_time == rec.format_time(10) and event.start_time.startswith("2020-09-13T")
    assert event.duration_s == pytest.approx(20.0) and event.duration_unit == "s"
    assert event.class_name == "valve"  # larger summed probability than "leak"
    assert event.peak_probability == pytest.approx(0.9)
    assert event.mean_probability == pytest.approx(0.75)
    assert event.top_channels == ()  # no model to attribute with
    rec_rows = Recording.from_arrays(np.zeros((40, 1), np.float32), ["a"])
    (event_rows,) = detect_events(result, rec_rows, ScanOptions())
    assert event_rows.duration_s == 10 and event_rows.duration_unit == "rows"


@pytest.fixture(scope="module")
def channel_b_fault_model() -> TrainedModel:
    """A small model trained on a task where only channel 'b' carries the fault."""
    torch.set_num_threads(1)
    recs = [step_fault_recording(900, seed) for seed in (1, 2)]
    opts = TrainOptions(window=16, stride=4, epochs=6, hidden=16, heads=2, device="cpu")
    return run_to_end(train(recs, opts)).model


def step_fault_recording(n: int, seed: int) -> Recording:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n, 3)).astype(np.float32)
    labels = np.array(["normal"] * n, dtype=object)
    for s in range(150, n - 100, 300):
        data[s : s + 80, 1] += 3.0
        labels[s : s + 80] = "fault"
    return Recording.from_arrays(data, ["a", "b", "c"], labels=labels, path=f"syn{seed}.csv")


def test_attribution_finds_the_channel_that_carries_the_fault(channel_b_fault_model) -> None:
    model = channel_b_fault_model
    rec = step_fault_recording(900, seed=7)
    result = run_to_end(scan(model, rec, ScanOptions(device="cpu")))
    assert len(result.events) >= 2
    for event in result.events:
        assert event.top_channels[0] == "b"
        assert event.channel_scores[0] > 0.5
        assert sum(event.channel_scores) <= 1.0 + 1e-6
        assert list(event.channel_scores) == sorted(event.channel_scores, reverse=True)
    # Re-thresholding later reuses the model stored on the result.
    again = detect_events(result, rec, ScanOptions(device="cpu", threshold=0.7))
    assert again and all(e.top_channels[:1] == ("b",) for e in again)
    with pytest.raises(Cancelled):
        detect_events(result, rec, ScanOptions(device="cpu"), should_stop=lambda: True)


def test_durations_count_the_last_row_with_the_recordings_sampling_interval() -> None:
    fp = np.zeros(60, np.float32)
    fp[5:10] = fp[20:24] = fp[40:52] = 0.9
    result = synthetic_result(fp)
    # Irregular sampling: 1 s mostly, one 3 s gap inside the third event.
    time = np.cumsum(np.r_[0.0, np.ones(59)])
    time[45:] += 2.0
    rec = Recording.from_arrays(np.zeros((60, 1), np.float32), ["a"], time=time)
    options = ScanOptions(min_duration_rows=1, merge_gap_rows=0)
    found = detect_events(result, rec, options)
    assert [(e.start_row, e.end_row) for e in found] == [(5, 9), (20, 23), (40, 51)]
    # The span from the first to the last row's time, plus one median interval (1 s).
    assert [e.duration_s for e in found] == [5.0, 4.0, 14.0]
    # Worked out once per recording (Recording.sampling_interval is cached), not per event.
    assert "sampling_interval" in vars(rec)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (40, "rows", "40 rows"),
        (7.04, "s", "7.0 s"),
        (419, "s", "7.0 min"),
        (11_700, "s", "3.25 h"),
    ],
)
def test_durations_read_in_the_unit_a_person_uses(value: float, unit: str, text: str) -> None:
    assert format_duration(value, unit) == text
