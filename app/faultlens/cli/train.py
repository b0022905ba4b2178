"""``faultlens train``: train a model on labelled recordings and write one model file.

Progress goes to stderr; the result goes to stdout (text, or JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from faultlens.cli.common import (
    DEVICE_CHOICES,
    EXIT_CANCELLED,
    EXIT_OK,
    add_input_output_options,
    check_output,
    load_recordings,
    positive_int,
    print_json,
    print_message,
    run_with_progress,
)
from faultlens.core.errors import TrainingError
from faultlens.core.options import INPUT_CHOICES, TrainOptions

if TYPE_CHECKING:
    from faultlens.core.training import EpochReport


def parse_classes(values: Sequence[str] | None, files: Sequence[Path]) -> dict[Path, str]:
    """``--class NAME`` (every file) and ``--class FILE=NAME`` (one file) -> {file: class}."""
    if not values:
        return {}
    per_file: dict[Path, str] = {}
    for_all: list[str] = []
    by_text = {str(f): f for f in files}
    by_resolved = {f.resolve(): f for f in files}
    for value in values:
        left, sep, right = value.rpartition("=")
        target = None
        if sep:
            target = by_text.get(left) or by_resolved.get(Path(left).resolve())
            if target is None:
                raise TrainingError(
                    f"--class {value}: {left} is not one of the files to train on; "
                    "use --class FILE=CLASS with a FILE given on the command line"
                )
            if not right.strip():
                raise TrainingError(f"--class {value}: the class name after '=' is empty")
            per_file[target] = right.strip()
        elif value.strip():
            for_all.append(value.strip())
        else:
            raise TrainingError("--class: the class name is empty")
    if len(for_all) > 1:
        raise TrainingError(
            f"--class given {len(for_all)} times without FILE= ({', '.join(for_all)}); give one "
            "class for all files, or FILE=CLASS for each file"
        )
    if for_all:
        for f in files:
            per_file.setdefault(f, for_all[0])
    return per_file


def alarm_budget(text: str) -> float | str:
    """--alarm-budget: a share from a percentage 0..<100 (a trailing % is fine), or "off"
    (no calibration)."""
    value = text.strip().rstrip("%").strip()
    if value.lower() == "off":
        return "off"
    try:
        percent = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a percentage; give e.g. 1 for 1 % of normal windows, or off"
        ) from None
    if not 0.0 <= percent < 100.0:
        raise argparse.ArgumentTypeError(f"{text!r}: the budget must be from 0 to below 100 %")
    return percent / 100.0


def _train_options(
    args: argparse.Namespace, file_classes: tuple[tuple[str, str], ...]
) -> TrainOptions:
    """The product's defaults with what the command line overrides."""
    overrides = {
        k: v
        for k, v in {
            "window": args.window,
            "stride": args.stride,
            "epochs": args.epochs,
            "seed": args.seed,
            "device": args.device,
            "alarm_budget": args.alarm_budget,
            "ensemble": args.ensemble,
        }.items()
        if v is not None
    }
    inputs = "levels" if args.levels_only else args.inputs
    if inputs is not None:
        overrides["feature_scales"], overrides["relative_inputs"] = INPUT_CHOICES[inputs]
    if overrides.get("alarm_budget") == "off":
        overrides["alarm_budget"] = None
    return dataclasses.replace(
        TrainOptions(), label_column=args.label_column, file_classes=file_classes, **overrides
    )


def _epoch_text(report: EpochReport) -> str:
    text = f"epoch {report.epoch}/{report.epochs} loss {report.train_loss:.4f}"
    if report.val_macro_f1 is not None:
        text += f" val macro-F1 {report.val_macro_f1:.3f}"
    return f"{text} ({report.device})"


