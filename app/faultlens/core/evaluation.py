"""Evaluation: per-row classification metrics, event-level detection delay, and scoring a
trained model against labelled recordings.

Conventions (as in SKAB): class index 0 is "normal", every other index is a fault. The
false-alarm rate is FAR = FP / (FP + TN) and the missed-alarm rate MAR = FN / (FN + TP),
both for the detection question "fault or not" (all fault classes collapsed into one), so
they are defined for binary and for multi-class models alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from faultlens.core.errors import FaultLensError, RecordingError
from faultlens.core.options import ScanOptions
from faultlens.core.progress import Progress, ShouldStop, never_stop, run_to_end
from faultlens.core.recording import Recording, is_normal_label
from faultlens.core.scan import scan

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel


def _safe_ratio(num: float, den: float) -> float:
    # Zero-division is 0.0 (sklearn's zero_division=0), so empty classes never produce NaN
    # in a JSON report.
    return float(num) / float(den) if den else 0.0


def classification_metrics(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    class_names: Sequence[str],
) -> dict[str, Any]:
    """Per-row metrics for integer class indices (0 = normal).

    Entries where either ``y_true`` or ``y_pred`` is negative (no label / no prediction)
    are left out. Returns a JSON-ready dict::

        {"n": rows scored, "accuracy", "macro_f1",
         "per_class": {name: {"precision", "recall", "f1", "support"}},
         "confusion_matrix": [[...]]  # rows = true class, columns = predicted class
         "false_alarm_rate", "missed_alarm_rate",          # normal vs any fault
         "detection": {"precision", "recall", "f1", "tp", "fp", "tn", "fn"}}

    ``macro_f1`` averages the F1 of the classes that occur in ``y_true`` or ``y_pred``
    (sklearn's behaviour with ``labels`` unset), so an absent class does not drag it down.
    """
    names = [str(n) for n in class_names]
    k = len(names)
    if k < 2:
        raise ValueError(f"need at least 2 classes, got {names}")
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} differ in length")
    keep = (t >= 0) & (p >= 0)
    t, p = t[keep], p[keep]
    if t.size and (t.max() >= k or p.max() >= k):
        raise ValueError(f"class index out of range for {k} classes")

    cm = np.bincount(t * k + p, minlength=k * k).reshape(k, k)  # (true, predicted)
    tp_c = np.diag(cm)
    pred_c = cm.sum(axis=0)
    true_c = cm.sum(axis=1)
    per_class: dict[str, dict[str, float | int]] = {}
    f1s = []
    for i, name in enumerate(names):
        prec = _safe_ratio(tp_c[i], pred_c[i])
        rec = _safe_ratio(tp_c[i], true_c[i])
        f1 = _safe_ratio(2 * prec * rec, prec + rec)
        per_class[name] = {"precision": prec, "recall": rec, "f1": f1, "support": int(true_c[i])}
        if true_c[i] or pred_c[i]:
            f1s.append(f1)

    # Detection view: normal (0) vs any fault (>0).
    t_f, p_f = t > 0, p > 0
    tp = int(np.sum(t_f & p_f))
    fp = int(np.sum(~t_f & p_f))
    tn = int(np.sum(~t_f & ~p_f))
    fn = int(np.sum(t_f & ~p_f))
    d_prec = _safe_ratio(tp, tp + fp)
    d_rec = _safe_ratio(tp, tp + fn)
    return {
        "n": int(t.size),
        "class_names": names,
        "accuracy": _safe_ratio(tp_c.sum(), t.size),
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "per_class": per_class,
        "confusion_matrix": cm.astype(int).tolist(),
        "false_alarm_rate": _safe_ratio(fp, fp + tn),
        "missed_alarm_rate": _safe_ratio(fn, fn + tp),
        "detection": {
            "precision": d_prec,
            "recall": d_rec,
            "f1": _safe_ratio(2 * d_prec * d_rec, d_prec + d_rec),
            "tp": tp,
            "fp": fp,
            "tn": tn,
            "fn": fn,
        },
    }


def _percent(value: float | None) -> str:
    # Training metrics write None where a rate is undefined (no normal / no fault rows).
    return "n/a" if value is None else f"{100 * value:.1f} %"


def format_metrics(metrics: dict[str, Any]) -> str:
    """Plain-text confusion matrix, per-class P/R/F1 and FAR/MAR of a metrics dict."""
    names = list(metrics.get("class_names") or metrics["per_class"].keys())
    cm = metrics.get("confusion_matrix") or []
    width = max([len(n) for n in names] + [9])
    # Training's validation metrics count windows; evaluation counts rows.
    if "windows" in metrics:
        lines = [f"windows scored: {metrics['windows']}"]
    else:
        lines = [f"rows scored: {metrics.get('n', sum(map(sum, cm)) if cm else 0)}"]
    if cm:
        lines.append("confusion matrix (rows: true class, columns: predicted)")
        lines.append(" " * (width + 2) + " ".join(f"{n:>{width}}" for n in names))
        for name, row in zip(names, cm, strict=True):
            lines.append(f"{name:>{width}}  " + " ".join(f"{v:>{width}d}" for v in row))
    lines.append(f"{'class':>{width}}  {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}")
    for name in names:
        pc = metrics["per_class"][name]
        lines.append(
            f"{name:>{width}}  {pc['precision']:9.3f} {pc['recall']:9.3f} {pc['f1']:9.3f} "
            f"{pc['support']:9d}"
        )
    lines.append(
        f"accuracy {metrics['accuracy']:.3f}   macro-F1 {metrics['macro_f1']:.3f}   "
        f"FAR {_percent(metrics.get('false_alarm_rate'))}   "
        f"MAR {_percent(metrics.get('missed_alarm_rate'))}"
    )
    return "\n".join(lines) + "\n"


def validation_caveat(metrics: dict[str, Any]) -> str:
    """What a model's validation figures can and cannot say about new recordings, in one
    sentence for the CLI, the Training panel and the model card ("" for metrics without a
    recorded split, e.g. from an older model file)."""
    split = metrics.get("split")
    if split == "time blocks":
        return (
            "Validation cannot predict new recordings: it holds out time blocks of the very "
            "recordings the model trained on (too few recordings to hold whole ones out), "
            "so it measures memory of those runs - even a perfect score says nothing about "
            "another run. Test on a labelled recording it has not seen (faultlens evaluate "
            "FILE --model MODEL, or Scan with the file's labels)."
        )
    if split == "files":
        n = int(metrics.get("validation_recordings") or 0)
        rough = " (so few that they are a rough guide)" if 0 < n < 3 else ""
        return (
            f"Validated on {n or 'some'} whole recording(s) the model did not train on{rough}: "
            "the best guide here to new recordings of the same kind; a labelled recording "
            "from another day or machine is the real test (faultlens evaluate)."
        )
    return ""


def alarm_rule_text(model: TrainedModel) -> str:
    """The model's decision rule in words: its threshold and the budget it was set for."""
    threshold = float(model.threshold)
    budget = model.alarm_budget
    calib = (model.metrics or {}).get("calibration") or {}
    text = f"a row is a fault when its fault probability reaches {threshold:.3g}"
    if budget is None:
        return text + " (not calibrated)"
    source = calib.get("source", "held-out data")
    share = calib.get("validation_alarm_share")
    measured = f"; {100 * share:.1f} % did" if isinstance(share, (int, float)) else ""
    shifted = calib.get("shifted_windows")
    copies = f" (and {shifted} level-shifted copies of them)" if shifted else ""
    return (
        f"{text}, set so that at most {100 * budget:g} % of "
        f"{calib.get('normal_windows', '?')} normal windows from {source}{copies} "
        f"alarm{measured}"
    )


# ---------------------------------------------------------------- event-level delay
@dataclass(frozen=True)
class EventDelay:
    """One true fault stretch and when (if at all) the prediction first flagged it."""

    start_row: int
    end_row: int  # inclusive
    detected_row: int | None  # first row inside the stretch predicted as a fault
    delay: float | None  # seconds (with a time axis) or rows; None when missed
    unit: str  # "s" or "rows"

    @property
    def detected(self) -> bool:
        return self.detected_row is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_row": self.start_row,
            "end_row": self.end_row,
            "detected_row": self.detected_row,
            "delay": self.delay,
            "unit": self.unit,
        }


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end inclusive) of every run of True in a 1-D boolean array."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def event_delays(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    time: np.ndarray | None = None,
) -> list[EventDelay]:
    """Event-level detection delay.

    A true fault stretch is a maximal run of rows with ``y_true > 0``. Its delay is the time
    from its first row to the first row inside it with ``y_pred > 0`` (seconds from ``time``
    when given, else rows); a stretch with no such row is missed (``delay`` None).
    Predictions before a stretch starts do not count as detecting it.
    """
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} differ in length")
    out = []
    for start, end in _runs(t > 0):
        hits = np.flatnonzero(p[start : end + 1] > 0)
        if hits.size == 0:
            out.append(EventDelay(start, end, None, None, "s" if time is not None else "rows"))
            continue
        row = start + int(hits[0])
        if time is not None:
            delay = float(time[row] - time[start])
            out.append(EventDelay(start, end, row, delay, "s"))
        else:
            out.append(EventDelay(start, end, row, float(row - start), "rows"))
    return out


