"""Training panel: a view of the session's recordings and their training roles; the
validation summary shows its notes whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from faultlens.core.errors import FaultLensError
from faultlens.core.recording import Recording
from faultlens.core.session import Session, TrainingRole
from faultlens.gui.training_panel import ONE_CLASS_PER_FILE, TrainingPanel

TIMEOUT_MS = 60_000


def _recording(path: str, labels: bool = True, rows: int = 40) -> Recording:
    data = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
    return Recording.from_arrays(
        data,
        ["a", "b"],
        labels=["normal"] * (rows // 2) + ["leak"] * (rows - rows // 2) if labels else None,
        path=path,
    )


def _learnable(seed: int, path: str) -> Recording:
    """2 channels of noise; a fault is a level shift of +3 on channel b for 30 rows."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(300, 2)).astype(np.float32)
    labels = np.full(300, "normal", dtype=object)
    for start in (60, 180):
        data[start : start + 30, 1] += 3.0
        labels[start : start + 30] = "leak"
    return Recording.from_arrays(data, ["a", "b"], labels=labels, path=path)


def _small(panel: TrainingPanel, epochs: int) -> None:
    panel.window_spin.setValue(16)
    panel.stride_spin.setValue(4)
    panel.epochs_spin.setValue(epochs)
    panel.device_combo.setCurrentText("cpu")


def _panel(qtbot: QtBot, session: Session) -> TrainingPanel:
    panel = TrainingPanel(session)
    qtbot.addWidget(panel)
    return panel


def _tick(panel: TrainingPanel, row: int, checked: bool) -> None:
    state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
    panel.recording_table.item(row, 0).setCheckState(state)


def test_the_table_is_a_view_of_the_session(qtbot: QtBot) -> None:
    session = Session()
    panel = _panel(qtbot, session)
    assert panel.recording_table.rowCount() == 0
    first = session.add(_recording("/x/pump.csv"))
    second = session.add(_recording("/x/pump.csv"))  # the same file twice: two rows
    unlabelled = session.add(_recording("/y/other.csv", labels=False))
    table = panel.recording_table
    assert table.rowCount() == 3
    assert [table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(3)] == [
        first.id,
        second.id,
        unlabelled.id,
    ]
    assert [table.item(r, 0).checkState() for r in range(3)] == [
        Qt.CheckState.Checked,
        Qt.CheckState.Checked,
        Qt.CheckState.Unchecked,
    ]
    assert table.item(0, 1).text() == "label: leak×20, normal×20"
    assert table.item(2, 1).text() == "no labels"

    # A tick is the recording's role in the session, and the session's role is the tick.
    _tick(panel, 1, False)
    assert not session.get(second.id).training.use and session.get(first.id).training.use
    session.set_training_role(unlabelled.id, TrainingRole(use=True, labels="class"))
    assert table.item(2, 0).checkState() == Qt.CheckState.Checked
    with pytest.raises(FaultLensError, match=r"other\.csv: no class given"):
        panel.snapshot()
    session.remove(second.id)
    assert table.rowCount() == 2 and table.item(1, 0).text() == "other.csv"


def test_one_class_per_file_sets_every_role_and_the_typed_classes_train(qtbot: QtBot) -> None:
    session = Session()
    panel = _panel(qtbot, session)
    a = session.add(_recording("/x/a.csv", labels=False))
    b = session.add(_recording("/x/b.csv", labels=False))
    panel.label_source.setCurrentIndex(panel.label_source.findData(ONE_CLASS_PER_FILE))
    assert not panel.recording_table.isColumnHidden(2)
    assert [e.training.labels for e in session] == ["class", "class"]
    with pytest.raises(FaultLensError, match="no recording is ticked"):
        panel.snapshot()
    _tick(panel, 0, True)
    _tick(panel, 1, True)
    with pytest.raises(FaultLensError, match=r"a\.csv: no class given"):
        panel.snapshot()
    panel.recording_table.item(0, 2).setText(" normal ")
    panel.recording_table.item(1, 2).setText("leak")
    assert session.get(a.id).training == TrainingRole(True, "class", "normal")
    recordings, options = panel.snapshot()
    assert [set(r.labels.tolist()) for r in recordings] == [{"normal"}, {"leak"}]
    assert options.file_classes == () and options.label_column is None
    # A recording opened in this mode gets a class of its own too; leaving the mode gives
    # each its file's labels back, the typed class kept for later.
    c = session.add(_recording("/x/c.csv"))
    assert session.get(c.id).training.labels == "class"
    panel.label_source.setCurrentIndex(0)
    assert [e.training.labels for e in session] == ["file", "file", "file"]
    assert session.get(b.id).training.file_class == "leak"
    assert panel.recording_table.isColumnHidden(2)


