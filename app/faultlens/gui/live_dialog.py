"""File > Monitor Live Source: where the rows come from, how long a stretch to follow, and
where they are recorded.

A source is a CSV file another program appends to (followed from its start or from its
end) or MQTT topics (broker, topics with wildcards, login, TLS, where each row's time comes
from, which channels to record). The settings are kept for next time, except the password.
The dialog stays open while the source starts: if it cannot (no such file, no broker there,
channels the model does not know), it says why under the fields, and nothing is left
running.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from faultlens.core.live.source import Source
from faultlens.gui import settings as gui_settings

if TYPE_CHECKING:
    from faultlens.gui.live_controller import LiveController
    from faultlens.gui.main_window import MainWindow

CSV_FILTER = "CSV files (*.csv *.tsv *.txt *.dat);;All files (*)"
ERROR_STYLE = "color: #cf222e;"


@dataclass(frozen=True)
class LiveSettings:
    """What the dialog asks, as plain values (the password is never stored)."""

    kind: str = "csv"  # "csv" or "mqtt"
    csv_path: str = ""
    from_start: bool = False
    host: str = "127.0.0.1"
    port: int = 1883
    topics: str = "#"
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    time_source: str = "payload"  # or "arrival"
    time_key: str = "time"
    channels_from_model: bool = True
    window_min: float = 10.0
    record_to: str = ""
    scan: bool = True
    beep: bool = False

    def topic_list(self) -> list[str]:
        """Topics as typed, separated by commas or spaces."""
        return [t for t in self.topics.replace(",", " ").split() if t]


def default_record_path(settings: LiveSettings) -> Path:
    """A new timestamped CSV: next to the followed file, or in the user's data folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if settings.kind == "csv" and settings.csv_path:
        followed = Path(settings.csv_path)
        return followed.with_name(f"{followed.stem}_live_{stamp}.csv")
    data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    folder = Path(data) if data else Path.home() / ".faultlens"
    host = "".join(c if c.isalnum() else "_" for c in settings.host) or "mqtt"
    return folder / "live" / f"mqtt_{host}_{stamp}.csv"


def problems(settings: LiveSettings, model_channels: tuple[str, ...] | None) -> list[str]:
    """What keeps ``settings`` from starting, one sentence each (empty: they can start)."""
    found: list[str] = []
    if settings.kind == "csv":
        path = Path(settings.csv_path) if settings.csv_path.strip() else None
        if path is None:
            found.append("Choose the CSV file to follow (Browse…).")
        elif not path.is_file():
            found.append(f"{path}: no such file; the logger must have created it first.")
    else:
        if not settings.host.strip():
            found.append("Enter the broker's host name or address.")
        if not settings.topic_list():
            found.append("Enter at least one topic (wildcards + and # allowed).")
        if settings.tls and settings.ca_file and not Path(settings.ca_file).is_file():
            found.append(f"{settings.ca_file}: no such CA file.")
        if settings.time_source == "payload" and not settings.time_key.strip():
            found.append("Enter the payload key holding the time, or use the arrival time.")
        if settings.channels_from_model and model_channels is None:
            found.append("No model is loaded: take the channels from the first message.")
    if settings.window_min <= 0:
        found.append("The time window must be longer than zero.")
    record = Path(settings.record_to) if settings.record_to.strip() else None
    if record is None:
        found.append("Choose where to record the rows received.")
    else:
        if record.exists():
            found.append(f"{record}: exists already; choose a new file name to record to.")
        followed = Path(settings.csv_path) if settings.csv_path else None
        if settings.kind == "csv" and followed and record.resolve() == followed.resolve():
            found.append("Record to another file than the one followed.")
    return found


def build_source(settings: LiveSettings, model_channels: tuple[str, ...] | None) -> Source:
    """The live source the settings describe (not started)."""
    if settings.kind == "csv":
        from faultlens.core.live.csv_source import CsvFollower

        return CsvFollower(settings.csv_path, from_start=settings.from_start)
    from faultlens.core.live.mqtt_source import MqttSource

    return MqttSource(
        settings.host.strip(),
        settings.port,
        settings.topic_list(),
        channels=model_channels if settings.channels_from_model else None,
        username=settings.username or None,
        password=settings.password or None,
        tls=settings.tls,
        ca_file=settings.ca_file or None,
        time_source="payload" if settings.time_source == "payload" else "arrival",
        time_key=settings.time_key.strip() or "time",
    )


# ------------------------------------------------------------------ settings kept
_KEYS = {
    "kind": str,
    "csv_path": str,
    "from_start": bool,
    "host": str,
    "port": int,
    "topics": str,
    "username": str,
    "tls": bool,
    "ca_file": str,
    "time_source": str,
    "time_key": str,
    "channels_from_model": bool,
    "window_min": float,
    "scan": bool,
    "beep": bool,
}


