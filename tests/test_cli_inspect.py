"""`faultlens inspect FILE [--json]`: the summary, the JSON, and exit codes for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from faultlens import cli

CSV = (
    "time;Temp °C;flow;label;changepoint\n"
    "2024-01-01 00:00:00;1,5;10;normal;0\n"
    "2024-01-01 00:00:01;;11;normal;0\n"
    "2024-01-01 00:00:03;2,5;12;fault;1\n"
    "2024-01-01 00:00:04;3,5;13;fault;0\n"
)


@pytest.fixture
def recording_file(tmp_path: Path) -> Path:
    path = tmp_path / "rig.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_inspect_json(recording_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect", str(recording_file), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 4
    assert out["channels"] == ["Temp °C", "flow"]
    assert out["time_column"] == "time" and out["time_kind"] == "datetime"
    assert out["label_column"] == "label"
    assert out["classes"] == {"fault": 2, "normal": 2}
    q = out["quality"]
    assert q["missing_per_channel"] == {"Temp °C": 1, "flow": 0}
    assert q["max_gap_s"] == 2.0 and q["sampling_interval_median_s"] == 1.0
    assert "changepoint" in q["excluded_columns"]


def test_inspect_text(recording_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect", str(recording_file)]) == 0
    text = capsys.readouterr().out
    assert "Rows:      4" in text
    assert "Temp °C" in text and "1 missing (25.0 %)" in text
    assert "column 'time'" in text and "longest gap 2 s" in text
    assert "column 'label', 2 class(es)" in text
    assert "changepoint: label/annotation column" in text


def test_inspect_options_are_passed_through(
    recording_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["inspect", str(recording_file), "--json", "--no-label-column", "--channels", "flow"]
    assert cli.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["channels"] == ["flow"] and out["label_column"] is None and out["classes"] == {}


@pytest.mark.parametrize(
    ("content", "extra", "needle"),
    [
        (b"", [], "empty"),
        (b"a,b\n1,2\n3\n", [], "line 3"),
        (b"a,b\n1,2\n", ["--label-column", "fault"], "columns are a, b"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    extra: list[str],
    needle: str,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert cli.main(["inspect", str(path), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err and "bad.csv" in err and needle in err
    assert "Traceback" not in err


def test_subprocess_missing_file_exit_code(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "faultlens.cli", "inspect", str(missing)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.csv" in lines[0] and "not found" in lines[0]


def test_inspect_json_into_a_closed_pipe_is_not_an_internal_error():
    import subprocess
    import sys

    from faultlens.core.resources import demo_recording_path

    # stdout is a pipe whose reader has gone (`faultlens inspect --json | head -0`).
    code = (
        "import os, sys\n"
        "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
        "from faultlens.cli import main\n"
        f"sys.exit(main(['inspect', {str(demo_recording_path())!r}, '--json']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "internal error" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
