"""What the session's model is: classes, channels, window, training data and validation
metrics, and whether it fits the current recording."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from faultlens.core.checkpoint import TrainedModel
from faultlens.core.evaluation import alarm_rule_text, validation_caveat
from faultlens.core.recording import Recording
from faultlens.core.session import Session, SessionChange


def channel_mismatch(model: TrainedModel, recording: Recording) -> tuple[list[str], list[str]]:
    """(channels the model needs that the recording lacks, recording channels it ignores)."""
    present = set(recording.channels)
    wanted = set(model.channels)
    missing = [c for c in model.channels if c not in present]
    extra = [c for c in recording.channels if c not in wanted]
    return missing, extra


def training_file_names(
    files: list[dict[str, Any]], open_names: Mapping[str, str] | None = None
) -> list[str]:
    """The names of a model's training files, told apart where two share a file name: by
    the name the session shows for an open recording with that content (``open_names``:
    content hash -> display name), else by the start of the content hash."""
    open_names = open_names or {}
    names = [str(d.get("file", "?")) for d in files]
    shown = []
    for d, name in zip(files, names, strict=True):
        sha = str(d.get("sha256", ""))
        if names.count(name) > 1:
            name = open_names.get(sha) or f"{name} (sha256 {sha[:8] or '?'})"
        shown.append(name)
    return shown


def model_summary_html(
    model: TrainedModel,
    recording: Recording | None = None,
    recording_name: str | None = None,
    open_names: Mapping[str, str] | None = None,
) -> str:
    """A readable description of a TrainedModel (and its fit to ``recording``, shown as
    ``recording_name``; ``open_names`` tells same-named training files apart)."""
    rows: list[tuple[str, str]] = [
        ("Classes", ", ".join(model.class_names) + " (first = normal)"),
        ("Channels", ", ".join(model.channels)),
        ("Window / stride", f"{model.window} / {model.stride} rows"),
    ]
    config = getattr(model, "config", None)
    if config is not None:
        rows.append(
            (
                "Network",
                f"2 residual LSTM layers, hidden {getattr(config, 'hidden', '?')}, "
                f"{getattr(config, 'heads', '?')}-head self-attention, max+mean pooling",
            )
        )
        rows.append(("Inputs", config.describe_inputs()))
    if model.label_column:
        rows.append(("Label column", model.label_column))
    files = model.training_data or []
    if files:
        names = training_file_names(files, open_names)
        shown = ", ".join(
            f"{name} ({d.get('rows', '?')} rows)" for name, d in zip(names[:8], files, strict=False)
        )
        more = f" and {len(files) - 8} more" if len(files) > 8 else ""
        rows.append(("Trained on", shown + more))
    metrics = model.metrics or {}
    rows.append(("Alarm rule", alarm_rule_text(model)))
    caveat = validation_caveat(metrics)
    if caveat:
        rows.append(("What validation tells", caveat))
    if metrics:
        parts = [f"accuracy {metrics.get('accuracy', 0):.3f}"]
        parts.append(f"macro F1 {metrics.get('macro_f1', 0):.3f}")
        if metrics.get("false_alarm_rate") is not None:
            parts.append(f"false alarms {metrics['false_alarm_rate']:.1%}")
        if metrics.get("missed_alarm_rate") is not None:
            parts.append(f"missed alarms {metrics['missed_alarm_rate']:.1%}")
        rows.append(("Validation", ", ".join(parts)))
        per_class = metrics.get("per_class") or {}
        for name, values in per_class.items():
            rows.append(
                (
                    f"  {name}",
                    f"precision {values.get('precision', 0):.3f}, recall "
                    f"{values.get('recall', 0):.3f}, F1 {values.get('f1', 0):.3f}, "
                    f"support {values.get('support', 0)}",
                )
            )
    rows.append(("Seed / device", f"{model.seed} / {model.device}"))
    if model.created:
        rows.append(("Created", model.created))
    if model.versions:
        rows.append(("Versions", ", ".join(f"{k} {v}" for k, v in model.versions.items())))
    fit_key = None
    if recording is not None:
        fit_key = recording_name or recording.name
        missing, _extra = channel_mismatch(model, recording)
        fit = (
            f"<span style='color:#b00020'>lacks {html.escape(', '.join(missing))}</span>"
            if missing
            else "<span style='color:#00703c'>has every channel the model needs</span>"
        )
        rows.append((fit_key, fit))
    body = "".join(
        f"<tr><td valign='top'><b>{html.escape(k)}</b></td>"
        f"<td>{v if k == fit_key else html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table cellspacing='4'>{body}</table>"


class ModelInfo(QWidget):
    """A read-only view of the session's model and its fit to the current recording."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("model_info")
        self.session = session
        self.browser = QTextBrowser()
        self.browser.setPlaceholderText("No model loaded. Train one, or use Model > Load Model…")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)
        unsubscribe = session.subscribe(self._on_session_changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        self.refresh()

    def _on_session_changed(self, change: SessionChange) -> None:
        if change.kind in ("model", "current", "recordings"):
            self.refresh()

    def refresh(self) -> None:
        model = self.session.model
        if model is None:
            self.browser.clear()
            return
        entry = self.session.current
        open_names = {
            e.recording.content_hash: self.session.display_name(e.id) for e in self.session
        }
        self.browser.setHtml(
            model_summary_html(
                model,
                entry.recording if entry else None,
                self.session.display_name(entry.id) if entry else None,
                open_names,
            )
        )


def _demo_widget(recording: Recording, model: TrainedModel | None, _scan: object) -> ModelInfo:
    """The widget as ``python -m`` opens it on the demo data (also used by the smoke test)."""
    session = Session()
    session.add(recording)
    session.set_model(model)
    return ModelInfo(session)


if __name__ == "__main__":
    from faultlens.gui._demo import demo_main

    demo_main(_demo_widget)
