"""The PDF report: page 1 (what was analysed), the summary table, the review, the events.

matplotlib's ``PdfPages``: it needs nothing beyond matplotlib (already used for the
figures) and runs headless without Qt. The event figures are the same blitted rasters as in
the HTML (at print resolution); text is text, in the PDF's built-in Helvetica where it has
the letters (``faultlens.core.report.mpl_compat.save_pdf_page``). Text pages are laid out
by ``faultlens.core.report.pdf_layout``. Strings from files are drawn with mathtext off.

The parts before the events flow into each other: the timeline and the events table start
under the last lines of the report's facts when they fit there, and the review's regions
under the table, so no page is left half empty between them. Each event page starts fresh.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Generator, Sequence
from typing import IO, TYPE_CHECKING

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from faultlens.core.events import FaultEvent
from faultlens.core.progress import Cancelled, Progress, ShouldStop
from faultlens.core.recording import Recording
from faultlens.core.report.content import (
    EventEntry,
    channels_text,
    event_entries,
    inspector_caption,
    model_rows,
    per_class_rows,
    quality_rows,
    scan_rows,
    summary_rows,
    title_rows,
)
from faultlens.core.report.figures import EventFigure, draw_timeline, event_view, report_style
from faultlens.core.report.inspector import (
    CONTRIBUTION_NOTE,
    REPORT_DETAILED_EVENTS,
    InspectorStrip,
    explain_events,
    stack_inspector,
)
from faultlens.core.report.mpl_compat import (
    PageImage,
    fast_image_encoding,
    quiet_core_font_lookup,
    save_pdf_page,
)
from faultlens.core.report.pdf_layout import (
    A4,
    FLOW_GAP,
    TEXT_PAGE_BOTTOM,
    TextInk,
    draw_text_pages,
    draw_texts,
    lay_text_flow,
    lay_text_pages,
    wrap_lines,
)

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.explain import Explanation
    from faultlens.core.review import Review
    from faultlens.core.scan import ScanResult


EVENTS_PER_PDF_PAGE = 2
# With the model, each event also shows the inspector view at its peak row under its figure
# (issue 13): one event a page.
INSPECTED_EVENTS_PER_PDF_PAGE = 1
PDF_FIGURE_DPI = 100
PDF_LEGEND = (
    "Blue: signal of the top channels of the event (value range in brackets) · red: fault "
    "probability · orange: attention,\nscaled to the strongest row shown · purple triangles "
    "and circles: max-pool hotspots · red band: the flagged event · dashed: detection threshold"
    " · grey bar: rows the file labels as a fault\nBelow it: the decision at the peak row of "
    "the event (band: attention received, circles: max-pool hotspots; contribution per channel "
    "and step; attention matrix)"
)
# Rows of the flagged-events table a page holds (6.5 pt text, 1.6 line spacing: ~0.0123 of
# the page a row; 38 left the lower half of every page empty).
SUMMARY_ROWS_PER_PDF_PAGE = 70
TABLE_ROW = 0.01234  # of the page's height: 6.5 pt x 1.6
TABLE_HEAD = 0.016  # the header line above the rows
TABLE_BOTTOM = 0.035  # the lowest a row's top goes
# The part "Flagged events": its heading at the top, the timeline's axes from TIMELINE_AXES
# below it (bottom, height), the table from TIMELINE_BLOCK below it.
TIMELINE_AXES = (0.18, 0.1)
TIMELINE_BLOCK = 0.24
# Rows the table shows at least where the part starts below other text (else a fresh page).
MIN_FLOWED_ROWS = 5


def table_rows_fitting(top: float) -> int:
    """Rows of the events table that fit from ``top`` (its header's top) down."""
    return max(int((top - TABLE_HEAD - TABLE_BOTTOM) / TABLE_ROW + 1e-9), 0)


def _clip(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _pdf_table(
    fig: Figure,
    left: float,
    top: float,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
) -> None:
    """A table as one multi-line text per column: a matplotlib Table draws every cell as
    its own artist and took seconds per page; columns of text take milliseconds."""
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
        f"Rows {ev.start_row}–{ev.end_row} · {ev.start_time} – {ev.end_time} · {ev.duration_text}",
        f"Fault probability peak {ev.peak_probability:.3f}, mean {ev.mean_probability:.3f} · "
        f"channels: {channels_text(ev)}",
        f"Review: {review}",
    ]


EVENT_NOTE_WIDTH = 120  # characters a line of an event's note under its figure
EVENT_NOTE_LINES = 5  # lines of it there: the room under the figure
NOTES_IN_FULL = "Notes in full"


def _note_cut(note: str) -> bool:
    """Whether ``note`` takes more lines than its event's page holds (``_pdf_note``)."""
    return wrap_lines(note, EVENT_NOTE_WIDTH, EVENT_NOTE_LINES)[1]


def _pdf_note(note: str, see_page: int = 0) -> str:
    """The note for an event's details, in at most five lines (the room under its figure),
    the writer's lines kept and continued lines indented under the text after "Note: ".

    A note cut short ends in a pointer to page ``see_page``, where "Notes in full" prints
    it whole: the end of a long note is the reviewer's own words, which the PDF dropped. The
    last line gives up words for the pointer, so the line is no longer than the others.
    """
    lines, cut = wrap_lines(note, EVENT_NOTE_WIDTH, EVENT_NOTE_LINES)
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
    entries: Sequence[EventEntry], first_page: int, per_page: int = EVENTS_PER_PDF_PAGE
) -> tuple[list[list[TextInk]], dict[int, int]]:
    """The "Notes in full" pages for the events whose note is cut under their figure, laid
    out, and the page each of those notes starts on, by event index (none: no pages).

    Each note under its event's number, class and start time as its page shows them, and
    the page of its figure (events from page ``first_page``, ``per_page`` a page).
    """
    cut = [(k, en) for k, en in enumerate(entries) if en.note and _note_cut(en.note)]
    if not cut:
        return [], {}
    rows = [
        (
            f"Event {en.index}: {en.event.class_name}",
            f"Starts {en.event.start_time} · {en.status} · figure on page "
            f"{first_page + k // per_page}\n{en.note}",
        )
        for k, en in cut
    ]
    intro = [("", "Event notes longer than the room under their figure, as written.")]
    pages, starts = lay_text_pages(NOTES_IN_FULL, [("", intro), ("", rows)])
    return pages, {en.index: at for (_, en), at in zip(cut, starts[1:], strict=True)}


