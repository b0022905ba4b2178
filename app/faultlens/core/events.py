"""Fault events: stretches of rows a scan flagged, with their class, scores and channels.

Rules (``detect_events``): rows with ``fault_probability >= threshold`` form runs; runs
separated by fewer than ``merge_gap_rows`` rows are merged, then events shorter than
``min_duration_rows`` are dropped (``find_stretches``). The event class is the fault class
with the largest summed probability over the event. The channels that drove it come from
occlusion (``faultlens.core.attribution``) when the scan's model is at hand.

Cheap enough to rerun whenever the user moves the threshold: everything but attribution
is a few array operations on the scan's per-row outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from faultlens.core.attribution import attribute_events
from faultlens.core.options import ScanOptions
from faultlens.core.progress import ShouldStop, never_stop
from faultlens.core.recording import Recording

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.scan import ScanResult


def format_duration(value: float, unit: str) -> str:
    """A duration for people: ``"40 rows"`` without a time axis, else seconds up to two
    minutes (``"7.5 s"``), minutes up to two hours (``"7.0 min"``), then hours (``"3.25 h"``).
    The event table, the report and the CLI all show it this way."""
    if unit == "rows":
        return f"{value:g} rows"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.2f} h"


@dataclass(frozen=True)
class FaultEvent:
    start_row: int
    end_row: int  # inclusive
    start_time: str  # Recording.format_time
    end_time: str
    duration_s: float  # in rows for recordings without a time axis (see duration_unit)
    class_name: str
    peak_probability: float
    mean_probability: float
    top_channels: tuple[str, ...]
    channel_scores: tuple[float, ...] = ()  # attribution share per top channel
    duration_unit: str = "s"  # "s" or "rows"

    @property
    def rows(self) -> int:
        return self.end_row - self.start_row + 1

    @property
    def duration_text(self) -> str:
        """The duration as a reader wants it (``format_duration``)."""
        return format_duration(self.duration_s, self.duration_unit)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as written by ``Recording.format_time``: ISO-8601 for
        date-time axes)."""
        return {
            "start_row": int(self.start_row),
            "end_row": int(self.end_row),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration": float(self.duration_s),
            "duration_unit": self.duration_unit,
            "class_name": self.class_name,
            "peak_probability": float(self.peak_probability),
            "mean_probability": float(self.mean_probability),
            "top_channels": list(self.top_channels),
            "channel_scores": [float(s) for s in self.channel_scores],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaultEvent:
        return cls(
            start_row=int(d["start_row"]),
            end_row=int(d["end_row"]),
            start_time=str(d["start_time"]),
            end_time=str(d["end_time"]),
            duration_s=float(d["duration"]),
            class_name=str(d["class_name"]),
            peak_probability=float(d["peak_probability"]),
            mean_probability=float(d["mean_probability"]),
            top_channels=tuple(str(c) for c in d.get("top_channels", ())),
            channel_scores=tuple(float(s) for s in d.get("channel_scores", ())),
            duration_unit=str(d.get("duration_unit", "s")),
        )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end inclusive) of every run of True in a 1-D boolean array."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def find_stretches(
    fault_probability: np.ndarray, threshold: float, min_duration_rows: int, merge_gap_rows: int
) -> list[tuple[int, int]]:
    """Row stretches (start, end inclusive) flagged as faults.

    Rows with ``fault_probability >= threshold`` (NaN never is) form runs; runs separated by
    fewer than ``merge_gap_rows`` unflagged rows are merged; merged stretches shorter than
    ``min_duration_rows`` rows are dropped.
    """
    fp = np.asarray(fault_probability, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        flagged = fp >= threshold
    merged: list[tuple[int, int]] = []
    for start, end in _runs(flagged):
        if merged and start - merged[-1][1] - 1 < merge_gap_rows:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [(s, e) for s, e in merged if e - s + 1 >= max(1, min_duration_rows)]


def _duration(recording: Recording, start: int, end: int) -> tuple[float, str]:
    """Span of rows start..end: seconds (the last row counts one sampling interval) or rows."""
    if recording.time is None:
        return float(end - start + 1), "rows"
    return float(recording.time[end] - recording.time[start]) + recording.sampling_interval, "s"


def detect_events(
    result: ScanResult,
    recording: Recording,
    options: ScanOptions = ScanOptions(),
    model: TrainedModel | None = None,
    should_stop: ShouldStop = never_stop,
) -> list[FaultEvent]:
    """Fault events from a scan's per-row outputs (see the module docstring for the rules).

    Attribution uses ``model`` or else ``result.model``; without either (or with
    ``options.attribute`` off) events carry no channels. Cheap enough to rerun when the user
    moves the threshold; ``should_stop`` is polled per event (raises ``Cancelled``).
    """
    if recording.n_rows != result.n_rows:
        raise ValueError(f"scan has {result.n_rows} rows but the recording {recording.n_rows}")
    threshold = result.threshold if options.threshold is None else options.threshold
    stretches = find_stretches(
        result.fault_probability,
        float(threshold),
        options.min_duration_rows,
        options.merge_gap_rows,
    )
    use_model = model if model is not None else result.model
    return build_events(
        recording,
        result.class_names,
        result.probabilities,
        result.fault_probability,
        stretches,
        options,
        use_model,
        should_stop,
    )


def build_events(
    recording: Recording,
    class_names: Sequence[str],
    probabilities: np.ndarray,
    fault_probability: np.ndarray,
    stretches: Sequence[tuple[int, int]],
    options: ScanOptions = ScanOptions(),
    model: TrainedModel | None = None,
    should_stop: ShouldStop = never_stop,
) -> list[FaultEvent]:
    """One ``FaultEvent`` per stretch (start, end inclusive) of per-row outputs
    (``probabilities`` (>= N, K), ``fault_probability`` (>= N,); only the stretches' rows are
    read): the offline scan's events and the live monitor's are built by this one function,
    so they agree. Channels by occlusion with ``model`` unless it is None or
    ``options.attribute`` is off."""
    classes: list[int] = []
    for start, end in stretches:
        probs = np.nan_to_num(probabilities[start : end + 1, 1:], nan=0.0)
        classes.append(1 + int(np.argmax(probs.sum(axis=0))))
    attributions: list[tuple[tuple[str, ...], tuple[float, ...]]]
    if model is not None and options.attribute and stretches:
        attributions = attribute_events(
            model,
            recording,
            stretches,
            classes,
            options.top_channels,
            options.device,
            should_stop,
        )
    else:
        attributions = [((), ())] * len(stretches)

    events = []
    for (start, end), cls, (chans, scores) in zip(stretches, classes, attributions, strict=True):
        fp = fault_probability[start : end + 1]
        duration, unit = _duration(recording, start, end)
        events.append(
            FaultEvent(
                start_row=start,
                end_row=end,
                start_time=recording.format_time(start),
                end_time=recording.format_time(end),
                duration_s=duration,
                class_name=str(class_names[cls]),
                peak_probability=float(np.nanmax(fp)),
                mean_probability=float(np.nanmean(fp)),
                top_channels=chans,
                channel_scores=scores,
                duration_unit=unit,
            )
        )
    return events
