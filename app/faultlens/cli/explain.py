"""``faultlens explain``: why the model decided what it did at one row, for scripts and bug
reports: a summary for people, the whole explanation as JSON, or the inspector figure."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from faultlens.cli.common import (
    DEVICE_CHOICES,
    EXIT_OK,
    add_import_options,
    check_output,
    load_model,
    load_recordings,
    print_json,
    print_message,
)
from faultlens.core.errors import FaultLensError

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.explain import Explanation
    from faultlens.core.recording import Recording

SUMMARY_STEPS = 3  # steps listed per kind of evidence in the summary


def run_explain(args: argparse.Namespace) -> int:
    from faultlens.core.atomic import atomic_write_bytes
    from faultlens.core.explain import explain, row_at

    if args.png is not None:
        check_output(args.png, "figure", (".png",))
    model = load_model(args.model)
    (recording,) = load_recordings([args.file], args)
    try:
        row = row_at(recording, args.at)
    except ValueError as err:
        raise FaultLensError(f"{args.file}: --at {args.at}: {err}") from None
    try:
        before = None if args.before is None else row_at(recording, args.before)
    except ValueError as err:
        raise FaultLensError(f"{args.file}: --before {args.before}: {err}") from None
    if before is not None and before > row:
        raise FaultLensError(
            f"--before {args.before} (row {before}) is after --at {args.at} (row {row}); give "
            "the first row of the stretch being explained, e.g. the event's start"
        )
    try:
        exp = explain(model, recording, row, device=args.device or "cpu", before=before)
    except ValueError as err:
        raise FaultLensError(f"{args.file}: --at {args.at}: {err}") from None
    if args.png is not None:
        from faultlens.core.report.inspector import inspector_png

        atomic_write_bytes(args.png, inspector_png(exp, recording, threshold=model.threshold))
    if args.json:
        print_json({"file": str(recording.path), "model": str(args.model), **exp.to_dict()})
    else:
        sys.stdout.write(explanation_text(exp, recording, model))
    if args.png is not None:
        print_message(f"figure written to {args.png}")
    return EXIT_OK


def _step_text(exp: Explanation, recording: Recording, t: int) -> str:
    if recording.time is None:
        return f"{int(exp.rows[t] - exp.row):+d} rows (row {exp.rows[t]})"
    return f"{exp.times[t] - exp.times[-1]:+.3g} s (row {exp.rows[t]})"


def explanation_text(exp: Explanation, recording: Recording, model: TrainedModel) -> str:
    """The explanation for a person: the decision, its channels, and its strongest steps."""
    import numpy as np

    first, last = int(exp.rows[0]), exp.row
    order = np.argsort(-exp.probabilities, kind="stable")
    lines = [
        f"{recording.path}, row {last} ({recording.format_time(last)}): the decision from the "
        f"window of {exp.window} rows {first}–{last} "
        f"({recording.format_time(first)} – {recording.format_time(last)})",
        f"decision: {exp.predicted} (fault probability {exp.fault_probability:.3f}, "
        f"threshold {model.threshold:.3f})",
        "class probabilities: "
        + ", ".join(f"{exp.class_names[i]} {exp.probabilities[i]:.3f}" for i in order),
    ]
    shares = [
        f"{exp.channels[i]} {exp.channel_attribution[i]:.0%}"
        for i in np.argsort(-exp.channel_attribution, kind="stable")
        if exp.channel_attribution[i] >= 0.005
    ]
    lines.append("channels that drove it (occlusion share): " + (", ".join(shares[:5]) or "none"))
    lines.append(f"  ({exp.reference_text(recording)})")
    flat = exp.contribution.ravel()
    lines.append(
        f"steps and channels that pushed the fault probability most ({exp.contribution_method}):"
    )
    for k in np.argsort(-flat, kind="stable")[:SUMMARY_STEPS]:
        c, t = divmod(int(k), exp.window)
        if flat[k] <= 0:
            break
        lines.append(f"  {_step_text(exp, recording, t)}: {exp.channels[c]} {flat[k]:+.3f}")
    lines.append("steps the model attended to most (share of the attention):")
    for t in np.argsort(-exp.attention_received, kind="stable")[:SUMMARY_STEPS]:
        lines.append(f"  {_step_text(exp, recording, int(t))}: {exp.attention_received[t]:.0%}")
    lines.append("max-pool hotspots (features peaking there, the channels they responded to):")
    for t in np.argsort(-exp.hotspot_counts, kind="stable")[:SUMMARY_STEPS]:
        if exp.hotspot_counts[t] <= 0:
            break
        row_shares = exp.hotspot_channels[t]
        top = [
            f"{exp.channels[i]} {row_shares[i]:.0%}"
            for i in np.argsort(-row_shares, kind="stable")[:2]
        ]
        lines.append(
            f"  {_step_text(exp, recording, int(t))}: {exp.hotspot_counts[t]:g} features, "
            + ", ".join(top)
        )
    return "\n".join(lines) + "\n"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``explain`` to the ``faultlens`` command."""
    p = subparsers.add_parser(
        "explain",
        help="explain the model's decision at one row (summary, JSON or figure)",
        description="The decision a model makes at one row, from the window of rows that "
        "ends there: its class probabilities, the attention per head, the max-pool hotspots "
        "and the channels behind them, and which channel at which step drove the fault "
        "probability.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="recording (CSV)")
    p.add_argument("--model", type=Path, required=True, help="model file (.flmodel)")
    p.add_argument(
        "--at",
        required=True,
        metavar="ROW|TIME",
        help="the row: a row number (1234), an offset from the start (+90s, +2min), a time "
        "of the time column (12.5s) or a date and time (2024-03-04T06:07:58)",
    )
    p.add_argument(
        "--before",
        metavar="ROW|TIME",
        help="compare with how the channels looked before this row, e.g. an event's start "
        "(default: the window's own first row); forms as for --at",
    )
    p.add_argument("--png", type=Path, metavar="OUT.png", help="write the inspector figure")
    p.add_argument("--device", choices=DEVICE_CHOICES, help="compute device (default cpu)")
    add_import_options(p)
    p.add_argument("--json", action="store_true", help="the whole explanation as JSON on stdout")
    p.set_defaults(handler=run_explain)
