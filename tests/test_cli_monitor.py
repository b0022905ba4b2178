"""``faultlens monitor`` end to end: the real command in a subprocess following a CSV that a
writer process appends to, and an MQTT topic on a real broker; its event lines equal the
events of an offline scan of the file it recorded (the issue's exactness).

The model is the bundled demo model; the rows are the demo recording's first 600, which
hold two fault events by that model (rows ~346 and ~431-551)."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from faultlens import cli
from faultlens.cli.monitor import default_record_path
from faultlens.core.checkpoint import load_model
from faultlens.core.events import FaultEvent
from faultlens.core.io import load_recording
from faultlens.core.live.replay import MqttTarget, parse_mqtt_url, replay
from faultlens.core.options import ScanOptions
from faultlens.core.progress import run_to_end
from faultlens.core.resources import demo_model_path, demo_recording_path
from faultlens.core.scan import scan

ROWS = 600
TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo recording's first ROWS rows, as the file a logger would have written."""
    path = tmp_path_factory.mktemp("monitor") / "pump.csv"
    with demo_recording_path().open(encoding="utf-8") as src:
        head = [next(src) for _ in range(ROWS + 1)]
    path.write_text("".join(head), encoding="utf-8")
    return path


def faultlens(*args: object) -> list[str]:
    return [sys.executable, "-m", "faultlens.cli", *(str(a) for a in args)]


