"""The engineer's review of one recording: decisions on flagged events, hand-drawn regions.

A ``Review`` holds, per flagged fault event, a status (confirmed / dismissed / relabelled)
with a note, and a list of regions drawn by hand. Every action can be undone and redone
(snapshot stack: the state is a small immutable value, so each action stores the state it
replaced). Views subscribe with plain callbacks; the core holds all the state.

Where the review is kept on disk (its sidecar file) and how it is read and written is
``review_file``; the labels a review gives for training are ``review_labels``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from faultlens.core.atomic import atomic_write_text
from faultlens.core.errors import ReviewError
from faultlens.core.events import FaultEvent

if TYPE_CHECKING:
    from faultlens.core.recording import Recording
    from faultlens.core.review_file import ReviewWarning

HISTORY_LIMIT = 2000  # audit entries kept in the sidecar; the oldest are dropped first

Status = Literal["unreviewed", "confirmed", "dismissed", "relabelled"]
STATUSES: tuple[Status, ...] = ("unreviewed", "confirmed", "dismissed", "relabelled")


# ---------------------------------------------------------------- small helpers
def now_iso() -> str:
    """Local time with its UTC offset, to the second (what a reader of the audit trail wants)."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def current_user() -> str:
    """The OS user name; getpass fails in some containers and services, so fall back."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError, ImportError):
        name = os.environ.get("USER") or os.environ.get("USERNAME") or ""
    return name or "unknown"


def event_key(event: FaultEvent) -> str:
    """Identity of a flagged event within one scan: its rows and the model's class."""
    return f"{event.start_row}:{event.end_row}:{event.class_name}"


# ---------------------------------------------------------------- state values
@dataclass(frozen=True)
class EventDecision:
    """The reviewer's decision on one flagged event (identified by ``key``)."""

    key: str
    start_row: int
    end_row: int
    class_name: str  # the class the model flagged
    status: Status = "unreviewed"
    relabel: str = ""  # the class or fault code given when relabelled
    note: str = ""
    reviewer: str = ""
    changed: str = ""  # ISO-8601 with offset

    @property
    def reviewed_class(self) -> str | None:
        """The class the rows get after review; None when dismissed or not reviewed."""
        if self.status == "confirmed":
            return self.class_name
        if self.status == "relabelled":
            return self.relabel
        return None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Region:
    """A stretch of rows drawn by hand; ``end_row`` is inclusive."""

    region_id: int
    start_row: int
    end_row: int
    class_name: str
    note: str = ""
    reviewer: str = ""
    created: str = ""
    changed: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ReviewState:
    """Everything an undo step restores. Immutable, so snapshots share unchanged parts."""

    decisions: Mapping[str, EventDecision] = field(default_factory=dict)
    regions: tuple[Region, ...] = ()
    next_region_id: int = 1


@dataclass(frozen=True)
class ReviewChange:
    """What a subscriber is told: the action's label and the keys/ids it touched."""

    action: str
    event_keys: tuple[str, ...] = ()
    region_ids: tuple[int, ...] = ()


Listener = Callable[[ReviewChange], None]


