"""Which channels drove a fault event: occlusion, one channel at a time.

For up to ``ATTRIBUTION_WINDOWS`` evenly spaced windows whose last row lies in the event,
each channel in turn is replaced by how it looked just before the event (the window ending
on the row before it; at the very start of a recording, by its training mean, 0 after
normalisation) and the drop in the event class's probability is measured;
``channel_scores`` are each top channel's share of the total positive drop. Why the window
before, not a constant: with the feature front-end a channel frozen at its mean has no
spread at all - a stuck sensor's signature - so a constant is no neutral stand-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from faultlens.core.inference import forward, module_on
from faultlens.core.progress import Cancelled, ShouldStop, never_stop
from faultlens.core.recording import Recording
from faultlens.core.windows import occluded_variants, sliding_windows

if TYPE_CHECKING:
    from faultlens.core.checkpoint import TrainedModel

# Occlusion windows per event: enough to average over the event's course, few enough that
# attribution of a typical event costs (C + 1) * 32 forward passes (well under a second).
ATTRIBUTION_WINDOWS = 32
# Total occlusion windows per attribution run: with many events each gets fewer (at least
# 4), so attributing a long, fault-ridden recording stays bounded.
ATTRIBUTION_BUDGET = 2048
# Windows per forward pass of the occluded variants.
ATTRIBUTION_BATCH = 512


def attribute_events(
    model: TrainedModel,
    recording: Recording,
    stretches: Sequence[tuple[int, int]],
    classes: Sequence[int],
    top: int = 3,
    device_name: str = "auto",
    should_stop: ShouldStop = never_stop,
) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
    """Channel occlusion per event: ``(top channels, their shares)`` for each stretch.

    For each stretch, up to ``ATTRIBUTION_WINDOWS`` evenly spaced windows ending inside it
    (fewer when there are many events: ``ATTRIBUTION_BUDGET`` in all, at least 4 each)
    are scored as they are and with each channel in turn replaced by its values in the
    window that ends on the row before the stretch (its training mean, 0 after
    normalisation, when the stretch starts within the first window). A channel's drop is
    the mean decrease of the event class's probability (``classes``: one class index per
    stretch); only channels with a positive drop count, and a share is drop / sum of
    positive drops. Raises ``Cancelled`` when ``should_stop()`` turns True (polled per
    stretch).
    """
    import torch

    from faultlens.core.device import resolve_device

    data = model.select_channels(recording)  # (N, C) in the model's channel order (checked)
    t_win = int(model.window)
    n_ch = data.shape[1]
    medians = model.input_medians(data)  # of the whole recording, not of a stretch
    device = resolve_device(device_name)
    per_event = max(4, min(ATTRIBUTION_WINDOWS, ATTRIBUTION_BUDGET // max(len(stretches), 1)))
    out: list[tuple[tuple[str, ...], tuple[float, ...]]] = []
    with module_on(model.module, device), torch.inference_mode():
        for (start, end), cls in zip(stretches, classes, strict=True):
            if should_stop():
                raise Cancelled()
            first_end = max(start, t_win - 1)
            if end < first_end:
                out.append(((), ()))
                continue
            count = min(per_event, end - first_end + 1)
            ends = np.unique(np.linspace(first_end, end, count).round().astype(np.int64))
            # The reference: the window that ends on the row before the event (how each
            # channel looked before it), when the recording has one.
            ref_lo = start - t_win if start >= t_win else None
            lo = int(ends[0]) - t_win + 1 if ref_lo is None else ref_lo
            x = model.model_input(data[lo : int(ends[-1]) + 1], medians)  # (span, input size)
            win = sliding_windows(x, t_win)  # (span - T + 1, T, input size), a view
            base = np.ascontiguousarray(win[ends - t_win + 1 - lo], dtype=np.float32)  # (w,T,I)
            reference = np.zeros_like(base[0]) if ref_lo is None else win[0]  # (T, I)
            # Variant 0 is the unchanged window, variant c+1 has channel c occluded (all its
            # input columns): (C+1, w, T, I) -> flattened into batches of the forward pass.
            variants = occluded_variants(base, reference, n_ch)
            flat = variants.reshape(-1, t_win, base.shape[2])
            p = np.concatenate(
                [
                    torch.softmax(
                        forward(
                            model.module, flat[i : i + ATTRIBUTION_BATCH], device
                        ).logits.float(),
                        dim=1,
                    )[:, cls]
                    .cpu()
                    .numpy()
                    for i in range(0, len(flat), ATTRIBUTION_BATCH)
                ]
            ).reshape(n_ch + 1, -1)  # (C+1, w)
            drop = np.clip((p[0][None, :] - p[1:]).mean(axis=1), 0.0, None)  # (C,)
            total = float(drop.sum())
            order = [i for i in np.argsort(-drop, kind="stable")[:top] if drop[i] > 0]
            out.append(
                (
                    tuple(model.channels[i] for i in order),
                    tuple(float(drop[i] / total) for i in order),
                )
            )
    return out
