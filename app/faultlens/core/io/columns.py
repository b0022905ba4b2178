"""Column policy: which column is the time axis (and in what unit), which holds the labels,
and which are input channels.

Options given by the user win; otherwise names decide first (a column called "time",
"label", ...) and the sampled cells second. Every column that is not a channel is kept
with the reason, which the preview and the quality report show.
"""

from __future__ import annotations

import re

import numpy as np

from faultlens.core.io.cells import ISO_RE, NA_SET, cell_kind, local_date_format
from faultlens.core.io.layout import Layout, fail
from faultlens.core.recording import ImportOptions

# Column names (lower-case, non-alphanumerics removed) that mark the label column, in order
# of preference when several are present.
LABEL_NAMES = (
    "label",
    "labels",
    "faultlabel",
    "fault",
    "faulttype",
    "faultclass",
    "class",
    "classlabel",
    "anomaly",
    "isanomaly",
    "target",
    "state",
    "condition",
    "status",
)
# Other annotation columns: never input channels unless named explicitly. "predicted_class"
# is the model's output a live recording holds (faultlens.core.live.recorder), not a sensor.
ANNOTATION_NAMES = (
    "changepoint",
    "changepoints",
    "anomalyscore",
    "annotation",
    "comment",
    "note",
    "predictedclass",
)

TIME_NAME_RE = re.compile(
    r"^(time|timestamp|timestamps|datetime|date|ts|t|epoch|unixtime|elapsed)"
    r"([\s_\-\[(].*)?$",
    re.IGNORECASE,
)
_TIME_UNIT_IN_NAME_RE = re.compile(r"[\s_\-\[(](s|sec|ms|us|µs|ns)[\])]?$", re.IGNORECASE)

UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
# Epoch magnitudes (|value| of a time stamp after 1973): seconds ~1e9, ms ~1e12, ...
_EPOCH_UNIT_BY_MAGNITUDE = ((1e17, "ns"), (1e14, "us"), (1e11, "ms"), (1e8, "s"))


def is_label_like(name: str) -> bool:
    """Whether a column name marks labels or annotations, never an input by default."""
    n = _norm(name)
    return n in LABEL_NAMES or n in ANNOTATION_NAMES or "label" in n


def resolve_columns(layout: Layout, options: ImportOptions) -> None:
    """Pick the time column, the label column and the input channels."""
    names, kinds = layout.names, layout.kinds

    # --- time column
    time_col: str | None = None
    if not options.no_time_column:
        if options.time_column is not None:
            _require_column(layout, options.time_column, "time column", "--time-column")
            time_col = options.time_column
        else:
            # A column named like a clock is the time axis if most of its cells look like
            # times; its bad cells are then reported by line instead of silently dropped.
            named = [
                c
                for c in names
                if TIME_NAME_RE.match(c) and _dominant_kind(layout, c) in ("numeric", "datetime")
            ]
            dated = [c for c in names if kinds[c] == "datetime"]
            if named:
                time_col = named[0]
            elif dated:
                time_col = dated[0]
            elif kinds[names[0]] == "numeric" and len(names) > 1:
                # An unnamed first column that counts up in whole epoch units is a clock.
                v = _numeric_sample(layout, names[0])
                if (
                    v.size >= 2
                    and np.all(np.diff(v) > 0)
                    and np.all(v == np.round(v))
                    and epoch_unit(float(np.median(np.abs(v)))) is not None
                ):
                    time_col = names[0]
    layout.time_column = time_col
    if time_col is not None:
        _resolve_time_kind(layout, options, time_col)

    # --- label column
    label_col: str | None = None
    if not options.no_label_column:
        if options.label_column is not None:
            _require_column(layout, options.label_column, "label column", "--label-column")
            label_col = options.label_column
        else:
            by_norm: dict[str, str] = {}
            for c in names:
                by_norm.setdefault(_norm(c), c)
            for key in LABEL_NAMES:
                if key in by_norm and by_norm[key] != time_col:
                    label_col = by_norm[key]
                    break
            if label_col is None:
                label_col = next((c for c in names if "label" in _norm(c) and c != time_col), None)
    layout.label_column = label_col

    # --- channels
    excluded: dict[str, str] = {}
    if options.channels is not None:
        if not options.channels:
            raise fail(layout.path, "", "the channel list is empty; name at least one channel")
        for c in options.channels:
            _require_column(layout, c, "channel", "--channels")
        channels = list(dict.fromkeys(options.channels))
        for c in channels:
            if c == time_col:
                raise fail(
                    layout.path, f"column {c!r}", "is the time column; remove it from --channels"
                )
            if c == label_col:
                raise fail(
                    layout.path, f"column {c!r}", "is the label column; remove it from --channels"
                )
        for c in names:
            if c not in channels and c not in (time_col, label_col):
                excluded[c] = "not in the selected channels"
    else:
        channels = []
        for c in names:
            if c in (time_col, label_col):
                continue
            if is_label_like(c):
                excluded[c] = "label/annotation column (never an input unless named as a channel)"
            elif kinds[c] == "numeric":
                channels.append(c)
            elif kinds[c] == "empty":
                if c.startswith("column_"):
                    excluded[c] = "empty column without a name"
                else:
                    channels.append(c)
            else:
                bad = _first_text_cell(layout, c)
                example = f" (e.g. {bad[1]!r} at line {bad[0]})" if bad else ""
                excluded[c] = f"non-numeric{example}"
    if not channels:
        why = "; ".join(f"{c}: {r}" for c, r in excluded.items()) or "no columns besides time/label"
        raise fail(
            layout.path,
            "",
            f"no numeric channel columns ({why}); check the separator/decimal or name --channels",
        )
    layout.channels = channels
    layout.excluded = excluded


