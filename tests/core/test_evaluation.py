"""Metrics against hand-computed examples and scikit-learn; event delays; label mapping."""

from __future__ import annotations

import numpy as np
import pytest

from faultlens.core.errors import RecordingError
from faultlens.core.evaluation import (
    classification_metrics,
    event_delays,
    format_metrics,
    label_indices,
    summarize_delays,
)
from faultlens.core.recording import Recording
from faultlens.core.scan import decide


def test_binary_metrics_by_hand() -> None:
    # 10 rows: TN=4, FP=1, FN=2, TP=3.
    y_true = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    y_pred = [0, 0, 0, 0, 1, 0, 0, 1, 1, 1]
    m = classification_metrics(y_true, y_pred, ["normal", "fault"])
    assert m["confusion_matrix"] == [[4, 1], [2, 3]]
    assert m["n"] == 10
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["false_alarm_rate"] == pytest.approx(1 / 5)
    assert m["missed_alarm_rate"] == pytest.approx(2 / 5)
    fault = m["per_class"]["fault"]
    assert fault["precision"] == pytest.approx(3 / 4)
    assert fault["recall"] == pytest.approx(3 / 5)
    assert fault["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert fault["support"] == 5
    normal = m["per_class"]["normal"]
    assert normal["precision"] == pytest.approx(4 / 6)
    assert normal["recall"] == pytest.approx(4 / 5)
    assert m["macro_f1"] == pytest.approx((fault["f1"] + normal["f1"]) / 2)
    assert m["detection"]["f1"] == pytest.approx(fault["f1"])


def test_unscored_rows_are_left_out_and_empty_class_is_zero_not_nan() -> None:
    m = classification_metrics([0, 0, -1, 1], [0, -1, 1, 0], ["normal", "a", "b"])
    assert m["n"] == 2  # rows 1 and 2 have no prediction / no label
    assert m["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["confusion_matrix"] == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert m["missed_alarm_rate"] == 1.0
    assert m["false_alarm_rate"] == 0.0


def test_multiclass_against_sklearn() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, 4, 500))
    m = classification_metrics(y_true, y_pred, ["n", "a", "b", "c"])
    assert np.array_equal(
        np.array(m["confusion_matrix"]), sklearn_metrics.confusion_matrix(y_true, y_pred)
    )
    assert m["macro_f1"] == pytest.approx(sklearn_metrics.f1_score(y_true, y_pred, average="macro"))
    assert m["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(y_true, y_pred))
    p, r, f, s = sklearn_metrics.precision_recall_fscore_support(y_true, y_pred)
    for i, name in enumerate(["n", "a", "b", "c"]):
        assert m["per_class"][name]["precision"] == pytest.approx(p[i])
        assert m["per_class"][name]["recall"] == pytest.approx(r[i])
        assert m["per_class"][name]["f1"] == pytest.approx(f[i])
        assert m["per_class"][name]["support"] == s[i]
    # FAR/MAR collapse every fault class into one.
    tn, fp, fn, tp = sklearn_metrics.confusion_matrix(y_true > 0, y_pred > 0).ravel()
    assert m["false_alarm_rate"] == pytest.approx(fp / (fp + tn))
    assert m["missed_alarm_rate"] == pytest.approx(fn / (fn + tp))
    text = format_metrics(m)
    assert "confusion matrix" in text and "FAR" in text


def test_event_delays_rows_and_seconds() -> None:
    y_true = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1])
    y_pred = np.array([1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1])
    d = event_delays(y_true, y_pred)
    assert [(e.start_row, e.end_row) for e in d] == [(1, 3), (6, 7), (9, 10)]
    assert [e.detected_row for e in d] == [3, None, 10]
    assert [e.delay for e in d] == [2.0, None, 1.0]
    time = np.arange(11) * 2.0 + 100
    d_s = event_delays(y_true, y_pred, time)
    assert [e.delay for e in d_s] == [4.0, None, 2.0] and d_s[0].unit == "s"
    s = summarize_delays(d)
    assert (s["events"], s["detected"], s["missed"]) == (3, 2, 1)
    assert s["mean_delay"] == pytest.approx(1.5)


def test_label_mapping_numbers_normal_and_unknown() -> None:
    data = np.zeros((5, 1), np.float32)
    rec = Recording.from_arrays(data, ["a"], labels=["0.0", "1.0", "", "ok", "1"])
    assert label_indices(rec, ("normal", "1")).tolist() == [0, 1, -1, 0, 1]
    # A binary model takes any non-normal label as its fault class.
    assert label_indices(rec, ("normal", "fault")).tolist() == [0, 1, -1, 0, 1]
    rec3 = Recording.from_arrays(data, ["a"], labels=["0", "leak", "leak", "0", "bogus"])
    with pytest.raises(RecordingError, match="bogus"):
        label_indices(rec3, ("normal", "leak", "valve"))
    with pytest.raises(RecordingError, match="label column"):
        label_indices(Recording.from_arrays(data, ["a"]), ("normal", "fault"))


def test_decide_rule() -> None:
    probs = np.array([[np.nan] * 3, [0.9, 0.05, 0.05], [0.3, 0.2, 0.5], [0.55, 0.4, 0.05]])
    fault = 1 - probs[:, 0]
    assert decide(probs, fault, 0.5).tolist() == [-1, 0, 2, 0]
    assert decide(probs, fault, 0.4).tolist() == [-1, 0, 2, 1]


def test_evaluate_scores_rows_with_labels_and_predictions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    from faultlens.core import events as events_mod
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.evaluation import evaluate_iter
    from faultlens.core.model import AttentionLSTM, ModelConfig
    from faultlens.core.options import ScanOptions
    from faultlens.core.progress import run_to_end
    from faultlens.core.scan import scan

    torch.manual_seed(0)
    config = ModelConfig(n_channels=2, n_classes=2, hidden=8, heads=2)
    model = TrainedModel(
        module=AttentionLSTM(config).eval(),
        config=config,
        channels=("a", "b"),
        class_names=("normal", "fault"),
        norm_mean=np.zeros(2, np.float32),
        norm_std=np.ones(2, np.float32),
        window=10,
        stride=2,
    )
    rng = np.random.default_rng(0)
    labels = np.array(["0"] * 60, dtype=object)
    labels[30:45] = "1"
    labels[5] = ""  # unlabelled rows are not scored either
    recs = [
        Recording.from_arrays(rng.normal(size=(60, 2)), ["a", "b"], labels=labels, path=f"{i}.csv")
        for i in range(2)
    ]
    reports = []
    report = run_to_end(evaluate_iter(model, recs, ScanOptions(device="cpu")), reports.append)
    assert [f.rows_scored for f in report.files] == [51, 51]  # rows 9..59
    assert report.metrics["n"] == 102
    assert sum(map(sum, report.metrics["confusion_matrix"])) == 102
    assert [len(f.delays) for f in report.files] == [1, 1]
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "per file" in report.to_text()

    # Only per-row predictions are scored: the events' channel attribution is not run (at
    # threshold 0 every scored row is in an event, which a scan would attribute).
    attributed = []
    real_attribution = events_mod.attribute_events
    monkeypatch.setattr(
        events_mod,
        "attribute_events",
        lambda *a, **k: attributed.append(1) or real_attribution(*a, **k),
    )
    every_row = ScanOptions(device="cpu", threshold=0.0)
    run_to_end(evaluate_iter(model, recs, every_row))
    assert attributed == []
    assert run_to_end(scan(model, recs[0], every_row)).events[0].top_channels
    assert attributed == [1]