# ---------------------------------------------------------------- the review
class Review:
    """The review of one recording; see the module docstring.

    ``sidecar_path`` None means the review is kept in memory only (a recording that has no
    file, or a read-only look such as the CLI's report).
    """

    def __init__(
        self,
        recording_name: str,
        content_hash: str,
        n_rows: int,
        *,
        recording_path: str | Path | None = None,
        sidecar_path: Path | None = None,
        user: str | None = None,
        autosave: bool = True,
        content_bytes: int | None = None,
    ) -> None:
        self.recording_name = recording_name
        self.recording_path = None if recording_path is None else Path(recording_path)
        self.content_hash = content_hash
        # The file bytes ``content_hash`` covers: the file grown later starts with them.
        self.content_bytes = content_bytes
        self.n_rows = int(n_rows)
        self.sidecar_path = sidecar_path
        self.user = user or current_user()
        self.autosave = autosave and sidecar_path is not None
        self.created = now_iso()
        self.modified = self.created
        # The model the review was made with (whose events the decisions were taken on) and
        # where its file was; kept when a scan by another model comes in.
        self.model_fingerprint = ""
        self.model_path: Path | None = None
        # The model of the events attached now ("" before any scan of this session).
        self.scan_model_fingerprint = ""
        self.scan_model_path: Path | None = None
        self.class_names: tuple[str, ...] = ()
        self.scan_options: dict[str, Any] = {}
        self.warnings: list[ReviewWarning] = []
        self.history: list[dict[str, str]] = []
        self._events: tuple[FaultEvent, ...] = ()
        self._state = ReviewState()
        self._undo: list[tuple[str, ReviewState]] = []
        self._redo: list[tuple[str, ReviewState]] = []
        self._listeners: list[Listener] = []

    # ------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        recording: Recording,
        *,
        sidecar_path: str | Path | None = None,
        user: str | None = None,
        read_only: bool = False,
    ) -> Review:
        """The review of ``recording``, restored from its sidecar when there is one; see
        ``review_file.open_review`` for where the sidecar is looked for and what happens to
        one that cannot be used."""
        # Imported here: the file format is built on this model, not the other way round.
        from faultlens.core.review_file import open_review

        return open_review(recording, sidecar_path=sidecar_path, user=user, read_only=read_only)

    # ------------------------------------------------------------ events of a scan
    @property
    def events(self) -> tuple[FaultEvent, ...]:
        return self._events

    def set_events(
        self,
        events: Sequence[FaultEvent],
        *,
        model_fingerprint: str = "",
        model_path: str | Path | None = None,
        class_names: Sequence[str] = (),
        scan_options: Mapping[str, Any] | Any = None,
    ) -> None:
        """Attach the events of a (new) scan. Not undoable: it is the context of the review,
        not a review action, so the undo history is cleared.

        Made by the review's model (or the review has no decisions yet, so it takes this
        model): decisions carry over to events with the same key, and a decision whose event
        moved (another threshold) follows the event of the same class that overlaps it most
        (intersection over union >= 0.5). Made by another model: no decision is moved or
        dropped (only one on the very same rows and class applies), the review keeps its
        model, and ``rescan_note`` says how many decisions match none of the new events.
        """
        self._events = tuple(events)
        other_model = self.is_other_model(model_fingerprint)
        self.scan_model_fingerprint = model_fingerprint
        self.scan_model_path = None if model_path is None else Path(model_path)
        if model_fingerprint and not other_model:
            self.model_fingerprint = model_fingerprint
            self.model_path = self.scan_model_path
        if class_names and (not other_model or not self.class_names):
            self.class_names = tuple(class_names)
        if scan_options is not None:
            self.scan_options = (
                dict(scan_options)
                if isinstance(scan_options, Mapping)
                else dataclasses.asdict(scan_options)
            )
        decisions = dict(self._state.decisions)
        current = {event_key(e): e for e in self._events}
        for key, dec in list(decisions.items()):
            if key in current or other_model:
                continue
            best, best_iou = None, 0.5
            for e_key, e in current.items():
                if e.class_name != dec.class_name or e_key in decisions:
                    continue
                inter = min(e.end_row, dec.end_row) - max(e.start_row, dec.start_row) + 1
                if inter <= 0:
                    continue
                union = max(e.end_row, dec.end_row) - min(e.start_row, dec.start_row) + 1
                if inter / union >= best_iou:
                    best, best_iou = e, inter / union
            if best is not None:
                del decisions[key]
                decisions[event_key(best)] = dataclasses.replace(
                    dec, key=event_key(best), start_row=best.start_row, end_row=best.end_row
                )
        self._state = dataclasses.replace(self._state, decisions=decisions)
        self._undo.clear()
        self._redo.clear()
        if other_model:
            self._log(
                f"Scanned with another model ({model_fingerprint[:12]}); "
                f"{len(self.orphan_decisions())} decision(s) match none of its events, kept"
            )
        self._notify(ReviewChange("events", tuple(current)))
        # Only a review with content, or one already on disk, is saved: merely scanning a
        # recording (the demo, say) must not leave a sidecar next to it.
        if self.has_content or (self.sidecar_path is not None and self.sidecar_path.exists()):
            self._save_if_needed()

    def is_other_model(self, fingerprint: str) -> bool:
        """Whether a scan by the model ``fingerprint`` is by another model than the one this
        review's decisions were taken on (False while there are no decisions to protect)."""
        return bool(
            fingerprint
            and self.model_fingerprint
            and fingerprint != self.model_fingerprint
            and self._state.decisions
        )

    @property
    def scanned_with_other_model(self) -> bool:
        """The events shown come from another model than the review's own."""
        return self.is_other_model(self.scan_model_fingerprint)

    def rescan_note(self) -> str:
        """One sentence for the screen when the events shown are another model's ("" when
        they are the review's model's)."""
        if not self.scanned_with_other_model:
            return ""
        n = len(self.orphan_decisions())
        return (
            f"scanned with another model than the review's ({self.model_name}); "
            f"{n} earlier decision(s) match none of its events and are kept, listed in the "
            "Review panel"
        )

    @property
    def model_name(self) -> str:
        """The review's model as a person names it: its file name and short fingerprint."""
        short = self.model_fingerprint[:12]
        if self.model_path is None:
            return f"fingerprint {short}" if short else "no model"
        return f"{self.model_path.name}, fingerprint {short}"

    def snapshot(self) -> Review:
        """A detached, read-only copy of the current state (no file, no listeners, no undo)
        for work on another thread, e.g. writing a report while the user goes on reviewing."""
        copy = Review(
            self.recording_name,
            self.content_hash,
            self.n_rows,
            recording_path=self.recording_path,
            sidecar_path=None,
            user=self.user,
            autosave=False,
            content_bytes=self.content_bytes,
        )
        copy.created, copy.modified = self.created, self.modified
        copy.model_fingerprint = self.model_fingerprint
        copy.model_path = self.model_path
        copy.scan_model_fingerprint = self.scan_model_fingerprint
        copy.scan_model_path = self.scan_model_path
        copy.class_names = self.class_names
        copy.scan_options = dict(self.scan_options)
        copy.history = list(self.history)
        copy._events = self._events
        copy._state = self._state  # immutable: shared safely
        return copy

    # ------------------------------------------------------------ reading
    @property
    def state(self) -> ReviewState:
        return self._state

    @property
    def regions(self) -> tuple[Region, ...]:
        return self._state.regions

    def region(self, region_id: int) -> Region:
        for r in self._state.regions:
            if r.region_id == region_id:
                return r
        raise ReviewError(f"{self.recording_name}: there is no hand-drawn region {region_id}")

    def decision(self, event: FaultEvent | int) -> EventDecision:
        """The decision on ``event`` (a FaultEvent or an index into ``events``); an
        'unreviewed' decision when none was made."""
        ev = self._event(event)
        key = event_key(ev)
        found = self._state.decisions.get(key)
        if found is not None:
            return found
        return EventDecision(key, ev.start_row, ev.end_row, ev.class_name)

    def status(self, event: FaultEvent | int) -> Status:
        return self.decision(event).status

    @property
    def has_content(self) -> bool:
        """True once anything was decided, noted or drawn."""
        return bool(self._state.decisions) or bool(self._state.regions)

    def orphan_decisions(self) -> list[EventDecision]:
        """Decisions whose event is not among the current scan's events (kept, reported)."""
        current = {event_key(e) for e in self._events}
        return [d for k, d in self._state.decisions.items() if k not in current]

    def counts(self) -> dict[str, int]:
        """Events per review status, for a summary line."""
        out: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for e in self._events:
            out[self.status(e)] += 1
        return out

    def reviewers(self) -> list[str]:
        names = {d.reviewer for d in self._state.decisions.values() if d.reviewer}
        names |= {r.reviewer for r in self._state.regions if r.reviewer}
        return sorted(names)

    # ------------------------------------------------------------ event actions
    def confirm(self, event: FaultEvent | int) -> None:
        self.set_status(event, "confirmed")

    def dismiss(self, event: FaultEvent | int) -> None:
        self.set_status(event, "dismissed")

    def relabel(self, event: FaultEvent | int, class_name: str) -> None:
        self.set_status(event, "relabelled", class_name)

    def reset(self, event: FaultEvent | int) -> None:
        self.set_status(event, "unreviewed")

    def set_status(self, event: FaultEvent | int, status: Status, relabel: str = "") -> None:
        """Set an event's status; ``relabel`` (a class or a typed fault code) is required
        for 'relabelled' and ignored otherwise."""
        if status not in STATUSES:
            raise ReviewError(f"unknown review status {status!r}; use one of {', '.join(STATUSES)}")
        relabel = relabel.strip()
        if status == "relabelled" and not relabel:
            raise ReviewError("relabelling needs a class name or a fault code; type one")
        dec = self.decision(event)
        new = dataclasses.replace(
            dec,
            status=status,
            relabel=relabel if status == "relabelled" else "",
            reviewer=self.user,
            changed=now_iso(),
        )
        label = {
            "confirmed": "Confirm",
            "dismissed": "Dismiss",
            "relabelled": f"Relabel as {relabel}",
            "unreviewed": "Reset",
        }[status]
        self._apply_decision(new, f"{label} event at rows {dec.start_row}-{dec.end_row}")

    def set_note(self, event: FaultEvent | int, note: str) -> None:
        dec = self.decision(event)
        if note == dec.note:
            return
        new = dataclasses.replace(dec, note=note, reviewer=self.user, changed=now_iso())
        self._apply_decision(new, f"Edit note of event at rows {dec.start_row}-{dec.end_row}")

    def _apply_decision(self, new: EventDecision, label: str) -> None:
        decisions = dict(self._state.decisions)
        decisions[new.key] = new
        self._commit(
            label,
            dataclasses.replace(self._state, decisions=decisions),
            ReviewChange(label, event_keys=(new.key,)),
        )

    # ------------------------------------------------------------ region actions
    def add_region(self, start_row: int, end_row: int, class_name: str, note: str = "") -> int:
        """Add a hand-drawn region (rows are clipped to the recording; the edges may come in
        either order). Returns its id."""
        start, end = self._clip_rows(start_row, end_row)
        class_name = self._class_text(class_name)
        rid = self._state.next_region_id
        stamp = now_iso()
        region = Region(rid, start, end, class_name, note, self.user, stamp, stamp)
        label = f"Draw region at rows {start}-{end}"
        self._commit(
            label,
            dataclasses.replace(
                self._state, regions=(*self._state.regions, region), next_region_id=rid + 1
            ),
            ReviewChange(label, region_ids=(rid,)),
        )
        return rid

    def move_region(self, region_id: int, start_row: int, end_row: int) -> None:
        start, end = self._clip_rows(start_row, end_row)
        old = self.region(region_id)
        if (old.start_row, old.end_row) == (start, end):
            return
        self._replace_region(
            dataclasses.replace(old, start_row=start, end_row=end),
            f"Move region edges to rows {start}-{end}",
        )

    def set_region_class(self, region_id: int, class_name: str) -> None:
        old = self.region(region_id)
        class_name = self._class_text(class_name)
        if class_name == old.class_name:
            return
        self._replace_region(
            dataclasses.replace(old, class_name=class_name), f"Set region class to {class_name}"
        )

    def set_region_note(self, region_id: int, note: str) -> None:
        old = self.region(region_id)
        if note == old.note:
            return
        self._replace_region(dataclasses.replace(old, note=note), "Edit region note")

    def delete_region(self, region_id: int) -> None:
        old = self.region(region_id)
        label = f"Delete region at rows {old.start_row}-{old.end_row}"
        self._commit(
            label,
            dataclasses.replace(
                self._state,
                regions=tuple(r for r in self._state.regions if r.region_id != region_id),
            ),
            ReviewChange(label, region_ids=(region_id,)),
        )

    def _replace_region(self, new: Region, label: str) -> None:
        new = dataclasses.replace(new, reviewer=self.user, changed=now_iso())
        regions = tuple(new if r.region_id == new.region_id else r for r in self._state.regions)
        self._commit(
            label,
            dataclasses.replace(self._state, regions=regions),
            ReviewChange(label, region_ids=(new.region_id,)),
        )

    def _clip_rows(self, start_row: int, end_row: int) -> tuple[int, int]:
        if self.n_rows <= 0:
            raise ReviewError(f"{self.recording_name}: the recording has no rows to mark")
        lo, hi = sorted((int(start_row), int(end_row)))
        last = self.n_rows - 1
        return min(max(lo, 0), last), min(max(hi, 0), last)

    @staticmethod
    def _class_text(class_name: str) -> str:
        text = class_name.strip()
        if not text:
            raise ReviewError("a region needs a class name or a fault code; type one")
        return text

    # ------------------------------------------------------------ undo / redo
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1][0] if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1][0] if self._redo else ""

    def undo(self) -> None:
        """Restore the state before the last action (no-op when there is none)."""
        if not self._undo:
            return
        label, before = self._undo.pop()
        self._redo.append((label, self._state))
        self._switch(before, f"Undo {label}")

    def redo(self) -> None:
        """Re-apply the last undone action (no-op when there is none)."""
        if not self._redo:
            return
        label, after = self._redo.pop()
        self._undo.append((label, self._state))
        self._switch(after, f"Redo {label}")

    def _switch(self, state: ReviewState, label: str) -> None:
        keys = tuple(
            k
            for k in set(state.decisions) | set(self._state.decisions)
            if state.decisions.get(k) != self._state.decisions.get(k)
        )
        # Regions are frozen values: the symmetric difference holds the added, removed and
        # edited ones.
        ids = tuple(sorted({r.region_id for r in set(state.regions) ^ set(self._state.regions)}))
        self._state = state
        self._log(label)
        self._notify(ReviewChange(label, keys, ids))
        self._save_if_needed()

    def _commit(self, label: str, new_state: ReviewState, change: ReviewChange) -> None:
        self._undo.append((label, self._state))
        self._redo.clear()
        self._state = new_state
        self._log(label)
        self._notify(change)
        self._save_if_needed()

    # ------------------------------------------------------------ subscription
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change)`` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, change: ReviewChange) -> None:
        for listener in list(self._listeners):
            listener(change)

    def _log(self, action: str) -> None:
        self.modified = now_iso()
        self.history.append({"time": self.modified, "user": self.user, "action": action})
        del self.history[:-HISTORY_LIMIT]

    # ------------------------------------------------------------ persistence
    def load_state(self, state: ReviewState) -> None:
        """Take ``state`` as read from a sidecar: no undo step, no notification, no save
        (nobody has seen the review yet)."""
        self._state = state

    def save(self) -> Path:
        """Write the sidecar atomically. Falls back to the user data directory when the
        recording's folder refuses the write; raises ReviewError when both fail."""
        from faultlens.core.review_file import save_review

        return save_review(self, self._write)

    @staticmethod
    def _write(path: Path, text: str) -> None:
        # The review's only disk write: tests replace it to refuse a folder or fill the disk.
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)

    def _save_if_needed(self) -> None:
        if self.autosave:
            self.save()

    def _event(self, event: FaultEvent | int) -> FaultEvent:
        if isinstance(event, FaultEvent):
            return event
        try:
            return self._events[int(event)]
        except IndexError:
            raise ReviewError(
                f"{self.recording_name}: there is no event {event}; the scan flagged "
                f"{len(self._events)}"
            ) from None
