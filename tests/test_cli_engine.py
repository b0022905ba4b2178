"""``faultlens train / scan / evaluate`` (the engine commands) end to end on small generated
CSVs, through cli.main."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultlens import cli
from faultlens.cli.train import parse_classes
from faultlens.core.checkpoint import load_model
from faultlens.core.errors import TrainingError
from faultlens.core.event_files import read_events


def write_pump_csv(path: Path, seed: int, n: int = 600, channels=("a", "b", "c")) -> Path:
    """A SKAB-like file: ';'-separated, a datetime column, 0.0/1.0 anomaly labels; the fault
    is a step on channel b."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n, len(channels)))
    anomaly = np.zeros(n)
    for s in range(100, n - 60, 200):
        data[s : s + 60, 1] += 3.0
        anomaly[s : s + 60] = 1.0
    frame = pd.DataFrame(data, columns=list(channels))
    stamps = pd.date_range("2020-03-09 10:00:00", periods=n, freq="1s")
    frame.insert(0, "datetime", stamps.strftime("%Y-%m-%d %H:%M:%S"))
    frame["anomaly"] = anomaly
    frame.to_csv(path, sep=";", index=False)
    return path


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    files = [write_pump_csv(folder / f"r{i}.csv", seed=i) for i in range(3)]
    model = folder / "m.flmodel"
    code, out, err = run(
        [
            "train", files[0], files[1], "--label-column", "anomaly", "--window", "16",
            "--stride", "8", "--epochs", "3", "--device", "cpu", "--out", model, "--json",
        ]
    )  # fmt: skip
    assert code == 0, err
    return {"model": model, "train_json": out, "test": files[2], "folder": folder, "log": err}


def test_train_writes_the_model_and_reports_validation(trained) -> None:
    doc = json.loads(trained["train_json"])
    assert Path(doc["model"]) == trained["model"] and trained["model"].is_file()
    assert doc["channels"] == ["a", "b", "c"] and len(doc["class_names"]) == 2
    cm = np.array(doc["metrics"]["confusion_matrix"])
    assert cm.shape == (2, 2) and cm.sum() > 0
    assert set(doc["metrics"]["per_class"][doc["class_names"][1]]) >= {"precision", "recall", "f1"}
    # Progress went to stderr (not a TTY here: whole lines, no carriage returns).
    assert "train:" in trained["log"] and "\r" not in trained["log"]
    # Only the model file was written (atomically: no temp files left beside it).
    names = sorted(p.name for p in trained["folder"].iterdir())
    assert names == ["m.flmodel", "r0.csv", "r1.csv", "r2.csv"]
    config = load_model(trained["model"]).config  # the defaults; these files start normal
    assert config.feature_scales == (4, 16) and config.relative_inputs
    assert config.reference == "start"


def test_train_text_output_and_whole_file_classes(tmp_path) -> None:
    files = [write_pump_csv(tmp_path / f"r{i}.csv", seed=10 + i, n=400) for i in range(2)]
    # Whole-file classes override the label column: r0 is all "normal", r1 all "pump fault".
    code, out, err = run(
        ["train", *files, "--class", "normal", "--class", f"{files[1]}=pump fault",
         "--window", "12", "--stride", "6", "--epochs", "1", "--device", "cpu",
         "--levels-only", "--out", tmp_path / "x.flmodel"]
    )  # fmt: skip
    assert code == 0, err
    assert "confusion matrix" in out and "FAR" in out and "MAR" in out
    assert "classes: normal, pump fault" in out
    levels = load_model(tmp_path / "x.flmodel").config
    assert not levels.relative_inputs and levels.feature_scales == ()


def test_scan_writes_predictions_and_events(trained, tmp_path) -> None:
    pred, events_json, events_csv = tmp_path / "p.csv", tmp_path / "e.json", tmp_path / "e.csv"
    code, out, err = run(
        ["scan", trained["test"], "--model", trained["model"], "--predictions", pred,
         "--events", events_json, "--device", "cpu"]
    )  # fmt: skip
    assert code == 0, err
    frame = pd.read_csv(pred, keep_default_na=False)
    assert len(frame) == 600
    assert list(frame.columns[:4]) == ["row", "time", "predicted_class", "fault_probability"]
    assert list(frame.columns[-2:]) == ["attention", "hotspots"]
    assert sum(c.startswith("p_") for c in frame.columns) == 2
    assert (frame["predicted_class"].iloc[:15] == "").all()
    assert (frame["predicted_class"].iloc[15:] != "").all()
    assert frame["time"].iloc[0] == "2020-03-09T10:00:00"
    events = read_events(events_json).events
    assert len(events) >= 2 and "fault event(s)" in out
    # The step fault sits on channel b: the events should say so.
    assert all(e.top_channels and e.top_channels[0] == "b" for e in events)
    code, out, _ = run(
        ["scan", trained["test"], "--model", trained["model"], "--events", events_csv,
         "--threshold", "0.5", "--json", "--device", "cpu"]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["rows"] == 600 and doc["stride"] == 1 and len(doc["events"]) == len(events)
    assert read_events(events_csv).events == events


def test_evaluate_reports_metrics_and_delays(trained) -> None:
    code, out, err = run(
        ["evaluate", trained["test"], "--model", trained["model"], "--json", "--device", "cpu"]
    )
    assert code == 0, err
    doc = json.loads(out)
    m = doc["metrics"]
    assert m["n"] == 600 - 15  # labelled rows from the first full window (row 15) on
    assert 0.0 <= m["false_alarm_rate"] <= 1.0 and 0.0 <= m["missed_alarm_rate"] <= 1.0
    assert doc["delay_summary"]["events"] == 3
    code, out, _ = run(["evaluate", trained["test"], "--model", trained["model"]])
    assert code == 0 and "confusion matrix" in out and "per file" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["scan", "{test}", "--model", "{folder}/missing.flmodel"], "missing.flmodel"),
        (["scan", "{folder}/nope.csv", "--model", "{model}"], "nope.csv"),
        (["scan", "{test}", "--model", "{model}", "--events", "{folder}/e.txt"], "e.txt"),
        (["scan", "{test}", "--model", "{model}", "--threshold", "1.5"], "--threshold"),
        (["evaluate", "{test}", "--model", "{model}", "--no-label-column"], "label column"),
        (["train", "{test}", "--class", "other.csv=leak", "--out", "{folder}/z.flmodel"],
         "other.csv"),
        (["train", "{test}", "--out", "{folder}/no/such/dir/z.flmodel"], "does not exist"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(trained, argv, expected) -> None:
    fill = {k: str(v) for k, v in trained.items() if isinstance(v, Path)}
    code, _, err = run([a.format(**fill) for a in argv])
    assert code == 2, err
    assert err.startswith("faultlens: error:") and expected in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_channel_mismatch_exits_2_naming_the_channel(trained, tmp_path) -> None:
    other = write_pump_csv(tmp_path / "other.csv", seed=5, n=100, channels=("a", "c", "d"))
    code, _, err = run(["scan", other, "--model", trained["model"]])
    assert code == 2 and "b" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["train", "scan", "evaluate"])
