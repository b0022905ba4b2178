"""`faultlens explain FILE --model MODEL --at ROW|TIME [--json] [--png OUT.png]`: the summary,
the JSON (the core's explanation as lists), the inspector figure, and exit 2 on bad input."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from faultlens import cli
from faultlens.core.checkpoint import TrainedModel, load_model, save_model
from faultlens.core.explain import explain
from faultlens.core.io import load_recording
from faultlens.core.model import ModelConfig, build_model

CHANNELS = ("pressure", "flow", "current")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=list(CHANNELS))
    frame.loc[80:, "flow"] += 4.0
    stamps = pd.date_range("2020-03-09 10:00:00", periods=n, freq="1s")
    frame.insert(0, "datetime", stamps.strftime("%Y-%m-%d %H:%M:%S"))
    csv_path = tmp_path / "pump.csv"
    frame.to_csv(csv_path, sep=";", index=False)
    torch.manual_seed(0)
    config = ModelConfig(
        n_channels=3, n_classes=3, hidden=8, heads=2, classifier_hidden=8,
        relative_inputs=True, reference="start", feature_scales=(4,),
    )  # fmt: skip
    model = TrainedModel(
        module=build_model(config).eval(),
        config=config,
        channels=CHANNELS,
        class_names=("normal", "leak", "blockage"),
        norm_mean=np.zeros(6, dtype=np.float32),
        norm_std=np.ones(6, dtype=np.float32),
        window=16,
        stride=4,
    )
    model_path = tmp_path / "m.flmodel"
    save_model(model, model_path)
    return csv_path, model_path


def run(argv: list[object]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["explain", *(str(a) for a in argv)])
    return code, out.getvalue(), err.getvalue()


def test_json_is_the_core_explanation(files: tuple[Path, Path]) -> None:
    csv_path, model_path = files
    code, out, err = run([csv_path, "--model", model_path, "--at", "90", "--json"])
    assert code == 0, err
    data = json.loads(out)
    expected = explain(load_model(model_path), load_recording(csv_path), 90)
    assert data["row"] == 90 and data["rows"] == list(range(75, 91))
    assert data["channels"] == list(CHANNELS) and data["predicted"] == expected.predicted
    np.testing.assert_allclose(data["probabilities"], expected.probabilities, atol=1e-6)
    assert np.asarray(data["attention"]).shape == (2, 16, 16)
    np.testing.assert_allclose(data["contribution"], expected.contribution, atol=1e-6)
    assert sum(data["hotspot_counts"]) == pytest.approx(8)
    assert data["file"] == str(csv_path)


@pytest.mark.slow
def test_summary_names_the_decision_channels_and_steps(files: tuple[Path, Path]) -> None:
    csv_path, model_path = files
    # A time names the row at or before it: 10:01:30 is row 90.
    code, out, _ = run([csv_path, "--model", model_path, "--at", "2020-03-09 10:01:30"])
    assert code == 0
    assert "row 90 (2020-03-09T10:01:30)" in out and "rows 75–90" in out
    assert "decision: " in out and "class probabilities: " in out
    assert "occlusion share" in out and "max-pool hotspots" in out
    assert any(name in out for name in CHANNELS)
    code, out_before, _ = run([csv_path, "--model", model_path, "--at", "+90s", "--before", "80"])
    assert code == 0 and "the 16 rows before row 80" in out_before


@pytest.mark.slow
def test_png_writes_the_inspector_figure(tmp_path: Path, files: tuple[Path, Path]) -> None:
    csv_path, model_path = files
    png = tmp_path / "why.png"
    code, out, err = run([csv_path, "--model", model_path, "--at", "100", "--png", png])
    assert code == 0 and "figure written to" in err and "decision: " in out
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 800 and image.size[1] > 400


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, files: tuple[Path, Path]) -> None:
    csv_path, model_path = files
    base = [csv_path, "--model", model_path]
    code, _, err = run([*base, "--at", "3"])
    assert code == 2 and "choose a row from 15 to 119" in err and err.count("\n") == 1
    code, _, err = run([*base, "--at", "500"])
    assert code == 2 and "past the recording's last row" in err
    code, _, err = run([*base, "--at", "lunchtime"])
    assert code == 2 and "accepted: a row number" in err and "Traceback" not in err
    code, _, err = run([*base, "--at", "90", "--before", "100"])
    assert code == 2 and "is after --at" in err
    png = tmp_path / "why.jpg"
    code, _, err = run([*base, "--at", "90", "--png", png])
    assert code == 2 and ".png" in err and not png.exists()
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stderr(io.StringIO()):
        cli.main(["explain", str(csv_path), "--model", str(model_path)])  # no --at
    assert exit_info.value.code == 2
