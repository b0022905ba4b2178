"""Fault reports: a self-contained HTML file or a PDF, and the event list as CSV/JSON.

``write_report`` is a generator that yields ``Progress`` (one step per event) and returns the
path written, so the GUI runs it in a worker with a progress bar and Cancel, and the CLI
drains it with ``run_to_end``. The file is written atomically: a failed or cancelled export
leaves nothing behind (and an older report of the same name untouched).

HTML: one file with inline CSS and figures embedded as base64 PNG; no external references.
PDF: matplotlib's ``PdfPages`` — chosen because it needs nothing beyond matplotlib (already
used for the figures) and runs headless in the core without Qt. The event figures are the
same blitted rasters as in the HTML (at print resolution); text is text, in the PDF's
built-in Helvetica where it has the letters (``_save_pdf_page``).

Speed (issue #5: 200 events in a few seconds, off the GUI thread): see
``benchmarks/bench_report.py`` for the figures and what each step cost.

Every string that comes from a CSV, a model file or a note is escaped: ``html.escape`` in
HTML, mathtext off in figures.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import html
import itertools
import logging
import math
import textwrap
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faultlens import __version__
from faultlens.core.atomic import atomic_open
from faultlens.core.detection import (
    EVENT_FIELDS,
    EVENTS_FORMAT,  # noqa: F401  (re-exported)
    EVENTS_VERSION,  # noqa: F401  (re-exported)
    FaultEvent,
    ScanResult,
    event_dicts,
    read_events_with,
)
from faultlens.core.detection import write_events as _write_event_file
from faultlens.core.errors import ReportError
from faultlens.core.evaluation import alarm_rule_text, validation_caveat
from faultlens.core.progress import Cancelled, Progress, ShouldStop, never_stop, run_to_end
from faultlens.core.recording import Recording
from faultlens.core.review import EventDecision, Review, current_user, now_iso

REPORT_SUFFIXES = (".html", ".htm", ".pdf")
EVENT_SUFFIXES = (".csv", ".json")
# Event file columns, in order: the event number, the scan engine's event fields
# (faultlens.core.detection, which writes and reads every event file), the review block; then
# channel_1, score_1, channel_2, score_2 ... as many as the widest event needs.
REVIEW_COLUMNS = ("review_status", "reviewed_class", "review_note", "reviewer", "reviewed_at")
EVENT_COLUMNS = ("event", *EVENT_FIELDS, *REVIEW_COLUMNS)
EVENTS_PER_PDF_PAGE = 2
PDF_FIGURE_DPI = 100
PDF_LEGEND = (
    "Blue: signal of the top channels of the event (value range in brackets) · red: fault "
    "probability · orange: attention,\nscaled to the strongest row shown · purple triangles "
    "and circles: max-pool hotspots · red band: the flagged event · dashed: detection threshold"
)
SUMMARY_ROWS_PER_PDF_PAGE = 38
PNG_QUEUE = 4  # event figures drawn ahead of their PNG encoding (a thread's work)


# ---------------------------------------------------------------- errors
def _os_error(path: Path, err: OSError) -> ReportError:
    """A one-line ReportError that says why the file could not be written and what to do."""
    if err.errno == errno.ENOSPC:
        why = "the disk is full; free some space or choose another disk"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied; choose a folder you can write to"
    elif err.errno == errno.ENOENT:
        why = f"the folder {path.parent} does not exist; choose an existing folder"
    elif err.errno == errno.EISDIR:
        why = "a folder has this name; choose a file name"
    else:
        why = f"{err.strerror or err}; choose another location"
    return ReportError(f"{path}: cannot write the file: {why}")


def _check_target(path: Path, suffixes: Sequence[str], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ReportError(
            f"{path}: unknown {what} type {suffix or '(no suffix)'!r}; name the file "
            + " or ".join(suffixes)
        )
    if not path.parent.is_dir():
        raise ReportError(
            f"{path}: cannot write the file: the folder {path.parent} does not exist; "
            "choose an existing folder"
        )
    if path.is_dir():
        raise ReportError(
            f"{path}: cannot write the file: a folder has this name; choose a file name"
        )
    return suffix


# ---------------------------------------------------------------- shared content
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


def _duration_text(event: FaultEvent) -> str:
    unit = getattr(event, "duration_unit", "s")
    return f"{event.duration_s:g} {'rows' if unit == 'rows' else 's'}"


def _channels_text(event: FaultEvent) -> str:
    if not event.top_channels:
        return "–"
    parts = []
    for i, name in enumerate(event.top_channels):
        share = event.channel_scores[i] if i < len(event.channel_scores) else None
        parts.append(name if share is None else f"{name} ({share:.0%})")
    return ", ".join(parts)


def _time_span(recording: Recording) -> str:
    if recording.n_rows == 0:
        return "empty"
    first, last = recording.format_time(0), recording.format_time(recording.n_rows - 1)
    q = recording.quality
    span = f" ({q.time_span_s:g} s)" if q is not None and q.time_span_s is not None else ""
    return f"{first} – {last}{span}"


def _model_fingerprint(model: Any, result: ScanResult) -> str:
    if result.model_fingerprint:
        return result.model_fingerprint
    return model.fingerprint if model is not None else ""


def _title_rows(
    recording: Recording, result: ScanResult, model: Any, review: Review | None, created: str
) -> list[tuple[str, str]]:
    """The block under a report's title, one list for HTML and PDF so both say the same:
    what was analysed, with which model and FaultLens, when, and who reviewed it."""
    reviewers = review.reviewers() if review is not None else []
    return [
        ("Recording", str(recording.path)),
        ("Content sha256", recording.content_hash or "–"),
        ("Rows", str(recording.n_rows)),
        ("Time span", _time_span(recording)),
        ("Model fingerprint", _model_fingerprint(model, result)[:16] or "–"),
        ("Report created", f"{created} by {current_user()}"),
        ("Reviewed by", ", ".join(reviewers) or "not reviewed"),
        ("FaultLens version", __version__),
    ]


def _quality_rows(recording: Recording) -> list[tuple[str, str]]:
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


def _model_rows(model: Any, result: ScanResult) -> list[tuple[str, str]]:
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


def _per_class_rows(model: Any) -> list[list[str]]:
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


def _scan_rows(result: ScanResult, entries: Sequence[EventEntry]) -> list[tuple[str, str]]:
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


# ---------------------------------------------------------------- HTML
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d1d1f;margin:0 auto;max-width:1200px;padding:24px;line-height:1.4;font-size:14px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;border-bottom:2px solid #ddd;
 padding-bottom:4px;margin-top:32px}h3{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.t,.st{white-space:nowrap}
table.kv th{width:220px;font-weight:600}
.sub{color:#555}.event{border:1px solid #ddd;border-radius:6px;padding:12px 16px;
 margin:18px 0;page-break-inside:avoid}
.event img{width:100%;height:auto;display:block;margin:6px 0}
.note{white-space:pre-wrap;background:#fffbe6;border-left:3px solid #f0c000;
 padding:6px 10px;margin:6px 0}
.st{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600}
.st-confirmed{background:#d4f4dd;color:#14532d}.st-dismissed{background:#e5e7eb;color:#374151}
.st-relabelled{background:#dbeafe;color:#1e3a8a}.st-unreviewed{background:#fef3c7;color:#78350f}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:18px;
 height:3px;vertical-align:middle;margin-right:4px}
footer{margin-top:40px;color:#777;font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _status_badge(status: str) -> str:
    return f'<span class="st st-{_e(status)}">{_e(status)}</span>'


def _html_head(recording: Recording, title: str) -> list[str]:
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
    ]


def _summary_table_html(entries: Sequence[EventEntry]) -> str:
    head = (
        "<tr><th>#</th><th>Start</th><th>End</th><th>Duration</th><th>Model class</th>"
        "<th>Peak p</th><th>Top channels</th><th>Review</th><th>Class after review</th></tr>"
    )
    rows = []
    for en in entries:
        ev = en.event
        rows.append(
            f'<tr><td class="num"><a href="#event-{en.index}">{en.index}</a></td>'
            f'<td class="t">{_e(ev.start_time)}</td><td class="t">{_e(ev.end_time)}</td>'
            f'<td class="num">{_e(_duration_text(ev))}</td><td>{_e(ev.class_name)}</td>'
            f'<td class="num">{ev.peak_probability:.2f}</td><td>{_e(_channels_text(ev))}</td>'
            f"<td>{_status_badge(en.status)}</td><td>{_e(en.final_class)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _event_details(en: EventEntry) -> list[tuple[str, str]]:
    ev = en.event
    rows = [
        ("Rows", f"{ev.start_row} – {ev.end_row} ({ev.end_row - ev.start_row + 1} rows)"),
        ("Time", f"{ev.start_time} – {ev.end_time}"),
        ("Duration", _duration_text(ev)),
        ("Model class", ev.class_name),
        ("Fault probability", f"peak {ev.peak_probability:.3f}, mean {ev.mean_probability:.3f}"),
        ("Channels that drove it", _channels_text(ev)),
        ("Review", en.status),
    ]
    d = en.decision
    if d is not None and d.status == "relabelled":
        rows.append(("Relabelled as", d.relabel))
    if d is not None and d.reviewer and d.status != "unreviewed":
        rows.append(("Reviewed by", f"{d.reviewer}, {d.changed}"))
    return rows


def _note_html(note: str) -> str:
    """A user's note as written: ``.note`` keeps its line breaks (``white-space:pre-wrap``)."""
    return f'<div class="note">{_e(note)}</div>' if note else ""