def summarize_delays(delays: Sequence[EventDelay]) -> dict[str, Any]:
    """Counts of detected/missed fault stretches and the mean/median delay of the detected."""
    got = [d.delay for d in delays if d.delay is not None]
    units = sorted({d.unit for d in delays})
    return {
        "events": len(delays),
        "detected": len(got),
        "missed": len(delays) - len(got),
        "mean_delay": float(np.mean(got)) if got else None,
        "median_delay": float(np.median(got)) if got else None,
        "unit": units[0] if len(units) == 1 else ("mixed" if units else None),
    }


# ---------------------------------------------------------------- evaluate a model
def label_indices(recording: Recording, class_names: Sequence[str]) -> np.ndarray:
    """Map a recording's per-row label strings to the model's class indices (-1: unlabelled).

    A label matches a class by exact name, then by number ("1" == "1.0"); any normal label
    ("0", "normal", "ok", ...) is class 0; for a binary model every other label is the
    fault class. Anything else cannot be scored and raises ``RecordingError``.
    """
    if recording.labels is None:
        raise RecordingError(
            f"{recording.path}: no label column to evaluate against; "
            "name it with --label-column NAME"
        )
    names = [str(n) for n in class_names]
    values = recording.label_names
    # Per distinct label, then per row through the recording's codes; the extra last entry
    # is what code -1 (unlabelled) picks.
    mapped = np.full(len(values) + 1, -1, dtype=np.int64)
    for i, v in enumerate(values):
        s = v.strip()
        if s == "":
            continue
        if s in names:
            mapped[i] = names.index(s)
            continue
        num = _as_float(s)
        hit = [j for j, n in enumerate(names) if num is not None and _as_float(n) == num]
        if hit:
            mapped[i] = hit[0]
        elif is_normal_label(s):
            mapped[i] = 0
        elif len(names) == 2:
            mapped[i] = 1
        else:
            col = recording.label_column or "label"
            raise RecordingError(
                f"{recording.path}: column {col!r} has the label {s!r}, which is not one of "
                f"the model's classes {names}; relabel the file or use a model trained on it"
            )
    return mapped[recording.label_codes]


