"""The application model: what the engineer has open, with no Qt in it.

A :class:`Session` holds the open recordings in the order they were opened, each as an
:class:`OpenRecording` with a stable integer id and what belongs to it (its scan, its review,
its role in training), the current recording and the current model. Views (the main window,
the review panel, the training panel, the signal view, the event table) subscribe with a plain
callback and redraw from the session on each :class:`SessionChange`; none of them keeps its own
copy of this state. Nothing is keyed by object identity or by a file path: two recordings from
files with the same name, or the same file opened twice, are two ids.

Rules the session enforces, so every view sees the same thing:

- a scan belongs to the model that made it: setting another model drops every scan;
- a recording's review is opened (restored from its sidecar) once, when first asked for, and a
  scan of that recording attaches its events to it;
- two open recordings whose files have the same name are told apart by :meth:`Session.
  display_name` (the shortest parent folders that differ: ``0.csv — run1/``), the one name
  every view shows;
- the training role of a recording says whether it is used for training and which labels it
  brings (its file's per-row labels, the labels after review, or one class for the whole file);
  :meth:`Session.training_recordings` resolves them into plain labelled recordings.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from faultlens.core.errors import FaultLensError
from faultlens.core.recording import Recording

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.review import Review
    from faultlens.core.review_file import ReviewWarning
    from faultlens.core.scan import ScanResult

# What changed: the list of recordings, which one is current, the model, one recording's
# scan, its review (opened or replaced; edits inside a review are the review's own
# notifications), its training role, the rows of a live recording (it grew, or it ended and
# is an ordinary recording now), or a live recording's running events and alarms.
ChangeKind = Literal["recordings", "current", "model", "scan", "review", "training", "rows", "live"]
# Where a recording's training labels come from.
LabelSource = Literal["file", "reviewed", "class"]


@dataclass(frozen=True)
class TrainingRole:
    """Whether a recording is used for training, and with which labels.

    ``labels``: "file" (the file's own per-row labels), "reviewed" (the file's labels with the
    review applied: confirmed, dismissed and relabelled events, drawn regions), or "class"
    (every row is ``file_class``, for recordings that hold one state throughout).
    """

    use: bool = False
    labels: LabelSource = "file"
    file_class: str = ""


@dataclass(frozen=True)
class SessionChange:
    kind: ChangeKind
    recording_id: int | None = None


Listener = Callable[[SessionChange], None]


@dataclass(frozen=True)
class LiveState:
    """What a recording that is still being received has on top of an ordinary one: the
    events still running and the alarms not yet acknowledged (each by its start row, which an
    event keeps while it grows and when it closes)."""

    source: str = ""  # where the rows come from, for people
    running: frozenset[int] = frozenset()
    alarms: frozenset[int] = frozenset()


@dataclass
class OpenRecording:
    """One open recording and what belongs to it. Change it through the session."""

    id: int
    recording: Recording
    scan: ScanResult | None = None
    review: Review | None = None
    training: TrainingRole = field(default_factory=TrainingRole)
    live: LiveState | None = None  # None once (or unless) the recording is complete

    @property
    def name(self) -> str:
        return self.recording.name


class Session:
    """The open recordings, the current one and the current model; views subscribe."""

    def __init__(self) -> None:
        self._entries: dict[int, OpenRecording] = {}  # insertion order is the open order
        self._ids = itertools.count(1)
        self._current: int | None = None
        self._model: TrainedModel | None = None
        self._listeners: list[Listener] = []

    # ------------------------------------------------------------------ notifications
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change)`` after every change; returns the unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, kind: ChangeKind, recording_id: int | None = None) -> None:
        change = SessionChange(kind, recording_id)
        for listener in list(self._listeners):
            listener(change)

    # ------------------------------------------------------------------ recordings
    def __iter__(self) -> Iterator[OpenRecording]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def ids(self) -> list[int]:
        return list(self._entries)

    def get(self, recording_id: int) -> OpenRecording:
        try:
            return self._entries[recording_id]
        except KeyError:
            raise KeyError(f"no open recording has id {recording_id}") from None

    def display_name(self, recording_id: int) -> str:
        """The recording's name as every view shows it: its file name, with the shortest
        parent folders that tell it from other open recordings of the same file name."""
        ids = self.ids
        names = distinguishing_names([self._entries[i].recording.path for i in ids])
        name = names[ids.index(self.get(recording_id).id)]
        return f"● {name} (live)" if self._entries[recording_id].live is not None else name

    def find_open(self, path: Path, content_hash: str) -> OpenRecording | None:
        """The open recording read from ``path`` with this content, if there is one."""
        wanted = _resolved(path)
        for entry in self._entries.values():
            recording = entry.recording
            if recording.content_hash == content_hash and _resolved(recording.path) == wanted:
                return entry
        return None

    def add(
        self, recording: Recording, make_current: bool = True, live: LiveState | None = None
    ) -> OpenRecording:
        """Open ``recording`` under a new id (labelled recordings start ticked for training);
        with ``live``, as a recording still being received (see :meth:`update_live`)."""
        entry = OpenRecording(
            next(self._ids),
            recording,
            training=TrainingRole(use=recording.labels is not None and live is None),
            live=live,
        )
        self._entries[entry.id] = entry
        self._notify("recordings", entry.id)
        if make_current:
            self.set_current(entry.id)
        return entry

    def remove(self, recording_id: int) -> None:
        """Close a recording (its review is already saved: every review change is written).

        The current one passes to its neighbour before anyone hears of the removal, so a
        listener never finds the current id missing.
        """
        self.get(recording_id)
        ids = self.ids
        del self._entries[recording_id]
        moved = self._current == recording_id
        if moved:
            position = ids.index(recording_id)
            rest = [i for i in ids if i != recording_id]
            self._current = rest[min(position, len(rest) - 1)] if rest else None
        self._notify("recordings", recording_id)
        if moved:
            self._notify("current", self._current)

    def replace_recording(self, recording_id: int, recording: Recording) -> None:
        """The recording's file was read again (File > Reload: it grew on disk). The entry
        keeps its id, place and training role; its scan (of the old rows) is dropped and its
        review is opened again on the new rows when next asked for, from its sidecar (saved
        on every change), which keeps the decisions while the rows reviewed are unchanged."""
        entry = self.get(recording_id)
        entry.recording = recording
        entry.scan = None
        entry.review = None
        self._notify("recordings", recording_id)
        self._notify("rows", recording_id)
        self._notify("scan", recording_id)

    # ------------------------------------------------------------------ current
    @property
    def current_id(self) -> int | None:
        return self._current

    @property
    def current(self) -> OpenRecording | None:
        return None if self._current is None else self._entries[self._current]

    def set_current(self, recording_id: int | None) -> None:
        if recording_id is not None:
            self.get(recording_id)
        if recording_id == self._current:
            return
        self._current = recording_id
        self._notify("current", recording_id)

    # ------------------------------------------------------------------ model and scans
    @property
    def model(self) -> TrainedModel | None:
        return self._model

    def set_model(
        self, model: TrainedModel | None, scans: Mapping[int, ScanResult] | None = None
    ) -> None:
        """Use ``model`` from now on; every scan (made with the previous model) is dropped,
        except that ``scans`` (recording id -> a scan made with ``model``) take their
        recordings' places in the same step, so no view sees those recordings unscanned."""
        self._model = model
        kept = {i: s for i, s in (scans or {}).items() if i in self._entries}
        for entry in self._entries.values():
            entry.scan = kept.get(entry.id)
        self._notify("model")
        for recording_id, result in kept.items():
            self._notify("scan", recording_id)
            review = self._entries[recording_id].review
            if review is not None:
                _attach(review, result)

    def set_scan(self, recording_id: int, result: ScanResult | None) -> None:
        """Keep ``result`` as the recording's scan and give its events to the open review.

        A review that cannot take the events (its sidecar cannot be written) raises
        FaultLensError after the scan is stored: the scan is shown either way.
        """
        entry = self.get(recording_id)
        entry.scan = result
        self._notify("scan", recording_id)
        if result is not None and entry.review is not None:
            _attach(entry.review, result)

    # ------------------------------------------------------------------ live recordings
    def update_live(
        self,
        recording_id: int,
        recording: Recording,
        scan: ScanResult | None,
        events_changed: bool = False,
    ) -> None:
        """A live recording grew: ``recording`` is the snapshot of every row so far, ``scan``
        the live scan's outputs for them (its events: closed ones and those still running).

        Views hear "rows" (draw the new rows) and, when events opened or closed, "scan". The
        review is not given the events of a scan still growing; :meth:`finish_live` does.
        """
        entry = self.get(recording_id)
        entry.recording = recording
        entry.scan = scan
        self._notify("rows", recording_id)
        if events_changed:
            self._notify("scan", recording_id)

    def set_live_state(self, recording_id: int, state: LiveState) -> None:
        """Which events of a live recording are running and which alarms are unacknowledged."""
        entry = self.get(recording_id)
        if entry.live is None or entry.live == state:
            return
        entry.live = state
        self._notify("live", recording_id)

    def finish_live(self, recording_id: int, recording: Recording, scan: ScanResult | None) -> None:
        """The live recording ended: from now on it is an ordinary recording (the file as
        recorded) with its final scan. A review opened on a partial snapshot is dropped, so
        the next one is opened on the complete recording and takes the final events."""
        entry = self.get(recording_id)
        entry.recording = recording
        entry.scan = scan
        entry.live = None
        entry.review = None
        entry.training = TrainingRole(use=recording.labels is not None)
        self._notify("recordings", recording_id)  # its name loses "(live)"
        self._notify("rows", recording_id)
        self._notify("scan", recording_id)  # a review opened meanwhile took the scan already

    # ------------------------------------------------------------------ reviews
    def open_review(self, recording_id: int) -> tuple[Review, list[ReviewWarning]]:
        """The recording's review, restored from its sidecar on first use, with the warnings
        that restoring gave (empty when it was already open). The current scan's events are
        attached to it."""
        from faultlens.core.review import Review

        entry = self.get(recording_id)
        if entry.review is not None:
            return entry.review, []
        review = Review.open(entry.recording)
        entry.review = review
        self._notify("review", recording_id)
        if entry.scan is not None:
            _attach(review, entry.scan)
        return review, list(review.warnings)

    def set_review(self, recording_id: int, review: Review | None) -> None:
        """Replace the recording's review (an in-memory one for the demo, or none)."""
        entry = self.get(recording_id)
        entry.review = review
        self._notify("review", recording_id)

    # ------------------------------------------------------------------ training
    def set_training_role(self, recording_id: int, role: TrainingRole) -> None:
        entry = self.get(recording_id)
        if entry.training == role:
            return
        entry.training = role
        self._notify("training", recording_id)

    def training_recordings(self) -> list[Recording]:
        """The recordings ticked for training, each carrying the labels its role names.

        Raises FaultLensError naming the recording when a role cannot be met (no class typed,
        no review to apply).
        """
        chosen: list[Recording] = []
        for entry in self._entries.values():
            role = entry.training
            if not role.use:
                continue
            if role.labels == "class":
                if not role.file_class.strip():
                    raise FaultLensError(
                        f"{self.display_name(entry.id)}: no class given for this file; type "
                        "its class (e.g. normal, leak) in the 'Class (whole file)' column"
                    )
                chosen.append(entry.recording.with_file_class(role.file_class.strip()))
            elif role.labels == "reviewed":
                review = entry.review if entry.review is not None else self.open_review(entry.id)[0]
                from faultlens.core.review_labels import recording_with_reviewed_labels

                chosen.append(recording_with_reviewed_labels(review, entry.recording))
            else:
                chosen.append(entry.recording)
        if not chosen:
            raise FaultLensError("no recording is ticked for training; tick at least one")
        return chosen


def distinguishing_names(paths: Sequence[Path]) -> list[str]:
    """File names, each with the fewest trailing parent folders that tell it from every other
    path of the same file name (``0.csv — run1/``, ``0.csv — b/run1/``); the same path twice
    is numbered in order (``0.csv (2)``)."""
    names: list[str] = []
    for index, path in enumerate(paths):
        others = [p for p in paths if p.name == path.name and p != path]
        parents = path.parent.parts
        label = path.name
        if others and parents:
            depth = len(parents)  # the whole folder when nothing shorter differs
            for tail_length in range(1, len(parents)):
                tail = parents[-tail_length:]
                if all(p.parent.parts[-tail_length:] != tail for p in others):
                    depth = tail_length
                    break
            folders = "/".join(parents[-depth:])
            label = f"{path.name} — {folders.replace('//', '/', 1)}/"
        copy = sum(1 for p in paths[:index] if p == path)
        names.append(label if copy == 0 else f"{label} ({copy + 1})")
    return names


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def _attach(review: Review, result: ScanResult) -> None:
    review.set_events(
        result.events,
        model_fingerprint=result.model_fingerprint,
        model_path=None if result.model is None else result.model.path,
        class_names=result.class_names,
        scan_options=result.options,
    )
