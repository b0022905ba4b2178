"""Choosing the compute device (CUDA when present, CPU otherwise) and naming it for the user."""

from __future__ import annotations

import torch

from faultlens.core.errors import FaultLensError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cpu"``; ``"cuda"`` / ``"cuda:N"``.

    Raises FaultLensError when CUDA is asked for but not available, or the name is unknown.
    """
    key = (name or "auto").strip().lower()
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "cuda" or key.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise FaultLensError(
                f"device {name!r}: no CUDA GPU is available to PyTorch here; "
                "use --device cpu or auto"
            )
        device = torch.device(key)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise FaultLensError(
                f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present; "
                "use cuda:0 or auto"
            )
        return device
    raise FaultLensError(f"device {name!r} is not known; use one of {', '.join(DEVICE_CHOICES)}")


def device_description(device: torch.device) -> str:
    """Short text for the status bar / CLI, e.g. ``"CUDA: NVIDIA H100"`` or
    ``"CPU (2 threads)"``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"CUDA: {torch.cuda.get_device_name(index)}"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'s' if threads != 1 else ''})"
