"""The time and label columns, from what the parser gave to what a Recording holds.

Time becomes float64 seconds (since the Unix epoch, UTC, for dates); a value that is no
time is reported by its file line. Labels become strings, "" where missing, with a
written-as-float "1.0" read as "1".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa

from faultlens.core.errors import RecordingError
from faultlens.core.io.cells import NUMBER_RE
from faultlens.core.io.columns import UNIT_SECONDS
from faultlens.core.io.layout import Layout, RawColumn, fail
from faultlens.core.io.locate import data_line_of_row


def as_text_array(values: RawColumn) -> np.ndarray:
    """Object array of str/None from an arrow ChunkedArray or a numpy/pandas array."""
    if isinstance(values, pa.ChunkedArray):
        return np.asarray(values.to_pylist(), dtype=object)
    out = np.array(values, dtype=object)  # a copy: the source stays as it was
    out[pd.isna(out)] = None
    return out


def convert_time(layout: Layout, values: RawColumn | None) -> np.ndarray | None:
    """Float64 seconds (epoch UTC for datetimes), or None for the row index."""
    if values is None:
        return None
    if isinstance(values, pa.ChunkedArray) and pa.types.is_timestamp(values.type):
        if values.null_count:
            first = np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0]
            raise _bad_time(layout, int(first), None)
        ns = values.cast(pa.timestamp("ns", tz=values.type.tz)).cast(pa.int64()).to_numpy()
        return _ns_to_seconds(ns)
    text: np.ndarray | None = None
    if isinstance(values, pa.ChunkedArray) and pa.types.is_floating(values.type):
        seconds = values.to_numpy().astype(np.float64) * UNIT_SECONDS[layout.time_unit or "s"]
    elif isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        seconds = values.astype(np.float64) * UNIT_SECONDS[layout.time_unit or "s"]
    else:
        text = as_text_array(values)
        seconds = text_time_seconds(layout, text)
    bad = np.flatnonzero(~np.isfinite(seconds))
    if bad.size:
        row = int(bad[0])
        raise _bad_time(layout, row, None if text is None else text[row])
    return seconds


def text_time_seconds(layout: Layout, text: np.ndarray) -> np.ndarray:
    """Float64 seconds (epoch UTC for dates) of time cells given as text (an object array of
    str/None), NaN where a cell is no time. The one reading of time text: the import's
    careful paths and the live CSV follower both go through it."""
    if layout.time_kind == "numeric" or layout.time_unit is not None:
        return text_numbers(text, layout.decimal) * UNIT_SECONDS[layout.time_unit or "s"]
    series = pd.Series(text, dtype=object)
    parsed = pd.to_datetime(
        series, format=layout.time_format or "ISO8601", utc=True, errors="coerce"
    )
    missing = parsed.isna().to_numpy()
    ns = parsed.dt.as_unit("ns").astype("int64").to_numpy()  # (NaT: a sentinel, masked below)
    seconds = _ns_to_seconds(ns)
    seconds[missing] = np.nan
    return seconds


def text_numbers(text: np.ndarray, decimal: str) -> np.ndarray:
    """Float64 values of number cells given as text (an object array of str/None), with
    ``decimal`` as the decimal mark; NaN where a cell is missing or not a number (tell the
    two apart with ``cells.NA_SET``). Used wherever text must become numbers."""
    series = pd.Series(text, dtype=object)
    if decimal == ",":
        series = series.str.replace(",", ".", regex=False)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


def convert_labels(values: RawColumn | None) -> np.ndarray | None:
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
    text = as_text_array(values)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    mapping = np.asarray([_label_text(str(u)) for u in uniques] + [""], dtype=object)
    return mapping[np.where(codes < 0, len(uniques), codes)]


def _ns_to_seconds(ns: np.ndarray) -> np.ndarray:
    """Int64 epoch nanoseconds -> float64 seconds, splitting off whole seconds first so the
    fraction is not lost to float64's 53-bit mantissa (1.7e18 ns needs 61 bits)."""
    whole, frac = np.divmod(ns, 1_000_000_000)
    return whole.astype(np.float64) + frac.astype(np.float64) / 1e9


def _bad_time(layout: Layout, row: int, value: str | None) -> RecordingError:
    line = data_line_of_row(layout, int(row))
    shown = "an empty value" if value is None or value == "" else f"{value!r}"
    return fail(
        layout.path,
        f"line {line}, column {layout.time_column!r}",
        f"time value {shown} cannot be read as a time; fix it, pick --time-column, "
        "or use --no-time-column",
    )


def _label_text(value: str) -> str:
    v = value.strip()
    if NUMBER_RE.match(v):
        f = float(v)
        if math.isfinite(f) and f == int(f):
            return str(int(f))
    return v
