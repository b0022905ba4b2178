"""``faultlens report``: scan a recording and write fault reports, headless (batch use).

The review beside the recording (its ``.faultlens.json`` sidecar, or the one in the user
data folder) is included when present; it is only read, never changed. Progress goes to
stderr; a summary to stdout (text, or JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from faultlens.cli.common import (
    EXIT_OK,
    add_input_output_options,
    add_scan_options,
    check_output,
    load_model,
    load_recordings,
    print_json,
    print_message,
    run_with_progress,
    scan_options_from_args,
)
from faultlens.core.errors import FaultLensError


def run_report(args: argparse.Namespace) -> int:
    from faultlens.core.event_files import EVENT_SUFFIXES, write_events
    from faultlens.core.report import REPORT_SUFFIXES, write_report
    from faultlens.core.review import Review
    from faultlens.core.scan import scan

    outputs: list[Path] = list(args.out)
    if len({p.resolve() for p in outputs}) != len(outputs):
        raise FaultLensError("--out: the same report file is given twice; give each once")
    for path in outputs:
        check_output(path, "report", REPORT_SUFFIXES)
    if args.events is not None:
        check_output(args.events, "events file", EVENT_SUFFIXES)
    if args.review is not None and args.no_review:
        raise FaultLensError("--review and --no-review contradict each other; give one")
    options = scan_options_from_args(args)
    model = load_model(args.model)
    (recording,) = load_recordings([args.file], args)

    review = None
    if not args.no_review:
        review = Review.open(recording, sidecar_path=args.review, read_only=True)
        for warning in review.warnings:
            print_message(f"warning: {warning.message}")
        if review.warnings:
            review = None

    result = run_with_progress(scan(model, recording, options), "scan")
    options = result.options  # the threshold actually used (the model's unless given)
    if review is not None:
        review.set_events(
            result.events,
            model_fingerprint=result.model_fingerprint,
            class_names=result.class_names,
            scan_options=options,
        )
    for path in outputs:
        run_with_progress(
            write_report(path, recording, result, model, review, title=args.title),
            f"report {path.name}",
        )
    if args.events is not None:
        write_events(args.events, result.events, review, recording=recording, scan_result=result)

    counts = review.counts() if review is not None else {}
    if args.json:
        print_json(
            {
                "file": str(recording.path),
                "model": str(args.model),
                "model_fingerprint": result.model_fingerprint,
                "threshold": options.threshold,
                "events": len(result.events),
                "review": None
                if review is None
                else {"sidecar": str(args.review or "beside the recording"), "counts": counts},
                "reports": [str(p) for p in outputs],
                "events_file": None if args.events is None else str(args.events),
            }
        )
        return EXIT_OK
    reviewed = (
        "no review"
        if review is None
        else ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no events"
    )
    lines = [
        f"{recording.path}: {len(result.events)} fault event(s) at threshold "
        f"{options.threshold:g} ({reviewed})"
    ]
    lines += [f"report written to {p}" for p in outputs]
    if args.events is not None:
        lines.append(f"events written to {args.events}")
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``faultlens`` command."""
    p = subparsers.add_parser(
        "report",
        help="scan a recording and write a fault report (HTML or PDF)",
        description="Scan FILE with a model and write a self-contained fault report: HTML "
        "(one file, figures embedded) or PDF, chosen by the --out suffix. The review saved "
        "beside the recording is included when there is one.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="recording (CSV)")
    add_scan_options(p)
    p.add_argument(
        "--out",
        type=Path,
        action="append",
        required=True,
        metavar="REPORT.html|REPORT.pdf",
        help="report file to write; repeat for several (e.g. both .html and .pdf)",
    )
    p.add_argument(
        "--events", type=Path, metavar="OUT.csv|OUT.json", help="also write the event list"
    )
    p.add_argument(
        "--review",
        type=Path,
        metavar="SIDECAR",
        help="review file to include (default: the one saved beside the recording)",
    )
    p.add_argument("--no-review", action="store_true", help="leave any saved review out")
    p.add_argument("--title", help="report title (default: 'Fault report: FILE')")
    add_input_output_options(p)
    p.set_defaults(handler=run_report)
