"""Run a core progress generator on a QThread and turn it into Qt signals.

The core's long work (training, scanning, importing) is a plain generator that yields
progress reports, polls ``should_stop`` and raises ``Cancelled``. :class:`GeneratorWorker`
drives one such generator on its own QThread and reports, in this order:
``progress`` for every yielded report, then exactly one of ``finished(result)``,
``cancelled()`` or ``failed(message, details)``. The worker touches no widget: callers give it
an immutable snapshot of its inputs, and results are applied in slots on the GUI thread
(signals cross threads as queued connections, so they arrive in the order emitted).
"""

from __future__ import annotations

import threading
import traceback
import weakref
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from faultlens.core.errors import FaultLensError
from faultlens.core.progress import Cancelled, ShouldStop

GeneratorFactory = Callable[[ShouldStop], Generator[Any, None, Any]]

# Every thread started here, so tests (and closeEvent) can find threads still running.
_threads: weakref.WeakSet[QThread] = weakref.WeakSet()


def running_threads() -> list[QThread]:
    """Worker threads started by this module that have not finished yet."""
    alive = []
    for t in list(_threads):
        try:
            if t.isRunning():
                alive.append(t)
        except RuntimeError:  # the C++ object is already gone
            continue
    return alive


def release_finished(worker: GeneratorWorker | None) -> None:
    """Let a finished worker go when its owner starts a new run in its place.

    Workers are parented to their owner (so a running one is never collected under it); an
    owner keeps only its newest, and hands the one it replaces here. A worker still running
    is left alone (its owner does not replace a running one).
    """
    if worker is not None and worker._started and not worker.is_running():
        worker.deleteLater()


class _Runner(QObject):
    """Lives on the worker thread; its ``run`` slot drains the generator."""

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, factory: GeneratorFactory, stop_event: threading.Event) -> None:
        super().__init__()
        self._factory = factory
        self._stop = stop_event

    def _should_stop(self) -> bool:
        return self._stop.is_set()

    @Slot()
    def run(self) -> None:
        try:
            gen = self._factory(self._should_stop)
            while True:
                # A cancel between two reports must not wait for the generator's next poll.
                if self._stop.is_set():
                    gen.close()
                    raise Cancelled()
                try:
                    report = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                self.progress.emit(report)
        except Cancelled:
            self.cancelled.emit()
        except FaultLensError as err:
            self.failed.emit(str(err), "")
        except Exception as err:  # a bug in the core: report it, never kill the window
            self.failed.emit(
                f"Unexpected error: {type(err).__name__}: {err}", traceback.format_exc()
            )
        else:
            self.finished.emit(result)
        finally:
            self.done.emit()


class GeneratorWorker(QObject):
    """One background run of a core progress generator.

    ``factory(should_stop)`` is called on the worker thread and must return the generator;
    build everything it captures on the GUI thread beforehand (an immutable snapshot).
    Connect to the signals, then call :meth:`start`. :meth:`cancel` sets a flag the generator
    polls; it answers with ``cancelled`` at its next check.
    """

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)  # one-line message, details (traceback, "" for user errors)
    cancelled = Signal()
    done = Signal()  # after any of finished/failed/cancelled, once the thread has stopped

    def __init__(
        self, factory: GeneratorFactory, name: str = "worker", parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.name = name
        self._stop = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName(f"faultlens-{name}")
        self._runner = _Runner(factory, self._stop)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        # Re-emit from this GUI-thread object so receivers never see the runner.
        self._runner.progress.connect(self.progress)
        self._runner.finished.connect(self.finished)
        self._runner.failed.connect(self.failed)
        self._runner.cancelled.connect(self.cancelled)
        # Direct: quit from the worker thread itself, so a GUI thread blocked in wait() (e.g.
        # a dialog closing in a finished slot) never waits for a queued quit it cannot run.
        self._runner.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._on_thread_finished)
        self._started = False

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a GeneratorWorker runs once; create a new one")
        self._started = True
        _threads.add(self._thread)
        self._thread.start()

    def cancel(self) -> None:
        self._stop.set()

    @property
    def cancel_requested(self) -> bool:
        return self._stop.is_set()

    def is_running(self) -> bool:
        return self._started and self._thread.isRunning()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the thread has stopped; True if it did within the timeout."""
        if not self._started:
            return True
        if timeout_ms < 0:
            return self._thread.wait()
        return self._thread.wait(timeout_ms)

    def _on_thread_finished(self) -> None:
        self.done.emit()
