"""Event files: the one writer and the one reader of fault event lists, as CSV or JSON.

Every event file FaultLens writes (``faultlens scan --events``, ``faultlens report
--events``, the GUI's export) comes from ``write_events`` and has the same columns; a
review, when given, fills the review columns, else every event reads "unreviewed".

Schema, format version 2 (``EVENTS_VERSION``)
    Per event, in this order (``EVENT_COLUMNS``): ``event`` (1-based number), the event's
    own fields ``start_row, end_row`` (inclusive), ``start_time, end_time`` (as the
    recording writes them: ISO-8601 with the file's UTC offset for date-times, else seconds
    or the row), ``duration, duration_unit`` ("s" or "rows"), ``class_name`` (the model's),
    ``peak_probability, mean_probability``; then the review's ``review_status``
    (unreviewed / confirmed / dismissed / relabelled), ``reviewed_class``, ``review_note``,
    ``reviewer``, ``reviewed_at``; then the channels that drove the event with their shares.

    JSON::

        {"format": "faultlens-events", "version": 2,
         "recording": {"file": name, "sha256": content hash, "rows": n},   (when known)
         "scan": {"model_fingerprint": ..., "class_names": [...],
                  "options": {threshold, min_duration_rows, ...}},          (when known)
         "events": [{"event": 1, "start_row": ..., ..., "mean_probability": ...,
                     "top_channels": [...], "channel_scores": [...],
                     "review_status": ..., ..., "reviewed_at": ...}, ...]}

    CSV: a header row of ``EVENT_COLUMNS`` then ``channel_1, score_1, channel_2, score_2,
    ...`` as many pairs as the widest event needs (no cell holds a list); one row per event.
    A text cell a spreadsheet would run as a formula gets a leading apostrophe
    (``defuse_formula``), which the reader takes off again. The CSV has no version: its
    header says what it holds.

Version 1 had two writers under the same number: the
scan's (event fields only; ``recording`` the file's path as a string, with
``recording_sha256``, ``model``, ``model_fingerprint`` and ``threshold`` beside it) and the
report's (the schema above). ``read_events`` reads both: it takes what it needs from each
event and ignores the document's other keys, and a file without the review columns reads
as unreviewed (empty strings).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from faultlens.core.atomic import atomic_open
from faultlens.core.errors import ReportError
from faultlens.core.events import FaultEvent
from faultlens.core.output_files import check_output_path, write_error

if TYPE_CHECKING:
    from faultlens.core.recording import Recording
    from faultlens.core.review import Review
    from faultlens.core.scan import ScanResult

EVENTS_FORMAT = "faultlens-events"
EVENTS_VERSION = 2
EVENT_SUFFIXES = (".csv", ".json")
# The event's own columns, in order.
EVENT_FIELDS = (
    "start_row",
    "end_row",
    "start_time",
    "end_time",
    "duration",
    "duration_unit",
    "class_name",
    "peak_probability",
    "mean_probability",
)
REVIEW_COLUMNS = ("review_status", "reviewed_class", "review_note", "reviewer", "reviewed_at")
EVENT_COLUMNS = ("event", *EVENT_FIELDS, *REVIEW_COLUMNS)


class EventFile(NamedTuple):
    """What ``read_events`` found: the events and, per event, its review columns as text
    (``REVIEW_COLUMNS``; empty strings where the file has none)."""

    events: list[FaultEvent]
    reviews: list[dict[str, str]]


# Spreadsheet formula injection: a spreadsheet runs a cell that starts with one of these as a
# formula (a class name from a CSV label column or a note could be "=HYPERLINK(...)"). Such
# text cells are written with a leading apostrophe, which spreadsheets show as text and
# ``read_events`` removes again; a cell that itself starts with an apostrophe gets one
# more, so the round trip is exact. Numbers are written as numbers and never touched.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def defuse_formula(cell: Any) -> Any:
    """``cell`` as a spreadsheet shows it as text: text that would run as a formula gets a
    leading apostrophe (so does text that starts with one); anything else is returned as is."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_START) else cell