def _legend_html() -> str:
    from faultlens.core.report_figures import ATTN_COLOUR, HOT_COLOUR, PROB_COLOUR, SIGNAL_COLOUR

    items = [
        (SIGNAL_COLOUR, "signal of the event's top channels (value range in brackets)"),
        (PROB_COLOUR, "fault probability"),
        (ATTN_COLOUR, "attention received, scaled to the strongest row shown"),
        (HOT_COLOUR, "max-pool hotspots (▼ and ○: the rows most feature dimensions peaked on)"),
    ]
    # Colour names too: renderers without CSS (mail clients, simple viewers) drop swatches.
    names = {SIGNAL_COLOUR: "blue", PROB_COLOUR: "red", ATTN_COLOUR: "orange", HOT_COLOUR: "purple"}
    spans = " · ".join(
        f'<span><span class="sw" style="background:{c}"></span>{names[c]}: {_e(t)}</span>'
        for c, t in items
    )
    return (
        f'<p class="legend sub">{spans}<br>The shaded band is the flagged event; the dashed '
        "line the detection threshold. Time runs from the event's start.</p>"
    )


def _render_html(
    recording: Recording,
    result: ScanResult,
    model: Any,
    review: Review | None,
    events: Sequence[FaultEvent],
    title: str,
    should_stop: ShouldStop,
) -> Generator[Progress, None, str]:
    from faultlens.core.report_figures import EventFigure, event_view, png_bytes, report_style

    entries = event_entries(events, review)
    total = len(entries) + 1
    yield Progress(0, total, "Writing the summary")
    created = now_iso()
    out = _html_head(recording, title)
    out.append(f"<header><h1>{_e(title)}</h1>")
    out.append(f'<p class="sub">{_e(recording.name)} · {_e(_time_span(recording))}</p></header>')
    out.append(_kv_table(_title_rows(recording, result, model, review, created)))
    out.append("<h2>Data quality</h2>")
    out.append(_kv_table(_quality_rows(recording)) if recording.quality else "<p>–</p>")
    out.append("<h2>Model</h2>")
    out.append(_kv_table(_model_rows(model, result)))
    per_class = _per_class_rows(model)
    if per_class:
        out.append(
            "<h3>Validation per class</h3><table><tr><th>Class</th><th>Precision</th>"
            "<th>Recall</th><th>F1</th><th>Support</th></tr>"
        )
        out.extend(
            "<tr>"
            + f"<td>{_e(r[0])}</td>"
            + "".join(f'<td class="num">{_e(v)}</td>' for v in r[1:])
            + "</tr>"
            for r in per_class
        )
        out.append("</table>")
    out.append("<h2>Scan</h2>")
    out.append(_kv_table(_scan_rows(result, entries)))
    out.append(f"<h2>Flagged events ({len(entries)})</h2>")
    out.append(_summary_table_html(entries) if entries else "<p>The scan flagged no events.</p>")
    if review is not None and review.regions:
        out.append(f"<h2>Regions marked by hand ({len(review.regions)})</h2><table>")
        out.append(
            "<tr><th>Rows</th><th>Start</th><th>End</th><th>Class</th><th>Note</th><th>By</th></tr>"
        )
        for r in review.regions:
            out.append(
                f"<tr><td>{r.start_row} – {r.end_row}</td>"
                f"<td>{_e(recording.format_time(r.start_row))}</td>"
                f"<td>{_e(recording.format_time(r.end_row))}</td><td>{_e(r.class_name)}</td>"
                f"<td>{_note_html(r.note)}</td>"
                f"<td>{_e(r.reviewer)}, {_e(r.changed)}</td></tr>"
            )
        out.append("</table>")
    orphans = review.orphan_decisions() if review is not None else []
    if orphans:
        out.append(
            '<h2>Review entries without a matching event</h2><p class="sub">Decisions made on '
            "events of an earlier scan that this scan did not flag again.</p><table>"
            "<tr><th>Rows</th><th>Model class</th><th>Review</th><th>Note</th></tr>"
        )
        for d in orphans:
            out.append(
                f"<tr><td>{d.start_row} – {d.end_row}</td><td>{_e(d.class_name)}</td>"
                f"<td>{_status_badge(d.status)} {_e(d.relabel)}</td>"
                f"<td>{_note_html(d.note)}</td></tr>"
            )
        out.append("</table>")
    if entries:
        out.append("<h2>Events</h2>")
        out.append(_legend_html())
    # Deflating a PNG releases the GIL: a second thread does it while the next figure is
    # drawn. At most PNG_QUEUE figures wait, so memory stays flat for any number of events.
    pending: deque[tuple[int, str, Future[bytes]]] = deque()

    def settle(keep: int) -> None:
        while len(pending) > keep:
            slot, alt, png = pending.popleft()
            b64 = base64.b64encode(png.result()).decode("ascii")
            out[slot] = f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">'

    with report_style(), ThreadPoolExecutor(1, thread_name_prefix="report-png") as pool:
        figure = EventFigure(recording, result, result.threshold)
        for en in entries:
            if should_stop():
                raise Cancelled()
            yield Progress(en.index, total, f"Drawing event {en.index} of {len(entries)}")
            view = event_view(en.index, en.event, recording)
            pixels = figure.rgba(view)
            out.append(f'<section class="event" id="event-{en.index}">')
            out.append(
                f"<h3>Event {en.index}: class {_e(en.event.class_name)} "
                f"{_status_badge(en.status)}</h3>"
            )
            alt = f"Event {en.index}: {', '.join(view.channels)} with the model's evidence"
            out.append("")  # the <img>, once its PNG is made
            pending.append((len(out) - 1, alt, pool.submit(png_bytes, pixels[..., :3])))
            out.append(_kv_table(_event_details(en)))
            if en.note:
                out.append(_note_html(en.note))
            out.append("</section>")
            settle(PNG_QUEUE)
        settle(0)
    out.append(
        f"<footer>Written by FaultLens {_e(__version__)} on {_e(created)}. The model's "
        "evidence (attention, hotspots) shows where the model looked; it is not proof of a "
        "cause.</footer></body></html>"
    )
    yield Progress(total, total, "Done")
    return "\n".join(out)


