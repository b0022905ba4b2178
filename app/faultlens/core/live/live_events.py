"""Fault events as rows are scored: when one opens, when it is over.

The rule is the offline one (``faultlens.core.events.find_stretches``): flagged rows
(``fault_probability >= threshold``) form runs, runs fewer than ``merge_gap_rows`` unflagged
rows apart merge, and a merged stretch shorter than ``min_duration_rows`` is no event. Read
as rows arrive, that says when an alarm can be raised and when it can be cleared:

- a stretch OPENS as an event once it spans ``min_duration_rows`` rows (it can only grow);
- it CLOSES once ``merge_gap_rows`` rows (at least one) after its last flagged row have been
  scored without a flag: no later row could merge with it any more, so its rows are final.

Run over every row, the closed stretches (plus the one still open, closed at stop) are
exactly ``find_stretches`` of all rows. This module finds rows only; the monitor makes
``FaultEvent``s of them with ``events.build_events``, as the offline scan does.
"""

from __future__ import annotations

import numpy as np

from faultlens.core.events import _runs

Stretch = tuple[int, int]  # (start_row, end_row inclusive)


class LiveEventTracker:
    """Incremental ``find_stretches`` over per-row fault probabilities scored in order."""

    def __init__(self, threshold: float, min_duration_rows: int, merge_gap_rows: int) -> None:
        self.threshold = float(threshold)
        self.min_rows = max(1, int(min_duration_rows))
        # Two runs merge when fewer than this many unflagged rows lie between them; adjacent
        # flagged rows are one run whatever the option says.
        self.merge_gap = max(1, int(merge_gap_rows))
        self._done = 0  # rows [0, _done) have been read
        self._current: Stretch | None = None  # the stretch that may still grow
        self._opened = False  # whether _current has been reported as opened

    @property
    def rows_done(self) -> int:
        return self._done

    @property
    def current(self) -> Stretch | None:
        """The stretch that is open now (reported as opened, not closed yet), if any."""
        return self._current if self._opened else None

    def _long_enough(self, stretch: Stretch) -> bool:
        return stretch[1] - stretch[0] + 1 >= self.min_rows

    def update(
        self, fault_probability: np.ndarray, scored_rows: int
    ) -> tuple[list[Stretch], list[Stretch]]:
        """Read rows ``[rows_done, scored_rows)`` of ``fault_probability`` (indexed by row);
        returns ``(opened, closed)``: stretches that opened (as they stand now) and that
        closed (final) in those rows. One stretch may do both in one call."""
        opened: list[Stretch] = []
        closed: list[Stretch] = []
        lo, hi = self._done, int(scored_rows)
        if hi <= lo:
            return opened, closed
        with np.errstate(invalid="ignore"):
            flagged = np.asarray(fault_probability[lo:hi], dtype=np.float32) >= self.threshold
        for start, end in _runs(flagged):
            start, end = start + lo, end + lo
            cur = self._current
            if cur is not None and start - cur[1] - 1 < self.merge_gap:
                self._current = (cur[0], end)
            else:
                self._close(opened, closed)
                self._current = (start, end)
            cur = self._current
            if not self._opened and self._long_enough(cur):
                self._opened = True
                opened.append(cur)
        self._done = hi
        cur = self._current
        if cur is not None and hi - cur[1] - 1 >= self.merge_gap:
            self._close(opened, closed)
        return opened, closed

    def finish(self) -> tuple[list[Stretch], list[Stretch]]:
        """At stop: the stretch still running closes as it stands (when long enough);
        ``(opened, closed)`` as ``update`` (it opens here if it never was reported)."""
        opened: list[Stretch] = []
        closed: list[Stretch] = []
        self._close(opened, closed)
        return opened, closed

    def _close(self, opened: list[Stretch], closed: list[Stretch]) -> None:
        cur = self._current
        if cur is not None and self._long_enough(cur):
            if not self._opened:
                opened.append(cur)
            closed.append(cur)
        self._current = None
        self._opened = False
