"""Whatever bytes the user opens, the importer returns a Recording or raises RecordingError."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlens.core.errors import RecordingError
from faultlens.core.io import load_recording, preview_file
from faultlens.core.io import ranges as io_ranges
from faultlens.core.recording import Recording

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _import(content: bytes) -> Recording | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_bytes(content)
        try:
            preview_file(path)
        except RecordingError as err:
            assert "\n" not in str(err) and "fuzz.csv" in str(err)
        try:
            rec = load_recording(path)
        except RecordingError as err:
            assert "\n" not in str(err) and "fuzz.csv" in str(err)
            return None
    _check_invariants(rec)
    return rec


def _check_invariants(rec: Recording) -> None:
    assert rec.data.dtype == np.float32 and rec.data.ndim == 2
    assert rec.data.shape == (rec.n_rows, len(rec.channels)) and rec.n_rows > 0
    assert len(set(rec.channels)) == len(rec.channels)
    if rec.time is not None:
        assert rec.time.shape == (rec.n_rows,) and np.all(np.diff(rec.time) >= 0)
    if rec.labels is not None:
        assert all(isinstance(v, str) for v in rec.labels)
    assert rec.quality is not None and rec.quality.rows == rec.n_rows
    assert len(rec.content_hash) == 64


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes(content: bytes) -> None:
    _import(content)


CELL = st.one_of(
    st.integers(-(10**12), 10**19).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NaN", "NA", "x", "1,5", "2024-01-01 00:00:00", "2024-01-01T00:00:01Z"]),
    st.sampled_from(["2024/01/31 12:00:05", "31.01.2024 12:00", "99.99.2024", "2024/13/45"]),
    st.sampled_from(["normal", "fault", "0.0", "1.0", '"q,uo"', "°C", "é", " ", "\t"]),
    st.sampled_from(['"two\nlines"', '"a;b\n\n  \n1,2"', '"open']),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
)
HEADER = st.sampled_from(
    ["time", "timestamp", "label", "anomaly", "changepoint", "a", "b", "Temp °C", "", "x"]
)


@st.composite
def csvish(draw: st.DrawFn) -> bytes:
    sep = draw(st.sampled_from([",", ";", "\t", " ", "  "]))
    width = draw(st.integers(1, 5))
    lines = []
    if draw(st.booleans()):
        lines.append(sep.join(draw(st.lists(HEADER, min_size=width, max_size=width))))
    for _ in range(draw(st.integers(0, 12))):
        # Mostly well-formed rows, sometimes ragged ones.
        n = width if draw(st.integers(0, 5)) else draw(st.integers(0, width + 2))
        lines.append(sep.join(draw(st.lists(CELL, min_size=n, max_size=n))))
        if not draw(st.integers(0, 7)):
            lines.append(draw(st.sampled_from(["", "   ", "\t", " \t "])))  # blank lines
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join(lines) + draw(st.sampled_from(["", eol]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    return text.encode(encoding, errors="replace")


@SETTINGS
@given(csvish())
def test_random_csvish_text(content: bytes) -> None:
    _import(content)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=3, max_size=3),
        min_size=1,
        max_size=30,
    )
)
def test_numeric_tables_round_trip(rows: list[list[float]]) -> None:
    content = "a,b,c\n" + "".join(",".join(repr(v) for v in r) + "\n" for r in rows)
    rec = _import(content.encode())
    assert rec is not None and rec.channels == ("a", "b", "c")
    np.testing.assert_array_equal(rec.data, np.asarray(rows, dtype=np.float32))


@SETTINGS
@given(csvish())
def test_tiny_ranges_read_like_one(content: bytes) -> None:
    # The fast path cut into 16-byte ranges (a cut in nearly every row, some inside quotes)
    # returns what one whole-file range does, or the same error.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_bytes(content)
        results: list[Recording | str] = []
        for size in (1 << 30, 16):
            with pytest.MonkeyPatch.context() as m:
                m.setattr(io_ranges, "RANGE_BYTES", size)
                try:
                    results.append(load_recording(path))
                except RecordingError as err:
                    results.append(str(err))
    whole, ranges = results
    if isinstance(whole, str) or isinstance(ranges, str):
        assert whole == ranges
        return
    np.testing.assert_array_equal(whole.data, ranges.data)
    for a, b in ((whole.time, ranges.time), (whole.labels, ranges.labels)):
        assert (a is None and b is None) or np.array_equal(a, b)
    assert json.dumps(whole.quality.to_dict()) == json.dumps(ranges.quality.to_dict())
    assert whole.options == ranges.options and whole.content_hash == ranges.content_hash
