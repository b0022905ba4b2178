"""``faultlens train``, ``faultlens scan`` and ``faultlens evaluate``: the engine, headless.

Progress goes to stderr (a text bar on a terminal, an occasional line otherwise); results go
to stdout (text, or JSON with ``--json``). Exit codes are cli.py's: 0 ok, 2 bad input,
3 cancelled, 1 internal error.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from faultlens.core.errors import FaultLensError, ReportError, TrainingError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


# ---------------------------------------------------------------- progress on stderr
class ProgressBar:
    """A text progress bar on a terminal; on a pipe or log file, a line every few seconds.

    ``update`` is cheap to call often: drawing is throttled.
    """

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        # Terminal: redraw up to 10x per second. Log: one line per 10 s is plenty.
        self.interval = 0.1 if self.tty else 10.0
        self._last = -1e9
        self._drawn = False

    def update(self, fraction: float, text: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        fraction = min(max(fraction, 0.0), 1.0)
        if self.tty:
            filled = round(30 * fraction)
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {100 * fraction:5.1f} % {text}\x1b[K")
        else:
            self.stream.write(f"{self.label}: {100 * fraction:5.1f} % {text}\n")
        self.stream.flush()
        self._drawn = True

    def finish(self, text: str = "") -> None:
        self.update(1.0, text, force=True)
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------- shared helpers
def _load_recordings(files: Sequence[Path], args: argparse.Namespace) -> list[Any]:
    from faultlens.cli import import_options_from_args
    from faultlens.core.io import load_recording

    options = import_options_from_args(args)
    return [load_recording(f, options) for f in files]


def _check_output(path: Path, what: str, suffixes: tuple[str, ...] | None = None) -> None:
    """Fail before minutes of work when an output cannot be written where asked."""
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ReportError(
            f"{path}: {what} must end in {' or '.join(suffixes)}; rename the output file"
        )
    if not path.parent.is_dir():
        raise ReportError(f"{path}: folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise ReportError(f"{path}: is a folder; give a file name for the {what}")


def _parse_classes(values: Sequence[str] | None, files: Sequence[Path]) -> dict[Path, str]:
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


def _alarm_budget(text: str) -> float | str:
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


def _emit_json(obj: object) -> None:
    from faultlens.cli import _print_json

    _print_json(obj)


def _add_common(p: argparse.ArgumentParser) -> None:
    from faultlens.cli import _add_import_options

    _add_import_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")


# ---------------------------------------------------------------- train
def _cmd_train(args: argparse.Namespace) -> int:
    from faultlens.core.checkpoint import save_model
    from faultlens.core.evaluation import alarm_rule_text, format_metrics, validation_caveat
    from faultlens.core.options import INPUT_CHOICES, TrainOptions
    from faultlens.core.progress import Cancelled
    from faultlens.core.training import train

    out: Path = args.out
    _check_output(out, "model file")
    if out.suffix.lower() != ".flmodel":
        print(f"faultlens: note: {out} does not end in .flmodel", file=sys.stderr)
    recordings = _load_recordings(args.files, args)
    classes = _parse_classes(args.classes, args.files)
    # Train's file_classes are keyed by the recording's path as loaded.
    file_classes = tuple(
        (str(rec.path), classes[f])
        for f, rec in zip(args.files, recordings, strict=True)
        if f in classes
    )
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
    options = dataclasses.replace(
        TrainOptions(), label_column=args.label_column, file_classes=file_classes, **overrides
    )
    bar = ProgressBar("train")
    gen = train(recordings, options)
    try:
        while True:
            try:
                report = next(gen)
            except StopIteration as stop:
                result = stop.value
                break
            text = f"epoch {report.epoch}/{report.epochs} loss {report.train_loss:.4f}"
            if report.val_macro_f1 is not None:
                text += f" val macro-F1 {report.val_macro_f1:.3f}"
            bar.update(report.fraction, f"{text} ({report.device})", force=report.end_of_epoch)
    except Cancelled:
        print("faultlens: training cancelled; no model written", file=sys.stderr)
        return 3
    bar.finish("done")
    model = result.model
    save_model(model, out)
    for note in result.notes:
        print(f"faultlens: note: {note}", file=sys.stderr)
    if args.json:
        _emit_json(
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
    return 0


# ---------------------------------------------------------------- scan
def _scan_options(args: argparse.Namespace) -> Any:
    from faultlens.core.detection import ScanOptions

    values = {
        "threshold": args.threshold,
        "device": args.device,
        "min_duration_rows": args.min_duration,
        "merge_gap_rows": args.merge_gap,
    }
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise FaultLensError(f"--threshold {args.threshold}: must be between 0 and 1")
    return ScanOptions(**{k: v for k, v in values.items() if v is not None})


def _load_model(path: Path) -> Any:
    from faultlens.core.checkpoint import load_model

    return load_model(path)


def _run_with_bar(gen: Any, label: str) -> Any:
    bar = ProgressBar(label)
    while True:
        try:
            report = next(gen)
        except StopIteration as stop:
            bar.finish("done")
            return stop.value
        bar.update(report.fraction, report.message)


def _cmd_scan(args: argparse.Namespace) -> int:
    from faultlens.core.detection import scan, write_events, write_predictions_csv
    from faultlens.core.progress import Cancelled

    if args.predictions is not None:
        _check_output(args.predictions, "predictions file", (".csv",))
    if args.events is not None:
        _check_output(args.events, "events file", (".csv", ".json"))
    options = _scan_options(args)
    model = _load_model(args.model)
    (recording,) = _load_recordings([args.file], args)
    try:
        result = _run_with_bar(scan(model, recording, options), "scan")
    except Cancelled:
        print("faultlens: scan cancelled; nothing written", file=sys.stderr)
        return 3
    options = result.options  # the threshold actually used (the model's unless given)
    if args.predictions is not None:
        write_predictions_csv(result, recording, args.predictions)
    if args.events is not None:
        write_events(
            result.events,
            args.events,
            meta={
                "recording": str(recording.path),
                "recording_sha256": recording.content_hash,
                "model": str(args.model),
                "model_fingerprint": result.model_fingerprint,
                "threshold": options.threshold,
            },
        )
    if args.json:
        _emit_json(
            {
                "file": str(recording.path),
                "model": str(args.model),
                "model_fingerprint": result.model_fingerprint,
                "rows": recording.n_rows,
                "windows": result.windows,
                "window": result.window,
                "stride": result.stride,
                "device": result.device,
                "threshold": options.threshold,
                "predictions": None if args.predictions is None else str(args.predictions),
                "events_file": None if args.events is None else str(args.events),
                "events": [e.to_dict() for e in result.events],
            }
        )
        return 0
    first = result.window - 1
    lines = [
        f"{recording.path}: {recording.n_rows} rows, {result.windows} windows "
        f"(window {result.window}, scan stride {result.stride}) on {result.device}; "
        f"rows before {first} have no prediction",
        f"{len(result.events)} fault event(s) at threshold {options.threshold:g}",
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
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


# ---------------------------------------------------------------- evaluate
def _cmd_evaluate(args: argparse.Namespace) -> int:
    from faultlens.core.evaluation import evaluate_iter
    from faultlens.core.progress import Cancelled

    options = _scan_options(args)
    model = _load_model(args.model)
    recordings = _load_recordings(args.files, args)
    try:
        report = _run_with_bar(evaluate_iter(model, recordings, options), "evaluate")
    except Cancelled:
        print("faultlens: evaluation cancelled", file=sys.stderr)
        return 3
    if args.json:
        _emit_json({"model": str(args.model), **report.to_dict()})
    else:
        sys.stdout.write(
            f"model {args.model} on {len(recordings)} file(s), threshold {report.threshold:g}; "
            "scored rows: labelled rows from the first full window on\n"
        )
        sys.stdout.write(report.to_text())
    return 0


# ---------------------------------------------------------------- registration
def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``minimum``, with a plain message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be {minimum} or more")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _add_scan_options(p: argparse.ArgumentParser) -> None:
    from faultlens.core.detection import ScanOptions

    defaults = ScanOptions()
    g = p.add_argument_group("scan options")
    g.add_argument("--model", type=Path, required=True, help="model file (.flmodel)")
    g.add_argument(
        "--threshold",
        type=float,
        help="fault probability at which a row is flagged (default: the model's own, "
        "calibrated to its false-alarm budget when it was trained)",
    )
    g.add_argument(
        "--min-duration",
        type=_positive_int,
        help=f"shortest event in rows (default {defaults.min_duration_rows})",
    )
    g.add_argument(
        "--merge-gap",
        type=_non_negative_int,
        help=f"merge events closer than this many rows (default {defaults.merge_gap_rows})",
    )
    g.add_argument("--device", choices=DEVICE_CHOICES, help="compute device (default auto)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train``, ``scan`` and ``evaluate`` to the ``faultlens`` command."""
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
    # The help states the engine's real defaults (this imports torch: ~1 s, once).
    from faultlens.core.options import INPUT_CHOICES, TrainOptions

    defaults = TrainOptions()
    default_inputs = next(
        (
            name
            for name, value in INPUT_CHOICES.items()
            if value == (tuple(defaults.feature_scales), defaults.relative_inputs)
        ),
        "custom",
    )
    p.add_argument(
        "--window", type=_positive_int, help=f"window length in rows (default {defaults.window})"
    )
    p.add_argument(
        "--stride", type=_positive_int, help=f"rows between windows (default {defaults.stride})"
    )
    p.add_argument(
        "--epochs", type=_positive_int, help=f"maximum epochs (default {defaults.epochs})"
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
        f"{default_inputs}; see the README's "
        "'The model')",
    )
    p.add_argument("--levels-only", action="store_true", help="the same as --inputs levels")
    p.add_argument(
        "--alarm-budget",
        type=_alarm_budget,
        metavar="PERCENT|off",
        help="false-alarm budget: the alarm threshold is set so that at most this percentage "
        "of held-out normal windows (from recordings it did not train on, where there are "
        f"such) alarm (default {100 * (defaults.alarm_budget or 0):g}; 'off': threshold 0.5)",
    )
    p.add_argument(
        "--ensemble",
        type=_positive_int,
        metavar="K",
        help=f"train K members into one model file, averaged (default {defaults.ensemble}; "
        "K times the training and scan time)",
    )
    p.add_argument("--device", choices=DEVICE_CHOICES, help="compute device (default auto)")
    p.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model file to write")
    _add_common(p)
    p.set_defaults(handler=_cmd_train)

    p = subparsers.add_parser(
        "scan",
        help="scan a recording with a model: per-row predictions and fault events",
        description="Run a model over a recording. Outputs are causal: a row's prediction "
        "comes from the window ending on it, so rows before the first full window have none.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="recording (CSV)")
    _add_scan_options(p)
    p.add_argument(
        "--predictions",
        type=Path,
        metavar="OUT.csv",
        help="write per-row predictions: row, time, predicted_class, fault_probability, "
        "p_<class>..., attention, hotspots",
    )
    p.add_argument("--events", type=Path, metavar="OUT.csv|OUT.json", help="write the fault events")
    _add_common(p)
    p.set_defaults(handler=_cmd_scan)

    p = subparsers.add_parser(
        "evaluate",
        help="score a model against labelled recordings (per-row metrics, FAR/MAR, delays)",
        description="Scan labelled recordings and compare per-row predictions with the labels "
        "on the rows that have both (from the first full window on).",
    )
    p.add_argument("files", type=Path, nargs="+", metavar="FILE", help="labelled recordings")
    _add_scan_options(p)
    _add_common(p)
    p.set_defaults(handler=_cmd_evaluate)