def test_reviewed_labels_show_and_untick_back_to_the_files_labels(qtbot: QtBot) -> None:
    session = Session()
    panel = _panel(qtbot, session)
    entry = session.add(_recording("/x/a.csv"))
    session.set_training_role(entry.id, TrainingRole(use=True, labels="reviewed"))
    assert panel.recording_table.item(0, 1).text().startswith("labels after review")
    assert panel.recording_table.item(0, 0).text() == "a.csv"  # no made-up name or path
    _tick(panel, 0, False)
    assert session.get(entry.id).training == TrainingRole(False, "file", "")
    assert panel.recording_table.item(0, 1).text() == "label: leak×20, normal×20"


def test_validation_summary_is_never_cut(qtbot: QtBot) -> None:
    panel = _panel(qtbot, Session())
    panel.resize(420, 900)  # a narrow dock: the summary wraps onto several lines
    panel.show()
    qtbot.waitExposed(panel)
    metrics = {
        "accuracy": 0.86,
        "macro_f1": 0.83,
        "false_alarm_rate": 0.098,
        "missed_alarm_rate": 0.238,
        "confusion_matrix": [[46, 5], [5, 16]],
        "per_class": {
            "normal": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 51},
            "leak": {"precision": 0.76, "recall": 0.76, "f1": 0.76, "support": 21},
        },
    }
    note = (
        "validation rests on 1 of 3 labelled recordings (r2.csv) alone, so its figures and "
        "the epoch kept are a rough guide; check the model on a recording it has not seen "
        "(faultlens evaluate)"
    )
    panel.validation.show_metrics(metrics, ("normal", "leak"), [note])
    summary = panel.validation.summary
    qtbot.waitUntil(lambda: summary.height() >= summary.heightForWidth(summary.width()))
    assert note in summary.text() and summary.toolTip() == summary.text()
    panel.resize(360, 900)  # narrower still: more lines, still all shown
    qtbot.waitUntil(lambda: summary.height() >= summary.heightForWidth(summary.width()))


def test_a_bad_choice_is_shown_and_nothing_starts(
    qtbot: QtBot, error_boxes: list, tmp_path: Path
) -> None:
    session = Session()
    panel = _panel(qtbot, session)
    session.add(_recording(str(tmp_path / "a.csv"), labels=False))
    assert panel.start_training() is None
    assert error_boxes[-1][0] == "Training" and "no recording is ticked" in error_boxes[-1][1]
    assert panel.tasks.running() == [] and panel.train_button.isEnabled()


@pytest.mark.slow
def test_stop_keeps_the_best_epoch_so_far(qtbot: QtBot, tmp_path: Path) -> None:
    """Stop ends the run at the next batch and keeps a calibrated model of its best epoch
    (Cancel, tested with the main window, throws the run away)."""
    session = Session()
    panel = _panel(qtbot, session)
    for i in range(3):
        session.add(_learnable(i, str(tmp_path / f"r{i}.csv")))
    _small(panel, 500)
    task = panel.start_training()
    assert task is not None and panel.stop_button.isEnabled()
    # At once: the worker is still planning, so the first epoch ends after one batch (the
    # core test stops after a later epoch).
    with qtbot.waitSignal(panel.model_trained, timeout=TIMEOUT_MS) as trained:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
        assert not panel.stop_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=TIMEOUT_MS)
    result = panel.result
    assert result is not None and result.finished_on_request
    assert len(result.history) == 1 and result.best_epoch == 1
    assert trained.args[0] is result.model and session.model is result.model
    assert result.model.metrics["calibration"]["threshold"] == result.model.threshold
    assert "stopped on request" in panel.status.text()
    assert panel.save_button.isEnabled() and not panel.stop_button.isEnabled()


