"""The HTML report: one self-contained file, inline CSS, figures embedded as base64 PNG.

No external references (no scripts, fonts or images from elsewhere), so the file can be
mailed and archived. Every string that comes from a CSV, a model file or a note goes
through ``html.escape``.
"""

from __future__ import annotations

import base64
import html
from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from faultlens import __version__
from faultlens.core.events import FaultEvent
from faultlens.core.progress import Cancelled, Progress, ShouldStop
from faultlens.core.recording import Recording
from faultlens.core.report.content import (
    EventEntry,
    channels_text,
    event_details,
    event_entries,
    inspector_caption,
    model_rows,
    per_class_rows,
    quality_rows,
    scan_rows,
    summary_rows,
    time_span,
    title_rows,
)
from faultlens.core.report.figures import (
    ATTN_COLOUR,
    HOT_COLOUR,
    PROB_COLOUR,
    SIGNAL_COLOUR,
    EventFigure,
    event_view,
    report_style,
    timeline_png,
)
from faultlens.core.report.inspector import (
    CONTRIBUTION_NOTE,
    REPORT_DETAILED_EVENTS,
    InspectorStrip,
    explain_events,
)
from faultlens.core.report.mpl_compat import png_bytes

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.review import Review
    from faultlens.core.scan import ScanResult


PNG_QUEUE = 4  # event figures drawn ahead of their PNG encoding (a thread's work)

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


def _html_head(title: str) -> list[str]:
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
            f'<td class="num">{_e(ev.duration_text)}</td><td>{_e(ev.class_name)}</td>'
            f'<td class="num">{ev.peak_probability:.2f}</td><td>{_e(channels_text(ev))}</td>'
            f"<td>{_status_badge(en.status)}</td><td>{_e(en.final_class)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _note_html(note: str) -> str:
    """A user's note as written: ``.note`` keeps its line breaks (``white-space:pre-wrap``)."""
    return f'<div class="note">{_e(note)}</div>' if note else ""


def _legend_html() -> str:
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
        "line the detection threshold; a grey bar on top of the fault probability marks the "
        "rows the file itself labels as a fault. Time runs from the event's start.<br>Under "
        "it, the model's decision at the event's peak row, from the window of rows up to it: "
        "the window's top channels with the attention each step received (orange band) and "
        "the max-pool hotspots (circles, area: how many features peaked there; filled: on the "
        "channel those features responded to most), how much each of those channels at each "
        "step moved the fault probability (red: up, blue: down), and the attention matrix "
        "(which steps each step attended to).</p>"
    )


def render_html(
    recording: Recording,
    result: ScanResult,
    model: TrainedModel | None,
    review: Review | None,
    events: Sequence[FaultEvent],
    title: str,
    should_stop: ShouldStop,
    *,
    created: str,
) -> Generator[Progress, None, str]:
    """The report as HTML text; yields Progress (one step per event), returns the text.

    ``created`` is when the report was made, as it says so. Raises ``Cancelled`` soon after
    ``should_stop()`` turns True.
    """
    entries = event_entries(events, review)
    total = len(entries) + 1
    yield Progress(0, total, "Writing the summary")
    out = _html_head(title)
    out.append(f"<header><h1>{_e(title)}</h1>")
    out.append(f'<p class="sub">{_e(recording.name)} · {_e(time_span(recording))}</p></header>')
    out.append("<h2>Summary</h2>")
    out.append(_kv_table(summary_rows(recording, model, entries)))
    if recording.n_rows:
        with report_style():
            png = timeline_png(recording, result, [en.event for en in entries])
        b64 = base64.b64encode(png).decode("ascii")
        out.append(
            '<img class="timeline" alt="Timeline of the whole recording: fault probability and '
            f'every flagged event" src="data:image/png;base64,{b64}">'
        )
    out.append("<h2>About this report</h2>")
    out.append(_kv_table(title_rows(recording, result, model, review, created)))
    out.append("<h2>Data quality</h2>")
    out.append(_kv_table(quality_rows(recording)) if recording.quality else "<p>–</p>")
    out.append("<h2>Model</h2>")
    out.append(_kv_table(model_rows(model, result)))
    per_class = per_class_rows(model)
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
    out.append(_kv_table(scan_rows(result, entries)))
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
        yield Progress(0, total, "Explaining each event's peak")
    explanations = explain_events(model, recording, result, [en.event for en in entries],
                                  should_stop)  # fmt: skip
    # Deflating a PNG releases the GIL: a second thread does it while the next figure is
    # drawn. At most PNG_QUEUE figures wait, so memory stays flat for any number of events.
    pending: deque[tuple[int, str, Future[bytes]]] = deque()  # (slot, img attributes, PNG)

    def settle(keep: int) -> None:
        while len(pending) > keep:
            slot, attributes, png = pending.popleft()
            b64 = base64.b64encode(png.result()).decode("ascii")
            out[slot] = f'<img {attributes} src="data:image/png;base64,{b64}">'

    with report_style(), ThreadPoolExecutor(1, thread_name_prefix="report-png") as pool:
        figure = EventFigure(recording, result, result.threshold)
        strip = (
            InspectorStrip(recording, model.window, contribution_note=CONTRIBUTION_NOTE)
            if model is not None
            else None
        )
        for en, exp in zip(entries, explanations, strict=True):
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
            pending.append(
                (len(out) - 1, f'alt="{_e(alt)}"', pool.submit(png_bytes, pixels[..., :3]))
            )
            if exp is not None and strip is not None:
                out.append("")  # the inspector's <img>
                alt = f"Event {en.index}: the model's decision at its peak row {exp.row}"
                rgb = strip.rgba(exp)[..., :3]
                attributes = f'class="inspector" alt="{_e(alt)}"'
                pending.append((len(out) - 1, attributes, pool.submit(png_bytes, rgb)))
                caption = inspector_caption(exp, recording, REPORT_DETAILED_EVENTS)
                out.append(f'<p class="sub">{_e(caption)}</p>')
            out.append(_kv_table(event_details(en)))
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
