"""What every ``faultlens`` command shares: exit codes, messages, argument types and groups,
loading inputs, checking outputs, and progress on stderr.

The command modules (inspect, train, scan, evaluate, report, gui) import this module and the
core, never each other. Nothing here imports torch, pandas or Qt at module level: the parsers
are built from it for ``faultlens --help``, which must stay fast; the engine is imported
inside the functions that use it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO, TypeVar

from faultlens.core.errors import FaultLensError, ReportError
from faultlens.core.options import ScanOptions

if TYPE_CHECKING:
    from tqdm import tqdm

    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.recording import ImportOptions, Recording

# Exit codes: 0 ok, 1 internal error (a bug), 2 bad input (message on stderr, no traceback),
# 3 cancelled/interrupted. argparse's own usage errors exit 2 as well.
EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 3

DEVICE_CHOICES = ("auto", "cpu", "cuda")


# ---------------------------------------------------------------- output
def print_json(obj: object) -> None:
    """A command's machine-readable result on stdout."""
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()  # a closed pipe raises here, inside main's handling


def print_message(text: str) -> None:
    """A line for the person at the terminal (notes, warnings, errors) on stderr, prefixed
    with the program's name so it stands out in a log."""
    print(f"faultlens: {text}", file=sys.stderr)


# ---------------------------------------------------------------- argument types
def int_at_least(minimum: int) -> Callable[[str], int]:
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


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


# ---------------------------------------------------------------- argument groups
def add_import_options(p: argparse.ArgumentParser) -> None:
    """How to read the CSV files; each is detected when not given."""
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


def add_input_output_options(p: argparse.ArgumentParser) -> None:
    """The import options and ``--json``: the tail of every engine command's arguments."""
    add_import_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def add_scan_options(p: argparse.ArgumentParser) -> None:
    """The model and the decision options of ``scan``, ``evaluate`` and ``report``."""
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
        type=positive_int,
        help=f"shortest event in rows (default {defaults.min_duration_rows})",
    )
    g.add_argument(
        "--merge-gap",
        type=non_negative_int,
        help=f"merge events closer than this many rows (default {defaults.merge_gap_rows})",
    )
    g.add_argument("--device", choices=DEVICE_CHOICES, help="compute device (default auto)")


# ---------------------------------------------------------------- from arguments to inputs
def import_options_from_args(args: argparse.Namespace) -> ImportOptions:
    """The ``ImportOptions`` the import group of ``args`` asks for."""
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


def scan_options_from_args(args: argparse.Namespace) -> ScanOptions:
    """The ``ScanOptions`` of the scan group; the core's defaults where none is given."""
    values = {
        "threshold": args.threshold,
        "device": args.device,
        "min_duration_rows": args.min_duration,
        "merge_gap_rows": args.merge_gap,
    }
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise FaultLensError(f"--threshold {args.threshold}: must be between 0 and 1")
    return ScanOptions(**{k: v for k, v in values.items() if v is not None})


def load_recordings(files: Sequence[Path], args: argparse.Namespace) -> list[Recording]:
    """Every file read with the import options of ``args``."""
    from faultlens.core.io import load_recording

    options = import_options_from_args(args)
    return [load_recording(f, options) for f in files]


def load_model(path: Path) -> TrainedModel:
    from faultlens.core.checkpoint import load_model as load

    return load(path)


