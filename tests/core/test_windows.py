"""Windowing, window labels and normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faultlens.core.windows import (
    CLIP_SIGMAS,
    MEDIAN_ROWS,
    channel_medians,
    encode_inputs,
    fit_normalisation,
    gather_windows,
    iter_window_batches,
    iter_window_batches_on,
    normalise,
    occluded_variants,
    sliding_windows,
    window_labels,
    window_starts,
)


def test_sliding_windows_is_a_view_with_the_right_rows() -> None:
    data = np.arange(30, dtype=np.float32).reshape(10, 3)
    view = sliding_windows(data, 4)
    assert view.shape == (7, 4, 3)
    assert np.shares_memory(view, data)
    np.testing.assert_array_equal(view[2], data[2:6])


def test_window_starts_with_and_without_last() -> None:
    np.testing.assert_array_equal(window_starts(10, 4, 3), [0, 3, 6])
    np.testing.assert_array_equal(window_starts(11, 4, 3, include_last=True), [0, 3, 6, 7])
    np.testing.assert_array_equal(window_starts(10, 4, 3, include_last=True), [0, 3, 6])
    assert window_starts(3, 4, 1).size == 0
    with pytest.raises(ValueError):
        window_starts(10, 0, 1)


def test_iter_window_batches_streams_every_window_once() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(103, 2)).astype(np.float32)
    got_starts, sizes = [], []
    for starts, batch in iter_window_batches(data, window=8, stride=5, batch_size=6):
        assert batch.dtype == np.float32 and batch.flags.c_contiguous
        assert batch.shape == (len(starts), 8, 2)
        for s, w in zip(starts, batch, strict=True):
            np.testing.assert_array_equal(w, data[s : s + 8])
        got_starts.extend(starts.tolist())
        sizes.append(len(starts))
    assert got_starts == window_starts(103, 8, 5, include_last=True).tolist()
    assert got_starts[-1] == 103 - 8  # covers the recording to its last row
    assert max(sizes) <= 6


def test_window_label_is_the_last_row() -> None:
    rows = np.array([0, 0, 0, 1, 1, -1, 0, 0], dtype=np.int64)
    starts = window_starts(len(rows), 3, 1)
    np.testing.assert_array_equal(window_labels(rows, starts, 3), [0, 1, 1, -1, 0, 0])


def test_normalisation_ignores_nan_and_fills_it_with_zero() -> None:
    a = np.array([[1.0, 10.0], [3.0, np.nan], [np.nan, 14.0]], dtype=np.float32)
    b = np.array([[5.0, 12.0]], dtype=np.float32)
    mean, std = fit_normalisation([a, b])
    np.testing.assert_allclose(mean, [3.0, 12.0])
    np.testing.assert_allclose(std, [np.std([1, 3, 5]), np.std([10, 14, 12])], rtol=1e-6)
    out = normalise(a, mean, std)
    assert out.dtype == np.float32 and not np.isnan(out).any()
    assert out[1, 1] == 0.0 and out[2, 0] == 0.0
    np.testing.assert_allclose(out[0, 0], (1.0 - 3.0) / std[0], rtol=1e-6)


def test_flat_and_empty_channels_get_a_safe_scale() -> None:
    data = np.array([[5.0, np.nan], [5.0, np.nan], [5.0, np.nan]], dtype=np.float32)
    mean, std = fit_normalisation([data])
    assert std[0] > 0 and np.isfinite(std).all()
    assert (mean[1], std[1]) == (0.0, 1.0)
    # A far-out value is clipped rather than exploding.
    out = normalise(np.array([[1e9, 1.0]], dtype=np.float32), mean, std)
    assert out[0, 0] == CLIP_SIGMAS


def test_gather_windows_copies_only_requested() -> None:
    data = np.arange(20, dtype=np.float32).reshape(10, 2)
    out = gather_windows(data, np.array([4, 0]), 3)
    assert not np.shares_memory(out, data)
    np.testing.assert_array_equal(out[0], data[4:7])
    np.testing.assert_array_equal(out[1], data[0:3])


def test_device_batches_match_host_batches() -> None:
    data = np.random.default_rng(1).normal(size=(77, 3)).astype(np.float32)
    host = list(iter_window_batches(data, window=9, stride=4, batch_size=5))
    dev = list(iter_window_batches_on(data, 9, 4, 5, torch.device("cpu")))
    assert len(host) == len(dev)
    for (hs, hb), (ds, db) in zip(host, dev, strict=True):
        np.testing.assert_array_equal(hs, ds)
        np.testing.assert_array_equal(hb, db.numpy())
    assert list(iter_window_batches_on(data[:5], 9, 4, 5, torch.device("cpu"))) == []


def test_relative_inputs_are_levels_then_deviations_from_the_median() -> None:
    data = np.array([[1.0, 10.0], [2.0, np.nan], [9.0, 30.0]], dtype=np.float32)
    medians = channel_medians(data)
    np.testing.assert_allclose(medians, [2.0, 20.0])
    encoded = encode_inputs(data, medians)
    assert encoded.shape == (3, 4) and encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded[:, :2], data)
    np.testing.assert_allclose(encoded[:, 2:], data - [2.0, 20.0])
    assert np.isnan(encoded[1, 3])  # a gap stays a gap (normalisation fills it)
    assert encode_inputs(data, None).shape == (3, 2)


def test_a_level_shift_moves_levels_but_not_deviations() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(500, 3)).astype(np.float32)
    shifted = data + np.array([100.0, -7.0, 0.5], dtype=np.float32)
    a = encode_inputs(data, channel_medians(data))
    b = encode_inputs(shifted, channel_medians(shifted))
    np.testing.assert_allclose(a[:, 3:], b[:, 3:], atol=1e-4)
    assert not np.allclose(a[:, :3], b[:, :3])


def test_channel_medians_of_an_empty_channel_is_nan_without_a_warning() -> None:
    data = np.array([[1.0, np.nan, np.inf], [3.0, np.nan, 5.0]], dtype=np.float32)
    medians = channel_medians(data)  # filterwarnings=error: an "All-NaN slice" would fail
    assert medians[0] == 2.0 and np.isnan(medians[1]) and medians[2] == 5.0
    assert not np.isnan(normalise(encode_inputs(data, medians), np.zeros(6), np.ones(6))).any()


def test_channel_medians_of_a_long_recording_use_a_row_sample() -> None:
    n = 3 * MEDIAN_ROWS
    data = np.arange(n, dtype=np.float32)[:, None]
    assert abs(float(channel_medians(data)[0]) - n / 2) < 0.001 * n


def test_occluding_a_channel_replaces_its_level_and_its_deviation() -> None:
    """With relative inputs a channel has two input columns (encode_inputs: levels, then
    deviations); occluding it replaces both, and no other channel's."""
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    x = encode_inputs(data, np.zeros(3, dtype=np.float32))[None]  # (1, T=4, I=6)
    reference = np.full((4, 6), -1.0, dtype=np.float32)
    variants = occluded_variants(x, reference, 3)
    assert variants.shape == (4, 1, 4, 6)
    np.testing.assert_array_equal(variants[0], x)
    for c in range(3):
        replaced = np.flatnonzero((variants[c + 1, 0] == -1.0).all(axis=0))
        assert replaced.tolist() == [c, c + 3]
