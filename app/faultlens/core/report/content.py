"""What a fault report says: the facts the HTML and the PDF both render.

One list per block (the title block, data quality, the model card, the scan, each event's
details), so the two formats say the same; each renderer only decides how a block looks.
Values are plain text here: escaping is the HTML renderer's job, mathtext off the PDF's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faultlens import __version__
from faultlens.core.evaluation import alarm_rule_text, validation_caveat
from faultlens.core.events import FaultEvent
from faultlens.core.recording import Recording
from faultlens.core.review import current_user

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.explain import Explanation
    from faultlens.core.review import EventDecision, Review
    from faultlens.core.scan import ScanResult


@dataclass(frozen=True)
class EventEntry:
    """One event as the report shows it: the scan's event with the review's decision."""

    index: int  # 1-based
    event: FaultEvent
    decision: EventDecision | None

    @property
    def status(self) -> str:
        return self.decision.status if self.decision is not None else "unreviewed"

    @property
    def final_class(self) -> str:
        """The class after review ('normal'-dismissed events show as 'dismissed')."""
        if self.decision is None:
            return self.event.class_name
        if self.decision.status == "dismissed":
            return "(dismissed)"
        return self.decision.reviewed_class or self.event.class_name

    @property
    def note(self) -> str:
        return self.decision.note if self.decision is not None else ""


def event_entries(events: Sequence[FaultEvent], review: Review | None) -> list[EventEntry]:
    """The report's events, numbered from 1, each with the review's decision (if any)."""
    return [
        EventEntry(i + 1, e, None if review is None else review.decision(e))
        for i, e in enumerate(events)
    ]


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.4g}"
    return str(value)


def channels_text(event: FaultEvent) -> str:
    """The channels that drove the event with their shares: ``"b (75%), a (12%)"``."""
    if not event.top_channels:
        return "–"
    parts = []
    for i, name in enumerate(event.top_channels):
        share = event.channel_scores[i] if i < len(event.channel_scores) else None
        parts.append(name if share is None else f"{name} ({share:.0%})")
    return ", ".join(parts)


def time_span(recording: Recording) -> str:
    """First and last time of the recording, and the span in seconds when known."""
    if recording.n_rows == 0:
        return "empty"
    first, last = recording.format_time(0), recording.format_time(recording.n_rows - 1)
    q = recording.quality
    span = f" ({q.time_span_s:g} s)" if q is not None and q.time_span_s is not None else ""
    return f"{first} – {last}{span}"


def _model_fingerprint(model: TrainedModel | None, result: ScanResult) -> str:
    if result.model_fingerprint:
        return result.model_fingerprint
    return model.fingerprint if model is not None else ""


def title_rows(
    recording: Recording,
    result: ScanResult,
    model: TrainedModel | None,
    review: Review | None,
    created: str,
) -> list[tuple[str, str]]:
    """The block under a report's title, one list for HTML and PDF so both say the same:
    what was analysed, with which model and FaultLens, when, and who reviewed it."""
    reviewers = review.reviewers() if review is not None else []
    return [
        ("Recording", str(recording.path)),
        ("Content sha256", recording.content_hash or "–"),
        ("Rows", str(recording.n_rows)),
        ("Time span", time_span(recording)),
        ("Model fingerprint", _model_fingerprint(model, result)[:16] or "–"),
        ("Report created", f"{created} by {current_user()}"),
        ("Reviewed by", ", ".join(reviewers) or "not reviewed"),
        ("FaultLens version", __version__),
    ]


def quality_rows(recording: Recording) -> list[tuple[str, str]]:
    """The import's data-quality report (none when the recording has none)."""
    q = recording.quality
    if q is None:
        return []
    missing = {k: v for k, v in q.missing_per_channel.items() if v}
    rows = [
        ("Rows × channels", f"{q.rows} × {q.channels}"),
        ("Time span", _fmt(q.time_span_s, 1) + " s" if q.time_span_s is not None else "–"),
        (
            "Sampling interval (median)",
            _fmt(q.sampling_interval_median_s, 3) + " s"
            if q.sampling_interval_median_s is not None
            else "–",
        ),
        (
            "Irregular intervals",
            f"{q.sampling_irregularity:.1%}" if q.sampling_irregularity is not None else "–",
        ),
        ("Longest gap", _fmt(q.max_gap_s, 1) + " s" if q.max_gap_s is not None else "–"),
        (
            "Missing values",
            ", ".join(f"{k}: {v}" for k, v in missing.items()) if missing else "none",
        ),
        ("Duplicate timestamps", str(q.duplicate_timestamps)),
        ("Out-of-order timestamps", str(q.non_monotonic_timestamps)),
        ("Flat-lined channels", ", ".join(q.flat_channels) or "none"),
        (
            "Columns not used",
            "; ".join(f"{k} ({v})" for k, v in q.excluded_columns.items()) or "none",
        ),
    ]
    rows += [("Warning", w) for w in q.warnings]
    return rows


