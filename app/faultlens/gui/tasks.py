"""The one task runner: every long job of the window (import, training, scan, report export)
runs here, on its own QThread, as a plain core generator.

The core's long work is a generator that yields progress reports, polls ``should_stop`` and
raises ``Cancelled`` (in the spirit of superqt's ``GeneratorWorker`` and Orange's
``ConcurrentWidgetMixin``). A :class:`Task` drives one such generator and reports, in this
order: ``progress`` for every yielded report, then exactly one of ``finished(result)``,
``cancelled()`` or ``failed(message, details)``, then ``done()`` once its thread has stopped.
A :class:`TaskRunner` is the registry a window and its panels share: it starts tasks (one at a
time per kind), releases each one when it is done, and is the one shutdown path
(:meth:`TaskRunner.shutdown`: cancel every running task and wait).

Guarantees, written once here:

- the generator runs on the task's thread and touches no widget: callers build its inputs on
  the GUI thread (an immutable snapshot) and apply results in slots on the GUI thread
  (signals cross threads as queued connections, so they arrive in the order emitted);
- an error never kills the window: a ``FaultLensError`` is a one-line ``failed(message, "")``,
  any other exception ``failed("Unexpected error: ...", traceback)``;
- a task counts as running (:meth:`TaskRunner.is_running`) until its ``done`` has been
  handled, so its outcome has always arrived when it stops counting; :meth:`Task.wait`
  delivers that outcome at once;
- a finished task is released after its ``done``: the runner drops it, and nothing else
  holds it unless the caller kept it (tasks have no Qt parent, so no pending ``deleteLater``
  can meet a parent deleted first, which crashes PySide 6.11).
"""

from __future__ import annotations

import itertools
import threading
import traceback
import weakref
from collections.abc import Callable, Generator
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread, Signal, Slot

from faultlens.core.errors import FaultLensError
from faultlens.core.progress import Cancelled, ShouldStop

GeneratorFactory = Callable[[ShouldStop], Generator[Any, None, Any]]

# Every thread started here, so tests can find threads still running at their end.
_threads: weakref.WeakSet[QThread] = weakref.WeakSet()
_names = itertools.count(1)


def running_threads() -> list[QThread]:
    """Task threads started by this module that have not finished yet."""
    alive = []
    for t in list(_threads):
        try:
            if t.isRunning():
                alive.append(t)
        except RuntimeError:  # the C++ object is already gone
            continue
    return alive


def unique_kind(prefix: str) -> str:
    """A task kind no other caller uses (for owners that may exist several times at once,
    such as import dialogs)."""
    return f"{prefix} {next(_names)}"


class _Runner(QObject):
    """Lives on the task's thread; its ``run`` slot drains the generator."""

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


class Task(QObject):
    """One background run of a core progress generator.

    ``factory(should_stop)`` is called on the task's thread and must return the generator;
    build everything it captures on the GUI thread beforehand. Connect to the signals, then
    call :meth:`start` (a :class:`TaskRunner` does both). :meth:`cancel` sets a flag the
    generator polls; it answers with ``cancelled`` at its next check.
    """

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)  # one-line message, details (traceback, "" for user errors)
    cancelled = Signal()
    done = Signal()  # after any of finished/failed/cancelled, once the thread has stopped

    def __init__(
        self,
        factory: GeneratorFactory,
        kind: str = "task",
        label: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind = kind
        self.label = label or kind
        self._stop = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName(f"faultlens-{kind}")
        self._runner = _Runner(factory, self._stop)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        # Re-emit from this GUI-thread object so receivers never see the runner.
        self._runner.progress.connect(self.progress)
        self._runner.finished.connect(self.finished)
        self._runner.failed.connect(self.failed)
        self._runner.cancelled.connect(self.cancelled)
        # Direct: quit from the task's thread itself, so a GUI thread blocked in wait() (e.g.
        # a dialog closing in a finished slot) never waits for a queued quit it cannot run.
        self._runner.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._on_thread_finished)
        self._started = False

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a Task runs once; start a new one")
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
        """Block until the thread has stopped, then deliver what it still had on its way
        (its outcome and ``done``); True if it stopped within the timeout.

        So once ``wait`` returns, the task's handlers have run and its runner has let it go:
        a dialog that waits for its task as it closes hears nothing after that.
        """
        if not self._started:
            return True
        stopped = self._thread.wait() if timeout_ms < 0 else self._thread.wait(timeout_ms)
        if stopped and shiboken6.isValid(self) and QThread.currentThread() is self.thread():
            QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        return stopped

    def _on_thread_finished(self) -> None:
        self.done.emit()


class TaskRunner(QObject):
    """The running tasks of one window: start, one run at a time per kind, release, shutdown.

    Owners (the main window's scan, the training panel, the report exporter, each import
    dialog) start their work with :meth:`start` and keep no worker of their own; they ask
    :meth:`is_running` and :meth:`cancel` by kind. ``changed`` fires when a task starts or
    ends, after the owner's own ``done`` handler.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: dict[str, Task] = {}

    def start(
        self,
        kind: str,
        factory: GeneratorFactory,
        label: str = "",
        *,
        progress: Callable[[Any], None] | None = None,
        finished: Callable[[Any], None] | None = None,
        failed: Callable[[str, str], None] | None = None,
        cancelled: Callable[[], None] | None = None,
        done: Callable[[], None] | None = None,
    ) -> Task | None:
        """Run ``factory``'s generator as a task of ``kind``; None if one is still running.

        The handlers are connected before the task starts, so none of its signals is missed;
        ``failed`` should always be given (an unhandled failure is otherwise silent).
        """
        if self.is_running(kind):
            return None
        task = Task(factory, kind, label)
        for signal, handler in (
            (task.progress, progress),
            (task.finished, finished),
            (task.failed, failed),
            (task.cancelled, cancelled),
            (task.done, done),
        ):
            if handler is not None:
                signal.connect(handler)
        # Connected last, so the owner's handlers have run when the task stops counting. A
        # bound method, not a lambda holding the task: that would keep it alive for ever.
        task.done.connect(self._on_task_done)
        self._running[kind] = task
        task.start()
        self.changed.emit()
        return task

    def _on_task_done(self) -> None:
        task = self.sender()
        if isinstance(task, Task) and self._running.get(task.kind) is task:
            del self._running[task.kind]
        self.changed.emit()

    def task(self, kind: str) -> Task | None:
        """The running task of ``kind``, if any."""
        return self._running.get(kind)

    def is_running(self, kind: str) -> bool:
        """Whether a task of ``kind`` runs: from its start until its ``done`` has been
        handled, so its outcome (``finished``, ...) has always arrived when this turns False."""
        return kind in self._running

    def running(self) -> list[Task]:
        """Every task still running, oldest first."""
        return list(self._running.values())

    def cancel(self, kind: str) -> bool:
        """Ask the running task of ``kind`` to stop; True if there was one."""
        task = self.task(kind)
        if task is not None:
            task.cancel()
        return task is not None

    def shutdown(self) -> None:
        """Cancel every running task and wait until each thread has stopped (closeEvent)."""
        tasks = self.running()
        for task in tasks:
            task.cancel()
        for task in tasks:
            task.wait()
