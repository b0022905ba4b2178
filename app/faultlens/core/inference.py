"""Running a trained network for inference: on a chosen device, in eval mode, put back after.

Scan (``faultlens.core.scan``) and attribution (``faultlens.core.attribution``) both run
forward passes of a model that belongs to the caller (the GUI keeps it, a test may be
training it): they borrow it with ``module_on`` and call ``forward`` per batch. Their own
module so attribution needs no import of the scan, which calls attribution through the
events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from faultlens.core.model import ModelOutput


@contextlib.contextmanager
def module_on(module: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """Run ``module`` in eval mode on ``device``; put it back where and as it was."""
    import torch

    params = list(module.parameters())
    home = params[0].device if params else torch.device("cpu")
    was_training = module.training
    module.to(device)
    module.eval()
    try:
        yield
    finally:
        module.to(home)
        module.train(was_training)


def forward(
    module: torch.nn.Module, batch: np.ndarray | torch.Tensor, device: torch.device
) -> ModelOutput:
    """One inference forward pass of a (b, T, C) float32 batch (numpy, or a tensor already on
    ``device``); autocast (float16) on CUDA."""
    import torch

    x = torch.from_numpy(batch).to(device) if isinstance(batch, np.ndarray) else batch
    if device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.float16):
            out: ModelOutput = module(x)
            return out
    out = module(x)
    return out
