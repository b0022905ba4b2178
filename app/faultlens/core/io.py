"""CSV -> Recording: detection of encoding, separator, header, decimal, time and label columns.

Detection looks only at the first ``SAMPLE_BYTES`` of the file. The full read then goes
through pyarrow's CSV parser (the one behind ``pandas.read_csv(engine="pyarrow")``, used
directly): only the needed columns are converted, channels straight to float32 and ISO
timestamps inside the parser. On the fast path the file is cut after line breaks into
ranges of a few MB that a thread pool parses in parallel; their rows are copied in file
order into a preallocated ``(N, C)`` float32 matrix while the quality statistics
accumulate and the file's sha256 is computed from the same bytes, so the peak memory is
about the matrix plus the ranges in flight. Anything the fast path cannot vouch for (a bad
row, stray text in a numeric column, a range cut inside a quoted field) goes to the careful
path, which reads the whole file as one table and reports every problem by its file line.
Files separated by runs of whitespace, which pyarrow cannot split, go through pandas' C
engine.

A line of nothing but spaces and tabs is blank and skipped like an empty line, by every
path. A quoted field may hold line breaks: detection groups the head's lines into rows
before it splits them, the careful path reads a file with quotes quote-aware, and a quote
that never closes is reported by its line.

Every failure the file can cause raises ``RecordingError`` with a one-line message naming
the file, the line or column, and what to do.
"""

from __future__ import annotations

import codecs
import copy
import csv
import hashlib
import itertools
import math
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from faultlens.core.errors import RecordingError
from faultlens.core.recording import ImportOptions, QualityReport, Recording

# Detection reads this much of the head of the file, never more.
SAMPLE_BYTES = 64 * 1024
# At most this many sample lines are split and typed during detection.
SAMPLE_LINES = 500
WHITESPACE = r"\s+"
# Line breaks as the CSV parsers see them (str.splitlines also splits at \x85, \f, ...).
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")

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
_NA_SET = frozenset(NA_TOKENS)

# Column names (lower-case, non-alphanumerics removed) that mark the label column, in order
# of preference when several are present.
LABEL_NAMES = (
    "label",
    "labels",
    "faultlabel",
    "fault",
    "faulttype",
    "faultclass",
    "class",
    "classlabel",
    "anomaly",
    "isanomaly",
    "target",
    "state",
    "condition",
    "status",
)
# Other annotation columns: never input channels unless named explicitly.
ANNOTATION_NAMES = ("changepoint", "changepoints", "anomalyscore", "annotation", "comment", "note")

_TIME_NAME_RE = re.compile(
    r"^(time|timestamp|timestamps|datetime|date|ts|t|epoch|unixtime|elapsed)"
    r"([\s_\-\[(].*)?$",
    re.IGNORECASE,
)
_TIME_UNIT_IN_NAME_RE = re.compile(r"[\s_\-\[(](s|sec|ms|us|µs|ns)[\])]?$", re.IGNORECASE)
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_NUMBER_COMMA_RE = re.compile(r"^[+-]?(?:\d+,?\d*|,\d+)(?:[eE][+-]?\d+)?$")
_COMMA_DECIMAL_RE = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")
_DOT_DECIMAL_RE = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$")
# One value of a one-column decimal-comma file: digits, at most one comma with digits on
# both sides, an optional exponent ("2", "-0,75", "1,5E-03"). "1," and ",5" do not count:
# they read as well as a number beside an empty cell.
_ONE_COMMA_NUMBER_RE = re.compile(r"^[+-]?\d+(?:,\d+)?(?:[eE][+-]?\d+)?$")
# ISO-8601 / "YYYY-MM-DD hh:mm:ss", optional fraction and offset: what pyarrow parses itself.
_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
# Two unambiguous local date styles (year first with slashes, day first with dots), parsed
# with an exact format built from the first value.
_LOCAL_DATES = (
    (re.compile(r"^\d{4}/\d{2}/\d{2}"), "%Y/%m/%d"),
    (re.compile(r"^\d{2}\.\d{2}\.\d{4}"), "%d.%m.%Y"),
)
_LOCAL_TIME_RE = re.compile(r"^(?:([ T])\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")

_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
# Epoch magnitudes (|value| of a time stamp after 1973): seconds ~1e9, ms ~1e12, ...
_EPOCH_UNIT_BY_MAGNITUDE = ((1e17, "ns"), (1e14, "us"), (1e11, "ms"), (1e8, "s"))

# A channel is "stuck" when one value repeats for at least this many consecutive rows and
# at least this fraction of the file: long enough that sensor noise would have moved it.
STUCK_MIN_ROWS = 100
STUCK_MIN_FRACTION = 0.05
# Sampling intervals further than this from the median count as irregular.
IRREGULAR_TOLERANCE = 0.10


# ImportOptions is frozen, so one shared default instance is safe.
DEFAULT_OPTIONS = ImportOptions()


@dataclass
class Preview:
    """What the import dialog shows before loading: the resolved options and the first rows."""

    path: Path
    options: ImportOptions  # every field resolved (no None left where detection applies)
    columns: list[str]
    rows: list[list[str]]  # first rows as text, for a preview table
    channel_candidates: list[str] = field(default_factory=list)
    label_candidates: list[str] = field(default_factory=list)
    time_candidates: list[str] = field(default_factory=list)
    # column -> why it is not an input channel (non-numeric, label-like, ...)
    excluded_columns: dict[str, str] = field(default_factory=dict)


@dataclass
class _Layout:
    """Everything detection found out about a file, from its head only."""

    path: Path
    encoding: str
    separator: str
    decimal: str
    header: bool
    skip_lines: int  # physical lines before the first data row (blank lines + header)
    names: list[str]
    sample_rows: list[list[str]]
    sample_line_numbers: list[int]  # 1-based file line of each sample row
    kinds: dict[str, str]  # column -> "numeric" | "datetime" | "text" | "empty"
    bytes_per_line: float = 64.0  # in the sample, to size the matrix before parsing
    time_column: str | None = None
    time_kind: str = "index"  # "datetime" | "numeric" | "index"
    time_unit: str | None = None
    time_offsets: str = "none"  # "none" | "all" | "mixed": zone offsets in the sample
    time_format: str | None = None  # strptime format of non-ISO date text, None for ISO
    utc_offset_s: int | None = None
    label_column: str | None = None
    channels: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- public API
def preview_file(
    path: str | Path, options: ImportOptions = DEFAULT_OPTIONS, rows: int = 50
) -> Preview:
    """Detect how to read ``path`` from its head and return the settings and first rows.

    Cheap: reads at most ``SAMPLE_BYTES`` of the file. Raises ``RecordingError`` for files
    that cannot be imported at all (missing, binary, empty, no numeric column, ...).
    """
    path = Path(path)
    layout = _detect(path, options)
    label_candidates = [c for c in layout.names if _is_label_like(c) or c == layout.label_column]
    time_candidates = [
        c
        for c in layout.names
        if layout.kinds[c] == "datetime"
        or (layout.kinds[c] == "numeric" and _TIME_NAME_RE.match(c))
        or c == layout.time_column
    ]
    channel_candidates = [c for c in layout.names if layout.kinds[c] in ("numeric", "empty")]
    table = [
        (r + [""] * (len(layout.names) - len(r)))[: len(layout.names)]
        for r in layout.sample_rows[: max(rows, 0)]
    ]
    return Preview(
        path=path,
        options=_resolved_options(layout),
        columns=list(layout.names),
        rows=table,
        channel_candidates=channel_candidates,
        label_candidates=label_candidates,
        time_candidates=time_candidates,
        excluded_columns=dict(layout.excluded),
    )


def load_recording(path: str | Path, options: ImportOptions = DEFAULT_OPTIONS) -> Recording:
    """Read a sensor CSV into a validated ``Recording``.

    Every field of ``options`` left as ``None`` is detected from the head of the file; the
    fully resolved options are stored on the result (``Recording.options``) so the same
    file can be re-read the same way. Missing values stay NaN; rows with unsorted
    timestamps are sorted (with a warning in the quality report).

    Raises ``RecordingError`` (one-line message: file, line/column, what to do) for every
    problem the file can cause.
    """
    path = Path(path)
    return _load(_detect(path, options), options)


