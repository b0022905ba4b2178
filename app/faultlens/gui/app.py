"""QApplication setup, the app icon, error dialogs and the excepthook.

A bug in a slot must become an error dialog, never a dead window: :func:`install_excepthook`
routes uncaught exceptions on the GUI thread to :func:`show_error`.
"""

from __future__ import annotations

import gc
import sys
import traceback
from types import TracebackType

import pyqtgraph as pg
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from faultlens import __version__
from faultlens.core.errors import FaultLensError
from faultlens.core.resources import APP_ICON, resource_path

APP_NAME = "FaultLens"


def app_icon() -> QIcon:
    """The FaultLens icon, or an empty icon when the resource is not installed."""
    try:
        return QIcon(str(resource_path(APP_ICON)))
    except FileNotFoundError:
        return QIcon()


def configure_pyqtgraph() -> None:
    # White background: the plots end up in reports and screenshots next to documents.
    pg.setConfigOptions(antialias=False, background="w", foreground="k", useNumba=False)


def ensure_app(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created and configured if there is none yet."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    # Wayland shells match the window to packaging/io.github.faultlens.FaultLens.desktop by this.
    app.setDesktopFileName("io.github.faultlens.FaultLens")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    configure_pyqtgraph()
    return app


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    """Show an error without blocking: the message, and a traceback under "Show Details".

    Non-modal (``open()``), so a failing background run never stalls the event loop and tests
    can find the box among the parent's children.
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setObjectName("faultlens-error")
    box.open()
    return box


def install_excepthook() -> None:
    """Turn uncaught exceptions on the GUI thread into an error dialog (and stderr)."""

    def hook(kind: type[BaseException], err: BaseException, tb: TracebackType | None) -> None:
        details = "".join(traceback.format_exception(kind, err, tb))
        sys.stderr.write(details)
        if isinstance(err, KeyboardInterrupt):
            QApplication.quit()
            return
        parent = QApplication.activeWindow()
        if isinstance(err, FaultLensError):
            show_error(parent, APP_NAME, str(err))
        else:
            show_error(
                parent,
                f"{APP_NAME}: unexpected error",
                f"Something went wrong: {type(err).__name__}: {err}\n"
                "Your open recordings are unchanged. Please report this with the details.",
                details,
            )

    sys.excepthook = hook


def warm_up_torch() -> None:
    """Import, on the GUI thread before the window opens, what torch loads lazily on the
    first optimiser step (~800 modules: torch._dynamo, torch.distributed.tensor, ...).

    Done by the training worker instead, those imports hold the GIL in long stretches and
    freeze the window for up to half a second (measured by benchmarks/bench_gui.py); here
    they only lengthen start-up by a second or two. Then everything loaded so far is taken
    out of the garbage collector's full passes (``gc.freeze``), which would otherwise stop
    the GUI thread for 150-200 ms each.
    """
    import torch

    layer = torch.nn.Linear(2, 2)
    optimiser = torch.optim.AdamW(layer.parameters())
    layer(torch.zeros(1, 2)).sum().backward()
    torch.nn.utils.clip_grad_norm_(layer.parameters(), 1.0)
    optimiser.step()
    # Everything imported so far lives as long as the app: leave it out of the collector's
    # full passes. Each pass otherwise walks the whole heap (torch, pandas, pyarrow, Qt
    # wrappers) on the GUI thread: 150-190 ms freezes, one of which fell into a scan in
    # benchmarks/bench_gui.py; after the freeze a full pass walks only what came since.
    gc.collect()
    gc.freeze()
