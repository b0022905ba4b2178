"""``faultlens scan``: run a model over a recording; per-row predictions and fault events.

Progress goes to stderr; the events go to stdout (text, or JSON with ``--json``) and, when
asked, to files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from faultlens.cli.common import (
    EXIT_CANCELLED,
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

if TYPE_CHECKING:
    from faultlens.core.recording import Recording
    from faultlens.core.scan import ScanResult


def run_scan(args: argparse.Namespace) -> int:
    from faultlens.core.event_files import EVENT_SUFFIXES, write_events
    from faultlens.core.predictions import write_predictions_csv
    from faultlens.core.progress import Cancelled
    from faultlens.core.scan import scan

    if args.predictions is not None:
        check_output(args.predictions, "predictions file", (".csv",))
    if args.events is not None:
        check_output(args.events, "events file", EVENT_SUFFIXES)
    options = scan_options_from_args(args)
    model = load_model(args.model)
    (recording,) = load_recordings([args.file], args)
    try:
        result = run_with_progress(scan(model, recording, options), "scan")
    except Cancelled:
        print_message("scan cancelled; nothing written")
        return EXIT_CANCELLED
    if args.predictions is not None:
        write_predictions_csv(result, recording, args.predictions)
    if args.events is not None:
        # The one event-file schema (faultlens.core.event_files), as `report --events` and
        # the GUI write it; every event reads "unreviewed".
        write_events(args.events, result.events, recording=recording, scan_result=result)
    if args.json:
        print_json(_scan_json(args, recording, result))
    else:
        sys.stdout.write(_scan_text(args, recording, result))
    return EXIT_OK


def _scan_json(
    args: argparse.Namespace, recording: Recording, result: ScanResult
) -> dict[str, object]:
    return {
        "file": str(recording.path),
        "model": str(args.model),
        "model_fingerprint": result.model_fingerprint,
        "rows": recording.n_rows,
        "windows": result.windows,
        "window": result.window,
        "stride": result.stride,
        "device": result.device,
        "threshold": result.options.threshold,
        "predictions": None if args.predictions is None else str(args.predictions),
        "events_file": None if args.events is None else str(args.events),
        "events": [e.to_dict() for e in result.events],
    }


def _scan_text(args: argparse.Namespace, recording: Recording, result: ScanResult) -> str:
    first = result.window - 1
    lines = [
        f"{recording.path}: {recording.n_rows} rows, {result.windows} windows "
        f"(window {result.window}, scan stride {result.stride}) on {result.device}; "
        f"rows before {first} have no prediction",
        f"{len(result.events)} fault event(s) at threshold {result.options.threshold:g}",
    ]
    for i, e in enumerate(result.events, 1):
        unit = "s" if e.duration_unit == "s" else " rows"
        chans = ", ".join(
            f"{c} {100 * s:.0f}%" for c, s in zip(e.top_channels, e.channel_scores, strict=False)
        )
        lines.append(
            f"  {i:3d}. rows {e.start_row}-{e.end_row}  {e.start_time} .. {e.end_time}  "
            f"{e.duration_s:g}{unit}  {e.class_name}  peak {e.peak_probability:.2f}  "
            f"mean {e.mean_probability:.2f}" + (f"  channels: {chans}" if chans else "")
        )
    if args.predictions is not None:
        lines.append(f"predictions written to {args.predictions}")
    if args.events is not None:
        lines.append(f"events written to {args.events}")
    return "\n".join(lines) + "\n"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``scan`` to the ``faultlens`` command."""
    p = subparsers.add_parser(
        "scan",
        help="scan a recording with a model: per-row predictions and fault events",
        description="Run a model over a recording. Outputs are causal: a row's prediction "
        "comes from the window ending on it, so rows before the first full window have none.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="recording (CSV)")
    add_scan_options(p)
    p.add_argument(
        "--predictions",
        type=Path,
        metavar="OUT.csv",
        help="write per-row predictions: row, time, predicted_class, fault_probability, "
        "p_<class>..., attention, hotspots",
    )
    p.add_argument("--events", type=Path, metavar="OUT.csv|OUT.json", help="write the fault events")
    add_input_output_options(p)
    p.set_defaults(handler=run_scan)