def _load(layout: _Layout, options: ImportOptions) -> Recording:
    path = layout.path
    explicit_encoding = options.encoding is not None
    try:
        columns, n_rows, content_hash = _read_columns(layout)
    except RecordingError as err:
        # An ASCII head says nothing about bytes further down; Latin-1 reads anything.
        if explicit_encoding or layout.encoding != "utf-8" or "UTF-8" not in str(err):
            raise
        layout.encoding = "latin-1"
        layout.warnings.append("file is not valid UTF-8 past its first 64 KB; read as Latin-1")
        columns, n_rows, content_hash = _read_columns(layout)
    if n_rows == 0:
        raise RecordingError(
            f"{path}: line {layout.skip_lines}: the file has a header but no data rows; "
            "add data rows or pick another file"
        )

    time = _convert_time(layout, columns.pop("__time__", None))
    labels = _convert_labels(columns.pop("__label__", None))
    matrix = columns.pop("__matrix__", None)
    data, stats = matrix if matrix is not None else _assemble_matrix(layout, columns, n_rows)
    del columns

    report = QualityReport(rows=n_rows, channels=len(layout.channels))
    report.excluded_columns = dict(layout.excluded)
    report.warnings = list(layout.warnings)
    if time is not None:
        time, data, labels = _check_time_order(layout, time, data, labels, report)
        if report.sorted_by_time:
            # Runs of stuck values are about the sorted order.
            stats = [_channel_stats(data, j) for j in range(data.shape[1])]
    _fill_quality(report, layout.channels, stats, time)

    return Recording(
        path=path,
        data=data,
        channels=tuple(layout.channels),
        time=time,
        time_kind="index"
        if time is None
        else ("datetime" if layout.time_kind == "datetime" else "seconds"),
        time_column=layout.time_column,
        utc_offset_s=layout.utc_offset_s,
        labels=labels,
        label_column=layout.label_column,
        content_hash=content_hash,
        options=_resolved_options(layout),
        quality=report,
    )


# ----------------------------------------------------------------------------- detection
def _fail(path: Path, where: str, what: str) -> RecordingError:
    where = f" {where}:" if where else ""
    return RecordingError(f"{path}:{where} {what}")


def _read_head(path: Path) -> tuple[bytes, bool]:
    """The first SAMPLE_BYTES of the file and whether the file is longer than that."""
    if not path.exists():
        raise _fail(path, "", "file not found; check the path")
    if path.is_dir():
        raise _fail(path, "", "is a folder, not a file; pick a CSV file inside it")
    try:
        with path.open("rb") as fh:
            head = fh.read(SAMPLE_BYTES + 1)
    except PermissionError:
        raise _fail(path, "", "permission denied; check the file's read permissions") from None
    except OSError as err:
        raise _fail(path, "", f"cannot be read ({err.strerror or err}); check the file") from None
    return head[:SAMPLE_BYTES], len(head) > SAMPLE_BYTES


def _detect_encoding(path: Path, head: bytes, truncated: bool, forced: str | None) -> str:
    if forced:
        try:
            "".encode(forced)
        except LookupError:
            raise _fail(
                path, "", f"unknown encoding {forced!r}; use e.g. utf-8 or latin-1"
            ) from None
        return forced
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(path, "", "is UTF-16 text; save it as UTF-8 (or Latin-1) CSV and retry")
    try:
        # A multi-byte character may be cut at the end of the sample: ignore up to 3 bytes.
        head.decode("utf-8") if not truncated else _decode_prefix(head)
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"


def _decode_prefix(head: bytes) -> str:
    for cut in range(4):
        try:
            return head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError as err:
            if err.start < len(head) - 4:
                raise
    raise UnicodeDecodeError("utf-8", head, 0, 1, "undecodable")


def _decode(path: Path, head: bytes, encoding: str, truncated: bool) -> str:
    try:
        text = head.decode(encoding, errors="strict")
    except UnicodeDecodeError as err:
        if truncated and err.start >= len(head) - 4:
            text = head[: err.start].decode(encoding)
        else:
            line = head[: err.start].count(b"\n") + 1
            raise _fail(
                path, f"line {line}", f"is not valid {encoding} text; pass another encoding"
            ) from None
    if encoding == "utf-8-sig" or text.startswith("\ufeff"):
        text = text.lstrip("\ufeff")
    return text


# Bytes that never occur in text CSV (ASCII control characters other than whitespace).
_CONTROL_BYTES = bytes([*range(0, 9), 11, 14, *range(15, 32), 127])


