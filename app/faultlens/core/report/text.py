"""Plain-text summary of a recording: what ``faultlens inspect`` prints."""

from __future__ import annotations

from faultlens.core.recording import Recording

_SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", r"\s+": "whitespace"}


def _duration(seconds: float) -> str:
    """1 d 02:03:04 / 02:03:04 / 12.5 s: short, exact to the second for long spans."""
    if seconds < 60:
        return f"{seconds:g} s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days} d {clock}" if days else clock


def recording_summary_text(rec: Recording) -> str:
    """Human-readable summary and data-quality report of ``rec``, ending in a newline.

    Lists rows, channels, the time column with span and sampling, the label column with
    class counts, missing values per channel, flat channels, excluded columns and why, and
    the import warnings.
    """
    q = rec.quality
    assert q is not None  # Recording.__post_init__ always sets one
    opts = rec.options
    lines: list[str] = [f"File:      {rec.path}", f"SHA-256:   {rec.content_hash}"]
    if opts.separator is not None:
        sep = _SEPARATOR_NAMES.get(opts.separator, repr(opts.separator))
        header = "header row" if opts.header else "no header row"
        lines.append(
            f"Format:    {sep}-separated, {header}, decimal {opts.decimal!r}, {opts.encoding}"
        )
    lines.append(f"Rows:      {rec.n_rows}")
    lines.append(f"Channels:  {len(rec.channels)}")
    width = max((len(c) for c in rec.channels), default=0)
    for name in rec.channels:
        missing = q.missing_per_channel.get(name, 0)
        pct = 100.0 * missing / rec.n_rows if rec.n_rows else 0.0
        note = f"{missing} missing ({pct:.1f} %)" if missing else "no missing values"
        if name in q.flat_channels:
            note += f"; FLAT: {q.flat_reasons.get(name, 'flat')}"
        lines.append(f"  {name:<{width}}  {note}")

    if rec.time is None:
        lines.append("Time:      none (row index)")
    else:
        kind = "date/time" if rec.time_kind == "datetime" else "seconds"
        lines.append(f"Time:      column {rec.time_column!r} ({kind})")
        lines.append(f"  from {rec.format_time(0)} to {rec.format_time(rec.n_rows - 1)}")
        if q.time_span_s is not None:
            lines.append(f"  span {_duration(q.time_span_s)}")
        if q.sampling_interval_median_s is not None:
            irregular = 100.0 * (q.sampling_irregularity or 0.0)
            lines.append(
                f"  sampling interval {q.sampling_interval_median_s:g} s (median), "
                f"{irregular:.1f} % of intervals irregular, longest gap {q.max_gap_s:g} s"
            )
        if q.duplicate_timestamps:
            lines.append(f"  {q.duplicate_timestamps} duplicate timestamp(s)")
        if q.non_monotonic_timestamps:
            sorted_note = " (rows sorted by time)" if q.sorted_by_time else ""
            lines.append(
                f"  {q.non_monotonic_timestamps} timestamp(s) going backwards{sorted_note}"
            )

    if rec.labels is None:
        lines.append("Labels:    none")
    else:
        counts = rec.class_counts()
        unlabelled = rec.n_rows - sum(counts.values())
        lines.append(f"Labels:    column {rec.label_column!r}, {len(counts)} class(es)")
        cwidth = max((len(c) for c in counts), default=0)
        for cls, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            pct = 100.0 * count / rec.n_rows
            lines.append(f"  {cls:<{cwidth}}  {count:>9} rows ({pct:.1f} %)")
        if unlabelled:
            lines.append(f"  (unlabelled: {unlabelled} rows)")

    if q.excluded_columns:
        lines.append("Excluded columns:")
        for col, why in q.excluded_columns.items():
            lines.append(f"  {col}: {why}")
    if q.warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in q.warnings)
    else:
        lines.append("Warnings:  none")
    return "\n".join(lines) + "\n"
