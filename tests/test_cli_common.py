"""The CLI's shared helpers (progress on stderr, argument types) and the shape of the
``faultlens.cli`` package: command modules import ``common`` and the core, never each other."""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import select
import struct
import threading
from collections.abc import Generator
from pathlib import Path

import pytest

import faultlens.cli
from faultlens.cli import common
from faultlens.core.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_a_bar_and_in_a_log_a_few_lines() -> None:
    threads = threading.active_count()
    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        display = common.ProgressDisplay("scan", stream)
        for i in range(1000):
            display.update(i / 1000, "working")
        display.finish("done")
    assert "\r" in tty.getvalue() and "100.0 %" in tty.getvalue()
    assert tty.getvalue().endswith("\n") and tty.getvalue().count("\n") == 1
    assert threading.active_count() == threads  # tqdm's monitor thread stays off
    # A log gets the first line and the final one, not a thousand, and no carriage returns.
    lines = log.getvalue().splitlines()
    assert 2 <= len(lines) <= 3 and lines[-1].endswith("done")
    assert lines[-1] == "scan: 100.0 % done" and "\r" not in log.getvalue()


@pytest.mark.parametrize("columns", [0, 60])
def test_a_real_terminal_gets_a_bar_even_when_it_reports_no_size(columns: int) -> None:
    fcntl = pytest.importorskip("fcntl")  # pseudo-terminals: POSIX only
    termios = pytest.importorskip("termios")
    # A fresh pseudo-terminal reports 0 x 0, as some containers' do; tqdm alone draws nothing.
    controller, terminal = os.openpty()
    if columns:
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    with open(terminal, "w", encoding="utf-8") as stream:
        display = common.ProgressDisplay("scan", stream)
        display.update(0.5, "half", force=True)
        display.finish("done")
    chunks = []  # the terminal hands the output over in pieces; EIO once it is drained
    with contextlib.suppress(OSError):
        while select.select([controller], [], [], 0.5)[0]:
            chunks.append(os.read(controller, 65536))
    os.close(controller)
    shown = b"".join(chunks).decode("utf-8")
    last = shown.replace("\r\n", "\n").split("\r")[-1]
    assert last.startswith("scan: 100.0 % |") and last.rstrip().endswith("done")
    assert len(last.rstrip("\n")) == (columns or 80) - (1 if columns else 0)


def test_milestones_reach_the_log_at_once() -> None:
    log = io.StringIO()
    display = common.ProgressDisplay("train", log)
    for epoch in range(1, 4):
        display.update(epoch / 4, f"epoch {epoch}", force=True)
    assert log.getvalue().splitlines() == [
        "train:  25.0 % epoch 1",
        "train:  50.0 % epoch 2",
        "train:  75.0 % epoch 3",
    ]


def _job(fail: bool) -> Generator[Progress, None, str]:
    for done in range(3):
        yield Progress(done, 4, f"step {done}")
    if fail:
        raise RuntimeError("boom")
    return "result"


def test_run_with_progress_returns_the_result_and_ends_the_bar_line_on_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    assert common.run_with_progress(_job(fail=False), "job") == "result"
    assert tty.getvalue().endswith("\n") and "done" in tty.getvalue()
    tty.seek(0)
    tty.truncate()
    with pytest.raises(RuntimeError, match="boom"):
        common.run_with_progress(_job(fail=True), "job")
    # What is printed next (the error) starts on a line of its own.
    assert tty.getvalue().endswith("\n") and "done" not in tty.getvalue()


def test_argument_types_say_what_is_wrong() -> None:
    assert common.positive_int("3") == 3 and common.non_negative_int("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match="not a whole number"):
        common.positive_int("2.5")
    with pytest.raises(argparse.ArgumentTypeError, match="must be 1 or more"):
        common.positive_int("0")


def test_scan_options_from_args_keeps_the_core_defaults() -> None:
    parser = argparse.ArgumentParser()
    common.add_scan_options(parser)
    options = common.scan_options_from_args(parser.parse_args(["--model", "m.flmodel"]))
    assert options == common.ScanOptions()
    args = parser.parse_args(["--model", "m", "--threshold", "0.7", "--min-duration", "2"])
    options = common.scan_options_from_args(args)
    assert options.threshold == 0.7 and options.min_duration_rows == 2


def _faultlens_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every ``faultlens`` import in a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("faultlens"):
            found.append((node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("faultlens")]
    return found


def test_command_modules_import_common_and_the_core_only() -> None:
    package = Path(faultlens.cli.__file__).parent
    commands = sorted(p for p in package.glob("*.py") if not p.name.startswith("__"))
    assert {p.stem for p in commands} >= {"common", "inspect", "train", "scan", "report", "gui"}
    for path in commands:
        for module, names in _faultlens_imports(path):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{path.name} imports private {private} from {module}"
            if path.stem == "common":
                assert not module.startswith("faultlens.cli"), f"common imports {module}"
            else:
                assert not module.startswith("faultlens.cli") or module == "faultlens.cli.common", (
                    f"{path.name} imports {module}: command modules import common, not each other"
                )
