"""The command line: the same core as the GUI, headless.

This module is the entry point (``faultlens`` and ``faultlens-gui``): it builds the parser
from the command modules and turns errors into exit codes (``common``: 0 ok, 1 internal
error, 2 bad input, 3 cancelled). Each command lives in its own module, which imports only
``faultlens.cli.common`` and the core, and the engine (torch, pandas) only when it runs, so
``faultlens --help`` and ``--version`` load neither.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from faultlens import __version__
from faultlens.cli import evaluate, explain, gui, inspect, monitor, replay, report, scan, train
from faultlens.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    EXIT_INTERNAL,
    EXIT_OK,
    print_message,
)
from faultlens.core.errors import FaultLensError

# In the order ``faultlens --help`` lists them.
COMMAND_MODULES = (inspect, train, scan, evaluate, explain, report, monitor, replay, gui)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faultlens",
        description="Find, understand and report faults in multichannel sensor recordings. "
        "Without a command, opens the GUI.",
    )
    parser.add_argument("--version", action="version", version=f"faultlens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "handler", None) is None:
        return gui.run_gui(file=None, model=None, screenshot=None)
    try:
        return int(args.handler(args))
    except FaultLensError as err:
        print_message(f"error: {err}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print_message("interrupted")
        return EXIT_CANCELLED
    except BrokenPipeError:
        # The reader went away (`faultlens scan --json | head`): not our error. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as err:  # a bug: say so briefly, keep the traceback for a report
        import traceback

        traceback.print_exc()
        print_message(f"internal error: {err!r} (please report this)")
        return EXIT_INTERNAL


def gui_main() -> int:
    """Entry point of the desktop launcher (gui-script)."""
    file = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    return gui.run_gui(file=file, model=None, screenshot=None)
