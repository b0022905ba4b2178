"""Two kinds of valid CSV that are easy to misread: blank lines holding only spaces or tabs,
and quoted fields holding line breaks (a multi-line text "comment" column).

Whitespace-only lines are skipped like empty lines, by the fast path and the careful path
alike, so line numbers in messages still count them. Quoted line breaks belong to their
row: detection groups the head's lines into rows before it splits them, and the careful
path reads such a field whole even where it crosses one of pyarrow's 1 MB blocks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from faultlens.core.errors import RecordingError
from faultlens.core.io import arrow as io_arrow
from faultlens.core.io import load_recording, preview_file
from faultlens.core.io import ranges as io_ranges
from faultlens.core.io import sniff as io_sniff
from faultlens.core.recording import Recording


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def load_in_ranges(monkeypatch: pytest.MonkeyPatch, path: Path, size: int) -> Recording:
    with monkeypatch.context() as m:
        m.setattr(io_ranges, "RANGE_BYTES", size)
        return load_recording(path)


# ----------------------------------------------------------------------------- blank lines
@pytest.mark.parametrize("blank", ["   ", "\t", " \t ", "  \r"])
def test_a_whitespace_only_line_is_skipped_like_an_empty_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]], blank: str
) -> None:
    rows = [f"{i},{i * 0.5},{i % 2}" for i in range(300)]
    rows[100:100] = [blank]
    rows[201:201] = [""]
    path = write(tmp_path, "b.csv", "time,a,label\n" + "\n".join(rows) + "\n" + blank + "\n")
    for size in (1 << 30, 64):  # one range, and a cut in nearly every line
        rec = load_in_ranges(monkeypatch, path, size)
        assert rec.n_rows == 300 and rec.channels == ("a",)
        np.testing.assert_array_equal(rec.data[:, 0], np.arange(300, dtype=np.float32) * 0.5)
        assert rec.labels.tolist() == [str(i % 2) for i in range(300)]
    assert careful_calls == []  # skipped by the fast path itself


def test_line_numbers_count_whitespace_only_lines(tmp_path: Path) -> None:
    rows = [f"{i},{i}" for i in range(50)]
    rows[10:10] = ["  \t"]
    rows[40] = "39,ERR"  # file line 42: header, 39 rows before it and the blank line
    rec = load_recording(write(tmp_path, "s.csv", "a,b\n" + "\n".join(rows) + "\n"))
    assert rec.n_rows == 50
    assert any("'ERR' at line 42" in w for w in rec.quality.warnings)
    rows[40] = "39"
    with pytest.raises(RecordingError, match=r"r\.csv: line 42: has 1 fields, expected 2"):
        load_recording(write(tmp_path, "r.csv", "a,b\n" + "\n".join(rows) + "\n"))


def test_the_careful_path_skips_whitespace_only_lines_too(
    tmp_path: Path, careful_calls: list[set[str]]
) -> None:
    # Stray text sends the file to the careful path; its blank lines are skipped there too.
    rows = [f"{i},5;{i}" for i in range(40)]
    rows[20] = "20,5;x"
    rows[10:10] = ["   "]
    rows[30:30] = ["\t"]
    rec = load_recording(write(tmp_path, "c.csv", "a;b\n" + "\n".join(rows) + "\n"))
    assert careful_calls == [{"b"}]
    assert rec.n_rows == 40 and rec.data[:, 0].tolist() == [i + 0.5 for i in range(40)]
    assert np.isnan(rec.data[20, 1]) and any("'x' at line 23" in w for w in rec.quality.warnings)


def test_whitespace_only_lines_in_a_one_column_file(tmp_path: Path) -> None:
    # One column: pyarrow sees a cell of spaces, not a short row; still a blank line.
    rec = load_recording(write(tmp_path, "one.csv", "x\n1\n   \n2\n\t\n3\n"))
    assert rec.data[:, 0].tolist() == [1.0, 2.0, 3.0] and rec.quality.warnings == []


def test_a_line_of_tabs_in_a_tab_separated_file_is_a_row_of_gaps(tmp_path: Path) -> None:
    rec = load_recording(write(tmp_path, "t.tsv", "a\tb\tc\n1\t2\t3\n\t\t\n  \n4\t5\t6\n"))
    assert rec.options.separator == "\t" and rec.n_rows == 3
    assert np.isnan(rec.data[1]).all() and rec.data[2].tolist() == [4.0, 5.0, 6.0]


# ----------------------------------------------------------------------------- quoted line breaks
COMMENTED = (
    "time,pressure,comment,flow\n"
    '0,1.5,"valve opened\nby operator",10\n'
    "1,1.6,,11\n"
    '2,1.7,"pump noise, see log\n\n   \nend of note",12\n'
    '3,1.8,"one ""quoted"" word",13\n'
)


def test_a_multi_line_quoted_comment_loads_and_is_excluded(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", COMMENTED)
    preview = preview_file(path)
    assert preview.columns == ["time", "pressure", "comment", "flow"]
    assert preview.options.separator == "," and preview.options.header is True
    assert preview.rows[0] == ["0", "1.5", "valve opened\nby operator", "10"]
    rec = load_recording(path)
    assert rec.channels == ("pressure", "flow") and rec.time.tolist() == [0, 1, 2, 3]
    expected = np.array([[1.5, 10], [1.6, 11], [1.7, 12], [1.8, 13]], dtype=np.float32)
    np.testing.assert_array_equal(rec.data, expected)
    assert "comment" in rec.quality.excluded_columns


def test_a_multi_line_text_column_is_non_numeric_with_a_one_line_note(tmp_path: Path) -> None:
    rec = load_recording(write(tmp_path, "n.csv", COMMENTED.replace("comment", "remark")))
    note = rec.quality.excluded_columns["remark"]
    assert note == "non-numeric (e.g. 'valve opened\\nby operator' at line 2)"
    assert "\n" not in note


def test_quoted_line_breaks_do_not_fool_separator_and_header_detection(tmp_path: Path) -> None:
    # Split line by line, the continuation lines would outvote ";" and look like data.
    rows = "".join(f'{i};{i},5;"note {i}\nsecond; third; fourth\nlast"\n' for i in range(30))
    rec = load_recording(write(tmp_path, "d.csv", "a;b;note\n" + rows))
    assert rec.options.separator == ";" and rec.options.decimal == ","
    assert rec.channels == ("a", "b") and rec.n_rows == 30
    assert rec.data[29].tolist() == [29.0, 29.5]


def test_line_numbers_after_multi_line_rows(tmp_path: Path) -> None:
    head = "a,b,note\n" + "".join(f'{i},{i},"n {i}\nmore"\n' for i in range(20))  # lines 2-41
    rec = load_recording(write(tmp_path, "s.csv", head + "20,ERR,x\n21,1,y\n"))
    assert any("'ERR' at line 42" in w for w in rec.quality.warnings)
    with pytest.raises(RecordingError, match=r"line 43: has 2 fields, expected 3"):
        load_recording(write(tmp_path, "r.csv", head + "20,1,x\n21,1\n"))
    times = "time,a,note\n" + "".join(f'{i},{i},"n\n{i}"\n' for i in range(20))
    with pytest.raises(RecordingError, match=r"line 42, column 'time'.*'soon'"):
        load_recording(write(tmp_path, "t.csv", times + "soon,1,x\n"))


def test_a_quoted_header_name_with_a_line_break_becomes_one_line(tmp_path: Path) -> None:
    text = 'time,"Temp\n°C",flow\n0,20.5,1\n1,20.7,2\n'
    rec = load_recording(write(tmp_path, "h.csv", text))
    assert rec.channels == ("Temp °C", "flow") and rec.data[:, 1].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("column", ["last", "middle"])
@pytest.mark.parametrize("final_line_break", [True, False])
def test_a_quote_that_never_closes_is_named_by_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, column: str, final_line_break: bool
) -> None:
    # pyarrow reads such a quote in the last column as one value to the end, silently.
    if column == "last":
        head, bad, rest = "a,b,note\n", '40,2,"never closed\n', "41,4,x\n42,6,y\n"
    else:
        head, bad, rest = "a,note,b\n", '40,"never closed,2\n', "41,x,4\n42,y,6\n"
    good = "".join(f"{i},{i},ok\n" if column == "last" else f"{i},ok,{i}\n" for i in range(40))
    text = head + good + bad + (rest if final_line_break else rest.rstrip("\n"))
    path = write(tmp_path, "u.csv", text)
    message = r"u\.csv: line 42: a quoted field in this row is never closed.*close the quote"
    with pytest.raises(RecordingError, match=message):
        preview_file(path)  # the whole file is in the head
    # Past the head, the full read finds it, on the fast path and on the careful one.
    monkeypatch.setattr(io_sniff, "SAMPLE_BYTES", 200)
    for size in (1 << 30, 64):
        with pytest.raises(RecordingError, match=message):
            load_in_ranges(monkeypatch, path, size)


def test_a_quote_open_to_the_end_of_the_detected_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io_sniff, "SAMPLE_BYTES", 256)
    note = "".join(f"line {k}\n" for k in range(100))
    path = write(tmp_path, "l.csv", f'a,b,note\n1,2,"{note}"\n3,4,x\n')
    rec = load_recording(path)  # the open row is cut by the sample size and left out
    assert rec.n_rows == 2 and rec.data[:, 1].tolist() == [2.0, 4.0]
    path = write(tmp_path, "f.csv", f'"{note}",a,b\n1,2,3\n')
    with pytest.raises(RecordingError, match=r"f\.csv: line 1: a quoted .* does not close within"):
        preview_file(path)


def test_detection_breaks_lines_only_where_the_parsers_do(tmp_path: Path) -> None:
    # cp1252's "…" is byte 0x85, which read as Latin-1 is U+0085: a line break to
    # str.splitlines, not to a CSV parser.
    text = "a,b,label\n1,2,wait\u2026done\n3,4,ok\n"
    path = tmp_path / "e.csv"
    path.write_bytes(text.encode("cp1252"))
    preview = preview_file(path)
    assert preview.rows == [["1", "2", "wait\x85done"], ["3", "4", "ok"]]
    rec = load_recording(path)
    assert rec.options.encoding == "latin-1" and rec.channels == ("a", "b")
    assert rec.labels.tolist() == ["wait\x85done", "ok"]


def multi_line_value_at_1mb(tmp_path: Path, stray: bool) -> tuple[Path, int]:
    """A ~1.1 MB file with a quoted 60-line remark that spans byte 1 MB (the end of
    pyarrow's first block and of a 1 MB range), and optionally stray text further down."""
    rows = [f"{i},{i * 0.5},plain,{i}\n" for i in range(50_000)]
    text = "time,a,remark,b\n" + "".join(rows)
    cut = text.rfind("\n", 0, (1 << 20) - 300) + 1
    i = text[:cut].count("\n") - 1  # rows before the remark
    remark = "".join(f"remark line {k}\n" for k in range(60))  # 840 bytes over byte 1 MB
    text = text[:cut] + f'{i - 1}.5,-1,"{remark}",-2\n' + text[cut:]
    assert cut < 1 << 20 < cut + len(remark)
    if stray:
        text += "50000,ERR,x,1\n"
    path = tmp_path / "big.csv"
    path.write_bytes(text.encode())
    return path, i


def check_multi_line_file(rec: Recording, i: int, rows: int) -> None:
    assert rec.n_rows == rows and rec.channels == ("a", "b")
    assert rec.data[i].tolist() == [-1.0, -2.0] and rec.time[i] == i - 0.5
    assert rec.data[i + 1].tolist() == [i * 0.5, i] and rec.data[50_000, 1] == 49_999
    assert rec.quality.excluded_columns["remark"].startswith("non-numeric")
    assert rec.content_hash == hashlib.sha256(rec.path.read_bytes()).hexdigest()


def test_multi_line_value_across_1mb_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    path, i = multi_line_value_at_1mb(tmp_path, stray=False)
    check_multi_line_file(load_recording(path), i, 50_001)
    assert careful_calls == []  # one 4 MB range: the quoted line breaks parse in place
    # 1 MB ranges: the first is cut inside the remark and the careful path takes over.
    check_multi_line_file(load_in_ranges(monkeypatch, path, 1 << 20), i, 50_001)
    assert careful_calls == [set()]


def test_multi_line_value_across_1mb_on_the_careful_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful_calls: list[set[str]]
) -> None:
    path, i = multi_line_value_at_1mb(tmp_path, stray=True)
    rec = load_recording(path)
    assert careful_calls == [{"a"}]  # the stray text sends it there
    check_multi_line_file(rec, i, 50_002)
    assert any("'ERR' at line 50063" in w for w in rec.quality.warnings)
    # The check above is the block boundary case: read as if the file had no quotes,
    # pyarrow cuts its first 1 MB block inside the remark and fails.
    monkeypatch.setattr(io_arrow, "has_quote", lambda path: False)
    with pytest.raises(RecordingError, match=r"big\.csv"):
        load_recording(path)