# ---------------------------------------------------------------- PDF
A4 = (8.27, 11.69)


def _wrap_lines(text: str, width: int, limit: int | None = None) -> tuple[list[str], bool]:
    """``text`` wrapped at ``width`` characters into at most ``limit`` lines (None: all),
    and whether some were left out.

    The writer's line breaks stay (``textwrap.wrap`` alone turns them into spaces, which
    merged the lines of a note): each line is wrapped on its own, and a run of blank lines
    becomes one "" for a gap. A gap counts as a line, so a text never takes more room than
    ``limit`` wrapped lines did before.
    """
    lines: list[str] = []
    for line in text.splitlines():
        wrapped = textwrap.wrap(line, width)
        if wrapped:
            lines.extend(wrapped)
        elif lines and lines[-1]:
            lines.append("")
    cut = limit is not None and len(lines) > limit
    lines = lines[:limit]
    if lines and not lines[-1]:
        lines.pop()
    return lines, cut


# Text pages (page 1, the review page, notes in full), as fractions of the A4 page.
TEXT_PAGE_TOP = 0.95  # the top of the title
TEXT_PAGE_BOTTOM = 0.06  # the lowest top of a line: its foot sits about as high as TOP is low
TEXT_LINE = 0.0165  # one line of a value (7.5 pt); a gap between a note's paragraphs is half
TEXT_KEEP = 4  # a row of up to this many lines moves whole to the next page; a longer one splits
TEXT_KEY_X = 0.09  # the key column's left edge
TEXT_VALUE_X = 0.36  # the value column's left edge
# The widest a key's line may be, in points: the key column less a gap before the values.
TEXT_KEY_WIDTH_PT = (TEXT_VALUE_X - TEXT_KEY_X) * A4[0] * 72 - 10
CONTINUED = " (continued)"

