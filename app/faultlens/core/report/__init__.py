"""Fault reports: a self-contained HTML file or a PDF of a scan, its events and their review.

``write_report`` is a generator that yields ``Progress`` (one step per event) and returns the
path written, so the GUI runs it in a worker with a progress bar and Cancel, and the CLI
drains it with ``run_to_end``. The file is written atomically: a failed or cancelled export
leaves nothing behind (and an older report of the same name untouched).

The package, one job a module: ``content`` (what a report says, for both formats),
``html`` and ``pdf`` (how each shows it), ``pdf_layout`` (text pages that flow over pages),
``figures`` (the event figures), ``mpl_compat`` (where it goes around matplotlib for speed
or right measures) and ``text`` (the plain-text summary ``faultlens inspect`` prints). The
renderers, and matplotlib with them, are imported when a report is written, not with the
package. Event lists are written by ``faultlens.core.event_files``.

Speed (issue #5: 200 events in a few seconds, off the GUI thread): see
``benchmarks/bench_report.py`` for the figures and what each step cost.

Every string that comes from a CSV, a model file or a note is escaped: ``html.escape`` in
HTML, mathtext off in figures.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from faultlens.core.atomic import atomic_open
from faultlens.core.output_files import check_output_path, write_error
from faultlens.core.progress import Progress, ShouldStop, never_stop, run_to_end
from faultlens.core.review import now_iso

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel
    from faultlens.core.events import FaultEvent
    from faultlens.core.recording import Recording
    from faultlens.core.review import Review
    from faultlens.core.scan import ScanResult

__all__ = ["REPORT_SUFFIXES", "export_report", "write_report"]

REPORT_SUFFIXES = (".html", ".htm", ".pdf")


def write_report(
    path: str | Path,
    recording: Recording,
    scan_result: ScanResult,
    model: TrainedModel | None = None,
    review: Review | None = None,
    *,
    events: Sequence[FaultEvent] | None = None,
    title: str | None = None,
    should_stop: ShouldStop = never_stop,
) -> Generator[Progress, None, Path]:
    """Write a fault report to ``path`` (.html or .pdf); yields Progress, returns the path.

    ``events`` defaults to ``scan_result.events``; ``model`` fills the model card and may be
    None. Raises ReportError (file not writable, unknown type) or Cancelled; in both cases
    no file is left at ``path``.
    """
    path = Path(path)
    suffix = check_output_path(path, REPORT_SUFFIXES, "report")
    evs = list(scan_result.events if events is None else events)
    title = title or f"Fault report: {recording.name}"
    created = now_iso()
    try:
        if suffix == ".pdf":
            from faultlens.core.report.pdf import render_pdf

            with atomic_open(path, "wb") as fh:
                yield from render_pdf(
                    fh, recording, scan_result, model, review, evs, title, should_stop,
                    created=created,
                )  # fmt: skip
        else:
            from faultlens.core.report.html import render_html

            text = yield from render_html(
                recording, scan_result, model, review, evs, title, should_stop, created=created
            )
            with atomic_open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
    except OSError as err:
        raise write_error(path, err) from err
    return path


def export_report(
    path: str | Path,
    recording: Recording,
    scan_result: ScanResult,
    model: TrainedModel | None = None,
    review: Review | None = None,
    *,
    events: Sequence[FaultEvent] | None = None,
    title: str | None = None,
) -> Path:
    """``write_report`` run to the end (for scripts and the CLI without progress)."""
    return run_to_end(
        write_report(path, recording, scan_result, model, review, events=events, title=title)
    )
