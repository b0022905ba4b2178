"""Explaining one decision (``faultlens.core.explain``): the window's own forward pass as
the scan runs it, attention and hotspot bookkeeping, the gradients behind contribution
and hotspot channels, occlusion as for events, and naming a row by text."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faultlens.core.attribution import attribute_events
from faultlens.core.checkpoint import TrainedModel
from faultlens.core.errors import ChannelMismatchError
from faultlens.core.explain import explain, explain_rows, row_at
from faultlens.core.model import ModelConfig, build_model
from faultlens.core.options import ScanOptions
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording
from faultlens.core.scan import scan

CHANNELS = ("a", "b", "c")


def tiny_model(members: int = 1, relative: bool = True, window: int = 8) -> TrainedModel:
    """Random weights, the product's architecture: relative inputs (two input columns per
    channel) and the feature front-end, so per-channel sums are exercised."""
    torch.manual_seed(members)
    config = ModelConfig(
        n_channels=3, n_classes=3, hidden=8, heads=2, classifier_hidden=8,
        relative_inputs=relative, reference="start", feature_scales=(4,), members=members,
    )  # fmt: skip
    width = config.input_size
    return TrainedModel(
        module=build_model(config).eval(),
        config=config,
        channels=CHANNELS,
        class_names=("normal", "x", "y"),
        norm_mean=np.zeros(width, np.float32),
        norm_std=np.ones(width, np.float32),
        window=window,
        stride=4,
        threshold=0.5,
    )


def recording(n: int = 40, seed: int = 3) -> Recording:
    data = np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)
    data[n // 2 :, 1] += 3.0  # a step in b half-way
    return Recording.from_arrays(data, CHANNELS, time=100.0 + 0.5 * np.arange(n))


@pytest.mark.parametrize("members", [1, 2])
def test_values_equal_the_scan_forward_pass_of_each_window(members: int) -> None:
    """Per window, what explain returns is what the stride-1 scan computed: the
    probabilities at the window's last row, and the scan's per-row attention and hotspots
    are exactly the mean of explain's per-window values over the windows covering a row."""
    model, rec = tiny_model(members), recording()
    t, n = model.window, rec.n_rows
    result = run_to_end(scan(model, rec, ScanOptions(device="cpu", stride=1)))
    exps = explain_rows(model, rec, list(range(t - 1, n)), detail=False)
    for e in exps:
        np.testing.assert_allclose(e.probabilities, result.probabilities[e.row], atol=1e-6)
        assert e.fault_probability == pytest.approx(float(result.fault_probability[e.row]))
        assert e.predicted == model.class_names[int(result.predicted[e.row])]
        assert e.rows.tolist() == list(range(e.row - t + 1, e.row + 1))
        np.testing.assert_array_equal(e.values, rec.data[e.rows])
        np.testing.assert_array_equal(e.times, rec.time_axis()[e.rows])
    att_sum, hot_sum, cover = np.zeros(n), np.zeros(n), np.zeros(n)
    for e in exps:
        att_sum[e.rows] += e.attention_received
        hot_sum[e.rows] += e.hotspot_counts
        cover[e.rows] += 1
    np.testing.assert_allclose(att_sum / cover, result.attention, atol=1e-6)
    np.testing.assert_allclose(hot_sum / cover, result.hotspots, atol=1e-6)


@pytest.mark.parametrize("members", [1, 2])
def test_attention_rows_sum_to_one_and_hotspots_add_up_to_the_hidden_size(members: int) -> None:
    model, rec = tiny_model(members), recording()
    e = explain(model, rec, 30)
    heads, t, hidden = model.config.heads, model.window, model.config.hidden
    assert e.attention.shape == (heads, t, t) and e.attention.dtype == np.float32
    np.testing.assert_allclose(e.attention.sum(axis=2), 1.0, atol=1e-5)
    np.testing.assert_allclose(e.attention_received, e.attention.mean(axis=1).mean(axis=0))
    assert e.attention_received.sum() == pytest.approx(1.0, abs=1e-5)
    assert e.hotspot_counts.sum() == pytest.approx(hidden)
    # Every feature of every member won exactly one step, and the counts say how many.
    won = [f for feats in e.hotspot_features for f in feats]
    assert sorted(won) == list(range(members * hidden))
    np.testing.assert_allclose(
        e.hotspot_counts, [len(f) / members for f in e.hotspot_features], rtol=1e-6
    )
    # Hotspot channels: shares where a feature won, nothing elsewhere.
    assert e.hotspot_channels.shape == (t, 3)
    has = e.hotspot_counts > 0
    np.testing.assert_allclose(e.hotspot_channels[has].sum(axis=1), 1.0, atol=1e-5)
    assert (e.hotspot_channels[~has] == 0).all() and (e.hotspot_channels >= 0).all()
    assert e.contribution.shape == (3, t) and e.channel_attribution.shape == (3,)
    assert e.contribution_method