def _restore(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


# ---------------------------------------------------------------- writing
def _records(events: Sequence[FaultEvent], review: Review | None) -> list[dict[str, Any]]:
    """One dict per event with the keys of ``EVENT_COLUMNS`` in order, and the
    ``top_channels`` and ``channel_scores`` lists right after the event's own fields."""
    out = []
    for number, event in enumerate(events, start=1):
        d = event.to_dict()
        decision = review.decision(event) if review is not None else None
        reviewed = decision is not None and decision.status != "unreviewed"
        rec: dict[str, Any] = {"event": number}
        rec.update((k, d[k]) for k in EVENT_FIELDS)
        rec["top_channels"] = d["top_channels"]
        rec["channel_scores"] = d["channel_scores"]
        if decision is None:
            rec.update(dict.fromkeys(REVIEW_COLUMNS, ""), review_status="unreviewed")
        else:
            rec["review_status"] = decision.status
            rec["reviewed_class"] = decision.reviewed_class or ""
            rec["review_note"] = decision.note
            rec["reviewer"] = decision.reviewer if reviewed else ""
            rec["reviewed_at"] = decision.changed if reviewed else ""
        out.append(rec)
    return out


def _csv_bytes(records: Sequence[dict[str, Any]]) -> bytes:
    width = max([len(r["top_channels"]) for r in records] + [0])
    header = list(EVENT_COLUMNS)
    for i in range(1, width + 1):
        header += [f"channel_{i}", f"score_{i}"]
    # Built in memory and written as bytes: no platform newline translation of the rows.
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for rec in records:
        # repr() of a float reads back to the same float (round trip).
        row = [repr(rec[k]) if isinstance(rec[k], float) else rec[k] for k in EVENT_COLUMNS]
        names, scores = rec["top_channels"], rec["channel_scores"]
        for i in range(width):
            if i < len(names):
                row += [names[i], repr(scores[i]) if i < len(scores) else ""]
            else:
                row += ["", ""]
        writer.writerow([defuse_formula(cell) for cell in row])
    return buf.getvalue().encode("utf-8")


def _json_text(
    records: list[dict[str, Any]], recording: Recording | None, scan_result: ScanResult | None
) -> str:
    doc: dict[str, Any] = {"format": EVENTS_FORMAT, "version": EVENTS_VERSION}
    if recording is not None:
        doc["recording"] = {
            "file": recording.name,
            "sha256": recording.content_hash,
            "rows": recording.n_rows,
        }
    if scan_result is not None:
        doc["scan"] = {
            "model_fingerprint": scan_result.model_fingerprint,
            "class_names": list(scan_result.class_names),
            "options": asdict(scan_result.options),
        }
    doc["events"] = records
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_events(
    path: str | Path,
    events: Sequence[FaultEvent],
    review: Review | None = None,
    *,
    recording: Recording | None = None,
    scan_result: ScanResult | None = None,
) -> Path:
    """Write ``events`` to ``path`` as .csv or .json (by its suffix), atomically, in the
    schema of the module docstring; ``review`` fills the review columns, ``recording`` and
    ``scan_result`` the JSON's ``recording`` and ``scan`` blocks.

    Raises ``ReportError`` with one line that says what to do: an unknown suffix, a folder
    that does not exist, a disk that is full. Returns the path written.
    """
    path = Path(path)
    suffix = check_output_path(path, EVENT_SUFFIXES, "event file")
    records = _records(events, review)
    try:
        if suffix == ".csv":
            with atomic_open(path, "wb") as fh:
                fh.write(_csv_bytes(records))
        else:
            with atomic_open(path, "w", encoding="utf-8") as fh:
                fh.write(_json_text(records, recording, scan_result))
    except OSError as err:
        raise write_error(path, err) from err
    return path


# ---------------------------------------------------------------- reading
def read_events(path: str | Path) -> EventFile:
    """Read an event file of ``write_events`` (version 2, or either writer's version 1): the
    events and their review columns. Raises ``ReportError`` saying where a file is bad."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(
            f"{path}: cannot be read ({exc.strerror or exc}); check the path"
        ) from None
    if path.suffix.lower() == ".json":
        return _read_json(path, text)
    return _read_csv(path, text)


def _read_json(path: Path, text: str) -> EventFile:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
            "export the events again"
        ) from None
    if isinstance(doc, dict) and doc.get("format") == EVENTS_FORMAT:
        version = doc.get("version")
        if isinstance(version, int) and version > EVENTS_VERSION:
            raise ReportError(
                f"{path}: event file version {version} is newer than this FaultLens reads "
                f"({EVENTS_VERSION}); update FaultLens"
            )
    items = doc.get("events") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ReportError(f"{path}: no 'events' list; this is not a FaultLens event file")
    try:
        events = [FaultEvent.from_dict(d) for d in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(
            f"{path}: an event is missing a field or has a bad one ({exc}); export the events again"
        ) from None
    return EventFile(events, [{k: str(d.get(k, "")) for k in REVIEW_COLUMNS} for d in items])


def _read_csv(path: Path, text: str) -> EventFile:
    # newline="" keeps line breaks inside quoted fields (a multi-line review note).
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    # duration_unit may be missing (seconds then); the other fields may not.
    missing = [c for c in EVENT_FIELDS if c != "duration_unit" and c not in header]
    if missing:
        raise ReportError(
            f"{path}: line 1: missing column(s) {', '.join(missing)}; this is not "
            "a FaultLens event list"
        )
    n_ch = sum(1 for h in header if h.startswith("channel_"))
    events, reviews = [], []
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise ReportError(
                f"{path}: line {reader.line_num}: {len(row)} fields, expected {len(header)}; "
                "export the events again"
            )
        d: dict[str, Any] = dict(zip(header, map(_restore, row), strict=True))
        pairs = [(d.get(f"channel_{i}", ""), d.get(f"score_{i}", "")) for i in range(1, n_ch + 1)]
        d["top_channels"] = [c for c, _ in pairs if c != ""]
        d["channel_scores"] = [s for c, s in pairs if c != "" and s != ""]
        try:
            events.append(FaultEvent.from_dict(d))
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(
                f"{path}: line {reader.line_num}: bad value ({exc}); export the events again"
            ) from None
        reviews.append({k: d.get(k, "") for k in REVIEW_COLUMNS})
    return EventFile(events, reviews)
