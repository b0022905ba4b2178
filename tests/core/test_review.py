"""The review of flagged events: actions, undo/redo, the sidecar and reviewed labels."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from faultlens.core import review_file as review_mod
from faultlens.core.errors import ReviewError
from faultlens.core.events import FaultEvent
from faultlens.core.options import ScanOptions
from faultlens.core.recording import Recording
from faultlens.core.review import Review, ReviewChange, event_key
from faultlens.core.review_file import fallback_sidecar_path, primary_sidecar_path
from faultlens.core.review_labels import recording_with_reviewed_labels, reviewed_labels

N = 200


@pytest.fixture(autouse=True)
def _review_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user-data"
    monkeypatch.setenv(review_mod.REVIEW_DIR_ENV, str(folder))
    return folder


def make_event(start: int, end: int, cls: str = "leak") -> FaultEvent:
    return FaultEvent(
        start_row=start,
        end_row=end,
        start_time=str(start),
        end_time=str(end),
        duration_s=float(end - start + 1),
        class_name=cls,
        peak_probability=0.9,
        mean_probability=0.7,
        top_channels=("p",),
    )


EVENTS = [make_event(20, 39), make_event(80, 99, "valve"), make_event(150, 169)]


def make_recording(folder: Path, seed: int = 0, name: str = "run.csv") -> Recording:
    rng = np.random.default_rng(seed)
    labels = np.array(["normal"] * N, dtype=object)
    labels[150:170] = "leak"
    rec = Recording.from_arrays(
        rng.normal(size=(N, 2)), ["p", "q"], labels=labels, path=folder / name
    )
    # The sidecar sits beside a real file, as after an import.
    rec.path.write_text("placeholder\n")
    return rec


def open_review(rec: Recording, **kw) -> Review:
    review = Review.open(rec, **kw)
    review.set_events(
        EVENTS,
        model_fingerprint="abc123",
        class_names=("normal", "leak", "valve"),
        scan_options=ScanOptions(threshold=0.6),
    )
    return review


def test_actions_undo_redo_and_notifications(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    review = open_review(rec)
    seen: list[ReviewChange] = []
    unsubscribe = review.subscribe(seen.append)

    assert review.status(0) == "unreviewed" and not review.can_undo
    review.confirm(0)
    review.dismiss(EVENTS[1])
    review.relabel(2, "cavitation")
    review.set_note(0, "pressure drop, seen on the bench")
    rid = review.add_region(120, 110, "imbalance", "drawn by hand")
    review.move_region(rid, 105, 400)

    assert [review.status(i) for i in range(3)] == ["confirmed", "dismissed", "relabelled"]
    assert review.decision(2).reviewed_class == "cavitation"
    assert review.decision(0).note == "pressure drop, seen on the bench"
    # Edges given in reverse order are sorted, and clipped to the recording.
    assert (review.region(rid).start_row, review.region(rid).end_row) == (105, N - 1)
    assert len(seen) == 6
    assert seen[0].event_keys == (event_key(EVENTS[0]),)
    assert seen[-1].region_ids == (rid,)

    review.undo()  # the move
    assert (review.region(rid).start_row, review.region(rid).end_row) == (110, 120)
    review.undo()  # the region
    assert review.regions == ()
    review.undo()  # the note
    assert review.decision(0).note == ""
    assert review.can_redo and review.redo_text.startswith("Edit note")
    review.redo()
    review.redo()
    assert review.decision(0).note.startswith("pressure") and len(review.regions) == 1
    assert seen[-1].region_ids == (rid,)

    # A new action drops what could be redone.
    review.redo()
    review.undo()
    review.set_region_class(rid, "leak")
    assert not review.can_redo
    assert review.region(rid).class_name == "leak"

    unsubscribe()
    count = len(seen)
    review.reset(0)
    assert len(seen) == count
    while review.can_undo:
        review.undo()
    assert review.state.decisions == {} and review.regions == ()


def test_round_trip_through_the_sidecar(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    review = open_review(rec, user="alice")
    review.confirm(0)
    review.relabel(1, "FC-17 seal")
    review.set_note(1, 'ünïcode & <b>"quotes"</b>')
    rid = review.add_region(10, 15, "leak", "first bubble")
    review.set_region_note(rid, "first bubbles")
    review.undo()
    review.dismiss(2)
    sidecar = primary_sidecar_path(rec.path)
    assert review.sidecar_path == sidecar and sidecar.is_file()
    assert sidecar.name == "run.csv.faultlens.json"

    again = open_review(rec, user="bob")
    assert again.warnings == []
    assert again.state.decisions == review.state.decisions
    assert again.regions == review.regions
    assert again.region(rid).note == "first bubble"
    assert again.decision(1).reviewer == "alice"
    assert again.model_fingerprint == "abc123"
    assert again.scan_options["threshold"] == 0.6
    # The audit trail says who did what, with ISO timestamps carrying an offset.
    history = json.loads(sidecar.read_text())["history"]
    assert history[-1]["user"] == "alice" and history[-1]["action"].startswith("Dismiss")
    assert any(h["action"].startswith("Undo") for h in history)
    assert history[0]["time"][19] in "+-Z"

    # A region added later gets a fresh id even after a restart.
    assert again.add_region(0, 1, "leak") != rid
    # Nothing but the sidecar was left in the folder (atomic writes clean up).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv", sidecar.name]


def test_decisions_follow_a_moved_event_after_a_rescan(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    review = open_review(rec)
    review.confirm(0)
    review.dismiss(1)
    moved = [make_event(22, 41), make_event(80, 99, "valve"), make_event(300, 310, "leak")]
    review.set_events(moved)
    assert review.status(0) == "confirmed"  # IoU 18/22 with the old event
    assert review.decision(0).start_row == 22
    assert review.status(1) == "dismissed"
    review.set_events([make_event(60, 70)])
    assert review.status(0) == "unreviewed"
    assert {d.class_name for d in review.orphan_decisions()} == {"leak", "valve"}


def test_the_sidecar_remembers_the_model_file_the_review_was_made_with(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    review = Review.open(rec)
    review.set_events(EVENTS, model_fingerprint="abc123", model_path=tmp_path / "pump.flmodel")
    review.confirm(0)
    raw = json.loads(primary_sidecar_path(rec.path).read_text())
    assert raw["model"]["fingerprint"] == "abc123"
    assert raw["model"]["path"] == str(tmp_path / "pump.flmodel")
    again = Review.open(rec)
    assert again.model_fingerprint == "abc123"
    assert again.model_path == tmp_path / "pump.flmodel"
    assert again.events == () and again.scan_model_fingerprint == ""
    # Before the rescan every decision is one "from an earlier scan", still there.
    assert [d.status for d in again.orphan_decisions()] == ["confirmed"]
    assert again.model_name == "pump.flmodel, fingerprint abc123"


def test_a_scan_by_another_model_moves_no_decision_and_keeps_the_model(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    review = open_review(rec)  # model "abc123"
    review.confirm(0)  # leak 20-39
    review.dismiss(2)  # leak 150-169
    review.relabel(1, "seal")  # valve 80-99
    before = dict(review.state.decisions)
    # Another model flags overlapping events of the same class (IoU >= 0.5 with the confirmed
    # and the dismissed one) and the valve event on the very same rows.
    other = [make_event(22, 41), make_event(80, 99, "valve"), make_event(152, 171)]
    review.set_events(other, model_fingerprint="fff999", model_path=tmp_path / "other.flmodel")
    assert review.state.decisions == before  # nothing moved, nothing dropped
    assert review.status(0) == "unreviewed" and review.status(2) == "unreviewed"
    assert review.status(1) == "relabelled"  # the same rows and class: the same event
    assert {d.key for d in review.orphan_decisions()} == {"20:39:leak", "150:169:leak"}
    assert review.scanned_with_other_model
    assert review.model_fingerprint == "abc123" and review.scan_model_fingerprint == "fff999"
    assert "2 earlier decision(s)" in review.rescan_note()
    raw = json.loads(primary_sidecar_path(rec.path).read_text())
    assert raw["model"]["fingerprint"] == "abc123"  # not silently overwritten
    assert raw["scan"]["model_fingerprint"] == "fff999"
    assert raw["history"][-1]["action"].startswith("Scanned with another model")
    # Back to the review's own model: the decisions are on its events again.
    review.set_events(EVENTS, model_fingerprint="abc123")
    assert not review.scanned_with_other_model and review.rescan_note() == ""
    assert [review.status(i) for i in range(3)] == ["confirmed", "relabelled", "dismissed"]


def test_a_review_without_decisions_takes_the_new_model(tmp_path: Path) -> None:
    review = open_review(make_recording(tmp_path))
    review.set_events([make_event(22, 41)], model_fingerprint="fff999")
    assert review.model_fingerprint == "fff999" and not review.scanned_with_other_model


def test_corrupt_sidecar_is_kept_aside_and_review_starts_clean(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    sidecar = primary_sidecar_path(rec.path)
    sidecar.write_text('{"format": "faultlens-review", "version": 1, "decisions": [')
    review = open_review(rec)
    assert len(review.warnings) == 1
    warning = review.warnings[0]
    assert warning.kind == "corrupt" and "line 1" in warning.message
    assert warning.kept_aside is not None and warning.kept_aside.name.startswith(
        "run.csv.faultlens.corrupt-"
    )
    assert warning.kept_aside.read_text().endswith('"decisions": [')
    # The review starts clean; nothing is written until the user reviews something.
    assert review.state.decisions == {} and not sidecar.exists()
    review.confirm(0)
    assert json.loads(sidecar.read_text())["decisions"][0]["status"] == "confirmed"

    # A second corrupt file in the same second is kept aside too, under another name.
    sidecar.write_text("not json")
    second = open_review(rec)
    kept = sorted(p.name for p in tmp_path.glob("*.corrupt-*"))
    assert len(kept) == 2 and second.warnings[0].kept_aside is not None


def test_other_version_and_other_content_are_reported(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    review = open_review(rec)
    review.confirm(0)
    sidecar = primary_sidecar_path(rec.path)
    raw = json.loads(sidecar.read_text())

    raw["version"] = 99
    sidecar.write_text(json.dumps(raw))
    again = open_review(rec)
    assert [w.kind for w in again.warnings] == ["version"]
    assert "version 99" in again.warnings[0].message
    assert again.status(0) == "unreviewed"

    raw["version"] = 1
    sidecar.write_text(json.dumps(raw))
    other = make_recording(tmp_path, seed=1)  # same file name, other content
    clean = open_review(other)
    assert [w.kind for w in clean.warnings] == ["other_content"]
    assert clean.status(0) == "unreviewed"
    assert clean.warnings[0].kept_aside is not None
    assert ".other-content-" in clean.warnings[0].kept_aside.name


def test_read_only_open_reports_without_touching_files(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    sidecar = primary_sidecar_path(rec.path)
    sidecar.write_text("[1, 2")
    review = Review.open(rec, read_only=True)
    assert review.warnings[0].kind == "corrupt" and review.sidecar_path is None
    assert sidecar.read_text() == "[1, 2"
    with pytest.raises(ReviewError, match="pass another --review"):
        Review.open(rec, sidecar_path=sidecar, read_only=True)
    with pytest.raises(ReviewError, match="not found"):
        Review.open(rec, sidecar_path=tmp_path / "nope.json", read_only=True)


def test_read_only_folder_falls_back_to_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _review_dir: Path
) -> None:
    folder = tmp_path / "readonly"
    folder.mkdir()
    rec = make_recording(folder)
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            # Running as root: permission bits do not stop root's writes, so simulate the
            # read-only folder through the writability check and a refusing writer.
            monkeypatch.setattr(review_mod, "folder_writable", lambda f: f != folder)
            real_write = Review._write

            def refuse_in_folder(path: Path, text: str) -> None:
                if path.parent == folder:
                    raise PermissionError(13, "Permission denied", str(path))
                real_write(path, text)

            monkeypatch.setattr(Review, "_write", staticmethod(refuse_in_folder))
        review = open_review(rec)
        review.confirm(0)
        expected = fallback_sidecar_path(rec.path)
        assert review.sidecar_path == expected and expected.parent == _review_dir
        assert expected.is_file() and not primary_sidecar_path(rec.path).exists()

        again = open_review(rec)
        assert again.status(0) == "confirmed"

        # A folder that turns read-only after the review started: the save moves over.
        writable = tmp_path / "writable"
        writable.mkdir()
        rec2 = make_recording(writable)
        review2 = open_review(rec2)
        assert review2.sidecar_path == primary_sidecar_path(rec2.path)

        writer_before = Review._write

        def refuse_all_here(path: Path, text: str) -> None:
            if path.parent == writable:
                raise PermissionError(13, "Permission denied", str(path))
            writer_before(path, text)

        monkeypatch.setattr(Review, "_write", staticmethod(refuse_all_here))
        review2.dismiss(1)
        assert review2.sidecar_path == fallback_sidecar_path(rec2.path)
    finally:
        folder.chmod(0o755)


def test_save_failing_everywhere_raises_review_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = make_recording(tmp_path)
    review = open_review(rec)

    def disk_full(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(Review, "_write", staticmethod(disk_full))
    with pytest.raises(ReviewError, match="No space left on device") as info:
        review.confirm(0)
    assert "\n" not in str(info.value)
    # The decision is kept in memory; the next save may succeed.
    assert review.status(0) == "confirmed"


def test_bad_input_is_a_review_error(tmp_path: Path) -> None:
    review = open_review(make_recording(tmp_path))
    with pytest.raises(ReviewError, match="class name or a fault code"):
        review.relabel(0, "   ")
    with pytest.raises(ReviewError, match="no event 7"):
        review.confirm(7)
    with pytest.raises(ReviewError, match="region 3"):
        review.delete_region(3)
    with pytest.raises(ReviewError, match="type one"):
        review.add_region(1, 2, "")
    assert not review.can_undo


def test_reviewed_labels(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    review = open_review(rec)
    review.confirm(0)  # rows 20..39 -> leak
    review.dismiss(2)  # rows 150..169 were "leak" in the file -> normal
    review.relabel(1, "valve-stuck")
    rid = review.add_region(30, 45, "imbalance")
    labels = reviewed_labels(review, rec)
    assert labels.shape == (N,) and labels.dtype == object
    assert set(labels[20:30]) == {"leak"}
    assert set(labels[30:46]) == {"imbalance"}  # hand-drawn regions win
    assert set(labels[80:100]) == {"valve-stuck"}
    assert set(labels[150:170]) == {"normal"}
    assert set(labels[:20]) == {"normal"} and set(labels[100:150]) == {"normal"}

    review.reset(2)  # not reviewed: the file's own labels stay
    review.delete_region(rid)
    labels = reviewed_labels(review, rec)
    assert set(labels[150:170]) == {"leak"} and set(labels[40:46]) == {"normal"}

    relabelled = recording_with_reviewed_labels(review, rec)
    assert relabelled.labels is not None and relabelled.labels[85] == "valve-stuck"
    assert relabelled.content_hash != rec.content_hash
    assert relabelled.data is rec.data

    unlabelled = Recording.from_arrays(rec.data, rec.channels, path=tmp_path / "u.csv")
    bare = Review(unlabelled.name, unlabelled.content_hash, N)
    bare.set_events(EVENTS)
    bare.confirm(0)
    labels = reviewed_labels(bare, unlabelled)
    assert set(labels[20:40]) == {"leak"} and labels[0] == "normal"


def test_scanning_alone_writes_no_sidecar(tmp_path: Path) -> None:
    rec = make_recording(tmp_path)
    review = open_review(rec)
    sidecar = primary_sidecar_path(rec.path)
    assert review.sidecar_path == sidecar and not sidecar.exists()
    review.confirm(0)
    review.undo()
    assert sidecar.exists()  # once written, it follows every change, undo included
    open_review(rec)  # a new scan of a reviewed recording keeps the file current
    assert json.loads(sidecar.read_text())["decisions"] == []


def test_in_memory_recording_has_no_sidecar(tmp_path: Path) -> None:
    rec = Recording.from_arrays(np.zeros((N, 1)), ["p"])
    review = Review.open(rec)
    review.set_events(EVENTS)
    review.confirm(0)
    assert review.sidecar_path is None
    assert list(tmp_path.iterdir()) == []


def test_review_of_a_shipped_file_lives_in_the_user_data_dir(_review_dir: Path) -> None:
    from importlib import resources

    shipped = Path(str(resources.files("faultlens.resources")))
    rec = Recording.from_arrays(np.zeros((N, 1)), ["p"], path=shipped / "demo_pump.csv")
    review = Review.open(rec)
    review.set_events(EVENTS)
    review.confirm(0)
    assert review.sidecar_path == fallback_sidecar_path(rec.path)
    assert review.sidecar_path.parent == _review_dir
    assert not primary_sidecar_path(rec.path).exists()


# ---------------------------------------------------------------- a recording that grows
def _write_rows(path: Path, start: int, stop: int, mode: str = "a") -> None:
    with path.open(mode, encoding="utf-8") as fh:
        if mode == "w":
            fh.write("time,p,q,label\n")
        for i in range(start, stop):
            fh.write(f"{i * 0.5},{np.sin(i / 7):.4f},{np.cos(i / 5):.4f},normal\n")


def _reviewed_csv(tmp_path: Path, rows: int = 120) -> tuple[Path, Recording]:
    from faultlens.core.io import load_recording

    path = tmp_path / "logger.csv"
    _write_rows(path, 0, rows, "w")
    rec = load_recording(path)
    assert rec.content_bytes == path.stat().st_size
    review = open_review(rec)
    review.confirm(0)
    review.add_region(100, 110, "valve", "drawn")
    return path, rec


def test_a_review_stays_valid_when_the_recording_grows(tmp_path: Path) -> None:
    from faultlens.core.io import load_recording

    path, rec = _reviewed_csv(tmp_path)
    saved = json.loads(primary_sidecar_path(path).read_text())
    assert saved["recording"]["bytes"] == path.stat().st_size and saved["recording"]["rows"] == 120
    _write_rows(path, 120, 300)  # the logger appends
    grown = load_recording(path)
    assert grown.n_rows == 300 and grown.content_hash != rec.content_hash

    again = Review.open(grown)
    assert again.warnings == []
    assert [d.status for d in again.state.decisions.values()] == ["confirmed"]
    assert [(r.start_row, r.end_row, r.class_name) for r in again.regions] == [(100, 110, "valve")]
    assert "grew from 120 to 300 rows" in again.history[-1]["action"]
    assert not list(tmp_path.glob("*.other-content-*"))
    # Its next save ties it to the grown content, which grows again later.
    again.set_note(EVENTS[0], "seen on the grown file")
    saved = json.loads(primary_sidecar_path(path).read_text())
    assert saved["recording"]["rows"] == 300 and saved["recording"]["sha256"] == grown.content_hash
    labels = reviewed_labels(again, grown)
    assert labels.shape == (300,) and set(labels[100:111]) == {"valve"}


def test_a_grown_recording_whose_reviewed_rows_changed_is_set_aside(tmp_path: Path) -> None:
    from faultlens.core.io import load_recording

    path, _rec = _reviewed_csv(tmp_path)
    text = path.read_text().replace("\n10.0,", "\n10.0,9", 1)  # row 20 edited
    path.write_text(text)
    _write_rows(path, 120, 300)
    again = Review.open(load_recording(path))
    assert [w.kind for w in again.warnings] == ["other_content"]
    assert not again.has_content
    assert len(list(tmp_path.glob("*.other-content-*"))) == 1


def test_a_shorter_file_is_not_a_grown_one(tmp_path: Path) -> None:
    from faultlens.core.io import load_recording

    path, _rec = _reviewed_csv(tmp_path)
    _write_rows(path, 0, 60, "w")  # rewritten shorter: same first rows, fewer of them
    again = Review.open(load_recording(path))
    assert [w.kind for w in again.warnings] == ["other_content"]


def test_an_old_sidecar_without_a_byte_count_still_follows_a_grown_file(tmp_path: Path) -> None:
    from faultlens.core.io import load_recording

    path, _rec = _reviewed_csv(tmp_path)
    sidecar = primary_sidecar_path(path)
    raw = json.loads(sidecar.read_text())
    del raw["recording"]["bytes"]  # as written before the byte count was recorded
    sidecar.write_text(json.dumps(raw))
    _write_rows(path, 120, 200)
    again = Review.open(load_recording(path))
    assert again.warnings == [] and again.has_content
