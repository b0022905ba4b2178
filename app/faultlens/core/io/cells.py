"""What one cell of text holds: a number, a date, text, or nothing.

Detection types the sample's cells with these rules; the column policy, the readers and
the label conversion reuse them so that a cell means the same thing at every step.
"""

from __future__ import annotations

import re

# Cells that mean "missing" (pyarrow's defaults plus "None"), the same for both parsers so
# a file reads identically whichever parser handles it.
NA_TOKENS = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "n/a",
    "nan",
    "null",
    "None",
]
NA_SET = frozenset(NA_TOKENS)

NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_NUMBER_COMMA_RE = re.compile(r"^[+-]?(?:\d+,?\d*|,\d+)(?:[eE][+-]?\d+)?$")
COMMA_DECIMAL_RE = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")
DOT_DECIMAL_RE = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$")
# One value of a one-column decimal-comma file: digits, at most one comma with digits on
# both sides, an optional exponent ("2", "-0,75", "1,5E-03"). "1," and ",5" do not count:
# they read as well as a number beside an empty cell.
ONE_COMMA_NUMBER_RE = re.compile(r"^[+-]?\d+(?:,\d+)?(?:[eE][+-]?\d+)?$")
# ISO-8601 / "YYYY-MM-DD hh:mm:ss", optional fraction and offset: what pyarrow parses itself.
ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
# Two unambiguous local date styles (year first with slashes, day first with dots), parsed
# with an exact format built from the first value.
_LOCAL_DATES = (
    (re.compile(r"^\d{4}/\d{2}/\d{2}"), "%Y/%m/%d"),
    (re.compile(r"^\d{2}\.\d{2}\.\d{4}"), "%d.%m.%Y"),
)
_LOCAL_TIME_RE = re.compile(r"^(?:([ T])\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


def cell_kind(cell: str, decimal: str) -> str:
    """What ``cell`` holds ("empty", "numeric", "datetime" or "text") with ``decimal`` as
    the decimal mark."""
    if cell in NA_SET:
        return "empty"
    if (_NUMBER_COMMA_RE if decimal == "," else NUMBER_RE).match(cell):
        return "numeric"
    if ISO_RE.match(cell) or local_date_format(cell):
        return "datetime"
    return "text"


def local_date_format(cell: str) -> str | None:
    """The strptime format of a "2024/01/31 12:00:00" or "31.01.2024 12:00" cell, else None."""
    for date_re, date_format in _LOCAL_DATES:
        m = date_re.match(cell)
        if m is None:
            continue
        t = _LOCAL_TIME_RE.match(cell[m.end() :])
        if t is None:
            return None
        if t.group(1) is None:
            return date_format
        time_format = "%H:%M" + (":%S" if t.group(2) else "") + (".%f" if t.group(3) else "")
        return f"{date_format}{t.group(1)}{time_format}"
    return None
