"""The import dialog's preview: the detected settings and the first rows, from the head."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from faultlens.core.io.columns import TIME_NAME_RE, is_label_like
from faultlens.core.io.layout import DEFAULT_OPTIONS
from faultlens.core.io.sniff import detect
from faultlens.core.recording import ImportOptions


@dataclass
class Preview:
    """What the import dialog shows before loading: the resolved options and the first rows."""

    path: Path
    options: ImportOptions  # every field resolved (no None left where detection applies)
    columns: list[str]
    rows: list[list[str]]  # first rows as text, for a preview table
    channel_candidates: list[str] = field(default_factory=list)
    label_candidates: list[str] = field(default_factory=list)
    time_candidates: list[str] = field(default_factory=list)
    # column -> why it is not an input channel (non-numeric, label-like, ...)
    excluded_columns: dict[str, str] = field(default_factory=dict)


def preview_file(
    path: str | Path, options: ImportOptions = DEFAULT_OPTIONS, rows: int = 50
) -> Preview:
    """Detect how to read ``path`` from its head and return the settings and first rows.

    Cheap: reads at most ``sniff.SAMPLE_BYTES`` of the file. Raises ``RecordingError`` for
    files that cannot be imported at all (missing, binary, empty, no numeric column, ...).
    """
    path = Path(path)
    layout = detect(path, options)
    label_candidates = [c for c in layout.names if is_label_like(c) or c == layout.label_column]
    time_candidates = [
        c
        for c in layout.names
        if layout.kinds[c] == "datetime"
        or (layout.kinds[c] == "numeric" and TIME_NAME_RE.match(c))
        or c == layout.time_column
    ]
    channel_candidates = [c for c in layout.names if layout.kinds[c] in ("numeric", "empty")]
    table = [
        (r + [""] * (len(layout.names) - len(r)))[: len(layout.names)]
        for r in layout.sample_rows[: max(rows, 0)]
    ]
    return Preview(
        path=path,
        options=layout.resolved_options(),
        columns=list(layout.names),
        rows=table,
        channel_candidates=channel_candidates,
        label_candidates=label_candidates,
        time_candidates=time_candidates,
        excluded_columns=dict(layout.excluded),
    )