def test_help(command) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    assert "--json" in out.getvalue() and "--label-column" in out.getvalue()


def test_class_arguments() -> None:
    files = [Path("a.csv"), Path("b.csv")]
    assert parse_classes(["normal"], files) == {files[0]: "normal", files[1]: "normal"}
    assert parse_classes(["a.csv=leak", "normal"], files) == {
        files[0]: "leak",
        files[1]: "normal",
    }
    with pytest.raises(TrainingError, match="one class for all files"):
        parse_classes(["normal", "leak"], files)
    with pytest.raises(TrainingError, match="empty"):
        parse_classes(["a.csv="], files)


def write_state_csv(path: Path, seed: int, shift: float, n: int = 400) -> Path:
    """A recording in one state throughout: noise, channel b shifted by ``shift``."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n, 3))
    data[:, 1] += shift
    frame = pd.DataFrame(data, columns=["a", "b", "c"])
    frame.insert(0, "t", np.arange(n, dtype=float))
    frame.to_csv(path, index=False)
    return path


def test_one_recording_per_class_training_says_validation_cannot_tell(tmp_path) -> None:
    # The held-out benchmark's shape: one recording of normal operation and one per fault
    # with the fault throughout. Validation can only hold out time blocks of those runs.
    files = {
        "normal": write_state_csv(tmp_path / "normal.csv", 0, 0.0),
        "leak": write_state_csv(tmp_path / "leak.csv", 1, 3.0),
        "valve": write_state_csv(tmp_path / "valve.csv", 2, -3.0),
    }
    classes = [a for name, f in files.items() for a in ("--class", f"{f}={name}")]
    code, out, err = run(
        ["train", *files.values(), *classes, "--window", "12", "--stride", "6", "--epochs",
         "2", "--device", "cpu", "--out", tmp_path / "m.flmodel"]
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    caveat = next(i for i, line in enumerate(lines) if "Validation cannot predict" in line)
    # The caveat comes before the figures it qualifies, and names the real test.
    assert caveat < next(i for i, line in enumerate(lines) if "confusion matrix" in line)
    assert "faultlens evaluate" in lines[caveat] and "memory" in lines[caveat]
    assert "alarm rule: a row is a fault when its fault probability reaches" in out
    model = load_model(tmp_path / "m.flmodel")
    assert model.metrics["split"] == "time blocks"
    code, out, _ = run(
        ["train", *files.values(), *classes, "--window", "12", "--stride", "6", "--epochs",
         "1", "--device", "cpu", "--json", "--out", tmp_path / "j.flmodel"]
    )  # fmt: skip
    assert code == 0 and "Validation cannot predict" in json.loads(out)["validation_caveat"]


def test_alarm_budget_option(tmp_path) -> None:
    files = [write_pump_csv(tmp_path / f"r{i}.csv", seed=20 + i, n=400) for i in range(3)]
    common = ["--label-column", "anomaly", "--window", "12", "--stride", "6", "--epochs", "1",
              "--device", "cpu"]  # fmt: skip
    code, _, err = run(["train", *files, *common, "--alarm-budget", "off", "--out",
                        tmp_path / "off.flmodel"])  # fmt: skip
    assert code == 0, err
    off = load_model(tmp_path / "off.flmodel")
    assert off.alarm_budget is None and off.threshold == 0.5
    code, _, err = run(["train", *files, *common, "--alarm-budget", "2.5%", "--out",
                        tmp_path / "b.flmodel"])  # fmt: skip
    assert code == 0, err
    budgeted = load_model(tmp_path / "b.flmodel")
    assert budgeted.alarm_budget == pytest.approx(0.025) and 0.5 <= budgeted.threshold <= 1.0
    assert budgeted.metrics["calibration"]["threshold"] == budgeted.threshold
    with pytest.raises(SystemExit) as exit_info:  # argparse: usage error, exit status 2
        run(["train", *files, *common, "--alarm-budget", "150", "--out", tmp_path / "x.flmodel"])
    assert exit_info.value.code == 2 and not (tmp_path / "x.flmodel").exists()
