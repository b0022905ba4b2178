"""Every widget module opens by itself on a recording (what ``python -m`` shows)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from faultlens.core.checkpoint import load_model
from faultlens.core.io import load_recording
from faultlens.core.progress import run_to_end
from faultlens.core.scan import scan

MODULES = [
    "signal_view",
    "tracks",
    "event_table",
    "import_dialog",
    "training_panel",
    "validation_summary",
    "recording_list",
    "model_info",
    "help_dialog",
    "about",
    "main_window",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_opens_on_a_recording(
    qtbot: QtBot, name: str, pump_csv: Path, trained_model_path: Path
) -> None:
    module = importlib.import_module(f"faultlens.gui.{name}")
    recording = load_recording(pump_csv)
    model = load_model(trained_model_path)
    result = run_to_end(scan(model, recording))
    widget = module._demo_widget(recording, model, result)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    assert widget.isVisible()
    widget.close()


@pytest.mark.slow
def test_python_dash_m_opens_and_quits() -> None:
    # One intra-op thread: the demo scan then takes ~10 s on a loaded 2-core machine, where
    # torch's spinning worker threads once stretched it past the timeout (what is tested is
    # that the module opens and quits, not the scan's speed).
    env = dict(
        os.environ, QT_QPA_PLATFORM="offscreen", FAULTLENS_DEMO_QUIT="1", OMP_NUM_THREADS="1"
    )
    done = subprocess.run(
        [sys.executable, "-m", "faultlens.gui.signal_view"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


# A signal view left to the interpreter's exit, its reference cycles uncollected (gc off:
# what a main() that returned leaves). PySide's exit teardown deletes the Python-owned top
# item of the view's layout first; nothing released there may free the view itself (a lambda
# over the view on an axis signal did: its scene then cleared the half-deleted item).
_LEFT_TO_EXIT = """
import gc, sys
gc.disable()
from faultlens.gui.app import ensure_app
from faultlens.gui._demo import synthetic_recording
from faultlens.gui.signal_view import SignalView
app = ensure_app([])
view = SignalView()
view.set_recording(synthetic_recording(rows=600))
view.show()
app.processEvents()
del view
sys.exit(0)
"""


@pytest.mark.slow
def test_signal_view_left_to_exit_quits_cleanly() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", _LEFT_TO_EXIT],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (done.returncode, done.stderr[-2000:])


def test_model_summary_says_what_the_network_reads(trained_model_path: Path) -> None:
    from faultlens.gui.model_info import model_summary_html

    model = load_model(trained_model_path)
    html = model_summary_html(model)
    expected = "deviation from the median" if model.config.relative_inputs else "level"
    assert "Inputs" in html and expected in html


def test_training_panel_inputs_choice_reaches_the_options(qtbot: QtBot, pump_csv: Path) -> None:
    from faultlens.gui.training_panel import _demo_widget

    panel = _demo_widget(load_recording(pump_csv), None, None)
    qtbot.addWidget(panel)
    from faultlens.core.options import TrainOptions

    defaults = TrainOptions()
    options = panel.snapshot()[1]  # the engine's defaults to start with
    assert (options.feature_scales, options.relative_inputs) == (
        defaults.feature_scales,
        defaults.relative_inputs,
    )
    for i in range(panel.inputs_combo.count()):
        panel.inputs_combo.setCurrentIndex(i)
        scales, relative = panel.input_choice()
        options = panel.snapshot()[1]
        assert (options.feature_scales, options.relative_inputs) == (scales, relative)
    assert panel.inputs_combo.count() == 4  # the default is one of the four choices
