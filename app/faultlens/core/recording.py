"""The in-memory recording every other part of FaultLens works on.

``faultlens.core.io.load_recording`` builds it from a file; tests and the demo generator may
build one directly with ``Recording.from_arrays``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

TimeKind = Literal["datetime", "seconds", "index"]

# Label values that mean "no fault". Class 0 is "normal" by convention (MODEL.md).
NORMAL_LABELS = ("0", "normal", "ok", "none", "healthy", "nofault", "no_fault", "false")


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file. ``None`` means detect it; the resolved values are kept on the
    Recording so the same file can be re-read the same way."""

    encoding: str | None = None
    separator: str | None = None  # ",", ";", "\t", or r"\s+" for runs of whitespace
    header: bool | None = None
    decimal: str | None = None  # "." or ","
    time_column: str | None = None
    no_time_column: bool = False  # force the row index as time axis
    time_unit: str | None = None  # for numeric time: "s", "ms", "us", "ns"
    label_column: str | None = None
    no_label_column: bool = False
    channels: tuple[str, ...] | None = None  # explicit input channels, in this order


@dataclass
class QualityReport:
    """Data-quality facts about one imported file (all JSON-serialisable via ``to_dict``)."""

    rows: int
    channels: int
    time_span_s: float | None = None
    sampling_interval_median_s: float | None = None
    # Fraction of intervals that differ from the median by more than 10 %.
    sampling_irregularity: float | None = None
    max_gap_s: float | None = None
    missing_per_channel: dict[str, int] = field(default_factory=dict)
    duplicate_timestamps: int = 0
    non_monotonic_timestamps: int = 0
    sorted_by_time: bool = False  # True when we had to sort the rows
    flat_channels: list[str] = field(default_factory=list)
    # channel -> why it counts as flat ("constant 0 over the whole file", "stuck at ...").
    flat_reasons: dict[str, str] = field(default_factory=dict)
    excluded_columns: dict[str, str] = field(default_factory=dict)  # column -> why
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "channels": self.channels,
            "time_span_s": self.time_span_s,
            "sampling_interval_median_s": self.sampling_interval_median_s,
            "sampling_irregularity": self.sampling_irregularity,
            "max_gap_s": self.max_gap_s,
            "missing_per_channel": dict(self.missing_per_channel),
            "duplicate_timestamps": self.duplicate_timestamps,
            "non_monotonic_timestamps": self.non_monotonic_timestamps,
            "sorted_by_time": self.sorted_by_time,
            "flat_channels": list(self.flat_channels),
            "flat_reasons": dict(self.flat_reasons),
            "excluded_columns": dict(self.excluded_columns),
            "warnings": list(self.warnings),
        }