def _resolve_time_kind(layout: Layout, options: ImportOptions, time_col: str) -> None:
    """The time column's kind, unit, date format and UTC offsets, from its sampled cells."""
    kind = layout.kinds[time_col]
    if kind == "text":
        kind = _dominant_kind(layout, time_col)
    unit = options.time_unit
    if unit is not None and unit not in UNIT_SECONDS:
        raise fail(layout.path, "", f"time unit {unit!r} is unknown; use s, ms, us or ns")
    if kind in ("numeric", "empty"):
        layout.time_kind = "numeric"
        v = _numeric_sample(layout, time_col)
        magnitude = float(np.median(np.abs(v))) if v.size else 0.0
        if unit is None:
            m = _TIME_UNIT_IN_NAME_RE.search(time_col)
            if m:
                unit = {"sec": "s", "µs": "us"}.get(m.group(1).lower(), m.group(1).lower())
        if unit is None:
            # No unit given or named: an epoch-sized value says its unit by its magnitude.
            epoch = epoch_unit(magnitude)
            layout.time_unit = epoch or "s"
            layout.time_kind = "datetime" if epoch else "numeric"
            return
        layout.time_unit = unit
        # With a known unit, a value past 1973 (1e8 s) is a date, anything less a duration.
        if magnitude * UNIT_SECONDS[unit] >= 1e8:
            layout.time_kind = "datetime"
        return
    layout.time_kind = "datetime"
    j = layout.names.index(time_col)
    first = next((r[j] for r in layout.sample_rows if j < len(r) and r[j] not in NA_SET), "")
    if not ISO_RE.match(first):
        layout.time_format = local_date_format(first)
    offsets = []
    for row in layout.sample_rows:
        if j < len(row):
            m = ISO_RE.match(row[j])
            if m:
                offsets.append(m.group(1))
    with_offset = [o for o in offsets if o]
    if not with_offset:
        layout.time_offsets = "none"
    elif len(with_offset) == len(offsets):
        layout.time_offsets = "all"
        distinct = set(with_offset)
        layout.utc_offset_s = _offset_seconds(with_offset[0])
        if len(distinct) > 1:
            layout.warnings.append(
                f"time column {time_col!r} mixes UTC offsets ({', '.join(sorted(distinct))}); "
                "times are converted to UTC and shown with the first offset"
            )
    else:
        layout.time_offsets = "mixed"
        layout.warnings.append(
            f"time column {time_col!r} has timestamps with and without UTC offset; "
            "those without are taken as UTC"
        )


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def epoch_unit(magnitude: float) -> str | None:
    """The unit ("s", "ms", "us", "ns") of an epoch time stamp of this magnitude (a time
    after 1973), None for a value too small to be one. Also the live MQTT source's rule."""
    for threshold, unit in _EPOCH_UNIT_BY_MAGNITUDE:
        if magnitude >= threshold:
            return unit
    return None


def _offset_seconds(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


def _dominant_kind(layout: Layout, column: str) -> str:
    """The most common non-missing cell kind of ``column`` in the sample."""
    j = layout.names.index(column)
    cells = [cell_kind(r[j], layout.decimal) for r in layout.sample_rows if j < len(r)]
    cells = [k for k in cells if k != "empty"]
    if not cells:
        return "empty"
    return max(("numeric", "datetime", "text"), key=cells.count)


def _first_text_cell(layout: Layout, column: str) -> tuple[int, str] | None:
    j = layout.names.index(column)
    for i, row in enumerate(layout.sample_rows):
        if j < len(row) and cell_kind(row[j], layout.decimal) != "numeric" and row[j] not in NA_SET:
            return layout.sample_line_numbers[i], row[j]
    return None


def _numeric_sample(layout: Layout, column: str) -> np.ndarray:
    j = layout.names.index(column)
    values = []
    for row in layout.sample_rows:
        if j < len(row) and cell_kind(row[j], layout.decimal) == "numeric":
            values.append(float(row[j].replace(",", ".")))
    return np.asarray(values, dtype=np.float64)


def _require_column(layout: Layout, name: str, what: str, flag: str) -> None:
    if name not in layout.names:
        raise fail(
            layout.path,
            f"{what} {name!r}",
            f"no such column; columns are {', '.join(layout.names)}; fix {flag}",
        )
