"""Windowing, window labels and normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faultlens.core.windows import (
    CLIP_SIGMAS,
    fit_normalisation,
    gather_windows,
    iter_window_batches,
    iter_window_batches_on,
    normalise,
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