def check_output(path: Path, what: str, suffixes: tuple[str, ...] | None = None) -> None:
    """Fail before minutes of work when an output cannot be written where asked."""
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ReportError(
            f"{path}: {what} must end in {' or '.join(suffixes)}; rename the output file"
        )
    if not path.parent.is_dir():
        raise ReportError(f"{path}: folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise ReportError(f"{path}: is a folder; give a file name for the {what}")


# ---------------------------------------------------------------- progress on stderr
class _Report(Protocol):
    """What the core's long jobs yield (``Progress``, ``EpochReport``)."""

    @property
    def fraction(self) -> float: ...


ReportT = TypeVar("ReportT", bound=_Report)
ResultT = TypeVar("ResultT")


class ProgressDisplay:
    """Progress of one job on stderr: a tqdm bar on a terminal; in a log or a pipe (CI, a
    file, ``2>&1 | tee``), a plain line at the start, every 10 s, at milestones and at the
    end, so a log holds a few readable lines instead of a thousand carriage returns.

    ``update`` is cheap to call often: both kinds throttle their drawing.
    """

    LOG_INTERVAL_S = 10.0

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_line = -1e9
        self._bar = self._make_bar() if self.tty else None

    def _make_bar(self) -> tqdm:
        from tqdm import tqdm

        class Bar(tqdm):
            # No monitor thread: the CLI updates often enough, and a thread left running
            # outlives the command in tests and embeddings.
            monitor_interval = 0

        # Follow the terminal's width as it is resized; a terminal that reports no width
        # (a pseudo-terminal of size 0, as in some containers) would get an empty bar.
        width = self._terminal_width()
        return Bar(
            total=1.0,
            desc=self.label,
            file=self.stream,
            mininterval=0.1,
            dynamic_ncols=width is not None,
            ncols=None if width is not None else 80,
            nrows=None if width is not None else 20,  # tqdm would take -1 and draw nothing
            leave=True,
            bar_format="{desc}: {percentage:5.1f} % |{bar}| {elapsed}<{remaining}{postfix}",
        )

    def _terminal_width(self) -> int | None:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or None
        except (AttributeError, OSError, ValueError):  # not a real terminal
            return None

    def update(self, fraction: float, text: str = "", force: bool = False) -> None:
        """Show ``fraction`` (0..1) done and ``text``; ``force`` draws now (a milestone)."""
        fraction = min(max(fraction, 0.0), 1.0)
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            if force:
                self._bar.n = fraction
                self._bar.refresh()
            else:
                self._bar.update(fraction - self._bar.n)  # tqdm throttles the redraw
            return
        now = time.monotonic()
        if not force and now - self._last_line < self.LOG_INTERVAL_S:
            return
        self._last_line = now
        self.stream.write(f"{self.label}: {100 * fraction:5.1f} % {text}\n")
        self.stream.flush()

    def finish(self, text: str = "") -> None:
        """The job is done: draw 100 % with ``text`` and end the bar's line."""
        self.update(1.0, text, force=True)
        self.close()

    def close(self) -> None:
        """End the bar's line where it stands (also after an error or a cancel), so what is
        printed next starts on a line of its own."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def run_with_progress(
    gen: Generator[ReportT, None, ResultT],
    label: str,
    describe: Callable[[ReportT], str] | None = None,
    milestone: Callable[[ReportT], bool] | None = None,
) -> ResultT:
    """Drain a core progress generator with a ``ProgressDisplay``; return its result.

    ``describe`` turns a report into the text beside the bar (default: its ``message``);
    reports for which ``milestone`` is true are drawn at once (an epoch's end).
    """
    display = ProgressDisplay(label)
    try:
        while True:
            try:
                report = next(gen)
            except StopIteration as stop:
                display.finish("done")
                return stop.value
            text = describe(report) if describe else str(getattr(report, "message", ""))
            display.update(report.fraction, text, force=bool(milestone and milestone(report)))
    finally:
        display.close()


class StopOnSignal:
    """Ctrl+C (SIGINT) and SIGTERM ask a long-running command (monitor, replay) to stop at its
    next step, so what it writes is flushed and closed rather than cut; a second Ctrl+C
    interrupts at once."""

    def __init__(self) -> None:
        self._stop = False
        self._previous: dict[int, object] = {}

    def requested(self) -> bool:
        return self._stop

    def _handle(self, signum: int, frame: object) -> None:
        if self._stop and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self._stop = True

    def __enter__(self) -> StopOnSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
