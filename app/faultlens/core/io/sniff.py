"""Detection: how to read a file, from its head only.

Reads at most ``SAMPLE_BYTES`` and works out the encoding, the separator, the decimal mark,
whether there is a header, where the data starts and what each column holds, then hands
the ``Layout`` to the column policy (``columns.resolve_columns``). A preview costs this and
nothing more; the full read trusts it and reports by line whatever the head did not show.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from faultlens.core.io.cells import (
    COMMA_DECIMAL_RE,
    DOT_DECIMAL_RE,
    NA_SET,
    ONE_COMMA_NUMBER_RE,
    cell_kind,
)
from faultlens.core.io.columns import resolve_columns
from faultlens.core.io.layout import WHITESPACE, Layout, fail
from faultlens.core.io.records import UNCLOSED_QUOTE, is_blank, records, split
from faultlens.core.recording import ImportOptions

# Detection reads this much of the head of the file, never more.
SAMPLE_BYTES = 64 * 1024
# At most this many sample lines are split and typed during detection.
SAMPLE_LINES = 500
# Line breaks as the CSV parsers see them (str.splitlines also splits at \x85, \f, ...).
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
# Bytes that never occur in text CSV (ASCII control characters other than whitespace).
_CONTROL_BYTES = bytes([*range(0, 9), 11, 14, *range(15, 32), 127])
# The separator a one-column decimal-comma file is read with: no sampled record holds it
# outside quotes, and ";" with "," is how European exports write wider files anyway.
_ONE_COLUMN_SEPARATOR = ";"


def detect(path: Path, options: ImportOptions) -> Layout:
    """The file's layout from its head, with ``options`` overriding what they set, and its
    time column, label column and channels picked. Raises ``RecordingError``."""
    head, truncated = _read_head(path)
    return detect_head(path, head, truncated, options)


def detect_head(path: Path, head: bytes, truncated: bool, options: ImportOptions) -> Layout:
    """``detect`` on head bytes read by the caller (at most ``SAMPLE_BYTES``; ``truncated``:
    the file goes on past them, so their last line may be cut). The live CSV follower hands
    over the complete lines it has, so a line still being written is never sampled."""
    if not head.strip():
        raise fail(path, "", "the file is empty; pick a file with a header and data rows")
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16 and _looks_binary(head):
        raise fail(path, "", "looks like a binary file, not CSV text; export it as CSV first")
    encoding = _detect_encoding(path, head, truncated, options.encoding)
    text = _decode(path, head, encoding, truncated)
    if "\x00" in text:
        raise fail(path, "", "looks like a binary file, not CSV text; export it as CSV first")

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
        raise fail(path, "", "the file is empty; pick a file with a header and data rows")
    body = list(enumerate(physical, start=1))[first:]

    one_comma_column = False
    if options.separator is not None:
        separator = options.separator
        if separator in (" ", "space", "whitespace"):
            separator = WHITESPACE
        if separator == "tab":
            separator = "\t"
        if separator != WHITESPACE and len(separator) != 1:
            raise fail(path, "", f"separator {separator!r} is not one character; use , ; or tab")
    elif options.decimal in (None, ",") and _is_one_comma_decimal_column(
        body, truncated, options.header
    ):
        separator, one_comma_column = _ONE_COLUMN_SEPARATOR, True
    else:
        separator = _detect_separator(body, truncated)
    sample = _sample_records(body, separator, truncated)
    if not sample:
        raise fail(
            path,
            f"line {body[0][0]}",
            "a quoted field in this row does not close within the first 64 KB; close the "
            'quote (") or remove it',
        )
    if not sample[-1].closed:
        raise fail(path, f"line {sample[-1].first}", UNCLOSED_QUOTE)
    try:
        rows = [split(r.text, separator) for r in sample]
    except csv.Error as err:
        raise fail(path, "", f"cannot be split into columns ({err}); check the separator") from None

    decimal = options.decimal or (
        "," if one_comma_column else _detect_decimal(rows[:50], separator)
    )
    if decimal not in (".", ","):
        raise fail(path, "", f"decimal mark {decimal!r} is not supported; use '.' or ','")
    if decimal == separator:
        raise fail(path, "", "the decimal mark and the separator are both ','; set --separator")
    header = options.header if options.header is not None else _detect_header(rows, decimal)

    width = len(rows[0]) if header else max(set(map(len, rows)), key=[len(r) for r in rows].count)
    if header:
        names = _unique_names(rows[0])
        sample_rows = rows[1:]
        skip_lines = sample[0].last
        line_numbers = [r.first for r in sample[1:]]
    else:
        names = [f"ch_{i + 1}" for i in range(width)]
        sample_rows = rows
        skip_lines = sample[0].first - 1
        line_numbers = [r.first for r in sample]

    layout = Layout(
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
    resolve_columns(layout, options)
    return layout


# ----------------------------------------------------------------------------- bytes
def _read_head(path: Path) -> tuple[bytes, bool]:
    """The first SAMPLE_BYTES of the file and whether the file is longer than that."""
    if not path.exists():
        raise fail(path, "", "file not found; check the path")
    if path.is_dir():
        raise fail(path, "", "is a folder, not a file; pick a CSV file inside it")
    try:
        with path.open("rb") as fh:
            head = fh.read(SAMPLE_BYTES + 1)
    except PermissionError:
        raise fail(path, "", "permission denied; check the file's read permissions") from None
    except OSError as err:
        raise fail(path, "", f"cannot be read ({err.strerror or err}); check the file") from None
    return head[:SAMPLE_BYTES], len(head) > SAMPLE_BYTES


def _detect_encoding(path: Path, head: bytes, truncated: bool, forced: str | None) -> str:
    if forced:
        try:
            "".encode(forced)
        except LookupError:
            raise fail(
                path, "", f"unknown encoding {forced!r}; use e.g. utf-8 or latin-1"
            ) from None
        return forced
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail(path, "", "is UTF-16 text; save it as UTF-8 (or Latin-1) CSV and retry")
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
            raise fail(
                path, f"line {line}", f"is not valid {encoding} text; pass another encoding"
            ) from None
    if encoding == "utf-8-sig" or text.startswith("\ufeff"):
        text = text.lstrip("\ufeff")
    return text


def _looks_binary(head: bytes) -> bool:
    """True when the head has more control bytes than a text file ever would."""
    if b"\x00" in head:
        return True
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    # Text CSVs have essentially no control bytes; compressed/binary data has ~12 %.
    return control > max(2, len(head) // 100)


# ----------------------------------------------------------------------------- records
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
    for number, text, closed in records(body, separator):
        if not closed and truncated:
            break
        if is_blank(text, separator):
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
        counts = [len(split(r.text, sep)) for r in _sample_records(body, sep, truncated)]
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
    sample = _sample_records(body, _ONE_COLUMN_SEPARATOR, truncated)
    if len(sample) < 2 or not sample[-1].closed:
        return False
    name = sample[0].text
    try:
        if any(len(split(name, sep)) != 1 for sep in ("\t", ";", ",", "|")):
            return False
        cells = [split(r.text, _ONE_COLUMN_SEPARATOR) for r in sample]
    except csv.Error:
        return False
    if header is None and cell_kind(cells[0][0], ",") != "text":
        return False  # a number or a date on the first line: no header, so no name
    if any(len(row) != 1 for row in cells[1:]):
        return False  # (only a quoted value can hold the separator)
    values = [row[0] for row in cells[1:] if row[0] not in NA_SET]
    return all(ONE_COMMA_NUMBER_RE.match(v) for v in values) and any("," in v for v in values)


# ----------------------------------------------------------------------------- cells
def _detect_decimal(rows: list[list[str]], separator: str) -> str:
    if separator == ",":
        return "."
    comma = dot = 0
    for row in rows:
        for cell in row:
            if COMMA_DECIMAL_RE.match(cell):
                comma += 1
            elif DOT_DECIMAL_RE.match(cell):
                dot += 1
    return "," if comma > dot else "."


def _detect_header(rows: list[list[str]], decimal: str) -> bool:
    first = [cell_kind(c, decimal) for c in rows[0]]
    if len(rows) == 1:
        return all(k == "text" for k in first)
    body = rows[1:]
    for j, kind in enumerate(first):
        if kind != "text":
            continue
        below = [cell_kind(r[j], decimal) for r in body if j < len(r)]
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


def _column_kinds(names: list[str], rows: list[list[str]], decimal: str) -> dict[str, str]:
    """Each column's kind from the sample: the kind of all its non-missing cells, or the kind
    of at least 90 % of them (a numeric column with an odd "ERR" cell stays numeric and the
    stray cells become gaps with a warning), else "text"."""
    kinds: dict[str, str] = {}
    for j, name in enumerate(names):
        cells = [cell_kind(r[j], decimal) for r in rows if j < len(r)]
        cells = [k for k in cells if k != "empty"]
        if not cells:
            kinds[name] = "empty"
            continue
        top = max(("numeric", "datetime", "text"), key=cells.count)
        share = cells.count(top) / len(cells)
        kinds[name] = top if share == 1.0 or (top != "text" and share >= 0.9) else "text"
    return kinds
