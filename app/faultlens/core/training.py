"""Training the attention-LSTM: a generator that yields one report per epoch (and throttled
batch reports), polls ``should_stop`` (cancel: raise ``Cancelled``, no model) and
``should_finish`` (stop early on request: the epoch under way is validated as it stands and
the best epoch so far is kept, calibrated as usual) and returns a ``TrainResult``. It writes
no files.

The data side (which windows, which labels, which split) is planned first in plain numpy
(``faultlens.core.training_plan``), then the learning loop here runs on it, reading batches
gathered and augmented on the device (``faultlens.core.training_batches``); the model lives
in ``faultlens.core.model``.

Choices and why (evidence: benchmarks/RESULTS.md and benchmarks/TUNING.md):

- Class imbalance: cross-entropy weighted by tempered inverse class frequency
  (``(n / n_k) ** 0.5``). Balanced sampling would repeat the few, heavily overlapping fault
  windows many times per epoch and overfit them; full inverse weights push the model
  towards false alarms, which cost a reviewer the most time (on SKAB: same F1, twice the
  false alarm rate). The square root is the usual middle ground.
- Detection that carries over to recordings the model never saw (chosen on the validation
  regimes of benchmarks/bench_generalise.py, tables in RESULTS.md): a causal feature
  front-end (each channel's level, difference, and trailing mean, log-spread, slope and
  log-range over 4 and 16 rows); run-to-run augmentation (a level offset per window and
  channel within +-1 normalised unit, time warping by up to 30 %); and an alarm threshold
  calibrated to a false-alarm budget (1 % of held-out normal windows, also scored with +-1
  level offsets as another run would record them). Trained on one normal run
  and one fault-throughout run per class, the previous defaults (levels + deviation from
  the recording's median, threshold 0.5) flagged ~70 % of the normal rows of unseen runs;
  these flag ~2 %, about as few as a random forest on window statistics.
- Overfitting: AdamW with weight decay (0.05), dropout (0.3), early stopping on validation
  macro-F1 (or loss, ``monitor``) with ``patience`` and the best weights restored.
- Weight averaging (``ema_epochs``, off by default): validation, early stopping and the
  saved model can use an exponential moving average of the weights over about the last
  epochs. On SKAB validation folds one epoch cut the seed-to-seed spread of F1 fourfold and
  raised mean F1 0.785 -> 0.808 (FAR +1.6 points), but on the demo rig's data early stopping
  then kept an epoch-1 average for one seed in three (false alarms 7 % -> 29 % on the unseen
  demo recording), so it is not the default (RESULTS.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

import faultlens
from faultlens.core.checkpoint import TrainedModel
from faultlens.core.device import device_description, resolve_device
from faultlens.core.errors import TrainingError
from faultlens.core.evaluation import classification_metrics
from faultlens.core.model import AttentionLSTM, ModelConfig, build_model
from faultlens.core.options import TrainOptions
from faultlens.core.progress import Cancelled, ShouldStop, never_stop
from faultlens.core.recording import ImportOptions, Recording
from faultlens.core.scan import decide
from faultlens.core.training_batches import WindowSource, augment, level_offsets
from faultlens.core.training_plan import TrainingPlan, plan_training

# Within an epoch, batch reports are yielded at most this often (the GUI's progress bar).
REPORT_INTERVAL_S = 0.5


@dataclass(frozen=True)
class EpochReport:
    """One progress report. ``batch``/``batches`` describe the position within the epoch;
    an end-of-epoch report has ``batch == batches`` and the validation fields set."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    val_macro_f1: float | None
    elapsed_s: float
    device: str

    @property
    def end_of_epoch(self) -> bool:
        return self.batch == self.batches

    @property
    def fraction(self) -> float:
        return ((self.epoch - 1) + self.batch / max(self.batches, 1)) / max(self.epochs, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "epochs": self.epochs,
            "batch": self.batch,
            "batches": self.batches,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "val_macro_f1": self.val_macro_f1,
            "elapsed_s": self.elapsed_s,
            "device": self.device,
        }


@dataclass
class TrainResult:
    model: TrainedModel
    history: list[EpochReport] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    # Things the user should know about the run (e.g. no label looked like "normal").
    notes: list[str] = field(default_factory=list)
    # Ended by ``should_finish`` (the user's "Stop and keep best"), not by the epoch count or
    # early stopping.
    finished_on_request: bool = False


