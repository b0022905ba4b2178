"""One-column files with a decimal comma: "1,5" is one value, not two fields.

Separator detection used to take the comma of "1,5" for a separator, so a single channel
exported with decimal commas failed under its one-name header ("has 2 fields, expected 1").
The files around that case (two named columns, a real second field, ";"/tab separators,
no header) must read as they did.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faultlens.core.errors import RecordingError
from faultlens.core.io import DEFAULT_OPTIONS, load_recording, preview_file
from faultlens.core.io import ranges as io_ranges
from faultlens.core.recording import ImportOptions


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def values(path: Path, options: ImportOptions = DEFAULT_OPTIONS) -> list[float]:
    rec = load_recording(path, options)
    assert rec.data.shape[1] == 1
    return rec.data[:, 0].tolist()


# ----------------------------------------------------------------------------- one column
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_decimal_comma_column_reads_exactly(tmp_path: Path, eol: str) -> None:
    path = write(tmp_path, "v.csv", eol.join(["value", "1,5", "2,25", "-0,75"]) + eol)
    rec = load_recording(path)
    assert rec.channels == ("value",) and rec.time is None
    assert rec.data[:, 0].tolist() == [1.5, 2.25, -0.75]  # exact in float32
    assert rec.options.separator == ";" and rec.options.decimal == ","
    assert rec.quality.warnings == []
    # The resolved options re-read the file the same way.
    np.testing.assert_array_equal(load_recording(path, rec.options).data, rec.data)


def test_integers_without_a_comma_mix_in(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "pressure\n1,5\n2\n2,25\n-3\n")
    assert values(path) == [1.5, 2.0, 2.25, -3.0]


def test_three_digits_after_the_comma_are_decimals_not_thousands(tmp_path: Path) -> None:
    # "1,500" could be 1500 with a thousands separator; the importer reads no thousands
    # separators anywhere, and European exports mean 1.5.
    path = write(tmp_path, "t.csv", "value\n1,500\n2,250\n")
    assert values(path) == [1.5, 2.25]


def test_many_rows_missing_values_exponent_and_quotes(tmp_path: Path) -> None:
    # 200 rows: enough that "," alone looked like a consistent two-field separator.
    rows = [f"{k},25" for k in range(200)] + ["NaN", '"7,5"', "1,5E-03", "  ", "4,75"]
    path = write(tmp_path, "m.csv", "Temp °C\n" + "\n".join(rows) + "\n")
    rec = load_recording(path)
    assert rec.channels == ("Temp °C",) and rec.n_rows == 204
    got = rec.data[:, 0]
    np.testing.assert_array_equal(got[:200], np.arange(200, dtype=np.float32) + 0.25)
    assert np.isnan(got[200]) and got[201] == 7.5 and got[203] == 4.75
    assert got[202] == np.float32(1.5e-3)
    assert rec.quality.missing_per_channel == {"Temp °C": 1}


def test_fast_path_cut_into_tiny_ranges_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    path = write(tmp_path, "r.csv", "value\n" + "".join(f"{k},5\n" for k in range(300)))
    whole = load_recording(path)
    monkeypatch.setattr(io_ranges, "RANGE_BYTES", 16)
    ranges = load_recording(path)
    assert careful_calls == []
    np.testing.assert_array_equal(whole.data, ranges.data)
    assert whole.data[-1, 0] == 299.5


def test_preview_shows_one_column_with_decimal_comma(tmp_path: Path) -> None:
    pv = preview_file(write(tmp_path, "v.csv", "value\n1,5\n2,25\n"))
    assert pv.columns == ["value"] and pv.rows == [["1,5"], ["2,25"]]
    assert pv.options.separator == ";" and pv.options.decimal == ","


def test_decimal_comma_given_without_a_separator(tmp_path: Path) -> None:
    # Used to fail with "the decimal mark and the separator are both ','".
    path = write(tmp_path, "v.csv", "value\n1,5\n2,25\n")
    assert values(path, ImportOptions(decimal=",")) == [1.5, 2.25]


# ----------------------------------------------------------------------------- unchanged
def test_two_named_columns_stay_comma_separated(tmp_path: Path) -> None:
    rec = load_recording(write(tmp_path, "ab.csv", "a,b\n1,5\n2,25\n"))
    assert rec.channels == ("a", "b") and rec.options.separator == ","
    assert rec.data.tolist() == [[1.0, 5.0], [2.0, 25.0]]


@pytest.mark.parametrize("sep", [";", "\t"])
def test_time_and_value_with_their_own_separator(tmp_path: Path, sep: str) -> None:
    text = f"time{sep}value\n0{sep}1,5\n1{sep}2,25\n2{sep}-0,75\n"
    rec = load_recording(write(tmp_path, "tv.csv", text))
    assert rec.options.separator == sep and rec.options.decimal == ","
    assert rec.channels == ("value",) and rec.time_column == "time"
    assert rec.data[:, 0].tolist() == [1.5, 2.25, -0.75] and rec.time.tolist() == [0, 1, 2]


def test_a_lone_time_column_has_no_channel(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "time\n2024-01-01T00:00:00\n2024-01-01T00:00:01\n")
    with pytest.raises(RecordingError, match=r"t\.csv: no numeric channel columns"):
        load_recording(path)


@pytest.mark.parametrize(
    "rows",
    [
        ["1,abc", "2,def"],  # a second field of text: the header lacks a name
        ["1,5", "2,25", "3,x"],  # one such row is enough
        ["1,5,7", "2,25,1"],  # two commas: not one number
        ["1,", "2,"],  # nothing after the comma: a number and an empty cell
    ],
)
def test_second_field_that_is_not_decimals_is_reported(tmp_path: Path, rows: list[str]) -> None:
    path = write(tmp_path, "bad.csv", "value\n" + "\n".join(rows) + "\n")
    with pytest.raises(RecordingError) as err:
        load_recording(path)
    message = str(err.value)
    assert message.startswith(f"{path}: line 2: has ")
    assert "fields, expected 1 like the header; fix the row or check the separator" in message


def test_decimal_point_forced_keeps_the_comma_a_separator(tmp_path: Path) -> None:
    path = write(tmp_path, "v.csv", "value\n1,5\n2,25\n")
    with pytest.raises(RecordingError, match=r"line 2: has 2 fields, expected 1"):
        load_recording(path, ImportOptions(decimal="."))


def test_without_a_header_the_comma_stays_a_separator(tmp_path: Path) -> None:
    # No name says "one column" here: "1,5" rows are two integer columns, as before.
    rec = load_recording(write(tmp_path, "n.csv", "1,5\n2,25\n3,75\n"))
    assert rec.channels == ("ch_1", "ch_2") and rec.data.tolist()[0] == [1.0, 5.0]