SUMMARY_HEADER = ("#", "Start", "Duration", "Model class", "Peak p", "Top channels", "Review",
                  "After review")  # fmt: skip
SUMMARY_WIDTHS = (0.035, 0.21, 0.08, 0.11, 0.055, 0.23, 0.085, 0.105)  # of the page's width


def _summary_pages(
    pdf: PdfPages,
    recording: Recording,
    result: ScanResult,
    entries: Sequence[EventEntry],
    begun: Sequence[TextInk] = (),
    begun_y: float = 0.0,
) -> tuple[int, Figure, float]:
    """The whole-recording timeline, then the table of flagged events, as many rows a page
    as fit (``SUMMARY_ROWS_PER_PDF_PAGE`` on a page of their own).

    ``begun`` is a text page not yet drawn, whose text ends at ``begun_y``: the part starts
    under it when the heading, the timeline and ``MIN_FLOWED_ROWS`` rows fit there, else
    that page is drawn as it is. Returns how many pages were written and the last page,
    not yet written (what follows may go on it), with where its content ends.
    """
    rows = [
        [
            str(en.index),
            _clip(en.event.start_time, 32),
            en.event.duration_text,
            _clip(en.event.class_name, 18),
            f"{en.event.peak_probability:.2f}",
            _clip(", ".join(en.event.top_channels), 40),
            en.status,
            _clip(en.final_class, 18),
        ]
        for en in entries
    ]
    written = 0
    head = begun_y - FLOW_GAP
    wanted = min(len(rows), MIN_FLOWED_ROWS) if rows else 0
    flows = bool(begun) and (
        table_rows_fitting(head - TIMELINE_BLOCK) >= max(wanted, 1)
        if recording.n_rows
        else head - 0.06 >= TEXT_PAGE_BOTTOM
    )
    if begun and not flows:
        written += draw_text_pages(pdf, [begun])
    if not flows:
        head = 0.96
    # Rows per page: the first under the timeline (and maybe under other text), then full.
    first = table_rows_fitting(head - TIMELINE_BLOCK) if recording.n_rows else len(rows)
    chunks = [rows[:first]] + [
        rows[i : i + SUMMARY_ROWS_PER_PDF_PAGE]
        for i in range(first, len(rows), SUMMARY_ROWS_PER_PDF_PAGE)
    ]
    fig = Figure(figsize=A4)
    end = head
    for n, chunk in enumerate(chunks):
        if n:
            save_pdf_page(pdf, fig)
            written += 1
            fig, head = Figure(figsize=A4), 0.96
        elif flows:
            draw_texts(fig, begun)
        part = f" (page {n + 1} of {len(chunks)})" if len(chunks) > 1 else ""
        fig.text(
            0.05, head, f"Flagged events: {len(entries)}{part}", fontsize=13, weight="bold",
            va="top",
        )  # fmt: skip
        top = head - 0.03
        if n == 0 and recording.n_rows:
            bottom, height = TIMELINE_AXES
            draw_timeline(
                fig, (0.1, head - bottom, 0.85, height), recording, result,
                [en.event for en in entries],
            )  # fmt: skip
            top = head - TIMELINE_BLOCK
        if not entries:
            fig.text(0.05, top - 0.01, "The scan flagged no events.", fontsize=9, va="top")
            end = top - 0.03
        else:
            _pdf_table(fig, 0.05, top, SUMMARY_HEADER, chunk, SUMMARY_WIDTHS)
            end = top - TABLE_HEAD - len(chunk) * TABLE_ROW
    return written, fig, end