def load_settings() -> LiveSettings:
    """The settings used last (record_to is fresh each time; the password is never kept)."""
    store = gui_settings.settings()
    values: dict[str, object] = {}
    defaults = LiveSettings()
    for key, kind in _KEYS.items():
        raw = store.value(f"live/{key}")
        if raw is None:
            continue
        try:
            if kind is bool:
                values[key] = raw.lower() == "true" if isinstance(raw, str) else bool(raw)
            else:
                values[key] = kind(raw)
        except (TypeError, ValueError):
            values[key] = getattr(defaults, key)
    return LiveSettings(**values)  # type: ignore[arg-type]


def save_settings(settings: LiveSettings) -> None:
    store = gui_settings.settings()
    for key in _KEYS:
        store.setValue(f"live/{key}", getattr(settings, key))


class LiveDialog(QDialog):
    """Choose a live source and start monitoring it (File > Monitor Live Source…)."""

    def __init__(self, window: MainWindow, controller: LiveController) -> None:
        super().__init__(window)
        self.setObjectName("live_dialog")
        self.setWindowTitle("Monitor Live Source")
        self.window_ = window
        self.controller = controller
        self._record_edited = False
        self._starting = False
        saved = load_settings()
        model = window.session.model

        self.tabs = QTabWidget()
        # --- CSV
        csv_page = QWidget()
        csv_form = QFormLayout(csv_page)
        self.csv_path = QLineEdit(saved.csv_path)
        self.csv_path.setPlaceholderText("the CSV file a logger appends to")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_csv)
        row = QHBoxLayout()
        row.addWidget(self.csv_path, 1)
        row.addWidget(browse)
        csv_form.addRow("File:", row)
        self.from_end = QRadioButton("New rows only (from the end)")
        self.from_start = QRadioButton("Every row (from the start)")
        self._from_group = QButtonGroup(self)
        self._from_group.addButton(self.from_end)
        self._from_group.addButton(self.from_start)
        (self.from_start if saved.from_start else self.from_end).setChecked(True)
        follow = QVBoxLayout()
        follow.addWidget(self.from_end)
        follow.addWidget(self.from_start)
        csv_form.addRow("Follow:", follow)
        self.tabs.addTab(csv_page, "CSV file")
        # --- MQTT
        mqtt_page = QWidget()
        form = QFormLayout(mqtt_page)
        self.host = QLineEdit(saved.host)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(saved.port)
        broker = QHBoxLayout()
        broker.addWidget(self.host, 1)
        broker.addWidget(QLabel("Port:"))
        broker.addWidget(self.port)
        form.addRow("Broker:", broker)
        self.topics = QLineEdit(saved.topics)
        self.topics.setPlaceholderText("plant/pump1/#, plant/+/flow")
        self.topics.setToolTip("Topics separated by commas; + matches one level, # the rest")
        form.addRow("Topics:", self.topics)
        self.username = QLineEdit(saved.username)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("not saved")
        login = QHBoxLayout()
        login.addWidget(self.username)
        login.addWidget(QLabel("Password:"))
        login.addWidget(self.password)
        form.addRow("User:", login)
        self.tls = QCheckBox("TLS")
        self.tls.setChecked(saved.tls)
        self.ca_file = QLineEdit(saved.ca_file)
        self.ca_file.setPlaceholderText("CA certificate (empty: the system's)")
        ca_browse = QPushButton("Browse…")
        ca_browse.clicked.connect(self._on_browse_ca)
        tls_row = QHBoxLayout()
        tls_row.addWidget(self.tls)
        tls_row.addWidget(self.ca_file, 1)
        tls_row.addWidget(ca_browse)
        form.addRow("Security:", tls_row)
        self.time_source = QComboBox()
        self.time_source.addItem("from the payload key", "payload")
        self.time_source.addItem("arrival time", "arrival")
        self.time_source.setCurrentIndex(0 if saved.time_source == "payload" else 1)
        self.time_key = QLineEdit(saved.time_key)
        time_row = QHBoxLayout()
        time_row.addWidget(self.time_source)
        time_row.addWidget(self.time_key, 1)
        form.addRow("Time:", time_row)
        self.channels_from = QComboBox()
        self.channels_from.addItem("the loaded model's channels", True)
        self.channels_from.addItem("the keys of the first message", False)
        self.channels_from.setCurrentIndex(0 if saved.channels_from_model and model else 1)
        form.addRow("Channels:", self.channels_from)
        self.tabs.addTab(mqtt_page, "MQTT")
        self.tabs.setCurrentIndex(1 if saved.kind == "mqtt" else 0)

        # --- common
        common = QFormLayout()
        self.window_min = QDoubleSpinBox()
        self.window_min.setRange(0.05, 24 * 60)
        self.window_min.setDecimals(2)
        self.window_min.setSuffix(" min")
        self.window_min.setValue(saved.window_min)
        self.window_min.setToolTip("How much of the newest data the view shows while following")
        common.addRow("Time window:", self.window_min)
        self.record_to = QLineEdit()
        self.record_to.textEdited.connect(self._on_record_edited)
        record_browse = QPushButton("Browse…")
        record_browse.clicked.connect(self._on_browse_record)
        record_row = QHBoxLayout()
        record_row.addWidget(self.record_to, 1)
        record_row.addWidget(record_browse)
        common.addRow("Record to:", record_row)
        name = f" ({model.path.name})" if model is not None and model.path else ""
        self.scan = QCheckBox(f"Scan with the loaded model{name}")
        self.scan.setChecked(model is not None and saved.scan)
        self.scan.setEnabled(model is not None)
        if model is None:
            self.scan.setToolTip("Load or train a model to scan as rows arrive")
        common.addRow("", self.scan)
        self.beep = QCheckBox("Sound an alarm when an event opens")
        self.beep.setChecked(saved.beep)
        common.addRow("", self.beep)

        self.message = QLabel()
        self.message.setObjectName("live_dialog_message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.start_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Start Monitoring")
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addLayout(common)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        for edit in (self.csv_path, self.host):
            edit.textChanged.connect(self._update_record_default)
        self.tabs.currentChanged.connect(self._update_record_default)
        self._update_record_default()
        controller.started.connect(self._on_started)
        controller.start_failed.connect(self._on_start_failed)
        self.resize(640, self.sizeHint().height())

    # ------------------------------------------------------------------ values
    def settings(self) -> LiveSettings:
        return LiveSettings(
            kind="mqtt" if self.tabs.currentIndex() == 1 else "csv",
            csv_path=self.csv_path.text().strip(),
            from_start=self.from_start.isChecked(),
            host=self.host.text().strip(),
            port=self.port.value(),
            topics=self.topics.text().strip(),
            username=self.username.text().strip(),
            password=self.password.text(),
            tls=self.tls.isChecked(),
            ca_file=self.ca_file.text().strip(),
            time_source=str(self.time_source.currentData()),
            time_key=self.time_key.text().strip(),
            channels_from_model=bool(self.channels_from.currentData()),
            window_min=self.window_min.value(),
            record_to=self.record_to.text().strip(),
            scan=self.scan.isChecked(),
            beep=self.beep.isChecked(),
        )

    def _model_channels(self) -> tuple[str, ...] | None:
        model = self.window_.session.model
        return tuple(model.channels) if model is not None else None

    def _update_record_default(self, *_args: object) -> None:
        if not self._record_edited:
            self.record_to.setText(str(default_record_path(self.settings())))
        self.record_to.setToolTip(self.record_to.text())

    def _on_record_edited(self, _text: str) -> None:
        self._record_edited = True

    # ------------------------------------------------------------------ browsing
    def _on_browse_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "CSV file to follow", gui_settings.last_directory("recording"), CSV_FILTER
        )
        if path:
            self.csv_path.setText(path)

    def _on_browse_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CA certificate", str(Path.home()))
        if path:
            self.ca_file.setText(path)

    def _on_browse_record(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Record to", self.record_to.text(), "CSV files (*.csv)"
        )
        if path:
            self.record_to.setText(path)
            self._record_edited = True

    # ------------------------------------------------------------------ starting
    def start(self) -> bool:
        """Check the settings, build the source and start it; False (with the reason shown
        under the fields) when they cannot start. The dialog closes once the source runs."""
        if self._starting:
            return False
        settings = self.settings()
        channels = self._model_channels()
        found = problems(settings, channels)
        if found:
            self.message.setText("\n".join(found))
            return False
        try:
            source = build_source(settings, channels)
        except (ValueError, OSError) as err:
            self.message.setText(str(err))
            return False
        save_settings(settings)
        record = Path(settings.record_to)
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self.message.setText(f"{record.parent}: cannot create the folder ({err.strerror}).")
            return False
        task = self.controller.start(
            source,
            model=self.window_.session.model if settings.scan else None,
            record_to=record,
            window_s=settings.window_min * 60.0,
            beep=settings.beep,
        )
        if task is None:
            self.message.setText("A live source is monitored already; stop it first.")
            return False
        self._starting = True
        self.message.setStyleSheet("")
        self.message.setText(f"Starting {source.description}…")
        self.start_button.setEnabled(False)
        return True

    def reject(self) -> None:
        """Cancel: a source still starting (a broker slow to answer) is stopped too."""
        if self._starting:
            self._starting = False
            self.controller.stop()
        super().reject()

    def _on_started(self) -> None:
        if self._starting:
            self._starting = False
            self.accept()

    def _on_start_failed(self, message: str) -> None:
        if not self._starting:
            return
        self._starting = False
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(f"Could not start: {message}")
        self.start_button.setEnabled(True)
