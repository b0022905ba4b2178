"""pyarrow's CSV options for a layout, and the careful path: the whole file as one table.

The careful path is where anything the fast path (``ranges``) cannot vouch for ends up:
it reads the file in one call, quote-aware where the file has quotes, re-reads a column
with stray text as text, and turns every other parser error into a message with its line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from faultlens.core.io.cells import NA_TOKENS
from faultlens.core.io.layout import Layout, RawColumn, fail
from faultlens.core.io.locate import iter_data_lines, parse_failure
from faultlens.core.io.matrix import assemble_matrix
from faultlens.core.io.parsed import ParsedColumns
from faultlens.core.io.records import UNCLOSED_QUOTE


def arrow_options(
    layout: Layout, as_text: set[str], *, ranges: bool = False, quoted: bool = False
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    """pyarrow's options for reading the needed columns of the whole file, or (``ranges``)
    for parsing byte ranges of it one per thread: then the file's last column is read too,
    as text when it is not needed, so that a range cut inside a quoted field shows (and,
    with ``quoted``, a quote that never closes: ``_check_last_quote``).

    Blank lines are skipped, whitespace-only ones too. With ``quoted`` (the file has
    quotes) the whole-file read lets a quoted field hold line breaks even where one of
    its 1 MB blocks ends: pyarrow then finds block ends with the quoting in mind (~20 %
    slower, so only then). A range is parsed as one block and needs no such care; its
    reader sets the block size to the range size."""
    encoding = "utf8" if layout.encoding in ("utf-8", "utf-8-sig") else layout.encoding
    types = _arrow_types(layout, as_text)
    include = layout.needed()
    if (ranges or quoted) and layout.names[-1] not in types:
        types[layout.names[-1]] = pa.string()
        include.append(layout.names[-1])
    return (
        pacsv.ReadOptions(
            column_names=layout.names,
            skip_rows=layout.skip_lines,
            encoding=encoding,
            use_threads=not ranges,
            block_size=1 << 20,
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


def stray_text_column(layout: Layout, message: str, as_text: set[str]) -> str | None:
    """The needed column a conversion error is about, if it can be re-read as text."""
    # pyarrow names the row only when it reads on one thread, as the fast path does.
    m = re.match(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error", message)
    if m and int(m.group(1)) < len(layout.names):
        name = layout.names[int(m.group(1))]
        if name in layout.needed() and name not in as_text:
            return name
    return None


def read_arrow_table(layout: Layout, as_text: set[str]) -> ParsedColumns:
    """The careful path: the whole file as one pyarrow table (~2x the matrix in memory).

    Columns with stray text (which need a whole-column look) are read as text and coerced
    into the matrix with a warning; every other parser error becomes a message with its
    file line.
    """
    as_text = set(as_text)
    quoted = has_quote(layout.path)
    # Each retry turns one more column with stray text into a string column.
    for _ in range(len(layout.needed()) + 1):
        read_options, parse_options, convert_options = arrow_options(layout, as_text, quoted=quoted)
        try:
            table = pacsv.read_csv(
                layout.path,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except pa.ArrowInvalid as err:
            name = stray_text_column(layout, str(err), as_text)
            if name is None:
                raise parse_failure(layout, str(err)) from None
            as_text.add(name)
            continue
        except (OSError, UnicodeDecodeError) as err:
            raise fail(layout.path, "", f"cannot be read ({err}); check the file") from None
        break
    else:  # pragma: no cover - each retry adds a column, so the loop ends
        raise fail(layout.path, "", "cannot be parsed; check the separator")
    if len(layout.names) == 1 and pa.types.is_string(table.schema.field(0).type):
        # A whitespace-only line of a one-column file is a valid row to pyarrow (one cell
        # of spaces, which stops a float conversion and lands here as text): blank.
        blank = pc.match_substring_regex(table.column(0), r"^[ \t]+$")
        table = table.filter(pc.invert(pc.fill_null(blank, False)))
    if quoted:
        _check_last_quote(layout, table.column(layout.names[-1]))
    channels: dict[str, RawColumn] = {c: table.column(c) for c in layout.channels}
    time = None if layout.time_column is None else table.column(layout.time_column)
    labels = None if layout.label_column is None else table.column(layout.label_column)
    rows = table.num_rows
    del table  # the columns keep their own buffers: a text column goes once it is coerced
    data, stats = assemble_matrix(layout, channels, rows)
    return ParsedColumns(data=data, stats=stats, time=time, labels=labels)


def has_quote(path: Path) -> bool:
    """Whether the file holds a quote character anywhere (a byte search, ~20 ms per 200 MB)."""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                if b'"' in chunk:
                    return True
    except OSError as err:
        raise fail(path, "", f"cannot be read ({err.strerror or err}); check the file") from None
    return False


def _arrow_types(layout: Layout, as_text: set[str]) -> dict[str, pa.DataType]:
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


def _blank_row_handler(separator: str) -> Callable[[pacsv.InvalidRow], str]:
    """pyarrow's ``invalid_row_handler``: skip a blank line (too few fields), else fail."""
    blank = " \t\r".replace(separator, "")

    def handle(row: pacsv.InvalidRow) -> str:
        return "error" if row.text.strip(blank) else "skip"

    return handle


def _check_last_quote(layout: Layout, last_column: pa.ChunkedArray) -> None:
    """Raise if the file ends inside a quoted field. pyarrow takes a quote that never
    closes in the last column for a value that runs to the end of the file, without a
    word (in another column the row comes out short, a parse error); so when the last
    row's last value spans lines, the rows are read once more, slowly, to tell."""
    if not len(last_column) or not pa.types.is_string(last_column.type):
        return
    value = last_column[-1].as_py()
    if value is None or ("\n" not in value and "\r" not in value):
        return
    for number, _text, closed in iter_data_lines(layout):
        if not closed:
            raise fail(layout.path, f"line {number}", UNCLOSED_QUOTE)
