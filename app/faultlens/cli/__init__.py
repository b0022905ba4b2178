"""The command line: the same core as the GUI, headless.

Exit codes: 0 ok, 1 internal error (a bug), 2 bad input (message on stderr, no traceback),
3 cancelled/interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from faultlens import __version__
from faultlens.core.errors import FaultLensError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 3


def _print_json(obj: object) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()  # a closed pipe raises here, inside main's handling


# ---------------------------------------------------------------- inspect
def _add_import_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("import options (detected when not given)")
    g.add_argument("--separator", help="column separator: ',' ';' 'tab' or 'space'")
    g.add_argument("--encoding", help="text encoding, e.g. utf-8, latin-1")
    g.add_argument("--decimal", choices=[".", ","], help="decimal mark")
    g.add_argument("--no-header", action="store_true", help="the file has no header row")
    g.add_argument("--time-column", help="name of the time column")
    g.add_argument("--no-time-column", action="store_true", help="use the row index as time")
    g.add_argument("--label-column", help="name of the label column")
    g.add_argument("--no-label-column", action="store_true", help="the file has no labels")
    g.add_argument("--channels", help="comma-separated input channels (default: all numeric)")


def import_options_from_args(args: argparse.Namespace):  # -> ImportOptions
    from faultlens.core.recording import ImportOptions

    sep = {"tab": "\t", "space": r"\s+", "whitespace": r"\s+"}.get(
        args.separator or "", args.separator
    )
    return ImportOptions(
        encoding=args.encoding,
        separator=sep,
        header=False if args.no_header else None,
        decimal=args.decimal,
        time_column=args.time_column,
        no_time_column=args.no_time_column,
        label_column=args.label_column,
        no_label_column=args.no_label_column,
        channels=tuple(c.strip() for c in args.channels.split(",")) if args.channels else None,
    )


def _cmd_inspect(args: argparse.Namespace) -> int:
    from faultlens.core.io import load_recording
    from faultlens.core.report_text import recording_summary_text

    rec = load_recording(args.file, import_options_from_args(args))
    if args.json:
        _print_json(rec.summary_dict())
    else:
        sys.stdout.write(recording_summary_text(rec))
    return EXIT_OK


# ---------------------------------------------------------------- parser
Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faultlens",
        description="Find, understand and report faults in multichannel sensor recordings. "
        "Without a command, opens the GUI.",
    )
    parser.add_argument("--version", action="version", version=f"faultlens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("inspect", help="print a recording's summary and data-quality report")
    p.add_argument("file", type=Path)
    _add_import_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_inspect)

    for register in _REGISTRARS:
        register(sub)
    return parser


# Subcommands defined in other modules register themselves here (train/scan/evaluate,
# report, gui/demo), so this file stays the single entry point.
_REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = []


def _load_registrars() -> None:
    from faultlens import cli_engine, cli_gui, cli_report

    _REGISTRARS[:] = [cli_engine.register, cli_report.register, cli_gui.register]


def main(argv: Sequence[str] | None = None) -> int:
    _load_registrars()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        from faultlens.cli_gui import run_gui

        return run_gui(file=None, model=None, screenshot=None)
    try:
        return int(args.handler(args))
    except FaultLensError as err:
        print(f"faultlens: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("faultlens: interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        # The reader went away (`faultlens scan --json | head`): not our error. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as err:  # a bug: say so briefly, keep the traceback for a report
        import traceback

        traceback.print_exc()
        print(f"faultlens: internal error: {err!r} (please report this)", file=sys.stderr)
        return EXIT_INTERNAL


def gui_main() -> int:
    """Entry point of the desktop launcher (gui-script)."""
    from faultlens.cli_gui import run_gui

    file = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    return run_gui(file=file, model=None, screenshot=None)


if __name__ == "__main__":
    sys.exit(main())