def test_the_errors_advice_names_settings_the_panel_offers(qtbot: QtBot) -> None:
    """The training errors advise a smaller window or a lower validation fraction: both are
    rows of the panel's form, and they reach the options."""
    from PySide6.QtWidgets import QFormLayout, QLabel

    from faultlens.core import training_plan

    source = Path(training_plan.__file__).read_text()
    assert "lower the validation fraction" in source and "smaller window" in source
    panel = _panel(qtbot, Session())
    form = panel.findChild(QFormLayout)
    rows = {
        form.itemAt(r, QFormLayout.ItemRole.LabelRole).widget().text(): form.itemAt(
            r, QFormLayout.ItemRole.FieldRole
        ).widget()
        for r in range(form.rowCount())
        if isinstance(form.itemAt(r, QFormLayout.ItemRole.LabelRole).widget(), QLabel)
    }
    assert rows["Window"] is panel.window_spin
    assert rows["Validation fraction"] is panel.val_spin
    panel.session.add(_recording("/x/a.csv"))
    panel.val_spin.setValue(10)
    assert panel.snapshot()[1].val_fraction == pytest.approx(0.10)


def test_the_options_persist_across_sessions(qtbot: QtBot) -> None:
    """Window, stride, epochs, seed, device, inputs, alarm budget and validation fraction
    come back in the next session's panel (FAULTLENS_SETTINGS: this test's own file)."""
    first = _panel(qtbot, Session())
    first.window_spin.setValue(48)
    first.stride_spin.setValue(6)
    first.epochs_spin.setValue(7)
    first.seed_spin.setValue(11)
    first.device_combo.setCurrentText("cpu")
    first.inputs_combo.setCurrentIndex(first.inputs_combo.findData("levels"))
    first.budget_spin.setValue(2.5)
    first.val_spin.setValue(30)
    chosen = first.input_choice()
    first.close()

    second = _panel(qtbot, Session())
    assert second.window_spin.value() == 48 and second.stride_spin.value() == 6
    assert second.epochs_spin.value() == 7 and second.seed_spin.value() == 11
    assert second.device_combo.currentText() == "cpu"
    assert second.input_choice() == chosen == ((), False)
    assert second.budget_spin.value() == pytest.approx(2.5)
    assert second.val_spin.value() == 30
    second.budget_spin.setValue(0.0)  # "off" is a choice too
    assert _panel(qtbot, Session()).budget_spin.value() == 0.0


def test_the_first_save_dialog_opens_in_the_users_folder_not_the_install_folder(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QFileDialog

    from faultlens.core.resources import demo_model_path
    from faultlens.gui import settings as gui_settings

    offered: list[str] = []

    def fake_save(parent: object, title: str, start: str, *args: object) -> tuple[str, str]:
        offered.append(start)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_save)
    monkeypatch.setattr(gui_settings, "documents_directory", lambda: str(tmp_path))
    panel = _panel(qtbot, Session())
    panel.result = object()  # type: ignore[assignment]  # only its presence matters here
    panel._show_running()  # as after a run: Save enabled
    panel.save_button.click()
    assert Path(offered[-1]).parent == tmp_path
    # Loading the demo model remembers its folder, inside the installation: not offered.
    gui_settings.set_last_directory("model", demo_model_path())
    panel.save_button.click()
    assert Path(offered[-1]).parent == tmp_path
    # A folder of the user's own is.
    mine = tmp_path / "models"
    mine.mkdir()
    gui_settings.set_last_directory("model", mine / "old.flmodel")
    panel.save_button.click()
    assert Path(offered[-1]).parent == mine


def test_only_recordings_with_the_first_ones_channels_are_ticked(qtbot: QtBot) -> None:
    """A labelled recording with other channels opens unticked and says why; with no ticked
    recording the loaded model's channels decide."""
    session = Session()
    panel = _panel(qtbot, session)
    first = session.add(_recording("/x/a.csv"))
    same = session.add(_recording("/x/b.csv"))
    rows = 30
    other = session.add(
        Recording.from_arrays(
            np.zeros((rows, 2), dtype=np.float32),
            ["a", "c"],
            labels=["normal"] * rows,
            path="/y/0.csv",
        )
    )
    assert [session.get(i).training.use for i in (first.id, same.id, other.id)] == [
        True,
        True,
        False,
    ]
    table = panel.recording_table
    assert table.item(2, 0).checkState() == Qt.CheckState.Unchecked
    why = table.item(2, 1)
    assert why.text() == "other channels than a.csv · label: normal×30"
    assert "differ from a.csv's (lacks b; has extra c)" in why.toolTip()
    assert "other channels" not in table.item(1, 1).text()

    # Nothing ticked and a model loaded: the model's channels are the reference.
    from faultlens.gui import _demo

    model = _demo.demo_model()
    session2 = Session()
    panel2 = _panel(qtbot, session2)
    session2.set_model(model)
    mismatched = session2.add(_recording("/x/a.csv"))
    assert not session2.get(mismatched.id).training.use
    assert "the loaded model" in panel2.recording_table.item(0, 1).text()
    # A panel made on a session that already holds them judges them the same way.
    session3 = Session()
    session3.add(_recording("/x/a.csv"))
    late = session3.add(session.get(other.id).recording)
    session3.set_training_role(late.id, TrainingRole(use=True))
    _panel(qtbot, session3)
    assert not session3.get(late.id).training.use