def model_config(plan: TrainingPlan, options: TrainOptions) -> ModelConfig:
    """The model shape for a planned training run."""
    return ModelConfig(
        n_channels=len(plan.channels),
        n_classes=len(plan.class_names),
        hidden=options.hidden,
        heads=options.heads,
        dropout=options.dropout,
        classifier_hidden=options.classifier_hidden,
        relative_inputs=plan.relative_inputs,
        reference=plan.reference,
        feature_scales=tuple(int(v) for v in options.feature_scales),
        members=options.ensemble,
    )


def _window_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """The evaluation module's metrics over validation windows, plus the window count."""
    metrics = classification_metrics(y_true, y_pred, class_names)
    metrics["windows"] = metrics["n"]
    return metrics


def _seed_torch(seed: int) -> None:
    """Seed torch's generator (weight init, dropout; CUDA too). The window order, the split
    and augmentation use their own seeded generators, so Python's and numpy's global ones are
    left alone (the GUI process that runs training keeps its own)."""
    torch.manual_seed(seed)


def _autocast(device: torch.device) -> tuple[Any, torch.amp.GradScaler | None]:
    """Mixed precision on CUDA: bf16 where supported (no scaler needed), else fp16 with a
    GradScaler. CPU trains in float32 (CPU autocast is slower for LSTMs)."""
    if device.type != "cuda":
        return contextlib.nullcontext, None
    if torch.cuda.is_bf16_supported():
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16), None
    return lambda: torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")


