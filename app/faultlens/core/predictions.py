"""Per-row predictions of a scan as a table: a pandas DataFrame, or a CSV file.

Columns, in order (``faultlens scan --predictions``): ``row``, ``time`` (when the recording
has a time axis: ISO-8601 like ``Recording.format_time`` for date-times, seconds at full
precision otherwise), ``predicted_class`` (empty before the first full window),
``fault_probability``, ``p_<class>`` per class, ``attention``, ``hotspots``; empty cells
where there is no prediction. Built with pyarrow: a million rows in about a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from faultlens.core.atomic import atomic_open
from faultlens.core.event_files import defuse_formula
from faultlens.core.recording import Recording

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from faultlens.core.scan import ScanResult


def _time_text(recording: Recording) -> pa.Array | None:
    """The time axis as a pyarrow string array like ``Recording.format_time`` writes it
    (ISO-8601 for date-times; seconds at full precision), vectorised; None without one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if recording.time is None:
        return None
    t = recording.time
    if recording.time_kind != "datetime":
        # Full precision (shortest text that reads back to the same float), not the
        # 6 significant digits of format_time: long recordings need every digit.
        return pc.cast(pa.array(t, type=pa.float64()), pa.string())
    offset = recording.utc_offset_s or 0
    # Microseconds, rounded as datetime.fromtimestamp rounds (float64 keeps ~0.25 us here).
    us = np.round((t + offset) * 1e6).astype("int64")
    whole = bool(np.all(us % 1_000_000 == 0))
    # Arrow's %S prints the fraction for sub-second units ("05.500000"), none for seconds.
    if whole:
        stamps = pa.array(us // 1_000_000, type=pa.timestamp("s"))
    else:
        stamps = pa.array(us, type=pa.timestamp("us"))
    text = pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%S")
    if recording.utc_offset_s is not None:
        sign = "+" if offset >= 0 else "-"
        hh, mm = divmod(abs(offset) // 60, 60)
        text = pc.binary_join_element_wise(text, f"{sign}{hh:02d}:{mm:02d}", "")
    return text


def _prediction_columns(
    result: ScanResult, recording: Recording, for_spreadsheets: bool = False
) -> dict[str, pa.Array]:
    """Column name -> pyarrow array, in the order of ``faultlens scan --predictions``;
    ``for_spreadsheets`` writes class names that look like formulas as text
    (``defuse_formula``)."""
    import pyarrow as pa

    def floats(values: np.ndarray) -> pa.Array:
        v = np.asarray(values, dtype=np.float32)
        return pa.array(v, mask=np.isnan(v))  # NaN -> null -> empty cell

    n = result.n_rows
    cols: dict[str, pa.Array] = {"row": pa.array(np.arange(n, dtype=np.int64))}
    times = _time_text(recording)
    if times is not None:
        cols["time"] = times
    pred = result.predicted.astype(np.int64)
    shown = [defuse_formula(c) if for_spreadsheets else c for c in result.class_names]
    names = pa.array(shown, type=pa.string())
    # -1 (no prediction) becomes null: an empty cell.
    cols["predicted_class"] = names.take(pa.array(np.where(pred >= 0, pred, 0), mask=pred < 0))
    cols["fault_probability"] = floats(result.fault_probability)
    for i, name in enumerate(result.class_names):
        cols[f"p_{name}"] = floats(result.probabilities[:, i])
    cols["attention"] = floats(result.attention)
    cols["hotspots"] = floats(result.hotspots)
    return cols


def predictions_frame(result: ScanResult, recording: Recording) -> pd.DataFrame:
    """Per-row predictions as a pandas DataFrame with the columns of ``faultlens scan
    --predictions``: row, time (if any), predicted_class ("" before the first window),
    fault_probability, p_<class>..., attention, hotspots."""
    import pyarrow as pa

    cols = _prediction_columns(result, recording)
    frame = pa.table(cols).to_pandas()
    frame["predicted_class"] = frame["predicted_class"].fillna("")
    return frame


def write_predictions_csv(result: ScanResult, recording: Recording, path: str | Path) -> None:
    """Write the per-row predictions to ``path`` atomically (pyarrow's C++ CSV writer: a
    million rows in about a second); empty cells where there is no prediction."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    table = pa.table(_prediction_columns(result, recording, for_spreadsheets=True))
    options = pa_csv.WriteOptions(include_header=True, quoting_style="needed")
    with atomic_open(path, "wb") as fh:
        pa_csv.write_csv(table, fh, write_options=options)