@pytest.mark.slow
def test_a_loaded_model_is_replaced_only_when_the_user_says_so(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Training (e.g. Train with Reviewed Labels) while a model is loaded asks; kept, the
    loaded model and its scans stay and the new model can still be saved."""
    from faultlens.core.checkpoint import load_model
    from faultlens.gui import _demo, training_panel

    answers: list[bool] = []
    asked: list[object] = []

    def answer(parent: object, loaded: object) -> bool:
        asked.append(loaded)
        return answers.pop(0)

    monkeypatch.setattr(training_panel, "ask_use_new_model", answer)
    session = Session()
    panel = _panel(qtbot, session)
    for i in range(3):
        session.add(_learnable(i, str(tmp_path / f"r{i}.csv")))
    loaded = _demo.demo_model()
    session.set_model(loaded)
    _small(panel, 1)
    trained: list[object] = []
    panel.model_trained.connect(trained.append)

    answers.append(False)
    assert panel.start_training() is not None
    qtbot.waitUntil(lambda: panel.result is not None and not panel.is_running(), timeout=TIMEOUT_MS)
    assert asked == [loaded] and session.model is loaded and trained == []
    assert "loaded model is still in use" in panel.status.text()
    assert panel.save_button.isEnabled()
    saved = tmp_path / "new.flmodel"
    assert panel.save_model_to(saved) and load_model(saved).channels == ("a", "b")

    answers.append(True)
    assert panel.start_training() is not None
    qtbot.waitUntil(lambda: not panel.is_running() and bool(trained), timeout=TIMEOUT_MS)
    assert panel.result is not None and session.model is panel.result.model
    assert trained == [panel.result.model] and len(asked) == 2


def test_the_question_keeps_the_loaded_model_unless_told(qtbot: QtBot) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from faultlens.gui import _demo
    from faultlens.gui.training_panel import ask_use_new_model

    panel = _panel(qtbot, Session())
    seen: list[str] = []

    def press(label: str) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, lambda: press(label))
            return
        seen.append(box.informativeText())
        next(b for b in box.buttons() if b.text() == label).click()

    model = _demo.demo_model()
    QTimer.singleShot(0, lambda: press("Keep the Loaded One"))
    assert ask_use_new_model(panel, model) is False
    QTimer.singleShot(0, lambda: press("Use the New Model"))
    assert ask_use_new_model(panel, model) is True
    assert "trained on pump_seed1.csv" in seen[0] and "Save Model… keeps the new one" in seen[0]


# ---------------------------------------------------------------- retrain with reviewed labels
def _write_run(path: Path, seed: int, rows: int = 240) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["time,a,b,label"]
    for i in range(rows):
        leak = 100 <= i < 140
        b = rng.normal() + (3.0 if leak else 0.0)
        lines.append(f"{i * 0.1:.1f},{rng.normal():.4f},{b:.4f},{'leak' if leak else 'normal'}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def retrain_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A tiny model trained on run1 and run2 (saved, loaded as from its file), run1 open,
    scanned with it and reviewed (a region drawn)."""
    import torch

    from faultlens.core import review_file
    from faultlens.core.checkpoint import load_model, save_model
    from faultlens.core.io import load_recording
    from faultlens.core.options import ScanOptions, TrainOptions
    from faultlens.core.progress import run_to_end
    from faultlens.core.scan import scan
    from faultlens.core.training import train

    monkeypatch.setenv(review_file.REVIEW_DIR_ENV, str(tmp_path / "user-data"))
    torch.set_num_threads(1)
    runs = tmp_path / "runs"
    runs.mkdir()
    first = load_recording(_write_run(runs / "run1.csv", 1))
    second = load_recording(_write_run(runs / "run2.csv", 2))
    tiny = TrainOptions(
        window=8, stride=4, epochs=1, hidden=8, heads=2, classifier_hidden=8,
        feature_scales=(), device="cpu", alarm_budget=None, patience=1,
    )  # fmt: skip
    path = tmp_path / "pump.flmodel"
    save_model(run_to_end(train([first, second], tiny)).model, path)
    loaded = load_model(path)
    session = Session()
    entry = session.add(first)
    session.set_model(loaded)
    session.set_scan(entry.id, run_to_end(scan(loaded, first, ScanOptions(min_duration_rows=1))))
    review, _ = session.open_review(entry.id)
    review.add_region(20, 39, "valve", "seen on site")
    return session, entry, loaded, second


@pytest.mark.slow
def test_retrain_extends_the_training_set_and_replaces_after_a_rescan(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, retrain_setup
) -> None:
    """The reproduction of issue 14 point 7: the retrain trains on the loaded model's
    recordings too, asks before replacing it, keeps it loadable, never clears the scan."""
    from faultlens.core.checkpoint import load_model
    from faultlens.gui import training_panel

    session, entry, loaded, _second = retrain_setup
    asked: list[object] = []
    monkeypatch.setattr(
        training_panel,
        "ask_replace_or_keep",
        lambda _p, old, saved: asked.append((old, saved)) or True,
    )
    no_scan_while_listed: list[int] = []

    def watch(_change: object) -> None:
        e = session.get(entry.id)
        if e.scan is None and e.review is not None and e.review.events:
            no_scan_while_listed.append(1)

    session.subscribe(watch)
    panel = _panel(qtbot, session)
    assert panel.retrain_with_reviewed_labels(entry.id) is not None
    qtbot.waitUntil(lambda: session.model is not loaded, timeout=TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: (
            not panel.is_running() and not panel.tasks.is_running(training_panel.RESCAN_TASK_KIND)
        ),
        timeout=TIMEOUT_MS,
    )
    new = session.model
    assert new is panel.result.model
    saved = loaded.path.with_name("pump-retrained.flmodel")
    assert asked == [(loaded, saved)] and new.path == saved
    # Trained on the loaded model's recordings plus the review (run1 once, reviewed).
    entries = {d["file"]: d["labels"] for d in load_model(saved).training_data}
    assert entries == {"run2.csv": "file", "run1.csv": "reviewed"}
    assert "valve" in new.class_names
    assert load_model(loaded.path).fingerprint == loaded.fingerprint  # the old one stays
    # The reviewed recording was rescanned with the new model; its scan never went away.
    assert session.get(entry.id).scan is not None and session.get(entry.id).scan.model is new
    assert no_scan_while_listed == []
    assert "rescanned" in panel.status.text()


@pytest.mark.slow
def test_retrain_names_missing_recordings_and_keeps_both_when_told(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, retrain_setup, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QFileDialog

    from faultlens.core.checkpoint import load_model
    from faultlens.gui import training_panel

    session, entry, loaded, second = retrain_setup
    moved = tmp_path / "moved.csv"
    second.path.rename(moved)
    choices = ["locate", "cancel"]
    missing_names: list[list[str]] = []

    def about_missing(_parent: object, missing: list, total: int) -> str:
        missing_names.append([m.problem for m in missing])
        assert total == 2
        return choices.pop(0)

    monkeypatch.setattr(training_panel, "ask_about_missing", about_missing)
    monkeypatch.setattr(training_panel, "ask_replace_or_keep", lambda *_a: False)
    # The user first picks a wrong file, is told so, and is asked again; then cancels.
    picks = [str(entry.recording.path)]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (picks.pop(0), ""))
    panel = _panel(qtbot, session)
    assert panel.retrain_with_reviewed_labels(entry.id) is not None
    qtbot.waitUntil(lambda: len(missing_names) == 2, timeout=TIMEOUT_MS)
    assert missing_names[0] == [f"run2.csv: not found at {second.path.resolve()}"]
    assert "holds other data than the model was trained on" in missing_names[1][0]
    assert "other data" in panel.last_error and "cancelled" in panel.status.text()
    assert panel.result is None and session.model is loaded

    # Again: located by hand this time; Keep Both.
    choices[:] = ["locate"]
    picks[:] = [str(moved)]
    assert panel.retrain_with_reviewed_labels(entry.id) is not None
    qtbot.waitUntil(lambda: panel.result is not None and not panel.is_running(), timeout=TIMEOUT_MS)
    assert session.model is loaded and session.get(entry.id).scan.model is loaded
    saved = loaded.path.with_name("pump-retrained.flmodel")
    assert {d["file"] for d in load_model(saved).training_data} == {"run1.csv", "moved.csv"}
    assert "loaded model stays in use" in panel.status.text()
