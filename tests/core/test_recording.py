"""What a Recording derives once: label encoding, the normal label, the sampling interval."""

from __future__ import annotations

import numpy as np
import pytest

from faultlens.core.recording import Recording, median_interval, normal_label_of


def _rec(labels: list[str] | None = None, time: list[float] | None = None) -> Recording:
    n = len(labels) if labels is not None else len(time or [0.0, 1.0])
    return Recording.from_arrays(
        np.zeros((n, 1)),
        ["a"],
        labels=labels,
        time=None if time is None else np.array(time),
    )


def test_labels_are_encoded_once_with_unlabelled_rows_minus_one() -> None:
    rec = _rec(["", "leak", "normal", "leak", ""])
    assert rec.label_names == ("leak", "normal")
    assert rec.label_codes.tolist() == [-1, 0, 1, 0, -1]
    assert rec.class_counts() == {"leak": 2, "normal": 1}
    assert rec.label_codes is rec.label_codes  # computed once


def test_one_rule_for_the_normal_label() -> None:
    assert normal_label_of(["leak", "ok", "0"]) == "0"
    assert normal_label_of(["leak", "cavitation"]) is None
    assert _rec(["1", "0.0", "1"]).normal_label == "0.0"
    assert _rec(None).normal_label is None


def test_with_file_class_labels_every_row_and_changes_the_fingerprint() -> None:
    rec = _rec(["normal", "leak"])
    whole = rec.with_file_class("leak")
    assert whole.label_names == ("leak",)
    assert whole.class_counts() == {"leak": 2}
    assert whole.data is rec.data
    assert whole.content_hash != rec.content_hash
    assert rec.with_file_class("normal").content_hash != whole.content_hash


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ([0.0, 0.5, 1.0, 1.0, 2.0], 0.5),  # a duplicate timestamp does not count
        ([0.0, 1.0, 0.5, 1.5, 2.5], 1.0),  # nor a step back
        ([0.0, np.nan, 2.0, 3.0], 1.0),  # nor a missing time
        ([5.0, 5.0], None),
    ],
)
def test_median_interval_uses_the_positive_steps(time: list[float], expected: float | None) -> None:
    assert median_interval(np.array(time)) == expected


def test_sampling_interval_is_one_row_without_time() -> None:
    assert _rec(["a", "b", "c"]).sampling_interval == 1.0
    assert _rec(time=[0.0, 0.25, 0.5]).sampling_interval == 0.25
    assert _rec(time=[3.0, 3.0]).sampling_interval == 1.0
