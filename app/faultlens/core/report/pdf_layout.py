"""Laying out the PDF's text pages: key/value sections that flow over as many A4 pages as
they take.

A page is a list of texts with their places (``TextInk``), laid out before anything is
drawn, so the event pages can say on which page a cut note goes on. Positions are
fractions of the A4 page, as matplotlib's figure coordinates.

Text flows: a part that starts below another on a page already begun (``start_y``) goes on
there, and says where it ended, so the next part fills the rest of that page instead of
leaving it half empty.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

from faultlens.core.report.mpl_compat import save_pdf_page

if TYPE_CHECKING:
    from matplotlib.backends.backend_pdf import PdfPages


A4 = (8.27, 11.69)  # inches

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


def wrap_lines(text: str, width: int, limit: int | None = None) -> tuple[list[str], bool]:
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


def _key_width(text: str) -> float:
    """``text``'s width in points in the bold 7.5 pt of a key, as DejaVu Sans: the embedded
    font, and wider than the built-in Helvetica, so a key that fits in it fits in both."""
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


def lay_text_pages(
    title: str, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]
) -> tuple[list[list[TextInk]], list[int]]:
    """``lay_text_flow`` on fresh pages: the texts of each page and the page each row starts
    on."""
    pages, starts, _end = lay_text_flow(title, sections)
    return pages, starts


# Room a part needs below another on a begun page: its title, a heading and two lines.
FLOW_MIN_ROOM = 0.04 + 0.026 + 2 * TEXT_LINE
# Where text may start again below a figure or a table drawn on the same page.
FLOW_GAP = 0.025


def lay_text_flow(
    title: str,
    sections: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    start_y: float | None = None,
) -> tuple[list[list[TextInk]], list[int], float]:
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

    With ``start_y``, the first page is one begun already (by another part): its texts start
    there, under ``title`` set as a smaller heading, when the title, a heading and two lines
    fit; else that page gets nothing (an empty first list) and the text starts on a page of
    its own. Also returns where the last page's text ended (the top of what may follow).
    """
    pages: list[list[TextInk]] = []
    starts: list[int] = []
    y = 0.0
    begun = start_y is not None

    def new_page(heading: str) -> None:
        nonlocal y
        more = CONTINUED if pages and (pages[-1] or len(pages) > 1) else ""
        pages.append([(0.07, TEXT_PAGE_TOP, title + more, 15, "bold")])
        y = TEXT_PAGE_TOP - 0.045
        if heading:
            draw_heading(heading + more)

    def draw_heading(heading: str) -> None:
        nonlocal y
        pages[-1].append((0.07, y, heading, 11, "bold"))
        y -= 0.026

    if start_y is not None and start_y - FLOW_MIN_ROOM >= TEXT_PAGE_BOTTOM:
        pages.append([(0.07, start_y, title, 13, "bold")])
        y = start_y - 0.04
    else:
        if begun:
            pages.append([])  # the begun page has no room: nothing goes on it
        new_page("")
    for heading, rows in sections:
        if not rows:
            continue
        laid = [
            (key, _row_lines(_key_lines(key), wrap_lines(str(value), 78)[0] or [""]))
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
    return pages, starts, y


def draw_texts(fig: Figure, texts: Sequence[TextInk]) -> None:
    """Draw laid-out texts on ``fig`` (a page)."""
    for x, y, text, size, weight in texts:
        fig.text(x, y, text, fontsize=size, weight=weight, va="top", parse_math=False)


def draw_text_pages(pdf: PdfPages, pages: Sequence[Sequence[TextInk]]) -> int:
    """Add the pages ``lay_text_pages`` laid out to ``pdf``; return how many."""
    for texts in pages:
        fig = Figure(figsize=A4)
        draw_texts(fig, texts)
        save_pdf_page(pdf, fig)
    return len(pages)


def pdf_text_pages(
    pdf: PdfPages, title: str, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]
) -> int:
    """Draw key/value sections on as many pages as they take (``lay_text_pages``); return
    how many were added to ``pdf``."""
    return draw_text_pages(pdf, lay_text_pages(title, sections)[0])