# What a text page draws: (x, y of the top, text, font size, weight), in drawing order.
TextInk = tuple[float, float, str, float, str]


def _key_width(text: str) -> float:
    """``text``'s width in points in the bold 7.5 pt of a key, as DejaVu Sans: the embedded
    font, and wider than the built-in Helvetica, so a key that fits in it fits in both."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(size=7.5, weight="bold")
    return float(text_to_path.get_text_width_height_descent(text, prop, ismath=False)[0])


def _key_lines(key: str) -> list[str]:
    """``key`` in as few lines as fit the key column: one line that ran on into the values
    (a long class or channel name) overlapped them. A word longer than a line is split."""
    width = _key_width(key)
    if width <= TEXT_KEY_WIDTH_PT:
        return [key]
    chars = max(1, int(len(key) * TEXT_KEY_WIDTH_PT / width))
    while True:
        lines = textwrap.wrap(key, chars)
        if chars == 1 or all(_key_width(line) <= TEXT_KEY_WIDTH_PT for line in lines):
            return lines
        chars -= 1


def _row_lines(keys: Sequence[str], values: Sequence[str]) -> list[tuple[str, str]]:
    """A row's lines as (key line, value line) pairs: as many as the longer of the two."""
    return list(itertools.zip_longest(keys, values, fillvalue=""))


def _line_step(i: int, line: tuple[str, str]) -> float:
    """How far down a row's ``i``-th line moves the next: a line, or half for a gap in a
    note (the first line, beside the key, is a whole line even when the value is empty)."""
    return TEXT_LINE if i == 0 or line[0] or line[1] else TEXT_LINE / 2


def _fits(y: float, lines: Sequence[tuple[str, str]]) -> bool:
    """Whether ``lines`` drawn from ``y`` down keep every line above the bottom margin."""
    return y - sum(_line_step(i, line) for i, line in enumerate(lines[:-1])) >= TEXT_PAGE_BOTTOM


