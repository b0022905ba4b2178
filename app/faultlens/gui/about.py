"""The About box: what this is and which versions it runs on."""

from __future__ import annotations

import html
import platform

import pyqtgraph as pg
import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from faultlens import __version__


def versions() -> dict[str, str]:
    """Versions of FaultLens and what it runs on (also useful in bug reports)."""
    import torch

    cuda = torch.version.cuda or "not built with CUDA"
    if torch.cuda.is_available():
        cuda += f" ({torch.cuda.get_device_name(0)})"
    elif torch.version.cuda:
        cuda += " (no GPU available)"
    return {
        "FaultLens": __version__,
        "Python": platform.python_version(),
        "PyTorch": torch.__version__,
        "CUDA": cuda,
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "pyqtgraph": pg.__version__,
    }


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About FaultLens")
        self.info = versions()
        rows = "".join(
            f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>"
            for k, v in self.info.items()
        )
        label = QLabel(
            "<h2>FaultLens</h2><p>Find, understand and report faults in recorded multichannel "
            "sensor data with an attention-LSTM and its own evidence.</p>"
            f"<table cellspacing='4'>{rows}</table>"
        )
        label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(buttons)


def _demo_widget(_recording: object, _model: object, _scan: object) -> AboutDialog:
    """The dialog as ``python -m`` opens it (also used by the smoke test)."""
    return AboutDialog()


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
