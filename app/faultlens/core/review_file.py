"""The sidecar file of a review: where it lives, its JSON format, opening and saving.

The review of ``run.csv`` is kept next to it in ``run.csv.faultlens.json``, or in the user
data directory when the recording's folder cannot be written (or holds the files shipped with
FaultLens). It is written atomically after every change and restored when the same content
is opened again; a file that cannot be used is renamed aside, never overwritten, and the user
is told why.

A review is tied to the rows it covers, not to the whole file: it records the file's sha256
and how many bytes that hash covers, so a recording that has grown since (a data logger's
CSV) keeps its review when the file still starts with exactly those bytes. A file whose
reviewed rows changed is set aside as belonging to other content.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from faultlens.core.errors import ReviewError
from faultlens.core.recording import Recording
from faultlens.core.review import (
    HISTORY_LIMIT,
    STATUSES,
    EventDecision,
    Region,
    Review,
    ReviewState,
    now_iso,
)

FORMAT_NAME = "faultlens-review"
FORMAT_VERSION = 1
SIDECAR_SUFFIX = ".faultlens.json"
# Tests (and users with unusual setups) point the fallback folder elsewhere with this.
REVIEW_DIR_ENV = "FAULTLENS_REVIEW_DIR"


@dataclass(frozen=True)
class ReviewWarning:
    """A problem found when opening a review that the user must be told about (the GUI shows
    ``message``; the review itself carries on, clean)."""

    kind: Literal["corrupt", "version", "other_content", "not_saved"]
    message: str
    kept_aside: Path | None = None


# ---------------------------------------------------------------- where the sidecar lives
def user_data_dir() -> Path:
    """Where FaultLens keeps per-user files, by platform convention."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
        return base / "FaultLens"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "FaultLens"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "faultlens"


def fallback_review_dir() -> Path:
    """Folder for sidecars of recordings whose own folder is read-only."""
    override = os.environ.get(REVIEW_DIR_ENV)
    return Path(override) if override else user_data_dir() / "reviews"