def model_rows(model: TrainedModel | None, result: ScanResult) -> list[tuple[str, str]]:
    """The model card: what the model is, what it was trained on, how it alarms and how
    well it did on validation (the fingerprint and classes only without the model)."""
    rows = [("Fingerprint", _model_fingerprint(model, result)[:16] or "–")]
    if model is None:
        rows.append(("Classes", ", ".join(result.class_names)))
        return rows
    rows += [
        ("Classes", ", ".join(model.class_names)),
        ("Channels", ", ".join(model.channels)),
        ("Window / stride", f"{model.window} / {model.stride} rows"),
        ("Inputs", model.config.describe_inputs()),
        ("Created", model.created or "–"),
        ("Trained on", model.device or "–"),
        ("Seed", str(model.seed)),
    ]
    for item in model.training_data:
        rows.append(
            (
                "Training file",
                f"{item.get('file', '?')} ({item.get('rows', '?')} rows, "
                f"sha256 {str(item.get('sha256', ''))[:12]})",
            )
        )
    m = model.metrics or {}
    rows.append(("Alarm rule", alarm_rule_text(model)))
    if validation_caveat(m):
        rows.append(("What validation tells", validation_caveat(m)))
    for key, label in (
        ("accuracy", "Validation accuracy"),
        ("macro_f1", "Validation macro F1"),
        ("false_alarm_rate", "False alarm rate"),
        ("missed_alarm_rate", "Missed alarm rate"),
    ):
        if isinstance(m.get(key), (int, float)):
            rows.append((label, _fmt(float(m[key]))))
    if model.versions:
        rows.append(("Versions", ", ".join(f"{k} {v}" for k, v in model.versions.items())))
    return rows


def per_class_rows(model: TrainedModel | None) -> list[list[str]]:
    """Validation per class: [class, precision, recall, F1, support] as text."""
    per_class = (model.metrics or {}).get("per_class") if model is not None else None
    if not isinstance(per_class, dict):
        return []
    out = []
    for name, vals in per_class.items():
        if not isinstance(vals, dict):
            continue
        out.append(
            [str(name)]
            + [_fmt(vals.get(k)) for k in ("precision", "recall", "f1")]
            + [_fmt(vals.get("support"))]
        )
    return out


def summary_rows(
    recording: Recording,
    model: TrainedModel | None,
    entries: Sequence[EventEntry],
) -> list[tuple[str, str]]:
    """What a reader needs first: how many events of which class, how much of the recording
    they cover, what review made of them, and how far the model's figures can be trusted."""
    by_class: dict[str, int] = {}
    by_status: dict[str, int] = {}
    rows_flagged = 0
    for en in entries:
        by_class[en.event.class_name] = by_class.get(en.event.class_name, 0) + 1
        by_status[en.status] = by_status.get(en.status, 0) + 1
        rows_flagged += en.event.rows
    share = rows_flagged / recording.n_rows if recording.n_rows else 0.0
    classes = ", ".join(
        f"{n} {name}" for name, n in sorted(by_class.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    rows = [
        ("Recording", f"{recording.name}: {recording.n_rows} rows, {time_span(recording)}"),
        ("Events", f"{len(entries)}" + (f" ({classes})" if classes else "")),
        ("Flagged", f"{rows_flagged} rows, {share:.1%} of the recording"),
        ("Review", ", ".join(f"{n} {status}" for status, n in by_status.items()) or "–"),
    ]
    if model is not None:
        m = model.metrics or {}
        figures = [
            f"{label} {_fmt(float(m[key]))}"
            for key, label in (("macro_f1", "macro F1"), ("false_alarm_rate", "false alarms"))
            if isinstance(m.get(key), (int, float))
        ]
        standing = "validation " + ", ".join(figures) if figures else "no validation figures"
        caveat = validation_caveat(m)
        rows.append(("Model", f"{standing}. {caveat}" if caveat else standing))
    return rows


def scan_rows(result: ScanResult, entries: Sequence[EventEntry]) -> list[tuple[str, str]]:
    """How the scan decided (threshold, event rules, device) and what review made of it."""
    o = result.options
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.status] = counts.get(e.status, 0) + 1
    review_text = ", ".join(f"{v} {k}" for k, v in counts.items()) or "–"
    return [
        ("Threshold", _fmt(o.threshold, 2)),
        ("Min duration / merge gap", f"{o.min_duration_rows} / {o.merge_gap_rows} rows"),
        ("Scan device", result.device),
        ("Events flagged", str(len(entries))),
        ("Review", review_text),
    ]


def event_details(en: EventEntry) -> list[tuple[str, str]]:
    """One event's facts and its review, as the HTML's table under its figure shows them."""
    ev = en.event
    rows = [
        ("Rows", f"{ev.start_row} – {ev.end_row} ({ev.end_row - ev.start_row + 1} rows)"),
        ("Time", f"{ev.start_time} – {ev.end_time}"),
        ("Duration", ev.duration_text),
        ("Model class", ev.class_name),
        ("Fault probability", f"peak {ev.peak_probability:.3f}, mean {ev.mean_probability:.3f}"),
        ("Channels that drove it", channels_text(ev)),
        ("Review", en.status),
    ]
    d = en.decision
    if d is not None and d.status == "relabelled":
        rows.append(("Relabelled as", d.relabel))
    if d is not None and d.reviewer and d.status != "unreviewed":
        rows.append(("Reviewed by", f"{d.reviewer}, {d.changed}"))
    return rows


def inspector_caption(exp: Explanation, recording: Recording, detailed_events: int) -> str:
    """The line under an event's inspector view: which decision it shows, against what, and
    (where the contribution was not computed) how to get it."""
    text = (
        f"Below the figure: the decision at the peak row {exp.row} of the event "
        f"({recording.format_time(exp.row)}), from the {exp.window} rows up to it: "
        f"{exp.predicted}, fault probability {exp.fault_probability:.2f}. "
        f"{exp.reference_text(recording).capitalize()}."
    )
    if not exp.contribution.any():
        text += (
            f" The contribution per channel and step is drawn for the first {detailed_events} "
            f"events; for this one: faultlens explain {recording.name} --model MODEL "
            f"--at {exp.row} --before {exp.before} --png OUT.png."
        )
    return text