def _lay_text_pages(
    title: str, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]
) -> tuple[list[list[TextInk]], list[int]]:
    """Lay key/value sections out top to bottom, each under its heading ("": none), on as
    many pages as they take: the texts of each page, and the page (from 0) each row starts
    on, for rows in order (sections without rows have none).

    Laid out before anything is drawn, so the event pages can say on which page a note goes
    on. Nothing is left out: one page that stopped at its bottom silently lost the rows after
    (a review's regions and notes, a recording's warnings, a long model card), and values
    lost their lines after the fourth. A page that is full goes on on the next, under the
    title and the section's heading with " (continued)"; a row of up to ``TEXT_KEEP`` lines
    moves there whole, a longer one (a long note) splits, its key repeated. Keys too long for
    their column wrap in it.
    """
    pages: list[list[TextInk]] = []
    starts: list[int] = []
    y = 0.0

    def new_page(heading: str) -> None:
        nonlocal y
        more = CONTINUED if pages else ""
        pages.append([(0.07, TEXT_PAGE_TOP, title + more, 15, "bold")])
        y = TEXT_PAGE_TOP - 0.045
        if heading:
            draw_heading(heading + more)

    def draw_heading(heading: str) -> None:
        nonlocal y
        pages[-1].append((0.07, y, heading, 11, "bold"))
        y -= 0.026

    new_page("")
    for heading, rows in sections:
        if not rows:
            continue
        laid = [
            (key, _row_lines(_key_lines(key), _wrap_lines(str(value), 78)[0] or [""]))
            for key, value in rows
        ]
        # A heading never ends a page: it keeps its first row (or that row's first lines).
        head = 0.026 if heading else 0.0
        if not _fits(y - head, laid[0][1][:TEXT_KEEP]):
            new_page("")
        if heading:
            draw_heading(heading)
        for key, lines in laid:
            if len(lines) <= TEXT_KEEP and not _fits(y, lines):
                new_page(heading)
            i = 0
            while i < len(lines):
                if y < TEXT_PAGE_BOTTOM:
                    if i and not any(lines[i]):
                        i += 1
                        continue  # a gap between paragraphs at a page break: the break is one
                    new_page(heading)
                    if i and key and not any(label for label, _ in lines[i:]):
                        # The key is done: it comes again, continued, beside the rest.
                        rest = [line for _, line in lines[i:]]
                        lines = lines[:i] + _row_lines(_key_lines(key + CONTINUED), rest)
                if i == 0:
                    starts.append(len(pages) - 1)
                label, line = lines[i]
                if label:
                    pages[-1].append((TEXT_KEY_X, y, label, 7.5, "bold"))
                if line:
                    pages[-1].append((TEXT_VALUE_X, y, line, 7.5, "normal"))
                y -= _line_step(i, lines[i])
                i += 1
        y -= 0.012
    return pages, starts


def _draw_text_pages(pdf: Any, pages: Sequence[Sequence[TextInk]]) -> int:
    """Add the pages ``_lay_text_pages`` laid out to ``pdf``; return how many."""
    from matplotlib.figure import Figure

    for texts in pages:
        fig = Figure(figsize=A4)
        for x, y, text, size, weight in texts:
            fig.text(x, y, text, fontsize=size, weight=weight, va="top", parse_math=False)
        _save_pdf_page(pdf, fig)
    return len(pages)


def _pdf_text_pages(
    pdf: Any, title: str, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]
) -> int:
    """Draw key/value sections on as many pages as they take (``_lay_text_pages``); return
    how many were added to ``pdf``."""
    return _draw_text_pages(pdf, _lay_text_pages(title, sections)[0])


def _pdf_table(
    fig: Any,
    left: float,
    top: float,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
) -> None:
    """A table as one multi-line text per column: a matplotlib Table draws every cell as
    its own artist and took seconds per page; columns of text take milliseconds."""
    from matplotlib.lines import Line2D

    x = left
    for c, (name, width) in enumerate(zip(header, widths, strict=True)):
        fig.text(x, top, name, fontsize=6.5, weight="bold", va="top", parse_math=False)
        column = "\n".join(str(r[c]) for r in rows)
        fig.text(x, top - 0.016, column, fontsize=6.5, va="top", linespacing=1.6, parse_math=False)
        x += width
    fig.add_artist(Line2D([left, x], [top - 0.0135, top - 0.0135], lw=0.5, color="#888888"))


def _pdf_event_lines(en: EventEntry) -> list[str]:
    """The event's details in three lines: PDF text costs per glyph, and the summary table
    already lists the rest."""
    ev, d = en.event, en.decision
    review = en.status
    if d is not None and d.status == "relabelled":
        review += f" as {d.relabel}"
    if d is not None and d.reviewer and d.status != "unreviewed":
        review += f", by {d.reviewer} on {d.changed}"
    return [
        f"Rows {ev.start_row}–{ev.end_row} · {ev.start_time} – {ev.end_time} · "
        f"{_duration_text(ev)}",
        f"Fault probability peak {ev.peak_probability:.3f}, mean {ev.mean_probability:.3f} · "
        f"channels: {_channels_text(ev)}",
        f"Review: {review}",
    ]


EVENT_NOTE_WIDTH = 120  # characters a line of an event's note under its figure
EVENT_NOTE_LINES = 5  # lines of it there: the room under the figure
NOTES_IN_FULL = "Notes in full"


def _note_cut(note: str) -> bool:
    """Whether ``note`` takes more lines than its event's page holds (``_pdf_note``)."""
    return _wrap_lines(note, EVENT_NOTE_WIDTH, EVENT_NOTE_LINES)[1]


def _pdf_note(note: str, see_page: int = 0) -> str:
    """The note for an event's details, in at most five lines (the room under its figure),
    the writer's lines kept and continued lines indented under the text after "Note: ".

    A note cut short ends in a pointer to page ``see_page``, where "Notes in full" prints
    it whole: the end of a long note is the reviewer's own words, which the PDF dropped. The
    last line gives up words for the pointer, so the line is no longer than the others.
    """
    lines, cut = _wrap_lines(note, EVENT_NOTE_WIDTH, EVENT_NOTE_LINES)
    lines = lines or [""]
    if cut:
        more = f" … (continued in {NOTES_IN_FULL}, page {see_page})"
        room = EVENT_NOTE_WIDTH - len(more)
        lines[-1] = (textwrap.wrap(lines[-1], room) or [""])[0] + more
    return "\n".join(
        ("Note: " if i == 0 else "          " if line else "") + line
        for i, line in enumerate(lines)
    )