def _as_float(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


@dataclass
class FileEvaluation:
    file: str
    rows: int
    rows_scored: int
    metrics: dict[str, Any]
    delays: list[EventDelay] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "rows_scored": self.rows_scored,
            "metrics": self.metrics,
            "delays": [d.to_dict() for d in self.delays],
            "delay_summary": summarize_delays(self.delays),
        }


@dataclass
class EvaluationReport:
    """Metrics of one model over labelled recordings: pooled over all scored rows, and per
    file. Scored rows are those with a label and a prediction (from the first full window on).
    """

    class_names: tuple[str, ...]
    metrics: dict[str, Any]
    files: list[FileEvaluation]
    threshold: float
    model_fingerprint: str = ""

    @property
    def delays(self) -> list[EventDelay]:
        return [d for f in self.files for d in f.delays]

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_names": list(self.class_names),
            "threshold": self.threshold,
            "model_fingerprint": self.model_fingerprint,
            "metrics": self.metrics,
            "delay_summary": summarize_delays(self.delays),
            "files": [f.to_dict() for f in self.files],
        }

    def to_text(self) -> str:
        lines = [format_metrics(self.metrics).rstrip("\n")]
        s = summarize_delays(self.delays)
        if s["events"]:
            delay = "" if s["mean_delay"] is None else f", mean delay {s['mean_delay']:.1f} "
            lines.append(
                f"fault stretches: {s['events']}, detected {s['detected']}, missed {s['missed']}"
                + (delay + str(s["unit"]) if delay else "")
            )
        lines.append("per file:")
        for f in self.files:
            m = f.metrics
            lines.append(
                f"  {f.file}: {f.rows_scored}/{f.rows} rows scored, accuracy {m['accuracy']:.3f}, "
                f"FAR {100 * m['false_alarm_rate']:.1f} %, MAR {100 * m['missed_alarm_rate']:.1f} %"
            )
        return "\n".join(lines) + "\n"