def _looks_binary(head: bytes) -> bool:
    """True when the head has more control bytes than a text file ever would."""
    if b"\x00" in head:
        return True
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    # Text CSVs have essentially no control bytes; compressed/binary data has ~12 %.
    return control > max(2, len(head) // 100)


def _split(line: str, separator: str) -> list[str]:
    if separator == WHITESPACE:
        return line.split()
    if '"' not in line:
        return [c.strip() for c in line.split(separator)]
    return [c.strip() for c in next(csv.reader([line], delimiter=separator))]


def _is_blank(line: str, separator: str) -> bool:
    """True for a line of nothing but spaces and tabs (other than a tab separator), which
    every reader skips like an empty line, as pandas does; a line that holds the separator
    is a row of empty cells."""
    return not line.strip(" \t\r\n".replace(separator, ""))


def _blank_row_handler(separator: str) -> Any:
    """pyarrow's ``invalid_row_handler``: skip a blank line (too few fields), else fail."""
    blank = " \t\r".replace(separator, "")

    def handle(row: Any) -> str:
        return "error" if row.text.strip(blank) else "skip"

    return handle


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


def _records(lines: Iterable[tuple[int, str]], separator: str) -> Iterator[tuple[int, str, bool]]:
    """(first line number, text, closed) of each CSV record in numbered physical lines.

    A line break inside a quoted field continues the record on the next line (its text
    then holds "\n" there); ``closed`` is False only for a last record whose quoted field
    never closes. Lines without a quote, the common case, pass through as they are (with
    their line break, if they came with one). Runs of whitespace have no quoting here.
    """
    start, parts, in_quotes = 0, [], False
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


_UNCLOSED_QUOTE = (
    "a quoted field in this row is never closed, so the rest of the file would be one value; "
    'close the quote (") or remove it'
)


@dataclass
class _Record:
    first: int  # 1-based file line where the record starts
    last: int  # and where it ends (later than ``first`` when a quoted field spans lines)
    text: str
    closed: bool = True


def _sample_records(body: list[tuple[int, str]], separator: str, truncated: bool) -> list[_Record]:
    """The first ``SAMPLE_LINES`` non-blank records of the head's numbered lines. A record
    left open where a truncated head ends is cut by the sample size, and left out."""
    out: list[_Record] = []
    for number, text, closed in _records(body, separator):
        if not closed and truncated:
            break
        if _is_blank(text, separator):
            continue
        out.append(_Record(number, number + text.count("\n"), text, closed))
        if len(out) == SAMPLE_LINES:
            break
    return out


def _detect_separator(body: list[tuple[int, str]], truncated: bool) -> str:
    """The separator giving the most consistent field count (>1) over the sample records."""
    best, best_score = None, (0.0, 0)
    seen_records = False
    for sep in ("\t", ";", ",", "|"):
        # Each candidate reads the quotes its own way: a quote opens a field only after it.
        counts = [len(_split(r.text, sep)) for r in _sample_records(body, sep, truncated)]
        if not counts:
            continue  # the first row's quoted field runs past the head
        seen_records = True
        modal = max(set(counts), key=counts.count)
        if modal < 2:
            continue
        consistency = counts.count(modal) / len(counts)
        # Consistency first, then more fields; ties keep the earlier candidate, so a
        # decimal-comma file with ";" separators is read as ";" not ",".
        score = (round(consistency, 2), modal)
        if consistency >= 0.9 and score > best_score:
            best, best_score = sep, score
    if best is not None:
        return best
    if not seen_records:
        return ","  # for the caller to say that the quote does not close
    counts = [len(line.split()) for _, line in body[:SAMPLE_LINES]]
    if max(counts) > 1:
        return WHITESPACE
    return ","


# The separator a one-column decimal-comma file is read with: no sampled record holds it
# outside quotes, and ";" with "," is how European exports write wider files anyway.
_ONE_COLUMN_SEPARATOR = ";"


def _is_one_comma_decimal_column(
    body: list[tuple[int, str]], truncated: bool, header: bool | None
) -> bool:
    """Whether the head is one named column of numbers written with a decimal comma.

    Separator detection takes the comma of "1,5" for a separator, so such a file (a
    European export of a single channel) read as two columns under a one-name header and
    failed on its first row. It is one column when the header is a single name under every
    candidate separator and every sampled data row is one number with at most one comma,
    digits after it (missing-value tokens aside), at least one of them with a comma.

    "1,500" is then 1.5, not 1500: the comma is the decimal mark, as in the European exports
    that write such files, and as a ";"-separated decimal-comma file reads it too.
    Thousands separators are never read, in any file.
    """
    if header is False:
        return False  # without a header, "1,5" rows read as two integer columns
    records = _sample_records(body, _ONE_COLUMN_SEPARATOR, truncated)
    if len(records) < 2 or not records[-1].closed:
        return False
    name = records[0].text
    try:
        if any(len(_split(name, sep)) != 1 for sep in ("\t", ";", ",", "|")):
            return False
        cells = [_split(r.text, _ONE_COLUMN_SEPARATOR) for r in records]
    except csv.Error:
        return False
    if header is None and _cell_kind(cells[0][0], ",") != "text":
        return False  # a number or a date on the first line: no header, so no name
    if any(len(row) != 1 for row in cells[1:]):
        return False  # (only a quoted value can hold the separator)
    values = [row[0] for row in cells[1:] if row[0] not in _NA_SET]
    return all(_ONE_COMMA_NUMBER_RE.match(v) for v in values) and any("," in v for v in values)


def _detect_decimal(rows: list[list[str]], separator: str) -> str:
    if separator == ",":
        return "."
    comma = dot = 0
    for row in rows:
        for cell in row:
            if _COMMA_DECIMAL_RE.match(cell):
                comma += 1
            elif _DOT_DECIMAL_RE.match(cell):
                dot += 1
    return "," if comma > dot else "."


def _cell_kind(cell: str, decimal: str) -> str:
    if cell in _NA_SET:
        return "empty"
    if (_NUMBER_COMMA_RE if decimal == "," else _NUMBER_RE).match(cell):
        return "numeric"
    if _ISO_RE.match(cell) or _local_date_format(cell):
        return "datetime"
    return "text"


def _local_date_format(cell: str) -> str | None:
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


def _detect_header(rows: list[list[str]], decimal: str) -> bool:
    first = [_cell_kind(c, decimal) for c in rows[0]]
    if len(rows) == 1:
        return all(k == "text" for k in first)
    body = rows[1:]
    for j, kind in enumerate(first):
        if kind != "text":
            continue
        below = [_cell_kind(r[j], decimal) for r in body if j < len(r)]
        below = [k for k in below if k != "empty"]
        if below and any(k != "text" for k in below):
            return True
    # All-text first line above all-text columns: a header if its cells are distinct names
    # that do not repeat in the rows below.
    if all(k == "text" for k in first):
        return not any(rows[0] == r for r in body) and len(set(rows[0])) == len(rows[0])
    return False


def _unique_names(raw: list[str]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(raw):
        # A quoted name may span lines; names appear in one-line messages and legends.
        base = re.sub(r"\s*[\r\n]\s*", " ", name.strip()) or f"column_{i + 1}"
        candidate, k = base, 1
        while candidate in seen:
            candidate, k = f"{base}.{k}", k + 1
        seen.add(candidate)
        names.append(candidate)
    return names


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _is_label_like(name: str) -> bool:
    n = _norm(name)
    return n in LABEL_NAMES or n in ANNOTATION_NAMES or "label" in n


def _epoch_unit(magnitude: float) -> str | None:
    for threshold, unit in _EPOCH_UNIT_BY_MAGNITUDE:
        if magnitude >= threshold:
            return unit
    return None


def _detect(path: Path, options: ImportOptions) -> _Layout:
    head, truncated = _read_head(path)
    if not head.strip():
        raise _fail(path, "", "the file is empty; pick a file with a header and data rows")
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16 and _looks_binary(head):
        raise _fail(path, "", "looks like a binary file, not CSV text; export it as CSV first")
    encoding = _detect_encoding(path, head, truncated, options.encoding)
    text = _decode(path, head, encoding, truncated)
    if "\x00" in text:
        raise _fail(path, "", "looks like a binary file, not CSV text; export it as CSV first")

    physical = _LINE_BREAK_RE.split(text)
    tail = physical.pop()  # "" after a final line break
    if tail and not truncated:
        physical.append(tail)  # (in a truncated head the last line is cut in the middle)
    first = 0
    # Loggers often write "# ..." metadata lines above the header: a preamble, skipped
    # with the blank lines around it.
    while first < len(physical) and (
        not physical[first].strip() or physical[first].lstrip().startswith("#")
    ):
        first += 1
    if first == len(physical):
        raise _fail(path, "", "the file is empty; pick a file with a header and data rows")
    body = list(enumerate(physical, start=1))[first:]

    one_comma_column = False
    if options.separator is not None:
        separator = options.separator
        if separator in (" ", "space", "whitespace"):
            separator = WHITESPACE
        if separator == "tab":
            separator = "\t"
        if separator != WHITESPACE and len(separator) != 1:
            raise _fail(path, "", f"separator {separator!r} is not one character; use , ; or tab")
    elif options.decimal in (None, ",") and _is_one_comma_decimal_column(
        body, truncated, options.header
    ):
        separator, one_comma_column = _ONE_COLUMN_SEPARATOR, True
    else:
        separator = _detect_separator(body, truncated)
    records = _sample_records(body, separator, truncated)
    if not records:
        raise _fail(
            path,
            f"line {body[0][0]}",
            "a quoted field in this row does not close within the first 64 KB; close the "
            'quote (") or remove it',
        )
    if not records[-1].closed:
        raise _fail(path, f"line {records[-1].first}", _UNCLOSED_QUOTE)
    try:
        rows = [_split(r.text, separator) for r in records]
    except csv.Error as err:
        raise _fail(
            path, "", f"cannot be split into columns ({err}); check the separator"
        ) from None

    decimal = options.decimal or (
        "," if one_comma_column else _detect_decimal(rows[:50], separator)
    )
    if decimal not in (".", ","):
        raise _fail(path, "", f"decimal mark {decimal!r} is not supported; use '.' or ','")
    if decimal == separator:
        raise _fail(path, "", "the decimal mark and the separator are both ','; set --separator")
    header = options.header if options.header is not None else _detect_header(rows, decimal)

    width = len(rows[0]) if header else max(set(map(len, rows)), key=[len(r) for r in rows].count)
    if header:
        names = _unique_names(rows[0])
        sample_rows = rows[1:]
        skip_lines = records[0].last
        line_numbers = [r.first for r in records[1:]]
    else:
        names = [f"ch_{i + 1}" for i in range(width)]
        sample_rows = rows
        skip_lines = records[0].first - 1
        line_numbers = [r.first for r in records]

    layout = _Layout(
        path=path,
        encoding=encoding,
        separator=separator,
        decimal=decimal,
        header=header,
        skip_lines=skip_lines,
        names=names,
        sample_rows=sample_rows,
        sample_line_numbers=line_numbers,
        kinds=_column_kinds(names, sample_rows, decimal),
        bytes_per_line=len(head) / max(len(physical), 1),
    )
    _resolve_columns(layout, options)
    return layout


def _column_kinds(names: list[str], rows: list[list[str]], decimal: str) -> dict[str, str]:
    """Each column's kind from the sample: the kind of all its non-missing cells, or the kind
    of at least 90 % of them (a numeric column with an odd "ERR" cell stays numeric and the
    stray cells become gaps with a warning), else "text"."""
    kinds: dict[str, str] = {}
    for j, name in enumerate(names):
        cells = [_cell_kind(r[j], decimal) for r in rows if j < len(r)]
        cells = [k for k in cells if k != "empty"]
        if not cells:
            kinds[name] = "empty"
            continue
        top = max(("numeric", "datetime", "text"), key=cells.count)
        share = cells.count(top) / len(cells)
        kinds[name] = top if share == 1.0 or (top != "text" and share >= 0.9) else "text"
    return kinds


def _dominant_kind(layout: _Layout, column: str) -> str:
    """The most common non-missing cell kind of ``column`` in the sample."""
    j = layout.names.index(column)
    cells = [_cell_kind(r[j], layout.decimal) for r in layout.sample_rows if j < len(r)]
    cells = [k for k in cells if k != "empty"]
    if not cells:
        return "empty"
    return max(("numeric", "datetime", "text"), key=cells.count)


def _first_text_cell(layout: _Layout, column: str) -> tuple[int, str] | None:
    j = layout.names.index(column)
    for i, row in enumerate(layout.sample_rows):
        if (
            j < len(row)
            and _cell_kind(row[j], layout.decimal) != "numeric"
            and row[j] not in _NA_SET
        ):
            return layout.sample_line_numbers[i], row[j]
    return None


def _numeric_sample(layout: _Layout, column: str) -> np.ndarray:
    j = layout.names.index(column)
    values = []
    for row in layout.sample_rows:
        if j < len(row) and _cell_kind(row[j], layout.decimal) == "numeric":
            values.append(float(row[j].replace(",", ".")))
    return np.asarray(values, dtype=np.float64)


def _require_column(layout: _Layout, name: str, what: str, flag: str) -> None:
    if name not in layout.names:
        raise _fail(
            layout.path,
            f"{what} {name!r}",
            f"no such column; columns are {', '.join(layout.names)}; fix {flag}",
        )


def _resolve_columns(layout: _Layout, options: ImportOptions) -> None:
    """Pick the time column, the label column and the input channels."""
    names, kinds = layout.names, layout.kinds

    # --- time column
    time_col: str | None = None
    if not options.no_time_column:
        if options.time_column is not None:
            _require_column(layout, options.time_column, "time column", "--time-column")
            time_col = options.time_column
        else:
            # A column named like a clock is the time axis if most of its cells look like
            # times; its bad cells are then reported by line instead of silently dropped.
            named = [
                c
                for c in names
                if _TIME_NAME_RE.match(c) and _dominant_kind(layout, c) in ("numeric", "datetime")
            ]
            dated = [c for c in names if kinds[c] == "datetime"]
            if named:
                time_col = named[0]
            elif dated:
                time_col = dated[0]
            elif kinds[names[0]] == "numeric" and len(names) > 1:
                # An unnamed first column that counts up in whole epoch units is a clock.
                v = _numeric_sample(layout, names[0])
                if (
                    v.size >= 2
                    and np.all(np.diff(v) > 0)
                    and np.all(v == np.round(v))
                    and _epoch_unit(float(np.median(np.abs(v)))) is not None
                ):
                    time_col = names[0]
    layout.time_column = time_col
    if time_col is not None:
        _resolve_time_kind(layout, options, time_col)

    # --- label column
    label_col: str | None = None
    if not options.no_label_column:
        if options.label_column is not None:
            _require_column(layout, options.label_column, "label column", "--label-column")
            label_col = options.label_column
        else:
            by_norm = {}
            for c in names:
                by_norm.setdefault(_norm(c), c)
            for key in LABEL_NAMES:
                if key in by_norm and by_norm[key] != time_col:
                    label_col = by_norm[key]
                    break
            if label_col is None:
                label_col = next((c for c in names if "label" in _norm(c) and c != time_col), None)
    layout.label_column = label_col

    # --- channels
    excluded: dict[str, str] = {}
    if options.channels is not None:
        if not options.channels:
            raise _fail(layout.path, "", "the channel list is empty; name at least one channel")
        for c in options.channels:
            _require_column(layout, c, "channel", "--channels")
        channels = list(dict.fromkeys(options.channels))
        for c in channels:
            if c == time_col:
                raise _fail(
                    layout.path, f"column {c!r}", "is the time column; remove it from --channels"
                )
            if c == label_col:
                raise _fail(
                    layout.path, f"column {c!r}", "is the label column; remove it from --channels"
                )
        for c in names:
            if c not in channels and c not in (time_col, label_col):
                excluded[c] = "not in the selected channels"
    else:
        channels = []
        for c in names:
            if c in (time_col, label_col):
                continue
            if _is_label_like(c):
                excluded[c] = "label/annotation column (never an input unless named as a channel)"
            elif kinds[c] == "numeric":
                channels.append(c)
            elif kinds[c] == "empty":
                if c.startswith("column_"):
                    excluded[c] = "empty column without a name"
                else:
                    channels.append(c)
            else:
                bad = _first_text_cell(layout, c)
                example = f" (e.g. {bad[1]!r} at line {bad[0]})" if bad else ""
                excluded[c] = f"non-numeric{example}"
    if not channels:
        why = "; ".join(f"{c}: {r}" for c, r in excluded.items()) or "no columns besides time/label"
        raise _fail(
            layout.path,
            "",
            f"no numeric channel columns ({why}); check the separator/decimal or name --channels",
        )
    layout.channels = channels
    layout.excluded = excluded


def _resolve_time_kind(layout: _Layout, options: ImportOptions, time_col: str) -> None:
    kind = layout.kinds[time_col]
    if kind == "text":
        kind = _dominant_kind(layout, time_col)
    unit = options.time_unit
    if unit is not None and unit not in _UNIT_SECONDS:
        raise _fail(layout.path, "", f"time unit {unit!r} is unknown; use s, ms, us or ns")
    if kind in ("numeric", "empty"):
        layout.time_kind = "numeric"
        v = _numeric_sample(layout, time_col)
        magnitude = float(np.median(np.abs(v))) if v.size else 0.0
        if unit is None:
            m = _TIME_UNIT_IN_NAME_RE.search(time_col)
            if m:
                unit = {"sec": "s", "µs": "us"}.get(m.group(1).lower(), m.group(1).lower())
        if unit is None:
            # No unit given or named: an epoch-sized value says its unit by its magnitude.
            epoch = _epoch_unit(magnitude)
            layout.time_unit = epoch or "s"
            layout.time_kind = "datetime" if epoch else "numeric"
            return
        layout.time_unit = unit
        # With a known unit, a value past 1973 (1e8 s) is a date, anything less a duration.
        if magnitude * _UNIT_SECONDS[unit] >= 1e8:
            layout.time_kind = "datetime"
        return
    layout.time_kind = "datetime"
    j = layout.names.index(time_col)
    first = next((r[j] for r in layout.sample_rows if j < len(r) and r[j] not in _NA_SET), "")
    if not _ISO_RE.match(first):
        layout.time_format = _local_date_format(first)
    offsets = []
    for row in layout.sample_rows:
        if j < len(row):
            m = _ISO_RE.match(row[j])
            if m:
                offsets.append(m.group(1))
    with_offset = [o for o in offsets if o]
    if not with_offset:
        layout.time_offsets = "none"
    elif len(with_offset) == len(offsets):
        layout.time_offsets = "all"
        distinct = set(with_offset)
        layout.utc_offset_s = _offset_seconds(with_offset[0])
        if len(distinct) > 1:
            layout.warnings.append(
                f"time column {time_col!r} mixes UTC offsets ({', '.join(sorted(distinct))}); "
                "times are converted to UTC and shown with the first offset"
            )
    else:
        layout.time_offsets = "mixed"
        layout.warnings.append(
            f"time column {time_col!r} has timestamps with and without UTC offset; "
            "those without are taken as UTC"
        )


def _offset_seconds(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


def _resolved_options(layout: _Layout) -> ImportOptions:
    return ImportOptions(
        encoding=layout.encoding,
        separator=layout.separator,
        header=layout.header,
        decimal=layout.decimal,
        time_column=layout.time_column,
        no_time_column=layout.time_column is None,
        time_unit=layout.time_unit,
        label_column=layout.label_column,
        no_label_column=layout.label_column is None,
        channels=tuple(layout.channels),
    )


# ----------------------------------------------------------------------------- full read
def _needed(layout: _Layout) -> list[str]:
    cols = list(layout.channels)
    for extra in (layout.time_column, layout.label_column):
        if extra is not None:
            cols.append(extra)
    return cols


def _read_columns(layout: _Layout) -> tuple[dict[str, Any], int, str]:
    """Parse the needed columns of the whole file and hash its bytes.

    Returns ``{channel: array, "__time__": ..., "__label__": ...}`` (or the finished
    ``"__matrix__"``), the row count and the file's sha256. pyarrow reads every
    single-character separator: first on the fast path (``_read_arrow_ranges``), which
    hands anything unusual over to the careful path (``_read_arrow_table``), so every
    problem a file has is reported by the careful path, the same way for every file.
    pandas' C engine reads runs of whitespace, which pyarrow cannot split.
    """
    as_text: set[str] = set()
    if layout.separator != WHITESPACE:
        try:
            return _read_arrow_ranges(layout)
        except _StrayText as err:
            as_text.add(err.column)
        except pa.ArrowException as err:
            # Stray text, a bad row, or a range cut inside a quoted field: the careful
            # path decides, starting with the column with stray text if that was it.
            name = _stray_text_column(layout, str(err), as_text)
            if name is not None:
                as_text.add(name)
        except _Unsplittable:
            pass
        except (OSError, UnicodeDecodeError) as err:
            raise _fail(layout.path, "", f"cannot be read ({err}); check the file") from None
    # Hash on a second thread while the careful parser works (hashlib releases the GIL).
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest_job = pool.submit(_sha256, layout.path)
        if layout.separator == WHITESPACE:
            columns, n_rows = _read_pandas(layout)
        else:
            columns, n_rows = _read_arrow_table(layout, as_text)
        return columns, n_rows, digest_job.result()


def _arrow_types(layout: _Layout, as_text: set[str]) -> dict[str, pa.DataType]:
    types: dict[str, pa.DataType] = {}
    # Decimal-comma numbers arrive as text and are converted after a "," -> "." swap.
    comma = layout.decimal == ","
    for c in layout.channels:
        types[c] = pa.string() if c in as_text or comma else pa.float32()
    if layout.time_column is not None:
        t = layout.time_column
        if t in as_text or layout.time_kind == "numeric" or layout.kinds[t] == "numeric":
            types[t] = pa.string() if t in as_text or comma else pa.float64()
        elif layout.time_format is not None:
            types[t] = pa.string()
        elif layout.kinds[t] == "datetime" and layout.time_offsets == "none":
            types[t] = pa.timestamp("ns")
        elif layout.kinds[t] == "datetime" and layout.time_offsets == "all":
            types[t] = pa.timestamp("ns", tz="UTC")
        else:
            types[t] = pa.string()
    if layout.label_column is not None:
        types[layout.label_column] = pa.string()
    return types


def _arrow_options(
    layout: _Layout, as_text: set[str], *, ranges: bool = False, quoted: bool = False
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    """pyarrow's options for reading the needed columns of the whole file, or (``ranges``)
    for parsing byte ranges of it one per thread: then the file's last column is read too,
    as text when it is not needed, so that a range cut inside a quoted field shows (and,
    with ``quoted``, a quote that never closes: ``_check_last_quote``).

    Blank lines are skipped, whitespace-only ones too. With ``quoted`` (the file has
    quotes) the whole-file read lets a quoted field hold line breaks even where one of
    its 1 MB blocks ends: pyarrow then finds block ends with the quoting in mind (~20 %
    slower, so only then). A range is parsed as one block and needs no such care."""
    encoding = "utf8" if layout.encoding in ("utf-8", "utf-8-sig") else layout.encoding
    types = _arrow_types(layout, as_text)
    include = _needed(layout)
    if (ranges or quoted) and layout.names[-1] not in types:
        types[layout.names[-1]] = pa.string()
        include.append(layout.names[-1])
    return (
        pacsv.ReadOptions(
            column_names=layout.names,
            skip_rows=layout.skip_lines,
            encoding=encoding,
            use_threads=not ranges,
            # A range is parsed as one block, so its table has one chunk per column.
            block_size=_RANGE_BYTES if ranges else 1 << 20,
        ),
        pacsv.ParseOptions(
            delimiter=layout.separator,
            ignore_empty_lines=True,
            newlines_in_values=quoted and not ranges,
            invalid_row_handler=_blank_row_handler(layout.separator),
        ),
        pacsv.ConvertOptions(
            column_types=types,
            include_columns=include,
            null_values=NA_TOKENS,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _stray_text_column(layout: _Layout, message: str, as_text: set[str]) -> str | None:
    """The needed column a conversion error is about, if it can be re-read as text."""
    # pyarrow names the row only when it reads on one thread, as the fast path does.
    m = re.match(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error", message)
    if m and int(m.group(1)) < len(layout.names):
        name = layout.names[int(m.group(1))]
        if name in _needed(layout) and name not in as_text:
            return name
    return None


def _read_arrow_table(layout: _Layout, as_text: set[str]) -> tuple[dict[str, Any], int]:
    """The careful path: the whole file as one pyarrow table (~2x the matrix in memory).

    Columns with stray text (which need a whole-column look) are read as text, for
    ``_assemble_matrix`` to coerce; every other parser error becomes a message with its
    file line.
    """
    as_text = set(as_text)
    quoted = _has_quote(layout.path)
    # Each retry turns one more column with stray text into a string column.
    for _ in range(len(_needed(layout)) + 1):
        read_options, parse_options, convert_options = _arrow_options(
            layout, as_text, quoted=quoted
        )
        try:
            table = pacsv.read_csv(
                layout.path,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except pa.ArrowInvalid as err:
            name = _stray_text_column(layout, str(err), as_text)
            if name is None:
                raise _parse_failure(layout, str(err)) from None
            as_text.add(name)
            continue
        except (OSError, UnicodeDecodeError) as err:
            raise _fail(layout.path, "", f"cannot be read ({err}); check the file") from None
        break
    else:  # pragma: no cover - each retry adds a column, so the loop ends
        raise _fail(layout.path, "", "cannot be parsed; check the separator")
    if len(layout.names) == 1 and pa.types.is_string(table.schema.field(0).type):
        # A whitespace-only line of a one-column file is a valid row to pyarrow (one cell
        # of spaces, which stops a float conversion and lands here as text): blank.
        blank = pc.match_substring_regex(table.column(0), r"^[ \t]+$")
        table = table.filter(pc.invert(pc.fill_null(blank, False)))
    if quoted:
        _check_last_quote(layout, table.column(layout.names[-1]))
    columns: dict[str, Any] = {c: table.column(c) for c in layout.channels}
    if layout.time_column is not None:
        columns["__time__"] = table.column(layout.time_column)
    if layout.label_column is not None:
        columns["__label__"] = table.column(layout.label_column)
    return columns, table.num_rows


def _check_last_quote(layout: _Layout, last_column: pa.ChunkedArray) -> None:
    """Raise if the file ends inside a quoted field. pyarrow takes a quote that never
    closes in the last column for a value that runs to the end of the file, without a
    word (in another column the row comes out short, a parse error); so when the last
    row's last value spans lines, the rows are read once more, slowly, to tell."""
    if not len(last_column) or not pa.types.is_string(last_column.type):
        return
    value = last_column[-1].as_py()
    if value is None or ("\n" not in value and "\r" not in value):
        return
    for number, _text, closed in _iter_data_lines(layout):
        if not closed:
            raise _fail(layout.path, f"line {number}", _UNCLOSED_QUOTE)


def _has_quote(path: Path) -> bool:
    """Whether the file holds a quote character anywhere (a byte search, ~20 ms per 200 MB)."""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                if b'"' in chunk:
                    return True
    except OSError as err:
        raise _fail(path, "", f"cannot be read ({err.strerror or err}); check the file") from None
    return False


def _estimated_rows(layout: _Layout) -> int:
    """Rows the file probably has, from its size and the sample's bytes per line, with
    headroom: unused capacity of ``np.empty`` is never touched, so it costs no memory."""
    size = layout.path.stat().st_size
    return int(size / max(layout.bytes_per_line, 1.0) * 1.2) + 1024


class _StrayText(Exception):
    """A decimal-comma channel holds text that is not a number (caught in ``_read_columns``)."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


class _Unsplittable(Exception):
    """The file cannot be cut into ranges safely (caught in ``_read_columns``)."""


def _comma_to_float32(column: pa.Array, name: str) -> pa.Array:
    try:
        return pc.cast(pc.replace_substring(column, ",", "."), pa.float32())
    except pa.ArrowInvalid:
        raise _StrayText(name) from None


# Bytes of CSV per parse job of the fast path: large enough that the per-job overhead
# vanishes, small enough that a job's input and output stay in cache and the jobs in
# flight (about 2 per thread) cost little memory. 4 MB measured a little faster than 8.
_RANGE_BYTES = 4 << 20
# Encodings in which a 0x0A byte is always a line break, so ranges can be cut at one
# (the ones detection picks; an encoding given explicitly may not be one of them).
_RANGE_ENCODINGS = frozenset({"utf-8", "utf-8-sig", "iso8859-1", "ascii", "cp1252"})


def _file_ranges(path: Path, size: int) -> Iterator[memoryview]:
    """The file's bytes in consecutive pieces of at most ``size``, each but the last cut
    right after a line break (where a row ends, unless a quoted field spans lines)."""
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            if len(chunk) < size:
                yield memoryview(chunk)
                return
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                raise _Unsplittable  # one line longer than a range: not worth a split
            fh.seek(cut - len(chunk), os.SEEK_CUR)
            yield memoryview(chunk)[:cut]


def _parse_threads() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, 8))


def _read_arrow_ranges(layout: _Layout) -> tuple[dict[str, Any], int, str]:
    """The fast path: parse byte ranges of the file on a thread pool (pyarrow releases the
    GIL) and copy each range's rows, in file order, into a preallocated (N, C) matrix,
    hashing the same bytes meanwhile. Returns what ``_read_columns`` does.

    Peak memory is the matrix plus the ranges in flight. A range is cut after a line
    break, which is a row boundary unless a quoted field spans lines: a range that ends
    inside quotes then either has too few fields in its last row (a parse error) or ends
    in the last column, whose last value then runs to the cut and ends in the line break.
    Raises a pyarrow error, ``_StrayText`` or ``_Unsplittable`` for ``_read_columns`` to
    fall back on the careful path.
    """
    if codecs.lookup(layout.encoding).name not in _RANGE_ENCODINGS:
        raise _Unsplittable
    first, parse_options, convert_options = _arrow_options(layout, set(), ranges=True)
    rest = copy.copy(first)
    rest.skip_rows = 0  # only the first range holds the header and preamble
    channel_idx = [convert_options.include_columns.index(c) for c in layout.channels]
    last = convert_options.include_columns.index(layout.names[-1])
    last_is_text = convert_options.column_types[layout.names[-1]] == pa.string()
    extras = {"__time__": layout.time_column, "__label__": layout.label_column}
    pieces: dict[str, list[pa.Array]] = {k: [] for k, v in extras.items() if v is not None}
    matrix = _MatrixBuilder(len(layout.channels), _estimated_rows(layout))

    tail: list[str | None] = [None]  # the last value of the last column read so far

    def add(table: pa.Table) -> None:
        if last_is_text and table.num_rows:
            value = tail[0] = table.column(last)[-1].as_py()
            if value is not None and value.endswith(("\n", "\r")):
                raise _Unsplittable
        for batch in table.to_batches():
            columns = [batch.column(i) for i in channel_idx]
            if layout.decimal == ",":
                columns = [
                    _comma_to_float32(c, name)
                    for c, name in zip(columns, layout.channels, strict=True)
                ]
            matrix.append([c.to_numpy(zero_copy_only=False) for c in columns])
        for key, chunks in pieces.items():
            chunks.extend(table.column(extras[key]).chunks)

    digest = hashlib.sha256()
    threads = _parse_threads()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque[Future[pa.Table]] = deque()
        try:
            for i, piece in enumerate(_file_ranges(layout.path, _RANGE_BYTES)):
                pending.append(
                    pool.submit(
                        pacsv.read_csv,
                        pa.py_buffer(piece),
                        read_options=rest if i else first,
                        parse_options=parse_options,
                        convert_options=convert_options,
                    )
                )
                digest.update(piece)  # releases the GIL, like the parser
                if len(pending) > threads:
                    add(pending.popleft().result())
            while pending:
                add(pending.popleft().result())
        finally:
            for job in pending:
                job.cancel()
    if tail[0] is not None and ("\n" in tail[0] or "\r" in tail[0]):
        raise _Unsplittable  # perhaps a quote that never closes: the careful path checks
    data, stats = matrix.finish()
    # pyarrow's allocator keeps the freed range tables for reuse (~0.5x the matrix here);
    # hand them back before the time and quality passes allocate their own arrays.
    pa.default_memory_pool().release_unused()
    columns: dict[str, Any] = {"__matrix__": (data, stats)}
    for key, chunks in pieces.items():
        column_type = convert_options.column_types[extras[key]]
        columns[key] = pa.chunked_array(chunks, type=column_type)
    return columns, data.shape[0], digest.hexdigest()


def _check_whitespace_rows(layout: _Layout) -> None:
    """Raise for the first data line whose field count differs from the header's.

    pandas fills short rows with NaN without a word; for whitespace-separated files we count
    the fields of every line ourselves (vectorised over 1 MB blocks of bytes).
    """
    width = len(layout.names)
    line_base = 0  # lines before the current block
    carry = b""
    with layout.path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            block = carry + chunk
            if chunk:
                cut = block.rfind(b"\n") + 1
                block, carry = block[:cut], block[cut:]
            else:
                carry = b""
            if not block:
                if not chunk:
                    return
                continue
            b = np.frombuffer(block, dtype=np.uint8)
            newline = b == 10
            gap = (b == 32) | (b == 9) | (b == 13) | newline
            # A field starts at a non-gap byte that follows a gap (or opens the block).
            starts = ~gap
            starts[1:] &= gap[:-1]
            line_of_byte = np.cumsum(newline) - newline  # the newline belongs to its line
            lines_here = int(newline.sum()) + (0 if block.endswith(b"\n") else 1)
            counts = np.bincount(line_of_byte[starts], minlength=lines_here)
            numbers = line_base + 1 + np.arange(counts.size)
            bad = np.flatnonzero((counts != width) & (counts > 0) & (numbers > layout.skip_lines))
            if bad.size:
                k = int(bad[0])
                raise _fail(
                    layout.path,
                    f"line {int(numbers[k])}",
                    f"has {int(counts[k])} fields, expected {width} like the first rows; "
                    "fix the row or check the separator",
                )
            line_base += int(newline.sum())
            if not chunk:
                return


def _read_pandas(layout: _Layout) -> tuple[dict[str, Any], int]:
    _check_whitespace_rows(layout)
    needed = _needed(layout)
    dtypes: dict[str, Any] = {c: np.float32 for c in layout.channels}
    for extra in (layout.time_column, layout.label_column):
        if extra is not None:
            dtypes[extra] = str
    if layout.time_column is not None and layout.time_kind == "numeric":
        dtypes[layout.time_column] = np.float64
    if layout.time_column is not None and layout.kinds[layout.time_column] == "numeric":
        dtypes[layout.time_column] = np.float64
    for attempt in range(2):
        try:
            # Values beyond float32's range become +-inf in the cast; that is the answer.
            with np.errstate(over="ignore"):
                frame = pd.read_csv(
                    layout.path,
                    sep=layout.separator,
                    header=None,
                    names=layout.names,
                    skiprows=layout.skip_lines,
                    usecols=needed,
                    dtype=dtypes,
                    decimal=layout.decimal,
                    encoding=layout.encoding,
                    na_values=NA_TOKENS,
                    keep_default_na=False,
                    skip_blank_lines=True,
                    engine="c",
                    index_col=False,
                )
        except (ValueError, TypeError) as err:
            # Stray text in a numeric column: read the channels as text and coerce them.
            if attempt == 0 and not isinstance(err, pd.errors.ParserError):
                dtypes = {c: (str if c in layout.channels else d) for c, d in dtypes.items()}
                if layout.time_column is not None:
                    dtypes[layout.time_column] = str
                continue
            raise _parse_failure(layout, str(err)) from None
        except UnicodeDecodeError as err:
            raise _parse_failure(layout, f"invalid UTF-8 ({err})") from None
        except OSError as err:
            raise _fail(layout.path, "", f"cannot be read ({err}); check the file") from None
        break
    columns: dict[str, Any] = {c: frame[c].to_numpy() for c in layout.channels}
    if layout.time_column is not None:
        columns["__time__"] = frame[layout.time_column].to_numpy()
    if layout.label_column is not None:
        columns["__label__"] = frame[layout.label_column].to_numpy()
    return columns, len(frame)


def _iter_data_lines(layout: _Layout) -> Iterator[tuple[int, str, bool]]:
    """(file line number, text, closed) of every data row, blank lines left out, as the
    parsers see them: a row with a quoted line break spans lines and is numbered by its
    first (a one-line row keeps its line break). For error reports only."""
    sep = layout.separator
    blank = " \t\r\n".replace(sep, "")
    with open(layout.path, encoding=layout.encoding, errors="replace", newline="") as fh:
        lines = itertools.islice(enumerate(fh, start=1), layout.skip_lines, None)
        for number, text, closed in _records(lines, sep):
            if text.strip(blank):  # (not _is_blank, inlined: this runs once per line)
                yield number, text, closed


def _parse_failure(layout: _Layout, message: str) -> RecordingError:
    """Turn a parser error into a message with the file line it happened on."""
    if "UTF8" in message or "UTF-8" in message or "utf-8" in message:
        return _fail(layout.path, "", "is not valid UTF-8 (UTF-8 error); pass --encoding latin-1")
    width = len(layout.names)
    try:
        for number, text, closed in _iter_data_lines(layout):
            if not closed:
                return _fail(layout.path, f"line {number}", _UNCLOSED_QUOTE)
            fields = _split(text.rstrip("\r\n"), layout.separator)
            if len(fields) != width:
                return _fail(
                    layout.path,
                    f"line {number}",
                    f"has {len(fields)} fields, expected {width} like the header; "
                    "fix the row or check the separator",
                )
    except (OSError, csv.Error):
        pass
    short = message.splitlines()[0][:200] if message else "unknown parser error"
    return _fail(layout.path, "", f"cannot be parsed ({short}); check the separator and encoding")


def _data_line_of_row(layout: _Layout, row: int) -> int:
    """File line number of data row ``row`` (0-based, file order). Error paths only."""
    for i, (number, _text, _closed) in enumerate(_iter_data_lines(layout)):
        if i == row:
            return number
    return layout.skip_lines + row + 1


# ----------------------------------------------------------------------------- conversion
def _as_text_array(values: Any) -> np.ndarray:
    """Object array of str/None from an arrow ChunkedArray or a numpy/pandas array."""
    if isinstance(values, pa.ChunkedArray):
        return np.asarray(values.to_pylist(), dtype=object)
    out = np.asarray(values, dtype=object)
    return np.where(pd.isna(out), None, out)


def _convert_time(layout: _Layout, values: Any) -> np.ndarray | None:
    """Float64 seconds (epoch UTC for datetimes), or None for the row index."""
    if values is None:
        return None
    if isinstance(values, pa.ChunkedArray) and pa.types.is_timestamp(values.type):
        if values.null_count:
            first = np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0]
            return _bad_time(layout, int(first), None)
        ns = values.cast(pa.timestamp("ns", tz=values.type.tz)).cast(pa.int64()).to_numpy()
        return _ns_to_seconds(ns)
    text: np.ndarray | None = None
    if isinstance(values, pa.ChunkedArray) and pa.types.is_floating(values.type):
        numeric = values.to_numpy().astype(np.float64, copy=False)
    elif isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        numeric = values.astype(np.float64, copy=False)
    elif layout.time_kind == "numeric" or layout.time_unit is not None:
        text = _as_text_array(values)
        series = pd.Series(text, dtype=object)
        if layout.decimal == ",":
            series = series.str.replace(",", ".", regex=False)
        numeric = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    else:
        return _parse_datetime_text(layout, _as_text_array(values))
    bad = np.flatnonzero(~np.isfinite(numeric))
    if bad.size:
        row = int(bad[0])
        return _bad_time(layout, row, None if text is None else text[row])
    return numeric * _UNIT_SECONDS[layout.time_unit or "s"]


def _ns_to_seconds(ns: np.ndarray) -> np.ndarray:
    """Int64 epoch nanoseconds -> float64 seconds, splitting off whole seconds first so the
    fraction is not lost to float64's 53-bit mantissa (1.7e18 ns needs 61 bits)."""
    whole, frac = np.divmod(ns, 1_000_000_000)
    return whole.astype(np.float64) + frac.astype(np.float64) / 1e9


def _parse_datetime_text(layout: _Layout, text: np.ndarray) -> np.ndarray:
    series = pd.Series(text, dtype=object)
    fmt = layout.time_format or "ISO8601"
    parsed = pd.to_datetime(series, format=fmt, utc=True, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        return _bad_time(layout, row, text[row])
    ns = parsed.dt.as_unit("ns").astype("int64").to_numpy()
    return _ns_to_seconds(ns)


def _bad_time(layout: _Layout, row: int, value: Any) -> np.ndarray:
    line = _data_line_of_row(layout, int(row))
    shown = "an empty value" if value is None or value == "" else f"{value!r}"
    raise _fail(
        layout.path,
        f"line {line}, column {layout.time_column!r}",
        f"time value {shown} cannot be read as a time; fix it, pick --time-column, "
        "or use --no-time-column",
    )


def _label_text(value: str) -> str:
    v = value.strip()
    if _NUMBER_RE.match(v):
        f = float(v)
        if math.isfinite(f) and f == int(f):
            return str(int(f))
    return v


def _convert_labels(values: Any) -> np.ndarray | None:
    """Object array of label strings, "" where missing; 0.0/1.0 become "0"/"1"."""
    if values is None:
        return None
    if isinstance(values, pa.ChunkedArray):
        # Few distinct labels: map the dictionary, not a million Python strings.
        encoded = values.combine_chunks().dictionary_encode()
        uniques = [_label_text(v) if v is not None else "" for v in encoded.dictionary.to_pylist()]
        mapping = np.asarray([*uniques, ""], dtype=object)
        idx = encoded.indices.fill_null(len(uniques)).to_numpy(zero_copy_only=False)
        return mapping[idx]
    text = _as_text_array(values)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    mapping = np.asarray([_label_text(str(u)) for u in uniques] + [""], dtype=object)
    return mapping[np.where(codes < 0, len(uniques), codes)]


def _coerce_channel(layout: _Layout, name: str, values: Any) -> np.ndarray:
    """Float32 values of a channel with stray text; the text becomes NaN with a warning."""
    text = _as_text_array(values)
    series = pd.Series(text, dtype=object)
    if layout.decimal == ",":
        series = series.str.replace(",", ".", regex=False)
    numeric = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    stray = np.flatnonzero(np.isnan(numeric) & pd.notna(series).to_numpy())
    stray = stray[[str(text[i]) not in _NA_SET for i in stray]] if stray.size else stray
    if stray.size:
        line = _data_line_of_row(layout, int(stray[0]))
        layout.warnings.append(
            f"column {name!r}: {stray.size} non-numeric value(s) read as missing "
            f"(first {text[stray[0]]!r} at line {line})"
        )
    with np.errstate(over="ignore"):  # beyond float32's range -> +-inf
        return numeric.astype(np.float32)


# Rows per block when the careful path cuts numpy columns into blocks for the matrix.
# Arrow columns use their own chunks (~5k rows per MB of CSV) as blocks.
_ASSEMBLY_BLOCK_ROWS = 16384


def _row_blocks(sources: list[Any], n: int) -> Iterator[list[np.ndarray]]:
    """Yield [(b,) float32 piece per source] for consecutive blocks of rows, in order.

    Arrow columns from one table share their chunking, so chunk k of every column covers
    the same rows and converts without copying when it has no nulls.
    """
    chunked = [src for src in sources if isinstance(src, pa.ChunkedArray)]
    lengths = [len(c) for c in chunked[0].chunks] if chunked else []
    aligned = bool(chunked) and all([len(c) for c in src.chunks] == lengths for src in chunked)
    if aligned:
        bounds = np.concatenate(([0], np.cumsum(lengths))).astype(int).tolist()
    else:
        bounds = [*range(0, n, _ASSEMBLY_BLOCK_ROWS), n]
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if hi == lo:
            continue
        pieces = []
        for src in sources:
            if isinstance(src, np.ndarray):
                pieces.append(src[lo:hi])
            elif aligned:
                pieces.append(src.chunk(k).to_numpy(zero_copy_only=False))
            else:
                pieces.append(src.slice(lo, hi - lo).to_numpy())
        yield pieces


def _assemble_matrix(
    layout: _Layout, columns: dict[str, Any], n: int
) -> tuple[np.ndarray, list[tuple[int, str | None]]]:
    """The (N, C) float32 matrix and each channel's (missing count, flat reason) from
    whole parsed columns (the careful path). Peak memory: the columns + the matrix (~2x)."""
    sources: list[Any] = []
    for name in layout.channels:
        values = columns.pop(name)
        if isinstance(values, pa.ChunkedArray) and pa.types.is_floating(values.type):
            sources.append(values)
        elif isinstance(values, pa.ChunkedArray) or values.dtype == object:
            sources.append(_coerce_channel(layout, name, values))
        else:
            sources.append(np.asarray(values, dtype=np.float32))
        del values
    matrix = _MatrixBuilder(len(sources), n)
    for pieces in _row_blocks(sources, n):
        matrix.append(pieces)
    del sources
    return matrix.finish()


class _MatrixBuilder:
    """The (N, C) float32 matrix, filled block by block in row order, and per channel the
    missing count, min, max and number of equal neighbours, accumulated on the way so that
    only a channel with enough repeats to hold a stuck run gets a second look."""

    def __init__(self, channels: int, capacity: int) -> None:
        self.data = np.empty((capacity, channels), dtype=np.float32)
        self.rows = 0
        self.missing = np.zeros(channels, dtype=np.int64)
        self.repeats = np.zeros(channels, dtype=np.int64)
        self.lo = np.full(channels, np.nan, dtype=np.float32)
        self.hi = np.full(channels, np.nan, dtype=np.float32)

    def append(self, pieces: list[np.ndarray]) -> None:
        """Add the next rows: one (b,) array per channel."""
        b, n = len(pieces[0]), self.rows
        if b == 0:
            return
        if n + b > len(self.data):
            capacity = max(int(len(self.data) * 1.5), n + b)
            grown = np.empty((capacity, self.data.shape[1]), dtype=np.float32)
            grown[:n] = self.data[:n]
            self.data = grown
        # Channels as contiguous rows, so the reductions run along memory, then one
        # transposing copy into the (b, C) block.
        block = np.stack(pieces).astype(np.float32, copy=False)  # (C, b)
        self.missing += np.count_nonzero(np.isnan(block), axis=1)
        # fmin/fmax skip NaN; NaN != NaN, so gaps break runs of repeats.
        self.lo = np.fmin(self.lo, np.fmin.reduce(block, axis=1))
        self.hi = np.fmax(self.hi, np.fmax.reduce(block, axis=1))
        self.repeats += np.count_nonzero(block[:, 1:] == block[:, :-1], axis=1)
        if n:
            self.repeats += self.data[n - 1] == block[:, 0]
        self.data[n : n + b] = block.T
        self.rows = n + b

    def finish(self) -> tuple[np.ndarray, list[tuple[int, str | None]]]:
        """The matrix (unused capacity given back in place) and each channel's stats."""
        data, self.data = self.data, np.empty((0, 0), dtype=np.float32)
        # Nothing else views ``data``, so it shrinks without a copy.
        data.resize((self.rows, data.shape[1]), refcheck=False)
        return data, [
            _flat_stats(
                data,
                j,
                int(self.missing[j]),
                float(self.lo[j]),
                float(self.hi[j]),
                int(self.repeats[j]),
            )
            for j in range(data.shape[1])
        ]


# ----------------------------------------------------------------------------- quality
def _check_time_order(
    layout: _Layout,
    time: np.ndarray,
    data: np.ndarray,
    labels: np.ndarray | None,
    report: QualityReport,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    steps = np.diff(time)
    backwards = int(np.count_nonzero(steps < 0))
    report.non_monotonic_timestamps = backwards
    if backwards:
        first = int(np.flatnonzero(steps < 0)[0]) + 1
        line = _data_line_of_row(layout, first)
        order = np.argsort(time, kind="stable")
        time = time[order]
        data = data[order]
        labels = None if labels is None else labels[order]
        report.sorted_by_time = True
        report.warnings.append(
            f"{backwards} timestamp(s) go backwards (first at line {line}); "
            "rows were sorted by time"
        )
        steps = np.diff(time)
    dups = int(np.count_nonzero(steps == 0))
    report.duplicate_timestamps = dups
    if dups:
        report.warnings.append(f"{dups} row(s) repeat the previous row's timestamp")
    return time, data, labels


def _longest_true_run(same: np.ndarray) -> tuple[int, int]:
    """(rows, start row) of the longest run of equal neighbours, from ``same`` (N-1,)."""
    breaks = np.flatnonzero(~same)
    # Runs of "same" lie between consecutive breaks; a run of k equal steps is k+1 rows.
    edges = np.concatenate(([-1], breaks, [same.size]))
    lengths = np.diff(edges) - 1
    k = int(np.argmax(lengths))
    return int(lengths[k]) + 1, int(edges[k]) + 1


def _flat_stats(
    data: np.ndarray, j: int, missing: int, lo: float, hi: float, repeats: int
) -> tuple[int, str | None]:
    """(missing values, why channel ``j`` is flat or None) from its accumulated stats.

    Flat means: no values at all, one constant value over the whole file, or one value
    repeated for a run of at least ``STUCK_MIN_ROWS`` rows and ``STUCK_MIN_FRACTION`` of
    the file (a stuck sensor: noise would have moved a live reading).
    """
    n = data.shape[0]
    if missing == n:
        return missing, "no values at all (every row is missing)"
    if n - missing >= 2 and lo == hi:
        return missing, f"constant {lo:g} over the whole file"
    min_run = max(STUCK_MIN_ROWS, STUCK_MIN_FRACTION * n)
    # A run of k rows needs k-1 repeats: with fewer repeats in total, no run is long enough.
    if repeats + 1 < min_run:
        return missing, None
    column = np.ascontiguousarray(data[:, j])
    run, start = _longest_true_run(column[1:] == column[:-1])
    if run >= min_run:
        return missing, (
            f"stuck at {float(column[start]):g} for {run} consecutive rows (from row {start + 1})"
        )
    return missing, None


def _channel_stats(data: np.ndarray, j: int) -> tuple[int, str | None]:
    """``_flat_stats`` of channel ``j`` computed from scratch (after the rows were sorted)."""
    column = data[:, j]
    return _flat_stats(
        data,
        j,
        int(np.count_nonzero(np.isnan(column))),
        float(np.fmin.reduce(column)),
        float(np.fmax.reduce(column)),
        int(np.count_nonzero(column[1:] == column[:-1])),
    )


def _fill_quality(
    report: QualityReport,
    channels: list[str],
    stats: list[tuple[int, str | None]],
    time: np.ndarray | None,
) -> None:
    n = report.rows
    for name, (missing, flat) in zip(channels, stats, strict=True):
        report.missing_per_channel[name] = missing
        if flat is not None:
            report.flat_channels.append(name)
            report.flat_reasons[name] = flat
    for name in report.flat_channels:
        report.warnings.append(f"channel {name!r} is flat: {report.flat_reasons[name]}")
    total_missing = sum(report.missing_per_channel.values())
    if total_missing:
        worst = max(report.missing_per_channel, key=report.missing_per_channel.get)
        report.warnings.append(
            f"{total_missing} missing value(s) kept as gaps (most in {worst!r}: "
            f"{report.missing_per_channel[worst]})"
        )
    if time is None or n < 2:
        if time is not None:
            report.time_span_s = 0.0
        return
    steps = np.diff(time)
    report.time_span_s = float(time[-1] - time[0])
    positive = steps[steps > 0]
    if positive.size:
        median = float(np.median(positive))
        report.sampling_interval_median_s = median
        report.sampling_irregularity = float(
            np.count_nonzero(np.abs(steps - median) > IRREGULAR_TOLERANCE * median) / steps.size
        )
        report.max_gap_s = float(steps.max())
        if report.max_gap_s > 10 * median:
            k = int(np.argmax(steps))
            report.warnings.append(
                f"longest gap {report.max_gap_s:g} s (after row {k + 1}) is "
                f"{report.max_gap_s / median:.0f}x the median interval {median:g} s"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as err:
        raise _fail(path, "", f"cannot be read ({err.strerror or err}); check the file") from None
    return digest.hexdigest()