def _notes_in_full(
    entries: Sequence[EventEntry], first_page: int
) -> tuple[list[list[TextInk]], dict[int, int]]:
    """The "Notes in full" pages for the events whose note is cut under their figure, laid
    out, and the page each of those notes starts on, by event index (none: no pages).

    Each note under its event's number, class and start time as its page shows them, and
    the page of its figure (events from page ``first_page``, EVENTS_PER_PDF_PAGE a page).
    """
    cut = [(k, en) for k, en in enumerate(entries) if en.note and _note_cut(en.note)]
    if not cut:
        return [], {}
    rows = [
        (
            f"Event {en.index}: {en.event.class_name}",
            f"Starts {en.event.start_time} · {en.status} · figure on page "
            f"{first_page + k // EVENTS_PER_PDF_PAGE}\n{en.note}",
        )
        for k, en in cut
    ]
    intro = [("", "Event notes longer than the room under their figure, as written.")]
    pages, starts = _lay_text_pages(NOTES_IN_FULL, [("", intro), ("", rows)])
    return pages, {en.index: at for (_, en), at in zip(cut, starts[1:], strict=True)}


def _fast_image_encoding(pdf: Any) -> None:
    """Let ``pdf`` deflate its RGB images as unfiltered rows at ``PNG_LEVEL``.

    Matplotlib writes every image through Pillow's PNG encoder at zlib level 6 with adaptive
    row filters, and has no setting for it: for the event figures that took as long as
    drawing them. The encoder is a private method of matplotlib's ``PdfFile``, so it is only
    replaced when it is there and answers a probe as expected; anything but an RGB image
    still goes to it.
    """
    from PIL import Image

    from faultlens.core.report_figures import png_rows

    pdf.infodict()  # public; makes the PdfFile, which newer matplotlib makes on the first page
    file = getattr(pdf, "_file", None)
    original = getattr(file, "_writePng", None)
    if original is None:
        return
    try:
        probe = original(Image.new("RGB", (1, 1)))
        if not (isinstance(probe, tuple) and len(probe) == 3 and isinstance(probe[0], bytes)):
            return
    except Exception:  # a changed private API: keep matplotlib's own encoder
        return

    def write_png(img: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(img, Image.Image) or img.mode != "RGB":
            return original(img, *args, **kwargs)
        # (IDAT data, bit depth, palette), as matplotlib's encoder returns them.
        return png_rows(np.asarray(img)), 8, None

    file._writePng = write_png


# matplotlib measures these with the built-in Helvetica's whole font box (a quote as tall as
# 1.2 em), so a top-aligned line holding one sits lower than its neighbours and a table
# column drifts from that row on; pages with them use the embedded font, measured right.
_CORE_FONT_MISMEASURED = frozenset("\"'*^`")


def _core_font_text(text: str) -> bool:
    """Whether the PDF's built-in Helvetica can show ``text`` (its Windows-1252 glyphs) and
    matplotlib lays it out right (``_CORE_FONT_MISMEASURED``)."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return _CORE_FONT_MISMEASURED.isdisjoint(text)


def _not_core_font_weight(record: logging.LogRecord) -> bool:
    # The built-in Helvetica's regular face calls itself "Medium"; matplotlib logs a warning
    # the first time each text style falls back to it, which is noise on the CLI's stderr.
    return not record.getMessage().startswith("findfont: Failed to find font weight")


@contextlib.contextmanager
def _quiet_core_font_lookup() -> Iterator[None]:
    log = logging.getLogger("matplotlib.font_manager")
    log.addFilter(_not_core_font_weight)
    try:
        yield
    finally:
        log.removeFilter(_not_core_font_weight)


def _save_pdf_page(pdf: Any, fig: Any) -> None:
    """Add ``fig`` as a page: in the PDF's built-in Helvetica when every text on it has a
    glyph there, else in the embedded DejaVu Sans.

    Embedded fonts cost matplotlib a Python round per glyph (layout, subsetting, output):
    that was a third of a 200-event PDF. Built-in fonts are written as whole strings and
    embed nothing; a page with a name in, say, Greek or Chinese keeps the embedded font
    instead of losing those letters.
    """
    import matplotlib

    texts = [*fig.texts, *(t for ax in fig.axes for t in ax.texts)]
    core = all(_core_font_text(t.get_text()) for t in texts)
    with matplotlib.rc_context({"pdf.use14corefonts": core}):
        pdf.savefig(fig)


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _render_pdf(
    fh: Any,
    recording: Recording,
    result: ScanResult,
    model: Any,
    review: Review | None,
    events: Sequence[FaultEvent],
    title: str,
    should_stop: ShouldStop,
) -> Generator[Progress, None, int]:
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from faultlens.core.report_figures import EventFigure, PageImage, event_view, report_style

    entries = event_entries(events, review)
    total = len(entries) + 1
    pages = 0
    yield Progress(0, total, "Writing the summary")
    created = now_iso()
    with (
        report_style(),
        _quiet_core_font_lookup(),
        PdfPages(fh, metadata={"Title": title, "Creator": "FaultLens"}) as pdf,
    ):
        _fast_image_encoding(pdf)
        # Page 1: what was analysed, with what, and how good the data and the model are.
        pages += _pdf_text_pages(
            pdf,
            title,
            [
                # No heading, as in the HTML: the block is about the report as a whole.
                ("", _title_rows(recording, result, model, review, created)),
                ("Data quality", _quality_rows(recording)),
                ("Model", _model_rows(model, result)),
                (
                    "Validation per class (precision / recall / F1 / support)",
                    [(r[0], " / ".join(r[1:])) for r in _per_class_rows(model)],
                ),
                ("Scan", _scan_rows(result, entries)),
            ],
        )

        # Summary table pages.
        header = [
            "#",
            "Start",
            "Duration",
            "Model class",
            "Peak p",
            "Top channels",
            "Review",
            "After review",
        ]
        widths = [0.035, 0.21, 0.08, 0.11, 0.055, 0.23, 0.085, 0.105]
        rows = [
            [
                str(en.index),
                _clip(en.event.start_time, 32),
                _duration_text(en.event),
                _clip(en.event.class_name, 18),
                f"{en.event.peak_probability:.2f}",
                _clip(", ".join(en.event.top_channels), 40),
                en.status,
                _clip(en.final_class, 18),
            ]
            for en in entries
        ]
        chunks = [
            rows[i : i + SUMMARY_ROWS_PER_PDF_PAGE]
            for i in range(0, len(rows), SUMMARY_ROWS_PER_PDF_PAGE)
        ] or [[]]
        for n, chunk in enumerate(chunks):
            fig = Figure(figsize=A4)
            part = f" (page {n + 1} of {len(chunks)})" if len(chunks) > 1 else ""
            fig.text(
                0.05,
                0.96,
                f"Flagged events: {len(entries)}{part}",
                fontsize=13,
                weight="bold",
                va="top",
            )
            if not entries:
                fig.text(0.05, 0.92, "The scan flagged no events.", fontsize=9, va="top")
            else:
                _pdf_table(fig, 0.05, 0.93, header, chunk, widths)
            _save_pdf_page(pdf, fig)
            pages += 1

        if review is not None and (review.regions or review.orphan_decisions()):
            region_rows = [
                (
                    f"Rows {r.start_row}–{r.end_row}",
                    f"{r.class_name}; {recording.format_time(r.start_row)} – "
                    f"{recording.format_time(r.end_row)}; by {r.reviewer}. {r.note}",
                )
                for r in review.regions
            ]
            orphan_rows = [
                (
                    f"Rows {d.start_row}–{d.end_row}",
                    f"{d.class_name}: {d.status} {d.relabel}. {d.note}",
                )
                for d in review.orphan_decisions()
            ]
            pages += _pdf_text_pages(
                pdf,
                "Review",
                [
                    ("Regions marked by hand", region_rows or [("", "none")]),
                    (
                        "Review entries without a matching event (earlier scan)",
                        orphan_rows or [("", "none")],
                    ),
                ],
            )

        # Event pages: EVENTS_PER_PDF_PAGE slots of figure + details. The figures are the
        # same blitted rasters as in the HTML (at print resolution): drawing them as vectors
        # made a 200-event PDF take ten times longer.
        painter = EventFigure(recording, result, result.threshold, dpi=PDF_FIGURE_DPI)
        img_w_in = 0.88 * A4[0]
        img_h = img_w_in * painter.height_in / painter.width_in / A4[1]
        slot_h = 0.9 / EVENTS_PER_PDF_PAGE
        fig = Figure(figsize=A4)
        titles, details, images = [], [], []
        for s in range(EVENTS_PER_PDF_PAGE):
            top = 0.965 - s * slot_h
            titles.append(
                fig.text(0.06, top, "", fontsize=10, weight="bold", va="top", parse_math=False)
            )
            images.append(fig.add_artist(PageImage((0.06, top - 0.02 - img_h, 0.88, img_h))))
            details.append(
                fig.text(
                    0.07,
                    top - 0.03 - img_h,
                    "",
                    fontsize=7,
                    va="top",
                    linespacing=1.4,
                    parse_math=False,
                )
            )
        fig.text(0.5, 0.03, PDF_LEGEND, ha="center", fontsize=6.5, color="#444444")
        footer = fig.text(0.5, 0.015, "", ha="center", fontsize=7, color="#777777")
        n_pages = math.ceil(len(entries) / EVENTS_PER_PDF_PAGE)
        # Laid out first: a cut note's preview says on which page it goes on.
        notes_pages, notes_at = _notes_in_full(entries, pages + 1)
        notes_first = pages + n_pages + 1
        for p in range(n_pages):
            for s in range(EVENTS_PER_PDF_PAGE):
                k = p * EVENTS_PER_PDF_PAGE + s
                if k >= len(entries):
                    titles[s].set_text("")
                    details[s].set_text("")
                    images[s].set_visible(False)
                    continue
                if should_stop():
                    raise Cancelled()
                en = entries[k]
                yield Progress(en.index, total, f"Drawing event {en.index} of {len(entries)}")
                view = event_view(en.index, en.event, recording)
                images[s].pixels = painter.rgba(view)
                images[s].set_visible(True)
                titles[s].set_text(f"Event {en.index}: {en.event.class_name} — {en.status}")
                lines = _pdf_event_lines(en)
                if en.note:
                    lines.append(_pdf_note(en.note, notes_first + notes_at.get(en.index, 0)))
                details[s].set_text("\n".join(lines))
            footer.set_text(f"{recording.name} · events page {p + 1} of {n_pages}")
            _save_pdf_page(pdf, fig)
            pages += 1
        pages += _draw_text_pages(pdf, notes_pages)
    yield Progress(total, total, "Done")
    return pages


# ---------------------------------------------------------------- public API
def write_report(
    path: str | Path,
    recording: Recording,
    scan_result: ScanResult,
    model: Any = None,
    review: Review | None = None,
    *,
    events: Sequence[FaultEvent] | None = None,
    title: str | None = None,
    should_stop: ShouldStop = never_stop,
) -> Generator[Progress, None, Path]:
    """Write a fault report to ``path`` (.html or .pdf); yields Progress, returns the path.

    ``events`` defaults to ``scan_result.events``; ``model`` (a TrainedModel) fills the
    model card and may be None. Raises ReportError (file not writable, unknown type) or
    Cancelled; in both cases no file is left at ``path``.
    """
    path = Path(path)
    suffix = _check_target(path, REPORT_SUFFIXES, "report")
    evs = list(scan_result.events if events is None else events)
    title = title or f"Fault report: {recording.name}"
    try:
        if suffix == ".pdf":
            with atomic_open(path, "wb") as fh:
                yield from _render_pdf(
                    fh, recording, scan_result, model, review, evs, title, should_stop
                )
        else:
            text = yield from _render_html(
                recording, scan_result, model, review, evs, title, should_stop
            )
            with atomic_open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
    except OSError as err:
        raise _os_error(path, err) from err
    return path


def export_report(
    path: str | Path,
    recording: Recording,
    scan_result: ScanResult,
    model: Any = None,
    review: Review | None = None,
    **kwargs: Any,
) -> Path:
    """``write_report`` run to the end (for scripts and the CLI without progress)."""
    return run_to_end(write_report(path, recording, scan_result, model, review, **kwargs))


def _review_extra(events: Sequence[FaultEvent], review: Review | None) -> list[dict[str, Any]]:
    """Per event: its number and the review's columns (``REVIEW_COLUMNS``)."""
    out = []
    for en in event_entries(events, review):
        d = en.decision
        reviewed = d is not None and d.status != "unreviewed"
        out.append(
            {
                "event": en.index,
                "review_status": en.status,
                "reviewed_class": (d.reviewed_class or "") if d is not None else "",
                "review_note": d.note if d is not None else "",
                "reviewer": d.reviewer if reviewed else "",
                "reviewed_at": d.changed if reviewed else "",
            }
        )
    return out


def event_records(
    events: Sequence[FaultEvent], review: Review | None = None
) -> list[dict[str, Any]]:
    """One dict per event with the stable keys of ``EVENT_COLUMNS`` plus ``top_channels`` and
    ``channel_scores`` lists (times as the recording writes them: ISO-8601, with the UTC
    offset when the file had one)."""
    return event_dicts(events, _review_extra(events, review), EVENT_COLUMNS)


def write_events(
    path: str | Path,
    events: Sequence[FaultEvent],
    review: Review | None = None,
    *,
    recording: Recording | None = None,
    scan_result: ScanResult | None = None,
) -> Path:
    """Write the event list as .csv or .json (atomically), with the review's columns.

    CSV: the columns of ``EVENT_COLUMNS``, then ``channel_1, score_1, ...``. JSON:
    ``{"format": "faultlens-events", "version": 1, "recording": ..., "scan": ...,
    "events": [...]}`` with the same keys per event and lists for the channels. The
    writing is ``faultlens.core.detection.write_events``'s.
    """
    path = Path(path)
    _check_target(path, EVENT_SUFFIXES, "event file")
    meta: dict[str, Any] = {}
    if recording is not None:
        meta["recording"] = {
            "file": recording.name,
            "sha256": recording.content_hash,
            "rows": recording.n_rows,
        }
    if scan_result is not None:
        meta["scan"] = {
            "model_fingerprint": scan_result.model_fingerprint,
            "class_names": list(scan_result.class_names),
            "options": asdict(scan_result.options),
        }
    try:
        _write_event_file(events, path, meta, _review_extra(events, review), EVENT_COLUMNS)
    except OSError as err:
        raise _os_error(path, err) from err
    return path


def read_events(path: str | Path) -> tuple[list[FaultEvent], list[dict[str, str]]]:
    """Read an event file of ``write_events`` (or of the scan engine): the events and, per
    event, its review columns (empty strings when the file has none)."""
    return read_events_with(path, REVIEW_COLUMNS)


def scan_summary(result: ScanResult) -> dict[str, Any]:
    """Numbers about a scan for the CLI's --json output."""
    fp = result.fault_probability
    return {
        "events": len(result.events),
        "rows": int(fp.shape[0]),
        "rows_flagged": int(np.sum(fp >= result.threshold)),
        "threshold": result.threshold,
        "model_fingerprint": result.model_fingerprint,
    }