def run_train(args: argparse.Namespace) -> int:
    from faultlens.core.checkpoint import save_model
    from faultlens.core.evaluation import alarm_rule_text, format_metrics, validation_caveat
    from faultlens.core.progress import Cancelled
    from faultlens.core.training import train

    out: Path = args.out
    check_output(out, "model file")
    if out.suffix.lower() != ".flmodel":
        print_message(f"note: {out} does not end in .flmodel")
    recordings = load_recordings(args.files, args)
    classes = parse_classes(args.classes, args.files)
    # Train's file_classes are keyed by the recording's path as loaded.
    file_classes = tuple(
        (str(rec.path), classes[f])
        for f, rec in zip(args.files, recordings, strict=True)
        if f in classes
    )
    options = _train_options(args, file_classes)
    try:
        result = run_with_progress(
            train(recordings, options),
            "train",
            describe=_epoch_text,
            milestone=lambda report: report.end_of_epoch,
        )
    except Cancelled:
        print_message("training cancelled; no model written")
        return EXIT_CANCELLED
    model = result.model
    save_model(model, out)
    for note in result.notes:
        print_message(f"note: {note}")
    if args.json:
        print_json(
            {
                "model": str(out),
                "fingerprint": model.fingerprint,
                "class_names": list(model.class_names),
                "channels": list(model.channels),
                "window": model.window,
                "stride": model.stride,
                "device": model.device,
                "best_epoch": result.best_epoch,
                "stopped_early": result.stopped_early,
                "notes": list(result.notes),
                "threshold": model.threshold,
                "alarm_budget": model.alarm_budget,
                "validation_caveat": validation_caveat(model.metrics),
                "metrics": model.metrics,
                "history": [r.to_dict() for r in result.history],
            }
        )
    else:
        sys.stdout.write(
            f"model written to {out}\n"
            f"classes: {', '.join(model.class_names)}; channels: {', '.join(model.channels)}\n"
            f"window {model.window}, stride {model.stride}, best epoch {result.best_epoch} of "
            f"{len(result.history)} ({model.device})\n"
            f"alarm rule: {alarm_rule_text(model)}\n"
            f"{validation_caveat(model.metrics)}\n"
            f"validation ({model.metrics.get('split', 'held-out data')}, windows, at the "
            "alarm rule):\n"
        )
        sys.stdout.write(format_metrics(model.metrics))
    return EXIT_OK


def _default_inputs(defaults: TrainOptions) -> str:
    """The --inputs name of the default options ("custom" when none matches)."""
    return next(
        (
            name
            for name, value in INPUT_CHOICES.items()
            if value == (tuple(defaults.feature_scales), defaults.relative_inputs)
        ),
        "custom",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` to the ``faultlens`` command; its help states the engine's defaults."""
    defaults = TrainOptions()
    p = subparsers.add_parser(
        "train",
        help="train a fault classifier on labelled recordings and write a model file",
        description="Train the attention-LSTM on labelled recordings (a label column, or one "
        "class per file with --class) and write one model file. Prints the validation "
        "summary (confusion matrix, per-class precision/recall/F1, FAR/MAR).",
    )
    p.add_argument("files", type=Path, nargs="+", metavar="FILE", help="recordings (CSV)")
    p.add_argument(
        "--class",
        dest="classes",
        action="append",
        metavar="NAME|FILE=NAME",
        help="whole-file class: NAME for every file, or FILE=NAME for one file (repeatable); "
        "overrides the file's label column",
    )
    p.add_argument(
        "--window", type=positive_int, help=f"window length in rows (default {defaults.window})"
    )
    p.add_argument(
        "--stride", type=positive_int, help=f"rows between windows (default {defaults.stride})"
    )
    p.add_argument(
        "--epochs", type=positive_int, help=f"maximum epochs (default {defaults.epochs})"
    )
    p.add_argument("--seed", type=int, help=f"random seed (default {defaults.seed})")
    p.add_argument(
        "--inputs",
        choices=tuple(INPUT_CHOICES),
        help="what the network reads per channel: 'trailing' its level with its difference "
        "and trailing mean, spread, slope and range over 4 and 16 rows; 'auto' the same plus "
        "its deviation from the median of its recording's first rows when every training "
        "recording starts in normal operation; 'levels' the level only; 'relative' the level "
        "and its deviation from the recording's median (default: "
        f"{_default_inputs(defaults)}; see the README's "
        "'The model')",
    )
    p.add_argument("--levels-only", action="store_true", help="the same as --inputs levels")
    p.add_argument(
        "--alarm-budget",
        type=alarm_budget,
        metavar="PERCENT|off",
        help="false-alarm budget: the alarm threshold is set so that at most this percentage "
        "of held-out normal windows (from recordings it did not train on, where there are "
        f"such) alarm (default {100 * (defaults.alarm_budget or 0):g}; 'off': threshold 0.5)",
    )
    p.add_argument(
        "--ensemble",
        type=positive_int,
        metavar="K",
        help=f"train K members into one model file, averaged (default {defaults.ensemble}; "
        "K times the training and scan time)",
    )
    p.add_argument("--device", choices=DEVICE_CHOICES, help="compute device (default auto)")
    p.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model file to write")
    add_input_output_options(p)
    p.set_defaults(handler=run_train)
