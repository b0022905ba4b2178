"""The keyboard and mouse reference (F1 or ?)."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

# (keys, what they do). The main window binds exactly these; tests check both agree.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+O", "Open a recording"),
    ("Ctrl+W", "Close the current recording"),
    ("F5", "Reload the current recording from its file (a logger's file that has grown)"),
    ("Ctrl+L", "Load a model"),
    ("Ctrl+R", "Scan the current recording with the model"),
    ("Ctrl+T", "Show the training panel"),
    ("Ctrl+Q", "Quit"),
    ("Left / Right", "Scroll back / forward in time by a quarter of the view"),
    ("+ / -", "Zoom in / out around the centre of the view"),
    ("Home / End", "Go to the start / end of the recording"),
    ("Ctrl+0", "Show the whole recording"),
    ("Y", "Fit each channel's y axis tightly to the data in view (a lone spike may run off)"),
    ("N / P", "Next / previous fault event (zooms to it)"),
    ("M", "Measure: two cursors to drag, with the time between them and each channel's change"),
    (
        "I",
        "Inspector: why the model decided what it did at a row. Click a moment on the signals "
        "(or select an event); with the Inspector focused, Left / Right step one row, "
        "Shift+Left / Right one window",
    ),
    ("F1 or ?", "This help"),
)

MOUSE: tuple[tuple[str, str], ...] = (
    ("Drag", "Pan in time"),
    ("Wheel", "Zoom in time around the pointer"),
    ("Right-drag", "Zoom in time by dragging"),
    ("Click an event row", "Zoom to that event with some context"),
    ("Hover a hotspot marker", "Time, feature maxima and the channels involved"),
    ("Move over the plots", "Crosshair: the time and each channel's value under the pointer"),
    ("Drop files on the window", "Open them"),
)


def help_html(more_shortcuts: tuple[tuple[str, str], ...] = ()) -> str:
    """The help text; ``more_shortcuts`` are keys other modules bound (e.g. the review's)."""

    def table(rows: tuple[tuple[str, str], ...]) -> str:
        return "".join(
            f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows
        )

    return (
        "<h3>Keyboard</h3><table cellspacing='6'>"
        + table(SHORTCUTS + tuple(more_shortcuts))
        + "</table><h3>Mouse</h3><table cellspacing='6'>"
        + table(MOUSE)
        + "</table><h3>Reading the tracks</h3>"
        "<p><b>fault probability</b>: 1 − P(normal) at each row (the model's output for the "
        "window ending there); the dashed line is the detection threshold. Shaded stretches "
        "are flagged events, coloured by class; grey stretches are the file's own labels.</p>"
        "<p><b>attention</b>: how much the model attended to each row, relative to an "
        "ordinary row (1 = uniform, bright = the model looked here).</p>"
        "<p><b>max-pool hotspots</b>: how many of the model's features reached their "
        "maximum at each row; triangles mark the strongest hotspot of each event (hover for "
        "the channels involved).</p>"
    )


class HelpDialog(QDialog):
    def __init__(
        self, parent: QWidget | None = None, more_shortcuts: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("FaultLens help")
        browser = QTextBrowser()
        self.text = help_html(more_shortcuts)
        browser.setHtml(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(browser)
        layout.addWidget(buttons)
        self.resize(560, 620)


def _demo_widget(_recording: object, _model: object, _scan: object) -> HelpDialog:
    """The dialog as ``python -m`` opens it (also used by the smoke test)."""
    return HelpDialog()


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
