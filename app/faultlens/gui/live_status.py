"""LiveStatus: a live session's state in the window's status bar.

Three parts, left to right: the mode (following, or paused with how many rows arrived
since), the source's health (rows, rate, rows still to score, problems with the last one in
words, connection), and the alarm (red, with the class and time of the event that raised it,
until the engineer acknowledges it). The widget only shows what it is given; the live
controller decides what that is.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from faultlens.core.live.source import SourceHealth

MODE_STYLE = "padding: 0 6px; font-weight: bold; color: white; background: {colour};"
FOLLOWING_COLOUR = "#1a7f37"
PAUSED_COLOUR = "#9a6700"
STOPPING_COLOUR = "#57606a"
ALARM_STYLE = "padding: 0 8px; font-weight: bold; color: white; background: #cf222e;"
BEHIND_SHOWN = 10  # rows waiting for their score: fewer is the normal lag of one poll
CONNECTION_TEXT = {
    "connecting": "connecting…",
    "connected": "connected",
    "disconnected": "disconnected (retrying)",
    "closed": "closed",
}


def health_text(health: SourceHealth, rows: int, rate: float, behind: int) -> str:
    """One line: rows received, rate, rows still to score, problems and the connection."""
    parts = [f"{rows:,} rows", f"{rate:.1f} rows/s"]
    if behind > BEHIND_SHOWN:
        parts.append(f"scoring {behind:,} behind")
    parts.append(f"{health.problems:,} problem{'s' if health.problems != 1 else ''}")
    parts.append(CONNECTION_TEXT.get(health.connection, health.connection))
    return " · ".join(parts)


def health_tooltip(health: SourceHealth) -> str:
    """Every counter, the last error and the notes, for the hover."""
    lines = [
        f"malformed lines or messages: {health.malformed:,}",
        f"values that were not numbers: {health.bad_values:,}",
        f"values for unknown channels: {health.unknown_channels:,}",
        f"missing values: {health.missing_values:,}",
        f"times going backwards: {health.time_backwards:,}",
        f"reconnects: {health.reconnects:,}",
    ]
    if health.last_error:
        lines.append(f"last problem: {health.last_error}")
    lines += [f"note: {note}" for note in health.notes[-5:]]
    return "\n".join(lines)


class LiveStatus(QWidget):
    """Mode, health and alarm of the live session, for the status bar."""

    acknowledge_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("live_status")
        self.mode_label = QLabel()
        self.mode_label.setObjectName("live_mode")
        self.health_label = QLabel()
        self.health_label.setObjectName("live_health")
        self.error_label = QLabel()
        self.error_label.setObjectName("live_error")
        self.error_label.setStyleSheet("color: #9a6700;")
        self.error_label.setMaximumWidth(360)
        self.alarm_label = QLabel()
        self.alarm_label.setObjectName("live_alarm")
        self.alarm_label.setStyleSheet(ALARM_STYLE)
        self.acknowledge_button = QPushButton("Acknowledge")
        self.acknowledge_button.setObjectName("live_acknowledge")
        self.acknowledge_button.clicked.connect(self.acknowledge_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        for widget in (
            self.mode_label,
            self.health_label,
            self.error_label,
            self.alarm_label,
            self.acknowledge_button,
        ):
            layout.addWidget(widget)
        self.set_alarm("")
        self.error_label.hide()

    def set_mode(self, text: str, colour: str) -> None:
        self.mode_label.setText(text)
        self.mode_label.setStyleSheet(MODE_STYLE.format(colour=colour))

    def set_health(self, health: SourceHealth, rows: int, rate: float, behind: int) -> None:
        self.health_label.setText(health_text(health, rows, rate, behind))
        tip = health_tooltip(health)
        self.health_label.setToolTip(tip)
        error = health.last_error
        self.error_label.setVisible(bool(error))
        if error:
            elided = self.error_label.fontMetrics().elidedText(
                f"last problem: {error}",
                Qt.TextElideMode.ElideRight,
                self.error_label.maximumWidth(),
            )
            self.error_label.setText(elided)
            self.error_label.setToolTip(tip)

    def set_alarm(self, text: str) -> None:
        """Show ``text`` as the unacknowledged alarm; "" hides it."""
        self.alarm_label.setText(text)
        self.alarm_label.setVisible(bool(text))
        self.acknowledge_button.setVisible(bool(text))

    @property
    def alarm_text(self) -> str:
        return self.alarm_label.text() if self.alarm_label.isVisibleTo(self) else ""


def _demo_widget(_recording: object, _model: object, _scan: object) -> LiveStatus:
    """The status as ``python -m`` opens it: following, with a problem and an alarm."""
    status = LiveStatus()
    status.set_mode("● LIVE  following", FOLLOWING_COLOUR)
    health = SourceHealth(connection="connected", rows=12345, malformed=2)
    health.last_error = "line 1207: 3 fields, the header has 10"
    status.set_health(health, 12345, 10.0, 0)
    status.set_alarm("⚠ ALARM  cavitation at 2024-03-04T06:07:11")
    return status


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
