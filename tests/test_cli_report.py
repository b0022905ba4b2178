"""``faultlens report`` end to end through cli.main, on a small generated CSV."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from faultlens import cli
from faultlens.core import review_file as review_mod
from faultlens.core.checkpoint import TrainedModel, save_model
from faultlens.core.event_files import read_events
from faultlens.core.io import load_recording
from faultlens.core.model import AttentionLSTM, ModelConfig
from faultlens.core.review import Review
from faultlens.core.review_file import primary_sidecar_path

CHANNELS = ("a", "b", "c")


@pytest.fixture(autouse=True)
def _review_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(review_mod.REVIEW_DIR_ENV, str(tmp_path / "user-data"))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=list(CHANNELS))
    stamps = pd.date_range("2020-03-09 10:00:00", periods=n, freq="1s")
    frame.insert(0, "datetime", stamps.strftime("%Y-%m-%d %H:%M:%S"))
    csv_path = tmp_path / "pump.csv"
    frame.to_csv(csv_path, sep=";", index=False)

    torch.manual_seed(0)
    config = ModelConfig(n_channels=3, n_classes=2, hidden=8, heads=2, classifier_hidden=8)
    model = TrainedModel(
        module=AttentionLSTM(config).eval(),
        config=config,
        channels=CHANNELS,
        class_names=("normal", "fault"),
        norm_mean=np.zeros(3, dtype=np.float32),
        norm_std=np.ones(3, dtype=np.float32),
        window=16,
        stride=4,
        created="2026-11-22T20:00:00+00:00",
    )
    model_path = tmp_path / "m.flmodel"
    save_model(model, model_path)
    return csv_path, model_path


def run(argv: list[object]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["report", *(str(a) for a in argv)])
    return code, out.getvalue(), err.getvalue()


def test_report_html_pdf_and_events_include_the_saved_review(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    csv_path, model_path = files
    # Threshold 0 flags every predicted row: exactly one event, from the first full window.
    recording = load_recording(csv_path)
    from faultlens.core.checkpoint import load_model
    from faultlens.core.options import ScanOptions
    from faultlens.core.progress import run_to_end
    from faultlens.core.scan import scan

    result = run_to_end(scan(load_model(model_path), recording, ScanOptions(threshold=0.0)))
    assert len(result.events) == 1
    review = Review.open(recording)
    review.set_events(result.events)
    review.relabel(0, "cavitation")
    review.set_note(0, "heard it on the bench")
    sidecar = primary_sidecar_path(csv_path)
    before = sidecar.read_bytes()

    html_out, htm_out, events_out = tmp_path / "r.html", tmp_path / "r.htm", tmp_path / "e.json"
    code, out, err = run(
        [csv_path, "--model", model_path, "--threshold", "0", "--out", html_out,
         "--out", htm_out, "--events", events_out, "--device", "cpu"]
    )  # fmt: skip
    assert code == 0, err
    assert "1 fault event(s)" in out and "1 relabelled" in out
    assert "scan" in err and "report r.htm" in err  # progress on stderr
    assert "heard it on the bench" in html_out.read_text(encoding="utf-8")
    page = htm_out.read_text(encoding="utf-8")
    assert page.count('<img alt="Event ') == 1 and page.count('<img class="timeline"') == 1
    events, reviews = read_events(events_out)
    assert events == result.events
    assert reviews[0]["review_status"] == "relabelled"
    assert reviews[0]["reviewed_class"] == "cavitation"
    assert sidecar.read_bytes() == before  # the CLI only reads the review

    code, out, _ = run(
        [csv_path, "--model", model_path, "--threshold", "0", "--out", html_out, "--no-review",
         "--json"]
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    assert summary["events"] == 1 and summary["review"] is None
    assert "heard it on the bench" not in html_out.read_text(encoding="utf-8")


def test_report_bad_input_exits_2_with_one_line(tmp_path: Path, files: tuple[Path, Path]) -> None:
    csv_path, model_path = files
    base = [csv_path, "--model", model_path, "--device", "cpu"]

    code, _, err = run([*base, "--out", tmp_path / "nope" / "r.html"])
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    code, _, err = run([*base, "--out", tmp_path / "r.docx"])
    assert code == 2 and ".html" in err
    code, _, err = run([*base, "--out", tmp_path / "r.html", "--events", tmp_path / "e.xml"])
    assert code == 2 and ".csv or .json" in err

    corrupt = tmp_path / "bad.faultlens.json"
    corrupt.write_text("{not json")
    code, _, err = run([*base, "--out", tmp_path / "r.html", "--review", corrupt])
    assert code == 2 and "not valid JSON" in err and str(corrupt) in err
    assert corrupt.read_text() == "{not json"
    assert not (tmp_path / "r.html").exists()

    # A corrupt sidecar found by default is reported and left out; the report is written.
    primary_sidecar_path(csv_path).write_text("{not json")
    code, _, err = run([*base, "--out", tmp_path / "r.html"])
    assert code == 0 and "warning" in err and "it was ignored" in err
    assert (tmp_path / "r.html").is_file()
    assert primary_sidecar_path(csv_path).read_text() == "{not json"
