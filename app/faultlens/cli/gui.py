"""``faultlens gui`` and ``faultlens demo``: open the desktop application (or render a
screenshot).

Qt (and torch) are imported only when one of these commands runs, so ``faultlens --help`` and
the headless commands never load them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from faultlens.cli.common import EXIT_OK
from faultlens.core.errors import FaultLensError

if TYPE_CHECKING:
    from faultlens.core.recording import Recording
    from faultlens.gui.main_window import MainWindow


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``gui`` and ``demo`` to the ``faultlens`` command."""
    p = subparsers.add_parser("gui", help="open the desktop application")
    p.add_argument("file", nargs="?", type=Path, help="recording to open")
    p.add_argument("--model", type=Path, help="model file to load (and scan FILE with)")
    p.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help="render the window at 1600x1000 into PNG and exit (works without a display)",
    )
    p.add_argument(
        "--inspect",
        metavar="ROW|TIME",
        help="open the Inspector at this row of FILE (a row number, a time as the file "
        "writes it, or +90s from the start); needs --model",
    )
    p.set_defaults(handler=lambda a: run_gui(a.file, a.model, a.screenshot, a.inspect))

    p = subparsers.add_parser("demo", help="open the application on the bundled demo data")
    p.add_argument("--screenshot", type=Path, metavar="PNG", help="render into PNG and exit")
    p.set_defaults(handler=lambda a: run_demo(a.screenshot))


def run_demo(screenshot: Path | None) -> int:
    from faultlens.core.resources import demo_model_path, demo_recording_path

    recording = demo_recording_path()  # a broken install is a bug: let it raise
    try:
        model: Path | None = demo_model_path()
    except FileNotFoundError:
        model = None
    return run_gui(recording, model, screenshot)


def _leave_a_core_for_the_gui() -> None:
    # Training runs in a worker thread; torch's intra-op threads on every core would starve
    # the GUI thread of CPU time. One core less keeps the window responsive.
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))


def run_gui(
    file: Path | None, model: Path | None, screenshot: Path | None, inspect: str | None = None
) -> int:
    """Open the main window (optionally on ``file`` with ``model``); with ``screenshot``,
    load and scan synchronously, save the PNG and return instead of running the event loop.
    ``inspect`` (a row or time of ``file``) opens the Inspector at that row.

    Returns the process exit code; user errors (bad file or model) raise FaultLensError so
    the CLI prints them and exits 2.
    """
    if (
        screenshot is not None
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from faultlens.core.checkpoint import load_model
    from faultlens.core.io import load_recording
    from faultlens.core.progress import run_to_end
    from faultlens.core.scan import scan
    from faultlens.gui.app import ensure_app, install_excepthook, warm_up_torch
    from faultlens.gui.main_window import MainWindow

    if inspect is not None and (file is None or model is None):
        raise FaultLensError("--inspect needs a recording FILE and --model MODEL")
    _leave_a_core_for_the_gui()
    app = ensure_app(sys.argv[:1])
    window = MainWindow()
    if screenshot is not None:
        # Automation: everything synchronously, errors go to the CLI (exit 2), not dialogs.
        if file is not None:
            recording = load_recording(file)
            row = _inspected_row(recording, inspect) if inspect is not None else None
            entry = window.add_recording(recording)
            if model is not None:
                trained = load_model(model)
                window.set_model(trained)
                trained.check_channels(recording)
                window.scan_controller.apply(entry.id, run_to_end(scan(trained, recording)))
                if row is None:
                    _focus_first_event(window)
                else:
                    window.show()
                    _inspect(window, row)
        elif model is not None:
            window.set_model(load_model(model))
        window.show()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        window.save_screenshot(screenshot)
        window.close()
        print(f"wrote {screenshot}", file=sys.stderr)
        return EXIT_OK

    install_excepthook()
    warm_up_torch()
    window.show()
    # A file named on the command line opens with the detected settings (File > Open shows
    # the import dialog); errors become dialogs in the open window.
    opened = window.load_file(file) if file is not None else None
    model_ok = window.load_model_file(model) if model is not None else False
    if opened is not None and model_ok:
        window.scan_controller.start()
        if inspect is not None:
            try:
                window.inspect_row(_inspected_row(opened, inspect))
            except FaultLensError as err:
                window.report_error(str(err))
    return int(app.exec())


def _inspected_row(recording: Recording, text: str) -> int:
    """``--inspect``'s row, a ValueError of ``row_at`` as the user error it is."""
    from faultlens.core.explain import row_at

    try:
        return row_at(recording, text)
    except ValueError as err:
        raise FaultLensError(f"--inspect {text}: {err}") from err


def _inspect(window: MainWindow, row: int) -> None:
    """Zoom the signals to the event holding ``row`` (else a few windows around it) and show
    the Inspector there, waiting for its explain (for the screenshot)."""
    result, model = window.current_scan, window.session.model
    event = None
    if result is not None:
        event = next((e for e in result.events if e.start_row <= row <= e.end_row), None)
    if event is not None:
        window.event_table.select_event(result.events.index(event))  # type: ignore[union-attr]
    else:
        span = int(model.window) if model is not None else 32
        window.signal_view.zoom_to_rows(max(row - 3 * span, 0), row + span, context=0.0)
    window.inspect_row(row)
    window.inspector.wait()
    if window.inspector.explanation is None:
        raise FaultLensError(f"--inspect: {window.inspector.message or 'nothing to inspect'}")


def _focus_first_event(window: MainWindow) -> None:
    """Leave the screenshot on the whole recording with the first event selected in the table."""
    result = window.current_scan
    if result is not None and result.events:
        window.event_table.select_event(0)
        window.signal_view.show_all()
