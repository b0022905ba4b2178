"""``faultlens monitor``: watch a live source (a logger's growing CSV, an MQTT topic), scan it
with a model as rows arrive, record everything to a CSV, and print fault events as they open
and close.

One loop drives the ``LiveMonitor`` (source -> buffer -> live scan -> recorder -> events):
poll, print what opened or closed, refresh the status line, sleep a little when nothing is
waiting. ``--stop-after`` or Ctrl+C (SIGINT, also SIGTERM) end it normally: the monitor is
stopped (everything received scored, the recording flushed and closed, open events closed)
and the command exits 0. Events go to stdout or ``--events`` as JSON lines, each flushed at
once, so another program can follow them; people read stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from faultlens.cli.common import (
    DEVICE_CHOICES,
    EXIT_INTERNAL,
    EXIT_OK,
    StopOnSignal,
    check_output,
    import_options_from_args,
    load_model,
    non_negative_int,
    positive_int,
    print_message,
    scan_options_from_args,
)
from faultlens.core.errors import FaultLensError

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.events import FaultEvent
    from faultlens.core.live.monitor import LiveMonitor, LiveResult, LiveUpdate
    from faultlens.core.live.source import Source

# Seconds from one poll's start to the next when the scan keeps up (a poll that left rows
# behind is followed at once): short beside the sampling of a typical logger, and long
# enough that a fast source's rows are scored in batches (a forward pass of one window
# costs about as much as one of fifty: at 1 kHz, polling back to back kept a 2-core CPU
# busy where this cadence leaves most of it free).
POLL_INTERVAL_S = 0.05
STATUS_INTERVAL_S = 1.0
EVENT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".txt")
# The source could not be opened at all (no such file, no broker there): exit 1, as the
# issue asks, told apart from bad arguments (2).
EXIT_SOURCE_FAILED = EXIT_INTERNAL


def run_monitor(args: argparse.Namespace) -> int:
    from faultlens.core.live.monitor import LiveMonitor, LiveOptions
    from faultlens.core.live.source import SourceError

    options = scan_options_from_args(args)
    if args.stop_after is not None and not args.stop_after > 0:
        raise FaultLensError(f"--stop-after {args.stop_after:g}: must be a positive number")
    model = _load_model(args.model)
    record = args.record if args.record is not None else default_record_path(args.source)
    check_output(record, "recording", (".csv",))
    _check_not_the_source(record, args.source)
    if args.events is not None:
        check_output(args.events, "events file", EVENT_SUFFIXES)
        _check_not_the_source(args.events, args.source)
    source = _open_source(args, model)
    monitor = LiveMonitor(source, model, record_to=record, options=LiveOptions(scan=options))
    try:
        monitor.start()
    except SourceError as err:
        source.close()
        print_message(f"error: {err}")
        return EXIT_SOURCE_FAILED
    except BaseException:  # the model does not fit the source's channels (exit 2), or a bug
        source.close()
        raise
    scanning = "recording only (give --model to scan)"
    if model is not None:
        scanning = f"scanning with {args.model.name}"
    until = f"stopping after {args.stop_after:g} s" if args.stop_after else "Ctrl+C stops"
    print_message(f"monitoring {source.description}; {scanning}; recording to {record}; {until}")
    started = time.monotonic()
    out: IO[str] = (
        open(args.events, "w", encoding="utf-8") if args.events else sys.stdout  # noqa: SIM115
    )
    try:
        lines = EventLines(out, str(record))
        status = StatusLine(sys.stderr)
        with StopOnSignal() as stop:
            try:
                _follow(monitor, args.stop_after, lines, status, stop)
            except BaseException:
                # Nothing to finish when the model does not fit the channels the first rows
                # brought (no file was started then), nor after a bug: release the source.
                source.close()
                raise
            finally:
                status.clear()
            # Still under the handler: a Ctrl+C while the last rows are scored and the file
            # is closed is ignored (a second one interrupts).
            result = monitor.stop()
            lines.final(result.events)
    finally:
        if out is not sys.stdout:
            out.close()
    _summary(monitor, result, time.monotonic() - started, args)
    return EXIT_OK


def _follow(
    monitor: LiveMonitor,
    stop_after: float | None,
    lines: EventLines,
    status: StatusLine,
    stop: StopOnSignal,
) -> None:
    """Poll until ``stop_after`` seconds have passed or a signal asks to stop."""
    deadline = None if stop_after is None else time.monotonic() + stop_after
    while not stop.requested() and (deadline is None or time.monotonic() < deadline):
        began = time.monotonic()
        update = monitor.poll()
        lines.update(update)
        status.show(monitor, update)
        if update.behind_rows == 0:  # else catching up: poll again at once
            time.sleep(max(0.0, began + POLL_INTERVAL_S - time.monotonic()))


class EventLines:
    """One JSON object per event as it opens and as it closes, flushed per line:
    ``{"event": "opened"|"closed", "recording": ..., **FaultEvent.to_dict()}``."""

    def __init__(self, out: IO[str], recording: str) -> None:
        self.out = out
        self.recording = recording
        self.opened: list[FaultEvent] = []
        self.closed: list[FaultEvent] = []

    def write(self, kind: str, event: FaultEvent) -> None:
        line = {"event": kind, "recording": self.recording, **event.to_dict()}
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()
        (self.opened if kind == "opened" else self.closed).append(event)

    def update(self, update: LiveUpdate) -> None:
        for event in update.opened:
            self.write("opened", event)
        for event in update.closed:
            self.write("closed", event)

    def final(self, events: list[FaultEvent]) -> None:
        """The events of the stopped session (the offline scan's): those still running close
        now. One that already closed live over the same rows as the same class is not
        repeated, even where a figure of it differs in the last digits (a duration from the
        sampling interval measured so far): a reader takes a closed line as the last word.
        One that opened only while the stop scored the backlog gets its "opened" line first,
        so every "closed" line follows an "opened" line for the same start row."""
        done = {(e.start_row, e.end_row, e.class_name) for e in self.closed}
        announced = {e.start_row for e in self.opened}
        for event in events:
            if (event.start_row, event.end_row, event.class_name) in done:
                continue
            if event.start_row not in announced:
                self.write("opened", event)
            self.write("closed", event)


class StatusLine:
    """One line on stderr, rewritten at most once a second, only on a terminal (a log gets
    the start and the summary, not a line a second)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last = -1e9
        self._rows_at_last = 0
        self._shown = False

    def show(self, monitor: LiveMonitor, update: LiveUpdate) -> None:
        now = time.monotonic()
        if not self.tty or now - self._last < STATUS_INTERVAL_S:
            return
        elapsed = now - self._last if self._shown else 0.0
        rows = monitor.n_rows
        rate = (rows - self._rows_at_last) / elapsed if elapsed > 0 else 0.0
        self._last, self._rows_at_last, self._shown = now, rows, True
        health = update.health
        text = (
            f"{rows} rows, {rate:.0f} rows/s, behind {update.behind_rows}, "
            f"{len(monitor.open_events())} open, {len(monitor.events())} closed event(s), "
            f"problems {health.problems}, {health.connection}"
        )
        if health.last_error:
            text += f"; last error: {health.last_error}"
        width = _terminal_width(self.stream)
        self.stream.write("\r\x1b[K" + text[: width - 1])
        self.stream.flush()

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def _terminal_width(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return 80


def default_record_path(source: str, now: datetime | None = None) -> Path:
    """``<source name>-live-YYYYmmdd-HHMMSS.csv`` in the current folder: a new file per
    session, named after what was monitored, never the source itself."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = source.split("://", 1)[1].split("@")[-1] if "://" in source else Path(source).stem
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "live"
    return Path(f"{base}-live-{stamp}.csv")


def _check_not_the_source(path: Path, source: str) -> None:
    if "://" not in source and Path(source).resolve() == path.resolve():
        raise FaultLensError(f"{path}: is the source being monitored; write to another file")


def _load_model(path: Path | None) -> TrainedModel | None:
    if path is None:
        return None
    if not path.is_file():
        raise FaultLensError(f"{path}: no such model file (--model)")
    return load_model(path)


def _open_source(args: argparse.Namespace, model: TrainedModel | None) -> Source:
    """The source SOURCE names, with the options that apply to its kind; a SOURCE or an
    option that names no source is a bad argument (exit 2), unlike a source that fails to
    start."""
    from faultlens.core.live.open_source import open_source
    from faultlens.core.live.source import SourceError

    is_mqtt = "://" in args.source
    channels = tuple(c.strip() for c in args.channels.split(",")) if args.channels else None
    if channels is not None and model is not None:
        missing = [c for c in model.channels if c not in channels]
        if missing:
            raise FaultLensError(
                f"--channels lacks {', '.join(missing)}, which the model needs; add them or "
                "leave --channels out (the model's channels are recorded then)"
            )
    options: dict[str, object]
    if is_mqtt:
        if channels is None and model is not None:
            channels = tuple(model.channels)  # other keys of a payload are not recorded
        password = None
        if args.password_env is not None:
            if args.username is None and "@" not in args.source:
                raise FaultLensError("--password-env: give --username (or USER@ in SOURCE)")
            password = os.environ.get(args.password_env)
            if password is None:
                raise FaultLensError(
                    f"--password-env {args.password_env}: no such environment variable"
                )
        options = {"channels": channels, "time_source": args.time_from, "tls": args.tls}
        if args.username is not None:
            options["username"] = args.username
        if password is not None:
            options["password"] = password
        if args.ca_file is not None:
            if not args.ca_file.is_file():
                raise FaultLensError(f"{args.ca_file}: no such CA certificate file (--ca-file)")
            options.update(ca_file=str(args.ca_file), tls=True)
    else:
        for flag, value in (
            ("--username", args.username),
            ("--password-env", args.password_env),
            ("--ca-file", args.ca_file),
            ("--tls", args.tls or None),
        ):
            if value is not None:
                raise FaultLensError(f"{flag} applies to an mqtt:// source, not a CSV file")
        options = {
            "from_start": True if args.from_start is None else args.from_start,
            "options": import_options_from_args(args),
        }
    try:
        return open_source(args.source, **options)
    except SourceError as err:
        raise FaultLensError(str(err)) from None


def _summary(
    monitor: LiveMonitor, result: LiveResult, elapsed: float, args: argparse.Namespace
) -> None:
    """The closing lines on stderr: what was recorded where, the events, what was wrong."""
    health = monitor.health()
    rows = result.recording.n_rows
    if result.record_path is None or rows == 0:
        print_message(f"stopped after {elapsed:.1f} s: no rows arrived; nothing was recorded")
    else:
        print_message(
            f"stopped after {elapsed:.1f} s: {rows} rows recorded to {result.record_path} "
            "(open it like any recording: faultlens scan/report, the GUI)"
        )
    if result.scan is not None:
        where = f" written to {args.events}" if args.events else ""
        print_message(f"{len(result.events)} fault event(s){where}")
    if health.problems:
        counts = {
            "malformed": health.malformed,
            "not a number": health.bad_values,
            "unknown channel": health.unknown_channels,
            "missing value": health.missing_values,
            "time going backwards": health.time_backwards,
        }
        parts = ", ".join(f"{what} {n}" for what, n in counts.items() if n)
        print_message(f"{health.problems} problem(s) in the input ({parts})")
    if health.last_error:
        print_message(f"last error: {health.last_error}")
    for note in health.notes:
        print_message(f"note: {note}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``monitor`` to the ``faultlens`` command."""
    p = subparsers.add_parser(
        "monitor",
        help="monitor a live source (a growing CSV, an MQTT topic): record it, scan it, "
        "print fault events as they happen",
        description="Follow SOURCE - a CSV file a data logger appends to, or an MQTT topic "
        "(mqtt://[USER@]HOST[:PORT]/TOPIC, wildcards allowed) - record every row it delivers "
        "to a CSV (time, channels, the model's predicted class), scan each row with --model "
        "as it arrives, and print one JSON line per fault event as it opens and as it "
        'closes ({"event": "opened"|"closed", "recording": ..., "start_row": ..., ...}). '
        "Ends after --stop-after seconds or on Ctrl+C, with everything flushed (exit 0). "
        "Exit 2: bad arguments (no such model, bad address, channels the model needs are "
        "missing); exit 1: the source cannot be opened.",
    )
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="CSV file path, or mqtt://[USER@]HOST[:PORT]/TOPIC (mqtts:// for TLS; several "
        "topics separated by commas)",
    )
    p.add_argument(
        "--model",
        type=Path,
        help="model file (.flmodel); without it the source is only recorded, not scanned",
    )
    p.add_argument(
        "--record",
        type=Path,
        metavar="OUT.csv",
        help="where to record the rows (replaced if it exists; default: a new file named "
        "after the source and the start time, e.g. logger-live-20260301-140500.csv, in the "
        "current folder)",
    )
    p.add_argument(
        "--events",
        type=Path,
        metavar="OUT.jsonl",
        help="write the event lines to this file (flushed per line) instead of stdout",
    )
    p.add_argument(
        "--stop-after",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl+C)",
    )
    defaults = _scan_defaults()
    g = p.add_argument_group("scan options (with --model)")
    g.add_argument(
        "--threshold",
        type=float,
        help="fault probability at which a row is flagged (default: the model's own)",
    )
    g.add_argument(
        "--min-duration",
        type=positive_int,
        help=f"shortest event in rows (default {defaults[0]})",
    )
    g.add_argument(
        "--merge-gap",
        type=non_negative_int,
        help=f"merge events closer than this many rows (default {defaults[1]}); an event "
        "closes once this many rows have passed without a flagged one",
    )
    g.add_argument("--device", choices=DEVICE_CHOICES, help="compute device (default auto)")
    s = p.add_argument_group("source options")
    where = s.add_mutually_exclusive_group()
    where.add_argument(
        "--from-start",
        dest="from_start",
        action="store_true",
        default=None,
        help="CSV: take the rows already in the file first (default)",
    )
    where.add_argument(
        "--from-end",
        dest="from_start",
        action="store_false",
        help="CSV: only rows appended from now on",
    )
    s.add_argument(
        "--time-from",
        choices=("payload", "arrival"),
        default="payload",
        help="MQTT: a sample's time from the message's \"time\" (ISO-8601 or epoch seconds; "
        "arrival when it has none) or always the arrival time (default payload)",
    )
    s.add_argument(
        "--channels",
        help="comma-separated channels to record (default: a CSV's numeric columns; MQTT: "
        "the model's, without a model the first message's numeric keys)",
    )
    s.add_argument("--username", help="MQTT user name")
    s.add_argument(
        "--password-env",
        metavar="VAR",
        help="MQTT: read the password from this environment variable (never on the command "
        "line, where other users can see it)",
    )
    s.add_argument("--tls", action="store_true", help="MQTT: connect with TLS")
    s.add_argument(
        "--ca-file",
        type=Path,
        metavar="FILE",
        help="MQTT: the broker's CA certificate (implies --tls)",
    )
    imp = p.add_argument_group("CSV import options (detected when not given)")
    imp.add_argument("--separator", help="column separator: ',' ';' 'tab' or 'space'")
    imp.add_argument("--decimal", choices=[".", ","], help="decimal mark")
    imp.add_argument("--time-column", help="name of the time column")
    p.set_defaults(
        handler=run_monitor,
        encoding=None,
        no_header=False,
        no_time_column=False,
        label_column=None,
        no_label_column=False,
    )


def _scan_defaults() -> tuple[int, int]:
    from faultlens.core.options import ScanOptions

    d = ScanOptions()
    return d.min_duration_rows, d.merge_gap_rows
