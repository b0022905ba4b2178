"""How lines of text become CSV records and fields, read the way the parsers read them.

Detection splits the head with these rules and the error location re-reads the file with
them, so a line number in a message is the line the parser stumbled on. A quoted field may
hold line breaks: a record then spans lines and is numbered by its first.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from faultlens.core.io.layout import WHITESPACE

UNCLOSED_QUOTE = (
    "a quoted field in this row is never closed, so the rest of the file would be one value; "
    'close the quote (") or remove it'
)


def split(line: str, separator: str) -> list[str]:
    """The stripped fields of one record."""
    if separator == WHITESPACE:
        return line.split()
    if '"' not in line:
        return [c.strip() for c in line.split(separator)]
    return [c.strip() for c in next(csv.reader([line], delimiter=separator))]


def is_blank(line: str, separator: str) -> bool:
    """True for a line of nothing but spaces and tabs (other than a tab separator), which
    every reader skips like an empty line, as pandas does; a line that holds the separator
    is a row of empty cells."""
    return not line.strip(" \t\r\n".replace(separator, ""))


def _in_quotes_after(line: str, separator: str, in_quotes: bool) -> bool:
    """Whether a quoted field is still open at the end of ``line``, entered inside one or
    not. Read as pyarrow and the csv module read it: a quote opens a field only as its
    first character, and inside one ``""`` is a quote."""
    i, n = 0, len(line)
    at_field_start = not in_quotes
    while i < n:
        if in_quotes:
            j = line.find('"', i)
            if j < 0:
                return True
            if j + 1 < n and line[j + 1] == '"':
                i = j + 2
                continue
            in_quotes, at_field_start, i = False, False, j + 1
        elif at_field_start and line[i] == '"':
            in_quotes, i = True, i + 1
        else:
            j = line.find(separator, i)
            if j < 0:
                return False
            at_field_start, i = True, j + 1
    return in_quotes


def records(lines: Iterable[tuple[int, str]], separator: str) -> Iterator[tuple[int, str, bool]]:
    """(first line number, text, closed) of each CSV record in numbered physical lines.

    A line break inside a quoted field continues the record on the next line (its text
    then holds "\n" there); ``closed`` is False only for a last record whose quoted field
    never closes. Lines without a quote, the common case, pass through as they are (with
    their line break, if they came with one). Runs of whitespace have no quoting here.
    """
    start, in_quotes = 0, False
    parts: list[str] = []
    for number, line in lines:
        if not parts:
            if '"' not in line or separator == WHITESPACE:
                yield number, line, True
                continue
            start = number
        line = line.rstrip("\r\n")
        parts.append(line)
        if '"' in line:
            in_quotes = _in_quotes_after(line, separator, in_quotes)
        if not in_quotes:
            yield start, "\n".join(parts), True
            parts = []
    if parts:
        yield start, "\n".join(parts), False
