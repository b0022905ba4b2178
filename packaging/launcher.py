"""Entry point of the frozen bundle: the same ``faultlens`` command as a pip install.

The bundle ships one executable, ``faultlens``, and a symlink to it, ``faultlens-gui``; the
name it was started under picks the entry point, as the two console/gui scripts of the wheel
do, so the .desktop file's ``Exec=faultlens-gui %f`` works for both kinds of installation.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable
from pathlib import Path

from faultlens.cli import gui_main, main

GUI_NAME = "faultlens-gui"


def entry_for(program: str) -> Callable[[], int]:
    """The entry point for an executable started as ``program`` (``sys.argv[0]``)."""
    return gui_main if Path(program).name == GUI_NAME else main


if __name__ == "__main__":
    # A frozen executable re-runs itself for each multiprocessing child (torch DataLoader
    # workers, pyqtgraph's remote processes); this turns those runs into the child.
    multiprocessing.freeze_support()
    sys.exit(entry_for(sys.argv[0])())