def test_a_channel_at_its_training_mean_gets_no_hotspot_share_or_contribution() -> None:
    """Gradient x input, summed per sensor channel: a channel whose normalised input is 0
    throughout (level at the training mean, no deviation) can take no share, so the
    columns are mapped to the right channel."""
    model, rec = tiny_model(relative=False), recording()
    data = rec.data.copy()
    data[:, 2] = 0.0  # c sits at its training mean (0) everywhere
    rec = Recording.from_arrays(data, CHANNELS)
    e = explain(model, rec, 30)
    has = e.hotspot_counts > 0
    assert (e.hotspot_channels[:, 2] == 0).all()
    assert (e.hotspot_channels[has, :2].sum(axis=1) > 0.99).all()
    assert (e.contribution[2] == 0).all() and np.abs(e.contribution[:2]).sum() > 0


def fault_probability(model: TrainedModel, windows: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = model.module(torch.from_numpy(windows.astype(np.float32))).logits
    return 1.0 - torch.softmax(logits.double(), dim=1)[:, 0].numpy()


def test_contribution_sits_where_the_window_differs_from_its_reference() -> None:
    """A window identical to its reference window but for channel b at one step: only
    that cell can contribute (occluding any other cell changes nothing)."""
    model = tiny_model()
    t = model.window
    base = np.random.default_rng(5).normal(size=(t, 3)).astype(np.float32)
    data = np.concatenate([base, base, base])  # the window before repeats exactly
    data[2 * t + 5, 1] += 4.0  # but b jumps at step 5 of the last window
    rec = Recording.from_arrays(data, CHANNELS)
    e = explain(model, rec, 3 * t - 1, before=2 * t)
    assert abs(e.contribution[1, 5]) > 1e-4
    others = np.ones_like(e.contribution, dtype=bool)
    others[1, 5] = False
    assert (e.contribution[others] == 0).all()


def test_contribution_is_the_fault_probability_drop_when_one_cell_is_occluded() -> None:
    model, rec = tiny_model(), recording()
    row, before = 34, 12
    e = explain(model, rec, row, before=before)
    data = model.select_channels(rec)
    medians = model.input_medians(data)
    t = model.window
    x = model.model_input(data[row - t + 1 : row + 1], medians)
    ref = model.model_input(data[before - t : before], medians)
    for c, step in [(1, t - 1), (0, 3), (2, 0)]:
        occluded = x.copy()
        occluded[step, [c, c + 3]] = ref[step, [c, c + 3]]  # level and deviation columns
        drop = np.diff(fault_probability(model, np.stack([occluded, x])))[0]
        assert e.contribution[c, step] == pytest.approx(drop, abs=1e-5)
    assert np.abs(e.contribution).max() > 1e-3  # the checks mean something
    assert "occlusion" in e.contribution_method


def test_channel_attribution_is_event_occlusion_for_a_one_row_stretch() -> None:
    model, rec = tiny_model(), recording()
    row = 28
    e = explain(model, rec, row, before=row)
    k = model.class_names.index(e.predicted)
    cls = k if k > 0 else 1 + int(np.argmax(e.probabilities[1:]))
    ((names, shares),) = attribute_events(model, rec, [(row, row)], [cls], top=3, device_name="cpu")
    for name, share in zip(names, shares, strict=True):
        assert e.channel_attribution[CHANNELS.index(name)] == pytest.approx(share, abs=1e-5)
    assert e.channel_attribution.sum() == pytest.approx(1.0 if names else 0.0, abs=1e-5)


def test_a_row_without_a_full_window_or_a_missing_channel_is_a_clear_error() -> None:
    model, rec = tiny_model(), recording(n=20)
    with pytest.raises(ValueError, match=r"choose a row from 7 to 19"):
        explain(model, rec, 6)
    with pytest.raises(ValueError, match=r"choose a row from 7 to 19"):
        explain(model, rec, 20)
    assert explain(model, rec, 7).row == 7 and explain(model, rec, 19).row == 19
    with pytest.raises(ValueError, match="must start at a row from 0 to 10"):
        explain(model, rec, 10, before=11)
    other = Recording.from_arrays(rec.data, ("a", "b", "zzz"))
    with pytest.raises(ChannelMismatchError, match=r"needs channel\(s\) c "):
        explain(model, other, 10)


def test_row_at_reads_rows_offsets_and_times() -> None:
    rec = recording(n=40)  # seconds from 100.0, every 0.5 s
    assert row_at(rec, "12") == 12
    assert row_at(rec, " 0 ") == 0
    assert row_at(rec, "+3s") == 6 and row_at(rec, "+3.2") == 6
    assert row_at(rec, "+0.1min") == 12
    assert row_at(rec, "105.0") == 10 and row_at(rec, "105.4s") == 10
    assert row_at(rec, "105s") == 10  # a whole number is a row unless it says seconds
    assert row_at(rec, "1e4") == 39  # after the end: the last row at or before it
    with pytest.raises(ValueError, match="past the recording's last row"):
        row_at(rec, "40")
    with pytest.raises(ValueError, match="before the recording's start"):
        row_at(rec, "99.5")
    with pytest.raises(ValueError, match="accepted: a row number"):
        row_at(rec, "yesterday")
    stamped = Recording.from_arrays(
        rec.data, CHANNELS, time=1.7e9 + 2.0 * np.arange(40), time_kind="datetime"
    )
    assert row_at(stamped, stamped.format_time(17)) == 17
    assert row_at(stamped, stamped.format_time(17).replace("T", " ")) == 17
    assert row_at(stamped, stamped.format_time(17) + "Z") == 17
    assert row_at(stamped, "+5s") == 2 and row_at(stamped, "+1min") == 30
    with pytest.raises(ValueError, match="accepted"):
        row_at(stamped, "12.5")  # a bare number is no time for a date-time column
    plain = Recording.from_arrays(rec.data, CHANNELS)
    assert row_at(plain, "+5") == 5
    with pytest.raises(ValueError, match="no time column"):
        row_at(plain, "+5s")


def test_to_dict_is_plain_json_with_missing_values_as_null() -> None:
    import json

    model, rec = tiny_model(), recording()
    data = rec.data.copy()
    data[25, 0] = np.nan  # a gap in the window
    rec = Recording.from_arrays(data, CHANNELS, time=rec.time)
    e = explain(model, rec, 30)
    d = json.loads(json.dumps(e.to_dict(), allow_nan=False))
    assert d["values"][25 - 23][0] is None  # row 25 is step 2 of the window 23..30
    assert d["row"] == 30 and len(d["rows"]) == model.window
    assert np.asarray(d["attention"]).shape == e.attention.shape
    assert d["hotspot_features"] == [list(f) for f in e.hotspot_features]


def test_channels_are_read_by_name_in_the_model_order() -> None:
    model, rec = tiny_model(), recording()
    shuffled = Recording.from_arrays(
        np.column_stack([rec.data[:, 2], rec.data[:, 0], -rec.data[:, 0], rec.data[:, 1]]),
        ("c", "a", "extra", "b"),
        time=rec.time,
    )
    e, f = explain(model, rec, 30), explain(model, shuffled, 30)
    assert f.channels == CHANNELS
    np.testing.assert_array_equal(f.values, e.values)
    np.testing.assert_allclose(f.probabilities, e.probabilities, atol=1e-6)
    np.testing.assert_allclose(f.contribution, e.contribution, atol=1e-6)


def test_many_rows_at_once_explain_each_as_alone() -> None:
    """explain_rows shares forward passes between windows (reports): each row's values are
    those it gets alone."""
    model, rec = tiny_model(), recording()
    rows, befores = [20, 25, 31, 39], [10, 25, 20, 30]
    together = explain_rows(model, rec, rows, befores=befores)
    for e, row, before in zip(together, rows, befores, strict=True):
        alone = explain(model, rec, row, before=before)
        assert e.row == row and e.before == before
        np.testing.assert_allclose(e.contribution, alone.contribution, atol=1e-6)
        np.testing.assert_allclose(e.channel_attribution, alone.channel_attribution, atol=1e-5)
        np.testing.assert_allclose(e.hotspot_channels, alone.hotspot_channels, atol=1e-5)
        assert e.hotspot_features == alone.hotspot_features
