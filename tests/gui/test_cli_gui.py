"""`faultlens gui --screenshot` renders the loaded, scanned window into a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from faultlens.cli import gui as cli_gui
from faultlens.core.errors import RecordingError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faultlens")
    cli_gui.register(parser.add_subparsers(dest="command"))
    return parser


def test_arguments() -> None:
    args = _parser().parse_args(["gui", "a.csv", "--model", "m.flmodel", "--screenshot", "s.png"])
    assert (args.file, args.model, args.screenshot) == (
        Path("a.csv"),
        Path("m.flmodel"),
        Path("s.png"),
    )
    args = _parser().parse_args(["demo"])
    assert args.screenshot is None and callable(args.handler)


def test_screenshot_of_a_scanned_recording(
    qtbot: QtBot, tmp_path: Path, pump_csv: Path, trained_model_path: Path
) -> None:
    png = tmp_path / "shots" / "window.png"
    assert cli_gui.run_gui(pump_csv, trained_model_path, png) == 0
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1600, 1000)
    # Not a blank canvas: a rendered window has many distinct colours.
    colours = {image.pixel(x, y) for x in range(0, 1600, 23) for y in range(0, 1000, 17)}
    assert len(colours) > 20


def test_screenshot_with_a_bad_file_raises_the_user_error(qtbot: QtBot, tmp_path: Path) -> None:
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    with pytest.raises(RecordingError, match=r"empty\.csv"):
        cli_gui.run_gui(bad, None, tmp_path / "never.png")
    assert not (tmp_path / "never.png").exists()


def test_demo_screenshot(qtbot: QtBot, tmp_path: Path) -> None:
    from faultlens.core.resources import demo_recording_path

    try:
        demo_recording_path()
    except FileNotFoundError:
        pytest.skip("the demo recording is not in resources/ yet")
    png = tmp_path / "demo.png"
    assert cli_gui.run_demo(png) == 0
    assert QImage(str(png)).width() == 1600
