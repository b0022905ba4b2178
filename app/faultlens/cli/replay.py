"""``faultlens replay``: send a recording's rows, at its own pace, into an MQTT topic or a
growing CSV, so live monitoring can be tried (and demonstrated) without a machine.

Ctrl+C ends a replay normally (what was sent stays sent; MQTT messages already published
are delivered first) and exits 0: with ``--loop`` it is the way to end one.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from faultlens.cli.common import (
    EXIT_OK,
    ProgressDisplay,
    StopOnSignal,
    add_import_options,
    load_recordings,
    print_message,
)
from faultlens.core.errors import FaultLensError


def run_replay(args: argparse.Namespace) -> int:
    from faultlens.core.live.replay import open_target, replay

    password = _password(args)
    target = open_target(
        args.to, username=args.username, password=password, tls=args.tls, ca_file=args.ca_file
    )
    (recording,) = load_recordings([args.file], args)
    stop = StopOnSignal()
    pace = (
        f"{args.rate:g} rows/s" if args.rate is not None else f"recorded pace x {args.speed or 1:g}"
    )
    print_message(
        f"replaying {recording.path.name} ({recording.n_rows} rows, {len(recording.channels)} "
        f"channels) to {target.description} at {pace}" + (", looping" if args.loop else "")
        + "; Ctrl+C stops"
    )  # fmt: skip
    display = ProgressDisplay("replay")
    with stop:
        gen = replay(
            recording,
            target,
            speed=args.speed or 1.0,
            rate=args.rate,
            loop=args.loop,
            stamp=args.stamp,
            should_stop=stop.requested,
        )
        try:
            while True:
                try:
                    report = next(gen)
                except StopIteration as done:
                    result = done.value
                    break
                text = f"{report.rows_sent} rows sent" + (
                    f", pass {report.passes + 1}" if args.loop else ""
                )
                if report.behind_s > 1.0:
                    text += f", {report.behind_s:.1f} s behind"
                display.update(report.fraction, text)
        finally:
            display.close()
    how = "stopped" if result.stopped else "done"
    rate = result.rows_sent / result.elapsed_s if result.elapsed_s > 0 else 0.0
    print_message(
        f"replay {how}: {result.rows_sent} rows in {result.elapsed_s:.1f} s "
        f"({rate:.0f} rows/s) to {target.description}"
    )
    return EXIT_OK


def _password(args: argparse.Namespace) -> str | None:
    if args.password_env is None:
        return None
    if args.username is None and "@" not in args.to:
        raise FaultLensError("--password-env: give --username (or USER@ in the --to address)")
    value = os.environ.get(args.password_env)
    if value is None:
        raise FaultLensError(f"--password-env {args.password_env}: no such environment variable")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``replay`` to the ``faultlens`` command."""
    p = subparsers.add_parser(
        "replay",
        help="replay a recording into an MQTT topic or a growing CSV (try live monitoring)",
        description="Send a recording's rows at the pace of its time column (x --speed), or at "
        "--rate rows per second, to an MQTT topic (one JSON object per row: "
        '{"time": ..., "<channel>": value, ...}, QoS 1) or to a CSV file it appends to as a '
        "data logger would (an existing file is replaced). Ctrl+C stops (exit 0).",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="recording to replay (CSV)")
    p.add_argument(
        "--to",
        required=True,
        metavar="mqtt://HOST[:PORT]/TOPIC | OUT.csv",
        help="where the rows go: an MQTT topic (port 1883 when not given; mqtts:// for TLS, "
        "port 8883; "
        "mqtt://USER@HOST/TOPIC with --password-env for a broker that wants a login) "
        "or a CSV file",
    )
    pace = p.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=_positive_float,
        metavar="X",
        help="replay X times faster than recorded (default 1; a recording without a time "
        "column: one row per second x X)",
    )
    pace.add_argument("--rate", type=_positive_float, metavar="HZ", help="send HZ rows per second")
    p.add_argument(
        "--loop", action="store_true", help="start over after the last row (time runs on)"
    )
    p.add_argument(
        "--stamp",
        choices=("recorded", "now", "none"),
        default="recorded",
        help="times sent: as recorded (default), restamped so the first row is now, or "
        "none (the receiver stamps arrival)",
    )
    g = p.add_argument_group("MQTT login and TLS")
    g.add_argument("--username", help="broker user name")
    g.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the broker password from this environment variable (never on the "
        "command line, where other users can see it)",
    )
    g.add_argument("--tls", action="store_true", help="connect with TLS")
    g.add_argument(
        "--ca-file", type=Path, metavar="FILE", help="CA certificate of the broker (implies --tls)"
    )
    add_import_options(p)
    p.set_defaults(handler=run_replay)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{value:g} must be a positive number")
    return value
