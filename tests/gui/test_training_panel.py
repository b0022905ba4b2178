"""Training panel: the validation summary shows its notes whole."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from faultlens.gui.training_panel import TrainingPanel


def test_validation_summary_is_never_cut(qtbot: QtBot) -> None:
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 900)  # a narrow dock: the summary wraps onto several lines
    panel.show()
    qtbot.waitExposed(panel)
    metrics = {
        "accuracy": 0.86,
        "macro_f1": 0.83,
        "false_alarm_rate": 0.098,
        "missed_alarm_rate": 0.238,
        "confusion_matrix": [[46, 5], [5, 16]],
        "per_class": {
            "normal": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 51},
            "leak": {"precision": 0.76, "recall": 0.76, "f1": 0.76, "support": 21},
        },
    }
    note = (
        "validation rests on 1 of 3 labelled recordings (r2.csv) alone, so its figures and "
        "the epoch kept are a rough guide; check the model on a recording it has not seen "
        "(faultlens evaluate)"
    )
    panel.show_metrics(metrics, ("normal", "leak"), [note])
    summary = panel.summary
    qtbot.waitUntil(lambda: summary.height() >= summary.heightForWidth(summary.width()))
    assert note in summary.text() and summary.toolTip() == summary.text()
    panel.resize(360, 900)  # narrower still: more lines, still all shown
    qtbot.waitUntil(lambda: summary.height() >= summary.heightForWidth(summary.width()))