def _review_pages(
    pdf: PdfPages, recording: Recording, review: Review | None, begun: Figure, begun_y: float
) -> int:
    """The regions marked by hand and the review's entries for events this scan did not
    flag, starting under the content of the page ``begun`` (not yet written) when they fit
    there; how many pages were written, ``begun`` included."""
    if review is None or not (review.regions or review.orphan_decisions()):
        save_pdf_page(pdf, begun)
        return 1
    region_rows = [
        (
            f"Rows {r.start_row}–{r.end_row}",
            f"{r.class_name}; {recording.format_time(r.start_row)} – "
            f"{recording.format_time(r.end_row)}; by {r.reviewer}. {r.note}",
        )
        for r in review.regions
    ]
    orphan_rows = [
        (f"Rows {d.start_row}–{d.end_row}", f"{d.class_name}: {d.status} {d.relabel}. {d.note}")
        for d in review.orphan_decisions()
    ]
    pages, _starts, _end = lay_text_flow(
        "Review",
        [
            ("Regions marked by hand", region_rows or [("", "none")]),
            (
                "Review entries without a matching event (earlier scan)",
                orphan_rows or [("", "none")],
            ),
        ],
        start_y=begun_y - FLOW_GAP,
    )
    draw_texts(begun, pages[0])
    save_pdf_page(pdf, begun)
    return 1 + draw_text_pages(pdf, pages[1:])


