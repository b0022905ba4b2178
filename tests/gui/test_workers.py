"""GeneratorWorker: signals in strict order, cancel, user errors and bugs."""

from __future__ import annotations

import threading
from collections.abc import Generator

from pytestqt.qtbot import QtBot

from faultlens.core.errors import RecordingError
from faultlens.core.progress import Cancelled, Progress, ShouldStop
from faultlens.gui.workers import GeneratorWorker, running_threads


def _record(worker: GeneratorWorker) -> list[tuple[str, object]]:
    events: list[tuple[str, object]] = []
    worker.progress.connect(lambda r: events.append(("progress", r)))
    worker.finished.connect(lambda r: events.append(("finished", r)))
    worker.failed.connect(lambda m, d: events.append(("failed", (m, d))))
    worker.cancelled.connect(lambda: events.append(("cancelled", None)))
    return events


def test_progress_then_finished_in_order(qtbot: QtBot) -> None:
    seen_threads: list[int] = []

    def work(should_stop: ShouldStop) -> Generator[Progress, None, str]:
        seen_threads.append(threading.get_ident())
        for i in range(5):
            yield Progress(i + 1, 5, f"step {i + 1}")
        return "result"

    worker = GeneratorWorker(work, "test")
    events = _record(worker)
    with qtbot.waitSignal(worker.done, timeout=10_000):
        worker.start()
    assert [e[0] for e in events] == ["progress"] * 5 + ["finished"]
    assert [e[1].done for e in events[:5]] == [1, 2, 3, 4, 5]  # type: ignore[union-attr]
    assert events[-1] == ("finished", "result")
    assert seen_threads and seen_threads[0] != threading.get_ident()
    assert not worker.is_running()
    assert running_threads() == []


def test_cancel_stops_with_cancelled_and_no_result(qtbot: QtBot) -> None:
    started = threading.Event()
    polls: list[bool] = []

    def work(should_stop: ShouldStop) -> Generator[Progress, None, str]:
        started.set()
        i = 0
        while True:
            stop = should_stop()
            polls.append(stop)
            if stop:
                raise Cancelled()
            i += 1
            if i % 1000 == 0:
                yield Progress(i, 0)

    worker = GeneratorWorker(work, "cancel")
    events = _record(worker)
    worker.start()
    assert started.wait(10)
    with qtbot.waitSignal(worker.done, timeout=10_000):
        worker.cancel()
    kinds = [e[0] for e in events]
    assert kinds[-1] == "cancelled"
    assert "finished" not in kinds and "failed" not in kinds
    assert set(kinds[:-1]) <= {"progress"}
    assert worker.cancel_requested


def test_user_error_is_one_line_without_details(qtbot: QtBot) -> None:
    def work(should_stop: ShouldStop) -> Generator[Progress, None, None]:
        yield Progress(0, 1)
        raise RecordingError("data.csv: line 7: not a number; fix the cell")

    worker = GeneratorWorker(work, "fail")
    events = _record(worker)
    with qtbot.waitSignal(worker.done, timeout=10_000):
        worker.start()
    assert [e[0] for e in events] == ["progress", "failed"]
    assert events[-1][1] == ("data.csv: line 7: not a number; fix the cell", "")


def test_bug_in_worker_becomes_failed_with_traceback(qtbot: QtBot) -> None:
    def work(should_stop: ShouldStop) -> Generator[Progress, None, None]:
        raise ZeroDivisionError("boom")
        yield  # pragma: no cover

    worker = GeneratorWorker(work, "bug")
    events = _record(worker)
    with qtbot.waitSignal(worker.done, timeout=10_000):
        worker.start()
    assert [e[0] for e in events] == ["failed"]
    message, details = events[0][1]  # type: ignore[misc]
    assert "ZeroDivisionError: boom" in message
    assert "Traceback" in details and "boom" in details
