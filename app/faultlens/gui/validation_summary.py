"""ValidationSummary: what a trained model's validation says, in the training panel.

What the validation can tell about new recordings (the caveat and the alarm rule) leads,
then the overall figures, the confusion matrix (cells shaded by their share of the true
class) and precision / recall / F1 per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QResizeEvent
from PySide6.QtWidgets import QGroupBox, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout

from faultlens.core.checkpoint import TrainedModel
from faultlens.core.evaluation import alarm_rule_text, validation_caveat
from faultlens.core.recording import Recording

# The least height a table keeps: in a short dock the training panel scrolls instead.
TABLE_MIN_HEIGHT = 90


def heat_colour(fraction: float) -> QColor:
    """White to blue for 0..1 (confusion-matrix cells as a share of their true class)."""
    f = max(0.0, min(1.0, fraction))
    return QColor(int(255 - 200 * f), int(255 - 150 * f), 255)


class ValidationSummary(QGroupBox):
    """The "Validation summary" box: summary text, confusion matrix, per-class table."""

    def __init__(self) -> None:
        super().__init__("Validation summary")
        self.confusion = QTableWidget()
        self.confusion.setObjectName("confusion_matrix")
        self.confusion.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.confusion.setToolTip("Validation windows: rows = true class, columns = predicted")
        self.confusion.setMinimumHeight(TABLE_MIN_HEIGHT)
        self.per_class = QTableWidget(0, 4)
        self.per_class.setObjectName("per_class_metrics")
        self.per_class.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.per_class.setHorizontalHeaderLabels(["precision", "recall", "F1", "support"])
        self.per_class.setMinimumHeight(TABLE_MIN_HEIGHT)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("Confusion matrix (rows: true, columns: predicted)"))
        layout.addWidget(self.confusion)
        layout.addWidget(self.per_class)

    def clear(self) -> None:
        self.confusion.clear()
        self.confusion.setRowCount(0)
        self.confusion.setColumnCount(0)
        self.per_class.setRowCount(0)
        self.summary.clear()

    def show_metrics(
        self,
        metrics: dict[str, Any],
        class_names: tuple[str, ...],
        notes: Sequence[str] = (),
        alarm_rule: str = "",
    ) -> None:
        """Fill the confusion matrix and per-class table from a model's validation metrics;
        the summary leads with what the validation can tell about new recordings."""
        cm = np.asarray(metrics.get("confusion_matrix", []), dtype=np.int64)
        k = len(class_names)
        self.confusion.setRowCount(k)
        self.confusion.setColumnCount(k)
        self.confusion.setHorizontalHeaderLabels([f"→ {c}" for c in class_names])
        self.confusion.setVerticalHeaderLabels(list(class_names))
        if cm.shape == (k, k):
            row_sums = cm.sum(axis=1)
            for i in range(k):
                for j in range(k):
                    item = QTableWidgetItem(str(int(cm[i, j])))
                    share = cm[i, j] / row_sums[i] if row_sums[i] else 0.0
                    item.setBackground(QBrush(heat_colour(share)))
                    item.setToolTip(f"{share:.1%} of true '{class_names[i]}' windows")
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.confusion.setItem(i, j, item)
        self.confusion.resizeColumnsToContents()
        per_class = metrics.get("per_class", {})
        self.per_class.setRowCount(len(per_class))
        self.per_class.setVerticalHeaderLabels(list(per_class))
        for row, values in enumerate(per_class.values()):
            for col, key in enumerate(("precision", "recall", "f1", "support")):
                value = values.get(key, 0)
                text = f"{value:.3f}" if key != "support" else str(int(value))
                self.per_class.setItem(row, col, QTableWidgetItem(text))
        parts = [
            f"accuracy {metrics.get('accuracy', 0):.3f}",
            f"macro F1 {metrics.get('macro_f1', 0):.3f}",
        ]
        if metrics.get("false_alarm_rate") is not None:
            parts.append(f"false alarms {metrics['false_alarm_rate']:.1%}")
        if metrics.get("missed_alarm_rate") is not None:
            parts.append(f"missed {metrics['missed_alarm_rate']:.1%}")
        lead = [validation_caveat(metrics), f"Alarm rule: {alarm_rule}." if alarm_rule else ""]
        self.summary.setText(
            "\n".join([*(line for line in lead if line), " · ".join(parts)])
            + "".join(f"\nNote: {n}" for n in notes)
        )
        self.summary.setToolTip(self.summary.text())
        self._fit_summary()

    def _fit_summary(self) -> None:
        """Keep every line of the (word-wrapped) summary visible: Qt's layouts do not ask a
        wrapped label for its height at the width it gets, and cut its last lines."""
        height = self.summary.heightForWidth(self.summary.width())
        if height > 0:  # -1: no text yet, or no width
            self.summary.setMinimumHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_summary()


def _demo_widget(
    _recording: Recording, model: TrainedModel | None, _scan: object
) -> ValidationSummary:
    """The box as ``python -m`` opens it: the demo model's validation (also the smoke test)."""
    box = ValidationSummary()
    if model is not None:
        box.show_metrics(model.metrics, model.class_names, (), alarm_rule_text(model))
    return box


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
