"""Training batches on the device: a plan's normalised rows as one tensor there, windows
gathered from it by index (``WindowSource``), and the augmentation applied to each
training batch (``augment``), all without a copy from the host per batch. The learning
loop that reads them is ``faultlens.core.training``.

Choices and why (evidence: benchmarks/RESULTS.md and benchmarks/TUNING.md; the defaults,
level offsets and time warping, are among the choices in ``faultlens.core.training``):

- Gaussian jitter and per-channel gain are available but off by default: on SKAB the gain
  hurt clearly (faults show in absolute levels) and jitter slightly; on the one-per-class
  regime the gain did not help either. Mixing with normal windows raised false alarms.
  Channel dropout (``channel_dropout``) is available too; on SKAB it moved F1 by less than
  the seed noise.
"""

from __future__ import annotations

import numpy as np
import torch

from faultlens.core.options import TrainOptions
from faultlens.core.training_plan import TrainingPlan


class WindowSource:
    """All normalised rows of the plan as one (rows, C) tensor on the training device, and
    every window as a global start row into it.

    Batches are gathered on the device by index arithmetic, so only the recordings (rows x
    C) ever sit on the device, never windows x T x C, and nothing is copied from the host
    per batch.
    """

    def __init__(self, plan: TrainingPlan, window: int, device: torch.device) -> None:
        offsets = np.cumsum([0] + [len(d) for d in plan.data[:-1]])
        self.rows = torch.from_numpy(np.concatenate(plan.data)).to(device)  # (rows, C)
        self.steps = torch.arange(window, device=device)  # (T,)

        def index(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, ...]:
            starts = np.concatenate([offsets[i] + s for i, s, _ in parts])
            labels = np.concatenate([lab for _, _, lab in parts])
            return torch.from_numpy(starts).to(device), torch.from_numpy(labels).to(device)

        self.train_starts, self.train_labels = index(plan.train)
        self.val_starts, self.val_labels = index(plan.val)
        self.val_clean = np.concatenate(plan.val_clean) if plan.val_clean else None
        # Normal training windows (for mixing augmentation).
        self.normal_starts = self.train_starts[self.train_labels == 0]

    def windows(self, starts: torch.Tensor) -> torch.Tensor:
        """(b,) global start rows -> (b, T, C) windows."""
        return self.rows[starts[:, None] + self.steps]  # (b, T) index -> (b, T, C)


def level_offsets(
    xb: torch.Tensor, n_sensors: int, size: float, gen: torch.Generator
) -> torch.Tensor:
    """Another run's calibration / operating level for windows xb (b, T, I): a level offset
    per window and sensor channel, uniform in +-``size``, as a (b, 1, I) tensor to add. Only
    the level columns move; deviations from the recording's own reference (relative inputs,
    the columns after the first C) do not."""
    b, _, n_inputs = xb.shape
    u = torch.rand(b, 1, n_sensors, generator=gen, device=xb.device)
    pad = torch.zeros(b, 1, n_inputs - n_sensors, device=xb.device, dtype=xb.dtype)
    return torch.cat([size * (2.0 * u - 1.0), pad], dim=2)


def augment(
    xb: torch.Tensor,
    options: TrainOptions,
    source: WindowSource,
    n_sensors: int,
    gen: torch.Generator,
) -> torch.Tensor:
    """Training-batch augmentation (TrainOptions: by default level offsets and time
    warping, the rest off), on the device.

    xb (b, T, I) normalised windows, I = C (levels) or 2C (levels, then deviations)."""
    b, t, n_inputs = xb.shape
    device = xb.device
    if options.time_warp > 0:
        # Speed r in [1/(1+w), 1+w] (log-uniform); the last step stays the window's newest
        # row (the scan is causal), earlier steps are read from (T-1) - (T-1-j) * r.
        log_w = torch.log1p(torch.tensor(options.time_warp, device=device))
        r = torch.exp((2.0 * torch.rand(b, 1, generator=gen, device=device) - 1.0) * log_w)
        j = torch.arange(t, device=device, dtype=xb.dtype)[None, :]  # (1, T)
        pos = ((t - 1) - (t - 1 - j) * r).clamp(0, t - 1)  # (b, T)
        lo = pos.floor().long()
        hi = (lo + 1).clamp(max=t - 1)
        frac = (pos - lo.to(pos.dtype))[:, :, None]  # (b, T, 1)
        take = lambda idx: torch.gather(xb, 1, idx[:, :, None].expand(b, t, n_inputs))  # noqa: E731
        xb = take(lo) * (1.0 - frac) + take(hi) * frac
    if options.mix_normal > 0 and len(source.normal_starts):
        pick = torch.randint(len(source.normal_starts), (b,), generator=gen, device=device)
        other = source.windows(source.normal_starts[pick])  # (b, T, I)
        beta = options.mix_normal * torch.rand(b, 1, 1, generator=gen, device=device)
        xb = (1.0 - beta) * xb + beta * other
    if options.augment_offset > 0:
        xb = xb + level_offsets(xb, n_sensors, options.augment_offset, gen)
    if options.scaling > 0:
        # Per window and channel gain 1 +- scaling: robustness to sensor calibration.
        u = torch.rand(b, 1, n_inputs, generator=gen, device=device)
        xb = xb * (1.0 + options.scaling * (2.0 * u - 1.0))
    if options.channel_dropout > 0:
        keep = torch.rand(b, 1, n_sensors, generator=gen, device=device)
        keep = (keep >= options.channel_dropout).to(xb.dtype)
        xb = xb * keep.repeat(1, 1, n_inputs // n_sensors)  # level and deviation alike
    if options.jitter > 0:
        noise = torch.randn(xb.shape, generator=gen, device=device)
        xb = xb + options.jitter * noise
    return xb