@dataclass(eq=False)
class Recording:
    """A validated multichannel recording.

    ``data`` is ``(N, C)`` float32 with NaN for missing values (never zero-filled).
    ``time`` is float64 seconds: since the Unix epoch (UTC) for ``time_kind == "datetime"``,
    as written for ``"seconds"``, and ``None`` for ``"index"`` (use ``time_axis()``).
    ``labels`` is ``(N,)`` object array of class-name strings, ``""`` where unlabelled, as
    read; every consumer uses its encoding, made once: ``label_names`` (the distinct labels,
    sorted), ``label_codes`` (``(N,)`` int index into them, -1 unlabelled) and ``normal_label``
    (the one rule for which label means normal operation).
    """

    path: Path
    data: np.ndarray
    channels: tuple[str, ...]
    time: np.ndarray | None = None
    time_kind: TimeKind = "index"
    time_column: str | None = None
    utc_offset_s: int | None = None  # offset the file's timestamps were written in, if known
    labels: np.ndarray | None = None
    label_column: str | None = None
    content_hash: str = ""
    options: ImportOptions = field(default_factory=ImportOptions)
    quality: QualityReport | None = None
    # How many bytes of the file ``content_hash`` covers (None: not read from a file): a file
    # that has grown since starts with them, which keeps its review valid.
    content_bytes: int | None = None
    # The file's own hash and where the labels come from ("file"; "reviewed" or "class" on
    # the copies ``with_labels`` makes): a model records both for each training recording,
    # so retraining can find the file again and label it the same way.
    file_hash: str = ""
    label_origin: str = "file"

    def __post_init__(self) -> None:
        if self.data.ndim != 2 or self.data.shape[1] != len(self.channels):
            raise ValueError(f"data {self.data.shape} does not match {len(self.channels)} channels")
        if self.data.dtype != np.float32:
            self.data = self.data.astype(np.float32)
        n = self.data.shape[0]
        if self.time is not None and self.time.shape != (n,):
            raise ValueError("time axis length does not match data")
        if self.labels is not None and self.labels.shape != (n,):
            raise ValueError("labels length does not match data")
        if self.quality is None:
            self.quality = QualityReport(rows=n, channels=len(self.channels))

    @classmethod
    def from_arrays(
        cls,
        data: np.ndarray,
        channels: list[str] | tuple[str, ...],
        *,
        labels: np.ndarray | list[str] | None = None,
        time: np.ndarray | None = None,
        time_kind: TimeKind | None = None,
        path: str | Path = "<memory>",
        label_column: str | None = "label",
    ) -> Recording:
        data = np.ascontiguousarray(data, dtype=np.float32)
        lab = (
            None if labels is None else np.asarray(labels, dtype=object).astype(str).astype(object)
        )
        digest = hashlib.sha256(data.tobytes())
        if lab is not None:
            digest.update("\x00".join(lab.tolist()).encode())
        return cls(
            path=Path(path),
            data=data,
            channels=tuple(channels),
            time=None if time is None else np.asarray(time, dtype=np.float64),
            time_kind=time_kind or ("index" if time is None else "seconds"),
            labels=lab,
            label_column=label_column if lab is not None else None,
            content_hash=digest.hexdigest(),
        )

    @property
    def n_rows(self) -> int:
        return int(self.data.shape[0])

    @property
    def name(self) -> str:
        return self.path.name

    def time_axis(self) -> np.ndarray:
        """Float64 x values for plotting: the time column, or the row index."""
        if self.time is None:
            return np.arange(self.n_rows, dtype=np.float64)
        return self.time

    @functools.cached_property
    def sampling_interval(self) -> float:
        """Seconds per row (``median_interval`` of the time column), or 1.0 (one row) without
        a time column or without two increasing times. The one definition every view, event
        duration and report uses."""
        if self.time is None:
            return 1.0
        return median_interval(self.time) or 1.0

    def format_time(self, row: int) -> str:
        """The time of ``row`` as text: ISO-8601 (with offset when known), or seconds/row."""
        if self.time is None:
            return str(int(row))
        t = float(self.time[row])
        if self.time_kind != "datetime":
            return f"{t:g}"
        if self.utc_offset_s is None:
            return datetime.fromtimestamp(t, tz=timezone.utc).replace(tzinfo=None).isoformat()
        tz = timezone(timedelta(seconds=self.utc_offset_s))
        return datetime.fromtimestamp(t, tz=tz).isoformat()

    @functools.cached_property
    def _label_encoding(self) -> tuple[tuple[str, ...], np.ndarray]:
        if self.labels is None:
            return (), np.full(self.n_rows, -1, dtype=np.int32)
        values, inverse = np.unique(self.labels.astype(str), return_inverse=True)
        names = [str(v) for v in values]
        codes = inverse.reshape(-1).astype(np.int32)
        if names and names[0] == "":  # "" sorts first: unlabelled rows
            names, codes = names[1:], codes - 1
        return tuple(names), codes

    @property
    def label_names(self) -> tuple[str, ...]:
        """The distinct non-empty labels, sorted (empty without a label column)."""
        return self._label_encoding[0]

    @property
    def label_codes(self) -> np.ndarray:
        """(N,) int32: each row's index into ``label_names``, -1 where unlabelled."""
        return self._label_encoding[1]

    @property
    def normal_label(self) -> str | None:
        """This recording's label for normal operation (``normal_label_of``), if any."""
        return normal_label_of(self.label_names)

    @functools.cached_property
    def fault_label_runs(self) -> tuple[tuple[int, int, str], ...]:
        """Contiguous runs of one fault label (every label ``is_normal_label`` rejects) as
        ``(start_row, end_row_inclusive, label)``: what the view shades and the report marks."""
        names, codes = self._label_encoding
        is_fault = np.array([not is_normal_label(n) for n in names] + [False], dtype=bool)
        code = np.where(is_fault[codes], codes, -1)  # (N,) fault label id; -1 (last) -> False
        if code.size == 0:
            return ()
        change = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
        ends = np.r_[change[1:] - 1, code.size - 1]
        return tuple(
            (int(s), int(e), names[code[s]])
            for s, e in zip(change, ends, strict=True)
            if code[s] >= 0
        )

    def class_counts(self) -> dict[str, int]:
        """Rows per label value (unlabelled rows are not counted)."""
        names, codes = self._label_encoding
        counts = np.bincount(codes[codes >= 0], minlength=len(names))
        return {name: int(c) for name, c in zip(names, counts, strict=True) if c}

    @property
    def source_hash(self) -> str:
        """The sha256 of the file the rows were read from (also on relabelled copies)."""
        return self.file_hash or self.content_hash

    def with_labels(
        self, labels: np.ndarray, label_column: str, origin: str = "labels"
    ) -> Recording:
        """A copy with other per-row labels (the data shared, not copied) and a content hash
        that tells them from the file's own (training data fingerprints use it); ``origin``
        says where they come from ("reviewed", "class")."""
        labels = np.asarray(labels, dtype=object)
        digest = hashlib.sha256(self.content_hash.encode())
        digest.update(f"\x00{label_column}\x00".encode())
        digest.update("\x00".join(labels.astype(str).tolist()).encode())
        return dataclasses.replace(
            self,
            labels=labels,
            label_column=label_column,
            content_hash=digest.hexdigest(),
            file_hash=self.source_hash,
            label_origin=origin,
        )

    def with_file_class(self, class_name: str) -> Recording:
        """A copy whose every row is labelled ``class_name`` (one state throughout)."""
        return self.with_labels(
            np.full(self.n_rows, class_name, dtype=object), "class (whole file)", origin="class"
        )

    def summary_dict(self) -> dict[str, Any]:
        """What ``faultlens inspect --json`` prints."""
        assert self.quality is not None
        return {
            "file": str(self.path),
            "sha256": self.content_hash,
            "rows": self.n_rows,
            "channels": list(self.channels),
            "time_column": self.time_column,
            "time_kind": self.time_kind,
            "label_column": self.label_column,
            "classes": self.class_counts(),
            "quality": self.quality.to_dict(),
        }


def median_interval(time: np.ndarray) -> float | None:
    """The median of the positive steps of ``time`` (float seconds), None without any: the
    sampling interval, unmoved by duplicate timestamps, backward steps and gaps."""
    steps = np.diff(np.asarray(time, dtype=np.float64))
    positive = steps[steps > 0]  # NaN compares False: dropped too
    return float(np.median(positive)) if positive.size else None


def normal_label_of(names: Iterable[str]) -> str | None:
    """The one rule for which label means normal operation: the first (in sorted order) of
    ``names`` that ``is_normal_label`` accepts; None when none does."""
    normal = sorted(n for n in names if is_normal_label(n))
    return normal[0] if normal else None


def is_normal_label(value: str) -> bool:
    """True for label values that mean normal operation ("0", "normal", "ok", ...)."""
    v = value.strip().lower()
    try:
        return float(v) == 0.0
    except ValueError:
        return v in NORMAL_LABELS