def _evaluate(
    module: torch.nn.Module,
    source: WindowSource,
    batch_size: int,
    weights: torch.Tensor,
    autocast: Any,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted validation loss, true labels (n,), class probabilities (n, K)."""
    was_training = module.training
    module.eval()
    loss_sum = torch.zeros((), device=source.rows.device)
    probs = []
    step = batch_size * 4  # no gradients kept: larger batches are free
    with torch.inference_mode():
        for j in range(0, len(source.val_starts), step):
            yb = source.val_labels[j : j + step]
            with autocast():
                logits = module(source.windows(source.val_starts[j : j + step])).logits.float()
            loss_sum += F.cross_entropy(logits, yb, weight=weights, reduction="sum")
            probs.append(torch.softmax(logits, dim=1))
    module.train(was_training)
    # Sum of weighted losses / sum of weights (what the mean-reduced training loss means).
    weight_total = float(weights[source.val_labels].sum())
    return (
        float(loss_sum) / max(weight_total, 1e-12),
        source.val_labels.cpu().numpy(),
        torch.cat(probs).cpu().numpy().astype(np.float64),
    )


@dataclass
class _MemberFit:
    state: dict[str, torch.Tensor]
    history: list[EpochReport]
    best_epoch: int
    stopped_early: bool
    finished_on_request: bool = False


def _fit_member(
    plan: TrainingPlan,
    options: TrainOptions,
    config: ModelConfig,
    source: WindowSource,
    class_weights: torch.Tensor,
    member: int,
    device: torch.device,
    device_text: str,
    started: float,
    should_stop: ShouldStop,
    should_finish: ShouldStop = never_stop,
) -> Generator[EpochReport, None, _MemberFit]:
    """Train one AttentionLSTM (ensemble member ``member``, 0-based) and keep its best
    weights. Reports count epochs over all members (member m's epoch e is m * epochs + e).
    When ``should_finish()`` turns True the epoch under way ends at the next batch, is
    validated on the batches it had (so even a first epoch gives a model) and is the last."""
    seed = options.seed + 1000 * member
    _seed_torch(seed)
    module = AttentionLSTM(config).to(device)
    module.train()
    optimiser = torch.optim.AdamW(
        module.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    autocast, scaler = _autocast(device)
    n_windows = len(source.train_labels)
    batches = max(1, -(-n_windows // options.batch_size))
    rng = np.random.default_rng(seed)
    # Augmentation noise is drawn on the training device, from its own seeded generator.
    aug_gen = torch.Generator(device=device).manual_seed(seed)
    n_sensors = config.n_channels
    total_epochs = options.epochs * options.ensemble
    offset = member * options.epochs

    ema = None
    if options.ema_epochs > 0:
        decay = 1.0 - 1.0 / max(options.ema_epochs * batches, 1.0)
        ema = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(decay))
    judged = module if ema is None else ema.module  # what validation sees and what is kept
    history: list[EpochReport] = []
    best_score: tuple[float, ...] = (np.inf, np.inf)  # lower is better
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch = 0
    since_best = 0
    stopped_early = False
    finishing = False
    for epoch in range(1, options.epochs + 1):
        order = torch.from_numpy(rng.permutation(n_windows)).to(device)
        # Summed on the device: reading a loss back every batch would stall a GPU.
        running = torch.zeros((), device=device)
        seen = 0
        last_report = time.perf_counter()
        for b in range(batches):
            if should_stop():
                raise Cancelled()
            if seen and should_finish():
                finishing = True
                break
            idx = order[b * options.batch_size : (b + 1) * options.batch_size]
            xb = source.windows(source.train_starts[idx])  # (b, T, I), only this batch
            yb = source.train_labels[idx]  # (b,)
            xb = augment(xb, options, source, n_sensors, aug_gen)
            with autocast():
                logits = module(xb).logits  # (b, K)
            loss = F.cross_entropy(logits.float(), yb, weight=class_weights)
            optimiser.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimiser)
                torch.nn.utils.clip_grad_norm_(module.parameters(), options.grad_clip)
                scaler.step(optimiser)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(module.parameters(), options.grad_clip)
                optimiser.step()
            if ema is not None:
                ema.update_parameters(module)
            running += loss.detach() * len(idx)
            seen += len(idx)
            now = time.perf_counter()
            if b + 1 < batches and now - last_report >= REPORT_INTERVAL_S:
                last_report = now
                yield EpochReport(
                    epoch=offset + epoch,
                    epochs=total_epochs,
                    batch=b + 1,
                    batches=batches,
                    train_loss=float(running) / seen,
                    val_loss=None,
                    val_accuracy=None,
                    val_macro_f1=None,
                    elapsed_s=now - started,
                    device=device_text,
                )
        if should_stop():
            raise Cancelled()
        val_loss, y_true, val_probs = _evaluate(
            judged, source, options.batch_size, class_weights, autocast
        )
        # Epoch selection reads the arg-max class (the threshold is calibrated afterwards).
        metrics = _window_metrics(y_true, val_probs.argmax(axis=1), plan.class_names)
        report = EpochReport(
            epoch=offset + epoch,
            epochs=total_epochs,
            batch=batches,
            batches=batches,
            train_loss=float(running) / max(seen, 1),
            val_loss=val_loss,
            val_accuracy=metrics["accuracy"],
            val_macro_f1=metrics["macro_f1"],
            elapsed_s=time.perf_counter() - started,
            device=device_text,
        )
        history.append(report)
        # Lexicographic: lower loss, or higher macro-F1 with lower loss breaking ties.
        score = (
            (val_loss,)
            if options.monitor == "val_loss"
            else (-round(metrics["macro_f1"], 9), val_loss)
        )
        if score < best_score:
            best_score, best_epoch, since_best = score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in judged.state_dict().items()}
        else:
            since_best += 1
        yield report
        if finishing or should_finish():
            finishing = True
            break
        if since_best >= options.patience:
            stopped_early = True
            break
    assert best_state is not None
    return _MemberFit(best_state, history, best_epoch, stopped_early, finishing)


def _shifted_normal_scores(
    module: torch.nn.Module,
    source: WindowSource,
    normal: np.ndarray,
    options: TrainOptions,
    n_sensors: int,
    autocast: Any,
) -> np.ndarray:
    """Fault probabilities of the held-out normal windows (``normal``: (n_val,) bool) as
    other runs would record them: ``calibration_copies`` copies of each with a level offset
    per sensor channel uniform in +-``calibration_offset`` (TrainOptions)."""
    device = source.rows.device
    gen = torch.Generator(device=device).manual_seed(options.seed + 7)
    starts = source.val_starts[torch.from_numpy(np.flatnonzero(normal)).to(device)]
    out = []
    module.eval()
    with torch.inference_mode():
        for _ in range(options.calibration_copies):
            for j in range(0, len(starts), options.batch_size * 4):
                xb = source.windows(starts[j : j + options.batch_size * 4])  # (b, T, I)
                shifted = xb + level_offsets(xb, n_sensors, options.calibration_offset, gen)
                with autocast():
                    logits = module(shifted).logits.float()
                out.append(1.0 - torch.softmax(logits, dim=1)[:, 0])
    if not out:
        return np.zeros(0)
    return torch.cat(out).cpu().numpy().astype(np.float64)


def training_file_entry(recording: Recording) -> dict[str, Any]:
    """What the model file records about one training recording: enough to find the file
    again (its path and the file's own sha256), re-read it the same way (the import options)
    and label it the same way (file labels, labels after review, or one class) - retraining
    with reviewed labels starts from these (``faultlens.core.retrain``)."""
    on_disk = str(recording.path) not in ("", "<memory>")
    labels = recording.labels
    one_class = recording.label_origin == "class" and labels is not None and len(labels) > 0
    return {
        "file": recording.path.name,
        "sha256": recording.content_hash,  # of the rows and the labels trained on
        "rows": recording.n_rows,
        "path": str(recording.path.resolve()) if on_disk else None,
        "file_sha256": recording.source_hash,
        "labels": recording.label_origin,
        "file_class": str(labels[0]) if one_class and labels is not None else "",
        "import_options": import_options_dict(recording.options),
    }


def import_options_dict(options: ImportOptions) -> dict[str, Any]:
    """ImportOptions as JSON (``import_options_from`` reads it back)."""
    out = dataclasses.asdict(options)
    out["channels"] = None if options.channels is None else list(options.channels)
    return out


def train_options_dict(options: TrainOptions) -> dict[str, Any]:
    """The run's TrainOptions as JSON, without the per-path file classes (the training files'
    entries carry those)."""
    out = dataclasses.asdict(options)
    out.pop("file_classes", None)
    out["feature_scales"] = [int(v) for v in options.feature_scales]
    return out


def calibrate_threshold(normal_fault_probability: np.ndarray, budget: float) -> tuple[float, float]:
    """The decision threshold for a false-alarm budget: the lowest threshold >= 0.5 at which
    at most ``budget`` of these held-out normal windows' fault probabilities reach it
    (``fault_probability >= threshold`` alarms). Returns ``(threshold, share that alarms)``;
    the share can exceed the budget only when even 1.0 does (the model is certain of a
    fault on too many normal windows)."""
    fp = np.sort(np.asarray(normal_fault_probability, dtype=np.float64))[::-1]  # descending
    n = len(fp)
    if n == 0:
        return 0.5, 0.0
    allowed = int(np.floor(budget * n + 1e-9))  # windows that may alarm
    threshold = 0.5
    if allowed < n:
        # Just above the (allowed+1)-th largest: it and everything below stay quiet.
        threshold = max(0.5, float(np.nextafter(fp[allowed], np.inf)))
    threshold = min(threshold, 1.0)
    return threshold, float((fp >= threshold).mean())


def train(
    recordings: Sequence[Recording],
    options: TrainOptions = TrainOptions(),
    should_stop: ShouldStop = never_stop,
    should_finish: ShouldStop = never_stop,
) -> Generator[EpochReport, None, TrainResult]:
    """Train a model on ``recordings`` (see the module docstring for the method).

    Yields an EpochReport at the end of each epoch and, within long epochs, at most every
    ``REPORT_INTERVAL_S``. ``should_stop`` is polled between batches; when it returns True
    ``Cancelled`` is raised (nothing is written: this function never writes files).
    ``should_finish`` is polled there too: when it returns True ("stop and keep the best so
    far") the epoch under way ends after the batch in hand, is validated on what it trained
    and the run ends as if early stopping had fired (an ensemble keeps the members trained
    so far); the result has ``finished_on_request`` set.
    Returns a TrainResult whose ``model`` holds the best-validation weights (of every
    ensemble member), in eval mode on the CPU, with its threshold calibrated to
    ``options.alarm_budget`` and validation metrics under that rule. Raises TrainingError
    for unusable inputs.
    """
    started = time.perf_counter()
    if options.monitor not in ("val_loss", "val_macro_f1"):
        raise TrainingError(f"monitor {options.monitor!r} must be val_loss or val_macro_f1")
    if not options.ema_epochs >= 0.0:
        raise TrainingError(f"ema_epochs {options.ema_epochs} must be 0 (off) or more")
    if not 0.0 <= options.channel_dropout < 1.0:
        raise TrainingError(
            f"channel_dropout {options.channel_dropout} must be at least 0 and below 1"
        )
    if not 1 <= options.ensemble <= 32:
        raise TrainingError(f"ensemble {options.ensemble} must be 1 to 32 members")
    if options.alarm_budget is not None and not 0.0 <= options.alarm_budget < 1.0:
        raise TrainingError(
            f"alarm budget {options.alarm_budget} must be a share from 0 to below 1 "
            "(e.g. 0.01 for 1 % of normal windows)"
        )
    if options.calibration_copies < 1:
        raise TrainingError(f"calibration_copies {options.calibration_copies} must be 1 or more")
    for name in (
        "augment_offset",
        "time_warp",
        "mix_normal",
        "scaling",
        "jitter",
        "calibration_offset",
    ):
        if not getattr(options, name) >= 0.0:
            raise TrainingError(f"{name} {getattr(options, name)} must be 0 (off) or more")
    device = resolve_device(options.device)
    device_text = device_description(device)
    plan = plan_training(recordings, options)
    try:
        config = model_config(plan, options)
    except ValueError as exc:
        raise TrainingError(f"model settings: {exc}") from None

    counts = plan.counts("train").astype(np.float64)
    # Tempered inverse frequency, normalised to mean 1 over present classes; an absent class
    # gets weight 0 (it cannot be learned from this data anyway).
    present = counts > 0
    weights_np = np.zeros_like(counts)
    weights_np[present] = (counts[present].sum() / counts[present]) ** options.class_weight_power
    weights_np[present] /= weights_np[present].mean()
    class_weights = torch.tensor(weights_np, dtype=torch.float32, device=device)
    source = WindowSource(plan, options.window, device)

    fits: list[_MemberFit] = []
    for member in range(options.ensemble):
        fit = yield from _fit_member(
            plan, options, config, source, class_weights, member, device, device_text,
            started, should_stop, should_finish,
        )  # fmt: skip
        fits.append(fit)
        if fit.finished_on_request:
            break
    if len(fits) < config.members:
        config = replace(config, members=len(fits))
    module = build_model(config).to(device)
    if isinstance(module, AttentionLSTM):
        module.load_state_dict(fits[0].state)
    else:
        for member_module, fit in zip(module.members, fits, strict=True):
            member_module.load_state_dict(fit.state)
    autocast, _ = _autocast(device)
    best_loss, y_true, val_probs = _evaluate(
        module, source, options.batch_size, class_weights, autocast
    )
    fault_probability = 1.0 - val_probs[:, 0]
    normal = (y_true == 0) if source.val_clean is None else source.val_clean
    notes = list(plan.notes)
    calibration: dict[str, Any] = {
        "budget": options.alarm_budget,
        "normal_windows": int(normal.sum()),
        "source": "held-out recordings" if plan.split == "files" else "held-out time blocks",
    }
    threshold = 0.5
    if options.alarm_budget is not None:
        if normal.sum() >= 20:
            scores = fault_probability[normal]
            if options.calibration_offset > 0:
                shifted = _shifted_normal_scores(
                    module, source, normal, options, config.n_channels, autocast
                )
                calibration["shifted_windows"] = len(shifted)
                scores = np.concatenate([scores, shifted])
            threshold, share = calibrate_threshold(scores, options.alarm_budget)
            calibration["validation_alarm_share"] = share
            if share > options.alarm_budget:
                notes.append(
                    f"the false-alarm budget of {100 * options.alarm_budget:g} % cannot be met: "
                    f"{100 * share:.1f} % of held-out normal windows alarm even at threshold "
                    "1.0; the model is sure of a fault on normal data it has not seen - add "
                    "normal recordings or check the labels"
                )
        else:
            notes.append(
                f"threshold left at 0.5: only {int(normal.sum())} held-out windows of normal "
                "operation, too few to calibrate the false-alarm budget on"
            )
    calibration["threshold"] = threshold
    y_pred = decide(val_probs, fault_probability, threshold).astype(np.int64)
    metrics = _window_metrics(y_true, y_pred, plan.class_names)
    history = [r for fit in fits for r in fit.history]
    best_epoch = fits[0].best_epoch
    metrics.update(
        {
            "split": plan.split,
            "validation_recordings": len({i for i, _, _ in plan.val}),
            "best_epoch": best_epoch,
            "best_epochs": [fit.best_epoch for fit in fits],
            "val_loss": float(best_loss),
            "train_windows": len(source.train_labels),
            "class_weights": [float(w) for w in weights_np],
            "calibration": calibration,
            "notes": notes,
        }
    )
    module = module.to("cpu").eval()
    trained = TrainedModel(
        module=module,
        config=config,
        channels=plan.channels,
        class_names=plan.class_names,
        norm_mean=plan.norm_mean,
        norm_std=plan.norm_std,
        window=options.window,
        stride=options.stride,
        label_column=options.label_column or recordings[0].label_column,
        seed=options.seed,
        training_data=[training_file_entry(r) for r in recordings],
        train_options=train_options_dict(options),
        versions={
            "faultlens": faultlens.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        device=device_text,
        history=[r.to_dict() for r in history],
        metrics=metrics,
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        threshold=threshold,
        alarm_budget=options.alarm_budget,
    )
    return TrainResult(
        model=trained,
        history=history,
        best_epoch=best_epoch,
        stopped_early=any(fit.stopped_early for fit in fits),
        notes=notes,
        finished_on_request=any(fit.finished_on_request for fit in fits),
    )
