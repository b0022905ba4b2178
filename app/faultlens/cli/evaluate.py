"""``faultlens evaluate``: score a model against labelled recordings (per-row metrics,
false and missed alarm rates, detection delays).

Progress goes to stderr; the report goes to stdout (text, or JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from faultlens.cli.common import (
    EXIT_CANCELLED,
    EXIT_OK,
    add_input_output_options,
    add_scan_options,
    load_model,
    load_recordings,
    print_json,
    print_message,
    run_with_progress,
    scan_options_from_args,
)


def run_evaluate(args: argparse.Namespace) -> int:
    from faultlens.core.evaluation import evaluate_iter
    from faultlens.core.progress import Cancelled

    options = scan_options_from_args(args)
    model = load_model(args.model)
    recordings = load_recordings(args.files, args)
    try:
        report = run_with_progress(evaluate_iter(model, recordings, options), "evaluate")
    except Cancelled:
        print_message("evaluation cancelled")
        return EXIT_CANCELLED
    if args.json:
        print_json({"model": str(args.model), **report.to_dict()})
    else:
        sys.stdout.write(
            f"model {args.model} on {len(recordings)} file(s), threshold {report.threshold:g}; "
            "scored rows: labelled rows from the first full window on\n"
        )
        sys.stdout.write(report.to_text())
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` to the ``faultlens`` command."""
    p = subparsers.add_parser(
        "evaluate",
        help="score a model against labelled recordings (per-row metrics, FAR/MAR, delays)",
        description="Scan labelled recordings and compare per-row predictions with the labels "
        "on the rows that have both (from the first full window on).",
    )
    p.add_argument("files", type=Path, nargs="+", metavar="FILE", help="labelled recordings")
    add_scan_options(p)
    add_input_output_options(p)
    p.set_defaults(handler=run_evaluate)
