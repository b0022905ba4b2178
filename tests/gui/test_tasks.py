"""The task runner: signals in strict order, cancel, user errors and bugs, one run per kind,
release, and the one shutdown path."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Generator

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from faultlens.core.errors import RecordingError
from faultlens.core.progress import Cancelled, Progress, ShouldStop
from faultlens.gui.tasks import Task, TaskRunner, running_threads


def _record(task: Task) -> list[tuple[str, object]]:
    events: list[tuple[str, object]] = []
    task.progress.connect(lambda r: events.append(("progress", r)))
    task.finished.connect(lambda r: events.append(("finished", r)))
    task.failed.connect(lambda m, d: events.append(("failed", (m, d))))
    task.cancelled.connect(lambda: events.append(("cancelled", None)))
    task.done.connect(lambda: events.append(("done", None)))
    return events


def _until_stopped(started: threading.Event, release: threading.Event):
    """A factory whose generator reports once, then waits for ``release`` or a cancel."""

    def work(should_stop: ShouldStop) -> Generator[Progress, None, str]:
        started.set()
        yield Progress(0, 1, "waiting")
        while not release.wait(0.005):
            if should_stop():
                raise Cancelled()
        return "released"

    return work


def test_progress_then_finished_in_order(qtbot: QtBot) -> None:
    seen_threads: list[int] = []

    def work(should_stop: ShouldStop) -> Generator[Progress, None, str]:
        seen_threads.append(threading.get_ident())
        for i in range(5):
            yield Progress(i + 1, 5, f"step {i + 1}")
        return "result"

    task = Task(work, "test")
    events = _record(task)
    with qtbot.waitSignal(task.done, timeout=10_000):
        task.start()
    assert [e[0] for e in events] == ["progress"] * 5 + ["finished", "done"]
    assert [e[1].done for e in events[:5]] == [1, 2, 3, 4, 5]  # type: ignore[union-attr]
    assert events[5] == ("finished", "result")
    assert seen_threads and seen_threads[0] != threading.get_ident()
    assert not task.is_running()
    assert running_threads() == []


def test_cancel_stops_with_cancelled_and_no_result(qtbot: QtBot) -> None:
    started = threading.Event()

    def work(should_stop: ShouldStop) -> Generator[Progress, None, str]:
        started.set()
        i = 0
        while True:
            if should_stop():
                raise Cancelled()
            i += 1
            if i % 1000 == 0:
                yield Progress(i, 0)

    task = Task(work, "cancel")
    events = _record(task)
    task.start()
    assert started.wait(10)
    with qtbot.waitSignal(task.done, timeout=10_000):
        task.cancel()
    kinds = [e[0] for e in events]
    assert kinds[-2:] == ["cancelled", "done"]
    assert set(kinds[:-2]) <= {"progress"}
    assert task.cancel_requested


def test_user_error_is_one_line_without_details(qtbot: QtBot) -> None:
    def work(should_stop: ShouldStop) -> Generator[Progress, None, None]:
        yield Progress(0, 1)
        raise RecordingError("data.csv: line 7: not a number; fix the cell")

    task = Task(work, "fail")
    events = _record(task)
    with qtbot.waitSignal(task.done, timeout=10_000):
        task.start()
    assert [e[0] for e in events] == ["progress", "failed", "done"]
    assert events[1][1] == ("data.csv: line 7: not a number; fix the cell", "")


def test_bug_in_task_becomes_failed_with_traceback(qtbot: QtBot) -> None:
    def work(should_stop: ShouldStop) -> Generator[Progress, None, None]:
        raise ZeroDivisionError("boom")
        yield  # pragma: no cover

    task = Task(work, "bug")
    events = _record(task)
    with qtbot.waitSignal(task.done, timeout=10_000):
        task.start()
    assert [e[0] for e in events] == ["failed", "done"]
    message, details = events[0][1]  # type: ignore[misc]
    assert "ZeroDivisionError: boom" in message
    assert "Traceback" in details and "boom" in details


def test_runner_runs_one_task_per_kind_and_releases_it(qtbot: QtBot) -> None:
    runner = TaskRunner()
    started, release = threading.Event(), threading.Event()
    results: list[object] = []
    changes: list[int] = []
    runner.changed.connect(lambda: changes.append(len(runner.running())))
    first = runner.start("scan", _until_stopped(started, release), finished=results.append)
    assert first is not None and started.wait(10)
    assert runner.start("scan", _until_stopped(threading.Event(), release)) is None
    assert runner.is_running("scan") and runner.task("scan") is first
    assert not runner.is_running("training")
    with qtbot.waitSignal(first.done, timeout=10_000):
        release.set()
    assert results == ["released"]
    assert runner.running() == [] and runner.task("scan") is None
    assert changes == [1, 0]  # started, then ended (after the owner's own handlers)
    # The finished task is let go: once the caller drops it too, it is gone.
    assert not first.is_running() and first.wait()
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is None
    second = runner.start("scan", _until_stopped(threading.Event(), release))
    assert second is not None
    qtbot.waitUntil(lambda: not second.is_running(), timeout=10_000)


def test_shutdown_cancels_every_running_task_and_waits(qtbot: QtBot) -> None:
    runner = TaskRunner()
    release = threading.Event()
    outcomes: list[str] = []
    tasks = []
    for kind in ("training", "scan", "report"):
        started = threading.Event()
        task = runner.start(
            kind,
            _until_stopped(started, release),
            cancelled=lambda kind=kind: outcomes.append(kind),
        )
        assert task is not None and started.wait(10)
        tasks.append(task)
    assert [t.kind for t in runner.running()] == ["training", "scan", "report"]
    runner.shutdown()
    assert running_threads() == [] and all(not t.is_running() for t in tasks)
    # Waiting delivered each outcome (queued from each task's own thread) and released it.
    assert sorted(outcomes) == ["report", "scan", "training"]
    assert runner.running() == []
    assert not release.is_set()


def test_the_leak_check_sees_a_timer_and_a_thread_left_running(qtbot: QtBot, leak_check) -> None:
    """What the autouse ``nothing_left_running`` fixture checks after every GUI test, called
    here on a timer and a task left running on purpose (then stopped, so this test passes)."""
    before = leak_check.widget_keys()
    host = QWidget()
    qtbot.addWidget(host)
    timer = QTimer(host)
    timer.start(60_000)
    assert leak_check.active_timers(before) == [timer]
    assert leak_check.active_timers(leak_check.widget_keys()) == []  # only new widgets count
    timer.stop()
    assert leak_check.active_timers(before) == []

    runner = TaskRunner()
    started, release = threading.Event(), threading.Event()
    task = runner.start("leak", _until_stopped(started, release))
    assert task is not None and started.wait(10)
    assert [t.objectName() for t in leak_check.running_threads()] == ["faultlens-leak"]
    release.set()
    task.wait()
    assert leak_check.running_threads() == [] and runner.running() == []
