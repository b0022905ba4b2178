"""Files whose columns are separated by runs of spaces and tabs, which pyarrow cannot
split: read by pandas' C engine, after a field count of every line of our own (pandas
fills a short row with NaN without a word)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from faultlens.core.io.cells import NA_TOKENS
from faultlens.core.io.layout import Layout, RawColumn, fail
from faultlens.core.io.locate import parse_failure
from faultlens.core.io.matrix import assemble_matrix
from faultlens.core.io.parsed import ParsedColumns


def read_pandas(layout: Layout) -> ParsedColumns:
    """The needed columns of a whitespace-separated file; stray text in a channel becomes
    a gap with a warning, a row with the wrong number of fields an error by line."""
    _check_whitespace_rows(layout)
    needed = layout.needed()
    # pandas' dtype mapping takes numpy types and ``str`` alike.
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
            raise parse_failure(layout, str(err)) from None
        except UnicodeDecodeError as err:
            raise parse_failure(layout, f"invalid UTF-8 ({err})") from None
        except OSError as err:
            raise fail(layout.path, "", f"cannot be read ({err}); check the file") from None
        break
    channels: dict[str, RawColumn] = {c: frame[c].to_numpy() for c in layout.channels}
    time = None if layout.time_column is None else frame[layout.time_column].to_numpy()
    labels = None if layout.label_column is None else frame[layout.label_column].to_numpy()
    rows = len(frame)
    del frame
    data, stats = assemble_matrix(layout, channels, rows)
    return ParsedColumns(data=data, stats=stats, time=time, labels=labels)


def _check_whitespace_rows(layout: Layout) -> None:
    """Raise for the first data line whose field count differs from the header's, counting
    the fields of every line ourselves (vectorised over 1 MB blocks of bytes)."""
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
                raise fail(
                    layout.path,
                    f"line {int(numbers[k])}",
                    f"has {int(counts[k])} fields, expected {width} like the first rows; "
                    "fix the row or check the separator",
                )
            line_base += int(newline.sum())
            if not chunk:
                return
