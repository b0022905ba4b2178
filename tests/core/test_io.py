"""The importer: dialect detection, time/label/channel columns, quality report, bad input."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from faultlens.core.errors import RecordingError
from faultlens.core.io import load_recording, preview_file
from faultlens.core.io import ranges as io_ranges
from faultlens.core.io import sniff as io_sniff
from faultlens.core.recording import ImportOptions

SKAB_CHANNELS = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


# ----------------------------------------------------------------------------- real data
@pytest.mark.skab
def test_every_skab_file_reads_with_right_columns(skab_dir: Path) -> None:
    files = sorted(skab_dir.rglob("*.csv"))
    assert len(files) == 35
    total = 0
    for path in files:
        rec = load_recording(path)
        with path.open() as fh:
            expected_rows = sum(1 for line in fh if line.strip()) - 1
        assert rec.n_rows == expected_rows, path
        total += rec.n_rows
        assert rec.channels == SKAB_CHANNELS, path
        assert rec.data.dtype == np.float32
        assert rec.time_kind == "datetime" and rec.time_column == "datetime"
        assert rec.options.separator == ";"
        if path.parent.name == "anomaly-free":
            assert rec.labels is None and rec.label_column is None
        else:
            assert rec.label_column == "anomaly"
            assert set(rec.class_counts()) == {"0", "1"}
            assert "changepoint" in rec.quality.excluded_columns
    assert total == 46806


@pytest.mark.skab
def test_skab_values_and_times_match_the_text(skab_dir: Path) -> None:
    path = skab_dir / "valve1" / "0.csv"
    rec = load_recording(path)
    lines = path.read_text().splitlines()
    first = lines[1].split(";")
    assert rec.time[0] == epoch(first[0])
    assert rec.format_time(0) == first[0].replace(" ", "T")
    np.testing.assert_allclose(rec.data[0], np.array(first[1:9], dtype=np.float32))
    anomalies = sum(1 for line in lines[1:] if line.split(";")[9] == "1.0")
    assert rec.class_counts()["1"] == anomalies
    assert rec.quality.sampling_interval_median_s == 1.0
    assert rec.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.skab
def test_skab_changepoint_becomes_a_channel_only_when_named(skab_dir: Path) -> None:
    path = skab_dir / "valve1" / "0.csv"
    rec = load_recording(path, ImportOptions(channels=("Current", "changepoint")))
    assert rec.channels == ("Current", "changepoint")
    assert set(np.unique(rec.data[:, 1])) <= {0.0, 1.0}
    assert rec.label_column == "anomaly"


# ----------------------------------------------------------------------------- dialects
def test_whitespace_separated_headerless_numeric(tmp_path: Path) -> None:
    path = write(tmp_path, "w.txt", "  1.5   2 3\n4 5.25\t6\n7 8 -9e-1\n")
    rec = load_recording(path)
    assert rec.channels == ("ch_1", "ch_2", "ch_3")
    assert rec.options.header is False and rec.options.separator == r"\s+"
    np.testing.assert_array_equal(
        rec.data, np.array([[1.5, 2, 3], [4, 5.25, 6], [7, 8, -0.9]], dtype=np.float32)
    )
    assert rec.time is None and rec.time_kind == "index"


def test_comma_csv_with_epoch_ms_time(tmp_path: Path) -> None:
    t0 = 1_700_000_000_000
    rows = "".join(f"{t0 + 250 * i},{i},{2 * i}\n" for i in range(8))
    rec = load_recording(write(tmp_path, "ms.csv", "time,a,b\n" + rows))
    assert rec.time_kind == "datetime" and rec.time_column == "time"
    assert rec.options.time_unit == "ms"
    np.testing.assert_allclose(rec.time, (t0 + 250 * np.arange(8)) / 1000.0)
    assert rec.quality.sampling_interval_median_s == pytest.approx(0.25)
    assert rec.format_time(0) == "2023-11-14T22:13:20"


@pytest.mark.parametrize(
    ("scale", "unit"), [(1, "s"), (1_000, "ms"), (1_000_000, "us"), (1_000_000_000, "ns")]
)
def test_epoch_unit_is_detected_by_magnitude(tmp_path: Path, scale: int, unit: str) -> None:
    base = 1_600_000_000
    rows = "".join(f"{(base + i) * scale},{i}\n" for i in range(5))
    rec = load_recording(write(tmp_path, "e.csv", "timestamp,x\n" + rows))
    assert rec.options.time_unit == unit
    assert rec.time_kind == "datetime"
    np.testing.assert_allclose(rec.time, base + np.arange(5), rtol=0, atol=1e-3)


def test_relative_numeric_time_is_seconds(tmp_path: Path) -> None:
    rec = load_recording(write(tmp_path, "r.csv", "time_ms,x\n0,1\n20,2\n40,3\n"))
    assert rec.time_kind == "seconds"
    np.testing.assert_allclose(rec.time, [0.0, 0.02, 0.04])
    # A unit in the name beats the magnitude rule: 1e8 us is 100 s, not a 1973 date.
    text = "time (us),x\n100000000,1\n100500000,2\n"
    rec = load_recording(write(tmp_path, "u.csv", text))
    assert rec.time_kind == "seconds" and rec.options.time_unit == "us"
    np.testing.assert_allclose(rec.time, [100.0, 100.5])


def test_utf8_bom(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bom.csv", "\ufefftimestamp,x\n2024-01-01 00:00:00,1\n2024-01-01 00:00:01,2\n"
    )
    rec = load_recording(path)
    assert rec.time_column == "timestamp"
    assert rec.channels == ("x",)
    assert rec.options.encoding == "utf-8-sig"


def test_latin1_degree_sign_in_header(tmp_path: Path) -> None:
    text = (
        "Zeit;Temperatur °C;Druck bar\n"
        "2024-01-01 00:00:00;21,5;1,25\n"
        "2024-01-01 00:00:01;22,0;1,5\n"
    )
    rec = load_recording(write(tmp_path, "l.csv", text, encoding="latin-1"))
    assert rec.options.encoding == "latin-1"
    assert rec.options.decimal == ","
    assert rec.channels == ("Temperatur °C", "Druck bar")
    np.testing.assert_array_equal(rec.data, [[21.5, 1.25], [22.0, 1.5]])


def test_iso_timestamps_with_offset_keep_the_offset(tmp_path: Path) -> None:
    text = "time,x\n2024-06-01T12:00:00+02:00,1\n2024-06-01T12:00:01+02:00,2\n"
    rec = load_recording(write(tmp_path, "o.csv", text))
    assert rec.utc_offset_s == 7200
    assert rec.time[0] == epoch("2024-06-01T10:00:00")
    assert rec.format_time(1) == "2024-06-01T12:00:01+02:00"


def test_mixed_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    text = "time,x\n2024-06-01T12:00:00+02:00,1\n2024-06-01T10:00:01Z,2\n2024-06-01T10:00:02,3\n"
    rec = load_recording(write(tmp_path, "m.csv", text))
    np.testing.assert_allclose(rec.time - rec.time[0], [0, 1, 2])
    assert any("offset" in w for w in rec.quality.warnings)


def test_tab_separated_with_fractional_seconds(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-01T00:00:0{i}.500\t{i}\t{i * 2}\n" for i in range(4))
    rec = load_recording(write(tmp_path, "t.tsv", "time\ta\tb\n" + rows))
    assert rec.options.separator == "\t"
    np.testing.assert_allclose(np.diff(rec.time), 1.0)
    assert rec.time[0] == epoch("2024-01-01T00:00:00.5")


def test_pipe_free_quoted_fields(tmp_path: Path) -> None:
    text = 'name,"a",b\n"x, y",1,2\n"z",3,4\n'
    rec = load_recording(write(tmp_path, "q.csv", text))
    assert rec.channels == ("a", "b")
    assert rec.quality.excluded_columns["name"].startswith("non-numeric")


def test_overrides_beat_detection(tmp_path: Path) -> None:
    text = "a;b;c\n1;2;3\n4;5;6\n"
    path = write(tmp_path, "o.csv", text)
    rec = load_recording(path, ImportOptions(header=False, separator=";", channels=("ch_2",)))
    # With the header line read as data the first row is text: a stray value, not a crash.
    assert rec.channels == ("ch_2",)
    assert rec.n_rows == 3 and np.isnan(rec.data[0, 0])
    assert rec.data[1:, 0].tolist() == [2.0, 5.0]


def test_resolved_options_reload_identically(tmp_path: Path) -> None:
    text = "time;P;Q;label\n2024-01-01 00:00:00;1,5;2;ok\n2024-01-01 00:00:01;2,5;;bad\n"
    path = write(tmp_path, "r.csv", text)
    first = load_recording(path)
    opts = first.options
    assert None not in (opts.encoding, opts.separator, opts.header, opts.decimal, opts.channels)
    again = load_recording(path, opts)
    np.testing.assert_array_equal(first.data, again.data)
    assert again.options == opts


# ----------------------------------------------------------------------------- columns
def test_labels_become_strings_and_missing_is_empty(tmp_path: Path) -> None:
    text = "x,label\n1,0.0\n2,1.0\n3,\n4,2.5\n5,1\n"
    rec = load_recording(write(tmp_path, "l.csv", text))
    assert rec.label_column == "label"
    assert rec.labels.tolist() == ["0", "1", "", "2.5", "1"]
    assert rec.class_counts() == {"0": 1, "1": 2, "2.5": 1}


def test_text_labels_and_label_name_priority(tmp_path: Path) -> None:
    text = "x,state,Fault\n1,run,normal\n2,run,bearing_wear\n"
    rec = load_recording(write(tmp_path, "l.csv", text))
    assert rec.label_column == "Fault"  # "fault" ranks above "state"
    assert rec.labels.tolist() == ["normal", "bearing_wear"]
    assert "state" in rec.quality.excluded_columns


def test_label_options(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "x,y,kind\n1,2,a\n3,4,b\n")
    assert load_recording(path).labels is None
    rec = load_recording(path, ImportOptions(label_column="kind"))
    assert rec.labels.tolist() == ["a", "b"]
    rec = load_recording(
        write(tmp_path, "m.csv", "x,label\n1,a\n"), ImportOptions(no_label_column=True)
    )
    assert rec.labels is None and rec.channels == ("x",)
    assert "label" in rec.quality.excluded_columns


def test_missing_values_stay_nan(tmp_path: Path) -> None:
    text = "a,b,c\n1,,3\nNaN,5,6\n7,8,NA\n"
    rec = load_recording(write(tmp_path, "m.csv", text))
    assert np.isnan(rec.data).sum() == 3
    assert rec.quality.missing_per_channel == {"a": 1, "b": 1, "c": 1}
    assert not (rec.data == 0).any()


def test_stray_text_in_a_numeric_column_becomes_a_gap_with_warning(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i}\n" for i in range(40)) + "40,ERR\n41,41\n"
    rec = load_recording(write(tmp_path, "s.csv", "a,b\n" + rows))
    assert rec.channels == ("a", "b")
    assert np.isnan(rec.data[40, 1]) and rec.data[41, 1] == 41
    assert any("'ERR' at line 42" in w for w in rec.quality.warnings)


def test_stray_text_past_the_detection_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io_sniff, "SAMPLE_BYTES", 256)
    rows = "".join(f"{i},{i * 0.5}\n" for i in range(200)) + "200,oops\n"
    rec = load_recording(write(tmp_path, "s.csv", "a,b\n" + rows))
    assert rec.n_rows == 201 and np.isnan(rec.data[200, 1])
    assert any("oops" in w for w in rec.quality.warnings)


def test_non_numeric_columns_are_excluded_with_reason(tmp_path: Path) -> None:
    text = "a,operator,b\n1,hello,2\n3,world,4\n"
    rec = load_recording(write(tmp_path, "n.csv", text))
    assert rec.channels == ("a", "b")
    assert "'hello' at line 2" in rec.quality.excluded_columns["operator"]


def test_duplicate_and_empty_header_names(tmp_path: Path) -> None:
    rec = load_recording(write(tmp_path, "d.csv", "a,a,,b\n1,2,3,4\n5,6,7,8\n"))
    assert rec.channels == ("a", "a.1", "column_3", "b")


# ----------------------------------------------------------------------------- quality
def test_unsorted_timestamps_are_sorted_with_labels(tmp_path: Path) -> None:
    text = "t,x,label\n3,30,c\n1,10,a\n2,20,b\n2,21,b\n5,50,e\n"
    rec = load_recording(write(tmp_path, "u.csv", text))
    assert rec.time.tolist() == [1, 2, 2, 3, 5]
    assert rec.data[:, 0].tolist() == [10, 20, 21, 30, 50]
    assert rec.labels.tolist() == ["a", "b", "b", "c", "e"]
    q = rec.quality
    assert q.sorted_by_time and q.non_monotonic_timestamps == 1 and q.duplicate_timestamps == 1
    assert any("line 3" in w for w in q.warnings)


def test_sampling_interval_irregularity_and_gap(tmp_path: Path) -> None:
    times = [0, 1, 2, 3, 4, 5, 15, 16, 17, 18, 19]
    text = "time_s,x\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times))
    q = load_recording(write(tmp_path, "g.csv", text)).quality
    assert q.sampling_interval_median_s == 1.0
    assert q.max_gap_s == 10.0
    assert q.sampling_irregularity == pytest.approx(1 / 10)
    assert q.time_span_s == 19.0


def test_flat_channels_constant_and_stuck(tmp_path: Path) -> None:
    n = 400
    rng = np.random.default_rng(0)
    noisy = rng.normal(size=n)
    stuck = noisy.copy()
    stuck[100:300] = 1.25  # 200 rows >= STUCK_MIN_ROWS and >= 5 % of 400
    rows = "".join(f"{a:.6f},7,{b:.6f}\n" for a, b in zip(noisy, stuck, strict=True))
    q = load_recording(write(tmp_path, "f.csv", "ok,const,stuck\n" + rows)).quality
    assert q.flat_channels == ["const", "stuck"]
    assert "constant 7" in q.flat_reasons["const"]
    assert "stuck at 1.25 for 200" in q.flat_reasons["stuck"]


def test_content_hash_is_sha256_of_file_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "a\n1\n2\n")
    assert load_recording(path).content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_ascii_head_then_latin1_bytes_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io_sniff, "SAMPLE_BYTES", 128)
    body = "".join(f"{i},normal\n" for i in range(50)) + "50,Störung\n"
    rec = load_recording(write(tmp_path, "x.csv", "x,label\n" + body, encoding="latin-1"))
    assert rec.options.encoding == "latin-1"
    assert rec.labels[-1] == "Störung"


def test_multibyte_character_cut_by_the_sample_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = "x,label\n1,é\n"
    monkeypatch.setattr(io_sniff, "SAMPLE_BYTES", len(head.encode()) - 2)  # cuts inside "é"
    rec = load_recording(write(tmp_path, "u.csv", head + "2,é\n"))
    assert rec.options.encoding == "utf-8"
    assert rec.labels.tolist() == ["é", "é"]


# ----------------------------------------------------------------------------- preview
def test_preview_reads_only_the_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(io_sniff, "SAMPLE_BYTES", 4096)
    rows = "".join(
        f"2024-01-01 00:{i // 60 % 60:02d}:{i % 60:02d};{i},5;{i % 2}\n" for i in range(3000)
    )
    # Past the head: a ragged line that the full import rejects but the preview never sees.
    path = write(tmp_path, "p.csv", "when;value;label\n" + rows + "oops\n")
    pv = preview_file(path, rows=10)
    assert pv.columns == ["when", "value", "label"]
    assert len(pv.rows) == 10 and pv.rows[0] == ["2024-01-01 00:00:00", "0,5", "0"]
    assert pv.options.separator == ";" and pv.options.decimal == ","
    assert pv.options.time_column == "when" and pv.options.label_column == "label"
    assert pv.options.channels == ("value",)
    assert pv.time_candidates == ["when"] and "label" in pv.label_candidates
    with pytest.raises(RecordingError, match="line 3002"):
        load_recording(path, pv.options)


# ----------------------------------------------------------------------------- bad input
BAD_INPUTS = [
    ("empty.csv", b"", "empty"),
    ("blank.csv", b"\n\n  \n", "empty"),
    ("header.csv", b"a,b,c\n", "no data rows"),
    ("binary.bin", bytes(range(256)) * 40, "binary"),
    ("zeros.bin", b"a,b\n" + b"\x00" * 100, "binary"),
    ("text.csv", b"name,city\nann,oslo\nbob,rome\n", "no numeric channel"),
    ("ragged.csv", b"a,b\n1,2\n3,4\n5\n6,7\n", "line 4"),
    ("long.csv", b"a,b\n1,2\n3,4,5\n", "line 3"),
    ("badtime.csv", b"time,a\n2024-01-01 00:00:00,1\n2024-01-01 00:00:01,2\nnoon,3\n", "line 4"),
    ("emptytime.csv", b"time,a\n2024-01-01 00:00:00,1\n,2\n2024-01-01 00:00:02,3\n", "line 3"),
    ("utf16.csv", "a,b\n1,2\n".encode("utf-16"), "UTF-16"),
]


@pytest.mark.parametrize(("name", "content", "needle"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_raises_one_line_recording_error(
    tmp_path: Path, name: str, content: bytes, needle: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(RecordingError) as info:
        load_recording(path)
    message = str(info.value)
    assert "\n" not in message and name in message and needle in message


def test_bad_time_message_names_the_value(tmp_path: Path) -> None:
    path = write(
        tmp_path, "t.csv", "time,a\n2024-01-01 00:00:00,1\n2024-01-01 00:00:01,2\nnoon,3\n"
    )
    with pytest.raises(RecordingError, match=r"line 4, column 'time'.*'noon'"):
        load_recording(path)


def test_label_column_named_but_absent_lists_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "a,b\n1,2\n")
    with pytest.raises(RecordingError, match="columns are a, b"):
        load_recording(path, ImportOptions(label_column="fault"))
    with pytest.raises(RecordingError, match="'nope'"):
        load_recording(path, ImportOptions(channels=("a", "nope")))
    with pytest.raises(RecordingError, match="columns are a, b"):
        load_recording(path, ImportOptions(time_column="t"))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="not found"):
        load_recording(tmp_path / "nope.csv")
    with pytest.raises(RecordingError, match="folder"):
        load_recording(tmp_path)
    with pytest.raises(RecordingError, match="not found"):
        preview_file(tmp_path / "nope.csv")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "a\n1\n")
    path.chmod(0)
    try:
        with pytest.raises(RecordingError, match="permission"):
            load_recording(path)
    finally:
        path.chmod(0o600)


def test_unreadable_file_as_root_via_open_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root bypasses file modes, so make opening fail the way a permission problem does.
    path = write(tmp_path, "p.csv", "a\n1\n")
    real_open = Path.open

    def deny(self: Path, *args: object, **kwargs: object):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(RecordingError, match="permission denied"):
        load_recording(path)


def test_matrix_grows_when_the_row_estimate_is_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io_ranges, "estimated_rows", lambda layout: 2)
    rows = "".join(f"{i},{i * 0.5},{'' if i % 7 == 0 else i}\n" for i in range(5000))
    rec = load_recording(write(tmp_path, "g.csv", "a,b,c\n" + rows))
    assert rec.n_rows == 5000 and rec.data.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(rec.data[:, 0], np.arange(5000, dtype=np.float32))
    np.testing.assert_array_equal(rec.data[:, 1], np.arange(5000, dtype=np.float32) * 0.5)
    assert rec.quality.missing_per_channel == {"a": 0, "b": 0, "c": len(range(0, 5000, 7))}


def test_decimal_comma_file_ragged_row_and_stray_text(tmp_path: Path) -> None:
    good = "".join(f"{i},5;{i},25\n" for i in range(20))
    ragged = write(tmp_path, "r.csv", "a;b\n" + good + "3,5\n4;5\n")
    with pytest.raises(RecordingError, match="line 22: has 1 fields, expected 2"):
        load_recording(ragged)
    rows = "".join(f"{i},5;{i},25\n" for i in range(40)) + "40,5;kaputt\n"
    rec = load_recording(write(tmp_path, "s.csv", "a;b\n" + rows))
    assert rec.options.decimal == ","
    assert rec.data[1].tolist() == [1.5, 1.25] and np.isnan(rec.data[40, 1])
    assert any("'kaputt' at line 42" in w for w in rec.quality.warnings)


def test_comment_preamble_above_the_header_is_skipped(tmp_path: Path) -> None:
    text = "# logger v2.1\n# site: pump house 3\n\ntime,a\n0,1.5\n1,2.5\n"
    rec = load_recording(write(tmp_path, "c.csv", text))
    assert rec.channels == ("a",) and rec.data[:, 0].tolist() == [1.5, 2.5]
    assert rec.time.tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    ("stamp", "iso"),
    [
        ("2024/01/31 12:00:05", "2024-01-31T12:00:05"),
        ("31.01.2024 12:00:05.250", "2024-01-31T12:00:05.250"),
        ("31.01.2024 12:00", "2024-01-31T12:00:00"),
    ],
)
def test_local_date_styles(tmp_path: Path, stamp: str, iso: str) -> None:
    rec = load_recording(write(tmp_path, "d.csv", f"Zeit;x\n{stamp};1\n{stamp};2\n"))
    assert rec.time_column == "Zeit" and rec.time_kind == "datetime"
    assert rec.time[0] == epoch(iso)


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_whitespace_file_with_a_short_row(tmp_path: Path, eol: str) -> None:
    lines = ["t  a  b", *(f"{i}  {i}.5  {i}.25" for i in range(30)), "30 1", "31 1 2"]
    path = write(tmp_path, "w.txt", eol.join(lines) + eol)
    with pytest.raises(RecordingError, match="line 32: has 2 fields, expected 3"):
        load_recording(path)
    lines[-2] = "30 1 2"
    rec = load_recording(write(tmp_path, "ok.txt", eol.join(lines)))  # no final newline
    assert rec.n_rows == 32 and rec.options.separator == r"\s+"