def run(argv: list[object]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def wait_for(
    condition: Callable[[], bool], what: str, proc: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the monitor exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def data_rows(path: Path) -> int:
    """Complete data rows in a CSV written so far (header excluded)."""
    if not path.exists():
        return 0
    return max(0, path.read_bytes().count(b"\n") - 1)


def event_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def offline_events(record: Path) -> list[FaultEvent]:
    recording = load_recording(record)
    model = load_model(demo_model_path())
    result = run_to_end(scan(model, recording, ScanOptions(stride=1, device="cpu")))
    return result.events


def assert_live_equals_offline(lines: list[dict], record: Path, source: Path) -> None:
    """The closed lines are the offline scan's events of the recorded file, the recorded
    file holds the source's rows exactly, and each event was announced before it closed."""
    recorded = load_recording(record)
    original = load_recording(source)
    assert recorded.n_rows == original.n_rows == ROWS
    assert recorded.channels == original.channels  # the predicted class is no channel
    np.testing.assert_array_equal(recorded.data, original.data)
    closed = [FaultEvent.from_dict(x) for x in lines if x["event"] == "closed"]
    expected = offline_events(record)
    assert len(expected) >= 2
    assert closed == expected
    assert {x["recording"] for x in lines} == {str(record)}
    kinds = {(x["event"], x["start_row"]) for x in lines}
    assert all(("opened", e.start_row) in kinds for e in expected)
    order = [(x["event"], x["start_row"]) for x in lines]
    for e in expected:
        assert order.index(("opened", e.start_row)) < order.index(("closed", e.start_row))


@pytest.mark.slow
def test_monitor_follows_a_growing_csv_and_stops_on_ctrl_c(demo: Path, tmp_path: Path) -> None:
    logger, record, events = tmp_path / "logger.csv", tmp_path / "rec.csv", tmp_path / "ev.jsonl"
    logger.touch()  # the logger has created its file; the monitor waits for its header
    argv = faultlens("monitor", logger, "--model", demo_model_path(), "--record", record,
                     "--events", events, "--device", "cpu")  # fmt: skip
    with monitoring(argv) as monitor:
        assert monitor.stderr is not None
        first = monitor.stderr.readline()
        assert first.startswith("faultlens: monitoring logger.csv"), first
        # The writer process: a data logger appending ROWS rows over ~1 s.
        writer = subprocess.run(
            faultlens("replay", demo, "--to", logger, "--rate", 700),
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )  # fmt: skip
        assert writer.returncode == 0, writer.stderr
        # Flushed while running (at least every second), before any stop.
        wait_for(lambda: data_rows(record) == ROWS, "every row in the recording", monitor)
        monitor.send_signal(signal.SIGINT)
        out, err = monitor.communicate(timeout=TIMEOUT_S)
    assert monitor.returncode == 0, err
    assert out == "" and "Traceback" not in err
    assert f"{ROWS} rows recorded to {record}" in err
    assert_live_equals_offline(event_lines(events.read_text()), record, demo)


@pytest.mark.slow
def test_monitor_follows_an_mqtt_topic(demo: Path, tmp_path: Path, mqtt_broker) -> None:
    record = tmp_path / "rec.csv"
    where = f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}"
    argv = faultlens("monitor", f"{where}/plant/#", "--model", demo_model_path(),
                     "--record", record, "--device", "cpu")  # fmt: skip
    with monitoring(argv) as monitor:
        # The monitor says so once it is subscribed: what is published from then on arrives.
        assert monitor.stderr is not None
        first = monitor.stderr.readline()
        assert first.startswith(f"faultlens: monitoring {where}"), first
        rows = load_recording(demo)
        run_to_end(replay(rows, MqttTarget(parse_mqtt_url(f"{where}/plant/pump")), rate=1000))
        wait_for(lambda: data_rows(record) == ROWS, "every row in the recording", monitor)
        monitor.send_signal(signal.SIGINT)
        out, err = monitor.communicate(timeout=TIMEOUT_S)
    assert monitor.returncode == 0, err
    assert "Traceback" not in err and f"{ROWS} rows recorded" in err
    assert_live_equals_offline(event_lines(out), record, demo)


@contextlib.contextmanager
def monitoring(argv: list[str]) -> Iterator[subprocess.Popen]:
    """The monitor running; killed if the test ends before it exits, pipes closed."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.mark.slow
def test_stop_after_exits_0_with_the_file_complete(demo: Path, tmp_path: Path) -> None:
    record = tmp_path / "rec.csv"
    began = time.monotonic()
    code, out, err = run(["monitor", demo, "--model", demo_model_path(), "--record", record,
                          "--stop-after", 0.5, "--device", "cpu"])  # fmt: skip
    assert code == 0, err
    assert time.monotonic() - began >= 0.5
    # Everything the source held when the time was up is recorded and scored (stop drains).
    assert f"{ROWS} rows recorded" in err and "2 fault event(s)" in err
    lines = event_lines(out)  # events on stdout without --events
    assert lines and all(x["event"] in ("opened", "closed") for x in lines)
    assert_live_equals_offline(lines, record, demo)


def test_without_a_model_it_records_to_a_file_named_after_the_source(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["monitor", demo, "--stop-after", 0.2])
    assert code == 0, err
    assert "recording only" in err and out == ""
    (record,) = tmp_path.glob("pump-live-*.csv")
    assert load_recording(record).n_rows == ROWS
    assert default_record_path("mqtt://user@10.0.0.5:1883/plant/#").name.startswith(
        "10.0.0.5_1883_plant-live-"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["{demo}", "--model", "{tmp}/missing.flmodel"], "missing.flmodel"),
        (["mqtt://:1883/plant", "--model", "{model}"], "mqtt://:1883/plant"),
        (["ftp://127.0.0.1/plant", "--model", "{model}"], "ftp://"),
        (["{demo}", "--tls"], "--tls"),
        (["{other}", "--model", "{model}", "--record", "{tmp}/r.csv"], "motor_current_A"),
        (["{demo}", "--model", "{model}", "--threshold", "1.5"], "--threshold"),
        (["{demo}", "--events", "{tmp}/no/such/ev.jsonl"], "does not exist"),
        (["{demo}", "--record", "{demo}"], "source"),
        (["{demo}", "--record", "{tmp}/r.txt"], ".csv"),
        (["{demo}", "--stop-after", "0"], "--stop-after"),
        (["mqtt://h/t", "--username", "u", "--password-env", "FAULTLENS_NO_SUCH_VAR"],
         "FAULTLENS_NO_SUCH_VAR"),
        (["mqtt://h/t", "--model", "{model}", "--channels", "flow_rate_m3h"], "--channels"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_naming_the_problem(
    demo: Path, tmp_path: Path, argv: list[str], expected: str
) -> None:
    other = tmp_path / "other.csv"
    other.write_text("t,a,b\n" + "".join(f"{i},{i % 7},{i % 3}\n" for i in range(40)))
    fill = {"demo": demo, "tmp": tmp_path, "model": demo_model_path(), "other": other}
    code, _, err = run(["monitor", *(a.format(**fill) for a in argv)])
    assert code == 2, err
    assert err.startswith("faultlens: error:") and expected in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.csv").exists()  # nothing half-started


def test_a_source_that_cannot_be_opened_exits_1(tmp_path: Path) -> None:
    code, _, err = run(["monitor", tmp_path / "not_yet.csv", "--stop-after", 1])
    assert code == 1 and "not_yet.csv" in err and "Traceback" not in err
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run(["monitor", f"mqtt://127.0.0.1:{port}/t", "--stop-after", 1])
    assert code == 1 and f"127.0.0.1:{port}" in err and "Traceback" not in err


def test_help_is_fast_and_loads_no_engine() -> None:
    code = textwrap.dedent(
        """
        import sys, contextlib, io
        from faultlens import cli
        for argv in (["monitor", "--help"], ["replay", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
                cli.main(argv)
            assert "--stop-after" in out.getvalue() or "--rate" in out.getvalue()
        heavy = ("torch", "pandas", "numpy", "paho", "PySide6")
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"--help imported {out}"
    code_help = subprocess.run(
        faultlens("monitor", "--help"), capture_output=True, text=True, check=True
    ).stdout
    assert "current folder" in code_help and "mqtt://" in code_help


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_status_line_is_for_a_terminal_at_most_once_a_second(
    demo: Path, tmp_path: Path
) -> None:
    from faultlens.cli.monitor import StatusLine
    from faultlens.core.live.monitor import LiveMonitor
    from faultlens.core.live.open_source import open_source

    monitor = LiveMonitor(open_source(demo), None, record_to=tmp_path / "r.csv")
    monitor.start()
    try:
        tty, log = Tty(), io.StringIO()
        terminal, plain = StatusLine(tty), StatusLine(log)
        for _ in range(5):
            update = monitor.poll()
            terminal.show(monitor, update)
            plain.show(monitor, update)
        assert tty.getvalue().count("\r\x1b[K") == 1 and f"{ROWS} rows" in tty.getvalue()
        assert "problems 0" in tty.getvalue()
        terminal.clear()
        assert tty.getvalue().endswith("\r\x1b[K")
        assert log.getvalue() == ""  # a log gets the start and the summary only
    finally:
        monitor.stop()


def test_bad_input_is_counted_and_told_never_a_crash(tmp_path: Path) -> None:
    logger = tmp_path / "logger.csv"
    rows = [f"{i},{i % 7},{i % 3}" for i in range(40)]
    rows[25] = "25,not a number,1"
    logger.write_text("t,a,b\n" + "\n".join(rows) + "\n")
    code, _, err = run(["monitor", logger, "--record", tmp_path / "r.csv", "--stop-after", 0.2])
    assert code == 0, err
    assert "40 rows recorded" in err
    assert "1 problem(s) in the input (not a number 1)" in err and "last error:" in err
    recorded = load_recording(tmp_path / "r.csv")
    assert np.isnan(recorded.data[25, 0]) and recorded.data[25, 1] == 1.0


def test_replay_into_a_csv_and_its_bad_arguments(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "logger.csv"
    code, _, err = run(["replay", demo, "--to", out, "--rate", 50000])
    assert code == 0, err
    assert f"replay done: {ROWS} rows" in err
    np.testing.assert_array_equal(load_recording(out).data, load_recording(demo).data)
    for argv, expected in [
        (["--to", tmp_path / "x.json"], ".csv"),
        (["--to", "mqtt://127.0.0.1:1/t"], "cannot connect to the broker"),
        (["--to", "mqtt://h/t", "--password-env", "FAULTLENS_NO_SUCH_VAR"], "--username"),
    ]:
        code, _, err = run(["replay", demo, *argv])
        assert code == 2 and expected in err and "Traceback" not in err, err
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as info:
        cli.main(["replay", str(demo), "--to", str(out), "--speed", "0"])
    assert info.value.code == 2


def test_stop_closes_running_events_once() -> None:
    import dataclasses

    from faultlens.cli.monitor import EventLines

    first = FaultEvent(10, 20, "a", "b", 11.0, "leak", 0.9, 0.8, ("flow",), (1.0,))
    running = dataclasses.replace(first, start_row=40, end_row=60)
    out = io.StringIO()
    lines = EventLines(out, "rec.csv")
    lines.write("opened", first)
    lines.write("closed", first)
    lines.write("opened", running)
    # At stop: the offline scan's events; the first one's duration from the whole file's
    # sampling interval differs in the last digits from the live one.
    lines.final([dataclasses.replace(first, duration_s=11.000001), running])
    written = event_lines(out.getvalue())
    assert [(x["event"], x["start_row"]) for x in written] == [
        ("opened", 10), ("closed", 10), ("opened", 40), ("closed", 40)
    ]  # fmt: skip
    assert all(x["recording"] == "rec.csv" for x in written)