def primary_sidecar_path(recording_path: str | Path) -> Path:
    """``<recording file name>.faultlens.json`` beside the recording."""
    p = Path(recording_path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def fallback_sidecar_path(recording_path: str | Path) -> Path:
    """The sidecar's place in the user data directory: keyed by the recording's full path."""
    resolved = str(Path(recording_path).expanduser().resolve())
    digest = hashlib.sha256(resolved.encode("utf-8")).hexdigest()
    return fallback_review_dir() / f"{digest}.json"


def _shipped_folder() -> Path | None:
    """The folder of the files shipped with FaultLens (demo recording), if it is on disk."""
    try:
        from importlib import resources

        return Path(str(resources.files("faultlens.resources"))).resolve()
    except (ModuleNotFoundError, TypeError, OSError):
        return None


def folder_writable(folder: Path) -> bool:
    """Whether new files can be created in ``folder`` (tests monkeypatch this: root ignores
    permission bits, so a chmod'ed folder is still writable for root)."""
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def _keep_aside(path: Path, tag: str) -> Path | None:
    """Rename ``path`` to ``<name>.<tag>-<timestamp>.json`` without overwriting anything."""
    stem = path.name[: -len(".json")] if path.name.endswith(".json") else path.name
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        extra = "" if n == 0 else f"-{n}"
        target = path.with_name(f"{stem}.{tag}-{stamp}{extra}.json")
        if target.exists():
            continue
        try:
            # A hard link fails if the target exists: never overwrites a kept-aside file.
            os.link(path, target)
            os.unlink(path)
        except FileExistsError:
            continue
        except OSError:
            try:
                os.rename(path, target)
            except OSError:
                return None
        return target
    return None


# ---------------------------------------------------------------- opening
def open_review(
    recording: Recording,
    *,
    sidecar_path: str | Path | None = None,
    user: str | None = None,
    read_only: bool = False,
) -> Review:
    """The review of ``recording``: restored from its sidecar when there is one.

    The sidecar is ``sidecar_path`` if given, else the one beside the recording, else
    the one in the user data directory. A sidecar that cannot be read, has another
    format version or belongs to other content is reported in ``warnings``, renamed
    aside (``<name>.corrupt-<time>.json``; never overwritten) and the review starts
    clean. With ``read_only`` nothing is renamed or written (used by the CLI report);
    an explicit ``sidecar_path`` that cannot be used then raises ReviewError.
    """
    has_file = str(recording.path) not in ("", "<memory>")
    found: Path | None = None
    if sidecar_path is not None:
        found = Path(sidecar_path)
        if read_only and not found.is_file():
            raise ReviewError(f"{found}: review file not found; check the --review path")
        target = found
    elif has_file:
        primary = primary_sidecar_path(recording.path)
        fallback = fallback_sidecar_path(recording.path)
        if primary.is_file():
            found = primary
        elif fallback.is_file():
            found = fallback
        # Never beside a shipped file (the demo): the installation is no place for user
        # data, and a source checkout must not collect reviews.
        beside = folder_writable(primary.parent) and (primary.parent.resolve() != _shipped_folder())
        target = found or (primary if beside else fallback)
    else:
        target = None
    review = Review(
        recording.name,
        recording.content_hash,
        recording.n_rows,
        recording_path=recording.path if has_file else None,
        sidecar_path=None if read_only else target,
        user=user,
        autosave=not read_only,
        content_bytes=recording.content_bytes,
    )
    if found is not None and found.is_file():
        _restore(review, found, read_only=read_only, explicit=sidecar_path is not None)
    return review


def _restore(review: Review, path: Path, *, read_only: bool, explicit: bool) -> None:
    """Load ``path`` into ``review``, or set the file aside and say why in its warnings."""
    problem: tuple[Literal["corrupt", "version", "other_content"], str] | None = None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        problem = ("corrupt", f"cannot be read ({err.__class__.__name__}: {err})")
    except json.JSONDecodeError as err:
        problem = ("corrupt", f"is not valid JSON (line {err.lineno}, column {err.colno})")
    else:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
            problem = ("corrupt", "is not a FaultLens review file")
        elif raw.get("version") != FORMAT_VERSION:
            problem = (
                "version",
                f"has format version {raw.get('version')!r}, this FaultLens reads "
                f"version {FORMAT_VERSION}",
            )
        else:
            rec = raw.get("recording") or {}
            if rec.get("sha256") != review.content_hash and not _grown_since(review, rec):
                problem = (
                    "other_content",
                    f"belongs to a different content of {rec.get('file', '?')!r} "
                    "(the data changed since it was reviewed)",
                )
            else:
                try:
                    _load_dict(review, raw)
                except (KeyError, TypeError, ValueError) as err:
                    problem = ("corrupt", f"has an invalid entry ({err})")
                else:
                    if rec.get("sha256") != review.content_hash:
                        review.history.append(
                            {
                                "time": now_iso(),
                                "user": review.user,
                                "action": f"Recording grew from {rec.get('rows')} to "
                                f"{review.n_rows} rows; the reviewed rows are unchanged, "
                                "review kept",
                            }
                        )
    if problem is None:
        return
    kind, why = problem
    if read_only:
        if explicit:
            raise ReviewError(f"{path}: the review file {why}; pass another --review file")
        review.warnings.append(
            ReviewWarning(kind, f"{path}: the review file {why}; it was ignored")
        )
        return
    tag = "corrupt" if kind != "other_content" else "other-content"
    kept = _keep_aside(path, tag)
    if kept is not None:
        msg = f"{path}: the review file {why}; it was kept as {kept.name} and a new review starts"
    else:
        msg = (
            f"{path}: the review file {why}; it could not be renamed aside, so it is left "
            "untouched and the new review is saved in the user data folder"
        )
        review.sidecar_path = fallback_sidecar_path(review.recording_path or path)
        if review.sidecar_path == path:
            review.sidecar_path = None
            review.autosave = False
    review.warnings.append(ReviewWarning(kind, msg, kept))


def _grown_since(review: Review, rec: Mapping[str, Any]) -> bool:
    """Whether the recording is the one the sidecar's ``rec`` describes with rows appended:
    at least as many rows, and the file on disk starts with the bytes that were hashed (the
    sidecar's ``bytes``; a sidecar from before they were recorded: the first lines, one per
    row plus up to ``HEADER_LINES_MAX`` of header)."""
    sha, rows, n_bytes = rec.get("sha256"), rec.get("rows"), rec.get("bytes")
    path = review.recording_path
    if not isinstance(sha, str) or not isinstance(rows, int) or rows > review.n_rows:
        return False
    if path is None or not path.is_file():
        return False
    try:
        if isinstance(n_bytes, int) and not isinstance(n_bytes, bool):
            if review.content_bytes is not None and n_bytes > review.content_bytes:
                return False
            return file_prefix_sha256(path, n_bytes) == sha
        return _lines_prefix_matches(path, sha, rows)
    except OSError:
        return False


# A sidecar without a byte count is matched at line ends: one per row, plus the header's.
HEADER_LINES_MAX = 64


def file_prefix_sha256(path: Path, n_bytes: int) -> str | None:
    """The sha256 of the first ``n_bytes`` of ``path`` (None when the file is shorter)."""
    digest = hashlib.sha256()
    left = n_bytes
    with path.open("rb") as fh:
        while left > 0:
            chunk = fh.read(min(left, 1 << 20))
            if not chunk:
                return None
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _lines_prefix_matches(path: Path, sha: str, rows: int) -> bool:
    """Whether the file's first ``rows + h`` lines hash to ``sha`` for some header of h lines
    (0 to HEADER_LINES_MAX): one read of the prefix, one hash copy per candidate."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for count, line in enumerate(fh, start=1):
            digest.update(line)
            if count >= rows and digest.copy().hexdigest() == sha:
                return True
            if count >= rows + HEADER_LINES_MAX:
                return False
    return False


def _load_dict(review: Review, raw: Mapping[str, Any]) -> None:
    """Fill a fresh ``review`` from a sidecar's JSON; KeyError/TypeError/ValueError when an
    entry is malformed (the caller sets the file aside)."""
    decisions: dict[str, EventDecision] = {}
    for d in raw.get("decisions", []):
        dec = EventDecision(
            key=str(d["key"]),
            start_row=int(d["start_row"]),
            end_row=int(d["end_row"]),
            class_name=str(d["class_name"]),
            status=d.get("status", "unreviewed"),
            relabel=str(d.get("relabel", "")),
            note=str(d.get("note", "")),
            reviewer=str(d.get("reviewer", "")),
            changed=str(d.get("changed", "")),
        )
        if dec.status not in STATUSES:
            raise ValueError(f"unknown status {dec.status!r}")
        decisions[dec.key] = dec
    regions = tuple(
        Region(
            region_id=int(r["region_id"]),
            start_row=int(r["start_row"]),
            end_row=int(r["end_row"]),
            class_name=str(r["class_name"]),
            note=str(r.get("note", "")),
            reviewer=str(r.get("reviewer", "")),
            created=str(r.get("created", "")),
            changed=str(r.get("changed", "")),
        )
        for r in raw.get("regions", [])
    )
    next_id = max([int(raw.get("next_region_id", 1)), *[r.region_id + 1 for r in regions]])
    model = raw.get("model") or {}
    scan = raw.get("scan") or {}
    review.load_state(ReviewState(decisions, regions, next_id))
    review.model_fingerprint = str(model.get("fingerprint", ""))
    review.model_path = Path(str(model["path"])) if model.get("path") else None
    review.class_names = tuple(str(c) for c in model.get("class_names", []))
    review.scan_options = dict(scan.get("options") or {})
    review.created = str(raw.get("created", review.created))
    review.modified = str(raw.get("modified", review.modified))
    review.history = [dict(h) for h in raw.get("history", [])][-HISTORY_LIMIT:]


# ---------------------------------------------------------------- saving
def review_to_dict(review: Review) -> dict[str, Any]:
    """The sidecar's JSON content."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "recording": {
            "file": review.recording_name,
            "path": None if review.recording_path is None else str(review.recording_path),
            "sha256": review.content_hash,
            "rows": review.n_rows,
            # The bytes the hash covers: the file grown later still matches on them.
            "bytes": review.content_bytes,
        },
        # The model the decisions were taken on: reopening offers it (loads it when the file
        # is still there with this fingerprint).
        "model": {
            "fingerprint": review.model_fingerprint,
            "path": None if review.model_path is None else str(review.model_path),
            "class_names": list(review.class_names),
        },
        # The last scan's, which may be another model's.
        "scan": {
            "options": review.scan_options,
            "events": len(review.events),
            "model_fingerprint": review.scan_model_fingerprint,
            "model_path": None if review.scan_model_path is None else str(review.scan_model_path),
        },
        "created": review.created,
        "modified": review.modified,
        "decisions": [d.to_dict() for d in review.state.decisions.values()],
        "regions": [r.to_dict() for r in review.state.regions],
        "next_region_id": review.state.next_region_id,
        "history": list(review.history),
    }


def save_review(review: Review, write: Callable[[Path, str], None]) -> Path:
    """Write the sidecar of ``review`` with ``write`` (the review's own atomic write). Falls
    back to the user data directory when the recording's folder refuses the write; raises
    ReviewError when both fail."""
    if review.sidecar_path is None:
        raise ReviewError(f"{review.recording_name}: this review has no file to be saved to")
    text = json.dumps(review_to_dict(review), indent=1, ensure_ascii=False)
    try:
        write(review.sidecar_path, text)
    except OSError as first:
        fallback = fallback_sidecar_path(review.recording_path or review.sidecar_path)
        if fallback == review.sidecar_path:
            raise ReviewError(
                f"{review.sidecar_path}: cannot save the review ({first.strerror or first}); "
                "free disk space or make the folder writable"
            ) from first
        try:
            write(fallback, text)
        except OSError as second:
            raise ReviewError(
                f"{review.sidecar_path}: cannot save the review ({first.strerror or first}), "
                f"nor in {fallback.parent} ({second.strerror or second}); free disk space "
                "or make one of these folders writable"
            ) from second
        review.sidecar_path = fallback
    return review.sidecar_path