def evaluate_iter(
    model: TrainedModel,
    recordings: Sequence[Recording],
    options: ScanOptions | None = None,
    should_stop: ShouldStop = never_stop,
) -> Generator[Progress, None, EvaluationReport]:
    """Scan each labelled recording and compare per-row predictions with its labels.

    Per-row classes are the scan's (``faultlens.core.scan.decide``: a fault when the
    fault probability reaches ``options.threshold``, by default the model's calibrated
    threshold, then the most probable fault class), the same rule as the events. Yields
    ``Progress`` in recordings (``done`` of ``total``).
    """
    # Per-row predictions are all that is scored: the events' channel attribution (up to
    # (C + 1) * 2048 more forward passes per file) would be thrown away.
    opts = dataclasses.replace(options or ScanOptions(), attribute=False)
    if not recordings:
        raise FaultLensError("no recordings to evaluate; give at least one labelled file")
    class_names = tuple(model.class_names)
    # Map labels first: a bad label in the last file should fail before minutes of scanning.
    truths = [label_indices(rec, class_names) for rec in recordings]
    files: list[FileEvaluation] = []
    all_t, all_p = [], []
    for i, (rec, truth) in enumerate(zip(recordings, truths, strict=True)):
        # Scan reports come in windows of one file; rescale them to the whole run
        # (1000 units per file) so a progress bar moves forward only.
        gen = scan(model, rec, opts, should_stop)
        while True:
            try:
                inner = next(gen)
            except StopIteration as stop:
                result = stop.value
                break
            yield Progress(
                int(1000 * (i + inner.fraction)),
                1000 * len(recordings),
                f"{rec.name}: {inner.message}",
            )
        pred = result.predicted.astype(np.int64)
        threshold = float(result.threshold)
        scored = (truth >= 0) & (pred >= 0)
        m = classification_metrics(truth, pred, class_names)
        # Delays only on rows that have a prediction: rows before the first full window
        # cannot raise an alarm, so a stretch starting there is measured from that window.
        t_s = np.where(scored, truth, 0)
        files.append(
            FileEvaluation(
                file=str(rec.path),
                rows=rec.n_rows,
                rows_scored=int(scored.sum()),
                metrics=m,
                delays=event_delays(t_s, np.where(scored, pred, 0), rec.time),
            )
        )
        all_t.append(truth)
        all_p.append(pred)
    yield Progress(1000 * len(recordings), 1000 * len(recordings), "Evaluated")
    return EvaluationReport(
        class_names=class_names,
        metrics=classification_metrics(np.concatenate(all_t), np.concatenate(all_p), class_names),
        files=files,
        threshold=threshold,  # the last scan's; every scan used the same options
        model_fingerprint=model.fingerprint,
    )


def evaluate(
    model: TrainedModel,
    recordings: Sequence[Recording],
    options: ScanOptions | None = None,
    should_stop: ShouldStop = never_stop,
) -> EvaluationReport:
    """``evaluate_iter`` run to the end (no progress reporting)."""
    return run_to_end(evaluate_iter(model, recordings, options, should_stop))
