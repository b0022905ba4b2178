"""The application model: stable ids, one current recording, scans tied to the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faultlens.core.errors import FaultLensError
from faultlens.core.recording import Recording
from faultlens.core.session import Session, SessionChange, TrainingRole, distinguishing_names


def _recording(path: str, labels: bool = True, rows: int = 20) -> Recording:
    data = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
    return Recording.from_arrays(
        data,
        ["a", "b"],
        labels=["normal"] * (rows // 2) + ["leak"] * (rows - rows // 2) if labels else None,
        path=path,
    )


def test_same_file_twice_is_two_entries_with_their_own_ids() -> None:
    session = Session()
    first = session.add(_recording("/x/0.csv"))
    second = session.add(_recording("/x/0.csv"))
    assert first.id != second.id
    assert session.ids == [first.id, second.id]
    assert session.current_id == second.id


def test_listeners_hear_each_change_in_order_and_can_unsubscribe() -> None:
    session = Session()
    heard: list[SessionChange] = []
    unsubscribe = session.subscribe(heard.append)
    entry = session.add(_recording("/x/a.csv"))
    session.set_model(None)
    unsubscribe()
    session.set_current(None)
    assert [c.kind for c in heard] == ["recordings", "current", "model"]
    assert heard[0].recording_id == entry.id


def test_a_new_model_drops_every_scan() -> None:
    session = Session()
    a = session.add(_recording("/x/a.csv"))
    b = session.add(_recording("/x/b.csv"))
    marker = object()
    a.scan = marker  # type: ignore[assignment]  (any scan: only its presence matters)
    b.scan = marker  # type: ignore[assignment]
    session.set_model(None)
    assert a.scan is None and b.scan is None


def test_closing_the_current_recording_moves_to_its_neighbour() -> None:
    session = Session()
    a, b, c = (session.add(_recording(f"/x/{n}.csv")) for n in "abc")
    session.set_current(b.id)
    # What a view reads while it hears of the removal: the neighbour is already current.
    seen: list[tuple[str, int | None]] = []

    def listen(change: SessionChange) -> None:
        current = session.current  # never a missing id
        seen.append((change.kind, current.id if current is not None else None))

    unsubscribe = session.subscribe(listen)
    session.remove(b.id)
    assert seen == [("recordings", c.id), ("current", c.id)]
    unsubscribe()
    assert session.current_id == c.id
    session.remove(c.id)
    assert session.current_id == a.id
    session.remove(a.id)
    assert session.current_id is None and len(session) == 0
    with pytest.raises(KeyError):
        session.get(a.id)


def test_training_recordings_resolve_each_role() -> None:
    session = Session()
    labelled = session.add(_recording("/x/a.csv"))
    unlabelled = session.add(_recording("/x/b.csv", labels=False))
    assert labelled.training.use and not unlabelled.training.use
    session.set_training_role(unlabelled.id, TrainingRole(use=True, labels="class"))
    with pytest.raises(FaultLensError, match=r"b\.csv: no class given"):
        session.training_recordings()
    session.set_training_role(unlabelled.id, TrainingRole(True, "class", " leak "))
    own, whole = session.training_recordings()
    assert own is labelled.recording
    assert set(whole.labels.tolist()) == {"leak"}
    assert whole.content_hash != unlabelled.recording.content_hash
    assert whole.path == Path("/x/b.csv")


def test_nothing_ticked_is_a_clear_error() -> None:
    session = Session()
    session.add(_recording("/x/a.csv", labels=False))
    with pytest.raises(FaultLensError, match="no recording is ticked"):
        session.training_recordings()


def test_display_names_add_the_shortest_parent_folders_that_differ() -> None:
    session = Session()
    first = session.add(_recording("/data/run1/0.csv"))
    other = session.add(_recording("/data/other.csv"))
    assert session.display_name(first.id) == "0.csv"
    second = session.add(_recording("/data/run2/0.csv"))
    assert session.display_name(first.id) == "0.csv — run1/"
    assert session.display_name(second.id) == "0.csv — run2/"
    assert session.display_name(other.id) == "other.csv"
    session.remove(second.id)
    assert session.display_name(first.id) == "0.csv"


def test_distinguishing_names_go_up_until_the_folders_differ() -> None:
    names = distinguishing_names(
        [Path("/a/run1/0.csv"), Path("/b/run1/0.csv"), Path("/a/run1/0.csv")]
    )
    assert names == ["0.csv — a/run1/", "0.csv — b/run1/", "0.csv — a/run1/ (2)"]


def test_find_open_needs_the_same_path_and_the_same_content(tmp_path: Path) -> None:
    session = Session()
    recording = _recording(str(tmp_path / "0.csv"))
    entry = session.add(recording)
    assert session.find_open(tmp_path / "0.csv", recording.content_hash) is entry
    assert session.find_open(tmp_path / "." / "0.csv", recording.content_hash) is entry
    assert session.find_open(tmp_path / "0.csv", "another hash") is None
    assert session.find_open(tmp_path / "1.csv", recording.content_hash) is None
