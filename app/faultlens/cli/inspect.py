"""``faultlens inspect``: a recording's summary and data-quality report, as text or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from faultlens.cli.common import EXIT_OK, add_import_options, import_options_from_args, print_json


def run_inspect(args: argparse.Namespace) -> int:
    from faultlens.core.io import load_recording
    from faultlens.core.report.text import recording_summary_text

    rec = load_recording(args.file, import_options_from_args(args))
    if args.json:
        print_json(rec.summary_dict())
    else:
        sys.stdout.write(recording_summary_text(rec))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``inspect`` to the ``faultlens`` command."""
    p = subparsers.add_parser("inspect", help="print a recording's summary and data-quality report")
    p.add_argument("file", type=Path)
    add_import_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_inspect)
