"""Error location: which file line a parser error or a bad value is on.

The parsers say little about where they failed (pyarrow numbers rows in blocks, pandas not
at all), so on an error path the file is read once more, line by line, the way the parsers
read it. Only error paths come here: a file that imports cleanly never pays for it.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator

from faultlens.core.errors import RecordingError
from faultlens.core.io.layout import Layout, fail
from faultlens.core.io.records import UNCLOSED_QUOTE, records, split


def iter_data_lines(layout: Layout) -> Iterator[tuple[int, str, bool]]:
    """(file line number, text, closed) of every data row, blank lines left out, as the
    parsers see them: a row with a quoted line break spans lines and is numbered by its
    first (a one-line row keeps its line break). For error reports only."""
    sep = layout.separator
    blank = " \t\r\n".replace(sep, "")
    with open(layout.path, encoding=layout.encoding, errors="replace", newline="") as fh:
        lines = itertools.islice(enumerate(fh, start=1), layout.skip_lines, None)
        for number, text, closed in records(lines, sep):
            if text.strip(blank):  # (not records.is_blank, inlined: this runs once per line)
                yield number, text, closed


def parse_failure(layout: Layout, message: str) -> RecordingError:
    """Turn a parser error into a message with the file line it happened on."""
    if "UTF8" in message or "UTF-8" in message or "utf-8" in message:
        return fail(layout.path, "", "is not valid UTF-8 (UTF-8 error); pass --encoding latin-1")
    width = len(layout.names)
    try:
        for number, text, closed in iter_data_lines(layout):
            if not closed:
                return fail(layout.path, f"line {number}", UNCLOSED_QUOTE)
            fields = split(text.rstrip("\r\n"), layout.separator)
            if len(fields) != width:
                return fail(
                    layout.path,
                    f"line {number}",
                    f"has {len(fields)} fields, expected {width} like the header; "
                    "fix the row or check the separator",
                )
    except (OSError, csv.Error):
        pass
    short = message.splitlines()[0][:200] if message else "unknown parser error"
    return fail(layout.path, "", f"cannot be parsed ({short}); check the separator and encoding")


def data_line_of_row(layout: Layout, row: int) -> int:
    """File line number of data row ``row`` (0-based, file order). Error paths only."""
    for i, (number, _text, _closed) in enumerate(iter_data_lines(layout)):
        if i == row:
            return number
    return layout.skip_lines + row + 1
