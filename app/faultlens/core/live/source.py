"""The one interface a live source implements, and what it hands over.

A source is polled, never pushes: ``read()`` returns everything that arrived since the last
call (or None) without blocking, so one loop (a GUI worker tick, the CLI's loop) drives the
source, the buffer, the live scan and the recorder in order, and a slow consumer makes the
source buffer rows rather than drop them. A source that needs its own thread (MQTT's network
loop) keeps a thread-safe queue behind ``read()``.

Channels are fixed once the source knows them (a CSV's header; MQTT: the channels the user or
the model names, else the keys of the first message), because the recording written to disk
has fixed columns. What a source cannot use is counted in its ``SourceHealth`` (a malformed
payload, an unknown channel, a non-numeric value, time going backwards, a lost connection),
never raised: a live session survives bad input and shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from faultlens.core.recording import TimeKind

Connection = Literal["connecting", "connected", "disconnected", "closed"]


@dataclass(frozen=True)
class SourceChunk:
    """Rows that arrived together, in arrival order.

    ``time``: (n,) float64 seconds - since the Unix epoch (UTC) for ``time_kind ==
    "datetime"``, as written for ``"seconds"``, the running row number for ``"index"`` (as
    ``Recording.time``). ``values``: (n, C) float32 in the source's ``channels`` order, NaN
    for a value that was missing or not a number."""

    time: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.time.shape != (self.values.shape[0],):
            raise ValueError(f"time {self.time.shape} does not match values {self.values.shape}")

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])


@dataclass
class SourceHealth:
    """What a source has received and what it could not use, for the status line.

    Counters only grow. ``notes`` are events worth telling the user once (the file was
    truncated and is followed from its start; reconnected after 12 s); ``last_error`` is the
    most recent problem in words (which message or line, what was wrong)."""

    connection: Connection = "connecting"
    rows: int = 0  # rows handed over by read()
    malformed: int = 0  # messages or lines that could not be read at all
    bad_values: int = 0  # values that were not numbers (the row is kept, the value is NaN)
    unknown_channels: int = 0  # values for channels the source does not record
    missing_values: int = 0  # channels absent from a message (NaN in the row)
    time_backwards: int = 0  # rows whose time is before the previous row's (kept as received)
    missing_times: int = 0  # rows that should have carried their time and did not (arrival used)
    reconnects: int = 0
    duplicates: int = 0  # messages sent again after a reconnect and already received: dropped
    last_error: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """Everything counted as wrong, for a single number in the status bar."""
        return (
            self.malformed
            + self.bad_values
            + self.unknown_channels
            + self.missing_values
            + self.time_backwards
            + self.missing_times
        )


@runtime_checkable
class Source(Protocol):
    """A live source of rows. Call ``start`` once, then ``read`` repeatedly, then ``close``."""

    @property
    def description(self) -> str:
        """Where rows come from, for people: ``"logger.csv (following from the end)"``,
        ``"mqtt://127.0.0.1:1883/plant/#"``."""
        ...

    @property
    def channels(self) -> tuple[str, ...] | None:
        """The recorded channels in column order; None until the source knows them."""
        ...

    @property
    def time_kind(self) -> TimeKind:
        """How ``SourceChunk.time`` is to be read (fixed once ``channels`` is known)."""
        ...

    def start(self) -> None:
        """Open the file or connect; raises ``SourceError`` with a clear message when the
        source cannot be used at all (no such file, bad broker address)."""
        ...

    def read(self) -> SourceChunk | None:
        """Everything that arrived since the last call, or None; never blocks, never raises
        for bad input (it is counted in ``health``)."""
        ...

    def health(self) -> SourceHealth:
        """A copy of the counters and notes, safe to hand to another thread."""
        ...

    def close(self) -> None:
        """Stop receiving and release the file or connection; idempotent."""
        ...


class SourceError(Exception):
    """A source that cannot be used at all; the message says which and what to do."""