def _event_pages(
    pdf: PdfPages,
    recording: Recording,
    result: ScanResult,
    entries: Sequence[EventEntry],
    first_page: int,
    should_stop: ShouldStop,
    explanations: Sequence[Explanation | None] = (),
) -> Generator[Progress, None, int]:
    """The event pages from page ``first_page`` on (``EVENTS_PER_PDF_PAGE`` slots of figure
    and details), then the cut notes in full; yields Progress per event, returns how many
    pages.

    The figures are the same blitted rasters as in the HTML (at print resolution): drawing
    them as vectors made a 200-event PDF take ten times longer. One page figure is kept and
    only its texts and images change from page to page.
    """
    total = len(entries) + 1
    painter = EventFigure(recording, result, result.threshold, dpi=PDF_FIGURE_DPI)
    img_w_in = 0.88 * A4[0]
    strip = None
    if any(e is not None for e in explanations):
        strip = InspectorStrip(recording, next(e for e in explanations if e).window,
                               contribution_note=CONTRIBUTION_NOTE, dpi=PDF_FIGURE_DPI)  # fmt: skip
    img_h = img_w_in * (painter.height_in + (strip.height_in if strip else 0.0))
    img_h /= painter.width_in * A4[1]
    per_page = EVENTS_PER_PDF_PAGE if strip is None else INSPECTED_EVENTS_PER_PDF_PAGE
    slot_h = 0.9 / per_page
    fig = Figure(figsize=A4)
    titles, details, images = [], [], []  # per slot
    for s in range(per_page):
        top = 0.965 - s * slot_h
        titles.append(
            fig.text(0.06, top, "", fontsize=10, weight="bold", va="top", parse_math=False)
        )
        images.append(PageImage((0.06, top - 0.02 - img_h, 0.88, img_h)))
        fig.add_artist(images[-1])
        details.append(
            fig.text(
                0.07, top - 0.03 - img_h, "", fontsize=7, va="top", linespacing=1.4,
                parse_math=False,
            )
        )  # fmt: skip
    fig.text(0.5, 0.03, PDF_LEGEND, ha="center", fontsize=6.5, color="#444444")
    footer = fig.text(0.5, 0.015, "", ha="center", fontsize=7, color="#777777")
    n_pages = math.ceil(len(entries) / per_page)
    # Laid out first: a cut note's preview says on which page it goes on.
    notes_pages, notes_at = _notes_in_full(entries, first_page, per_page)
    notes_first = first_page + n_pages
    for p in range(n_pages):
        for s in range(per_page):
            k = p * per_page + s
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
            exp = explanations[k] if k < len(explanations) else None
            images[s].pixels = stack_inspector(painter.rgba(view), strip, exp)
            images[s].set_visible(True)
            titles[s].set_text(f"Event {en.index}: {en.event.class_name} — {en.status}")
            lines = _pdf_event_lines(en)
            if exp is not None:
                lines += textwrap.wrap(
                    inspector_caption(exp, recording, REPORT_DETAILED_EVENTS), 150
                )
            if en.note:
                lines.append(_pdf_note(en.note, notes_first + notes_at.get(en.index, 0)))
            details[s].set_text("\n".join(lines))
        footer.set_text(f"{recording.name} · events page {p + 1} of {n_pages}")
        save_pdf_page(pdf, fig)
    return n_pages + draw_text_pages(pdf, notes_pages)


def render_pdf(
    fh: IO[bytes],
    recording: Recording,
    result: ScanResult,
    model: TrainedModel | None,
    review: Review | None,
    events: Sequence[FaultEvent],
    title: str,
    should_stop: ShouldStop,
    *,
    created: str,
) -> Generator[Progress, None, int]:
    """Write the report as PDF to ``fh``; yields Progress (one step per event), returns how
    many pages it wrote.

    ``created`` is when the report was made, as it says so. Raises ``Cancelled`` soon after
    ``should_stop()`` turns True.
    """
    entries = event_entries(events, review)
    total = len(entries) + 1
    yield Progress(0, total, "Writing the summary")
    with (
        report_style(),
        quiet_core_font_lookup(),
        PdfPages(fh, metadata={"Title": title, "Creator": "FaultLens"}) as pdf,
    ):
        fast_image_encoding(pdf)
        # Page 1: what was analysed, with what, and how good the data and the model are.
        text_pages, _starts, text_end = lay_text_flow(
            title,
            [
                ("Summary", summary_rows(recording, model, entries)),
                ("About this report", title_rows(recording, result, model, review, created)),
                ("Data quality", quality_rows(recording)),
                ("Model", model_rows(model, result)),
                (
                    "Validation per class (precision / recall / F1 / support)",
                    [(r[0], " / ".join(r[1:])) for r in per_class_rows(model)],
                ),
                ("Scan", scan_rows(result, entries)),
            ],
        )
        # The timeline and table go on under its last lines, and the review under them.
        pages = draw_text_pages(pdf, text_pages[:-1])
        written, last, end = _summary_pages(
            pdf, recording, result, entries, text_pages[-1], text_end
        )
        pages += written
        pages += _review_pages(pdf, recording, review, last, end)
        explanations = explain_events(model, recording, result, events, should_stop)
        pages += yield from _event_pages(
            pdf, recording, result, entries, pages + 1, should_stop, explanations
        )
    yield Progress(total, total, "Done")
    return pages
