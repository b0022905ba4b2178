"""Event files: the one writer and reader, its schema, spreadsheet safety, version-1 files."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from faultlens.core import review_file as review_mod
from faultlens.core.errors import ReportError
from faultlens.core.event_files import (
    EVENT_COLUMNS,
    EVENTS_VERSION,
    REVIEW_COLUMNS,
    read_events,
    write_events,
)
from faultlens.core.events import FaultEvent
from faultlens.core.options import ScanOptions
from faultlens.core.recording import Recording
from faultlens.core.review import Review
from faultlens.core.scan import ScanResult

EVENTS = [
    FaultEvent(
        3,
        9,
        "2020-01-01T00:00:03",
        "2020-01-01T00:00:09",
        7.0,
        "leak",
        0.91,
        0.7,
        ("b", "a"),
        (0.75, 0.125),
    ),
    FaultEvent(20, 25, "20", "25", 6.0, "valve, inlet", 0.6, 0.55, (), (), "rows"),
]
MULTILINE_NOTE = 'look <img src=x> here, $x^2$ & "quotes"\nsecond line'


@pytest.fixture(autouse=True)
def _review_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(review_mod.REVIEW_DIR_ENV, str(tmp_path / "user-data"))


@pytest.fixture
def recording(tmp_path: Path) -> Recording:
    n = 40
    rec = Recording.from_arrays(
        np.zeros((n, 2), np.float32), ["a", "b"], time=1.7e9 + np.arange(n, dtype=np.float64),
        time_kind="datetime", path=tmp_path / "pump.csv",
    )  # fmt: skip
    rec.utc_offset_s = 3600
    return rec


def scan_result(n: int) -> ScanResult:
    """A scan's result without a model: what the JSON's ``scan`` block is written from."""
    return ScanResult(
        class_names=("normal", "leak"),
        probabilities=np.zeros((n, 2), np.float32),
        predicted=np.zeros(n, np.int16),
        fault_probability=np.zeros(n, np.float32),
        attention=np.zeros(n, np.float32),
        attention_heads=np.zeros((1, n), np.float32),
        hotspots=np.zeros(n, np.float32),
        options=ScanOptions(threshold=0.6),
        model_fingerprint="f" * 64,
    )


def events_of(recording: Recording) -> list[FaultEvent]:
    spans = [(2, 6), (10, 14), (18, 20), (25, 30), (33, 36)]
    return [
        FaultEvent(
            s, e, recording.format_time(s), recording.format_time(e), float(e - s + 1),
            ("leak", "=SUM(A1)")[i % 2], 0.9, 0.8, ("a", "b")[: 1 + i % 2], (0.6, 0.4)[: 1 + i % 2],
        )
        for i, (s, e) in enumerate(spans)
    ]  # fmt: skip


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_events_round_trip_unreviewed(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"events{suffix}"
    assert write_events(path, EVENTS) == path
    events, reviews = read_events(path)
    assert events == EVENTS
    assert [r["review_status"] for r in reviews] == ["unreviewed", "unreviewed"]
    assert all(r[k] == "" for r in reviews for k in REVIEW_COLUMNS[1:])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_event_files_round_trip_with_review_columns(
    tmp_path: Path, recording: Recording, suffix: str
) -> None:
    events = events_of(recording)
    events.append(FaultEvent(5, 9, "5", "9", 4.0, "leak", 0.51, 0.5, (), (), duration_unit="rows"))
    review = Review.open(recording, sidecar_path=tmp_path / "review.json", user="tester")
    review.set_events(events, class_names=("normal", "leak"))
    review.confirm(0)
    review.set_note(0, MULTILINE_NOTE)
    review.dismiss(1)
    review.relabel(2, "FC-$17$ <seal>")
    out = tmp_path / f"events{suffix}"
    write_events(out, events, review, recording=recording, scan_result=scan_result(40))
    back, reviews = read_events(out)
    assert back == events
    assert [r["review_status"] for r in reviews[:4]] == [
        "confirmed",
        "dismissed",
        "relabelled",
        "unreviewed",
    ]
    assert reviews[0]["review_note"] == MULTILINE_NOTE  # line breaks kept in CSV too
    assert reviews[2]["reviewed_class"] == "FC-$17$ <seal>"
    assert reviews[0]["reviewer"] == "tester" and reviews[3]["reviewer"] == ""
    assert reviews[0]["reviewed_at"][:4].isdigit() and reviews[3]["reviewed_at"] == ""
    # Times are ISO-8601 with the file's UTC offset.
    assert back[0].start_time.endswith("+01:00")


def test_json_schema_version_2(tmp_path: Path, recording: Recording) -> None:
    path = tmp_path / "e.json"
    write_events(path, EVENTS, recording=recording, scan_result=scan_result(40))
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert list(doc) == ["format", "version", "recording", "scan", "events"]
    assert doc["format"] == "faultlens-events" and doc["version"] == EVENTS_VERSION == 2
    # The recording is an object whoever writes the file (version 1's scan wrote its path).
    assert doc["recording"] == {"file": "pump.csv", "sha256": recording.content_hash, "rows": 40}
    assert doc["scan"]["model_fingerprint"] == "f" * 64
    assert doc["scan"]["class_names"] == ["normal", "leak"]
    assert doc["scan"]["options"]["threshold"] == 0.6
    first = doc["events"][0]
    fields = list(EVENT_COLUMNS)
    at = fields.index("mean_probability") + 1
    assert list(first) == [*fields[:at], "top_channels", "channel_scores", *fields[at:]]
    assert first["event"] == 1 and first["top_channels"] == ["b", "a"]
    # Without a recording or a scan those blocks are left out; the events are the same.
    write_events(path, EVENTS)
    bare = json.loads(path.read_text(encoding="utf-8"))
    assert list(bare) == ["format", "version", "events"] and bare["events"] == doc["events"]


def test_csv_columns(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    write_events(path, EVENTS)
    header = path.read_text().splitlines()[0].split(",")
    assert header[: len(EVENT_COLUMNS)] == list(EVENT_COLUMNS)
    assert header[:3] == ["event", "start_row", "end_row"]
    assert header[len(EVENT_COLUMNS) :] == ["channel_1", "score_1", "channel_2", "score_2"]
    write_events(tmp_path / "empty.csv", [])
    assert read_events(tmp_path / "empty.csv") == ([], [])


def test_event_csv_defuses_spreadsheet_formulas_and_round_trips(tmp_path: Path) -> None:
    hostile = [
        FaultEvent(1, 4, "-3.5", "0.5", 4.0, '=HYPERLINK("http://x","y")', 0.9, 0.8,
                   ("+pump", "@flow", "'quoted"), (0.5, 0.25, 0.25), "rows"),
        FaultEvent(6, 9, "6", "9", 4.0, "'=already", 0.7, 0.6, ("-temp",), (1.0,), "rows"),
    ]  # fmt: skip
    path = tmp_path / "e.csv"
    write_events(path, hostile)
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    cells = [cell for row in rows[1:] for cell in row]
    # No cell a spreadsheet would evaluate: every text cell starting with = + - @ is quoted.
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert '\'=HYPERLINK("http://x","y")' in cells and "''=already" in cells
    assert "'-3.5" in cells  # a negative time as text too; numbers stay numbers:
    assert rows[1][rows[0].index("peak_probability")] == "0.9"
    assert read_events(path).events == hostile


def test_bad_event_files_say_where(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"events": [\n  {"start_row": }\n]}')
    with pytest.raises(ReportError, match=r"bad\.json: line 2, column"):
        read_events(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{"events": [')
    with pytest.raises(ReportError, match="line 1, column"):
        read_events(broken)
    bad_csv = tmp_path / "bad.csv"
    write_events(bad_csv, EVENTS)
    lines = bad_csv.read_text().splitlines()
    bad_csv.write_text("\n".join([lines[0], lines[1] + ",extra"]) + "\n")
    with pytest.raises(ReportError, match="line 2"):
        read_events(bad_csv)
    not_events = tmp_path / "other.csv"
    not_events.write_text("a,b\n1,2\n")
    with pytest.raises(ReportError, match="line 1: missing column"):
        read_events(not_events)
    with pytest.raises(ReportError, match=r"'\.txt'; name the file \.csv or \.json"):
        write_events(tmp_path / "e.txt", EVENTS)
    with pytest.raises(ReportError, match="does not exist; choose an existing folder"):
        write_events(tmp_path / "missing" / "e.csv", EVENTS)


def test_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    write_events(path, EVENTS)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["version"] = EVENTS_VERSION + 1
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ReportError, match=r"version 3 is newer .* update FaultLens"):
        read_events(path)


# Version-1 files as the two writers of that version wrote them: the scan's (event fields
# only; "recording" the path as a string) and the report's (event number, review columns,
# "recording" an object).
V1_SCAN_JSON = """\
{
  "format": "faultlens-events",
  "version": 1,
  "recording": "/data/pump.csv",
  "recording_sha256": "ab12",
  "model": "pump.flmodel",
  "model_fingerprint": "cd34",
  "threshold": 0.75,
  "events": [
    {
      "start_row": 3, "end_row": 9, "start_time": "2020-01-01T00:00:03",
      "end_time": "2020-01-01T00:00:09", "duration": 7.0, "duration_unit": "s",
      "class_name": "leak", "peak_probability": 0.91, "mean_probability": 0.7,
      "top_channels": ["b", "a"], "channel_scores": [0.75, 0.125]
    },
    {
      "start_row": 20, "end_row": 25, "start_time": "20", "end_time": "25",
      "duration": 6.0, "duration_unit": "rows", "class_name": "valve, inlet",
      "peak_probability": 0.6, "mean_probability": 0.55,
      "top_channels": [], "channel_scores": []
    }
  ]
}
"""
V1_SCAN_CSV = """\
start_row,end_row,start_time,end_time,duration,duration_unit,class_name,peak_probability,\
mean_probability,channel_1,score_1,channel_2,score_2
3,9,2020-01-01T00:00:03,2020-01-01T00:00:09,7.0,s,leak,0.91,0.7,b,0.75,a,0.125
20,25,20,25,6.0,rows,"valve, inlet",0.6,0.55,,,,
"""
V1_REPORT_JSON = """\
{
  "format": "faultlens-events",
  "version": 1,
  "recording": {"file": "pump.csv", "sha256": "ab12", "rows": 40},
  "scan": {"model_fingerprint": "cd34", "class_names": ["normal", "leak"], "options": {}},
  "events": [
    {
      "event": 1, "start_row": 3, "end_row": 9, "start_time": "2020-01-01T00:00:03",
      "end_time": "2020-01-01T00:00:09", "duration": 7.0, "duration_unit": "s",
      "class_name": "leak", "peak_probability": 0.91, "mean_probability": 0.7,
      "top_channels": ["b", "a"], "channel_scores": [0.75, 0.125],
      "review_status": "relabelled", "reviewed_class": "seal", "review_note": "on site",
      "reviewer": "ana", "reviewed_at": "2026-01-02T03:04:05+00:00"
    },
    {
      "event": 2, "start_row": 20, "end_row": 25, "start_time": "20", "end_time": "25",
      "duration": 6.0, "duration_unit": "rows", "class_name": "valve, inlet",
      "peak_probability": 0.6, "mean_probability": 0.55,
      "top_channels": [], "channel_scores": [],
      "review_status": "unreviewed", "reviewed_class": "", "review_note": "",
      "reviewer": "", "reviewed_at": ""
    }
  ]
}
"""


@pytest.mark.parametrize(
    ("name", "text"),
    [("scan.json", V1_SCAN_JSON), ("scan.csv", V1_SCAN_CSV), ("report.json", V1_REPORT_JSON)],
)
def test_version_1_files_still_read(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    events, reviews = read_events(path)
    assert events == EVENTS
    if name.startswith("report"):
        assert reviews[0] == {
            "review_status": "relabelled",
            "reviewed_class": "seal",
            "review_note": "on site",
            "reviewer": "ana",
            "reviewed_at": "2026-01-02T03:04:05+00:00",
        }
    else:  # no review columns: empty, as the reader promises
        assert reviews == [dict.fromkeys(REVIEW_COLUMNS, "")] * 2
