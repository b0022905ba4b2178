"""Training labels from a review: the recording's own labels with the reviewer's decisions
and hand-drawn regions applied, so a model can be retrained on what the engineer saw."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from faultlens.core.errors import ReviewError
from faultlens.core.events import FaultEvent
from faultlens.core.recording import Recording
from faultlens.core.review import Review


def normal_class_of(review: Review | None, recording: Recording) -> str:
    """The label that means 'normal' for this recording: the model's class 0 if known, else
    the recording's own normal label, else 'normal'."""
    if review is not None and review.class_names:
        return review.class_names[0]
    return recording.normal_label or "normal"


def reviewed_labels(
    review: Review,
    recording: Recording,
    events: Iterable[FaultEvent] | None = None,
    normal_class: str | None = None,
) -> np.ndarray:
    """Per-row labels (N,) object array of str with the review applied, for training.

    Start from the recording's own labels (unlabelled rows and recordings without labels:
    the normal class). Dismissed events become normal; confirmed events get the model's
    class, relabelled ones the new class; hand-drawn regions come last and win. Events not
    reviewed keep what the rows had. With ``events`` None, decisions that match none of the
    review's events (taken on another scan, or a review reopened without a scan) apply too:
    a decision is the engineer's word on those rows whichever scan is shown.
    """
    if recording.n_rows != review.n_rows:
        raise ReviewError(
            f"{recording.name}: the review covers {review.n_rows} rows, the recording has "
            f"{recording.n_rows}; open the review of this recording"
        )
    normal = normal_class or normal_class_of(review, recording)
    labels = np.full(recording.n_rows, normal, dtype=object)
    if recording.labels is not None:
        own = recording.labels.astype(str)
        labels[own != ""] = own[own != ""]
    evs = list(review.events if events is None else events)
    decisions = [review.decision(e) for e in evs]
    if events is None:
        decisions += review.orphan_decisions()
    # Dismissals first, so an overlapping confirmed event keeps its rows.
    for dec in decisions:
        if dec.status == "dismissed":
            labels[dec.start_row : dec.end_row + 1] = normal
    for dec in decisions:
        cls = dec.reviewed_class
        if cls is not None:
            labels[dec.start_row : dec.end_row + 1] = cls
    for region in review.regions:
        labels[region.start_row : region.end_row + 1] = region.class_name
    return labels


def recording_with_reviewed_labels(
    review: Review, recording: Recording, events: Iterable[FaultEvent] | None = None
) -> Recording:
    """A copy of ``recording`` whose labels are ``reviewed_labels`` (data shared, not copied)."""
    labels = reviewed_labels(review, recording, events)
    return recording.with_labels(
        labels, recording.label_column or "reviewed label", origin="reviewed"
    )
