"""The importer's fast path (byte ranges parsed in parallel) against its careful path.

Ranges are made tiny here so that small files are cut in many places: the result must be
the one a single whole-file read gives, and anything the fast path cannot vouch for (a cut
inside a quoted field, a bad row, stray text) must go to the careful path and be reported
exactly as before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from faultlens.core.errors import RecordingError
from faultlens.core.io import load_recording
from faultlens.core.io import ranges as io_ranges
from faultlens.core.io import sniff as io_sniff
from faultlens.core.recording import ImportOptions, Recording


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def load_in_ranges(
    monkeypatch: pytest.MonkeyPatch, path: Path, size: int, options: ImportOptions | None = None
) -> Recording:
    with monkeypatch.context() as m:
        m.setattr(io_ranges, "RANGE_BYTES", size)
        return load_recording(path, options or ImportOptions())


def assert_same(a: Recording, b: Recording) -> None:
    np.testing.assert_array_equal(a.data, b.data)
    assert a.data.flags["C_CONTIGUOUS"] and b.data.flags["C_CONTIGUOUS"]
    if a.time is None:
        assert b.time is None
    else:
        np.testing.assert_array_equal(a.time, b.time)
    if a.labels is None:
        assert b.labels is None
    else:
        assert a.labels.tolist() == b.labels.tolist()
    assert a.quality.to_dict() == b.quality.to_dict()
    assert a.options == b.options
    assert a.content_hash == b.content_hash == hashlib.sha256(a.path.read_bytes()).hexdigest()


def test_many_ranges_read_like_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    rng = np.random.default_rng(1)
    lines = ["# logger v3", "", "time;flow;stuck;gappy;label"]
    for i in range(3000):
        stuck = "2,5" if 1000 <= i < 1400 else f"{rng.normal():.4f}".replace(".", ",")
        gappy = "" if i % 11 == 0 else f"{i % 7},25"
        label = "fault" if 2000 <= i < 2100 else "normal"
        stamp = f"2024-03-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        lines.append(f"{stamp};{rng.normal():.5f}".replace(".", ",") + f";{stuck};{gappy};{label}")
    path = write(tmp_path, "r.csv", "\n".join(lines) + "\n")
    whole = load_in_ranges(monkeypatch, path, 1 << 30)
    for size in (97, 1000, 4096):  # a cut in nearly every line, and in the middle of rows
        assert_same(whole, load_in_ranges(monkeypatch, path, size))
    assert careful_calls == []
    assert whole.n_rows == 3000 and whole.options.decimal == ","
    assert whole.quality.flat_reasons["stuck"].startswith("stuck at 2.5 for 400")
    assert whole.quality.missing_per_channel["gappy"] == len(range(0, 3000, 11))
    assert whole.class_counts() == {"normal": 2900, "fault": 100}


def test_cut_inside_a_quoted_last_column_goes_to_the_careful_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    # The notes span lines, and their second lines even have the file's field count.
    rows = "".join(f'{i},{i * 0.5},"note {i}\n{i},{i}"\n' for i in range(200))
    path = write(tmp_path, "q.csv", "a,b,note\n" + rows)
    rec = load_in_ranges(monkeypatch, path, 64)
    assert careful_calls and careful_calls[0] == set()
    assert rec.n_rows == 200 and rec.channels == ("a", "b") and rec.options.separator == ","
    np.testing.assert_array_equal(rec.data[:, 1], np.arange(200, dtype=np.float32) * 0.5)


def test_cut_inside_a_quoted_middle_column_goes_to_the_careful_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    rows = "".join(f'{i},"note {i}\nmore",{i * 2}\n' for i in range(200))
    path = write(tmp_path, "q.csv", "a,note,b\n" + rows)
    rec = load_in_ranges(monkeypatch, path, 64)
    assert careful_calls
    assert (
        rec.n_rows == 200
        and rec.channels == ("a", "b")
        and rec.data[:, 1].tolist() == [2.0 * i for i in range(200)]
    )


def test_a_line_longer_than_a_range_goes_to_the_careful_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    rows = "".join(f"{i},{i}\n" for i in range(50))
    path = write(tmp_path, "l.csv", "a,b\n" + rows)
    rec = load_in_ranges(monkeypatch, path, 4)
    assert careful_calls and rec.n_rows == 50


def test_ragged_row_in_a_later_range_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    rows = [f"{i},{i},{i}" for i in range(500)]
    rows[400] = "400,400"
    path = write(tmp_path, "r.csv", "a,b,c\n" + "\n".join(rows) + "\n")
    with pytest.raises(RecordingError, match=r"r\.csv: line 402: has 2 fields, expected 3"):
        load_in_ranges(monkeypatch, path, 256)
    assert careful_calls  # the message comes from the careful path, as for every file


def test_stray_text_in_a_later_range_is_a_gap_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    rows = [f"{i},{i * 0.25}" for i in range(500)]
    rows[450] = "450,ERR"
    path = write(tmp_path, "s.csv", "a,b\n" + "\n".join(rows) + "\n")
    rec = load_in_ranges(monkeypatch, path, 256)
    assert careful_calls == [{"b"}]  # the fast path found the column, the careful one read it
    assert np.isnan(rec.data[450, 1]) and rec.data[451, 1] == 451 * 0.25
    assert any("'ERR' at line 452" in w for w in rec.quality.warnings)
    assert rec.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_time_in_a_later_range_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [f"2024-01-01 00:{i // 60:02d}:{i % 60:02d},{i}" for i in range(600)]
    rows[555] = "soon,555"
    path = write(tmp_path, "t.csv", "time,a\n" + "\n".join(rows) + "\n")
    with pytest.raises(RecordingError, match=r"line 557, column 'time'.*'soon'"):
        load_in_ranges(monkeypatch, path, 300)


def test_latin1_bytes_in_a_later_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    monkeypatch.setattr(io_sniff, "SAMPLE_BYTES", 128)
    body = "".join(f"{i},normal\n" for i in range(300)) + "300,Störung\n"
    path = write(tmp_path, "x.csv", "x,label\n" + body, encoding="latin-1")
    rec = load_in_ranges(monkeypatch, path, 200)
    assert rec.options.encoding == "latin-1" and rec.labels[-1] == "Störung"
    # The careful path turned down UTF-8 once; read as Latin-1 the ranges did it all.
    assert careful_calls == [{"label"}]
    assert rec.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_encoding_given_explicitly_reads_without_ranges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    path = write(tmp_path, "e.csv", "Temp °C,b\n" + "".join(f"{i},{i}\n" for i in range(99)))
    rec = load_in_ranges(monkeypatch, path, 64, ImportOptions(encoding="cp850"))
    assert careful_calls and rec.n_rows == 99
    assert rec.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
